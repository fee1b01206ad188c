//! The scheduling framework: [`Status`]/[`Code`], [`CycleState`], one trait per extension point,
//! and [`Framework`], the plugins of one profile in the order they run.
//!
//! ```text
//! QueueSort → PreFilter → Filter (per node) → PostFilter (if no node fits)
//!           → PreScore → Score → NormalizeScore (× weight) → Reserve → Permit
//!           → PreBind → Bind → PostBind            (Unreserve on any failure after Reserve)
//! ```
//!
//! Permit may answer `Wait` (with a timeout per plugin, capped at
//! [`MAX_PERMIT_TIMEOUT`](crate::waiting_pods::MAX_PERMIT_TIMEOUT)): the pod then becomes a
//! [`WaitingPod`] in the framework's [`WaitingPods`] and the scheduling cycle ends with the pod
//! assumed; the binding cycle awaits [`Framework::wait_on_permit`] before PreBind. Plugins
//! allow or reject waiting pods through [`Handle::waiting_pods`](crate::plugins::Handle).
//!
//! Every plugin implements [`Plugin`] and opts into extension points by returning itself from
//! the matching `as_*` method, so one plugin instance can serve several points (as upstream).

use std::any::{Any, TypeId};
use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;

use crate::snapshot::Snapshot;
use crate::types::{NodeInfo, PodInfo};
pub use crate::waiting_pods::{WaitingPod, WaitingPods};

/// The highest score a Score plugin may return after normalization.
pub const MAX_NODE_SCORE: i64 = 100;
/// The lowest score.
pub const MIN_NODE_SCORE: i64 = 0;

/// The outcome code of a plugin call, as upstream `framework.Code`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Code {
    /// The plugin ran and the pod may go on.
    Success,
    /// An internal error: the pod is retried with backoff.
    Error,
    /// The pod does not fit; preemption might help.
    Unschedulable,
    /// The pod does not fit and preemption would not help on this node.
    UnschedulableAndUnresolvable,
    /// A Permit plugin asks the pod to wait.
    Wait,
    /// The plugin has nothing to do for this pod (PreFilter/PreScore): its Filter/Score is skipped.
    Skip,
    /// The pod waits for something outside the scheduler (treated as Unschedulable).
    Pending,
}

/// The result of a plugin call: a code, reasons, and the plugin that produced it.
///
/// A successful status does not allocate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Status {
    code: Code,
    reasons: Vec<Cow<'static, str>>,
    plugin: &'static str,
}

impl Default for Status {
    fn default() -> Self {
        Status::success()
    }
}

impl Status {
    /// `Success`.
    pub const fn success() -> Self {
        Status {
            code: Code::Success,
            reasons: Vec::new(),
            plugin: "",
        }
    }

    /// A status with one reason.
    pub fn new(code: Code, reason: impl Into<Cow<'static, str>>) -> Self {
        Status {
            code,
            reasons: vec![reason.into()],
            plugin: "",
        }
    }

    /// A status with no reason.
    pub fn from_code(code: Code) -> Self {
        Status {
            code,
            reasons: Vec::new(),
            plugin: "",
        }
    }

    /// An `Unschedulable` status.
    pub fn unschedulable(reason: impl Into<Cow<'static, str>>) -> Self {
        Status::new(Code::Unschedulable, reason)
    }

    /// An `UnschedulableAndUnresolvable` status.
    pub fn unresolvable(reason: impl Into<Cow<'static, str>>) -> Self {
        Status::new(Code::UnschedulableAndUnresolvable, reason)
    }

    /// An `Error` status.
    pub fn error(reason: impl Into<Cow<'static, str>>) -> Self {
        Status::new(Code::Error, reason)
    }

    /// `Skip`.
    pub fn skip() -> Self {
        Status::from_code(Code::Skip)
    }

    /// Adds a reason.
    pub fn with_reason(mut self, reason: impl Into<Cow<'static, str>>) -> Self {
        self.reasons.push(reason.into());
        self
    }

    /// Records which plugin produced the status.
    pub fn with_plugin(mut self, plugin: &'static str) -> Self {
        self.plugin = plugin;
        self
    }

    /// The code.
    pub fn code(&self) -> Code {
        self.code
    }

    /// The reasons.
    pub fn reasons(&self) -> &[Cow<'static, str>] {
        &self.reasons
    }

    /// The plugin that failed (empty for success).
    pub fn plugin(&self) -> &'static str {
        self.plugin
    }

    /// The reasons joined by `", "`.
    pub fn message(&self) -> String {
        self.reasons.join(", ")
    }

    /// `Success`.
    pub fn is_success(&self) -> bool {
        self.code == Code::Success
    }

    /// `Skip`.
    pub fn is_skip(&self) -> bool {
        self.code == Code::Skip
    }

    /// `Unschedulable`, `UnschedulableAndUnresolvable` or `Pending`.
    pub fn is_rejected(&self) -> bool {
        matches!(
            self.code,
            Code::Unschedulable | Code::UnschedulableAndUnresolvable | Code::Pending
        )
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.code)?;
        if !self.reasons.is_empty() {
            write!(f, ": {}", self.message())?;
        }
        Ok(())
    }
}

/// Data a plugin keeps in [`CycleState`] for one scheduling cycle.
pub trait StateData: Any + Send + Sync {
    /// Clones the data (preemption clones the whole state per candidate node).
    fn clone_data(&self) -> Box<dyn StateData>;
    /// As `Any`, to downcast.
    fn as_any(&self) -> &dyn Any;
    /// As mutable `Any`, to downcast.
    fn as_any_mut(&mut self) -> &mut dyn Any;
}

impl<T: Any + Send + Sync + Clone> StateData for T {
    fn clone_data(&self) -> Box<dyn StateData> {
        Box::new(self.clone())
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
    fn as_any_mut(&mut self) -> &mut dyn Any {
        self
    }
}

/// Per-cycle plugin state, keyed by type (upstream keys by string; a type is the same idea
/// with a cheaper lookup). PreFilter writes, Filter reads.
#[derive(Default)]
pub struct CycleState {
    data: Vec<(TypeId, Box<dyn StateData>)>,
    /// Bit `i` set: skip `Framework::filter[i]` this cycle.
    skip_filter: u64,
    /// Bit `i` set: skip `Framework::score[i]` this cycle.
    skip_score: u64,
}

impl Clone for CycleState {
    fn clone(&self) -> Self {
        CycleState {
            data: self
                .data
                .iter()
                .map(|(t, d)| (*t, (**d).clone_data()))
                .collect(),
            skip_filter: self.skip_filter,
            skip_score: self.skip_score,
        }
    }
}

impl fmt::Debug for CycleState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CycleState")
            .field("entries", &self.data.len())
            .finish()
    }
}

impl CycleState {
    /// An empty state.
    pub fn new() -> Self {
        Self::default()
    }

    /// Stores `value`, replacing any value of the same type.
    pub fn write<T: Any + Send + Sync + Clone>(&mut self, value: T) {
        let id = TypeId::of::<T>();
        if let Some(slot) = self.data.iter_mut().find(|(t, _)| *t == id) {
            slot.1 = Box::new(value);
        } else {
            self.data.push((id, Box::new(value)));
        }
    }

    /// Reads the value of type `T`.
    pub fn read<T: Any + Send + Sync + Clone>(&self) -> Option<&T> {
        let id = TypeId::of::<T>();
        self.data
            .iter()
            .find(|(t, _)| *t == id)
            .and_then(|(_, d)| d.as_ref().as_any().downcast_ref())
    }

    /// Mutably reads the value of type `T`.
    pub fn read_mut<T: Any + Send + Sync + Clone>(&mut self) -> Option<&mut T> {
        let id = TypeId::of::<T>();
        self.data
            .iter_mut()
            .find(|(t, _)| *t == id)
            .and_then(|(_, d)| d.as_mut().as_any_mut().downcast_mut())
    }

    /// Forgets which plugins were skipped (a new cycle over the same data).
    pub fn clear_skips(&mut self) {
        self.skip_filter = 0;
        self.skip_score = 0;
    }
}

/// A node name and its score.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeScore {
    /// Index of the node in the snapshot.
    pub index: usize,
    /// Score.
    pub score: i64,
}

/// A PreFilter plugin may narrow the nodes to evaluate (upstream `PreFilterResult`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PreFilterResult {
    /// Only these nodes can fit; `None` means all nodes.
    pub node_names: Option<BTreeSet<String>>,
}

/// What PostFilter (preemption) proposes.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PostFilterResult {
    /// The node the pod should be nominated to once the victims are gone.
    pub nominated_node_name: Option<String>,
    /// The pods to evict (`namespace/name`, with their UIDs).
    pub victims: Vec<Arc<PodInfo>>,
}

impl PartialEq for PodInfo {
    fn eq(&self, other: &Self) -> bool {
        self.same_pod(other)
    }
}
impl Eq for PodInfo {}

/// Base trait of every plugin: its name, and views onto the extension points it implements.
pub trait Plugin: Send + Sync + 'static {
    /// The registered name (`NodeResourcesFit`, ...).
    fn name(&self) -> &'static str;
    /// This plugin as a QueueSort plugin.
    fn as_queue_sort(self: Arc<Self>) -> Option<Arc<dyn QueueSortPlugin>> {
        None
    }
    /// This plugin as a PreFilter plugin.
    fn as_pre_filter(self: Arc<Self>) -> Option<Arc<dyn PreFilterPlugin>> {
        None
    }
    /// This plugin as a Filter plugin.
    fn as_filter(self: Arc<Self>) -> Option<Arc<dyn FilterPlugin>> {
        None
    }
    /// This plugin as a PostFilter plugin.
    fn as_post_filter(self: Arc<Self>) -> Option<Arc<dyn PostFilterPlugin>> {
        None
    }
    /// This plugin as a PreScore plugin.
    fn as_pre_score(self: Arc<Self>) -> Option<Arc<dyn PreScorePlugin>> {
        None
    }
    /// This plugin as a Score plugin.
    fn as_score(self: Arc<Self>) -> Option<Arc<dyn ScorePlugin>> {
        None
    }
    /// This plugin as a Reserve plugin.
    fn as_reserve(self: Arc<Self>) -> Option<Arc<dyn ReservePlugin>> {
        None
    }
    /// This plugin as a Permit plugin.
    fn as_permit(self: Arc<Self>) -> Option<Arc<dyn PermitPlugin>> {
        None
    }
    /// This plugin as a PreBind plugin.
    fn as_pre_bind(self: Arc<Self>) -> Option<Arc<dyn PreBindPlugin>> {
        None
    }
    /// This plugin as a Bind plugin.
    fn as_bind(self: Arc<Self>) -> Option<Arc<dyn BindPlugin>> {
        None
    }
    /// This plugin as a PostBind plugin.
    fn as_post_bind(self: Arc<Self>) -> Option<Arc<dyn PostBindPlugin>> {
        None
    }
}

/// Orders the active queue.
pub trait QueueSortPlugin: Plugin {
    /// Whether `a` should be scheduled before `b`.
    fn less(&self, a: &QueuedPodInfo, b: &QueuedPodInfo) -> bool;
}

/// A pod in the scheduling queue.
#[derive(Clone, Debug)]
pub struct QueuedPodInfo {
    /// The pod.
    pub pod_info: Arc<PodInfo>,
    /// When it entered the active queue (monotonic, for ordering).
    pub timestamp: tokio::time::Instant,
    /// How many times it has been tried.
    pub attempts: u32,
    /// When it was first added.
    pub initial_attempt_timestamp: tokio::time::Instant,
    /// Plugins that rejected it in the last attempt.
    pub unschedulable_plugins: BTreeSet<&'static str>,
}

/// Runs once per cycle before filtering; precomputes state and may reject early.
pub trait PreFilterPlugin: Plugin {
    /// Precomputes; returning `Skip` skips this plugin's Filter for the cycle.
    fn pre_filter(
        &self,
        state: &mut CycleState,
        pod: &PodInfo,
        snapshot: &Snapshot,
    ) -> (Option<PreFilterResult>, Status);

    /// Updates this plugin's state as if `added` ran on `node` (used by preemption).
    fn add_pod(
        &self,
        _state: &mut CycleState,
        _pod: &PodInfo,
        _added: &PodInfo,
        _node: &NodeInfo,
        _snapshot: &Snapshot,
    ) {
    }

    /// Updates this plugin's state as if `removed` left `node` (used by preemption).
    fn remove_pod(
        &self,
        _state: &mut CycleState,
        _pod: &PodInfo,
        _removed: &PodInfo,
        _node: &NodeInfo,
        _snapshot: &Snapshot,
    ) {
    }
}

/// Decides whether the pod fits one node. Must not allocate on success.
pub trait FilterPlugin: Plugin {
    /// Checks one node.
    fn filter(&self, state: &CycleState, pod: &PodInfo, node: &NodeInfo) -> Status;

    /// Checks a run of at most 64 nodes: bit `i` of `open` says whether `nodes[i]` is still
    /// feasible; this plugin checks only those, clears the bit of every node it rejects and
    /// pushes `(i, status)` for it onto `failed`.
    ///
    /// The provided body calls [`filter`](Self::filter) per node. It is compiled for each
    /// plugin type, so the framework pays one dynamic call per plugin and run of nodes instead
    /// of one per plugin and node; override it only to check nodes together.
    fn filter_nodes(
        &self,
        state: &CycleState,
        pod: &PodInfo,
        nodes: &[&NodeInfo],
        open: &mut u64,
        failed: &mut Vec<(usize, Status)>,
    ) {
        for (i, node) in nodes.iter().enumerate().take(64) {
            if *open & (1 << i) != 0 {
                let s = self.filter(state, pod, node);
                if !s.is_success() {
                    *open &= !(1 << i);
                    failed.push((i, s));
                }
            }
        }
    }
}

/// Runs when no node fits (preemption).
pub trait PostFilterPlugin: Plugin {
    /// Tries to make room; `Success` with a nominated node, or a rejection message.
    fn post_filter(
        &self,
        fwk: &Framework,
        state: &CycleState,
        pod: &PodInfo,
        snapshot: &Snapshot,
        statuses: &NodeToStatus,
    ) -> (Option<PostFilterResult>, Status);
}

/// Runs once before scoring with the feasible nodes.
pub trait PreScorePlugin: Plugin {
    /// Precomputes; `Skip` skips this plugin's Score for the cycle.
    fn pre_score(
        &self,
        state: &mut CycleState,
        pod: &PodInfo,
        nodes: &[&NodeInfo],
        snapshot: &Snapshot,
    ) -> Status;
}

/// Scores a feasible node; scores are normalized to `0..=100` and multiplied by the weight.
pub trait ScorePlugin: Plugin {
    /// Scores one node.
    fn score(&self, state: &CycleState, pod: &PodInfo, node: &NodeInfo) -> Result<i64, Status>;

    /// Scores every node, appending to `out` in order. The default calls
    /// [`score`](Self::score) per node; plugins override it to hoist per-cycle work out of
    /// the loop. Results must equal per-node scoring.
    fn score_nodes(
        &self,
        state: &CycleState,
        pod: &PodInfo,
        nodes: &[&NodeInfo],
        out: &mut Vec<NodeScore>,
    ) -> Result<(), Status> {
        for (i, n) in nodes.iter().enumerate() {
            out.push(NodeScore {
                index: i,
                score: self.score(state, pod, n)?,
            });
        }
        Ok(())
    }

    /// Normalizes all scores of this plugin (default: none).
    fn normalize_score(
        &self,
        _state: &CycleState,
        _pod: &PodInfo,
        _scores: &mut [NodeScore],
    ) -> Status {
        Status::success()
    }
}

/// Reserve/Unreserve: bookkeeping once a node is chosen.
pub trait ReservePlugin: Plugin {
    /// Reserves resources on the node.
    fn reserve(&self, state: &mut CycleState, pod: &PodInfo, node: &str) -> Status;
    /// Rolls back `reserve` (must be idempotent).
    fn unreserve(&self, state: &mut CycleState, pod: &PodInfo, node: &str);
}

/// Permit: approve, deny or delay the binding.
pub trait PermitPlugin: Plugin {
    /// `Success`, a rejection, or `Wait` with a timeout (capped at 15 minutes); a waiting pod
    /// proceeds once every plugin that answered `Wait` has allowed it through
    /// [`WaitingPods`].
    fn permit(&self, state: &mut CycleState, pod: &PodInfo, node: &str) -> (Status, Duration);
}

/// Runs before binding (e.g. provisioning volumes).
pub trait PreBindPlugin: Plugin {
    /// Prepares the bind.
    fn pre_bind<'a>(
        &'a self,
        state: &'a CycleState,
        pod: &'a PodInfo,
        node: &'a str,
    ) -> BoxFuture<'a, Status>;
}

/// Binds the pod to the node. `Skip` passes to the next Bind plugin.
pub trait BindPlugin: Plugin {
    /// Binds.
    fn bind<'a>(
        &'a self,
        state: &'a CycleState,
        pod: &'a PodInfo,
        node: &'a str,
    ) -> BoxFuture<'a, Status>;
}

/// Informational, after a successful bind.
pub trait PostBindPlugin: Plugin {
    /// Called after the bind.
    fn post_bind(&self, state: &CycleState, pod: &PodInfo, node: &str);
}

/// The filter outcome of every node that did not fit, by node name, plus whether the rest
/// were rejected as a whole (PreFilter failure).
#[derive(Clone, Debug, Default)]
pub struct NodeToStatus {
    /// Per node.
    pub map: BTreeMap<String, Status>,
    /// Status for nodes absent from `map` (when PreFilter rejected all of them).
    pub absent: Option<Status>,
}

impl NodeToStatus {
    /// The status of a node: its entry, the absent-nodes status, or `Success`.
    pub fn get(&self, node: &str) -> Option<&Status> {
        self.map.get(node).or(self.absent.as_ref())
    }
}

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
        };
        for e in multi_point {
            let p = e.plugin;
            if f.queue_sort.is_none() {
                f.queue_sort = p.clone().as_queue_sort();
            }
            f.pre_filter.extend(p.clone().as_pre_filter());
            f.filter.extend(p.clone().as_filter());
            f.post_filter.extend(p.clone().as_post_filter());
            f.pre_score.extend(p.clone().as_pre_score());
            f.score
                .extend(p.clone().as_score().map(|s| (s, e.weight.max(1))));
            f.reserve.extend(p.clone().as_reserve());
            f.permit.extend(p.clone().as_permit());
            f.pre_bind.extend(p.clone().as_pre_bind());
            f.bind.extend(p.clone().as_bind());
            f.post_bind.extend(p.as_post_bind());
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
        for p in self.reserve.iter().rev() {
            p.unreserve(state, pod, node);
        }
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
        for p in &self.post_bind {
            p.post_bind(state, pod, node);
        }
    }
}

/// Default normalization (upstream `helper.DefaultNormalizeScore`): scales to `0..=max` by the
/// highest score; `reverse` flips so the lowest raw score gets `max`.
pub fn default_normalize_score(max: i64, reverse: bool, scores: &mut [NodeScore]) {
    let highest = scores.iter().map(|s| s.score).max().unwrap_or(0);
    if highest == 0 {
        if reverse {
            for s in scores.iter_mut() {
                s.score = max;
            }
        }
        return;
    }
    for s in scores.iter_mut() {
        let mut v = max * s.score / highest;
        if reverse {
            v = max - v;
        }
        s.score = v;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_normalize_scales_and_reverses() {
        let mut s: Vec<NodeScore> = [10, 5, 0]
            .iter()
            .enumerate()
            .map(|(i, v)| NodeScore {
                index: i,
                score: *v,
            })
            .collect();
        default_normalize_score(100, false, &mut s);
        assert_eq!(
            s.iter().map(|s| s.score).collect::<Vec<_>>(),
            vec![100, 50, 0]
        );
        let mut s: Vec<NodeScore> = [10, 5, 0]
            .iter()
            .enumerate()
            .map(|(i, v)| NodeScore {
                index: i,
                score: *v,
            })
            .collect();
        default_normalize_score(100, true, &mut s);
        assert_eq!(
            s.iter().map(|s| s.score).collect::<Vec<_>>(),
            vec![0, 50, 100]
        );
        let mut s = vec![NodeScore { index: 0, score: 0 }];
        default_normalize_score(100, true, &mut s);
        assert_eq!(s[0].score, 100);
    }

    #[test]
    fn cycle_state_is_typed_and_clonable() {
        #[derive(Clone, Debug, PartialEq)]
        struct A(u32);
        let mut st = CycleState::new();
        st.write(A(1));
        st.read_mut::<A>().unwrap().0 = 2;
        let copy = st.clone();
        st.write(A(3));
        assert_eq!(copy.read::<A>(), Some(&A(2)));
        assert_eq!(st.read::<A>(), Some(&A(3)));
        assert!(st.read::<u8>().is_none());
    }
}
