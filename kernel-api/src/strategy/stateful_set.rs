//! The strategy of apps/v1 StatefulSet (`statefulsets`): upstream's `pkg/registry/apps/statefulset/strategy.go`.

use crate::strategy::Strategy;

/// The StatefulSet strategy.
#[derive(Debug)]
pub(crate) struct StatefulSet;

impl Strategy for StatefulSet {}
