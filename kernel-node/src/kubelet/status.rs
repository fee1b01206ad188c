//! The pod status the kubelet writes: upstream's `pkg/kubelet/kubelet_pods.go`
//! (`generateAPIPodStatus`, `getPhase`, `convertToAPIContainerStatuses`) and
//! `pkg/kubelet/status/generate.go` (the Initialized, ContainersReady, Ready and
//! PodReadyToStartContainers conditions).
//!
//! Readiness: a running container is `started` once its startup probe succeeded (at once
//! without one) and `ready` once started and its readiness probe succeeded (at once without
//! one); the worker works both out from its probes (`probe.rs`). The pod is Ready when every
//! container is and every readiness gate's condition is True.

use std::time::SystemTime;

use k8s_openapi::api::core::v1::{Pod, PodCondition, PodSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use serde_json::{json, Map, Value};

use crate::runtime::{ContainerState, ContainerStatus};

/// A `metav1.Time` as JSON.
pub(crate) fn time(at: SystemTime) -> Value {
    k8s_openapi::jiff::Timestamp::try_from(at)
        .ok()
        .and_then(|t| serde_json::to_value(Time(t)).ok())
        .unwrap_or(Value::Null)
}

/// Now as a `metav1.Time`.
pub(crate) fn now_time() -> Value {
    time(SystemTime::now())
}

/// One container as the worker knows it.
pub(crate) struct ContainerView<'a> {
    pub name: &'a str,
    pub image: &'a str,
    /// The newest runtime container of this name in the sandbox.
    pub latest: Option<&'a ContainerStatus>,
    /// The one before it (`lastState`).
    pub previous: Option<&'a ContainerStatus>,
    /// Why it is waiting (`ErrImagePull`, `CrashLoopBackOff`, ...), with a message.
    pub waiting: Option<&'a (String, String)>,
    /// It runs and its startup probe succeeded (or it has none).
    pub started: bool,
    /// It runs, started, and its readiness probe succeeded (or it has none).
    pub ready: bool,
}

/// What a container status says for the phase.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    Running,
    /// Ended with this exit code.
    Terminated(i32),
    /// Waiting; `true` when it ran before (`lastState.terminated` set).
    Waiting(bool),
}

fn terminated(rt: &str, c: &ContainerStatus) -> Value {
    let code = c.exit_code.unwrap_or(0);
    let reason = if !c.reason.is_empty() {
        c.reason.clone()
    } else if code == 0 {
        "Completed".into()
    } else {
        "Error".into()
    };
    let mut t = json!({
        "exitCode": code,
        "reason": reason,
        "containerID": format!("{rt}://{}", c.id),
    });
    if !c.message.is_empty() {
        t["message"] = json!(c.message);
    }
    if let Some(at) = c.started_at {
        t["startedAt"] = time(at);
    }
    if let Some(at) = c.finished_at {
        t["finishedAt"] = time(at);
    }
    t
}

/// One entry of `containerStatuses` / `initContainerStatuses`; `default_reason` is the
/// waiting reason of a container not made yet (`ContainerCreating`, `PodInitializing`).
pub(crate) fn container_status(
    rt: &str,
    view: &ContainerView<'_>,
    default_reason: &str,
) -> (Value, Kind) {
    let mut status = json!({
        "name": view.name,
        "image": view.image,
        "imageID": view.latest.map(|c| c.image_ref.clone()).unwrap_or_default(),
        "restartCount": view.latest.map_or(0, |c| c.attempt),
        "ready": false,
        "started": false,
    });
    let running = view.latest.filter(|c| c.state == ContainerState::Running);
    let last_terminated = |c: Option<&ContainerStatus>| {
        c.filter(|c| c.state == ContainerState::Exited)
            .map(|c| json!({ "terminated": terminated(rt, c) }))
    };
    let (state, last, kind) = match (running, view.waiting, view.latest) {
        (Some(c), _, _) => {
            status["ready"] = json!(view.ready);
            status["started"] = json!(view.started);
            status["containerID"] = json!(format!("{rt}://{}", c.id));
            let mut running = json!({});
            if let Some(at) = c.started_at {
                running["startedAt"] = time(at);
            }
            (
                json!({ "running": running }),
                last_terminated(view.previous),
                Kind::Running,
            )
        }
        (None, Some((reason, message)), latest) => {
            let last = last_terminated(latest);
            let ran = last.is_some();
            let mut waiting = json!({ "reason": reason });
            if !message.is_empty() {
                waiting["message"] = json!(message);
            }
            (json!({ "waiting": waiting }), last, Kind::Waiting(ran))
        }
        (None, None, Some(c)) if c.state == ContainerState::Exited => {
            status["containerID"] = json!(format!("{rt}://{}", c.id));
            (
                json!({ "terminated": terminated(rt, c) }),
                last_terminated(view.previous),
                Kind::Terminated(c.exit_code.unwrap_or(0)),
            )
        }
        (None, None, Some(_)) => (
            json!({ "waiting": { "reason": "ContainerCreating" } }),
            last_terminated(view.previous),
            Kind::Waiting(view.previous.is_some()),
        ),
        (None, None, None) => (
            json!({ "waiting": { "reason": default_reason } }),
            None,
            Kind::Waiting(false),
        ),
    };
    status["state"] = state;
    status["lastState"] = last.unwrap_or_else(|| json!({}));
    (status, kind)
}

/// `getPhase` for the main containers (init containers are done).
pub(crate) fn phase(restart_policy: &str, kinds: &[Kind]) -> &'static str {
    let (mut running, mut waiting, mut stopped, mut succeeded) = (0, 0, 0, 0);
    for k in kinds {
        match k {
            Kind::Running => running += 1,
            Kind::Terminated(code) => {
                stopped += 1;
                if *code == 0 {
                    succeeded += 1;
                }
            }
            Kind::Waiting(true) => stopped += 1,
            Kind::Waiting(false) => waiting += 1,
        }
    }
    if waiting > 0 {
        "Pending"
    } else if running > 0 {
        "Running"
    } else if stopped > 0 {
        if restart_policy == "Always" {
            "Running"
        } else if stopped == succeeded {
            "Succeeded"
        } else if restart_policy == "Never" {
            "Failed"
        } else {
            "Running"
        }
    } else {
        "Pending"
    }
}

/// A condition, its `lastTransitionTime` kept from `previous` while its status holds.
pub(crate) fn condition(
    previous: Option<&Value>,
    kind: &str,
    status: bool,
    reason: Option<&str>,
    message: Option<String>,
) -> Value {
    let status = if status { "True" } else { "False" };
    let transition = previous
        .and_then(|p| p["conditions"].as_array())
        .and_then(|cs| {
            cs.iter()
                .find(|c| c["type"] == kind && c["status"] == status)
        })
        .map(|c| c["lastTransitionTime"].clone())
        .unwrap_or_else(now_time);
    let mut c = Map::new();
    c.insert("type".into(), json!(kind));
    c.insert("status".into(), json!(status));
    c.insert("lastProbeTime".into(), Value::Null);
    c.insert("lastTransitionTime".into(), transition);
    if let Some(reason) = reason {
        c.insert("reason".into(), json!(reason));
    }
    if let Some(message) = message {
        c.insert("message".into(), json!(message));
    }
    Value::Object(c)
}

/// The `PodScheduled` condition the API holds (the scheduler's), else True now.
pub(crate) fn pod_scheduled(pod: &Pod, previous: Option<&Value>) -> Value {
    pod.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .and_then(|cs| cs.iter().find(|c| c.type_ == "PodScheduled"))
        .and_then(|c| serde_json::to_value(c).ok())
        .unwrap_or_else(|| condition(previous, "PodScheduled", true, None, None))
}

/// Why the readiness gates of `spec` hold the pod's Ready condition False, given the
/// conditions the API holds (upstream `GeneratePodReadyCondition`); `None` when every gate's
/// condition is True.
pub(crate) fn readiness_gates(spec: &PodSpec, conditions: &[PodCondition]) -> Option<String> {
    let messages: Vec<String> = spec
        .readiness_gates
        .iter()
        .flatten()
        .filter_map(|gate| {
            let kind = &gate.condition_type;
            match conditions.iter().find(|c| &c.type_ == kind) {
                None => Some(format!(
                    "corresponding condition of pod readiness gate {kind:?} does not exist."
                )),
                Some(c) if c.status != "True" => Some(format!(
                    "the status of pod readiness gate {kind:?} is not \"True\", but {}",
                    c.status
                )),
                Some(_) => None,
            }
        })
        .collect();
    (!messages.is_empty()).then(|| messages.join(", "))
}

/// The strategic merge patch that writes `status` as the kubelet owns it (upstream's status
/// manager patches strategically too): container statuses are atomic lists (replaced), the
/// IP lists (merged by `ip` otherwise) are replaced (`$patch: replace`), conditions merge by `type` so the ones others own (readiness gates')
/// survive a concurrent write, and a condition's `reason` / `message` that went away is
/// deleted (`null`).
pub(crate) fn strategic_patch(status: &Value) -> Value {
    let mut patch = status.clone();
    for key in ["podIPs", "hostIPs"] {
        if let Some(list) = patch[key].as_array_mut() {
            list.push(json!({ "$patch": "replace" }));
        }
    }
    if let Some(conditions) = patch["conditions"].as_array_mut() {
        for c in conditions.iter_mut().filter_map(Value::as_object_mut) {
            for key in ["reason", "message"] {
                c.entry(key).or_insert(Value::Null);
            }
        }
    }
    patch
}

/// `containers with unready status: [a b]`.
pub(crate) fn names_message(what: &str, names: &[&str]) -> String {
    format!("containers with {what} status: [{}]", names.join(" "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phases_as_upstream() {
        use Kind::*;
        assert_eq!(phase("Always", &[Running, Waiting(false)]), "Pending");
        assert_eq!(phase("Always", &[Running]), "Running");
        assert_eq!(phase("Always", &[Waiting(true)]), "Running");
        assert_eq!(phase("Never", &[Terminated(0), Terminated(0)]), "Succeeded");
        assert_eq!(phase("Never", &[Terminated(1)]), "Failed");
        assert_eq!(phase("OnFailure", &[Terminated(0)]), "Succeeded");
        assert_eq!(phase("OnFailure", &[Waiting(true)]), "Running");
    }

    #[test]
    fn the_status_patch_replaces_ips_and_clears_reasons() {
        let status = json!({
            "podIPs": [ { "ip": "10.0.0.2" } ],
            "conditions": [ { "type": "Ready", "status": "True" } ],
            "containerStatuses": [ { "name": "c" } ],
        });
        let patch = strategic_patch(&status);
        assert_eq!(patch["podIPs"][1], json!({ "$patch": "replace" }));
        assert_eq!(patch["conditions"][0]["reason"], Value::Null);
        assert!(patch["conditions"][0]
            .as_object()
            .unwrap()
            .contains_key("message"));
        assert_eq!(patch["containerStatuses"], status["containerStatuses"]);
    }

    #[test]
    fn readiness_gates_hold_ready() {
        let spec: PodSpec = serde_json::from_value(json!({ "containers": [],
            "readinessGates": [ { "conditionType": "example.com/lb" },
                                { "conditionType": "example.com/dns" } ] }))
        .unwrap();
        let cond = |kind: &str, status: &str| PodCondition {
            type_: kind.into(),
            status: status.into(),
            ..Default::default()
        };
        assert_eq!(
            readiness_gates(&spec, &[cond("example.com/lb", "False")]).as_deref(),
            Some(
                "the status of pod readiness gate \"example.com/lb\" is not \"True\", but False, \
                 corresponding condition of pod readiness gate \"example.com/dns\" does not exist."
            )
        );
        let both = [
            cond("example.com/lb", "True"),
            cond("example.com/dns", "True"),
        ];
        assert_eq!(readiness_gates(&spec, &both), None);
    }

    #[test]
    fn conditions_keep_their_transition_time() {
        let first = condition(None, "Ready", true, None, None);
        let previous = json!({ "conditions": [ { "type": "Ready", "status": "True",
            "lastTransitionTime": "2020-01-01T00:00:00Z" } ] });
        let again = condition(Some(&previous), "Ready", true, None, None);
        assert_eq!(again["lastTransitionTime"], "2020-01-01T00:00:00Z");
        assert_ne!(first["lastTransitionTime"], "2020-01-01T00:00:00Z");
        let flipped = condition(
            Some(&previous),
            "Ready",
            false,
            Some("ContainersNotReady"),
            None,
        );
        assert_ne!(flipped["lastTransitionTime"], "2020-01-01T00:00:00Z");
    }
}
