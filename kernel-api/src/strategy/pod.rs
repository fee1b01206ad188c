//! The strategy of core/v1 Pod (`pods`): upstream's `pkg/registry/core/pod/strategy.go`.

use crate::strategy::Strategy;

/// The Pod strategy.
#[derive(Debug)]
pub(crate) struct Pod;

impl Strategy for Pod {}
