//! The three PATCH flavours of the Kubernetes API over `serde_json::Value`:
//! JSON patch (RFC 6902), JSON merge patch (RFC 7386) and strategic merge
//! patch.
//!
//! JSON patch and merge patch delegate to the `json-patch` crate. The strategic
//! merge patch is this crate's own implementation of the apply side of
//! `k8s.io/apimachinery/pkg/util/strategicpatch/patch.go` (`mergeMap`,
//! `mergeSlice`, `normalizeElementOrder`, the `$patch`, `$retainKeys`,
//! `$deleteFromPrimitiveList/…` and `$setElementOrder/…` directives), driven by
//! a small hand-written table of the `patchStrategy`/`patchMergeKey` struct
//! tags of the built-in `k8s.io/api` types (see [`field_strategy`]).

use std::collections::HashSet;

use serde_json::{Map, Value};

/// Why a patch could not be applied.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PatchError {
    /// The patch document itself is malformed (HTTP 400 upstream).
    #[error("{0}")]
    Invalid(String),
    /// A JSON patch `test` operation did not hold (HTTP 422 upstream).
    #[error("{0}")]
    TestFailed(String),
    /// The patch is well-formed but cannot be applied to this object
    /// (missing path, missing merge key, …; HTTP 422 upstream).
    #[error("{0}")]
    Apply(String),
}

impl PatchError {
    /// The HTTP status code the API server answers with for this error.
    pub fn status_code(&self) -> u16 {
        match self {
            PatchError::Invalid(_) => 400,
            PatchError::TestFailed(_) | PatchError::Apply(_) => 422,
        }
    }
}

/// Applies an RFC 6902 JSON patch (an array of operations, `test` included)
/// to `doc`, atomically: on error `doc` is left unchanged.
pub fn json_patch(doc: &mut Value, patch: &Value) -> Result<(), PatchError> {
    let ops: json_patch::Patch = serde_json::from_value(patch.clone())
        .map_err(|e| PatchError::Invalid(format!("invalid JSON patch: {e}")))?;
    json_patch::patch(doc, &ops.0).map_err(|e| match e.kind {
        json_patch::PatchErrorKind::TestFailed => PatchError::TestFailed(e.to_string()),
        _ => PatchError::Apply(e.to_string()),
    })
}

/// Applies an RFC 7386 JSON merge patch: objects merge recursively, `null`
/// deletes, everything else (lists included) replaces.
pub fn merge_patch(doc: &mut Value, patch: &Value) {
    json_patch::merge(doc, patch);
}

// ---------------------------------------------------------------------------
// Strategic merge patch
// ---------------------------------------------------------------------------

const DIRECTIVE: &str = "$patch";
const RETAIN_KEYS: &str = "$retainKeys";
const DELETE_FROM_PRIMITIVE_LIST: &str = "$deleteFromPrimitiveList/";
const SET_ELEMENT_ORDER: &str = "$setElementOrder/";

/// How a list field is patched (the `patchStrategy` struct tag).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListStrategy {
    /// No strategy: the patch's list replaces the live one (atomic).
    Replace,
    /// `patchStrategy:"merge"` on a list of scalars: union, de-duplicated.
    MergePrimitive,
    /// `patchStrategy:"merge" patchMergeKey:"<key>"`: elements merged by key.
    MergeKey(&'static str),
}

/// The schema position while walking an object: which Go type we are in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ty {
    Root(RootKind),
    Meta,
    PodTemplateSpec,
    PodSpec,
    Container,
    PodStatus,
    WorkloadSpec,
    CronJobSpec,
    JobTemplateSpec,
    ServiceSpec,
    NodeSpec,
    NodeStatus,
    ConditionsStatus,
    Generic,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RootKind {
    Pod,
    Workload,
    CronJob,
    PodTemplate,
    Service,
    Node,
    Other,
}

fn root_kind(kind: &str) -> RootKind {
    match kind {
        "Pod" => RootKind::Pod,
        "Deployment"
        | "ReplicaSet"
        | "StatefulSet"
        | "DaemonSet"
        | "Job"
        | "ReplicationController" => RootKind::Workload,
        "CronJob" => RootKind::CronJob,
        "PodTemplate" => RootKind::PodTemplate,
        "Service" => RootKind::Service,
        "Node" => RootKind::Node,
        _ => RootKind::Other,
    }
}

/// The schema type of field `name` inside `ty`, and the list strategy that
/// applies if the field is a list.
fn child(ty: Ty, name: &str) -> (Ty, ListStrategy) {
    use ListStrategy::*;
    match (ty, name) {
        (Ty::Root(_), "metadata") => (Ty::Meta, Replace),
        (Ty::Root(RootKind::Pod), "spec") => (Ty::PodSpec, Replace),
        (Ty::Root(RootKind::Pod), "status") => (Ty::PodStatus, Replace),
        (Ty::Root(RootKind::Workload), "spec") => (Ty::WorkloadSpec, Replace),
        (Ty::Root(RootKind::CronJob), "spec") => (Ty::CronJobSpec, Replace),
        (Ty::Root(RootKind::PodTemplate), "template") => (Ty::PodTemplateSpec, Replace),
        (Ty::Root(RootKind::Service), "spec") => (Ty::ServiceSpec, Replace),
        (Ty::Root(RootKind::Node), "spec") => (Ty::NodeSpec, Replace),
        (Ty::Root(RootKind::Node), "status") => (Ty::NodeStatus, Replace),
        (Ty::Root(_), "status") => (Ty::ConditionsStatus, Replace),

        (Ty::Meta, "finalizers") => (Ty::Generic, MergePrimitive),
        (Ty::Meta, "ownerReferences") => (Ty::Generic, MergeKey("uid")),

        (Ty::WorkloadSpec, "template") => (Ty::PodTemplateSpec, Replace),
        (Ty::CronJobSpec, "jobTemplate") => (Ty::JobTemplateSpec, Replace),
        (Ty::JobTemplateSpec, "metadata") => (Ty::Meta, Replace),
        (Ty::JobTemplateSpec, "spec") => (Ty::WorkloadSpec, Replace),
        (Ty::PodTemplateSpec, "metadata") => (Ty::Meta, Replace),
        (Ty::PodTemplateSpec, "spec") => (Ty::PodSpec, Replace),

        (Ty::PodSpec, "containers" | "initContainers" | "ephemeralContainers") => {
            (Ty::Container, MergeKey("name"))
        }
        (Ty::PodSpec, "volumes" | "imagePullSecrets" | "schedulingGates" | "resourceClaims") => {
            (Ty::Generic, MergeKey("name"))
        }
        (Ty::PodSpec, "hostAliases") => (Ty::Generic, MergeKey("ip")),
        (Ty::PodSpec, "topologySpreadConstraints") => (Ty::Generic, MergeKey("topologyKey")),

        (Ty::Container, "ports") => (Ty::Generic, MergeKey("containerPort")),
        (Ty::Container, "env") => (Ty::Generic, MergeKey("name")),
        (Ty::Container, "volumeMounts") => (Ty::Generic, MergeKey("mountPath")),
        (Ty::Container, "volumeDevices") => (Ty::Generic, MergeKey("devicePath")),

        (Ty::PodStatus, "conditions") => (Ty::Generic, MergeKey("type")),
        (Ty::PodStatus, "podIPs" | "hostIPs") => (Ty::Generic, MergeKey("ip")),
        (Ty::PodStatus, "resourceClaimStatuses") => (Ty::Generic, MergeKey("name")),

        (Ty::ServiceSpec, "ports") => (Ty::Generic, MergeKey("port")),

        (Ty::NodeSpec, "podCIDRs") => (Ty::Generic, MergePrimitive),
        (Ty::NodeStatus, "conditions" | "addresses") => (Ty::Generic, MergeKey("type")),
        (Ty::ConditionsStatus, "conditions") => (Ty::Generic, MergeKey("type")),

        _ => (Ty::Generic, Replace),
    }
}

/// The list strategy of the field at `path` (field names from the object
/// root, list indices omitted) in an object of `kind`. For example
/// `field_strategy("Deployment", &["spec", "template", "spec", "containers"])`
/// is `MergeKey("name")`. Unknown kinds and fields are `Replace`.
pub fn field_strategy(kind: &str, path: &[&str]) -> ListStrategy {
    let mut ty = Ty::Root(root_kind(kind));
    let mut strategy = ListStrategy::Replace;
    for p in path {
        (ty, strategy) = child(ty, p);
    }
    strategy
}

/// Applies a Kubernetes strategic merge patch to `doc`, an object of the
/// built-in `kind` ("Pod", "Deployment", …). Atomic: on error `doc` is left
/// unchanged.
///
/// Maps merge recursively and `null` deletes a field. Lists follow the
/// schema's strategy: merged by their merge key (containers by `name`,
/// container ports by `containerPort`, service ports by `port`, conditions by
/// `type`, …), merged as sets (finalizers), or replaced (everything else,
/// tolerations included). Directives: `$patch: replace|delete` in maps and in
/// list elements, `$retainKeys`, `$deleteFromPrimitiveList/<field>` and
/// `$setElementOrder/<field>` (order honoured).
///
/// Differences from upstream: kinds without a schema here (custom resources)
/// are patched with every list replaced instead of being rejected with 415,
/// and `$patch: merge` on a map is accepted as a no-op instead of an error.
pub fn strategic_merge_patch(doc: &mut Value, patch: &Value, kind: &str) -> Result<(), PatchError> {
    let Value::Object(p) = patch else {
        return Err(PatchError::Invalid(
            "strategic merge patch must be a JSON object".to_string(),
        ));
    };
    let original = match doc {
        Value::Object(o) => o.clone(),
        Value::Null => Map::new(),
        _ => {
            return Err(PatchError::Invalid(
                "strategic merge patch can only be applied to a JSON object".to_string(),
            ))
        }
    };
    let merged = merge_map(original, p.clone(), Ty::Root(root_kind(kind)))?;
    *doc = Value::Object(merged);
    Ok(())
}

fn bad_patch_type(d: &Value, m: &Map<String, Value>) -> PatchError {
    PatchError::Invalid(format!(
        "unknown patch type: {} in map: {}",
        d.as_str()
            .map(str::to_string)
            .unwrap_or_else(|| d.to_string()),
        Value::Object(m.clone())
    ))
}

fn no_merge_key(m: &Map<String, Value>, key: &str) -> PatchError {
    PatchError::Apply(format!(
        "map: {} does not contain declared merge key: {key}",
        Value::Object(m.clone())
    ))
}

/// Patches a value that has no live counterpart: the patch applied to an
/// empty value of its own shape, so that directives are resolved and
/// stripped.
fn fresh(patch: Value, ty: Ty, strategy: ListStrategy) -> Result<Value, PatchError> {
    Ok(match patch {
        Value::Object(p) => Value::Object(merge_map(Map::new(), p, ty)?),
        Value::Array(p) => Value::Array(merge_list(Vec::new(), p, strategy, ty)?),
        other => other,
    })
}

fn merge_map(
    mut original: Map<String, Value>,
    mut patch: Map<String, Value>,
    ty: Ty,
) -> Result<Map<String, Value>, PatchError> {
    if let Some(d) = patch.remove(DIRECTIVE) {
        match d.as_str() {
            Some("replace") => return merge_map(Map::new(), patch, ty),
            Some("delete") => return Ok(Map::new()),
            Some("merge") => {}
            _ => {
                patch.insert(DIRECTIVE.to_string(), d.clone());
                return Err(bad_patch_type(&d, &patch));
            }
        }
    }

    if let Some(rk) = patch.remove(RETAIN_KEYS) {
        let Value::Array(list) = rk else {
            return Err(PatchError::Invalid(
                "invalid patch format of retainKeys".to_string(),
            ));
        };
        let keep: HashSet<&str> = list.iter().filter_map(Value::as_str).collect();
        for (k, v) in &patch {
            if v.is_null()
                || k.starts_with(DELETE_FROM_PRIMITIVE_LIST)
                || k.starts_with(SET_ELEMENT_ORDER)
            {
                continue;
            }
            if !keep.contains(k.as_str()) {
                return Err(PatchError::Apply(
                    "patch content doesn't match retainKeys list".to_string(),
                ));
            }
        }
        original.retain(|k, _| keep.contains(k.as_str()));
    }

    // $setElementOrder/<field>: merge that list now and order it as told.
    let order_keys: Vec<String> = patch
        .keys()
        .filter(|k| k.starts_with(SET_ELEMENT_ORDER))
        .cloned()
        .collect();
    for key in order_keys {
        let Some(Value::Array(order)) = patch.remove(&key) else {
            return Err(PatchError::Invalid(
                "invalid patch format of setElementOrder list".to_string(),
            ));
        };
        let field = key[SET_ELEMENT_ORDER.len()..].to_string();
        let (cty, strategy) = child(ty, &field);
        let live = match original.get(&field) {
            Some(Value::Array(a)) => Some(a.clone()),
            _ => None,
        };
        let patch_list = match patch.get(&field) {
            Some(Value::Array(_)) => match patch.remove(&field) {
                Some(Value::Array(a)) => Some(a),
                _ => None,
            },
            _ => None,
        };
        let merged = match (&live, patch_list) {
            (Some(l), None) => l.clone(),
            (_, Some(p)) => merge_list(live.clone().unwrap_or_default(), p, strategy, cty)?,
            (None, None) => continue,
        };
        let mkey = match strategy {
            ListStrategy::MergeKey(k) => Some(k),
            _ => None,
        };
        let ordered = normalize_order(merged, &order, live.as_deref().unwrap_or(&[]), mkey);
        original.insert(field, Value::Array(ordered));
    }

    for (k, pv) in patch {
        if let Some(field) = k.strip_prefix(DELETE_FROM_PRIMITIVE_LIST) {
            let Value::Array(del) = pv else {
                return Err(PatchError::Invalid(
                    "invalid patch format of primitive list".to_string(),
                ));
            };
            if let Some(Value::Array(live)) = original.get_mut(field) {
                live.retain(|x| !del.contains(x));
            }
            continue;
        }
        if pv.is_null() {
            original.remove(&k);
            continue;
        }
        let (cty, strategy) = child(ty, &k);
        let merged = match (original.remove(&k), pv) {
            (Some(Value::Object(o)), Value::Object(p)) => Value::Object(merge_map(o, p, cty)?),
            (Some(Value::Array(o)), Value::Array(p)) => {
                Value::Array(merge_list(o, p, strategy, cty)?)
            }
            (_, pv) => fresh(pv, cty, strategy)?,
        };
        original.insert(k, merged);
    }
    Ok(original)
}

fn merge_list(
    original: Vec<Value>,
    patch: Vec<Value>,
    strategy: ListStrategy,
    ty: Ty,
) -> Result<Vec<Value>, PatchError> {
    let key = match strategy {
        ListStrategy::Replace => {
            return patch
                .into_iter()
                .map(|v| fresh(v, ty, ListStrategy::Replace))
                .collect()
        }
        ListStrategy::MergePrimitive => None,
        ListStrategy::MergeKey(k) => Some(k),
    };
    if original.is_empty() && patch.is_empty() {
        return Ok(original);
    }
    let all_maps = original.iter().chain(&patch).all(Value::is_object);
    let no_maps = !original.iter().chain(&patch).any(Value::is_object);
    if !all_maps && !no_maps {
        return Err(PatchError::Apply(
            "list element types are not identical".to_string(),
        ));
    }
    if no_maps {
        // A set of scalars: union, first occurrence wins.
        let mut merged: Vec<Value> = Vec::with_capacity(original.len() + patch.len());
        for v in original.iter().chain(&patch) {
            if !merged.contains(v) {
                merged.push(v.clone());
            }
        }
        return Ok(normalize_order(merged, &patch, &original, None));
    }
    let Some(key) = key else {
        return Err(PatchError::Apply(
            "cannot merge lists without merge key for type map".to_string(),
        ));
    };

    // Special elements: {$patch: delete, key: v} and {$patch: replace}.
    let mut live = original;
    let mut items: Vec<Map<String, Value>> = Vec::new();
    let mut replace = false;
    for v in patch {
        let Value::Object(m) = v else { unreachable!() };
        match m.get(DIRECTIVE) {
            None => items.push(m),
            Some(d) => match d.as_str() {
                Some("delete") => {
                    let Some(kv) = m.get(key) else {
                        return Err(no_merge_key(&m, key));
                    };
                    live.retain(|e| e.get(key) != Some(kv));
                }
                Some("replace") => replace = true,
                Some("merge") => {
                    return Err(PatchError::Invalid(
                        "merging lists cannot yet be specified in the patch".to_string(),
                    ))
                }
                _ => return Err(bad_patch_type(d, &m)),
            },
        }
    }
    if replace {
        return items
            .into_iter()
            .map(|m| Ok(Value::Object(merge_map(Map::new(), m, ty)?)))
            .collect();
    }

    let server_order = live.clone();
    let mut merged = live;
    let mut patch_order = Vec::with_capacity(items.len());
    for m in items {
        let Some(kv) = m.get(key).cloned() else {
            return Err(no_merge_key(&m, key));
        };
        patch_order.push(Value::Object(m.clone()));
        match merged.iter().position(|e| e.get(key) == Some(&kv)) {
            Some(i) => {
                let Value::Object(o) = std::mem::take(&mut merged[i]) else {
                    unreachable!()
                };
                merged[i] = Value::Object(merge_map(o, m, ty)?);
            }
            None => merged.push(Value::Object(merge_map(Map::new(), m, ty)?)),
        }
    }
    Ok(normalize_order(
        merged,
        &patch_order,
        &server_order,
        Some(key),
    ))
}

/// Position of `item` in `list`, comparing merge-key values for maps.
fn index_in(list: &[Value], item: &Value, key: Option<&str>) -> Option<usize> {
    match key {
        Some(k) => {
            let v = item.get(k)?;
            list.iter().position(|e| e.get(k) == Some(v))
        }
        None => list.iter().position(|e| e == item),
    }
}

/// Upstream `normalizeElementOrder`: items named by the patch keep the
/// patch's order, server-only items keep the live order, and the two runs
/// are interleaved by their live positions (new items go before the
/// server-only items that follow them).
fn normalize_order(
    merged: Vec<Value>,
    patch_order: &[Value],
    server_order: &[Value],
    key: Option<&str>,
) -> Vec<Value> {
    let (mut from_patch, mut server_only): (Vec<Value>, Vec<Value>) = merged
        .into_iter()
        .partition(|v| index_in(patch_order, v, key).is_some());
    from_patch.sort_by_key(|v| index_in(patch_order, v, key).unwrap_or(usize::MAX));
    server_only.sort_by_key(|v| index_in(server_order, v, key).unwrap_or(usize::MAX));

    let mut out = Vec::with_capacity(from_patch.len() + server_only.len());
    let mut left = server_only.into_iter().peekable();
    let mut right = from_patch.into_iter().peekable();
    loop {
        match (left.peek(), right.peek()) {
            (None, None) => break,
            (Some(_), None) => out.extend(left.next()),
            (None, Some(_)) => out.extend(right.next()),
            (Some(l), Some(r)) => {
                let li = index_in(server_order, l, key);
                let ri = index_in(server_order, r, key);
                match (li, ri) {
                    (Some(li), Some(ri)) if li < ri => out.extend(left.next()),
                    _ => out.extend(right.next()),
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests;
