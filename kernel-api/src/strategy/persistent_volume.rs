//! The strategy of core/v1 PersistentVolume (`persistentvolumes`): upstream's
//! `pkg/registry/core/persistentvolume/strategy.go`.

use k8s_openapi::jiff::Timestamp;
use serde_json::{json, Value};

use crate::defaults::{child, set};
use crate::json::{arr, s};
use crate::strategy::{Column, Strategy};
use crate::table::{access_modes, age, age_col, c, name, name_col, unset};

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

    fn columns(&self) -> Vec<Column> {
        vec![
            name_col(),
            c("Capacity", "string", 0, "capacity is the description of the persistent volume's resources and capacity."),
            c("Access Modes", "string", 0, "accessModes contains all ways the volume can be mounted."),
            c("Reclaim Policy", "string", 0, "persistentVolumeReclaimPolicy defines what happens to a persistent volume when released from its claim."),
            c("Status", "string", 0, "phase indicates if a volume is available, bound to a claim, or released by a claim."),
            c("Claim", "string", 0, "claimRef is part of a bi-directional binding between PersistentVolume and PersistentVolumeClaim."),
            c("StorageClass", "string", 0, "storageClassName is the name of StorageClass to which this persistent volume belongs."),
            c("VolumeAttributesClass", "string", 0, "Name of VolumeAttributesClass to which this persistent volume belongs."),
            c("Reason", "string", 0, "reason is a brief CamelCase string that describes any failure."),
            age_col(),
            c("VolumeMode", "string", 1, "volumeMode defines if a volume is intended to be used with a formatted filesystem or to remain in raw block state."),
        ]
    }

    fn cells(&self, obj: &Value, now: Timestamp) -> Vec<Value> {
        let claim = match obj.pointer("/spec/claimRef") {
            Some(r) => format!("{}/{}", s(r, "/namespace"), s(r, "/name")),
            None => String::new(),
        };
        vec![
            name(obj),
            json!(s(obj, "/spec/capacity/storage")),
            json!(access_modes(arr(obj, "/spec/accessModes"))),
            json!(s(obj, "/spec/persistentVolumeReclaimPolicy")),
            json!(s(obj, "/status/phase")),
            json!(claim),
            json!(s(obj, "/spec/storageClassName")),
            json!(unset(s(obj, "/spec/volumeAttributesClassName"))),
            json!(s(obj, "/status/reason")),
            age(obj, now),
            json!(unset(s(obj, "/spec/volumeMode"))),
        ]
    }
}
