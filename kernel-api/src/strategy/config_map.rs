//! The strategy of core/v1 ConfigMap (`configmaps`): upstream's `pkg/registry/core/configmap/strategy.go`.

use serde_json::Value;

use crate::strategy::Strategy;
use crate::validation::{validate_data_keys, FieldError, MAX_CONFIG_SIZE};

/// The ConfigMap strategy.
#[derive(Debug)]
pub(crate) struct ConfigMap;

impl Strategy for ConfigMap {
    fn validate(&self, obj: &Value, _old: Option<&Value>) -> Vec<FieldError> {
        let mut errs = Vec::new();
        let total = validate_data_keys(obj, true, &mut errs);
        if total > MAX_CONFIG_SIZE {
            errs.push(FieldError::too_long("", MAX_CONFIG_SIZE));
        }
        errs
    }

    fn validate_update(&self, new: &Value, old: &Value) -> Vec<FieldError> {
        let mut out = Vec::new();
        let errs = &mut out;
        let was_immutable = old.get("immutable").and_then(Value::as_bool) == Some(true);
        if was_immutable {
            if new.get("immutable").and_then(Value::as_bool) != Some(true) {
                errs.push(FieldError::forbidden(
                    "immutable",
                    "field is immutable when `immutable` is set",
                ));
            }
            for f in ["data", "binaryData"] {
                if new.get(f) != old.get(f) {
                    errs.push(FieldError::forbidden(
                        f,
                        "field is immutable when `immutable` is set",
                    ));
                }
            }
        }
        out
    }
}
