//! The strategy of core/v1 PersistentVolumeClaim (`persistentvolumeclaims`): upstream's
//! `pkg/registry/core/persistentvolumeclaim/strategy.go`.

use k8s_openapi::jiff::Timestamp;
use serde_json::{json, Value};

use crate::defaults::{child, default_pvc_spec, set};
use crate::json::{arr, s};
use crate::strategy::{Column, Strategy};
use crate::table::{access_modes, age, age_col, c, name, name_col, unset};
use crate::validation::{parse_quantity, FieldError};

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

    fn validate_update(&self, new: &Value, old: &Value) -> Vec<FieldError> {
        let mut out = Vec::new();
        let errs = &mut out;
        let strip = |v: &Value| {
            let mut spec = v.get("spec").cloned().unwrap_or(Value::Null);
            if let Some(m) = spec.as_object_mut() {
                m.remove("volumeAttributesClassName");
                if let Some(r) = m.get_mut("resources").and_then(Value::as_object_mut) {
                    r.remove("requests");
                }
                // A claim may be bound after creation.
                if old.pointer("/spec/volumeName").is_none() {
                    m.remove("volumeName");
                }
            }
            spec
        };
        let mut strip_old = strip(old);
        if old.pointer("/spec/volumeName").is_none() {
            if let Some(m) = strip_old.as_object_mut() {
                m.remove("volumeName");
            }
        }
        if strip(new) != strip_old {
            errs.push(FieldError::forbidden(
                "spec",
                "spec is immutable after creation except resources.requests and volumeAttributesClassName for bound claims",
            ));
        }
        let q = |v: &Value| parse_quantity(s(v, "/spec/resources/requests/storage"));
        if let (Ok(n), Ok(o)) = (q(new), q(old)) {
            if n < o {
                errs.push(FieldError::forbidden(
                    "spec.resources.requests.storage",
                    "field can not be less than previous value",
                ));
            }
        }
        out
    }

    fn columns(&self) -> Vec<Column> {
        vec![
            name_col(),
            c("Status", "string", 0, "phase represents the current phase of PersistentVolumeClaim."),
            c("Volume", "string", 0, "volumeName is the binding reference to the PersistentVolume backing this claim."),
            c("Capacity", "string", 0, "capacity represents the actual resources of the underlying volume."),
            c("Access Modes", "string", 0, "accessModes contains the desired access modes the volume should have."),
            c("StorageClass", "string", 0, "storageClassName is the name of the StorageClass required by the claim."),
            c("VolumeAttributesClass", "string", 0, "volumeAttributesClassName may be used to set the VolumeAttributesClass used by this claim."),
            age_col(),
            c("VolumeMode", "string", 1, "volumeMode defines what type of volume is required by the claim."),
        ]
    }

    fn cells(&self, obj: &Value, now: Timestamp) -> Vec<Value> {
        let bound = s(obj, "/spec/volumeName");
        let (capacity, modes) = if bound.is_empty() {
            (String::new(), String::new())
        } else {
            (
                s(obj, "/status/capacity/storage").to_string(),
                access_modes(arr(obj, "/status/accessModes")),
            )
        };
        let phase = if obj.pointer("/metadata/deletionTimestamp").is_some() {
            "Terminating"
        } else {
            s(obj, "/status/phase")
        };
        vec![
            name(obj),
            json!(phase),
            json!(bound),
            json!(capacity),
            json!(modes),
            json!(s(obj, "/spec/storageClassName")),
            json!(unset(s(obj, "/spec/volumeAttributesClassName"))),
            age(obj, now),
            json!(unset(s(obj, "/spec/volumeMode"))),
        ]
    }
}
