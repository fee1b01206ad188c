//! The strategy of coordination.k8s.io/v1 Lease (`leases`): upstream's `pkg/registry/coordination/lease/strategy.go`.

use crate::strategy::Strategy;

/// The Lease strategy.
#[derive(Debug)]
pub(crate) struct Lease;

impl Strategy for Lease {}
