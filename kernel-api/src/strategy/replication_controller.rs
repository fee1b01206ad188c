//! The strategy of core/v1 ReplicationController (`replicationcontrollers`): upstream's
//! `pkg/registry/core/replicationcontroller/strategy.go`.

use k8s_openapi::jiff::Timestamp;
use serde_json::{json, Map, Value};

use super::replica_set::{replica_cells, ReplicaSet};
use crate::defaults::{child, default_pod_template, set};
use crate::strategy::{Column, Strategy};
use crate::table::{format_labels, string_map};

/// The ReplicationController strategy.
#[derive(Debug)]
pub(crate) struct ReplicationController;

impl Strategy for ReplicationController {
    fn defaults(&self, obj: &mut Value) {
        let Some(o) = obj.as_object_mut() else {
            return;
        };
        let spec = child(o, "spec");
        set(spec, "replicas", json!(1));
        if let Some(labels) = spec
            .get("template")
            .and_then(|t| t.pointer("/metadata/labels"))
            .filter(|l| l.as_object().is_some_and(|m| !m.is_empty()))
            .cloned()
        {
            let empty = |v: Option<&Value>| v.and_then(Value::as_object).is_none_or(Map::is_empty);
            if empty(spec.get("selector")) {
                spec.insert("selector".to_string(), labels.clone());
            }
            let meta = child(o, "metadata");
            if empty(meta.get("labels")) {
                meta.insert("labels".to_string(), labels);
            }
        }
        if let Some(t) = o
            .get_mut("spec")
            .and_then(|s| s.get_mut("template"))
            .and_then(Value::as_object_mut)
        {
            default_pod_template(t);
        }
    }

    /// The columns of ReplicaSets.
    fn columns(&self) -> Vec<Column> {
        ReplicaSet.columns()
    }

    fn cells(&self, obj: &Value, now: Timestamp) -> Vec<Value> {
        replica_cells(obj, now, format_labels(&string_map(obj, "/spec/selector")))
    }

    /// The fields of ReplicaSets.
    fn selectable_fields(&self) -> &'static [&'static str] {
        ReplicaSet.selectable_fields()
    }

    fn field_value(&self, obj: &Value, field: &str) -> String {
        ReplicaSet.field_value(obj, field)
    }
}
