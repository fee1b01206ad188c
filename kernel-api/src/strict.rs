//! `fieldValidation=Strict` for what a decoded `serde_json::Value` no longer shows: fields given
//! twice in a JSON body. Upstream's strict decoder (sigs.k8s.io/json) reports each repeat as
//! `duplicate field "metadata.name"`, with the unknown fields, in the order it meets them, in one
//! `strict decoding error: …` (a 400 from the create and update handlers). Without Strict the
//! last value wins, as it does in `serde_json`.

use std::collections::HashMap;

use serde_json::Value;

use crate::handlers::Ctx;
use crate::resources::PathSegment;
use crate::status::{Error, Result};

/// Where each field path of a JSON document starts, and the repeated ones.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct FieldPositions {
    /// The byte offset of the first occurrence of every field path.
    pub first: HashMap<String, usize>,
    /// `(offset, path)` of every repeated field, in document order.
    pub duplicates: Vec<(usize, String)>,
}

/// Scans `json` for its field paths (`spec.containers[0].name`, as the strict decoder names
/// them). Stops quietly at malformed input: decoding reports that.
pub fn field_positions(json: &[u8]) -> FieldPositions {
    let mut scanner = Scanner {
        bytes: json,
        at: 0,
        out: FieldPositions::default(),
    };
    scanner.value("");
    scanner.out
}

struct Scanner<'a> {
    bytes: &'a [u8],
    at: usize,
    out: FieldPositions,
}

impl Scanner<'_> {
    fn skip_ws(&mut self) {
        while self.bytes.get(self.at).is_some_and(u8::is_ascii_whitespace) {
            self.at += 1;
        }
    }

    fn peek(&mut self) -> Option<u8> {
        self.skip_ws();
        self.bytes.get(self.at).copied()
    }

    /// A string starting at `self.at` (a `"`); its decoded text.
    fn string(&mut self) -> Option<String> {
        let start = self.at;
        self.at += 1;
        while let Some(&b) = self.bytes.get(self.at) {
            self.at += 1;
            match b {
                b'\\' => self.at += 1,
                b'"' => return serde_json::from_slice(&self.bytes[start..self.at]).ok(),
                _ => {}
            }
        }
        None
    }

    fn value(&mut self, path: &str) -> Option<()> {
        match self.peek()? {
            b'{' => {
                self.at += 1;
                let mut seen = std::collections::HashSet::new();
                if self.peek()? == b'}' {
                    self.at += 1;
                    return Some(());
                }
                loop {
                    if self.peek()? != b'"' {
                        return None;
                    }
                    let offset = self.at;
                    let key = self.string()?;
                    let child = if path.is_empty() {
                        key.clone()
                    } else {
                        format!("{path}.{key}")
                    };
                    // Each repeated path once, as the decoder dedupes its errors.
                    if !seen.insert(key) && !self.out.duplicates.iter().any(|(_, d)| *d == child) {
                        self.out.duplicates.push((offset, child.clone()));
                    }
                    self.out.first.entry(child.clone()).or_insert(offset);
                    if self.peek()? != b':' {
                        return None;
                    }
                    self.at += 1;
                    self.value(&child)?;
                    match self.peek()? {
                        b',' => self.at += 1,
                        b'}' => {
                            self.at += 1;
                            return Some(());
                        }
                        _ => return None,
                    }
                }
            }
            b'[' => {
                self.at += 1;
                if self.peek()? == b']' {
                    self.at += 1;
                    return Some(());
                }
                let mut i = 0;
                loop {
                    let offset = self.at;
                    let child = format!("{path}[{i}]");
                    self.out.first.entry(child.clone()).or_insert(offset);
                    self.value(&child)?;
                    i += 1;
                    match self.peek()? {
                        b',' => self.at += 1,
                        b']' => {
                            self.at += 1;
                            return Some(());
                        }
                        _ => return None,
                    }
                }
            }
            b'"' => self.string().map(|_| ()),
            _ => {
                while self
                    .bytes
                    .get(self.at)
                    .is_some_and(|b| !matches!(b, b',' | b'}' | b']') && !b.is_ascii_whitespace())
                {
                    self.at += 1;
                }
                Some(())
            }
        }
    }
}

/// The value at `path`, if any.
fn at<'a>(obj: &'a Value, path: &[PathSegment]) -> Option<&'a Value> {
    path.iter().try_fold(obj, |v, segment| match segment {
        PathSegment::Field(k) => v.get(k.as_str()),
        PathSegment::Index(i) => v.get(*i),
    })
}

/// Refuses a create or update body with repeated fields under `fieldValidation=Strict`, listing
/// them with the unknown fields in document order (`obj` is the body as decoded).
pub fn check_duplicate_fields(ctx: &Ctx, obj: &Value) -> Result<()> {
    if ctx.param("fieldValidation") != Some("Strict")
        || !matches!(ctx.content_type().as_str(), "application/json" | "" | "*/*")
    {
        return Ok(());
    }
    let positions = field_positions(&ctx.body);
    if positions.duplicates.is_empty() {
        return Ok(());
    }
    let mut errors: Vec<(usize, String)> = positions
        .duplicates
        .iter()
        .map(|(offset, path)| (*offset, format!("duplicate field {path:?}")))
        .collect();
    if let Some(check) = ctx.def.flags.typed_check {
        for path in check(obj).unwrap_or_default() {
            // A null unknown field is not reported (registry::typed_check).
            if at(obj, &path).is_some_and(|v| !v.is_null()) {
                let joined = crate::decode::join_path(&path);
                let offset = positions.first.get(&joined).copied().unwrap_or(usize::MAX);
                errors.push((offset, format!("unknown field {joined:?}")));
            }
        }
    }
    errors.sort_by_key(|(offset, _)| *offset);
    let listed: Vec<String> = errors.into_iter().map(|(_, e)| e).collect();
    let def = &ctx.def;
    Err(Error::bad_request(format!(
        "{} in version \"{}\" cannot be handled as a {}: strict decoding error: {}",
        def.kind,
        def.version,
        def.kind,
        listed.join(", ")
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_repeated_fields_by_path() {
        let p = field_positions(br#"{"a":{"b":1,"c":[{"d":"x\"}","d":2}],"b":3,"b":{}},"a":null}"#);
        let dups: Vec<&str> = p.duplicates.iter().map(|(_, d)| d.as_str()).collect();
        assert_eq!(dups, ["a.c[0].d", "a.b", "a"]);
        assert!(p.first["a.b"] < p.first["a.c[0].d"]);
        assert!(field_positions(b"{\"a\":").duplicates.is_empty());
    }
}
