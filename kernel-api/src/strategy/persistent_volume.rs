//! The strategy of core/v1 PersistentVolume (`persistentvolumes`): upstream's `pkg/registry/core/persistentvolume/strategy.go`.

use serde_json::{json, Value};

use crate::defaults::{child, set};
use crate::strategy::Strategy;

/// The PersistentVolume strategy.
#[derive(Debug)]
pub(crate) struct PersistentVolume;

impl Strategy for PersistentVolume {
    fn defaults(&self, obj: &mut Value) {
        let Some(o) = obj.as_object_mut() else {
            return;
        };
        let spec = child(o, "spec");
        set(spec, "persistentVolumeReclaimPolicy", json!("Retain"));
        set(spec, "volumeMode", json!("Filesystem"));
        set(child(o, "status"), "phase", json!("Pending"));
    }
}
