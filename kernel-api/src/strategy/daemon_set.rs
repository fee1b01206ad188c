//! The strategy of apps/v1 DaemonSet (`daemonsets`): upstream's
//! `pkg/registry/apps/daemonset/strategy.go`.

use k8s_openapi::jiff::Timestamp;
use serde_json::{json, Value};

use crate::defaults::{child, default_template_in, set};
use crate::strategy::{Column, Strategy};
use crate::table::{
    age, age_col, c, container_columns, format_labels, format_selector, i, layout_containers, name,
    name_col, selector_column, string_map,
};
use crate::validation::{selector_immutable, validate_workload, FieldError};

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
        selector_immutable(new, old)
    }

    fn columns(&self) -> Vec<Column> {
        let mut v = vec![
            name_col(),
            c("Desired", "integer", 0, "The total number of nodes that should be running the daemon pod."),
            c("Current", "integer", 0, "The number of nodes that are running at least 1 daemon pod and are supposed to run the daemon pod."),
            c("Ready", "integer", 0, "The number of nodes that should be running the daemon pod and have one or more of the daemon pod running and ready."),
            c("Up-to-date", "integer", 0, "The total number of nodes that are running updated daemon pod"),
            c("Available", "integer", 0, "The number of nodes that should be running the daemon pod and have one or more of the daemon pod running and available."),
            c("Node Selector", "string", 0, "NodeSelector is a selector which must be true for the pod to fit on a node."),
            age_col(),
        ];
        v.extend(container_columns());
        v.push(selector_column());
        v
    }

    fn cells(&self, obj: &Value, now: Timestamp) -> Vec<Value> {
        let (cn, im) = layout_containers(obj, "/spec/template/spec/containers");
        vec![
            name(obj),
            json!(i(obj, "/status/desiredNumberScheduled")),
            json!(i(obj, "/status/currentNumberScheduled")),
            json!(i(obj, "/status/numberReady")),
            json!(i(obj, "/status/updatedNumberScheduled")),
            json!(i(obj, "/status/numberAvailable")),
            json!(format_labels(&string_map(
                obj,
                "/spec/template/spec/nodeSelector"
            ))),
            age(obj, now),
            json!(cn),
            json!(im),
            json!(format_selector(obj, "/spec/selector")),
        ]
    }
}
