//! The strategy of core/v1 ServiceAccount (`serviceaccounts`): upstream's `pkg/registry/core/serviceaccount/strategy.go`.

use crate::strategy::Strategy;

/// The ServiceAccount strategy.
#[derive(Debug)]
pub(crate) struct ServiceAccount;

impl Strategy for ServiceAccount {}
