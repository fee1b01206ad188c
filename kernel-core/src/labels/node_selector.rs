//! Compiled `v1.NodeSelector`s, as upstream `component-helpers/scheduling/corev1/nodeaffinity`:
//! terms are ORed, the requirements of a term ANDed; `matchExpressions` select on node labels
//! (with `Gt`/`Lt` integer comparisons), `matchFields` on `metadata.name`.

use k8s_openapi::api::core::v1 as corev1;
use serde_json::Value;

use super::{validate_requirement, Labels, Operator, Requirement, Selector};
use crate::error::aggregate;
use crate::fields::{FieldError, Path, Term};
use crate::Error;

const VALID_SELECTOR_OPERATORS: &[&str] = &["In", "NotIn", "Exists", "DoesNotExist", "Gt", "Lt"];
const VALID_FIELD_SELECTOR_OPERATORS: &[&str] = &["In", "NotIn"];

/// The one field a node offers to `matchFields`.
const OBJECT_NAME_FIELD: &str = "metadata.name";

/// One compiled `v1.NodeSelectorTerm`. A term whose requirements do not compile keeps its
/// errors and matches no node (upstream's `nodeSelectorTerm.parseErrs`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeSelectorTerm {
    /// `matchExpressions` (`None` when the term has none).
    labels: Option<Selector>,
    /// `matchFields` (empty when the term has none).
    fields: Vec<Term>,
    errors: Vec<String>,
}

fn label_requirements(
    reqs: &[corev1::NodeSelectorRequirement],
    path: &Path,
    errors: &mut Vec<String>,
) -> Selector {
    let mut sel = Selector::everything();
    for (i, r) in reqs.iter().enumerate() {
        let p = path.index(i);
        let op = match r.operator.as_str() {
            "In" => Operator::In,
            "NotIn" => Operator::NotIn,
            "Exists" => Operator::Exists,
            "DoesNotExist" => Operator::DoesNotExist,
            "Gt" => Operator::GreaterThan,
            "Lt" => Operator::LessThan,
            other => {
                errors.push(
                    FieldError::not_supported(
                        p.child("operator"),
                        &Value::String(other.to_string()),
                        VALID_SELECTOR_OPERATORS,
                    )
                    .to_string(),
                );
                continue;
            }
        };
        let values = r.values.clone().unwrap_or_default();
        let errs = validate_requirement(&r.key, op, &values, Some(p.as_str()));
        if errs.is_empty() {
            sel.add(Requirement::new_unchecked(&r.key, op, values));
        } else {
            errors.extend(errs);
        }
    }
    sel
}

fn field_requirements(
    reqs: &[corev1::NodeSelectorRequirement],
    path: &Path,
    errors: &mut Vec<String>,
) -> Vec<Term> {
    let mut out = Vec::new();
    for (i, r) in reqs.iter().enumerate() {
        let p = path.index(i);
        let negated = match r.operator.as_str() {
            "In" => false,
            "NotIn" => true,
            other => {
                errors.push(
                    FieldError::not_supported(
                        p.child("operator"),
                        &Value::String(other.to_string()),
                        VALID_FIELD_SELECTOR_OPERATORS,
                    )
                    .to_string(),
                );
                continue;
            }
        };
        match r.values.as_deref() {
            Some([v]) => out.push(Term {
                field: r.key.clone(),
                value: v.clone(),
                negated,
            }),
            values => errors.push(format!(
                "{}: Invalid value: {:?}: must have one element",
                p.child("values"),
                values.unwrap_or_default()
            )),
        }
    }
    out
}

impl NodeSelectorTerm {
    /// Compiles a term; `path` names it in error messages (`nodeSelectorTerms[0]`).
    pub fn new(term: &corev1::NodeSelectorTerm, path: &Path) -> NodeSelectorTerm {
        let mut errors = Vec::new();
        let labels = term
            .match_expressions
            .as_deref()
            .filter(|e| !e.is_empty())
            .map(|e| label_requirements(e, &path.child("matchExpressions"), &mut errors));
        let fields = term
            .match_fields
            .as_deref()
            .map(|f| field_requirements(f, &path.child("matchFields"), &mut errors))
            .unwrap_or_default();
        NodeSelectorTerm {
            labels,
            fields,
            errors,
        }
    }

    /// Whether the term has neither `matchExpressions` nor `matchFields` (such a term selects
    /// no node and upstream drops it).
    pub fn is_empty_term(term: &corev1::NodeSelectorTerm) -> bool {
        term.match_expressions.as_ref().is_none_or(Vec::is_empty)
            && term.match_fields.as_ref().is_none_or(Vec::is_empty)
    }

    /// The messages of the requirements that did not compile.
    pub fn errors(&self) -> &[String] {
        &self.errors
    }

    /// Whether a node with this name and these labels matches. A term with errors matches
    /// nothing. As upstream, `matchFields` are only checked when the node has a name.
    #[inline]
    pub fn matches(&self, node_name: &str, labels: &Labels) -> bool {
        if !self.errors.is_empty() {
            return false;
        }
        if let Some(sel) = &self.labels {
            if !sel.matches(labels) {
                return false;
            }
        }
        if !self.fields.is_empty() && !node_name.is_empty() {
            return self.fields.iter().all(|t| {
                t.matches_value(if t.field == OBJECT_NAME_FIELD {
                    node_name
                } else {
                    ""
                })
            });
        }
        true
    }
}

/// A compiled `v1.NodeSelector`: terms ORed; empty terms dropped (they select nothing).
///
/// [`NodeSelector::new`] fails on any requirement that does not compile (upstream
/// `NewNodeSelector`); [`NodeSelector::lazy`] keeps such terms as matching nothing and reports
/// their errors only when no other term matches (upstream `NewLazyErrorNodeSelector`, what the
/// scheduler uses for pods).
///
/// ```
/// use k8s_openapi::api::core::v1::{NodeSelector as V1NodeSelector, NodeSelectorRequirement, NodeSelectorTerm};
/// use kernel_core::labels::{Labels, NodeSelector};
///
/// let term = |key: &str, op: &str, values: &[&str]| NodeSelectorTerm {
///     match_expressions: Some(vec![NodeSelectorRequirement {
///         key: key.into(),
///         operator: op.into(),
///         values: Some(values.iter().map(|v| v.to_string()).collect()),
///     }]),
///     match_fields: None,
/// };
/// let v1 = V1NodeSelector { node_selector_terms: vec![term("cores", "Gt", &["4"]), term("gpu", "Exists", &[])] };
/// let sel = NodeSelector::new(&v1).unwrap();
/// let labels: Labels = [("cores".to_string(), "8".to_string())].into();
/// assert!(sel.matches("n1", &labels));
/// assert!(!sel.matches("n1", &Labels::new()));
///
/// let bad = V1NodeSelector { node_selector_terms: vec![term("a", "Foo", &[])] };
/// assert!(NodeSelector::new(&bad).is_err());
/// assert!(!NodeSelector::lazy(&bad).matches("n1", &labels));
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NodeSelector {
    terms: Vec<NodeSelectorTerm>,
}

impl NodeSelector {
    /// Compiles `ns`, failing with all problems aggregated (upstream `NewNodeSelector`).
    pub fn new(ns: &corev1::NodeSelector) -> Result<NodeSelector, Error> {
        let sel = NodeSelector::lazy(ns);
        let errors: Vec<String> = sel.terms.iter().flat_map(|t| t.errors.clone()).collect();
        if errors.is_empty() {
            Ok(sel)
        } else {
            Err(Error::InvalidNodeSelector(aggregate(&errors)))
        }
    }

    /// Compiles `ns`, keeping terms that do not compile as matching nothing (upstream
    /// `NewLazyErrorNodeSelector`).
    pub fn lazy(ns: &corev1::NodeSelector) -> NodeSelector {
        let path = Path::new("nodeSelectorTerms");
        NodeSelector {
            terms: ns
                .node_selector_terms
                .iter()
                .enumerate()
                .filter(|(_, t)| !NodeSelectorTerm::is_empty_term(t))
                .map(|(i, t)| NodeSelectorTerm::new(t, &path.index(i)))
                .collect(),
        }
    }

    /// Whether any term matches a node with this name and labels.
    #[inline]
    pub fn matches(&self, node_name: &str, labels: &Labels) -> bool {
        self.terms.iter().any(|t| t.matches(node_name, labels))
    }

    /// Like [`matches`](Self::matches), but when no term matches, returns the errors of the
    /// terms that did not compile (upstream `LazyErrorNodeSelector.Match`).
    pub fn try_matches(&self, node_name: &str, labels: &Labels) -> Result<bool, Error> {
        let mut errors = Vec::new();
        for t in &self.terms {
            if !t.errors.is_empty() {
                errors.extend(t.errors.iter().cloned());
                continue;
            }
            if t.matches(node_name, labels) {
                return Ok(true);
            }
        }
        if errors.is_empty() {
            Ok(false)
        } else {
            Err(Error::InvalidNodeSelector(aggregate(&errors)))
        }
    }

    /// [`matches`](Self::matches) on a node object.
    pub fn matches_node(&self, node: &corev1::Node) -> bool {
        static EMPTY: Labels = Labels::new();
        self.matches(
            node.metadata.name.as_deref().unwrap_or(""),
            node.metadata.labels.as_ref().unwrap_or(&EMPTY),
        )
    }

    /// The compiled terms (empty terms dropped).
    pub fn terms(&self) -> &[NodeSelectorTerm] {
        &self.terms
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use corev1::NodeSelectorRequirement as Req;

    fn req(key: &str, op: &str, values: &[&str]) -> Req {
        Req {
            key: key.into(),
            operator: op.into(),
            values: Some(values.iter().map(|v| v.to_string()).collect()),
        }
    }

    fn term(exprs: Vec<Req>, fields: Vec<Req>) -> corev1::NodeSelectorTerm {
        corev1::NodeSelectorTerm {
            match_expressions: Some(exprs),
            match_fields: Some(fields),
        }
    }

    fn sel(terms: Vec<corev1::NodeSelectorTerm>) -> corev1::NodeSelector {
        corev1::NodeSelector {
            node_selector_terms: terms,
        }
    }

    use crate::labels::from_pairs as labels;

    #[test]
    fn terms_or_requirements_and() {
        // Modelled on upstream TestNodeSelectorMatch.
        let ns = NodeSelector::new(&sel(vec![
            term(
                vec![req("disk", "In", &["ssd"]), req("zone", "NotIn", &["z1"])],
                vec![],
            ),
            term(vec![req("gpu", "Exists", &[])], vec![]),
        ]))
        .unwrap();
        let cases: &[(&[(&str, &str)], bool)] = &[
            (&[("disk", "ssd"), ("zone", "z2")], true),
            (&[("disk", "ssd")], true),
            (&[("disk", "ssd"), ("zone", "z1")], false),
            (&[("disk", "hdd"), ("gpu", "")], true),
            (&[("disk", "hdd")], false),
            (&[], false),
        ];
        for (l, want) in cases {
            assert_eq!(ns.matches("n", &labels(l)), *want, "{l:?}");
        }
    }

    #[test]
    fn gt_lt_compare_integers() {
        let ns = NodeSelector::new(&sel(vec![term(
            vec![req("cores", "Gt", &["4"]), req("cores", "Lt", &["64"])],
            vec![],
        )]))
        .unwrap();
        assert!(ns.matches("n", &labels(&[("cores", "8")])));
        assert!(!ns.matches("n", &labels(&[("cores", "4")])));
        assert!(!ns.matches("n", &labels(&[("cores", "64")])));
        assert!(!ns.matches("n", &labels(&[("cores", "x")])));
        assert!(!ns.matches("n", &labels(&[])));
        let e = NodeSelector::new(&sel(vec![term(
            vec![req("cores", "Gt", &["four"])],
            vec![],
        )]))
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "nodeSelectorTerms[0].matchExpressions[0].values[0]: Invalid value: \"four\": for 'Gt', 'Lt' operators, the value must be an integer"
        );
    }

    #[test]
    fn match_fields_on_metadata_name() {
        let ns = NodeSelector::new(&sel(vec![term(
            vec![],
            vec![req("metadata.name", "In", &["n9"])],
        )]))
        .unwrap();
        assert!(ns.matches("n9", &labels(&[])));
        assert!(!ns.matches("n1", &labels(&[])));
        // Upstream skips matchFields for a node without a name.
        assert!(ns.matches("", &labels(&[])));
        let not_in = NodeSelector::new(&sel(vec![term(
            vec![],
            vec![req("metadata.name", "NotIn", &["n9"])],
        )]))
        .unwrap();
        assert!(!not_in.matches("n9", &labels(&[])));
        assert!(not_in.matches("n1", &labels(&[])));
        // Other fields read as "" (fields.Set lookup).
        let other = NodeSelector::new(&sel(vec![term(
            vec![],
            vec![req("spec.unknown", "In", &["x"])],
        )]))
        .unwrap();
        assert!(!other.matches("n1", &labels(&[])));
        // Labels and fields of one term are ANDed.
        let both = NodeSelector::new(&sel(vec![term(
            vec![req("disk", "In", &["ssd"])],
            vec![req("metadata.name", "In", &["n1"])],
        )]))
        .unwrap();
        assert!(both.matches("n1", &labels(&[("disk", "ssd")])));
        assert!(!both.matches("n2", &labels(&[("disk", "ssd")])));
        assert!(!both.matches("n1", &labels(&[])));
        let two = NodeSelector::new(&sel(vec![term(
            vec![],
            vec![req("metadata.name", "In", &["a", "b"])],
        )]))
        .unwrap_err();
        assert_eq!(
            two.to_string(),
            "nodeSelectorTerms[0].matchFields[0].values: Invalid value: [\"a\", \"b\"]: must have one element"
        );
    }

    #[test]
    fn empty_terms_match_nothing() {
        let ns = NodeSelector::new(&sel(vec![corev1::NodeSelectorTerm::default()])).unwrap();
        assert!(ns.terms().is_empty());
        assert!(!ns.matches("n1", &labels(&[("a", "b")])));
        assert!(!NodeSelector::new(&sel(vec![]))
            .unwrap()
            .matches("n1", &labels(&[])));
    }

    #[test]
    fn unknown_operator_lazy_term_matches_nothing_and_keeps_the_error() {
        // Upstream NewLazyErrorNodeSelector: the bad term never matches; its error is reported
        // only when no other term matched.
        let v1 = sel(vec![
            term(vec![req("a", "Foo", &["1"])], vec![]),
            term(vec![req("zone", "In", &["z1"])], vec![]),
        ]);
        let want = "nodeSelectorTerms[0].matchExpressions[0].operator: Unsupported value: \"Foo\": supported values: \"In\", \"NotIn\", \"Exists\", \"DoesNotExist\", \"Gt\", \"Lt\"";
        assert_eq!(
            NodeSelector::new(&v1).unwrap_err(),
            Error::InvalidNodeSelector(want.into())
        );
        let lazy = NodeSelector::lazy(&v1);
        assert_eq!(lazy.terms()[0].errors(), [want.to_string()]);
        assert!(!lazy.matches("n", &labels(&[("a", "1")])));
        assert!(lazy.matches("n", &labels(&[("zone", "z1")])));
        assert_eq!(lazy.try_matches("n", &labels(&[("zone", "z1")])), Ok(true));
        assert_eq!(
            lazy.try_matches("n", &labels(&[("a", "1")])),
            Err(Error::InvalidNodeSelector(want.into()))
        );
        // Field operators other than In/NotIn, and several errors, aggregated.
        let v1 = sel(vec![
            term(vec![], vec![req("metadata.name", "Exists", &[])]),
            term(vec![req("-k", "In", &["v"])], vec![]),
        ]);
        let e = NodeSelector::new(&v1).unwrap_err().to_string();
        assert!(e.starts_with("[nodeSelectorTerms[0].matchFields[0].operator: Unsupported value: \"Exists\": supported values: \"In\", \"NotIn\", nodeSelectorTerms[1].matchExpressions[0].key: Invalid value: \"-k\": "), "{e}");
        assert!(e.ends_with(']'));
    }

    #[test]
    fn matches_node_objects() {
        let ns =
            NodeSelector::new(&sel(vec![term(vec![req("disk", "In", &["ssd"])], vec![])])).unwrap();
        let mut node = corev1::Node::default();
        assert!(!ns.matches_node(&node));
        node.metadata.labels = Some(labels(&[("disk", "ssd")]));
        assert!(ns.matches_node(&node));
    }
}
