//! The strategy of core/v1 PersistentVolumeClaim (`persistentvolumeclaims`): upstream's `pkg/registry/core/persistentvolumeclaim/strategy.go`.

use serde_json::{json, Value};

use crate::defaults::{child, default_pvc_spec, set};
use crate::strategy::Strategy;
use crate::validation::{parse_quantity, s, FieldError};

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
        if let (Some(n), Some(o)) = (q(new), q(old)) {
            if n < o {
                errs.push(FieldError::forbidden(
                    "spec.resources.requests.storage",
                    "field can not be less than previous value",
                ));
            }
        }
        out
    }
}
