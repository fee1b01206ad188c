//! Validation of a request's options (query parameters, and a DELETE's `DeleteOptions` body), as
//! upstream's handlers run it before anything else: `ValidateCreateOptions`,
//! `ValidateUpdateOptions`, `ValidatePatchOptions`, `ValidateDeleteOptions`
//! (k8s.io/apimachinery/pkg/apis/meta/v1/validation) and `ValidateListOptions`
//! (…/meta/internalversion/validation). A failure is a 422 on the options kind of `meta.k8s.io`
//! with no name: `CreateOptions.meta.k8s.io "" is invalid: dryRun: Unsupported value: …`.
//!
//! Also the parse of a `resourceVersion` the storage layer does (`APIObjectVersioner`), whose
//! error upstream answers differently for get, list and watch.

use serde_json::Value;

use crate::handlers::Ctx;
use crate::status::{Error, Result, StatusCause};

/// Upstream's `FieldManagerMaxLength`.
const FIELD_MANAGER_MAX_LENGTH: usize = 128;

/// `field.NotSupported`: `Unsupported value: <shown>: supported values: "a", "b"`.
fn not_supported(field: &str, shown: &str, supported: &[&str]) -> StatusCause {
    let values: Vec<String> = supported.iter().map(|v| format!("{v:?}")).collect();
    StatusCause::new(
        "FieldValueNotSupported",
        field,
        format!(
            "Unsupported value: {shown}: supported values: {}",
            values.join(", ")
        ),
    )
}

fn forbidden(field: &str, detail: &str) -> StatusCause {
    StatusCause::new("FieldValueForbidden", field, format!("Forbidden: {detail}"))
}

/// Go's `%#v` of a `[]string`: `[]string{"a", "b"}`.
fn go_string_slice(values: &[String]) -> String {
    let quoted: Vec<String> = values.iter().map(|v| format!("{v:?}")).collect();
    format!("[]string{{{}}}", quoted.join(", "))
}

/// A boolean query parameter as upstream decodes one into its options structs
/// (`runtime.Convert_Slice_string_To_bool`): absent, `0` or `false` in any case is false, any
/// other value (`true`, `True`, `1`, `yes`, even empty) is true. Python's client sends
/// `watch=True`.
pub(crate) fn query_flag(value: Option<&str>) -> bool {
    value.is_some_and(|v| v != "0" && !v.eq_ignore_ascii_case("false"))
}

/// `ValidateDryRun`: every value must be `All`.
fn validate_dry_run(values: &[String], causes: &mut Vec<StatusCause>) {
    if values.iter().any(|v| v != "All") {
        causes.push(not_supported("dryRun", &go_string_slice(values), &["All"]));
    }
}

/// `ValidateFieldManager`: at most 128 bytes, printable characters only.
fn validate_field_manager(manager: &str, causes: &mut Vec<StatusCause>) {
    if manager.len() > FIELD_MANAGER_MAX_LENGTH {
        causes.push(StatusCause::new(
            "FieldValueTooLong",
            "fieldManager",
            format!("Too long: may not be more than {FIELD_MANAGER_MAX_LENGTH} bytes"),
        ));
    }
    for (i, c) in manager.char_indices() {
        if c.is_control() {
            causes.push(StatusCause::invalid(
                "fieldManager",
                &Value::String(manager.into()),
                &format!("invalid character U+{:04X} (at position {i})", c as u32),
            ));
        }
    }
}

/// `ValidateFieldValidation`.
fn validate_field_validation(ctx: &Ctx, causes: &mut Vec<StatusCause>) {
    if let Some(v) = ctx.query.get("fieldValidation") {
        if !matches!(v.as_str(), "" | "Ignore" | "Warn" | "Strict") {
            causes.push(not_supported(
                "fieldValidation",
                &format!("{v:?}"),
                &["", "Ignore", "Strict", "Warn"],
            ));
        }
    }
}

fn query_dry_run(ctx: &Ctx) -> Vec<String> {
    ctx.param("dryRun")
        .map(|d| vec![d.to_owned()])
        .unwrap_or_default()
}

/// Create, update and patch options (`ValidateCreateOptions` and friends).
fn validate_write_options(ctx: &Ctx, patch_type: Option<&str>) -> Vec<StatusCause> {
    let mut causes = Vec::new();
    let manager = ctx.param("fieldManager").unwrap_or_default();
    if let Some(patch_type) = patch_type {
        if matches!(
            patch_type,
            "application/apply-patch+yaml" | "application/apply-patch+cbor"
        ) {
            if manager.is_empty() {
                causes.push(StatusCause::new(
                    "FieldValueRequired",
                    "fieldManager",
                    "Required value: is required for apply patch",
                ));
            }
        } else if ctx.param("force").is_some() {
            causes.push(forbidden(
                "force",
                "may not be specified for non-apply patch",
            ));
        }
    }
    validate_field_manager(manager, &mut causes);
    validate_dry_run(&query_dry_run(ctx), &mut causes);
    validate_field_validation(ctx, &mut causes);
    causes
}

/// `ValidateDeleteOptions` over the options upstream decodes: the body when there is one, else
/// the query.
fn validate_delete_options(ctx: &Ctx) -> Result<Vec<StatusCause>> {
    let (propagation, dry_run) = if ctx.body.iter().all(u8::is_ascii_whitespace) {
        (
            ctx.param("propagationPolicy").map(str::to_owned),
            query_dry_run(ctx),
        )
    } else {
        let body = ctx.decode_body()?;
        let dry_run = body["dryRun"]
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|v| v.as_str().unwrap_or_default().to_owned())
                    .collect()
            })
            .unwrap_or_default();
        (
            body["propagationPolicy"].as_str().map(str::to_owned),
            dry_run,
        )
    };
    let mut causes = Vec::new();
    if let Some(p) = propagation {
        if !matches!(p.as_str(), "Foreground" | "Background" | "Orphan") {
            causes.push(not_supported(
                "propagationPolicy",
                &format!("{p:?}"),
                &["Foreground", "Background", "Orphan", "nil"],
            ));
        }
    }
    validate_dry_run(&dry_run, &mut causes);
    Ok(causes)
}

/// `ValidateListOptions`, as with the WatchList feature enabled (this server serves
/// `sendInitialEvents`). Like upstream it applies the watch rules only to `?watch=true`, not to
/// the legacy `/watch/` paths.
fn validate_list_options(ctx: &Ctx) -> Vec<StatusCause> {
    let mut causes = Vec::new();
    let rv = ctx.param("resourceVersion");
    let rv_match = ctx.param("resourceVersionMatch");
    let continued = ctx.param("continue").is_some();
    let send_initial = ctx.param("sendInitialEvents").is_some();
    let watch = query_flag(ctx.param("watch"));
    if watch {
        if send_initial && rv_match != Some("NotOlderThan") {
            causes.push(forbidden(
                "resourceVersionMatch",
                "sendInitialEvents requires setting resourceVersionMatch to NotOlderThan",
            ));
        }
        if let Some(m) = rv_match {
            if !send_initial {
                causes.push(forbidden(
                    "resourceVersionMatch",
                    "resourceVersionMatch is forbidden for watch unless sendInitialEvents is provided",
                ));
            }
            if m != "NotOlderThan" {
                causes.push(not_supported(
                    "resourceVersionMatch",
                    &format!("{m:?}"),
                    &["NotOlderThan"],
                ));
            }
            if continued {
                causes.push(forbidden(
                    "resourceVersionMatch",
                    "resourceVersionMatch is forbidden when continue is provided",
                ));
            }
        }
        return causes;
    }
    if let Some(m) = rv_match {
        if rv.is_none() {
            causes.push(forbidden(
                "resourceVersionMatch",
                "resourceVersionMatch is forbidden unless resourceVersion is provided",
            ));
        }
        if continued {
            causes.push(forbidden(
                "resourceVersionMatch",
                "resourceVersionMatch is forbidden when continue is provided",
            ));
        }
        if m != "Exact" && m != "NotOlderThan" {
            causes.push(not_supported(
                "resourceVersionMatch",
                &format!("{m:?}"),
                &["Exact", "NotOlderThan", ""],
            ));
        }
        if m == "Exact" && rv == Some("0") {
            causes.push(forbidden(
                "resourceVersionMatch",
                "resourceVersionMatch \"exact\" is forbidden for resourceVersion \"0\"",
            ));
        }
    }
    if send_initial {
        causes.push(forbidden(
            "sendInitialEvents",
            "sendInitialEvents is forbidden for list",
        ));
    }
    causes
}

fn check(kind: &str, causes: Vec<StatusCause>) -> Result<()> {
    if causes.is_empty() {
        Ok(())
    } else {
        Err(Error::invalid_options(kind, causes))
    }
}

/// Validates the options of a routed resource request for its verb, before the handler runs.
pub fn validate(ctx: &Ctx) -> Result<()> {
    match ctx.info.verb.as_str() {
        "create" => check("CreateOptions", validate_write_options(ctx, None)),
        "update" => check("UpdateOptions", validate_write_options(ctx, None)),
        "patch" => check(
            "PatchOptions",
            validate_write_options(ctx, Some(&ctx.content_type())),
        ),
        "delete" => check("DeleteOptions", validate_delete_options(ctx)?),
        "deletecollection" => {
            check("ListOptions", validate_list_options(ctx))?;
            check("DeleteOptions", validate_delete_options(ctx)?)
        }
        "list" | "watch" => check("ListOptions", validate_list_options(ctx)),
        _ => Ok(()),
    }
}

/// Why `rv` is not a resource version, as `APIObjectVersioner.ParseResourceVersion` words it
/// (`resourceVersion: Invalid value: "x": strconv.ParseUint: parsing "x": invalid syntax`);
/// `None` for `""`, `"0"` and any unsigned 64-bit number.
pub fn resource_version_error(rv: &str) -> Option<String> {
    if rv.is_empty() || rv == "0" {
        return None;
    }
    let why = if !rv.bytes().all(|b| b.is_ascii_digit()) {
        "invalid syntax"
    } else if rv.parse::<u64>().is_err() {
        "value out of range"
    } else {
        return None;
    };
    Some(format!(
        "resourceVersion: Invalid value: {rv:?}: strconv.ParseUint: parsing {rv:?}: {why}"
    ))
}

/// A get or watch at a `resourceVersion` that does not parse. Upstream's watch cache returns the
/// storage error as is, which is no `APIStatus`, so kube-apiserver answers 500 with no reason;
/// this server keeps its rule that malformed input never yields a 500 and answers 400
/// BadRequest with upstream's message.
pub fn check_read_resource_version(ctx: &Ctx) -> Result<()> {
    match ctx
        .param("resourceVersion")
        .and_then(resource_version_error)
    {
        Some(message) => Err(Error::bad_request(message)),
        None => Ok(()),
    }
}

/// A list at a `resourceVersion` that does not parse, or one given with `continue`
/// (`storage.ValidateListOptions`): 400.
pub fn check_list_resource_version(ctx: &Ctx) -> Result<()> {
    let Some(rv) = ctx.param("resourceVersion") else {
        return Ok(());
    };
    if ctx.param("continue").is_some() && rv != "0" {
        return Err(Error::bad_request(
            "specifying resource version is not allowed when using continue",
        ));
    }
    match resource_version_error(rv) {
        Some(e) => Err(Error::bad_request(format!("invalid resource version: {e}"))),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn boolean_query_parameters_decode_as_upstream() {
        for yes in ["true", "True", "1", "yes", ""] {
            assert!(query_flag(Some(yes)), "{yes:?}");
        }
        for no in ["false", "FALSE", "False", "0"] {
            assert!(!query_flag(Some(no)), "{no:?}");
        }
        assert!(!query_flag(None));
    }

    #[test]
    fn resource_versions_parse_as_go_parses_them() {
        assert_eq!(resource_version_error("0"), None);
        assert_eq!(resource_version_error("18446744073709551615"), None);
        assert_eq!(
            resource_version_error("+5").unwrap(),
            "resourceVersion: Invalid value: \"+5\": strconv.ParseUint: parsing \"+5\": invalid syntax"
        );
        assert!(resource_version_error("18446744073709551616")
            .unwrap()
            .ends_with("value out of range"));
    }

    #[test]
    fn go_slices_and_unsupported_values() {
        assert_eq!(
            go_string_slice(&["All".into(), "x".into()]),
            "[]string{\"All\", \"x\"}"
        );
        assert_eq!(
            not_supported("f", "\"x\"", &["", "A"]).message,
            "Unsupported value: \"x\": supported values: \"\", \"A\""
        );
    }
}
