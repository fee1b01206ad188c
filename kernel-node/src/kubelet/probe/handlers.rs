//! The probe handlers: upstream's `pkg/probe/exec`, `pkg/probe/http`, `pkg/probe/tcp` and
//! `pkg/probe/grpc`, with their failure messages.
//!
//! A handler answers an [`Outcome`] (success or failure, with an output) or an `Err`, a probe
//! *error* (the kubelet could not run the probe: no such port name, the runtime cannot exec),
//! whose result upstream throws away.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::{BufMut, Bytes, BytesMut};
use k8s_openapi::api::core::v1::{Container, LifecycleHandler, Probe};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::error::Error;
use crate::runtime::Runtime;

/// The `User-Agent` of HTTP and gRPC probes (upstream `kube-probe/<major>.<minor>`).
pub(crate) const USER_AGENT: &str = "kube-probe/1.33";

/// How a probe ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// Healthy; the output (an exec's stdout, `service healthy`).
    Success(String),
    /// Unhealthy; why (upstream's message, shown in the `Unhealthy` event).
    Failure(String),
    /// Healthy with a warning (an HTTP redirect to another host, not followed), shown in a
    /// `ProbeWarning` event.
    Warning(String),
}

/// What a probe does, resolved against its container (named ports).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Handler {
    /// Runs a command in the container; exit code 0 is success.
    Exec {
        /// The command.
        command: Vec<String>,
    },
    /// `GET <scheme>://<host>:<port><path>`; 200–399 is success.
    Http {
        /// `scheme: HTTPS`: TLS without certificate verification, as upstream.
        https: bool,
        /// `host`; the pod IP when unset.
        host: Option<String>,
        /// The port number.
        port: u16,
        /// The path (with its query), starting with `/`.
        path: String,
        /// `httpHeaders`, in order.
        headers: Vec<(String, String)>,
    },
    /// Opens a TCP connection.
    Tcp {
        /// `host`; the pod IP when unset.
        host: Option<String>,
        /// The port number.
        port: u16,
    },
    /// A lifecycle hook's `sleep`: waits, then succeeds.
    Sleep {
        /// How long.
        seconds: u64,
    },
    /// `grpc.health.v1.Health/Check` on the pod IP; `SERVING` is success.
    Grpc {
        /// The port number.
        port: u16,
        /// The service asked about (empty: the server as a whole).
        service: String,
    },
}

/// Where a probe runs: the container and its pod's address.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Place<'a> {
    /// The runtime's id of the running container.
    pub container_id: &'a str,
    /// The pod's IP, if it has one.
    pub pod_ip: Option<&'a str>,
}

/// A port of the probe: a number, or a name of one of the container's ports.
fn resolve_port(port: &IntOrString, container: &Container) -> Result<u16, String> {
    let number = match port {
        IntOrString::Int(n) => *n,
        IntOrString::String(name) => match name.parse::<i32>() {
            Ok(n) => n,
            Err(_) => container
                .ports
                .iter()
                .flatten()
                .find(|p| p.name.as_deref() == Some(name.as_str()))
                .map(|p| p.container_port)
                .ok_or_else(|| {
                    format!(
                        "couldn't find port: {name} in container {:?}",
                        container.name
                    )
                })?,
        },
    };
    u16::try_from(number)
        .ok()
        .filter(|n| *n > 0)
        .ok_or_else(|| format!("invalid port number: {number}"))
}

impl Handler {
    /// The handler of `probe` of `container`; `Err` (a probe error) when it has none or a
    /// named port the container does not have.
    pub(crate) fn of(probe: &Probe, container: &Container) -> Result<Handler, String> {
        if let Some(exec) = &probe.exec {
            return Ok(Handler::Exec {
                command: exec.command.clone().unwrap_or_default(),
            });
        }
        if let Some(http) = &probe.http_get {
            let mut path = http.path.clone().unwrap_or_default();
            if !path.starts_with('/') {
                path.insert(0, '/');
            }
            return Ok(Handler::Http {
                https: http
                    .scheme
                    .as_deref()
                    .is_some_and(|s| s.eq_ignore_ascii_case("https")),
                host: http.host.clone().filter(|h| !h.is_empty()),
                port: resolve_port(&http.port, container)?,
                path,
                headers: http
                    .http_headers
                    .iter()
                    .flatten()
                    .map(|h| (h.name.clone(), h.value.clone()))
                    .collect(),
            });
        }
        if let Some(tcp) = &probe.tcp_socket {
            return Ok(Handler::Tcp {
                host: tcp.host.clone().filter(|h| !h.is_empty()),
                port: resolve_port(&tcp.port, container)?,
            });
        }
        if let Some(grpc) = &probe.grpc {
            return Ok(Handler::Grpc {
                port: resolve_port(&IntOrString::Int(grpc.port), container)?,
                service: grpc.service.clone().unwrap_or_default(),
            });
        }
        Err("missing probe handler".into())
    }

    /// The handler of a lifecycle hook (`postStart`, `preStop`): exec, httpGet, tcpSocket
    /// (deprecated upstream, still accepted) or sleep; `Err` when it has none.
    pub(crate) fn of_hook(
        hook: &LifecycleHandler,
        container: &Container,
    ) -> Result<Handler, String> {
        if let Some(sleep) = &hook.sleep {
            return Ok(Handler::Sleep {
                seconds: sleep.seconds.max(0) as u64,
            });
        }
        let probe = Probe {
            exec: hook.exec.clone(),
            http_get: hook.http_get.clone(),
            tcp_socket: hook.tcp_socket.clone(),
            ..Probe::default()
        };
        Handler::of(&probe, container).map_err(|_| "missing lifecycle hook handler".to_string())
    }

    /// Runs the probe once, within `timeout`.
    pub(crate) async fn run(
        &self,
        runtime: &Arc<dyn Runtime>,
        place: Place<'_>,
        timeout: Duration,
    ) -> Result<Outcome, String> {
        let host_of = |host: &Option<String>| -> Result<String, String> {
            host.clone()
                .or_else(|| place.pod_ip.map(str::to_owned))
                .ok_or_else(|| "the pod has no IP yet".to_string())
        };
        match self {
            Handler::Exec { command } => exec(runtime, place.container_id, command, timeout).await,
            Handler::Http {
                https,
                host,
                port,
                path,
                headers,
            } => Ok(http_get(*https, &host_of(host)?, *port, path, headers, timeout).await),
            Handler::Tcp { host, port } => Ok(tcp(&host_of(host)?, *port, timeout).await),
            Handler::Grpc { port, service } => {
                Ok(grpc(&host_of(&None)?, *port, service, timeout).await)
            }
            Handler::Sleep { seconds } => {
                tokio::time::sleep(Duration::from_secs(*seconds).min(timeout)).await;
                Ok(Outcome::Success(String::new()))
            }
        }
    }
}

/// `host:port`, with brackets around an IPv6 address.
fn host_port(host: &str, port: u16) -> String {
    match host.parse::<IpAddr>() {
        Ok(IpAddr::V6(ip)) => format!("[{ip}]:{port}"),
        _ => format!("{host}:{port}"),
    }
}

async fn exec(
    runtime: &Arc<dyn Runtime>,
    container_id: &str,
    command: &[String],
    timeout: Duration,
) -> Result<Outcome, String> {
    match runtime.exec_sync(container_id, command, timeout).await {
        Ok(result) => {
            let mut output = String::from_utf8_lossy(&result.stdout).into_owned();
            output.push_str(&String::from_utf8_lossy(&result.stderr));
            if result.exit_code == 0 {
                Ok(Outcome::Success(output))
            } else {
                Ok(Outcome::Failure(output))
            }
        }
        Err(Error::Timeout(_)) => Ok(Outcome::Failure(format!(
            "command {:?} timed out",
            command.join(" ")
        ))),
        Err(e) => Err(e.to_string()),
    }
}

async fn tcp(host: &str, port: u16, timeout: Duration) -> Outcome {
    let addr = host_port(host, port);
    match tokio::time::timeout(timeout, TcpStream::connect(&addr)).await {
        Ok(Ok(_)) => Outcome::Success(String::new()),
        Ok(Err(e)) => Outcome::Failure(format!("dial tcp {addr}: connect: {e}")),
        Err(_) => Outcome::Failure(format!("dial tcp {addr}: i/o timeout")),
    }
}

/// Where an HTTP probe goes.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Url {
    https: bool,
    host: String,
    port: u16,
    path: String,
}

impl std::fmt::Display for Url {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let scheme = if self.https { "https" } else { "http" };
        write!(
            f,
            "{scheme}://{}{}",
            host_port(&self.host, self.port),
            self.path
        )
    }
}

impl Url {
    /// The target of a redirect (`Location`) from this URL.
    fn join(&self, location: &str) -> Option<Url> {
        for (scheme, https) in [("http://", false), ("https://", true)] {
            let Some(rest) = location.strip_prefix(scheme) else {
                continue;
            };
            let (authority, path) = match rest.find(['/', '?']) {
                Some(at) => (&rest[..at], rest[at..].to_string()),
                None => (rest, "/".to_string()),
            };
            let default_port = if https { 443 } else { 80 };
            let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
                let (host, after) = v6.split_once(']')?;
                let port = after
                    .strip_prefix(':')
                    .map_or(Some(default_port), |p| p.parse().ok())?;
                (host.to_string(), port)
            } else {
                match authority.rsplit_once(':') {
                    Some((host, port)) => (host.to_string(), port.parse().ok()?),
                    None => (authority.to_string(), default_port),
                }
            };
            let path = if path.starts_with('?') {
                format!("/{path}")
            } else {
                path
            };
            return Some(Url {
                https,
                host,
                port,
                path,
            });
        }
        let path = if location.starts_with('/') {
            location.to_string()
        } else {
            let dir = self.path.split('?').next().unwrap_or("/");
            let dir = &dir[..dir.rfind('/').map_or(0, |i| i + 1)];
            format!("{dir}{location}")
        };
        Some(Url {
            path,
            ..self.clone()
        })
    }
}

/// What one HTTP request answered.
struct Answer {
    code: u16,
    location: Option<String>,
}

/// Upstream's `DoHTTPProbe`: 200–299 success; a redirect to the same host is followed (at
/// most 10), one to another host ends the probe as a warning (a success); anything else
/// fails.
async fn http_get(
    https: bool,
    host: &str,
    port: u16,
    path: &str,
    headers: &[(String, String)],
    timeout: Duration,
) -> Outcome {
    let first = Url {
        https,
        host: host.to_string(),
        port,
        path: path.to_string(),
    };
    let chain = async {
        let mut url = first.clone();
        for hop in 0..=10 {
            if hop == 10 {
                return Outcome::Failure(format!(
                    "Get {:?}: stopped after 10 redirects",
                    url.to_string()
                ));
            }
            // An explicit Host header holds for the first request only, as Go's `req.Host`.
            let answer = match request(&url, headers, hop == 0).await {
                Ok(answer) => answer,
                Err(e) => return Outcome::Failure(format!("Get {:?}: {e}", url.to_string())),
            };
            match answer.code {
                200..=299 => return Outcome::Success(String::new()),
                300..=399 => {
                    let next = answer.location.as_deref().and_then(|l| url.join(l));
                    match next {
                        Some(next) if next.host == first.host => url = next,
                        _ => {
                            return Outcome::Warning(
                                "Probe terminated redirects, Response body: ".into(),
                            )
                        }
                    }
                }
                code => {
                    return Outcome::Failure(format!("HTTP probe failed with statuscode: {code}"))
                }
            }
        }
        unreachable!("the loop returns by its tenth hop")
    };
    match tokio::time::timeout(timeout, chain).await {
        Ok(outcome) => outcome,
        Err(_) => Outcome::Failure(format!(
            "Get {:?}: context deadline exceeded (Client.Timeout exceeded while awaiting headers)",
            first.to_string()
        )),
    }
}

/// One `GET` of `url`.
async fn request(url: &Url, headers: &[(String, String)], first: bool) -> Result<Answer, String> {
    let authority = host_port(&url.host, url.port);
    let mut host_header = authority.clone();
    let mut user_agent = USER_AGENT.to_string();
    let mut accept = "*/*".to_string();
    let mut extra = String::new();
    for (name, value) in headers {
        if name.eq_ignore_ascii_case("host") {
            if first {
                host_header = value.clone();
            }
        } else if name.eq_ignore_ascii_case("user-agent") {
            user_agent = value.clone();
        } else if name.eq_ignore_ascii_case("accept") {
            accept = value.clone();
        } else {
            extra.push_str(&format!("{name}: {value}\r\n"));
        }
    }
    let request = format!(
        "GET {} HTTP/1.1\r\nHost: {host_header}\r\nUser-Agent: {user_agent}\r\nAccept: {accept}\r\n{extra}Connection: close\r\n\r\n",
        url.path
    );
    let tcp = TcpStream::connect(&authority)
        .await
        .map_err(|e| format!("dial tcp {authority}: connect: {e}"))?;
    if url.https {
        let tls = tls::connect(&url.host, tcp).await?;
        answer_of(tls, &request).await
    } else {
        answer_of(tcp, &request).await
    }
}

/// Sends `request` and reads the answer's status line and headers.
async fn answer_of<S: AsyncRead + AsyncWrite + Unpin>(
    mut stream: S,
    request: &str,
) -> Result<Answer, String> {
    stream
        .write_all(request.as_bytes())
        .await
        .map_err(|e| e.to_string())?;
    let mut buf = Vec::with_capacity(512);
    let mut chunk = [0u8; 512];
    let head_end = loop {
        if let Some(at) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break at;
        }
        if buf.len() > 64 * 1024 {
            return Err("malformed HTTP response: headers too long".into());
        }
        let n = stream.read(&mut chunk).await.map_err(|e| e.to_string())?;
        if n == 0 {
            if buf.is_empty() {
                return Err("EOF".into());
            }
            break buf.len();
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]);
    let mut lines = head.split("\r\n");
    let code = parse_status_line(lines.next().unwrap_or_default().as_bytes())?;
    let location = lines.find_map(|l| {
        let (name, value) = l.split_once(':')?;
        name.trim()
            .eq_ignore_ascii_case("location")
            .then(|| value.trim().to_string())
    });
    Ok(Answer { code, location })
}

/// The code of `HTTP/1.x <code> <reason>`.
fn parse_status_line(line: &[u8]) -> Result<u16, String> {
    let line = String::from_utf8_lossy(line);
    let mut parts = line.split(' ');
    let version = parts.next().unwrap_or_default();
    let code = parts.next().and_then(|c| c.parse::<u16>().ok());
    match code {
        Some(code) if version.starts_with("HTTP/") => Ok(code),
        _ => Err(format!("malformed HTTP response {line:?}")),
    }
}

/// The `HealthCheckRequest` message: `string service = 1`.
fn health_request(service: &str) -> Bytes {
    let mut message = BytesMut::new();
    if !service.is_empty() {
        message.put_u8(0x0a);
        put_varint(&mut message, service.len() as u64);
        message.put_slice(service.as_bytes());
    }
    let mut framed = BytesMut::with_capacity(5 + message.len());
    framed.put_u8(0); // not compressed
    framed.put_u32(message.len() as u32);
    framed.put_slice(&message);
    framed.freeze()
}

fn put_varint(out: &mut BytesMut, mut v: u64) {
    while v >= 0x80 {
        out.put_u8((v as u8) | 0x80);
        v >>= 7;
    }
    out.put_u8(v as u8);
}

fn varint(buf: &[u8], at: &mut usize) -> Option<u64> {
    let mut v = 0u64;
    for shift in (0..64).step_by(7) {
        let b = *buf.get(*at)?;
        *at += 1;
        v |= u64::from(b & 0x7f) << shift;
        if b & 0x80 == 0 {
            return Some(v);
        }
    }
    None
}

/// The `status` (field 1) of a framed `HealthCheckResponse`; 0 (`UNKNOWN`) when absent.
fn health_status(framed: &[u8]) -> Result<u64, String> {
    if framed.len() < 5 {
        return Err("short gRPC message".into());
    }
    if framed[0] != 0 {
        return Err("compressed gRPC message".into());
    }
    let len = u32::from_be_bytes([framed[1], framed[2], framed[3], framed[4]]) as usize;
    let message = framed
        .get(5..5 + len)
        .ok_or_else(|| "truncated gRPC message".to_string())?;
    let mut at = 0;
    let mut status = 0;
    while at < message.len() {
        let key = varint(message, &mut at).ok_or("bad protobuf")?;
        match (key >> 3, key & 7) {
            (1, 0) => status = varint(message, &mut at).ok_or("bad protobuf")?,
            (_, 0) => {
                varint(message, &mut at).ok_or("bad protobuf")?;
            }
            (_, 1) => at += 8,
            (_, 2) => {
                let n = varint(message, &mut at).ok_or("bad protobuf")? as usize;
                at += n;
            }
            (_, 5) => at += 4,
            _ => return Err("bad protobuf".into()),
        }
    }
    Ok(status)
}

fn serving_status_name(status: u64) -> String {
    match status {
        0 => "UNKNOWN".into(),
        1 => "SERVING".into(),
        2 => "NOT_SERVING".into(),
        3 => "SERVICE_UNKNOWN".into(),
        n => n.to_string(),
    }
}

/// What a gRPC call answered: the framed message and the `grpc-status` / `grpc-message`.
struct GrpcAnswer {
    body: BytesMut,
    code: u32,
    message: String,
}

async fn grpc(host: &str, port: u16, service: &str, timeout: Duration) -> Outcome {
    let addr = host_port(host, port);
    let connect = async {
        TcpStream::connect(&addr)
            .await
            .map_err(|e| format!("dial tcp {addr}: connect: {e}"))
    };
    let tcp = match tokio::time::timeout(timeout, connect).await {
        Ok(Ok(tcp)) => tcp,
        Ok(Err(e)) => {
            return Outcome::Failure(format!(
                "timeout: failed to connect service {addr:?} within {}: {e}",
                kernel_core::duration::format(timeout)
            ))
        }
        Err(_) => {
            return Outcome::Failure(format!(
                "timeout: failed to connect service {addr:?} within {}: context deadline exceeded",
                kernel_core::duration::format(timeout)
            ))
        }
    };
    let answer = match tokio::time::timeout(timeout, grpc_call(tcp, &addr, service)).await {
        Ok(Ok(answer)) => answer,
        Ok(Err(e)) => {
            return Outcome::Failure(format!("error: health rpc probe failed: {e}"));
        }
        Err(_) => {
            return Outcome::Failure(format!(
                "timeout: health rpc did not complete within {}",
                kernel_core::duration::format(timeout)
            ))
        }
    };
    match answer.code {
        0 => {}
        12 => {
            return Outcome::Failure(format!(
            "this server does not implement the grpc health protocol (grpc.health.v1.Health): {}",
            answer.message
        ))
        }
        code => {
            return Outcome::Failure(format!(
                "error: health rpc probe failed: rpc error: code = {} desc = {}",
                grpc_code_name(code),
                answer.message
            ))
        }
    }
    match health_status(&answer.body) {
        Ok(1) => Outcome::Success("service healthy".into()),
        Ok(status) => Outcome::Failure(format!(
            "service unhealthy (responded with {:?})",
            serving_status_name(status)
        )),
        Err(e) => Outcome::Failure(format!("error: health rpc probe failed: {e}")),
    }
}

fn grpc_code_name(code: u32) -> String {
    const NAMES: [&str; 17] = [
        "OK",
        "Canceled",
        "Unknown",
        "InvalidArgument",
        "DeadlineExceeded",
        "NotFound",
        "AlreadyExists",
        "PermissionDenied",
        "ResourceExhausted",
        "FailedPrecondition",
        "Aborted",
        "OutOfRange",
        "Unimplemented",
        "Internal",
        "Unavailable",
        "DataLoss",
        "Unauthenticated",
    ];
    NAMES
        .get(code as usize)
        .map_or_else(|| format!("Code({code})"), |n| (*n).to_string())
}

/// One unary `grpc.health.v1.Health/Check` over HTTP/2 (prior knowledge, no TLS).
async fn grpc_call(tcp: TcpStream, authority: &str, service: &str) -> Result<GrpcAnswer, String> {
    let (client, connection) = h2::client::handshake(tcp)
        .await
        .map_err(|e| e.to_string())?;
    let connection = tokio::spawn(async move {
        let _ = connection.await;
    });
    let result = async {
        let mut client = client.ready().await.map_err(|e| e.to_string())?;
        let request = http::Request::builder()
            .method("POST")
            .uri(format!("http://{authority}/grpc.health.v1.Health/Check"))
            .header("content-type", "application/grpc")
            .header("te", "trailers")
            .header("user-agent", USER_AGENT)
            .body(())
            .map_err(|e| e.to_string())?;
        let (response, mut send) = client
            .send_request(request, false)
            .map_err(|e| e.to_string())?;
        send.send_data(health_request(service), true)
            .map_err(|e| e.to_string())?;
        let response = response.await.map_err(|e| e.to_string())?;
        if response.status() != http::StatusCode::OK {
            return Err(format!("unexpected HTTP status code {}", response.status()));
        }
        let (parts, mut body) = response.into_parts();
        let mut data = BytesMut::new();
        while let Some(chunk) = body.data().await {
            let chunk = chunk.map_err(|e| e.to_string())?;
            let _ = body.flow_control().release_capacity(chunk.len());
            data.extend_from_slice(&chunk);
        }
        let trailers = body.trailers().await.map_err(|e| e.to_string())?;
        // A trailers-only answer carries grpc-status in the headers.
        let fields = trailers.as_ref().unwrap_or(&parts.headers);
        let code = fields
            .get("grpc-status")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u32>().ok())
            .unwrap_or(2);
        let message = fields
            .get("grpc-message")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string();
        Ok(GrpcAnswer {
            body: data,
            code,
            message,
        })
    }
    .await;
    connection.abort();
    result
}

/// HTTPS probes: TLS without verifying the server's certificate, as upstream's
/// `InsecureSkipVerify`.
mod tls {
    use std::sync::Arc;

    use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
    use rustls::crypto::CryptoProvider;
    use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
    use rustls::{DigitallySignedStruct, SignatureScheme};
    use tokio::net::TcpStream;
    use tokio_rustls::client::TlsStream;

    /// Accepts any certificate; signatures are still checked against it.
    #[derive(Debug)]
    struct SkipVerify(Arc<CryptoProvider>);

    impl ServerCertVerifier for SkipVerify {
        fn verify_server_cert(
            &self,
            _end_entity: &CertificateDer<'_>,
            _intermediates: &[CertificateDer<'_>],
            _server_name: &ServerName<'_>,
            _ocsp_response: &[u8],
            _now: UnixTime,
        ) -> Result<ServerCertVerified, rustls::Error> {
            Ok(ServerCertVerified::assertion())
        }

        fn verify_tls12_signature(
            &self,
            message: &[u8],
            cert: &CertificateDer<'_>,
            dss: &DigitallySignedStruct,
        ) -> Result<HandshakeSignatureValid, rustls::Error> {
            rustls::crypto::verify_tls12_signature(
                message,
                cert,
                dss,
                &self.0.signature_verification_algorithms,
            )
        }

        fn verify_tls13_signature(
            &self,
            message: &[u8],
            cert: &CertificateDer<'_>,
            dss: &DigitallySignedStruct,
        ) -> Result<HandshakeSignatureValid, rustls::Error> {
            rustls::crypto::verify_tls13_signature(
                message,
                cert,
                dss,
                &self.0.signature_verification_algorithms,
            )
        }

        fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
            self.0.signature_verification_algorithms.supported_schemes()
        }
    }

    /// A TLS connection to `host` over `tcp`.
    pub(super) async fn connect(
        host: &str,
        tcp: TcpStream,
    ) -> Result<TlsStream<TcpStream>, String> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| e.to_string())?
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(SkipVerify(provider)))
            .with_no_client_auth();
        let name = ServerName::try_from(host.to_string()).map_err(|e| e.to_string())?;
        tokio_rustls::TlsConnector::from(Arc::new(config))
            .connect(name, tcp)
            .await
            .map_err(|e| e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_lines_parse() {
        assert_eq!(parse_status_line(b"HTTP/1.1 200 OK"), Ok(200));
        assert_eq!(parse_status_line(b"HTTP/1.0 404 Not Found"), Ok(404));
        assert!(parse_status_line(b"SSH-2.0-OpenSSH").is_err());
    }

    #[test]
    fn health_messages_round_trip() {
        let req = health_request("");
        assert_eq!(&req[..], &[0, 0, 0, 0, 0]);
        let req = health_request("db");
        assert_eq!(&req[..], &[0, 0, 0, 0, 4, 0x0a, 2, b'd', b'b']);
        assert_eq!(health_status(&[0, 0, 0, 0, 2, 0x08, 1]), Ok(1));
        assert_eq!(health_status(&[0, 0, 0, 0, 0]), Ok(0));
        // An unknown length-delimited field before the status is skipped.
        assert_eq!(
            health_status(&[0, 0, 0, 0, 6, 0x12, 2, b'x', b'y', 0x08, 2]),
            Ok(2)
        );
        assert!(health_status(&[0, 0, 0, 0, 9, 0x08]).is_err());
    }

    #[test]
    fn named_ports_resolve_against_the_container() {
        let container: Container = serde_json::from_value(serde_json::json!({
            "name": "web", "ports": [ { "name": "http", "containerPort": 8080 } ]
        }))
        .unwrap();
        let named = IntOrString::String("http".into());
        assert_eq!(resolve_port(&named, &container), Ok(8080));
        assert_eq!(resolve_port(&IntOrString::Int(81), &container), Ok(81));
        assert!(resolve_port(&IntOrString::String("grpc".into()), &container).is_err());
        assert!(resolve_port(&IntOrString::Int(0), &container).is_err());
    }

    #[tokio::test]
    async fn http_probe_reads_the_status_and_sends_the_headers() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let server = tokio::spawn(async move {
            let mut seen = Vec::new();
            for answer in [
                "HTTP/1.1 204 No Content\r\n\r\n",
                "HTTP/1.1 404 Not Found\r\n\r\n",
            ] {
                let (mut s, _) = listener.accept().await.unwrap();
                let mut buf = vec![0u8; 4096];
                let mut got = Vec::new();
                while !got.windows(4).any(|w| w == b"\r\n\r\n") {
                    let n = s.read(&mut buf).await.unwrap();
                    got.extend_from_slice(&buf[..n]);
                }
                seen.push(String::from_utf8(got).unwrap());
                s.write_all(answer.as_bytes()).await.unwrap();
            }
            seen
        });
        let headers = vec![("X-Check".to_string(), "yes".to_string())];
        let t = Duration::from_secs(5);
        let ok = http_get(false, "127.0.0.1", port, "/healthz", &headers, t).await;
        assert_eq!(ok, Outcome::Success(String::new()));
        let bad = http_get(false, "127.0.0.1", port, "/healthz", &[], t).await;
        assert_eq!(
            bad,
            Outcome::Failure("HTTP probe failed with statuscode: 404".into())
        );
        let seen = server.await.unwrap();
        assert!(
            seen[0].starts_with("GET /healthz HTTP/1.1\r\n"),
            "{}",
            seen[0]
        );
        assert!(seen[0].contains("X-Check: yes\r\n"), "{}", seen[0]);
        assert!(seen[0].contains(&format!("User-Agent: {USER_AGENT}\r\n")));
        // Nothing listens any more: a failure, not an error.
        let refused = http_get(false, "127.0.0.1", port, "/", &[], t).await;
        assert!(
            matches!(&refused, Outcome::Failure(m) if m.contains("connection refused") || m.contains("onnection refused")),
            "{refused:?}"
        );
    }

    #[test]
    fn redirects_resolve_against_the_url() {
        let url = Url {
            https: false,
            host: "10.0.0.1".into(),
            port: 8080,
            path: "/app/health?x=1".into(),
        };
        assert_eq!(url.join("/other").unwrap().path, "/other");
        assert_eq!(url.join("ready").unwrap().path, "/app/ready");
        let abs = url.join("https://10.0.0.1:8443/z").unwrap();
        assert_eq!((abs.https, abs.port, abs.path.as_str()), (true, 8443, "/z"));
        let away = url.join("http://example.com").unwrap();
        assert_eq!(
            (away.host.as_str(), away.port, away.path.as_str()),
            ("example.com", 80, "/")
        );
        let v6 = url.join("http://[::1]:81/q").unwrap();
        assert_eq!((v6.host.as_str(), v6.port), ("::1", 81));
        assert_eq!(v6.to_string(), "http://[::1]:81/q");
    }

    #[tokio::test]
    async fn http_probe_follows_local_redirects_only() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move {
            loop {
                let (mut s, _) = listener.accept().await.unwrap();
                let mut buf = vec![0u8; 4096];
                let mut got = Vec::new();
                while !got.windows(4).any(|w| w == b"\r\n\r\n") {
                    let n = s.read(&mut buf).await.unwrap();
                    got.extend_from_slice(&buf[..n]);
                }
                let got = String::from_utf8(got).unwrap();
                let path = got.split(' ').nth(1).unwrap().to_string();
                let answer = match path.as_str() {
                    "/a" => "HTTP/1.1 302 Found\r\nLocation: /b\r\n\r\n".to_string(),
                    "/b" => "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok".to_string(),
                    "/gone" => "HTTP/1.1 301 Moved\r\nlocation: missing\r\n\r\n".to_string(),
                    "/away" => "HTTP/1.1 302 Found\r\nLocation: http://example.invalid/\r\n\r\n"
                        .to_string(),
                    "/loop" => "HTTP/1.1 302 Found\r\nLocation: /loop\r\n\r\n".to_string(),
                    _ => "HTTP/1.1 404 Not Found\r\n\r\n".to_string(),
                };
                s.write_all(answer.as_bytes()).await.unwrap();
            }
        });
        let t = Duration::from_secs(5);
        let get = |path: &'static str| http_get(false, "127.0.0.1", port, path, &[], t);
        assert_eq!(get("/a").await, Outcome::Success(String::new()));
        assert_eq!(
            get("/gone").await,
            Outcome::Failure("HTTP probe failed with statuscode: 404".into())
        );
        assert!(matches!(get("/away").await, Outcome::Warning(_)));
        assert_eq!(
            get("/loop").await,
            Outcome::Failure(format!(
                "Get \"http://127.0.0.1:{port}/loop\": stopped after 10 redirects"
            ))
        );
    }

    #[tokio::test]
    async fn https_probe_skips_certificate_verification() {
        use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
        // Self-signed, and for another name than the address probed.
        let rcgen::CertifiedKey { cert, key_pair } =
            rcgen::generate_simple_self_signed(vec!["example.invalid".into()]).unwrap();
        let chain = vec![CertificateDer::from(cert.der().to_vec())];
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key_pair.serialize_der()));
        let config = rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .unwrap();
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move {
            let (tcp, _) = listener.accept().await.unwrap();
            let mut tls = acceptor.accept(tcp).await.unwrap();
            let mut buf = vec![0u8; 4096];
            let mut got = Vec::new();
            while !got.windows(4).any(|w| w == b"\r\n\r\n") {
                let n = tls.read(&mut buf).await.unwrap();
                got.extend_from_slice(&buf[..n]);
            }
            tls.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
                .await
                .unwrap();
            tls.shutdown().await.unwrap();
        });
        let t = Duration::from_secs(5);
        let outcome = http_get(true, "127.0.0.1", port, "/", &[], t).await;
        assert_eq!(outcome, Outcome::Success(String::new()));
        // Plain HTTP to a TLS port is not an answer.
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        drop(listener);
        let refused = http_get(true, "127.0.0.1", port, "/", &[], t).await;
        assert!(
            matches!(refused, Outcome::Failure(m) if m.starts_with("Get \"https://127.0.0.1:"))
        );
    }

    #[tokio::test]
    async fn tcp_probe_connects() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let t = Duration::from_secs(5);
        assert_eq!(
            tcp("127.0.0.1", port, t).await,
            Outcome::Success(String::new())
        );
        drop(listener);
        assert!(
            matches!(tcp("127.0.0.1", port, t).await, Outcome::Failure(m) if m.starts_with("dial tcp 127.0.0.1:"))
        );
    }

    /// A gRPC health server on h2 answering `status` for the service "db" and NOT_FOUND for
    /// any other.
    async fn health_server(status: u8) -> u16 {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move {
            loop {
                let (tcp, _) = listener.accept().await.unwrap();
                tokio::spawn(async move {
                    let mut conn = h2::server::handshake(tcp).await.unwrap();
                    while let Some(Ok((request, mut respond))) = conn.accept().await {
                        assert_eq!(request.uri().path(), "/grpc.health.v1.Health/Check");
                        let mut body = request.into_body();
                        let mut data = BytesMut::new();
                        while let Some(Ok(chunk)) = body.data().await {
                            data.extend_from_slice(&chunk);
                        }
                        let known = &data[5..] == b"\x0a\x02db";
                        let response = http::Response::builder()
                            .header("content-type", "application/grpc")
                            .body(())
                            .unwrap();
                        let mut send = respond.send_response(response, false).unwrap();
                        let mut trailers = http::HeaderMap::new();
                        if known {
                            send.send_data(Bytes::from(vec![0, 0, 0, 0, 2, 0x08, status]), false)
                                .unwrap();
                            trailers.insert("grpc-status", "0".parse().unwrap());
                        } else {
                            trailers.insert("grpc-status", "5".parse().unwrap());
                            trailers.insert("grpc-message", "unknown service".parse().unwrap());
                        }
                        send.send_trailers(trailers).unwrap();
                    }
                });
            }
        });
        port
    }

    #[tokio::test]
    async fn grpc_probe_speaks_the_health_protocol() {
        let t = Duration::from_secs(5);
        let serving = health_server(1).await;
        assert_eq!(
            grpc("127.0.0.1", serving, "db", t).await,
            Outcome::Success("service healthy".into())
        );
        assert_eq!(
            grpc("127.0.0.1", serving, "other", t).await,
            Outcome::Failure(
                "error: health rpc probe failed: rpc error: code = NotFound desc = unknown service"
                    .into()
            )
        );
        let not_serving = health_server(2).await;
        assert_eq!(
            grpc("127.0.0.1", not_serving, "db", t).await,
            Outcome::Failure("service unhealthy (responded with \"NOT_SERVING\")".into())
        );
    }
}
