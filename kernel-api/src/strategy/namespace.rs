//! The strategy of core/v1 Namespace (`namespaces`): upstream's `pkg/registry/core/namespace/strategy.go`.

use crate::strategy::Strategy;

/// The Namespace strategy.
#[derive(Debug)]
pub(crate) struct Namespace;

impl Strategy for Namespace {}
