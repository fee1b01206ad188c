//! Request handling after the filter chain: parse the path into a [`RequestInfo`] (upstream's
//! `RequestInfoFactory`), route to discovery or to the resource handlers, and render results.
//!
//! - [`read`]: get and list.
//! - [`write`](mod@write): create, update, patch (JSON, merge, strategic, apply), delete, deletecollection.
//! - [`watch`]: watches, served from the [`WatchCache`](crate::watch_cache::WatchCache).
//! - [`subresource`]: `scale`, `pods/binding`, `pods/eviction`, `namespaces/finalize`.
//! - [`review`]: create-only reviews (access reviews, token reviews, `kubectl auth`).

pub mod read;
pub mod review;
pub mod subresource;
pub mod watch;
pub mod write;

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::Arc;

use bytes::Bytes;
use http::{header, HeaderMap, Method, Response, StatusCode};
use http_body_util::{combinators::UnsyncBoxBody, BodyExt, Full};
use serde_json::Value;

use crate::auth::{Attributes, UserInfo};
use crate::resources::{ResourceDef, Subresource};
use crate::shared::Shared;
use crate::status::{Error, Result};

/// The response body type of the [`ApiServer`](crate::ApiServer) service.
pub type Body = UnsyncBoxBody<Bytes, Infallible>;

/// A whole body from bytes.
pub fn full(bytes: impl Into<Bytes>) -> Body {
    Full::new(bytes.into()).boxed_unsync()
}

/// A JSON response.
pub fn json_response(code: StatusCode, value: &Value) -> Response<Body> {
    let bytes = serde_json::to_vec(value).unwrap_or_default();
    Response::builder()
        .status(code)
        .header(header::CONTENT_TYPE, "application/json")
        .body(full(bytes))
        .unwrap_or_else(|_| Response::new(full(Bytes::new())))
}

/// The `metav1.Status` response for an error.
pub fn error_response(error: &Error) -> Response<Body> {
    let (code, _) = error.code_and_reason();
    json_response(
        StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
        &error.to_status(),
    )
}

/// What a request path names (upstream's `request.RequestInfo`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RequestInfo {
    /// True for `/api/…` and `/apis/…` paths naming a resource.
    pub is_resource_request: bool,
    /// The verb (`get`, `list`, `watch`, `create`, …; lower-case method for non-resource paths).
    pub verb: String,
    /// API group.
    pub api_group: String,
    /// API version.
    pub api_version: String,
    /// Namespace (for `namespaces/<x>` itself, `<x>`).
    pub namespace: String,
    /// Resource.
    pub resource: String,
    /// Subresource.
    pub subresource: String,
    /// Object name.
    pub name: String,
    /// The path.
    pub path: String,
}

impl RequestInfo {
    /// Parses a method, path and query the way kube-apiserver does.
    pub fn parse(method: &Method, path: &str, query: &HashMap<String, String>) -> RequestInfo {
        let mut info = RequestInfo {
            path: path.to_owned(),
            verb: method.as_str().to_ascii_lowercase(),
            ..Default::default()
        };
        let parts: Vec<&str> = path
            .trim_matches('/')
            .split('/')
            .filter(|s| !s.is_empty())
            .collect();
        let rest: &[&str] = match parts.as_slice() {
            ["api", version, rest @ ..] => {
                info.api_version = (*version).into();
                rest
            }
            ["apis", group, version, rest @ ..] => {
                info.api_group = (*group).into();
                info.api_version = (*version).into();
                rest
            }
            _ => return info,
        };
        if rest.is_empty() {
            return info;
        }
        info.is_resource_request = true;
        let mut rest = rest;
        let mut watch_path = false;
        if rest[0] == "watch" {
            watch_path = true;
            rest = &rest[1..];
        }
        if rest.first() == Some(&"namespaces") && rest.len() > 1 {
            info.namespace = rest[1].into();
            if rest.len() > 2 && rest[2] != "status" && rest[2] != "finalize" {
                rest = &rest[2..];
            }
        }
        if let Some(r) = rest.first() {
            info.resource = (*r).into();
        }
        if let Some(n) = rest.get(1) {
            info.name = (*n).into();
        }
        if let Some(s) = rest.get(2) {
            info.subresource = (*s).into();
        }
        let watch_param = crate::options::query_flag(query.get("watch").map(String::as_str));
        info.verb = match *method {
            Method::GET | Method::HEAD if watch_path || watch_param => "watch".into(),
            Method::GET | Method::HEAD if info.name.is_empty() => "list".into(),
            Method::GET | Method::HEAD => "get".into(),
            Method::POST => "create".into(),
            Method::PUT => "update".into(),
            Method::PATCH => "patch".into(),
            Method::DELETE if info.name.is_empty() => "deletecollection".into(),
            Method::DELETE => "delete".into(),
            _ => info.verb,
        };
        info
    }

    /// The authorization attributes of this request for `user`.
    pub fn attributes(&self, user: UserInfo) -> Attributes {
        Attributes {
            user,
            verb: self.verb.clone(),
            resource_request: self.is_resource_request,
            api_group: self.api_group.clone(),
            api_version: self.api_version.clone(),
            resource: self.resource.clone(),
            subresource: self.subresource.clone(),
            namespace: self.namespace.clone(),
            name: self.name.clone(),
            path: self.path.clone(),
        }
    }
}

/// A request routed to a resource.
#[derive(Clone)]
pub struct Ctx {
    /// The shared server state.
    pub shared: Arc<Shared>,
    /// The resource.
    pub def: Arc<ResourceDef>,
    /// Parsed path.
    pub info: RequestInfo,
    /// Namespace to act in (None for cluster-scoped resources or all namespaces).
    pub namespace: Option<String>,
    /// Subresource.
    pub subresource: Option<Subresource>,
    /// Query parameters.
    pub query: HashMap<String, String>,
    /// Request headers.
    pub headers: HeaderMap,
    /// The whole request body.
    pub body: Bytes,
    /// The authenticated user.
    pub user: UserInfo,
}

impl Ctx {
    /// A query parameter.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.query
            .get(name)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }

    /// True for `dryRun=All`.
    pub fn dry_run(&self) -> bool {
        self.param("dryRun").is_some()
    }

    /// The object name from the path.
    pub fn name(&self) -> &str {
        &self.info.name
    }

    /// The field manager: `fieldManager`, else the user agent up to its first `/`.
    pub fn field_manager(&self) -> String {
        if let Some(m) = self.param("fieldManager") {
            return m.to_owned();
        }
        let agent = self
            .headers
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("unknown");
        agent.split('/').next().unwrap_or("unknown").to_owned()
    }

    /// The request's Content-Type without parameters, lower-cased.
    pub fn content_type(&self) -> String {
        let ct = self
            .headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("application/json");
        ct.split(';')
            .next()
            .unwrap_or_default()
            .trim()
            .to_ascii_lowercase()
    }

    /// Decodes the body as a JSON or YAML object.
    pub fn decode_body(&self) -> Result<Value> {
        match decode_object(&self.body, &self.content_type()) {
            // Custom resources have no protobuf serializer, so upstream lists two types.
            Err(Error::UnsupportedMediaType(_)) if self.def.flags.custom => {
                Err(Error::UnsupportedMediaType(
                    "the body of the request was in an unknown format - accepted media types include: application/json, application/yaml".into(),
                ))
            }
            other => other,
        }
    }

    /// True if the client asked for a `meta.k8s.io` Table.
    pub fn wants_table(&self) -> bool {
        self.headers
            .get(header::ACCEPT)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|a| a.contains("as=Table"))
    }
}

/// Decodes a JSON or YAML body into an object.
pub fn decode_object(body: &[u8], content_type: &str) -> Result<Value> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(Error::bad_request("the body of the request was empty"));
    }
    let value: Value = match content_type {
        "application/json" | "" | "*/*" | "application/merge-patch+json"
        | "application/strategic-merge-patch+json" | "application/json-patch+json" => {
            serde_json::from_slice(body).map_err(|e| Error::bad_request(format!("couldn't get version/kind; json parse error: {e}")))?
        }
        "application/vnd.kubernetes.protobuf" => crate::protobuf::decode(body)?,
        "application/yaml" | "application/apply-patch+yaml" | "application/x-yaml" | "text/yaml" => {
            // One line, as upstream's: the error without serde-saphyr's source snippet (which would
            // echo the body back).
            serde_saphyr::from_slice(body).map_err(|e| Error::bad_request(format!("error converting YAML to JSON: {}", e.without_snippet())))?
        }
        _ => {
            return Err(Error::UnsupportedMediaType(
                "the body of the request was in an unknown format - accepted media types include: application/json, application/yaml, application/vnd.kubernetes.protobuf".into(),
            ))
        }
    };
    Ok(value)
}

/// Routes a resource request (after authentication and authorization).
pub async fn handle_resource(
    shared: Arc<Shared>,
    info: RequestInfo,
    query: HashMap<String, String>,
    headers: HeaderMap,
    body: Bytes,
    user: UserInfo,
) -> Result<Response<Body>> {
    let Some(def) = shared
        .resources
        .get(&info.api_group, &info.api_version, &info.resource)
    else {
        return Err(Error::NoRoute);
    };
    let subresource = match info.subresource.as_str() {
        "" => None,
        s => match Subresource::parse(s).filter(|s| def.has(*s)) {
            Some(s) => Some(s),
            None => return Err(Error::NoRoute),
        },
    };
    let namespace = if def.namespaced && !info.namespace.is_empty() {
        Some(info.namespace.clone())
    } else {
        None
    };
    if def.namespaced && namespace.is_none() && !info.name.is_empty() {
        return Err(Error::NoRoute);
    }
    let create_only = def.flags.create_only;
    let wrong_method = if create_only {
        info.verb != "create" || !info.name.is_empty() || subresource.is_some()
    } else {
        // No POST on a named object, no PUT or PATCH on a collection.
        (info.verb == "create" && !info.name.is_empty() && subresource.is_none())
            || (matches!(info.verb.as_str(), "update" | "patch") && info.name.is_empty())
    };
    // A verb the resource does not list in discovery has no route (upstream's go-restful 405).
    let unserved = info.verb == "deletecollection" && !def.verbs().contains(&"deletecollection");
    if wrong_method || unserved {
        return Err(Error::method_not_allowed());
    }
    let verb = info.verb.clone();
    let ctx = Ctx {
        shared,
        def,
        info,
        namespace,
        subresource,
        query,
        headers,
        body,
        user,
    };
    if verb == "patch" {
        check_patch_content_type(&ctx)?;
    }
    crate::options::validate(&ctx)?;
    if create_only {
        return review::create(&ctx).await;
    }
    use Subresource::*;
    match (verb.as_str(), subresource) {
        ("get", None | Some(Status)) => read::get(&ctx).await,
        ("list", None) => read::list(&ctx).await,
        ("watch", None) => watch::watch(&ctx).await,
        ("create", None) => write::create(&ctx).await,
        ("update", None | Some(Status)) => write::update(&ctx).await,
        ("patch", None | Some(Status)) => write::patch(&ctx).await,
        ("delete", None) => write::delete(&ctx).await,
        ("deletecollection", None) => write::delete_collection(&ctx).await,
        ("get" | "update" | "patch", Some(Scale)) => subresource::scale(&ctx).await,
        ("create", Some(Binding)) => subresource::binding(&ctx).await,
        ("create", Some(Eviction)) => subresource::eviction(&ctx).await,
        ("update", Some(Finalize)) => subresource::finalize(&ctx).await,
        ("create", Some(Token)) => subresource::token(&ctx).await,
        _ => Err(Error::method_not_allowed()),
    }
}

/// The patch types upstream routes: for built-in resources go-restful refuses any other
/// Content-Type that comes with a body (`415: Unsupported Media Type`, through
/// `NewGenericServerResponse`); the CRD handler serves no strategic merge patch and answers
/// `NewUnsupportedMediaTypeError` with the types it serves, body or not.
fn check_patch_content_type(ctx: &Ctx) -> Result<()> {
    let content_type = ctx.content_type();
    if ctx.def.flags.custom {
        const SERVED: [&str; 3] = [
            "application/json-patch+json",
            "application/merge-patch+json",
            "application/apply-patch+yaml",
        ];
        if !SERVED.contains(&content_type.as_str()) {
            return Err(Error::UnsupportedMediaType(format!(
                "the body of the request was in an unknown format - accepted media types include: {}",
                SERVED.join(", ")
            )));
        }
        return Ok(());
    }
    let served = matches!(
        content_type.as_str(),
        "application/json-patch+json"
            | "application/merge-patch+json"
            | "application/strategic-merge-patch+json"
            | "application/apply-patch+yaml"
    );
    if !served && !ctx.body.is_empty() {
        return Err(Error::Generic {
            code: 415,
            reason: "UnsupportedMediaType",
            message: "415: Unsupported Media Type".into(),
            details: Some(serde_json::json!({})),
        });
    }
    Ok(())
}

/// Parses a query string.
pub fn parse_query(query: Option<&str>) -> HashMap<String, String> {
    form_urlencoded::parse(query.unwrap_or_default().as_bytes())
        .into_owned()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(method: Method, path: &str) -> RequestInfo {
        RequestInfo::parse(&method, path, &HashMap::new())
    }

    #[test]
    fn parses_like_upstream() {
        let i = info(Method::GET, "/api/v1/namespaces/default/pods/web/status");
        assert_eq!(
            (
                i.namespace.as_str(),
                i.resource.as_str(),
                i.name.as_str(),
                i.subresource.as_str()
            ),
            ("default", "pods", "web", "status")
        );
        assert_eq!(i.verb, "get");
        let i = info(Method::GET, "/api/v1/namespaces/kube-system");
        assert_eq!(
            (i.resource.as_str(), i.name.as_str(), i.namespace.as_str()),
            ("namespaces", "kube-system", "kube-system")
        );
        let i = info(Method::PUT, "/api/v1/namespaces/x/finalize");
        assert_eq!(
            (i.resource.as_str(), i.subresource.as_str()),
            ("namespaces", "finalize")
        );
        let i = info(Method::GET, "/apis/apps/v1/watch/namespaces/a/deployments");
        assert_eq!(
            (i.verb.as_str(), i.api_group.as_str(), i.resource.as_str()),
            ("watch", "apps", "deployments")
        );
        let i = info(Method::DELETE, "/api/v1/namespaces/a/configmaps");
        assert_eq!(i.verb, "deletecollection");
        assert!(!info(Method::GET, "/apis/apps/v1").is_resource_request);
    }

    #[test]
    fn decodes_kubectl_style_yaml_bodies() {
        let yaml = br#"# a comment, as in a manifest on disk
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  labels: {app: web, "tier": 'front'}
  annotations:
    note: |
      two
      lines
    empty: ""
spec:
  replicas: 3
  paused: false
  progressDeadlineSeconds: null
  template:
    spec:
      containers:
      - name: web
        image: "nginx:1.27"
        args: [--port, "8080"]
        resources:
          limits: {cpu: 500m, memory: 1.5Gi}
        securityContext:
          runAsUser: 1000
      terminationGracePeriodSeconds: 0.5
"#;
        let value = decode_object(yaml, "application/yaml").unwrap();
        assert_eq!(
            value,
            serde_json::json!({
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "metadata": {
                    "name": "web",
                    "labels": {"app": "web", "tier": "front"},
                    "annotations": {"note": "two\nlines\n", "empty": ""},
                },
                "spec": {
                    "replicas": 3,
                    "paused": false,
                    "progressDeadlineSeconds": null,
                    "template": {"spec": {
                        "containers": [{
                            "name": "web",
                            "image": "nginx:1.27",
                            "args": ["--port", "8080"],
                            "resources": {"limits": {"cpu": "500m", "memory": "1.5Gi"}},
                            "securityContext": {"runAsUser": 1000},
                        }],
                        "terminationGracePeriodSeconds": 0.5,
                    }},
                },
            })
        );
        // A document start marker, as `kubectl create -f` files often have, is accepted.
        let value = decode_object(
            b"---\napiVersion: v1\nkind: ConfigMap\n",
            "application/apply-patch+yaml",
        )
        .unwrap();
        assert_eq!(value["kind"], "ConfigMap");
        let err = decode_object(b"kind: [unclosed\n", "application/yaml").unwrap_err();
        let message = err.to_string();
        assert!(
            message.contains("error converting YAML to JSON: "),
            "{message}"
        );
        assert!(!message.contains('\n'), "one line: {message}");
    }
}
