//! The strategy of scheduling.k8s.io/v1 PriorityClass (`priorityclasses`): upstream's `pkg/registry/scheduling/priorityclass/strategy.go`.

use crate::strategy::Strategy;

/// The PriorityClass strategy.
#[derive(Debug)]
pub(crate) struct PriorityClass;

impl Strategy for PriorityClass {}
