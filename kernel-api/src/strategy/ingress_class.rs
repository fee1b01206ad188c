//! The strategy of networking.k8s.io/v1 IngressClass (`ingressclasses`): upstream's `pkg/registry/networking/ingressclass/strategy.go`.

use crate::strategy::Strategy;

/// The IngressClass strategy.
#[derive(Debug)]
pub(crate) struct IngressClass;

impl Strategy for IngressClass {}
