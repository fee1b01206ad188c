//! The strategy of custom resources (served for a CustomResourceDefinition, or registered from Rust
//! with `ResourceDef::of`): upstream's
//! `staging/src/k8s.io/apiextensions-apiserver/pkg/registry/customresource/strategy.go`. No
//! built-in defaulting or kind-specific validation (a CRD's schema is checked in
//! [`crate::crd::validate_custom`]); `status` given on create is dropped.

use serde_json::Value;

use crate::strategy::Strategy;

/// The custom resource strategy.
#[derive(Debug)]
pub(crate) struct CustomResource;

impl Strategy for CustomResource {
    /// Upstream's custom resource strategy drops `status` on create (built-in strategies reset
    /// it to the empty struct instead).
    fn prepare_for_create(&self, obj: &mut Value, status_subresource: bool) {
        if status_subresource {
            if let Some(map) = obj.as_object_mut() {
                map.remove("status");
            }
        }
    }
}
