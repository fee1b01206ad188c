//! NodeAffinity: `spec.nodeSelector` and required node affinity must match (Filter); matching
//! preferred terms add their weights (Score). Also honours the plugin's `addedAffinity` arg.

use std::collections::BTreeSet;
use std::sync::Arc;

use k8s_openapi::api::core::v1::NodeAffinity as NodeAffinitySpec;
use kernel_core::labels::NodeSelector;
use kernel_core::scheduling::{PreferredSchedulingTerms, RequiredNodeAffinity};
use serde::Deserialize;

use crate::framework::{
    default_normalize_score, CycleState, FilterPlugin, NodeScore, Plugin, PreFilterPlugin,
    PreFilterResult, PreScorePlugin, ScorePlugin, Status, MAX_NODE_SCORE,
};
use crate::snapshot::Snapshot;
use crate::types::{NodeInfo, PodInfo};
use crate::Error;

/// The plugin name.
pub const NAME: &str = "NodeAffinity";
/// Upstream's failure reason.
pub const ERR_REASON_POD: &str = "node(s) didn't match Pod's node affinity/selector";
/// Upstream's failure reason for the scheduler-enforced `addedAffinity`.
pub const ERR_REASON_ENFORCED: &str = "node(s) didn't match scheduler-enforced node affinity";
/// Upstream's PreFilter reason when the required terms pin disjoint node names.
pub const ERR_REASON_CONFLICT: &str = "pod affinity terms conflict";

/// `NodeAffinityArgs`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NodeAffinityArgs {
    /// Affinity added to every pod of the profile.
    pub added_affinity: Option<NodeAffinitySpec>,
}

/// Node selector and node affinity.
#[derive(Clone, Debug, Default)]
pub struct NodeAffinity {
    added_required: Option<NodeSelector>,
    added_preferred: PreferredSchedulingTerms,
}

impl NodeAffinity {
    /// Builds the plugin; the added affinity must compile (upstream fails the profile).
    pub fn new(args: NodeAffinityArgs) -> Result<Self, Error> {
        let a = args.added_affinity.unwrap_or_default();
        let added_required = a
            .required_during_scheduling_ignored_during_execution
            .as_ref()
            .map(NodeSelector::new)
            .transpose()
            .map_err(|e| {
                Error::Config(format!(
                    "parsing addedAffinity.requiredDuringSchedulingIgnoredDuringExecution: {e}"
                ))
            })?;
        let added_preferred = PreferredSchedulingTerms::new(
            a.preferred_during_scheduling_ignored_during_execution
                .as_deref()
                .unwrap_or_default(),
        )
        .map_err(|e| {
            Error::Config(format!(
                "parsing addedAffinity.preferredDuringSchedulingIgnoredDuringExecution: {e}"
            ))
        })?;
        Ok(NodeAffinity {
            added_required,
            added_preferred,
        })
    }
}

impl Plugin for NodeAffinity {
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

/// The node names the required terms pin by `metadata.name` (upstream PreFilter): per term
/// the intersection of its `matchFields` `In` lists, across terms the union. `None` when
/// some term does not pin names (every node is a candidate).
fn pinned_node_names(pod: &PodInfo) -> Option<BTreeSet<String>> {
    let terms = &pod
        .pod
        .spec
        .as_ref()?
        .affinity
        .as_ref()?
        .node_affinity
        .as_ref()?
        .required_during_scheduling_ignored_during_execution
        .as_ref()?
        .node_selector_terms;
    if terms.is_empty() {
        return None;
    }
    let mut names = BTreeSet::new();
    for t in terms {
        let mut term_names: Option<BTreeSet<String>> = None;
        for f in t.match_fields.iter().flatten() {
            if f.key == "metadata.name" && f.operator == "In" {
                let s: BTreeSet<String> = f.values.iter().flatten().cloned().collect();
                term_names = Some(match term_names {
                    None => s,
                    Some(prev) => prev.intersection(&s).cloned().collect(),
                });
            }
        }
        names.extend(term_names?);
    }
    Some(names)
}

impl PreFilterPlugin for NodeAffinity {
    fn pre_filter(
        &self,
        state: &mut CycleState,
        pod: &PodInfo,
        _: &Snapshot,
    ) -> (Option<PreFilterResult>, Status) {
        let req = RequiredNodeAffinity::of_pod(&pod.pod);
        if req.is_empty() && self.added_required.is_none() {
            return (None, Status::skip());
        }
        state.write(req);
        match pinned_node_names(pod) {
            Some(n) if n.is_empty() => (None, Status::unresolvable(ERR_REASON_CONFLICT)),
            Some(n) => (
                Some(PreFilterResult {
                    node_names: Some(n),
                }),
                Status::success(),
            ),
            None => (None, Status::success()),
        }
    }
}

impl FilterPlugin for NodeAffinity {
    fn filter(&self, state: &CycleState, pod: &PodInfo, node: &NodeInfo) -> Status {
        if let Some(added) = &self.added_required {
            if !added.matches(&node.name, node.labels()) {
                return Status::unresolvable(ERR_REASON_ENFORCED);
            }
        }
        let fresh;
        let req = match state.read::<RequiredNodeAffinity>() {
            Some(r) => r,
            None => {
                fresh = RequiredNodeAffinity::of_pod(&pod.pod);
                &fresh
            }
        };
        // Terms that do not compile match nothing; their errors are ignored, as upstream.
        if req.matches(&node.name, node.labels()) {
            Status::success()
        } else {
            Status::unresolvable(ERR_REASON_POD)
        }
    }
}

#[derive(Clone, Debug)]
struct PreScoreState {
    preferred: PreferredSchedulingTerms,
}

fn pod_preferred(pod: &PodInfo) -> Result<PreferredSchedulingTerms, Status> {
    let terms = pod
        .pod
        .spec
        .as_ref()
        .and_then(|s| s.affinity.as_ref())
        .and_then(|a| a.node_affinity.as_ref())
        .and_then(|a| {
            a.preferred_during_scheduling_ignored_during_execution
                .as_deref()
        })
        .unwrap_or_default();
    PreferredSchedulingTerms::new(terms).map_err(|e| Status::error(e.to_string()))
}

impl PreScorePlugin for NodeAffinity {
    fn pre_score(
        &self,
        state: &mut CycleState,
        pod: &PodInfo,
        _: &[&NodeInfo],
        _: &Snapshot,
    ) -> Status {
        let preferred = match pod_preferred(pod) {
            Ok(p) => p,
            Err(s) => return s,
        };
        if preferred.is_empty() && self.added_preferred.is_empty() {
            return Status::skip();
        }
        state.write(PreScoreState { preferred });
        Status::success()
    }
}

impl ScorePlugin for NodeAffinity {
    fn score(&self, state: &CycleState, pod: &PodInfo, node: &NodeInfo) -> Result<i64, Status> {
        let added = self.added_preferred.score(&node.name, node.labels());
        let own = match state.read::<PreScoreState>() {
            Some(s) => s.preferred.score(&node.name, node.labels()),
            None => pod_preferred(pod)?.score(&node.name, node.labels()),
        };
        Ok(added + own)
    }

    fn normalize_score(&self, _: &CycleState, _: &PodInfo, scores: &mut [NodeScore]) -> Status {
        default_normalize_score(MAX_NODE_SCORE, false, scores);
        Status::success()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::framework::Code;
    use crate::plugins::test_util::{filter, score};
    use crate::testing::{node, pod};
    use k8s_openapi::api::core::v1::{
        Affinity, NodeSelector, NodeSelectorRequirement, NodeSelectorTerm, PreferredSchedulingTerm,
    };

    fn req(key: &str, op: &str, values: &[&str]) -> NodeSelectorRequirement {
        NodeSelectorRequirement {
            key: key.into(),
            operator: op.into(),
            values: Some(values.iter().map(|v| v.to_string()).collect()),
        }
    }

    fn required(terms: Vec<Vec<NodeSelectorRequirement>>) -> Affinity {
        Affinity {
            node_affinity: Some(NodeAffinitySpec {
                required_during_scheduling_ignored_during_execution: Some(NodeSelector {
                    node_selector_terms: terms
                        .into_iter()
                        .map(|e| NodeSelectorTerm {
                            match_expressions: Some(e),
                            match_fields: None,
                        })
                        .collect(),
                }),
                preferred_during_scheduling_ignored_during_execution: None,
            }),
            ..Default::default()
        }
    }

    #[test]
    fn node_selector_and_required_affinity() {
        let nodes = vec![
            node("a").label("disk", "ssd").zone("z1").obj(),
            node("b").label("disk", "hdd").zone("z2").obj(),
        ];
        let codes = |p| {
            filter(Arc::new(NodeAffinity::default()), p, nodes.clone(), vec![])
                .iter()
                .map(|s| s.code())
                .collect::<Vec<_>>()
        };
        use Code::{Success as S, UnschedulableAndUnresolvable as U};
        // nodeSelector must match exactly.
        assert_eq!(
            codes(pod("p").node_selector("disk", "ssd").obj()),
            vec![S, U]
        );
        // Terms are ORed.
        let a = required(vec![
            vec![req("disk", "In", &["hdd"])],
            vec![req(crate::plugins::LABEL_ZONE, "In", &["z1"])],
        ]);
        assert_eq!(codes(pod("p").affinity(a).obj()), vec![S, S]);
        // Requirements within a term are ANDed.
        let a = required(vec![vec![
            req("disk", "In", &["ssd"]),
            req(crate::plugins::LABEL_ZONE, "NotIn", &["z1"]),
        ]]);
        assert_eq!(codes(pod("p").affinity(a).obj()), vec![U, U]);
        // Both nodeSelector and affinity must be satisfied.
        let a = required(vec![vec![req("disk", "Exists", &[])]]);
        assert_eq!(
            codes(pod("p").node_selector("disk", "hdd").affinity(a).obj()),
            vec![U, S]
        );
        // No constraints: everything fits.
        assert_eq!(codes(pod("p").obj()), vec![S, S]);
    }

    #[test]
    fn preferred_terms_sum_weights_and_normalize() {
        let nodes = vec![
            node("a").label("disk", "ssd").obj(),
            node("b").label("gpu", "yes").obj(),
            node("c").obj(),
        ];
        let a = Affinity {
            node_affinity: Some(NodeAffinitySpec {
                preferred_during_scheduling_ignored_during_execution: Some(vec![
                    PreferredSchedulingTerm {
                        weight: 80,
                        preference: NodeSelectorTerm {
                            match_expressions: Some(vec![req("disk", "In", &["ssd"])]),
                            match_fields: None,
                        },
                    },
                    PreferredSchedulingTerm {
                        weight: 20,
                        preference: NodeSelectorTerm {
                            match_expressions: Some(vec![req("gpu", "Exists", &[])]),
                            match_fields: None,
                        },
                    },
                ]),
                required_during_scheduling_ignored_during_execution: None,
            }),
            ..Default::default()
        };
        assert_eq!(
            score(
                Arc::new(NodeAffinity::default()),
                pod("p").affinity(a).obj(),
                nodes,
                vec![]
            ),
            vec![100, 25, 0]
        );
    }

    #[test]
    fn added_affinity_applies_to_every_pod() {
        let args: NodeAffinityArgs = serde_json::from_value(serde_json::json!({
            "addedAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
                {"matchExpressions": [{"key": "pool", "operator": "In", "values": ["batch"]}]}]}}
        }))
        .unwrap();
        let s = filter(
            Arc::new(NodeAffinity::new(args).unwrap()),
            pod("p").obj(),
            vec![node("a").label("pool", "batch").obj(), node("b").obj()],
            vec![],
        );
        assert!(s[0].is_success());
        assert_eq!(s[1].reasons()[0], ERR_REASON_ENFORCED);
    }

    fn fields_term(names: &[&[&str]]) -> NodeSelectorTerm {
        NodeSelectorTerm {
            match_expressions: None,
            match_fields: Some(
                names
                    .iter()
                    .map(|n| req("metadata.name", "In", n))
                    .collect(),
            ),
        }
    }

    fn required_terms(terms: Vec<NodeSelectorTerm>) -> Affinity {
        Affinity {
            node_affinity: Some(NodeAffinitySpec {
                required_during_scheduling_ignored_during_execution: Some(NodeSelector {
                    node_selector_terms: terms,
                }),
                preferred_during_scheduling_ignored_during_execution: None,
            }),
            ..Default::default()
        }
    }

    #[test]
    fn prefilter_pins_node_names_like_upstream() {
        let pre = |a: Affinity| {
            let mut state = CycleState::new();
            let pi = PodInfo::new(pod("p").affinity(a).obj());
            NodeAffinity::default().pre_filter(&mut state, &pi, &Snapshot::default())
        };
        // Within a term the name lists intersect, across terms they are unioned.
        let (r, s) = pre(required_terms(vec![
            fields_term(&[&["a", "b"], &["b", "c"]]),
            fields_term(&[&["d"]]),
        ]));
        assert!(s.is_success());
        let names: Vec<String> = r.unwrap().node_names.unwrap().into_iter().collect();
        assert_eq!(names, ["b", "d"]);
        // A term without names leaves every node a candidate.
        let (r, _) = pre(required_terms(vec![
            fields_term(&[&["a"]]),
            NodeSelectorTerm {
                match_expressions: Some(vec![req("disk", "Exists", &[])]),
                match_fields: None,
            },
        ]));
        assert!(r.is_none());
        // Disjoint lists in one term: nothing can match.
        let (r, s) = pre(required_terms(vec![fields_term(&[&["a"], &["b"]])]));
        assert!(r.is_none());
        assert_eq!(s.code(), Code::UnschedulableAndUnresolvable);
        assert_eq!(s.reasons()[0], ERR_REASON_CONFLICT);
    }

    #[test]
    fn unknown_operator_term_matches_nothing_other_terms_still_match() {
        // Upstream GetRequiredNodeAffinity uses the lazy-error selector: the bad term never
        // matches, the good one still does, and Filter ignores the parse error.
        let nodes = vec![node("a").zone("z1").obj(), node("b").zone("z2").obj()];
        let a = required(vec![
            vec![req("zone", "Foo", &["z2"])],
            vec![req(crate::plugins::LABEL_ZONE, "In", &["z1"])],
        ]);
        let s = filter(
            Arc::new(NodeAffinity::default()),
            pod("p").affinity(a).obj(),
            nodes,
            vec![],
        );
        assert!(s[0].is_success());
        assert_eq!(s[1].code(), Code::UnschedulableAndUnresolvable);
    }

    #[test]
    fn invalid_added_affinity_fails_the_profile_and_invalid_preferred_terms_fail_prescore() {
        let args: NodeAffinityArgs = serde_json::from_value(serde_json::json!({
            "addedAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
                {"matchExpressions": [{"key": "pool", "operator": "Foo"}]}]}}
        }))
        .unwrap();
        let e = NodeAffinity::new(args).unwrap_err().to_string();
        assert!(
            e.contains("parsing addedAffinity.requiredDuringSchedulingIgnoredDuringExecution: nodeSelectorTerms[0].matchExpressions[0].operator: Unsupported value: \"Foo\""),
            "{e}"
        );
        let a = Affinity {
            node_affinity: Some(NodeAffinitySpec {
                preferred_during_scheduling_ignored_during_execution: Some(vec![
                    PreferredSchedulingTerm {
                        weight: 10,
                        preference: NodeSelectorTerm {
                            match_expressions: Some(vec![req("cores", "Gt", &["many"])]),
                            match_fields: None,
                        },
                    },
                ]),
                required_during_scheduling_ignored_during_execution: None,
            }),
            ..Default::default()
        };
        let mut state = CycleState::new();
        let pi = PodInfo::new(pod("p").affinity(a).obj());
        let s = NodeAffinity::default().pre_score(&mut state, &pi, &[], &Snapshot::default());
        assert_eq!(s.code(), Code::Error);
        assert!(
            s.reasons()[0].contains("the value must be an integer"),
            "{s:?}"
        );
    }
}
