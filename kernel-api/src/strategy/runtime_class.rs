//! The strategy of node.k8s.io/v1 RuntimeClass (`runtimeclasses`; not served by default): upstream's `pkg/registry/node/runtimeclass/strategy.go`.

use crate::strategy::Strategy;

/// The RuntimeClass strategy.
#[derive(Debug)]
pub(crate) struct RuntimeClass;

impl Strategy for RuntimeClass {}
