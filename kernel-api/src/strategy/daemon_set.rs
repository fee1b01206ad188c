//! The strategy of apps/v1 DaemonSet (`daemonsets`): upstream's `pkg/registry/apps/daemonset/strategy.go`.

use serde_json::{json, Value};

use crate::defaults::{child, default_template_in, set};
use crate::strategy::Strategy;
use crate::validation::{immutable, validate_workload, FieldError};

/// The DaemonSet strategy.
#[derive(Debug)]
pub(crate) struct DaemonSet;

impl Strategy for DaemonSet {
    fn defaults(&self, obj: &mut Value) {
        let Some(o) = obj.as_object_mut() else {
            return;
        };
        let spec = child(o, "spec");
        let us = child(spec, "updateStrategy");
        set(us, "type", json!("RollingUpdate"));
        if us.get("type").and_then(Value::as_str) == Some("RollingUpdate") {
            let ru = child(us, "rollingUpdate");
            set(ru, "maxUnavailable", json!(1));
            set(ru, "maxSurge", json!(0));
        }
        set(spec, "revisionHistoryLimit", json!(10));
        default_template_in(spec);
    }

    fn validate(&self, obj: &Value, _old: Option<&Value>) -> Vec<FieldError> {
        let mut errs = Vec::new();
        validate_workload("daemonset", obj, &mut errs);
        errs
    }

    fn validate_update(&self, new: &Value, old: &Value) -> Vec<FieldError> {
        let mut out = Vec::new();
        let errs = &mut out;
        immutable(new, old, "/spec/selector", "spec.selector", errs);
        out
    }
}
