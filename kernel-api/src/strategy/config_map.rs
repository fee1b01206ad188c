//! The strategy of core/v1 ConfigMap (`configmaps`): upstream's `pkg/registry/core/configmap/strategy.go`.

use crate::strategy::Strategy;

/// The ConfigMap strategy.
#[derive(Debug)]
pub(crate) struct ConfigMap;

impl Strategy for ConfigMap {}
