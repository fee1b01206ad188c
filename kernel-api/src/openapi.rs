//! OpenAPI documents (`/openapi/v2`, `/openapi/v3`, `/openapi/v3/<group-version>`), generated
//! from the served [`ResourceDef`]s and the k8s-openapi types' schemas (their `schemars` impls).
//!
//! kubectl uses them for `explain`, for client-side apply and to learn that the server accepts
//! `fieldValidation` (the PATCH operation of each kind lists the parameter), so it validates on
//! the server instead of downloading schemas. Like upstream, operations and kind definitions
//! carry `x-kubernetes-group-version-kind` and `x-kubernetes-action`, and the v3 index lists
//! each group-version with a `serverRelativeURL` that includes a content hash.

use std::collections::BTreeMap;
use std::hash::{Hash, Hasher};

use bytes::Bytes;
use schemars::generate::SchemaSettings;
use schemars::SchemaGenerator;
use serde_json::{json, Map, Value};

use crate::resources::{ResourceDef, Subresource};

/// Every OpenAPI document the server serves, encoded once.
#[derive(Clone, Debug, Default)]
pub struct OpenApiDocs {
    /// `/openapi/v2` (Swagger 2.0, all groups).
    pub v2: Bytes,
    /// `/openapi/v3`: the index of group-version documents.
    pub v3_index: Bytes,
    /// `/openapi/v3/<path>` by path (`api/v1`, `apis/apps/v1`).
    pub v3: BTreeMap<String, Bytes>,
}

impl OpenApiDocs {
    /// The v3 document at `/openapi/v3/<path>` (query string ignored).
    pub fn v3_document(&self, path: &str) -> Option<&Bytes> {
        self.v3.get(path.trim_matches('/'))
    }
}

/// Which of the two OpenAPI dialects a document is written in.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Dialect {
    V2,
    V3,
}

impl Dialect {
    fn refs(self) -> &'static str {
        match self {
            Dialect::V2 => "#/definitions/",
            Dialect::V3 => "#/components/schemas/",
        }
    }

    fn generator(self) -> SchemaGenerator {
        match self {
            Dialect::V2 => SchemaSettings::draft07().into_generator(),
            Dialect::V3 => SchemaSettings::openapi3().into_generator(),
        }
    }
}

/// The URL path prefix of a group-version: `api/v1` or `apis/apps/v1`.
fn gv_path(resource: &ResourceDef) -> String {
    if resource.group.is_empty() {
        format!("api/{}", resource.version)
    } else {
        format!("apis/{}/{}", resource.group, resource.version)
    }
}

/// Builds every document for `resources`; `version` is the server's `gitVersion`.
pub fn build(resources: &[ResourceDef], version: &str) -> OpenApiDocs {
    let mut groups: BTreeMap<String, Vec<&ResourceDef>> = BTreeMap::new();
    for resource in resources {
        groups.entry(gv_path(resource)).or_default().push(resource);
    }
    let mut docs = OpenApiDocs::default();
    let mut index = Map::new();
    for (path, members) in &groups {
        let document = document(Dialect::V3, members, version);
        let bytes = Bytes::from(serde_json::to_vec(&document).unwrap_or_default());
        let hash = content_hash(&bytes);
        index.insert(
            path.clone(),
            json!({ "serverRelativeURL": format!("/openapi/v3/{path}?hash={hash}") }),
        );
        docs.v3.insert(path.clone(), bytes);
    }
    docs.v3_index = Bytes::from(serde_json::to_vec(&json!({ "paths": index })).unwrap_or_default());
    let all: Vec<&ResourceDef> = resources.iter().collect();
    docs.v2 =
        Bytes::from(serde_json::to_vec(&document(Dialect::V2, &all, version)).unwrap_or_default());
    docs
}

fn content_hash(bytes: &[u8]) -> String {
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    bytes.hash(&mut hasher);
    format!("{:016X}", hasher.finish())
}

/// One document over `resources` in `dialect`.
fn document(dialect: Dialect, resources: &[&ResourceDef], version: &str) -> Value {
    let mut generator = dialect.generator();
    let mut kinds: Vec<(&ResourceDef, Option<String>)> = Vec::new();
    for resource in resources {
        let name = resource.flags.schema.and_then(|schema| {
            let reference = schema(&mut generator);
            reference
                .get("$ref")
                .and_then(Value::as_str)
                .map(|r| r.rsplit('/').next().unwrap_or(r).to_owned())
        });
        kinds.push((resource, name));
    }
    let mut definitions: Map<String, Value> = generator.definitions().clone();
    for (resource, name) in &kinds {
        if let Some(definition) = name.as_ref().and_then(|n| definitions.get_mut(n)) {
            if let Some(object) = definition.as_object_mut() {
                let gvks = object
                    .entry("x-kubernetes-group-version-kind")
                    .or_insert_with(|| json!([]));
                if let Some(list) = gvks.as_array_mut() {
                    list.push(gvk(resource));
                }
            }
        }
    }
    let mut annotated = std::collections::HashSet::new();
    for (resource, name) in &kinds {
        if let Some(name) = name {
            annotate_patch_strategies(
                &mut definitions,
                name,
                &resource.kind,
                &mut Vec::new(),
                &mut annotated,
            );
        }
    }
    let mut paths = Map::new();
    for (resource, name) in &kinds {
        add_paths(dialect, &mut paths, resource, name.as_deref());
    }
    let info = json!({ "title": "Kubernetes", "version": version });
    match dialect {
        Dialect::V2 => {
            json!({ "swagger": "2.0", "info": info, "paths": paths, "definitions": definitions })
        }
        Dialect::V3 => json!({
            "openapi": "3.0.0",
            "info": info,
            "paths": paths,
            "components": { "schemas": definitions },
        }),
    }
}

/// Marks list properties with upstream's `x-kubernetes-patch-strategy` / `-merge-key`, walking
/// the definitions from a kind's root so that kubectl's client-side apply merges lists (e.g.
/// containers by name) as upstream's schemas tell it to. The strategies come from
/// [`patch::field_strategy`](crate::patch::field_strategy), the same table strategic merge
/// patches use. Each shared definition is annotated once, from the first kind that reaches it.
fn annotate_patch_strategies(
    definitions: &mut Map<String, Value>,
    name: &str,
    kind: &str,
    path: &mut Vec<String>,
    visited: &mut std::collections::HashSet<String>,
) {
    if !visited.insert(name.to_owned()) || path.len() > 12 {
        return;
    }
    let Some(properties) = definitions
        .get(name)
        .and_then(|d| d.get("properties"))
        .and_then(Value::as_object)
        .cloned()
    else {
        return;
    };
    for (field, schema) in properties {
        path.push(field.clone());
        let is_array = schema.get("type").and_then(Value::as_str) == Some("array");
        let target = if is_array {
            schema.get("items")
        } else {
            Some(&schema)
        };
        if is_array {
            let segments: Vec<&str> = path.iter().map(String::as_str).collect();
            let extensions = match crate::patch::field_strategy(kind, &segments) {
                crate::patch::ListStrategy::MergeKey(key) => Some(
                    json!({ "x-kubernetes-patch-merge-key": key, "x-kubernetes-patch-strategy": "merge" }),
                ),
                crate::patch::ListStrategy::MergePrimitive => {
                    Some(json!({ "x-kubernetes-patch-strategy": "merge" }))
                }
                crate::patch::ListStrategy::Replace => None,
            };
            if let (Some(extensions), Some(property)) = (
                extensions,
                definitions
                    .get_mut(name)
                    .and_then(|d| d.get_mut("properties"))
                    .and_then(|p| p.get_mut(field.as_str()))
                    .and_then(Value::as_object_mut),
            ) {
                if let Some(extensions) = extensions.as_object() {
                    property.extend(extensions.clone());
                }
            }
        }
        if let Some(child) = target
            .and_then(|t| t.get("$ref"))
            .and_then(Value::as_str)
            .map(|r| r.rsplit('/').next().unwrap_or(r).to_owned())
        {
            annotate_patch_strategies(definitions, &child, kind, path, visited);
        }
        path.pop();
    }
}

fn gvk(resource: &ResourceDef) -> Value {
    json!({ "group": resource.group, "version": resource.version, "kind": resource.kind })
}

/// The query parameters of a write, as upstream lists them.
const WRITE_PARAMS: [&str; 3] = ["dryRun", "fieldManager", "fieldValidation"];

fn add_paths(
    dialect: Dialect,
    paths: &mut Map<String, Value>,
    resource: &ResourceDef,
    schema: Option<&str>,
) {
    let base = format!("/{}", gv_path(resource));
    let collection = if resource.namespaced {
        format!("{base}/namespaces/{{namespace}}/{}", resource.plural)
    } else {
        format!("{base}/{}", resource.plural)
    };
    let item = format!("{collection}/{{name}}");
    let object = schema.map(|s| json!({ "$ref": format!("{}{s}", dialect.refs()) }));
    let scope_params: Vec<&str> = if resource.namespaced {
        vec!["namespace"]
    } else {
        vec![]
    };
    let mut item_params = scope_params.clone();
    item_params.push("name");

    let op = |action: &str, verb: &str, path_params: &[&str], query: &[&str], body: bool| {
        operation(
            dialect,
            resource,
            action,
            verb,
            path_params,
            query,
            body,
            object.as_ref(),
        )
    };
    paths.insert(
        collection.clone(),
        json!({
            "get": op("list", "list", &scope_params, &["labelSelector", "fieldSelector", "limit", "continue", "resourceVersion", "watch"], false),
            "post": op("post", "create", &scope_params, &WRITE_PARAMS, true),
            "delete": op("deletecollection", "deletecollection", &scope_params, &["labelSelector", "fieldSelector", "dryRun"], false),
        }),
    );
    paths.insert(
        item.clone(),
        json!({
            "get": op("get", "read", &item_params, &[], false),
            "put": op("put", "replace", &item_params, &WRITE_PARAMS, true),
            "patch": op("patch", "patch", &item_params, &["dryRun", "fieldManager", "fieldValidation", "force"], true),
            "delete": op("delete", "delete", &item_params, &["dryRun", "gracePeriodSeconds", "propagationPolicy"], false),
        }),
    );
    if resource.namespaced {
        paths.insert(
            format!("{base}/{}", resource.plural),
            json!({ "get": op("list", "listForAllNamespaces", &[], &["labelSelector", "fieldSelector", "limit", "continue", "resourceVersion", "watch"], false) }),
        );
    }
    for sub in [Subresource::Status, Subresource::Scale] {
        if resource.has(sub) {
            paths.insert(
                format!("{item}/{}", sub.name()),
                json!({
                    "get": op("get", &format!("read{}", sub.name()), &item_params, &[], false),
                    "put": op("put", &format!("replace{}", sub.name()), &item_params, &WRITE_PARAMS, true),
                    "patch": op("patch", &format!("patch{}", sub.name()), &item_params, &["dryRun", "fieldManager", "fieldValidation", "force"], true),
                }),
            );
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn operation(
    dialect: Dialect,
    resource: &ResourceDef,
    action: &str,
    verb: &str,
    path_params: &[&str],
    query: &[&str],
    body: bool,
    object: Option<&Value>,
) -> Value {
    let any = json!({ "type": "object" });
    let schema = object.cloned().unwrap_or(any.clone());
    let mut parameters: Vec<Value> = Vec::new();
    for name in path_params {
        parameters.push(match dialect {
            Dialect::V2 => json!({ "name": name, "in": "path", "required": true, "type": "string", "uniqueItems": true }),
            Dialect::V3 => json!({ "name": name, "in": "path", "required": true, "schema": { "type": "string", "uniqueItems": true } }),
        });
    }
    for name in query {
        let kind = match *name {
            "limit" | "gracePeriodSeconds" => "integer",
            "watch" | "force" => "boolean",
            _ => "string",
        };
        parameters.push(match dialect {
            Dialect::V2 => json!({ "name": name, "in": "query", "type": kind, "uniqueItems": true }),
            Dialect::V3 => json!({ "name": name, "in": "query", "schema": { "type": kind, "uniqueItems": true } }),
        });
    }
    let is_patch = action == "patch";
    let content_types: Vec<&str> = if is_patch {
        vec![
            "application/json-patch+json",
            "application/merge-patch+json",
            "application/strategic-merge-patch+json",
            "application/apply-patch+yaml",
        ]
    } else {
        vec!["application/json", "application/yaml"]
    };
    let body_schema = if is_patch {
        any.clone()
    } else {
        schema.clone()
    };
    let response_schema = if action == "list" || action == "deletecollection" {
        any
    } else {
        schema
    };
    let mut op = Map::new();
    op.insert(
        "operationId".into(),
        json!(format!(
            "{verb}{}{}",
            if resource.namespaced {
                "Namespaced"
            } else {
                ""
            },
            resource.kind
        )),
    );
    op.insert("x-kubernetes-action".into(), json!(action));
    op.insert("x-kubernetes-group-version-kind".into(), gvk(resource));
    match dialect {
        Dialect::V2 => {
            if body {
                parameters.push(json!({ "name": "body", "in": "body", "required": true, "schema": body_schema }));
                op.insert("consumes".into(), json!(content_types));
            }
            op.insert(
                "produces".into(),
                json!(["application/json", "application/yaml"]),
            );
            op.insert(
                "responses".into(),
                json!({ "200": { "description": "OK", "schema": response_schema } }),
            );
        }
        Dialect::V3 => {
            if body {
                let content: Map<String, Value> = content_types
                    .iter()
                    .map(|t| (t.to_string(), json!({ "schema": body_schema })))
                    .collect();
                op.insert(
                    "requestBody".into(),
                    json!({ "content": content, "required": true }),
                );
            }
            op.insert(
                "responses".into(),
                json!({ "200": { "description": "OK", "content": {
                    "application/json": { "schema": response_schema },
                    "application/yaml": { "schema": response_schema },
                } } }),
            );
        }
    }
    op.insert("parameters".into(), json!(parameters));
    Value::Object(op)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pods() -> ResourceDef {
        crate::resources::builtin()
            .into_iter()
            .find(|r| r.plural == "pods")
            .expect("pods are served")
    }

    #[test]
    fn v3_index_lists_group_versions_with_hashes() {
        let docs = build(&crate::resources::builtin(), "v1.33.0");
        let index: Value = serde_json::from_slice(&docs.v3_index).unwrap();
        let url = index["paths"]["apis/apps/v1"]["serverRelativeURL"]
            .as_str()
            .unwrap();
        assert!(url.starts_with("/openapi/v3/apis/apps/v1?hash="), "{url}");
        assert!(docs.v3_document("api/v1").is_some());
    }

    #[test]
    fn v3_pod_definition_and_patch_operation_carry_gvk_and_field_validation() {
        let docs = build(&[pods()], "v1.33.0");
        let doc: Value = serde_json::from_slice(docs.v3_document("api/v1").unwrap()).unwrap();
        let pod = &doc["components"]["schemas"]["io.k8s.api.core.v1.Pod"];
        assert_eq!(pod["x-kubernetes-group-version-kind"][0]["kind"], "Pod");
        assert!(
            pod["properties"]["spec"].is_object(),
            "schema has the spec property"
        );
        assert!(
            doc["components"]["schemas"]["io.k8s.api.core.v1.Container"]["properties"]["image"]
                .is_object()
        );
        let patch = &doc["paths"]["/api/v1/namespaces/{namespace}/pods/{name}"]["patch"];
        assert_eq!(patch["x-kubernetes-group-version-kind"]["kind"], "Pod");
        let params = patch["parameters"].as_array().unwrap();
        assert!(params.iter().any(|p| p["name"] == "fieldValidation"));
        assert!(doc["paths"]["/api/v1/namespaces/{namespace}/pods/{name}/status"].is_object());
    }

    #[test]
    fn list_fields_carry_upstream_patch_strategies() {
        let deployments = crate::resources::builtin()
            .into_iter()
            .find(|r| r.plural == "deployments")
            .unwrap();
        let docs = build(&[deployments], "v1.33.0");
        let doc: Value = serde_json::from_slice(docs.v3_document("apis/apps/v1").unwrap()).unwrap();
        let containers =
            &doc["components"]["schemas"]["io.k8s.api.core.v1.PodSpec"]["properties"]["containers"];
        assert_eq!(containers["x-kubernetes-patch-merge-key"], "name");
        assert_eq!(containers["x-kubernetes-patch-strategy"], "merge");
        let ports =
            &doc["components"]["schemas"]["io.k8s.api.core.v1.Container"]["properties"]["ports"];
        assert_eq!(ports["x-kubernetes-patch-merge-key"], "containerPort");
    }

    #[test]
    fn v2_uses_definitions_refs() {
        let docs = build(&[pods()], "v1.33.0");
        let doc: Value = serde_json::from_slice(&docs.v2).unwrap();
        assert_eq!(doc["swagger"], "2.0");
        let get = &doc["paths"]["/api/v1/namespaces/{namespace}/pods/{name}"]["get"];
        assert_eq!(
            get["responses"]["200"]["schema"]["$ref"],
            "#/definitions/io.k8s.api.core.v1.Pod"
        );
        assert!(doc["definitions"]["io.k8s.api.core.v1.Pod"].is_object());
    }
}
