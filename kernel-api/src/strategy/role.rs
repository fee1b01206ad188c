//! The strategy of rbac.authorization.k8s.io/v1 Role (`roles`): upstream's
//! `pkg/registry/rbac/role/strategy.go`.

use crate::strategy::Strategy;
use kernel_core::names::is_valid_path_segment_name;

/// The Role strategy.
#[derive(Debug)]
pub(crate) struct Role;

impl Strategy for Role {
    /// A path segment name, as upstream requires of RBAC names.
    fn validate_name(&self, name: &str) -> Vec<String> {
        is_valid_path_segment_name(name)
    }
}
