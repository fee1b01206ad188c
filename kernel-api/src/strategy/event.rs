//! The strategy of Events (`events`), served as core/v1 and as events.k8s.io/v1 (one stored object): upstream's `pkg/registry/core/event/strategy.go`.

use crate::strategy::Strategy;

/// The Event strategy.
#[derive(Debug)]
pub(crate) struct Event;

impl Strategy for Event {}
