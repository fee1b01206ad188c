//! The strategy of apps/v1 ReplicaSet (`replicasets`): upstream's `pkg/registry/apps/replicaset/strategy.go`.

use serde_json::{json, Value};

use crate::defaults::{child, default_template_in, set};
use crate::strategy::Strategy;
use crate::validation::{immutable, validate_workload, FieldError};

/// The ReplicaSet strategy.
#[derive(Debug)]
pub(crate) struct ReplicaSet;

impl Strategy for ReplicaSet {
    fn defaults(&self, obj: &mut Value) {
        let Some(o) = obj.as_object_mut() else {
            return;
        };
        let spec = child(o, "spec");
        set(spec, "replicas", json!(1));
        default_template_in(spec);
    }

    fn validate(&self, obj: &Value, _old: Option<&Value>) -> Vec<FieldError> {
        let mut errs = Vec::new();
        validate_workload("replicaset", obj, &mut errs);
        errs
    }

    fn validate_update(&self, new: &Value, old: &Value) -> Vec<FieldError> {
        let mut out = Vec::new();
        let errs = &mut out;
        immutable(new, old, "/spec/selector", "spec.selector", errs);
        out
    }
}
