//! Permit `Wait` through the whole `Scheduler` (watches, queue, cache, binding cycle) against a
//! small stateful fake API server: pods can be created and deleted, bindings set
//! `spec.nodeName`, and every change is streamed to the scheduler's pod watch.
//!
//! * a pod held at Permit that is deleted from the API is rejected (upstream
//!   `handleDeletePod` → `RejectWaitingPod`), unreserved and forgotten, never bound, and its
//!   node's resources are free again;
//! * a pod held at Permit chosen as a preemption victim is rejected rather than deleted
//!   (upstream `prepareCandidate`), and the preemptor then binds to the node;
//! * a pod rejected at Permit with `Unschedulable` is parked as unschedulable with upstream's
//!   `FitError` message (`0/1 nodes are available: 1 <reason>.`).

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use futures::StreamExt;
use http::{Request, Response, StatusCode};
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full, StreamBody};
use k8s_openapi::api::core::v1::{Node, Pod};
use kernel_sched::framework::{PermitPlugin, Plugin, ReservePlugin};
use kernel_sched::plugins::Registry;
use kernel_sched::testing::{node, pod};
use kernel_sched::waiting_pods::WaitingPods;
use kernel_sched::{
    Code, CycleState, KubeSchedulerConfiguration, PodInfo, Scheduler, SchedulingQueue, Status,
};
use kube::api::{Api, DeleteParams, PostParams};
use serde_json::{json, Value};
use tokio::sync::broadcast;
use tokio_stream::wrappers::BroadcastStream;

type Body = BoxBody<Bytes, Infallible>;

/// Every request: (method, path, body).
type Recorded = Arc<Mutex<Vec<(String, String, String)>>>;

/// The fake API server's state: pods in namespace `default`, by name, and the watch log.
struct State {
    nodes: Vec<Value>,
    pods: BTreeMap<String, Value>,
    rv: u64,
    /// Every pod watch event so far, with its resource version (replayed to late watchers).
    log: Vec<(u64, String)>,
    tx: broadcast::Sender<String>,
}

impl State {
    /// Records a pod watch event (`ADDED`, `MODIFIED`, `DELETED`) and streams it.
    fn emit(&mut self, type_: &str, mut obj: Value) -> Value {
        self.rv += 1;
        obj["metadata"]["resourceVersion"] = self.rv.to_string().into();
        let line = format!("{}\n", json!({"type": type_, "object": obj}));
        self.log.push((self.rv, line.clone()));
        let _ = self.tx.send(line);
        obj
    }
}

fn full(v: Value, code: StatusCode) -> Response<Body> {
    Response::builder()
        .status(code)
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(v.to_string())).boxed())
        .unwrap()
}

fn not_found(what: &str) -> Response<Body> {
    full(
        json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
               "message": format!("{what} not found"), "reason": "NotFound", "code": 404}),
        StatusCode::NOT_FOUND,
    )
}

fn success() -> Value {
    json!({"apiVersion": "v1", "kind": "Status", "status": "Success", "metadata": {}})
}

fn never() -> Response<Body> {
    let s = futures::stream::pending::<Result<http_body::Frame<Bytes>, Infallible>>();
    Response::builder()
        .status(200)
        .body(BodyExt::boxed(StreamBody::new(s)))
        .unwrap()
}

fn list(kind: &str, rv: u64, items: Vec<Value>) -> Value {
    json!({"apiVersion": "v1", "kind": kind, "metadata": {"resourceVersion": rv.to_string()}, "items": items})
}

fn with_kind(mut v: Value, kind: &str) -> Value {
    v["apiVersion"] = "v1".into();
    v["kind"] = kind.into();
    v
}

fn query_param<'a>(query: &'a str, key: &str) -> Option<&'a str> {
    query
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .find(|(k, _)| *k == key)
        .map(|(_, v)| v)
}

/// The pod name in `/api/v1/namespaces/default/pods/<name>[/<sub>]`.
fn pod_name(path: &str) -> Option<(String, Option<String>)> {
    let rest = path.strip_prefix("/api/v1/namespaces/default/pods/")?;
    let mut it = rest.splitn(2, '/');
    let name = it.next()?.to_string();
    Some((name, it.next().map(str::to_string)))
}

fn handle(
    state: &Mutex<State>,
    method: &str,
    path: &str,
    query: &str,
    body: &[u8],
) -> Response<Body> {
    let watch = query_param(query, "watch").is_some_and(|w| w == "true" || w == "1");
    let mut st = state.lock().unwrap();
    match (method, path) {
        ("GET", "/api/v1/pods") if watch => {
            let since: u64 = query_param(query, "resourceVersion")
                .and_then(|v| v.parse().ok())
                .unwrap_or(0);
            // Replay and subscribe under the lock, so that no event is missed.
            let replay: Vec<String> = st
                .log
                .iter()
                .filter(|(rv, _)| *rv > since)
                .map(|(_, l)| l.clone())
                .collect();
            let rx = st.tx.subscribe();
            let live = BroadcastStream::new(rx).filter_map(|r| async move { r.ok() });
            let s = futures::stream::iter(replay)
                .chain(live)
                .map(|l| Ok::<_, Infallible>(http_body::Frame::data(Bytes::from(l))));
            Response::builder()
                .status(200)
                .header("content-type", "application/json")
                .body(BodyExt::boxed(StreamBody::new(s)))
                .unwrap()
        }
        ("GET", _) if watch => never(),
        ("GET", "/api/v1/nodes") => full(list("NodeList", st.rv, st.nodes.clone()), StatusCode::OK),
        ("GET", "/api/v1/pods") => full(
            list("PodList", st.rv, st.pods.values().cloned().collect()),
            StatusCode::OK,
        ),
        ("GET", _) => full(list("List", st.rv, vec![]), StatusCode::OK),
        ("POST", "/api/v1/namespaces/default/pods") => {
            let p: Value = serde_json::from_slice(body).unwrap();
            let name = p["metadata"]["name"].as_str().unwrap().to_string();
            let p = st.emit("ADDED", with_kind(p, "Pod"));
            st.pods.insert(name, p.clone());
            full(p, StatusCode::CREATED)
        }
        ("POST", p) if p.contains("/events") => full(
            serde_json::from_slice(body).unwrap_or_default(),
            StatusCode::CREATED,
        ),
        (m, p) => {
            let Some((name, sub)) = pod_name(p) else {
                return not_found(p);
            };
            let Some(mut obj) = st.pods.get(&name).cloned() else {
                return not_found(&format!("pods \"{name}\""));
            };
            match (m, sub.as_deref()) {
                ("POST", Some("binding")) => {
                    let b: Value = serde_json::from_slice(body).unwrap();
                    obj["spec"]["nodeName"] = b["target"]["name"].clone();
                    let obj = st.emit("MODIFIED", obj);
                    st.pods.insert(name, obj);
                    full(success(), StatusCode::CREATED)
                }
                ("PATCH", Some("status")) => full(obj, StatusCode::OK),
                ("DELETE", None) => {
                    st.pods.remove(&name);
                    let obj = st.emit("DELETED", obj);
                    full(obj, StatusCode::OK)
                }
                _ => not_found(p),
            }
        }
    }
}

/// A client of a fake API server holding `nodes` and `pods`, recording every request.
fn fake_api(recorded: Recorded, nodes: Vec<Node>, pods: Vec<Pod>) -> kube::Client {
    let (tx, _) = broadcast::channel(1024);
    let state = Arc::new(Mutex::new(State {
        nodes: nodes
            .into_iter()
            .map(|n| with_kind(serde_json::to_value(n).unwrap(), "Node"))
            .collect(),
        pods: BTreeMap::new(),
        rv: 1,
        log: Vec::new(),
        tx,
    }));
    {
        let mut st = state.lock().unwrap();
        for p in pods {
            let v = with_kind(serde_json::to_value(&p).unwrap(), "Pod");
            st.rv += 1;
            let mut v = v;
            v["metadata"]["resourceVersion"] = st.rv.to_string().into();
            st.pods.insert(p.metadata.name.clone().unwrap(), v);
        }
    }
    let svc = tower::service_fn(move |req: Request<kube::client::Body>| {
        let recorded = recorded.clone();
        let state = state.clone();
        async move {
            let (parts, body) = req.into_parts();
            let body = body
                .collect()
                .await
                .map(|b| b.to_bytes())
                .unwrap_or_default();
            let path = parts.uri.path().to_string();
            let query = parts.uri.query().unwrap_or("").to_string();
            let method = parts.method.to_string();
            recorded.lock().unwrap().push((
                method.clone(),
                path.clone(),
                String::from_utf8_lossy(&body).into_owned(),
            ));
            Ok::<_, Infallible>(handle(&state, &method, &path, &query, &body))
        }
    });
    kube::Client::new(svc, "default")
}

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
    fn as_reserve(self: Arc<Self>) -> Option<Arc<dyn ReservePlugin>> {
        Some(self)
    }
    fn as_permit(self: Arc<Self>) -> Option<Arc<dyn PermitPlugin>> {
        Some(self)
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
    let client = fake_api(
        recorded.clone(),
        vec![node("n1").cpu("4").memory("8Gi").obj()],
        vec![pod("probe").uid("u-probe").obj()],
    );
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

    fn pods(&self) -> Api<Pod> {
        Api::namespaced(self.client.clone(), "default")
    }
}

#[tokio::test]
async fn deleted_waiting_pod_is_rejected_unreserved_and_never_bound() {
    let h = start(vec![pod("waiter")
        .uid("u-waiter")
        .label("gate", "wait")
        .req("3", "1Gi")
        .obj()])
    .await;
    h.until("waiter held at Permit", |h| {
        h.waiting.get_waiting_pod("u-waiter").is_some()
    })
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
        .create(
            &PostParams::default(),
            &pod("next").uid("u-next").req("3", "1Gi").obj(),
        )
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
        .uid("u-low")
        .label("gate", "wait")
        .priority(1)
        .req("3", "1Gi")
        .obj()])
    .await;
    h.until("low held at Permit", |h| {
        h.waiting.get_waiting_pod("u-low").is_some()
    })
    .await;

    // A higher-priority pod that only fits if `low` goes.
    h.pods()
        .create(
            &PostParams::default(),
            &pod("high")
                .uid("u-high")
                .priority(1000)
                .req("3", "1Gi")
                .obj(),
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
    assert!(h.waiting.get_waiting_pod("u-low").is_none());
    h.until("Preempted event for low", |h| {
        h.events("low", "Preempted").iter().any(|e| {
            e["note"]
                .as_str()
                .is_some_and(|n| n == "Preempted by pod u-high on node n1")
        })
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
        .uid("u-denied")
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
