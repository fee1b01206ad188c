//! InterPodAffinity: required pod affinity / anti-affinity of the incoming pod and required
//! anti-affinity of existing pods (Filter), and preferred terms of both sides (Score), all per
//! topology domain (`topologyKey` value of the node a pod runs on).

use std::sync::Arc;

use serde::Deserialize;

use crate::framework::{
    CycleState, FilterPlugin, NodeScore, Plugin, PreFilterPlugin, PreFilterResult, PreScorePlugin,
    ScorePlugin, Status, MAX_NODE_SCORE,
};
use crate::plugins::LABEL_HOSTNAME;
use crate::snapshot::Snapshot;
use crate::types::{AffinityTerm, NodeInfo, PodInfo};
use crate::util::FastMap;

/// The plugin name.
pub const NAME: &str = "InterPodAffinity";
/// Upstream reason: the incoming pod's affinity is not satisfied.
pub const ERR_REASON_AFFINITY: &str = "node(s) didn't match pod affinity rules";
/// Upstream reason: the incoming pod's anti-affinity is violated.
pub const ERR_REASON_ANTI_AFFINITY: &str = "node(s) didn't match pod anti-affinity rules";
/// Upstream reason: an existing pod's anti-affinity would be violated.
pub const ERR_REASON_EXISTING_ANTI_AFFINITY: &str =
    "node(s) didn't satisfy existing pods anti-affinity rules";

/// `InterPodAffinityArgs`.
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InterPodAffinityArgs {
    /// Score weight of existing pods' *required* affinity terms that match the incoming pod.
    #[serde(default = "one")]
    pub hard_pod_affinity_weight: i64,
}

fn one() -> i64 {
    1
}

impl Default for InterPodAffinityArgs {
    fn default() -> Self {
        InterPodAffinityArgs {
            hard_pod_affinity_weight: 1,
        }
    }
}

/// Pod affinity and anti-affinity.
#[derive(Clone, Debug)]
pub struct InterPodAffinity {
    hard_pod_affinity_weight: i64,
}

impl Default for InterPodAffinity {
    fn default() -> Self {
        InterPodAffinity::new(InterPodAffinityArgs::default())
    }
}

impl InterPodAffinity {
    /// Builds the plugin.
    pub fn new(args: InterPodAffinityArgs) -> Self {
        InterPodAffinity {
            hard_pod_affinity_weight: args.hard_pod_affinity_weight,
        }
    }
}

impl Plugin for InterPodAffinity {
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

/// Counts per topology pair, looked up without allocating: `key → value → count`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TopologyCounts(FastMap<String, FastMap<String, i64>>);

impl TopologyCounts {
    fn add(&mut self, key: &str, value: &str, delta: i64) {
        // Look up before inserting: only new pairs allocate.
        if !self.0.contains_key(key) {
            self.0.insert(key.to_string(), FastMap::default());
        }
        let values = self.0.get_mut(key).expect("just inserted");
        let c = match values.get_mut(value) {
            Some(c) => c,
            None => values.entry(value.to_string()).or_default(),
        };
        *c += delta;
        if *c == 0 {
            values.remove(value);
            if values.is_empty() {
                self.0.remove(key);
            }
        }
    }

    /// The count of a pair.
    pub fn get(&self, key: &str, value: &str) -> i64 {
        self.0
            .get(key)
            .and_then(|v| v.get(value))
            .copied()
            .unwrap_or(0)
    }

    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Whether any pair whose key is a label of the node has a positive count.
    fn any_on(&self, node: &NodeInfo) -> bool {
        let labels = node.labels();
        self.0.iter().any(|(k, values)| {
            labels
                .get(k)
                .is_some_and(|v| values.get(v).is_some_and(|c| *c > 0))
        })
    }
}

#[derive(Clone, Debug, Default)]
struct PreFilterState {
    /// Hostnames are unique: hostname-keyed anti-affinity terms are checked on the node itself
    /// in Filter instead of being counted here (same result, no scan of the whole cluster).
    local: bool,
    /// Namespace labels, for namespace selectors evaluated in Filter.
    objects: Arc<crate::snapshot::ClusterObjects>,
    /// Pairs where existing pods' required anti-affinity matches the incoming pod.
    existing_anti_affinity: TopologyCounts,
    /// Pairs with existing pods matching all of the incoming pod's required affinity terms.
    affinity: TopologyCounts,
    /// Pairs with existing pods matching one of the incoming pod's required anti-affinity terms.
    anti_affinity: TopologyCounts,
}

fn is_local(local: bool, t: &AffinityTerm) -> bool {
    local && t.topology_key == LABEL_HOSTNAME
}

fn matches_all(terms: &[AffinityTerm], pod: &PodInfo, snapshot: &Snapshot) -> bool {
    !terms.is_empty() && terms.iter().all(|t| t.matches_in(pod, snapshot))
}

impl InterPodAffinity {
    /// Applies `existing` (on `node`) to the counts with `delta` (+1 add, -1 remove).
    fn update(
        state: &mut PreFilterState,
        incoming: &PodInfo,
        existing: &PodInfo,
        node: &NodeInfo,
        snapshot: &Snapshot,
        delta: i64,
    ) {
        let labels = node.labels();
        let local = state.local;
        for t in &existing.required_anti_affinity_terms {
            if is_local(local, t) {
                continue;
            }
            if let Some(v) = labels.get(&t.topology_key) {
                if t.matches_in(incoming, snapshot) {
                    state.existing_anti_affinity.add(&t.topology_key, v, delta);
                }
            }
        }
        if matches_all(&incoming.required_affinity_terms, existing, snapshot) {
            for t in &incoming.required_affinity_terms {
                if let Some(v) = labels.get(&t.topology_key) {
                    state.affinity.add(&t.topology_key, v, delta);
                }
            }
        }
        for t in &incoming.required_anti_affinity_terms {
            if is_local(local, t) {
                continue;
            }
            if let Some(v) = labels.get(&t.topology_key) {
                if t.matches_in(existing, snapshot) {
                    state.anti_affinity.add(&t.topology_key, v, delta);
                }
            }
        }
    }
}

impl PreFilterPlugin for InterPodAffinity {
    fn pre_filter(
        &self,
        state: &mut CycleState,
        pod: &PodInfo,
        snapshot: &Snapshot,
    ) -> (Option<PreFilterResult>, Status) {
        // Upstream: `framework.NewPodInfo` failing (an invalid label or namespace selector in
        // any affinity term) makes the pod unschedulable everywhere.
        if let Some(e) = &pod.parse_error {
            return (None, Status::unresolvable(format!("parsing pod: {e}")));
        }
        let has_terms =
            !pod.required_affinity_terms.is_empty() || !pod.required_anti_affinity_terms.is_empty();
        if !has_terms && snapshot.have_pods_with_required_anti_affinity.is_empty() {
            return (None, Status::skip());
        }
        let local = snapshot.hostname_unique();
        let mut s = PreFilterState {
            local,
            objects: snapshot.objects.clone(),
            ..Default::default()
        };
        for node in snapshot.nodes_with_required_anti_affinity_pods() {
            if local && node.pods_with_non_hostname_anti_affinity == 0 {
                continue; // all their terms are checked node-locally in Filter
            }
            let labels = node.labels();
            for existing in &node.pods_with_required_anti_affinity {
                for t in &existing.required_anti_affinity_terms {
                    if is_local(local, t) {
                        continue;
                    }
                    if let Some(v) = labels.get(&t.topology_key) {
                        if t.matches_in(pod, snapshot) {
                            s.existing_anti_affinity.add(&t.topology_key, v, 1);
                        }
                    }
                }
            }
        }
        let nonlocal_anti = pod
            .required_anti_affinity_terms
            .iter()
            .any(|t| !is_local(local, t));
        if !pod.required_affinity_terms.is_empty() || nonlocal_anti {
            for node in snapshot.node_infos() {
                let labels = node.labels();
                for existing in &node.pods {
                    if matches_all(&pod.required_affinity_terms, existing, snapshot) {
                        for t in &pod.required_affinity_terms {
                            if let Some(v) = labels.get(&t.topology_key) {
                                s.affinity.add(&t.topology_key, v, 1);
                            }
                        }
                    }
                    if !nonlocal_anti {
                        continue;
                    }
                    for t in &pod.required_anti_affinity_terms {
                        if is_local(local, t) {
                            continue;
                        }
                        if let Some(v) = labels.get(&t.topology_key) {
                            if t.matches_in(existing, snapshot) {
                                s.anti_affinity.add(&t.topology_key, v, 1);
                            }
                        }
                    }
                }
            }
        }
        state.write(s);
        (None, Status::success())
    }

    fn add_pod(
        &self,
        state: &mut CycleState,
        pod: &PodInfo,
        added: &PodInfo,
        node: &NodeInfo,
        snapshot: &Snapshot,
    ) {
        if let Some(s) = state.read_mut::<PreFilterState>() {
            Self::update(s, pod, added, node, snapshot, 1);
        }
    }

    fn remove_pod(
        &self,
        state: &mut CycleState,
        pod: &PodInfo,
        removed: &PodInfo,
        node: &NodeInfo,
        snapshot: &Snapshot,
    ) {
        if let Some(s) = state.read_mut::<PreFilterState>() {
            Self::update(s, pod, removed, node, snapshot, -1);
        }
    }
}

impl FilterPlugin for InterPodAffinity {
    fn filter(&self, state: &CycleState, pod: &PodInfo, node: &NodeInfo) -> Status {
        let Some(s) = state.read::<PreFilterState>() else {
            return Status::error("InterPodAffinity: no PreFilter state");
        };
        let labels = node.labels();
        // Required affinity: every term's topology key must be on the node, and some pod
        // matching all terms must run in the node's domain — unless no pod matches anywhere
        // and the pod matches its own terms (the first pod of a group).
        if !pod.required_affinity_terms.is_empty() {
            let mut pods_exist = true;
            for t in &pod.required_affinity_terms {
                match labels.get(&t.topology_key) {
                    None => return Status::unresolvable(ERR_REASON_AFFINITY),
                    Some(v) => {
                        if s.affinity.get(&t.topology_key, v) <= 0 {
                            pods_exist = false;
                        }
                    }
                }
            }
            if !pods_exist {
                let self_match = pod
                    .required_affinity_terms
                    .iter()
                    .all(|t| t.matches(pod, None));
                if !(s.affinity.is_empty() && self_match) {
                    return Status::unresolvable(ERR_REASON_AFFINITY);
                }
            }
        }
        for t in &pod.required_anti_affinity_terms {
            if let Some(v) = labels.get(&t.topology_key) {
                if s.anti_affinity.get(&t.topology_key, v) > 0 {
                    return Status::unschedulable(ERR_REASON_ANTI_AFFINITY);
                }
            }
        }
        if s.local && labels.contains_key(LABEL_HOSTNAME) {
            for t in pod
                .required_anti_affinity_terms
                .iter()
                .filter(|t| t.topology_key == LABEL_HOSTNAME)
            {
                if node
                    .pods
                    .iter()
                    .any(|p| t.matches_lazy(p, || s.objects.namespace_labels.get(&p.namespace)))
                {
                    return Status::unschedulable(ERR_REASON_ANTI_AFFINITY);
                }
            }
        }
        if !s.existing_anti_affinity.is_empty() && s.existing_anti_affinity.any_on(node) {
            return Status::unschedulable(ERR_REASON_EXISTING_ANTI_AFFINITY);
        }
        if s.local && labels.contains_key(LABEL_HOSTNAME) {
            for existing in &node.pods_with_required_anti_affinity {
                let hit = existing.required_anti_affinity_terms.iter().any(|t| {
                    t.topology_key == LABEL_HOSTNAME
                        && t.matches_lazy(pod, || s.objects.namespace_labels.get(&pod.namespace))
                });
                if hit {
                    return Status::unschedulable(ERR_REASON_EXISTING_ANTI_AFFINITY);
                }
            }
        }
        Status::success()
    }
}

#[derive(Clone, Debug, Default)]
struct PreScoreState {
    topology_score: TopologyCounts,
}

impl PreScorePlugin for InterPodAffinity {
    fn pre_score(
        &self,
        state: &mut CycleState,
        pod: &PodInfo,
        _: &[&NodeInfo],
        snapshot: &Snapshot,
    ) -> Status {
        let has_preferred = !pod.preferred_affinity_terms.is_empty()
            || !pod.preferred_anti_affinity_terms.is_empty();
        if !has_preferred && !snapshot.has_pods_affecting_affinity_score() {
            return Status::skip();
        }
        let mut score = TopologyCounts::default();
        let mut visit = |node: &NodeInfo, existing: &PodInfo| {
            let labels = node.labels();
            let mut add = |t: &AffinityTerm, w: i64| {
                if let Some(v) = labels.get(&t.topology_key) {
                    score.add(&t.topology_key, v, w);
                }
            };
            for wt in &pod.preferred_affinity_terms {
                if wt.term.matches_in(existing, snapshot) {
                    add(&wt.term, wt.weight);
                }
            }
            for wt in &pod.preferred_anti_affinity_terms {
                if wt.term.matches_in(existing, snapshot) {
                    add(&wt.term, -wt.weight);
                }
            }
            if self.hard_pod_affinity_weight > 0 {
                for t in &existing.required_affinity_terms {
                    if t.matches_in(pod, snapshot) {
                        add(t, self.hard_pod_affinity_weight);
                    }
                }
            }
            for wt in &existing.preferred_affinity_terms {
                if wt.term.matches_in(pod, snapshot) {
                    add(&wt.term, wt.weight);
                }
            }
            for wt in &existing.preferred_anti_affinity_terms {
                if wt.term.matches_in(pod, snapshot) {
                    add(&wt.term, -wt.weight);
                }
            }
        };
        if has_preferred {
            for node in snapshot.node_infos() {
                for existing in &node.pods {
                    visit(node, existing);
                }
            }
        } else {
            for node in snapshot.nodes_with_affinity_pods() {
                if node.pods_affecting_affinity_score == 0 {
                    continue;
                }
                for existing in &node.pods_with_affinity {
                    visit(node, existing);
                }
            }
        }
        if score.is_empty() {
            return Status::skip();
        }
        state.write(PreScoreState {
            topology_score: score,
        });
        Status::success()
    }
}

impl ScorePlugin for InterPodAffinity {
    fn score(&self, state: &CycleState, _: &PodInfo, node: &NodeInfo) -> Result<i64, Status> {
        let s = state
            .read::<PreScoreState>()
            .ok_or_else(|| Status::error("InterPodAffinity: no PreScore state"))?;
        let labels = node.labels();
        Ok(s.topology_score
            .0
            .iter()
            .filter_map(|(k, values)| labels.get(k).and_then(|v| values.get(v)))
            .sum())
    }

    fn normalize_score(&self, _: &CycleState, _: &PodInfo, scores: &mut [NodeScore]) -> Status {
        let min = scores.iter().map(|s| s.score).min().unwrap_or(0);
        let max = scores.iter().map(|s| s.score).max().unwrap_or(0);
        let diff = max - min;
        for s in scores.iter_mut() {
            s.score = if diff > 0 {
                (MAX_NODE_SCORE as f64 * ((s.score - min) as f64 / diff as f64)) as i64
            } else {
                0
            };
        }
        Status::success()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::framework::Code;
    use crate::plugins::test_util::{filter, score};
    use crate::plugins::{LABEL_HOSTNAME, LABEL_ZONE};
    use crate::testing::{node, pod};
    use k8s_openapi::api::core::v1::{
        Affinity, PodAffinity, PodAffinityTerm, PodAntiAffinity, WeightedPodAffinityTerm,
    };
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;

    fn term(key: &str, value: &str, topology: &str) -> PodAffinityTerm {
        PodAffinityTerm {
            label_selector: Some(LabelSelector {
                match_labels: Some([(key.to_string(), value.to_string())].into()),
                match_expressions: None,
            }),
            topology_key: topology.into(),
            ..Default::default()
        }
    }

    fn affinity(t: PodAffinityTerm) -> Affinity {
        Affinity {
            pod_affinity: Some(PodAffinity {
                required_during_scheduling_ignored_during_execution: Some(vec![t]),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    fn anti(t: PodAffinityTerm) -> Affinity {
        Affinity {
            pod_anti_affinity: Some(PodAntiAffinity {
                required_during_scheduling_ignored_during_execution: Some(vec![t]),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    fn zoned() -> Vec<k8s_openapi::api::core::v1::Node> {
        vec![
            node("a").zone("z1").obj(),
            node("b").zone("z1").obj(),
            node("c").zone("z2").obj(),
            node("d").obj(),
        ]
    }

    fn codes(
        p: k8s_openapi::api::core::v1::Pod,
        pods: Vec<k8s_openapi::api::core::v1::Pod>,
    ) -> Vec<Code> {
        filter(Arc::new(InterPodAffinity::default()), p, zoned(), pods)
            .iter()
            .map(|s| s.code())
            .collect()
    }

    use Code::{Success as S, Unschedulable as U, UnschedulableAndUnresolvable as X};

    #[test]
    fn required_affinity_follows_topology_domains() {
        let db = pod("db").label("app", "db").node("a").obj();
        let web = pod("web")
            .affinity(affinity(term("app", "db", LABEL_ZONE)))
            .obj();
        // Same zone as the db pod (a, b) fits; other zone and zoneless nodes do not.
        assert_eq!(codes(web.clone(), vec![db]), vec![S, S, X, X]);
        // No db pod anywhere: the pod does not match its own term, so nothing fits.
        assert_eq!(codes(web, vec![]), vec![X, X, X, X]);
        // First pod of a self-affine group may go anywhere that has the topology key.
        let first = pod("w0")
            .label("app", "web")
            .affinity(affinity(term("app", "web", LABEL_ZONE)))
            .obj();
        assert_eq!(codes(first, vec![]), vec![S, S, S, X]);
    }

    #[test]
    fn required_anti_affinity_of_incoming_pod() {
        let other = pod("o").label("app", "web").node("a").obj();
        let p = pod("p")
            .affinity(anti(term("app", "web", LABEL_ZONE)))
            .obj();
        assert_eq!(codes(p.clone(), vec![other.clone()]), vec![U, U, S, S]);
        let p = pod("p")
            .affinity(anti(term("app", "web", LABEL_HOSTNAME)))
            .obj();
        assert_eq!(codes(p, vec![other.clone()]), vec![U, S, S, S]);
        // Terms apply to the pod's own namespace by default.
        let p = pod("p")
            .namespace("other")
            .affinity(anti(term("app", "web", LABEL_HOSTNAME)))
            .obj();
        assert_eq!(codes(p, vec![other]), vec![S, S, S, S]);
    }

    #[test]
    fn hostname_terms_follow_the_label_not_the_node() {
        // Two nodes sharing a hostname label value form one domain (the node-local fast path
        // must not apply); distinct values keep domains separate.
        let shared = vec![
            node("a").label(LABEL_HOSTNAME, "h").obj(),
            node("b").label(LABEL_HOSTNAME, "h").obj(),
            node("c").obj(),
        ];
        let other = pod("o").label("app", "web").node("a").obj();
        let p = pod("p")
            .affinity(anti(term("app", "web", LABEL_HOSTNAME)))
            .obj();
        let codes: Vec<Code> = filter(
            Arc::new(InterPodAffinity::default()),
            p.clone(),
            shared.clone(),
            vec![other.clone()],
        )
        .iter()
        .map(|s| s.code())
        .collect();
        assert_eq!(codes, vec![U, U, S]);
        // Symmetric direction: an existing pod's hostname anti-affinity also covers node b.
        let guard = pod("g")
            .affinity(anti(term("app", "web", LABEL_HOSTNAME)))
            .node("a")
            .obj();
        let codes: Vec<Code> = filter(
            Arc::new(InterPodAffinity::default()),
            pod("w").label("app", "web").obj(),
            shared,
            vec![guard],
        )
        .iter()
        .map(|s| s.code())
        .collect();
        assert_eq!(codes, vec![U, U, S]);
    }

    #[test]
    fn existing_pods_anti_affinity_is_symmetric() {
        let guard = pod("g")
            .affinity(anti(term("app", "web", LABEL_ZONE)))
            .node("c")
            .obj();
        assert_eq!(
            codes(pod("p").label("app", "web").obj(), vec![guard.clone()]),
            vec![S, S, U, S]
        );
        assert_eq!(
            codes(pod("p").label("app", "db").obj(), vec![guard]),
            vec![S, S, S, S]
        );
    }

    #[test]
    fn preferred_terms_score_per_domain() {
        let pref = Affinity {
            pod_affinity: Some(PodAffinity {
                preferred_during_scheduling_ignored_during_execution: Some(vec![
                    WeightedPodAffinityTerm {
                        weight: 10,
                        pod_affinity_term: term("app", "db", LABEL_ZONE),
                    },
                ]),
                ..Default::default()
            }),
            pod_anti_affinity: Some(PodAntiAffinity {
                preferred_during_scheduling_ignored_during_execution: Some(vec![
                    WeightedPodAffinityTerm {
                        weight: 5,
                        pod_affinity_term: term("app", "cache", LABEL_HOSTNAME),
                    },
                ]),
                ..Default::default()
            }),
            node_affinity: None,
        };
        let pods = vec![
            pod("db").label("app", "db").node("a").obj(),
            pod("cache").label("app", "cache").node("b").obj(),
        ];
        // a: +10, b: +10-5 = 5, c: 0, d: 0 → min 0, max 10.
        let s = score(
            Arc::new(InterPodAffinity::default()),
            pod("p").affinity(pref).obj(),
            zoned(),
            pods,
        );
        assert_eq!(s, vec![100, 50, 0, 0]);
    }

    #[test]
    fn existing_pods_required_affinity_attracts_matching_pods() {
        let friend = pod("f")
            .affinity(affinity(term("app", "web", LABEL_HOSTNAME)))
            .node("c")
            .obj();
        let s = score(
            Arc::new(InterPodAffinity::default()),
            pod("p").label("app", "web").obj(),
            zoned(),
            vec![friend],
        );
        assert_eq!(s, vec![0, 0, 100, 0]);
    }

    fn bad_term() -> PodAffinityTerm {
        PodAffinityTerm {
            label_selector: Some(LabelSelector {
                match_labels: None,
                match_expressions: Some(vec![
                    k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelectorRequirement {
                        key: "app".into(),
                        operator: "Gt".into(),
                        values: Some(vec!["1".into()]),
                    },
                ]),
            }),
            topology_key: LABEL_HOSTNAME.into(),
            ..Default::default()
        }
    }

    #[test]
    fn invalid_label_selector_fails_prefilter_unschedulable_and_unresolvable() {
        // Upstream: NewPodInfo fails on LabelSelectorAsSelector's error and PreFilter answers
        // UnschedulableAndUnresolvable "parsing pod: ..." (kernel-sched used to compile the
        // operator to "never matches" and let the pod go anywhere).
        let p = pod("p")
            .label("app", "web")
            .affinity(anti(bad_term()))
            .obj();
        let statuses = filter(
            Arc::new(InterPodAffinity::default()),
            p.clone(),
            zoned(),
            vec![],
        );
        assert!(statuses.iter().all(|s| s.code() == X), "{statuses:?}");
        let want =
            "parsing pod: requiredAntiAffinityTerms: \"Gt\" is not a valid label selector operator";
        assert_eq!(crate::plugins::test_util::reasons(&statuses[0]), [want]);
        // Through the whole default framework: no node fits, for that reason.
        let d = crate::schedule(&p, &crate::Snapshot::new(zoned(), vec![])).unwrap_err();
        assert!(d.to_string().contains(want), "{d}");
        // Required affinity and preferred terms fail the same way.
        let p = pod("p").affinity(affinity(bad_term())).obj();
        let s = filter(Arc::new(InterPodAffinity::default()), p, zoned(), vec![]);
        assert_eq!(s[0].code(), X);
        let p = pod("p")
            .affinity(Affinity {
                pod_affinity: Some(PodAffinity {
                    preferred_during_scheduling_ignored_during_execution: Some(vec![
                        WeightedPodAffinityTerm {
                            weight: 5,
                            pod_affinity_term: bad_term(),
                        },
                    ]),
                    ..Default::default()
                }),
                ..Default::default()
            })
            .obj();
        let s = filter(Arc::new(InterPodAffinity::default()), p, zoned(), vec![]);
        assert_eq!(
            crate::plugins::test_util::reasons(&s[0]),
            ["parsing pod: preferredAffinityTerms: \"Gt\" is not a valid label selector operator"]
        );
    }

    #[test]
    fn existing_pod_with_invalid_selector_constrains_nothing() {
        // Upstream: the existing pod's unparseable term list is dropped (nil terms).
        let existing = pod("old")
            .label("app", "web")
            .node("a")
            .affinity(anti(bad_term()))
            .obj();
        let p = pod("p").label("app", "web").obj();
        assert_eq!(codes(p, vec![existing]), vec![S, S, S, S]);
    }
}
