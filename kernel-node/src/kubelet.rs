//! The kubelet: upstream's `pkg/kubelet` (`kubelet.go`'s `Run` and `syncLoop`) as a library.
//!
//! [`Kubelet::builder`] takes a `kube::Client` and the node's name; [`Kubelet::run`]
//! registers the Node, renews its Lease, posts its status and runs the pods bound to it
//! through a [`Runtime`], until its future is dropped (every task it spawns stops with it).
//!
//! The parts, each named after what it holds:
//! - [`config`]: the settings ([`KubeletConfig`], upstream's `KubeletConfiguration` subset,
//!   read from an upstream config file by [`KubeletConfig::from_kubelet_configuration`]);
//! - `node_status`: registration and `nodes/status` (upstream `kubelet_node_status.go`);
//! - `lease`: the node's Lease (upstream `pkg/kubelet/nodelease`, client-go's lease controller);
//! - `pod_worker`: one task per pod driving the runtime (upstream `pod_workers.go` and
//!   `kuberuntime_manager.go`'s `SyncPod`/`KillPod`);
//! - `status`: the pod status written through `pods/status` (upstream `kubelet_pods.go`'s
//!   `generateAPIPodStatus` and `status/status_manager.go`);
//! - `env`: container environment (ConfigMap and Secret references, `envFrom`) and `$(VAR)`
//!   expansion;
//! - `volumes`: the pod's volumes (emptyDir, hostPath, configMap, secret, downwardAPI,
//!   projected, persistentVolumeClaim) and the containers' mounts;
//! - `backoff`: CrashLoopBackOff and ImagePullBackOff delays;
//! - `probe`: liveness, readiness and startup probes (upstream `pkg/kubelet/prober`): exec,
//!   httpGet (HTTPS without certificate verification), tcpSocket and gRPC health checks, a
//!   task per probe; a failed liveness (startup) probe kills the container, which the
//!   restart policy restarts;
//! - `hooks`: the `postStart` and `preStop` lifecycle hooks (exec, httpGet, tcpSocket, sleep),
//!   `preStop` within the grace period before SIGTERM;
//! - `events`: core/v1 Events of the pods (Pulling, Pulled, Created, Started, Killing,
//!   BackOff, Unhealthy, ...), repeats aggregated into one event's `count`;
//! - `static_pods`: pods from the `staticPodPath` manifest directory, shown in the API as
//!   mirror pods (upstream `pkg/kubelet/config/file.go`, `pod/mirror_client.go`).
//!
//! ```no_run
//! use std::sync::Arc;
//! use kernel_node::{Kubelet, SimRuntime};
//!
//! # async fn example(client: kube::Client) -> kernel_node::Result<()> {
//! let kubelet = Kubelet::builder(client, "node-1")
//!     .runtime(Arc::new(SimRuntime::new()))
//!     .capacity([("cpu", "4"), ("memory", "8Gi")])
//!     .labels([("example.com/pool", "sim")])
//!     .pod_cidr("10.244.1.0/24")
//!     .build()?;
//! kubelet.run().await // until dropped
//! # }
//! ```
//!
//! With [`KubeletBuilder::server`], the kubelet also serves its HTTPS API
//! ([`crate::server`]: logs, exec, attach, stats, metrics) and publishes the port.
//!
//! Not yet (issue 16): CSI and network volumes, eviction, taints on registration.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;
use std::sync::{Arc, RwLock};

use futures::StreamExt;
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::api::resource::Quantity as WireQuantity;
use kube::runtime::watcher::{self, Event};
use kube::runtime::WatchStreamExt;
use kube::{Api, Client};
use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::error::{Error, Result};
use crate::runtime::Runtime;
use crate::server::{KubeletServer, KubeletServerConfig, ServingKubelet};

mod backoff;
pub mod config;
mod env;
mod events;
mod hooks;
mod lease;
mod node_status;
mod pod_worker;
mod probe;
mod static_pods;
mod status;
mod volumes;

pub use config::{
    default_node_name, KubeletConfig, KubeletConfigurationFile, KUBELET_VERSION,
    NODE_LEASE_NAMESPACE,
};

/// What every task of one kubelet shares.
pub(crate) struct Shared {
    pub client: Client,
    pub node_name: String,
    pub runtime: Arc<dyn Runtime>,
    pub config: KubeletConfig,
    /// `Runtime::version`'s name: container ids are `<runtime_name>://<id>`.
    pub runtime_name: String,
    /// `<name>://<version>`.
    pub runtime_version: String,
    pub node_ip: IpAddr,
    /// The pod CIDR pods take their IPs from: the configured one, else the Node's.
    pub pod_cidr: RwLock<Option<String>>,
    pub capacity: BTreeMap<String, WireQuantity>,
    pub allocatable: BTreeMap<String, WireQuantity>,
    pub labels: BTreeMap<String, String>,
    pub root_dir: PathBuf,
    /// The port the kubelet server listens on (`status.daemonEndpoints.kubeletEndpoint`).
    pub kubelet_port: Option<u16>,
    /// The pods bound here, by uid (what the server's `/pods` lists).
    pub pods: PodMap,
    /// The metrics the server renders (`kubelet_pod_start_duration_seconds` is observed here).
    pub metrics: Arc<crate::server::metrics::Metrics>,
    /// When each pod was first seen, until it first ran (`None` once observed).
    pub pod_starts: std::sync::Mutex<HashMap<String, Option<std::time::Instant>>>,
}

/// The pods a kubelet knows, by uid.
pub(crate) type PodMap = Arc<RwLock<BTreeMap<String, Arc<Pod>>>>;

impl Shared {
    pub(crate) fn pod_cidr(&self) -> Option<String> {
        self.pod_cidr
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}

/// Builds a [`Kubelet`]; from [`Kubelet::builder`].
pub struct KubeletBuilder {
    client: Client,
    node_name: String,
    runtime: Option<Arc<dyn Runtime>>,
    capacity: BTreeMap<String, String>,
    labels: BTreeMap<String, String>,
    pod_cidr: Option<String>,
    node_ip: Option<IpAddr>,
    config: KubeletConfig,
    server: Option<KubeletServerConfig>,
}

impl KubeletBuilder {
    /// Serves the kubelet's HTTPS API (logs, exec, attach, stats, metrics; see
    /// [`crate::server`]) while it runs; its port is published in the Node's
    /// `status.daemonEndpoints.kubeletEndpoint.Port`. Without it, no server.
    pub fn server(mut self, config: KubeletServerConfig) -> Self {
        self.server = Some(config);
        self
    }

    /// The container runtime pods run in (required).
    pub fn runtime(mut self, runtime: Arc<dyn Runtime>) -> Self {
        self.runtime = Some(runtime);
        self
    }

    /// Capacity entries (`cpu`, `memory`, `pods`, `ephemeral-storage`, extended resources)
    /// as quantities (`"4"`, `"8Gi"`); what is not given comes from the host (CPUs,
    /// `/proc/meminfo`, the root directory's file system) and `maxPods`.
    pub fn capacity<K: Into<String>, V: Into<String>>(
        mut self,
        entries: impl IntoIterator<Item = (K, V)>,
    ) -> Self {
        self.capacity
            .extend(entries.into_iter().map(|(k, v)| (k.into(), v.into())));
        self
    }

    /// Extra node labels (upstream `--node-labels`), on top of the well-known ones.
    pub fn labels<K: Into<String>, V: Into<String>>(
        mut self,
        entries: impl IntoIterator<Item = (K, V)>,
    ) -> Self {
        self.labels
            .extend(entries.into_iter().map(|(k, v)| (k.into(), v.into())));
        self
    }

    /// The pod CIDR (upstream `--pod-cidr`): pods take their IPs from it, and a Node this
    /// kubelet creates gets it as `spec.podCIDR`. Without it, the Node's `spec.podCIDR`.
    pub fn pod_cidr(mut self, cidr: impl Into<String>) -> Self {
        self.pod_cidr = Some(cidr.into());
        self
    }

    /// The node's InternalIP (upstream `--node-ip`); default: the address of the host's
    /// default route, else 127.0.0.1.
    pub fn node_ip(mut self, ip: IpAddr) -> Self {
        self.node_ip = Some(ip);
        self
    }

    /// Intervals, back-off and directories.
    pub fn config(mut self, config: KubeletConfig) -> Self {
        self.config = config;
        self
    }

    /// The kubelet; [`Error::InvalidState`] without a runtime or with a capacity that is
    /// not a quantity.
    pub fn build(self) -> Result<Kubelet> {
        let runtime = self
            .runtime
            .ok_or_else(|| Error::InvalidState("a kubelet needs a runtime".into()))?;
        for (name, value) in &self.capacity {
            kernel_core::quantity::Quantity::parse(value)
                .map_err(|e| Error::InvalidState(format!("capacity {name}={value:?}: {e}")))?;
        }
        Ok(Kubelet {
            client: self.client,
            node_name: self.node_name,
            runtime,
            capacity: self.capacity,
            labels: self.labels,
            pod_cidr: self.pod_cidr,
            node_ip: self.node_ip,
            config: self.config,
            server: self.server,
        })
    }
}

/// A kubelet for one node; see the [module docs](self).
pub struct Kubelet {
    client: Client,
    node_name: String,
    runtime: Arc<dyn Runtime>,
    capacity: BTreeMap<String, String>,
    labels: BTreeMap<String, String>,
    pod_cidr: Option<String>,
    node_ip: Option<IpAddr>,
    config: KubeletConfig,
    server: Option<KubeletServerConfig>,
}

impl std::fmt::Debug for Kubelet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Kubelet")
            .field("node_name", &self.node_name)
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl Kubelet {
    /// A builder for the kubelet of `node_name`, reaching the cluster through `client`.
    pub fn builder(client: Client, node_name: impl Into<String>) -> KubeletBuilder {
        KubeletBuilder {
            client,
            node_name: node_name.into(),
            runtime: None,
            capacity: BTreeMap::new(),
            labels: BTreeMap::new(),
            pod_cidr: None,
            node_ip: None,
            config: KubeletConfig::default(),
            server: None,
        }
    }

    /// The node's name.
    pub fn node_name(&self) -> &str {
        &self.node_name
    }

    /// Runs the kubelet until the future is dropped: registers the Node (retrying until the
    /// API server takes it), then renews the Lease, posts the node status and runs the pods
    /// bound to the node. Errors of the API or the runtime are logged and retried, a pod's
    /// failure is that pod's status; `Err` only when the runtime does not answer
    /// [`Runtime::version`] at start.
    pub async fn run(self) -> Result<()> {
        let version = self.runtime.version().await?;
        let host = node_status::host_info().await;
        let node_ip = match self.node_ip {
            Some(ip) => ip,
            None => node_status::default_node_ip()
                .await
                .unwrap_or(IpAddr::V4(Ipv4Addr::LOCALHOST)),
        };
        let root_dir = self.config.root_dir.clone().unwrap_or_else(|| {
            std::env::temp_dir()
                .join("kernel-kubelet")
                .join(&self.node_name)
        });
        let capacity = node_status::capacity(&self.capacity, &self.config, host, &root_dir).await;
        let allocatable = node_status::allocatable(&capacity);
        let mut labels = node_status::well_known_labels(&self.node_name);
        labels.extend(self.labels);
        let pods: PodMap = Arc::default();
        let metrics = Arc::new(crate::server::metrics::Metrics::new(&self.node_name));
        // Bound before registering, so the Node's first status has the port.
        let serving = match self.server {
            Some(config) => {
                let listed = pods.clone();
                let server = KubeletServer::new(config, self.runtime.clone())
                    .node(self.node_name.clone(), Some(node_ip))
                    .metrics(metrics.clone())
                    .pods(move || {
                        let pods = listed.read().unwrap_or_else(|e| e.into_inner());
                        pods.values().map(|p| Pod::clone(p)).collect()
                    });
                Some(server.bind().await?)
            }
            None => None,
        };
        let shared = Arc::new(Shared {
            client: self.client,
            node_name: self.node_name,
            runtime: self.runtime,
            config: self.config,
            runtime_version: format!("{}://{}", version.runtime_name, version.runtime_version),
            runtime_name: version.runtime_name,
            node_ip,
            pod_cidr: RwLock::new(self.pod_cidr.clone()),
            capacity,
            allocatable,
            labels,
            root_dir,
            kubelet_port: serving.as_ref().map(ServingKubelet::port),
            pods,
            metrics,
            pod_starts: Default::default(),
        });
        let node_uid = node_status::register(&shared, self.pod_cidr.is_some()).await;
        tracing::info!(node = %shared.node_name, %node_ip, runtime = %shared.runtime_version, "kubelet registered its node");
        let mut tasks = JoinSet::new();
        let (static_tx, static_rx) = watch::channel(static_pods::StaticPods::new());
        tasks.spawn(static_pods::run(
            shared.clone(),
            node_uid.clone(),
            static_tx,
        ));
        tasks.spawn(lease::run(shared.clone(), node_uid));
        tasks.spawn(node_status::run(shared.clone()));
        // The pod loop runs here; the JoinSet (and the workers' own) abort on drop, as does
        // the server.
        pod_loop(shared, static_rx).await;
        drop(serving);
        Ok(())
    }
}

/// Watches the node's pods and hands each to its worker (upstream `syncLoop` + `podWorkers`);
/// static pods come from `statics` (the manifest directory) instead of the API, and their
/// mirror pods in the API are not run.
async fn pod_loop(shared: Arc<Shared>, mut statics: watch::Receiver<static_pods::StaticPods>) {
    let api: Api<Pod> = Api::all(shared.client.clone());
    let selector = format!("spec.nodeName={}", shared.node_name);
    let mut stream = watcher::watcher(api, watcher::Config::default().fields(&selector))
        .default_backoff()
        .boxed();
    let mut workers: HashMap<String, watch::Sender<Option<Arc<Pod>>>> = HashMap::new();
    let mut running: JoinSet<String> = JoinSet::new();
    let mut listed: Option<HashSet<String>> = None;
    let mut static_pods = static_pods::StaticPods::new();
    loop {
        tokio::select! {
            changed = statics.changed() => {
                if changed.is_err() {
                    continue;
                }
                let now = statics.borrow_and_update().clone();
                for (uid, _) in static_pods.iter().filter(|(uid, _)| !now.contains_key(*uid)) {
                    if let Some(tx) = workers.get(uid) {
                        tx.send_replace(None);
                    }
                }
                for (uid, pod) in now.iter().filter(|(uid, _)| !static_pods.contains_key(*uid)) {
                    tracing::info!(pod = ?pod.metadata.name, %uid, "static pod added");
                    dispatch(&shared, &mut workers, &mut running, (**pod).clone());
                }
                static_pods = now;
            }
            event = stream.next() => {
                let Some(event) = event else { break };
                match event {
                    Ok(Event::Apply(pod)) if static_pods::is_mirror(&pod) => {
                        nudge_static(&workers, &static_pods, &pod);
                    }
                    Ok(Event::Apply(pod)) => dispatch(&shared, &mut workers, &mut running, pod),
                    // A mirror pod is never run: its static pod is (a re-list shows mirrors too).
                    Ok(Event::InitApply(pod)) if static_pods::is_mirror(&pod) => {
                        nudge_static(&workers, &static_pods, &pod);
                    }
                    Ok(Event::InitApply(pod)) => {
                        if let (Some(seen), Some(uid)) = (listed.as_mut(), pod.metadata.uid.clone()) {
                            seen.insert(uid);
                        }
                        dispatch(&shared, &mut workers, &mut running, pod);
                    }
                    Ok(Event::Delete(pod)) => {
                        if let Some(uid) = pod.metadata.uid.as_ref() {
                            shared.pods.write().unwrap_or_else(|e| e.into_inner()).remove(uid);
                        }
                        if let Some(tx) = pod.metadata.uid.as_ref().and_then(|u| workers.get(u)) {
                            tx.send_replace(None);
                        }
                    }
                    Ok(Event::Init) => listed = Some(HashSet::new()),
                    Ok(Event::InitDone) => {
                        // Pods that went away while the watch was down.
                        if let Some(seen) = listed.take() {
                            for (uid, tx) in &workers {
                                if !seen.contains(uid) && !static_pods.contains_key(uid) {
                                    tx.send_replace(None);
                                }
                            }
                        }
                    }
                    Err(e) => tracing::warn!(node = %shared.node_name, error = %e, "pod watch failed; retrying"),
                }
            }
            Some(done) = running.join_next(), if !running.is_empty() => {
                if let Ok(uid) = done {
                    workers.remove(&uid);
                    shared.pods.write().unwrap_or_else(|e| e.into_inner()).remove(&uid);
                    shared.pod_starts.lock().unwrap_or_else(|e| e.into_inner()).remove(&uid);
                }
            }
        }
    }
    tracing::warn!(node = %shared.node_name, "pod watch ended");
    std::future::pending::<()>().await;
}

/// A mirror pod that has no status of the kubelet's yet (no `startTime`) was (re)made: its static pod's worker must write the
/// status again, which it does when the pod it holds names a new mirror uid.
fn nudge_static(
    workers: &HashMap<String, watch::Sender<Option<Arc<Pod>>>>,
    static_pods: &static_pods::StaticPods,
    mirror: &Pod,
) {
    let fresh = mirror
        .status
        .as_ref()
        .is_none_or(|s| s.start_time.is_none());
    let hash = mirror
        .metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(static_pods::CONFIG_MIRROR));
    let (Some(hash), Some(mirror_uid), true) = (hash, mirror.metadata.uid.as_ref(), fresh) else {
        return;
    };
    let (Some(pod), Some(tx)) = (static_pods.get(hash), workers.get(hash)) else {
        return;
    };
    let mut pod = (**pod).clone();
    pod.metadata
        .annotations
        .get_or_insert_with(Default::default)
        .insert(static_pods::MIRROR_UID.into(), mirror_uid.clone());
    tx.send_replace(Some(Arc::new(pod)));
}

fn dispatch(
    shared: &Arc<Shared>,
    workers: &mut HashMap<String, watch::Sender<Option<Arc<Pod>>>>,
    running: &mut JoinSet<String>,
    pod: Pod,
) {
    let Some(uid) = pod.metadata.uid.clone() else {
        return;
    };
    if static_pods::is_mirror(&pod) {
        return;
    }
    let bound_here =
        pod.spec.as_ref().and_then(|s| s.node_name.as_deref()) == Some(shared.node_name.as_str());
    if !bound_here {
        return;
    }
    observe_pod_start(shared, &uid, &pod);
    let pod = Arc::new(pod);
    shared
        .pods
        .write()
        .unwrap_or_else(|e| e.into_inner())
        .insert(uid.clone(), pod.clone());
    if let Some(tx) = workers.get(&uid) {
        tx.send_replace(Some(pod));
        return;
    }
    let (tx, rx) = watch::channel(Some(pod));
    workers.insert(uid.clone(), tx);
    running.spawn(pod_worker::run(shared.clone(), uid, rx));
}

/// Whether every container of the pod runs (`kubelet_pod_start_duration_seconds`' end).
fn all_running(pod: &Pod) -> bool {
    let Some(status) = pod.status.as_ref() else {
        return false;
    };
    let want = pod.spec.as_ref().map_or(0, |s| s.containers.len());
    let statuses = status.container_statuses.as_deref().unwrap_or_default();
    status.phase.as_deref() == Some("Running")
        && statuses.len() == want
        && statuses
            .iter()
            .all(|c| c.state.as_ref().is_some_and(|s| s.running.is_some()))
}

/// Records when a pod is first seen and observes its start once all its containers run.
fn observe_pod_start(shared: &Shared, uid: &str, pod: &Pod) {
    let running = all_running(pod);
    let mut starts = shared.pod_starts.lock().unwrap_or_else(|e| e.into_inner());
    match starts.get_mut(uid) {
        // Running when first seen (adopted after a restart): not a start this kubelet saw.
        None => {
            let seen = (!running).then(std::time::Instant::now);
            starts.insert(uid.to_string(), seen);
        }
        Some(entry) => {
            if let (Some(seen), true) = (*entry, running) {
                shared.metrics.observe_pod_start(seen.elapsed());
                *entry = None;
            }
        }
    }
}
