//! Writes: create, update, patch (JSON, merge, strategic, server-side apply), delete,
//! deletecollection.
//!
//! Creates and updates run upstream's steps in upstream's order
//! (`endpoints/handlers/create.go`/`update.go`, then `registry/generic/registry/store.go`
//! `Create`/`Update` with `rest.BeforeCreate`/`BeforeUpdate`), each once:
//!
//! 1. **decode**: the body (JSON, YAML, protobuf; a patch applied to the stored object),
//!    `apiVersion`/`kind` checked, decoded as the kind's type (unknown fields pruned, or a 400
//!    with `fieldValidation=Strict`);
//! 2. **defaults**: [`Strategy::defaults`](crate::strategy::Strategy::defaults) (main resource);
//!    the request's metadata: namespace, no system fields (create), name and namespace matching
//!    the stored object (update);
//! 3. **mutating admission**: namespace lifecycle (404 missing, 403 terminating; creates), then
//!    the [`Admission`](crate::Admission) plugins;
//! 4. **strategy prepare**: system metadata (`uid`, `creationTimestamp`, the name from
//!    `generateName`, `generation`), the storage's begin hook (Service IP allocation), then
//!    `PrepareForCreate` / `PrepareForUpdate` (status reset or kept, generation bump);
//!    managedFields recorded for the request's field manager;
//! 5. **validation**: a custom resource's CRD schema (pruning and its defaults included), then
//!    object metadata and the kind's rules;
//! 6. **validating admission**;
//! 7. **store**: compare-and-swap on the revision (`dryRun=All` stops before it; an update that
//!    removes the last finalizer of an object being deleted deletes it).

use std::sync::Arc;

use http::{Response, StatusCode};
use kernel_store::Revision;
use serde_json::{json, Value};

use super::read::{respond, Filter};
use super::{Body, Ctx};
use crate::admission::{AdmissionRequest, Operation};
use crate::meta::{generate_name, generated_prefix, should_delete_now};
use crate::registry::{
    self, finalizers_of, meta_mut, name_of, revision_of, rfc3339_in, ListOptions,
};
use crate::resources::{ResourceDef, Subresource};
use crate::rest::{
    before_update, check_update_target, create_request_metadata, fill_system_fields,
};
use crate::status::{success_status, Error, Result};
use crate::strategy::Deletion;
use crate::{apply, patch};

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

/// Step 1, decode: `apiVersion`/`kind` against the resource, then the decode as the kind's
/// type (with `fieldValidation=Strict`, unknown fields are a 400).
fn decode(ctx: &Ctx, obj: &mut Value) -> Result<()> {
    registry::check_type(&ctx.def, obj)?;
    registry::typed_check(&ctx.def, obj, strict(ctx))
}

fn strict(ctx: &Ctx) -> bool {
    ctx.param("fieldValidation") == Some("Strict")
}

/// Step 5, validation: the CRD schema of a custom resource, then metadata and the kind's rules.
fn validate(ctx: &Ctx, obj: &mut Value, old: Option<&Value>) -> Result<()> {
    crate::crd::validate_custom(&ctx.def, obj, strict(ctx))?;
    crate::rest::validate(&ctx.def, obj, old)
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

/// Creates `obj` through the whole pipeline (see the module docs). `applied` marks a
/// server-side apply (its field set is recorded instead of an `Update` entry).
pub async fn create_object(
    ctx: &Ctx,
    mut obj: Value,
    operation: Operation,
    applied: Option<bool>,
) -> Result<Arc<Value>> {
    let def = &ctx.def;
    decode(ctx, &mut obj)?;
    def.strategy.defaults(&mut obj);
    create_request_metadata(def, &mut obj, ctx.namespace.as_deref())?;
    let unnamed = name_of(&obj).is_empty();

    // Mutating admission: NamespaceLifecycle first, as upstream orders its plugins. The object
    // has no uid, creationTimestamp or generated name yet.
    check_namespace(ctx, &name_of(&obj)).await?;
    let request = admission_request(ctx, operation, &name_of(&obj));
    ctx.shared.admission.mutate(&request, &mut obj).await?;

    fill_system_fields(def, &mut obj);
    if let Some(hooks) = ctx.shared.hooks(def) {
        hooks.begin_write(&ctx.shared, def, &mut obj, None).await?;
    }
    def.strategy
        .prepare_for_create(&mut obj, def.has(Subresource::Status));
    if applied.is_none() {
        apply::record_update(
            &mut obj,
            None,
            &ctx.field_manager(),
            &def.api_version(),
            None,
        );
    }

    validate(ctx, &mut obj, None)?;
    // Validating admission sees the generated name (upstream's AdmissionToValidateObjectFunc).
    let request = admission_request(ctx, operation, &name_of(&obj));
    ctx.shared.admission.validate(&request, &obj, None).await?;

    if ctx.dry_run() {
        return Ok(Arc::new(obj));
    }
    // Upstream (RetryGenerateName, on by default since v1.32) retries a name collision of a
    // `generateName` create with fresh suffixes before answering 409.
    let generated = generated_prefix(&obj).filter(|_| unnamed);
    let mut attempts = 0;
    let created = loop {
        match ctx.shared.registry.insert(def, &obj).await {
            Err(Error::AlreadyExists { .. }) if generated.is_some() && attempts < 7 => {
                attempts += 1;
                let base = generated.as_deref().unwrap_or_default();
                meta_mut(&mut obj).insert("name".into(), serde_json::json!(generate_name(base)));
            }
            other => {
                let revision = other?;
                break hand_to_watch_cache(ctx, registry::with_revision(obj, revision)?, revision);
            }
        }
    };
    ctx.shared.written(def, &created);
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

/// Writes `new` over `current` through the update pipeline (see the module docs); for the main
/// resource (`subresource` None) upstream's defaults are applied. `record_manager` records the
/// request's field manager (server-side apply records its own). Deletes the object instead when
/// it is marked for deletion and its last finalizer went away.
pub async fn update_object(
    ctx: &Ctx,
    mut new: Value,
    current: &Value,
    subresource: Option<Subresource>,
    record_manager: bool,
) -> Result<Arc<Value>> {
    let def = &ctx.def;
    decode(ctx, &mut new)?;
    if subresource.is_none() {
        def.strategy.defaults(&mut new);
    }
    check_update_target(&new, current)?;

    let request = admission_request(ctx, Operation::Update, &name_of(current));
    ctx.shared.admission.mutate(&request, &mut new).await?;

    if let Some(hooks) = ctx.shared.hooks(def).filter(|_| subresource.is_none()) {
        hooks
            .begin_write(&ctx.shared, def, &mut new, Some(current))
            .await?;
    }
    before_update(def, &mut new, current, subresource);
    if record_manager {
        let sub = subresource.map(Subresource::name);
        apply::record_update(
            &mut new,
            Some(current),
            &ctx.field_manager(),
            &def.api_version(),
            sub,
        );
    }

    validate(ctx, &mut new, Some(current))?;
    ctx.shared
        .admission
        .validate(&request, &new, Some(current))
        .await?;

    let expected = revision_of(current)?.unwrap_or(0);
    if ctx.dry_run() {
        return Ok(Arc::new(new));
    }
    if should_delete_now(&new) {
        let name = name_of(current);
        ctx.shared
            .registry
            .delete(def, ctx.namespace.as_deref(), &name, Some(expected))
            .await?;
        return Ok(Arc::new(new));
    }
    if new == *current {
        return Ok(Arc::new(new));
    }
    let revision = ctx.shared.registry.replace(def, &new, expected).await?;
    let updated = hand_to_watch_cache(ctx, registry::with_revision(new, revision)?, revision);
    ctx.shared.written(def, &updated);
    Ok(updated)
}

/// `obj`, just written at `revision`, shared with the watch cache so that the cache need not
/// decode the store's bytes of the same write (only for resources stored as served).
pub fn hand_to_watch_cache(ctx: &Ctx, obj: Value, revision: Revision) -> Arc<Value> {
    let obj = Arc::new(obj);
    let def = &ctx.def;
    if !def.flags.custom && def.flags.conversion.is_none() {
        let registry = &ctx.shared.registry;
        let key = registry.key(def, registry::namespace_of(&obj).as_deref(), &name_of(&obj));
        ctx.shared
            .watch_cache
            .hand_over(&registry.list_prefix(def, None), &key, revision, &obj);
    }
    obj
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
    let force = crate::options::query_flag(ctx.param("force"));
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
        let deletion = def.strategy.deletion(&current, options.grace_period);
        match deletion {
            Deletion::Finalized => {
                // A controller empties it, then removes it: the namespace finalizer (server.rs),
                // the CRD loop (crd.rs, `customresourcecleanup`).
                if !already {
                    meta_mut(&mut marked)
                        .insert("deletionTimestamp".into(), json!(registry::now_rfc3339()));
                    meta_mut(&mut marked).insert("deletionGracePeriodSeconds".into(), json!(0));
                }
                def.strategy.prepare_for_delete(&mut marked);
                keep = true;
            }
            Deletion::Graceful(grace) => {
                let current_grace = current["metadata"]["deletionGracePeriodSeconds"].as_i64();
                if grace > 0 && current_grace.is_none_or(|g| grace < g) {
                    meta_mut(&mut marked)
                        .insert("deletionTimestamp".into(), json!(rfc3339_in(grace)));
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
            Deletion::Immediate => {}
        }
        // Foreground and Orphan deletion hand over to the garbage collector through a finalizer,
        // as upstream; Background (the default) deletes now and lets the GC find the dependents.
        let gc_finalizer = match options.propagation.as_deref() {
            Some("Foreground") => Some("foregroundDeletion"),
            Some("Orphan") => Some("orphan"),
            _ => None,
        };
        if let Some(finalizer) = gc_finalizer.filter(|_| deletion != Deletion::Finalized) {
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
                    ctx.shared.written(def, &updated);
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
                if matches!(deletion, Deletion::Graceful(_)) {
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
