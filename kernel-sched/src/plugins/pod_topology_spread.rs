//! PodTopologySpread: `whenUnsatisfiable: DoNotSchedule` constraints bound the skew of
//! matching pods across topology domains (Filter); `ScheduleAnyway` constraints — and, for
//! pods without constraints, upstream's system default constraints (hostname maxSkew 3, zone
//! maxSkew 5, selector taken from the services / controllers selecting the pod) — prefer
//! emptier domains (Score).

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use k8s_openapi::api::apps::v1::{ReplicaSetSpec, StatefulSetSpec};
use k8s_openapi::api::core::v1::TopologySpreadConstraint;
use kernel_core::labels::{Labels, Selector};
use kernel_core::scheduling::{find_matching_untolerated_taint, RequiredNodeAffinity};
use serde::Deserialize;

use crate::framework::{
    CycleState, ExtensionPoints, FilterPlugin, NodeScore, Plugin, PreFilterPlugin, PreFilterResult,
    PreScorePlugin, ScorePlugin, Status, MAX_NODE_SCORE,
};
use crate::plugins::{LABEL_HOSTNAME, LABEL_ZONE};
use crate::snapshot::Snapshot;
use crate::types::{NodeInfo, PodInfo};
use crate::Error;

/// The plugin name.
pub const NAME: &str = "PodTopologySpread";
/// Upstream reason: the skew would exceed `maxSkew`.
pub const ERR_REASON_CONSTRAINTS_NOT_MATCH: &str =
    "node(s) didn't match pod topology spread constraints";
/// Upstream reason: the node lacks a constraint's topology key.
pub const ERR_REASON_NODE_LABEL_NOT_MATCH: &str =
    "node(s) didn't match pod topology spread constraints (missing required label)";

/// `PodTopologySpreadArgs`.
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PodTopologySpreadArgs {
    /// Constraints for pods that declare none (only with `defaultingType: List`).
    #[serde(default)]
    pub default_constraints: Vec<TopologySpreadConstraint>,
    /// `System` (upstream's built-in defaults) or `List`.
    #[serde(default = "system")]
    pub defaulting_type: String,
}

fn system() -> String {
    "System".into()
}

impl Default for PodTopologySpreadArgs {
    fn default() -> Self {
        PodTopologySpreadArgs {
            default_constraints: Vec::new(),
            defaulting_type: system(),
        }
    }
}

/// Upstream's system default constraints.
pub fn system_default_constraints() -> Vec<TopologySpreadConstraint> {
    vec![
        TopologySpreadConstraint {
            topology_key: LABEL_HOSTNAME.into(),
            when_unsatisfiable: "ScheduleAnyway".into(),
            max_skew: 3,
            ..Default::default()
        },
        TopologySpreadConstraint {
            topology_key: LABEL_ZONE.into(),
            when_unsatisfiable: "ScheduleAnyway".into(),
            max_skew: 5,
            ..Default::default()
        },
    ]
}

/// Topology spreading.
#[derive(Clone, Debug)]
pub struct PodTopologySpread {
    default_constraints: Vec<TopologySpreadConstraint>,
    system_defaulted: bool,
}

impl Default for PodTopologySpread {
    fn default() -> Self {
        PodTopologySpread::new(PodTopologySpreadArgs::default()).expect("default args are valid")
    }
}

impl PodTopologySpread {
    /// Builds the plugin.
    pub fn new(args: PodTopologySpreadArgs) -> Result<Self, Error> {
        match args.defaulting_type.as_str() {
            "System" => {
                if !args.default_constraints.is_empty() {
                    return Err(Error::Config(
                        "defaultConstraints must be empty with defaultingType System".into(),
                    ));
                }
                Ok(PodTopologySpread {
                    default_constraints: system_default_constraints(),
                    system_defaulted: true,
                })
            }
            "List" => {
                if args
                    .default_constraints
                    .iter()
                    .any(|c| c.label_selector.is_some())
                {
                    return Err(Error::Config(
                        "defaultConstraints may not set labelSelector".into(),
                    ));
                }
                Ok(PodTopologySpread {
                    default_constraints: args.default_constraints,
                    system_defaulted: false,
                })
            }
            other => Err(Error::Config(format!("unknown defaultingType {other:?}"))),
        }
    }

    /// The constraints of `pod` with the given `whenUnsatisfiable` (upstream
    /// `getConstraints`); an invalid label selector is an error, as upstream
    /// `LabelSelectorAsSelector`.
    fn constraints(
        &self,
        pod: &PodInfo,
        snapshot: &Snapshot,
        action: &str,
    ) -> Result<Vec<Constraint>, kernel_core::Error> {
        let declared = pod
            .pod
            .spec
            .as_ref()
            .and_then(|s| s.topology_spread_constraints.as_ref())
            .filter(|c| !c.is_empty());
        match declared {
            Some(cs) => cs
                .iter()
                .filter(|c| c.when_unsatisfiable == action)
                .map(|c| {
                    let sel = Selector::from_meta_opt(c.label_selector.as_ref())?;
                    Ok(Constraint::new(c, merge_match_label_keys(pod, c, sel)))
                })
                .collect(),
            None => {
                let Some(sel) = default_selector(pod, snapshot) else {
                    return Ok(Vec::new());
                };
                Ok(self
                    .default_constraints
                    .iter()
                    .filter(|c| c.when_unsatisfiable == action)
                    .map(|c| Constraint::new(c, sel.clone()))
                    .collect())
            }
        }
    }
}

/// `matchLabelKeys`: the pod's values of those keys, as equality requirements, plus the
/// selector's requirements (upstream `mergeLabelSetWithSelector`; with a nil selector only the
/// pod's values remain).
fn merge_match_label_keys(pod: &PodInfo, c: &TopologySpreadConstraint, sel: Selector) -> Selector {
    let values: Labels = c
        .match_label_keys
        .iter()
        .flatten()
        .filter_map(|k| Some((k.clone(), pod.labels().get(k)?.clone())))
        .collect();
    if values.is_empty() {
        return sel;
    }
    let mut merged = Selector::from_map(&values);
    if !sel.is_nothing() {
        merged.extend(sel);
    }
    merged
}

/// The merged selectors of the services, replication controllers, replica sets and stateful
/// sets that select the pod (upstream `helper.DefaultSelector`); `None` if there are none.
fn default_selector(pod: &PodInfo, snapshot: &Snapshot) -> Option<Selector> {
    let objs = snapshot.objects();
    let labels = pod.labels();
    let mut merged = Labels::new();
    let mut exprs = Vec::new();
    let mut found = false;
    let in_ns = |ns: &Option<String>| ns.as_deref() == Some(pod.namespace.as_str());
    for svc in objs.services.state_filter(|s| in_ns(&s.metadata.namespace)) {
        if let Some(sel) = svc
            .spec
            .as_ref()
            .and_then(|s| s.selector.as_ref())
            .filter(|s| !s.is_empty())
        {
            if Selector::from_map(sel).matches(labels) {
                merged.extend(sel.clone());
                found = true;
            }
        }
    }
    for rc in objs
        .replication_controllers
        .state_filter(|s| in_ns(&s.metadata.namespace))
    {
        if let Some(sel) = rc
            .spec
            .as_ref()
            .and_then(|s| s.selector.as_ref())
            .filter(|s| !s.is_empty())
        {
            if Selector::from_map(sel).matches(labels) {
                merged.extend(sel.clone());
                found = true;
            }
        }
    }
    let replica_sets = objs
        .replica_sets
        .state_filter(|s| in_ns(&s.metadata.namespace));
    let stateful_sets = objs
        .stateful_sets
        .state_filter(|s| in_ns(&s.metadata.namespace));
    let ls = replica_sets
        .iter()
        .filter_map(|r| r.spec.spec_ref().map(|s| &s.selector))
        .chain(
            stateful_sets
                .iter()
                .filter_map(|r| r.spec.spec_ref().map(|s| &s.selector)),
        );
    for sel in ls {
        // An invalid selector selects nothing here, as upstream DefaultSelector skips it.
        let Ok(s) = Selector::from_meta(sel) else {
            continue;
        };
        if !s.is_empty() && s.matches(labels) {
            exprs.push(s);
            found = true;
        }
    }
    if !found {
        return None;
    }
    let mut out = Selector::from_map(&merged);
    for e in exprs {
        out.extend(e);
    }
    Some(out)
}

#[derive(Clone, Debug)]
struct Constraint {
    max_skew: i64,
    topology_key: String,
    selector: Selector,
    min_domains: i64,
    honor_node_affinity: bool,
    honor_taints: bool,
}

impl Constraint {
    fn new(c: &TopologySpreadConstraint, selector: Selector) -> Self {
        Constraint {
            max_skew: i64::from(c.max_skew),
            topology_key: c.topology_key.clone(),
            selector,
            min_domains: i64::from(c.min_domains.unwrap_or(1)),
            honor_node_affinity: c.node_affinity_policy.as_deref().unwrap_or("Honor") == "Honor",
            honor_taints: c.node_taints_policy.as_deref().unwrap_or("Ignore") == "Honor",
        }
    }

    fn includes_node(
        &self,
        pod: &PodInfo,
        node: &NodeInfo,
        affinity: &RequiredNodeAffinity,
    ) -> bool {
        if self.honor_node_affinity && !affinity.matches(&node.name, node.labels()) {
            return false;
        }
        if self.honor_taints {
            let tols = pod
                .pod
                .spec
                .as_ref()
                .and_then(|s| s.tolerations.as_deref())
                .unwrap_or(&[]);
            if find_matching_untolerated_taint(&node.hard_taints, tols, |_| true).is_some() {
                return false;
            }
        }
        true
    }

    fn count(&self, node: &NodeInfo, ns: &str) -> i64 {
        node.pods
            .iter()
            .filter(|p| {
                p.namespace == ns
                    && p.pod.metadata.deletion_timestamp.is_none()
                    && self.selector.matches(p.labels())
            })
            .count() as i64
    }
}

fn has_all_keys(labels: &Labels, cs: &[Constraint]) -> bool {
    cs.iter().all(|c| labels.contains_key(&c.topology_key))
}

#[derive(Clone, Debug, Default)]
struct PreFilterState {
    constraints: Vec<Constraint>,
    /// Per constraint: topology value → matching pods.
    counts: Vec<HashMap<String, i64>>,
    affinity: RequiredNodeAffinity,
}

impl PreFilterState {
    fn min_match(&self, i: usize) -> i64 {
        let c = &self.counts[i];
        if (c.len() as i64) < self.constraints[i].min_domains {
            return 0;
        }
        c.values().copied().min().unwrap_or(0)
    }

    fn update(&mut self, incoming: &PodInfo, other: &PodInfo, node: &NodeInfo, delta: i64) {
        if other.namespace != incoming.namespace || !has_all_keys(node.labels(), &self.constraints)
        {
            return;
        }
        for (i, c) in self.constraints.iter().enumerate() {
            if !c.selector.matches(other.labels())
                || !c.includes_node(incoming, node, &self.affinity)
            {
                continue;
            }
            let v = &node.labels()[&c.topology_key];
            *self.counts[i].entry(v.clone()).or_default() += delta;
        }
    }
}

impl Plugin for PodTopologySpread {
    fn name(&self) -> &'static str {
        NAME
    }
    fn extension_points(self: Arc<Self>) -> ExtensionPoints {
        ExtensionPoints::of(self)
            .pre_filter()
            .filter()
            .pre_score()
            .score()
            .into()
    }
}

impl PreFilterPlugin for PodTopologySpread {
    fn pre_filter(
        &self,
        state: &mut CycleState,
        pod: &PodInfo,
        snapshot: &Snapshot,
    ) -> (Option<PreFilterResult>, Status) {
        let constraints = match self.constraints(pod, snapshot, "DoNotSchedule") {
            Ok(c) => c,
            // Upstream returns the error as is (`framework.AsStatus`): an Error status.
            Err(e) => {
                return (
                    None,
                    Status::error(format!("get constraints from pod: {e}")),
                )
            }
        };
        if constraints.is_empty() {
            return (None, Status::skip());
        }
        let affinity = RequiredNodeAffinity::of_pod(&pod.pod);
        let mut counts = vec![HashMap::new(); constraints.len()];
        for node in snapshot.node_infos() {
            let labels = node.labels();
            if !has_all_keys(labels, &constraints) {
                continue;
            }
            for (i, c) in constraints.iter().enumerate() {
                if !c.includes_node(pod, node, &affinity) {
                    continue;
                }
                *counts[i]
                    .entry(labels[&c.topology_key].clone())
                    .or_default() += c.count(node, &pod.namespace);
            }
        }
        state.write(PreFilterState {
            constraints,
            counts,
            affinity,
        });
        (None, Status::success())
    }

    fn add_pod(
        &self,
        state: &mut CycleState,
        pod: &PodInfo,
        added: &PodInfo,
        node: &NodeInfo,
        _: &Snapshot,
    ) {
        if let Some(s) = state.read_mut::<PreFilterState>() {
            s.update(pod, added, node, 1);
        }
    }

    fn remove_pod(
        &self,
        state: &mut CycleState,
        pod: &PodInfo,
        removed: &PodInfo,
        node: &NodeInfo,
        _: &Snapshot,
    ) {
        if let Some(s) = state.read_mut::<PreFilterState>() {
            s.update(pod, removed, node, -1);
        }
    }
}

impl FilterPlugin for PodTopologySpread {
    fn filter(&self, state: &CycleState, pod: &PodInfo, node: &NodeInfo) -> Status {
        let Some(s) = state.read::<PreFilterState>() else {
            return Status::error("PodTopologySpread: no PreFilter state");
        };
        let labels = node.labels();
        for (i, c) in s.constraints.iter().enumerate() {
            let Some(v) = labels.get(&c.topology_key) else {
                return Status::unresolvable(ERR_REASON_NODE_LABEL_NOT_MATCH);
            };
            let self_match = i64::from(c.selector.matches(pod.labels()));
            let matching = s.counts[i].get(v).copied().unwrap_or(0);
            if matching + self_match - s.min_match(i) > c.max_skew {
                return Status::unschedulable(ERR_REASON_CONSTRAINTS_NOT_MATCH);
            }
        }
        Status::success()
    }
}

#[derive(Clone, Debug, Default)]
struct PreScoreState {
    constraints: Vec<Constraint>,
    ignored: HashSet<String>,
    /// Per constraint (non-hostname keys): topology value → matching pods.
    counts: Vec<HashMap<String, i64>>,
    weights: Vec<f64>,
    namespace: String,
}

impl PreScorePlugin for PodTopologySpread {
    fn pre_score(
        &self,
        state: &mut CycleState,
        pod: &PodInfo,
        nodes: &[&NodeInfo],
        snapshot: &Snapshot,
    ) -> Status {
        let declared = pod
            .pod
            .spec
            .as_ref()
            .and_then(|s| s.topology_spread_constraints.as_ref())
            .is_some_and(|c| !c.is_empty());
        let constraints = match self.constraints(pod, snapshot, "ScheduleAnyway") {
            Ok(c) => c,
            Err(e) => {
                return Status::error(format!(
                    "calculating preScoreState: get constraints from pod: {e}"
                ))
            }
        };
        if constraints.is_empty() || snapshot.num_nodes() == 0 {
            return Status::skip();
        }
        let require_all = declared || !self.system_defaulted;
        let mut s = PreScoreState {
            counts: vec![HashMap::new(); constraints.len()],
            namespace: pod.namespace.clone(),
            ..Default::default()
        };
        let mut sizes = vec![0usize; constraints.len()];
        for n in nodes {
            if require_all && !has_all_keys(n.labels(), &constraints) {
                s.ignored.insert(n.name.clone());
                continue;
            }
            for (i, c) in constraints.iter().enumerate() {
                if c.topology_key == LABEL_HOSTNAME {
                    continue;
                }
                let v = n.labels().get(&c.topology_key).cloned().unwrap_or_default();
                if let std::collections::hash_map::Entry::Vacant(e) = s.counts[i].entry(v) {
                    e.insert(0);
                    sizes[i] += 1;
                }
            }
        }
        s.weights = constraints
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let size = if c.topology_key == LABEL_HOSTNAME {
                    nodes.len() - s.ignored.len()
                } else {
                    sizes[i]
                };
                ((size + 2) as f64).ln()
            })
            .collect();
        let affinity = RequiredNodeAffinity::of_pod(&pod.pod);
        for node in snapshot.node_infos() {
            if require_all && !has_all_keys(node.labels(), &constraints) {
                continue;
            }
            for (i, c) in constraints.iter().enumerate() {
                if !c.includes_node(pod, node, &affinity) {
                    continue;
                }
                let v = node
                    .labels()
                    .get(&c.topology_key)
                    .map(String::as_str)
                    .unwrap_or("");
                if let Some(slot) = s.counts[i].get_mut(v) {
                    *slot += c.count(node, &pod.namespace);
                }
            }
        }
        s.constraints = constraints;
        state.write(s);
        Status::success()
    }
}

impl ScorePlugin for PodTopologySpread {
    fn score(&self, state: &CycleState, _: &PodInfo, node: &NodeInfo) -> Result<i64, Status> {
        let s = state
            .read::<PreScoreState>()
            .ok_or_else(|| Status::error("PodTopologySpread: no PreScore state"))?;
        if s.ignored.contains(&node.name) {
            return Ok(-1);
        }
        let mut score = 0.0;
        for (i, c) in s.constraints.iter().enumerate() {
            let Some(v) = node.labels().get(&c.topology_key) else {
                continue;
            };
            let cnt = if c.topology_key == LABEL_HOSTNAME {
                c.count(node, &s.namespace)
            } else {
                s.counts[i].get(v).copied().unwrap_or(0)
            };
            score += cnt as f64 * s.weights[i] + (c.max_skew - 1) as f64;
        }
        Ok(score.round() as i64)
    }

    fn normalize_score(&self, _: &CycleState, _: &PodInfo, scores: &mut [NodeScore]) -> Status {
        let valid = || scores.iter().filter(|s| s.score >= 0).map(|s| s.score);
        let min = valid().min().unwrap_or(0);
        let max = valid().max().unwrap_or(0);
        for s in scores.iter_mut() {
            s.score = if s.score < 0 {
                0
            } else if max == 0 {
                MAX_NODE_SCORE
            } else {
                MAX_NODE_SCORE * (max + min - s.score) / max
            };
        }
        Status::success()
    }
}

/// The `spec` of a ReplicaSet or StatefulSet, optional in k8s-openapi's types up to Kubernetes
/// 1.36 and required since 1.37: read the same way whichever version the binary picked.
trait SpecRef<T> {
    fn spec_ref(&self) -> Option<&T>;
}

impl<T> SpecRef<T> for Option<T> {
    fn spec_ref(&self) -> Option<&T> {
        self.as_ref()
    }
}

impl SpecRef<ReplicaSetSpec> for ReplicaSetSpec {
    fn spec_ref(&self) -> Option<&ReplicaSetSpec> {
        Some(self)
    }
}

impl SpecRef<StatefulSetSpec> for StatefulSetSpec {
    fn spec_ref(&self) -> Option<&StatefulSetSpec> {
        Some(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::framework::Code;
    use crate::plugins::test_util::{filter, score};
    use crate::snapshot::ClusterObjects;
    use crate::testing::{node, pod};
    use k8s_openapi::api::core::v1::{Service, ServiceSpec};
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};

    fn spread(key: &str, skew: i32, when: &str) -> TopologySpreadConstraint {
        TopologySpreadConstraint {
            topology_key: key.into(),
            max_skew: skew,
            when_unsatisfiable: when.into(),
            label_selector: Some(LabelSelector {
                match_labels: Some([("app".to_string(), "web".to_string())].into()),
                match_expressions: None,
            }),
            ..Default::default()
        }
    }

    fn web(name: &str) -> crate::testing::PodBuilder {
        pod(name).label("app", "web")
    }

    #[test]
    fn do_not_schedule_bounds_skew() {
        // Upstream filtering_test "pods spread across zones as 3/3, all nodes fit" style:
        // zone1 has 2 matching pods, zone2 has 0; maxSkew 1 → only zone2 fits.
        let nodes = vec![
            node("a").zone("z1").obj(),
            node("b").zone("z1").obj(),
            node("c").zone("z2").obj(),
            node("d").obj(),
        ];
        let pods = vec![web("p1").node("a").obj(), web("p2").node("b").obj()];
        let p = web("new")
            .with_spec(|s| {
                s.topology_spread_constraints = Some(vec![spread(LABEL_ZONE, 1, "DoNotSchedule")])
            })
            .obj();
        let s = filter(
            Arc::new(PodTopologySpread::default()),
            p.clone(),
            nodes.clone(),
            pods.clone(),
        );
        let codes: Vec<_> = s.iter().map(|s| s.code()).collect();
        use Code::{Success as S, Unschedulable as U, UnschedulableAndUnresolvable as X};
        assert_eq!(codes, vec![U, U, S, X]);
        assert_eq!(s[3].reasons()[0], ERR_REASON_NODE_LABEL_NOT_MATCH);
        // maxSkew 2: zone1 would be 3 - 0 = 3 > 2, still rejected; maxSkew 3 allows it.
        let p3 = web("new")
            .with_spec(|s| {
                s.topology_spread_constraints = Some(vec![spread(LABEL_ZONE, 3, "DoNotSchedule")])
            })
            .obj();
        let s = filter(
            Arc::new(PodTopologySpread::default()),
            p3,
            nodes.clone(),
            pods.clone(),
        );
        assert_eq!(
            s.iter().map(|s| s.code()).collect::<Vec<_>>(),
            vec![S, S, S, X]
        );
        // A pod not matching its own selector adds no skew: 2 - 0 = 2 > 1 still fails in z1.
        let other = pod("o")
            .with_spec(|s| {
                s.topology_spread_constraints = Some(vec![spread(LABEL_ZONE, 1, "DoNotSchedule")])
            })
            .obj();
        let s = filter(Arc::new(PodTopologySpread::default()), other, nodes, pods);
        assert_eq!(
            s.iter().map(|s| s.code()).collect::<Vec<_>>(),
            vec![U, U, S, X]
        );
    }

    #[test]
    fn min_domains_forces_global_minimum_to_zero() {
        let nodes = vec![node("a").zone("z1").obj(), node("b").zone("z2").obj()];
        let pods = vec![web("p1").node("a").obj(), web("p2").node("b").obj()];
        let mut c = spread(LABEL_ZONE, 1, "DoNotSchedule");
        let p = web("new")
            .with_spec(|s| s.topology_spread_constraints = Some(vec![c.clone()]))
            .obj();
        let s = filter(
            Arc::new(PodTopologySpread::default()),
            p,
            nodes.clone(),
            pods.clone(),
        );
        assert!(s.iter().all(|s| s.is_success()), "1+1-1 <= 1");
        c.min_domains = Some(3);
        let p = web("new")
            .with_spec(|s| s.topology_spread_constraints = Some(vec![c]))
            .obj();
        let s = filter(Arc::new(PodTopologySpread::default()), p, nodes, pods);
        assert!(
            s.iter().all(|s| s.code() == Code::Unschedulable),
            "2 domains < minDomains 3: min is 0, 1+1-0 > 1"
        );
    }

    #[test]
    fn node_affinity_policy_excludes_domains() {
        // Pods in zone z2 sit on a node the incoming pod cannot use; with the default Honor
        // policy that domain is not counted, so z1 (0 pods) is the only domain and skew is fine.
        let nodes = vec![
            node("a").zone("z1").label("pool", "x").obj(),
            node("b").zone("z2").obj(),
        ];
        let pods = vec![web("p1").node("b").obj(), web("p2").node("b").obj()];
        let p = web("new")
            .node_selector("pool", "x")
            .with_spec(|s| {
                s.topology_spread_constraints = Some(vec![spread(LABEL_ZONE, 1, "DoNotSchedule")])
            })
            .obj();
        let s = filter(Arc::new(PodTopologySpread::default()), p, nodes, pods);
        assert!(s[0].is_success());
    }

    #[test]
    fn schedule_anyway_prefers_emptier_domains() {
        let nodes = vec![
            node("a").zone("z1").obj(),
            node("b").zone("z2").obj(),
            node("c").zone("z3").obj(),
        ];
        let pods = vec![
            web("p1").node("a").obj(),
            web("p2").node("a").obj(),
            web("p3").node("b").obj(),
        ];
        let p = web("new")
            .with_spec(|s| {
                s.topology_spread_constraints = Some(vec![spread(LABEL_ZONE, 1, "ScheduleAnyway")])
            })
            .obj();
        // weight ln(3+2)=1.609: raw a=round(3.22)=3, b=round(1.61)=2, c=0 → 100*(3+0-s)/3.
        assert_eq!(
            score(Arc::new(PodTopologySpread::default()), p, nodes, pods),
            vec![0, 33, 100]
        );
    }

    #[test]
    fn system_defaults_use_the_service_selector() {
        let nodes = vec![node("a").zone("z1").obj(), node("b").zone("z1").obj()];
        let pods = vec![
            web("p1").node("a").obj(),
            web("p2").node("a").obj(),
            web("p3").node("a").obj(),
        ];
        let fwk_score = |objects: ClusterObjects| {
            let fwk = crate::framework::Framework::new(
                "t",
                vec![crate::framework::PluginEntry {
                    plugin: Arc::new(PodTopologySpread::default()),
                    weight: 1,
                }],
            );
            let snap = Snapshot::new(nodes.clone(), pods.clone()).with_objects(objects);
            let pi = PodInfo::new(web("new").obj());
            let mut st = CycleState::new();
            let infos: Vec<_> = snap.node_infos().iter().collect();
            fwk.run_score_plugins(&mut st, &pi, &infos, &snap).unwrap()
        };
        // Without a service the pod has no default constraints: no preference.
        assert_eq!(fwk_score(ClusterObjects::default()), vec![0, 0]);
        let svc = Service {
            metadata: ObjectMeta {
                name: Some("web".into()),
                namespace: Some("default".into()),
                ..Default::default()
            },
            spec: Some(ServiceSpec {
                selector: Some([("app".to_string(), "web".to_string())].into()),
                ..Default::default()
            }),
            status: None,
        };
        let objs = ClusterObjects::default().with([svc]);
        let s = fwk_score(objs);
        assert!(
            s[1] > s[0],
            "hostname spreading prefers the empty node: {s:?}"
        );
    }

    #[test]
    fn invalid_label_selector_is_an_error_status() {
        // Upstream getConstraints fails on LabelSelectorAsSelector's error and PreFilter
        // returns it with framework.AsStatus (code Error); kernel-sched used to treat the
        // constraint's unknown operator as "matches nothing".
        let mut c = spread(LABEL_ZONE, 1, "DoNotSchedule");
        c.label_selector = Some(LabelSelector {
            match_labels: None,
            match_expressions: Some(vec![
                k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelectorRequirement {
                    key: "app".into(),
                    operator: "Lt".into(),
                    values: Some(vec!["3".into()]),
                },
            ]),
        });
        let p = web("new")
            .with_spec(|s| s.topology_spread_constraints = Some(vec![c.clone()]))
            .obj();
        let nodes = vec![node("a").zone("z1").obj(), node("b").zone("z2").obj()];
        let s = filter(
            Arc::new(PodTopologySpread::default()),
            p.clone(),
            nodes.clone(),
            vec![],
        );
        assert_eq!(s[0].code(), Code::Error);
        assert_eq!(
            crate::plugins::test_util::reasons(&s[0]),
            ["get constraints from pod: \"Lt\" is not a valid label selector operator"]
        );
        // The scheduler reports it as an error, not a fit failure.
        let d = crate::schedule(&p, &crate::Snapshot::new(nodes.clone(), vec![])).unwrap_err();
        assert!(d.error.is_some(), "{d:?}");
        // A ScheduleAnyway constraint with the same selector does not block filtering.
        c.when_unsatisfiable = "ScheduleAnyway".into();
        let p = web("new")
            .with_spec(|s| s.topology_spread_constraints = Some(vec![c]))
            .obj();
        let s = filter(Arc::new(PodTopologySpread::default()), p, nodes, vec![]);
        assert!(
            s.iter().all(|s| s.code() == Code::Skip || s.is_success()),
            "{s:?}"
        );
    }

    #[test]
    fn match_label_keys_merge_like_upstream() {
        // matchLabelKeys adds the pod's own values of those keys to the selector.
        let nodes = vec![node("a").zone("z1").obj(), node("b").zone("z2").obj()];
        let pods = vec![
            web("p1").label("rev", "1").node("a").obj(),
            web("p2").label("rev", "2").node("b").obj(),
            web("p3").label("rev", "2").node("b").obj(),
        ];
        let mut c = spread(LABEL_ZONE, 1, "DoNotSchedule");
        c.match_label_keys = Some(vec!["rev".into()]);
        let p = web("new")
            .label("rev", "2")
            .with_spec(|s| s.topology_spread_constraints = Some(vec![c]))
            .obj();
        // Only rev=2 pods count: z1 has 0, z2 has 2 → only z1 fits.
        let s = filter(Arc::new(PodTopologySpread::default()), p, nodes, pods);
        assert!(s[0].is_success());
        assert_eq!(s[1].code(), Code::Unschedulable);
    }
}
