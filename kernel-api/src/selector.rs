//! Label and field selectors, parsed and matched the way apimachinery does.
//!
//! Mirrors `k8s.io/apimachinery/pkg/labels/selector.go` (the label selector
//! lexer/parser, `Requirement` matching and `String()` form),
//! `k8s.io/apimachinery/pkg/fields/selector.go` (field selector terms and value
//! escaping), `k8s.io/apimachinery/pkg/apis/meta/v1/helpers.go`
//! (`LabelSelectorAsSelector`) and the per-resource `*ToSelectableFields`
//! functions of the Kubernetes registry (which fields each resource supports
//! in a `fieldSelector`).
//!
//! Everything here is pure: no I/O, no clock.

use std::collections::BTreeMap;
use std::fmt;

use k8s_openapi::apimachinery::pkg::apis::meta::v1 as metav1;
use serde_json::Value;

// ---------------------------------------------------------------------------
// Name / label validation helpers (k8s.io/apimachinery/pkg/util/validation)
// ---------------------------------------------------------------------------

const QUALIFIED_NAME_ERR_MSG: &str = "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character";
const QUALIFIED_NAME_FMT: &str = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]";
const LABEL_VALUE_ERR_MSG: &str = "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character";
const LABEL_VALUE_FMT: &str = "(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?";
const DNS1123_LABEL_ERR_MSG: &str = "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character";
const DNS1123_LABEL_FMT: &str = "[a-z0-9]([-a-z0-9]*[a-z0-9])?";
const DNS1123_SUBDOMAIN_ERR_MSG: &str = "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character";
const DNS1123_SUBDOMAIN_FMT: &str =
    "[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*";

/// Builds upstream's `RegexError` text: the message, examples and the regex.
pub(crate) fn regex_error(msg: &str, fmt: &str, examples: &[&str]) -> String {
    if examples.is_empty() {
        return format!("{msg} (regex used for validation is '{fmt}')");
    }
    let mut s = format!("{msg} (e.g. ");
    for (i, e) in examples.iter().enumerate() {
        if i > 0 {
            s.push_str(" or ");
        }
        s.push('\'');
        s.push_str(e);
        s.push_str("', ");
    }
    s.push_str("regex used for validation is '");
    s.push_str(fmt);
    s.push_str("')");
    s
}

/// Upstream's `MaxLenError`.
pub(crate) fn max_len_error(n: usize) -> String {
    format!("must be no more than {n} characters")
}

fn is_alnum(b: u8) -> bool {
    b.is_ascii_alphanumeric()
}

/// `([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]`
fn matches_qualified_name(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && is_alnum(b[0])
        && is_alnum(b[b.len() - 1])
        && b.iter()
            .all(|&c| is_alnum(c) || c == b'-' || c == b'_' || c == b'.')
}

/// `[a-z0-9]([-a-z0-9]*[a-z0-9])?`
fn matches_dns1123_label(s: &str) -> bool {
    let b = s.as_bytes();
    let ok = |c: u8| c.is_ascii_lowercase() || c.is_ascii_digit();
    !b.is_empty() && ok(b[0]) && ok(b[b.len() - 1]) && b.iter().all(|&c| ok(c) || c == b'-')
}

/// Upstream `IsDNS1123Label`: returns the list of problems (empty = valid).
pub fn is_dns1123_label(s: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if s.len() > 63 {
        errs.push(max_len_error(63));
    }
    if !matches_dns1123_label(s) {
        errs.push(regex_error(
            DNS1123_LABEL_ERR_MSG,
            DNS1123_LABEL_FMT,
            &["my-name", "123-abc"],
        ));
    }
    errs
}

/// Upstream `IsDNS1123Subdomain`: returns the list of problems (empty = valid).
pub fn is_dns1123_subdomain(s: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if s.len() > 253 {
        errs.push(max_len_error(253));
    }
    if !s.split('.').all(matches_dns1123_label) {
        errs.push(regex_error(
            DNS1123_SUBDOMAIN_ERR_MSG,
            DNS1123_SUBDOMAIN_FMT,
            &["example.com"],
        ));
    }
    errs
}

/// Upstream `IsQualifiedName` (label keys, annotation keys, finalizers…):
/// `[prefix/]name`, prefix a DNS-1123 subdomain, name ≤ 63 characters.
pub fn is_qualified_name(value: &str) -> Vec<String> {
    let mut errs = Vec::new();
    let parts: Vec<&str> = value.split('/').collect();
    let name = match parts.as_slice() {
        [name] => *name,
        [prefix, name] => {
            if prefix.is_empty() {
                errs.push("prefix part must be non-empty".to_string());
            } else {
                for m in is_dns1123_subdomain(prefix) {
                    errs.push(format!("prefix part {m}"));
                }
            }
            *name
        }
        _ => {
            return vec![format!(
                "a qualified name {} with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')",
                regex_error(
                    QUALIFIED_NAME_ERR_MSG,
                    QUALIFIED_NAME_FMT,
                    &["MyName", "my.name", "123-abc"]
                )
            )]
        }
    };
    if name.is_empty() {
        errs.push("name part must be non-empty".to_string());
    } else if name.len() > 63 {
        errs.push(format!("name part {}", max_len_error(63)));
    }
    if !matches_qualified_name(name) {
        errs.push(format!(
            "name part {}",
            regex_error(
                QUALIFIED_NAME_ERR_MSG,
                QUALIFIED_NAME_FMT,
                &["MyName", "my.name", "123-abc"]
            )
        ));
    }
    errs
}

/// Upstream `IsValidLabelValue`: empty, or a qualified-name-shaped string of
/// at most 63 characters.
pub fn is_valid_label_value(value: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if value.len() > 63 {
        errs.push(max_len_error(63));
    }
    if !value.is_empty() && !matches_qualified_name(value) {
        errs.push(regex_error(
            LABEL_VALUE_ERR_MSG,
            LABEL_VALUE_FMT,
            &["MyValue", "my_value", "12345"],
        ));
    }
    errs
}

// ---------------------------------------------------------------------------
// Label selectors
// ---------------------------------------------------------------------------

/// The operator of one label selector requirement (`selection.Operator`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
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

/// One requirement of a label selector: key, operator and (sorted, unique)
/// values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Requirement {
    /// The label key.
    pub key: String,
    /// The operator.
    pub operator: Operator,
    /// The values, sorted and de-duplicated (empty for Exists/DoesNotExist).
    pub values: Vec<String>,
}

impl Requirement {
    /// Builds a requirement, validating it like upstream's `NewRequirement`.
    pub fn new(key: &str, operator: Operator, values: Vec<String>) -> Result<Requirement, String> {
        let mut errs: Vec<String> = Vec::new();
        let key_errs = is_qualified_name(key);
        if !key_errs.is_empty() {
            errs.push(format!(
                "key: Invalid value: {:?}: {}",
                key,
                key_errs.join("; ")
            ));
        }
        match operator {
            Operator::In | Operator::NotIn => {
                if values.is_empty() {
                    errs.push(
                        "values: Invalid value: []: for 'in', 'notin' operators, values set can't be empty"
                            .to_string(),
                    );
                }
            }
            Operator::Equals | Operator::DoubleEquals | Operator::NotEquals => {
                if values.len() != 1 {
                    errs.push(format!(
                        "values: Invalid value: {values:?}: exact-match compatibility requires one single value"
                    ));
                }
            }
            Operator::Exists | Operator::DoesNotExist => {
                if !values.is_empty() {
                    errs.push(format!(
                        "values: Invalid value: {values:?}: values set must be empty for exists and does not exist"
                    ));
                }
            }
            Operator::GreaterThan | Operator::LessThan => {
                if values.len() != 1 {
                    errs.push(format!(
                        "values: Invalid value: {values:?}: for 'Gt', 'Lt' operators, exactly one value is required"
                    ));
                }
                for (i, v) in values.iter().enumerate() {
                    if v.parse::<i64>().is_err() {
                        errs.push(format!(
                            "values[{i}]: Invalid value: {v:?}: for 'Gt', 'Lt' operators, the value must be an integer"
                        ));
                    }
                }
            }
        }
        for (i, v) in values.iter().enumerate() {
            let verrs = is_valid_label_value(v);
            if !verrs.is_empty() {
                errs.push(format!(
                    "values[{i}][{key}]: Invalid value: {v:?}: {}",
                    verrs.join("; ")
                ));
            }
        }
        let mut values = values;
        values.sort();
        values.dedup();
        match errs.len() {
            0 => Ok(Requirement {
                key: key.to_string(),
                operator,
                values,
            }),
            1 => Err(errs.remove(0)),
            _ => Err(format!("[{}]", errs.join(", "))),
        }
    }

    /// Whether this requirement holds for `labels` (upstream `Requirement.Matches`).
    pub fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        let val = labels.get(&self.key);
        match self.operator {
            Operator::In | Operator::Equals | Operator::DoubleEquals => {
                val.is_some_and(|v| self.values.contains(v))
            }
            Operator::NotIn | Operator::NotEquals => val.is_none_or(|v| !self.values.contains(v)),
            Operator::Exists => val.is_some(),
            Operator::DoesNotExist => val.is_none(),
            Operator::GreaterThan | Operator::LessThan => {
                let Some(l) = val.and_then(|v| v.parse::<i64>().ok()) else {
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

/// A parsed label selector: a conjunction of [`Requirement`]s sorted by key.
///
/// Two special selectors exist, as upstream: *everything* (no requirements;
/// what the empty string and an empty `metav1.LabelSelector` parse to) and
/// *nothing* (matches no object; what a nil `metav1.LabelSelector` converts
/// to, see [`LabelSelector::from_meta_opt`]).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LabelSelector {
    requirements: Vec<Requirement>,
    nothing: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tok {
    Error,
    Eos,
    ClosedPar,
    Comma,
    DoesNotExist,
    DoubleEquals,
    Equals,
    GreaterThan,
    Identifier,
    In,
    LessThan,
    NotEquals,
    NotIn,
    OpenPar,
}

fn symbol_token(s: &str) -> Option<Tok> {
    Some(match s {
        ")" => Tok::ClosedPar,
        "," => Tok::Comma,
        "!" => Tok::DoesNotExist,
        "==" => Tok::DoubleEquals,
        "=" => Tok::Equals,
        ">" => Tok::GreaterThan,
        "in" => Tok::In,
        "<" => Tok::LessThan,
        "!=" => Tok::NotEquals,
        "notin" => Tok::NotIn,
        "(" => Tok::OpenPar,
        _ => return None,
    })
}

fn is_ws(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\r' | b'\n')
}

fn is_special(c: u8) -> bool {
    matches!(c, b'=' | b'!' | b'(' | b')' | b',' | b'>' | b'<')
}

/// Tokenises the whole selector (upstream `Lexer.Lex`, repeated to EOS).
fn lex(s: &str) -> Vec<(Tok, String)> {
    let b = s.as_bytes();
    let mut pos = 0;
    let mut out = Vec::new();
    loop {
        while pos < b.len() && is_ws(b[pos]) {
            pos += 1;
        }
        if pos >= b.len() {
            out.push((Tok::Eos, String::new()));
            return out;
        }
        if is_special(b[pos]) {
            // Longest run of special symbols that still forms a known token.
            let start = pos;
            let mut last: Option<(Tok, usize)> = None;
            let mut end = pos;
            while end < b.len() && is_special(b[end]) {
                end += 1;
                if let Some(t) = symbol_token(&s[start..end]) {
                    last = Some((t, end));
                } else if last.is_some() {
                    break;
                }
            }
            match last {
                Some((t, e)) => {
                    out.push((t, s[start..e].to_string()));
                    pos = e;
                }
                None => {
                    out.push((
                        Tok::Error,
                        format!("error expected: keyword found '{}'", &s[start..end]),
                    ));
                    pos = end;
                }
            }
        } else {
            let start = pos;
            while pos < b.len() && !is_special(b[pos]) && !is_ws(b[pos]) {
                pos += 1;
            }
            let lit = &s[start..pos];
            let tok = match symbol_token(lit) {
                Some(t) => t,
                None => Tok::Identifier,
            };
            out.push((tok, lit.to_string()));
        }
    }
}

struct Parser {
    items: Vec<(Tok, String)>,
    pos: usize,
}

impl Parser {
    /// In the "values" context `in`/`notin` are plain identifiers.
    fn lookahead(&self, values: bool) -> (Tok, String) {
        let (t, l) = self.items[self.pos.min(self.items.len() - 1)].clone();
        (Self::ctx(t, values), l)
    }

    fn consume(&mut self, values: bool) -> (Tok, String) {
        let r = self.lookahead(values);
        if self.pos < self.items.len() - 1 {
            self.pos += 1;
        }
        r
    }

    fn ctx(t: Tok, values: bool) -> Tok {
        if values && matches!(t, Tok::In | Tok::NotIn) {
            Tok::Identifier
        } else {
            t
        }
    }

    fn parse(&mut self) -> Result<Vec<Requirement>, String> {
        let mut reqs = Vec::new();
        loop {
            let (tok, lit) = self.lookahead(true);
            match tok {
                Tok::Identifier | Tok::DoesNotExist => {
                    let r = self
                        .parse_requirement()
                        .map_err(|e| format!("unable to parse requirement: {e}"))?;
                    reqs.push(r);
                    let (t, l) = self.consume(true);
                    match t {
                        Tok::Eos => return Ok(reqs),
                        Tok::Comma => {
                            let (t2, l2) = self.lookahead(true);
                            if t2 != Tok::Identifier && t2 != Tok::DoesNotExist {
                                return Err(format!(
                                    "found '{l2}', expected: identifier after ','"
                                ));
                            }
                        }
                        _ => return Err(format!("found '{l}', expected: ',' or 'end of string'")),
                    }
                }
                Tok::Eos => return Ok(reqs),
                _ => {
                    return Err(format!(
                        "found '{lit}', expected: !, identifier, or 'end of string'"
                    ))
                }
            }
        }
    }

    fn parse_requirement(&mut self) -> Result<Requirement, String> {
        let (key, op) = self.parse_key_and_infer_operator()?;
        if let Some(op @ (Operator::Exists | Operator::DoesNotExist)) = op {
            return Requirement::new(&key, op, Vec::new());
        }
        let op = self.parse_operator()?;
        let values = match op {
            Operator::In | Operator::NotIn => self.parse_values()?,
            _ => self.parse_exact_value()?,
        };
        Requirement::new(&key, op, values)
    }

    fn parse_key_and_infer_operator(&mut self) -> Result<(String, Option<Operator>), String> {
        let mut op = None;
        let (mut tok, mut lit) = self.consume(true);
        if tok == Tok::DoesNotExist {
            op = Some(Operator::DoesNotExist);
            (tok, lit) = self.consume(true);
        }
        if tok != Tok::Identifier {
            return Err(format!("found '{lit}', expected: identifier"));
        }
        let errs = is_qualified_name(&lit);
        if !errs.is_empty() {
            return Err(format!(
                "<nil>: Invalid value: {:?}: {}",
                lit,
                errs.join("; ")
            ));
        }
        let (t, _) = self.lookahead(true);
        if (t == Tok::Eos || t == Tok::Comma) && op.is_none() {
            op = Some(Operator::Exists);
        }
        Ok((lit, op))
    }

    fn parse_operator(&mut self) -> Result<Operator, String> {
        let (tok, lit) = self.consume(false);
        Ok(match tok {
            Tok::In => Operator::In,
            Tok::Equals => Operator::Equals,
            Tok::DoubleEquals => Operator::DoubleEquals,
            Tok::GreaterThan => Operator::GreaterThan,
            Tok::LessThan => Operator::LessThan,
            Tok::NotIn => Operator::NotIn,
            Tok::NotEquals => Operator::NotEquals,
            _ => {
                return Err(format!(
                    "found '{lit}', expected: in, notin, =, ==, !=, gt, lt"
                ))
            }
        })
    }

    fn parse_values(&mut self) -> Result<Vec<String>, String> {
        let (tok, lit) = self.consume(true);
        if tok != Tok::OpenPar {
            return Err(format!("found '{lit}' expected: '('"));
        }
        let (tok, lit) = self.lookahead(true);
        match tok {
            Tok::Identifier | Tok::Comma => {
                let s = self.parse_identifiers_list()?;
                let (t, _) = self.consume(true);
                if t != Tok::ClosedPar {
                    return Err(format!("found '{lit}', expected: ')'"));
                }
                Ok(s)
            }
            Tok::ClosedPar => {
                self.consume(true);
                Ok(vec![String::new()])
            }
            _ => Err(format!("found '{lit}', expected: ',', ')' or identifier")),
        }
    }

    fn parse_identifiers_list(&mut self) -> Result<Vec<String>, String> {
        let mut s: Vec<String> = Vec::new();
        loop {
            let (tok, lit) = self.consume(true);
            match tok {
                Tok::Identifier => {
                    s.push(lit);
                    let (t2, l2) = self.lookahead(true);
                    match t2 {
                        Tok::Comma => continue,
                        Tok::ClosedPar => return Ok(s),
                        _ => return Err(format!("found '{l2}', expected: ',' or ')'")),
                    }
                }
                Tok::Comma => {
                    if s.is_empty() {
                        s.push(String::new());
                    }
                    let (t2, _) = self.lookahead(true);
                    if t2 == Tok::ClosedPar || t2 == Tok::Comma {
                        s.push(String::new());
                    }
                    if t2 == Tok::ClosedPar {
                        return Ok(s);
                    }
                }
                _ => return Err(format!("found '{lit}', expected: ',', or identifier")),
            }
        }
    }

    fn parse_exact_value(&mut self) -> Result<Vec<String>, String> {
        let (tok, _) = self.lookahead(true);
        if tok == Tok::Eos || tok == Tok::Comma {
            return Ok(vec![String::new()]);
        }
        let (tok, lit) = self.consume(true);
        if tok == Tok::Identifier {
            Ok(vec![lit])
        } else {
            Err(format!("found '{lit}', expected: identifier"))
        }
    }
}

impl LabelSelector {
    /// The selector that matches every object.
    pub fn everything() -> LabelSelector {
        LabelSelector::default()
    }

    /// The selector that matches no object.
    pub fn nothing() -> LabelSelector {
        LabelSelector {
            requirements: Vec::new(),
            nothing: true,
        }
    }

    /// Parses the string form (`labels.Parse`): `a=b`, `a==b`, `a!=b`,
    /// `a in (x,y)`, `a notin (x)`, `a`, `!a`, `a>1`, `a<1`, comma-joined.
    /// The empty string (or only whitespace) selects everything.
    pub fn parse(s: &str) -> Result<LabelSelector, String> {
        let mut p = Parser {
            items: lex(s),
            pos: 0,
        };
        let mut reqs = p.parse()?;
        reqs.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(LabelSelector {
            requirements: reqs,
            nothing: false,
        })
    }

    /// Converts an API `LabelSelector` (`metav1.LabelSelectorAsSelector`).
    ///
    /// An *empty* selector (no matchLabels, no matchExpressions) selects
    /// everything. A *nil* selector selects nothing: callers holding an
    /// `Option` use [`LabelSelector::from_meta_opt`].
    pub fn from_meta(sel: &metav1::LabelSelector) -> Result<LabelSelector, String> {
        let mut reqs = Vec::new();
        for (k, v) in sel.match_labels.iter().flatten() {
            reqs.push(Requirement::new(k, Operator::Equals, vec![v.clone()])?);
        }
        for expr in sel.match_expressions.iter().flatten() {
            let op = match expr.operator.as_str() {
                "In" => Operator::In,
                "NotIn" => Operator::NotIn,
                "Exists" => Operator::Exists,
                "DoesNotExist" => Operator::DoesNotExist,
                other => return Err(format!("{other:?} is not a valid label selector operator")),
            };
            reqs.push(Requirement::new(
                &expr.key,
                op,
                expr.values.clone().unwrap_or_default(),
            )?);
        }
        reqs.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(LabelSelector {
            requirements: reqs,
            nothing: false,
        })
    }

    /// Like [`LabelSelector::from_meta`] on the JSON form of a
    /// `metav1.LabelSelector` (`{"matchLabels": …, "matchExpressions": …}`);
    /// JSON `null` selects nothing, as a nil selector does.
    pub fn from_meta_json(v: &Value) -> Result<LabelSelector, String> {
        if v.is_null() {
            return Ok(LabelSelector::nothing());
        }
        let sel: metav1::LabelSelector = serde_json::from_value(v.clone())
            .map_err(|e| format!("invalid label selector: {e}"))?;
        LabelSelector::from_meta(&sel)
    }

    /// Like [`LabelSelector::from_meta`], with upstream's nil semantics:
    /// `None` converts to [`LabelSelector::nothing`].
    pub fn from_meta_opt(sel: Option<&metav1::LabelSelector>) -> Result<LabelSelector, String> {
        match sel {
            None => Ok(LabelSelector::nothing()),
            Some(s) => LabelSelector::from_meta(s),
        }
    }

    /// Converts a `{key: value}` map (e.g. a Service's `spec.selector`) into
    /// an equality selector; an empty map selects everything.
    pub fn from_map(m: &BTreeMap<String, String>) -> LabelSelector {
        LabelSelector {
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

    /// Whether all requirements hold for `labels`.
    pub fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        !self.nothing && self.requirements.iter().all(|r| r.matches(labels))
    }

    /// Like [`LabelSelector::matches`] on an object's `metadata.labels`.
    pub fn matches_object(&self, obj: &Value) -> bool {
        let labels: BTreeMap<String, String> = obj
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

    /// True for the select-everything selector.
    pub fn is_empty(&self) -> bool {
        !self.nothing && self.requirements.is_empty()
    }

    /// The requirements, sorted by key.
    pub fn requirements(&self) -> &[Requirement] {
        &self.requirements
    }
}

impl fmt::Display for LabelSelector {
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

// ---------------------------------------------------------------------------
// Field selectors
// ---------------------------------------------------------------------------

/// One term of a field selector: `field=value` or `field!=value`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldTerm {
    /// The field path, e.g. `spec.nodeName`.
    pub field: String,
    /// The (unescaped) value to compare with.
    pub value: String,
    /// `true` for `!=`.
    pub negated: bool,
}

/// A parsed field selector: a conjunction of [`FieldTerm`]s in input order.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FieldSelector {
    terms: Vec<FieldTerm>,
}

/// Upstream `fields.EscapeValue`: escapes `\`, `,` and `=`.
pub fn escape_field_value(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(c, '\\' | ',' | '=') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// Upstream `fields.UnescapeValue`.
pub fn unescape_field_value(s: &str) -> Result<String, String> {
    let mut out = String::with_capacity(s.len());
    let mut in_slash = false;
    for c in s.chars() {
        if in_slash {
            match c {
                '\\' | ',' | '=' => out.push(c),
                _ => {
                    return Err(format!(
                        "invalid field selector: invalid escape sequence: \\{c}"
                    ))
                }
            }
            in_slash = false;
            continue;
        }
        match c {
            '\\' => in_slash = true,
            // Upstream formats the rune with %v, i.e. as its number.
            ',' | '=' => {
                return Err(format!(
                    "invalid field selector: unescaped character in value: {}",
                    c as u32
                ))
            }
            _ => out.push(c),
        }
    }
    if in_slash {
        return Err("invalid field selector: invalid escape sequence: \\".to_string());
    }
    Ok(out)
}

/// Splits on commas not preceded by an escaping backslash.
fn split_terms(s: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut escaped = false;
    for (i, c) in s.char_indices() {
        if escaped {
            escaped = false;
        } else if c == '\\' {
            escaped = true;
        } else if c == ',' {
            out.push(&s[start..i]);
            start = i + 1;
        }
    }
    out.push(&s[start..]);
    out
}

/// Finds the first unescaped operator (`!=`, `==`, `=`) in a term.
fn split_term(term: &str) -> Option<(&str, &str, &str)> {
    let mut escaped = false;
    for (i, c) in term.char_indices() {
        if escaped {
            escaped = false;
            continue;
        }
        if c == '\\' {
            escaped = true;
            continue;
        }
        for op in ["!=", "==", "="] {
            if term[i..].starts_with(op) {
                return Some((&term[..i], op, &term[i + op.len()..]));
            }
        }
    }
    None
}

impl FieldSelector {
    /// Parses `f=v`, `f==v`, `f!=v`, comma-joined (`fields.ParseSelector`).
    /// Values may escape `\,`, `\=` and `\\`. Empty selects everything.
    pub fn parse(s: &str) -> Result<FieldSelector, String> {
        let mut terms = Vec::new();
        for part in split_terms(s) {
            if part.is_empty() {
                continue;
            }
            let Some((lhs, op, rhs)) = split_term(part) else {
                return Err(format!(
                    "invalid selector: '{s}'; can't understand '{part}'"
                ));
            };
            terms.push(FieldTerm {
                field: lhs.to_string(),
                value: unescape_field_value(rhs)?,
                negated: op == "!=",
            });
        }
        Ok(FieldSelector { terms })
    }

    /// The terms in input order.
    pub fn terms(&self) -> &[FieldTerm] {
        &self.terms
    }

    /// True when the selector has no terms (selects everything).
    pub fn is_empty(&self) -> bool {
        self.terms.is_empty()
    }

    /// The first field of this selector that `resource` does not support, if
    /// any (the server answers 400 `field label not supported: <field>`).
    pub fn unsupported_field(&self, resource: &str) -> Option<&str> {
        self.terms
            .iter()
            .find(|t| !Self::is_supported(resource, &t.field))
            .map(|t| t.field.as_str())
    }

    /// `Err` with upstream's 400 message (`field label not supported: <f>`)
    /// when a field of this selector is not selectable on `resource`.
    pub fn check_supported(&self, resource: &str) -> Result<(), String> {
        match self.unsupported_field(resource) {
            Some(f) => Err(format!("field label not supported: {f}")),
            None => Ok(()),
        }
    }

    /// Whether every term holds for `obj` (a `resource` object). A missing or
    /// unsupported field compares as the empty string, as upstream's
    /// `fields.Set` lookups do.
    pub fn matches(&self, resource: &str, obj: &Value) -> bool {
        self.terms.iter().all(|t| {
            let v = field_value(resource, obj, &t.field).unwrap_or_default();
            (v == t.value) != t.negated
        })
    }

    /// Whether `resource` has selectable fields beyond `metadata.name` and `metadata.namespace`
    /// (upstream: a field label conversion function of its own).
    pub fn has_own_fields(resource: &str) -> bool {
        !resource_fields(resource).is_empty()
    }

    /// Whether `resource` (plural, lowercase) supports selecting on `field`.
    pub fn is_supported(resource: &str, field: &str) -> bool {
        if matches!(field, "metadata.name" | "metadata.namespace") {
            return true;
        }
        resource_fields(resource).contains(&field)
    }
}

impl fmt::Display for FieldSelector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, t) in self.terms.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            let op = if t.negated { "!=" } else { "=" };
            write!(f, "{}{}{}", t.field, op, escape_field_value(&t.value))?;
        }
        Ok(())
    }
}

/// The selectable fields of a resource beyond `metadata.name` and
/// `metadata.namespace`.
fn resource_fields(resource: &str) -> &'static [&'static str] {
    match resource {
        "pods" => &[
            "spec.nodeName",
            "spec.restartPolicy",
            "spec.schedulerName",
            "spec.serviceAccountName",
            "spec.hostNetwork",
            "status.phase",
            "status.podIP",
            "status.nominatedNodeName",
        ],
        "events" => &[
            "involvedObject.kind",
            "involvedObject.namespace",
            "involvedObject.name",
            "involvedObject.uid",
            "involvedObject.apiVersion",
            "involvedObject.resourceVersion",
            "involvedObject.fieldPath",
            "reason",
            "reportingComponent",
            "source",
            "type",
        ],
        "secrets" => &["type"],
        "services" => &["spec.clusterIP", "spec.type"],
        "nodes" => &["spec.unschedulable"],
        "namespaces" => &["status.phase"],
        "replicasets" | "replicationcontrollers" => &["status.replicas"],
        "jobs" => &["status.successful"],
        "certificatesigningrequests" => &["spec.signerName"],
        _ => &[],
    }
}

fn str_at(obj: &Value, ptr: &str) -> String {
    obj.pointer(ptr)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string()
}

fn bool_at(obj: &Value, ptr: &str) -> String {
    obj.pointer(ptr)
        .and_then(Value::as_bool)
        .unwrap_or(false)
        .to_string()
}

fn int_at(obj: &Value, ptr: &str) -> String {
    obj.pointer(ptr)
        .and_then(Value::as_i64)
        .unwrap_or(0)
        .to_string()
}

/// An `events.k8s.io/v1` Event seen in `core/v1` shape (`regarding` as
/// `involvedObject`, `note` as `message`, the `deprecated*` fields as their
/// core names), the way upstream stores both as one internal type. `None`
/// for an event that is already in core shape.
pub fn core_event_view(ev: &Value) -> Option<Value> {
    if ev.get("involvedObject").is_some() || ev.get("regarding").is_none() {
        return None;
    }
    let mut out = ev.clone();
    let m = out.as_object_mut()?;
    let moves = [
        ("regarding", "involvedObject"),
        ("note", "message"),
        ("deprecatedFirstTimestamp", "firstTimestamp"),
        ("deprecatedLastTimestamp", "lastTimestamp"),
        ("deprecatedCount", "count"),
        ("deprecatedSource", "source"),
        ("reportingController", "reportingComponent"),
        ("reportingInstance", "reportingInstance"),
    ];
    for (from, to) in moves {
        if let Some(v) = m.remove(from) {
            m.insert(to.to_string(), v);
        }
    }
    Some(out)
}

/// The string value of a selectable `field` of `obj`, formatted as upstream
/// does (booleans `true`/`false`, integers in decimal, missing strings `""`).
/// `None` when `resource` does not support the field.
pub fn field_value(resource: &str, obj: &Value, field: &str) -> Option<String> {
    if !FieldSelector::is_supported(resource, field) {
        return None;
    }
    if resource == "events" {
        if let Some(core) = core_event_view(obj) {
            return field_value(resource, &core, field);
        }
    }
    Some(match (resource, field) {
        (_, "metadata.name") => str_at(obj, "/metadata/name"),
        (_, "metadata.namespace") => str_at(obj, "/metadata/namespace"),
        ("pods", "spec.hostNetwork") => bool_at(obj, "/spec/hostNetwork"),
        ("pods", "status.podIP") => obj
            .pointer("/status/podIPs/0/ip")
            .or_else(|| obj.pointer("/status/podIP"))
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string(),
        ("events", "source") => str_at(obj, "/source/component"),
        ("nodes", "spec.unschedulable") => bool_at(obj, "/spec/unschedulable"),
        (_, "status.replicas") => int_at(obj, "/status/replicas"),
        ("jobs", "status.successful") => int_at(obj, "/status/succeeded"),
        (_, f) => {
            let ptr: String = f.split('.').map(|p| format!("/{p}")).collect();
            str_at(obj, &ptr)
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn label_selector_matching_table() {
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
            ("app>3", false),
            ("app=", false),
            ("missing=", false),
            ("x in (in,notin)", false),
        ];
        for (s, want) in cases {
            let sel = LabelSelector::parse(s).unwrap_or_else(|e| panic!("{s}: {e}"));
            assert_eq!(sel.matches(&l), *want, "selector {s:?}");
        }
    }

    #[test]
    fn label_selector_parse_errors() {
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
            ("a=-b", "values[0][a]: Invalid value: \"-b\": a valid label must be an empty string"),
            ("x>a", "the value must be an integer"),
            ("=a", "expected: !, identifier, or 'end of string'"),
        ];
        for (s, want) in cases {
            let err = LabelSelector::parse(s).expect_err(s);
            assert!(err.contains(want), "{s:?}: got {err:?}, want {want:?}");
        }
        let long = format!("a={}", "v".repeat(64));
        assert!(LabelSelector::parse(&long)
            .unwrap_err()
            .contains("must be no more than 63 characters"));
    }

    #[test]
    fn label_selector_display_is_sorted_canonical() {
        let cases: &[(&str, &str)] = &[
            ("b=1,a=2", "a=2,b=1"),
            ("x in (c,a,b)", "x in (a,b,c)"),
            ("x notin (a,a)", "x notin (a)"),
            ("!x, y", "!x,y"),
            ("x==y", "x==y"),
            ("x!=y", "x!=y"),
            ("x in ()", "x in ()"),
            ("n>5", "n>5"),
            ("example.com/key=v", "example.com/key=v"),
        ];
        for (s, want) in cases {
            assert_eq!(LabelSelector::parse(s).unwrap().to_string(), *want);
        }
    }

    #[test]
    fn from_meta_and_nil_semantics() {
        let empty = metav1::LabelSelector::default();
        let all = LabelSelector::from_meta(&empty).unwrap();
        assert!(all.is_empty());
        assert!(all.matches(&labels(&[])));
        let none = LabelSelector::from_meta_opt(None).unwrap();
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
        let s = LabelSelector::from_meta(&sel).unwrap();
        assert_eq!(s.to_string(), "app=web,!canary,env in (prod,stage)");
        assert!(s.matches(&labels(&[("app", "web"), ("env", "prod")])));
        assert!(!s.matches(&labels(&[("app", "web"), ("env", "dev")])));
        assert!(!s.matches(&labels(&[("app", "web"), ("env", "prod"), ("canary", "1")])));

        let j = LabelSelector::from_meta_json(
            &serde_json::json!({"matchLabels": {"app": "web"}, "matchExpressions": [{"key": "env", "operator": "Exists"}]}),
        )
        .unwrap();
        assert_eq!(j.to_string(), "app=web,env");
        assert!(!LabelSelector::from_meta_json(&Value::Null)
            .unwrap()
            .matches(&labels(&[])));
        assert!(LabelSelector::from_meta_json(&serde_json::json!({"matchLabels": "x"})).is_err());

        let bad = metav1::LabelSelector {
            match_expressions: Some(vec![metav1::LabelSelectorRequirement {
                key: "a".into(),
                operator: "Foo".into(),
                values: None,
            }]),
            ..Default::default()
        };
        assert_eq!(
            LabelSelector::from_meta(&bad).unwrap_err(),
            "\"Foo\" is not a valid label selector operator"
        );
        let empty_in = metav1::LabelSelector {
            match_expressions: Some(vec![metav1::LabelSelectorRequirement {
                key: "a".into(),
                operator: "In".into(),
                values: Some(vec![]),
            }]),
            ..Default::default()
        };
        assert!(LabelSelector::from_meta(&empty_in)
            .unwrap_err()
            .contains("values set can't be empty"));
    }

    #[test]
    fn qualified_name_messages() {
        assert!(is_qualified_name("example.com/my-key").is_empty());
        assert!(is_qualified_name("My_Key.1").is_empty());
        assert_eq!(
            is_qualified_name("/a"),
            vec!["prefix part must be non-empty"]
        );
        assert!(is_qualified_name("a/b/c")[0].starts_with("a qualified name must consist"));
        assert!(is_qualified_name("Upper.com/a")[0]
            .starts_with("prefix part a lowercase RFC 1123 subdomain"));
        assert_eq!(
            is_qualified_name("a_")[0],
            "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"
        );
        assert!(is_dns1123_label("a.b").len() == 1);
        assert!(is_dns1123_subdomain("a.b").is_empty());
        assert!(!is_dns1123_subdomain("a..b").is_empty());
        assert!(is_valid_label_value("").is_empty());
    }

    #[test]
    fn field_selector_parse_and_display() {
        let cases: &[(&str, &str)] = &[
            ("", ""),
            ("metadata.name=foo", "metadata.name=foo"),
            ("metadata.name==foo", "metadata.name=foo"),
            (
                "spec.nodeName!=,status.phase=Running",
                "spec.nodeName!=,status.phase=Running",
            ),
            ("a=x\\,y\\=z\\\\", "a=x\\,y\\=z\\\\"),
            ("a=b,", "a=b"),
        ];
        for (s, want) in cases {
            assert_eq!(FieldSelector::parse(s).unwrap().to_string(), *want, "{s}");
        }
        let sel = FieldSelector::parse("a=x\\,y\\=z\\\\").unwrap();
        assert_eq!(sel.terms()[0].value, "x,y=z\\");
        let errs: &[(&str, &str)] = &[
            ("foo", "invalid selector: 'foo'; can't understand 'foo'"),
            ("a=b\\c", "invalid escape sequence: \\c"),
            ("a=b=c", "unescaped character in value: 61"),
            ("a=b\\", "invalid escape sequence: \\"),
        ];
        for (s, want) in errs {
            let e = FieldSelector::parse(s).unwrap_err();
            assert!(e.contains(want), "{s}: {e}");
        }
    }

    #[test]
    fn field_selector_matching_table() {
        let pod = json!({
            "metadata": {"name": "p1", "namespace": "default"},
            "spec": {"nodeName": "n1", "restartPolicy": "Always", "hostNetwork": true},
            "status": {"phase": "Running", "podIPs": [{"ip": "10.0.0.1"}]}
        });
        let cases: &[(&str, bool)] = &[
            ("", true),
            ("metadata.name=p1", true),
            ("metadata.name=p2", false),
            ("metadata.namespace=default,spec.nodeName=n1", true),
            ("spec.nodeName!=n1", false),
            ("spec.schedulerName=", true),
            ("spec.schedulerName!=", false),
            ("spec.hostNetwork=true", true),
            ("status.podIP=10.0.0.1", true),
            ("status.phase!=Pending", true),
        ];
        for (s, want) in cases {
            let sel = FieldSelector::parse(s).unwrap();
            assert_eq!(sel.matches("pods", &pod), *want, "{s}");
        }
    }

    #[test]
    fn field_support_and_values() {
        assert!(FieldSelector::is_supported("configmaps", "metadata.name"));
        assert!(!FieldSelector::is_supported("configmaps", "data.x"));
        assert!(FieldSelector::is_supported("pods", "spec.nodeName"));
        assert!(!FieldSelector::is_supported("services", "spec.nodeName"));
        let sel = FieldSelector::parse("metadata.name=a,spec.foo=b").unwrap();
        assert_eq!(sel.unsupported_field("pods"), Some("spec.foo"));
        assert_eq!(
            sel.check_supported("pods").unwrap_err(),
            "field label not supported: spec.foo"
        );
        assert!(FieldSelector::parse("spec.nodeName=a")
            .unwrap()
            .check_supported("pods")
            .is_ok());

        let cases: Vec<(&str, Value, &str, Option<&str>)> = vec![
            (
                "nodes",
                json!({"spec": {}}),
                "spec.unschedulable",
                Some("false"),
            ),
            (
                "nodes",
                json!({"spec": {"unschedulable": true}}),
                "spec.unschedulable",
                Some("true"),
            ),
            ("secrets", json!({"type": "Opaque"}), "type", Some("Opaque")),
            (
                "events",
                json!({"source": {"component": "kubelet"}}),
                "source",
                Some("kubelet"),
            ),
            (
                "events",
                json!({"involvedObject": {"kind": "Pod"}}),
                "involvedObject.kind",
                Some("Pod"),
            ),
            (
                "replicasets",
                json!({"status": {"replicas": 3}}),
                "status.replicas",
                Some("3"),
            ),
            (
                "replicationcontrollers",
                json!({}),
                "status.replicas",
                Some("0"),
            ),
            (
                "jobs",
                json!({"status": {"succeeded": 2}}),
                "status.successful",
                Some("2"),
            ),
            (
                "namespaces",
                json!({"status": {"phase": "Active"}}),
                "status.phase",
                Some("Active"),
            ),
            (
                "certificatesigningrequests",
                json!({"spec": {"signerName": "x/y"}}),
                "spec.signerName",
                Some("x/y"),
            ),
            (
                "events",
                json!({"regarding": {"kind": "Node", "name": "n1"}, "deprecatedSource": {"component": "kubelet"}}),
                "involvedObject.name",
                Some("n1"),
            ),
            (
                "events",
                json!({"regarding": {"kind": "Node"}, "deprecatedSource": {"component": "kubelet"}}),
                "source",
                Some("kubelet"),
            ),
            ("pods", json!({}), "spec.nodeName", Some("")),
            ("pods", json!({}), "spec.bogus", None),
        ];
        for (res, obj, field, want) in cases {
            assert_eq!(
                field_value(res, &obj, field).as_deref(),
                want,
                "{res} {field}"
            );
        }
    }
}
