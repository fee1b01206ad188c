//! The checks of the decode step of a write: `apiVersion`/`kind` against the resource, and the
//! decode as the kind's typed struct (unknown fields pruned, or refused with
//! `fieldValidation=Strict`), as upstream's decoder does.

use serde_json::{json, Value};

use crate::resources::{PathSegment, ResourceDef};
use crate::status::{Error, Result};

/// Checks `apiVersion`/`kind` of a request body against the resource and fills them in.
pub fn check_type(def: &ResourceDef, obj: &mut Value) -> Result<()> {
    let Some(map) = obj.as_object_mut() else {
        return Err(Error::bad_request("the body of the request was in an unknown format - accepted media types include: application/json, application/yaml"));
    };
    let api_version = def.api_version();
    match map.get("apiVersion").and_then(Value::as_str) {
        Some(v) if !v.is_empty() && v != api_version => {
            return Err(Error::bad_request(format!(
                "the API version in the data ({v}) does not match the expected API version ({api_version})"
            )))
        }
        _ => {}
    }
    match map.get("kind").and_then(Value::as_str) {
        Some(k) if !k.is_empty() && k != def.kind => {
            return Err(Error::bad_request(format!(
                "the kind in the data ({k}) does not match the expected kind ({})",
                def.kind
            )))
        }
        _ => {}
    }
    map.insert("apiVersion".into(), json!(api_version));
    map.insert("kind".into(), json!(def.kind));
    Ok(())
}

/// Decodes `obj` as its typed struct; a malformed object is a 400 as upstream reports it.
/// Fields the type does not know are dropped (as decoding into Go structs does), or, with
/// `strict` (`fieldValidation=Strict`, kubectl's default), refused with upstream's
/// `strict decoding error: unknown field "spec.replicass"`.
pub fn typed_check(def: &ResourceDef, obj: &mut Value, strict: bool) -> Result<()> {
    let Some(check) = def.flags.typed_check else {
        return Ok(());
    };
    let cannot = |e: String| {
        Error::bad_request(format!(
            "{} in version \"{}\" cannot be handled as a {}: {e}",
            def.kind, def.version, def.kind
        ))
    };
    let mut unknown = Vec::new();
    for path in check(obj).map_err(cannot)? {
        if remove_field(obj, &path) {
            unknown.push(join_path(&path));
        }
    }
    if strict && !unknown.is_empty() {
        let fields: Vec<String> = unknown
            .iter()
            .map(|f| format!("unknown field {f:?}"))
            .collect();
        return Err(cannot(format!(
            "strict decoding error: {}",
            fields.join(", ")
        )));
    }
    Ok(())
}

/// Removes the field at `path` from `obj` unless it is null (a null unknown field is not an
/// error upstream either); whether something was removed.
fn remove_field(obj: &mut Value, path: &[PathSegment]) -> bool {
    let Some((PathSegment::Field(last), parents)) = path.split_last() else {
        return false;
    };
    let mut at = obj;
    for segment in parents {
        let next = match segment {
            PathSegment::Field(k) => at.get_mut(k.as_str()),
            PathSegment::Index(i) => at.get_mut(*i),
        };
        match next {
            Some(v) => at = v,
            None => return false,
        }
    }
    match at.as_object_mut() {
        Some(map) if map.get(last).is_some_and(|v| !v.is_null()) => map.remove(last).is_some(),
        _ => false,
    }
}

/// `spec.containers[0].ports` from its segments.
pub(crate) fn join_path(path: &[PathSegment]) -> String {
    let mut out = String::new();
    for segment in path {
        match segment {
            PathSegment::Field(k) => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(k);
            }
            PathSegment::Index(i) => {
                out.push('[');
                out.push_str(&i.to_string());
                out.push(']');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_fields_are_pruned_or_refused() {
        let def = ResourceDef::new("v1", "ConfigMap", "configmaps", true)
            .typed::<k8s_openapi::api::core::v1::ConfigMap>();
        let mut obj = json!({"metadata": {"name": "a", "labelz": {}}, "data": {"k": "v"}, "extra": 1, "binaryData": null});
        typed_check(&def, &mut obj, false).unwrap();
        assert_eq!(
            obj,
            json!({"metadata": {"name": "a"}, "data": {"k": "v"}, "binaryData": null})
        );
        let mut obj = json!({"metadata": {"name": "a"}, "dta": {}});
        let err = typed_check(&def, &mut obj, true).unwrap_err().to_string();
        assert!(
            err.ends_with("strict decoding error: unknown field \"dta\""),
            "{err}"
        );
    }

    #[test]
    fn unknown_nested_fields_are_named_by_their_path() {
        let def =
            ResourceDef::new("v1", "Pod", "pods", true).typed::<k8s_openapi::api::core::v1::Pod>();
        let mut obj = json!({"metadata": {"name": "p"}, "spec": {"containers": [
            {"name": "a", "image": "x"},
            {"name": "b", "imagee": "y", "ports": [{"containerPort": 80, "hostt": 1}]}
        ]}});
        let err = typed_check(&def, &mut obj, true).unwrap_err().to_string();
        assert!(
            err.ends_with(
                "unknown field \"spec.containers[1].imagee\", unknown field \"spec.containers[1].ports[0].hostt\""
            ),
            "{err}"
        );
    }
}
