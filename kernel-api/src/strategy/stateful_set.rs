//! The strategy of apps/v1 StatefulSet (`statefulsets`): upstream's
//! `pkg/registry/apps/statefulset/strategy.go`.

use k8s_openapi::jiff::Timestamp;
use serde_json::{json, Value};

use crate::defaults::{child, default_pvc_spec, default_template_in, set};
use crate::strategy::{Column, Strategy};
use crate::table::{age, age_col, c, container_columns, i, layout_containers, name, name_col};
use crate::validation::{immutable, validate_enum, validate_workload, FieldError};

/// The StatefulSet strategy.
#[derive(Debug)]
pub(crate) struct StatefulSet;

impl Strategy for StatefulSet {
    fn defaults(&self, obj: &mut Value) {
        let Some(o) = obj.as_object_mut() else {
            return;
        };
        let spec = child(o, "spec");
        set(spec, "replicas", json!(1));
        set(spec, "podManagementPolicy", json!("OrderedReady"));
        let us = child(spec, "updateStrategy");
        // An explicit RollingUpdate without parameters stays without.
        if us.get("type").is_none_or(Value::is_null) {
            us.insert("type".to_string(), json!("RollingUpdate"));
            child(us, "rollingUpdate");
        }
        if us.get("type").and_then(Value::as_str) == Some("RollingUpdate") {
            if let Some(ru) = us.get_mut("rollingUpdate").and_then(Value::as_object_mut) {
                set(ru, "partition", json!(0));
            }
        }
        set(spec, "revisionHistoryLimit", json!(10));
        let retention = child(spec, "persistentVolumeClaimRetentionPolicy");
        set(retention, "whenDeleted", json!("Retain"));
        set(retention, "whenScaled", json!("Retain"));
        if let Some(Value::Array(claims)) = spec.get_mut("volumeClaimTemplates") {
            for c in claims.iter_mut().filter_map(Value::as_object_mut) {
                default_pvc_spec(child(c, "spec"));
                set(child(c, "status"), "phase", json!("Pending"));
            }
        }
        default_template_in(spec);
    }

    fn validate(&self, obj: &Value, _old: Option<&Value>) -> Vec<FieldError> {
        let mut errs = Vec::new();
        validate_workload("statefulset", obj, &mut errs);
        validate_enum(
            obj,
            "/spec/podManagementPolicy",
            "spec.podManagementPolicy",
            &["OrderedReady", "Parallel"],
            &mut errs,
        );
        errs
    }

    fn validate_update(&self, new: &Value, old: &Value) -> Vec<FieldError> {
        let mut out = Vec::new();
        let errs = &mut out;
        immutable(new, old, "/spec/selector", "spec.selector", errs);
        let strip = |v: &Value| {
            let mut spec = v.get("spec").cloned().unwrap_or(Value::Null);
            if let Some(m) = spec.as_object_mut() {
                for f in [
                    "replicas",
                    "ordinals",
                    "template",
                    "updateStrategy",
                    "persistentVolumeClaimRetentionPolicy",
                    "minReadySeconds",
                    "selector",
                ] {
                    m.remove(f);
                }
            }
            spec
        };
        if strip(new) != strip(old) {
            errs.push(FieldError::forbidden(
                "spec",
                "updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', 'updateStrategy', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden",
            ));
        }
        out
    }

    fn columns(&self) -> Vec<Column> {
        let mut v = vec![
            name_col(),
            c("Ready", "string", 0, "Number of the pod with ready state"),
            age_col(),
        ];
        v.extend(container_columns());
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
            age(obj, now),
            json!(cn),
            json!(im),
        ]
    }
}
