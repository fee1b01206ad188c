//! The strategy of core/v1 ConfigMap (`configmaps`): upstream's
//! `pkg/registry/core/configmap/strategy.go`.

use k8s_openapi::jiff::Timestamp;
use serde_json::{json, Map, Value};

use crate::strategy::{Column, Strategy};
use crate::table::{age, age_col, c, name, name_col};
use crate::validation::{immutable_data, validate_data_keys, FieldError, MAX_CONFIG_SIZE};

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
        immutable_data(new, old, &["data", "binaryData"])
    }

    fn columns(&self) -> Vec<Column> {
        vec![
            name_col(),
            c("Data", "string", 0, "Data contains the configuration data."),
            age_col(),
        ]
    }

    fn cells(&self, obj: &Value, now: Timestamp) -> Vec<Value> {
        let n = obj
            .get("data")
            .and_then(Value::as_object)
            .map_or(0, Map::len)
            + obj
                .get("binaryData")
                .and_then(Value::as_object)
                .map_or(0, Map::len);
        vec![name(obj), json!(n), age(obj, now)]
    }
}
