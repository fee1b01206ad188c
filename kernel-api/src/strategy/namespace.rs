//! The strategy of core/v1 Namespace (`namespaces`): upstream's
//! `pkg/registry/core/namespace/strategy.go`.

use k8s_openapi::jiff::Timestamp;
use serde_json::{json, Value};

use crate::defaults::{child, set};
use crate::json::s;
use crate::strategy::{Column, Deletion, Strategy};
use crate::table::{age, age_col, c, name, name_col};
use kernel_core::names::is_dns1123_label;
use kernel_core::well_known::LABEL_METADATA_NAME;

/// The Namespace strategy.
#[derive(Debug)]
pub(crate) struct Namespace;

impl Strategy for Namespace {
    fn defaults(&self, obj: &mut Value) {
        let Some(o) = obj.as_object_mut() else {
            return;
        };
        // SetDefaults_Namespace: the immutable name label.
        let name = o
            .get("metadata")
            .and_then(|m| m.get("name"))
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        if !name.is_empty() {
            let labels = child(child(o, "metadata"), "labels");
            labels.insert(LABEL_METADATA_NAME.to_string(), json!(name));
        }
        set(child(o, "status"), "phase", json!("Active"));
        set(child(o, "spec"), "finalizers", json!(["kubernetes"]));
    }

    /// No: upstream's namespace storage has no `DeleteCollection` (`kubectl delete namespaces
    /// --all` deletes them one by one), and its discovery lists no `deletecollection` verb.
    fn serves_delete_collection(&self) -> bool {
        false
    }

    /// A DNS-1123 label, as upstream requires of namespace names.
    fn validate_name(&self, name: &str) -> Vec<String> {
        is_dns1123_label(name)
    }

    fn columns(&self) -> Vec<Column> {
        vec![
            name_col(),
            c("Status", "string", 0, "The status of the namespace"),
            age_col(),
        ]
    }

    fn cells(&self, obj: &Value, now: Timestamp) -> Vec<Value> {
        vec![name(obj), json!(s(obj, "/status/phase")), age(obj, now)]
    }

    fn selectable_fields(&self) -> &'static [&'static str] {
        &["status.phase"]
    }

    /// Namespaces start `Active`, with the `kubernetes` finalizer.
    fn prepare_for_create(&self, obj: &mut Value, _status_subresource: bool) {
        obj["status"] = json!({ "phase": "Active" });
        let finalizers = &mut obj["spec"]["finalizers"];
        if !finalizers
            .as_array()
            .is_some_and(|f| f.iter().any(|v| v == "kubernetes"))
        {
            *finalizers = json!(["kubernetes"]);
        }
    }

    /// The namespace finalizer empties a deleted namespace, then removes it.
    fn deletion(&self, _obj: &Value, _grace_period: Option<i64>) -> Deletion {
        Deletion::Finalized
    }

    fn prepare_for_delete(&self, obj: &mut Value) {
        obj["status"]["phase"] = json!("Terminating");
    }
}
