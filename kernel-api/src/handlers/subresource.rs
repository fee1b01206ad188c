//! Subresources with their own shapes: `scale`, `pods/binding`, `pods/eviction`,
//! `namespaces/finalize`. (`status` goes through the generic update path.)

use http::{Method, Response, StatusCode};
use serde_json::{json, Value};
use std::sync::Arc;

use super::read::respond;
use super::write::{apply_patch_document, delete_object, update_object, DeleteOptions};
use super::{Body, Ctx};
use crate::registry::{self, revision_of};
use crate::resources::Subresource;
use crate::status::{success_status, Error, Result};

/// The `autoscaling/v1` Scale of an object with `spec.replicas`.
fn scale_of(obj: &Value) -> Value {
    let meta = &obj["metadata"];
    let selector = obj["spec"]["selector"]["matchLabels"]
        .as_object()
        .map(|m| {
            m.iter()
                .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or_default()))
                .collect::<Vec<_>>()
                .join(",")
        })
        .or_else(|| {
            obj["spec"]["selector"]
                .as_object()
                .filter(|m| !m.contains_key("matchLabels") && !m.contains_key("matchExpressions"))
                .map(|m| {
                    m.iter()
                        .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or_default()))
                        .collect::<Vec<_>>()
                        .join(",")
                })
        })
        .unwrap_or_default();
    let mut status = json!({ "replicas": obj["status"]["replicas"].as_i64().unwrap_or(0) });
    if !selector.is_empty() {
        status["selector"] = json!(selector);
    }
    json!({
        "kind": "Scale",
        "apiVersion": "autoscaling/v1",
        "metadata": {
            "name": meta["name"],
            "namespace": meta["namespace"],
            "uid": meta["uid"],
            "resourceVersion": meta["resourceVersion"],
            "creationTimestamp": meta["creationTimestamp"],
        },
        "spec": { "replicas": obj["spec"]["replicas"].as_i64().unwrap_or(1) },
        "status": status,
    })
}

/// `GET`/`PUT`/`PATCH …/scale`.
pub async fn scale(ctx: &Ctx) -> Result<Response<Body>> {
    for _ in 0..8 {
        let current = ctx
            .shared
            .registry
            .get(&ctx.def, ctx.namespace.as_deref(), ctx.name())
            .await?;
        let scale = scale_of(&current);
        let wanted = match ctx.info.verb.as_str() {
            "get" => return respond(ctx, StatusCode::OK, scale),
            "update" => ctx.decode_body()?,
            _ => {
                let patch = ctx.decode_body()?;
                let ct = ctx.content_type();
                let ct = if ct == "application/strategic-merge-patch+json" {
                    "application/merge-patch+json".to_owned()
                } else {
                    ct
                };
                apply_patch_document(ctx, &scale, &patch, &ct)?
            }
        };
        if let Some(rv) = revision_of(&wanted)? {
            if Some(rv) != revision_of(&current)? {
                return Err(registry::conflict(&ctx.def, ctx.name()));
            }
        }
        let Some(replicas) = wanted["spec"]["replicas"].as_i64() else {
            return Err(Error::Invalid {
                kind: "Scale".into(),
                group: "autoscaling".into(),
                name: ctx.name().into(),
                causes: vec![crate::status::StatusCause::required("spec.replicas")],
            });
        };
        if replicas < 0 {
            return Err(Error::Invalid {
                kind: "Scale".into(),
                group: "autoscaling".into(),
                name: ctx.name().into(),
                causes: vec![crate::status::StatusCause::invalid(
                    "spec.replicas",
                    &json!(replicas),
                    "must be greater than or equal to 0",
                )],
            });
        }
        let mut new = current.clone();
        if !(new["spec"].is_object() || new["spec"].is_null()) {
            return Err(Error::bad_request("spec is not an object: cannot scale"));
        }
        new["spec"]["replicas"] = json!(replicas);
        match update_object(ctx, new, &current, None, true).await {
            Err(Error::Conflict { .. }) => continue,
            Err(e) => return Err(e),
            Ok(updated) => return respond(ctx, StatusCode::OK, scale_of(&updated)),
        }
    }
    Err(registry::conflict(&ctx.def, ctx.name()))
}

/// `POST pods/<name>/binding`: sets `spec.nodeName`; 409 if the pod is already bound.
pub async fn binding(ctx: &Ctx) -> Result<Response<Body>> {
    let binding = ctx.decode_body()?;
    let node = binding["target"]["name"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    if node.is_empty() {
        return Err(Error::Invalid {
            kind: "Binding".into(),
            group: String::new(),
            name: ctx.name().into(),
            causes: vec![crate::status::StatusCause::required("target.name")],
        });
    }
    let conflict = |message: String| Error::Conflict {
        resource: "pods/binding".into(),
        name: ctx.name().into(),
        message,
    };
    // The first attempt starts from the watch cache's copy of the pod, if it has one (as
    // upstream's GuaranteedUpdate does): a stale copy fails the checks or the compare-and-swap
    // below, and every later attempt reads the store.
    let registry = &ctx.shared.registry;
    let mut cached = if ctx.def.flags.conversion.is_none() {
        let key = registry.key(&ctx.def, ctx.namespace.as_deref(), ctx.name());
        ctx.shared
            .watch_cache
            .get(&registry.list_prefix(&ctx.def, None), &key)
    } else {
        None
    };
    for _ in 0..8 {
        let from_cache = cached.is_some();
        let current = match cached.take() {
            Some(object) => Arc::unwrap_or_clone(object),
            None => {
                registry
                    .get(&ctx.def, ctx.namespace.as_deref(), ctx.name())
                    .await?
            }
        };
        let rejected = !current["metadata"]["deletionTimestamp"].is_null()
            || current["spec"]["nodeName"]
                .as_str()
                .is_some_and(|n| !n.is_empty())
            || binding["metadata"]["uid"]
                .as_str()
                .is_some_and(|u| !u.is_empty() && current["metadata"]["uid"].as_str() != Some(u));
        if rejected && from_cache {
            continue;
        }
        if !current["metadata"]["deletionTimestamp"].is_null() {
            return Err(conflict(format!(
                "pod {} is being deleted, cannot be assigned to a host",
                ctx.name()
            )));
        }
        if let Some(existing) = current["spec"]["nodeName"]
            .as_str()
            .filter(|n| !n.is_empty())
        {
            return Err(conflict(format!(
                "pod {} is already assigned to node {existing:?}",
                ctx.name()
            )));
        }
        if let Some(uid) = binding["metadata"]["uid"]
            .as_str()
            .filter(|u| !u.is_empty())
        {
            if current["metadata"]["uid"].as_str() != Some(uid) {
                return Err(conflict(format!(
                    "Precondition failed: UID in precondition: {uid}"
                )));
            }
        }
        // Binding writes both spec and status, bypassing the status-preserving update strategy.
        let expected = revision_of(&current)?.unwrap_or(0);
        let mut new = current;
        new["spec"]["nodeName"] = json!(node);
        if let Some(annotations) = binding["metadata"]["annotations"].as_object() {
            for (k, v) in annotations {
                new["metadata"]["annotations"][k] = v.clone();
            }
        }
        let conditions = &mut new["status"]["conditions"];
        if let Some(list) = conditions.as_array_mut() {
            list.retain(|c| c["type"] != "PodScheduled");
        } else {
            *conditions = json!([]);
        }
        if let Some(list) = conditions.as_array_mut() {
            list.push(json!({ "type": "PodScheduled", "status": "True", "lastProbeTime": null, "lastTransitionTime": registry::now_rfc3339() }));
        }
        if ctx.dry_run() {
            return respond(ctx, StatusCode::CREATED, success_status(None));
        }
        match ctx.shared.registry.replace(&ctx.def, &new, expected).await {
            Err(Error::Conflict { .. }) => continue,
            Err(e) => return Err(e),
            Ok(revision) => {
                super::write::hand_to_watch_cache(
                    ctx,
                    registry::with_revision(new, revision)?,
                    revision,
                );
                return respond(ctx, StatusCode::CREATED, success_status(None));
            }
        }
    }
    Err(registry::conflict(&ctx.def, ctx.name()))
}

/// `POST pods/<name>/eviction`: deletes the pod with the eviction's delete options, unless
/// its PodDisruptionBudget allows no disruption (429, which `kubectl drain` retries).
pub async fn eviction(ctx: &Ctx) -> Result<Response<Body>> {
    let eviction = ctx.decode_body()?;
    let options = DeleteOptions::from_value(&eviction["deleteOptions"]);
    let pod = ctx
        .shared
        .registry
        .get(&ctx.def, ctx.namespace.as_deref(), ctx.name())
        .await?;
    let phase = pod["status"]["phase"].as_str().unwrap_or("Pending");
    let can_ignore_budget = !pod["metadata"]["deletionTimestamp"].is_null()
        || matches!(phase, "Pending" | "Succeeded" | "Failed");
    if !can_ignore_budget && !ctx.dry_run() {
        check_disruption_budget(ctx, &pod).await?;
    }
    delete_object(ctx, ctx.name(), &options).await?;
    respond(ctx, StatusCode::CREATED, success_status(None))
}

/// Upstream's eviction check: at most one PodDisruptionBudget may select the pod; it must have
/// been observed by the disruption controller and allow a disruption, which the eviction uses up.
async fn check_disruption_budget(ctx: &Ctx, pod: &Value) -> Result<()> {
    let Some(pdb_def) = ctx
        .shared
        .resources
        .get("policy", "v1", "poddisruptionbudgets")
    else {
        return Ok(());
    };
    let labels = registry::labels_of(pod);
    let refuse = |detail: String| {
        Error::TooManyRequests(format!(
            "Cannot evict pod as it would violate the pod's disruption budget. {detail}"
        ))
    };
    for _ in 0..8 {
        let budgets = ctx
            .shared
            .registry
            .list(
                &pdb_def,
                ctx.namespace.as_deref(),
                crate::registry::ListOptions::default(),
            )
            .await?;
        let matching: Vec<&Value> = budgets
            .items
            .iter()
            .filter(|pdb| {
                let Ok(selector) = serde_json::from_value::<
                    k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector,
                >(pdb["spec"]["selector"].clone()) else {
                    return false;
                };
                !pdb["spec"]["selector"].is_null()
                    && kernel_core::labels::Selector::from_meta(&selector)
                        .is_ok_and(|s| s.matches(&labels))
            })
            .collect();
        let pdb = match matching.as_slice() {
            [] => return Ok(()),
            [one] => (*one).clone(),
            _ => {
                return Err(Error::internal(
                    "This pod has more than one PodDisruptionBudget, which the eviction subresource does not support.",
                ))
            }
        };
        let name = registry::name_of(&pdb);
        let generation = pdb["metadata"]["generation"].as_i64().unwrap_or(0);
        if pdb["status"]["observedGeneration"].as_i64().unwrap_or(0) < generation {
            return Err(refuse(format!(
                "The disruption budget {name} is still being processed by the server."
            )));
        }
        let allowed = pdb["status"]["disruptionsAllowed"].as_i64().unwrap_or(0);
        if allowed <= 0 {
            return Err(refuse(format!(
                "The disruption budget {name} needs {} healthy pods and has {} currently",
                pdb["status"]["desiredHealthy"].as_i64().unwrap_or(0),
                pdb["status"]["currentHealthy"].as_i64().unwrap_or(0)
            )));
        }
        let mut updated = pdb.clone();
        updated["status"]["disruptionsAllowed"] = json!(allowed - 1);
        updated["status"]["disruptedPods"][ctx.name()] = json!(registry::now_rfc3339());
        let rv = revision_of(&pdb)?.unwrap_or(0);
        match ctx.shared.registry.update(&pdb_def, &updated, rv).await {
            Err(Error::Conflict { .. }) => continue,
            Err(e) => return Err(e),
            Ok(_) => return Ok(()),
        }
    }
    Err(refuse(String::new()))
}

/// `PUT namespaces/<name>/finalize`: replaces `spec.finalizers` only.
pub async fn finalize(ctx: &Ctx) -> Result<Response<Body>> {
    debug_assert!(
        ctx.subresource == Some(Subresource::Finalize) || ctx.info.verb == Method::PUT.as_str()
    );
    let wanted = ctx.decode_body()?;
    let current = ctx.shared.registry.get(&ctx.def, None, ctx.name()).await?;
    let mut new = current.clone();
    new["spec"]["finalizers"] = wanted["spec"]["finalizers"].clone();
    let expected = revision_of(&current)?.unwrap_or(0);
    let updated = ctx.shared.registry.update(&ctx.def, &new, expected).await?;
    ctx.shared.namespace_wakeup.notify_one();
    respond(ctx, StatusCode::OK, updated)
}

/// `POST serviceaccounts/<name>/token` (TokenRequest): a bearer token for the service account,
/// accepted by this server's authentication (see [`crate::auth::ServiceAccountTokens`]).
pub async fn token(ctx: &Ctx) -> Result<Response<Body>> {
    let sa = ctx
        .shared
        .registry
        .get(&ctx.def, ctx.namespace.as_deref(), ctx.name())
        .await?;
    let request = if ctx.body.iter().all(u8::is_ascii_whitespace) {
        json!({})
    } else {
        ctx.decode_body()?
    };
    let expiration = request["spec"]["expirationSeconds"]
        .as_i64()
        .unwrap_or(3600);
    if expiration < 600 {
        return Err(Error::Invalid {
            kind: "TokenRequest".into(),
            group: "authentication.k8s.io".into(),
            name: ctx.name().into(),
            causes: vec![crate::status::StatusCause::new(
                "FieldValueInvalid",
                "spec.expirationSeconds",
                format!(
                    "Invalid value: {expiration}: may not specify a duration less than 10 minutes"
                ),
            )],
        });
    }
    let audiences = match request["spec"]["audiences"].as_array() {
        Some(a) if !a.is_empty() => Value::Array(a.clone()),
        _ => json!(["https://kubernetes.default.svc.cluster.local"]),
    };
    let namespace = ctx.namespace.clone().unwrap_or_default();
    let uid = sa["metadata"]["uid"].as_str().unwrap_or_default();
    let token = ctx.shared.service_account_tokens.issue(
        &namespace,
        ctx.name(),
        uid,
        std::time::Duration::from_secs(expiration as u64),
    );
    let mut spec = json!({ "audiences": audiences, "expirationSeconds": expiration });
    if request["spec"]["boundObjectRef"].is_object() {
        spec["boundObjectRef"] = request["spec"]["boundObjectRef"].clone();
    }
    let response = json!({
        "apiVersion": "authentication.k8s.io/v1",
        "kind": "TokenRequest",
        "metadata": { "name": ctx.name(), "namespace": namespace, "creationTimestamp": registry::now_rfc3339() },
        "spec": spec,
        "status": { "token": token, "expirationTimestamp": registry::rfc3339_in(expiration) },
    });
    respond(ctx, StatusCode::CREATED, response)
}
