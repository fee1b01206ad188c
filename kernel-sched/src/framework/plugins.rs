//! The plugin traits, one per extension point (upstream `framework.*Plugin`), the base
//! [`Plugin`] trait, and the values they pass and return.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;

use super::{CycleState, ExtensionPoints, Framework, Status};
use crate::snapshot::Snapshot;
use crate::types::{NodeInfo, PodInfo};

/// The highest score a Score plugin may return after normalization.
pub const MAX_NODE_SCORE: i64 = 100;
/// The lowest score.
pub const MIN_NODE_SCORE: i64 = 0;

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

/// Base trait of every plugin: its name and the extension points it serves.
///
/// A plugin implements the trait of each point it serves ([`FilterPlugin`], [`ScorePlugin`],
/// ...) and lists those points once in [`extension_points`](Self::extension_points); one
/// instance can serve several points, as upstream. Out-of-tree plugins are registered with
/// [`Registry::register`](crate::plugins::Registry::register) and enabled by name in the
/// configuration:
///
/// ```
/// use std::sync::Arc;
/// use kernel_sched::framework::{CycleState, ExtensionPoints, FilterPlugin, Plugin, Status};
/// use kernel_sched::plugins::{Handle, Registry};
/// use kernel_sched::testing::{node, pod};
/// use kernel_sched::{schedule_with, KubeSchedulerConfiguration, NodeInfo, PodInfo, ScheduleState, Snapshot};
///
/// /// Keeps pods off nodes whose name starts with `gpu-`.
/// struct NoGpu;
///
/// impl Plugin for NoGpu {
///     fn name(&self) -> &'static str {
///         "NoGpu"
///     }
///     fn extension_points(self: Arc<Self>) -> ExtensionPoints {
///         ExtensionPoints::of(self).filter().into()
///     }
/// }
///
/// impl FilterPlugin for NoGpu {
///     fn filter(&self, _: &CycleState, _: &PodInfo, node: &NodeInfo) -> Status {
///         if node.name.starts_with("gpu-") {
///             Status::unresolvable("node is reserved for GPU pods")
///         } else {
///             Status::success()
///         }
///     }
/// }
///
/// let mut registry = Registry::in_tree();
/// registry.register("NoGpu", |_args, _handle| Ok(Arc::new(NoGpu)));
/// let cfg = KubeSchedulerConfiguration::from_yaml(
///     "apiVersion: kubescheduler.config.k8s.io/v1\n\
///      kind: KubeSchedulerConfiguration\n\
///      profiles:\n- plugins:\n    multiPoint:\n      enabled: [{name: NoGpu}]\n",
/// )
/// .unwrap();
/// let profiles = cfg.build_profiles_with(&registry, &Handle::default()).unwrap();
/// let fwk = &profiles[0].framework;
/// assert!(fwk.filter_plugin_names().contains(&"NoGpu"));
///
/// let snapshot = Snapshot::new(
///     vec![node("gpu-1").cpu("64").obj(), node("cpu-1").cpu("4").obj()],
///     vec![],
/// );
/// let web = PodInfo::new(pod("web").req("1", "1Gi").obj());
/// let chosen = schedule_with(fwk, &web, &snapshot, &mut ScheduleState::default()).unwrap();
/// assert_eq!(chosen, "cpu-1");
/// ```
pub trait Plugin: Send + Sync + 'static {
    /// The registered name (`NodeResourcesFit`, ...).
    fn name(&self) -> &'static str;

    /// The extension points this plugin serves, e.g.
    /// `ExtensionPoints::of(self).pre_filter().filter().into()`. Called once per instance,
    /// when a framework is assembled.
    fn extension_points(self: Arc<Self>) -> ExtensionPoints;
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
    /// [`WaitingPods`](super::WaitingPods).
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
}
