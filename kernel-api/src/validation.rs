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
//! rules (with kernel-core's [`FieldError`] and name validators) and the rules several kinds share
//! (`validation/pod_spec.rs`: pod specs, workloads, job specs).
//!
//! Objects are expected to be defaulted first (see `crate::defaults`), as
//! upstream decodes-and-defaults before validating; empty enum fields that
//! defaulting fills in are therefore not reported.

use std::collections::HashSet;

use kernel_core::quantity::Quantity;
use serde_json::{Map, Value};

use crate::json::{arr, s};
use kernel_core::names::{
    is_config_map_key, is_qualified_name, is_valid_label_value, max_len_error,
};

pub use kernel_core::fields::{FieldError, FieldErrorKind};

// ---------------------------------------------------------------------------

pub(crate) const IMMUTABLE: &str = "field is immutable";
pub(crate) const NEGATIVE: &str = "must be greater than or equal to 0";
const TOTAL_ANNOTATION_SIZE: usize = 256 * 1024;
pub(crate) const MAX_CONFIG_SIZE: usize = 1024 * 1024;

pub(crate) fn get<'a>(obj: &'a Value, ptr: &str) -> Option<&'a Value> {
    obj.pointer(ptr).filter(|v| !v.is_null())
}

pub(crate) fn obj_map<'a>(obj: &'a Value, ptr: &str) -> Option<&'a Map<String, Value>> {
    obj.pointer(ptr).and_then(Value::as_object)
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

/// Once `immutable: true` is set on a ConfigMap or Secret, it stays set and `fields` (its data)
/// never change (upstream's `ValidateConfigMapUpdate` / `ValidateSecretUpdate`).
pub(crate) fn immutable_data(new: &Value, old: &Value, fields: &[&str]) -> Vec<FieldError> {
    const MESSAGE: &str = "field is immutable when `immutable` is set";
    let mut errs = Vec::new();
    if old.get("immutable").and_then(Value::as_bool) != Some(true) {
        return errs;
    }
    if new.get("immutable").and_then(Value::as_bool) != Some(true) {
        errs.push(FieldError::forbidden("immutable", MESSAGE));
    }
    for f in fields {
        if new.get(f) != old.get(f) {
            errs.push(FieldError::forbidden(*f, MESSAGE));
        }
    }
    errs
}

/// The update rule every workload controller kind shares (upstream's
/// `ValidateDeploymentUpdate`, `ValidateReplicaSetUpdate`, `ValidateDaemonSetUpdate`, …):
/// `spec.selector` is immutable.
pub(crate) fn selector_immutable(new: &Value, old: &Value) -> Vec<FieldError> {
    let mut errs = Vec::new();
    immutable(new, old, "/spec/selector", "spec.selector", &mut errs);
    errs
}

/// Parses a resource quantity as upstream's `Quantity.UnmarshalJSON` does (surrounding
/// whitespace trimmed), exactly; the error is upstream's reason (`quantities must match the
/// regular expression …`, `unable to parse quantity's suffix`, …).
pub(crate) fn parse_quantity(q: &str) -> Result<Quantity, String> {
    match q.trim().parse::<Quantity>() {
        Ok(q) => Ok(q),
        Err(kernel_core::Error::InvalidQuantity { reason, .. }) => Err(reason.to_string()),
        Err(e) => Err(e.to_string()),
    }
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
