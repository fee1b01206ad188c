//! The strategy of core/v1 ResourceQuota (`resourcequotas`): upstream's `pkg/registry/core/resourcequota/strategy.go`.

use crate::strategy::Strategy;

/// The ResourceQuota strategy.
#[derive(Debug)]
pub(crate) struct ResourceQuota;

impl Strategy for ResourceQuota {}
