//! The generic steps of a write around the kind's [`Strategy`](crate::strategy::Strategy)
//! (upstream's `k8s.io/apiserver/pkg/registry/rest`: `BeforeCreate`, `BeforeUpdate`): system
//! metadata, the strategy's prepare, validation turned into a 422.

use serde_json::{json, Value};

use crate::meta::{generate_name, meta_mut, name_of, namespace_of, now_rfc3339};
use crate::resources::{ResourceDef, Subresource};
use crate::status::{Error, Result, StatusCause};
use crate::strategy::Strategy;
use crate::validation::FieldError;

fn invalid(def: &ResourceDef, name: &str, causes: Vec<StatusCause>) -> Error {
    Error::Invalid {
        kind: def.kind.clone(),
        group: def.group.clone(),
        name: name.into(),
        causes,
    }
}

/// Runs validation (validation.rs) and turns field errors into a 422.
pub(crate) fn validate(def: &ResourceDef, obj: &Value, old: Option<&Value>) -> Result<()> {
    let name = name_of(obj);
    let causes: Vec<StatusCause> = validate_fields(&*def.strategy, obj, old)
        .into_iter()
        .map(StatusCause::from)
        .collect();
    if causes.is_empty() {
        Ok(())
    } else {
        Err(invalid(def, &name, causes))
    }
}

/// The metadata a create takes from its request, before admission (upstream's create handler:
/// `EnsureObjectNamespaceMatchesRequestNamespace`, `WipeObjectMetaSystemFields`): the namespace
/// of the request (400 if the object names another), no `resourceVersion` (400), and none of the
/// fields only the server sets.
pub(crate) fn create_request_metadata(
    def: &ResourceDef,
    obj: &mut Value,
    namespace: Option<&str>,
) -> Result<()> {
    let meta = meta_mut(obj);
    if def.namespaced {
        let ns = namespace.unwrap_or("default");
        match meta.get("namespace").and_then(Value::as_str) {
            Some(given) if !given.is_empty() && given != ns => {
                return Err(Error::bad_request(
                    "the namespace of the provided object does not match the namespace sent on the request",
                ))
            }
            _ => {
                meta.insert("namespace".into(), json!(ns));
            }
        }
    } else {
        meta.remove("namespace");
    }
    if meta
        .get("resourceVersion")
        .and_then(Value::as_str)
        .is_some_and(|rv| !rv.is_empty())
    {
        return Err(Error::bad_request(
            "resourceVersion should not be set on objects to be created",
        ));
    }
    meta.remove("resourceVersion");
    for field in [
        "uid",
        "creationTimestamp",
        "deletionTimestamp",
        "deletionGracePeriodSeconds",
        "selfLink",
    ] {
        meta.remove(field);
    }
    Ok(())
}

/// The system metadata of a new object (upstream's `FillObjectMetaSystemFields` and name
/// generation): a name from `generateName`, `uid`, `creationTimestamp`, `generation`.
pub(crate) fn fill_system_fields(def: &ResourceDef, obj: &mut Value) {
    let meta = meta_mut(obj);
    if meta
        .get("name")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .is_empty()
    {
        if let Some(generate) = meta
            .get("generateName")
            .and_then(Value::as_str)
            .filter(|g| !g.is_empty())
        {
            let name = generate_name(generate);
            meta.insert("name".into(), json!(name));
        }
    }
    meta.insert("uid".into(), json!(uuid::Uuid::new_v4().to_string()));
    meta.insert("creationTimestamp".into(), json!(now_rfc3339()));
    if def.flags.generation {
        meta.insert("generation".into(), json!(1));
    } else {
        meta.remove("generation");
    }
}

/// Everything a create does to an object short of admission and validation, for objects the
/// server writes itself (the built-in namespaces, the `kubernetes` Service and endpoints).
pub(crate) fn prepare_create(
    def: &ResourceDef,
    obj: &mut Value,
    namespace: Option<&str>,
) -> Result<()> {
    create_request_metadata(def, obj, namespace)?;
    fill_system_fields(def, obj);
    def.strategy
        .prepare_for_create(obj, def.has(Subresource::Status));
    Ok(())
}

/// What an update's request must agree on with the stored object, before admission (upstream's
/// update handler): the name (the stored object's is the URL's) and the namespace.
pub(crate) fn check_update_target(new: &Value, old: &Value) -> Result<()> {
    let name = name_of(old);
    let given_name = name_of(new);
    if !given_name.is_empty() && given_name != name {
        return Err(Error::bad_request(format!(
            "the name of the object ({given_name}) does not match the name on the URL ({name})"
        )));
    }
    if let (Some(given), Some(ns)) = (namespace_of(new), namespace_of(old)) {
        if given != ns {
            return Err(Error::bad_request(
                "the namespace of the provided object does not match the namespace sent on the request",
            ));
        }
    }
    Ok(())
}

/// Upstream's `BeforeUpdate` short of validation: for `…/status`, everything but the status
/// comes from `old`; for the main resource the system metadata does, then the strategy's
/// `PrepareForUpdate` (the status kept), then the generation bump.
pub(crate) fn before_update(
    def: &ResourceDef,
    new: &mut Value,
    old: &Value,
    subresource: Option<Subresource>,
) {
    if subresource == Some(Subresource::Status) {
        let status = new.get("status").cloned();
        let rv = new["metadata"]["resourceVersion"].clone();
        let managed = new["metadata"]["managedFields"].clone();
        *new = old.clone();
        match status {
            Some(s) => new["status"] = s,
            None => {
                if let Some(m) = new.as_object_mut() {
                    m.remove("status");
                }
            }
        }
        let meta = meta_mut(new);
        meta.insert("resourceVersion".into(), rv);
        if !managed.is_null() {
            meta.insert("managedFields".into(), managed);
        }
        return;
    }
    let old_meta = old["metadata"].as_object().cloned().unwrap_or_default();
    let meta = meta_mut(new);
    for field in [
        "name",
        "namespace",
        "uid",
        "creationTimestamp",
        "deletionTimestamp",
        "deletionGracePeriodSeconds",
        "generation",
    ] {
        match old_meta.get(field) {
            Some(v) => meta.insert(field.into(), v.clone()),
            None => meta.remove(field),
        };
    }
    meta.remove("selfLink");
    def.strategy
        .prepare_for_update(new, old, def.has(Subresource::Status));
    if def.flags.generation && def.strategy.generation_changed(new, old) {
        let generation = old["metadata"]["generation"].as_i64().unwrap_or(0) + 1;
        meta_mut(new).insert("generation".into(), json!(generation));
    }
}

/// Validates `obj` with the rules of its kind's `strategy`: object metadata (the name by
/// [`Strategy::validate_name`]), then [`Strategy::validate`]; with `old = Some(previous)` also
/// the metadata update rules and [`Strategy::validate_update`] (immutable fields).
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
pub(crate) fn validate_fields(
    strategy: &dyn Strategy,
    obj: &Value,
    old: Option<&Value>,
) -> Vec<FieldError> {
    let mut errs = Vec::new();
    crate::validation::validate_meta(&|name| strategy.validate_name(name), obj, &mut errs);
    errs.extend(strategy.validate(obj, old));
    if let Some(old) = old {
        crate::validation::validate_meta_update(obj, old, &mut errs);
        errs.extend(strategy.validate_update(obj, old));
    }
    errs
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generation_bumps_on_spec_only() {
        let def = ResourceDef::new("apps/v1", "Deployment", "deployments", true).generation();
        assert_eq!(format!("{:?}", def.strategy), "Deployment");
        let old = json!({"metadata":{"name":"a","generation":1},"spec":{"replicas":1}});
        let mut same = json!({"metadata":{"name":"a","labels":{"x":"y"}},"spec":{"replicas":1}});
        before_update(&def, &mut same, &old, None);
        assert_eq!(same["metadata"]["generation"], 1);
        let mut bumped = json!({"metadata":{"name":"a"},"spec":{"replicas":2}});
        before_update(&def, &mut bumped, &old, None);
        assert_eq!(bumped["metadata"]["generation"], 2);
    }
}
