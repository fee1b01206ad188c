//! Serving CustomResourceDefinitions: each served version of a CRD becomes a [`ResourceDef`]
//! (upstream's `apiextensions-apiserver` handler), and the CRD's status reports
//! `NamesAccepted` and `Established`.
//!
//! Registration happens synchronously after a CRD write (so the very next request can use the
//! new resource) and again in a small reconcile loop that also catches CRDs written by another
//! API server sharing the store and sets status conditions. Deleting a CRD stops serving it and
//! deletes its objects.
//!
//! Not yet: structural-schema validation and pruning, defaulting from the schema, conversion
//! between versions (every version reads the stored object as is), custom scale paths (the
//! scale subresource uses `.spec.replicas` / `.status.replicas`).

use std::sync::Weak;
use std::time::Duration;

use serde_json::{json, Value};

use crate::registry::{name_of, now_rfc3339, revision_of, ListOptions};
use crate::resources::{ResourceDef, Subresource};
use crate::server::Shared;
use crate::status::{Error, Result};

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
        def.strategy.custom = true;
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
        .remove_where(|d| d.strategy.custom && d.group == group && d.plural == plural);
    if crd["metadata"]["deletionTimestamp"].is_null() {
        for def in defs {
            shared.resources.insert(def);
        }
    }
    shared.invalidate_openapi();
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
        d.strategy.custom && !live.iter().any(|(g, p)| *g == d.group && *p == d.plural)
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
