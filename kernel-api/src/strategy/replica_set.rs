//! The strategy of apps/v1 ReplicaSet (`replicasets`): upstream's `pkg/registry/apps/replicaset/strategy.go`.

use crate::strategy::Strategy;

/// The ReplicaSet strategy.
#[derive(Debug)]
pub(crate) struct ReplicaSet;

impl Strategy for ReplicaSet {}
