//! Label and node selectors, matched the way upstream's `labels.Selector` and
//! `nodeaffinity.NodeSelector` match.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{NodeSelector, NodeSelectorRequirement, NodeSelectorTerm};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, LabelSelectorRequirement};

/// Labels of an object.
pub type Labels = BTreeMap<String, String>;

/// A compiled `metav1.LabelSelector`. `None` from [`Selector::from_label_selector`] for a nil
/// selector means "matches nothing", an empty selector matches everything.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Selector {
    reqs: Vec<Requirement>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct Requirement {
    key: String,
    op: Op,
    values: Vec<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Op {
    In,
    NotIn,
    Exists,
    DoesNotExist,
    Gt,
    Lt,
    /// An unknown operator: never matches.
    Invalid,
}

impl Op {
    fn parse(s: &str) -> Op {
        match s {
            "In" => Op::In,
            "NotIn" => Op::NotIn,
            "Exists" => Op::Exists,
            "DoesNotExist" => Op::DoesNotExist,
            "Gt" => Op::Gt,
            "Lt" => Op::Lt,
            _ => Op::Invalid,
        }
    }
}

impl Requirement {
    fn matches(&self, labels: &Labels) -> bool {
        let v = labels.get(&self.key);
        match self.op {
            Op::In => v.is_some_and(|v| self.values.iter().any(|x| x == v)),
            Op::NotIn => v.is_none_or(|v| !self.values.iter().any(|x| x == v)),
            Op::Exists => v.is_some(),
            Op::DoesNotExist => v.is_none(),
            Op::Gt | Op::Lt => {
                let (Some(v), Some(bound)) = (v, self.values.first()) else {
                    return false;
                };
                let (Ok(v), Ok(bound)) = (v.parse::<i64>(), bound.parse::<i64>()) else {
                    return false;
                };
                if self.op == Op::Gt {
                    v > bound
                } else {
                    v < bound
                }
            }
            Op::Invalid => false,
        }
    }
}

impl Selector {
    /// A selector that matches everything.
    pub fn everything() -> Self {
        Selector::default()
    }

    /// Compiles a label selector (`matchLabels` and `matchExpressions`).
    pub fn from_label_selector(sel: &LabelSelector) -> Self {
        let mut reqs = Vec::new();
        for (k, v) in sel.match_labels.iter().flatten() {
            reqs.push(Requirement {
                key: k.clone(),
                op: Op::In,
                values: vec![v.clone()],
            });
        }
        for LabelSelectorRequirement {
            key,
            operator,
            values,
        } in sel.match_expressions.iter().flatten()
        {
            let op = match Op::parse(operator) {
                Op::Gt | Op::Lt => Op::Invalid,
                op => op,
            };
            reqs.push(Requirement {
                key: key.clone(),
                op,
                values: values.clone().unwrap_or_default(),
            });
        }
        Selector { reqs }
    }

    /// A selector from `matchLabels`-style equality pairs.
    pub fn from_map(map: &Labels) -> Self {
        Selector {
            reqs: map
                .iter()
                .map(|(k, v)| Requirement {
                    key: k.clone(),
                    op: Op::In,
                    values: vec![v.clone()],
                })
                .collect(),
        }
    }

    /// Adds `key in (value)` (used for `matchLabelKeys`).
    pub fn add_equals(&mut self, key: &str, value: &str) {
        self.reqs.push(Requirement {
            key: key.into(),
            op: Op::In,
            values: vec![value.into()],
        });
    }

    /// Adds `key notin (value)` (used for `mismatchLabelKeys`).
    pub fn add_not_equals(&mut self, key: &str, value: &str) {
        self.reqs.push(Requirement {
            key: key.into(),
            op: Op::NotIn,
            values: vec![value.into()],
        });
    }

    /// Adds all requirements of `other` (the result matches the intersection).
    pub fn extend(&mut self, other: Selector) {
        self.reqs.extend(other.reqs);
    }

    /// Whether the selector has no requirements (matches everything).
    pub fn is_empty(&self) -> bool {
        self.reqs.is_empty()
    }

    /// Whether `labels` satisfy every requirement.
    pub fn matches(&self, labels: &Labels) -> bool {
        self.reqs.iter().all(|r| r.matches(labels))
    }
}

/// A compiled `NodeSelector`: terms are ORed, requirements within a term ANDed; `matchFields`
/// supports `metadata.name` as upstream.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NodeSelectorMatcher {
    terms: Vec<NodeTerm>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct NodeTerm {
    labels: Vec<Requirement>,
    fields: Vec<Requirement>,
}

fn compile_node_reqs(reqs: Option<&Vec<NodeSelectorRequirement>>) -> Vec<Requirement> {
    reqs.into_iter()
        .flatten()
        .map(|r| Requirement {
            key: r.key.clone(),
            op: Op::parse(&r.operator),
            values: r.values.clone().unwrap_or_default(),
        })
        .collect()
}

impl NodeTerm {
    fn compile(t: &NodeSelectorTerm) -> Option<NodeTerm> {
        let term = NodeTerm {
            labels: compile_node_reqs(t.match_expressions.as_ref()),
            fields: compile_node_reqs(t.match_fields.as_ref()),
        };
        // An empty term matches no objects (upstream skips it).
        if term.labels.is_empty() && term.fields.is_empty() {
            None
        } else {
            Some(term)
        }
    }

    fn matches(&self, node_name: &str, labels: &Labels) -> bool {
        self.labels.iter().all(|r| r.matches(labels))
            && self.fields.iter().all(|r| {
                if r.key != "metadata.name" {
                    return false;
                }
                let mut fields = Labels::new();
                fields.insert("metadata.name".into(), node_name.into());
                r.matches(&fields)
            })
    }
}

impl NodeSelectorMatcher {
    /// Compiles a required node selector.
    pub fn new(sel: &NodeSelector) -> Self {
        NodeSelectorMatcher {
            terms: sel
                .node_selector_terms
                .iter()
                .filter_map(NodeTerm::compile)
                .collect(),
        }
    }

    /// Whether a node with this name and labels matches any term.
    pub fn matches(&self, node_name: &str, labels: &Labels) -> bool {
        self.terms.iter().any(|t| t.matches(node_name, labels))
    }
}

/// A compiled preferred scheduling term: a weight and one node selector term.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PreferredNodeTerm {
    /// Weight, 1..100.
    pub weight: i64,
    term: Option<NodeTerm>,
}

impl PreferredNodeTerm {
    /// Compiles a preferred term.
    pub fn new(weight: i32, term: &NodeSelectorTerm) -> Self {
        PreferredNodeTerm {
            weight: i64::from(weight),
            term: NodeTerm::compile(term),
        }
    }

    /// Whether the node matches the term.
    pub fn matches(&self, node_name: &str, labels: &Labels) -> bool {
        self.term
            .as_ref()
            .is_some_and(|t| t.matches(node_name, labels))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> Labels {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn label_selector_operators() {
        let sel = LabelSelector {
            match_labels: Some(labels(&[("app", "web")])),
            match_expressions: Some(vec![
                LabelSelectorRequirement {
                    key: "tier".into(),
                    operator: "In".into(),
                    values: Some(vec!["a".into(), "b".into()]),
                },
                LabelSelectorRequirement {
                    key: "env".into(),
                    operator: "NotIn".into(),
                    values: Some(vec!["prod".into()]),
                },
                LabelSelectorRequirement {
                    key: "team".into(),
                    operator: "Exists".into(),
                    values: None,
                },
                LabelSelectorRequirement {
                    key: "legacy".into(),
                    operator: "DoesNotExist".into(),
                    values: None,
                },
            ]),
        };
        let s = Selector::from_label_selector(&sel);
        assert!(s.matches(&labels(&[("app", "web"), ("tier", "a"), ("team", "x")])));
        assert!(!s.matches(&labels(&[("app", "web"), ("tier", "c"), ("team", "x")])));
        assert!(!s.matches(&labels(&[
            ("app", "web"),
            ("tier", "a"),
            ("team", "x"),
            ("env", "prod")
        ])));
        assert!(!s.matches(&labels(&[("app", "web"), ("tier", "a")])));
        assert!(!s.matches(&labels(&[
            ("app", "web"),
            ("tier", "a"),
            ("team", "x"),
            ("legacy", "")
        ])));
        assert!(Selector::from_label_selector(&LabelSelector::default()).matches(&labels(&[])));
    }

    #[test]
    fn node_selector_gt_lt_and_fields() {
        let sel = NodeSelector {
            node_selector_terms: vec![
                NodeSelectorTerm {
                    match_expressions: Some(vec![NodeSelectorRequirement {
                        key: "cores".into(),
                        operator: "Gt".into(),
                        values: Some(vec!["4".into()]),
                    }]),
                    match_fields: None,
                },
                NodeSelectorTerm {
                    match_expressions: None,
                    match_fields: Some(vec![NodeSelectorRequirement {
                        key: "metadata.name".into(),
                        operator: "In".into(),
                        values: Some(vec!["n9".into()]),
                    }]),
                },
            ],
        };
        let m = NodeSelectorMatcher::new(&sel);
        assert!(m.matches("n1", &labels(&[("cores", "8")])));
        assert!(!m.matches("n1", &labels(&[("cores", "4")])));
        assert!(!m.matches("n1", &labels(&[("cores", "x")])));
        assert!(m.matches("n9", &labels(&[])));
        // Empty terms match nothing.
        let empty = NodeSelectorMatcher::new(&NodeSelector {
            node_selector_terms: vec![NodeSelectorTerm::default()],
        });
        assert!(!empty.matches("n1", &labels(&[])));
    }
}
