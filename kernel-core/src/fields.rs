//! Field selectors (`k8s.io/apimachinery/pkg/fields`) and field errors
//! (`k8s.io/apimachinery/pkg/util/validation/field`).
//!
//! A field selector is a conjunction of `field=value` / `field!=value` terms, matched against
//! the string values of an object's selectable fields. Which fields a resource offers, and how
//! each is read from the object, is per-resource knowledge that stays with the API server; this
//! module matches against whatever map or lookup the caller supplies.
//!
//! ```
//! use kernel_core::fields::{Fields, Selector};
//!
//! let sel: Selector = "spec.nodeName=n1,status.phase!=Failed".parse().unwrap();
//! let pod: Fields = [("spec.nodeName", "n1"), ("status.phase", "Running")]
//!     .into_iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
//! assert!(sel.matches(&pod));
//! assert_eq!(sel.to_string(), "spec.nodeName=n1,status.phase!=Failed");
//! ```

mod error;

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

pub use error::{aggregate_message, FieldError, FieldErrorKind, Path};

use crate::Error;

/// The selectable fields of an object and their string values (upstream `fields.Set`).
pub type Fields = BTreeMap<String, String>;

/// One term of a field selector: `field=value` or `field!=value`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Term {
    /// The field path, e.g. `spec.nodeName`.
    pub field: String,
    /// The (unescaped) value to compare with.
    pub value: String,
    /// `true` for `!=`.
    pub negated: bool,
}

impl Term {
    /// Whether the term holds when the field has value `actual`.
    #[inline]
    pub fn matches_value(&self, actual: &str) -> bool {
        (actual == self.value) != self.negated
    }
}

/// A parsed field selector: a conjunction of [`Term`]s in input order. The empty selector
/// matches everything.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Selector {
    terms: Vec<Term>,
}

/// Upstream `fields.EscapeValue`: escapes `\`, `,` and `=`.
pub fn escape_value(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(c, '\\' | ',' | '=') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// Upstream `fields.UnescapeValue`: the inverse of [`escape_value`]; an unknown escape or an
/// unescaped `,`/`=` is an error.
pub fn unescape_value(s: &str) -> Result<String, Error> {
    let bad = |m: String| Error::InvalidFieldSelector(format!("invalid field selector: {m}"));
    let mut out = String::with_capacity(s.len());
    let mut in_slash = false;
    for c in s.chars() {
        if in_slash {
            match c {
                '\\' | ',' | '=' => out.push(c),
                _ => return Err(bad(format!("invalid escape sequence: \\{c}"))),
            }
            in_slash = false;
            continue;
        }
        match c {
            '\\' => in_slash = true,
            // Upstream formats the rune with %v, i.e. as its number.
            ',' | '=' => return Err(bad(format!("unescaped character in value: {}", c as u32))),
            _ => out.push(c),
        }
    }
    if in_slash {
        return Err(bad("invalid escape sequence: \\".to_string()));
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

impl Selector {
    /// The selector that matches everything.
    pub fn everything() -> Selector {
        Selector::default()
    }

    /// `fields.OneTermEqualSelector`: `field=value`.
    pub fn one_term_equal(field: &str, value: &str) -> Selector {
        Selector {
            terms: vec![Term {
                field: field.into(),
                value: value.into(),
                negated: false,
            }],
        }
    }

    /// `fields.OneTermNotEqualSelector`: `field!=value`.
    pub fn one_term_not_equal(field: &str, value: &str) -> Selector {
        Selector {
            terms: vec![Term {
                field: field.into(),
                value: value.into(),
                negated: true,
            }],
        }
    }

    /// Parses `f=v`, `f==v`, `f!=v`, comma-joined (`fields.ParseSelector`). Values may escape
    /// `\,`, `\=` and `\\`. The empty string selects everything.
    pub fn parse(s: &str) -> Result<Selector, Error> {
        let mut terms = Vec::new();
        for part in split_terms(s) {
            if part.is_empty() {
                continue;
            }
            let Some((lhs, op, rhs)) = split_term(part) else {
                return Err(Error::InvalidFieldSelector(format!(
                    "invalid selector: '{s}'; can't understand '{part}'"
                )));
            };
            terms.push(Term {
                field: lhs.to_string(),
                value: unescape_value(rhs)?,
                negated: op == "!=",
            });
        }
        Ok(Selector { terms })
    }

    /// The terms in input order.
    pub fn terms(&self) -> &[Term] {
        &self.terms
    }

    /// True when the selector has no terms (selects everything).
    pub fn is_empty(&self) -> bool {
        self.terms.is_empty()
    }

    /// Adds the terms of `other` (the result matches the intersection, `fields.AndSelectors`).
    pub fn and(mut self, other: Selector) -> Selector {
        self.terms.extend(other.terms);
        self
    }

    /// Whether every term holds for `fields`; a missing field compares as the empty string, as
    /// upstream's `fields.Set` lookups do.
    pub fn matches(&self, fields: &Fields) -> bool {
        self.matches_with(|f| fields.get(f).map_or("", String::as_str).to_string())
    }

    /// Like [`matches`](Self::matches), reading each field's value through `value` (e.g. an
    /// API server's per-resource field table).
    pub fn matches_with(&self, mut value: impl FnMut(&str) -> String) -> bool {
        self.terms.iter().all(|t| t.matches_value(&value(&t.field)))
    }
}

impl FromStr for Selector {
    type Err = Error;

    fn from_str(s: &str) -> Result<Selector, Error> {
        Selector::parse(s)
    }
}

impl fmt::Display for Selector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, t) in self.terms.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            let op = if t.negated { "!=" } else { "=" };
            write!(f, "{}{}{}", t.field, op, escape_value(&t.value))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // A field set has the shape of a label set.
    use crate::labels::from_pairs as fields;

    #[test]
    fn parse_and_display() {
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
            assert_eq!(Selector::parse(s).unwrap().to_string(), *want, "{s}");
        }
        let sel = Selector::parse("a=x\\,y\\=z\\\\").unwrap();
        assert_eq!(sel.terms()[0].value, "x,y=z\\");
    }

    #[test]
    fn parse_errors_carry_upstream_messages() {
        let errs: &[(&str, &str)] = &[
            ("foo", "invalid selector: 'foo'; can't understand 'foo'"),
            (
                "a=b\\c",
                "invalid field selector: invalid escape sequence: \\c",
            ),
            (
                "a=b=c",
                "invalid field selector: unescaped character in value: 61",
            ),
            (
                "a=b\\",
                "invalid field selector: invalid escape sequence: \\",
            ),
        ];
        for (s, want) in errs {
            let e = Selector::parse(s).unwrap_err();
            assert_eq!(e, Error::InvalidFieldSelector(want.to_string()), "{s}");
        }
    }

    #[test]
    fn escape_round_trips() {
        for v in ["", "plain", "a,b", "a=b", "back\\slash", "\\,=", "ünï"] {
            assert_eq!(unescape_value(&escape_value(v)).unwrap(), v);
        }
        assert_eq!(escape_value("a,b=c\\"), "a\\,b\\=c\\\\");
    }

    #[test]
    fn matching_table() {
        let pod = fields(&[
            ("metadata.name", "p1"),
            ("spec.nodeName", "n1"),
            ("status.phase", "Running"),
        ]);
        let cases: &[(&str, bool)] = &[
            ("", true),
            ("metadata.name=p1", true),
            ("metadata.name=p2", false),
            ("metadata.name=p1,spec.nodeName=n1", true),
            ("spec.nodeName!=n1", false),
            // Missing fields read as "".
            ("spec.schedulerName=", true),
            ("spec.schedulerName!=", false),
            ("status.phase!=Pending", true),
        ];
        for (s, want) in cases {
            assert_eq!(Selector::parse(s).unwrap().matches(&pod), *want, "{s}");
        }
        let sel = Selector::one_term_equal("spec.nodeName", "n1")
            .and(Selector::one_term_not_equal("status.phase", "Failed"));
        assert_eq!(sel.to_string(), "spec.nodeName=n1,status.phase!=Failed");
        assert!(sel.matches(&pod));
        assert!(!sel.matches_with(|_| "Failed".into()));
    }
}
