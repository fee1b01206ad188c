//! The scheduler's metrics, with upstream kube-scheduler's names, labels and buckets
//! (`pkg/scheduler/metrics`, v1.33), kept in a [`prometheus_client`] registry and rendered in
//! the Prometheus text format 0.0.4 by [`Metrics::render`] (served at `/metrics` by
//! [`serving`](crate::serving)).
//!
//! | metric | type | labels | recorded |
//! |---|---|---|---|
//! | `scheduler_schedule_attempts_total` | counter | `profile`, `result` (`scheduled`, `unschedulable`, `error`) | once per attempt: when its pod is bound, or when the failure is handled (a failed assume or binding is an `error`) |
//! | `scheduler_scheduling_attempt_duration_seconds` | histogram, 0.001 × 2^0..14 s | `profile`, `result` | with the counter: from the pop to that outcome (scheduling and binding) |
//! | `scheduler_scheduling_algorithm_duration_seconds` | histogram, 0.001 × 2^0..14 s | | after a `schedule_pod` that found a node |
//! | `scheduler_pod_scheduling_sli_duration_seconds` | histogram, 0.01 × 2^0..19 s | `attempts` (`1` … `14`, `15+`) | when a pod is bound: since it first entered the queue |
//! | `scheduler_pod_scheduling_attempts` | histogram, 1, 2, 4, 8, 16 | | when a pod is bound: how many attempts it took |
//! | `scheduler_pending_pods` | gauge | `queue` (`active`, `backoff`, `unschedulable`, `gated`) | read from the [`SchedulingQueue`] at each scrape |
//! | `scheduler_queue_incoming_pods_total` | counter | `event`, `queue` (`active`, `backoff`, `unschedulable`) | each move of a pod into one of the queues (see [`IncomingEvent`]) |
//! | `scheduler_preemption_attempts_total` | counter | | each run of the PostFilter plugins (upstream: each DefaultPreemption PostFilter call) |
//! | `scheduler_preemption_victims` | histogram, 1 × 2^0..6 | | each preemption that nominated a node: its number of victims |
//! | `scheduler_framework_extension_point_duration_seconds` | histogram, 0.0001 × 2^0..11 s | `extension_point`, `profile`, `status` | each run of an [`ExtensionPoint`] by a profile's [`Framework`](crate::Framework) |
//!
//! Labels are printed in alphabetical order, as upstream's Go client prints them.
//!
//! Recording is cheap: each profile's series are resolved once (at the first observation of
//! each label combination) and kept in the profile's [`ProfileMetrics`], so an observation is
//! an atomic add (counters) or a short uncontended lock (histograms), without allocation.

use std::fmt;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{
    prometheus_text, DescriptorEncoder, EncodeLabelSet, EncodeMetric,
};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::Registry;

use crate::framework::{Code, QueuedPodInfo};
use crate::queue::{ClusterEvent, SchedulingQueue};

/// The `Content-Type` of [`Metrics::render`]'s output (Prometheus text format 0.0.4).
pub const CONTENT_TYPE: &str = prometheus_text::CONTENT_TYPE;

/// `n` buckets `start × 2^i` (upstream `ExponentialBuckets(start, 2, n)`; doubling is exact, so
/// the bounds print as upstream's do).
fn doubling(start: f64, n: i32) -> impl Iterator<Item = f64> {
    (0..n).map(move |i| start * 2f64.powi(i))
}

fn attempt_histogram() -> Histogram {
    Histogram::new(doubling(0.001, 15))
}

fn sli_histogram() -> Histogram {
    Histogram::new(doubling(0.01, 20))
}

fn extension_point_histogram() -> Histogram {
    Histogram::new(doubling(0.0001, 12))
}

/// The outcome of one scheduling attempt (label `result`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AttemptResult {
    /// The pod was bound.
    Scheduled,
    /// The pod fit no node (or a Permit plugin rejected it).
    Unschedulable,
    /// An internal error (a plugin error, a failed assume or binding).
    Error,
}

impl AttemptResult {
    /// Every result, in label order.
    pub const ALL: [AttemptResult; 3] = [
        AttemptResult::Scheduled,
        AttemptResult::Unschedulable,
        AttemptResult::Error,
    ];

    /// The label value.
    pub fn as_str(self) -> &'static str {
        match self {
            AttemptResult::Scheduled => "scheduled",
            AttemptResult::Unschedulable => "unschedulable",
            AttemptResult::Error => "error",
        }
    }
}

/// A framework extension point (label `extension_point`; Filter is not timed as a whole, as
/// upstream, since it runs per node).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ExtensionPoint {
    /// PreFilter.
    PreFilter,
    /// PostFilter.
    PostFilter,
    /// PreScore.
    PreScore,
    /// Score (with NormalizeScore).
    Score,
    /// Reserve.
    Reserve,
    /// Unreserve.
    Unreserve,
    /// Permit.
    Permit,
    /// PreBind.
    PreBind,
    /// Bind.
    Bind,
    /// PostBind.
    PostBind,
}

impl ExtensionPoint {
    const COUNT: usize = 10;

    /// The label value (upstream's extension point name).
    pub fn as_str(self) -> &'static str {
        match self {
            ExtensionPoint::PreFilter => "PreFilter",
            ExtensionPoint::PostFilter => "PostFilter",
            ExtensionPoint::PreScore => "PreScore",
            ExtensionPoint::Score => "Score",
            ExtensionPoint::Reserve => "Reserve",
            ExtensionPoint::Unreserve => "Unreserve",
            ExtensionPoint::Permit => "Permit",
            ExtensionPoint::PreBind => "PreBind",
            ExtensionPoint::Bind => "Bind",
            ExtensionPoint::PostBind => "PostBind",
        }
    }
}

const CODES: usize = 7;

/// A status code's index and label value (upstream `Code.String()`).
fn code_label(code: Code) -> (usize, &'static str) {
    match code {
        Code::Success => (0, "Success"),
        Code::Error => (1, "Error"),
        Code::Unschedulable => (2, "Unschedulable"),
        Code::UnschedulableAndUnresolvable => (3, "UnschedulableAndUnresolvable"),
        Code::Wait => (4, "Wait"),
        Code::Skip => (5, "Skip"),
        Code::Pending => (6, "Pending"),
    }
}

/// Why a pod entered a queue (label `event` of `scheduler_queue_incoming_pods_total`, with
/// upstream's values).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IncomingEvent {
    /// A new pending pod (`UnschedulablePodAdd`).
    PodAdd,
    /// A pending pod changed, e.g. its scheduling gates were removed (`UnschedulablePodUpdate`).
    PodUpdate,
    /// A failed attempt (`ScheduleAttemptFailure`).
    ScheduleAttemptFailure,
    /// Its backoff expired (`BackoffComplete`).
    BackoffComplete,
    /// It waited the longest allowed time as unschedulable (`UnschedulableTimeout`).
    UnschedulableTimeout,
    /// A cluster event that may make it fit ([`ClusterEvent::label`]).
    Cluster(ClusterEvent),
}

impl IncomingEvent {
    const COUNT: usize = 5 + ClusterEvent::ALL.len();

    fn index(self) -> usize {
        match self {
            IncomingEvent::PodAdd => 0,
            IncomingEvent::PodUpdate => 1,
            IncomingEvent::ScheduleAttemptFailure => 2,
            IncomingEvent::BackoffComplete => 3,
            IncomingEvent::UnschedulableTimeout => 4,
            IncomingEvent::Cluster(e) => 5 + e.index(),
        }
    }

    /// The label value.
    pub fn as_str(self) -> &'static str {
        match self {
            IncomingEvent::PodAdd => "UnschedulablePodAdd",
            IncomingEvent::PodUpdate => "UnschedulablePodUpdate",
            IncomingEvent::ScheduleAttemptFailure => "ScheduleAttemptFailure",
            IncomingEvent::BackoffComplete => "BackoffComplete",
            IncomingEvent::UnschedulableTimeout => "UnschedulableTimeout",
            IncomingEvent::Cluster(e) => e.label(),
        }
    }
}

/// The queue a pod entered (label `queue` of `scheduler_queue_incoming_pods_total`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IncomingQueue {
    /// The active queue.
    Active,
    /// The backoff queue.
    Backoff,
    /// The unschedulable pool (which also holds gated pods, as upstream's).
    Unschedulable,
}

impl IncomingQueue {
    fn as_str(self) -> &'static str {
        match self {
            IncomingQueue::Active => "active",
            IncomingQueue::Backoff => "backoff",
            IncomingQueue::Unschedulable => "unschedulable",
        }
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ProfileResult {
    profile: Arc<str>,
    result: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct AttemptsLabel {
    attempts: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct QueueEvent {
    event: &'static str,
    queue: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ExtensionPointLabels {
    extension_point: &'static str,
    profile: Arc<str>,
    status: &'static str,
}

/// The `attempts` label values of the SLI histogram: `0` … `14`, then `15+`.
const ATTEMPTS: [&str; 16] = [
    "0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "10", "11", "12", "13", "14", "15+",
];

type HistogramFamily<S> = Family<S, Histogram, fn() -> Histogram>;

/// The scheduler's metrics (see the [module docs](self) for what each records).
///
/// Shared by the [`Scheduler`](crate::Scheduler) (see [`Scheduler::metrics`]) with its queue
/// and its profiles' frameworks.
///
/// [`Scheduler::metrics`]: crate::Scheduler::metrics
pub struct Metrics {
    registry: Registry,
    schedule_attempts: Family<ProfileResult, Counter>,
    attempt_duration: HistogramFamily<ProfileResult>,
    algorithm_duration: Histogram,
    sli_duration: HistogramFamily<AttemptsLabel>,
    sli_by_attempts: [OnceLock<Histogram>; ATTEMPTS.len()],
    pod_scheduling_attempts: Histogram,
    queue_incoming: Family<QueueEvent, Counter>,
    preemption_attempts: Counter,
    preemption_victims: Histogram,
    extension_point_duration: HistogramFamily<ExtensionPointLabels>,
    profiles: Mutex<Vec<Arc<ProfileMetrics>>>,
}

impl fmt::Debug for Metrics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Metrics")
            .field(
                "scheduled",
                &self.schedule_attempts(AttemptResult::Scheduled),
            )
            .field(
                "unschedulable",
                &self.schedule_attempts(AttemptResult::Unschedulable),
            )
            .field("error", &self.schedule_attempts(AttemptResult::Error))
            .finish_non_exhaustive()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

impl Metrics {
    /// The metrics, all zero, without `scheduler_pending_pods` (see
    /// [`with_queue`](Self::with_queue)).
    pub fn new() -> Self {
        let mut registry = Registry::default();
        let schedule_attempts = Family::<ProfileResult, Counter>::default();
        registry.register(
            "scheduler_schedule_attempts",
            "Number of attempts to schedule pods, by the result. 'unschedulable' means a pod could not be scheduled, while 'error' means an internal scheduler problem",
            schedule_attempts.clone(),
        );
        let attempt_duration: HistogramFamily<ProfileResult> =
            Family::new_with_constructor(attempt_histogram);
        registry.register(
            "scheduler_scheduling_attempt_duration_seconds",
            "Scheduling attempt latency in seconds (scheduling algorithm + binding)",
            attempt_duration.clone(),
        );
        let algorithm_duration = attempt_histogram();
        registry.register(
            "scheduler_scheduling_algorithm_duration_seconds",
            "Scheduling algorithm latency in seconds",
            algorithm_duration.clone(),
        );
        let sli_duration: HistogramFamily<AttemptsLabel> =
            Family::new_with_constructor(sli_histogram);
        registry.register(
            "scheduler_pod_scheduling_sli_duration_seconds",
            "E2e latency for a pod being scheduled, from the time the pod enters the scheduling queue and might involve multiple scheduling attempts",
            sli_duration.clone(),
        );
        let pod_scheduling_attempts = Histogram::new(doubling(1.0, 5));
        registry.register(
            "scheduler_pod_scheduling_attempts",
            "Number of attempts to successfully schedule a pod",
            pod_scheduling_attempts.clone(),
        );
        let queue_incoming = Family::<QueueEvent, Counter>::default();
        registry.register(
            "scheduler_queue_incoming_pods",
            "Number of pods added to scheduling queues by event and queue type",
            queue_incoming.clone(),
        );
        let preemption_attempts = Counter::default();
        registry.register(
            "scheduler_preemption_attempts",
            "Total preemption attempts in the cluster till now",
            preemption_attempts.clone(),
        );
        let preemption_victims = Histogram::new(doubling(1.0, 7));
        registry.register(
            "scheduler_preemption_victims",
            "Number of selected preemption victims",
            preemption_victims.clone(),
        );
        let extension_point_duration: HistogramFamily<ExtensionPointLabels> =
            Family::new_with_constructor(extension_point_histogram);
        registry.register(
            "scheduler_framework_extension_point_duration_seconds",
            "Latency for running all plugins of a specific extension point",
            extension_point_duration.clone(),
        );
        Metrics {
            registry,
            schedule_attempts,
            attempt_duration,
            algorithm_duration,
            sli_duration,
            sli_by_attempts: Default::default(),
            pod_scheduling_attempts,
            queue_incoming,
            preemption_attempts,
            preemption_victims,
            extension_point_duration,
            profiles: Mutex::new(Vec::new()),
        }
    }

    /// The metrics of a scheduler whose queue is `queue`: `scheduler_pending_pods` is read
    /// from it at each scrape, and it counts `scheduler_queue_incoming_pods_total` (into the
    /// first `Metrics` made for it, if several are).
    pub fn with_queue(queue: Arc<SchedulingQueue>) -> Self {
        let mut m = Metrics::new();
        queue.set_metrics(QueueMetrics {
            family: m.queue_incoming.clone(),
            cells: std::array::from_fn(|_| Default::default()),
        });
        m.registry
            .register_collector(Box::new(PendingPodsCollector(queue)));
        m
    }

    /// The series of profile `profile` (made on first use; the scheduler gives them to the
    /// profile's framework). Its `scheduler_schedule_attempts_total` counters start at zero.
    pub fn profile(&self, profile: &str) -> Arc<ProfileMetrics> {
        let mut profiles = self.profiles.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(p) = profiles.iter().find(|p| &*p.profile == profile) {
            return p.clone();
        }
        let name: Arc<str> = profile.into();
        let attempts = AttemptResult::ALL.map(|r| {
            self.schedule_attempts.get_or_create_owned(&ProfileResult {
                profile: name.clone(),
                result: r.as_str(),
            })
        });
        let p = Arc::new(ProfileMetrics {
            profile: name,
            attempts,
            durations: Default::default(),
            attempt_duration: self.attempt_duration.clone(),
            extension_points: std::array::from_fn(|_| Default::default()),
            extension_point_duration: self.extension_point_duration.clone(),
            preemption_attempts: self.preemption_attempts.clone(),
        });
        profiles.push(p.clone());
        p
    }

    /// `scheduler_schedule_attempts_total` with this result, summed over the profiles.
    pub fn schedule_attempts(&self, result: AttemptResult) -> u64 {
        let profiles = self.profiles.lock().unwrap_or_else(|e| e.into_inner());
        profiles
            .iter()
            .map(|p| p.attempts[result as usize].get())
            .sum()
    }

    /// `scheduler_preemption_attempts_total`.
    pub fn preemption_attempts(&self) -> u64 {
        self.preemption_attempts.get()
    }

    /// Every metric in the Prometheus text format 0.0.4 ([`CONTENT_TYPE`]).
    pub fn render(&self) -> String {
        let mut out = String::with_capacity(16 * 1024);
        // Writing into a String cannot fail.
        let _ = prometheus_text::encode(&mut out, &self.registry);
        out
    }

    /// A pod was bound: how many attempts it took and how long since it entered the queue.
    pub(crate) fn pod_scheduled(&self, q: &QueuedPodInfo) {
        self.pod_scheduling_attempts.observe(f64::from(q.attempts));
        let i = (q.attempts as usize).min(ATTEMPTS.len() - 1);
        self.sli_by_attempts[i]
            .get_or_init(|| {
                self.sli_duration.get_or_create_owned(&AttemptsLabel {
                    attempts: ATTEMPTS[i],
                })
            })
            .observe(q.initial_attempt_timestamp.elapsed().as_secs_f64());
    }

    /// The scheduling algorithm found a node after `elapsed`.
    pub(crate) fn algorithm_done(&self, elapsed: Duration) {
        self.algorithm_duration.observe(elapsed.as_secs_f64());
    }

    /// A preemption nominated a node, evicting `victims` pods.
    pub(crate) fn preempted(&self, victims: usize) {
        self.preemption_victims.observe(victims as f64);
    }
}

/// The series of one profile: its attempts and its extension points' durations.
pub struct ProfileMetrics {
    profile: Arc<str>,
    attempts: [Counter; 3],
    durations: [OnceLock<Histogram>; 3],
    attempt_duration: HistogramFamily<ProfileResult>,
    extension_points: [[OnceLock<Histogram>; CODES]; ExtensionPoint::COUNT],
    extension_point_duration: HistogramFamily<ExtensionPointLabels>,
    preemption_attempts: Counter,
}

impl fmt::Debug for ProfileMetrics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProfileMetrics")
            .field("profile", &self.profile)
            .finish_non_exhaustive()
    }
}

impl ProfileMetrics {
    /// The profile name.
    pub fn profile(&self) -> &str {
        &self.profile
    }

    /// One attempt, popped at `started`, ended with `result`.
    pub fn attempt(&self, result: AttemptResult, started: Instant) {
        let i = result as usize;
        self.attempts[i].inc();
        self.durations[i]
            .get_or_init(|| {
                self.attempt_duration.get_or_create_owned(&ProfileResult {
                    profile: self.profile.clone(),
                    result: result.as_str(),
                })
            })
            .observe(started.elapsed().as_secs_f64());
    }

    /// One run of `point` that ended with `code` after `elapsed`.
    pub fn extension_point(&self, point: ExtensionPoint, code: Code, elapsed: Duration) {
        let (c, status) = code_label(code);
        self.extension_points[point as usize][c]
            .get_or_init(|| {
                self.extension_point_duration
                    .get_or_create_owned(&ExtensionPointLabels {
                        extension_point: point.as_str(),
                        profile: self.profile.clone(),
                        status,
                    })
            })
            .observe(elapsed.as_secs_f64());
    }

    /// One preemption attempt (a PostFilter run).
    pub fn preemption_attempt(&self) {
        self.preemption_attempts.inc();
    }
}

/// The queue's `scheduler_queue_incoming_pods_total` series, resolved on first use.
pub(crate) struct QueueMetrics {
    family: Family<QueueEvent, Counter>,
    cells: [[OnceLock<Counter>; IncomingEvent::COUNT]; 3],
}

impl QueueMetrics {
    /// A pod entered `queue` because of `event`.
    pub(crate) fn incoming(&self, queue: IncomingQueue, event: IncomingEvent) {
        self.cells[queue as usize][event.index()]
            .get_or_init(|| {
                self.family.get_or_create_owned(&QueueEvent {
                    event: event.as_str(),
                    queue: queue.as_str(),
                })
            })
            .inc();
    }
}

/// `scheduler_pending_pods`, read from the queue at each scrape.
#[derive(Debug)]
struct PendingPodsCollector(Arc<SchedulingQueue>);

impl Collector for PendingPodsCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), fmt::Error> {
        let p = self.0.pending();
        let mut family = encoder.encode_descriptor(
            "scheduler_pending_pods",
            "Number of pending pods, by the queue type. 'active' means number of pods in activeQ; 'backoff' means number of pods in backoffQ; 'unschedulable' means number of pods in unschedulablePods that the scheduler attempted to schedule and failed; 'gated' is the number of unschedulable pods that the scheduler never attempted to schedule because they are gated",
            None,
            MetricType::Gauge,
        )?;
        for (queue, n) in [
            ("active", p.active),
            ("backoff", p.backoff),
            ("unschedulable", p.unschedulable),
            ("gated", p.gated),
        ] {
            let gauge = ConstGauge::new(n as i64);
            gauge.encode(family.encode_family(&[("queue", queue)])?)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_upstream_names_labels_and_buckets() {
        let m = Metrics::new();
        let p = m.profile("default-scheduler");
        let started = Instant::now();
        p.attempt(AttemptResult::Scheduled, started);
        p.attempt(AttemptResult::Scheduled, started);
        p.extension_point(
            ExtensionPoint::Permit,
            Code::Wait,
            Duration::from_micros(150),
        );
        p.preemption_attempt();
        m.preempted(3);
        assert_eq!(m.schedule_attempts(AttemptResult::Scheduled), 2);
        assert!(Arc::ptr_eq(&p, &m.profile("default-scheduler")));
        let text = m.render();
        for line in [
            "# TYPE scheduler_schedule_attempts_total counter",
            "scheduler_schedule_attempts_total{profile=\"default-scheduler\",result=\"scheduled\"} 2",
            "scheduler_schedule_attempts_total{profile=\"default-scheduler\",result=\"unschedulable\"} 0",
            "# TYPE scheduler_scheduling_attempt_duration_seconds histogram",
            "scheduler_scheduling_attempt_duration_seconds_bucket{profile=\"default-scheduler\",result=\"scheduled\",le=\"0.001\"} 2",
            "scheduler_scheduling_attempt_duration_seconds_bucket{profile=\"default-scheduler\",result=\"scheduled\",le=\"16.384\"} 2",
            "scheduler_scheduling_attempt_duration_seconds_bucket{profile=\"default-scheduler\",result=\"scheduled\",le=\"+Inf\"} 2",
            "scheduler_scheduling_attempt_duration_seconds_count{profile=\"default-scheduler\",result=\"scheduled\"} 2",
            "scheduler_framework_extension_point_duration_seconds_bucket{extension_point=\"Permit\",profile=\"default-scheduler\",status=\"Wait\",le=\"0.0001\"} 0",
            "scheduler_framework_extension_point_duration_seconds_bucket{extension_point=\"Permit\",profile=\"default-scheduler\",status=\"Wait\",le=\"0.0002\"} 1",
            "scheduler_framework_extension_point_duration_seconds_bucket{extension_point=\"Permit\",profile=\"default-scheduler\",status=\"Wait\",le=\"0.2048\"} 1",
            "scheduler_preemption_attempts_total 1",
            "scheduler_preemption_victims_bucket{le=\"2\"} 0",
            "scheduler_preemption_victims_bucket{le=\"4\"} 1",
            "scheduler_preemption_victims_bucket{le=\"64\"} 1",
            "# TYPE scheduler_pod_scheduling_attempts histogram",
        ] {
            assert!(text.contains(line), "{line:?} missing in\n{text}");
        }
        // No pending-pods gauge without a queue; no series for results not seen.
        assert!(!text.contains("scheduler_pending_pods"), "{text}");
        assert!(!text.contains("result=\"error\",le="), "{text}");
    }

    #[tokio::test(start_paused = true)]
    async fn queue_counts_incoming_and_pending_pods() {
        use crate::testing::pod;
        use crate::types::PodInfo;
        let queue = Arc::new(SchedulingQueue::default());
        let m = Metrics::with_queue(queue.clone());
        queue.add(Arc::new(PodInfo::new(pod("a").obj())));
        queue.add(Arc::new(PodInfo::new(pod("b").obj())));
        let q = queue.try_pop().unwrap();
        queue.add_backoff(q);
        let gated = pod("g")
            .with_spec(|s| {
                s.scheduling_gates = Some(vec![k8s_openapi::api::core::v1::PodSchedulingGate {
                    name: "x".into(),
                }])
            })
            .obj();
        queue.add(Arc::new(PodInfo::new(gated)));
        let text = m.render();
        for line in [
            "# TYPE scheduler_pending_pods gauge",
            "scheduler_pending_pods{queue=\"active\"} 1",
            "scheduler_pending_pods{queue=\"backoff\"} 1",
            "scheduler_pending_pods{queue=\"unschedulable\"} 0",
            "scheduler_pending_pods{queue=\"gated\"} 1",
            "scheduler_queue_incoming_pods_total{event=\"UnschedulablePodAdd\",queue=\"active\"} 2",
            "scheduler_queue_incoming_pods_total{event=\"ScheduleAttemptFailure\",queue=\"backoff\"} 1",
            "scheduler_queue_incoming_pods_total{event=\"UnschedulablePodAdd\",queue=\"unschedulable\"} 1",
        ] {
            assert!(text.contains(line), "{line:?} missing in\n{text}");
        }
        tokio::time::advance(Duration::from_millis(1001)).await;
        assert!(queue.try_pop().is_some());
        assert!(m.render().contains(
            "scheduler_queue_incoming_pods_total{event=\"BackoffComplete\",queue=\"active\"} 1"
        ));
    }
}
