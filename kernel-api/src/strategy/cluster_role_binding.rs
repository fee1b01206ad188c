//! The strategy of rbac.authorization.k8s.io/v1 ClusterRoleBinding (`clusterrolebindings`): upstream's `pkg/registry/rbac/clusterrolebinding/strategy.go`.

use crate::strategy::Strategy;

/// The ClusterRoleBinding strategy.
#[derive(Debug)]
pub(crate) struct ClusterRoleBinding;

impl Strategy for ClusterRoleBinding {}
