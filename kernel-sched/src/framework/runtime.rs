//! [`Framework`]: the plugins of one profile by extension point, and the `run_*` methods that
//! call them in order (upstream `frameworkImpl`).

use std::fmt;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use super::plugins::*;
use super::{Code, CycleState, Status, WaitingPod, WaitingPods};
use crate::metrics::{ExtensionPoint, ProfileMetrics};
use crate::snapshot::Snapshot;
use crate::types::{NodeInfo, PodInfo};

/// How a plugin is configured into a profile: the instance and its score weight.
#[derive(Clone)]
pub struct PluginEntry {
    /// The plugin.
    pub plugin: Arc<dyn Plugin>,
    /// The score weight (ignored unless it scores).
    pub weight: i64,
}

/// The plugins of one profile, by extension point (upstream `frameworkImpl`).
pub struct Framework {
    pub(crate) profile_name: String,
    pub(crate) percentage_of_nodes_to_score: Option<i32>,
    pub(crate) queue_sort: Option<Arc<dyn QueueSortPlugin>>,
    pub(crate) pre_filter: Vec<Arc<dyn PreFilterPlugin>>,
    pub(crate) filter: Vec<Arc<dyn FilterPlugin>>,
    pub(crate) post_filter: Vec<Arc<dyn PostFilterPlugin>>,
    pub(crate) pre_score: Vec<Arc<dyn PreScorePlugin>>,
    pub(crate) score: Vec<(Arc<dyn ScorePlugin>, i64)>,
    pub(crate) reserve: Vec<Arc<dyn ReservePlugin>>,
    pub(crate) permit: Vec<Arc<dyn PermitPlugin>>,
    pub(crate) pre_bind: Vec<Arc<dyn PreBindPlugin>>,
    pub(crate) bind: Vec<Arc<dyn BindPlugin>>,
    pub(crate) post_bind: Vec<Arc<dyn PostBindPlugin>>,
    pub(crate) waiting_pods: WaitingPods,
    /// The profile's metrics, once attached: extension points are timed only then.
    pub(crate) metrics: OnceLock<Arc<ProfileMetrics>>,
}

impl fmt::Debug for Framework {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names = |v: Vec<&'static str>| v.join(",");
        f.debug_struct("Framework")
            .field("profile", &self.profile_name)
            .field(
                "filter",
                &names(self.filter.iter().map(|p| p.name()).collect()),
            )
            .field(
                "score",
                &names(self.score.iter().map(|p| p.0.name()).collect()),
            )
            .finish()
    }
}

impl Framework {
    /// Assembles a framework from plugin entries for each extension point. `multi_point`
    /// entries are enabled at every point they implement (upstream `multiPoint`).
    pub fn new(profile_name: impl Into<String>, multi_point: Vec<PluginEntry>) -> Self {
        let mut f = Framework {
            profile_name: profile_name.into(),
            percentage_of_nodes_to_score: None,
            queue_sort: None,
            pre_filter: Vec::new(),
            filter: Vec::new(),
            post_filter: Vec::new(),
            pre_score: Vec::new(),
            score: Vec::new(),
            reserve: Vec::new(),
            permit: Vec::new(),
            pre_bind: Vec::new(),
            bind: Vec::new(),
            post_bind: Vec::new(),
            waiting_pods: WaitingPods::default(),
            metrics: OnceLock::new(),
        };
        for e in multi_point {
            let x = e.plugin.extension_points();
            if f.queue_sort.is_none() {
                f.queue_sort = x.queue_sort;
            }
            f.pre_filter.extend(x.pre_filter);
            f.filter.extend(x.filter);
            f.post_filter.extend(x.post_filter);
            f.pre_score.extend(x.pre_score);
            f.score.extend(x.score.map(|s| (s, e.weight.max(1))));
            f.reserve.extend(x.reserve);
            f.permit.extend(x.permit);
            f.pre_bind.extend(x.pre_bind);
            f.bind.extend(x.bind);
            f.post_bind.extend(x.post_bind);
        }
        f
    }

    /// Sets the profile's `percentageOfNodesToScore` (0 or `None`: adaptive).
    pub fn with_percentage_of_nodes_to_score(mut self, p: Option<i32>) -> Self {
        self.percentage_of_nodes_to_score = p;
        self
    }

    /// Uses `waiting_pods` as this framework's map of pods held at Permit (shared by the
    /// profiles of one scheduler and given to plugins through their
    /// [`Handle`](crate::plugins::Handle)). By default each framework has its own.
    pub fn with_waiting_pods(mut self, waiting_pods: WaitingPods) -> Self {
        self.waiting_pods = waiting_pods;
        self
    }

    /// Records this framework's `scheduler_framework_extension_point_duration_seconds` (and
    /// preemption attempts) into `metrics` from now on; the first call wins. The
    /// [`Scheduler`](crate::Scheduler) attaches its profiles' series; a framework without
    /// them does not read the clock.
    pub fn set_metrics(&self, metrics: Arc<ProfileMetrics>) {
        let _ = self.metrics.set(metrics);
    }

    /// The profile's metrics, if attached.
    pub fn metrics(&self) -> Option<&Arc<ProfileMetrics>> {
        self.metrics.get()
    }

    /// The start of a timed extension point (`None`: not timed).
    #[inline]
    fn timer(&self) -> Option<Instant> {
        self.metrics.get().map(|_| Instant::now())
    }

    /// Records the run of `point` started at `started`.
    #[inline]
    fn observe(&self, point: ExtensionPoint, code: Code, started: Option<Instant>) {
        if let (Some(m), Some(t)) = (self.metrics.get(), started) {
            m.extension_point(point, code, t.elapsed());
        }
    }

    /// The pods held at Permit (upstream `Handle` waiting-pod methods).
    pub fn waiting_pods(&self) -> &WaitingPods {
        &self.waiting_pods
    }

    /// The pod with this UID held at Permit, if any.
    pub fn get_waiting_pod(&self, uid: &str) -> Option<Arc<WaitingPod>> {
        self.waiting_pods.get_waiting_pod(uid)
    }

    /// Calls `f` on every pod held at Permit.
    pub fn iterate_over_waiting_pods(&self, f: impl FnMut(&Arc<WaitingPod>)) {
        self.waiting_pods.iterate_over_waiting_pods(f)
    }

    /// Rejects the pod with this UID if it is held at Permit; whether it was.
    pub fn reject_waiting_pod(&self, uid: &str) -> bool {
        self.waiting_pods.reject_waiting_pod(uid)
    }

    /// The profile (scheduler) name.
    pub fn profile_name(&self) -> &str {
        &self.profile_name
    }

    /// The profile's `percentageOfNodesToScore`.
    pub fn percentage_of_nodes_to_score(&self) -> Option<i32> {
        self.percentage_of_nodes_to_score
    }

    /// The QueueSort plugin.
    pub fn queue_sort(&self) -> Option<&Arc<dyn QueueSortPlugin>> {
        self.queue_sort.as_ref()
    }

    /// Names of the enabled Filter plugins, in order.
    pub fn filter_plugin_names(&self) -> Vec<&'static str> {
        self.filter.iter().map(|p| p.name()).collect()
    }

    /// Names and weights of the enabled Score plugins, in order.
    pub fn score_plugin_weights(&self) -> Vec<(&'static str, i64)> {
        self.score.iter().map(|(p, w)| (p.name(), *w)).collect()
    }

    /// Runs PreFilter plugins. Returns the merged node-name restriction, or the rejecting status.
    pub fn run_pre_filter_plugins(
        &self,
        state: &mut CycleState,
        pod: &PodInfo,
        snapshot: &Snapshot,
    ) -> (Option<PreFilterResult>, Status) {
        let t = self.timer();
        let r = self.pre_filter(state, pod, snapshot);
        self.observe(ExtensionPoint::PreFilter, r.1.code(), t);
        r
    }

    fn pre_filter(
        &self,
        state: &mut CycleState,
        pod: &PodInfo,
        snapshot: &Snapshot,
    ) -> (Option<PreFilterResult>, Status) {
        let mut result: Option<PreFilterResult> = None;
        for p in &self.pre_filter {
            let (r, s) = p.pre_filter(state, pod, snapshot);
            if s.is_skip() {
                if let Some(i) = self.filter.iter().position(|f| f.name() == p.name()) {
                    state.skip_filter |= 1 << i;
                }
                continue;
            }
            if !s.is_success() {
                return (None, s.with_plugin(p.name()));
            }
            if let Some(PreFilterResult {
                node_names: Some(names),
            }) = r
            {
                let merged = match result.take().and_then(|r| r.node_names) {
                    Some(prev) => prev.intersection(&names).cloned().collect(),
                    None => names,
                };
                if merged.is_empty() {
                    return (
                        None,
                        Status::unresolvable(
                            "node(s) didn't satisfy plugin(s) [".to_string() + p.name() + "]",
                        )
                        .with_plugin(p.name()),
                    );
                }
                result = Some(PreFilterResult {
                    node_names: Some(merged),
                });
            }
        }
        (result, Status::success())
    }

    /// Runs Filter plugins on one node, stopping at the first rejection.
    #[inline]
    pub fn run_filter_plugins(&self, state: &CycleState, pod: &PodInfo, node: &NodeInfo) -> Status {
        for (i, p) in self.filter.iter().enumerate() {
            if state.skip_filter & (1 << i) != 0 {
                continue;
            }
            let s = p.filter(state, pod, node);
            if !s.is_success() {
                return s.with_plugin(p.name());
            }
        }
        Status::success()
    }

    /// Indices of the Filter plugins not skipped by PreFilter this cycle.
    pub fn active_filters(&self, state: &CycleState) -> Vec<usize> {
        (0..self.filter.len())
            .filter(|i| state.skip_filter & (1 << i) == 0)
            .collect()
    }

    /// Runs the given Filter plugins (from [`active_filters`](Self::active_filters)) on one node.
    #[inline]
    pub fn run_active_filter_plugins(
        &self,
        active: &[usize],
        state: &CycleState,
        pod: &PodInfo,
        node: &NodeInfo,
    ) -> Status {
        for &i in active {
            let p = &self.filter[i];
            let s = p.filter(state, pod, node);
            if !s.is_success() {
                return s.with_plugin(p.name());
            }
        }
        Status::success()
    }

    /// Runs the given Filter plugins on a run of at most 64 nodes, one
    /// [`FilterPlugin::filter_nodes`] call per plugin. Returns the feasible nodes as a bit
    /// mask (bit `i` for `nodes[i]`); `failed` gets `(i, status)` for every other node, the
    /// status [`run_active_filter_plugins`](Self::run_active_filter_plugins) would give it,
    /// in node order.
    pub fn run_active_filter_plugins_on(
        &self,
        active: &[usize],
        state: &CycleState,
        pod: &PodInfo,
        nodes: &[&NodeInfo],
        failed: &mut Vec<(usize, Status)>,
    ) -> u64 {
        failed.clear();
        let mut open = match nodes.len() {
            0 => 0,
            n if n >= 64 => u64::MAX,
            n => (1u64 << n) - 1,
        };
        for &i in active {
            if open == 0 {
                break;
            }
            let p = &self.filter[i];
            let before = failed.len();
            p.filter_nodes(state, pod, nodes, &mut open, failed);
            for (_, s) in &mut failed[before..] {
                s.plugin = p.name();
            }
        }
        failed.sort_unstable_by_key(|(i, _)| *i);
        open
    }

    /// Updates PreFilter state for a pod added to `node` (preemption simulation).
    pub fn run_pre_filter_add_pod(
        &self,
        state: &mut CycleState,
        pod: &PodInfo,
        added: &PodInfo,
        node: &NodeInfo,
        snapshot: &Snapshot,
    ) {
        for p in &self.pre_filter {
            p.add_pod(state, pod, added, node, snapshot);
        }
    }

    /// Updates PreFilter state for a pod removed from `node` (preemption simulation).
    pub fn run_pre_filter_remove_pod(
        &self,
        state: &mut CycleState,
        pod: &PodInfo,
        removed: &PodInfo,
        node: &NodeInfo,
        snapshot: &Snapshot,
    ) {
        for p in &self.pre_filter {
            p.remove_pod(state, pod, removed, node, snapshot);
        }
    }

    /// Runs PostFilter plugins until one succeeds.
    pub fn run_post_filter_plugins(
        &self,
        state: &CycleState,
        pod: &PodInfo,
        snapshot: &Snapshot,
        statuses: &NodeToStatus,
    ) -> (Option<PostFilterResult>, Status) {
        if let Some(m) = self.metrics.get() {
            m.preemption_attempt();
        }
        let t = self.timer();
        let r = self.post_filter(state, pod, snapshot, statuses);
        self.observe(ExtensionPoint::PostFilter, r.1.code(), t);
        r
    }

    fn post_filter(
        &self,
        state: &CycleState,
        pod: &PodInfo,
        snapshot: &Snapshot,
        statuses: &NodeToStatus,
    ) -> (Option<PostFilterResult>, Status) {
        let mut reasons = Vec::new();
        for p in &self.post_filter {
            let (r, s) = p.post_filter(self, state, pod, snapshot, statuses);
            if s.is_success() {
                return (r, s);
            }
            if s.code() == Code::Error {
                return (None, s.with_plugin(p.name()));
            }
            reasons.extend(s.reasons().iter().cloned());
            if r.is_some() {
                // Upstream: a rejection with a result (clearing a nomination) stops the chain.
                let mut st = Status::from_code(Code::Unschedulable);
                st.reasons = reasons;
                return (r, st);
            }
        }
        let mut st = Status::from_code(Code::Unschedulable);
        st.reasons = reasons;
        (None, st)
    }

    /// Runs PreScore then Score and NormalizeScore; returns the weighted total per node, in the
    /// order of `nodes`.
    pub fn run_score_plugins(
        &self,
        state: &mut CycleState,
        pod: &PodInfo,
        nodes: &[&NodeInfo],
        snapshot: &Snapshot,
    ) -> Result<Vec<i64>, Status> {
        let t = self.timer();
        let pre = self.pre_score(state, pod, nodes, snapshot);
        self.observe(
            ExtensionPoint::PreScore,
            pre.as_ref().map_or_else(|s| s.code(), |_| Code::Success),
            t,
        );
        pre?;
        let t = self.timer();
        let r = self.score(state, pod, nodes);
        self.observe(
            ExtensionPoint::Score,
            r.as_ref().map_or_else(|s| s.code(), |_| Code::Success),
            t,
        );
        r
    }

    fn pre_score(
        &self,
        state: &mut CycleState,
        pod: &PodInfo,
        nodes: &[&NodeInfo],
        snapshot: &Snapshot,
    ) -> Result<(), Status> {
        for p in &self.pre_score {
            let s = p.pre_score(state, pod, nodes, snapshot);
            if s.is_skip() {
                if let Some(i) = self.score.iter().position(|(f, _)| f.name() == p.name()) {
                    state.skip_score |= 1 << i;
                }
            } else if !s.is_success() {
                return Err(s.with_plugin(p.name()));
            }
        }
        Ok(())
    }

    fn score(
        &self,
        state: &mut CycleState,
        pod: &PodInfo,
        nodes: &[&NodeInfo],
    ) -> Result<Vec<i64>, Status> {
        let mut totals = vec![0i64; nodes.len()];
        let mut scores: Vec<NodeScore> = Vec::with_capacity(nodes.len());
        for (i, (p, weight)) in self.score.iter().enumerate() {
            if state.skip_score & (1 << i) != 0 {
                continue;
            }
            scores.clear();
            p.score_nodes(state, pod, nodes, &mut scores)
                .map_err(|s| s.with_plugin(p.name()))?;
            let s = p.normalize_score(state, pod, &mut scores);
            if !s.is_success() {
                return Err(s.with_plugin(p.name()));
            }
            for ns in &scores {
                if !(MIN_NODE_SCORE..=MAX_NODE_SCORE).contains(&ns.score) {
                    return Err(Status::error(format!(
                        "plugin {} returns an invalid score {}, it should in the range of [0, 100] after normalizing",
                        p.name(),
                        ns.score
                    )));
                }
                totals[ns.index] += ns.score * weight;
            }
        }
        Ok(totals)
    }

    /// Runs Reserve plugins; on failure runs Unreserve on all and returns the status.
    pub fn run_reserve_plugins(&self, state: &mut CycleState, pod: &PodInfo, node: &str) -> Status {
        let t = self.timer();
        let s = self.reserve(state, pod, node);
        self.observe(ExtensionPoint::Reserve, s.code(), t);
        s
    }

    fn reserve(&self, state: &mut CycleState, pod: &PodInfo, node: &str) -> Status {
        for p in &self.reserve {
            let s = p.reserve(state, pod, node);
            if !s.is_success() {
                self.run_unreserve_plugins(state, pod, node);
                return s.with_plugin(p.name());
            }
        }
        Status::success()
    }

    /// Runs Unreserve in reverse order.
    pub fn run_unreserve_plugins(&self, state: &mut CycleState, pod: &PodInfo, node: &str) {
        let t = self.timer();
        for p in self.reserve.iter().rev() {
            p.unreserve(state, pod, node);
        }
        self.observe(ExtensionPoint::Unreserve, Code::Success, t);
    }

    /// Runs Permit plugins (upstream `RunPermitPlugins`): the first rejection wins (an
    /// error is wrapped as `running Permit plugin "<name>": ...`); if no plugin rejects and
    /// some answer `Wait`, the pod is added to [`WaitingPods`] waiting on those plugins, each
    /// with its timeout capped at [`MAX_PERMIT_TIMEOUT`](crate::waiting_pods::MAX_PERMIT_TIMEOUT),
    /// and `Wait` is returned. Await the outcome with [`wait_on_permit`](Self::wait_on_permit).
    pub fn run_permit_plugins(
        &self,
        state: &mut CycleState,
        pod: &Arc<PodInfo>,
        node: &str,
    ) -> Status {
        let t = self.timer();
        let s = self.permit(state, pod, node);
        self.observe(ExtensionPoint::Permit, s.code(), t);
        s
    }

    fn permit(&self, state: &mut CycleState, pod: &Arc<PodInfo>, node: &str) -> Status {
        let mut waiting: Vec<(&'static str, Duration)> = Vec::new();
        for p in &self.permit {
            let (s, d) = p.permit(state, pod, node);
            match s.code() {
                Code::Success => {}
                Code::Wait => waiting.push((p.name(), d)),
                _ if s.is_rejected() => return s.with_plugin(p.name()),
                _ => {
                    return Status::error(format!(
                        "running Permit plugin {:?}: {}",
                        p.name(),
                        s.message()
                    ))
                    .with_plugin(p.name())
                }
            }
        }
        if waiting.is_empty() {
            return Status::success();
        }
        self.waiting_pods
            .add(Arc::new(WaitingPod::new(pod.clone(), waiting)));
        Status::new(
            Code::Wait,
            format!(
                "one or more plugins asked to wait and no plugin rejected pod {:?}",
                pod.name
            ),
        )
    }

    /// Waits until `pod`, if held at Permit, is allowed by every waiting plugin (`Success`),
    /// rejected, or timed out (`Unschedulable`, with the rejecting plugin and message, e.g.
    /// `rejected due to timeout after waiting 10s at plugin Gang`); a pod that is not waiting
    /// returns `Success` at once (upstream `WaitOnPermit`).
    pub async fn wait_on_permit(&self, pod: &PodInfo) -> Status {
        self.waiting_pods.wait_on_permit(&pod.uid).await
    }

    /// Runs PreBind plugins.
    pub async fn run_pre_bind_plugins(
        &self,
        state: &CycleState,
        pod: &PodInfo,
        node: &str,
    ) -> Status {
        let t = self.timer();
        let s = self.pre_bind(state, pod, node).await;
        self.observe(ExtensionPoint::PreBind, s.code(), t);
        s
    }

    async fn pre_bind(&self, state: &CycleState, pod: &PodInfo, node: &str) -> Status {
        for p in &self.pre_bind {
            let s = p.pre_bind(state, pod, node).await;
            if !s.is_success() {
                return s.with_plugin(p.name());
            }
        }
        Status::success()
    }

    /// Runs Bind plugins until one does not `Skip`.
    pub async fn run_bind_plugins(&self, state: &CycleState, pod: &PodInfo, node: &str) -> Status {
        let t = self.timer();
        let s = self.bind(state, pod, node).await;
        self.observe(ExtensionPoint::Bind, s.code(), t);
        s
    }

    async fn bind(&self, state: &CycleState, pod: &PodInfo, node: &str) -> Status {
        for p in &self.bind {
            let s = p.bind(state, pod, node).await;
            if s.is_skip() {
                continue;
            }
            return if s.is_success() {
                s
            } else {
                s.with_plugin(p.name())
            };
        }
        Status::skip()
    }

    /// Runs PostBind plugins.
    pub fn run_post_bind_plugins(&self, state: &CycleState, pod: &PodInfo, node: &str) {
        let t = self.timer();
        for p in &self.post_bind {
            p.post_bind(state, pod, node);
        }
        self.observe(ExtensionPoint::PostBind, Code::Success, t);
    }
}
