//! The strategy of apiextensions.k8s.io/v1 CustomResourceDefinition (`customresourcedefinitions`):
//! upstream's
//! `staging/src/k8s.io/apiextensions-apiserver/pkg/registry/customresourcedefinition/strategy.go`.

use serde_json::Value;

use crate::strategy::{Deletion, Strategy};
use crate::validation::FieldError;

/// The CustomResourceDefinition strategy.
#[derive(Debug)]
pub(crate) struct CustomResourceDefinition;

impl Strategy for CustomResourceDefinition {
    /// `SetDefaults_CustomResourceDefinition`: singular, listKind, conversion `None`.
    fn defaults(&self, obj: &mut Value) {
        crate::crd::set_definition_defaults(obj);
    }

    /// `ValidateCustomResourceDefinition` (run on updates too, as upstream's
    /// `ValidateCustomResourceDefinitionUpdate` starts with the same rules).
    fn validate(&self, obj: &Value, _old: Option<&Value>) -> Vec<FieldError> {
        let mut errs = Vec::new();
        crate::crd::validate_definition(obj, &mut errs);
        errs
    }

    /// The CRD loop deletes a deleted CRD's objects, then the CRD (`customresourcecleanup`).
    fn deletion(&self, _obj: &Value, _grace_period: Option<i64>) -> Deletion {
        Deletion::Finalized
    }
}
