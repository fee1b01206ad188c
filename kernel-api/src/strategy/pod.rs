//! The strategy of core/v1 Pod (`pods`): upstream's `pkg/registry/core/pod/strategy.go`.

use serde_json::{json, Map, Value};

use crate::defaults::{child, default_pod_spec, set};
use crate::strategy::Strategy;
use crate::validation::{arr, get, validate_pod_spec, FieldError};

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

    fn validate(&self, obj: &Value, _old: Option<&Value>) -> Vec<FieldError> {
        let mut errs = Vec::new();
        let spec = obj.get("spec").cloned().unwrap_or(Value::Null);
        validate_pod_spec(&spec, "spec", &mut errs);
        errs
    }

    fn validate_update(&self, new: &Value, old: &Value) -> Vec<FieldError> {
        let mut out = Vec::new();
        let errs = &mut out;
        validate_pod_update(new, old, errs);
        out
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

/// Tolerations are equal ignoring `tolerationSeconds`.
fn same_toleration(a: &Value, b: &Value) -> bool {
    let strip = |v: &Value| {
        let mut v = v.clone();
        if let Some(m) = v.as_object_mut() {
            m.remove("tolerationSeconds");
            m.retain(|_, x| !x.is_null() && x != "");
        }
        v
    };
    strip(a) == strip(b)
}

const POD_UPDATE_FORBIDDEN: &str = "pod updates may not change fields other than `spec.containers[*].image`,`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)";

fn validate_pod_update(new: &Value, old: &Value, errs: &mut Vec<FieldError>) {
    let new_spec = new.get("spec").cloned().unwrap_or(Value::Null);
    let old_spec = old.get("spec").cloned().unwrap_or(Value::Null);

    // activeDeadlineSeconds: may be set, or decreased, never removed.
    match (
        get(&new_spec, "/activeDeadlineSeconds"),
        get(&old_spec, "/activeDeadlineSeconds"),
    ) {
        (Some(n), Some(o)) if n.as_i64() > o.as_i64() => errs.push(FieldError::invalid(
            "spec.activeDeadlineSeconds",
            n,
            "must be less than or equal to previous value",
        )),
        (None, Some(_)) => errs.push(FieldError::invalid(
            "spec.activeDeadlineSeconds",
            &Value::Null,
            "must not update from a positive integer to nil value",
        )),
        _ => {}
    }

    // tolerations: only additions (tolerationSeconds may change).
    let new_tols = arr(&new_spec, "/tolerations");
    for o in arr(&old_spec, "/tolerations") {
        if !new_tols.iter().any(|n| same_toleration(n, o)) {
            errs.push(FieldError::forbidden(
                "spec.tolerations",
                "existing toleration can not be modified except its tolerationSeconds",
            ));
            break;
        }
    }

    // Everything else must be unchanged: munge the mutable fields of the new
    // spec into a copy of the old one and compare.
    let mut munged = new_spec.clone();
    if let (Some(m), Some(o)) = (munged.as_object_mut(), old_spec.as_object()) {
        for f in [
            "activeDeadlineSeconds",
            "tolerations",
            "terminationGracePeriodSeconds",
        ] {
            match o.get(f) {
                Some(v) => m.insert(f.to_string(), v.clone()),
                None => m.remove(f),
            };
        }
        for list in ["containers", "initContainers"] {
            let old_list = o.get(list).and_then(Value::as_array);
            if let (Some(Value::Array(nl)), Some(ol)) = (m.get_mut(list), old_list) {
                if nl.len() == ol.len() {
                    for (n, o) in nl.iter_mut().zip(ol) {
                        if let (Some(nm), Some(img)) = (n.as_object_mut(), o.get("image")) {
                            nm.insert("image".to_string(), img.clone());
                        }
                    }
                }
            }
        }
    }
    if munged != old_spec {
        errs.push(FieldError::forbidden(
            "spec",
            &format!("{POD_UPDATE_FORBIDDEN}\n{}", spec_diff(&old_spec, &munged)),
        ));
    }
}

/// A short description of what differs between two specs (the top-level
/// fields), standing in for upstream's `cmp.Diff` output.
fn spec_diff(old: &Value, new: &Value) -> String {
    let empty = Map::new();
    let o = old.as_object().unwrap_or(&empty);
    let n = new.as_object().unwrap_or(&empty);
    let mut keys: Vec<&String> = o.keys().chain(n.keys()).collect();
    keys.sort();
    keys.dedup();
    let mut out = String::from("  core.PodSpec{\n");
    for k in keys {
        let (a, b) = (o.get(k), n.get(k));
        if a != b {
            if let Some(a) = a {
                out.push_str(&format!("-  {k}: {a}\n"));
            }
            if let Some(b) = b {
                out.push_str(&format!("+  {k}: {b}\n"));
            }
        }
    }
    out.push_str("  }\n");
    out
}
