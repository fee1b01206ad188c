//! API object validation: the checks the API server runs on create and
//! update, with errors shaped like upstream's `field.Error`.
//!
//! Mirrors (in spirit and in message text) `k8s.io/apimachinery/pkg/util/validation/field`
//! (error types and their `Error()` form), `k8s.io/apimachinery/pkg/api/validation`
//! (`ValidateObjectMeta`, `ValidateObjectMetaUpdate`, annotations size) and
//! `pkg/apis/core/validation`, `pkg/apis/apps/validation`,
//! `pkg/apis/batch/validation` of Kubernetes (pods, services, workloads, jobs,
//! configmaps, secrets, PVCs). Only a subset of upstream's rules is checked;
//! see [`validate`].
//!
//! Objects are expected to be defaulted first (see `crate::defaults`), as
//! upstream decodes-and-defaults before validating; empty enum fields that
//! defaulting fills in are therefore not reported.

use std::collections::{BTreeMap, HashSet};
use std::fmt;

use serde_json::{Map, Value};

use crate::selector::{
    is_dns1123_label, is_dns1123_subdomain, is_qualified_name, is_valid_label_value, max_len_error,
    regex_error, LabelSelector,
};

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

/// Joins errors the way upstream's aggregate does for a Status message:
/// one error as is, several as `[e1, e2]`.
pub fn aggregate_message(errs: &[FieldError]) -> String {
    match errs {
        [] => String::new(),
        [e] => e.to_string(),
        _ => format!(
            "[{}]",
            errs.iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

// ---------------------------------------------------------------------------

const IMMUTABLE: &str = "field is immutable";
const NEGATIVE: &str = "must be greater than or equal to 0";
const TOTAL_ANNOTATION_SIZE: usize = 256 * 1024;
const MAX_CONFIG_SIZE: usize = 1024 * 1024;
const DNS1035_LABEL_ERR_MSG: &str = "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character";
const DNS1035_LABEL_FMT: &str = "[a-z]([-a-z0-9]*[a-z0-9])?";

fn get<'a>(obj: &'a Value, ptr: &str) -> Option<&'a Value> {
    obj.pointer(ptr).filter(|v| !v.is_null())
}

fn s<'a>(obj: &'a Value, ptr: &str) -> &'a str {
    obj.pointer(ptr).and_then(Value::as_str).unwrap_or("")
}

fn arr<'a>(obj: &'a Value, ptr: &str) -> &'a [Value] {
    obj.pointer(ptr)
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or(&[])
}

fn obj_map<'a>(obj: &'a Value, ptr: &str) -> Option<&'a Map<String, Value>> {
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
fn is_valid_port_num(p: i64) -> Vec<String> {
    if (1..=65535).contains(&p) {
        Vec::new()
    } else {
        vec!["must be between 1 and 65535, inclusive".to_string()]
    }
}

/// Upstream `IsValidPortName` (IANA_SVC_NAME).
fn is_valid_port_name(p: &str) -> Vec<String> {
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

/// Which name rule a resource's `metadata.name` follows: DNS-1123 label for
/// namespaces, DNS-1035 label for services, path segment for RBAC, DNS-1123
/// subdomain for everything else (custom resources included, as upstream).
fn name_rule(resource: &str) -> fn(&str) -> Vec<String> {
    match resource {
        "namespaces" => is_dns1123_label,
        "services" => is_dns1035_label,
        "roles" | "clusterroles" | "rolebindings" | "clusterrolebindings" => {
            is_valid_path_segment_name
        }
        _ => is_dns1123_subdomain,
    }
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
fn validate_labels(labels: Option<&Map<String, Value>>, path: &str, errs: &mut Vec<FieldError>) {
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

fn validate_meta(resource: &str, obj: &Value, errs: &mut Vec<FieldError>) {
    let name = s(obj, "/metadata/name");
    let generate = s(obj, "/metadata/generateName");
    let rule = name_rule(resource);
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

fn validate_nonnegative(obj: &Value, ptr: &str, path: &str, errs: &mut Vec<FieldError>) {
    if let Some(v) = get(obj, ptr) {
        if v.as_i64().is_some_and(|n| n < 0) {
            errs.push(FieldError::invalid(path, v, NEGATIVE));
        }
    }
}

fn validate_enum(obj: &Value, ptr: &str, path: &str, valid: &[&str], errs: &mut Vec<FieldError>) {
    if let Some(v) = get(obj, ptr) {
        let vs = v.as_str().unwrap_or_default();
        if !vs.is_empty() && !valid.contains(&vs) {
            errs.push(FieldError::not_supported(path, v, valid));
        }
    }
}

fn validate_container(
    c: &Value,
    path: &str,
    names: &mut HashSet<String>,
    errs: &mut Vec<FieldError>,
) {
    let name = s(c, "/name");
    if name.is_empty() {
        errs.push(FieldError::required(format!("{path}.name"), ""));
    } else {
        for m in is_dns1123_label(name) {
            errs.push(FieldError::invalid(
                format!("{path}.name"),
                &Value::String(name.into()),
                &m,
            ));
        }
        if !names.insert(name.to_string()) {
            errs.push(FieldError::duplicate(
                format!("{path}.name"),
                &Value::String(name.into()),
            ));
        }
    }
    if s(c, "/image").trim().is_empty() {
        errs.push(FieldError::required(format!("{path}.image"), ""));
    }
    let mut port_names = HashSet::new();
    for (i, p) in arr(c, "/ports").iter().enumerate() {
        let pp = format!("{path}.ports[{i}]");
        match get(p, "/containerPort") {
            None => errs.push(FieldError::required(format!("{pp}.containerPort"), "")),
            Some(v) => {
                for m in is_valid_port_num(v.as_i64().unwrap_or(0)) {
                    errs.push(FieldError::invalid(format!("{pp}.containerPort"), v, &m));
                }
            }
        }
        if let Some(v) = get(p, "/hostPort") {
            if v.as_i64() != Some(0) {
                for m in is_valid_port_num(v.as_i64().unwrap_or(0)) {
                    errs.push(FieldError::invalid(format!("{pp}.hostPort"), v, &m));
                }
            }
        }
        let pname = s(p, "/name");
        if !pname.is_empty() {
            for m in is_valid_port_name(pname) {
                errs.push(FieldError::invalid(
                    format!("{pp}.name"),
                    &Value::String(pname.into()),
                    &m,
                ));
            }
            if !port_names.insert(pname.to_string()) {
                errs.push(FieldError::duplicate(
                    format!("{pp}.name"),
                    &Value::String(pname.into()),
                ));
            }
        }
        validate_enum(
            p,
            "/protocol",
            &format!("{pp}.protocol"),
            &["SCTP", "TCP", "UDP"],
            errs,
        );
    }
    validate_enum(
        c,
        "/imagePullPolicy",
        &format!("{path}.imagePullPolicy"),
        &["Always", "IfNotPresent", "Never"],
        errs,
    );
    validate_resources(c, &format!("{path}.resources"), errs);
    for (i, e) in arr(c, "/env").iter().enumerate() {
        if s(e, "/name").is_empty() {
            errs.push(FieldError::required(format!("{path}.env[{i}].name"), ""));
        }
    }
}

/// Container resources: quantities parse, are non-negative, and requests
/// do not exceed limits (`ValidateContainerResourceRequirements`, subset).
fn validate_resources(c: &Value, path: &str, errs: &mut Vec<FieldError>) {
    let limits = obj_map(c, "/resources/limits");
    for (kind, map) in [
        ("limits", limits),
        ("requests", obj_map(c, "/resources/requests")),
    ] {
        for (name, q) in map.into_iter().flatten() {
            let field = format!("{path}.{kind}[{name}]");
            let text = match q {
                Value::String(t) => t.clone(),
                Value::Number(n) => n.to_string(),
                _ => String::new(),
            };
            match parse_quantity(&text) {
                None => errs.push(FieldError::invalid(
                    &field,
                    q,
                    "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'",
                )),
                Some(v) if v < 0.0 => {
                    errs.push(FieldError::invalid(&field, &Value::String(text), NEGATIVE))
                }
                Some(v) if kind == "requests" => {
                    let limit = limits.and_then(|l| l.get(name));
                    let limit_text = limit.map(|l| match l {
                        Value::String(t) => t.clone(),
                        other => other.to_string(),
                    });
                    if let Some(lt) = limit_text {
                        if parse_quantity(&lt).is_some_and(|l| v > l) {
                            errs.push(FieldError::invalid(
                                &field,
                                &Value::String(text),
                                &format!("must be less than or equal to {name} limit of {lt}"),
                            ));
                        }
                    }
                }
                Some(_) => {}
            }
        }
    }
}

/// Pod spec rules (`ValidatePodSpec`, subset) at `path` (e.g. `spec`).
fn validate_pod_spec(spec: &Value, path: &str, errs: &mut Vec<FieldError>) {
    let containers = arr(spec, "/containers");
    let mut names = HashSet::new();
    if containers.is_empty() {
        errs.push(FieldError::required(format!("{path}.containers"), ""));
    }
    // Regular containers first: an init container reusing a name is the
    // duplicate, as upstream reports it.
    for (i, c) in containers.iter().enumerate() {
        validate_container(c, &format!("{path}.containers[{i}]"), &mut names, errs);
    }
    for (i, c) in arr(spec, "/initContainers").iter().enumerate() {
        validate_container(c, &format!("{path}.initContainers[{i}]"), &mut names, errs);
    }
    let mut vol_names = HashSet::new();
    for (i, v) in arr(spec, "/volumes").iter().enumerate() {
        let n = s(v, "/name");
        let vp = format!("{path}.volumes[{i}].name");
        if n.is_empty() {
            errs.push(FieldError::required(vp, ""));
            continue;
        }
        for m in is_dns1123_label(n) {
            errs.push(FieldError::invalid(&vp, &Value::String(n.into()), &m));
        }
        if !vol_names.insert(n) {
            errs.push(FieldError::duplicate(vp, &Value::String(n.into())));
        }
    }
    validate_enum(
        spec,
        "/restartPolicy",
        &format!("{path}.restartPolicy"),
        &["Always", "OnFailure", "Never"],
        errs,
    );
    validate_enum(
        spec,
        "/dnsPolicy",
        &format!("{path}.dnsPolicy"),
        &["ClusterFirstWithHostNet", "ClusterFirst", "Default", "None"],
        errs,
    );
    validate_nonnegative(
        spec,
        "/terminationGracePeriodSeconds",
        &format!("{path}.terminationGracePeriodSeconds"),
        errs,
    );
    if let Some(v) = get(spec, "/activeDeadlineSeconds") {
        if !v
            .as_i64()
            .is_some_and(|n| (1..=i64::from(i32::MAX)).contains(&n))
        {
            errs.push(FieldError::invalid(
                format!("{path}.activeDeadlineSeconds"),
                v,
                "must be between 1 and 2147483647, inclusive",
            ));
        }
    }
    if let Some(sel) = obj_map(spec, "/nodeSelector") {
        validate_labels(Some(sel), &format!("{path}.nodeSelector"), errs);
    }
}

/// `spec.selector` + `spec.template` rules shared by the apps workloads.
fn validate_workload(kind: &str, obj: &Value, errs: &mut Vec<FieldError>) {
    validate_nonnegative(obj, "/spec/replicas", "spec.replicas", errs);
    validate_nonnegative(obj, "/spec/minReadySeconds", "spec.minReadySeconds", errs);
    validate_nonnegative(
        obj,
        "/spec/revisionHistoryLimit",
        "spec.revisionHistoryLimit",
        errs,
    );
    match get(obj, "/spec/selector") {
        None => errs.push(FieldError::required("spec.selector", "")),
        Some(sel) => {
            let empty = sel.as_object().is_none_or(|m| {
                m.values().all(|v| {
                    v.is_null() || v == &Value::Object(Map::new()) || v == &Value::Array(vec![])
                })
            });
            if empty {
                errs.push(FieldError::invalid(
                    "spec.selector",
                    sel,
                    &format!("empty selector is invalid for {kind}"),
                ));
            } else {
                check_selector_matches_template(obj, sel, errs);
            }
        }
    }
    match get(obj, "/spec/template") {
        None => errs.push(FieldError::required("spec.template", "")),
        Some(t) => {
            validate_labels(
                obj_map(t, "/metadata/labels"),
                "spec.template.metadata.labels",
                errs,
            );
            let spec = t.get("spec").cloned().unwrap_or(Value::Null);
            validate_pod_spec(&spec, "spec.template.spec", errs);
            if let Some(rp) = get(&spec, "/restartPolicy") {
                if rp.as_str() != Some("Always") {
                    errs.push(FieldError::not_supported(
                        "spec.template.spec.restartPolicy",
                        rp,
                        &["Always"],
                    ));
                }
            }
        }
    }
}

/// Parses `sel` as a `metav1.LabelSelector`; reports it and checks that it
/// selects the template's labels.
fn check_selector_matches_template(obj: &Value, sel: &Value, errs: &mut Vec<FieldError>) {
    let parsed = LabelSelector::from_meta_json(sel);
    match parsed {
        Err(e) => errs.push(FieldError::invalid("spec.selector", sel, &e)),
        Ok(ls) => {
            let labels: BTreeMap<String, String> = obj_map(obj, "/spec/template/metadata/labels")
                .map(|m| {
                    m.iter()
                        .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
                        .collect()
                })
                .unwrap_or_default();
            if !ls.matches(&labels) {
                errs.push(FieldError::invalid(
                    "spec.template.metadata.labels",
                    obj.pointer("/spec/template/metadata/labels")
                        .unwrap_or(&Value::Null),
                    "`selector` does not match template `labels`",
                ));
            }
        }
    }
}

fn validate_job_spec(spec: &Value, path: &str, errs: &mut Vec<FieldError>) {
    for f in [
        "parallelism",
        "completions",
        "backoffLimit",
        "activeDeadlineSeconds",
        "ttlSecondsAfterFinished",
    ] {
        validate_nonnegative(spec, &format!("/{f}"), &format!("{path}.{f}"), errs);
    }
    match get(spec, "/template") {
        None => errs.push(FieldError::required(format!("{path}.template"), "")),
        Some(t) => {
            let pspec = t.get("spec").cloned().unwrap_or(Value::Null);
            validate_pod_spec(&pspec, &format!("{path}.template.spec"), errs);
            let rp = pspec
                .get("restartPolicy")
                .cloned()
                .unwrap_or(Value::String(String::new()));
            if !matches!(rp.as_str(), Some("OnFailure" | "Never")) {
                errs.push(FieldError::not_supported(
                    format!("{path}.template.spec.restartPolicy"),
                    &rp,
                    &["OnFailure", "Never"],
                ));
            }
        }
    }
    validate_enum(
        spec,
        "/completionMode",
        &format!("{path}.completionMode"),
        &["NonIndexed", "Indexed"],
        errs,
    );
}

fn validate_service(obj: &Value, errs: &mut Vec<FieldError>) {
    let ty = match s(obj, "/spec/type") {
        "" => "ClusterIP",
        t => t,
    };
    validate_enum(
        obj,
        "/spec/type",
        "spec.type",
        &["ClusterIP", "ExternalName", "LoadBalancer", "NodePort"],
        errs,
    );
    let headless = s(obj, "/spec/clusterIP") == "None";
    let ports = arr(obj, "/spec/ports");
    if ty == "ExternalName" {
        let en = s(obj, "/spec/externalName");
        if en.is_empty() {
            errs.push(FieldError::required("spec.externalName", ""));
        } else {
            for m in is_dns1123_subdomain(en.trim_end_matches('.')) {
                errs.push(FieldError::invalid(
                    "spec.externalName",
                    &Value::String(en.into()),
                    &m,
                ));
            }
        }
    } else if ports.is_empty() && !headless {
        errs.push(FieldError::required("spec.ports", ""));
    }
    let require_name = ports.len() > 1;
    let mut names = HashSet::new();
    let mut keys = HashSet::new();
    for (i, p) in ports.iter().enumerate() {
        let pp = format!("spec.ports[{i}]");
        let name = s(p, "/name");
        if require_name && name.is_empty() {
            errs.push(FieldError::required(format!("{pp}.name"), ""));
        } else if !name.is_empty() {
            for m in is_dns1123_label(name) {
                errs.push(FieldError::invalid(
                    format!("{pp}.name"),
                    &Value::String(name.into()),
                    &m,
                ));
            }
            if !names.insert(name.to_string()) {
                errs.push(FieldError::duplicate(
                    format!("{pp}.name"),
                    &Value::String(name.into()),
                ));
            }
        }
        let port = get(p, "/port").cloned().unwrap_or(Value::from(0));
        for m in is_valid_port_num(port.as_i64().unwrap_or(0)) {
            errs.push(FieldError::invalid(format!("{pp}.port"), &port, &m));
        }
        validate_enum(
            p,
            "/protocol",
            &format!("{pp}.protocol"),
            &["SCTP", "TCP", "UDP"],
            errs,
        );
        match get(p, "/targetPort") {
            Some(Value::Number(n)) => {
                for m in is_valid_port_num(n.as_i64().unwrap_or(0)) {
                    errs.push(FieldError::invalid(
                        format!("{pp}.targetPort"),
                        &Value::Number(n.clone()),
                        &m,
                    ));
                }
            }
            Some(Value::String(t)) => {
                for m in is_valid_port_name(t) {
                    errs.push(FieldError::invalid(
                        format!("{pp}.targetPort"),
                        &Value::String(t.clone()),
                        &m,
                    ));
                }
            }
            _ => {}
        }
        if let Some(np) = get(p, "/nodePort") {
            if np.as_i64() != Some(0) {
                if ty == "ClusterIP" {
                    errs.push(FieldError::forbidden(
                        format!("{pp}.nodePort"),
                        "may not be used when `type` is 'ClusterIP'",
                    ));
                } else {
                    for m in is_valid_port_num(np.as_i64().unwrap_or(0)) {
                        errs.push(FieldError::invalid(format!("{pp}.nodePort"), np, &m));
                    }
                }
            }
        }
        let key = format!(
            "{}/{}",
            port,
            match s(p, "/protocol") {
                "" => "TCP",
                x => x,
            }
        );
        if !keys.insert(key.clone()) {
            errs.push(FieldError::duplicate(pp, &Value::String(key)));
        }
    }
    validate_enum(
        obj,
        "/spec/sessionAffinity",
        "spec.sessionAffinity",
        &["ClientIP", "None"],
        errs,
    );
    validate_labels(obj_map(obj, "/spec/selector"), "spec.selector", errs);
    for f in ["ipFamilies", "clusterIPs"] {
        let n = arr(obj, &format!("/spec/{f}")).len();
        if n > 2 {
            errs.push(FieldError::too_many(format!("spec.{f}"), n, 2));
        }
    }
    validate_enum(
        obj,
        "/spec/ipFamilyPolicy",
        "spec.ipFamilyPolicy",
        &["SingleStack", "PreferDualStack", "RequireDualStack"],
        errs,
    );
}

fn validate_data_keys(obj: &Value, binary: bool, errs: &mut Vec<FieldError>) -> usize {
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

fn validate_secret(obj: &Value, errs: &mut Vec<FieldError>) {
    let total = validate_data_keys(obj, false, errs);
    if total > MAX_CONFIG_SIZE {
        errs.push(FieldError::too_long("data", MAX_CONFIG_SIZE));
    }
    let has = |k: &str| {
        obj.pointer(&format!(
            "/data/{}",
            k.replace('~', "~0").replace('/', "~1")
        ))
        .is_some()
            || obj
                .pointer(&format!(
                    "/stringData/{}",
                    k.replace('~', "~0").replace('/', "~1")
                ))
                .is_some()
    };
    let required: &[&str] = match s(obj, "/type") {
        "kubernetes.io/tls" => &["tls.crt", "tls.key"],
        "kubernetes.io/dockerconfigjson" => &[".dockerconfigjson"],
        "kubernetes.io/dockercfg" => &[".dockercfg"],
        "kubernetes.io/ssh-auth" => &["ssh-privatekey"],
        _ => &[],
    };
    for k in required {
        if !has(k) {
            errs.push(FieldError::required(format!("data[{k}]"), ""));
        }
    }
    if s(obj, "/type") == "kubernetes.io/service-account-token"
        && s(
            obj,
            "/metadata/annotations/kubernetes.io~1service-account.name",
        )
        .is_empty()
    {
        errs.push(FieldError::required(
            "metadata.annotations[kubernetes.io/service-account.name]",
            "",
        ));
    }
}

/// Validates `obj` of plural `resource` ("pods", …): object metadata and the
/// per-kind rules on create; with `old = Some(previous)` also the update rules
/// (immutable fields).
///
/// Checked: metadata name (DNS-1123 subdomain for most kinds, DNS-1123 label
/// for namespaces, DNS-1035 label for services as upstream, path segment for
/// RBAC, DNS-1123 subdomain otherwise; `generateName` instead of `name` is accepted),
/// labels, annotation keys and total size, finalizer names; pods (containers,
/// names, images, ports, enums, volumes); services (ports, types,
/// ExternalName, nodePort); deployments/replicasets/statefulsets/daemonsets
/// (selector present, non-empty and matching template labels, replicas ≥ 0,
/// template restartPolicy Always); jobs and cronjobs (template restartPolicy
/// OnFailure/Never, non-negative counts, cronjob schedule and name length);
/// configmaps and secrets (keys, 1 MiB total, typed-secret required keys).
///
/// Not checked: namespace presence (the server's job), resources/quantities,
/// probes, affinity, security contexts, owner references, and most of
/// upstream's long tail.
pub fn validate(resource: &str, obj: &Value, old: Option<&Value>) -> Vec<FieldError> {
    let mut errs = Vec::new();
    validate_meta(resource, obj, &mut errs);
    match resource {
        "pods" => {
            let spec = obj.get("spec").cloned().unwrap_or(Value::Null);
            validate_pod_spec(&spec, "spec", &mut errs);
        }
        "podtemplates" => {
            let spec = obj
                .pointer("/template/spec")
                .cloned()
                .unwrap_or(Value::Null);
            validate_pod_spec(&spec, "template.spec", &mut errs);
        }
        "services" => validate_service(obj, &mut errs),
        "deployments" => validate_workload("deployment", obj, &mut errs),
        "replicasets" => validate_workload("replicaset", obj, &mut errs),
        "statefulsets" => {
            validate_workload("statefulset", obj, &mut errs);
            validate_enum(
                obj,
                "/spec/podManagementPolicy",
                "spec.podManagementPolicy",
                &["OrderedReady", "Parallel"],
                &mut errs,
            );
        }
        "daemonsets" => validate_workload("daemonset", obj, &mut errs),
        "jobs" => {
            let spec = obj.get("spec").cloned().unwrap_or(Value::Null);
            validate_job_spec(&spec, "spec", &mut errs);
            if let Some(sel) = get(obj, "/spec/selector") {
                if obj.pointer("/spec/manualSelector").and_then(Value::as_bool) == Some(true)
                    || old.is_none()
                {
                    check_selector_matches_template(obj, sel, &mut errs);
                }
            }
        }
        "cronjobs" => {
            if s(obj, "/spec/schedule").trim().is_empty() {
                errs.push(FieldError::required("spec.schedule", ""));
            }
            let name = s(obj, "/metadata/name");
            if name.len() > 52 {
                errs.push(FieldError::invalid(
                    "metadata.name",
                    &Value::String(name.into()),
                    "must be no more than 52 characters",
                ));
            }
            validate_enum(
                obj,
                "/spec/concurrencyPolicy",
                "spec.concurrencyPolicy",
                &["Allow", "Forbid", "Replace"],
                &mut errs,
            );
            validate_nonnegative(
                obj,
                "/spec/successfulJobsHistoryLimit",
                "spec.successfulJobsHistoryLimit",
                &mut errs,
            );
            validate_nonnegative(
                obj,
                "/spec/failedJobsHistoryLimit",
                "spec.failedJobsHistoryLimit",
                &mut errs,
            );
            let spec = obj
                .pointer("/spec/jobTemplate/spec")
                .cloned()
                .unwrap_or(Value::Null);
            validate_job_spec(&spec, "spec.jobTemplate.spec", &mut errs);
        }
        "configmaps" => {
            let total = validate_data_keys(obj, true, &mut errs);
            if total > MAX_CONFIG_SIZE {
                errs.push(FieldError::too_long("", MAX_CONFIG_SIZE));
            }
        }
        "secrets" => validate_secret(obj, &mut errs),
        "customresourcedefinitions" => crate::crd::validate_definition(obj, &mut errs),
        _ => {}
    }
    if let Some(old) = old {
        validate_update(resource, obj, old, &mut errs);
    }
    errs
}

fn immutable(new: &Value, old: &Value, ptr: &str, path: &str, errs: &mut Vec<FieldError>) {
    let n = new.pointer(ptr).unwrap_or(&Value::Null);
    let o = old.pointer(ptr).unwrap_or(&Value::Null);
    if n != o {
        errs.push(FieldError::invalid(path, n, IMMUTABLE));
    }
}

/// Tolerations are equal ignoring `tolerationSeconds`.
fn same_toleration(a: &Value, b: &Value) -> bool {
    let strip = |v: &Value| {
        let mut v = v.clone();
        if let Some(m) = v.as_object_mut() {
            m.remove("tolerationSeconds");
            m.retain(|_, x| !x.is_null() && x != "");
        }
        v
    };
    strip(a) == strip(b)
}

const POD_UPDATE_FORBIDDEN: &str = "pod updates may not change fields other than `spec.containers[*].image`,`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)";

fn validate_pod_update(new: &Value, old: &Value, errs: &mut Vec<FieldError>) {
    let new_spec = new.get("spec").cloned().unwrap_or(Value::Null);
    let old_spec = old.get("spec").cloned().unwrap_or(Value::Null);

    // activeDeadlineSeconds: may be set, or decreased, never removed.
    match (
        get(&new_spec, "/activeDeadlineSeconds"),
        get(&old_spec, "/activeDeadlineSeconds"),
    ) {
        (Some(n), Some(o)) if n.as_i64() > o.as_i64() => errs.push(FieldError::invalid(
            "spec.activeDeadlineSeconds",
            n,
            "must be less than or equal to previous value",
        )),
        (None, Some(_)) => errs.push(FieldError::invalid(
            "spec.activeDeadlineSeconds",
            &Value::Null,
            "must not update from a positive integer to nil value",
        )),
        _ => {}
    }

    // tolerations: only additions (tolerationSeconds may change).
    let new_tols = arr(&new_spec, "/tolerations");
    for o in arr(&old_spec, "/tolerations") {
        if !new_tols.iter().any(|n| same_toleration(n, o)) {
            errs.push(FieldError::forbidden(
                "spec.tolerations",
                "existing toleration can not be modified except its tolerationSeconds",
            ));
            break;
        }
    }

    // Everything else must be unchanged: munge the mutable fields of the new
    // spec into a copy of the old one and compare.
    let mut munged = new_spec.clone();
    if let (Some(m), Some(o)) = (munged.as_object_mut(), old_spec.as_object()) {
        for f in [
            "activeDeadlineSeconds",
            "tolerations",
            "terminationGracePeriodSeconds",
        ] {
            match o.get(f) {
                Some(v) => m.insert(f.to_string(), v.clone()),
                None => m.remove(f),
            };
        }
        for list in ["containers", "initContainers"] {
            let old_list = o.get(list).and_then(Value::as_array);
            if let (Some(Value::Array(nl)), Some(ol)) = (m.get_mut(list), old_list) {
                if nl.len() == ol.len() {
                    for (n, o) in nl.iter_mut().zip(ol) {
                        if let (Some(nm), Some(img)) = (n.as_object_mut(), o.get("image")) {
                            nm.insert("image".to_string(), img.clone());
                        }
                    }
                }
            }
        }
    }
    if munged != old_spec {
        errs.push(FieldError::forbidden(
            "spec",
            &format!("{POD_UPDATE_FORBIDDEN}\n{}", spec_diff(&old_spec, &munged)),
        ));
    }
}

/// A short description of what differs between two specs (the top-level
/// fields), standing in for upstream's `cmp.Diff` output.
fn spec_diff(old: &Value, new: &Value) -> String {
    let empty = Map::new();
    let o = old.as_object().unwrap_or(&empty);
    let n = new.as_object().unwrap_or(&empty);
    let mut keys: Vec<&String> = o.keys().chain(n.keys()).collect();
    keys.sort();
    keys.dedup();
    let mut out = String::from("  core.PodSpec{\n");
    for k in keys {
        let (a, b) = (o.get(k), n.get(k));
        if a != b {
            if let Some(a) = a {
                out.push_str(&format!("-  {k}: {a}\n"));
            }
            if let Some(b) = b {
                out.push_str(&format!("+  {k}: {b}\n"));
            }
        }
    }
    out.push_str("  }\n");
    out
}

/// Parses a resource quantity ("1Gi", "500M", "1.5", "100m", "1e3") into a
/// number, for comparisons only.
fn parse_quantity(q: &str) -> Option<f64> {
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

fn validate_update(resource: &str, new: &Value, old: &Value, errs: &mut Vec<FieldError>) {
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
    match resource {
        "pods" => validate_pod_update(new, old, errs),
        "deployments" | "replicasets" | "daemonsets" => {
            immutable(new, old, "/spec/selector", "spec.selector", errs)
        }
        "statefulsets" => {
            immutable(new, old, "/spec/selector", "spec.selector", errs);
            let strip = |v: &Value| {
                let mut spec = v.get("spec").cloned().unwrap_or(Value::Null);
                if let Some(m) = spec.as_object_mut() {
                    for f in [
                        "replicas",
                        "ordinals",
                        "template",
                        "updateStrategy",
                        "persistentVolumeClaimRetentionPolicy",
                        "minReadySeconds",
                        "selector",
                    ] {
                        m.remove(f);
                    }
                }
                spec
            };
            if strip(new) != strip(old) {
                errs.push(FieldError::forbidden(
                    "spec",
                    "updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', 'updateStrategy', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden",
                ));
            }
        }
        "jobs" => {
            immutable(new, old, "/spec/selector", "spec.selector", errs);
            immutable(new, old, "/spec/template", "spec.template", errs);
            immutable(
                new,
                old,
                "/spec/completionMode",
                "spec.completionMode",
                errs,
            );
        }
        "services" => {
            let external = |v: &Value| s(v, "/spec/type") == "ExternalName";
            let old_ip = s(old, "/spec/clusterIP");
            let new_ip = s(new, "/spec/clusterIP");
            if !external(old)
                && !external(new)
                && !old_ip.is_empty()
                && !new_ip.is_empty()
                && new_ip != old_ip
            {
                errs.push(FieldError::invalid(
                    "spec.clusterIP",
                    &Value::String(new_ip.into()),
                    IMMUTABLE,
                ));
            }
        }
        "persistentvolumeclaims" => {
            let strip = |v: &Value| {
                let mut spec = v.get("spec").cloned().unwrap_or(Value::Null);
                if let Some(m) = spec.as_object_mut() {
                    m.remove("volumeAttributesClassName");
                    if let Some(r) = m.get_mut("resources").and_then(Value::as_object_mut) {
                        r.remove("requests");
                    }
                    // A claim may be bound after creation.
                    if old.pointer("/spec/volumeName").is_none() {
                        m.remove("volumeName");
                    }
                }
                spec
            };
            let mut strip_old = strip(old);
            if old.pointer("/spec/volumeName").is_none() {
                if let Some(m) = strip_old.as_object_mut() {
                    m.remove("volumeName");
                }
            }
            if strip(new) != strip_old {
                errs.push(FieldError::forbidden(
                    "spec",
                    "spec is immutable after creation except resources.requests and volumeAttributesClassName for bound claims",
                ));
            }
            let q = |v: &Value| parse_quantity(s(v, "/spec/resources/requests/storage"));
            if let (Some(n), Some(o)) = (q(new), q(old)) {
                if n < o {
                    errs.push(FieldError::forbidden(
                        "spec.resources.requests.storage",
                        "field can not be less than previous value",
                    ));
                }
            }
        }
        "configmaps" | "secrets" => {
            let was_immutable = old.get("immutable").and_then(Value::as_bool) == Some(true);
            if was_immutable {
                if new.get("immutable").and_then(Value::as_bool) != Some(true) {
                    errs.push(FieldError::forbidden(
                        "immutable",
                        "field is immutable when `immutable` is set",
                    ));
                }
                let data_fields: &[&str] = if resource == "configmaps" {
                    &["data", "binaryData"]
                } else {
                    &["data"]
                };
                for f in data_fields {
                    if new.get(*f) != old.get(*f) {
                        errs.push(FieldError::forbidden(
                            *f,
                            "field is immutable when `immutable` is set",
                        ));
                    }
                }
            }
            if resource == "secrets" && get(new, "/type").is_some() {
                immutable(new, old, "/type", "type", errs);
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pod() -> Value {
        json!({
            "metadata": {"name": "p", "namespace": "default"},
            "spec": {"containers": [{"name": "c", "image": "nginx", "ports": [{"containerPort": 80, "protocol": "TCP"}]}],
                "restartPolicy": "Always", "dnsPolicy": "ClusterFirst"}
        })
    }

    fn with(mut v: Value, ptr: &str, val: Value) -> Value {
        let (parent, key) = ptr.rsplit_once('/').unwrap();
        let p = if parent.is_empty() {
            &mut v
        } else {
            v.pointer_mut(parent).unwrap()
        };
        if let Ok(i) = key.parse::<usize>() {
            p.as_array_mut().unwrap()[i] = val;
        } else {
            p.as_object_mut().unwrap().insert(key.to_string(), val);
        }
        v
    }

    fn fields(errs: &[FieldError]) -> Vec<String> {
        errs.iter()
            .map(|e| format!("{}:{}", e.field, e.kind.reason()))
            .collect()
    }

    #[test]
    fn error_rendering() {
        let e = FieldError::invalid("metadata.name", &json!("Foo"), "a lowercase thing");
        assert_eq!(
            e.to_string(),
            "metadata.name: Invalid value: \"Foo\": a lowercase thing"
        );
        assert_eq!(e.body(), "Invalid value: \"Foo\": a lowercase thing");
        assert_eq!(
            FieldError::required("spec.containers", "").to_string(),
            "spec.containers: Required value"
        );
        assert_eq!(
            FieldError::not_supported("spec.restartPolicy", &json!("Sometimes"), &["Always", "OnFailure", "Never"]).to_string(),
            "spec.restartPolicy: Unsupported value: \"Sometimes\": supported values: \"Always\", \"OnFailure\", \"Never\""
        );
        assert_eq!(
            FieldError::invalid("spec.replicas", &json!(-1), NEGATIVE).to_string(),
            "spec.replicas: Invalid value: -1: must be greater than or equal to 0"
        );
        assert_eq!(
            FieldError::too_long("metadata.annotations", 262144).to_string(),
            "metadata.annotations: Too long: may not be more than 262144 bytes"
        );
        assert_eq!(
            FieldError::duplicate("x", &json!("c")).to_string(),
            "x: Duplicate value: \"c\""
        );
        assert_eq!(
            FieldError::too_many("x", 5, 3).to_string(),
            "x: Too many: 5: must have at most 3 items"
        );
        let kinds = [
            (FieldErrorKind::Required, "FieldValueRequired"),
            (FieldErrorKind::Invalid, "FieldValueInvalid"),
            (FieldErrorKind::Duplicate, "FieldValueDuplicate"),
            (FieldErrorKind::Forbidden, "FieldValueForbidden"),
            (FieldErrorKind::NotSupported, "FieldValueNotSupported"),
            (FieldErrorKind::TooLong, "FieldValueTooLong"),
            (FieldErrorKind::TooMany, "FieldValueTooMany"),
        ];
        for (k, r) in kinds {
            assert_eq!(k.reason(), r);
        }
        let errs = vec![FieldError::required("a", ""), FieldError::required("b", "")];
        assert_eq!(
            aggregate_message(&errs),
            "[a: Required value, b: Required value]"
        );
    }

    #[test]
    fn metadata_rules() {
        assert!(validate("pods", &pod(), None).is_empty());
        let e = validate("pods", &with(pod(), "/metadata/name", json!("Foo")), None);
        assert_eq!(e.len(), 1);
        assert!(e[0].to_string().starts_with(
            "metadata.name: Invalid value: \"Foo\": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters"
        ), "{}", e[0]);
        let no_name = json!({"metadata": {}, "spec": pod()["spec"].clone()});
        assert_eq!(
            validate("pods", &no_name, None)[0].to_string(),
            "metadata.name: Required value: name or generateName is required"
        );
        let gen = json!({"metadata": {"generateName": "web-"}, "spec": pod()["spec"].clone()});
        assert!(validate("pods", &gen, None).is_empty());
        let cases: Vec<(&str, Value, Vec<&str>)> = vec![
            (
                "namespaces",
                json!({"metadata": {"name": "a.b"}}),
                vec!["metadata.name:FieldValueInvalid"],
            ),
            ("namespaces", json!({"metadata": {"name": "ok-ns"}}), vec![]),
            ("configmaps", json!({"metadata": {"name": "a.b"}}), vec![]),
            (
                "services",
                json!({"metadata": {"name": "1abc"}, "spec": {"ports": [{"port": 80}]}}),
                vec!["metadata.name:FieldValueInvalid"],
            ),
            ("roles", json!({"metadata": {"name": "system:x"}}), vec![]),
            (
                "widgets",
                json!({"metadata": {"name": "Foo"}}),
                vec!["metadata.name:FieldValueInvalid"],
            ),
            (
                "roles",
                json!({"metadata": {"name": "a/b"}}),
                vec!["metadata.name:FieldValueInvalid"],
            ),
            (
                "configmaps",
                json!({"metadata": {"name": "c", "labels": {"-bad": "x", "ok": "bad value"}}}),
                vec![
                    "metadata.labels:FieldValueInvalid",
                    "metadata.labels:FieldValueInvalid",
                ],
            ),
            (
                "configmaps",
                json!({"metadata": {"name": "c", "annotations": {"a": "x".repeat(300 * 1024)}}}),
                vec!["metadata.annotations:FieldValueTooLong"],
            ),
            (
                "configmaps",
                json!({"metadata": {"name": "c", "finalizers": ["foo", "example.com/x", "kubernetes"]}}),
                vec!["metadata.finalizers[0]:FieldValueInvalid"],
            ),
        ];
        for (res, obj, want) in cases {
            assert_eq!(fields(&validate(res, &obj, None)), want, "{res} {obj}");
        }
    }

    #[test]
    fn pod_rules() {
        let cases: Vec<(Value, Vec<&str>)> = vec![
            (
                with(pod(), "/spec/containers", json!([])),
                vec!["spec.containers:FieldValueRequired"],
            ),
            (
                with(pod(), "/spec/containers/0", json!({"name": "c"})),
                vec!["spec.containers[0].image:FieldValueRequired"],
            ),
            (
                with(
                    pod(),
                    "/spec/containers",
                    json!([{"name": "c", "image": "a"}, {"name": "c", "image": "b"}]),
                ),
                vec!["spec.containers[1].name:FieldValueDuplicate"],
            ),
            (
                with(
                    pod(),
                    "/spec/containers/0",
                    json!({"name": "c", "image": "a", "ports": [{"containerPort": 70000}]}),
                ),
                vec!["spec.containers[0].ports[0].containerPort:FieldValueInvalid"],
            ),
            (
                with(
                    pod(),
                    "/spec/containers/0",
                    json!({"name": "c", "image": "a", "ports": [{"containerPort": 80, "protocol": "HTTP"}]}),
                ),
                vec!["spec.containers[0].ports[0].protocol:FieldValueNotSupported"],
            ),
            (
                with(pod(), "/spec/restartPolicy", json!("Sometimes")),
                vec!["spec.restartPolicy:FieldValueNotSupported"],
            ),
            (
                with(
                    pod(),
                    "/spec/initContainers",
                    json!([{"name": "c", "image": "x"}]),
                ),
                vec!["spec.initContainers[0].name:FieldValueDuplicate"],
            ),
            (
                with(
                    pod(),
                    "/spec/volumes",
                    json!([{"name": "v"}, {"name": "v"}]),
                ),
                vec!["spec.volumes[1].name:FieldValueDuplicate"],
            ),
            (
                with(pod(), "/spec/activeDeadlineSeconds", json!(0)),
                vec!["spec.activeDeadlineSeconds:FieldValueInvalid"],
            ),
        ];
        for (obj, want) in cases {
            assert_eq!(fields(&validate("pods", &obj, None)), want, "{obj}");
        }
        let e = validate(
            "pods",
            &with(pod(), "/spec/restartPolicy", json!("Sometimes")),
            None,
        );
        assert_eq!(
            e[0].to_string(),
            "spec.restartPolicy: Unsupported value: \"Sometimes\": supported values: \"Always\", \"OnFailure\", \"Never\""
        );
    }

    #[test]
    fn container_resources() {
        let res = |r: Value| with(pod(), "/spec/containers/0/resources", r);
        let cases: Vec<(Value, Vec<&str>)> = vec![
            (
                res(json!({"limits": {"cpu": "1"}, "requests": {"cpu": "500m"}})),
                vec![],
            ),
            (
                res(json!({"limits": {"memory": "1Gi"}, "requests": {"memory": "2Gi"}})),
                vec!["spec.containers[0].resources.requests[memory]:FieldValueInvalid"],
            ),
            (
                res(json!({"requests": {"cpu": "-1"}})),
                vec!["spec.containers[0].resources.requests[cpu]:FieldValueInvalid"],
            ),
            (
                res(json!({"limits": {"cpu": "lots"}})),
                vec!["spec.containers[0].resources.limits[cpu]:FieldValueInvalid"],
            ),
        ];
        for (obj, want) in cases {
            assert_eq!(fields(&validate("pods", &obj, None)), want, "{obj}");
        }
        let e = validate(
            "pods",
            &res(json!({"limits": {"memory": "1Gi"}, "requests": {"memory": "2Gi"}})),
            None,
        );
        assert_eq!(
            e[0].to_string(),
            "spec.containers[0].resources.requests[memory]: Invalid value: \"2Gi\": must be less than or equal to memory limit of 1Gi"
        );
    }

    #[test]
    fn service_rules() {
        let svc = |spec: Value| json!({"metadata": {"name": "s"}, "spec": spec});
        let cases: Vec<(Value, Vec<&str>)> = vec![
            (
                svc(json!({"ports": [{"port": 80, "targetPort": 8080}]})),
                vec![],
            ),
            (svc(json!({})), vec!["spec.ports:FieldValueRequired"]),
            (svc(json!({"clusterIP": "None"})), vec![]),
            (
                svc(json!({"type": "ExternalName", "externalName": "example.com"})),
                vec![],
            ),
            (
                svc(json!({"type": "ExternalName"})),
                vec!["spec.externalName:FieldValueRequired"],
            ),
            (
                svc(json!({"ports": [{"port": 0}]})),
                vec!["spec.ports[0].port:FieldValueInvalid"],
            ),
            (
                svc(json!({"ports": [{"port": 80}, {"port": 81}]})),
                vec![
                    "spec.ports[0].name:FieldValueRequired",
                    "spec.ports[1].name:FieldValueRequired",
                ],
            ),
            (
                svc(json!({"ports": [{"port": 80, "name": "a"}, {"port": 80, "name": "b"}]})),
                vec!["spec.ports[1]:FieldValueDuplicate"],
            ),
            (
                svc(json!({"type": "ClusterIP", "ports": [{"port": 80, "nodePort": 30000}]})),
                vec!["spec.ports[0].nodePort:FieldValueForbidden"],
            ),
            (
                svc(json!({"type": "NodePort", "ports": [{"port": 80, "nodePort": 30000}]})),
                vec![],
            ),
            (
                svc(json!({"type": "Weird", "ports": [{"port": 80}]})),
                vec!["spec.type:FieldValueNotSupported"],
            ),
            (
                svc(json!({"ports": [{"port": 80}], "ipFamilies": ["IPv4", "IPv6", "IPv4"]})),
                vec!["spec.ipFamilies:FieldValueTooMany"],
            ),
        ];
        for (obj, want) in cases {
            assert_eq!(fields(&validate("services", &obj, None)), want, "{obj}");
        }
    }

    fn deployment() -> Value {
        json!({
            "metadata": {"name": "d"},
            "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "web"}},
                "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "c", "image": "nginx"}], "restartPolicy": "Always"}}}
        })
    }

    #[test]
    fn workload_rules() {
        let cases: Vec<(&str, Value, Vec<&str>)> = vec![
            ("deployments", deployment(), vec![]),
            ("replicasets", deployment(), vec![]),
            (
                "deployments",
                with(deployment(), "/spec/replicas", json!(-1)),
                vec!["spec.replicas:FieldValueInvalid"],
            ),
            (
                "deployments",
                with(deployment(), "/spec/selector", Value::Null),
                vec!["spec.selector:FieldValueRequired"],
            ),
            (
                "deployments",
                with(deployment(), "/spec/selector", json!({})),
                vec!["spec.selector:FieldValueInvalid"],
            ),
            (
                "statefulsets",
                with(
                    deployment(),
                    "/spec/selector",
                    json!({"matchLabels": {"app": "db"}}),
                ),
                vec!["spec.template.metadata.labels:FieldValueInvalid"],
            ),
            (
                "daemonsets",
                with(
                    deployment(),
                    "/spec/template/spec/restartPolicy",
                    json!("Never"),
                ),
                vec!["spec.template.spec.restartPolicy:FieldValueNotSupported"],
            ),
            (
                "deployments",
                with(deployment(), "/spec/template/spec/containers", json!([])),
                vec!["spec.template.spec.containers:FieldValueRequired"],
            ),
        ];
        for (res, obj, want) in cases {
            assert_eq!(fields(&validate(res, &obj, None)), want, "{res} {obj}");
        }
        let e = validate(
            "deployments",
            &with(
                deployment(),
                "/spec/selector",
                json!({"matchLabels": {"app": "db"}}),
            ),
            None,
        );
        assert_eq!(e[0].to_string(), "spec.template.metadata.labels: Invalid value: {\"app\":\"web\"}: `selector` does not match template `labels`");
    }

    #[test]
    fn job_rules() {
        let job = json!({"metadata": {"name": "j"}, "spec": {"template": {"spec": {"containers": [{"name": "c", "image": "busybox"}], "restartPolicy": "Never"}}}});
        assert!(validate("jobs", &job, None).is_empty());
        let bad = with(
            job.clone(),
            "/spec/template/spec/restartPolicy",
            json!("Always"),
        );
        let e = validate("jobs", &bad, None);
        assert_eq!(
            e[0].to_string(),
            "spec.template.spec.restartPolicy: Unsupported value: \"Always\": supported values: \"OnFailure\", \"Never\""
        );
        assert_eq!(
            fields(&validate(
                "jobs",
                &with(job.clone(), "/spec/backoffLimit", json!(-1)),
                None
            )),
            vec!["spec.backoffLimit:FieldValueInvalid"]
        );
        let cj = json!({"metadata": {"name": "c"}, "spec": {"schedule": "* * * * *", "jobTemplate": {"spec": job["spec"].clone()}}});
        assert!(validate("cronjobs", &cj, None).is_empty());
        let cj_bad = with(cj.clone(), "/spec/schedule", json!(""));
        assert_eq!(
            fields(&validate("cronjobs", &cj_bad, None)),
            vec!["spec.schedule:FieldValueRequired"]
        );
        let long = with(cj, "/metadata/name", json!("a".repeat(53)));
        assert_eq!(
            fields(&validate("cronjobs", &long, None)),
            vec!["metadata.name:FieldValueInvalid"]
        );
    }

    #[test]
    fn configmap_and_secret_rules() {
        let cm = json!({"metadata": {"name": "c"}, "data": {"ok.key": "v", "bad key": "v", "..x": "v"}, "binaryData": {"ok.key": ""}});
        assert_eq!(
            fields(&validate("configmaps", &cm, None)),
            vec![
                "data[..x]:FieldValueInvalid",
                "data[bad key]:FieldValueInvalid",
                "binaryData[ok.key]:FieldValueInvalid"
            ]
        );
        let big =
            json!({"metadata": {"name": "c"}, "data": {"a": "x".repeat(MAX_CONFIG_SIZE + 1)}});
        assert_eq!(
            fields(&validate("configmaps", &big, None)),
            vec![":FieldValueTooLong"]
        );
        let tls = json!({"metadata": {"name": "s"}, "type": "kubernetes.io/tls", "data": {"tls.crt": "eA=="}});
        assert_eq!(
            fields(&validate("secrets", &tls, None)),
            vec!["data[tls.key]:FieldValueRequired"]
        );
        let opaque = json!({"metadata": {"name": "s"}, "type": "Opaque", "data": {"a": "eA=="}});
        assert!(validate("secrets", &opaque, None).is_empty());
    }

    #[test]
    fn update_rules() {
        let old = with(
            with(pod(), "/metadata/uid", json!("u1")),
            "/spec/nodeName",
            json!("n1"),
        );
        // image change allowed
        let new = with(old.clone(), "/spec/containers/0/image", json!("nginx:2"));
        assert!(validate("pods", &new, Some(&old)).is_empty());
        // adding a toleration allowed, changing others not
        let tol = json!([{"key": "k", "operator": "Exists"}]);
        let old_t = with(old.clone(), "/spec/tolerations", tol.clone());
        let added = with(
            old_t.clone(),
            "/spec/tolerations",
            json!([{"key": "k", "operator": "Exists"}, {"key": "j", "operator": "Exists"}]),
        );
        assert!(validate("pods", &added, Some(&old_t)).is_empty());
        let removed = with(old_t.clone(), "/spec/tolerations", json!([]));
        assert_eq!(
            fields(&validate("pods", &removed, Some(&old_t))),
            vec!["spec.tolerations:FieldValueForbidden"]
        );
        // other spec changes forbidden
        let moved = with(old.clone(), "/spec/nodeName", json!("n2"));
        let e = validate("pods", &moved, Some(&old));
        assert_eq!(fields(&e), vec!["spec:FieldValueForbidden"]);
        assert!(e[0].message.starts_with(
            "pod updates may not change fields other than `spec.containers[*].image`"
        ));
        // name/uid immutable
        let renamed = with(old.clone(), "/metadata/name", json!("q"));
        assert_eq!(
            fields(&validate("pods", &renamed, Some(&old))),
            vec!["metadata.name:FieldValueInvalid"]
        );
        let e = validate(
            "pods",
            &with(old.clone(), "/metadata/uid", json!("u2")),
            Some(&old),
        );
        assert_eq!(
            e[0].to_string(),
            "metadata.uid: Invalid value: \"u2\": field is immutable"
        );
        // activeDeadlineSeconds: decrease ok, increase not
        let ads = with(old.clone(), "/spec/activeDeadlineSeconds", json!(100));
        assert!(validate(
            "pods",
            &with(ads.clone(), "/spec/activeDeadlineSeconds", json!(50)),
            Some(&ads)
        )
        .is_empty());
        assert_eq!(
            fields(&validate(
                "pods",
                &with(ads.clone(), "/spec/activeDeadlineSeconds", json!(200)),
                Some(&ads)
            )),
            vec!["spec.activeDeadlineSeconds:FieldValueInvalid"]
        );

        // deployment selector
        let d2 = with(
            deployment(),
            "/spec/selector",
            json!({"matchLabels": {"app": "web", "x": "y"}}),
        );
        let d2 = with(
            d2,
            "/spec/template/metadata/labels",
            json!({"app": "web", "x": "y"}),
        );
        assert_eq!(
            fields(&validate("deployments", &d2, Some(&deployment()))),
            vec!["spec.selector:FieldValueInvalid"]
        );
        let scaled = with(deployment(), "/spec/replicas", json!(5));
        assert!(validate("deployments", &scaled, Some(&deployment())).is_empty());

        // job template
        let job = json!({"metadata": {"name": "j"}, "spec": {"template": {"spec": {"containers": [{"name": "c", "image": "a"}], "restartPolicy": "Never"}}}});
        let job2 = with(
            job.clone(),
            "/spec/template/spec/containers/0/image",
            json!("b"),
        );
        assert_eq!(
            fields(&validate("jobs", &job2, Some(&job))),
            vec!["spec.template:FieldValueInvalid"]
        );

        // service clusterIP
        let svc = json!({"metadata": {"name": "s"}, "spec": {"clusterIP": "10.0.0.1", "ports": [{"port": 80}]}});
        let svc2 = with(svc.clone(), "/spec/clusterIP", json!("10.0.0.2"));
        assert_eq!(
            fields(&validate("services", &svc2, Some(&svc))),
            vec!["spec.clusterIP:FieldValueInvalid"]
        );

        // immutable configmap
        let cm = json!({"metadata": {"name": "c"}, "immutable": true, "data": {"a": "1"}});
        let cm2 = with(cm.clone(), "/data", json!({"a": "2"}));
        assert_eq!(
            fields(&validate("configmaps", &cm2, Some(&cm))),
            vec!["data:FieldValueForbidden"]
        );
        let cm3 = with(cm.clone(), "/immutable", json!(false));
        assert_eq!(
            fields(&validate("configmaps", &cm3, Some(&cm))),
            vec!["immutable:FieldValueForbidden"]
        );
        let mutable = with(cm.clone(), "/immutable", json!(false));
        assert!(validate(
            "configmaps",
            &with(mutable.clone(), "/data", json!({})),
            Some(&mutable)
        )
        .is_empty());

        // PVC: storage increase ok, decrease and other spec changes not
        let pvc = json!({"metadata": {"name": "c"}, "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}});
        assert!(validate(
            "persistentvolumeclaims",
            &with(
                pvc.clone(),
                "/spec/resources/requests/storage",
                json!("2Gi")
            ),
            Some(&pvc)
        )
        .is_empty());
        assert_eq!(
            fields(&validate(
                "persistentvolumeclaims",
                &with(
                    pvc.clone(),
                    "/spec/resources/requests/storage",
                    json!("500Mi")
                ),
                Some(&pvc)
            )),
            vec!["spec.resources.requests.storage:FieldValueForbidden"]
        );
        assert_eq!(
            fields(&validate(
                "persistentvolumeclaims",
                &with(pvc.clone(), "/spec/accessModes", json!(["ReadWriteMany"])),
                Some(&pvc)
            )),
            vec!["spec:FieldValueForbidden"]
        );
        assert!(validate(
            "persistentvolumeclaims",
            &with(pvc.clone(), "/spec/volumeName", json!("pv1")),
            Some(&pvc)
        )
        .is_empty());
    }

    #[test]
    fn quantities() {
        let cases = [
            ("1Gi", 1073741824.0),
            ("500Mi", 524288000.0),
            ("1G", 1e9),
            ("100m", 0.1),
            ("1e3", 1000.0),
            ("2", 2.0),
        ];
        for (q, want) in cases {
            assert_eq!(parse_quantity(q), Some(want), "{q}");
        }
        assert_eq!(parse_quantity("abc"), None);
    }
}
