//! The strategy of apps/v1 ReplicaSet (`replicasets`): upstream's
//! `pkg/registry/apps/replicaset/strategy.go`.

use k8s_openapi::jiff::Timestamp;
use serde_json::{json, Value};

use crate::defaults::{child, default_template_in, set};
use crate::json::{field_at, int_at};
use crate::strategy::{Column, Strategy};
use crate::table::{
    age, age_col, c, container_columns, format_selector, i, layout_containers, name, name_col,
    selector_column,
};
use crate::validation::{selector_immutable, validate_workload, FieldError};

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
        selector_immutable(new, old)
    }

    fn columns(&self) -> Vec<Column> {
        let mut v = vec![
            name_col(),
            c(
                "Desired",
                "integer",
                0,
                "Replicas is the number of desired replicas.",
            ),
            c(
                "Current",
                "integer",
                0,
                "Replicas is the most recently observed number of replicas.",
            ),
            c(
                "Ready",
                "integer",
                0,
                "The number of ready replicas for this replica set.",
            ),
            age_col(),
        ];
        v.extend(container_columns());
        v.push(selector_column());
        v
    }

    fn cells(&self, obj: &Value, now: Timestamp) -> Vec<Value> {
        replica_cells(obj, now, format_selector(obj, "/spec/selector"))
    }

    fn selectable_fields(&self) -> &'static [&'static str] {
        &["status.replicas"]
    }

    fn field_value(&self, obj: &Value, field: &str) -> String {
        match field {
            "status.replicas" => int_at(obj, "/status/replicas"),
            f => field_at(obj, f),
        }
    }
}

/// The cells of ReplicaSet's columns, with the selector already formatted (a label selector for
/// ReplicaSets, a plain map for ReplicationControllers).
pub(super) fn replica_cells(obj: &Value, now: Timestamp, selector: String) -> Vec<Value> {
    let (cn, im) = layout_containers(obj, "/spec/template/spec/containers");
    vec![
        name(obj),
        json!(i(obj, "/spec/replicas")),
        json!(i(obj, "/status/replicas")),
        json!(i(obj, "/status/readyReplicas")),
        age(obj, now),
        json!(cn),
        json!(im),
        json!(selector),
    ]
}
