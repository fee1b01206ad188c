//! The kubelet's HTTPS server (upstream `pkg/kubelet/server/server.go`, port 10250): what
//! the API server's `pods/log`, `pods/exec`, `pods/attach`, `pods/portforward` and
//! `nodes/proxy` reach.
//!
//! | path | answer |
//! |---|---|
//! | `GET /pods` | a `PodList` of the pods the kubelet runs |
//! | `GET /runningpods/` | a `PodList` of the pods in the runtime (name, namespace, uid, running containers) |
//! | `GET /stats/summary` | the Summary API JSON (node CPU and memory, pods and their containers) |
//! | `GET /healthz[/ping\|/log\|/syncloop]` | `ok` |
//! | `GET /metrics` | Prometheus text |
//! | `GET /metrics/resource` | node CPU and memory, container start times (what metrics-server scrapes) |
//! | `GET /containerLogs/{namespace}/{pod}/{container}` | the container's log, `text/plain` (query: `follow`, `previous`, `timestamps`, `tailLines`, `sinceSeconds`, `sinceTime`, `limitBytes`) |
//! | `GET\|POST /exec/{namespace}/{pod}[/{uid}]/{container}` | WebSocket, remotecommand channels (query: `command` repeated, `input`, `output`, `error`, `tty`) |
//! | `GET\|POST /attach/{namespace}/{pod}[/{uid}]/{container}` | the same, attached to the container |
//! | `GET\|POST /portForward/{namespace}/{pod}[/{uid}]` | port-forward ([`crate::portforward`]: SPDY/3.1, SPDY in a WebSocket, or WebSocket channels) |
//!
//! Pods and containers are found in the runtime by the sandbox's name, namespace (and uid)
//! and the container's name, newest first (`previous`: the one before). Unknown pods and
//! containers are 404, bad queries 400.
//!
//! **TLS**: the given serving certificate and key (PEM), or a self-signed one made at start
//! for the node's name, its IP, `localhost` and `127.0.0.1`. **Clients**: with
//! [`KubeletServerConfig::client_ca_pem`], a client certificate signed by it is required
//! (upstream `--client-ca-file`); without it any client is accepted — the embedded default,
//! fit for a kubelet whose port only the API server reaches. There is no authorization
//! (upstream's webhook authorizer) either way. HTTP/1.1 only.

use std::convert::Infallible;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::{Instant, SystemTime};

use bytes::Bytes;
use http::{header, Method, Request, Response, StatusCode};
use http_body_util::{combinators::BoxBody, BodyExt, Full, StreamBody};
use hyper::body::{Frame, Incoming};
use k8s_openapi::api::core::v1::Pod;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use serde_json::json;

use crate::error::{Error, Result};
use crate::runtime::{ContainerStatus, ExecRequest, PodSandboxStatus, Runtime, SandboxState};

pub(crate) mod logs;
pub(crate) mod metrics;
mod remotecommand;
mod stats;

pub use logs::LogOptions;

/// The body of every answer.
pub type Body = BoxBody<Bytes, std::io::Error>;

/// Upstream's kubelet port.
pub const DEFAULT_PORT: u16 = 10250;

/// How the kubelet serves (upstream `--address`, `--port`, `--tls-cert-file`,
/// `--tls-private-key-file`, `--client-ca-file`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KubeletServerConfig {
    /// Where to listen; port 0 picks a free port (default `0.0.0.0:10250`).
    pub address: SocketAddr,
    /// The serving certificate chain (PEM); with [`tls_key_pem`](Self::tls_key_pem). Without
    /// both, a self-signed certificate is made at start.
    pub tls_cert_pem: Option<String>,
    /// The serving certificate's private key (PEM).
    pub tls_key_pem: Option<String>,
    /// The CA client certificates must be signed by; `None`: any client is accepted.
    pub client_ca_pem: Option<String>,
}

impl Default for KubeletServerConfig {
    fn default() -> Self {
        KubeletServerConfig::on(SocketAddr::new(
            IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            DEFAULT_PORT,
        ))
    }
}

impl KubeletServerConfig {
    /// Listening on `address`, self-signed, any client.
    pub fn on(address: SocketAddr) -> Self {
        KubeletServerConfig {
            address,
            tls_cert_pem: None,
            tls_key_pem: None,
            client_ca_pem: None,
        }
    }
}

/// The pods `/pods` lists.
type PodSource = Arc<dyn Fn() -> Vec<Pod> + Send + Sync>;

/// What the request handlers share.
pub(crate) struct State {
    /// The runtime pods run in.
    pub(crate) runtime: Arc<dyn Runtime>,
    node_name: String,
    pods: Option<PodSource>,
    metrics: Arc<metrics::Metrics>,
    started: SystemTime,
}

/// The kubelet's server before it listens; [`KubeletServer::bind`] starts it.
pub struct KubeletServer {
    config: KubeletServerConfig,
    runtime: Arc<dyn Runtime>,
    node_name: String,
    node_ip: Option<IpAddr>,
    pods: Option<PodSource>,
    metrics: Option<Arc<metrics::Metrics>>,
}

impl std::fmt::Debug for KubeletServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KubeletServer")
            .field("config", &self.config)
            .field("node_name", &self.node_name)
            .finish_non_exhaustive()
    }
}

impl KubeletServer {
    /// A server for the pods of `runtime`.
    pub fn new(config: KubeletServerConfig, runtime: Arc<dyn Runtime>) -> Self {
        KubeletServer {
            config,
            runtime,
            node_name: "localhost".into(),
            node_ip: None,
            pods: None,
            metrics: None,
        }
    }

    /// The metrics `/metrics` renders (the kubelet's, which its pod loop also observes).
    pub(crate) fn metrics(mut self, metrics: Arc<metrics::Metrics>) -> Self {
        self.metrics = Some(metrics);
        self
    }

    /// The node's name and IP (the self-signed certificate's names, `kubelet_node_name`).
    pub fn node(mut self, name: impl Into<String>, ip: Option<IpAddr>) -> Self {
        self.node_name = name.into();
        self.node_ip = ip;
        self
    }

    /// What `GET /pods` lists (default: an empty list).
    pub fn pods(mut self, pods: impl Fn() -> Vec<Pod> + Send + Sync + 'static) -> Self {
        self.pods = Some(Arc::new(pods));
        self
    }

    /// Listens and serves until the returned [`ServingKubelet`] is dropped.
    pub async fn bind(self) -> Result<ServingKubelet> {
        let (cert_pem, key_pem) = match (&self.config.tls_cert_pem, &self.config.tls_key_pem) {
            (Some(c), Some(k)) => (c.clone(), k.clone()),
            (None, None) => self_signed(&self.node_name, self.node_ip)?,
            _ => {
                return Err(Error::InvalidState(
                    "the kubelet server needs both a TLS certificate and its key, or neither"
                        .into(),
                ))
            }
        };
        let tls = tls_config(&cert_pem, &key_pem, self.config.client_ca_pem.as_deref())?;
        let acceptor = tokio_rustls::TlsAcceptor::from(tls);
        let listener = tokio::net::TcpListener::bind(self.config.address)
            .await
            .map_err(|source| Error::Io {
                context: format!("binding the kubelet server to {}", self.config.address),
                source,
            })?;
        let addr = listener.local_addr().map_err(|source| Error::Io {
            context: "the kubelet server's address".into(),
            source,
        })?;
        let state = Arc::new(State {
            runtime: self.runtime,
            metrics: self
                .metrics
                .unwrap_or_else(|| Arc::new(metrics::Metrics::new(&self.node_name))),
            node_name: self.node_name,
            pods: self.pods,
            started: SystemTime::now(),
        });
        tracing::info!(%addr, "kubelet server listening");
        let task = tokio::spawn(async move {
            let mut connections = tokio::task::JoinSet::new();
            loop {
                tokio::select! {
                    accepted = listener.accept() => {
                        let Ok((stream, peer)) = accepted else { continue };
                        connections.spawn(serve_connection(state.clone(), acceptor.clone(), stream, peer));
                    }
                    Some(_) = connections.join_next(), if !connections.is_empty() => {}
                }
            }
        });
        Ok(ServingKubelet {
            addr,
            cert_pem,
            task,
        })
    }
}

/// A listening kubelet server; dropping it stops it (and its connections).
#[derive(Debug)]
pub struct ServingKubelet {
    addr: SocketAddr,
    cert_pem: String,
    task: tokio::task::JoinHandle<()>,
}

impl ServingKubelet {
    /// The address it listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// The port it listens on (published as `status.daemonEndpoints.kubeletEndpoint.Port`).
    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// The serving certificate (PEM), e.g. to trust a self-signed one.
    pub fn cert_pem(&self) -> &str {
        &self.cert_pem
    }
}

impl Drop for ServingKubelet {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A self-signed serving certificate and key (PEM) for the node.
fn self_signed(node: &str, ip: Option<IpAddr>) -> Result<(String, String)> {
    let mut names = vec![node.to_string(), "localhost".into(), "127.0.0.1".into()];
    if let Some(ip) = ip {
        names.push(ip.to_string());
    }
    names.dedup();
    let certified = rcgen::generate_simple_self_signed(names)
        .map_err(|e| Error::Backend(format!("making the kubelet's serving certificate: {e}")))?;
    Ok((certified.cert.pem(), certified.key_pair.serialize_pem()))
}

fn tls_error(what: &str) -> impl FnOnce(String) -> Error + '_ {
    move |e| Error::InvalidState(format!("kubelet server TLS: {what}: {e}"))
}

/// The rustls server config: the serving certificate, HTTP/1.1, client certificates
/// verified against `client_ca` when given.
fn tls_config(
    cert_pem: &str,
    key_pem: &str,
    client_ca: Option<&str>,
) -> Result<Arc<rustls::ServerConfig>> {
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(cert_pem.as_bytes())
        .collect::<std::result::Result<_, _>>()
        .map_err(|e| tls_error("reading the certificate")(e.to_string()))?;
    let key = PrivateKeyDer::from_pem_slice(key_pem.as_bytes())
        .map_err(|e| tls_error("reading the key")(e.to_string()))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| tls_error("protocol versions")(e.to_string()))?;
    let builder = match client_ca {
        None => builder.with_no_client_auth(),
        Some(ca) => {
            let mut roots = rustls::RootCertStore::empty();
            for cert in CertificateDer::pem_slice_iter(ca.as_bytes()) {
                let cert = cert.map_err(|e| tls_error("reading the client CA")(e.to_string()))?;
                roots
                    .add(cert)
                    .map_err(|e| tls_error("the client CA")(e.to_string()))?;
            }
            let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
                Arc::new(roots),
                provider,
            )
            .build()
            .map_err(|e| tls_error("the client verifier")(e.to_string()))?;
            builder.with_client_cert_verifier(verifier)
        }
    };
    let mut config = builder
        .with_single_cert(certs, key)
        .map_err(|e| tls_error("the serving certificate")(e.to_string()))?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

async fn serve_connection(
    state: Arc<State>,
    acceptor: tokio_rustls::TlsAcceptor,
    stream: tokio::net::TcpStream,
    peer: SocketAddr,
) {
    let _ = stream.set_nodelay(true);
    let tls =
        match tokio::time::timeout(std::time::Duration::from_secs(10), acceptor.accept(stream))
            .await
        {
            Ok(Ok(tls)) => tls,
            Ok(Err(e)) => {
                tracing::debug!(%peer, error = %e, "kubelet server: TLS handshake failed");
                return;
            }
            Err(_) => return,
        };
    let service = hyper::service::service_fn(move |req| {
        let state = state.clone();
        async move { Ok::<_, Infallible>(handle(state, req).await) }
    });
    let connection = hyper::server::conn::http1::Builder::new()
        .serve_connection(hyper_util::rt::TokioIo::new(tls), service)
        .with_upgrades();
    if let Err(e) = connection.await {
        tracing::debug!(%peer, error = %e, "kubelet server: connection ended");
    }
}

/// A whole body.
pub(crate) fn full(body: impl Into<Bytes>) -> Body {
    Full::new(body.into())
        .map_err(|never| match never {})
        .boxed()
}

/// A `text/plain` answer (a newline added if missing), as upstream's errors.
pub(crate) fn text(status: StatusCode, body: impl Into<String>) -> Response<Body> {
    let mut body = body.into();
    if !body.ends_with('\n') {
        body.push('\n');
    }
    Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, "text/plain; charset=utf-8")
        .body(full(body))
        .unwrap_or_else(|_| Response::new(full("")))
}

fn json_response(value: &serde_json::Value) -> Response<Body> {
    Response::builder()
        .header(header::CONTENT_TYPE, "application/json")
        .body(full(value.to_string()))
        .unwrap_or_else(|_| Response::new(full("")))
}

fn error_response(e: &Error) -> Response<Body> {
    let status = match e {
        Error::NotFound { .. } => StatusCode::NOT_FOUND,
        Error::InvalidState(_) => StatusCode::BAD_REQUEST,
        Error::Unsupported(_) => StatusCode::NOT_IMPLEMENTED,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    };
    text(status, e.to_string())
}

/// The query as pairs, percent-decoded.
fn query(req: &Request<Incoming>) -> Vec<(String, String)> {
    form_urlencoded::parse(req.uri().query().unwrap_or("").as_bytes())
        .into_owned()
        .collect()
}

fn segments(path: &str) -> Vec<String> {
    path.split('/')
        .filter(|s| !s.is_empty())
        .map(|s| {
            percent_encoding::percent_decode_str(s)
                .decode_utf8_lossy()
                .into_owned()
        })
        .collect()
}

/// The `path` label of a request's metrics.
fn metric_path(first: Option<&str>) -> &'static str {
    match first {
        Some("healthz") => "healthz",
        Some("pods") => "pods",
        Some("stats") => "stats",
        Some("metrics") => "metrics",
        Some("containerLogs") => "containerLogs",
        Some("exec") => "exec",
        Some("attach") => "attach",
        Some("portForward") => "portForward",
        _ => "other",
    }
}

async fn handle(state: Arc<State>, req: Request<Incoming>) -> Response<Body> {
    let started = Instant::now();
    let parts = segments(req.uri().path());
    let q = query(&req);
    let first = parts.first().map(String::as_str);
    let long_running = match first {
        Some("exec" | "attach" | "portForward") => true,
        Some("containerLogs") => q
            .iter()
            .any(|(k, v)| k == "follow" && (v == "true" || v == "1")),
        _ => false,
    };
    let labels = metrics::RequestLabels {
        long_running: if long_running { "true" } else { "false" },
        method: req.method().as_str().to_string(),
        path: metric_path(first),
        server_type: "readwrite",
    };
    state.metrics.request(&labels);
    let method = req.method().clone();
    let readonly = method == Method::GET || method == Method::HEAD;
    let strs: Vec<&str> = parts.iter().map(String::as_str).collect();
    let response = match strs.as_slice() {
        // Upstream's checks (`ping`, `log`, `syncloop`) all pass while the server answers.
        ["healthz"] | ["healthz", _] if readonly => text(StatusCode::OK, "ok"),
        ["pods"] if readonly => {
            let items = state.pods.as_ref().map(|f| f()).unwrap_or_default();
            json_response(
                &json!({ "kind": "PodList", "apiVersion": "v1", "metadata": {}, "items": items }),
            )
        }
        ["runningpods"] if readonly => json_response(&running_pods(&state.runtime).await),
        ["stats", "summary"] if readonly => {
            json_response(&stats::summary(&state.node_name, state.started, &state.runtime).await)
        }
        ["metrics"] if readonly => Response::builder()
            .header(header::CONTENT_TYPE, metrics::CONTENT_TYPE)
            .body(full(state.metrics.render(&state.runtime).await))
            .unwrap_or_else(|_| Response::new(full(""))),
        ["metrics", "resource"] if readonly => Response::builder()
            .header(header::CONTENT_TYPE, metrics::CONTENT_TYPE)
            .body(full(stats::resource_metrics(&state.runtime).await))
            .unwrap_or_else(|_| Response::new(full(""))),
        ["containerLogs", ns, pod, container] if readonly => {
            container_logs(&state, ns, pod, container, &q).await
        }
        ["exec" | "attach", ns, pod, container] | ["exec" | "attach", ns, pod, _, container]
            if method == Method::GET || method == Method::POST =>
        {
            let uid = (strs.len() == 5).then(|| strs[3].to_string());
            let attach = strs[0] == "attach";
            let (ns, pod, container) = (ns.to_string(), pod.to_string(), container.to_string());
            stream(state.clone(), req, attach, ns, pod, uid, container, q).await
        }
        ["portForward", ns, pod] | ["portForward", ns, pod, _]
            if method == Method::GET || method == Method::POST =>
        {
            let uid = (strs.len() == 4).then(|| strs[3].to_string());
            let (ns, pod) = (ns.to_string(), pod.to_string());
            port_forward(state.clone(), req, ns, pod, uid).await
        }
        _ => text(StatusCode::NOT_FOUND, "404 page not found"),
    };
    state.metrics.observe(&labels, started.elapsed());
    response
}

/// `/runningpods/`: the pods as the runtime has them (upstream builds them from the
/// runtime's pods too): ready sandboxes with their running containers.
async fn running_pods(runtime: &Arc<dyn Runtime>) -> serde_json::Value {
    let sandboxes = runtime.list_pod_sandboxes().await.unwrap_or_default();
    let containers = runtime.list_containers(None).await.unwrap_or_default();
    let items: Vec<serde_json::Value> = sandboxes
        .iter()
        .filter(|s| s.state == SandboxState::Ready)
        .map(|s| {
            let running: Vec<serde_json::Value> = containers
                .iter()
                .filter(|c| {
                    c.sandbox_id == s.id && c.state == crate::runtime::ContainerState::Running
                })
                .map(|c| json!({ "name": c.name, "image": c.image }))
                .collect();
            json!({
                "metadata": { "name": s.config.name, "namespace": s.config.namespace, "uid": s.config.uid, "creationTimestamp": null },
                "spec": { "containers": running },
                "status": {},
            })
        })
        .collect();
    json!({ "kind": "PodList", "apiVersion": "v1", "metadata": {}, "items": items })
}

/// The pod's sandboxes, newest first: by namespace, name and (if given) uid.
pub(crate) async fn find_sandboxes(
    runtime: &Arc<dyn Runtime>,
    namespace: &str,
    pod: &str,
    uid: Option<&str>,
) -> Result<Vec<PodSandboxStatus>> {
    let mut sandboxes: Vec<_> = runtime
        .list_pod_sandboxes()
        .await?
        .into_iter()
        .filter(|s| s.config.namespace == namespace && s.config.name == pod)
        .filter(|s| uid.is_none_or(|u| s.config.uid == u))
        .collect();
    if sandboxes.is_empty() {
        return Err(Error::NotFound {
            kind: "pod",
            id: format!("{namespace}/{pod}"),
        });
    }
    sandboxes.sort_by_key(|s| {
        std::cmp::Reverse((
            s.state == SandboxState::Ready,
            s.config.attempt,
            s.created_at,
        ))
    });
    Ok(sandboxes)
}

/// The container's attempts in the pod, newest first.
pub(crate) async fn find_containers(
    runtime: &Arc<dyn Runtime>,
    namespace: &str,
    pod: &str,
    uid: Option<&str>,
    container: &str,
) -> Result<Vec<ContainerStatus>> {
    let sandboxes = find_sandboxes(runtime, namespace, pod, uid).await?;
    let mut found: Vec<ContainerStatus> = runtime
        .list_containers(None)
        .await?
        .into_iter()
        .filter(|c| c.name == container && sandboxes.iter().any(|s| s.id == c.sandbox_id))
        .collect();
    if found.is_empty() {
        return Err(Error::NotFound {
            kind: "container",
            id: format!("{container} in pod {namespace}/{pod}"),
        });
    }
    found.sort_by_key(|c| std::cmp::Reverse((c.created_at, c.attempt)));
    Ok(found)
}

async fn container_logs(
    state: &Arc<State>,
    ns: &str,
    pod: &str,
    container: &str,
    q: &[(String, String)],
) -> Response<Body> {
    let options = match LogOptions::from_query(q) {
        Ok(o) => o,
        Err(e) => return text(StatusCode::BAD_REQUEST, e),
    };
    let found = match find_containers(&state.runtime, ns, pod, None, container).await {
        Ok(f) => f,
        Err(e) => return error_response(&e),
    };
    let target = if options.previous {
        match found.get(1) {
            Some(c) => c.clone(),
            None => {
                return text(
                    StatusCode::BAD_REQUEST,
                    format!("previous terminated container {container:?} in pod {pod:?} not found"),
                )
            }
        }
    } else {
        found[0].clone()
    };
    let (tx, rx) = tokio::sync::mpsc::channel::<Bytes>(16);
    let runtime = state.runtime.clone();
    let id = target.id.clone();
    let path = target.log_path.clone();
    tokio::spawn(async move {
        let running = || {
            let runtime = runtime.clone();
            let id = id.clone();
            async move {
                matches!(
                    runtime.container_status(&id).await,
                    Ok(s) if s.state == crate::runtime::ContainerState::Running
                        || s.state == crate::runtime::ContainerState::Created
                )
            }
        };
        logs::stream(&path, &options, tx, running).await;
    });
    let frames = futures::stream::unfold(rx, |mut rx| async move {
        rx.recv()
            .await
            .map(|b| (Ok::<_, std::io::Error>(Frame::data(b)), rx))
    });
    Response::builder()
        .header(header::CONTENT_TYPE, "text/plain")
        .body(StreamBody::new(frames).boxed())
        .unwrap_or_else(|_| Response::new(full("")))
}

fn flag(q: &[(String, String)], name: &str) -> bool {
    q.iter()
        .any(|(k, v)| k == name && matches!(v.as_str(), "1" | "true" | "True" | "TRUE"))
}

fn header_str(req: &Request<Incoming>, name: header::HeaderName) -> Option<&str> {
    req.headers().get(name).and_then(|v| v.to_str().ok())
}

/// `/exec` and `/attach`: the WebSocket upgrade, then the remotecommand session.
#[allow(clippy::too_many_arguments)]
async fn stream(
    state: Arc<State>,
    mut req: Request<Incoming>,
    attach: bool,
    ns: String,
    pod: String,
    uid: Option<String>,
    container: String,
    q: Vec<(String, String)>,
) -> Response<Body> {
    let tty = flag(&q, "tty");
    let request = ExecRequest {
        command: if attach {
            Vec::new()
        } else {
            q.iter()
                .filter(|(k, _)| k == "command")
                .map(|(_, v)| v.clone())
                .collect()
        },
        stdin: flag(&q, "input"),
        stdout: flag(&q, "output"),
        // As upstream: no stderr with a TTY (it is the terminal's output).
        stderr: flag(&q, "error") && !tty,
        tty,
    };
    if !request.stdin && !request.stdout && !request.stderr {
        return text(
            StatusCode::BAD_REQUEST,
            "you must specify at least 1 of stdin, stdout, stderr",
        );
    }
    if !attach && request.command.is_empty() {
        return text(StatusCode::BAD_REQUEST, "you must specify a command");
    }
    let found = match find_containers(&state.runtime, &ns, &pod, uid.as_deref(), &container).await {
        Ok(f) => f,
        Err(e) => return error_response(&e),
    };
    // As upstream, a container that does not run is an error before any upgrade.
    if found[0].state != crate::runtime::ContainerState::Running {
        return text(
            StatusCode::BAD_REQUEST,
            format!("container {container:?} in pod {ns}/{pod} is not running"),
        );
    }
    let container_id = found[0].id.clone();
    let upgrade = header_str(&req, header::UPGRADE)
        .unwrap_or("")
        .to_ascii_lowercase();
    if upgrade != "websocket" {
        let message = if upgrade.starts_with("spdy") {
            "SPDY streams are not supported by this kubelet: use a WebSocket (kubectl 1.30 or later)"
        } else {
            "this endpoint needs an upgrade to a WebSocket (Upgrade: websocket)"
        };
        return text(StatusCode::BAD_REQUEST, message);
    }
    let Some(key) = header_str(&req, header::SEC_WEBSOCKET_KEY).map(str::to_string) else {
        return text(StatusCode::BAD_REQUEST, "missing Sec-WebSocket-Key");
    };
    let protocol = match remotecommand::negotiate(header_str(&req, header::SEC_WEBSOCKET_PROTOCOL))
    {
        Ok(p) => p,
        Err(e) => return text(StatusCode::BAD_REQUEST, e),
    };
    let version = protocol.map_or(1, |p| p.1);
    let on_upgrade = hyper::upgrade::on(&mut req);
    let runtime = state.runtime.clone();
    tokio::spawn(async move {
        let upgraded = match on_upgrade.await {
            Ok(u) => u,
            Err(e) => {
                tracing::debug!(error = %e, "exec: the upgrade failed");
                return;
            }
        };
        let session = if attach {
            runtime.attach(&container_id, &request).await
        } else {
            runtime.exec(&container_id, &request).await
        };
        remotecommand::serve(
            hyper_util::rt::TokioIo::new(upgraded),
            version,
            session,
            request.command,
        )
        .await;
    });
    let mut response = Response::builder()
        .status(StatusCode::SWITCHING_PROTOCOLS)
        .header(header::CONNECTION, "Upgrade")
        .header(header::UPGRADE, "websocket")
        .header(
            header::SEC_WEBSOCKET_ACCEPT,
            crate::websocket::accept_key(&key),
        );
    if let Some((name, _)) = protocol {
        response = response.header(header::SEC_WEBSOCKET_PROTOCOL, name);
    }
    response
        .body(full(""))
        .unwrap_or_else(|_| Response::new(full("")))
}

/// `/portForward/{namespace}/{pod}[/{uid}]`: [`crate::portforward`] on the upgraded
/// connection (SPDY/3.1, SPDY in a WebSocket, or the WebSocket channel protocol, as
/// [`negotiate`](crate::portforward::negotiate) picks), each port connection opened with
/// [`Runtime::port_forward`] in the pod's newest ready sandbox. Errors name the pod by its
/// sandbox id with an empty uid, as upstream's CRI streaming server does.
pub(crate) async fn port_forward(
    state: Arc<State>,
    mut req: Request<Incoming>,
    namespace: String,
    pod: String,
    uid: Option<String>,
) -> Response<Body> {
    let sandboxes = match find_sandboxes(&state.runtime, &namespace, &pod, uid.as_deref()).await {
        Ok(s) => s,
        Err(e) => return error_response(&e),
    };
    let sandbox = &sandboxes[0];
    if sandbox.state != SandboxState::Ready {
        return text(
            StatusCode::BAD_REQUEST,
            format!("pod {namespace}/{pod} is not running"),
        );
    }
    let upgrade = match crate::portforward::negotiate(req.headers(), req.uri().query()) {
        Ok(u) => u,
        Err(rejection) => {
            let status = StatusCode::from_u16(rejection.status).unwrap_or(StatusCode::BAD_REQUEST);
            let mut response = text(status, rejection.message);
            for (name, value) in rejection.headers {
                if let Ok(value) = http::HeaderValue::from_str(&value) {
                    response.headers_mut().insert(name, value);
                }
            }
            return response;
        }
    };
    let on_upgrade = hyper::upgrade::on(&mut req);
    let runtime = state.runtime.clone();
    let sandbox_id = sandbox.id.clone();
    let transport = upgrade.transport.clone();
    tokio::spawn(async move {
        let upgraded = match on_upgrade.await {
            Ok(u) => u,
            Err(e) => {
                tracing::debug!(error = %e, "port-forward: the upgrade failed");
                return;
            }
        };
        let options = crate::portforward::ServeOptions::for_pod(sandbox_id.clone(), "");
        let connect = move |port: u16| -> futures::future::BoxFuture<
            'static,
            Result<Box<dyn crate::runtime::Duplex>>,
        > {
            let runtime = runtime.clone();
            let sandbox_id = sandbox_id.clone();
            Box::pin(async move { runtime.port_forward(&sandbox_id, port).await })
        };
        let io = hyper_util::rt::TokioIo::new(upgraded);
        if let Err(e) = crate::portforward::serve_upgraded(transport, io, connect, options).await {
            tracing::debug!(error = %e, "port-forward ended");
        }
    });
    let mut response = Response::builder().status(StatusCode::SWITCHING_PROTOCOLS);
    for (name, value) in &upgrade.headers {
        response = response.header(*name, value.as_str());
    }
    response
        .body(full(""))
        .unwrap_or_else(|_| Response::new(full("")))
}
