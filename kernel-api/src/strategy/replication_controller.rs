//! The strategy of core/v1 ReplicationController (`replicationcontrollers`): upstream's `pkg/registry/core/replicationcontroller/strategy.go`.

use crate::strategy::Strategy;

/// The ReplicationController strategy.
#[derive(Debug)]
pub(crate) struct ReplicationController;

impl Strategy for ReplicationController {}
