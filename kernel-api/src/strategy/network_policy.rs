//! The strategy of networking.k8s.io/v1 NetworkPolicy (`networkpolicies`): upstream's `pkg/registry/networking/networkpolicy/strategy.go`.

use crate::strategy::Strategy;

/// The NetworkPolicy strategy.
#[derive(Debug)]
pub(crate) struct NetworkPolicy;

impl Strategy for NetworkPolicy {}
