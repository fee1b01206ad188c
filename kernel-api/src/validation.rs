//! API object validation: the checks the API server runs on create and
//! update, with errors shaped like upstream's `field.Error`.
//!
//! Mirrors (in spirit and in message text) `k8s.io/apimachinery/pkg/util/validation/field`
//! (error types and their `Error()` form), `k8s.io/apimachinery/pkg/api/validation`
//! (`ValidateObjectMeta`, `ValidateObjectMetaUpdate`, annotations size) and
//! `pkg/apis/core/validation`, `pkg/apis/apps/validation`,
//! `pkg/apis/batch/validation` of Kubernetes (pods, services, workloads, jobs,
//! configmaps, secrets, PVCs). Only a subset of upstream's rules is checked;
//! see `rest::validate_fields`. Each kind's rules are its `Strategy::validate` and
//! `Strategy::validate_update` (`strategy/<kind>.rs`); this module holds the object metadata
//! rules, [`FieldError`], the name validators and the rules several kinds share
//! (`validation/pod_spec.rs`: pod specs, workloads, job specs).
//!
//! Objects are expected to be defaulted first (see `crate::defaults`), as
//! upstream decodes-and-defaults before validating; empty enum fields that
//! defaulting fills in are therefore not reported.

use std::collections::HashSet;
use std::fmt;

use serde_json::{Map, Value};

use crate::json::{arr, s};
use crate::selector::{is_qualified_name, is_valid_label_value, max_len_error, regex_error};

/// The kind of a field error (upstream `field.ErrorType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FieldErrorKind {
    /// A required field is missing.
    Required,
    /// A field has an invalid value.
    Invalid,
    /// A value that must be unique is repeated.
    Duplicate,
    /// A field may not be set or changed.
    Forbidden,
    /// A value is not one of the supported values.
    NotSupported,
    /// A value is too long.
    TooLong,
    /// A list has too many items.
    TooMany,
}

impl FieldErrorKind {
    /// The `reason` of a `StatusCause` for this kind ("FieldValueInvalid", …).
    pub fn reason(&self) -> &'static str {
        match self {
            FieldErrorKind::Required => "FieldValueRequired",
            FieldErrorKind::Invalid => "FieldValueInvalid",
            FieldErrorKind::Duplicate => "FieldValueDuplicate",
            FieldErrorKind::Forbidden => "FieldValueForbidden",
            FieldErrorKind::NotSupported => "FieldValueNotSupported",
            FieldErrorKind::TooLong => "FieldValueTooLong",
            FieldErrorKind::TooMany => "FieldValueTooMany",
        }
    }

    /// The human label upstream prints ("Invalid value", "Required value", …).
    pub fn label(&self) -> &'static str {
        match self {
            FieldErrorKind::Required => "Required value",
            FieldErrorKind::Invalid => "Invalid value",
            FieldErrorKind::Duplicate => "Duplicate value",
            FieldErrorKind::Forbidden => "Forbidden",
            FieldErrorKind::NotSupported => "Unsupported value",
            FieldErrorKind::TooLong => "Too long",
            FieldErrorKind::TooMany => "Too many",
        }
    }
}

/// One validation failure.
///
/// `message` is what follows the kind's label in upstream's text: for kinds
/// that carry the bad value (Invalid, Duplicate, NotSupported, TooMany) it
/// starts with the rendered value, e.g. `"Foo": a lowercase RFC 1123 …`;
/// for the others it is the detail (possibly empty). [`FieldError::body`] is
/// the text of a `StatusCause.message`, `Display` the full
/// `field: body` line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    /// The kind of error.
    pub kind: FieldErrorKind,
    /// The field path, e.g. `metadata.name` or `spec.containers[0].image`.
    pub field: String,
    /// The value (when the kind carries one) and detail, see the type docs.
    pub message: String,
}

/// Renders a bad value the way upstream's `%q`/`%d` formatting does.
fn render(v: &Value) -> String {
    match v {
        Value::String(_) | Value::Array(_) | Value::Object(_) | Value::Null => v.to_string(),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
    }
}

fn with_detail(value: String, detail: &str) -> String {
    if detail.is_empty() {
        value
    } else {
        format!("{value}: {detail}")
    }
}

impl FieldError {
    /// `field.Required`.
    pub fn required(field: impl Into<String>, detail: &str) -> FieldError {
        FieldError {
            kind: FieldErrorKind::Required,
            field: field.into(),
            message: detail.to_string(),
        }
    }

    /// `field.Invalid`.
    pub fn invalid(field: impl Into<String>, value: &Value, detail: &str) -> FieldError {
        FieldError {
            kind: FieldErrorKind::Invalid,
            field: field.into(),
            message: with_detail(render(value), detail),
        }
    }

    /// `field.Duplicate`.
    pub fn duplicate(field: impl Into<String>, value: &Value) -> FieldError {
        FieldError {
            kind: FieldErrorKind::Duplicate,
            field: field.into(),
            message: render(value),
        }
    }

    /// `field.Forbidden`.
    pub fn forbidden(field: impl Into<String>, detail: &str) -> FieldError {
        FieldError {
            kind: FieldErrorKind::Forbidden,
            field: field.into(),
            message: detail.to_string(),
        }
    }

    /// `field.NotSupported`: `"x": supported values: "a", "b"`.
    pub fn not_supported(field: impl Into<String>, value: &Value, valid: &[&str]) -> FieldError {
        let quoted: Vec<String> = valid.iter().map(|v| format!("{v:?}")).collect();
        FieldError {
            kind: FieldErrorKind::NotSupported,
            field: field.into(),
            message: with_detail(
                render(value),
                &format!("supported values: {}", quoted.join(", ")),
            ),
        }
    }

    /// `field.TooLong`: `may not be more than N bytes`.
    pub fn too_long(field: impl Into<String>, max: usize) -> FieldError {
        FieldError {
            kind: FieldErrorKind::TooLong,
            field: field.into(),
            message: format!("may not be more than {max} bytes"),
        }
    }

    /// `field.TooMany`: `N: must have at most M items`.
    pub fn too_many(field: impl Into<String>, actual: usize, max: usize) -> FieldError {
        FieldError {
            kind: FieldErrorKind::TooMany,
            field: field.into(),
            message: format!("{actual}: must have at most {max} items"),
        }
    }

    /// Upstream `ErrorBody()`: the message without the field path, e.g.
    /// `Invalid value: "Foo": …` (a `StatusCause.message`).
    pub fn body(&self) -> String {
        if self.message.is_empty() {
            self.kind.label().to_string()
        } else {
            format!("{}: {}", self.kind.label(), self.message)
        }
    }
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.body())
    }
}

impl std::error::Error for FieldError {}

// ---------------------------------------------------------------------------

pub(crate) const IMMUTABLE: &str = "field is immutable";
pub(crate) const NEGATIVE: &str = "must be greater than or equal to 0";
const TOTAL_ANNOTATION_SIZE: usize = 256 * 1024;
pub(crate) const MAX_CONFIG_SIZE: usize = 1024 * 1024;
const DNS1035_LABEL_ERR_MSG: &str = "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character";
const DNS1035_LABEL_FMT: &str = "[a-z]([-a-z0-9]*[a-z0-9])?";

pub(crate) fn get<'a>(obj: &'a Value, ptr: &str) -> Option<&'a Value> {
    obj.pointer(ptr).filter(|v| !v.is_null())
}

pub(crate) fn obj_map<'a>(obj: &'a Value, ptr: &str) -> Option<&'a Map<String, Value>> {
    obj.pointer(ptr).and_then(Value::as_object)
}

/// Upstream `IsDNS1035Label` (Service names).
pub fn is_dns1035_label(v: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if v.len() > 63 {
        errs.push(max_len_error(63));
    }
    let b = v.as_bytes();
    let ok = !b.is_empty()
        && b[0].is_ascii_lowercase()
        && (b[b.len() - 1].is_ascii_lowercase() || b[b.len() - 1].is_ascii_digit())
        && b.iter()
            .all(|&c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'-');
    if !ok {
        errs.push(regex_error(
            DNS1035_LABEL_ERR_MSG,
            DNS1035_LABEL_FMT,
            &["my-name", "abc-123"],
        ));
    }
    errs
}

/// Upstream `path.IsValidPathSegmentName` (RBAC and custom resource names).
pub fn is_valid_path_segment_name(v: &str) -> Vec<String> {
    if v == "." || v == ".." {
        return vec![format!("may not be '{v}'")];
    }
    let mut errs = Vec::new();
    for c in ["/", "%"] {
        if v.contains(c) {
            errs.push(format!("may not contain '{c}'"));
        }
    }
    errs
}

/// Upstream `IsValidPortNum`.
pub(crate) fn is_valid_port_num(p: i64) -> Vec<String> {
    if (1..=65535).contains(&p) {
        Vec::new()
    } else {
        vec!["must be between 1 and 65535, inclusive".to_string()]
    }
}

/// Upstream `IsValidPortName` (IANA_SVC_NAME).
pub(crate) fn is_valid_port_name(p: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if p.len() > 15 {
        errs.push(max_len_error(15));
    }
    if !p
        .bytes()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'-')
    {
        errs.push(
            "must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)".to_string(),
        );
    }
    if p.contains("--") {
        errs.push("must not contain consecutive hyphens".to_string());
    }
    if !p.bytes().any(|c| c.is_ascii_lowercase()) {
        errs.push("must contain at least one letter (a-z)".to_string());
    }
    if p.starts_with('-') || p.ends_with('-') {
        errs.push("must not begin or end with a hyphen".to_string());
    }
    errs
}

/// Upstream `IsConfigMapKey` (configmap and secret data keys).
pub fn is_config_map_key(k: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if k.len() > 253 {
        errs.push(max_len_error(253));
    }
    if k.is_empty()
        || !k
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_' || c == b'.')
    {
        errs.push(regex_error(
            "a valid config key must consist of alphanumeric characters, '-', '_' or '.'",
            "[-._a-zA-Z0-9]+",
            &["key.name", "KEY_NAME", "key-name"],
        ));
    }
    if k == "." {
        errs.push("must not be '.'".to_string());
    } else if k == ".." {
        errs.push("must not be '..'".to_string());
    } else if k.starts_with("..") {
        errs.push("must not start with '..'".to_string());
    }
    errs
}

/// For `generateName`: a trailing '-' is allowed (upstream `maskTrailingDash`).
fn mask_trailing_dash(name: &str) -> String {
    if name.len() > 1 && name.ends_with('-') {
        format!("{}a", &name[..name.len() - 1])
    } else {
        name.to_string()
    }
}

/// Label map validation (`ValidateLabels`), errors reported at `path`.
pub(crate) fn validate_labels(
    labels: Option<&Map<String, Value>>,
    path: &str,
    errs: &mut Vec<FieldError>,
) {
    for (k, v) in labels.into_iter().flatten() {
        for m in is_qualified_name(k) {
            errs.push(FieldError::invalid(path, &Value::String(k.clone()), &m));
        }
        let vs = v.as_str().unwrap_or_default();
        for m in is_valid_label_value(vs) {
            errs.push(FieldError::invalid(path, v, &m));
        }
    }
}

/// The object metadata rules (`ValidateObjectMeta`, subset), the name checked by `rule`.
pub(crate) fn validate_meta(
    rule: &dyn Fn(&str) -> Vec<String>,
    obj: &Value,
    errs: &mut Vec<FieldError>,
) {
    let name = s(obj, "/metadata/name");
    let generate = s(obj, "/metadata/generateName");
    if !generate.is_empty() {
        for m in rule(&mask_trailing_dash(generate)) {
            errs.push(FieldError::invalid(
                "metadata.generateName",
                &Value::String(generate.to_string()),
                &m,
            ));
        }
    }
    if name.is_empty() {
        if generate.is_empty() {
            errs.push(FieldError::required(
                "metadata.name",
                "name or generateName is required",
            ));
        }
    } else {
        for m in rule(name) {
            errs.push(FieldError::invalid(
                "metadata.name",
                &Value::String(name.to_string()),
                &m,
            ));
        }
    }
    validate_labels(obj_map(obj, "/metadata/labels"), "metadata.labels", errs);
    if let Some(ann) = obj_map(obj, "/metadata/annotations") {
        let mut total = 0;
        for (k, v) in ann {
            for m in is_qualified_name(&k.to_lowercase()) {
                errs.push(FieldError::invalid(
                    "metadata.annotations",
                    &Value::String(k.clone()),
                    &m,
                ));
            }
            total += k.len() + v.as_str().map_or(0, str::len);
        }
        if total > TOTAL_ANNOTATION_SIZE {
            errs.push(FieldError::too_long(
                "metadata.annotations",
                TOTAL_ANNOTATION_SIZE,
            ));
        }
    }
    for (i, f) in arr(obj, "/metadata/finalizers").iter().enumerate() {
        let fs = f.as_str().unwrap_or_default();
        let path = format!("metadata.finalizers[{i}]");
        let msgs = is_qualified_name(fs);
        if !msgs.is_empty() {
            for m in msgs {
                errs.push(FieldError::invalid(&path, f, &m));
            }
        } else if !fs.contains('/') && !matches!(fs, "kubernetes" | "orphan" | "foregroundDeletion")
        {
            errs.push(FieldError::invalid(
                &path,
                f,
                "name is neither a standard finalizer name nor is it fully qualified",
            ));
        }
    }
}

pub(crate) fn validate_nonnegative(obj: &Value, ptr: &str, path: &str, errs: &mut Vec<FieldError>) {
    if let Some(v) = get(obj, ptr) {
        if v.as_i64().is_some_and(|n| n < 0) {
            errs.push(FieldError::invalid(path, v, NEGATIVE));
        }
    }
}

pub(crate) fn validate_enum(
    obj: &Value,
    ptr: &str,
    path: &str,
    valid: &[&str],
    errs: &mut Vec<FieldError>,
) {
    if let Some(v) = get(obj, ptr) {
        let vs = v.as_str().unwrap_or_default();
        if !vs.is_empty() && !valid.contains(&vs) {
            errs.push(FieldError::not_supported(path, v, valid));
        }
    }
}

pub(crate) use pod_spec::{
    check_selector_matches_template, validate_job_spec, validate_pod_spec, validate_workload,
};

pub(crate) fn validate_data_keys(obj: &Value, binary: bool, errs: &mut Vec<FieldError>) -> usize {
    let mut total = 0;
    let mut seen = HashSet::new();
    let fields: &[&str] = if binary {
        &["data", "binaryData"]
    } else {
        &["data", "stringData"]
    };
    for field in fields {
        for (k, v) in obj
            .get(*field)
            .and_then(Value::as_object)
            .into_iter()
            .flatten()
        {
            for m in is_config_map_key(k) {
                errs.push(FieldError::invalid(
                    format!("{field}[{k}]"),
                    &Value::String(k.clone()),
                    &m,
                ));
            }
            if binary && !seen.insert(k.clone()) {
                errs.push(FieldError::invalid(
                    format!("{field}[{k}]"),
                    &Value::String(k.clone()),
                    "duplicate of key present in data",
                ));
            }
            let len = v.as_str().map_or(0, str::len);
            // Secret `data` is base64 on the wire: count decoded bytes.
            let base64 = (!binary && *field == "data") || (binary && *field == "binaryData");
            total += if base64 { len / 4 * 3 } else { len };
        }
    }
    total
}

pub(crate) fn immutable(
    new: &Value,
    old: &Value,
    ptr: &str,
    path: &str,
    errs: &mut Vec<FieldError>,
) {
    let n = new.pointer(ptr).unwrap_or(&Value::Null);
    let o = old.pointer(ptr).unwrap_or(&Value::Null);
    if n != o {
        errs.push(FieldError::invalid(path, n, IMMUTABLE));
    }
}

/// Parses a resource quantity ("1Gi", "500M", "1.5", "100m", "1e3") into a
/// number, for comparisons only.
pub(crate) fn parse_quantity(q: &str) -> Option<f64> {
    let q = q.trim();
    let split = q
        .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '+' || c == '-'))
        .unwrap_or(q.len());
    let (num, suffix) = q.split_at(split);
    let n: f64 = num.parse().ok()?;
    let mult = match suffix {
        "" => 1.0,
        "Ki" => 1024f64,
        "Mi" => 1024f64.powi(2),
        "Gi" => 1024f64.powi(3),
        "Ti" => 1024f64.powi(4),
        "Pi" => 1024f64.powi(5),
        "Ei" => 1024f64.powi(6),
        "n" => 1e-9,
        "u" => 1e-6,
        "m" => 1e-3,
        "k" => 1e3,
        "M" => 1e6,
        "G" => 1e9,
        "T" => 1e12,
        "P" => 1e15,
        "E" => 1e18,
        s if s.starts_with(['e', 'E']) => 10f64.powi(s[1..].parse().ok()?),
        _ => return None,
    };
    Some(n * mult)
}

/// Upstream's `ValidateNoNewFinalizers`, for an object already marked for deletion.
fn validate_no_new_finalizers(new: &Value, old: &Value, errs: &mut Vec<FieldError>) {
    if old["metadata"]["deletionTimestamp"].is_null() {
        return;
    }
    let before: std::collections::BTreeSet<&str> = arr(old, "/metadata/finalizers")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    let extra: std::collections::BTreeSet<&str> = arr(new, "/metadata/finalizers")
        .iter()
        .filter_map(Value::as_str)
        .filter(|f| !before.contains(f))
        .collect();
    if !extra.is_empty() {
        let quoted: Vec<String> = extra.iter().map(|f| format!("{f:?}")).collect();
        errs.push(FieldError::forbidden(
            "metadata.finalizers",
            &format!(
                "no new finalizers can be added if the object is being deleted, found new finalizers []string{{{}}}",
                quoted.join(", ")
            ),
        ));
    }
}

/// The metadata update rules (`ValidateObjectMetaUpdate`, subset).
pub(crate) fn validate_meta_update(new: &Value, old: &Value, errs: &mut Vec<FieldError>) {
    validate_no_new_finalizers(new, old, errs);
    immutable(new, old, "/metadata/name", "metadata.name", errs);
    immutable(new, old, "/metadata/namespace", "metadata.namespace", errs);
    for (ptr, path) in [
        ("/metadata/uid", "metadata.uid"),
        ("/metadata/creationTimestamp", "metadata.creationTimestamp"),
    ] {
        // An update that leaves these out keeps the stored values.
        if get(new, ptr).is_some() {
            immutable(new, old, ptr, path, errs);
        }
    }
}

mod pod_spec;

#[cfg(test)]
mod tests;
