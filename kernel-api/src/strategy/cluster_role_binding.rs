//! The strategy of rbac.authorization.k8s.io/v1 ClusterRoleBinding (`clusterrolebindings`): upstream's `pkg/registry/rbac/clusterrolebinding/strategy.go`.

use crate::strategy::Strategy;
use crate::validation::is_valid_path_segment_name;

/// The ClusterRoleBinding strategy.
#[derive(Debug)]
pub(crate) struct ClusterRoleBinding;

impl Strategy for ClusterRoleBinding {
    /// A path segment name, as upstream requires of RBAC names.
    fn validate_name(&self, name: &str) -> Vec<String> {
        is_valid_path_segment_name(name)
    }
}
