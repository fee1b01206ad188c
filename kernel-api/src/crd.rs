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
