//! The strategy of apps/v1 Deployment (`deployments`): upstream's `pkg/registry/apps/deployment/strategy.go`.

use serde_json::{json, Value};

use crate::defaults::{child, default_template_in, set};
use crate::strategy::Strategy;
use crate::validation::{immutable, validate_workload, FieldError};

/// The Deployment strategy.
#[derive(Debug)]
pub(crate) struct Deployment;

impl Strategy for Deployment {
    fn defaults(&self, obj: &mut Value) {
        let Some(o) = obj.as_object_mut() else {
            return;
        };
        let spec = child(o, "spec");
        set(spec, "replicas", json!(1));
        let strategy = child(spec, "strategy");
        set(strategy, "type", json!("RollingUpdate"));
        if strategy.get("type").and_then(Value::as_str) == Some("RollingUpdate") {
            let ru = child(strategy, "rollingUpdate");
            set(ru, "maxUnavailable", json!("25%"));
            set(ru, "maxSurge", json!("25%"));
        }
        set(spec, "revisionHistoryLimit", json!(10));
        set(spec, "progressDeadlineSeconds", json!(600));
        default_template_in(spec);
    }

    fn validate(&self, obj: &Value, _old: Option<&Value>) -> Vec<FieldError> {
        let mut errs = Vec::new();
        validate_workload("deployment", obj, &mut errs);
        errs
    }

    fn validate_update(&self, new: &Value, old: &Value) -> Vec<FieldError> {
        let mut out = Vec::new();
        let errs = &mut out;
        immutable(new, old, "/spec/selector", "spec.selector", errs);
        out
    }
}
