//! The strategy of rbac.authorization.k8s.io/v1 ClusterRoleBinding (`clusterrolebindings`):
//! upstream's `pkg/registry/rbac/clusterrolebinding/strategy.go`.

use k8s_openapi::jiff::Timestamp;
use serde_json::Value;

use super::role_binding::RoleBinding;
use crate::strategy::{Column, Strategy};
use kernel_core::names::is_valid_path_segment_name;

/// The ClusterRoleBinding strategy.
#[derive(Debug)]
pub(crate) struct ClusterRoleBinding;

impl Strategy for ClusterRoleBinding {
    /// A path segment name, as upstream requires of RBAC names.
    fn validate_name(&self, name: &str) -> Vec<String> {
        is_valid_path_segment_name(name)
    }

    /// The columns of RoleBindings.
    fn columns(&self) -> Vec<Column> {
        RoleBinding.columns()
    }

    fn cells(&self, obj: &Value, now: Timestamp) -> Vec<Value> {
        RoleBinding.cells(obj, now)
    }
}
