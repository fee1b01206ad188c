//! The strategy of rbac.authorization.k8s.io/v1 ClusterRole (`clusterroles`): upstream's
//! `pkg/registry/rbac/clusterrole/strategy.go`.

use crate::strategy::Strategy;
use kernel_core::names::is_valid_path_segment_name;

/// The ClusterRole strategy.
#[derive(Debug)]
pub(crate) struct ClusterRole;

impl Strategy for ClusterRole {
    /// A path segment name, as upstream requires of RBAC names.
    fn validate_name(&self, name: &str) -> Vec<String> {
        is_valid_path_segment_name(name)
    }
}
