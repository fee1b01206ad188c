//! The strategy of rbac.authorization.k8s.io/v1 Role (`roles`): upstream's `pkg/registry/rbac/role/strategy.go`.

use crate::strategy::Strategy;

/// The Role strategy.
#[derive(Debug)]
pub(crate) struct Role;

impl Strategy for Role {}
