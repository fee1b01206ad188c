//! The strategy of rbac.authorization.k8s.io/v1 RoleBinding (`rolebindings`): upstream's `pkg/registry/rbac/rolebinding/strategy.go`.

use crate::strategy::Strategy;

/// The RoleBinding strategy.
#[derive(Debug)]
pub(crate) struct RoleBinding;

impl Strategy for RoleBinding {}
