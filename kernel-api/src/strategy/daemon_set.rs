//! The strategy of apps/v1 DaemonSet (`daemonsets`): upstream's `pkg/registry/apps/daemonset/strategy.go`.

use crate::strategy::Strategy;

/// The DaemonSet strategy.
#[derive(Debug)]
pub(crate) struct DaemonSet;

impl Strategy for DaemonSet {}
