//! The API server's connect subresources (`pods/log`, `exec`, `attach`, `portforward`,
//! `nodes/proxy`) against a fake kubelet: a small HTTPS server in this file that records the
//! path and query it receives, streams log lines on demand and echoes bytes after an upgrade.
//! The API server is served over HTTPS on loopback and reached with a raw HTTP/1.1 client (to
//! see frames and upgrades) and with the real kubectl (skipped, with a notice, without one).

use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http::{HeaderMap, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full, StreamBody};
use hyper::body::{Frame, Incoming};
use k8s_openapi::api::core::v1::{Node, Pod};
use kernel_api::{ApiServer, KubeletClientConfig, Serving};
use kernel_testing::within;
use kube::api::{Api, PostParams};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::{mpsc, Notify};

type BoxBody = http_body_util::combinators::BoxBody<Bytes, Infallible>;

/// A request the fake kubelet received.
#[derive(Clone, Debug)]
struct Seen {
    method: String,
    path_and_query: String,
    headers: HeaderMap,
    body: Bytes,
}

/// The fake kubelet.
struct FakeKubelet {
    port: u16,
    seen: Arc<Mutex<Vec<Seen>>>,
    /// Lets a `follow=true` log stream send its second line.
    release: Arc<Notify>,
    /// The CA (PEM) that signed this kubelet's serving certificate.
    cert_pem: String,
}

impl FakeKubelet {
    /// Starts it; with `client_ca`, a client certificate signed by that CA is required.
    async fn start(client_ca: Option<&str>) -> FakeKubelet {
        // A serving certificate for 127.0.0.1 (among others) and the CA that signed it.
        let material = kernel_api::TlsMaterial::generate(&[]).unwrap();
        let cert_pem = material.ca_pem.clone();
        let key = PrivateKeyDer::from_pem_slice(material.key_pem.as_bytes()).unwrap();
        let cert = CertificateDer::from_pem_slice(material.cert_pem.as_bytes()).unwrap();
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .unwrap();
        let builder = match client_ca {
            None => builder.with_no_client_auth(),
            Some(ca) => {
                let mut roots = rustls::RootCertStore::empty();
                roots
                    .add(CertificateDer::from_pem_slice(ca.as_bytes()).unwrap())
                    .unwrap();
                let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
                    Arc::new(roots),
                    provider,
                )
                .build()
                .unwrap();
                builder.with_client_cert_verifier(verifier)
            }
        };
        let config = builder.with_single_cert(vec![cert], key).unwrap();
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let release = Arc::new(Notify::new());
        let (s, r) = (seen.clone(), release.clone());
        tokio::spawn(async move {
            loop {
                let Ok((tcp, _)) = listener.accept().await else {
                    return;
                };
                let (acceptor, seen, release) = (acceptor.clone(), s.clone(), r.clone());
                tokio::spawn(async move {
                    let Ok(tls) = acceptor.accept(tcp).await else {
                        return;
                    };
                    let service = hyper::service::service_fn(move |req| {
                        serve_kubelet(req, seen.clone(), release.clone())
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(hyper_util::rt::TokioIo::new(tls), service)
                        .with_upgrades()
                        .await;
                });
            }
        });
        FakeKubelet {
            port,
            seen,
            release,
            cert_pem,
        }
    }

    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }

    fn last(&self) -> Seen {
        self.seen()
            .last()
            .cloned()
            .expect("the kubelet saw a request")
    }
}

fn whole(body: impl Into<Bytes>) -> BoxBody {
    Full::new(body.into()).boxed()
}

async fn serve_kubelet(
    mut req: Request<Incoming>,
    seen: Arc<Mutex<Vec<Seen>>>,
    release: Arc<Notify>,
) -> Result<Response<BoxBody>, Infallible> {
    let path_and_query = req
        .uri()
        .path_and_query()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_default();
    let headers = req.headers().clone();
    let upgrade = headers.contains_key(http::header::UPGRADE);
    let on_upgrade = upgrade.then(|| hyper::upgrade::on(&mut req));
    let method = req.method().to_string();
    let body = req
        .into_body()
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    seen.lock().unwrap().push(Seen {
        method: method.clone(),
        path_and_query: path_and_query.clone(),
        headers: headers.clone(),
        body: body.clone(),
    });
    let path = path_and_query
        .split('?')
        .next()
        .unwrap_or_default()
        .to_owned();
    if let Some(on_upgrade) = on_upgrade {
        if path.starts_with("/exec/") && path.ends_with("/ws") {
            return Ok(websocket_exec(on_upgrade, &headers, &path_and_query));
        }
        let silent = path.starts_with("/portForward/default/quiet");
        // Answer 101 and echo: a greeting first, then every byte back ("quiet": nothing).
        tokio::spawn(async move {
            let Ok(upgraded) = on_upgrade.await else {
                return;
            };
            let mut io = hyper_util::rt::TokioIo::new(upgraded);
            if silent {
                let mut buf = [0u8; 1024];
                while let Ok(n) = io.read(&mut buf).await {
                    if n == 0 {
                        return;
                    }
                }
                return;
            }
            let _ = io.write_all(b"hello from kubelet\n").await;
            let mut buf = [0u8; 1024];
            loop {
                match io.read(&mut buf).await {
                    Ok(0) | Err(_) => return,
                    Ok(n) => {
                        if io.write_all(&buf[..n]).await.is_err() {
                            return;
                        }
                    }
                }
            }
        });
        let mut response = Response::builder()
            .status(StatusCode::SWITCHING_PROTOCOLS)
            .header("connection", "Upgrade")
            .header("upgrade", headers["upgrade"].clone());
        if let Some(protocol) = headers.get("sec-websocket-protocol") {
            let first = protocol
                .to_str()
                .unwrap()
                .split(',')
                .next()
                .unwrap()
                .trim()
                .to_owned();
            response = response.header("sec-websocket-protocol", first);
        }
        if let Some(v) = headers.get("x-stream-protocol-version") {
            response = response.header("x-stream-protocol-version", v.clone());
        }
        return Ok(response.body(whole(Bytes::new())).unwrap());
    }
    let text = |code: u16, body: String| {
        Response::builder()
            .status(code)
            .header("content-type", "text/plain; charset=utf-8")
            .header("x-fake-kubelet", "yes")
            .body(whole(body))
            .unwrap()
    };
    if path.starts_with("/containerLogs/") {
        if path.ends_with("/waiting") {
            return Ok(text(
                400,
                "container \"waiting\" in pod \"web\" is waiting to start: ContainerCreating"
                    .into(),
            ));
        }
        if !path_and_query.contains("follow=true") {
            return Ok(text(200, "line 1\nline 2\n".into()));
        }
        let (tx, rx) = mpsc::channel::<Result<Frame<Bytes>, Infallible>>(4);
        tokio::spawn(async move {
            let _ = tx.send(Ok(Frame::data(Bytes::from("line 1\n")))).await;
            release.notified().await;
            let _ = tx.send(Ok(Frame::data(Bytes::from("line 2\n")))).await;
        });
        let body = StreamBody::new(tokio_stream::wrappers::ReceiverStream::new(rx));
        return Ok(Response::builder()
            .header("content-type", "text/plain")
            .body(BodyExt::boxed(body))
            .unwrap());
    }
    match path.as_str() {
        "/healthz" => Ok(text(200, "ok".into())),
        "/teapot" => Ok(text(418, "short and stout".into())),
        _ => Ok(text(
            200,
            format!(
                "{method} {path_and_query} {}",
                String::from_utf8_lossy(&body)
            ),
        )),
    }
}

/// Plays the kubelet's side of `v5.channel.k8s.io` exec for kubectl: a real WebSocket
/// handshake, then the command's "output" on channel 1 (`echo` prints its arguments, `fail N`
/// exits with N) and the result on channel 3, then a close frame.
fn websocket_exec(
    on_upgrade: hyper::upgrade::OnUpgrade,
    headers: &HeaderMap,
    path_and_query: &str,
) -> Response<BoxBody> {
    use base64::Engine as _;
    let key = headers
        .get("sec-websocket-key")
        .map(|k| k.as_bytes().to_vec())
        .unwrap_or_default();
    let mut input = key;
    input.extend_from_slice(b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11");
    let digest = ring::digest::digest(&ring::digest::SHA1_FOR_LEGACY_USE_ONLY, &input);
    let accept = base64::engine::general_purpose::STANDARD.encode(digest.as_ref());
    let query = path_and_query
        .split_once('?')
        .map(|(_, q)| q)
        .unwrap_or_default();
    let command: Vec<String> = form_urlencoded::parse(query.as_bytes())
        .filter(|(k, _)| k == "command")
        .map(|(_, v)| v.into_owned())
        .collect();
    tokio::spawn(async move {
        let Ok(upgraded) = on_upgrade.await else {
            return;
        };
        let mut io = hyper_util::rt::TokioIo::new(upgraded);
        let message = |channel: u8, payload: &[u8]| {
            // One unmasked binary frame (server to client), the channel byte first.
            let mut frame = vec![0x82];
            let len = payload.len() + 1;
            if len < 126 {
                frame.push(len as u8);
            } else {
                frame.push(126);
                frame.extend_from_slice(&(len as u16).to_be_bytes());
            }
            frame.push(channel);
            frame.extend_from_slice(payload);
            frame
        };
        let status = match command.first().map(String::as_str) {
            Some("cat") => {
                // stdin (channel 0) back on stdout (channel 1) until the client closes stdin
                // (v5: a message [255, 0]).
                while let Some(payload) = read_client_message(&mut io).await {
                    match payload.split_first() {
                        Some((0, data)) if !data.is_empty() => {
                            let _ = io.write_all(&message(1, data)).await;
                        }
                        Some((255, [0])) => break,
                        _ => {}
                    }
                }
                json!({"metadata": {}, "status": "Success"})
            }
            Some("echo") => {
                let out = format!("{}\n", command[1..].join(" "));
                let _ = io.write_all(&message(1, out.as_bytes())).await;
                json!({"metadata": {}, "status": "Success"})
            }
            _ => {
                let code = command.get(1).cloned().unwrap_or_else(|| "1".into());
                json!({
                    "metadata": {}, "status": "Failure", "reason": "NonZeroExitCode",
                    "message": format!("command terminated with non-zero exit code: exit code {code}"),
                    "details": {"causes": [{"reason": "ExitCode", "message": code}]},
                })
            }
        };
        let _ = io
            .write_all(&message(3, status.to_string().as_bytes()))
            .await;
        let _ = io.write_all(&[0x88, 0x02, 0x03, 0xe8]).await;
        // Wait for the client to close.
        let mut buf = [0u8; 256];
        while let Ok(n) = io.read(&mut buf).await {
            if n == 0 {
                break;
            }
        }
    });
    let offered = headers
        .get("sec-websocket-protocol")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let protocol = if offered.contains("v5.channel.k8s.io") {
        "v5.channel.k8s.io"
    } else {
        "v4.channel.k8s.io"
    };
    Response::builder()
        .status(StatusCode::SWITCHING_PROTOCOLS)
        .header("connection", "Upgrade")
        .header("upgrade", "websocket")
        .header("sec-websocket-accept", accept)
        .header("sec-websocket-protocol", protocol)
        .body(whole(Bytes::new()))
        .unwrap()
}

/// Reads one WebSocket data message from the client (masked frames), `None` at a close frame
/// or the end of the connection.
async fn read_client_message<T: tokio::io::AsyncRead + Unpin>(io: &mut T) -> Option<Vec<u8>> {
    loop {
        let mut head = [0u8; 2];
        io.read_exact(&mut head).await.ok()?;
        let opcode = head[0] & 0x0f;
        let mut len = u64::from(head[1] & 0x7f);
        if len == 126 {
            let mut b = [0u8; 2];
            io.read_exact(&mut b).await.ok()?;
            len = u64::from(u16::from_be_bytes(b));
        } else if len == 127 {
            let mut b = [0u8; 8];
            io.read_exact(&mut b).await.ok()?;
            len = u64::from_be_bytes(b);
        }
        let mut mask = [0u8; 4];
        if head[1] & 0x80 != 0 {
            io.read_exact(&mut mask).await.ok()?;
        }
        let mut payload = vec![0u8; usize::try_from(len).ok()?];
        io.read_exact(&mut payload).await.ok()?;
        for (i, b) in payload.iter_mut().enumerate() {
            *b ^= mask[i % 4];
        }
        match opcode {
            0x8 => return None,
            0x1 | 0x2 => return Some(payload),
            _ => continue, // ping, pong, continuation: not sent by kubectl here
        }
    }
}

/// An API server on loopback with a node `n1` whose kubelet is `kubelet`.
struct Cluster {
    server: ApiServer,
    serving: Serving,
    dir: tempfile::TempDir,
}

impl Cluster {
    async fn start(kubelet: &FakeKubelet, config: KubeletClientConfig) -> Cluster {
        Self::start_with(kubelet, ApiServer::builder().kubelet_client(config)).await
    }

    async fn start_with(kubelet: &FakeKubelet, builder: kernel_api::ApiServerBuilder) -> Cluster {
        let server = builder.build().await.unwrap();
        let serving = server.bind("127.0.0.1:0".parse().unwrap()).await.unwrap();
        let dir = tempfile::tempdir().unwrap();
        server
            .write_kubeconfig(dir.path().join("kubeconfig"))
            .unwrap();
        let cluster = Cluster {
            server,
            serving,
            dir,
        };
        cluster.node("n1", Some(kubelet.port)).await;
        cluster
    }

    fn addr(&self) -> SocketAddr {
        self.serving.local_addr()
    }

    async fn node(&self, name: &str, port: Option<u16>) {
        let mut status = json!({
            "addresses": [
                {"type": "Hostname", "address": "not-resolvable.invalid"},
                {"type": "InternalIP", "address": "127.0.0.1"},
            ],
        });
        if let Some(port) = port {
            status["daemonEndpoints"] = json!({"kubeletEndpoint": {"Port": port}});
        }
        let node: Node = serde_json::from_value(json!({
            "metadata": {"name": name},
            "status": status,
        }))
        .unwrap();
        let nodes: Api<Node> = Api::all(self.server.client());
        nodes.create(&PostParams::default(), &node).await.unwrap();
    }

    async fn pod(&self, name: &str, node: Option<&str>, containers: &[&str]) {
        let containers: Vec<Value> = containers
            .iter()
            .map(|c| json!({"name": c, "image": "busybox"}))
            .collect();
        let mut spec = json!({ "containers": containers });
        if let Some(node) = node {
            spec["nodeName"] = json!(node);
        }
        let pod: Pod =
            serde_json::from_value(json!({"metadata": {"name": name}, "spec": spec})).unwrap();
        let pods: Api<Pod> = Api::default_namespaced(self.server.client());
        pods.create(&PostParams::default(), &pod).await.unwrap();
    }

    /// Opens an HTTP/1.1 connection to the API server (TLS, its CA trusted).
    async fn connect(&self) -> hyper::client::conn::http1::SendRequest<Full<Bytes>> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut roots = rustls::RootCertStore::empty();
        roots
            .add(CertificateDer::from_pem_slice(self.server.ca_pem().as_bytes()).unwrap())
            .unwrap();
        let mut config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth();
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        let tcp = tokio::net::TcpStream::connect(self.addr()).await.unwrap();
        let tls = tokio_rustls::TlsConnector::from(Arc::new(config))
            .connect(
                ServerName::IpAddress(std::net::IpAddr::from([127, 0, 0, 1]).into()),
                tcp,
            )
            .await
            .unwrap();
        let (sender, connection) =
            hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(tls))
                .await
                .unwrap();
        tokio::spawn(connection.with_upgrades());
        sender
    }

    /// Sends one request; returns the response with its body still streaming.
    async fn send(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &str,
    ) -> Response<Incoming> {
        let mut sender = self.connect().await;
        let mut request = Request::builder()
            .method(method)
            .uri(path)
            .header("host", self.addr().to_string())
            .header("authorization", format!("Bearer {}", self.server.token()));
        for (k, v) in headers {
            request = request.header(*k, *v);
        }
        let request = request
            .body(Full::new(Bytes::from(body.to_owned())))
            .unwrap();
        within("the API server's answer", sender.send_request(request))
            .await
            .unwrap()
    }

    /// Sends one request and reads the whole answer.
    async fn call(&self, method: &str, path: &str, body: &str) -> (StatusCode, HeaderMap, String) {
        let response = self.send(method, path, &[], body).await;
        let (head, body) = response.into_parts();
        let bytes = within("the body", body.collect()).await.unwrap().to_bytes();
        (
            head.status,
            head.headers,
            String::from_utf8_lossy(&bytes).into_owned(),
        )
    }

    /// A request whose answer is a `metav1.Status`.
    async fn status(&self, method: &str, path: &str) -> Value {
        let (code, _, body) = self.call(method, path, "").await;
        let status: Value = serde_json::from_str(&body)
            .unwrap_or_else(|e| panic!("{method} {path}: {code} {body:?} is no Status: {e}"));
        assert_eq!(status["kind"], "Status", "{status}");
        assert_eq!(status["code"], code.as_u16(), "{status}");
        status
    }
}

const NS: &str = "/api/v1/namespaces/default";

/// An upgrade case: method, path under the namespace, request headers, the kubelet's path.
type Case<'a> = (&'a str, &'a str, &'a [(&'a str, &'a str)], &'a str);

/// Reads the next data frame of a streaming body.
async fn next_data(body: &mut Incoming) -> Option<Bytes> {
    loop {
        let frame = within("a body frame", body.frame()).await?.unwrap();
        if let Ok(data) = frame.into_data() {
            return Some(data);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logs_reach_the_kubelet_with_upstream_path_and_query_and_stream_unbuffered() {
    let kubelet = FakeKubelet::start(None).await;
    let c = Cluster::start(&kubelet, KubeletClientConfig::default()).await;
    c.pod("web", Some("n1"), &["app"]).await;

    // Not following: the whole log, as text/plain; the kubelet gets upstream's query.
    let (code, headers, body) = c
        .call(
            "GET",
            &format!("{NS}/pods/web/log?tailLines=5&timestamps=true&limitBytes=100&previous=false"),
            "",
        )
        .await;
    assert_eq!((code, body.as_str()), (StatusCode::OK, "line 1\nline 2\n"));
    assert_eq!(headers["content-type"], "text/plain");
    let seen = kubelet.last();
    assert_eq!(seen.method, "GET");
    assert_eq!(
        seen.path_and_query,
        "/containerLogs/default/web/app?limitBytes=100&tailLines=5&timestamps=true"
    );
    // The user's credentials stay at the API server.
    assert!(
        seen.headers.get("authorization").is_none(),
        "{:?}",
        seen.headers
    );
    assert_eq!(seen.headers["host"], format!("127.0.0.1:{}", kubelet.port));

    // Following: line 1 arrives while the kubelet still holds line 2 back.
    let response = c
        .send(
            "GET",
            &format!("{NS}/pods/web/log?follow=true&container=app"),
            &[],
            "",
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let mut body = response.into_body();
    assert_eq!(next_data(&mut body).await.unwrap(), "line 1\n");
    assert_eq!(
        kubelet.last().path_and_query,
        "/containerLogs/default/web/app?follow=true"
    );
    kubelet.release.notify_one();
    assert_eq!(next_data(&mut body).await.unwrap(), "line 2\n");
    assert!(
        next_data(&mut body).await.is_none(),
        "the stream ends with the kubelet's"
    );

    // The kubelet's 400 becomes a BadRequest Status with its text, as upstream's
    // GenericHttpResponseChecker makes it.
    c.pod("slow", Some("n1"), &["waiting"]).await;
    let status = c.status("GET", &format!("{NS}/pods/slow/log")).await;
    assert_eq!(status["reason"], "BadRequest");
    assert_eq!(
        status["message"],
        "container \"waiting\" in pod \"web\" is waiting to start: ContainerCreating"
    );

    // Invalid options never reach the kubelet.
    let before = kubelet.seen().len();
    let status = c
        .status("GET", &format!("{NS}/pods/web/log?tailLines=-1"))
        .await;
    assert_eq!(
        (status["code"].as_u64(), status["reason"].as_str()),
        (Some(422), Some("Invalid"))
    );
    assert_eq!(kubelet.seen().len(), before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exec_attach_and_portforward_upgrade_and_splice_both_ways() {
    let kubelet = FakeKubelet::start(None).await;
    let c = Cluster::start(&kubelet, KubeletClientConfig::default()).await;
    c.pod("web", Some("n1"), &["app"]).await;

    let websocket = [
        ("connection", "Upgrade"),
        ("upgrade", "websocket"),
        ("sec-websocket-version", "13"),
        ("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ=="),
        (
            "sec-websocket-protocol",
            "v5.channel.k8s.io, v4.channel.k8s.io",
        ),
    ];
    let spdy = [
        ("connection", "Upgrade"),
        ("upgrade", "SPDY/3.1"),
        ("x-stream-protocol-version", "portforward.k8s.io"),
    ];
    let cases: [Case; 4] = [
        (
            "GET",
            "/pods/web/exec?command=sh&command=-c&command=echo%20hi&stdin=true&stdout=true&tty=true",
            &websocket,
            "/exec/default/web/app?command=sh&command=-c&command=echo+hi&input=1&output=1&tty=1",
        ),
        (
            "POST",
            "/pods/web/attach?container=app&stdin=true&stdout=true&stderr=true",
            &websocket,
            "/attach/default/web/app?error=1&input=1&output=1",
        ),
        (
            "GET",
            "/pods/web/portforward?ports=8080&ports=9090",
            &websocket,
            "/portForward/default/web?port=8080%2C9090",
        ),
        ("POST", "/pods/web/portforward", &spdy, "/portForward/default/web"),
    ];
    for (method, path, headers, kubelet_path) in cases {
        let response = c.send(method, &format!("{NS}{path}"), headers, "").await;
        assert_eq!(response.status(), StatusCode::SWITCHING_PROTOCOLS, "{path}");
        let seen = kubelet.last();
        assert_eq!(
            (seen.method.as_str(), seen.path_and_query.as_str()),
            (method, kubelet_path)
        );
        // The upgrade headers went to the kubelet, and its answer's back to the client.
        for (name, value) in headers.iter() {
            assert_eq!(seen.headers[*name], *value, "{name} forwarded for {path}");
        }
        assert_eq!(response.headers()["upgrade"], seen.headers["upgrade"]);
        if seen.headers.contains_key("sec-websocket-protocol") {
            assert_eq!(
                response.headers()["sec-websocket-protocol"],
                "v5.channel.k8s.io"
            );
        }
        if seen.headers.contains_key("x-stream-protocol-version") {
            assert_eq!(
                response.headers()["x-stream-protocol-version"],
                "portforward.k8s.io"
            );
        }
        let upgraded = within("the client upgrade", hyper::upgrade::on(response))
            .await
            .unwrap();
        let mut io = hyper_util::rt::TokioIo::new(upgraded);
        let mut greeting = [0u8; 19];
        within("the kubelet's bytes", io.read_exact(&mut greeting))
            .await
            .unwrap();
        assert_eq!(&greeting, b"hello from kubelet\n");
        io.write_all(b"\x00ping from client").await.unwrap();
        let mut echo = [0u8; 17];
        within("the echo", io.read_exact(&mut echo)).await.unwrap();
        assert_eq!(&echo, b"\x00ping from client");
    }

    // Without an upgradable connection (the in-process client): 400, the kubelet not dialled.
    let before = kubelet.seen().len();
    let request = Request::builder()
        .uri(format!("{NS}/pods/web/exec?command=ls&stdout=true"))
        .header("connection", "Upgrade")
        .header("upgrade", "websocket")
        .body(Full::new(Bytes::new()))
        .unwrap();
    let response = tower::ServiceExt::oneshot(c.server.clone(), request)
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert_eq!(kubelet.seen().len(), before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nodes_proxy_forwards_method_path_query_body_and_status() {
    let kubelet = FakeKubelet::start(None).await;
    let c = Cluster::start(&kubelet, KubeletClientConfig::default()).await;

    let (code, _, body) = c.call("GET", "/api/v1/nodes/n1/proxy/healthz", "").await;
    assert_eq!((code, body.as_str()), (StatusCode::OK, "ok"));
    assert_eq!(kubelet.last().path_and_query, "/healthz");

    let (code, headers, body) = c
        .call(
            "GET",
            "/api/v1/nodes/n1/proxy/stats/summary?only_cpu_and_memory=true",
            "",
        )
        .await;
    assert_eq!(code, StatusCode::OK);
    assert_eq!(body, "GET /stats/summary?only_cpu_and_memory=true ");
    assert_eq!(headers["x-fake-kubelet"], "yes");
    assert_eq!(headers["content-type"], "text/plain; charset=utf-8");

    let (_, _, body) = c.call("GET", "/api/v1/nodes/n1/proxy", "").await;
    assert_eq!(body, "GET / ");
    let (_, _, body) = c
        .call(
            "POST",
            &format!("/api/v1/nodes/n1:{}/proxy/run", kubelet.port),
            "payload",
        )
        .await;
    assert_eq!(body, "POST /run payload");
    let seen = kubelet.last();
    assert_eq!(
        (seen.method.as_str(), &seen.body[..]),
        ("POST", &b"payload"[..])
    );
    let (_, _, body) = c.call("DELETE", "/api/v1/nodes/n1/proxy/x/y/", "").await;
    assert_eq!(body, "DELETE /x/y/ ");

    // The kubelet's status goes back as it is.
    let (code, _, body) = c.call("GET", "/api/v1/nodes/n1/proxy/teapot", "").await;
    assert_eq!((code.as_u16(), body.as_str()), (418, "short and stout"));

    // A node that does not exist, and a name that is not a node request.
    let status = c.status("GET", "/api/v1/nodes/ghost/proxy/healthz").await;
    assert_eq!(status["message"], "nodes \"ghost\" not found");
    let status = c.status("GET", "/api/v1/nodes/ftp:n1:21/proxy/").await;
    assert_eq!(status["message"], "invalid node request \"ftp:n1:21\"");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connect_errors_are_upstream_statuses() {
    let kubelet = FakeKubelet::start(None).await;
    let c = Cluster::start(&kubelet, KubeletClientConfig::default()).await;
    c.pod("web", Some("n1"), &["app"]).await;
    c.pod("pending", None, &["app"]).await;
    c.pod("multi", Some("n1"), &["a", "b"]).await;
    // A node whose kubelet is gone: a port nothing listens on.
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    c.node("n2", Some(closed)).await;
    c.pod("lost", Some("n2"), &["app"]).await;
    c.node("n3", None).await;
    c.pod("portless", Some("n3"), &["app"]).await;

    let status = c.status("GET", &format!("{NS}/pods/ghost/log")).await;
    assert_eq!(
        (status["code"].as_u64(), status["reason"].as_str()),
        (Some(404), Some("NotFound"))
    );
    assert_eq!(status["message"], "pods \"ghost\" not found");
    let status = c
        .status("POST", &format!("{NS}/pods/ghost/exec?command=ls"))
        .await;
    assert_eq!(status["code"], 404);

    for sub in [
        "exec?command=ls&stdout=true",
        "attach?stdout=true",
        "portforward?ports=80",
    ] {
        let status = c.status("POST", &format!("{NS}/pods/pending/{sub}")).await;
        assert_eq!(
            (status["code"].as_u64(), status["reason"].as_str()),
            (Some(400), Some("BadRequest")),
            "{sub}"
        );
        assert_eq!(
            status["message"],
            "pod pending does not have a host assigned"
        );
    }
    // Logs of a pod without a node are empty, as upstream's (no location).
    let (code, _, body) = c.call("GET", &format!("{NS}/pods/pending/log"), "").await;
    assert_eq!((code, body.as_str()), (StatusCode::OK, ""));

    for sub in ["log", "exec?command=ls&stdout=true", "attach?stdout=true"] {
        let method = if sub == "log" { "GET" } else { "POST" };
        let status = c.status(method, &format!("{NS}/pods/multi/{sub}")).await;
        assert_eq!(
            (status["code"].as_u64(), status["reason"].as_str()),
            (Some(400), Some("BadRequest")),
            "{sub}"
        );
        assert_eq!(
            status["message"],
            "a container name must be specified for pod multi, choose one of: [a b]"
        );
    }
    let status = c
        .status("GET", &format!("{NS}/pods/web/log?container=nope"))
        .await;
    assert_eq!(status["message"], "container nope is not valid for pod web");
    // exec, attach and portforward need an upgrade (once the pod checks pass).
    let before = kubelet.seen().len();
    for sub in [
        "exec?command=ls&stdout=true",
        "attach?stdout=true",
        "portforward",
    ] {
        let status = c.status("POST", &format!("{NS}/pods/web/{sub}")).await;
        assert_eq!(status["code"], 400, "{sub}");
        assert_eq!(status["message"], "Upgrade request required");
    }
    assert_eq!(kubelet.seen().len(), before);

    // The kubelet unreachable: a 500 without reason (kubectl: "Error from server: …").
    let status = c
        .status("GET", &format!("{NS}/pods/lost/log?follow=true"))
        .await;
    assert_eq!(status["code"], 500);
    assert_eq!(status["reason"].as_str().unwrap_or_default(), "");
    assert_eq!(
        status["message"],
        format!(
            "Get \"https://127.0.0.1:{closed}/containerLogs/default/lost/app?follow=true\": dial tcp 127.0.0.1:{closed}: connect: connection refused"
        )
    );
    let response = c
        .send(
            "GET",
            &format!("{NS}/pods/lost/exec?command=ls&stdout=true"),
            &[("connection", "Upgrade"), ("upgrade", "websocket")],
            "",
        )
        .await;
    assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
    let body = response.into_body().collect().await.unwrap().to_bytes();
    let status: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(
        status["message"],
        format!("error dialing backend: dial tcp 127.0.0.1:{closed}: connect: connection refused")
    );
    let status = c.status("GET", "/api/v1/nodes/n2/proxy/healthz").await;
    assert_eq!(
        status["message"],
        format!("dial tcp 127.0.0.1:{closed}: connect: connection refused")
    );
    // A node that publishes no kubelet port.
    let status = c.status("GET", &format!("{NS}/pods/portless/log")).await;
    assert_eq!(status["code"], 500);
    assert!(
        status["message"]
            .as_str()
            .unwrap()
            .contains("publishes no kubelet port"),
        "{status}"
    );

    // Wrong methods.
    let status = c.status("POST", &format!("{NS}/pods/web/log")).await;
    assert_eq!(status["code"], 405);
    let status = c.status("PUT", &format!("{NS}/pods/web/exec")).await;
    assert_eq!(status["code"], 405);

    // All of these were counted as CONNECT, as upstream counts them.
    let (_, _, metrics) = c.call("GET", "/metrics", "").await;
    for sub in ["log", "exec", "attach", "portforward"] {
        assert!(
            metrics
                .lines()
                .any(|l| l.starts_with("apiserver_request_total{")
                    && l.contains("verb=\"CONNECT\"")
                    && l.contains(&format!("subresource=\"{sub}\""))),
            "no CONNECT count for {sub}:\n{metrics}"
        );
    }
    assert!(metrics
        .lines()
        .any(|l| l.starts_with("apiserver_request_total{")
            && l.contains("verb=\"CONNECT\"")
            && l.contains("resource=\"nodes\"")
            && l.contains("subresource=\"proxy\"")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubelet_ca_and_client_certificate() {
    // A client CA the kubelet requires, and a client certificate it signed.
    let (ca_pem, ca_key_pem) = kernel_api::TlsMaterial::generate_ca().unwrap();
    let client = kernel_api::TlsMaterial::generate_signed(&ca_pem, &ca_key_pem, &[]).unwrap();
    let kubelet = FakeKubelet::start(Some(&ca_pem)).await;

    // Verifying the kubelet's certificate against its CA, presenting the client certificate.
    let config = KubeletClientConfig {
        ca_pem: Some(kubelet.cert_pem.clone()),
        client_cert_pem: Some(client.cert_pem.clone()),
        client_key_pem: Some(client.key_pem.clone()),
        ..Default::default()
    };
    let c = Cluster::start(&kubelet, config).await;
    let (code, _, body) = c.call("GET", "/api/v1/nodes/n1/proxy/healthz", "").await;
    assert_eq!((code, body.as_str()), (StatusCode::OK, "ok"));

    // Without the client certificate the kubelet refuses the handshake.
    let c = Cluster::start(&kubelet, KubeletClientConfig::default()).await;
    let (code, _, body) = c.call("GET", "/api/v1/nodes/n1/proxy/healthz", "").await;
    assert_eq!(code, StatusCode::INTERNAL_SERVER_ERROR, "{body}");

    // A CA that did not sign the kubelet's certificate: refused.
    let config = KubeletClientConfig {
        ca_pem: Some(ca_pem.clone()),
        client_cert_pem: Some(client.cert_pem.clone()),
        client_key_pem: Some(client.key_pem.clone()),
        ..Default::default()
    };
    let c = Cluster::start(&kubelet, config).await;
    let before = kubelet.seen().len();
    let status = c.status("GET", "/api/v1/nodes/n1/proxy/healthz").await;
    assert!(
        status["message"].as_str().unwrap().starts_with("tls: "),
        "{status}"
    );
    assert_eq!(kubelet.seen().len(), before);
}

/// Runs kubectl with the cluster's kubeconfig; returns (success, stdout, stderr).
async fn kubectl(kubectl: &Path, c: &Cluster, args: &[&str]) -> (bool, String, String) {
    let kubeconfig = c.dir.path().join("kubeconfig");
    let (kubectl, args) = (
        kubectl.to_owned(),
        args.iter().map(|a| a.to_string()).collect::<Vec<_>>(),
    );
    tokio::task::spawn_blocking(move || {
        let out = std::process::Command::new(kubectl)
            .arg("--kubeconfig")
            .arg(&kubeconfig)
            .args(&args)
            .env("HOME", kubeconfig.parent().unwrap())
            .output()
            .unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    })
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_logs_and_get_raw_node_proxy() {
    let Some(kubectl_bin) = kernel_testing::kubectl() else {
        return;
    };
    let kubelet = FakeKubelet::start(None).await;
    let c = Cluster::start(&kubelet, KubeletClientConfig::default()).await;
    c.pod("web", Some("n1"), &["app"]).await;
    c.pod("multi", Some("n1"), &["a", "b"]).await;

    let (ok, out, err) = kubectl(
        &kubectl_bin,
        &c,
        &["get", "--raw", "/api/v1/nodes/n1/proxy/healthz"],
    )
    .await;
    assert!(ok, "{err}");
    assert_eq!(out, "ok");

    let (ok, out, err) = kubectl(
        &kubectl_bin,
        &c,
        &["logs", "web", "--tail=1", "--timestamps"],
    )
    .await;
    assert!(ok, "{err}");
    assert_eq!(out, "line 1\nline 2\n");
    assert_eq!(
        kubelet.last().path_and_query,
        "/containerLogs/default/web/app?tailLines=1&timestamps=true"
    );

    // kubectl picks the first container itself, or the one named.
    let (ok, _, err) = kubectl(&kubectl_bin, &c, &["logs", "multi"]).await;
    assert!(ok, "{err}");
    assert_eq!(
        kubelet.last().path_and_query,
        "/containerLogs/default/multi/a"
    );
    let (ok, _, err) = kubectl(&kubectl_bin, &c, &["logs", "multi", "-c", "b"]).await;
    assert!(ok, "{err}");
    assert_eq!(
        kubelet.last().path_and_query,
        "/containerLogs/default/multi/b"
    );

    // A kubelet error, as the API server turns it into a Status and kubectl prints it.
    c.pod("slow", Some("n1"), &["waiting"]).await;
    let (ok, _, err) = kubectl(&kubectl_bin, &c, &["logs", "slow"]).await;
    assert!(!ok);
    assert!(
        err.contains("Error from server (BadRequest): container \"waiting\" in pod \"web\" is waiting to start: ContainerCreating"),
        "{err}"
    );

    // `kubectl logs -f` prints line 1 while the kubelet holds line 2 back.
    let kubeconfig = c.dir.path().join("kubeconfig");
    let mut child = std::process::Command::new(&kubectl_bin)
        .arg("--kubeconfig")
        .arg(&kubeconfig)
        .args(["logs", "-f", "web"])
        .env("HOME", c.dir.path())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, mut lines) = mpsc::unbounded_channel();
    let reader = std::thread::spawn(move || {
        use std::io::BufRead;
        for line in std::io::BufReader::new(stdout).lines() {
            if tx.send(line.unwrap()).is_err() {
                return;
            }
        }
    });
    assert_eq!(
        within("kubectl's first line", lines.recv()).await.unwrap(),
        "line 1"
    );
    assert_eq!(
        kubelet.last().path_and_query,
        "/containerLogs/default/web/app?follow=true"
    );
    kubelet.release.notify_one();
    assert_eq!(
        within("kubectl's second line", lines.recv()).await.unwrap(),
        "line 2"
    );
    assert!(within("kubectl's end", lines.recv()).await.is_none());
    let status = tokio::task::spawn_blocking(move || child.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(status.success());
    reader.join().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_exec_over_websocket_through_the_api_server() {
    let Some(kubectl_bin) = kernel_testing::kubectl() else {
        return;
    };
    let kubelet = FakeKubelet::start(None).await;
    let c = Cluster::start(&kubelet, KubeletClientConfig::default()).await;
    c.pod("shell", Some("n1"), &["ws"]).await;

    let (ok, out, err) = kubectl(
        &kubectl_bin,
        &c,
        &["exec", "shell", "--", "echo", "hello", "world"],
    )
    .await;
    assert!(ok, "kubectl exec failed: {out} {err}");
    assert_eq!(out, "hello world\n");
    let seen = kubelet.last();
    assert_eq!(
        seen.path_and_query,
        "/exec/default/shell/ws?command=echo&command=hello&command=world&error=1&output=1"
    );
    assert_eq!(
        seen.headers["upgrade"]
            .to_str()
            .unwrap()
            .to_ascii_lowercase(),
        "websocket"
    );
    assert!(seen.headers.get("authorization").is_none());

    // `kubectl exec -i`: stdin goes to the kubelet and comes back.
    let kubeconfig = c.dir.path().join("kubeconfig");
    let (bin, home) = (kubectl_bin.clone(), c.dir.path().to_owned());
    let out = tokio::task::spawn_blocking(move || {
        use std::io::Write;
        let mut child = std::process::Command::new(bin)
            .arg("--kubeconfig")
            .arg(&kubeconfig)
            .args(["exec", "-i", "shell", "--", "cat"])
            .env("HOME", home)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdin = child.stdin.take().unwrap();
        stdin.write_all(b"typed into kubectl\n").unwrap();
        drop(stdin);
        child.wait_with_output().unwrap()
    })
    .await
    .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout), "typed into kubectl\n");
    assert_eq!(
        kubelet.last().path_and_query,
        "/exec/default/shell/ws?command=cat&error=1&input=1&output=1"
    );

    // The exit code comes back on the error channel and becomes kubectl's.
    let kubeconfig = c.dir.path().join("kubeconfig");
    let home = c.dir.path().to_owned();
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new(kubectl_bin)
            .arg("--kubeconfig")
            .arg(&kubeconfig)
            .args(["exec", "shell", "--", "fail", "3"])
            .env("HOME", home)
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    assert_eq!(
        out.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("command terminated with exit code 3"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Allows everything but `create` on `pods/exec` (a user who may only `get` it).
struct NoExecCreate;

#[async_trait::async_trait]
impl kernel_api::Authorizer for NoExecCreate {
    async fn authorize(&self, a: &kernel_api::Attributes) -> kernel_api::Decision {
        if a.resource == "pods" && a.subresource == "exec" && a.verb == "create" {
            kernel_api::Decision::Deny(String::new())
        } else {
            kernel_api::Decision::Allow
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn websocket_exec_also_needs_create_and_logs_work_in_process() {
    let kubelet = FakeKubelet::start(None).await;
    let c = Cluster::start_with(&kubelet, ApiServer::builder().authorizer(NoExecCreate)).await;
    c.pod("web", Some("n1"), &["app"]).await;

    // A WebSocket GET to exec is authorized for `get` by the filter chain and, as upstream
    // (AuthorizePodWebsocketUpgradeCreatePermission), for `create` too.
    let before = kubelet.seen().len();
    let response = c
        .send(
            "GET",
            &format!("{NS}/pods/web/exec?command=ls&stdout=true"),
            &[("connection", "Upgrade"), ("upgrade", "websocket")],
            "",
        )
        .await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    let body = response.into_body().collect().await.unwrap().to_bytes();
    let status: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(
        status["message"],
        "pods \"web\" is forbidden: User \"kubernetes-admin\" cannot create resource \"pods/exec\" in API group \"\" in the namespace \"default\""
    );
    assert_eq!(
        kubelet.seen().len(),
        before,
        "the kubelet was not contacted"
    );
    // Logs need only `get`.
    let (code, _, _) = c.call("GET", &format!("{NS}/pods/web/log"), "").await;
    assert_eq!(code, StatusCode::OK);

    // The in-process client reads logs too (no upgrade needed).
    let pods: Api<Pod> = Api::default_namespaced(c.server.client());
    let log = pods.logs("web", &Default::default()).await.unwrap();
    assert_eq!(log, "line 1\nline 2\n");
    assert_eq!(
        kubelet.last().path_and_query,
        "/containerLogs/default/web/app"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_port_forward_upgrades_to_the_kubelet() {
    let Some(kubectl_bin) = kernel_testing::kubectl() else {
        return;
    };
    let kubelet = FakeKubelet::start(None).await;
    let c = Cluster::start(&kubelet, KubeletClientConfig::default()).await;
    c.pod("quiet", Some("n1"), &["app"]).await;
    // kubectl forwards only to a running pod.
    let pods: Api<Pod> = Api::default_namespaced(c.server.client());
    let running = kube::api::Patch::Merge(json!({"status": {"phase": "Running"}}));
    pods.patch_status("quiet", &Default::default(), &running)
        .await
        .unwrap();

    // kubectl dials the pod's portforward subresource as soon as it starts.
    let local = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let mut child = std::process::Command::new(&kubectl_bin)
        .arg("--kubeconfig")
        .arg(c.dir.path().join("kubeconfig"))
        .args(["port-forward", "pod/quiet", &format!("{local}:80")])
        .env("HOME", c.dir.path())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let seen = kernel_testing::eventually("kubectl's port-forward upgrade at the kubelet", || {
        let seen = kubelet
            .seen()
            .into_iter()
            .find(|s| s.path_and_query.starts_with("/portForward/"));
        std::future::ready(seen)
    })
    .await;
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(seen.path_and_query, "/portForward/default/quiet");
    let upgrade = seen.headers["upgrade"]
        .to_str()
        .unwrap()
        .to_ascii_lowercase();
    if upgrade == "websocket" {
        // kubectl ≥ 1.31: SPDY tunnelled in WebSocket messages.
        assert_eq!(
            seen.headers["sec-websocket-protocol"],
            "SPDY/3.1+portforward.k8s.io"
        );
    } else {
        assert_eq!(upgrade, "spdy/3.1");
        assert_eq!(
            seen.headers["x-stream-protocol-version"],
            "portforward.k8s.io"
        );
    }
    assert!(seen.headers.get("authorization").is_none());
}
