//! Field selectors (`k8s.io/apimachinery/pkg/fields/selector.go`): terms, value escaping,
//! parsing and matching. Which fields a kind supports is its strategy's.

use std::fmt;

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

    /// The first field of this selector for which `supported` is false, if any (the server
    /// answers 400 `field label not supported: <field>`).
    pub fn unsupported_field(&self, supported: impl Fn(&str) -> bool) -> Option<&str> {
        self.terms
            .iter()
            .find(|t| !supported(&t.field))
            .map(|t| t.field.as_str())
    }

    /// `Err` with upstream's 400 message (`field label not supported: <f>`)
    /// when a field of this selector is not `supported`.
    pub fn check_supported(&self, supported: impl Fn(&str) -> bool) -> Result<(), String> {
        match self.unsupported_field(supported) {
            Some(f) => Err(format!("field label not supported: {f}")),
            None => Ok(()),
        }
    }

    /// Whether every term holds for an object whose fields have the values `value` gives
    /// (`None`: a missing or unsupported field, which compares as the empty string, as
    /// upstream's `fields.Set` lookups do).
    pub fn matches(&self, value: impl Fn(&str) -> Option<String>) -> bool {
        self.terms.iter().all(|t| {
            let v = value(&t.field).unwrap_or_default();
            (v == t.value) != t.negated
        })
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
