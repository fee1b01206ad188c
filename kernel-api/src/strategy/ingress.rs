//! The strategy of networking.k8s.io/v1 Ingress (`ingresses`): upstream's `pkg/registry/networking/ingress/strategy.go`.

use crate::strategy::Strategy;

/// The Ingress strategy.
#[derive(Debug)]
pub(crate) struct Ingress;

impl Strategy for Ingress {}
