//! The strategy of rbac.authorization.k8s.io/v1 ClusterRole (`clusterroles`): upstream's `pkg/registry/rbac/clusterrole/strategy.go`.

use crate::strategy::Strategy;

/// The ClusterRole strategy.
#[derive(Debug)]
pub(crate) struct ClusterRole;

impl Strategy for ClusterRole {}
