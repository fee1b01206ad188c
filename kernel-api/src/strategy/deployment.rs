//! The strategy of apps/v1 Deployment (`deployments`): upstream's
//! `pkg/registry/apps/deployment/strategy.go`.

use k8s_openapi::jiff::Timestamp;
use serde_json::{json, Value};

use crate::defaults::{child, default_template_in, set};
use crate::strategy::{Column, Strategy};
use crate::table::{
    age, age_col, c, container_columns, format_selector, i, layout_containers, name, name_col,
    selector_column,
};
use crate::validation::{selector_immutable, validate_workload, FieldError};

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
        selector_immutable(new, old)
    }

    fn columns(&self) -> Vec<Column> {
        let mut v = vec![
            name_col(),
            c("Ready", "string", 0, "Number of the pod with ready state"),
            c("Up-to-date", "integer", 0, "Total number of non-terminated pods targeted by this deployment that have the desired template spec."),
            c("Available", "integer", 0, "Total number of available pods (ready for at least minReadySeconds) targeted by this deployment."),
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
            json!(format!(
                "{}/{}",
                i(obj, "/status/readyReplicas"),
                i(obj, "/spec/replicas")
            )),
            json!(i(obj, "/status/updatedReplicas")),
            json!(i(obj, "/status/availableReplicas")),
            age(obj, now),
            json!(cn),
            json!(im),
            json!(format_selector(obj, "/spec/selector")),
        ]
    }

    /// Deployments also count annotation changes (upstream's deployment strategy).
    fn generation_changed(&self, new: &Value, old: &Value) -> bool {
        crate::strategy::spec_changed(new, old)
            || new["metadata"]["annotations"] != old["metadata"]["annotations"]
    }
}
