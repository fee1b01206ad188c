//! [`SchedulingQueue`]: pods waiting to be scheduled (upstream `PriorityQueue`).
//!
//! * **active**: ordered by the profile's QueueSort plugin (priority, then arrival).
//! * **backoff**: pods that failed recently wait `1s × 2^(attempts-1)`, at most 10s.
//! * **unschedulable**: pods that did not fit wait for a cluster event that could make them fit
//!   (a node added or changed, a pod deleted), judged by which plugins rejected them, or at
//!   most five minutes.
//!
//! Pods with `spec.schedulingGates` are held until the gates are removed.

use std::cmp::Ordering;
use std::collections::{BinaryHeap, HashMap, HashSet};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use k8s_openapi::api::core::v1::Pod;
use tokio::sync::Notify;
use tokio::time::Instant;

use crate::framework::{QueueSortPlugin, QueuedPodInfo};
use crate::metrics::{IncomingEvent, IncomingQueue, QueueMetrics};
use crate::plugins::queue_sort::PrioritySort;
use crate::types::PodInfo;

/// Initial backoff (upstream `podInitialBackoffSeconds` default).
pub const DEFAULT_POD_INITIAL_BACKOFF: Duration = Duration::from_secs(1);
/// Maximum backoff (upstream `podMaxBackoffSeconds` default).
pub const DEFAULT_POD_MAX_BACKOFF: Duration = Duration::from_secs(10);
/// Longest stay in the unschedulable pool without an event.
pub const DEFAULT_POD_MAX_IN_UNSCHEDULABLE_DURATION: Duration = Duration::from_secs(5 * 60);

/// A cluster change that may make unschedulable pods schedulable.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClusterEvent {
    /// A node was added.
    NodeAdd,
    /// A node changed (labels, taints, allocatable, unschedulable).
    NodeUpdate,
    /// A pod was deleted (frees resources, ports, affinity domains).
    PodDelete,
    /// A pod was added or changed (affinity, spreading).
    PodChange,
    /// A volume object changed.
    VolumeChange,
    /// Anything: move every pod.
    Any,
}

impl ClusterEvent {
    /// Every event.
    pub const ALL: [ClusterEvent; 6] = [
        ClusterEvent::NodeAdd,
        ClusterEvent::NodeUpdate,
        ClusterEvent::PodDelete,
        ClusterEvent::PodChange,
        ClusterEvent::VolumeChange,
        ClusterEvent::Any,
    ];

    pub(crate) fn index(self) -> usize {
        self as usize
    }

    /// The label of this event in `scheduler_queue_incoming_pods_total` (upstream's
    /// `ClusterEvent.Label()` of the event it stands for: these events are coarser than
    /// upstream's, so `PodChange` says `AssignedPodUpdate` whatever object changed,
    /// `VolumeChange` says `PersistentVolumeClaimUpdate`, and `Any` is the wildcard `*All`).
    pub fn label(self) -> &'static str {
        match self {
            ClusterEvent::NodeAdd => "NodeAdd",
            ClusterEvent::NodeUpdate => "NodeUpdate",
            ClusterEvent::PodDelete => "AssignedPodDelete",
            ClusterEvent::PodChange => "AssignedPodUpdate",
            ClusterEvent::VolumeChange => "PersistentVolumeClaimUpdate",
            ClusterEvent::Any => "*All",
        }
    }

    /// Whether a pod rejected by `plugin` might fit after this event (a coarse form of
    /// upstream's queueing hints).
    pub fn may_help(self, plugin: &str) -> bool {
        use crate::plugins::*;
        match self {
            ClusterEvent::Any => true,
            ClusterEvent::NodeAdd | ClusterEvent::NodeUpdate => {
                plugin != volume_binding::NAME || self == ClusterEvent::NodeAdd
            }
            ClusterEvent::PodDelete => matches!(
                plugin,
                node_resources_fit::NAME
                    | node_ports::NAME
                    | inter_pod_affinity::NAME
                    | pod_topology_spread::NAME
            ),
            ClusterEvent::PodChange => {
                matches!(plugin, inter_pod_affinity::NAME | pod_topology_spread::NAME)
            }
            ClusterEvent::VolumeChange => plugin == volume_binding::NAME,
        }
    }
}

struct ActiveEntry {
    info: QueuedPodInfo,
    sort: Arc<dyn QueueSortPlugin>,
}

impl PartialEq for ActiveEntry {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl Eq for ActiveEntry {}
impl PartialOrd for ActiveEntry {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for ActiveEntry {
    fn cmp(&self, other: &Self) -> Ordering {
        // BinaryHeap is a max-heap: "less" (schedule first) must compare greater.
        if self.sort.less(&self.info, &other.info) {
            Ordering::Greater
        } else if self.sort.less(&other.info, &self.info) {
            Ordering::Less
        } else {
            Ordering::Equal
        }
    }
}

struct BackoffEntry {
    until: Instant,
    key: String,
}
impl PartialEq for BackoffEntry {
    fn eq(&self, other: &Self) -> bool {
        self.until == other.until
    }
}
impl Eq for BackoffEntry {}
impl PartialOrd for BackoffEntry {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for BackoffEntry {
    fn cmp(&self, other: &Self) -> Ordering {
        other.until.cmp(&self.until)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Where {
    Active,
    Backoff,
    Unschedulable,
    Gated,
    InFlight,
}

struct Inner {
    active: BinaryHeap<ActiveEntry>,
    backoff: BinaryHeap<BackoffEntry>,
    pods: HashMap<String, (Where, QueuedPodInfo)>,
    /// Keys of the pods parked as unschedulable, and maybe of some that have left since
    /// (checked against `pods`, dropped when found gone): the scans of parked pods on every
    /// pop and cluster event visit these, not every queued pod.
    unschedulable: HashSet<String>,
    scheduling_cycle: u64,
    move_request_cycle: u64,
    closed: bool,
}

impl Inner {
    /// The keys of the parked (unschedulable) pods that `pick` selects; forgets keys of pods
    /// no longer parked.
    fn parked(&mut self, pick: impl Fn(&QueuedPodInfo) -> bool) -> Vec<String> {
        let pods = &self.pods;
        let mut picked = Vec::new();
        self.unschedulable.retain(|k| match pods.get(k) {
            Some((Where::Unschedulable, q)) => {
                if pick(q) {
                    picked.push(k.clone());
                }
                true
            }
            _ => false,
        });
        picked
    }
}

/// The scheduling queue. Cheap to share (`Arc`), safe to use from many tasks.
pub struct SchedulingQueue {
    inner: Mutex<Inner>,
    notify: Notify,
    sort: Arc<dyn QueueSortPlugin>,
    initial_backoff: Duration,
    max_backoff: Duration,
    /// `scheduler_queue_incoming_pods_total`, once [`Metrics::with_queue`] attached it.
    ///
    /// [`Metrics::with_queue`]: crate::metrics::Metrics::with_queue
    metrics: OnceLock<QueueMetrics>,
}

/// How many pods wait in each part of the queue (`scheduler_pending_pods`); pods being
/// scheduled are in none.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PendingPods {
    /// In the active queue.
    pub active: usize,
    /// Backing off.
    pub backoff: usize,
    /// Parked as unschedulable after an attempt.
    pub unschedulable: usize,
    /// Held by scheduling gates, never tried.
    pub gated: usize,
}

impl std::fmt::Debug for SchedulingQueue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (a, b, u) = self.lens();
        f.debug_struct("SchedulingQueue")
            .field("active", &a)
            .field("backoff", &b)
            .field("unschedulable", &u)
            .finish()
    }
}

impl Default for SchedulingQueue {
    fn default() -> Self {
        SchedulingQueue::new(
            Arc::new(PrioritySort),
            DEFAULT_POD_INITIAL_BACKOFF,
            DEFAULT_POD_MAX_BACKOFF,
        )
    }
}

fn gated(pod: &PodInfo) -> bool {
    pod.pod
        .spec
        .as_ref()
        .and_then(|s| s.scheduling_gates.as_ref())
        .is_some_and(|g| !g.is_empty())
}

impl SchedulingQueue {
    /// A queue ordered by `sort`, with the given backoff bounds.
    pub fn new(
        sort: Arc<dyn QueueSortPlugin>,
        initial_backoff: Duration,
        max_backoff: Duration,
    ) -> Self {
        SchedulingQueue {
            inner: Mutex::new(Inner {
                active: BinaryHeap::new(),
                backoff: BinaryHeap::new(),
                pods: HashMap::new(),
                unschedulable: HashSet::new(),
                scheduling_cycle: 0,
                move_request_cycle: 0,
                closed: false,
            }),
            notify: Notify::new(),
            sort,
            initial_backoff,
            max_backoff,
            metrics: OnceLock::new(),
        }
    }

    /// Counts the pods entering the queues into these series (the first call wins).
    pub(crate) fn set_metrics(&self, metrics: QueueMetrics) {
        let _ = self.metrics.set(metrics);
    }

    #[inline]
    fn incoming(&self, queue: IncomingQueue, event: IncomingEvent) {
        if let Some(m) = self.metrics.get() {
            m.incoming(queue, event);
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The backoff for a pod tried `attempts` times.
    pub fn backoff_duration(&self, attempts: u32) -> Duration {
        let mut d = self.initial_backoff;
        for _ in 1..attempts {
            d *= 2;
            if d >= self.max_backoff {
                return self.max_backoff;
            }
        }
        d.min(self.max_backoff)
    }

    fn push_active(
        &self,
        inner: &mut Inner,
        key: String,
        mut info: QueuedPodInfo,
        now: Instant,
        event: IncomingEvent,
    ) {
        self.incoming(IncomingQueue::Active, event);
        info.timestamp = now;
        inner.active.push(ActiveEntry {
            info: info.clone(),
            sort: self.sort.clone(),
        });
        inner.pods.insert(key, (Where::Active, info));
        self.notify.notify_one();
    }

    /// Adds a new pending pod.
    pub fn add(&self, pod: Arc<PodInfo>) {
        let now = Instant::now();
        let key = pod.key();
        let mut inner = self.lock();
        if let Some((w, q)) = inner.pods.get_mut(&key) {
            q.pod_info = pod;
            if *w == Where::Gated && !gated(&q.pod_info) {
                let q = q.clone();
                self.push_active(&mut inner, key, q, now, IncomingEvent::PodUpdate);
            }
            return;
        }
        let q = QueuedPodInfo {
            pod_info: pod.clone(),
            timestamp: now,
            attempts: 0,
            initial_attempt_timestamp: now,
            unschedulable_plugins: Default::default(),
        };
        if gated(&pod) {
            self.incoming(IncomingQueue::Unschedulable, IncomingEvent::PodAdd);
            inner.pods.insert(key, (Where::Gated, q));
        } else {
            self.push_active(&mut inner, key, q, now, IncomingEvent::PodAdd);
        }
    }

    /// A pending pod changed: refresh it; a gated or unschedulable pod is retried.
    pub fn update(&self, pod: Arc<PodInfo>) {
        let now = Instant::now();
        let key = pod.key();
        let mut inner = self.lock();
        match inner.pods.get_mut(&key) {
            None => {
                drop(inner);
                self.add(pod);
            }
            Some((w, q)) => {
                let w = *w;
                // Upstream (`isPodUpdated`): an unschedulable pod is retried only when
                // something but its status (e.g. the condition the scheduler itself just
                // wrote), resourceVersion, generation, managedFields or finalizers changed.
                let changed = pod_updated(&q.pod_info.pod, &pod.pod);
                q.pod_info = pod;
                if w == Where::Gated && !gated(&q.pod_info) {
                    let q = q.clone();
                    self.push_active(&mut inner, key, q, now, IncomingEvent::PodUpdate);
                } else if w == Where::Unschedulable && changed {
                    let q = q.clone();
                    self.requeue(&mut inner, key, q, now, IncomingEvent::PodUpdate);
                }
            }
        }
    }

    /// A pod was deleted or got scheduled by someone else.
    pub fn delete(&self, pod: &PodInfo) {
        self.delete_key(&pod.key());
    }

    /// [`delete`](Self::delete) by `namespace/name`.
    pub fn delete_key(&self, key: &str) {
        // Heap entries of removed pods are skipped lazily on pop.
        self.lock().pods.remove(key);
    }

    /// Takes the next pod without waiting; `None` if the active queue is empty.
    pub fn try_pop(&self) -> Option<QueuedPodInfo> {
        self.try_pop_at(Instant::now())
    }

    fn try_pop_at(&self, now: Instant) -> Option<QueuedPodInfo> {
        let mut inner = self.lock();
        self.flush_backoff(&mut inner, now);
        while let Some(e) = inner.active.pop() {
            let key = e.info.pod_info.key();
            let current = inner.pods.get(&key).map(|(w, q)| (*w, q.timestamp));
            if current != Some((Where::Active, e.info.timestamp)) {
                continue; // stale entry
            }
            let (_, mut q) = inner.pods.remove(&key).expect("present");
            q.attempts += 1;
            inner.scheduling_cycle += 1;
            inner.pods.insert(key, (Where::InFlight, q.clone()));
            return Some(q);
        }
        None
    }

    /// Waits for the next pod; `None` once [`close`](Self::close)d.
    pub async fn pop(&self) -> Option<QueuedPodInfo> {
        loop {
            let notified = self.notify.notified();
            let next_backoff = {
                let inner = self.lock();
                if inner.closed {
                    return None;
                }
                inner.backoff.peek().map(|b| b.until)
            };
            if let Some(q) = self.try_pop() {
                return Some(q);
            }
            let wait = next_backoff.map_or(Duration::from_secs(1), |u| {
                u.saturating_duration_since(Instant::now())
            });
            let _ = tokio::time::timeout(wait.max(Duration::from_millis(1)), notified).await;
        }
    }

    /// Stops [`pop`](Self::pop).
    pub fn close(&self) {
        self.lock().closed = true;
        self.notify.notify_waiters();
    }

    /// The current scheduling cycle (incremented by each pop).
    pub fn scheduling_cycle(&self) -> u64 {
        self.lock().scheduling_cycle
    }

    /// A popped pod failed with `Unschedulable`: park it until an event that may help, or in
    /// backoff if such an event already happened during its cycle.
    pub fn add_unschedulable(&self, mut q: QueuedPodInfo, pod_cycle: u64) {
        let now = Instant::now();
        let key = q.pod_info.key();
        let mut inner = self.lock();
        if !matches!(inner.pods.get(&key), Some((Where::InFlight, _))) {
            return; // deleted meanwhile
        }
        q.timestamp = now;
        if inner.move_request_cycle >= pod_cycle || q.unschedulable_plugins.is_empty() {
            self.incoming(
                IncomingQueue::Backoff,
                IncomingEvent::ScheduleAttemptFailure,
            );
            let until = now + self.backoff_duration(q.attempts);
            inner.backoff.push(BackoffEntry {
                until,
                key: key.clone(),
            });
            inner.pods.insert(key, (Where::Backoff, q));
        } else {
            self.incoming(
                IncomingQueue::Unschedulable,
                IncomingEvent::ScheduleAttemptFailure,
            );
            inner.unschedulable.insert(key.clone());
            inner.pods.insert(key, (Where::Unschedulable, q));
        }
    }

    /// A popped pod failed with an error: retry after backoff.
    pub fn add_backoff(&self, mut q: QueuedPodInfo) {
        q.unschedulable_plugins.clear();
        let c = self.scheduling_cycle();
        self.lock().move_request_cycle = c;
        self.add_unschedulable(q, c);
    }

    /// A popped pod was scheduled (or given up): forget it.
    pub fn done(&self, pod: &PodInfo) {
        let mut inner = self.lock();
        if matches!(inner.pods.get(&pod.key()), Some((Where::InFlight, _))) {
            inner.pods.remove(&pod.key());
        }
    }

    fn flush_backoff(&self, inner: &mut Inner, now: Instant) {
        while inner.backoff.peek().is_some_and(|b| b.until <= now) {
            let b = inner.backoff.pop().expect("peeked");
            let Some((Where::Backoff, q)) = inner.pods.get(&b.key).cloned() else {
                continue;
            };
            if q.timestamp + self.backoff_duration(q.attempts) > now {
                continue; // superseded entry
            }
            self.push_active(inner, b.key, q, now, IncomingEvent::BackoffComplete);
        }
        // Pods parked too long are retried anyway.
        let stale = inner.parked(|q| {
            now.duration_since(q.timestamp) > DEFAULT_POD_MAX_IN_UNSCHEDULABLE_DURATION
        });
        for k in stale {
            let (_, q) = inner.pods.remove(&k).expect("present");
            self.push_active(inner, k, q, now, IncomingEvent::UnschedulableTimeout);
        }
    }

    /// A cluster event happened: unschedulable pods it may help move to active (or to backoff
    /// if they are still backing off).
    pub fn move_all_to_active_or_backoff(&self, event: ClusterEvent) {
        let now = Instant::now();
        let mut inner = self.lock();
        inner.move_request_cycle = inner.scheduling_cycle;
        let keys = inner.parked(|q| q.unschedulable_plugins.iter().any(|p| event.may_help(p)));
        for k in keys {
            let (_, q) = inner.pods.remove(&k).expect("present");
            self.requeue(&mut inner, k, q, now, IncomingEvent::Cluster(event));
        }
    }

    /// Moves an unschedulable pod to the backoff queue while it is still backing off, else to
    /// the active queue.
    fn requeue(
        &self,
        inner: &mut Inner,
        key: String,
        q: QueuedPodInfo,
        now: Instant,
        event: IncomingEvent,
    ) {
        let until = q.timestamp + self.backoff_duration(q.attempts);
        if until > now {
            self.incoming(IncomingQueue::Backoff, event);
            inner.backoff.push(BackoffEntry {
                until,
                key: key.clone(),
            });
            inner.pods.insert(key, (Where::Backoff, q));
        } else {
            self.push_active(inner, key, q, now, event);
        }
    }

    /// How many pods wait in each part of the queue.
    pub fn pending(&self) -> PendingPods {
        let inner = self.lock();
        let mut p = PendingPods::default();
        for (w, _) in inner.pods.values() {
            match w {
                Where::Active => p.active += 1,
                Where::Backoff => p.backoff += 1,
                Where::Unschedulable => p.unschedulable += 1,
                Where::Gated => p.gated += 1,
                Where::InFlight => {}
            }
        }
        p
    }

    /// `(active, backoff, unschedulable)` sizes (gated pods count as unschedulable).
    pub fn lens(&self) -> (usize, usize, usize) {
        let inner = self.lock();
        let mut c = (0, 0, 0);
        for (w, _) in inner.pods.values() {
            match w {
                Where::Active => c.0 += 1,
                Where::Backoff => c.1 += 1,
                Where::Unschedulable | Where::Gated => c.2 += 1,
                Where::InFlight => {}
            }
        }
        c
    }
}

/// Whether `new` differs from `old` in anything but status, resourceVersion, generation,
/// managedFields and finalizers (upstream `isPodUpdated`).
fn pod_updated(old: &Pod, new: &Pod) -> bool {
    let (a, b) = (&old.metadata, &new.metadata);
    old.spec != new.spec
        || a.name != b.name
        || a.namespace != b.namespace
        || a.uid != b.uid
        || a.labels != b.labels
        || a.annotations != b.annotations
        || a.owner_references != b.owner_references
        || a.deletion_timestamp != b.deletion_timestamp
        || a.deletion_grace_period_seconds != b.deletion_grace_period_seconds
        || a.generate_name != b.generate_name
        || a.creation_timestamp != b.creation_timestamp
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::pod;

    fn pi(name: &str, prio: i32) -> Arc<PodInfo> {
        Arc::new(PodInfo::new(pod(name).priority(prio).obj()))
    }

    #[tokio::test(start_paused = true)]
    async fn active_queue_orders_by_priority_then_arrival() {
        let q = SchedulingQueue::default();
        q.add(pi("low", 1));
        tokio::time::advance(Duration::from_millis(1)).await;
        q.add(pi("high", 10));
        tokio::time::advance(Duration::from_millis(1)).await;
        q.add(pi("low2", 1));
        let order: Vec<String> = (0..3)
            .map(|_| q.try_pop().unwrap().pod_info.name.clone())
            .collect();
        assert_eq!(order, vec!["high", "low", "low2"]);
        assert!(q.try_pop().is_none());
    }

    #[test]
    fn backoff_doubles_from_1s_to_10s() {
        let q = SchedulingQueue::default();
        let got: Vec<u64> = (1..=6).map(|a| q.backoff_duration(a).as_secs()).collect();
        assert_eq!(got, vec![1, 2, 4, 8, 10, 10]);
    }

    #[tokio::test(start_paused = true)]
    async fn errors_back_off_then_return() {
        let q = SchedulingQueue::default();
        q.add(pi("p", 0));
        let p = q.try_pop().unwrap();
        q.add_backoff(p);
        assert!(q.try_pop().is_none(), "still backing off");
        tokio::time::advance(Duration::from_millis(1001)).await;
        let p = q.try_pop().expect("backoff expired");
        assert_eq!(p.attempts, 2);
    }

    #[tokio::test(start_paused = true)]
    async fn unschedulable_pods_wait_for_a_helpful_event() {
        let q = SchedulingQueue::default();
        q.add(pi("p", 0));
        let cycle_before = q.scheduling_cycle();
        let mut p = q.try_pop().unwrap();
        let cycle = q.scheduling_cycle();
        assert_eq!(cycle, cycle_before + 1);
        p.unschedulable_plugins
            .insert(crate::plugins::node_resources_fit::NAME);
        q.add_unschedulable(p, cycle);
        assert_eq!(q.lens(), (0, 0, 1));
        tokio::time::advance(Duration::from_secs(30)).await;
        assert!(q.try_pop().is_none(), "parked, no event yet");
        // A PodChange cannot help a resource failure; a PodDelete can.
        q.move_all_to_active_or_backoff(ClusterEvent::PodChange);
        assert_eq!(q.lens(), (0, 0, 1));
        q.move_all_to_active_or_backoff(ClusterEvent::PodDelete);
        assert_eq!(q.try_pop().unwrap().pod_info.name, "p");
    }

    /// Upstream `isPodUpdated`: the scheduler's own status write does not retry the pod; a
    /// change to its spec or labels does, through backoff while it is backing off.
    #[tokio::test(start_paused = true)]
    async fn unschedulable_pods_retry_only_when_more_than_status_changed() {
        let q = SchedulingQueue::default();
        let base = pod("p").obj();
        q.add(Arc::new(PodInfo::new(base.clone())));
        let mut p = q.try_pop().unwrap();
        let cycle = q.scheduling_cycle();
        p.unschedulable_plugins
            .insert(crate::plugins::node_resources_fit::NAME);
        q.add_unschedulable(p, cycle);

        let mut status_only = base.clone();
        status_only.metadata.resource_version = Some("9".into());
        status_only.status = Some(k8s_openapi::api::core::v1::PodStatus {
            phase: Some("Pending".into()),
            ..Default::default()
        });
        q.update(Arc::new(PodInfo::new(status_only.clone())));
        assert_eq!(q.lens(), (0, 0, 1), "a status write leaves it parked");

        let mut relabelled = status_only;
        relabelled.metadata.labels = Some([("app".to_string(), "x".to_string())].into());
        q.update(Arc::new(PodInfo::new(relabelled)));
        assert_eq!(
            q.lens(),
            (0, 1, 0),
            "changed while backing off: backoff queue"
        );
        tokio::time::advance(Duration::from_millis(1001)).await;
        assert_eq!(q.try_pop().unwrap().pod_info.name, "p");
    }

    #[tokio::test(start_paused = true)]
    async fn event_during_the_cycle_sends_failure_to_backoff() {
        let q = SchedulingQueue::default();
        q.add(pi("p", 0));
        let mut p = q.try_pop().unwrap();
        let cycle = q.scheduling_cycle();
        q.move_all_to_active_or_backoff(ClusterEvent::NodeAdd);
        p.unschedulable_plugins
            .insert(crate::plugins::node_resources_fit::NAME);
        q.add_unschedulable(p, cycle);
        assert_eq!(q.lens(), (0, 1, 0), "missed event must not strand the pod");
    }

    #[tokio::test(start_paused = true)]
    async fn gated_pods_wait_for_gates_to_clear() {
        let q = SchedulingQueue::default();
        let gated_pod = pod("g")
            .with_spec(|s| {
                s.scheduling_gates = Some(vec![k8s_openapi::api::core::v1::PodSchedulingGate {
                    name: "x".into(),
                }])
            })
            .obj();
        q.add(Arc::new(PodInfo::new(gated_pod)));
        assert!(q.try_pop().is_none());
        q.update(Arc::new(PodInfo::new(pod("g").obj())));
        assert_eq!(q.try_pop().unwrap().pod_info.name, "g");
    }

    #[tokio::test(start_paused = true)]
    async fn pop_waits_and_close_ends_it() {
        let q = Arc::new(SchedulingQueue::default());
        let q2 = q.clone();
        let h = tokio::spawn(async move { q2.pop().await.map(|p| p.pod_info.name.clone()) });
        tokio::task::yield_now().await;
        q.add(pi("late", 0));
        assert_eq!(h.await.unwrap().as_deref(), Some("late"));
        let q3 = q.clone();
        let h = tokio::spawn(async move { q3.pop().await.is_none() });
        tokio::task::yield_now().await;
        q.close();
        assert!(h.await.unwrap());
    }
}
