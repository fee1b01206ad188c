//! The rules pods, pod templates and workloads share (upstream's `ValidatePodSpec`,
//! `ValidatePodTemplateSpec` and the apps and batch spec validation, subsets): containers,
//! resources, volumes, selectors that match their template, job specs.

use std::collections::{BTreeMap, HashSet};

use serde_json::{Map, Value};

use super::{
    get, is_valid_port_name, is_valid_port_num, obj_map, parse_quantity, validate_enum,
    validate_labels, validate_nonnegative, FieldError, NEGATIVE,
};
use crate::json::{arr, s};
use kernel_core::labels::Selector as LabelSelector;
use kernel_core::names::is_dns1123_label;

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
                Err(reason) => errs.push(FieldError::invalid(&field, q, &reason)),
                Ok(v) if v.sign() < 0 => {
                    errs.push(FieldError::invalid(&field, &Value::String(text), NEGATIVE))
                }
                Ok(v) if kind == "requests" => {
                    let limit = limits.and_then(|l| l.get(name));
                    let limit_text = limit.map(|l| match l {
                        Value::String(t) => t.clone(),
                        other => other.to_string(),
                    });
                    if let Some(lt) = limit_text {
                        if parse_quantity(&lt).is_ok_and(|l| v > l) {
                            errs.push(FieldError::invalid(
                                &field,
                                &Value::String(text),
                                &format!("must be less than or equal to {name} limit of {lt}"),
                            ));
                        }
                    }
                }
                Ok(_) => {}
            }
        }
    }
}

/// Pod spec rules (`ValidatePodSpec`, subset) at `path` (e.g. `spec`).
pub(crate) fn validate_pod_spec(spec: &Value, path: &str, errs: &mut Vec<FieldError>) {
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
pub(crate) fn validate_workload(kind: &str, obj: &Value, errs: &mut Vec<FieldError>) {
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
            let spec = t.get("spec").unwrap_or(&Value::Null);
            validate_pod_spec(spec, "spec.template.spec", errs);
            if let Some(rp) = get(spec, "/restartPolicy") {
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
pub(crate) fn check_selector_matches_template(
    obj: &Value,
    sel: &Value,
    errs: &mut Vec<FieldError>,
) {
    let parsed = LabelSelector::from_meta_json(sel);
    match parsed {
        Err(e) => errs.push(FieldError::invalid("spec.selector", sel, &e.to_string())),
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

pub(crate) fn validate_job_spec(spec: &Value, path: &str, errs: &mut Vec<FieldError>) {
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
            let pspec = t.get("spec").unwrap_or(&Value::Null);
            validate_pod_spec(pspec, &format!("{path}.template.spec"), errs);
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
