//! Label selectors (`k8s.io/apimachinery/pkg/labels`), their conversion from
//! `metav1.LabelSelector` (`LabelSelectorAsSelector`), and compiled node selectors
//! (`k8s.io/component-helpers/scheduling/corev1/nodeaffinity`).
//!
//! A [`Selector`] is a conjunction of [`Requirement`]s sorted by key. It comes from the string
//! syntax (`a=b,c!=d,e in (x,y),!f,g,h>3`), from a `metav1.LabelSelector`, or from a
//! `{key: value}` map. Two special selectors exist, as upstream: *everything* (no requirements;
//! the empty string and an empty `metav1.LabelSelector`) and *nothing* (matches no object; a nil
//! `metav1.LabelSelector`).
//!
//! ```
//! use kernel_core::labels::{Labels, Selector};
//!
//! let sel = Selector::parse("tier in (web,api), env!=prod, !canary").unwrap();
//! let labels: Labels = [("tier".to_string(), "web".to_string())].into();
//! assert!(sel.matches(&labels));
//! // Display is upstream's canonical String(): requirements sorted by key.
//! assert_eq!(sel.to_string(), "!canary,env!=prod,tier in (api,web)");
//! ```

mod node_selector;
mod parse;

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use k8s_openapi::apimachinery::pkg::apis::meta::v1 as metav1;
use serde_json::Value;

pub use node_selector::{NodeSelector, NodeSelectorTerm};

use crate::error::aggregate;
use crate::names::{is_qualified_name, is_valid_label_value};
use crate::Error;

/// The labels of an object (upstream `labels.Set`).
pub type Labels = BTreeMap<String, String>;

/// Labels from `(key, value)` pairs.
///
/// ```
/// let l = kernel_core::labels::from_pairs(&[("app", "web")]);
/// assert_eq!(l["app"], "web");
/// ```
pub fn from_pairs(pairs: &[(&str, &str)]) -> Labels {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// The operator of one requirement (upstream `selection.Operator`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Operator {
    /// `key=value`
    Equals,
    /// `key==value`
    DoubleEquals,
    /// `key!=value` (also true when the key is absent)
    NotEquals,
    /// `key in (a,b)`
    In,
    /// `key notin (a,b)` (also true when the key is absent)
    NotIn,
    /// `key`
    Exists,
    /// `!key`
    DoesNotExist,
    /// `key>N` (integer comparison)
    GreaterThan,
    /// `key<N` (integer comparison)
    LessThan,
}

impl Operator {
    /// Upstream's `selection.Operator` string (`=`, `==`, `!=`, `in`, `notin`, `exists`, `!`,
    /// `gt`, `lt`).
    pub fn as_str(&self) -> &'static str {
        match self {
            Operator::Equals => "=",
            Operator::DoubleEquals => "==",
            Operator::NotEquals => "!=",
            Operator::In => "in",
            Operator::NotIn => "notin",
            Operator::Exists => "exists",
            Operator::DoesNotExist => "!",
            Operator::GreaterThan => "gt",
            Operator::LessThan => "lt",
        }
    }
}

/// One requirement of a label selector: key, operator and (sorted, unique) values.
///
/// Build it with [`Requirement::new`], which validates like upstream's `NewRequirement`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Requirement {
    /// The label key.
    pub key: String,
    /// The operator.
    pub operator: Operator,
    /// The values, sorted and de-duplicated (empty for Exists/DoesNotExist).
    pub values: Vec<String>,
}

/// `prefix.name`, or `name` at the root.
fn child(path: Option<&str>, name: &str) -> String {
    match path {
        Some(p) if !p.is_empty() => format!("{p}.{name}"),
        _ => name.to_string(),
    }
}

/// Upstream `NewRequirement`'s checks, one message per problem; `path` prefixes the field
/// names (`key`, `values`, `values[i][key]`).
pub(crate) fn validate_requirement(
    key: &str,
    operator: Operator,
    values: &[String],
    path: Option<&str>,
) -> Vec<String> {
    let mut errs: Vec<String> = Vec::new();
    let key_errs = is_qualified_name(key);
    if !key_errs.is_empty() {
        errs.push(format!(
            "{}: Invalid value: {:?}: {}",
            child(path, "key"),
            key,
            key_errs.join("; ")
        ));
    }
    let values_path = child(path, "values");
    match operator {
        Operator::In | Operator::NotIn => {
            if values.is_empty() {
                errs.push(format!(
                    "{values_path}: Invalid value: []: for 'in', 'notin' operators, values set can't be empty"
                ));
            }
        }
        Operator::Equals | Operator::DoubleEquals | Operator::NotEquals => {
            if values.len() != 1 {
                errs.push(format!(
                    "{values_path}: Invalid value: {values:?}: exact-match compatibility requires one single value"
                ));
            }
        }
        Operator::Exists | Operator::DoesNotExist => {
            if !values.is_empty() {
                errs.push(format!(
                    "{values_path}: Invalid value: {values:?}: values set must be empty for exists and does not exist"
                ));
            }
        }
        Operator::GreaterThan | Operator::LessThan => {
            if values.len() != 1 {
                errs.push(format!(
                    "{values_path}: Invalid value: {values:?}: for 'Gt', 'Lt' operators, exactly one value is required"
                ));
            }
            for (i, v) in values.iter().enumerate() {
                if v.parse::<i64>().is_err() {
                    errs.push(format!(
                        "{values_path}[{i}]: Invalid value: {v:?}: for 'Gt', 'Lt' operators, the value must be an integer"
                    ));
                }
            }
        }
    }
    for (i, v) in values.iter().enumerate() {
        let verrs = is_valid_label_value(v);
        if !verrs.is_empty() {
            errs.push(format!(
                "{values_path}[{i}][{key}]: Invalid value: {v:?}: {}",
                verrs.join("; ")
            ));
        }
    }
    errs
}

impl Requirement {
    /// Builds a requirement, validating it like upstream's `NewRequirement`: the key must be a
    /// qualified name, each value a valid label value; `in`/`notin` need values, `=`/`==`/`!=`
    /// exactly one, `exists`/`!` none, `gt`/`lt` one integer.
    ///
    /// ```
    /// use kernel_core::labels::{Operator, Requirement};
    ///
    /// let r = Requirement::new("tier", Operator::In, vec!["b".into(), "a".into(), "a".into()]).unwrap();
    /// assert_eq!(r.values, ["a", "b"]);
    /// let e = Requirement::new("tier", Operator::In, vec![]).unwrap_err();
    /// assert_eq!(e.to_string(), "values: Invalid value: []: for 'in', 'notin' operators, values set can't be empty");
    /// ```
    pub fn new(key: &str, operator: Operator, values: Vec<String>) -> Result<Requirement, Error> {
        Requirement::new_message(key, operator, values).map_err(Error::InvalidLabelSelector)
    }

    /// [`Requirement::new`] with the error as upstream's aggregated message.
    pub(crate) fn new_message(
        key: &str,
        operator: Operator,
        values: Vec<String>,
    ) -> Result<Requirement, String> {
        let errs = validate_requirement(key, operator, &values, None);
        if !errs.is_empty() {
            return Err(aggregate(&errs));
        }
        Ok(Requirement::new_unchecked(key, operator, values))
    }

    /// Builds a requirement without validation (values still sorted and de-duplicated).
    pub(crate) fn new_unchecked(key: &str, operator: Operator, mut values: Vec<String>) -> Self {
        values.sort();
        values.dedup();
        Requirement {
            key: key.to_string(),
            operator,
            values,
        }
    }

    /// Whether this requirement holds for `labels` (upstream `Requirement.Matches`).
    #[inline]
    pub fn matches(&self, labels: &Labels) -> bool {
        self.matches_value(labels.get(&self.key).map(String::as_str))
    }

    /// Whether this requirement holds for a label with value `value` (`None`: absent).
    #[inline]
    pub fn matches_value(&self, value: Option<&str>) -> bool {
        match self.operator {
            Operator::In | Operator::Equals | Operator::DoubleEquals => {
                value.is_some_and(|v| self.values.iter().any(|x| x == v))
            }
            Operator::NotIn | Operator::NotEquals => {
                value.is_none_or(|v| !self.values.iter().any(|x| x == v))
            }
            Operator::Exists => value.is_some(),
            Operator::DoesNotExist => value.is_none(),
            Operator::GreaterThan | Operator::LessThan => {
                let Some(l) = value.and_then(|v| v.parse::<i64>().ok()) else {
                    return false;
                };
                let [r] = self.values.as_slice() else {
                    return false;
                };
                let Ok(r) = r.parse::<i64>() else {
                    return false;
                };
                if self.operator == Operator::GreaterThan {
                    l > r
                } else {
                    l < r
                }
            }
        }
    }
}

impl fmt::Display for Requirement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.operator == Operator::DoesNotExist {
            f.write_str("!")?;
        }
        f.write_str(&self.key)?;
        let op = match self.operator {
            Operator::Equals => "=",
            Operator::DoubleEquals => "==",
            Operator::NotEquals => "!=",
            Operator::In => " in ",
            Operator::NotIn => " notin ",
            Operator::GreaterThan => ">",
            Operator::LessThan => "<",
            Operator::Exists | Operator::DoesNotExist => return Ok(()),
        };
        f.write_str(op)?;
        let set = matches!(self.operator, Operator::In | Operator::NotIn);
        if set {
            f.write_str("(")?;
        }
        f.write_str(&self.values.join(","))?;
        if set {
            f.write_str(")")?;
        }
        Ok(())
    }
}

/// A label selector: a conjunction of [`Requirement`]s sorted by key, or *nothing*.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Selector {
    requirements: Vec<Requirement>,
    nothing: bool,
}

impl Selector {
    /// The selector that matches every object (`labels.Everything()`).
    pub fn everything() -> Selector {
        Selector::default()
    }

    /// The selector that matches no object (`labels.Nothing()`).
    pub fn nothing() -> Selector {
        Selector {
            requirements: Vec::new(),
            nothing: true,
        }
    }

    /// Parses the string form (`labels.Parse`): `a=b`, `a==b`, `a!=b`, `a in (x,y)`,
    /// `a notin (x)`, `a`, `!a`, `a>1`, `a<1`, comma-joined. The empty string (or only
    /// whitespace) selects everything. Errors carry upstream's message.
    pub fn parse(s: &str) -> Result<Selector, Error> {
        let mut reqs = parse::parse(s).map_err(Error::InvalidLabelSelector)?;
        reqs.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(Selector {
            requirements: reqs,
            nothing: false,
        })
    }

    /// Converts an API `LabelSelector` (`metav1.LabelSelectorAsSelector`): `matchLabels` as
    /// `key=value`, `matchExpressions` with `In`, `NotIn`, `Exists`, `DoesNotExist`. Any other
    /// operator is an error (`"Gt" is not a valid label selector operator`), as are invalid keys
    /// and values. An *empty* selector selects everything; a *nil* one selects nothing, see
    /// [`Selector::from_meta_opt`].
    pub fn from_meta(sel: &metav1::LabelSelector) -> Result<Selector, Error> {
        let bad = Error::InvalidLabelSelector;
        let mut reqs = Vec::new();
        for (k, v) in sel.match_labels.iter().flatten() {
            reqs.push(Requirement::new_message(k, Operator::Equals, vec![v.clone()]).map_err(bad)?);
        }
        for expr in sel.match_expressions.iter().flatten() {
            let op = match expr.operator.as_str() {
                "In" => Operator::In,
                "NotIn" => Operator::NotIn,
                "Exists" => Operator::Exists,
                "DoesNotExist" => Operator::DoesNotExist,
                other => {
                    return Err(bad(format!(
                        "{other:?} is not a valid label selector operator"
                    )))
                }
            };
            reqs.push(
                Requirement::new_message(&expr.key, op, expr.values.clone().unwrap_or_default())
                    .map_err(bad)?,
            );
        }
        reqs.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(Selector {
            requirements: reqs,
            nothing: false,
        })
    }

    /// [`Selector::from_meta`] with upstream's nil semantics: `None` selects nothing.
    pub fn from_meta_opt(sel: Option<&metav1::LabelSelector>) -> Result<Selector, Error> {
        match sel {
            None => Ok(Selector::nothing()),
            Some(s) => Selector::from_meta(s),
        }
    }

    /// [`Selector::from_meta`] on the JSON form of a `metav1.LabelSelector`
    /// (`{"matchLabels": …, "matchExpressions": …}`); JSON `null` selects nothing, as a nil
    /// selector does.
    pub fn from_meta_json(v: &Value) -> Result<Selector, Error> {
        if v.is_null() {
            return Ok(Selector::nothing());
        }
        let sel: metav1::LabelSelector = serde_json::from_value(v.clone())
            .map_err(|e| Error::InvalidLabelSelector(format!("invalid label selector: {e}")))?;
        Selector::from_meta(&sel)
    }

    /// An equality selector from a `{key: value}` map (`labels.SelectorFromSet`, e.g. a
    /// Service's `spec.selector`, a pod's `spec.nodeSelector`); not validated, as upstream. An
    /// empty map selects everything.
    pub fn from_map(m: &Labels) -> Selector {
        Selector {
            requirements: m
                .iter()
                .map(|(k, v)| Requirement {
                    key: k.clone(),
                    operator: Operator::Equals,
                    values: vec![v.clone()],
                })
                .collect(),
            nothing: false,
        }
    }

    /// Adds a requirement (`Selector.Add`), keeping the requirements sorted by key. Adding to
    /// *nothing* leaves it *nothing*.
    pub fn add(&mut self, r: Requirement) {
        if self.nothing {
            return;
        }
        let at = self.requirements.partition_point(|x| x.key <= r.key);
        self.requirements.insert(at, r);
    }

    /// Adds all requirements of `other`: the result matches the intersection.
    pub fn extend(&mut self, other: Selector) {
        if other.nothing {
            *self = Selector::nothing();
            return;
        }
        for r in other.requirements {
            self.add(r);
        }
    }

    /// Whether all requirements hold for `labels` (always false for *nothing*).
    #[inline]
    pub fn matches(&self, labels: &Labels) -> bool {
        !self.nothing && self.requirements.iter().all(|r| r.matches(labels))
    }

    /// [`Selector::matches`] on a JSON object's `metadata.labels`.
    pub fn matches_object(&self, obj: &Value) -> bool {
        let labels: Labels = obj
            .pointer("/metadata/labels")
            .and_then(Value::as_object)
            .map(|m| {
                m.iter()
                    .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string())))
                    .collect()
            })
            .unwrap_or_default();
        self.matches(&labels)
    }

    /// True for the select-everything selector (`Selector.Empty()`).
    #[inline]
    pub fn is_empty(&self) -> bool {
        !self.nothing && self.requirements.is_empty()
    }

    /// True for the select-nothing selector.
    #[inline]
    pub fn is_nothing(&self) -> bool {
        self.nothing
    }

    /// The requirements, sorted by key.
    pub fn requirements(&self) -> &[Requirement] {
        &self.requirements
    }
}

impl FromStr for Selector {
    type Err = Error;

    fn from_str(s: &str) -> Result<Selector, Error> {
        Selector::parse(s)
    }
}

/// Upstream `String()`: the requirements in key order, comma-joined; *nothing* prints as the
/// empty string, as upstream's `nothingSelector`.
impl fmt::Display for Selector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, r) in self.requirements.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(f, "{r}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use super::from_pairs as labels;

    fn err(s: &str) -> String {
        Selector::parse(s).expect_err(s).to_string()
    }

    #[test]
    fn matching_table() {
        // Modelled on upstream's TestSelectorMatches / TestEverything.
        let l = labels(&[("app", "web"), ("tier", "front"), ("n", "5")]);
        let cases: &[(&str, bool)] = &[
            ("", true),
            ("   ", true),
            ("app=web", true),
            ("app==web", true),
            ("app=db", false),
            ("app!=db", true),
            ("app!=web", false),
            ("missing!=x", true),
            ("app in (web,db)", true),
            ("app in (db)", false),
            ("app notin (db)", true),
            ("app notin (web)", false),
            ("missing notin (web)", true),
            ("missing in (web)", false),
            ("app", true),
            ("missing", false),
            ("!missing", true),
            ("!app", false),
            ("app=web,tier=front", true),
            ("app=web, tier=back", false),
            ("  app = web ,  tier  in ( front , x ) ", true),
            ("n>3", true),
            ("n<3", false),
            ("n>5", false),
            ("n<6", true),
            ("app>3", false),
            ("missing>3", false),
            ("app=", false),
            ("missing=", false),
            ("x in (in,notin)", false),
        ];
        for (s, want) in cases {
            let sel = Selector::parse(s).unwrap_or_else(|e| panic!("{s}: {e}"));
            assert_eq!(sel.matches(&l), *want, "selector {s:?}");
        }
        assert!(Selector::parse("a=")
            .unwrap()
            .matches(&labels(&[("a", "")])));
    }

    #[test]
    fn parse_errors_carry_upstream_messages() {
        let cases: &[(&str, &str)] = &[
            ("x=a||y=b", "Invalid value: \"a||y\""),
            ("x=a,", "expected: identifier after ','"),
            ("x in", "found '' expected: '('"),
            ("x in (a", "expected: ',' or ')'"),
            ("x (a)", "found '(', expected: in, notin, =, ==, !=, gt, lt"),
            ("!x=y", "found '=', expected: ',' or 'end of string'"),
            ("a b", "found 'b', expected: in, notin"),
            ("-a=b", "unable to parse requirement: <nil>: Invalid value: \"-a\": name part must consist of alphanumeric"),
            ("a=b c", "found 'c', expected: ',' or 'end of string'"),
            ("a=-b", "unable to parse requirement: values[0][a]: Invalid value: \"-b\": a valid label must be an empty string"),
            ("x>a", "values[0]: Invalid value: \"a\": for 'Gt', 'Lt' operators, the value must be an integer"),
            ("=a", "expected: !, identifier, or 'end of string'"),
            ("a=>b", "found '>', expected: identifier"),
            // Label values may not start with '-', so negative bounds only come from
            // NodeSelectorRequirements.
            ("n>-1", "values[0][n]: Invalid value: \"-1\""),
        ];
        for (s, want) in cases {
            let e = err(s);
            assert!(e.contains(want), "{s:?}: got {e:?}, want {want:?}");
        }
        assert!(
            err(&format!("a={}", "v".repeat(64))).contains("must be no more than 63 characters")
        );
        // Several problems with one requirement are aggregated as upstream does.
        let e = err("x>-a");
        assert!(
            e.starts_with("unable to parse requirement: [values[0]: Invalid value: \"-a\": for 'Gt', 'Lt' operators, the value must be an integer, values[0][x]: Invalid value: \"-a\": a valid label"),
            "{e}"
        );
        assert!(e.ends_with(")]"), "{e}");
    }

    #[test]
    fn display_is_sorted_canonical() {
        let cases: &[(&str, &str)] = &[
            ("b=1,a=2", "a=2,b=1"),
            ("x in (c,a,b)", "x in (a,b,c)"),
            ("x notin (a,a)", "x notin (a)"),
            ("!x, y", "!x,y"),
            ("x==y", "x==y"),
            ("x!=y", "x!=y"),
            ("x in ()", "x in ()"),
            ("n>5", "n>5"),
            ("n<5", "n<5"),
            ("example.com/key=v", "example.com/key=v"),
        ];
        for (s, want) in cases {
            let sel = Selector::parse(s).unwrap();
            assert_eq!(sel.to_string(), *want);
            // The canonical form parses back to the same selector.
            assert_eq!(Selector::parse(&sel.to_string()).unwrap(), sel);
        }
        assert_eq!(Selector::nothing().to_string(), "");
    }

    #[test]
    fn requirement_validation() {
        let v = |s: &[&str]| s.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        assert!(Requirement::new("a", Operator::In, vec![]).is_err());
        assert!(Requirement::new("a", Operator::Equals, v(&["x", "y"]))
            .unwrap_err()
            .to_string()
            .contains("exact-match compatibility requires one single value"));
        assert!(Requirement::new("a", Operator::Exists, v(&["x"]))
            .unwrap_err()
            .to_string()
            .contains("values set must be empty"));
        assert!(Requirement::new("a", Operator::GreaterThan, v(&["1", "2"]))
            .unwrap_err()
            .to_string()
            .contains("exactly one value is required"));
        // Two problems: bracketed aggregate.
        assert_eq!(
            Requirement::new("-k", Operator::In, vec![]).unwrap_err().to_string(),
            format!(
                "[key: Invalid value: \"-k\": {}, values: Invalid value: []: for 'in', 'notin' operators, values set can't be empty]",
                is_qualified_name("-k").join("; ")
            )
        );
        let r = Requirement::new("a", Operator::NotIn, v(&["z", "y", "z"])).unwrap();
        assert_eq!(r.values, v(&["y", "z"]));
        assert_eq!(r.to_string(), "a notin (y,z)");
        assert_eq!(Operator::DoesNotExist.as_str(), "!");
    }

    #[test]
    fn from_meta_nil_empty_and_unknown_operator() {
        // Upstream TestLabelSelectorAsSelector: nil → Nothing, empty → Everything.
        let all = Selector::from_meta(&metav1::LabelSelector::default()).unwrap();
        assert!(all.is_empty());
        assert!(all.matches(&labels(&[])));
        let none = Selector::from_meta_opt(None).unwrap();
        assert!(none.is_nothing() && !none.is_empty());
        assert!(!none.matches(&labels(&[])));
        assert!(!none.matches(&labels(&[("a", "b")])));

        let sel = metav1::LabelSelector {
            match_labels: Some(labels(&[("app", "web")])),
            match_expressions: Some(vec![
                metav1::LabelSelectorRequirement {
                    key: "env".into(),
                    operator: "In".into(),
                    values: Some(vec!["prod".into(), "stage".into()]),
                },
                metav1::LabelSelectorRequirement {
                    key: "canary".into(),
                    operator: "DoesNotExist".into(),
                    values: None,
                },
            ]),
        };
        let s = Selector::from_meta(&sel).unwrap();
        assert_eq!(s.to_string(), "app=web,!canary,env in (prod,stage)");
        assert!(s.matches(&labels(&[("app", "web"), ("env", "prod")])));
        assert!(!s.matches(&labels(&[("app", "web"), ("env", "dev")])));
        assert!(!s.matches(&labels(&[("app", "web"), ("env", "prod"), ("canary", "1")])));

        for op in ["Foo", "Gt", "Lt", "in", ""] {
            let bad = metav1::LabelSelector {
                match_expressions: Some(vec![metav1::LabelSelectorRequirement {
                    key: "a".into(),
                    operator: op.into(),
                    values: Some(vec!["1".into()]),
                }]),
                ..Default::default()
            };
            assert_eq!(
                Selector::from_meta(&bad).unwrap_err(),
                Error::InvalidLabelSelector(format!(
                    "{op:?} is not a valid label selector operator"
                )),
            );
        }
        let empty_in = metav1::LabelSelector {
            match_expressions: Some(vec![metav1::LabelSelectorRequirement {
                key: "a".into(),
                operator: "In".into(),
                values: Some(vec![]),
            }]),
            ..Default::default()
        };
        assert!(Selector::from_meta(&empty_in)
            .unwrap_err()
            .to_string()
            .contains("values set can't be empty"));
        let bad_key = metav1::LabelSelector {
            match_labels: Some(labels(&[("a b", "c")])),
            ..Default::default()
        };
        assert!(Selector::from_meta(&bad_key)
            .unwrap_err()
            .to_string()
            .starts_with("key: Invalid value: \"a b\""));
    }

    #[test]
    fn from_meta_json_and_objects() {
        let j = Selector::from_meta_json(&serde_json::json!({
            "matchLabels": {"app": "web"},
            "matchExpressions": [{"key": "env", "operator": "Exists"}]
        }))
        .unwrap();
        assert_eq!(j.to_string(), "app=web,env");
        assert!(j.matches_object(
            &serde_json::json!({"metadata": {"labels": {"app": "web", "env": ""}}})
        ));
        assert!(!j.matches_object(&serde_json::json!({"metadata": {}})));
        assert!(!Selector::from_meta_json(&Value::Null)
            .unwrap()
            .matches(&labels(&[])));
        assert!(Selector::from_meta_json(&serde_json::json!({"matchLabels": "x"})).is_err());
    }

    #[test]
    fn from_map_add_and_extend() {
        let mut s = Selector::from_map(&labels(&[("b", "2"), ("a", "1")]));
        assert_eq!(s.to_string(), "a=1,b=2");
        s.add(Requirement::new("ab", Operator::NotIn, vec!["x".into()]).unwrap());
        assert_eq!(s.to_string(), "a=1,ab notin (x),b=2");
        assert!(s.matches(&labels(&[("a", "1"), ("b", "2")])));
        assert!(!s.matches(&labels(&[("a", "1"), ("b", "2"), ("ab", "x")])));
        s.extend(Selector::parse("c").unwrap());
        assert!(!s.matches(&labels(&[("a", "1"), ("b", "2")])));
        s.extend(Selector::nothing());
        assert!(s.is_nothing());
        s.add(Requirement::new("z", Operator::Exists, vec![]).unwrap());
        assert!(s.is_nothing() && s.requirements().is_empty());
        assert!(Selector::from_map(&Labels::new()).is_empty());
    }
}
