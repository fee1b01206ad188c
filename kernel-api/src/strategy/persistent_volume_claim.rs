//! The strategy of core/v1 PersistentVolumeClaim (`persistentvolumeclaims`): upstream's `pkg/registry/core/persistentvolumeclaim/strategy.go`.

use serde_json::{json, Value};

use crate::defaults::{child, default_pvc_spec, set};
use crate::strategy::Strategy;

/// The PersistentVolumeClaim strategy.
#[derive(Debug)]
pub(crate) struct PersistentVolumeClaim;

impl Strategy for PersistentVolumeClaim {
    fn defaults(&self, obj: &mut Value) {
        let Some(o) = obj.as_object_mut() else {
            return;
        };
        default_pvc_spec(child(o, "spec"));
        set(child(o, "status"), "phase", json!("Pending"));
    }
}
