//! NodeResourcesFit: the pod's requests must fit the node's free allocatable resources
//! (Filter), and nodes are scored by a [`ScoringStrategy`]: `LeastAllocated` (default),
//! `MostAllocated` or `RequestedToCapacityRatio`.

use std::borrow::Cow;
use std::sync::Arc;

use kernel_core::pod::{
    is_extended_resource_name, is_scalar_resource_name, RESOURCE_CPU as CPU,
    RESOURCE_EPHEMERAL_STORAGE as EPHEMERAL_STORAGE, RESOURCE_MEMORY as MEMORY,
};
use serde::Deserialize;

use crate::framework::{
    CycleState, FilterPlugin, NodeScore, Plugin, PreFilterPlugin, PreFilterResult, PreScorePlugin,
    ScorePlugin, Status, MAX_NODE_SCORE,
};
use crate::snapshot::Snapshot;
use crate::types::{NodeInfo, PodInfo, Resource};
use crate::util::div_score;
use crate::Error;

/// The plugin name.
pub const NAME: &str = "NodeResourcesFit";
/// Scores on the `RequestedToCapacityRatio` shape go up to this; they are scaled to 100.
pub const MAX_CUSTOM_PRIORITY_SCORE: i64 = 10;

/// A resource name and its score weight.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
pub struct ResourceSpec {
    /// Resource name.
    pub name: String,
    /// Weight (default 1).
    #[serde(default = "one")]
    pub weight: i64,
}

fn one() -> i64 {
    1
}

/// `[cpu:1, memory:1]`, upstream's default scored resources.
pub fn default_resources() -> Vec<ResourceSpec> {
    vec![
        ResourceSpec {
            name: CPU.into(),
            weight: 1,
        },
        ResourceSpec {
            name: MEMORY.into(),
            weight: 1,
        },
    ]
}

/// A point of the `RequestedToCapacityRatio` shape.
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
pub struct UtilizationShapePoint {
    /// Utilization, 0..=100.
    pub utilization: i64,
    /// Score, 0..=10.
    pub score: i64,
}

/// `RequestedToCapacityRatioParam`.
#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
pub struct RequestedToCapacityRatioParam {
    /// The piecewise-linear shape.
    #[serde(default)]
    pub shape: Vec<UtilizationShapePoint>,
}

/// `ScoringStrategy`.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct ScoringStrategy {
    /// `LeastAllocated`, `MostAllocated` or `RequestedToCapacityRatio`.
    #[serde(rename = "type", default = "least")]
    pub type_: String,
    /// Scored resources and weights.
    #[serde(default = "default_resources")]
    pub resources: Vec<ResourceSpec>,
    /// Shape for `RequestedToCapacityRatio`.
    #[serde(default)]
    pub requested_to_capacity_ratio: Option<RequestedToCapacityRatioParam>,
}

fn least() -> String {
    "LeastAllocated".into()
}

impl Default for ScoringStrategy {
    fn default() -> Self {
        ScoringStrategy {
            type_: least(),
            resources: default_resources(),
            requested_to_capacity_ratio: None,
        }
    }
}

/// `NodeResourcesFitArgs`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NodeResourcesFitArgs {
    /// Extended resources the filter ignores.
    #[serde(default)]
    pub ignored_resources: Vec<String>,
    /// Prefixes (`example.com` for `example.com/*`) of extended resources the filter ignores.
    #[serde(default)]
    pub ignored_resource_groups: Vec<String>,
    /// Scoring.
    #[serde(default)]
    pub scoring_strategy: Option<ScoringStrategy>,
}

#[derive(Clone, Debug)]
enum Strategy {
    Least,
    Most,
    Ratio(Vec<UtilizationShapePoint>),
}

/// Resource fit and allocation scoring.
#[derive(Clone, Debug)]
pub struct NodeResourcesFit {
    ignored_resources: Vec<String>,
    ignored_groups: Vec<String>,
    resources: Vec<ResourceSpec>,
    kinds: Vec<ResourceKind>,
    strategy: Strategy,
}

impl Default for NodeResourcesFit {
    fn default() -> Self {
        NodeResourcesFit::new(NodeResourcesFitArgs::default()).expect("default args are valid")
    }
}

impl NodeResourcesFit {
    /// Builds the plugin, validating the strategy.
    pub fn new(args: NodeResourcesFitArgs) -> Result<Self, Error> {
        let s = args.scoring_strategy.unwrap_or_default();
        let strategy = match s.type_.as_str() {
            "LeastAllocated" => Strategy::Least,
            "MostAllocated" => Strategy::Most,
            "RequestedToCapacityRatio" => {
                let shape = s
                    .requested_to_capacity_ratio
                    .map(|r| r.shape)
                    .unwrap_or_default();
                if shape.is_empty() {
                    return Err(Error::Config(
                        "RequestedToCapacityRatio needs at least one shape point".into(),
                    ));
                }
                for w in shape.windows(2) {
                    if w[1].utilization <= w[0].utilization {
                        return Err(Error::Config(
                            "shape utilization values must be strictly increasing".into(),
                        ));
                    }
                }
                for p in &shape {
                    if !(0..=100).contains(&p.utilization)
                        || !(0..=MAX_CUSTOM_PRIORITY_SCORE).contains(&p.score)
                    {
                        return Err(Error::Config("shape point out of range".into()));
                    }
                }
                Strategy::Ratio(
                    shape
                        .into_iter()
                        .map(|p| UtilizationShapePoint {
                            utilization: p.utilization,
                            score: p.score * (MAX_NODE_SCORE / MAX_CUSTOM_PRIORITY_SCORE),
                        })
                        .collect(),
                )
            }
            other => return Err(Error::Config(format!("unknown scoring strategy {other:?}"))),
        };
        if s.resources.iter().any(|r| r.weight <= 0 || r.weight > 100) {
            return Err(Error::Config("resource weight must be in 1..=100".into()));
        }
        Ok(NodeResourcesFit {
            ignored_resources: args.ignored_resources,
            ignored_groups: args.ignored_resource_groups,
            kinds: s
                .resources
                .iter()
                .map(|r| ResourceKind::of(&r.name))
                .collect(),
            resources: s.resources,
            strategy,
        })
    }

    fn ignored(&self, name: &str) -> bool {
        self.ignored_resources.iter().any(|r| r == name)
            || name
                .split_once('/')
                .is_some_and(|(g, _)| self.ignored_groups.iter().any(|x| x == g))
    }
}

impl Plugin for NodeResourcesFit {
    fn name(&self) -> &'static str {
        NAME
    }
    fn as_pre_filter(self: Arc<Self>) -> Option<Arc<dyn PreFilterPlugin>> {
        Some(self)
    }
    fn as_filter(self: Arc<Self>) -> Option<Arc<dyn FilterPlugin>> {
        Some(self)
    }
    fn as_pre_score(self: Arc<Self>) -> Option<Arc<dyn PreScorePlugin>> {
        Some(self)
    }
    fn as_score(self: Arc<Self>) -> Option<Arc<dyn ScorePlugin>> {
        Some(self)
    }
}

fn fits_amount(want: i64, alloc: i64, used: i64) -> bool {
    want <= 0 || want <= alloc - used
}

/// Checks whether `req` fits on `node`; returns the failure as a status. Shared with
/// preemption, which re-checks fit after removing victims.
///
/// The common case (pod count, CPU, memory and ephemeral storage fit, no scalar resources) is
/// a few comparisons and always inlined into the Filter loop; scalar resources and failures
/// take outlined paths.
#[inline(always)]
pub fn fits(req: &Resource, node: &NodeInfo, ignored: impl Fn(&str) -> bool) -> Status {
    // Fast path: everything fits (no allocation, no reasons).
    let a = &node.allocatable;
    let r = &node.requested;
    if (node.pods.len() as i64) < a.allowed_pod_number
        && fits_amount(req.milli_cpu, a.milli_cpu, r.milli_cpu)
        && fits_amount(req.memory, a.memory, r.memory)
        && fits_amount(
            req.ephemeral_storage,
            a.ephemeral_storage,
            r.ephemeral_storage,
        )
        && (req.scalar.is_empty() || scalars_fit(req, node, &ignored))
    {
        return Status::success();
    }
    fits_slow(req, node, ignored)
}

#[inline(never)]
fn scalars_fit(req: &Resource, node: &NodeInfo, ignored: &impl Fn(&str) -> bool) -> bool {
    let (a, r) = (&node.allocatable, &node.requested);
    req.scalar.iter().all(|(n, v)| {
        fits_amount(*v, a.scalar(n), r.scalar(n)) || (is_extended_resource_name(n) && ignored(n))
    })
}

#[cold]
fn fits_slow(req: &Resource, node: &NodeInfo, ignored: impl Fn(&str) -> bool) -> Status {
    let mut reasons: Vec<Cow<'static, str>> = Vec::new();
    let mut unresolvable = false;
    if node.pods.len() as i64 + 1 > node.allocatable.allowed_pod_number {
        reasons.push("Too many pods".into());
    }
    if req.milli_cpu == 0
        && req.memory == 0
        && req.ephemeral_storage == 0
        && req.scalar.iter().all(|(_, v)| *v == 0)
    {
        return finish(reasons, unresolvable);
    }
    let a = &node.allocatable;
    let r = &node.requested;
    let mut check = |want: i64, alloc: i64, used: i64, reason: Cow<'static, str>| {
        if want > 0 && want > alloc - used {
            if want > alloc {
                unresolvable = true;
            }
            reasons.push(reason);
        }
    };
    check(
        req.milli_cpu,
        a.milli_cpu,
        r.milli_cpu,
        "Insufficient cpu".into(),
    );
    check(req.memory, a.memory, r.memory, "Insufficient memory".into());
    check(
        req.ephemeral_storage,
        a.ephemeral_storage,
        r.ephemeral_storage,
        "Insufficient ephemeral-storage".into(),
    );
    for (name, want) in &req.scalar {
        if *want == 0 || (is_extended_resource_name(name) && ignored(name)) {
            continue;
        }
        check(
            *want,
            a.scalar(name),
            r.scalar(name),
            format!("Insufficient {name}").into(),
        );
    }
    finish(reasons, unresolvable)
}

fn finish(reasons: Vec<Cow<'static, str>>, unresolvable: bool) -> Status {
    if reasons.is_empty() {
        return Status::success();
    }
    let code = if unresolvable {
        crate::Code::UnschedulableAndUnresolvable
    } else {
        crate::Code::Unschedulable
    };
    let mut it = reasons.into_iter();
    let mut s = Status::new(code, it.next().expect("non-empty"));
    for r in it {
        s = s.with_reason(r);
    }
    s
}

impl PreFilterPlugin for NodeResourcesFit {
    fn pre_filter(
        &self,
        _: &mut CycleState,
        _: &PodInfo,
        _: &Snapshot,
    ) -> (Option<PreFilterResult>, Status) {
        // Requests are precomputed in PodInfo; nothing else to prepare.
        (None, Status::success())
    }
}

impl FilterPlugin for NodeResourcesFit {
    #[inline]
    fn filter(&self, _: &CycleState, pod: &PodInfo, node: &NodeInfo) -> Status {
        fits(&pod.requests, node, |n| self.ignored(n))
    }
}

/// The pod's request per scored resource (with scoring defaults for cpu/memory).
#[derive(Clone, Debug)]
struct PreScoreState {
    pod_requests: Vec<i64>,
}

/// The pod's request for each of `resources`; `non_zero` uses the scoring defaults.
pub(crate) fn pod_request_list(
    pod: &PodInfo,
    resources: &[ResourceSpec],
    non_zero: bool,
) -> Vec<i64> {
    let src = if non_zero {
        &pod.non_zero_requests
    } else {
        &pod.requests
    };
    resources
        .iter()
        .map(|r| match r.name.as_str() {
            CPU | MEMORY if non_zero => src.get(&r.name),
            _ => pod.requests.get(&r.name),
        })
        .collect()
}

/// A scored resource, resolved once so scoring does not compare names per node.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum ResourceKind {
    Cpu,
    Memory,
    EphemeralStorage,
    Other(String),
}

impl ResourceKind {
    pub(crate) fn of(name: &str) -> Self {
        match name {
            CPU => ResourceKind::Cpu,
            MEMORY => ResourceKind::Memory,
            EPHEMERAL_STORAGE => ResourceKind::EphemeralStorage,
            other => ResourceKind::Other(other.to_string()),
        }
    }
}

/// `(allocatable, requested-after-placing-the-pod)` of one resource on a node, as upstream
/// `calculateResourceAllocatableRequest`; `(0, 0)` means "do not score this resource".
#[inline(always)]
pub(crate) fn allocatable_and_requested(
    node: &NodeInfo,
    kind: &ResourceKind,
    pod_request: i64,
    use_requested: bool,
) -> (i64, i64) {
    let requested = if use_requested {
        &node.requested
    } else {
        &node.non_zero_requested
    };
    match kind {
        ResourceKind::Cpu => (
            node.allocatable.milli_cpu,
            requested.milli_cpu + pod_request,
        ),
        ResourceKind::Memory => (node.allocatable.memory, requested.memory + pod_request),
        ResourceKind::EphemeralStorage => (
            node.allocatable.ephemeral_storage,
            node.requested.ephemeral_storage + pod_request,
        ),
        ResourceKind::Other(name) => {
            let name = name.as_str();
            if pod_request == 0 && is_scalar_resource_name(name) {
                return (0, 0);
            }
            let alloc = node.allocatable.scalar(name);
            if alloc == 0 {
                return (0, 0);
            }
            (alloc, node.requested.scalar(name) + pod_request)
        }
    }
}

fn broken_linear(shape: &[UtilizationShapePoint], p: i64) -> i64 {
    for (i, pt) in shape.iter().enumerate() {
        if p <= pt.utilization {
            if i == 0 {
                return shape[0].score;
            }
            let prev = shape[i - 1];
            return prev.score
                + (pt.score - prev.score) * (p - prev.utilization)
                    / (pt.utilization - prev.utilization);
        }
    }
    shape[shape.len() - 1].score
}

impl PreScorePlugin for NodeResourcesFit {
    fn pre_score(
        &self,
        state: &mut CycleState,
        pod: &PodInfo,
        _: &[&NodeInfo],
        _: &Snapshot,
    ) -> Status {
        state.write(PreScoreState {
            pod_requests: pod_request_list(pod, &self.resources, true),
        });
        Status::success()
    }
}

impl NodeResourcesFit {
    /// Whether scoring is the default `LeastAllocated` over exactly cpu and memory, which has
    /// a straight-line fast path.
    fn default_least(&self) -> Option<(i64, i64)> {
        match (&self.strategy, self.kinds.as_slice()) {
            (Strategy::Least, [ResourceKind::Cpu, ResourceKind::Memory]) => {
                Some((self.resources[0].weight, self.resources[1].weight))
            }
            _ => None,
        }
    }

    #[inline]
    fn score_one(&self, reqs: &[i64], node: &NodeInfo) -> i64 {
        let (mut total, mut weights) = (0i64, 0i64);
        for ((spec, kind), &pod_req) in self.resources.iter().zip(&self.kinds).zip(reqs) {
            let (alloc, req) = allocatable_and_requested(node, kind, pod_req, false);
            if alloc == 0 {
                continue;
            }
            match &self.strategy {
                Strategy::Least => {
                    let s = if req > alloc {
                        0
                    } else {
                        div_score((alloc - req) * MAX_NODE_SCORE, alloc)
                    };
                    total += s * spec.weight;
                    weights += spec.weight;
                }
                Strategy::Most => {
                    total += div_score(req.clamp(0, alloc) * MAX_NODE_SCORE, alloc) * spec.weight;
                    weights += spec.weight;
                }
                Strategy::Ratio(shape) => {
                    let s = if req > alloc {
                        broken_linear(shape, 100)
                    } else {
                        broken_linear(shape, req * 100 / alloc)
                    };
                    if s > 0 {
                        total += s * spec.weight;
                        weights += spec.weight;
                    }
                }
            }
        }
        if weights == 0 {
            return 0;
        }
        match self.strategy {
            Strategy::Ratio(_) => ((total as f64) / (weights as f64)).round() as i64,
            _ => div_score(total, weights),
        }
    }
}

impl ScorePlugin for NodeResourcesFit {
    fn score(&self, state: &CycleState, pod: &PodInfo, node: &NodeInfo) -> Result<i64, Status> {
        match state.read::<PreScoreState>() {
            Some(s) => Ok(self.score_one(&s.pod_requests, node)),
            None => Ok(self.score_one(&pod_request_list(pod, &self.resources, true), node)),
        }
    }

    fn score_nodes(
        &self,
        state: &CycleState,
        pod: &PodInfo,
        nodes: &[&NodeInfo],
        out: &mut Vec<NodeScore>,
    ) -> Result<(), Status> {
        let fresh;
        let reqs = match state.read::<PreScoreState>() {
            Some(s) => &s.pod_requests,
            None => {
                fresh = pod_request_list(pod, &self.resources, true);
                &fresh
            }
        };
        if let Some((wc, wm)) = self.default_least() {
            // Same arithmetic as `score_one`, without per-resource dispatch.
            let (pc, pm) = (reqs[0], reqs[1]);
            let least = |alloc: i64, req: i64| -> Option<i64> {
                if alloc == 0 {
                    None
                } else if req > alloc {
                    Some(0)
                } else {
                    Some(div_score((alloc - req) * MAX_NODE_SCORE, alloc))
                }
            };
            out.extend(nodes.iter().enumerate().map(|(i, n)| {
                let c = least(n.allocatable.milli_cpu, n.non_zero_requested.milli_cpu + pc);
                let m = least(n.allocatable.memory, n.non_zero_requested.memory + pm);
                let (t, w) = match (c, m) {
                    (Some(c), Some(m)) => (c * wc + m * wm, wc + wm),
                    (Some(c), None) => (c * wc, wc),
                    (None, Some(m)) => (m * wm, wm),
                    (None, None) => (0, 0),
                };
                NodeScore {
                    index: i,
                    // Scores are never negative: halving (the default weights 1 + 1) is a shift,
                    // not one more division per node.
                    score: match w {
                        0 => 0,
                        2 => t >> 1,
                        _ => div_score(t, w),
                    },
                }
            }));
            return Ok(());
        }
        out.extend(nodes.iter().enumerate().map(|(i, n)| NodeScore {
            index: i,
            score: self.score_one(reqs, n),
        }));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::framework::Code;
    use crate::plugins::test_util::{filter, reasons, score};
    use crate::testing::{node, pod};

    fn plugin(json: serde_json::Value) -> Arc<NodeResourcesFit> {
        Arc::new(NodeResourcesFit::new(serde_json::from_value(json).unwrap()).unwrap())
    }

    #[test]
    fn filter_reports_every_insufficient_resource() {
        // Node: 4 cpu, 8Gi; existing pod uses 3 cpu, 1Gi.
        let n = || {
            node("n")
                .cpu("4")
                .memory("8Gi")
                .pods(3)
                .resource("example.com/gpu", "1")
                .obj()
        };
        let existing = || vec![pod("e").node("n").req("3", "1Gi").obj()];
        let cases: Vec<(crate::testing::PodBuilder, Code, Vec<&str>)> = vec![
            (pod("p").req("1", "1Gi"), Code::Success, vec![]),
            (
                pod("p").req("1500m", "1Gi"),
                Code::Unschedulable,
                vec!["Insufficient cpu"],
            ),
            (
                pod("p").req("2", "8Gi"),
                Code::Unschedulable,
                vec!["Insufficient cpu", "Insufficient memory"],
            ),
            // More than the node has in total: preemption cannot help.
            (
                pod("p").req("5", "0"),
                Code::UnschedulableAndUnresolvable,
                vec!["Insufficient cpu"],
            ),
            (
                pod("p").request("example.com/gpu", "2"),
                Code::UnschedulableAndUnresolvable,
                vec!["Insufficient example.com/gpu"],
            ),
            (
                pod("p").request("example.com/gpu", "1"),
                Code::Success,
                vec![],
            ),
            (
                pod("p").request("ephemeral-storage", "1Gi"),
                Code::UnschedulableAndUnresolvable,
                vec!["Insufficient ephemeral-storage"],
            ),
            // Best-effort pods always fit resource-wise.
            (pod("p"), Code::Success, vec![]),
        ];
        for (p, code, want) in cases {
            let s = filter(
                Arc::new(NodeResourcesFit::default()),
                p.clone().obj(),
                vec![n()],
                existing(),
            );
            assert_eq!(
                s[0].code(),
                code,
                "{:?}",
                p.0.spec.as_ref().unwrap().containers[0].resources
            );
            assert_eq!(reasons(&s[0]), want);
        }
    }

    #[test]
    fn filter_counts_pods() {
        let existing = vec![pod("a").node("n").obj(), pod("b").node("n").obj()];
        let s = filter(
            Arc::new(NodeResourcesFit::default()),
            pod("p").obj(),
            vec![node("n").pods(2).obj()],
            existing,
        );
        assert_eq!(reasons(&s[0]), vec!["Too many pods"]);
    }

    #[test]
    fn ignored_extended_resources_are_not_checked() {
        let p = plugin(serde_json::json!({"ignoredResourceGroups": ["example.com"]}));
        let s = filter(
            p,
            pod("p").request("example.com/foo", "3").obj(),
            vec![node("n").obj()],
            vec![],
        );
        assert!(s[0].is_success());
    }

    #[test]
    fn least_allocated_scores_like_upstream() {
        // Upstream least_allocated_test "nothing scheduled, resources requested, differently sized nodes":
        // pod 3000m/5000 bytes; node1 4000m/10000 → cpu (1000*100/4000)=25, mem 50 → 37;
        // node2 6000m/10000 → cpu 50, mem 50 → 50.
        let nodes = vec![
            node("n1").cpu("4").memory("10000").obj(),
            node("n2").cpu("6").memory("10000").obj(),
        ];
        let p = pod("p").req("3", "5000").obj();
        assert_eq!(
            score(Arc::new(NodeResourcesFit::default()), p, nodes, vec![]),
            vec![37, 50]
        );
    }

    #[test]
    fn most_allocated_prefers_fuller_nodes() {
        let p = plugin(serde_json::json!({"scoringStrategy": {"type": "MostAllocated"}}));
        let nodes = vec![
            node("n1").cpu("4").memory("10000").obj(),
            node("n2").cpu("6").memory("10000").obj(),
        ];
        // n1: cpu 3000*100/4000=75, mem 50 → 62; n2: cpu 50, mem 50 → 50.
        assert_eq!(
            score(p, pod("p").req("3", "5000").obj(), nodes, vec![]),
            vec![62, 50]
        );
    }

    #[test]
    fn requested_to_capacity_ratio_follows_the_shape() {
        let p = plugin(serde_json::json!({"scoringStrategy": {
            "type": "RequestedToCapacityRatio",
            "resources": [{"name": "cpu", "weight": 1}],
            "requestedToCapacityRatio": {"shape": [{"utilization": 0, "score": 0}, {"utilization": 100, "score": 10}]}
        }}));
        let nodes = vec![node("n1").cpu("4").obj(), node("n2").cpu("10").obj()];
        // utilization 75% → 75; 30% → 30 (bin packing).
        assert_eq!(
            score(p, pod("p").req("3", "1Gi").obj(), nodes, vec![]),
            vec![75, 30]
        );
        assert!(NodeResourcesFit::new(
            serde_json::from_value(
                serde_json::json!({"scoringStrategy": {"type": "RequestedToCapacityRatio"}})
            )
            .unwrap()
        )
        .is_err());
    }
}
