//! Writes: create, update, patch (JSON, merge, strategic, server-side apply), delete,
//! deletecollection.
//!
//! Every write runs the same pipeline: decode → defaulting → strategy (`prepare_create` /
//! `prepare_update`) → managedFields → mutating admission → typed check → validation →
//! validating admission → namespace lifecycle → store (compare-and-swap on the revision).

use std::sync::Arc;

use http::{Response, StatusCode};
use kernel_store::Revision;
use serde_json::{json, Value};

use super::read::{respond, Filter};
use super::{Body, Ctx};
use crate::admission::{AdmissionRequest, Operation};
use crate::registry::{
    self, finalizers_of, meta_mut, name_of, prepare_create, prepare_update, revision_of,
    rfc3339_in, should_delete_now, ListOptions,
};
use crate::resources::{ResourceDef, Subresource};
use crate::status::{success_status, Error, Result};
use crate::{allocator, apply, defaults, patch};

fn is_service(def: &ResourceDef) -> bool {
    def.group.is_empty() && def.kind == "Service"
}

const MAX_RETRIES: usize = 8;

fn admission_request(ctx: &Ctx, operation: Operation, name: &str) -> AdmissionRequest {
    AdmissionRequest {
        operation,
        group: ctx.def.group.clone(),
        version: ctx.def.version.clone(),
        kind: ctx.def.kind.clone(),
        resource: ctx.def.plural.clone(),
        subresource: ctx.info.subresource.clone(),
        namespace: ctx.namespace.clone().unwrap_or_default(),
        name: name.to_owned(),
        user: ctx.user.clone(),
        dry_run: ctx.dry_run(),
    }
}

/// Admission, typed check and validation of an object about to be written.
pub async fn admit(
    ctx: &Ctx,
    operation: Operation,
    obj: &mut Value,
    old: Option<&Value>,
) -> Result<()> {
    let request = admission_request(ctx, operation, &name_of(obj));
    ctx.shared.admission.mutate(&request, obj).await?;
    let strict = ctx.param("fieldValidation") == Some("Strict");
    registry::typed_check(&ctx.def, obj, strict)?;
    crate::crd::validate_custom(&ctx.def, obj, strict)?;
    registry::validate(&ctx.def, obj, old)?;
    ctx.shared.admission.validate(&request, obj, old).await
}

/// 404 if the namespace is missing, 403 if it is terminating (upstream's NamespaceLifecycle).
pub async fn check_namespace(ctx: &Ctx, name: &str) -> Result<()> {
    let Some(ns) = ctx.namespace.as_deref().filter(|_| ctx.def.namespaced) else {
        return Ok(());
    };
    let Some(ns_def) = ctx.shared.resources.get("", "v1", "namespaces") else {
        return Ok(());
    };
    // Only the two fields the check needs are decoded.
    #[derive(serde::Deserialize, Default)]
    #[serde(default, rename_all = "camelCase")]
    struct Metadata {
        deletion_timestamp: Option<String>,
    }
    #[derive(serde::Deserialize, Default)]
    #[serde(default)]
    struct Status {
        phase: Option<String>,
    }
    #[derive(serde::Deserialize, Default)]
    #[serde(default)]
    struct Namespace {
        metadata: Metadata,
        status: Status,
    }
    let namespace: Namespace = ctx.shared.registry.get_partial(&ns_def, None, ns).await?;
    if namespace.metadata.deletion_timestamp.is_some()
        || namespace.status.phase.as_deref() == Some("Terminating")
    {
        return Err(Error::NamespaceTerminating {
            resource: ctx.def.qualified(),
            name: name.to_owned(),
            namespace: ns.to_owned(),
        });
    }
    Ok(())
}

/// `POST …/<resource>`.
pub async fn create(ctx: &Ctx) -> Result<Response<Body>> {
    let obj = ctx.decode_body()?;
    crate::strict::check_duplicate_fields(ctx, &obj)?;
    let created = create_object(ctx, obj, Operation::Create, None).await?;
    respond(ctx, StatusCode::CREATED, created)
}

/// Creates `obj` through the whole pipeline. `applied` marks a server-side apply (its field set
/// is recorded instead of an `Update` entry).
pub async fn create_object(
    ctx: &Ctx,
    mut obj: Value,
    operation: Operation,
    applied: Option<bool>,
) -> Result<Arc<Value>> {
    registry::check_type(&ctx.def, &mut obj)?;
    if !ctx.def.strategy.custom {
        defaults::apply_defaults(&ctx.def.plural, &mut obj);
    }
    let unnamed = obj
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .is_empty();
    prepare_create(&ctx.def, &mut obj, ctx.namespace.as_deref())?;

    if applied.is_none() {
        apply::record_update(
            &mut obj,
            None,
            &ctx.field_manager(),
            &ctx.def.api_version(),
            None,
        );
    }
    if is_service(&ctx.def) {
        allocator::allocate(&ctx.shared.registry, &ctx.def, &mut obj, None).await?;
    }
    admit(ctx, operation, &mut obj, None).await?;
    check_namespace(ctx, &name_of(&obj)).await?;
    if ctx.dry_run() {
        return Ok(Arc::new(obj));
    }
    // Upstream (RetryGenerateName, on by default since v1.32) retries a name collision of a
    // `generateName` create with fresh suffixes before answering 409.
    let generated = registry::generated_prefix(&obj).filter(|_| unnamed);
    let mut attempts = 0;
    let created = loop {
        match ctx.shared.registry.insert(&ctx.def, &obj).await {
            Err(Error::AlreadyExists { .. }) if generated.is_some() && attempts < 7 => {
                attempts += 1;
                let prefix = generated.as_deref().unwrap_or_default();
                meta_mut(&mut obj).insert(
                    "name".into(),
                    serde_json::json!(format!("{prefix}{}", registry::random_suffix())),
                );
            }
            other => {
                let revision = other?;
                break hand_to_watch_cache(ctx, registry::with_revision(obj, revision)?, revision);
            }
        }
    };
    if ctx.def.kind == "Namespace" {
        ctx.shared.namespace_wakeup.notify_one();
    }
    crd_written(ctx, &created);
    Ok(created)
}

/// `PUT …/<resource>/<name>` (and `…/status`).
pub async fn update(ctx: &Ctx) -> Result<Response<Body>> {
    let obj = ctx.decode_body()?;
    crate::strict::check_duplicate_fields(ctx, &obj)?;
    let current = ctx
        .shared
        .registry
        .get(&ctx.def, ctx.namespace.as_deref(), ctx.name())
        .await?;
    let current_rv = revision_of(&current)?.unwrap_or(0);
    check_update_uid_precondition(ctx, &obj, &current)?;
    if let Some(rv) = revision_of(&obj)? {
        if rv != current_rv {
            return Err(registry::conflict(&ctx.def, ctx.name()));
        }
    }
    let updated = update_object(ctx, obj, &current, ctx.subresource, true).await?;
    respond(ctx, StatusCode::OK, updated)
}

/// Writes `new` over `current` through the update pipeline. With `defaulting`, upstream defaults
/// are applied first. Deletes the object instead when it is marked for deletion and its last
/// finalizer went away.
pub async fn update_object(
    ctx: &Ctx,
    mut new: Value,
    current: &Value,
    subresource: Option<Subresource>,
    record_manager: bool,
) -> Result<Arc<Value>> {
    registry::check_type(&ctx.def, &mut new)?;
    if subresource.is_none() && !ctx.def.strategy.custom {
        defaults::apply_defaults(&ctx.def.plural, &mut new);
    }
    prepare_update(&ctx.def, &mut new, current, subresource)?;
    if record_manager {
        let sub = subresource.map(Subresource::name);
        apply::record_update(
            &mut new,
            Some(current),
            &ctx.field_manager(),
            &ctx.def.api_version(),
            sub,
        );
    }
    if subresource.is_none() && is_service(&ctx.def) {
        allocator::allocate(&ctx.shared.registry, &ctx.def, &mut new, Some(current)).await?;
    }
    admit(ctx, Operation::Update, &mut new, Some(current)).await?;
    let expected = revision_of(current)?.unwrap_or(0);
    if ctx.dry_run() {
        return Ok(Arc::new(new));
    }
    if should_delete_now(&new) {
        let name = name_of(current);
        ctx.shared
            .registry
            .delete(&ctx.def, ctx.namespace.as_deref(), &name, Some(expected))
            .await?;
        return Ok(Arc::new(new));
    }
    if new == *current {
        return Ok(Arc::new(new));
    }
    let revision = ctx
        .shared
        .registry
        .replace(&ctx.def, &new, expected)
        .await?;
    let updated = hand_to_watch_cache(ctx, registry::with_revision(new, revision)?, revision);
    crd_written(ctx, &updated);
    Ok(updated)
}

/// `obj`, just written at `revision`, shared with the watch cache so that the cache need not
/// decode the store's bytes of the same write (only for resources stored as served).
pub fn hand_to_watch_cache(ctx: &Ctx, obj: Value, revision: Revision) -> Arc<Value> {
    let obj = Arc::new(obj);
    let def = &ctx.def;
    if !def.strategy.custom && def.strategy.conversion.is_none() {
        let registry = &ctx.shared.registry;
        let key = registry.key(def, registry::namespace_of(&obj).as_deref(), &name_of(&obj));
        ctx.shared
            .watch_cache
            .hand_over(&registry.list_prefix(def, None), &key, revision, &obj);
    }
    obj
}

fn is_crd(def: &ResourceDef) -> bool {
    def.group == "apiextensions.k8s.io" && def.kind == "CustomResourceDefinition"
}

/// After a CRD write: serve its versions at once, and let the CRD loop set its status.
fn crd_written(ctx: &Ctx, crd: &Value) {
    if is_crd(&ctx.def) {
        crate::crd::register(&ctx.shared, crd);
        ctx.shared.crd_wakeup.notify_one();
    }
}

/// `PATCH …/<resource>/<name>` (and `…/status`).
pub async fn patch(ctx: &Ctx) -> Result<Response<Body>> {
    let content_type = ctx.content_type();
    if content_type == "application/apply-patch+yaml"
        || content_type == "application/apply-patch+cbor"
    {
        return apply_patch(ctx).await;
    }
    let patch = ctx.decode_body()?;
    let explicit_rv = patch["metadata"]["resourceVersion"]
        .as_str()
        .filter(|s| !s.is_empty())
        .is_some();
    for _ in 0..MAX_RETRIES {
        let current = ctx
            .shared
            .registry
            .get(&ctx.def, ctx.namespace.as_deref(), ctx.name())
            .await?;
        let patched = apply_patch_document(ctx, &current, &patch, &content_type)?;
        if let Some(rv) = revision_of(&patched)? {
            if Some(rv) != revision_of(&current)? {
                return Err(registry::conflict(&ctx.def, ctx.name()));
            }
        }
        match update_object(ctx, patched, &current, ctx.subresource, true).await {
            Err(Error::Conflict { .. }) if !explicit_rv => continue,
            Err(e) => return Err(e),
            Ok(updated) => return respond(ctx, StatusCode::OK, updated),
        }
    }
    Err(registry::conflict(&ctx.def, ctx.name()))
}

/// Any failure to apply a JSON patch (unknown op, failed `test`, missing path): upstream's
/// `applyJSPatch` answers `NewGenericServerResponse(422, …)`, which hides the patch library's
/// message behind a fixed one and sets empty details.
fn json_patch_failed() -> Error {
    Error::Generic {
        code: 422,
        reason: "Invalid",
        message: "the server rejected our request due to an error in our request".into(),
        details: Some(json!({})),
    }
}

/// Applies a JSON, merge or strategic-merge patch document to `current`.
pub fn apply_patch_document(
    ctx: &Ctx,
    current: &Value,
    patch: &Value,
    content_type: &str,
) -> Result<Value> {
    let mut doc = current.clone();
    let failed = |e: patch::PatchError| {
        if e.status_code() == 400 {
            Error::bad_request(e.to_string())
        } else {
            Error::Invalid {
                kind: ctx.def.kind.clone(),
                group: ctx.def.group.clone(),
                name: ctx.name().to_owned(),
                causes: vec![crate::status::StatusCause::new(
                    "FieldValueInvalid",
                    "",
                    e.to_string(),
                )],
            }
        }
    };
    match content_type {
        "application/json-patch+json" => {
            if !patch.is_array() {
                return Err(Error::bad_request("json: cannot unmarshal object into Go value of type jsonpatch.Patch"));
            }
            patch::json_patch(&mut doc, patch).map_err(|_| json_patch_failed())?
        }
        "application/merge-patch+json" => {
            if !patch.is_object() {
                return Err(Error::bad_request("the body of a merge patch must be a JSON object"));
            }
            patch::merge_patch(&mut doc, patch)
        }
        "application/strategic-merge-patch+json" => {
            if !patch.is_object() {
                return Err(Error::bad_request("the body of a strategic merge patch must be a JSON object"));
            }
            patch::strategic_merge_patch(&mut doc, patch, &ctx.def.kind).map_err(failed)?
        }
        other => {
            return Err(Error::UnsupportedMediaType(format!(
                "the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml, application/strategic-merge-patch+json ({other})"
            )))
        }
    }
    if !doc.is_object() {
        return Err(Error::bad_request(
            "the patch turned the object into something that is not an object",
        ));
    }
    Ok(doc)
}

/// Server-side apply (`application/apply-patch+yaml`).
async fn apply_patch(ctx: &Ctx) -> Result<Response<Body>> {
    let mut applied = ctx.decode_body()?;
    let manager = match ctx.param("fieldManager") {
        Some(m) => m.to_owned(),
        None => {
            return Err(Error::bad_request(
                "PATCH, application/apply-patch+yaml requests must supply a fieldManager",
            ))
        }
    };
    let force = ctx.param("force").is_some_and(|f| f == "true" || f == "1");
    registry::check_type(&ctx.def, &mut applied)?;
    let given = name_of(&applied);
    if !given.is_empty() && given != ctx.name() {
        return Err(Error::bad_request(format!(
            "the name of the object ({given}) does not match the name on the URL ({})",
            ctx.name()
        )));
    }
    meta_mut(&mut applied).insert("name".into(), json!(ctx.name()));
    let api_version = ctx.def.api_version();
    for _ in 0..MAX_RETRIES {
        let current = match ctx
            .shared
            .registry
            .get(&ctx.def, ctx.namespace.as_deref(), ctx.name())
            .await
        {
            Ok(c) => Some(c),
            Err(Error::NotFound { .. }) if ctx.subresource.is_none() => None,
            Err(e) => return Err(e),
        };
        let Some(current) = current else {
            let mut obj = apply::apply(
                None,
                &applied,
                &manager,
                &api_version,
                force,
                ctx.subresource.is_none() && ctx.def.has(Subresource::Status),
            )?;
            meta_mut(&mut obj).remove("resourceVersion");
            match create_object(ctx, obj, Operation::Create, Some(true)).await {
                Err(Error::AlreadyExists { .. }) => continue,
                Err(e) => return Err(e),
                Ok(created) => return respond(ctx, StatusCode::CREATED, created),
            }
        };
        if let Some(rv) = revision_of(&applied)? {
            if Some(rv) != revision_of(&current)? {
                return Err(registry::conflict(&ctx.def, ctx.name()));
            }
        }
        let skip_status = ctx.subresource.is_none() && ctx.def.has(Subresource::Status);
        let merged = apply::apply(
            Some(&current),
            &applied,
            &manager,
            &api_version,
            force,
            skip_status,
        )?;
        match update_object(ctx, merged, &current, ctx.subresource, false).await {
            Err(Error::Conflict { .. }) => continue,
            Err(e) => return Err(e),
            Ok(updated) => return respond(ctx, StatusCode::OK, updated),
        }
    }
    Err(registry::conflict(&ctx.def, ctx.name()))
}

/// DeleteOptions from the body and the query.
#[derive(Clone, Debug, Default)]
pub struct DeleteOptions {
    /// `gracePeriodSeconds`.
    pub grace_period: Option<i64>,
    /// `preconditions.uid`.
    pub uid: Option<String>,
    /// `preconditions.resourceVersion`.
    pub resource_version: Option<String>,
    /// `propagationPolicy`.
    pub propagation: Option<String>,
}

impl DeleteOptions {
    /// Reads body (if any) then query parameters.
    pub fn from_ctx(ctx: &Ctx) -> Result<Self> {
        let mut options = DeleteOptions::default();
        if !ctx.body.iter().all(u8::is_ascii_whitespace) {
            let body = ctx.decode_body()?;
            options = Self::from_value(&body);
        }
        if let Some(g) = ctx.param("gracePeriodSeconds") {
            options.grace_period =
                Some(g.parse().map_err(|_| {
                    Error::bad_request(format!("invalid gracePeriodSeconds {g:?}"))
                })?);
        }
        if let Some(p) = ctx.param("propagationPolicy") {
            options.propagation = Some(p.to_owned());
        }
        Ok(options)
    }

    /// Reads a `DeleteOptions` object.
    pub fn from_value(body: &Value) -> Self {
        DeleteOptions {
            grace_period: body["gracePeriodSeconds"].as_i64(),
            uid: body["preconditions"]["uid"].as_str().map(str::to_owned),
            resource_version: body["preconditions"]["resourceVersion"]
                .as_str()
                .map(str::to_owned),
            propagation: body["propagationPolicy"].as_str().map(str::to_owned),
        }
    }
}

/// `DELETE …/<resource>/<name>`.
pub async fn delete(ctx: &Ctx) -> Result<Response<Body>> {
    let options = DeleteOptions::from_ctx(ctx)?;
    let (code, body) = delete_object(ctx, ctx.name(), &options).await?;
    respond(ctx, code, body)
}

/// Deletes one object honouring preconditions, finalizers and graceful deletion; returns the
/// response code and body (the object, or a Success Status).
pub async fn delete_object(
    ctx: &Ctx,
    name: &str,
    options: &DeleteOptions,
) -> Result<(StatusCode, Value)> {
    // The propagation policy was validated with the other DeleteOptions (options.rs).
    let def: &ResourceDef = &ctx.def;
    for _ in 0..MAX_RETRIES {
        let current = ctx
            .shared
            .registry
            .get(def, ctx.namespace.as_deref(), name)
            .await?;
        let current_rv = revision_of(&current)?.unwrap_or(0);
        check_delete_preconditions(def, options, &current)?;
        let request = admission_request(ctx, Operation::Delete, name);
        ctx.shared
            .admission
            .validate(&request, &current, Some(&current))
            .await?;
        if ctx.dry_run() {
            return Ok((StatusCode::OK, current));
        }
        let mut marked = current.clone();
        let already = !current["metadata"]["deletionTimestamp"].is_null();
        let mut keep = false;
        if def.kind == "Namespace" && def.group.is_empty() {
            // The namespace finalizer (server.rs) empties it, then removes it.
            if !already {
                meta_mut(&mut marked)
                    .insert("deletionTimestamp".into(), json!(registry::now_rfc3339()));
                meta_mut(&mut marked).insert("deletionGracePeriodSeconds".into(), json!(0));
            }
            marked["status"]["phase"] = json!("Terminating");
            keep = true;
        } else if is_crd(def) {
            // The CRD loop (crd.rs) deletes its objects, then the CRD (`customresourcecleanup`).
            if !already {
                meta_mut(&mut marked)
                    .insert("deletionTimestamp".into(), json!(registry::now_rfc3339()));
                meta_mut(&mut marked).insert("deletionGracePeriodSeconds".into(), json!(0));
            }
            keep = true;
        } else if def.strategy.graceful_delete {
            let bound = current["spec"]["nodeName"]
                .as_str()
                .is_some_and(|n| !n.is_empty());
            let terminal = matches!(
                current["status"]["phase"].as_str(),
                Some("Succeeded" | "Failed")
            );
            let default_grace = current["spec"]["terminationGracePeriodSeconds"]
                .as_i64()
                .unwrap_or(30);
            let mut grace = options.grace_period.unwrap_or(default_grace).max(0);
            if !bound || terminal {
                grace = 0;
            }
            let current_grace = current["metadata"]["deletionGracePeriodSeconds"].as_i64();
            if grace > 0 && current_grace.is_none_or(|g| grace < g) {
                meta_mut(&mut marked).insert("deletionTimestamp".into(), json!(rfc3339_in(grace)));
                meta_mut(&mut marked).insert("deletionGracePeriodSeconds".into(), json!(grace));
                keep = true;
            } else if grace > 0 {
                return Ok((StatusCode::OK, current));
            } else {
                if !already {
                    meta_mut(&mut marked)
                        .insert("deletionTimestamp".into(), json!(registry::now_rfc3339()));
                }
                meta_mut(&mut marked).insert("deletionGracePeriodSeconds".into(), json!(0));
            }
        }
        // Foreground and Orphan deletion hand over to the garbage collector through a finalizer,
        // as upstream; Background (the default) deletes now and lets the GC find the dependents.
        let gc_finalizer = match options.propagation.as_deref() {
            Some("Foreground") => Some("foregroundDeletion"),
            Some("Orphan") => Some("orphan"),
            _ => None,
        };
        if let Some(finalizer) = gc_finalizer.filter(|_| !is_crd(def) && def.kind != "Namespace") {
            if !finalizers_of(&marked).iter().any(|f| f == finalizer) {
                let list = meta_mut(&mut marked)
                    .entry("finalizers")
                    .or_insert_with(|| json!([]));
                if let Some(list) = list.as_array_mut() {
                    list.push(json!(finalizer));
                }
            }
        }
        if !finalizers_of(&marked).is_empty() {
            if marked["metadata"]["deletionTimestamp"].is_null() {
                meta_mut(&mut marked)
                    .insert("deletionTimestamp".into(), json!(registry::now_rfc3339()));
                meta_mut(&mut marked).insert("deletionGracePeriodSeconds".into(), json!(0));
            }
            keep = true;
        }
        if keep {
            if marked == current {
                return Ok((StatusCode::OK, current));
            }
            match ctx.shared.registry.update(def, &marked, current_rv).await {
                Err(Error::Conflict { .. }) => continue,
                Err(e) => return Err(e),
                Ok(updated) => {
                    if def.kind == "Namespace" {
                        ctx.shared.namespace_wakeup.notify_one();
                    }
                    crd_written(ctx, &updated);
                    return Ok((StatusCode::OK, updated));
                }
            }
        }
        match ctx
            .shared
            .registry
            .delete(def, ctx.namespace.as_deref(), name, Some(current_rv))
            .await
        {
            Err(Error::Conflict { .. }) => continue,
            Err(e) => return Err(e),
            Ok(deleted) => {
                if def.strategy.graceful_delete {
                    return Ok((StatusCode::OK, marked));
                }
                let mut details =
                    json!({ "name": name, "kind": def.plural, "uid": deleted["metadata"]["uid"] });
                if !def.group.is_empty() {
                    details["group"] = json!(def.group);
                }
                return Ok((StatusCode::OK, success_status(Some(details))));
            }
        }
    }
    Err(registry::conflict(def, name))
}

/// The preconditions of a delete, as upstream's `rest.BeforeDelete` checks them: a Conflict on
/// the *Kind* (`Operation cannot be fulfilled on ConfigMap "x": the UID in the precondition …`,
/// `details.kind` the Kind, `details.group` its group).
fn check_delete_preconditions(
    def: &ResourceDef,
    options: &DeleteOptions,
    current: &Value,
) -> Result<()> {
    let conflict = |message: String| Error::Conflict {
        resource: if def.group.is_empty() {
            def.kind.clone()
        } else {
            format!("{}.{}", def.kind, def.group)
        },
        name: name_of(current),
        message,
    };
    if let Some(uid) = &options.uid {
        let actual = current["metadata"]["uid"].as_str().unwrap_or_default();
        if uid != actual {
            return Err(conflict(format!("the UID in the precondition ({uid}) does not match the UID in record ({actual}). The object might have been deleted and then recreated")));
        }
    }
    if let Some(rv) = &options.resource_version {
        let actual = current["metadata"]["resourceVersion"]
            .as_str()
            .unwrap_or_default();
        if rv != actual {
            return Err(conflict(format!("the ResourceVersion in the precondition ({rv}) does not match the ResourceVersion in record ({actual}). The object might have been modified")));
        }
    }
    Ok(())
}

/// The UID precondition of an update (upstream's `defaultUpdatedObjectInfo.Preconditions`): a
/// `metadata.uid` in the body must be the stored one; the store's `Preconditions.Check` fails
/// with a StorageError that `InterpretUpdateError` wraps in a Conflict.
fn check_update_uid_precondition(ctx: &Ctx, body: &Value, current: &Value) -> Result<()> {
    let given = body["metadata"]["uid"].as_str().unwrap_or_default();
    let actual = current["metadata"]["uid"].as_str().unwrap_or_default();
    if given.is_empty() || given == actual {
        return Ok(());
    }
    let name = name_of(current);
    let key = ctx
        .shared
        .registry
        .key(&ctx.def, ctx.namespace.as_deref(), &name);
    Err(Error::Conflict {
        resource: ctx.def.qualified(),
        name,
        message: format!("StorageError: invalid object, Code: 4, Key: {key}, ResourceVersion: 0, AdditionalErrorMsg: Precondition failed: UID in precondition: {given}, UID in object meta: {actual}"),
    })
}

/// `DELETE …/<resource>`: deletes every matching object; returns them as a list.
pub async fn delete_collection(ctx: &Ctx) -> Result<Response<Body>> {
    let options = DeleteOptions::from_ctx(ctx)?;
    let filter = Filter::from_ctx(ctx)?;
    let filter_fn = |obj: &Value| filter.matches(obj);
    let page = ctx
        .shared
        .registry
        .list(
            &ctx.def,
            ctx.namespace.as_deref(),
            ListOptions {
                filter: Some(&filter_fn),
                ..Default::default()
            },
        )
        .await?;
    let mut deleted = Vec::new();
    for item in page.items {
        let name = name_of(&item);
        let mut item_ctx = ctx.clone();
        item_ctx.namespace = registry::namespace_of(&item);
        match delete_object(&item_ctx, &name, &options).await {
            Ok(_) => deleted.push(item),
            Err(Error::NotFound { .. }) => {}
            Err(e) => return Err(e),
        }
    }
    let list = json!({
        "kind": ctx.def.list_kind(),
        "apiVersion": ctx.def.api_version(),
        "metadata": { "resourceVersion": page.revision.to_string() },
        "items": deleted,
    });
    respond(ctx, StatusCode::OK, list)
}
