//! The strategy of core/v1 Node (`nodes`): upstream's `pkg/registry/core/node/strategy.go`.

use k8s_openapi::jiff::Timestamp;
use serde_json::{json, Value};

use crate::defaults::set;
use crate::json::{arr, bool_at, field_at, s};
use crate::strategy::{Column, Strategy};
use crate::table::{age, age_col, c, condition, name, name_col, or_none, string_map};

/// The Node strategy.
#[derive(Debug)]
pub(crate) struct Node;

impl Strategy for Node {
    fn defaults(&self, obj: &mut Value) {
        let Some(o) = obj.as_object_mut() else {
            return;
        };
        // SetDefaults_NodeStatus: allocatable defaults to capacity.
        if let Some(status) = o.get_mut("status").and_then(Value::as_object_mut) {
            if let Some(cap) = status.get("capacity").cloned() {
                set(status, "allocatable", cap);
            }
        }
    }

    fn columns(&self) -> Vec<Column> {
        vec![
            name_col(),
            c("Status", "string", 0, "The status of the node"),
            c("Roles", "string", 0, "The roles of the node"),
            age_col(),
            c(
                "Version",
                "string",
                0,
                "Kubelet Version reported by the node.",
            ),
            c(
                "Internal-IP",
                "string",
                1,
                "List of addresses reachable to the node.",
            ),
            c(
                "External-IP",
                "string",
                1,
                "List of addresses reachable to the node.",
            ),
            c(
                "OS-Image",
                "string",
                1,
                "OS Image reported by the node from /etc/os-release.",
            ),
            c(
                "Kernel-Version",
                "string",
                1,
                "Kernel Version reported by the node from 'uname -r'.",
            ),
            c(
                "Container-Runtime",
                "string",
                1,
                "Container runtime version reported by the node.",
            ),
        ]
    }

    fn cells(&self, obj: &Value, now: Timestamp) -> Vec<Value> {
        node_cells(obj, now)
    }

    fn selectable_fields(&self) -> &'static [&'static str] {
        &["spec.unschedulable"]
    }

    fn field_value(&self, obj: &Value, field: &str) -> String {
        match field {
            "spec.unschedulable" => bool_at(obj, "/spec/unschedulable"),
            f => field_at(obj, f),
        }
    }

    /// Nodes keep the `status` they are created with (the kubelet registers with it).
    fn prepare_for_create(&self, _obj: &mut Value, _status_subresource: bool) {}
}

fn node_cells(node: &Value, now: Timestamp) -> Vec<Value> {
    let mut status = Vec::new();
    if let Some(c) = condition(node, "/status/conditions", "Ready") {
        status.push(if s(c, "/status") == "True" {
            "Ready"
        } else {
            "NotReady"
        });
    }
    if status.is_empty() {
        status.push("Unknown");
    }
    if node.pointer("/spec/unschedulable").and_then(Value::as_bool) == Some(true) {
        status.push("SchedulingDisabled");
    }
    let mut roles = std::collections::BTreeSet::new();
    for (k, v) in string_map(node, "/metadata/labels") {
        if let Some(r) = k.strip_prefix("node-role.kubernetes.io/") {
            if !r.is_empty() {
                roles.insert(r.to_string());
            }
        } else if k == "kubernetes.io/role" && !v.is_empty() {
            roles.insert(v);
        }
    }
    let roles = roles.into_iter().collect::<Vec<_>>().join(",");
    let addr = |ty: &str| {
        arr(node, "/status/addresses")
            .iter()
            .find(|a| s(a, "/type") == ty)
            .map(|a| s(a, "/address").to_string())
            .unwrap_or_else(|| "<none>".to_string())
    };
    let unknown = |v: &str| {
        if v.is_empty() {
            "<unknown>".to_string()
        } else {
            v.to_string()
        }
    };
    vec![
        name(node),
        json!(status.join(",")),
        json!(or_none(&roles)),
        age(node, now),
        json!(s(node, "/status/nodeInfo/kubeletVersion")),
        json!(addr("InternalIP")),
        json!(addr("ExternalIP")),
        json!(unknown(s(node, "/status/nodeInfo/osImage"))),
        json!(unknown(s(node, "/status/nodeInfo/kernelVersion"))),
        json!(unknown(s(node, "/status/nodeInfo/containerRuntimeVersion"))),
    ]
}
