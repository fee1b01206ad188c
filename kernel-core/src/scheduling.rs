//! Scheduling helpers every component agrees on (`k8s.io/component-helpers/scheduling/corev1`
//! and `k8s.io/api/core/v1/toleration.go`): whether tolerations tolerate taints, and a pod's
//! required and preferred node affinity.
//!
//! ```
//! use k8s_openapi::api::core::v1::{Taint, Toleration};
//! use kernel_core::scheduling::{find_matching_untolerated_taint, is_do_not_schedule_taint};
//!
//! let taints = vec![
//!     Taint { key: "gpu".into(), effect: "NoSchedule".into(), ..Default::default() },
//!     Taint { key: "spot".into(), effect: "PreferNoSchedule".into(), ..Default::default() },
//! ];
//! let tolerations = vec![Toleration {
//!     key: Some("gpu".into()),
//!     operator: Some("Exists".into()),
//!     ..Default::default()
//! }];
//! // Only NoSchedule/NoExecute taints count, and the gpu one is tolerated.
//! assert!(find_matching_untolerated_taint(&taints, &tolerations, is_do_not_schedule_taint).is_none());
//! assert_eq!(find_matching_untolerated_taint(&taints, &[], |_| true).unwrap().key, "gpu");
//! ```

use k8s_openapi::api::core::v1::{Node, Pod, PreferredSchedulingTerm, Taint, Toleration};

use crate::error::aggregate;
use crate::fields::Path;
use crate::labels::{Labels, NodeSelector, NodeSelectorTerm, Selector};
use crate::Error;

/// `NoSchedule`: new pods that do not tolerate the taint are not scheduled onto the node.
pub const TAINT_EFFECT_NO_SCHEDULE: &str = "NoSchedule";
/// `PreferNoSchedule`: the scheduler tries to avoid the node for pods that do not tolerate it.
pub const TAINT_EFFECT_PREFER_NO_SCHEDULE: &str = "PreferNoSchedule";
/// `NoExecute`: like NoSchedule, and running pods that do not tolerate it are evicted.
pub const TAINT_EFFECT_NO_EXECUTE: &str = "NoExecute";

/// Whether `toleration` tolerates `taint` (upstream `Toleration.ToleratesTaint`): the effect
/// must match unless the toleration's is empty; the key must match unless the toleration's is
/// empty; then operator `Exists` tolerates any value, `Equal` (or empty) only an equal value.
/// Any other operator tolerates nothing.
#[inline]
pub fn tolerates_taint(toleration: &Toleration, taint: &Taint) -> bool {
    if let Some(e) = toleration.effect.as_deref().filter(|e| !e.is_empty()) {
        if e != taint.effect {
            return false;
        }
    }
    if let Some(k) = toleration.key.as_deref().filter(|k| !k.is_empty()) {
        if k != taint.key {
            return false;
        }
    }
    match toleration.operator.as_deref().unwrap_or("") {
        "" | "Equal" => {
            toleration.value.as_deref().unwrap_or("") == taint.value.as_deref().unwrap_or("")
        }
        "Exists" => true,
        _ => false,
    }
}

/// Whether any of `tolerations` tolerates `taint` (upstream `TolerationsTolerateTaint`).
#[inline]
pub fn tolerations_tolerate_taint(tolerations: &[Toleration], taint: &Taint) -> bool {
    tolerations.iter().any(|t| tolerates_taint(t, taint))
}

/// The first taint that passes `filter` and is not tolerated (upstream
/// `FindMatchingUntoleratedTaint`), or `None` when the pod tolerates them all.
pub fn find_matching_untolerated_taint<'a>(
    taints: &'a [Taint],
    tolerations: &[Toleration],
    filter: impl Fn(&Taint) -> bool,
) -> Option<&'a Taint> {
    taints
        .iter()
        .filter(|t| filter(t))
        .find(|t| !tolerations_tolerate_taint(tolerations, t))
}

/// The filter the scheduler uses for hard taints: effect `NoSchedule` or `NoExecute`
/// (upstream `helper.DoNotScheduleTaintsFilterFunc`).
#[inline]
pub fn is_do_not_schedule_taint(taint: &Taint) -> bool {
    taint.effect == TAINT_EFFECT_NO_SCHEDULE || taint.effect == TAINT_EFFECT_NO_EXECUTE
}

/// A pod's required node placement: `spec.nodeSelector` AND the required node affinity terms
/// (upstream `nodeaffinity.GetRequiredNodeAffinity`). The affinity is compiled lazily: a term
/// that does not compile matches no node, and its error surfaces only through
/// [`try_matches`](Self::try_matches).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RequiredNodeAffinity {
    node_selector: Option<Selector>,
    affinity: Option<NodeSelector>,
}

impl RequiredNodeAffinity {
    /// Compiles the pod's `spec.nodeSelector` and
    /// `affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution`.
    pub fn of_pod(pod: &Pod) -> RequiredNodeAffinity {
        let spec = pod.spec.as_ref();
        RequiredNodeAffinity {
            node_selector: spec
                .and_then(|s| s.node_selector.as_ref())
                .filter(|m| !m.is_empty())
                .map(Selector::from_map),
            affinity: spec
                .and_then(|s| s.affinity.as_ref())
                .and_then(|a| a.node_affinity.as_ref())
                .and_then(|a| {
                    a.required_during_scheduling_ignored_during_execution
                        .as_ref()
                })
                .map(NodeSelector::lazy),
        }
    }

    /// Whether the pod has neither a node selector nor required node affinity (matches every
    /// node).
    pub fn is_empty(&self) -> bool {
        self.node_selector.is_none() && self.affinity.is_none()
    }

    /// Whether a node with this name and labels satisfies both; affinity terms that did not
    /// compile count as not matching (what the scheduler's NodeAffinity filter does).
    #[inline]
    pub fn matches(&self, node_name: &str, labels: &Labels) -> bool {
        self.node_selector
            .as_ref()
            .is_none_or(|s| s.matches(labels))
            && self
                .affinity
                .as_ref()
                .is_none_or(|a| a.matches(node_name, labels))
    }

    /// Like [`matches`](Self::matches), returning the affinity's compile errors when no term
    /// matched (upstream `RequiredNodeAffinity.Match`).
    pub fn try_matches(&self, node_name: &str, labels: &Labels) -> Result<bool, Error> {
        if let Some(s) = &self.node_selector {
            if !s.matches(labels) {
                return Ok(false);
            }
        }
        match &self.affinity {
            Some(a) => a.try_matches(node_name, labels),
            None => Ok(true),
        }
    }

    /// [`matches`](Self::matches) on a node object.
    pub fn matches_node(&self, node: &Node) -> bool {
        static EMPTY: Labels = Labels::new();
        self.matches(
            node.metadata.name.as_deref().unwrap_or(""),
            node.metadata.labels.as_ref().unwrap_or(&EMPTY),
        )
    }
}

/// Compiled preferred scheduling terms: a node scores the sum of the weights of the terms it
/// matches (upstream `nodeaffinity.PreferredSchedulingTerms`). Terms with weight 0 or no
/// requirements are skipped.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PreferredSchedulingTerms {
    terms: Vec<(i64, NodeSelectorTerm)>,
}

impl PreferredSchedulingTerms {
    /// Compiles the terms, failing with every problem aggregated (upstream
    /// `NewPreferredSchedulingTerms`).
    pub fn new(terms: &[PreferredSchedulingTerm]) -> Result<PreferredSchedulingTerms, Error> {
        let root = Path::default();
        let mut out = Vec::new();
        let mut errors = Vec::new();
        for (i, t) in terms.iter().enumerate() {
            if t.weight == 0 || NodeSelectorTerm::is_empty_term(&t.preference) {
                continue;
            }
            let term = NodeSelectorTerm::new(&t.preference, &root.index(i));
            if term.errors().is_empty() {
                out.push((i64::from(t.weight), term));
            } else {
                errors.extend(term.errors().iter().cloned());
            }
        }
        if errors.is_empty() {
            Ok(PreferredSchedulingTerms { terms: out })
        } else {
            Err(Error::InvalidNodeSelector(aggregate(&errors)))
        }
    }

    /// Adds the terms of `other` (e.g. a scheduler profile's added affinity).
    pub fn extend(&mut self, other: &PreferredSchedulingTerms) {
        self.terms.extend(other.terms.iter().cloned());
    }

    /// Whether there are no (non-empty, non-zero-weight) terms.
    pub fn is_empty(&self) -> bool {
        self.terms.is_empty()
    }

    /// The sum of the weights of the terms a node with this name and labels matches.
    #[inline]
    pub fn score(&self, node_name: &str, labels: &Labels) -> i64 {
        self.terms
            .iter()
            .filter(|(_, t)| t.matches(node_name, labels))
            .map(|(w, _)| *w)
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::{
        Affinity, NodeAffinity, NodeSelector as V1NodeSelector, NodeSelectorRequirement,
        NodeSelectorTerm as V1Term, PodSpec,
    };

    fn tol(key: &str, op: &str, value: &str, effect: &str) -> Toleration {
        let s = |v: &str| (!v.is_empty()).then(|| v.to_string());
        Toleration {
            key: s(key),
            operator: s(op),
            value: s(value),
            effect: s(effect),
            toleration_seconds: None,
        }
    }

    fn taint(key: &str, value: &str, effect: &str) -> Taint {
        Taint {
            key: key.into(),
            value: (!value.is_empty()).then(|| value.into()),
            effect: effect.into(),
            time_added: None,
        }
    }

    #[test]
    fn tolerates_taint_table() {
        // Modelled on upstream TestTolerationToleratesTaint.
        let cases: &[(Toleration, Taint, bool, &str)] = &[
            // An empty toleration is `Equal` on the empty value with any key (the API rejects
            // it, the function does not).
            (
                tol("", "", "", ""),
                taint("a", "", "NoSchedule"),
                true,
                "empty toleration, taint without value",
            ),
            (
                tol("", "", "", ""),
                taint("a", "v", "NoSchedule"),
                false,
                "empty toleration, taint with value",
            ),
            (
                tol("", "Exists", "", ""),
                taint("a", "b", "NoExecute"),
                true,
                "empty key + Exists tolerates everything",
            ),
            (
                tol("", "Exists", "", "NoSchedule"),
                taint("a", "b", "NoExecute"),
                false,
                "effect must match",
            ),
            (
                tol("", "Exists", "", "NoSchedule"),
                taint("a", "b", "NoSchedule"),
                true,
                "empty key, effect matches",
            ),
            (
                tol("a", "Exists", "", ""),
                taint("a", "x", "PreferNoSchedule"),
                true,
                "Exists ignores the value",
            ),
            (
                tol("a", "Exists", "", ""),
                taint("b", "x", "NoSchedule"),
                false,
                "key must match",
            ),
            (
                tol("a", "Equal", "x", "NoSchedule"),
                taint("a", "x", "NoSchedule"),
                true,
                "Equal, same value",
            ),
            (
                tol("a", "Equal", "x", ""),
                taint("a", "y", "NoSchedule"),
                false,
                "Equal, other value",
            ),
            (
                tol("a", "", "x", ""),
                taint("a", "x", "NoSchedule"),
                true,
                "empty operator is Equal",
            ),
            (
                tol("a", "", "", ""),
                taint("a", "", "NoSchedule"),
                true,
                "Equal on empty values",
            ),
            (
                tol("", "Equal", "x", ""),
                taint("a", "x", "NoSchedule"),
                true,
                "empty key + Equal matches any key with the value",
            ),
            (
                tol("a", "Gt", "1", ""),
                taint("a", "2", "NoSchedule"),
                false,
                "unknown operator tolerates nothing",
            ),
        ];
        for (t, ta, want, name) in cases {
            assert_eq!(tolerates_taint(t, ta), *want, "{name}");
        }
    }

    #[test]
    fn find_untolerated_with_filter() {
        let taints = vec![
            taint("soft", "", "PreferNoSchedule"),
            taint("a", "1", "NoSchedule"),
            taint("b", "2", "NoExecute"),
        ];
        let none: &[Toleration] = &[];
        assert_eq!(
            find_matching_untolerated_taint(&taints, none, is_do_not_schedule_taint)
                .map(|t| &t.key[..]),
            Some("a")
        );
        assert_eq!(
            find_matching_untolerated_taint(&taints, none, |_| true).map(|t| &t.key[..]),
            Some("soft")
        );
        let tols = [tol("a", "Equal", "1", "NoSchedule")];
        assert_eq!(
            find_matching_untolerated_taint(&taints, &tols, is_do_not_schedule_taint)
                .map(|t| &t.key[..]),
            Some("b")
        );
        let all = [tol("", "Exists", "", "")];
        assert!(find_matching_untolerated_taint(&taints, &all, |_| true).is_none());
        assert!(tolerations_tolerate_taint(&all, &taints[2]));
        assert!(!is_do_not_schedule_taint(&taints[0]));
    }

    fn req(key: &str, op: &str, values: &[&str]) -> NodeSelectorRequirement {
        NodeSelectorRequirement {
            key: key.into(),
            operator: op.into(),
            values: Some(values.iter().map(|v| v.to_string()).collect()),
        }
    }

    fn pod(
        node_selector: &[(&str, &str)],
        terms: Option<Vec<Vec<NodeSelectorRequirement>>>,
    ) -> Pod {
        Pod {
            spec: Some(PodSpec {
                node_selector: (!node_selector.is_empty()).then(|| labels(node_selector)),
                affinity: terms.map(|terms| Affinity {
                    node_affinity: Some(NodeAffinity {
                        required_during_scheduling_ignored_during_execution: Some(V1NodeSelector {
                            node_selector_terms: terms
                                .into_iter()
                                .map(|e| V1Term {
                                    match_expressions: Some(e),
                                    match_fields: None,
                                })
                                .collect(),
                        }),
                        preferred_during_scheduling_ignored_during_execution: None,
                    }),
                    ..Default::default()
                }),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    use crate::labels::from_pairs as labels;

    #[test]
    fn required_node_affinity_ands_selector_and_terms() {
        // Modelled on upstream TestGetRequiredNodeAffinity.
        let empty = RequiredNodeAffinity::of_pod(&pod(&[], None));
        assert!(empty.is_empty());
        assert!(empty.matches("n", &labels(&[])));
        let p = pod(
            &[("disk", "ssd")],
            Some(vec![
                vec![req("zone", "In", &["z1"])],
                vec![req("zone", "In", &["z2"])],
            ]),
        );
        let r = RequiredNodeAffinity::of_pod(&p);
        assert!(!r.is_empty());
        assert!(r.matches("n", &labels(&[("disk", "ssd"), ("zone", "z2")])));
        assert!(!r.matches("n", &labels(&[("disk", "hdd"), ("zone", "z2")])));
        assert!(!r.matches("n", &labels(&[("disk", "ssd"), ("zone", "z3")])));
        let mut node = Node::default();
        node.metadata.labels = Some(labels(&[("disk", "ssd"), ("zone", "z1")]));
        assert!(r.matches_node(&node));
        // Only a node selector.
        let r = RequiredNodeAffinity::of_pod(&pod(&[("disk", "ssd")], None));
        assert!(r.matches("n", &labels(&[("disk", "ssd"), ("x", "y")])));
        assert!(!r.matches("n", &labels(&[])));
    }

    #[test]
    fn required_node_affinity_with_a_bad_term() {
        let p = pod(
            &[],
            Some(vec![
                vec![req("a", "Foo", &[])],
                vec![req("zone", "In", &["z1"])],
            ]),
        );
        let r = RequiredNodeAffinity::of_pod(&p);
        assert!(r.matches("n", &labels(&[("zone", "z1")])));
        assert_eq!(r.try_matches("n", &labels(&[("zone", "z1")])), Ok(true));
        assert!(!r.matches("n", &labels(&[("a", "x")])));
        assert!(r
            .try_matches("n", &labels(&[("a", "x")]))
            .unwrap_err()
            .to_string()
            .contains("Unsupported value: \"Foo\""));
        // A failing nodeSelector answers false before the affinity's errors.
        let p = pod(&[("disk", "ssd")], Some(vec![vec![req("a", "Foo", &[])]]));
        assert_eq!(
            RequiredNodeAffinity::of_pod(&p).try_matches("n", &labels(&[])),
            Ok(false)
        );
    }

    #[test]
    fn preferred_terms_sum_weights() {
        let pref = |w: i32, e: Vec<NodeSelectorRequirement>| PreferredSchedulingTerm {
            weight: w,
            preference: V1Term {
                match_expressions: Some(e),
                match_fields: None,
            },
        };
        let terms = PreferredSchedulingTerms::new(&[
            pref(80, vec![req("disk", "In", &["ssd"])]),
            pref(20, vec![req("gpu", "Exists", &[])]),
            pref(0, vec![req("zero", "Exists", &[])]),
            pref(5, vec![]),
        ])
        .unwrap();
        assert_eq!(
            terms.score("n", &labels(&[("disk", "ssd"), ("gpu", "1")])),
            100
        );
        assert_eq!(terms.score("n", &labels(&[("gpu", "1")])), 20);
        assert_eq!(terms.score("n", &labels(&[("zero", "1")])), 0);
        assert!(!terms.is_empty());
        let e = PreferredSchedulingTerms::new(&[pref(1, vec![req("a", "Bad", &[])])]).unwrap_err();
        assert_eq!(
            e.to_string(),
            "[0].matchExpressions[0].operator: Unsupported value: \"Bad\": supported values: \"In\", \"NotIn\", \"Exists\", \"DoesNotExist\", \"Gt\", \"Lt\""
        );
        let mut a = PreferredSchedulingTerms::default();
        assert!(a.is_empty());
        a.extend(&terms);
        assert_eq!(a.score("n", &labels(&[("disk", "ssd")])), 80);
    }
}
