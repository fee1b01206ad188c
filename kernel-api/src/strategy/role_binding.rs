//! The strategy of rbac.authorization.k8s.io/v1 RoleBinding (`rolebindings`): upstream's `pkg/registry/rbac/rolebinding/strategy.go`.

use crate::strategy::Strategy;
use crate::validation::is_valid_path_segment_name;

/// The RoleBinding strategy.
#[derive(Debug)]
pub(crate) struct RoleBinding;

impl Strategy for RoleBinding {
    /// A path segment name, as upstream requires of RBAC names.
    fn validate_name(&self, name: &str) -> Vec<String> {
        is_valid_path_segment_name(name)
    }
}
