//! The connect subresources that reach a kubelet: `pods/log`, `pods/exec`, `pods/attach`,
//! `pods/portforward` and `nodes/proxy` (upstream's `pkg/registry/core/pod/strategy.go`
//! `LogLocation` / `ExecLocation` / `AttachLocation` / `PortForwardLocation`,
//! `pkg/registry/core/node/strategy.go` `ResourceLocation`, and the upgrade-aware proxy of
//! `k8s.io/apimachinery/pkg/util/proxy`).
//!
//! ```text
//!  GET /api/v1/namespaces/{ns}/pods/{pod}/log?container=&follow=…  ─► https://{node}:{port}/containerLogs/{ns}/{pod}/{container}?…
//!  GET|POST …/pods/{pod}/exec?command=…&stdin=true&stdout=true…     ─► /exec/{ns}/{pod}/{container}?command=…&input=1&output=1…
//!  GET|POST …/pods/{pod}/attach?…                                   ─► /attach/{ns}/{pod}/{container}?…
//!  GET|POST …/pods/{pod}/portforward?ports=80                       ─► /portForward/{ns}/{pod}?port=80
//!  *        /api/v1/nodes/{node}/proxy/{path}?{query}               ─► /{path}?{query}
//! ```
//!
//! `{node}` is the node's `InternalIP`, else its `ExternalIP` (upstream's
//! `--kubelet-preferred-address-types` without `Hostname` and the DNS types), `{port}` its
//! `status.daemonEndpoints.kubeletEndpoint.Port`. The kubelet is reached over HTTPS without
//! verifying its certificate unless [`KubeletClientConfig::ca_pem`] is set, presenting
//! [`KubeletClientConfig::client_cert_pem`] if set (see [`transport`]).
//!
//! Plain responses stream back as they come (`kubectl logs -f` sees each line when the kubelet
//! sends it). An upgrade request (exec, attach, port-forward, or any request with
//! `Connection: Upgrade`) is forwarded with its upgrade headers; when the kubelet answers
//! `101 Switching Protocols` the API server answers 101 with the kubelet's headers and splices
//! the two connections byte for byte; exec, attach and port-forward without an upgrade answer
//! 400 `Upgrade request required`, as upstream. Upgrades need a real HTTP/1.1 connection:
//! through the in-process `kube::Client` (or HTTP/2) they answer 400.
//!
//! The user's `Authorization` header never reaches the kubelet (upstream removes it after
//! authentication), nor do `Impersonate-*` headers.

pub(crate) mod transport;

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::time::Duration;

use bytes::Bytes;
use http::{header, HeaderMap, HeaderValue, Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use serde_json::Value;
use tracing::Instrument;

use crate::auth::{Decision, UserInfo};
use crate::handlers::{Body, RequestInfo};
use crate::shared::Shared;
use crate::status::{Error, Result, StatusCause};
pub(crate) use transport::KubeletClient;
use transport::{ForwardError, Target};

/// How the API server reaches kubelets ([`ApiServerBuilder::kubelet_client`](crate::ApiServerBuilder::kubelet_client)),
/// upstream's `--kubelet-*` flags.
#[derive(Clone)]
pub struct KubeletClientConfig {
    /// PEM CA bundle that signs kubelet serving certificates (`--kubelet-certificate-authority`).
    /// `None` (the default, as upstream's): serving certificates are not verified.
    pub ca_pem: Option<String>,
    /// PEM client certificate chain presented to kubelets (`--kubelet-client-certificate`).
    /// `None` (the default): no client certificate, which a kubelet started with a client CA
    /// refuses.
    pub client_cert_pem: Option<String>,
    /// PEM private key of [`KubeletClientConfig::client_cert_pem`] (`--kubelet-client-key`).
    pub client_key_pem: Option<String>,
    /// The kubelet port used for a node that publishes none in
    /// `status.daemonEndpoints.kubeletEndpoint.Port` (upstream `--kubelet-port`, 10250).
    /// `None` (the default): such a node is an error, since an embedded kubelet listens on any
    /// free port and always publishes it.
    pub default_port: Option<u16>,
    /// Timeout of connecting to a kubelet, TLS handshake included (`--kubelet-timeout`, 5 s).
    pub timeout: Duration,
}

impl Default for KubeletClientConfig {
    fn default() -> Self {
        KubeletClientConfig {
            ca_pem: None,
            client_cert_pem: None,
            client_key_pem: None,
            default_port: None,
            timeout: Duration::from_secs(5),
        }
    }
}

impl std::fmt::Debug for KubeletClientConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KubeletClientConfig")
            .field("ca_pem", &self.ca_pem.is_some())
            .field("client_cert_pem", &self.client_cert_pem.is_some())
            .field("client_key_pem", &self.client_key_pem.as_ref().map(|_| "…"))
            .field("default_port", &self.default_port)
            .field("timeout", &self.timeout)
            .finish()
    }
}

/// True for the requests this module serves (routed before the generic resource handlers).
pub(crate) fn serves(info: &RequestInfo) -> bool {
    info.is_resource_request
        && info.api_group.is_empty()
        && info.api_version == "v1"
        && !info.name.is_empty()
        && match (info.resource.as_str(), info.subresource.as_str()) {
            ("pods", "log" | "exec" | "attach" | "portforward") => !info.namespace.is_empty(),
            ("nodes", "proxy") => true,
            _ => false,
        }
}

/// Serves a connect subresource (see the module docs).
pub(crate) async fn handle(
    shared: &Shared,
    info: &RequestInfo,
    mut parts: http::request::Parts,
    body: Bytes,
    user: &UserInfo,
) -> Result<Response<Body>> {
    let client = shared
        .kubelet
        .clone()
        .ok_or_else(|| Error::internal("the API server has no kubelet client"))?;
    let query = Query::parse(parts.uri.query());
    let method = parts.method.clone();
    let subresource = info.subresource.as_str();
    let allowed = match subresource {
        "log" => matches!(method, Method::GET),
        "exec" | "attach" | "portforward" => matches!(method, Method::GET | Method::POST),
        _ => matches!(
            method,
            Method::GET
                | Method::POST
                | Method::PUT
                | Method::PATCH
                | Method::DELETE
                | Method::HEAD
                | Method::OPTIONS
        ),
    };
    if !allowed {
        return Err(Error::method_not_allowed());
    }
    let upgrade = is_upgrade(&parts.headers);
    if upgrade && method == Method::GET && subresource != "log" && subresource != "proxy" {
        authorize_websocket_create(shared, info, user).await?;
    }
    let Some((target, path_and_query, style)) =
        locate(shared, &client, info, &query, &parts.uri).await?
    else {
        // Upstream: a pod without a node has no log location, and an empty log.
        return Ok(text_response(StatusCode::OK, Bytes::new()));
    };
    // Upstream's exec, attach and portforward handlers require an upgrade (`UpgradeRequired`).
    if !upgrade && matches!(subresource, "exec" | "attach" | "portforward") {
        return Err(Error::bad_request("Upgrade request required"));
    }
    // An upgrade needs the client's connection: not there in-process (kube::Client over the
    // tower service) or over HTTP/2.
    let client_side = match parts.extensions.remove::<hyper::upgrade::OnUpgrade>() {
        Some(on_upgrade) => Some(on_upgrade),
        None if upgrade => {
            return Err(Error::bad_request(
                "unable to upgrade connection: the request did not come on an upgradable HTTP/1.1 connection",
            ))
        }
        None => None,
    };
    let request = backend_request(
        &method,
        &parts.headers,
        &target,
        &path_and_query,
        body,
        upgrade,
    )?;
    tracing::debug!(kubelet = %target.url(&path_and_query), upgrade, "proxying to the kubelet");
    let skip_verify = matches!(style, Style::Log { skip_verify: true });
    let sent = client.send(&target, request, upgrade, skip_verify).await;
    let mut response = match sent {
        Ok(response) => response,
        Err(e) => {
            return Err(forward_error(
                &style,
                &method,
                &target,
                &path_and_query,
                upgrade,
                e,
            ))
        }
    };
    if upgrade && response.status() == StatusCode::SWITCHING_PROTOCOLS {
        let Some(client_side) = client_side else {
            return Err(Error::internal("upgrade without a client connection"));
        };
        let kubelet_side = hyper::upgrade::on(&mut response);
        let mut answer = Response::builder().status(StatusCode::SWITCHING_PROTOCOLS);
        if let Some(headers) = answer.headers_mut() {
            headers.extend(response.headers().clone());
        }
        splice(client_side, kubelet_side, target.authority());
        return answer
            .body(crate::handlers::full(Bytes::new()))
            .map_err(|e| Error::internal(format!("building the upgrade response: {e}")));
    }
    if let Style::Log { .. } = style {
        let code = response.status().as_u16();
        if !(200..=206).contains(&code) {
            return Err(check_log_response(response, &info.name).await);
        }
        let (head, incoming) = response.into_parts();
        let mut answer = Response::new(stream_body(incoming));
        *answer.status_mut() = head.status;
        answer
            .headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain"));
        return Ok(answer);
    }
    let (head, incoming) = response.into_parts();
    let mut answer = Response::new(stream_body(incoming));
    *answer.status_mut() = head.status;
    let mut headers = head.headers;
    strip_hop_by_hop(&mut headers);
    *answer.headers_mut() = headers;
    Ok(answer)
}

/// Splices the client's upgraded connection to the kubelet's, byte for byte, until either side
/// closes.
fn splice(
    client_side: hyper::upgrade::OnUpgrade,
    kubelet_side: hyper::upgrade::OnUpgrade,
    peer: String,
) {
    let span = tracing::Span::current();
    tokio::spawn(async move {
        let (client_side, kubelet_side) = match tokio::join!(client_side, kubelet_side) {
            (Ok(c), Ok(k)) => (c, k),
            (c, k) => {
                tracing::debug!(kubelet = %peer, client = ?c.err(), backend = ?k.err(), "upgrade failed");
                return;
            }
        };
        let mut client_side = hyper_util::rt::TokioIo::new(client_side);
        let mut kubelet_side = hyper_util::rt::TokioIo::new(kubelet_side);
        match tokio::io::copy_bidirectional(&mut client_side, &mut kubelet_side).await {
            Ok((up, down)) => {
                tracing::debug!(kubelet = %peer, up, down, "upgraded connection closed")
            }
            Err(e) => tracing::debug!(kubelet = %peer, error = %e, "upgraded connection ended"),
        }
    }
    .instrument(span));
}

/// Upstream's `AuthorizePodWebsocketUpgradeCreatePermission`: a WebSocket GET to exec, attach
/// or portforward (which the filter chain authorized as `get`) also needs `create`, the verb of
/// the SPDY POST.
async fn authorize_websocket_create(
    shared: &Shared,
    info: &RequestInfo,
    user: &UserInfo,
) -> Result<()> {
    let subresource = info.subresource.as_str();
    let mut attributes = info.attributes(user.clone());
    attributes.verb = "create".into();
    if let Decision::Deny(reason) = shared.authorizer.authorize(&attributes).await {
        let mut message = format!(
            "pods \"{}\" is forbidden: User \"{}\" cannot create resource \"pods/{subresource}\" in API group \"\" in the namespace \"{}\"",
            info.name, user.name, info.namespace
        );
        if !reason.is_empty() {
            message = format!("{message}: {reason}");
        }
        return Err(Error::Forbidden(message));
    }
    Ok(())
}

/// Where the kubelet serves a request: its address, the path and query there, and how its
/// answer is handled; `None` for the log of a pod without a node.
async fn locate(
    shared: &Shared,
    client: &KubeletClient,
    info: &RequestInfo,
    query: &Query,
    uri: &http::Uri,
) -> Result<Option<(Target, String, Style)>> {
    let subresource = info.subresource.as_str();
    let located = match subresource {
        "log" => {
            let options = LogOptions::parse(query, &info.name)?;
            let pod = get_pod(shared, &info.namespace, &info.name).await?;
            let container = validate_container(&pod, options.container.as_deref())?;
            let Some(node) = node_name(&pod) else {
                return Ok(None);
            };
            let target = connection_info(shared, client, &node).await?;
            let path = format!(
                "/containerLogs/{}/{}/{container}",
                info.namespace, info.name
            );
            let skip_verify = options.insecure_skip_tls_verify_backend;
            (
                target,
                with_query(path, &options.kubelet_query()),
                Style::Log { skip_verify },
            )
        }
        "exec" | "attach" => {
            let pod = get_pod(shared, &info.namespace, &info.name).await?;
            let container = validate_container(&pod, query.first("container"))?;
            let node = node_name(&pod).ok_or_else(|| no_host(&info.name))?;
            let target = connection_info(shared, client, &node).await?;
            let mut params = Params::default();
            for (name, kubelet) in [
                ("stdin", "input"),
                ("stdout", "output"),
                ("stderr", "error"),
                ("tty", "tty"),
            ] {
                if query.flag(name) {
                    params.add(kubelet, "1");
                }
            }
            if subresource == "exec" {
                for command in query.all("command") {
                    params.add("command", command);
                }
            }
            let path = format!(
                "/{subresource}/{}/{}/{container}",
                info.namespace, info.name
            );
            (target, with_query(path, &params.encode()), Style::Proxy)
        }
        "portforward" => {
            let pod = get_pod(shared, &info.namespace, &info.name).await?;
            let node = node_name(&pod).ok_or_else(|| no_host(&info.name))?;
            let target = connection_info(shared, client, &node).await?;
            let mut ports = Vec::new();
            for value in query.all("ports") {
                for port in value.split(',').filter(|p| !p.is_empty()) {
                    let port: i32 = port.trim().parse().map_err(|_| {
                        Error::bad_request(format!(
                            "strconv.ParseInt: parsing {port:?}: invalid syntax"
                        ))
                    })?;
                    ports.push(port.to_string());
                }
            }
            let mut params = Params::default();
            if !ports.is_empty() {
                params.add("port", &ports.join(","));
            }
            let path = format!("/portForward/{}/{}", info.namespace, info.name);
            (target, with_query(path, &params.encode()), Style::Proxy)
        }
        _ => {
            let (target, rest) = node_proxy_location(shared, client, info, uri.path()).await?;
            let path_and_query = match uri.query() {
                Some(q) => format!("{rest}?{q}"),
                None => rest,
            };
            (target, path_and_query, Style::Proxy)
        }
    };
    Ok(Some(located))
}

/// How a request is answered: `pods/log` goes through upstream's `LocationStreamer` (kubelet
/// errors become a `Status`, the content type is `text/plain`); the others through the
/// upgrade-aware proxy (the kubelet's answer as it is).
enum Style {
    Log { skip_verify: bool },
    Proxy,
}

/// The `Status` for a request that did not reach the kubelet, as upstream words it: a 500
/// whose `reason` is empty (`Error from server: …` in kubectl).
fn forward_error(
    style: &Style,
    method: &Method,
    target: &Target,
    path_and_query: &str,
    upgrade: bool,
    error: ForwardError,
) -> Error {
    let message = match (style, upgrade, &error) {
        // LocationStreamer: `client.Do` wraps the error in a url.Error.
        (Style::Log { .. }, _, e) => format!(
            "{} \"{}\": {e}",
            go_method(method),
            target.url(path_and_query)
        ),
        (_, true, ForwardError::Dial(e)) => format!("error dialing backend: {e}"),
        (_, true, ForwardError::Send(e)) => e.clone(),
        // httputil.ReverseProxy hands the transport's error to the responder.
        (_, false, e) => e.to_string(),
    };
    unknown(message)
}

/// Go's `url.Error` spelling of a method (`Get`, `Post`).
fn go_method(method: &Method) -> String {
    let m = method.as_str();
    let mut out = m[..1].to_owned();
    out.push_str(&m[1..].to_ascii_lowercase());
    out
}

/// A 500 with no `reason`: what upstream's `ErrorToAPIStatus` makes of an error that is not a
/// `Status`.
fn unknown(message: String) -> Error {
    Error::Generic {
        code: 500,
        reason: "",
        message,
        details: None,
    }
}

/// Upstream's `GenericHttpResponseChecker` for `pods/log`: a kubelet error answer becomes a
/// `Status` carrying the kubelet's text.
async fn check_log_response(response: Response<Incoming>, pod: &str) -> Error {
    const MAX_READ: usize = 50_000;
    let code = response.status().as_u16();
    let limited = http_body_util::Limited::new(response.into_body(), MAX_READ);
    let text = match limited.collect().await {
        Ok(collected) => String::from_utf8_lossy(&collected.to_bytes()).into_owned(),
        Err(e) => return Error::internal(e),
    };
    match code {
        500 => Error::Internal(text),
        400 => Error::BadRequest(text),
        _ => generic_server_response(code, "pods/log", pod, &text),
    }
}

/// Upstream's `NewGenericServerResponse` with an empty verb.
fn generic_server_response(code: u16, resource: &str, name: &str, server_message: &str) -> Error {
    let (reason, message): (&'static str, String) = match code {
        409 => ("Conflict", "the server reported a conflict".into()),
        404 => (
            "NotFound",
            "the server could not find the requested resource".into(),
        ),
        401 => (
            "Unauthorized",
            "the server has asked for the client to provide credentials".into(),
        ),
        403 => ("Forbidden", server_message.to_owned()),
        405 => (
            "MethodNotAllowed",
            "the server does not allow this method on the requested resource".into(),
        ),
        422 => (
            "Invalid",
            "the server rejected our request due to an error in our request".into(),
        ),
        503 => (
            "ServiceUnavailable",
            "the server is currently unable to handle the request".into(),
        ),
        504 => ("Timeout", "the server was unable to return a response in the time allotted, but may still be processing the request".into()),
        429 => ("TooManyRequests", "the server has received too many requests and has asked us to try again later".into()),
        c if c >= 500 => (
            "InternalError",
            format!("an error on the server ({server_message:?}) has prevented the request from succeeding"),
        ),
        c => (
            "",
            format!("the server responded with the status code {c} but did not return more information"),
        ),
    };
    Error::Generic {
        code,
        reason,
        message: format!("{message} ( {resource} {name})"),
        details: Some(serde_json::json!({ "name": name, "kind": resource })),
    }
}

/// A `text/plain` response with a whole body.
fn text_response(code: StatusCode, body: Bytes) -> Response<Body> {
    let mut response = Response::new(crate::handlers::full(body));
    *response.status_mut() = code;
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain"));
    response
}

/// The kubelet's body, frame by frame as it arrives (never collected); a failure mid-stream
/// ends the body there.
fn stream_body(incoming: Incoming) -> Body {
    let frames = futures::stream::unfold(Some(incoming), |state| async move {
        let mut incoming = state?;
        match incoming.frame().await {
            Some(Ok(frame)) => Some((Ok::<_, Infallible>(frame), Some(incoming))),
            Some(Err(e)) => {
                tracing::debug!(error = %e, "kubelet response body ended early");
                None
            }
            None => None,
        }
    });
    http_body_util::StreamBody::new(frames).boxed_unsync()
}

/// True for `Connection: upgrade` with an `Upgrade` header (upstream's `httpstream.IsUpgradeRequest`).
fn is_upgrade(headers: &HeaderMap) -> bool {
    headers.contains_key(header::UPGRADE)
        && headers
            .get_all(header::CONNECTION)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .any(|t| t.trim().eq_ignore_ascii_case("upgrade"))
}

/// The request sent to the kubelet: the client's method, headers (less credentials and, unless
/// upgrading, hop-by-hop headers) and body.
fn backend_request(
    method: &Method,
    headers: &HeaderMap,
    target: &Target,
    path_and_query: &str,
    body: Bytes,
    upgrade: bool,
) -> Result<Request<Full<Bytes>>> {
    let mut forwarded = headers.clone();
    if !upgrade {
        strip_hop_by_hop(&mut forwarded);
    }
    for name in [
        header::AUTHORIZATION,
        header::HOST,
        header::CONTENT_LENGTH,
        header::TRANSFER_ENCODING,
        header::TE,
        header::TRAILER,
        header::PROXY_AUTHORIZATION,
    ] {
        forwarded.remove(name);
    }
    let impersonation: Vec<_> = forwarded
        .keys()
        .filter(|k| k.as_str().starts_with("impersonate-"))
        .cloned()
        .collect();
    for name in impersonation {
        forwarded.remove(name);
    }
    let host = HeaderValue::from_str(&target.authority())
        .map_err(|e| Error::internal(format!("kubelet address: {e}")))?;
    forwarded.insert(header::HOST, host);
    let mut request = Request::builder()
        .method(method.clone())
        .uri(path_and_query)
        .body(Full::new(body))
        .map_err(|e| {
            Error::bad_request(format!("invalid kubelet location {path_and_query:?}: {e}"))
        })?;
    *request.headers_mut() = forwarded;
    Ok(request)
}

/// Removes hop-by-hop headers (RFC 9110 §7.6.1), those the `Connection` header names included.
fn strip_hop_by_hop(headers: &mut HeaderMap) {
    let named: Vec<String> = headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|t| t.trim().to_ascii_lowercase())
        .filter(|t| !t.is_empty())
        .collect();
    for name in named {
        headers.remove(name.as_str());
    }
    for name in [
        "connection",
        "keep-alive",
        "proxy-connection",
        "transfer-encoding",
        "te",
        "trailer",
        "upgrade",
    ] {
        headers.remove(name);
    }
}

/// `path?query` (just `path` for an empty query).
fn with_query(path: String, query: &str) -> String {
    if query.is_empty() {
        path
    } else {
        format!("{path}?{query}")
    }
}

/// The request's query parameters, repeated ones kept in order.
struct Query(Vec<(String, String)>);

impl Query {
    fn parse(query: Option<&str>) -> Query {
        Query(
            form_urlencoded::parse(query.unwrap_or_default().as_bytes())
                .into_owned()
                .collect(),
        )
    }

    fn first(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    fn all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.0
            .iter()
            .filter(move |(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// A boolean as upstream converts query parameters: absent is false, `0` and `false` are
    /// false, anything else (even empty) is true.
    fn flag(&self, name: &str) -> bool {
        self.first(name)
            .is_some_and(|v| v != "0" && !v.eq_ignore_ascii_case("false"))
    }

    /// An optional integer, with Go's `strconv.ParseInt` error as a 400.
    fn int(&self, name: &str) -> Result<Option<i64>> {
        match self.first(name) {
            None => Ok(None),
            Some(v) => v.parse().map(Some).map_err(|_| {
                Error::bad_request(format!("strconv.ParseInt: parsing {v:?}: invalid syntax"))
            }),
        }
    }
}

/// Query parameters for the kubelet, encoded as Go's `url.Values.Encode`: sorted by key,
/// repeated keys in the order added.
#[derive(Default)]
struct Params(BTreeMap<String, Vec<String>>);

impl Params {
    fn add(&mut self, key: &str, value: &str) {
        self.0.entry(key.into()).or_default().push(value.into());
    }

    fn encode(&self) -> String {
        let mut out = form_urlencoded::Serializer::new(String::new());
        for (key, values) in &self.0 {
            for value in values {
                out.append_pair(key, value);
            }
        }
        out.finish()
    }
}

/// `PodLogOptions` from the query, validated as upstream's `ValidatePodLogOptions`.
struct LogOptions {
    container: Option<String>,
    follow: bool,
    previous: bool,
    timestamps: bool,
    since_seconds: Option<i64>,
    since_time: Option<String>,
    tail_lines: Option<i64>,
    limit_bytes: Option<i64>,
    insecure_skip_tls_verify_backend: bool,
}

impl LogOptions {
    fn parse(query: &Query, pod: &str) -> Result<LogOptions> {
        let since_time = match query.first("sinceTime") {
            None | Some("") => None,
            Some(v) => {
                let ts: jiff::Timestamp = v.parse().map_err(|e| {
                    Error::bad_request(format!(
                        "parsing time {v:?} as \"2006-01-02T15:04:05Z07:00\": {e}"
                    ))
                })?;
                Some(ts.strftime("%Y-%m-%dT%H:%M:%SZ").to_string())
            }
        };
        let options = LogOptions {
            container: query
                .first("container")
                .filter(|c| !c.is_empty())
                .map(str::to_owned),
            follow: query.flag("follow"),
            previous: query.flag("previous"),
            timestamps: query.flag("timestamps"),
            since_seconds: query.int("sinceSeconds")?,
            since_time,
            tail_lines: query.int("tailLines")?,
            limit_bytes: query.int("limitBytes")?,
            insecure_skip_tls_verify_backend: query.flag("insecureSkipTLSVerifyBackend"),
        };
        let mut causes = Vec::new();
        if let Some(n) = options.tail_lines.filter(|n| *n < 0) {
            causes.push(StatusCause::invalid(
                "tailLines",
                &Value::from(n),
                "must be greater than or equal to 0",
            ));
        }
        if let Some(n) = options.limit_bytes.filter(|n| *n < 1) {
            causes.push(StatusCause::invalid(
                "limitBytes",
                &Value::from(n),
                "must be greater than 0",
            ));
        }
        match (options.since_seconds, &options.since_time) {
            (Some(_), Some(_)) => causes.push(StatusCause::new(
                "FieldValueForbidden",
                "",
                "Forbidden: at most one of `sinceTime` or `sinceSeconds` may be specified",
            )),
            (Some(n), None) if n < 1 => causes.push(StatusCause::invalid(
                "sinceSeconds",
                &Value::from(n),
                "must be greater than 0",
            )),
            _ => {}
        }
        if !causes.is_empty() {
            return Err(Error::Invalid {
                kind: "PodLogOptions".into(),
                group: String::new(),
                name: pod.into(),
                causes,
            });
        }
        Ok(options)
    }

    /// The kubelet's query, as upstream's `LogLocation` builds it.
    fn kubelet_query(&self) -> String {
        let mut params = Params::default();
        for (key, on) in [
            ("follow", self.follow),
            ("previous", self.previous),
            ("timestamps", self.timestamps),
        ] {
            if on {
                params.add(key, "true");
            }
        }
        if let Some(n) = self.since_seconds {
            params.add("sinceSeconds", &n.to_string());
        }
        if let Some(t) = &self.since_time {
            params.add("sinceTime", t);
        }
        if let Some(n) = self.tail_lines {
            params.add("tailLines", &n.to_string());
        }
        if let Some(n) = self.limit_bytes {
            params.add("limitBytes", &n.to_string());
        }
        params.encode()
    }
}

async fn get_pod(shared: &Shared, namespace: &str, name: &str) -> Result<Value> {
    let def = shared
        .resources
        .get("", "v1", "pods")
        .ok_or_else(|| Error::internal("pods are not served"))?;
    shared.registry.get(&def, Some(namespace), name).await
}

fn node_name(pod: &Value) -> Option<String> {
    pod["spec"]["nodeName"]
        .as_str()
        .filter(|n| !n.is_empty())
        .map(str::to_owned)
}

fn no_host(pod: &str) -> Error {
    Error::bad_request(format!("pod {pod} does not have a host assigned"))
}

/// Upstream's `validateContainer`: the named container must exist (init, regular or
/// ephemeral); without a name, the only container.
fn validate_container(pod: &Value, requested: Option<&str>) -> Result<String> {
    let names_in = |field: &str| -> Vec<String> {
        pod["spec"][field]
            .as_array()
            .map(|cs| {
                cs.iter()
                    .filter_map(|c| c["name"].as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    };
    let name = pod["metadata"]["name"].as_str().unwrap_or_default();
    let containers = names_in("containers");
    let all: Vec<String> = names_in("initContainers")
        .into_iter()
        .chain(containers.iter().cloned())
        .chain(names_in("ephemeralContainers"))
        .collect();
    match requested.filter(|c| !c.is_empty()) {
        Some(container) if all.iter().any(|c| c == container) => Ok(container.to_owned()),
        Some(container) => Err(Error::bad_request(format!(
            "container {container} is not valid for pod {name}"
        ))),
        None => match containers.as_slice() {
            [only] => Ok(only.clone()),
            [] => Err(Error::bad_request(format!(
                "a container name must be specified for pod {name}"
            ))),
            _ => Err(Error::bad_request(format!(
                "a container name must be specified for pod {name}, choose one of: [{}]",
                all.join(" ")
            ))),
        },
    }
}

/// Upstream's `NodeConnectionInfoGetter.GetConnectionInfo`: the node's preferred address and
/// kubelet port.
async fn connection_info(shared: &Shared, client: &KubeletClient, node: &str) -> Result<Target> {
    let def = shared
        .resources
        .get("", "v1", "nodes")
        .ok_or_else(|| Error::internal("nodes are not served"))?;
    let node_obj = shared.registry.get(&def, None, node).await?;
    let addresses = node_obj["status"]["addresses"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let address = ["InternalIP", "ExternalIP"].iter().find_map(|wanted| {
        addresses
            .iter()
            .find(|a| a["type"].as_str() == Some(wanted))
            .and_then(|a| a["address"].as_str())
            .filter(|a| !a.is_empty())
    });
    let Some(address) = address else {
        let known: Vec<String> = addresses
            .iter()
            .map(|a| {
                format!(
                    "{{{} {}}}",
                    a["type"].as_str().unwrap_or_default(),
                    a["address"].as_str().unwrap_or_default()
                )
            })
            .collect();
        return Err(unknown(format!(
            "no preferred addresses found; known addresses: [{}]",
            known.join(" ")
        )));
    };
    let published = node_obj["status"]["daemonEndpoints"]["kubeletEndpoint"]["Port"]
        .as_u64()
        .and_then(|p| u16::try_from(p).ok())
        .filter(|p| *p > 0);
    let Some(port) = published.or(client.default_port) else {
        return Err(unknown(format!(
            "node {node:?} publishes no kubelet port (status.daemonEndpoints.kubeletEndpoint.Port)"
        )));
    };
    Ok(Target {
        https: true,
        host: address.to_owned(),
        port,
    })
}

/// Upstream's node `ResourceLocation`: `{name}`, `{name}:{port}` or `{scheme}:{name}:{port}`;
/// the kubelet's own port (or none) goes to the kubelet over HTTPS, another port to that port
/// with the scheme given (default `http`). Returns the target and the path after `/proxy`.
async fn node_proxy_location(
    shared: &Shared,
    client: &KubeletClient,
    info: &RequestInfo,
    path: &str,
) -> Result<(Target, String)> {
    let invalid = || Error::bad_request(format!("invalid node request {:?}", info.name));
    let parts: Vec<&str> = info.name.split(':').collect();
    let (scheme, name, port) = match parts.as_slice() {
        [name] => ("", *name, ""),
        [name, port] => ("", *name, *port),
        [scheme, name, port] => (*scheme, *name, *port),
        _ => return Err(invalid()),
    };
    if name.is_empty() || !matches!(scheme, "" | "http" | "https") {
        return Err(invalid());
    }
    let mut target = connection_info(shared, client, name).await?;
    if !port.is_empty() && port != target.port.to_string() {
        target.port = port.parse().map_err(|_| invalid())?;
        target.https = scheme == "https";
    }
    let prefix = format!("/api/v1/nodes/{}/proxy", info.name);
    let rest = path.strip_prefix(&prefix).unwrap_or_default();
    let rest = if rest.starts_with('/') {
        rest.to_owned()
    } else {
        format!("/{rest}")
    };
    Ok((target, rest))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn container_defaults_to_the_only_one_and_lists_all_otherwise() {
        let one = json!({"metadata": {"name": "web"}, "spec": {"containers": [{"name": "app"}]}});
        assert_eq!(validate_container(&one, None).unwrap(), "app");
        assert_eq!(validate_container(&one, Some("")).unwrap(), "app");
        let many = json!({"metadata": {"name": "web"}, "spec": {
            "initContainers": [{"name": "init"}],
            "containers": [{"name": "a"}, {"name": "b"}],
        }});
        let e = validate_container(&many, None).unwrap_err();
        assert_eq!(
            e.to_string(),
            "a container name must be specified for pod web, choose one of: [init a b]"
        );
        assert_eq!(e.code_and_reason(), (400, "BadRequest"));
        assert_eq!(validate_container(&many, Some("init")).unwrap(), "init");
        assert_eq!(
            validate_container(&many, Some("c"))
                .unwrap_err()
                .to_string(),
            "container c is not valid for pod web"
        );
        let none = json!({"metadata": {"name": "web"}, "spec": {}});
        assert_eq!(
            validate_container(&none, None).unwrap_err().to_string(),
            "a container name must be specified for pod web"
        );
    }

    #[test]
    fn log_query_is_built_as_upstream() {
        let q = Query::parse(Some(
            "container=c&follow=true&timestamps=1&tailLines=10&sinceTime=2026-01-02T03:04:05.5%2B01:00&limitBytes=5&previous=false",
        ));
        let options = LogOptions::parse(&q, "p").unwrap();
        assert_eq!(options.container.as_deref(), Some("c"));
        assert_eq!(
            options.kubelet_query(),
            "follow=true&limitBytes=5&sinceTime=2026-01-02T02%3A04%3A05Z&tailLines=10&timestamps=true"
        );
        let bad = LogOptions::parse(&Query::parse(Some("tailLines=-1&limitBytes=0")), "p");
        let status = bad.err().unwrap().to_status();
        assert_eq!(status["code"], 422);
        assert_eq!(
            status["message"],
            "PodLogOptions \"p\" is invalid: [tailLines: Invalid value: -1: must be greater than or equal to 0, limitBytes: Invalid value: 0: must be greater than 0]"
        );
        let bad = LogOptions::parse(&Query::parse(Some("tailLines=x")), "p");
        assert_eq!(
            bad.err().unwrap().to_string(),
            "strconv.ParseInt: parsing \"x\": invalid syntax"
        );
    }

    #[test]
    fn params_encode_sorted_with_repeats_in_order() {
        let mut p = Params::default();
        p.add("output", "1");
        p.add("command", "sh");
        p.add("command", "-c");
        p.add("command", "echo a b");
        p.add("input", "1");
        assert_eq!(
            p.encode(),
            "command=sh&command=-c&command=echo+a+b&input=1&output=1"
        );
    }

    #[test]
    fn upgrade_detection_and_hop_by_hop_headers() {
        let mut h = HeaderMap::new();
        h.insert(
            header::CONNECTION,
            HeaderValue::from_static("keep-alive, Upgrade"),
        );
        h.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
        assert!(is_upgrade(&h));
        h.insert(
            header::CONNECTION,
            HeaderValue::from_static("keep-alive, x-custom"),
        );
        assert!(!is_upgrade(&h));
        h.insert("x-custom", HeaderValue::from_static("1"));
        h.insert("x-kept", HeaderValue::from_static("1"));
        strip_hop_by_hop(&mut h);
        assert!(h.get("x-custom").is_none() && h.get(header::UPGRADE).is_none());
        assert!(h.get("x-kept").is_some());
    }

    #[test]
    fn routes_only_the_kubelet_subresources() {
        let parse = |m: Method, p: &str| RequestInfo::parse(&m, p, &Default::default());
        assert!(serves(&parse(
            Method::GET,
            "/api/v1/namespaces/a/pods/p/log"
        )));
        assert!(serves(&parse(
            Method::POST,
            "/api/v1/namespaces/a/pods/p/exec"
        )));
        assert!(serves(&parse(
            Method::GET,
            "/api/v1/nodes/n/proxy/stats/summary"
        )));
        assert!(serves(&parse(Method::GET, "/api/v1/nodes/n/proxy")));
        assert!(!serves(&parse(
            Method::GET,
            "/api/v1/namespaces/a/pods/p/status"
        )));
        assert!(!serves(&parse(
            Method::GET,
            "/api/v1/namespaces/a/pods/p/proxy"
        )));
        assert!(!serves(&parse(
            Method::GET,
            "/apis/apps/v1/namespaces/a/deployments/p/log"
        )));
    }

    #[test]
    fn kubelet_errors_on_logs_become_statuses() {
        let e = generic_server_response(404, "pods/log", "web", "nope");
        let s = e.to_status();
        assert_eq!(s["reason"], "NotFound");
        assert_eq!(
            s["message"],
            "the server could not find the requested resource ( pods/log web)"
        );
        assert_eq!(go_method(&Method::GET), "Get");
    }
}
