//! [`Scheduler`]: runs the framework against a cluster through a `kube::Client` only.
//!
//! * runs one informer per kind (a kube-runtime watcher into a reflector store, with an event
//!   handler; see the `informer` module): nodes and bound pods feed the [`Cache`], pending
//!   pods whose `spec.schedulerName` has a profile feed the [`SchedulingQueue`], and the
//!   objects plugins consult (namespaces, PVCs, PVs, storage classes, PDBs, services,
//!   replication controllers, replica sets, stateful sets) stay in their stores
//!   ([`ClusterObjects`], shared with every snapshot) where plugins read them; scheduling
//!   starts once every informer has listed ([`Scheduler::synced`]);
//! * each event costs the changed object only; node, pod and object events move the parked
//!   pods they may help back to the active queue;
//! * each cycle updates the snapshot, runs [`schedule_pod`], assumes the pod in the cache,
//!   runs Reserve and Permit, and binds asynchronously through `pods/binding` (DefaultBinder);
//! * a pod a Permit plugin asks to wait stays assumed as a [`WaitingPod`](crate::framework::WaitingPod)
//!   (see [`Scheduler::waiting_pods`]) while the next pods are scheduled; its binding cycle
//!   first awaits the permit: once allowed it binds, if rejected or timed out it is
//!   unreserved, forgotten in the cache and requeued as unschedulable
//!   (`0/1 nodes are available: 1 rejected due to timeout after waiting 10s at plugin X.`)
//!   with a `FailedScheduling` event;
//! * failures record a `FailedScheduling` event and set `PodScheduled=False`
//!   (reason `Unschedulable`) through `pods/status`; preemption deletes the victims (rejects
//!   those held at Permit, as upstream) and sets `status.nominatedNodeName`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use futures::FutureExt;
use k8s_openapi::api::apps::v1::{ReplicaSet, StatefulSet};
use k8s_openapi::api::core::v1::{
    Namespace, Node, PersistentVolume, PersistentVolumeClaim, Pod, ReplicationController, Service,
};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use k8s_openapi::api::storage::v1::StorageClass;
use kube::api::{Api, DeleteParams, Patch, PatchParams};
use kube::runtime::reflector::{self, store::Writer};
use kube::Resource;
use tracing::{debug, info, warn};

use crate::cache::Cache;
use crate::config::{KubeSchedulerConfiguration, Profile};
use crate::diagnosis::Diagnosis;
use crate::events::{EventRecorder, EventType, Record};
use crate::framework::{Code, CycleState, Framework, NodeToStatus, QueuedPodInfo, WaitingPods};
use crate::informer::{self, EventHandler};
use crate::metrics::{AttemptResult, Metrics};
use crate::plugins::{Handle, Registry};
use crate::queue::{ClusterEvent, SchedulingQueue};
use crate::schedule_one::{schedule_pod, ScheduleState};
use crate::snapshot::{ClusterObjects, Snapshot};
use crate::types::PodInfo;
use crate::watched::Watched;
use crate::{Error, DEFAULT_SCHEDULER_NAME};

/// The scheduler component.
pub struct Scheduler {
    client: kube::Client,
    profiles: HashMap<String, Arc<Framework>>,
    queue: Arc<SchedulingQueue>,
    cache: Arc<Mutex<Cache>>,
    metrics: Arc<Metrics>,
    percentage_of_nodes_to_score: i32,
    events: EventRecorder,
    waiting_pods: WaitingPods,
    /// The event writer task, taken and spawned by [`Scheduler::run`].
    event_writer: Mutex<Option<futures::future::BoxFuture<'static, ()>>>,
    /// The informers' stores of the objects plugins consult (shared with the cache).
    objects: ClusterObjects,
    /// The informers' writers, until [`Scheduler::run`] starts them.
    writers: Mutex<Option<Writers>>,
    /// How many informers have completed their first list: scheduling starts at [`INFORMERS`],
    /// as upstream's `WaitForCacheSync` before `Run`.
    synced: tokio::sync::watch::Sender<usize>,
}

/// The informers [`Scheduler::run`] starts, all waited for: nodes, pods and the nine kinds of
/// [`ClusterObjects`].
const INFORMERS: usize = 11;

impl std::fmt::Debug for Scheduler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Scheduler")
            .field("profiles", &self.profiles.keys().collect::<Vec<_>>())
            .field("queue", &self.queue)
            .finish()
    }
}

/// The reflector writers of the informers' stores, taken by [`Scheduler::run`] (each moves
/// into its reflector).
struct Writers {
    nodes: Writer<Watched<Node>>,
    pods: Writer<Watched<Pod>>,
    namespaces: Writer<Namespace>,
    pvcs: Writer<PersistentVolumeClaim>,
    pvs: Writer<PersistentVolume>,
    storage_classes: Writer<StorageClass>,
    pdbs: Writer<PodDisruptionBudget>,
    services: Writer<Service>,
    replication_controllers: Writer<ReplicationController>,
    replica_sets: Writer<ReplicaSet>,
    stateful_sets: Writer<StatefulSet>,
}

/// The informers' stores, empty, and their writers.
fn informer_stores() -> (ClusterObjects, Writers) {
    let (namespaces, namespaces_w) = reflector::store();
    let (pvcs, pvcs_w) = reflector::store();
    let (pvs, pvs_w) = reflector::store();
    let (storage_classes, storage_classes_w) = reflector::store();
    let (pdbs, pdbs_w) = reflector::store();
    let (services, services_w) = reflector::store();
    let (replication_controllers, replication_controllers_w) = reflector::store();
    let (replica_sets, replica_sets_w) = reflector::store();
    let (stateful_sets, stateful_sets_w) = reflector::store();
    let objects = ClusterObjects {
        namespaces,
        pvcs,
        pvs,
        storage_classes,
        pdbs,
        services,
        replication_controllers,
        replica_sets,
        stateful_sets,
    };
    let writers = Writers {
        nodes: Writer::default(),
        pods: Writer::default(),
        namespaces: namespaces_w,
        pvcs: pvcs_w,
        pvs: pvs_w,
        storage_classes: storage_classes_w,
        pdbs: pdbs_w,
        services: services_w,
        replication_controllers: replication_controllers_w,
        replica_sets: replica_sets_w,
        stateful_sets: stateful_sets_w,
    };
    (objects, writers)
}

/// The scheduler name a pod asks for.
pub fn scheduler_name(pod: &Pod) -> &str {
    pod.spec
        .as_ref()
        .and_then(|s| s.scheduler_name.as_deref())
        .filter(|s| !s.is_empty())
        .unwrap_or(DEFAULT_SCHEDULER_NAME)
}

fn is_assigned(pod: &Pod) -> bool {
    pod.spec
        .as_ref()
        .and_then(|s| s.node_name.as_deref())
        .is_some_and(|n| !n.is_empty())
}

fn is_terminal(pod: &Pod) -> bool {
    matches!(
        pod.status.as_ref().and_then(|s| s.phase.as_deref()),
        Some("Succeeded") | Some("Failed")
    )
}

/// Aborts the tasks it names when dropped.
struct AbortOnDrop(Vec<tokio::task::AbortHandle>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        for task in &self.0 {
            task.abort();
        }
    }
}

impl Scheduler {
    /// A scheduler with the `default-scheduler` profile.
    pub fn new(client: kube::Client) -> Self {
        Self::from_config(client, &KubeSchedulerConfiguration::default())
            .expect("default configuration is valid")
    }

    /// A scheduler from a `KubeSchedulerConfiguration`.
    pub fn from_config(
        client: kube::Client,
        cfg: &KubeSchedulerConfiguration,
    ) -> Result<Self, Error> {
        Self::from_config_with(client, cfg, &Registry::in_tree())
    }

    /// A scheduler from a `KubeSchedulerConfiguration` whose plugins come from `registry`
    /// (in-tree plus out-of-tree plugins).
    pub fn from_config_with(
        client: kube::Client,
        cfg: &KubeSchedulerConfiguration,
        registry: &Registry,
    ) -> Result<Self, Error> {
        let waiting_pods = WaitingPods::default();
        let handle = Handle {
            client: Some(client.clone()),
            waiting_pods: waiting_pods.clone(),
        };
        let profiles: Vec<Profile> = cfg.build_profiles_with(registry, &handle)?;
        let sort = profiles[0]
            .framework
            .queue_sort()
            .cloned()
            .ok_or_else(|| Error::Config("no queueSort plugin".into()))?;
        let queue = Arc::new(SchedulingQueue::new(
            sort,
            cfg.initial_backoff(),
            cfg.max_backoff(),
        ));
        let (events, event_writer) =
            EventRecorder::new(client.clone(), DEFAULT_SCHEDULER_NAME, "kernel-sched");
        let (objects, writers) = informer_stores();
        let mut cache = Cache::new();
        cache.set_objects(objects.clone());
        let metrics = Arc::new(Metrics::with_queue(queue.clone()));
        for p in &profiles {
            p.framework.set_metrics(metrics.profile(&p.scheduler_name));
        }
        Ok(Scheduler {
            client,
            profiles: profiles
                .into_iter()
                .map(|p| (p.scheduler_name, p.framework))
                .collect(),
            queue,
            cache: Arc::new(Mutex::new(cache)),
            metrics,
            percentage_of_nodes_to_score: cfg.percentage_of_nodes_to_score.unwrap_or(0),
            events,
            waiting_pods,
            event_writer: Mutex::new(Some(event_writer.boxed())),
            objects,
            writers: Mutex::new(Some(writers)),
            synced: tokio::sync::watch::channel(0).0,
        })
    }

    /// Resolves once every informer of the scheduler (nodes, pods and the objects plugins
    /// consult) has completed its first list, i.e. once [`run`](Self::run) starts scheduling
    /// (upstream's `WaitForCacheSync` on its informers). Take it before calling `run`.
    pub fn synced(&self) -> impl std::future::Future<Output = ()> + Send + 'static {
        let mut synced = self.synced.subscribe();
        async move {
            let _ = synced.wait_for(|n| *n >= INFORMERS).await;
        }
    }

    /// The scheduler's metrics (upstream's `scheduler_*` series; see [`Metrics`]), shared
    /// with the running scheduler: take them before [`run`](Self::run), e.g. to serve them
    /// with [`serving`](crate::serving).
    pub fn metrics(&self) -> Arc<Metrics> {
        self.metrics.clone()
    }

    /// What [`serving::serve`](crate::serving::serve) answers from: the metrics and whether
    /// the informers have synced (`/readyz`). Take it before calling [`run`](Self::run).
    pub fn serving(&self) -> crate::serving::Endpoints {
        let synced = self.synced.subscribe();
        crate::serving::Endpoints::new(
            self.metrics.clone(),
            Arc::new(move || *synced.borrow() >= INFORMERS),
        )
    }

    /// The pods held at Permit, shared by every profile (allow or reject them from outside).
    pub fn waiting_pods(&self) -> &WaitingPods {
        &self.waiting_pods
    }

    /// The queue (for inspection).
    pub fn queue(&self) -> Arc<SchedulingQueue> {
        self.queue.clone()
    }

    /// The cache of nodes, bound and assumed pods (for inspection).
    pub fn cache(&self) -> Arc<Mutex<Cache>> {
        self.cache.clone()
    }

    /// The informers' stores of the objects plugins consult (upstream's listers), kept current
    /// once [`run`](Self::run) has started.
    pub fn objects(&self) -> &ClusterObjects {
        &self.objects
    }

    fn lock_cache(cache: &Mutex<Cache>) -> std::sync::MutexGuard<'_, Cache> {
        cache.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Runs until the task is dropped or the queue is closed. Watch failures are logged and
    /// retried with backoff, as kube-scheduler keeps running through API outages.
    pub async fn run(self) -> Result<(), Error> {
        let writer = self
            .event_writer
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        let writer = writer.map(tokio::spawn);
        let writers = self
            .writers
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        let this = Arc::new(self);
        let Some(w) = writers else {
            return Err(Error::Config("scheduler informers already started".into()));
        };
        let c = &this.client;
        let nodes = tokio::spawn(informer::run(
            Api::<Watched<Node>>::all(c.clone()),
            w.nodes,
            NodeEvents(this.clone()),
            "nodes",
        ));
        let pods = tokio::spawn(informer::run(
            Api::<Watched<Pod>>::all(c.clone()),
            w.pods,
            PodEvents(this.clone()),
            "pods",
        ));
        let objects = |event| ObjectEvents(this.clone(), event);
        let others = [
            tokio::spawn(informer::run(
                Api::<Namespace>::all(c.clone()),
                w.namespaces,
                objects(ClusterEvent::PodChange),
                "namespaces",
            )),
            tokio::spawn(informer::run(
                Api::<PersistentVolumeClaim>::all(c.clone()),
                w.pvcs,
                objects(ClusterEvent::VolumeChange),
                "persistentvolumeclaims",
            )),
            tokio::spawn(informer::run(
                Api::<PersistentVolume>::all(c.clone()),
                w.pvs,
                objects(ClusterEvent::VolumeChange),
                "persistentvolumes",
            )),
            tokio::spawn(informer::run(
                Api::<StorageClass>::all(c.clone()),
                w.storage_classes,
                objects(ClusterEvent::VolumeChange),
                "storageclasses",
            )),
            tokio::spawn(informer::run(
                Api::<PodDisruptionBudget>::all(c.clone()),
                w.pdbs,
                objects(ClusterEvent::PodChange),
                "poddisruptionbudgets",
            )),
            tokio::spawn(informer::run(
                Api::<Service>::all(c.clone()),
                w.services,
                objects(ClusterEvent::PodChange),
                "services",
            )),
            tokio::spawn(informer::run(
                Api::<ReplicationController>::all(c.clone()),
                w.replication_controllers,
                objects(ClusterEvent::PodChange),
                "replicationcontrollers",
            )),
            tokio::spawn(informer::run(
                Api::<ReplicaSet>::all(c.clone()),
                w.replica_sets,
                objects(ClusterEvent::PodChange),
                "replicasets",
            )),
            tokio::spawn(informer::run(
                Api::<StatefulSet>::all(c.clone()),
                w.stateful_sets,
                objects(ClusterEvent::PodChange),
                "statefulsets",
            )),
        ];
        let sched = tokio::spawn(this.clone().scheduling_loop());
        // Whether `run` returns or its future is dropped (the task running it aborted), every
        // task it spawned stops with it.
        let _tasks = AbortOnDrop(
            others
                .iter()
                .map(|t| t.abort_handle())
                .chain([
                    nodes.abort_handle(),
                    pods.abort_handle(),
                    sched.abort_handle(),
                ])
                .chain(writer.as_ref().map(|w| w.abort_handle()))
                .collect(),
        );
        let r = tokio::select! {
            r = nodes => r.map(Ok),
            r = pods => r.map(Ok),
            r = sched => r,
        };
        this.queue.close();
        r.map_err(|e| Error::Config(format!("scheduler task failed: {e}")))?
    }

    /// A pod was deleted (or found gone by a re-list).
    fn on_pod_delete(&self, p: &Pod) {
        // Upstream rejects a deleted pod held at Permit ("removed").
        if let Some(uid) = p.metadata.uid.as_deref() {
            self.waiting_pods.reject_waiting_pod(uid);
        }
        Self::lock_cache(&self.cache).remove_pod(p);
        self.queue.delete_key(&format!(
            "{}/{}",
            p.metadata.namespace.as_deref().unwrap_or_default(),
            p.metadata.name.as_deref().unwrap_or_default()
        ));
        self.queue
            .move_all_to_active_or_backoff(ClusterEvent::PodDelete);
    }

    /// A pod was added or changed.
    fn on_pod(&self, p: Arc<Pod>) {
        if is_assigned(&p) {
            if is_terminal(&p) {
                Self::lock_cache(&self.cache).remove_pod(&p);
                self.queue
                    .move_all_to_active_or_backoff(ClusterEvent::PodDelete);
                return;
            }
            self.queue.delete_key(&format!(
                "{}/{}",
                p.metadata.namespace.as_deref().unwrap_or_default(),
                p.metadata.name.as_deref().unwrap_or_default()
            ));
            Self::lock_cache(&self.cache).add_or_update_pod(p);
            self.queue
                .move_all_to_active_or_backoff(ClusterEvent::PodChange);
        } else if self.profiles.contains_key(scheduler_name(&p))
            && p.metadata.deletion_timestamp.is_none()
            && !is_terminal(&p)
        {
            Self::lock_cache(&self.cache).update_nominated_pod(&p);
            let info = Arc::new(PodInfo::new(p));
            if Self::lock_cache(&self.cache).is_assumed(&info) {
                return; // our own binding in flight
            }
            self.queue.update(info);
        }
    }

    /// Counts an informer's first completed list.
    fn mark_synced(&self) {
        self.synced.send_modify(|n| *n += 1);
    }

    async fn scheduling_loop(self: Arc<Self>) -> Result<(), Error> {
        let mut synced = self.synced.subscribe();
        if synced.wait_for(|n| *n >= INFORMERS).await.is_err() {
            return Ok(());
        }
        let mut snapshot = Snapshot::default();
        let mut st = ScheduleState::default();
        st.percentage_of_nodes_to_score = self.percentage_of_nodes_to_score;
        while let Some(q) = self.queue.pop().await {
            self.schedule_one(q, &mut snapshot, &mut st).await;
        }
        Ok(())
    }

    async fn schedule_one(
        self: &Arc<Self>,
        mut q: QueuedPodInfo,
        snapshot: &mut Snapshot,
        st: &mut ScheduleState,
    ) {
        let pod = q.pod_info.clone();
        let Some(fwk) = self.profiles.get(scheduler_name(&pod.pod)).cloned() else {
            self.queue.done(&pod);
            return;
        };
        let cycle = self.queue.scheduling_cycle();
        let started = Instant::now();
        Self::lock_cache(&self.cache).update_snapshot(snapshot);
        let mut state = CycleState::new();
        let result = schedule_pod(&fwk, &mut state, &pod, snapshot, st);
        let node = match result {
            Ok(r) => {
                self.metrics.algorithm_done(started.elapsed());
                r.suggested_host
            }
            Err(d) => {
                q.unschedulable_plugins = d.unschedulable_plugins.clone();
                self.handle_failure(&fwk, q, cycle, d, started).await;
                return;
            }
        };
        if let Err(e) = Self::lock_cache(&self.cache).assume_pod(pod.clone(), &node) {
            warn!(pod = %pod.key(), error = %e, "assume failed");
            Self::record_attempt(&fwk, AttemptResult::Error, started);
            self.queue.add_backoff(q);
            return;
        }
        let s = fwk.run_reserve_plugins(&mut state, &pod, &node);
        let s = if s.is_success() {
            fwk.run_permit_plugins(&mut state, &pod, &node)
        } else {
            s
        };
        if !s.is_success() && s.code() != Code::Wait {
            fwk.run_unreserve_plugins(&mut state, &pod, &node);
            let _ = Self::lock_cache(&self.cache).forget_pod(&pod);
            let d = if s.is_rejected() {
                // Upstream: a FitError on the one node tried (`0/1 nodes are available: 1 ...`).
                let mut node_to_status = NodeToStatus::default();
                node_to_status.map.insert(node.clone(), s.clone());
                Diagnosis {
                    num_all_nodes: 1,
                    node_to_status,
                    unschedulable_plugins: [s.plugin()].into(),
                    ..Default::default()
                }
            } else {
                Diagnosis {
                    error: (s.code() == Code::Error).then(|| s.message()),
                    pre_filter_msg: Some(s.message()),
                    num_all_nodes: snapshot.num_nodes(),
                    ..Default::default()
                }
            };
            q.unschedulable_plugins.insert(s.plugin());
            self.handle_failure(&fwk, q, cycle, d, started).await;
            return;
        }
        if s.code() == Code::Wait {
            debug!(pod = %pod.key(), node = %node, "waiting on permit");
        }
        // Binding cycle, off the scheduling loop.
        let this = self.clone();
        tokio::spawn(async move {
            this.binding_cycle(fwk, state, q, cycle, node, started)
                .await;
        });
    }

    /// Counts one attempt of a pod of `fwk`'s profile, popped at `started`.
    fn record_attempt(fwk: &Framework, result: AttemptResult, started: Instant) {
        if let Some(m) = fwk.metrics() {
            m.attempt(result, started);
        }
    }

    /// Awaits the permit, then PreBind/Bind/PostBind; on failure Unreserve, forget the assumed
    /// pod and requeue it.
    async fn binding_cycle(
        self: Arc<Self>,
        fwk: Arc<Framework>,
        mut state: CycleState,
        mut q: QueuedPodInfo,
        cycle: u64,
        node: String,
        started: Instant,
    ) {
        let pod = q.pod_info.clone();
        let permit = fwk.wait_on_permit(&pod).await;
        if !permit.is_success() {
            warn!(pod = %pod.key(), node = %node, status = %permit, "permit not granted");
            fwk.run_unreserve_plugins(&mut state, &pod, &node);
            let forgotten = Self::lock_cache(&self.cache).forget_pod(&pod).is_ok();
            let d = if permit.is_rejected() {
                // Upstream: a FitError on the one node tried.
                q.unschedulable_plugins.insert(permit.plugin());
                let mut node_to_status = NodeToStatus::default();
                node_to_status.map.insert(node.clone(), permit.clone());
                Diagnosis {
                    num_all_nodes: 1,
                    node_to_status,
                    unschedulable_plugins: [permit.plugin()].into(),
                    ..Default::default()
                }
            } else {
                Diagnosis::from_error(permit.message())
            };
            self.handle_failure(&fwk, q, cycle, d, started).await;
            if forgotten {
                // The assumed pod's resources are free again (after requeueing the pod itself,
                // so that it stays unschedulable, as upstream).
                self.queue
                    .move_all_to_active_or_backoff(ClusterEvent::PodDelete);
            }
            return;
        }
        let mut s = fwk.run_pre_bind_plugins(&state, &pod, &node).await;
        if s.is_success() {
            s = fwk.run_bind_plugins(&state, &pod, &node).await;
        }
        if s.is_success() {
            fwk.run_post_bind_plugins(&state, &pod, &node);
            Self::record_attempt(&fwk, AttemptResult::Scheduled, started);
            self.metrics.pod_scheduled(&q);
            self.queue.done(&pod);
            info!(pod = %pod.key(), node = %node, "bound");
            self.record(
                &pod,
                EventType::Normal,
                "Scheduled",
                format!("Successfully assigned {} to {node}", pod.key()),
            );
        } else {
            warn!(pod = %pod.key(), node = %node, status = %s, "binding failed");
            fwk.run_unreserve_plugins(&mut state, &pod, &node);
            let _ = Self::lock_cache(&self.cache).forget_pod(&pod);
            Self::record_attempt(&fwk, AttemptResult::Error, started);
            self.record(
                &pod,
                EventType::Warning,
                "FailedScheduling",
                format!("Binding rejected: {}", s.message()),
            );
            self.queue.add_backoff(q);
            self.queue.move_all_to_active_or_backoff(ClusterEvent::Any);
        }
    }

    /// A failed attempt of a pod of `fwk`'s profile, popped at `started`: counts it, requeues
    /// the pod, carries out a preemption, records the event and the `PodScheduled` condition.
    async fn handle_failure(
        &self,
        fwk: &Framework,
        q: QueuedPodInfo,
        cycle: u64,
        d: Diagnosis,
        started: Instant,
    ) {
        let pod = q.pod_info.clone();
        let msg = d.to_string();
        if d.is_error() {
            Self::record_attempt(fwk, AttemptResult::Error, started);
            warn!(pod = %pod.key(), error = %msg, "scheduling error");
            self.queue.add_backoff(q);
        } else {
            Self::record_attempt(fwk, AttemptResult::Unschedulable, started);
            debug!(pod = %pod.key(), reason = %msg, "unschedulable");
            self.queue.add_unschedulable(q, cycle);
        }
        let mut nominated: Option<String> = None;
        if let Some(r) = &d.post_filter_result {
            if let Some(node) = r.nominated_node_name.clone().filter(|n| !n.is_empty()) {
                self.metrics.preempted(r.victims.len());
                for v in &r.victims {
                    if let Some(wp) = self.waiting_pods.get_waiting_pod(&v.uid) {
                        // A victim held at Permit is rejected rather than deleted (upstream).
                        wp.reject(crate::plugins::default_preemption::NAME, "preempted");
                    } else {
                        let api: Api<Pod> = Api::namespaced(self.client.clone(), &v.namespace);
                        if let Err(e) = api.delete(&v.name, &DeleteParams::default()).await {
                            warn!(victim = %v.key(), error = %e, "preemption: deleting victim failed");
                        }
                    }
                    self.record(
                        v,
                        EventType::Normal,
                        "Preempted",
                        format!("Preempted by pod {} on node {node}", pod.uid),
                    );
                }
                nominated = Some(node);
            }
        }
        self.record(&pod, EventType::Warning, "FailedScheduling", msg.clone());
        let reason = if d.is_error() {
            "SchedulerError"
        } else {
            "Unschedulable"
        };
        let mut status = serde_json::json!({
            "conditions": [{
                "type": "PodScheduled",
                "status": "False",
                "reason": reason,
                "message": msg,
                "lastTransitionTime": k8s_openapi::jiff::Timestamp::now().to_string(),
            }]
        });
        if let Some(n) = nominated {
            status["nominatedNodeName"] = serde_json::Value::String(n);
        }
        let api: Api<Pod> = Api::namespaced(self.client.clone(), &pod.namespace);
        let patch = Patch::Strategic(serde_json::json!({ "status": status }));
        if let Err(e) = api
            .patch_status(&pod.name, &PatchParams::default(), &patch)
            .await
        {
            warn!(pod = %pod.key(), error = %e, "updating PodScheduled condition failed");
        }
    }

    /// Queues an event about `pod`; never waits (see [`EventRecorder`]).
    fn record(&self, pod: &PodInfo, type_: EventType, reason: &str, note: String) {
        let action = match reason {
            "Scheduled" => "Binding",
            "Preempted" => "Preempting",
            _ => "Scheduling",
        };
        self.events.record(Record {
            regarding: pod.pod.object_ref(&()),
            type_,
            reason: reason.into(),
            action: action.into(),
            note,
        });
    }
}

// === impl EventHandler: what each informer's events do ===

/// Nodes feed the cache; an added or changed node may let parked pods fit.
struct NodeEvents(Arc<Scheduler>);

impl EventHandler<Watched<Node>> for NodeEvents {
    fn on_apply(&self, Watched(node): Watched<Node>) {
        let added = {
            let mut c = Scheduler::lock_cache(&self.0.cache);
            let before = c.node_count();
            c.add_or_update_node(node);
            c.node_count() > before
        };
        self.0.queue.move_all_to_active_or_backoff(if added {
            ClusterEvent::NodeAdd
        } else {
            ClusterEvent::NodeUpdate
        });
    }

    fn on_delete(&self, Watched(node): &Watched<Node>) {
        Scheduler::lock_cache(&self.0.cache)
            .remove_node(node.metadata.name.as_deref().unwrap_or_default());
    }

    fn on_synced(&self) {
        self.0.mark_synced();
    }
}

/// Bound pods feed the cache, pending pods of our profiles the queue.
struct PodEvents(Arc<Scheduler>);

impl EventHandler<Watched<Pod>> for PodEvents {
    fn on_apply(&self, Watched(pod): Watched<Pod>) {
        self.0.on_pod(pod);
    }

    fn on_delete(&self, Watched(pod): &Watched<Pod>) {
        self.0.on_pod_delete(pod);
    }

    fn on_synced(&self) {
        self.0.mark_synced();
    }
}

/// The objects plugins consult live in the informers' stores, which the plugins read; an event
/// only moves the parked pods it may help.
struct ObjectEvents(Arc<Scheduler>, ClusterEvent);

impl<K> EventHandler<K> for ObjectEvents {
    fn on_apply(&self, _: K) {
        self.0.queue.move_all_to_active_or_backoff(self.1);
    }

    fn on_delete(&self, _: &K) {
        self.0.queue.move_all_to_active_or_backoff(self.1);
    }

    fn on_synced(&self) {
        self.0.mark_synced();
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::framework::{ExtensionPoints, PermitPlugin, Plugin, ReservePlugin, Status};
    use crate::testing::{node, pod};

    type Requests = Arc<Mutex<Vec<(String, String, String)>>>;

    /// A client whose API server records every request and answers `{}`.
    fn fake_client() -> (kube::Client, Requests) {
        let requests: Requests = Arc::default();
        let seen = requests.clone();
        let svc = tower::service_fn(move |req: http::Request<kube::client::Body>| {
            let seen = seen.clone();
            async move {
                use http_body_util::BodyExt;
                let (parts, body) = req.into_parts();
                let body = body
                    .collect()
                    .await
                    .map(|b| b.to_bytes())
                    .unwrap_or_default();
                seen.lock().unwrap().push((
                    parts.method.to_string(),
                    parts.uri.path().to_string(),
                    String::from_utf8_lossy(&body).into_owned(),
                ));
                let resp = http::Response::builder()
                    .status(201)
                    .header("content-type", "application/json")
                    .body(kube::client::Body::from(b"{}".to_vec()))
                    .unwrap();
                Ok::<_, std::convert::Infallible>(resp)
            }
        });
        (kube::Client::new(svc, "default"), requests)
    }

    /// Reserve + Permit plugin: asks every pod to wait `timeout`; records Unreserve calls.
    struct Gate {
        name: &'static str,
        timeout: Duration,
        unreserved: Arc<Mutex<Vec<String>>>,
    }

    impl Plugin for Gate {
        fn name(&self) -> &'static str {
            self.name
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
        fn permit(&self, _: &mut CycleState, _: &PodInfo, _: &str) -> (Status, Duration) {
            (Status::from_code(Code::Wait), self.timeout)
        }
    }

    struct Harness {
        sched: Arc<Scheduler>,
        requests: Requests,
        unreserved: Arc<Mutex<Vec<String>>>,
    }

    /// A scheduler with one node, the default plugins and `gates` (name, timeout) as
    /// Reserve/Permit plugins; its event writer runs.
    fn harness(gates: &[(&'static str, Duration)]) -> Harness {
        let (client, requests) = fake_client();
        let unreserved: Arc<Mutex<Vec<String>>> = Arc::default();
        let mut registry = Registry::in_tree();
        let mut enabled = String::new();
        for &(name, timeout) in gates {
            let u = unreserved.clone();
            registry.register(name, move |_, _| {
                Ok(Arc::new(Gate {
                    name,
                    timeout,
                    unreserved: u.clone(),
                }))
            });
            enabled.push_str(&format!("{{name: {name}}},"));
        }
        let cfg = KubeSchedulerConfiguration::from_yaml(&format!(
            "apiVersion: kubescheduler.config.k8s.io/v1\nkind: KubeSchedulerConfiguration\n\
             profiles:\n- plugins:\n    multiPoint:\n      enabled: [{enabled}]\n"
        ))
        .unwrap();
        let sched = Arc::new(Scheduler::from_config_with(client, &cfg, &registry).unwrap());
        Scheduler::lock_cache(&sched.cache).add_or_update_node(node("n1").obj());
        let writer = sched.event_writer.lock().unwrap().take().unwrap();
        tokio::spawn(writer);
        Harness {
            sched,
            requests,
            unreserved,
        }
    }

    impl Harness {
        /// Queues `name` and runs one scheduling cycle.
        async fn schedule(&self, name: &str) -> Arc<PodInfo> {
            let info = Arc::new(PodInfo::new(pod(name).uid(name).obj()));
            self.sched.queue.add(info.clone());
            let q = self.sched.queue.pop().await.unwrap();
            let mut snapshot = Snapshot::default();
            let mut st = ScheduleState::default();
            self.sched.schedule_one(q, &mut snapshot, &mut st).await;
            info
        }

        fn requests_to(&self, suffix: &str) -> Vec<String> {
            self.requests
                .lock()
                .unwrap()
                .iter()
                .filter(|(_, path, _)| path.ends_with(suffix))
                .map(|(m, _, body)| format!("{m} {body}"))
                .collect()
        }

        /// Lets the spawned binding cycle and the event writer run.
        async fn settle(&self) {
            for _ in 0..50 {
                tokio::task::yield_now().await;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }

        fn assumed(&self, p: &PodInfo) -> bool {
            Scheduler::lock_cache(&self.sched.cache).is_assumed(p)
        }
    }

    #[tokio::test(start_paused = true)]
    async fn waiting_pod_allowed_from_outside_binds() {
        let h = harness(&[("Gate", Duration::from_secs(30))]);
        let p = h.schedule("web").await;
        h.settle().await;
        // Held at Permit, assumed on its node, not bound; the next pod can be scheduled.
        let wp = h
            .sched
            .waiting_pods()
            .get_waiting_pod("web")
            .expect("waiting");
        assert_eq!(wp.pod().name, "web");
        assert_eq!(wp.pending_plugins(), vec!["Gate"]);
        assert!(h.assumed(&p));
        assert!(h.requests_to("/binding").is_empty());
        let mut seen = Vec::new();
        h.sched
            .waiting_pods()
            .iterate_over_waiting_pods(|w| seen.push(w.pod().name.clone()));
        assert_eq!(seen, vec!["web"]);

        wp.allow("Gate");
        h.settle().await;
        let bindings = h.requests_to("/namespaces/default/pods/web/binding");
        assert_eq!(bindings.len(), 1, "{:?}", h.requests.lock().unwrap());
        assert!(bindings[0].contains(r#""name":"n1""#), "{}", bindings[0]);
        assert!(h.sched.waiting_pods().is_empty());
        assert!(h.unreserved.lock().unwrap().is_empty());
        assert_eq!(
            h.sched.metrics.schedule_attempts(AttemptResult::Scheduled),
            1
        );
        let text = h.sched.metrics.render();
        assert!(
            text.contains("scheduler_pod_scheduling_attempts_bucket{le=\"1\"} 1"),
            "{text}"
        );
        // The Permit run that held the pod is timed with its status.
        assert!(
            text.contains("scheduler_framework_extension_point_duration_seconds_count{extension_point=\"Permit\",profile=\"default-scheduler\",status=\"Wait\"} 1"),
            "{text}"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn waiting_pod_rejected_is_unreserved_and_requeued() {
        let h = harness(&[("Gate", Duration::from_secs(30))]);
        let p = h.schedule("web").await;
        h.settle().await;
        let wp = h.sched.waiting_pods().get_waiting_pod("web").unwrap();
        wp.reject("Gate", "gang incomplete");
        h.settle().await;
        assert!(h.requests_to("/binding").is_empty());
        assert_eq!(*h.unreserved.lock().unwrap(), vec!["web".to_string()]);
        assert!(!h.assumed(&p), "forgotten in the cache");
        assert!(h.sched.waiting_pods().is_empty());
        // Back in the queue as unschedulable, with the upstream FitError message.
        assert_eq!(h.sched.queue.lens(), (0, 0, 1));
        let msg = "0/1 nodes are available: 1 gang incomplete.";
        let status = h.requests_to("/namespaces/default/pods/web/status");
        assert_eq!(status.len(), 1);
        assert!(status[0].contains(msg), "{}", status[0]);
        assert!(status[0].contains("Unschedulable"), "{}", status[0]);
        let events = h.requests_to("/events");
        assert!(
            events
                .iter()
                .any(|e| e.contains("FailedScheduling") && e.contains(msg)),
            "{events:?}"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn waiting_pod_times_out() {
        let h = harness(&[("Gate", Duration::from_secs(10))]);
        let p = h.schedule("web").await;
        h.settle().await;
        assert!(h.sched.waiting_pods().get_waiting_pod("web").is_some());
        tokio::time::sleep(Duration::from_secs(11)).await;
        h.settle().await;
        assert!(h.sched.waiting_pods().is_empty());
        assert!(h.requests_to("/binding").is_empty());
        assert_eq!(*h.unreserved.lock().unwrap(), vec!["web".to_string()]);
        assert!(!h.assumed(&p));
        let status = h.requests_to("/namespaces/default/pods/web/status");
        assert!(
            status[0].contains(
                "0/1 nodes are available: 1 rejected due to timeout after waiting 10s at plugin Gate."
            ),
            "{}",
            status[0]
        );
    }

    #[tokio::test(start_paused = true)]
    async fn pod_waiting_on_two_plugins_needs_both() {
        let h = harness(&[
            ("GateA", Duration::from_secs(30)),
            ("GateB", Duration::from_secs(30)),
        ]);
        h.schedule("web").await;
        h.settle().await;
        let wp = h.sched.waiting_pods().get_waiting_pod("web").unwrap();
        assert_eq!(wp.pending_plugins(), vec!["GateA", "GateB"]);
        wp.allow("GateA");
        h.settle().await;
        assert_eq!(wp.pending_plugins(), vec!["GateB"]);
        assert!(
            h.requests_to("/binding").is_empty(),
            "one allow is not enough"
        );
        wp.allow("GateB");
        h.settle().await;
        assert_eq!(h.requests_to("/binding").len(), 1);
        assert!(h.sched.waiting_pods().is_empty());
    }

    #[tokio::test(start_paused = true)]
    async fn plugins_reach_waiting_pods_through_their_handle() {
        let (client, _) = fake_client();
        let seen: Arc<Mutex<Option<WaitingPods>>> = Arc::default();
        let mut registry = Registry::in_tree();
        let s = seen.clone();
        registry.register("Gate", move |_, handle| {
            *s.lock().unwrap() = Some(handle.waiting_pods().clone());
            Ok(Arc::new(Gate {
                name: "Gate",
                timeout: Duration::from_secs(5),
                unreserved: Arc::default(),
            }))
        });
        let cfg = KubeSchedulerConfiguration::from_yaml(
            "apiVersion: kubescheduler.config.k8s.io/v1\nkind: KubeSchedulerConfiguration\n\
             profiles:\n- plugins:\n    multiPoint:\n      enabled: [{name: Gate}]\n",
        )
        .unwrap();
        let sched = Scheduler::from_config_with(client, &cfg, &registry).unwrap();
        let fwk = sched.profiles[DEFAULT_SCHEDULER_NAME].clone();
        let info = Arc::new(PodInfo::new(pod("web").uid("u1").obj()));
        let s = fwk.run_permit_plugins(&mut CycleState::new(), &info, "n1");
        assert_eq!(s.code(), Code::Wait);
        // The plugin's handle, the framework and the scheduler share one map.
        let from_handle = seen.lock().unwrap().clone().unwrap();
        assert!(from_handle.get_waiting_pod("u1").is_some());
        assert!(fwk.get_waiting_pod("u1").is_some());
        assert_eq!(sched.waiting_pods().len(), 1);
        from_handle.get_waiting_pod("u1").unwrap().allow("Gate");
        assert!(fwk.wait_on_permit(&info).await.is_success());
        assert!(sched.waiting_pods().is_empty());
    }
}
