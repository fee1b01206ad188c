//! Scheduler bench end to end through the in-process API server, modelled on upstream
//! scheduler_perf `SchedulingBasic`.
//!
//! ```text
//! cargo run --release --example sched_e2e_bench -- [nodes] [existing] [pods]
//! ```
//!
//! Defaults: 5,000 nodes, 10,000 existing (already bound) pods, 10,000 pods to schedule. Every
//! node has 4 cpu, 32Gi memory and room for 110 pods, and is Ready; every pod requests 100m cpu
//! and 64Mi memory. The bench creates the nodes and the existing pods (bound round-robin through
//! `spec.nodeName`), starts a `kernel_sched::Scheduler` on an in-process `kube::Client` and
//! waits until it has listed nodes and pods (scheduler_perf's scheduler, too, runs before the
//! measured pods are created), opens one pod watch, creates the pending pods 64 at a time and
//! waits (up to 10 minutes) until the watch has seen every one of them get `spec.nodeName`.
//!
//! It prints, per case: the total time from the first create to the last bind observed, the
//! throughput, and the p50/p99 per-pod latency from the acknowledged create to the bind
//! observed on the watch. After the requested case it runs a second, smaller one matching the
//! upstream reference anchor in `shared/reference/ANCHORS.md`: 1,000 nodes, no existing pods,
//! 5,000 pods (upstream kube-scheduler v1.33 over HTTPS on this machine: ~50 pods/s at the
//! default client QPS, ~200 pods/s with QPS/burst raised).
//!
//! Each case runs on its own tokio runtime, dropped afterwards, so the first case's scheduler
//! does not keep running during the second.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::{Node, Pod};
use kernel_api::ApiServer;
use kernel_sched::metrics::AttemptResult;
use kernel_sched::Scheduler;
use kernel_store::MemoryStore;
use kube::api::{ListParams, PostParams, WatchEvent, WatchParams};
use kube::{Api, Client};
use serde_json::json;

/// Requests in flight at once while creating nodes and pods.
const CONCURRENCY: usize = 64;

/// How long to wait for every pending pod to be bound.
const TIMEOUT: Duration = Duration::from_secs(600);

/// The namespace every pod lives in.
const NAMESPACE: &str = "default";

/// The label (`key=value`) on the pods the scheduler must place; the watch selects on it.
const PENDING_LABEL: (&str, &str) = ("bench", "pending");

/// Error type of the bench.
type BoxError = Box<dyn std::error::Error + Send + Sync>;

// The binaries (not the libraries) choose the allocator: the API server allocates many small
// JSON nodes, where mimalloc is markedly faster than glibc's malloc.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// One bench case: the cluster size and the number of pods to schedule.
#[derive(Clone, Copy, Debug)]
struct Case {
    /// Ready nodes in the cluster.
    nodes: usize,
    /// Pods already bound (spec.nodeName set) before the scheduler starts.
    existing: usize,
    /// Pending pods the scheduler must bind.
    pods: usize,
}

/// What one case measured.
#[derive(Debug)]
struct Outcome {
    /// Pending pods whose bind the watch observed.
    scheduled: usize,
    /// From the first pending-pod create sent to the last bind observed.
    total: Duration,
    /// Median create-acknowledged → bind-observed latency.
    p50: Duration,
    /// 99th-percentile create-acknowledged → bind-observed latency.
    p99: Duration,
    /// Whether every pod was bound before the timeout.
    complete: bool,
}

fn main() -> Result<(), BoxError> {
    // Logs only when asked for (`RUST_LOG=warn`): the bench's own output stays a table.
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_writer(std::io::stderr)
        .init();
    // mimalloc gives emptied pages back to the OS 10 ms after they empty; under a steady write
    // load that churn faults (and zeroes) fresh pages all the time, about a tenth of the CPU in
    // the scheduler bench. A server keeps them for 10 s.
    // SAFETY: mimalloc keeps its options in atomics; setting one is sound from any thread.
    // (`mi_option_purge_delay` is option 15 of mimalloc.h; the -sys crate names no constant.)
    unsafe { libmimalloc_sys::mi_option_set(15, 10_000) };
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .map(|a| a.parse())
        .collect::<Result<_, _>>()?;
    let arg = |i: usize, default: usize| args.get(i).copied().unwrap_or(default);
    let cases = [
        (
            "SchedulingBasic",
            Case {
                nodes: arg(0, 5_000),
                existing: arg(1, 10_000),
                pods: arg(2, 10_000),
            },
        ),
        (
            "reference anchor",
            Case {
                nodes: 1_000,
                existing: 0,
                pods: 5_000,
            },
        ),
    ];
    println!(
        "{:<17} {:>6} {:>9} {:>10} {:>9} {:>9} {:>10} {:>10}",
        "case", "nodes", "existing", "scheduled", "total s", "pods/s", "p50 ms", "p99 ms"
    );
    for (name, case) in cases {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()?;
        let outcome = runtime.block_on(run(case))?;
        // Dropping the runtime ends the scheduler's tasks before the next case starts.
        runtime.shutdown_timeout(Duration::from_secs(5));
        let secs = outcome.total.as_secs_f64();
        println!(
            "{:<17} {:>6} {:>9} {:>10} {:>9.2} {:>9.1} {:>10.1} {:>10.1}{}",
            name,
            case.nodes,
            case.existing,
            outcome.scheduled,
            secs,
            outcome.scheduled as f64 / secs.max(1e-9),
            outcome.p50.as_secs_f64() * 1e3,
            outcome.p99.as_secs_f64() * 1e3,
            if outcome.complete {
                ""
            } else {
                "  (timed out)"
            },
        );
    }
    Ok(())
}

/// Runs one case against a fresh API server and scheduler.
async fn run(case: Case) -> Result<Outcome, BoxError> {
    let server = ApiServer::builder()
        .store(Arc::new(MemoryStore::new()))
        .build()
        .await?;
    let client = Client::new(server.clone(), NAMESPACE);
    let nodes: Api<Node> = Api::all(client.clone());
    let pods: Api<Pod> = Api::namespaced(client.clone(), NAMESPACE);

    let setup = Instant::now();
    futures::stream::iter(0..case.nodes)
        .map(|i| {
            let nodes = nodes.clone();
            async move { nodes.create(&PostParams::default(), &node(i)).await }
        })
        .buffer_unordered(CONCURRENCY)
        .try_collect::<Vec<_>>()
        .await?;
    futures::stream::iter(0..case.existing)
        .map(|i| {
            let pods = pods.clone();
            let pod = pod(&format!("existing-{i}"), Some(&node_name(i % case.nodes)));
            async move { pods.create(&PostParams::default(), &pod).await }
        })
        .buffer_unordered(CONCURRENCY)
        .try_collect::<Vec<_>>()
        .await?;
    eprintln!(
        "setup: {} nodes, {} existing pods in {:.1} s",
        case.nodes,
        case.existing,
        setup.elapsed().as_secs_f64()
    );

    // As upstream's scheduler_perf, the scheduler runs and has listed the cluster before the
    // measured pods are created.
    let scheduler = Scheduler::new(client.clone());
    let metrics = scheduler.metrics();
    let synced = scheduler.synced();
    let scheduler = tokio::spawn(scheduler.run());
    synced.await;

    // One watch on the pending pods, from the resource version of a list taken now.
    let rv = pods
        .list(&ListParams::default().limit(1))
        .await?
        .metadata
        .resource_version
        .unwrap_or_default();
    let bound: Arc<Mutex<HashMap<String, Instant>>> = Arc::default();
    let bindings: Api<PodBinding> = Api::namespaced(client.clone(), NAMESPACE);
    let watch = tokio::spawn(watch_binds(bindings, rv, bound.clone()));

    // The load generator posts each pod and reads the answer's status only: decoding the
    // created pod it sends back is no work of the system under test.
    let start = Instant::now();
    let create = kube::core::Request::new(pods.resource_url());
    let created: Vec<(usize, Instant)> = futures::stream::iter(0..case.pods)
        .map(|i| {
            let client = client.clone();
            let request = serde_json::to_vec(&pod(&pending_name(i), None))
                .map_err(kube::Error::SerdeError)
                .and_then(|body| {
                    create
                        .create(&PostParams::default(), body)
                        .map_err(kube::Error::BuildRequest)
                });
            async move {
                client.request_text(request?).await?;
                Ok::<_, kube::Error>((i, Instant::now()))
            }
        })
        .buffer_unordered(CONCURRENCY)
        .try_collect()
        .await?;
    eprintln!(
        "created {} pending pods in {:.1} s",
        case.pods,
        start.elapsed().as_secs_f64()
    );

    let deadline = start + TIMEOUT;
    let complete = loop {
        let seen = bound.lock().unwrap_or_else(|e| e.into_inner()).len();
        if seen >= case.pods {
            break true;
        }
        if watch.is_finished() {
            return Err(format!("pod watch ended: {:?}", watch.await?).into());
        }
        if scheduler.is_finished() {
            return Err(format!("scheduler ended: {:?}", scheduler.await?).into());
        }
        if Instant::now() >= deadline {
            break false;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    watch.abort();
    scheduler.abort();
    let attempts = |r| metrics.schedule_attempts(r);
    eprintln!(
        "scheduling attempts: {} scheduled, {} unschedulable, {} error",
        attempts(AttemptResult::Scheduled),
        attempts(AttemptResult::Unschedulable),
        attempts(AttemptResult::Error)
    );

    let bound = std::mem::take(&mut *bound.lock().unwrap_or_else(|e| e.into_inner()));
    let mut latencies: Vec<Duration> = created
        .iter()
        .filter_map(|(i, acked)| {
            bound
                .get(&pending_name(*i))
                .map(|at| at.saturating_duration_since(*acked))
        })
        .collect();
    latencies.sort_unstable();
    let last = bound.values().max().copied().unwrap_or(start);
    Ok(Outcome {
        scheduled: bound.len(),
        total: last.saturating_duration_since(start),
        p50: percentile(&latencies, 0.50),
        p99: percentile(&latencies, 0.99),
        complete,
    })
}

/// The part of a Pod the bench's watch reads: its name, resourceVersion and `spec.nodeName`. Decoding only these
/// (serde skips the rest, `managedFields` included) keeps the bench's own watch cheap next to
/// the scheduler it measures.
#[derive(Clone, Debug, serde::Deserialize)]
#[serde(from = "PodBindingWire")]
struct PodBinding {
    metadata: kube::api::ObjectMeta,
    spec: Option<PodBindingSpec>,
}

/// The wire form of a [`PodBinding`].
#[derive(serde::Deserialize)]
struct PodBindingWire {
    metadata: PodName,
    #[serde(default)]
    spec: Option<PodBindingSpec>,
}

/// `metadata.name` and `metadata.resourceVersion` of a [`PodBindingWire`].
#[derive(serde::Deserialize)]
struct PodName {
    name: Option<String>,
    #[serde(rename = "resourceVersion")]
    resource_version: Option<String>,
}

impl From<PodBindingWire> for PodBinding {
    fn from(wire: PodBindingWire) -> Self {
        PodBinding {
            metadata: kube::api::ObjectMeta {
                name: wire.metadata.name,
                resource_version: wire.metadata.resource_version,
                ..Default::default()
            },
            spec: wire.spec,
        }
    }
}

/// `spec.nodeName` of a [`PodBinding`].
#[derive(Clone, Debug, serde::Deserialize)]
struct PodBindingSpec {
    #[serde(rename = "nodeName")]
    node_name: Option<String>,
}

impl serde::Serialize for PodBinding {
    fn serialize<S: serde::Serializer>(&self, _: S) -> Result<S::Ok, S::Error> {
        Err(serde::ser::Error::custom(
            "the bench never writes PodBinding",
        ))
    }
}

impl kube::Resource for PodBinding {
    type DynamicType = ();
    type Scope = kube::core::NamespaceResourceScope;

    fn kind(_: &()) -> std::borrow::Cow<'_, str> {
        "Pod".into()
    }
    fn group(_: &()) -> std::borrow::Cow<'_, str> {
        "".into()
    }
    fn version(_: &()) -> std::borrow::Cow<'_, str> {
        "v1".into()
    }
    fn plural(_: &()) -> std::borrow::Cow<'_, str> {
        "pods".into()
    }
    fn meta(&self) -> &kube::api::ObjectMeta {
        &self.metadata
    }
    fn meta_mut(&mut self) -> &mut kube::api::ObjectMeta {
        &mut self.metadata
    }
}

/// Whether a watched pod has been bound.
fn is_bound(pod: &PodBinding) -> bool {
    pod.spec.as_ref().is_some_and(|s| s.node_name.is_some())
}

/// Watches the pending pods from `rv` and records, per pod name, when the watch first showed
/// it with `spec.nodeName` set. Restarts the watch from the last resource version seen if the
/// server ends it; if the server expires it (410, the watcher fell behind), re-lists as an
/// informer would, records the pods bound by then at the time of the list, and watches on from
/// the list's resource version.
async fn watch_binds(
    pods: Api<PodBinding>,
    mut rv: String,
    bound: Arc<Mutex<HashMap<String, Instant>>>,
) -> Result<(), BoxError> {
    let selector = format!("{}={}", PENDING_LABEL.0, PENDING_LABEL.1);
    let wp = WatchParams::default().labels(&selector);
    let mut relists = 0usize;
    loop {
        let mut stream = pods.watch(&wp, &rv).await?.boxed();
        while let Some(event) = stream.try_next().await? {
            match event {
                WatchEvent::Added(pod) | WatchEvent::Modified(pod) => {
                    let seen = Instant::now();
                    if let Some(v) = &pod.metadata.resource_version {
                        rv.clone_from(v);
                    }
                    if let (true, Some(name)) = (is_bound(&pod), pod.metadata.name) {
                        bound
                            .lock()
                            .unwrap_or_else(|e| e.into_inner())
                            .entry(name)
                            .or_insert(seen);
                    }
                }
                WatchEvent::Deleted(_) => {}
                WatchEvent::Bookmark(b) => rv = b.metadata.resource_version,
                WatchEvent::Error(status) if status.code == 410 => {
                    relists += 1;
                    eprintln!("pod watch expired (410); re-list #{relists}");
                    let list = pods.list(&ListParams::default().labels(&selector)).await?;
                    let seen = Instant::now();
                    let mut bound = bound.lock().unwrap_or_else(|e| e.into_inner());
                    for pod in list.items {
                        if let (true, Some(name)) = (is_bound(&pod), pod.metadata.name) {
                            bound.entry(name).or_insert(seen);
                        }
                    }
                    rv = list.metadata.resource_version.unwrap_or_default();
                    break;
                }
                WatchEvent::Error(status) => return Err(format!("watch error: {status:?}").into()),
            }
        }
    }
}

/// The `q` quantile (0..=1) of sorted `values`, nearest-rank; zero when empty.
fn percentile(sorted: &[Duration], q: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((sorted.len() as f64 * q).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

/// The name of node `i`.
fn node_name(i: usize) -> String {
    format!("node-{i}")
}

/// The name of pending pod `i`.
fn pending_name(i: usize) -> String {
    format!("pending-{i}")
}

/// Ready node `i` with 4 cpu, 32Gi memory and 110 pods allocatable.
fn node(i: usize) -> Node {
    let name = node_name(i);
    let resources = json!({ "cpu": "4", "memory": "32Gi", "pods": "110" });
    serde_json::from_value(json!({
        "metadata": { "name": name, "labels": { "kubernetes.io/hostname": name } },
        "spec": {},
        "status": {
            "capacity": resources,
            "allocatable": resources,
            "conditions": [{ "type": "Ready", "status": "True" }],
        }
    }))
    .expect("node is valid")
}

/// A pod requesting 100m cpu and 64Mi memory: bound to `node_name` when given, otherwise
/// pending and labelled for the watch.
fn pod(name: &str, node_name: Option<&str>) -> Pod {
    let mut spec = json!({
        "containers": [{ "name": "c", "image": "registry.k8s.io/pause:3.10",
                         "resources": { "requests": { "cpu": "100m", "memory": "64Mi" } } }]
    });
    let labels = match node_name {
        Some(node) => {
            spec["nodeName"] = json!(node);
            json!({ "bench": "existing" })
        }
        None => json!({ PENDING_LABEL.0: PENDING_LABEL.1 }),
    };
    serde_json::from_value(json!({ "metadata": { "name": name, "labels": labels }, "spec": spec }))
        .expect("pod is valid")
}
