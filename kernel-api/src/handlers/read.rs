//! `get` and `list`.

use std::sync::Arc;

use http::{Response, StatusCode};
use serde_json::{json, Value};

use super::{json_response, Body, Ctx};
use crate::registry::{labels_of, ListOptions};
use crate::status::{Error, Result};
use crate::strategy::{field_value, Strategy};
use kernel_core::fields::Selector as FieldSelector;
use kernel_core::labels::Selector as LabelSelector;

/// Label and field selectors of a list or watch.
#[derive(Clone, Debug)]
pub struct Filter {
    strategy: Arc<dyn Strategy>,
    label: Option<LabelSelector>,
    field: Option<FieldSelector>,
}

impl Filter {
    /// The selectors given by `labelSelector` and `fieldSelector`. A selector that does not parse
    /// is a 400 with upstream's parse error as it is (`labels.Parse`, `fields.ParseSelector`).
    pub fn from_ctx(ctx: &Ctx) -> Result<Filter> {
        let label = ctx
            .param("labelSelector")
            .map(LabelSelector::parse)
            .transpose()
            .map_err(|e| Error::bad_request(e.to_string()))?;
        let field = ctx
            .param("fieldSelector")
            .map(FieldSelector::parse)
            .transpose()
            .map_err(|e| Error::bad_request(e.to_string()))?;
        if let Some(selector) = &field {
            for term in selector.terms() {
                if let Some(message) = field_label_error(&ctx.def, &term.field) {
                    return Err(Error::bad_request(message));
                }
            }
        }
        Ok(Filter {
            strategy: ctx.def.strategy.clone(),
            label,
            field,
        })
    }

    /// True if no selector is set.
    pub fn is_empty(&self) -> bool {
        self.label.is_none() && self.field.is_none()
    }

    /// True if `obj` passes both selectors.
    pub fn matches(&self, obj: &Value) -> bool {
        self.label
            .as_ref()
            .is_none_or(|l| l.matches(&labels_of(obj)))
            && self.field.as_ref().is_none_or(|f| {
                f.matches_with(|field| field_value(&*self.strategy, obj, field).unwrap_or_default())
            })
    }
}

impl Default for Filter {
    fn default() -> Self {
        Filter {
            strategy: crate::strategy::generic(),
            label: None,
            field: None,
        }
    }
}

/// Why `field` cannot be selected on `def`, as upstream's field label conversion says it: kinds
/// with their own conversion function (the ones with selectable fields of their own, and custom
/// resources) answer `field label not supported: <f>`, every other kind
/// `DefaultMetaV1FieldSelectorConversion`'s `"<f>" is not a known field selector: only …`.
/// Upstream's Node and Namespace functions accept no `metadata.namespace`.
fn field_label_error(def: &crate::resources::ResourceDef, field: &str) -> Option<String> {
    let custom = def.flags.custom;
    let own_function = custom || !def.strategy.selectable_fields().is_empty();
    let cluster_scoped_core =
        def.group.is_empty() && matches!(def.kind.as_str(), "Node" | "Namespace");
    let supported = match field {
        "metadata.name" => true,
        "metadata.namespace" => !(cluster_scoped_core || custom && !def.namespaced),
        _ => crate::strategy::selectable(&*def.strategy, field) && !custom,
    };
    match (supported, own_function) {
        (true, _) => None,
        (false, true) => Some(format!("field label not supported: {field}")),
        (false, false) => Some(format!(
            "{field:?} is not a known field selector: only \"metadata.name\", \"metadata.namespace\""
        )),
    }
}

/// Renders one object or a list, as a Table when the client asked for one.
pub fn respond(
    ctx: &Ctx,
    code: StatusCode,
    value: impl std::borrow::Borrow<Value>,
) -> Result<Response<Body>> {
    let value = value.borrow();
    if ctx.wants_table() {
        let items: Vec<Value> = match value.get("items").and_then(Value::as_array) {
            Some(items) => items.clone(),
            None => vec![value.clone()],
        };
        // Like upstream, always every column: kubectl hides `priority: 1` ones unless `-o wide`.
        let mut table = crate::strategy::to_table(&*ctx.def.strategy, &items, true);
        if let Some(meta) = value.get("metadata") {
            table["metadata"]["resourceVersion"] = meta["resourceVersion"].clone();
            if let Some(c) = meta.get("continue") {
                table["metadata"]["continue"] = c.clone();
            }
        }
        return Ok(json_response(code, &table));
    }
    Ok(json_response(code, value))
}

/// `GET …/<resource>/<name>` (and `…/status`).
pub async fn get(ctx: &Ctx) -> Result<Response<Body>> {
    crate::options::check_read_resource_version(ctx)?;
    let obj = ctx
        .shared
        .registry
        .get(&ctx.def, ctx.namespace.as_deref(), ctx.name())
        .await?;
    respond(ctx, StatusCode::OK, obj)
}

/// `GET …/<resource>`: a page of the matching objects.
pub async fn list(ctx: &Ctx) -> Result<Response<Body>> {
    let filter = Filter::from_ctx(ctx)?;
    crate::options::check_list_resource_version(ctx)?;
    let limit = match ctx.param("limit") {
        Some(l) => l
            .parse::<i64>()
            .map_err(|_| Error::bad_request(format!("invalid limit {l:?}")))?
            .max(0) as usize,
        None => 0,
    };
    let revision = match (
        ctx.param("resourceVersion"),
        ctx.param("resourceVersionMatch"),
    ) {
        // Both checked already (options.rs): the number parses, the match is known.
        (Some(rv), Some("Exact")) => rv.parse::<i64>().ok(),
        _ => None,
    };
    // resourceVersion=0 ("any"): served from the watch cache, like upstream (limit ignored).
    if ctx.param("resourceVersion") == Some("0") && ctx.param("continue").is_none() {
        let prefix = ctx.shared.registry.list_prefix(&ctx.def, None);
        let key_prefix = ctx
            .shared
            .registry
            .list_prefix(&ctx.def, ctx.namespace.as_deref());
        if let Some((objects, revision)) = ctx.shared.watch_cache.list(&prefix, &key_prefix).await?
        {
            let items: Vec<Value> = if ctx.def.flags.conversion.is_some() {
                objects
                    .iter()
                    .map(|o| crate::registry::from_storage(&ctx.def, (**o).clone()))
                    .filter(|o| filter.matches(o))
                    .collect()
            } else {
                objects
                    .iter()
                    .filter(|o| filter.matches(o))
                    .map(|o| (**o).clone())
                    .collect()
            };
            let list = json!({
                "kind": ctx.def.list_kind(),
                "apiVersion": ctx.def.api_version(),
                "metadata": { "resourceVersion": revision.to_string() },
                "items": items,
            });
            return respond(ctx, StatusCode::OK, list);
        }
    }
    let filter_fn = |obj: &Value| filter.matches(obj);
    let options = ListOptions {
        limit,
        continue_token: ctx.param("continue"),
        revision,
        filter: if filter.is_empty() {
            None
        } else {
            Some(&filter_fn)
        },
    };
    let page = ctx
        .shared
        .registry
        .list(&ctx.def, ctx.namespace.as_deref(), options)
        .await?;
    let mut metadata = json!({ "resourceVersion": page.revision.to_string() });
    if let Some(token) = page.continue_token {
        metadata["continue"] = json!(token);
    }
    if let Some(remaining) = page.remaining {
        metadata["remainingItemCount"] = json!(remaining);
    }
    let list = json!({
        "kind": ctx.def.list_kind(),
        "apiVersion": ctx.def.api_version(),
        "metadata": metadata,
        "items": page.items,
    });
    respond(ctx, StatusCode::OK, list)
}
