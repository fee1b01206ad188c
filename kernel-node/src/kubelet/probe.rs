//! Liveness, readiness and startup probes: upstream's `pkg/kubelet/prober` (`worker.go`'s
//! `doProbe`, `prober_manager.go`'s `UpdatePodStatus`, `prober.go`'s events).
//!
//! [`Probers`] holds one task per probe of each container of a pod. The pod worker publishes
//! what it sees of its containers ([`Target`]s, through a watch channel); each task probes its
//! container every `periodSeconds` (and at once when its container changes), applies the
//! thresholds ([`Tracker`]) and stores the result, keyed by the container's runtime id so a
//! restarted container starts over from the probe's initial value. A changed result wakes the
//! worker ([`Probers::changed`]), which then writes `ready` / `started` and the pod's
//! conditions, or kills a container whose liveness (startup) probe failed.
//!
//! Semantics as upstream: defaults `periodSeconds` 10, `timeoutSeconds` 1,
//! `successThreshold` 1, `failureThreshold` 3; nothing is probed before
//! `initialDelaySeconds` have passed since the container started; liveness and readiness
//! wait for the startup probe to succeed, and the startup probe stops once it did; a
//! readiness probe starts out failed, liveness and startup unknown (a container is live until
//! its probe fails); after a liveness or startup failure the probe holds until a new container
//! runs; a probe that could not run (an error, not a failure) is retried up to 3 times and
//! then thrown away.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use k8s_openapi::api::core::v1::{Container, Pod, Probe};
use tokio::sync::{watch, Notify};
use tokio::task::{AbortHandle, JoinSet};

use super::events::{EventRecorder, EventType};
use crate::runtime::Runtime;

pub(super) mod handlers;

use handlers::{Handler, Outcome, Place};

/// How often a probe that errored is retried at once (upstream `maxProbeRetries`).
const MAX_PROBE_RETRIES: u32 = 3;

/// Which probe.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum ProbeKind {
    /// `livenessProbe`: a failure kills the container.
    Liveness,
    /// `readinessProbe`: drives `ready`.
    Readiness,
    /// `startupProbe`: gates the other two; a failure kills the container.
    Startup,
}

impl ProbeKind {
    /// As upstream's events say it (`Liveness probe failed: ...`).
    pub(crate) fn title(self) -> &'static str {
        match self {
            ProbeKind::Liveness => "Liveness",
            ProbeKind::Readiness => "Readiness",
            ProbeKind::Startup => "Startup",
        }
    }

    /// The result of a container not probed yet.
    fn initial(self) -> ProbeResult {
        match self {
            ProbeKind::Readiness => ProbeResult::Failure,
            ProbeKind::Liveness | ProbeKind::Startup => ProbeResult::Unknown,
        }
    }
}

/// A probe's stored result (upstream `results.Result`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ProbeResult {
    /// Healthy (past `successThreshold`).
    Success,
    /// Unhealthy (past `failureThreshold`), or the container is not running.
    Failure,
    /// Not probed yet.
    Unknown,
}

/// A probe's settings with upstream's defaults.
#[derive(Clone, Debug)]
pub(crate) struct ProbeSpec {
    /// Which probe.
    pub kind: ProbeKind,
    /// `initialDelaySeconds` (0).
    pub initial_delay: Duration,
    /// `periodSeconds` (10, at least 1).
    pub period: Duration,
    /// `timeoutSeconds` (1, at least 1).
    pub timeout: Duration,
    /// `successThreshold` (1).
    pub success_threshold: u32,
    /// `failureThreshold` (3).
    pub failure_threshold: u32,
    /// The probe's `terminationGracePeriodSeconds`, if set.
    pub termination_grace: Option<i64>,
    /// The handler, or why there is none that works (every probe then errors).
    handler: Result<Handler, String>,
}

impl ProbeSpec {
    /// `probe` of `container` as `kind`.
    pub(crate) fn new(kind: ProbeKind, probe: &Probe, container: &Container) -> ProbeSpec {
        let seconds = |v: Option<i32>, default: i32, min: i32| {
            Duration::from_secs(v.filter(|v| *v > 0).unwrap_or(default).max(min) as u64)
        };
        let count = |v: Option<i32>, default: i32| v.filter(|v| *v > 0).unwrap_or(default) as u32;
        ProbeSpec {
            kind,
            initial_delay: Duration::from_secs(
                probe.initial_delay_seconds.unwrap_or(0).max(0) as u64
            ),
            period: seconds(probe.period_seconds, 10, 1),
            timeout: seconds(probe.timeout_seconds, 1, 1),
            success_threshold: count(probe.success_threshold, 1),
            failure_threshold: count(probe.failure_threshold, 3),
            termination_grace: probe.termination_grace_period_seconds,
            handler: Handler::of(probe, container),
        }
    }
}

/// A container as the pod worker last saw it: its newest runtime container.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Target {
    /// The runtime's id of the container.
    pub container_id: String,
    /// It runs.
    pub running: bool,
    /// When it started.
    pub started_at: Option<SystemTime>,
    /// The pod's IP.
    pub pod_ip: Option<String>,
    /// Its startup probe succeeded (or it has none).
    pub started: bool,
}

/// What [`Tracker::before`] says to do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Before {
    /// Store this result for the target container first.
    pub set: Option<ProbeResult>,
    /// Then probe it.
    pub probe: bool,
}

/// The threshold logic of one probe (upstream `worker.doProbe`), free of I/O.
#[derive(Clone, Debug)]
pub(crate) struct Tracker {
    kind: ProbeKind,
    initial_delay: Duration,
    success_threshold: u32,
    failure_threshold: u32,
    container_id: Option<String>,
    last: Option<ProbeResult>,
    run: u32,
    on_hold: bool,
}

impl Tracker {
    /// A tracker for `spec`'s probe, no container seen yet.
    pub(crate) fn new(spec: &ProbeSpec) -> Tracker {
        Tracker {
            kind: spec.kind,
            initial_delay: spec.initial_delay,
            success_threshold: spec.success_threshold,
            failure_threshold: spec.failure_threshold,
            container_id: None,
            last: None,
            run: 0,
            on_hold: false,
        }
    }

    /// Before a probe of `target` at `now`: a new container resets the probe to its initial
    /// result; a container that does not run fails; nothing is probed on hold, within the
    /// initial delay, before the container started (but the startup probe) or after (the
    /// startup probe).
    pub(crate) fn before(&mut self, target: Option<&Target>, now: SystemTime) -> Before {
        let mut out = Before {
            set: None,
            probe: false,
        };
        let Some(target) = target else {
            return out;
        };
        if self.container_id.as_deref() != Some(target.container_id.as_str()) {
            self.container_id = Some(target.container_id.clone());
            self.on_hold = false;
            self.last = None;
            self.run = 0;
            out.set = Some(self.kind.initial());
        }
        if self.on_hold {
            return out;
        }
        if !target.running {
            out.set = Some(ProbeResult::Failure);
            return out;
        }
        let ran_for = target
            .started_at
            .and_then(|at| now.duration_since(at).ok())
            .unwrap_or_default();
        // Whole seconds, as upstream compares them.
        if Duration::from_secs(ran_for.as_secs()) < self.initial_delay {
            return out;
        }
        if target.started == (self.kind == ProbeKind::Startup) {
            return out;
        }
        out.probe = true;
        out
    }

    /// After a probe that ended `result` (`Success` or `Failure`): the result to store once
    /// it held `successThreshold` / `failureThreshold` times in a row, else `None`.
    pub(crate) fn after(&mut self, result: ProbeResult) -> Option<ProbeResult> {
        if self.last == Some(result) {
            self.run += 1;
        } else {
            self.last = Some(result);
            self.run = 1;
        }
        let threshold = match result {
            ProbeResult::Failure => self.failure_threshold,
            ProbeResult::Success => self.success_threshold,
            ProbeResult::Unknown => return None,
        };
        if self.run < threshold {
            return None;
        }
        if result == ProbeResult::Failure && self.kind != ProbeKind::Readiness {
            // The container will be killed: hold until a new one runs.
            self.on_hold = true;
            self.run = 0;
        }
        Some(result)
    }
}

/// The results of one pod's probes, shared by its probe tasks and its worker.
#[derive(Default)]
struct Results {
    /// (container name, probe) → (runtime container id, result).
    by_probe: Mutex<HashMap<(String, ProbeKind), (String, ProbeResult)>>,
    /// Woken when a result changes.
    changed: Notify,
}

impl Results {
    fn get(&self, name: &str, kind: ProbeKind, container_id: &str) -> Option<ProbeResult> {
        let map = self.by_probe.lock().unwrap_or_else(|e| e.into_inner());
        map.get(&(name.to_owned(), kind))
            .filter(|(id, _)| id == container_id)
            .map(|(_, r)| *r)
    }

    fn set(&self, name: &str, kind: ProbeKind, container_id: &str, result: ProbeResult) {
        let mut map = self.by_probe.lock().unwrap_or_else(|e| e.into_inner());
        let value = (container_id.to_owned(), result);
        let old = map.insert((name.to_owned(), kind), value.clone());
        drop(map);
        if old.as_ref() != Some(&value) {
            self.changed.notify_one();
        }
    }
}

/// Why a container must be killed: its liveness or startup probe failed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct KillReason {
    /// Which probe failed.
    pub kind: ProbeKind,
    /// The probe's `terminationGracePeriodSeconds`, if set.
    pub termination_grace: Option<i64>,
}

/// The probes of one pod (see the [module docs](self)); the tasks stop when it is dropped.
pub(crate) struct Probers {
    results: Arc<Results>,
    targets: watch::Sender<HashMap<String, Target>>,
    /// (container name, probe) → its spec, for every probe the pod has.
    specs: HashMap<(String, ProbeKind), ProbeSpec>,
    /// The liveness and startup tasks, stopped when the pod terminates.
    killers: Vec<AbortHandle>,
    _tasks: JoinSet<()>,
}

impl Probers {
    /// Starts a task for every probe of `pod`'s containers.
    pub(crate) fn start(pod: &Pod, runtime: Arc<dyn Runtime>, events: EventRecorder) -> Probers {
        let results = Arc::new(Results::default());
        let (targets, _) = watch::channel(HashMap::new());
        let mut specs = HashMap::new();
        let mut tasks = JoinSet::new();
        let mut killers = Vec::new();
        for container in pod.spec.iter().flat_map(|s| s.containers.iter()) {
            let probes = [
                (ProbeKind::Startup, &container.startup_probe),
                (ProbeKind::Liveness, &container.liveness_probe),
                (ProbeKind::Readiness, &container.readiness_probe),
            ];
            for (kind, probe) in probes {
                let Some(probe) = probe else { continue };
                let spec = ProbeSpec::new(kind, probe, container);
                specs.insert((container.name.clone(), kind), spec.clone());
                let handle = tasks.spawn(run_probe(ProbeTask {
                    spec,
                    name: container.name.clone(),
                    results: results.clone(),
                    targets: targets.subscribe(),
                    runtime: runtime.clone(),
                    events: events.clone(),
                }));
                if kind != ProbeKind::Readiness {
                    killers.push(handle);
                }
            }
        }
        Probers {
            results,
            targets,
            specs,
            killers,
            _tasks: tasks,
        }
    }

    /// The pod is terminating: liveness and startup probes stop (its containers are being
    /// stopped anyway), readiness goes on, as upstream.
    pub(crate) fn terminating(&mut self) {
        for handle in self.killers.drain(..) {
            handle.abort();
        }
    }

    /// Whether any container of the pod has a probe.
    pub(crate) fn is_empty(&self) -> bool {
        self.specs.is_empty()
    }

    fn has(&self, name: &str, kind: ProbeKind) -> bool {
        self.specs.contains_key(&(name.to_owned(), kind))
    }

    /// Tells the probes what the containers are now (by name: the newest runtime container).
    pub(crate) fn update(&self, targets: HashMap<String, Target>) {
        self.targets.send_if_modified(|old| {
            if *old == targets {
                false
            } else {
                *old = targets;
                true
            }
        });
    }

    /// Resolves once a result changed since the last call.
    pub(crate) async fn changed(&self) {
        self.results.changed.notified().await
    }

    /// `started` of the running container `container_id` of `name`: its startup probe
    /// succeeded, or it has none.
    pub(crate) fn started(&self, name: &str, container_id: &str) -> bool {
        !self.has(name, ProbeKind::Startup)
            || self.results.get(name, ProbeKind::Startup, container_id)
                == Some(ProbeResult::Success)
    }

    /// `ready` of the running container `container_id` of `name`: started, and its
    /// readiness probe succeeded (or it has none).
    pub(crate) fn ready(&self, name: &str, container_id: &str) -> bool {
        self.started(name, container_id)
            && (!self.has(name, ProbeKind::Readiness)
                || self.results.get(name, ProbeKind::Readiness, container_id)
                    == Some(ProbeResult::Success))
    }

    /// Why the running container `container_id` of `name` must be killed, if it must.
    pub(crate) fn kill_reason(&self, name: &str, container_id: &str) -> Option<KillReason> {
        [ProbeKind::Liveness, ProbeKind::Startup]
            .into_iter()
            .find(|kind| self.results.get(name, *kind, container_id) == Some(ProbeResult::Failure))
            .map(|kind| KillReason {
                kind,
                termination_grace: self
                    .specs
                    .get(&(name.to_owned(), kind))
                    .and_then(|s| s.termination_grace),
            })
    }

    /// The names of containers with a probe, for the worker's targets.
    pub(crate) fn probed_containers(&self) -> HashSet<&str> {
        self.specs.keys().map(|(name, _)| name.as_str()).collect()
    }
}

/// What one probe task works with.
struct ProbeTask {
    spec: ProbeSpec,
    name: String,
    results: Arc<Results>,
    targets: watch::Receiver<HashMap<String, Target>>,
    runtime: Arc<dyn Runtime>,
    events: EventRecorder,
}

/// One probe of one container, every period and whenever its container changes, until the
/// [`Probers`] are dropped.
async fn run_probe(mut task: ProbeTask) {
    let spec = task.spec.clone();
    let mut tracker = Tracker::new(&spec);
    let mut ticks = tokio::time::interval(spec.period);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut last_target: Option<Target> = None;
    loop {
        tokio::select! {
            _ = ticks.tick() => {}
            changed = task.targets.changed() => {
                if changed.is_err() {
                    return;
                }
                let now = task.targets.borrow_and_update().get(&task.name).cloned();
                if now == last_target {
                    continue;
                }
                // Probe the changed container now; the next tick a period later.
                ticks.reset();
            }
        }
        let target = task.targets.borrow_and_update().get(&task.name).cloned();
        last_target = target.clone();
        let Some(target) = target else { continue };
        let before = tracker.before(Some(&target), SystemTime::now());
        if let Some(result) = before.set {
            task.results
                .set(&task.name, spec.kind, &target.container_id, result);
        }
        if !before.probe {
            continue;
        }
        let Some(result) = probe_once(&task, &target).await else {
            continue;
        };
        if let Some(result) = tracker.after(result) {
            task.results
                .set(&task.name, spec.kind, &target.container_id, result);
        }
    }
}

/// Runs the handler (retrying errors), records `Unhealthy` on a failure; `None` when the
/// probe could not run.
async fn probe_once(task: &ProbeTask, target: &Target) -> Option<ProbeResult> {
    let spec = &task.spec;
    let handler = match &spec.handler {
        Ok(h) => h,
        Err(e) => {
            tracing::debug!(container = %task.name, probe = spec.kind.title(), error = %e, "probe cannot run");
            return None;
        }
    };
    let place = Place {
        container_id: &target.container_id,
        pod_ip: target.pod_ip.as_deref(),
    };
    let mut outcome = Err(String::new());
    for _ in 0..MAX_PROBE_RETRIES {
        outcome = handler.run(&task.runtime, place, spec.timeout).await;
        if outcome.is_ok() {
            break;
        }
    }
    match outcome {
        Ok(Outcome::Success(_)) => Some(ProbeResult::Success),
        Ok(Outcome::Warning(output)) => {
            task.events.container_event(
                &task.name,
                EventType::Warning,
                "ProbeWarning",
                format!("{} probe warning: {}", spec.kind.title(), output.trim_end()),
            );
            Some(ProbeResult::Success)
        }
        Ok(Outcome::Failure(output)) => {
            tracing::info!(container = %task.name, probe = spec.kind.title(), %output, "probe failed");
            task.events.container_event(
                &task.name,
                EventType::Warning,
                "Unhealthy",
                format!("{} probe failed: {}", spec.kind.title(), output.trim_end()),
            );
            Some(ProbeResult::Failure)
        }
        Err(e) => {
            tracing::info!(container = %task.name, probe = spec.kind.title(), error = %e, "probe errored");
            task.events.container_event(
                &task.name,
                EventType::Warning,
                "Unhealthy",
                format!(
                    "{} probe errored and resulted in unknown state: {e}",
                    spec.kind.title()
                ),
            );
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(kind: ProbeKind, probe: serde_json::Value) -> ProbeSpec {
        let probe: Probe = serde_json::from_value(probe).unwrap();
        let container: Container =
            serde_json::from_value(serde_json::json!({ "name": "c" })).unwrap();
        ProbeSpec::new(kind, &probe, &container)
    }

    fn running(id: &str, started_at: SystemTime, started: bool) -> Target {
        Target {
            container_id: id.into(),
            running: true,
            started_at: Some(started_at),
            pod_ip: None,
            started,
        }
    }

    #[test]
    fn defaults_are_upstreams() {
        let s = spec(
            ProbeKind::Liveness,
            serde_json::json!({ "exec": { "command": ["true"] } }),
        );
        assert_eq!(s.period, Duration::from_secs(10));
        assert_eq!(s.timeout, Duration::from_secs(1));
        assert_eq!(s.success_threshold, 1);
        assert_eq!(s.failure_threshold, 3);
        assert_eq!(s.initial_delay, Duration::ZERO);
        assert_eq!(s.termination_grace, None);
        let s = spec(
            ProbeKind::Readiness,
            serde_json::json!({ "tcpSocket": { "port": "web" }, "periodSeconds": 2,
                "successThreshold": 2, "failureThreshold": 1, "terminationGracePeriodSeconds": 5 }),
        );
        assert_eq!(s.period, Duration::from_secs(2));
        assert_eq!((s.success_threshold, s.failure_threshold), (2, 1));
        assert_eq!(s.termination_grace, Some(5));
        assert!(s.handler.is_err(), "the container has no port named web");
    }

    #[test]
    fn failures_count_up_to_the_threshold_and_then_hold() {
        let s = spec(
            ProbeKind::Liveness,
            serde_json::json!({ "exec": { "command": ["x"] } }),
        );
        let mut t = Tracker::new(&s);
        let t0 = SystemTime::now();
        let c = running("a", t0, true);
        let first = t.before(Some(&c), t0);
        assert_eq!(
            first.set,
            Some(ProbeResult::Unknown),
            "a new container starts over"
        );
        assert!(first.probe);
        assert_eq!(t.after(ProbeResult::Failure), None);
        assert_eq!(t.after(ProbeResult::Failure), None);
        assert_eq!(t.after(ProbeResult::Failure), Some(ProbeResult::Failure));
        // Held: the container is being killed.
        assert_eq!(
            t.before(Some(&c), t0),
            Before {
                set: None,
                probe: false
            }
        );
        // A new container probes again, from the initial result.
        let c2 = running("b", t0, true);
        assert_eq!(
            t.before(Some(&c2), t0),
            Before {
                set: Some(ProbeResult::Unknown),
                probe: true
            }
        );
        // A success in between resets the run of failures.
        assert_eq!(t.after(ProbeResult::Failure), None);
        assert_eq!(t.after(ProbeResult::Failure), None);
        assert_eq!(t.after(ProbeResult::Success), Some(ProbeResult::Success));
        assert_eq!(t.after(ProbeResult::Failure), None);
    }

    #[test]
    fn readiness_needs_its_success_threshold_and_never_holds() {
        let s = spec(
            ProbeKind::Readiness,
            serde_json::json!({ "exec": { "command": ["x"] }, "successThreshold": 2, "failureThreshold": 1 }),
        );
        let mut t = Tracker::new(&s);
        let t0 = SystemTime::now();
        let c = running("a", t0, true);
        assert_eq!(t.before(Some(&c), t0).set, Some(ProbeResult::Failure));
        assert_eq!(t.after(ProbeResult::Success), None);
        assert_eq!(t.after(ProbeResult::Success), Some(ProbeResult::Success));
        assert_eq!(t.after(ProbeResult::Failure), Some(ProbeResult::Failure));
        assert!(t.before(Some(&c), t0).probe, "readiness goes on probing");
    }

    #[test]
    fn nothing_is_probed_within_the_initial_delay_or_on_a_stopped_container() {
        let s = spec(
            ProbeKind::Liveness,
            serde_json::json!({ "exec": { "command": ["x"] }, "initialDelaySeconds": 5 }),
        );
        let mut t = Tracker::new(&s);
        let t0 = SystemTime::now();
        let c = running("a", t0, true);
        assert!(!t.before(Some(&c), t0 + Duration::from_millis(4900)).probe);
        assert!(t.before(Some(&c), t0 + Duration::from_secs(5)).probe);
        let stopped = Target {
            running: false,
            ..c
        };
        assert_eq!(
            t.before(Some(&stopped), t0 + Duration::from_secs(6)),
            Before {
                set: Some(ProbeResult::Failure),
                probe: false
            }
        );
        assert_eq!(
            t.before(None, t0),
            Before {
                set: None,
                probe: false
            }
        );
    }

    #[test]
    fn the_startup_probe_gates_the_others() {
        let t0 = SystemTime::now();
        let live = spec(
            ProbeKind::Liveness,
            serde_json::json!({ "exec": { "command": ["x"] } }),
        );
        let start = spec(
            ProbeKind::Startup,
            serde_json::json!({ "exec": { "command": ["x"] } }),
        );
        let (mut l, mut s) = (Tracker::new(&live), Tracker::new(&start));
        let not_started = running("a", t0, false);
        assert!(
            !l.before(Some(&not_started), t0).probe,
            "liveness waits for startup"
        );
        assert!(s.before(Some(&not_started), t0).probe);
        let started = running("a", t0, true);
        assert!(l.before(Some(&started), t0).probe);
        assert!(
            !s.before(Some(&started), t0).probe,
            "startup stops once started"
        );
    }

    #[test]
    fn results_belong_to_one_container() {
        let r = Results::default();
        r.set("c", ProbeKind::Readiness, "a", ProbeResult::Success);
        assert_eq!(
            r.get("c", ProbeKind::Readiness, "a"),
            Some(ProbeResult::Success)
        );
        assert_eq!(
            r.get("c", ProbeKind::Readiness, "b"),
            None,
            "a restarted container"
        );
        assert_eq!(r.get("c", ProbeKind::Liveness, "a"), None);
    }
}
