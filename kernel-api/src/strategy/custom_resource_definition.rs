//! The strategy of apiextensions.k8s.io/v1 CustomResourceDefinition (`customresourcedefinitions`):
//! upstream's
//! `staging/src/k8s.io/apiextensions-apiserver/pkg/registry/customresourcedefinition/strategy.go`.

use serde_json::Value;

use crate::strategy::{Deletion, Strategy};

/// The CustomResourceDefinition strategy.
#[derive(Debug)]
pub(crate) struct CustomResourceDefinition;

impl Strategy for CustomResourceDefinition {
    /// The CRD loop deletes a deleted CRD's objects, then the CRD (`customresourcecleanup`).
    fn deletion(&self, _obj: &Value, _grace_period: Option<i64>) -> Deletion {
        Deletion::Finalized
    }
}
