//! The strategy of core/v1 Endpoints (`endpoints`): upstream's `pkg/registry/core/endpoint/strategy.go`.

use crate::strategy::Strategy;

/// The Endpoints strategy.
#[derive(Debug)]
pub(crate) struct Endpoints;

impl Strategy for Endpoints {}
