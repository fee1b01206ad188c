//! The strategy of core/v1 Pod (`pods`): upstream's `pkg/registry/core/pod/strategy.go`.

use k8s_openapi::jiff::Timestamp;
use serde_json::{json, Map, Value};

use crate::defaults::{child, default_pod_spec, set};
use crate::json::{arr, bool_at, field_at, s};
use crate::strategy::{Column, Deletion, Strategy};
use crate::table::{age, age_col, c, condition_true, human_duration, i, name, name_col, or_none};
use crate::validation::{get, validate_pod_spec, FieldError};
use kernel_core::well_known::{TAINT_NODE_NOT_READY, TAINT_NODE_UNREACHABLE};

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
        let spec = obj.get("spec").unwrap_or(&Value::Null);
        validate_pod_spec(spec, "spec", &mut errs);
        errs
    }

    fn validate_update(&self, new: &Value, old: &Value) -> Vec<FieldError> {
        let mut out = Vec::new();
        let errs = &mut out;
        validate_pod_update(new, old, errs);
        out
    }

    fn columns(&self) -> Vec<Column> {
        vec![
            name_col(),
            c("Ready", "string", 0, "The aggregate readiness state of this pod for accepting traffic."),
            c("Status", "string", 0, "The aggregate status of the containers in this pod."),
            c("Restarts", "string", 0, "The number of times the containers in this pod have been restarted and when the last container in this pod has restarted."),
            age_col(),
            c("IP", "string", 1, "IP address allocated to the pod."),
            c("Node", "string", 1, "Name of the node the pod is scheduled onto."),
            c("Nominated Node", "string", 1, "Name of the node the pod is nominated onto for preemption."),
            c("Readiness Gates", "string", 1, "Pod readiness gates that are true out of all gates."),
        ]
    }

    fn cells(&self, obj: &Value, now: Timestamp) -> Vec<Value> {
        pod_cells(obj, now)
    }

    /// Completed pods carry a `Completed` row condition (kubectl hides them unless `-a`).
    fn row_conditions(&self, obj: &Value) -> Option<Value> {
        let phase = s(obj, "/status/phase");
        (phase == "Succeeded" || phase == "Failed").then(|| {
            json!([{"type": "Completed", "status": "True", "reason": phase, "message": "The pod has completed successfully."}])
        })
    }

    fn selectable_fields(&self) -> &'static [&'static str] {
        &[
            "spec.nodeName",
            "spec.restartPolicy",
            "spec.schedulerName",
            "spec.serviceAccountName",
            "spec.hostNetwork",
            "status.phase",
            "status.podIP",
            "status.nominatedNodeName",
        ]
    }

    fn field_value(&self, obj: &Value, field: &str) -> String {
        match field {
            "spec.hostNetwork" => bool_at(obj, "/spec/hostNetwork"),
            "status.podIP" => obj
                .pointer("/status/podIPs/0/ip")
                .or_else(|| obj.pointer("/status/podIP"))
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string(),
            f => field_at(obj, f),
        }
    }

    /// Pods start `Pending`, with their QoS class.
    fn prepare_for_create(&self, obj: &mut Value, status_subresource: bool) {
        if status_subresource {
            obj["status"] = json!({ "phase": "Pending", "qosClass": pod_qos_class(obj) });
        }
    }

    /// Pods bound to a node are deleted gracefully: `gracePeriodSeconds`, else
    /// `spec.terminationGracePeriodSeconds` (30); unbound and terminated pods at once (grace 0).
    fn deletion(&self, obj: &Value, grace_period: Option<i64>) -> Deletion {
        let bound = obj["spec"]["nodeName"]
            .as_str()
            .is_some_and(|n| !n.is_empty());
        let terminal = matches!(
            obj["status"]["phase"].as_str(),
            Some("Succeeded" | "Failed")
        );
        let default_grace = obj["spec"]["terminationGracePeriodSeconds"]
            .as_i64()
            .unwrap_or(30);
        let mut grace = grace_period.unwrap_or(default_grace).max(0);
        if !bound || terminal {
            grace = 0;
        }
        Deletion::Graceful(grace)
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
    for key in [TAINT_NODE_NOT_READY, TAINT_NODE_UNREACHABLE] {
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

fn pod_cells(pod: &Value, now: Timestamp) -> Vec<Value> {
    let init_specs = arr(pod, "/spec/initContainers");
    let is_sidecar = |name: &str| {
        init_specs
            .iter()
            .any(|c| s(c, "/name") == name && s(c, "/restartPolicy") == "Always")
    };
    let total = arr(pod, "/spec/containers").len()
        + init_specs
            .iter()
            .filter(|c| s(c, "/restartPolicy") == "Always")
            .count();
    let mut ready = 0;
    let mut restarts = 0i64;
    let mut sidecar_restarts = 0i64;
    let mut last_restart: Option<Timestamp> = None;
    let mut last_sidecar_restart: Option<Timestamp> = None;
    let phase = s(pod, "/status/phase");
    let mut reason = phase.to_string();
    if !s(pod, "/status/reason").is_empty() {
        reason = s(pod, "/status/reason").to_string();
    }
    if arr(pod, "/status/conditions")
        .iter()
        .any(|c| s(c, "/type") == "PodScheduled" && s(c, "/reason") == "SchedulingGated")
    {
        reason = "SchedulingGated".to_string();
    }
    let finished_at = |c: &Value| {
        c.pointer("/lastState/terminated/finishedAt")
            .and_then(Value::as_str)
            .and_then(|t| t.parse::<Timestamp>().ok())
    };
    let later = |a: Option<Timestamp>, b: Option<Timestamp>| match (a, b) {
        (Some(a), Some(b)) => Some(a.max(b)),
        (a, b) => a.or(b),
    };

    let mut initializing = false;
    let init_statuses = arr(pod, "/status/initContainerStatuses");
    for (idx, cs) in init_statuses.iter().enumerate() {
        restarts += i(cs, "/restartCount");
        last_restart = later(last_restart, finished_at(cs));
        let sidecar = is_sidecar(s(cs, "/name"));
        if sidecar {
            sidecar_restarts += i(cs, "/restartCount");
            last_sidecar_restart = later(last_sidecar_restart, finished_at(cs));
        }
        let terminated = cs.pointer("/state/terminated");
        let waiting_reason = s(cs, "/state/waiting/reason");
        if terminated.is_some_and(|t| i(t, "/exitCode") == 0) {
            continue;
        }
        if sidecar && cs.get("started").and_then(Value::as_bool) == Some(true) {
            if cs.get("ready").and_then(Value::as_bool) == Some(true) {
                ready += 1;
            }
            continue;
        }
        if let Some(t) = terminated {
            let r = s(t, "/reason");
            reason = if !r.is_empty() {
                format!("Init:{r}")
            } else if i(t, "/signal") != 0 {
                format!("Init:Signal:{}", i(t, "/signal"))
            } else {
                format!("Init:ExitCode:{}", i(t, "/exitCode"))
            };
        } else if !waiting_reason.is_empty() && waiting_reason != "PodInitializing" {
            reason = format!("Init:{waiting_reason}");
        } else {
            reason = format!("Init:{}/{}", idx, init_specs.len());
        }
        initializing = true;
        break;
    }

    if !initializing || condition_true(pod, "/status/conditions", "Initialized") {
        restarts = sidecar_restarts;
        last_restart = last_sidecar_restart;
        let mut has_running = false;
        for cs in arr(pod, "/status/containerStatuses").iter().rev() {
            restarts += i(cs, "/restartCount");
            last_restart = later(last_restart, finished_at(cs));
            let waiting = s(cs, "/state/waiting/reason");
            let terminated = cs.pointer("/state/terminated");
            if !waiting.is_empty() {
                reason = waiting.to_string();
            } else if let Some(t) = terminated {
                let r = s(t, "/reason");
                reason = if !r.is_empty() {
                    r.to_string()
                } else if i(t, "/signal") != 0 {
                    format!("Signal:{}", i(t, "/signal"))
                } else {
                    format!("ExitCode:{}", i(t, "/exitCode"))
                };
            } else if cs.get("ready").and_then(Value::as_bool) == Some(true)
                && cs.pointer("/state/running").is_some()
            {
                has_running = true;
                ready += 1;
            }
        }
        if reason == "Completed" && has_running {
            reason = if condition_true(pod, "/status/conditions", "Ready") {
                "Running".to_string()
            } else {
                "NotReady".to_string()
            };
        }
    }

    if pod.pointer("/metadata/deletionTimestamp").is_some() {
        if s(pod, "/status/reason") == "NodeLost" {
            reason = "Unknown".to_string();
        } else if phase != "Succeeded" && phase != "Failed" {
            reason = "Terminating".to_string();
        }
    }

    let restarts_str = match last_restart {
        Some(t) if restarts != 0 => {
            format!(
                "{} ({} ago)",
                restarts,
                human_duration(now.duration_since(t))
            )
        }
        _ => restarts.to_string(),
    };

    let ip = arr(pod, "/status/podIPs")
        .first()
        .map(|p| s(p, "/ip"))
        .filter(|ip| !ip.is_empty())
        .unwrap_or_else(|| s(pod, "/status/podIP"));
    let gates = arr(pod, "/spec/readinessGates");
    let gates_str = if gates.is_empty() {
        "<none>".to_string()
    } else {
        let t = gates
            .iter()
            .filter(|g| condition_true(pod, "/status/conditions", s(g, "/conditionType")))
            .count();
        format!("{}/{}", t, gates.len())
    };
    vec![
        name(pod),
        json!(format!("{ready}/{total}")),
        json!(reason),
        json!(restarts_str),
        age(pod, now),
        json!(or_none(ip)),
        json!(or_none(s(pod, "/spec/nodeName"))),
        json!(or_none(s(pod, "/status/nominatedNodeName"))),
        json!(gates_str),
    ]
}

/// Upstream's `qos.ComputePodQOS` (what `PrepareForCreate` sets; a `status.qosClass` the client
/// sent does not count): kernel-core's, on the pod decoded as its type.
fn pod_qos_class(pod: &Value) -> &'static str {
    let typed: k8s_openapi::api::core::v1::Pod =
        serde_json::from_value(pod.clone()).unwrap_or_default();
    kernel_core::pod::compute_pod_qos(&typed).as_str()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn qos_classes() {
        assert_eq!(
            pod_qos_class(&json!({"spec":{"containers":[{"name":"a"}]}})),
            "BestEffort"
        );
        // On create the pod is defaulted first: requests default to the limits (upstream's
        // ComputePodQOS on the undefaulted pod would answer Burstable).
        let mut g = json!({"spec":{"containers":[{"name":"a","image":"x",
            "resources":{"limits":{"cpu":"1","memory":"1Gi"}}}]}});
        Pod.defaults(&mut g);
        assert_eq!(pod_qos_class(&g), "Guaranteed");
        let b = json!({"spec":{"containers":[{"resources":{"requests":{"cpu":"1"}}}]}});
        assert_eq!(pod_qos_class(&b), "Burstable");
        // Quantities compare exactly (the old string comparison saw 1000m ≠ 1: Burstable).
        let g = json!({"spec":{"containers":[{"resources":{
            "requests":{"cpu":"1000m","memory":"1Gi"},"limits":{"cpu":"1","memory":"1Gi"}}}]}});
        assert_eq!(pod_qos_class(&g), "Guaranteed");
        // Only CPU and memory count (the old code counted any resource: Burstable).
        let e =
            json!({"spec":{"containers":[{"resources":{"requests":{"ephemeral-storage":"1Gi"}}}]}});
        assert_eq!(pod_qos_class(&e), "BestEffort");
        // A client's status.qosClass is not taken over.
        let s = json!({"spec":{"containers":[{"name":"a"}]},"status":{"qosClass":"Guaranteed"}});
        assert_eq!(pod_qos_class(&s), "BestEffort");
    }
}
