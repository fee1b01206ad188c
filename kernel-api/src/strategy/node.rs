//! The strategy of core/v1 Node (`nodes`): upstream's `pkg/registry/core/node/strategy.go`.

use crate::strategy::Strategy;

/// The Node strategy.
#[derive(Debug)]
pub(crate) struct Node;

impl Strategy for Node {}
