//! The strategy of core/v1 Service (`services`): upstream's `pkg/registry/core/service/strategy.go`.

use crate::strategy::Strategy;

/// The Service strategy.
#[derive(Debug)]
pub(crate) struct Service;

impl Strategy for Service {}
