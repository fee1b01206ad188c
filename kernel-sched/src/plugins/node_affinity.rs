//! NodeAffinity: `spec.nodeSelector` and required node affinity must match (Filter); matching
//! preferred terms add their weights (Score). Also honours the plugin's `addedAffinity` arg.

use std::collections::BTreeSet;
use std::sync::Arc;

use k8s_openapi::api::core::v1::NodeAffinity as NodeAffinitySpec;
use serde::Deserialize;

use crate::framework::{
    default_normalize_score, CycleState, ExtensionPoints, FilterPlugin, NodeScore, Plugin,
    PreFilterPlugin, PreFilterResult, PreScorePlugin, ScorePlugin, Status, MAX_NODE_SCORE,
};
use crate::labels::{Labels, NodeSelectorMatcher, PreferredNodeTerm};
use crate::snapshot::Snapshot;
use crate::types::{NodeInfo, PodInfo};

/// The plugin name.
pub const NAME: &str = "NodeAffinity";
/// Upstream's failure reason.
pub const ERR_REASON_POD: &str = "node(s) didn't match Pod's node affinity/selector";
/// Upstream's failure reason for the scheduler-enforced `addedAffinity`.
pub const ERR_REASON_ENFORCED: &str = "node(s) didn't match scheduler-enforced node affinity";

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
    added_required: Option<NodeSelectorMatcher>,
    added_preferred: Vec<PreferredNodeTerm>,
}

impl NodeAffinity {
    /// Builds the plugin.
    pub fn new(args: NodeAffinityArgs) -> Self {
        let a = args.added_affinity.unwrap_or_default();
        NodeAffinity {
            added_required: a
                .required_during_scheduling_ignored_during_execution
                .as_ref()
                .map(NodeSelectorMatcher::new),
            added_preferred: a
                .preferred_during_scheduling_ignored_during_execution
                .iter()
                .flatten()
                .map(|t| PreferredNodeTerm::new(t.weight, &t.preference))
                .collect(),
        }
    }
}

impl Plugin for NodeAffinity {
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

/// The pod's required node affinity, compiled once per cycle.
#[derive(Clone, Debug, Default)]
pub struct RequiredNodeAffinity {
    node_selector: Labels,
    required: Option<NodeSelectorMatcher>,
}

impl RequiredNodeAffinity {
    /// Compiles `spec.nodeSelector` and required node affinity of a pod.
    pub fn of(pod: &PodInfo) -> Self {
        let spec = pod.pod.spec.as_ref();
        RequiredNodeAffinity {
            node_selector: spec
                .and_then(|s| s.node_selector.clone())
                .unwrap_or_default(),
            required: spec
                .and_then(|s| s.affinity.as_ref())
                .and_then(|a| a.node_affinity.as_ref())
                .and_then(|a| {
                    a.required_during_scheduling_ignored_during_execution
                        .as_ref()
                })
                .map(NodeSelectorMatcher::new),
        }
    }

    /// Whether the pod has neither a node selector nor required node affinity.
    pub fn is_empty(&self) -> bool {
        self.node_selector.is_empty() && self.required.is_none()
    }

    /// Whether the node matches.
    pub fn matches(&self, node: &NodeInfo) -> bool {
        let labels = node.labels();
        self.node_selector
            .iter()
            .all(|(k, v)| labels.get(k) == Some(v))
            && self
                .required
                .as_ref()
                .is_none_or(|r| r.matches(&node.name, labels))
    }
}

/// Node names a required affinity term pins by `metadata.name` (`matchFields` `In`), if every
/// term does so.
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
    let mut names = BTreeSet::new();
    for t in terms {
        let fields = t.match_fields.as_ref()?;
        let f = fields
            .iter()
            .find(|f| f.key == "metadata.name" && f.operator == "In")?;
        names.extend(f.values.iter().flatten().cloned());
    }
    (!names.is_empty()).then_some(names)
}

impl PreFilterPlugin for NodeAffinity {
    fn pre_filter(
        &self,
        state: &mut CycleState,
        pod: &PodInfo,
        _: &Snapshot,
    ) -> (Option<PreFilterResult>, Status) {
        let req = RequiredNodeAffinity::of(pod);
        if req.is_empty() && self.added_required.is_none() {
            return (None, Status::skip());
        }
        state.write(req);
        (
            pinned_node_names(pod).map(|n| PreFilterResult {
                node_names: Some(n),
            }),
            Status::success(),
        )
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
                fresh = RequiredNodeAffinity::of(pod);
                &fresh
            }
        };
        if req.matches(node) {
            Status::success()
        } else {
            Status::unresolvable(ERR_REASON_POD)
        }
    }
}

#[derive(Clone, Debug)]
struct PreScoreState {
    preferred: Vec<PreferredNodeTerm>,
}

impl PreScorePlugin for NodeAffinity {
    fn pre_score(
        &self,
        state: &mut CycleState,
        pod: &PodInfo,
        _: &[&NodeInfo],
        _: &Snapshot,
    ) -> Status {
        let mut preferred = self.added_preferred.clone();
        if let Some(terms) = pod
            .pod
            .spec
            .as_ref()
            .and_then(|s| s.affinity.as_ref())
            .and_then(|a| a.node_affinity.as_ref())
            .and_then(|a| {
                a.preferred_during_scheduling_ignored_during_execution
                    .as_ref()
            })
        {
            preferred.extend(
                terms
                    .iter()
                    .map(|t| PreferredNodeTerm::new(t.weight, &t.preference)),
            );
        }
        if preferred.is_empty() {
            return Status::skip();
        }
        state.write(PreScoreState { preferred });
        Status::success()
    }
}

impl ScorePlugin for NodeAffinity {
    fn score(&self, state: &CycleState, _: &PodInfo, node: &NodeInfo) -> Result<i64, Status> {
        let s = state
            .read::<PreScoreState>()
            .ok_or_else(|| Status::error("NodeAffinity: no PreScore state"))?;
        Ok(s.preferred
            .iter()
            .filter(|t| t.matches(&node.name, node.labels()))
            .map(|t| t.weight)
            .sum())
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
            Arc::new(NodeAffinity::new(args)),
            pod("p").obj(),
            vec![node("a").label("pool", "batch").obj(), node("b").obj()],
            vec![],
        );
        assert!(s[0].is_success());
        assert_eq!(s[1].reasons()[0], ERR_REASON_ENFORCED);
    }
}
