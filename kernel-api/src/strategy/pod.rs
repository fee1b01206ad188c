//! The strategy of core/v1 Pod (`pods`): upstream's `pkg/registry/core/pod/strategy.go`.

use serde_json::{json, Map, Value};

use crate::defaults::{child, default_pod_spec, set};
use crate::strategy::Strategy;

/// The Pod strategy.
#[derive(Debug)]
pub(crate) struct Pod;

impl Strategy for Pod {
    fn defaults(&self, obj: &mut Value) {
        let Some(o) = obj.as_object_mut() else {
            return;
        };
        let spec = child(o, "spec");
        default_pod_spec(spec);
        default_pod_only(spec);
        set(spec, "enableServiceLinks", json!(true));
        set(spec, "priority", json!(0));
        set(spec, "preemptionPolicy", json!("PreemptLowerPriority"));
        default_tolerations(spec);
    }
}

/// `SetDefaults_Pod` (pods only, not templates): container requests default
/// to limits, and with `hostNetwork` container ports default `hostPort`.
fn default_pod_only(spec: &mut Map<String, Value>) {
    let host_network = spec.get("hostNetwork").and_then(Value::as_bool) == Some(true);
    for list in ["containers", "initContainers"] {
        let Some(Value::Array(cs)) = spec.get_mut(list) else {
            continue;
        };
        for c in cs.iter_mut().filter_map(Value::as_object_mut) {
            if let Some(Value::Object(res)) = c.get_mut("resources") {
                if let Some(Value::Object(limits)) = res.get("limits").cloned() {
                    let requests = child(res, "requests");
                    for (k, v) in limits {
                        set(requests, &k, v);
                    }
                }
            }
            if host_network {
                if let Some(Value::Array(ports)) = c.get_mut("ports") {
                    for p in ports.iter_mut().filter_map(Value::as_object_mut) {
                        let unset = p.get("hostPort").is_none_or(|h| h.is_null() || h == 0);
                        if let (true, Some(cp)) = (unset, p.get("containerPort").cloned()) {
                            p.insert("hostPort".to_string(), cp);
                        }
                    }
                }
            }
        }
    }
}

/// The DefaultTolerationSeconds admission plugin: tolerate `not-ready` and
/// `unreachable` NoExecute taints for 300 s unless the pod already does.
fn default_tolerations(spec: &mut Map<String, Value>) {
    let tols = match spec.get_mut("tolerations") {
        Some(Value::Array(a)) => a,
        _ => {
            spec.insert("tolerations".to_string(), json!([]));
            match spec.get_mut("tolerations") {
                Some(Value::Array(a)) => a,
                _ => unreachable!("just inserted an array"),
            }
        }
    };
    for key in [
        "node.kubernetes.io/not-ready",
        "node.kubernetes.io/unreachable",
    ] {
        let covered = tols.iter().any(|t| {
            let k = t.get("key").and_then(Value::as_str).unwrap_or("");
            let effect = t.get("effect").and_then(Value::as_str).unwrap_or("");
            (k == key
                || (k.is_empty() && t.get("operator").and_then(Value::as_str) == Some("Exists")))
                && (effect.is_empty() || effect == "NoExecute")
        });
        if !covered {
            tols.push(json!({
                "key": key,
                "operator": "Exists",
                "effect": "NoExecute",
                "tolerationSeconds": 300
            }));
        }
    }
}
