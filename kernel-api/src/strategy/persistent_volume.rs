//! The strategy of core/v1 PersistentVolume (`persistentvolumes`): upstream's `pkg/registry/core/persistentvolume/strategy.go`.

use crate::strategy::Strategy;

/// The PersistentVolume strategy.
#[derive(Debug)]
pub(crate) struct PersistentVolume;

impl Strategy for PersistentVolume {}
