//! [`ApiServer`]: the tower `Service` (in-process use) and the HTTPS listener (`bind`/`serve`).

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::path::Path;
use std::pin::Pin;
use std::sync::{Arc, Weak};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{header, Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Limited};
use kernel_store::Store;
use serde_json::{json, Value};
use tower::util::BoxCloneSyncService;
use tower::{Service, ServiceExt};
use tracing::Instrument;

use crate::auth::UserInfo;
use crate::discovery;
use crate::handlers::{self, error_response, full, json_response, parse_query, Body, RequestInfo};
use crate::metrics::Received;
use crate::registry::{name_of, revision_of, ListOptions};
use crate::resources::Resources;
use crate::shared::{Shared, StoreHooks};
use crate::status::{Error, Result};
use crate::version::version_info;

/// Bodies larger than this are refused with 413 (upstream's 3 MiB limit).
pub const MAX_BODY_BYTES: usize = 3 * 1024 * 1024;

/// The innermost service: routes an authenticated, authorized request.
#[derive(Clone)]
pub(crate) struct Router {
    pub(crate) shared: Arc<Shared>,
}

impl Service<Request<Bytes>> for Router {
    type Response = Response<Body>;
    type Error = Infallible;
    type Future =
        Pin<Box<dyn Future<Output = std::result::Result<Response<Body>, Infallible>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<std::result::Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<Bytes>) -> Self::Future {
        let shared = self.shared.clone();
        Box::pin(async move {
            let (parts, body) = request.into_parts();
            let query = parse_query(parts.uri.query());
            let info = parts
                .extensions
                .get::<RequestInfo>()
                .cloned()
                .unwrap_or_else(|| RequestInfo::parse(&parts.method, parts.uri.path(), &query));
            let user = parts
                .extensions
                .get::<UserInfo>()
                .cloned()
                .unwrap_or_default();
            let received = parts
                .extensions
                .get::<Received>()
                .map_or_else(Instant::now, |r| r.0);
            let labels = info.is_resource_request.then(|| {
                let apply = parts
                    .headers
                    .get(header::CONTENT_TYPE)
                    .is_some_and(|v| v.as_bytes() == b"application/apply-patch+yaml");
                let dry_run = query.get("dryRun").map(String::as_str);
                shared.metrics.labels(&parts.method, &info, dry_run, apply)
            });
            let result = if crate::kubelet_proxy::serves(&info) {
                crate::kubelet_proxy::handle(&shared, &info, parts, body, &user).await
            } else if info.is_resource_request {
                handlers::handle_resource(
                    shared.clone(),
                    info.clone(),
                    query,
                    parts.headers,
                    body,
                    user,
                )
                .await
            } else {
                non_resource(&shared, &parts.method, parts.uri.path(), &parts.headers)
            };
            let response = result.unwrap_or_else(|e| error_response(&e));
            Ok(match labels {
                Some(labels) => shared.metrics.record(labels, received, response),
                None => response,
            })
        })
    }
}

fn text(code: StatusCode, body: impl Into<Bytes>, content_type: &str) -> Response<Body> {
    Response::builder()
        .status(code)
        .header(header::CONTENT_TYPE, content_type)
        .body(full(body))
        .unwrap_or_else(|_| Response::new(full(Bytes::new())))
}

fn non_resource(
    shared: &Shared,
    method: &Method,
    path: &str,
    headers: &http::HeaderMap,
) -> Result<Response<Body>> {
    if method != Method::GET && method != Method::HEAD {
        return Err(Error::MethodNotAllowed(format!(
            "the server does not allow {method} on {path}"
        )));
    }
    let accept = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let aggregated = discovery::wants_aggregated(accept);
    let resources = &shared.resources;
    let trimmed = path.trim_end_matches('/');
    let parts: Vec<&str> = trimmed.split('/').filter(|s| !s.is_empty()).collect();
    let found = |v: Option<Value>| {
        v.map(|v| json_response(StatusCode::OK, &v))
            .ok_or(Error::NoRoute)
    };
    match parts.as_slice() {
        [p, ..] if matches!(*p, "healthz" | "livez" | "readyz") => {
            Ok(text(StatusCode::OK, "ok", "text/plain; charset=utf-8"))
        }
        ["version"] => Ok(json_response(StatusCode::OK, &version_info())),
        ["metrics"] => Ok(text(
            StatusCode::OK,
            shared.metrics.render(),
            crate::metrics::CONTENT_TYPE,
        )),
        ["api"] if aggregated => {
            let mut r = json_response(StatusCode::OK, &discovery::aggregated(resources, true));
            r.headers_mut().insert(
                header::CONTENT_TYPE,
                discovery::AGGREGATED_CONTENT_TYPE.parse().expect("valid"),
            );
            Ok(r)
        }
        ["apis"] if aggregated => {
            let mut r = json_response(StatusCode::OK, &discovery::aggregated(resources, false));
            r.headers_mut().insert(
                header::CONTENT_TYPE,
                discovery::AGGREGATED_CONTENT_TYPE.parse().expect("valid"),
            );
            Ok(r)
        }
        ["api"] => Ok(json_response(StatusCode::OK, &discovery::api_versions())),
        ["apis"] => Ok(json_response(
            StatusCode::OK,
            &discovery::api_group_list(resources),
        )),
        ["api", version] => found(discovery::api_resource_list(resources, "", version)),
        ["apis", group] => found(discovery::api_group(resources, group)),
        ["apis", group, version] => found(discovery::api_resource_list(resources, group, version)),
        ["openapi", "v2"] => {
            if accept.contains("protobuf") && !accept.contains("json") {
                return Err(Error::NotAcceptable(
                    "only application/json is supported".into(),
                ));
            }
            Ok(text(
                StatusCode::OK,
                shared.openapi().v2.clone(),
                "application/json",
            ))
        }
        ["openapi", "v3"] => Ok(text(
            StatusCode::OK,
            shared.openapi().v3_index.clone(),
            "application/json",
        )),
        ["openapi", "v3", rest @ ..] => match shared.openapi().v3_document(&rest.join("/")) {
            Some(doc) => Ok(text(StatusCode::OK, doc.clone(), "application/json")),
            None => Err(Error::NoRoute),
        },
        [] => {
            let paths = [
                "/api",
                "/api/v1",
                "/apis",
                "/healthz",
                "/livez",
                "/metrics",
                "/openapi/v2",
                "/openapi/v3",
                "/readyz",
                "/version",
            ];
            Ok(json_response(StatusCode::OK, &json!({ "paths": paths })))
        }
        _ => Err(Error::NoRoute),
    }
}

/// The API server: a cloneable tower `Service<http::Request<B>>`.
///
/// Use it in-process with `kube::Client::new(server.clone(), "default")`, or put it on the
/// network with [`ApiServer::bind`] / [`ApiServer::serve`]. Build it with
/// [`ApiServer::builder`](crate::ApiServer::builder).
#[derive(Clone)]
pub struct ApiServer {
    pub(crate) shared: Arc<Shared>,
    pub(crate) chain: BoxCloneSyncService<Request<Bytes>, Response<Body>, Infallible>,
}

impl std::fmt::Debug for ApiServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiServer")
            .field("registry", &self.shared.registry)
            .finish()
    }
}

impl<B> Service<Request<B>> for ApiServer
where
    B: http_body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    type Response = Response<Body>;
    type Error = Infallible;
    type Future =
        Pin<Box<dyn Future<Output = std::result::Result<Response<Body>, Infallible>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<std::result::Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        let received = Received(Instant::now());
        let chain = self.chain.clone();
        let span = tracing::info_span!("request", method = %request.method(), path = %request.uri().path());
        Box::pin(
            async move {
                let (mut parts, body) = request.into_parts();
                parts.extensions.insert(received);
                let bytes = match Limited::new(body, MAX_BODY_BYTES).collect().await {
                    Ok(collected) => collected.to_bytes(),
                    Err(e) => {
                        let error = if e
                            .downcast_ref::<http_body_util::LengthLimitError>()
                            .is_some()
                        {
                            Error::RequestEntityTooLarge(
                                "Request entity too large: limit is 3145728".into(),
                            )
                        } else {
                            Error::bad_request(format!("error reading the request body: {e}"))
                        };
                        return Ok(error_response(&error));
                    }
                };
                let response = chain.oneshot(Request::from_parts(parts, bytes)).await;
                if let Ok(r) = &response {
                    tracing::debug!(code = r.status().as_u16(), "served");
                }
                response
            }
            .instrument(span),
        )
    }
}

/// A running HTTPS listener; see [`ApiServer::bind`].
#[derive(Debug)]
pub struct Serving {
    addr: SocketAddr,
    drain: tokio::sync::watch::Sender<Option<Duration>>,
    task: tokio::task::JoinHandle<()>,
}

/// How long [`Serving::shutdown`] lets requests in flight finish.
pub const DEFAULT_SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

impl Serving {
    /// The address listened on.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Drains the listener, allowing [`DEFAULT_SHUTDOWN_GRACE`]: see [`Serving::shutdown_within`].
    pub async fn shutdown(self) {
        self.shutdown_within(DEFAULT_SHUTDOWN_GRACE).await
    }

    /// Drains the listener: stops accepting, ends every watch served through it (the client
    /// sees the stream end, as when its `timeoutSeconds` passes, and re-watches elsewhere),
    /// lets the requests in flight finish and closes each connection after its last response
    /// (HTTP/2 GOAWAY; HTTP/1.1 `Connection: close`). Connections still busy after `grace` are
    /// cut. Returns once every connection is closed.
    pub async fn shutdown_within(mut self, grace: Duration) {
        let _ = self.drain.send(Some(grace));
        let _ = (&mut self.task).await;
    }

    /// Waits until the listener stops (it only does after [`Serving::shutdown`] or a fatal error).
    pub async fn wait(mut self) {
        let _ = (&mut self.task).await;
    }
}

/// Resolves once `drain` says the listener is draining.
async fn draining(mut drain: tokio::sync::watch::Receiver<Option<Duration>>) -> Duration {
    let grace = drain
        .wait_for(Option::is_some)
        .await
        .map(|grace| grace.unwrap_or_default());
    match grace {
        Ok(grace) => grace,
        // The `Serving` is gone: nobody can drain any more, so never.
        Err(_) => std::future::pending().await,
    }
}

/// Ends a streaming body (a watch) when the listener drains; bodies of known length go as
/// they are.
fn end_on_drain(
    response: Response<Body>,
    drain: &tokio::sync::watch::Receiver<Option<Duration>>,
) -> Response<Body> {
    use http_body::Body as _;
    if response.body().size_hint().exact().is_some() {
        return response;
    }
    let drain = drain.clone();
    response.map(|body| {
        let frames = http_body_util::BodyStream::new(body);
        let stop = draining(drain);
        http_body_util::StreamBody::new(futures::StreamExt::take_until(frames, stop)).boxed_unsync()
    })
}

impl ApiServer {
    /// Listens on `addr` (port 0 picks a free port) with TLS, HTTP/2 and HTTP/1.1. Stop it with
    /// [`Serving::shutdown`], which drains it.
    pub async fn bind(&self, addr: SocketAddr) -> Result<Serving> {
        let listener = tokio::net::TcpListener::bind(addr).await?;
        let local = listener.local_addr()?;
        *self.shared.bound.lock().unwrap_or_else(|e| e.into_inner()) = Some(local);
        publish_endpoints(&self.shared, local).await?;
        let acceptor = tokio_rustls::TlsAcceptor::from(self.shared.tls.server_config()?);
        let (drain_tx, drain) = tokio::sync::watch::channel(None::<Duration>);
        let server = self.clone();
        let task = tokio::spawn(async move {
            let mut connections = tokio::task::JoinSet::new();
            let stop = draining(drain.clone());
            tokio::pin!(stop);
            let grace = loop {
                tokio::select! {
                    grace = &mut stop => break grace,
                    accepted = listener.accept() => {
                        let Ok((stream, peer)) = accepted else { continue };
                        connections.spawn(serve_connection(server.clone(), acceptor.clone(), stream, peer, drain.clone()));
                    }
                    Some(_) = connections.join_next(), if !connections.is_empty() => {}
                }
            };
            drop(listener);
            tracing::info!(addr = %local, connections = connections.len(), "draining");
            let drained = async { while connections.join_next().await.is_some() {} };
            if tokio::time::timeout(grace, drained).await.is_err() {
                tracing::warn!(addr = %local, cut = connections.len(), "grace period over: closing busy connections");
                connections.shutdown().await;
            }
        });
        Ok(Serving {
            addr: local,
            drain: drain_tx,
            task,
        })
    }

    /// Listens on `addr` and serves until the listener fails.
    pub async fn serve(&self, addr: SocketAddr) -> Result<()> {
        self.bind(addr).await?.wait().await;
        Ok(())
    }

    /// An admin kubeconfig for the address last bound (CA embedded, bearer token).
    pub fn kubeconfig(&self) -> Result<String> {
        let addr = self
            .shared
            .bound
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .ok_or_else(|| Error::internal("the server is not listening yet: call bind first"))?;
        let host = if addr.ip().is_unspecified() {
            "127.0.0.1".to_owned()
        } else {
            addr.ip().to_string()
        };
        let host = if addr.is_ipv6() && !addr.ip().is_unspecified() {
            format!("[{host}]")
        } else {
            host
        };
        Ok(crate::kubeconfig::render(
            &format!("https://{host}:{}", addr.port()),
            &self.shared.tls.ca_pem,
            &self.shared.token,
        ))
    }

    /// Writes [`ApiServer::kubeconfig`] to `path` (mode 0600 on Unix).
    pub fn write_kubeconfig(&self, path: impl AsRef<Path>) -> Result<()> {
        let config = self.kubeconfig()?;
        let path = path.as_ref();
        std::fs::write(path, config)?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
        }
        Ok(())
    }

    /// An in-process `kube::Client` acting as the admin (`kubernetes-admin`,
    /// `system:masters`), whatever authenticator the server has. See [`ApiServer::client_as`].
    pub fn client(&self) -> kube::Client {
        self.client_as(UserInfo::admin())
    }

    /// An in-process `kube::Client` (over this tower service, no network, no TLS) whose every
    /// request is made as `user`: authentication takes the user as is, authorization and
    /// admission see it. This is how components in the same process (the scheduler, the
    /// controllers) work when the server requires tokens ([`crate::ApiServerBuilder::require_admin_token`]);
    /// a plain `kube::Client::new(server.clone(), ..)` carries no identity and gets what an
    /// anonymous caller gets.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use kernel_api::{ApiServer, UserInfo};
    /// let server = ApiServer::builder().require_admin_token().build().await?;
    /// let scheduler = UserInfo { name: "system:kube-scheduler".into(), ..UserInfo::default() };
    /// let client = server.client_as(scheduler);
    /// let nodes: kube::Api<k8s_openapi::api::core::v1::Node> = kube::Api::all(client);
    /// assert!(nodes.list(&Default::default()).await?.items.is_empty());
    /// # Ok(())
    /// # }
    /// ```
    pub fn client_as(&self, user: UserInfo) -> kube::Client {
        let service = tower::ServiceBuilder::new()
            .map_request(move |mut request: Request<kube::client::Body>| {
                request
                    .extensions_mut()
                    .insert(crate::auth::InProcessUser(user.clone()));
                request
            })
            .service(self.clone());
        kube::Client::new(service, "default")
    }

    /// A `kube::Config` for this server over HTTPS (the address last bound, its CA, the admin
    /// token): for a component in another thread pool or runtime, or anything that wants a real
    /// connection. Same as reading [`ApiServer::kubeconfig`].
    pub async fn kube_config(&self) -> Result<kube::Config> {
        let kubeconfig = kube::config::Kubeconfig::from_yaml(&self.kubeconfig()?)
            .map_err(|e| Error::internal(format!("reading our own kubeconfig: {e}")))?;
        kube::Config::from_custom_kubeconfig(kubeconfig, &Default::default())
            .await
            .map_err(|e| Error::internal(format!("reading our own kubeconfig: {e}")))
    }

    /// The CA certificate (PEM) that signs the serving certificate.
    pub fn ca_pem(&self) -> &str {
        &self.shared.tls.ca_pem
    }

    /// The admin bearer token.
    pub fn token(&self) -> &str {
        &self.shared.token
    }

    /// The store the server writes to.
    pub fn store(&self) -> Arc<dyn Store> {
        self.shared.registry.store.clone()
    }

    /// The served resources.
    pub fn resources(&self) -> Arc<Resources> {
        self.shared.resources.clone()
    }
}

/// Serves one accepted TCP connection: TLS, then HTTP/1.1 or HTTP/2 until the peer closes it or
/// the listener drains (then gracefully: in-flight requests finish first).
async fn serve_connection(
    server: ApiServer,
    acceptor: tokio_rustls::TlsAcceptor,
    stream: tokio::net::TcpStream,
    peer: SocketAddr,
    drain: tokio::sync::watch::Receiver<Option<Duration>>,
) {
    let _ = stream.set_nodelay(true);
    let tls = match tokio::time::timeout(Duration::from_secs(10), acceptor.accept(stream)).await {
        Ok(Ok(tls)) => tls,
        Ok(Err(e)) => {
            tracing::debug!(%peer, error = %e, "TLS handshake failed");
            return;
        }
        Err(_) => return,
    };
    let bodies = drain.clone();
    let service = tower::ServiceBuilder::new()
        .map_response(move |response| end_on_drain(response, &bodies))
        .service(server);
    let service = hyper_util::service::TowerToHyperService::new(service);
    let builder =
        hyper_util::server::conn::auto::Builder::new(hyper_util::rt::TokioExecutor::new());
    // With upgrades: `pods/exec`, `attach`, `portforward` and `nodes/proxy` splice the upgraded
    // connection to the kubelet's (kubelet_proxy.rs).
    let connection =
        builder.serve_connection_with_upgrades(hyper_util::rt::TokioIo::new(tls), service);
    tokio::pin!(connection);
    let result = tokio::select! {
        result = connection.as_mut() => result,
        _ = draining(drain) => {
            connection.as_mut().graceful_shutdown();
            connection.await
        }
    };
    if let Err(e) = result {
        tracing::debug!(%peer, error = %e, "connection ended");
    }
}

/// Creates `default`, `kube-system`, `kube-public`, `kube-node-lease` and the `kubernetes`
/// Service if missing.
pub(crate) async fn bootstrap_namespaces(shared: &Shared) -> Result<()> {
    let Some(def) = shared.resources.get("", "v1", "namespaces") else {
        return Ok(());
    };
    for name in ["default", "kube-system", "kube-public", "kube-node-lease"] {
        let mut ns =
            json!({ "apiVersion": "v1", "kind": "Namespace", "metadata": { "name": name } });
        // As a create through the API: the Namespace defaults add the name label.
        def.strategy.defaults(&mut ns);
        crate::rest::prepare_create(&def, &mut ns, None)?;
        match shared.registry.create(&def, &ns).await {
            Ok(_) | Err(Error::AlreadyExists { .. }) => {}
            Err(e) => return Err(e),
        }
    }
    if let Some(def) = shared.resources.get("", "v1", "services") {
        let mut svc = json!({
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": { "name": "kubernetes", "labels": { "component": "apiserver", "provider": "kubernetes" } },
            "spec": {
                "type": "ClusterIP",
                "clusterIP": crate::allocator::KUBERNETES_SERVICE_IP,
                "clusterIPs": [crate::allocator::KUBERNETES_SERVICE_IP],
                "ipFamilies": ["IPv4"],
                "ipFamilyPolicy": "SingleStack",
                "sessionAffinity": "None",
                "internalTrafficPolicy": "Cluster",
                "ports": [{ "name": "https", "port": 443, "protocol": "TCP", "targetPort": 6443 }],
            },
        });
        crate::rest::prepare_create(&def, &mut svc, Some("default"))?;
        match shared.registry.create(&def, &svc).await {
            Ok(_) | Err(Error::AlreadyExists { .. }) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Points the `kubernetes` Service at the address the server listens on: its target port, the
/// `kubernetes` Endpoints and EndpointSlice (upstream's endpoint reconciler).
pub(crate) async fn publish_endpoints(shared: &Shared, addr: SocketAddr) -> Result<()> {
    let ip = if addr.ip().is_unspecified() {
        "127.0.0.1".to_owned()
    } else {
        addr.ip().to_string()
    };
    let port = addr.port();
    if let Some(def) = shared.resources.get("", "v1", "services") {
        if let Ok(mut svc) = shared
            .registry
            .get(&def, Some("default"), "kubernetes")
            .await
        {
            if svc["spec"]["ports"][0]["targetPort"] != json!(port) {
                let rv = revision_of(&svc)?.unwrap_or(0);
                svc["spec"]["ports"][0]["targetPort"] = json!(port);
                let _ = shared.registry.update(&def, &svc, rv).await;
            }
        }
    }
    let objects = [
        (
            ("", "v1", "endpoints"),
            json!({
                "apiVersion": "v1", "kind": "Endpoints",
                "metadata": { "name": "kubernetes", "namespace": "default", "labels": { "endpointslice.kubernetes.io/skip-mirror": "true" } },
                "subsets": [{ "addresses": [{ "ip": ip }], "ports": [{ "name": "https", "port": port, "protocol": "TCP" }] }],
            }),
        ),
        (
            ("discovery.k8s.io", "v1", "endpointslices"),
            json!({
                "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
                "metadata": { "name": "kubernetes", "namespace": "default", "labels": { "kubernetes.io/service-name": "kubernetes", "endpointslice.kubernetes.io/managed-by": "endpointslice-controller.k8s.io" } },
                "addressType": "IPv4",
                "endpoints": [{ "addresses": [ip], "conditions": { "ready": true, "serving": true, "terminating": false } }],
                "ports": [{ "name": "https", "port": port, "protocol": "TCP" }],
            }),
        ),
    ];
    for ((group, version, plural), mut obj) in objects {
        let Some(def) = shared.resources.get(group, version, plural) else {
            continue;
        };
        match shared
            .registry
            .get(&def, Some("default"), "kubernetes")
            .await
        {
            Ok(existing) => {
                let rv = revision_of(&existing)?.unwrap_or(0);
                let mut updated = existing.clone();
                for field in ["subsets", "endpoints", "ports", "addressType"] {
                    if let Some(v) = obj.get(field) {
                        updated[field] = v.clone();
                    }
                }
                if updated != existing {
                    let _ = shared.registry.update(&def, &updated, rv).await;
                }
            }
            Err(Error::NotFound { .. }) => {
                crate::rest::prepare_create(&def, &mut obj, Some("default"))?;
                let _ = shared.registry.create(&def, &obj).await;
            }
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Wakes the namespace finalizer after a namespace write.
pub(crate) struct NamespaceWakeup;

impl StoreHooks for NamespaceWakeup {
    fn written(&self, shared: &Shared, _namespace: &Value) {
        shared.namespace_wakeup.notify_one();
    }
}

/// The built-in namespace finalizer.
///
/// TODO(kernel-controllers): this belongs to the namespace controller; it lives here until that
/// controller exists. It empties terminating namespaces (deleting their objects outright, without
/// waiting for the objects' own finalizers) and then removes the namespace.
pub(crate) fn spawn_namespace_finalizer(shared: Weak<Shared>) {
    tokio::spawn(async move {
        loop {
            let Some(strong) = shared.upgrade() else {
                return;
            };
            if let Err(e) = finalize_namespaces(&strong).await {
                tracing::warn!(error = %e, "namespace finalizer pass failed");
            }
            let wakeup = async { strong.namespace_wakeup.notified().await };
            let _ = tokio::time::timeout(Duration::from_secs(2), wakeup).await;
        }
    });
}

async fn finalize_namespaces(shared: &Shared) -> Result<()> {
    let Some(ns_def) = shared.resources.get("", "v1", "namespaces") else {
        return Ok(());
    };
    let namespaces = shared
        .registry
        .list(&ns_def, None, ListOptions::default())
        .await?;
    for ns in namespaces
        .items
        .iter()
        .filter(|n| !n["metadata"]["deletionTimestamp"].is_null())
    {
        let name = name_of(ns);
        for def in shared.resources.all().iter().filter(|d| d.namespaced) {
            let page = shared
                .registry
                .list(def, Some(&name), ListOptions::default())
                .await?;
            for item in page.items {
                match shared
                    .registry
                    .delete(def, Some(&name), &name_of(&item), None)
                    .await
                {
                    Ok(_) | Err(Error::NotFound { .. }) => {}
                    Err(e) => return Err(e),
                }
            }
        }
        let expected = revision_of(ns)?;
        match shared.registry.delete(&ns_def, None, &name, expected).await {
            Ok(_) | Err(Error::NotFound { .. }) | Err(Error::Conflict { .. }) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}
