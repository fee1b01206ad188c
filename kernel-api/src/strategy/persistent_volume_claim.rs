//! The strategy of core/v1 PersistentVolumeClaim (`persistentvolumeclaims`): upstream's `pkg/registry/core/persistentvolumeclaim/strategy.go`.

use crate::strategy::Strategy;

/// The PersistentVolumeClaim strategy.
#[derive(Debug)]
pub(crate) struct PersistentVolumeClaim;

impl Strategy for PersistentVolumeClaim {}
