//! Permit `Wait` through the whole `Scheduler` (watches, queue, cache, binding cycle) against
//! the real API server in process, with every request the scheduler sends recorded on the way:
//!
//! * a pod held at Permit that is deleted from the API is rejected (upstream
//!   `handleDeletePod` → `RejectWaitingPod`), unreserved and forgotten, never bound, and its
//!   node's resources are free again;
//! * a pod held at Permit chosen as a preemption victim is rejected rather than deleted
//!   (upstream `prepareCandidate`), and the preemptor then binds to the node;
//! * a pod rejected at Permit with `Unschedulable` is parked as unschedulable with upstream's
//!   `FitError` message (`0/1 nodes are available: 1 <reason>.`).

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use k8s_openapi::api::core::v1::Pod;
use kernel::sched::framework::{ExtensionPoints, PermitPlugin, Plugin, ReservePlugin};
use kernel::sched::plugins::Registry;
use kernel::sched::testing::{node, pod};
use kernel::sched::waiting_pods::WaitingPods;
use kernel::sched::{
    Code, CycleState, KubeSchedulerConfiguration, PodInfo, Scheduler, SchedulingQueue, Status,
};
use kube::api::{Api, DeleteParams, PostParams};
use serde_json::Value;

use common::{populate, recording_api, Recorded};

/// Reserve + Permit plugin driven by the pod's `gate` label: `wait` waits 10 minutes, `deny`
/// rejects with `Unschedulable`, anything else passes. Records Permit and Unreserve calls.
struct Gate {
    permits: Arc<Mutex<Vec<String>>>,
    unreserved: Arc<Mutex<Vec<String>>>,
}

const GATE: &str = "Gate";

fn gate_label(pod: &PodInfo) -> Option<String> {
    pod.pod
        .metadata
        .labels
        .as_ref()
        .and_then(|l| l.get("gate").cloned())
}

impl Plugin for Gate {
    fn name(&self) -> &'static str {
        GATE
    }
    fn extension_points(self: Arc<Self>) -> ExtensionPoints {
        ExtensionPoints::of(self).reserve().permit().into()
    }
}

impl ReservePlugin for Gate {
    fn reserve(&self, _: &mut CycleState, _: &PodInfo, _: &str) -> Status {
        Status::success()
    }
    fn unreserve(&self, _: &mut CycleState, pod: &PodInfo, _: &str) {
        self.unreserved.lock().unwrap().push(pod.name.clone());
    }
}

impl PermitPlugin for Gate {
    fn permit(&self, _: &mut CycleState, pod: &PodInfo, _: &str) -> (Status, Duration) {
        self.permits.lock().unwrap().push(pod.name.clone());
        match gate_label(pod).as_deref() {
            Some("wait") => (Status::from_code(Code::Wait), Duration::from_secs(600)),
            Some("deny") => (
                Status::new(Code::Unschedulable, "denied by Gate"),
                Duration::ZERO,
            ),
            _ => (Status::success(), Duration::ZERO),
        }
    }
}

struct Harness {
    client: kube::Client,
    recorded: Recorded,
    permits: Arc<Mutex<Vec<String>>>,
    unreserved: Arc<Mutex<Vec<String>>>,
    waiting: WaitingPods,
    queue: Arc<SchedulingQueue>,
    run: tokio::task::JoinHandle<Result<(), kernel_sched::Error>>,
}

impl Drop for Harness {
    fn drop(&mut self) {
        self.run.abort();
    }
}

/// Runs a scheduler with the default plugins plus [`Gate`] against one node `n1` (4 CPUs),
/// waits until it has bound a `probe` pod (so it knows the node), then creates `pods`.
async fn start(pods: Vec<Pod>) -> Harness {
    let recorded: Recorded = Arc::default();
    let client = recording_api(recorded.clone()).await;
    populate(
        &client,
        vec![node("n1").cpu("4").memory("8Gi").obj()],
        vec![pod("probe").obj()],
    )
    .await;
    let permits: Arc<Mutex<Vec<String>>> = Arc::default();
    let unreserved: Arc<Mutex<Vec<String>>> = Arc::default();
    let mut registry = Registry::in_tree();
    let (p, u) = (permits.clone(), unreserved.clone());
    registry.register(GATE, move |_, _| {
        Ok(Arc::new(Gate {
            permits: p.clone(),
            unreserved: u.clone(),
        }))
    });
    let cfg = KubeSchedulerConfiguration::from_yaml(
        "apiVersion: kubescheduler.config.k8s.io/v1\nkind: KubeSchedulerConfiguration\n\
         profiles:\n- plugins:\n    multiPoint:\n      enabled: [{name: Gate}]\n",
    )
    .unwrap();
    let sched = Scheduler::from_config_with(client.clone(), &cfg, &registry).unwrap();
    let waiting = sched.waiting_pods().clone();
    let queue = sched.queue();
    let run = tokio::spawn(sched.run());
    let h = Harness {
        client,
        recorded,
        permits,
        unreserved,
        waiting,
        queue,
        run,
    };
    h.until("probe bound", |h| !h.bindings("probe").is_empty())
        .await;
    for p in pods {
        h.pods().create(&PostParams::default(), &p).await.unwrap();
    }
    h
}

const DEADLINE: Duration = Duration::from_secs(10);

impl Harness {
    fn requests(&self, method: &str, suffix: &str) -> Vec<String> {
        self.recorded
            .lock()
            .unwrap()
            .iter()
            .filter(|(m, p, _)| m == method && p.ends_with(suffix))
            .map(|(_, _, b)| b.clone())
            .collect()
    }

    fn bindings(&self, pod: &str) -> Vec<Value> {
        self.requests("POST", &format!("/namespaces/default/pods/{pod}/binding"))
            .iter()
            .map(|b| serde_json::from_str(b).unwrap())
            .collect()
    }

    /// Events recorded about `pod` with `reason`.
    fn events(&self, pod: &str, reason: &str) -> Vec<Value> {
        self.recorded
            .lock()
            .unwrap()
            .iter()
            .filter(|(m, p, _)| m == "POST" && p.contains("/events"))
            .filter_map(|(_, _, b)| serde_json::from_str::<Value>(b).ok())
            .filter(|e| e["regarding"]["name"] == pod && e["reason"] == reason)
            .collect()
    }

    fn count(list: &Mutex<Vec<String>>, name: &str) -> usize {
        list.lock().unwrap().iter().filter(|n| *n == name).count()
    }

    /// Polls `cond` until it holds, failing after [`DEADLINE`].
    async fn until(&self, what: &str, mut cond: impl FnMut(&Self) -> bool) {
        let deadline = tokio::time::Instant::now() + DEADLINE;
        while !cond(self) {
            assert!(
                tokio::time::Instant::now() < deadline,
                "timed out waiting for {what}; requests: {:#?}",
                self.recorded.lock().unwrap()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Whether a pod of this name is held at Permit.
    fn is_waiting(&self, name: &str) -> bool {
        let mut found = false;
        self.waiting
            .iterate_over_waiting_pods(|w| found |= w.pod().name == name);
        found
    }

    fn pods(&self) -> Api<Pod> {
        Api::namespaced(self.client.clone(), "default")
    }
}

#[tokio::test]
async fn deleted_waiting_pod_is_rejected_unreserved_and_never_bound() {
    let h = start(vec![pod("waiter")
        .label("gate", "wait")
        .req("3", "1Gi")
        .obj()])
    .await;
    h.until("waiter held at Permit", |h| h.is_waiting("waiter"))
        .await;
    assert!(h.bindings("waiter").is_empty());
    assert_eq!(h.queue.lens(), (0, 0, 0), "in flight, not queued");

    // Deleted from the API: rejected, Unreserve runs, the waiting pod is gone.
    h.pods()
        .delete("waiter", &DeleteParams::default())
        .await
        .unwrap();
    h.until("waiter rejected and unreserved", |h| {
        h.waiting.is_empty() && Harness::count(&h.unreserved, "waiter") == 1
    })
    .await;

    // Its 3 CPUs are free again: another 3-CPU pod binds to the 4-CPU node.
    h.pods()
        .create(&PostParams::default(), &pod("next").req("3", "1Gi").obj())
        .await
        .unwrap();
    h.until("next bound", |h| !h.bindings("next").is_empty())
        .await;
    let b = &h.bindings("next")[0];
    assert_eq!(b["target"]["name"], "n1", "{b}");
    h.until("queue drained", |h| h.queue.lens() == (0, 0, 0))
        .await;

    // The deleted pod was never bound, nor requeued and tried again.
    assert!(h.bindings("waiter").is_empty());
    assert_eq!(Harness::count(&h.permits, "waiter"), 1);
    assert_eq!(Harness::count(&h.unreserved, "waiter"), 1);
    assert!(h.waiting.is_empty());
}

#[tokio::test]
async fn waiting_victim_is_rejected_not_deleted_and_preemptor_binds() {
    let h = start(vec![pod("low")
        .label("gate", "wait")
        .priority(1)
        .req("3", "1Gi")
        .obj()])
    .await;
    h.until("low held at Permit", |h| h.is_waiting("low")).await;

    // A higher-priority pod that only fits if `low` goes.
    h.pods()
        .create(
            &PostParams::default(),
            &pod("high").priority(1000).req("3", "1Gi").obj(),
        )
        .await
        .unwrap();
    h.until("high bound", |h| !h.bindings("high").is_empty())
        .await;
    let b = &h.bindings("high")[0];
    assert_eq!(b["target"]["name"], "n1", "{b}");

    // The preemptor was nominated to n1 first.
    let nominated = h
        .requests("PATCH", "/namespaces/default/pods/high/status")
        .iter()
        .map(|s| serde_json::from_str::<Value>(s).unwrap())
        .any(|s| s["status"]["nominatedNodeName"] == "n1");
    assert!(nominated, "{:#?}", h.recorded.lock().unwrap());

    // The victim was rejected at Permit (unreserved, never bound), not deleted from the API.
    assert_eq!(Harness::count(&h.unreserved, "low"), 1);
    assert!(h.bindings("low").is_empty());
    assert!(
        h.requests("DELETE", "/namespaces/default/pods/low")
            .is_empty(),
        "a waiting victim is rejected, not deleted"
    );
    assert!(!h.is_waiting("low"));
    let high_uid = h.pods().get("high").await.unwrap().metadata.uid.unwrap();
    let note = format!("Preempted by pod {high_uid} on node n1");
    h.until("Preempted event for low", |h| {
        h.events("low", "Preempted")
            .iter()
            .any(|e| e["note"].as_str() == Some(note.as_str()))
    })
    .await;
    // Upstream requeues the rejected victim (it is still in the API): it keeps pending, with
    // the preemption as the reason.
    h.until("low reported unschedulable", |h| {
        h.requests("PATCH", "/namespaces/default/pods/low/status")
            .iter()
            .any(|s| s.contains("0/1 nodes are available: 1 preempted."))
    })
    .await;
    assert!(h.bindings("low").is_empty());
}

#[tokio::test]
async fn permit_rejection_parks_pod_as_unschedulable_with_upstream_message() {
    let h = start(vec![pod("denied")
        .label("gate", "deny")
        .req("1", "1Gi")
        .obj()])
    .await;
    // Upstream: a FitError on the one node tried, `0/1 nodes are available: 1 <reason>.`
    let msg = "0/1 nodes are available: 1 denied by Gate.";
    h.until("FailedScheduling event with the FitError message", |h| {
        h.events("denied", "FailedScheduling")
            .iter()
            .any(|e| e["note"] == msg)
    })
    .await;
    let status: Vec<Value> = h
        .requests("PATCH", "/namespaces/default/pods/denied/status")
        .iter()
        .map(|s| serde_json::from_str(s).unwrap())
        .collect();
    let cond = status
        .iter()
        .map(|s| &s["status"]["conditions"][0])
        .find(|c| c["message"] == msg)
        .unwrap_or_else(|| panic!("no PodScheduled condition with {msg:?}: {status:#?}"));
    assert_eq!(cond["type"], "PodScheduled");
    assert_eq!(cond["status"], "False");
    assert_eq!(cond["reason"], "Unschedulable");

    // Parked in the unschedulable pool (not backoff): the rejecting plugin is known, and no
    // event helps it.
    h.until("denied parked as unschedulable", |h| {
        h.queue.lens() == (0, 0, 1)
    })
    .await;
    assert!(Harness::count(&h.unreserved, "denied") >= 1);
    assert_eq!(
        Harness::count(&h.unreserved, "denied"),
        Harness::count(&h.permits, "denied"),
        "every rejection is unreserved"
    );
    assert!(h.bindings("denied").is_empty());
    assert!(h.waiting.is_empty());
}
