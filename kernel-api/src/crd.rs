//! Serving CustomResourceDefinitions: each served version of a CRD becomes a [`ResourceDef`]
//! (upstream's `apiextensions-apiserver` handler), and the CRD's status reports
//! `NamesAccepted` and `Established`.
//!
//! Registration happens synchronously after a CRD write (so the very next request can use the
//! new resource) and again in a small reconcile loop that also catches CRDs written by another
//! API server sharing the store and sets status conditions. Deleting a CRD stops serving it and
//! deletes its objects.
//!
//! Custom objects are checked against their version's `openAPIV3Schema` ([`validate_custom`]):
//! types, `required`, `enum`, bounds, `nullable`, `x-kubernetes-int-or-string`; fields the schema
//! does not declare are pruned (refused with `fieldValidation=Strict`) unless
//! `x-kubernetes-preserve-unknown-fields`; `default`s are filled in.
//!
//! Versions convert with upstream's `None` strategy: every served version reads the one stored
//! object, with its own `apiVersion`.
//!
//! Not yet: `pattern`, `format`, CEL rules (`x-kubernetes-validations`), `Webhook` conversion,
//! custom scale paths (the scale subresource uses `.spec.replicas` / `.status.replicas`).

use std::sync::Weak;
use std::time::Duration;

use serde_json::{json, Value};

use crate::registry::{name_of, now_rfc3339, revision_of, ListOptions};
use crate::resources::{ResourceDef, Subresource};
use crate::shared::{Shared, StoreHooks};
use crate::status::{Error, Result, StatusCause};

/// The resource definitions a CRD object asks to serve (one per served version).
pub fn defs_for(crd: &Value) -> Vec<ResourceDef> {
    let spec = &crd["spec"];
    let group = spec["group"].as_str().unwrap_or_default();
    let names = &spec["names"];
    let (Some(kind), Some(plural)) = (names["kind"].as_str(), names["plural"].as_str()) else {
        return Vec::new();
    };
    let namespaced = spec["scope"].as_str() != Some("Cluster");
    let strings = |v: &Value| -> Vec<String> {
        v.as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|s| s.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    };
    let mut defs = Vec::new();
    for version in spec["versions"].as_array().into_iter().flatten() {
        if version["served"] == json!(false) {
            continue;
        }
        let Some(v) = version["name"].as_str() else {
            continue;
        };
        let mut def = ResourceDef::new(&format!("{group}/{v}"), kind, plural, namespaced)
            .generation()
            .storage(&format!("{group}/{plural}"));
        def.singular = names["singular"]
            .as_str()
            .map(str::to_owned)
            .unwrap_or_else(|| kind.to_ascii_lowercase());
        def.short_names = strings(&names["shortNames"]);
        def.categories = strings(&names["categories"]);
        if version["subresources"]["status"].is_object() {
            def.subresources.push(Subresource::Status);
        }
        if version["subresources"]["scale"].is_object() {
            def.subresources.push(Subresource::Scale);
        }
        def.flags.custom = true;
        def.strategy = crate::strategy::custom_resource();
        if let Some(schema) = version["schema"]["openAPIV3Schema"].as_object() {
            def.custom_schema = Some(std::sync::Arc::new(Value::Object(schema.clone())));
        }
        defs.push(def);
    }
    defs
}

fn is_established(crd: &Value) -> bool {
    crd["status"]["conditions"].as_array().is_some_and(|c| {
        c.iter()
            .any(|c| c["type"] == "Established" && c["status"] == "True")
    })
}

/// Starts (or replaces) serving `crd`'s versions, or stops serving them when it is being deleted.
pub fn register(shared: &Shared, crd: &Value) {
    let group = crd["spec"]["group"].as_str().unwrap_or_default().to_owned();
    let plural = crd["spec"]["names"]["plural"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    if group.is_empty() || plural.is_empty() {
        return;
    }
    let defs = defs_for(crd);
    shared
        .resources
        .remove_where(|d| d.flags.custom && d.group == group && d.plural == plural);
    if crd["metadata"]["deletionTimestamp"].is_null() {
        for def in defs {
            shared.resources.insert(def);
        }
    }
    shared.invalidate_openapi();
}

/// After a CRD write: serve its versions at once, and let the CRD loop set its status.
pub(crate) struct Registration;

impl StoreHooks for Registration {
    fn written(&self, shared: &Shared, crd: &Value) {
        register(shared, crd);
        shared.crd_wakeup.notify_one();
    }
}

/// Runs the CRD reconcile loop until the server is dropped.
pub(crate) fn spawn_controller(shared: Weak<Shared>) {
    tokio::spawn(async move {
        loop {
            let Some(strong) = shared.upgrade() else {
                return;
            };
            if let Err(e) = reconcile(&strong).await {
                tracing::warn!(error = %e, "CRD reconcile failed");
            }
            let wakeup = async { strong.crd_wakeup.notified().await };
            let _ = tokio::time::timeout(Duration::from_secs(2), wakeup).await;
        }
    });
}

/// One pass: serve every stored CRD, stop serving deleted ones, set status, clean up deletions.
pub(crate) async fn reconcile(shared: &Shared) -> Result<()> {
    let Some(crd_def) =
        shared
            .resources
            .get("apiextensions.k8s.io", "v1", "customresourcedefinitions")
    else {
        return Ok(());
    };
    let crds = shared
        .registry
        .list(&crd_def, None, ListOptions::default())
        .await?;
    // Stop serving CRDs that are gone.
    let live: Vec<(String, String)> = crds
        .items
        .iter()
        .map(|c| {
            (
                c["spec"]["group"].as_str().unwrap_or_default().to_owned(),
                c["spec"]["names"]["plural"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
            )
        })
        .collect();
    let before = shared.resources.all().len();
    shared.resources.remove_where(|d| {
        d.flags.custom && !live.iter().any(|(g, p)| *g == d.group && *p == d.plural)
    });
    if shared.resources.all().len() != before {
        shared.invalidate_openapi();
    }
    for crd in &crds.items {
        let served = defs_for(crd);
        let missing = served.iter().any(|d| {
            shared
                .resources
                .get(&d.group, &d.version, &d.plural)
                .is_none()
        });
        if missing && crd["metadata"]["deletionTimestamp"].is_null() {
            register(shared, crd);
        }
        if !crd["metadata"]["deletionTimestamp"].is_null() {
            delete_instances(shared, crd).await?;
            continue;
        }
        if !is_established(crd) {
            let mut updated = crd.clone();
            let now = now_rfc3339();
            updated["status"]["conditions"] = json!([
                { "type": "NamesAccepted", "status": "True", "reason": "NoConflicts", "message": "no conflicts found", "lastTransitionTime": now },
                { "type": "Established", "status": "True", "reason": "InitialNamesAccepted", "message": "the initial names have been accepted", "lastTransitionTime": now },
            ]);
            updated["status"]["acceptedNames"] = crd["spec"]["names"].clone();
            let storage: Vec<Value> = crd["spec"]["versions"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|v| v["storage"] == json!(true))
                .map(|v| v["name"].clone())
                .collect();
            updated["status"]["storedVersions"] = json!(storage);
            let rv = revision_of(crd)?.unwrap_or(0);
            match shared.registry.update(&crd_def, &updated, rv).await {
                Ok(_) | Err(Error::Conflict { .. }) | Err(Error::NotFound { .. }) => {}
                Err(e) => return Err(e),
            }
        }
    }
    Ok(())
}

/// Deletes every object of a CRD being deleted, then the CRD itself (upstream's
/// `customresourcecleanup` finalizer).
async fn delete_instances(shared: &Shared, crd: &Value) -> Result<()> {
    let Some(crd_def) =
        shared
            .resources
            .get("apiextensions.k8s.io", "v1", "customresourcedefinitions")
    else {
        return Ok(());
    };
    for def in defs_for(crd).into_iter().take(1) {
        let page = shared
            .registry
            .list(&def, None, ListOptions::default())
            .await?;
        for item in page.items {
            let ns = crate::registry::namespace_of(&item);
            match shared
                .registry
                .delete(&def, ns.as_deref(), &name_of(&item), None)
                .await
            {
                Ok(_) | Err(Error::NotFound { .. }) => {}
                Err(e) => return Err(e),
            }
        }
    }
    let mut finalized = crd.clone();
    if let Some(f) = finalized["metadata"]["finalizers"].as_array_mut() {
        f.retain(|f| f != "customresourcecleanup.apiextensions.k8s.io");
    }
    let rv = revision_of(crd)?.unwrap_or(0);
    let result = if crate::registry::finalizers_of(&finalized).is_empty() {
        shared
            .registry
            .delete(&crd_def, None, &name_of(crd), Some(rv))
            .await
    } else {
        shared.registry.update(&crd_def, &finalized, rv).await
    };
    match result {
        Ok(_) | Err(Error::Conflict { .. }) | Err(Error::NotFound { .. }) => Ok(()),
        Err(e) => Err(e),
    }
}

/// Validates, prunes and defaults a custom object against its schema (structural schemas).
pub fn validate_custom(def: &ResourceDef, obj: &mut Value, strict: bool) -> Result<()> {
    let Some(schema) = def.custom_schema.as_deref() else {
        return Ok(());
    };
    let mut causes = Vec::new();
    let mut unknown = Vec::new();
    if let (Some(map), Some(props)) = (obj.as_object_mut(), schema["properties"].as_object()) {
        let preserve = schema["x-kubernetes-preserve-unknown-fields"] == json!(true);
        apply_defaults(map, props);
        let keys: Vec<String> = map.keys().cloned().collect();
        for key in keys {
            if matches!(key.as_str(), "apiVersion" | "kind" | "metadata") {
                continue;
            }
            match props.get(&key) {
                Some(sub) => check(
                    sub,
                    map.get_mut(&key).expect("key"),
                    &key,
                    &mut causes,
                    &mut unknown,
                ),
                None if !preserve => {
                    unknown.push(key.clone());
                    map.remove(&key);
                }
                None => {}
            }
        }
        for req in schema["required"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
        {
            if !map.contains_key(req) {
                causes.push(StatusCause::required(req));
            }
        }
    }
    if strict && !unknown.is_empty() {
        let fields: Vec<String> = unknown
            .iter()
            .map(|f| format!("unknown field {f:?}"))
            .collect();
        return Err(Error::bad_request(format!(
            "{} in version \"{}\" cannot be handled as a {}: strict decoding error: {}",
            def.kind,
            def.version,
            def.kind,
            fields.join(", ")
        )));
    }
    if causes.is_empty() {
        Ok(())
    } else {
        Err(Error::Invalid {
            kind: def.kind.clone(),
            group: def.group.clone(),
            name: name_of(obj),
            causes,
        })
    }
}

fn apply_defaults(
    map: &mut serde_json::Map<String, Value>,
    props: &serde_json::Map<String, Value>,
) {
    for (key, sub) in props {
        if !map.contains_key(key) {
            if let Some(default) = sub.get("default") {
                map.insert(key.clone(), default.clone());
            }
        }
    }
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn shown(v: &Value) -> String {
    match v {
        Value::String(s) => format!("{s:?}"),
        other => other.to_string(),
    }
}

fn check(
    schema: &Value,
    value: &mut Value,
    path: &str,
    causes: &mut Vec<StatusCause>,
    unknown: &mut Vec<String>,
) {
    if value.is_null() {
        // Nulls pass (upstream drops them from non-nullable fields while pruning).
        return;
    }
    let actual = type_name(value);
    if schema["x-kubernetes-int-or-string"] == json!(true) {
        if !matches!(actual, "integer" | "string") {
            causes.push(StatusCause::new(
                "FieldValueInvalid",
                path,
                format!(
                    "Invalid value: {}: {path} in body must be of type integer,string: {actual:?}",
                    shown(value)
                ),
            ));
        }
        return;
    }
    if let Some(expected) = schema["type"].as_str() {
        let ok = expected == actual || (expected == "number" && actual == "integer");
        if !ok {
            causes.push(StatusCause::new(
                "FieldValueTypeInvalid",
                path,
                format!(
                    "Invalid value: {}: {path} in body must be of type {expected}: {actual:?}",
                    shown(value)
                ),
            ));
            return;
        }
    }
    if let Some(options) = schema["enum"].as_array() {
        if !options.contains(value) {
            let quoted: Vec<String> = options.iter().map(shown).collect();
            causes.push(StatusCause::new(
                "FieldValueNotSupported",
                path,
                format!(
                    "Unsupported value: {}: supported values: {}",
                    shown(value),
                    quoted.join(", ")
                ),
            ));
        }
    }
    if let Some(n) = value.as_f64() {
        if let Some(min) = schema["minimum"].as_f64().filter(|m| n < *m) {
            causes.push(StatusCause::new(
                "FieldValueInvalid",
                path,
                format!(
                    "Invalid value: {}: {path} in body should be greater than or equal to {min}",
                    shown(value)
                ),
            ));
        }
        if let Some(max) = schema["maximum"].as_f64().filter(|m| n > *m) {
            causes.push(StatusCause::new(
                "FieldValueInvalid",
                path,
                format!(
                    "Invalid value: {}: {path} in body should be less than or equal to {max}",
                    shown(value)
                ),
            ));
        }
    }
    if let Some(s) = value.as_str() {
        let len = s.chars().count() as u64;
        if let Some(max) = schema["maxLength"].as_u64().filter(|m| len > *m) {
            causes.push(StatusCause::new(
                "FieldValueTooLong",
                path,
                format!("Too long: may not be more than {max} bytes"),
            ));
        }
        if let Some(min) = schema["minLength"].as_u64().filter(|m| len < *m) {
            causes.push(StatusCause::new(
                "FieldValueInvalid",
                path,
                format!(
                    "Invalid value: {}: {path} in body should be at least {min} chars long",
                    shown(value)
                ),
            ));
        }
    }
    let preserve = schema["x-kubernetes-preserve-unknown-fields"] == json!(true);
    match value {
        Value::Object(map) => {
            if let Some(props) = schema["properties"].as_object() {
                apply_defaults(map, props);
                let keys: Vec<String> = map.keys().cloned().collect();
                for key in keys {
                    let child = format!("{path}.{key}");
                    match props.get(&key) {
                        Some(sub) => check(
                            sub,
                            map.get_mut(&key).expect("key"),
                            &child,
                            causes,
                            unknown,
                        ),
                        None if !preserve && !schema["additionalProperties"].is_object() => {
                            unknown.push(child);
                            map.remove(&key);
                        }
                        None => {}
                    }
                }
            } else if let Some(additional) =
                schema.get("additionalProperties").filter(|a| a.is_object())
            {
                for (key, v) in map.iter_mut() {
                    check(additional, v, &format!("{path}.{key}"), causes, unknown);
                }
            }
            for req in schema["required"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
            {
                if !map.contains_key(req) {
                    causes.push(StatusCause::required(format!("{path}.{req}")));
                }
            }
        }
        Value::Array(items) => {
            let count = items.len() as u64;
            if let Some(max) = schema["maxItems"].as_u64().filter(|m| count > *m) {
                causes.push(StatusCause::new(
                    "FieldValueTooMany",
                    path,
                    format!("Too many: {count}: must have at most {max} items"),
                ));
            }
            if let Some(min) = schema["minItems"].as_u64().filter(|m| count < *m) {
                causes.push(StatusCause::new(
                    "FieldValueInvalid",
                    path,
                    format!(
                        "Invalid value: {count}: {path} in body should have at least {min} items"
                    ),
                ));
            }
            if let Some(item_schema) = schema.get("items").filter(|i| i.is_object()) {
                for (i, item) in items.iter_mut().enumerate() {
                    check(item_schema, item, &format!("{path}[{i}]"), causes, unknown);
                }
            }
        }
        _ => {}
    }
}

// === CustomResourceDefinition objects: defaulting and validation ===

/// Upstream's `SetDefaults_CustomResourceDefinitionSpec` (apiextensions v1): `singular` is the
/// lower-cased kind, `listKind` the kind + `List`, `conversion` the `None` strategy.
pub fn set_definition_defaults(crd: &mut Value) {
    let Some(spec) = crd.get_mut("spec").and_then(Value::as_object_mut) else {
        return;
    };
    if let Some(names) = spec.get_mut("names").and_then(Value::as_object_mut) {
        let kind = names
            .get("kind")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        let empty = |v: Option<&Value>| v.and_then(Value::as_str).is_none_or(str::is_empty);
        if empty(names.get("singular")) {
            names.insert("singular".into(), json!(kind.to_lowercase()));
        }
        if empty(names.get("listKind")) && !kind.is_empty() {
            names.insert("listKind".into(), json!(format!("{kind}List")));
        }
    }
    if spec.get("conversion").is_none_or(Value::is_null) {
        spec.insert("conversion".into(), json!({ "strategy": "None" }));
    }
}

/// Where a structural schema node sits (upstream's `level`).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Level {
    Root,
    Item,
    Field,
}

/// Upstream's `validateStructuralInvariants`, the common part: every node has a `type` (unless
/// `x-kubernetes-int-or-string` or `x-kubernetes-preserve-unknown-fields`), arrays have `items`,
/// the root is an object without `additionalProperties`.
fn structural_errors(
    schema: &Value,
    level: Level,
    path: &str,
    errs: &mut Vec<crate::validation::FieldError>,
) {
    use crate::validation::FieldError;
    let ty = schema["type"].as_str().unwrap_or_default();
    if ty == "array" && schema.get("items").is_none_or(Value::is_null) {
        errs.push(FieldError::required(
            format!("{path}.items"),
            "must be specified",
        ));
    }
    if let Some(items) = schema.get("items").filter(|i| i.is_object()) {
        structural_errors(items, Level::Item, &format!("{path}.items"), errs);
    }
    for (k, v) in schema["properties"].as_object().into_iter().flatten() {
        structural_errors(v, Level::Field, &format!("{path}.properties[{k}]"), errs);
    }
    if schema.get("additionalProperties").is_some() && level == Level::Root {
        errs.push(FieldError::forbidden(
            format!("{path}.additionalProperties"),
            "must not be used at the root",
        ));
    }
    if let Some(additional) = schema.get("additionalProperties").filter(|a| a.is_object()) {
        structural_errors(
            additional,
            Level::Field,
            &format!("{path}.additionalProperties"),
            errs,
        );
    }
    let flag = |k: &str| schema[k].as_bool() == Some(true);
    if ty.is_empty()
        && !flag("x-kubernetes-int-or-string")
        && !flag("x-kubernetes-preserve-unknown-fields")
    {
        let detail = match level {
            Level::Root => "must not be empty at the root",
            Level::Item => "must not be empty for specified array items",
            Level::Field => "must not be empty for specified object fields",
        };
        errs.push(FieldError::required(format!("{path}.type"), detail));
    }
    if level == Level::Root && !ty.is_empty() && ty != "object" {
        errs.push(FieldError::invalid(
            format!("{path}.type"),
            &json!(ty),
            "must be object at the root",
        ));
    }
}

/// `ValidateStructural` over one schema: the errors sorted by their text, as upstream sorts them.
fn validate_schema(schema: &Value, path: &str, errs: &mut Vec<crate::validation::FieldError>) {
    let mut found = Vec::new();
    structural_errors(schema, Level::Root, path, &mut found);
    found.sort_by_key(|e| e.to_string());
    errs.extend(found);
}

/// Upstream's `ValidateCustomResourceDefinition` (the checks a kubectl user meets most): the
/// name is `<plural>.<group>`, the group a dotted domain, a known scope, a schema per version,
/// exactly one storage version with unique DNS-1035 names, the names required after defaulting
/// and well-formed, structural schemas. Field paths are those of upstream's internal type: a
/// schema every version shares is reported under `spec.validation` (the v1 → internal
/// conversion moves it there), and `versions[0].name` is checked again as `spec.version`.
pub fn validate_definition(crd: &Value, errs: &mut Vec<crate::validation::FieldError>) {
    use crate::validation::FieldError;
    use kernel_core::names::is_dns1035_label;
    let spec = &crd["spec"];
    let text = |v: &Value| v.as_str().unwrap_or_default().to_owned();
    let group = text(&spec["group"]);
    let names = &spec["names"];
    let (plural, singular, kind, list_kind) = (
        text(&names["plural"]),
        text(&names["singular"]),
        text(&names["kind"]),
        text(&names["listKind"]),
    );
    let name = text(&crd["metadata"]["name"]);
    if !name.is_empty() && name != format!("{plural}.{group}") {
        errs.push(FieldError::invalid(
            "metadata.name",
            &json!(name),
            "must be spec.names.plural+\".\"+spec.group",
        ));
    }
    if group.is_empty() {
        errs.push(FieldError::required("spec.group", ""));
    } else {
        let msgs = kernel_core::names::is_dns1123_subdomain(&group);
        if !msgs.is_empty() {
            errs.push(FieldError::invalid(
                "spec.group",
                &json!(group),
                &msgs.join(","),
            ));
        } else if !group.contains('.') {
            errs.push(FieldError::invalid(
                "spec.group",
                &json!(group),
                "should be a domain with at least one dot",
            ));
        }
    }
    match spec["scope"].as_str().unwrap_or_default() {
        "" => errs.push(FieldError::required("spec.scope", "")),
        "Cluster" | "Namespaced" => {}
        other => errs.push(FieldError::not_supported(
            "spec.scope",
            &json!(other),
            &["Cluster", "Namespaced"],
        )),
    }
    let versions: &[Value] = spec["versions"].as_array().map_or(&[], Vec::as_slice);
    let schema_of = |v: &Value| v["schema"]["openAPIV3Schema"].clone();
    // The v1 → internal conversion moves a schema all versions share to `spec.validation`.
    let shared = versions
        .first()
        .map(schema_of)
        .filter(|first| versions.iter().all(|v| schema_of(v) == *first))
        .filter(|first| !first.is_null());
    if shared.is_none() {
        for (i, v) in versions.iter().enumerate() {
            if schema_of(v).is_null() {
                errs.push(FieldError::required(
                    format!("spec.versions[{i}].schema.openAPIV3Schema"),
                    "schemas are required",
                ));
            }
        }
    }
    let mut seen = std::collections::HashSet::new();
    let mut unique = true;
    let mut storage = 0;
    for (i, v) in versions.iter().enumerate() {
        if v["storage"].as_bool() == Some(true) {
            storage += 1;
        }
        let version = text(&v["name"]);
        unique &= seen.insert(version.clone());
        let msgs = is_dns1035_label(&version);
        if !msgs.is_empty() {
            errs.push(FieldError::invalid(
                format!("spec.versions[{i}].name"),
                &json!(version),
                &msgs.join(","),
            ));
        }
        if shared.is_none() {
            let schema = schema_of(v);
            if schema.is_object() {
                validate_schema(
                    &schema,
                    &format!("spec.versions[{i}].schema.openAPIV3Schema"),
                    errs,
                );
            }
        }
    }
    // Upstream shows the versions with Go's %#v of its internal type; this shows them as JSON.
    let all_versions = Value::Array(versions.to_vec());
    if !unique {
        errs.push(FieldError::invalid(
            "spec.versions",
            &all_versions,
            "must contain unique version names",
        ));
    }
    if storage != 1 {
        errs.push(FieldError::invalid(
            "spec.versions",
            &all_versions,
            "must have exactly one version marked as storage version",
        ));
    }
    if let Some(first) = versions.first() {
        let version = text(&first["name"]);
        let msgs = is_dns1035_label(&version);
        if !msgs.is_empty() {
            errs.push(FieldError::invalid(
                "spec.version",
                &json!(version),
                &msgs.join(","),
            ));
        }
    }
    for (field, value) in [
        ("plural", &plural),
        ("singular", &singular),
        ("kind", &kind),
        ("listKind", &list_kind),
    ] {
        if value.is_empty() {
            errs.push(FieldError::required(format!("spec.names.{field}"), ""));
        }
    }
    for (field, value, lower) in [
        ("plural", &plural, false),
        ("singular", &singular, false),
        ("kind", &kind, true),
        ("listKind", &list_kind, true),
    ] {
        if value.is_empty() {
            continue;
        }
        let msgs = is_dns1035_label(&if lower {
            value.to_lowercase()
        } else {
            value.clone()
        });
        if !msgs.is_empty() {
            let detail = if lower {
                format!(
                    "may have mixed case, but should otherwise match: {}",
                    msgs.join(",")
                )
            } else {
                msgs.join(",")
            };
            errs.push(FieldError::invalid(
                format!("spec.names.{field}"),
                &json!(value),
                &detail,
            ));
        }
    }
    if !kind.is_empty() && kind == list_kind {
        errs.push(FieldError::invalid(
            "spec.names.listKind",
            &json!(list_kind),
            "kind and listKind may not be the same",
        ));
    }
    if let Some(schema) = &shared {
        validate_schema(schema, "spec.validation.openAPIV3Schema", errs);
    }
}
