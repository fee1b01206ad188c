//! The strategy of storage.k8s.io/v1 StorageClass (`storageclasses`): upstream's `pkg/registry/storage/storageclass/strategy.go`.

use crate::strategy::Strategy;

/// The StorageClass strategy.
#[derive(Debug)]
pub(crate) struct StorageClass;

impl Strategy for StorageClass {}
