//! Port-forward end to end on loopback: a stand-in kubelet endpoint (the upgrade handshake by
//! `portforward::negotiate`, then `portforward::serve_upgraded`) on a real TCP connection, a
//! SPDY client written here with the crate's codec (plain, and through the WebSocket tunnel),
//! and TCP servers standing in for the pod's ports.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use futures::future::BoxFuture;
use kernel_node::network::netns::NetNs;
use kernel_node::network::{NetworkPlugin, PodNetwork, PodNetworkConfig};
use kernel_node::portforward::spdy::{rst, Frame, FrameDecoder, FrameEncoder, Headers};
use kernel_node::portforward::{self, ServeOptions};
use kernel_node::runtime::testsuite::sandbox_config;
use kernel_node::runtime::{Duplex, Runtime};
use kernel_node::websocket::{MessageKind, Role, WebSocketIo};
use kernel_node::{Error, HostNetwork, ProcessRuntime};
use kernel_testing::{component_missing, within};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

// === the pod's ports ===

/// Echoes every byte; closes its side once the client closed its.
async fn echo_server() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((mut conn, _)) = listener.accept().await {
            tokio::spawn(async move {
                let (mut r, mut w) = conn.split();
                let _ = tokio::io::copy(&mut r, &mut w).await;
                let _ = w.shutdown().await;
            });
        }
    });
    port
}

/// Reads everything until the client's half-close, then answers it upper-cased and closes:
/// works only if the client's FIN half-closes the connection.
async fn shout_after_eof_server() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((mut conn, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut all = Vec::new();
                conn.read_to_end(&mut all).await.unwrap();
                conn.write_all(&all.to_ascii_uppercase()).await.unwrap();
                conn.shutdown().await.unwrap();
            });
        }
    });
    port
}

/// A loopback port nobody listens on.
async fn closed_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    listener.local_addr().unwrap().port()
}

fn connect_loopback(port: u16) -> BoxFuture<'static, kernel_node::Result<Box<dyn Duplex>>> {
    Box::pin(async move {
        let conn = TcpStream::connect(("127.0.0.1", port))
            .await
            .map_err(|source| Error::Io {
                context: format!("connecting to 127.0.0.1:{port}"),
                source,
            })?;
        Ok(Box::new(conn) as Box<dyn Duplex>)
    })
}

// === the kubelet's side ===

/// Reads an HTTP/1.1 head (request or response) byte by byte, so nothing after it is taken.
async fn read_head(conn: &mut TcpStream) -> (String, http::HeaderMap) {
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        let mut b = [0u8; 1];
        assert_eq!(conn.read(&mut b).await.unwrap(), 1, "head cut short");
        head.push(b[0]);
    }
    let text = String::from_utf8(head).unwrap();
    let mut lines = text.split("\r\n");
    let first = lines.next().unwrap().to_string();
    let mut headers = http::HeaderMap::new();
    for line in lines.filter(|l| !l.is_empty()) {
        let (n, v) = line.split_once(':').unwrap();
        headers.append(
            http::HeaderName::from_bytes(n.trim().as_bytes()).unwrap(),
            v.trim().parse().unwrap(),
        );
    }
    (first, headers)
}

/// A stand-in for the kubelet server's `/portForward` handler: one connection, handshake by
/// `negotiate`, then `serve_upgraded`.
async fn kubelet(
    options: ServeOptions,
    connect: impl Fn(u16) -> BoxFuture<'static, kernel_node::Result<Box<dyn Duplex>>>
        + Send
        + Sync
        + 'static,
) -> (SocketAddr, JoinHandle<kernel_node::Result<()>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let task = tokio::spawn(async move {
        let (mut conn, _) = listener.accept().await.unwrap();
        let (request_line, headers) = read_head(&mut conn).await;
        let target = request_line.split(' ').nth(1).unwrap_or("");
        let query = target.split_once('?').map(|(_, q)| q.to_string());
        assert!(
            request_line.starts_with("POST /portForward/")
                || request_line.starts_with("GET /portForward/"),
            "{request_line}"
        );
        match portforward::negotiate(&headers, query.as_deref()) {
            Ok(upgrade) => {
                let mut resp = String::from("HTTP/1.1 101 Switching Protocols\r\n");
                for (n, v) in &upgrade.headers {
                    resp.push_str(&format!("{n}: {v}\r\n"));
                }
                resp.push_str("\r\n");
                conn.write_all(resp.as_bytes()).await.unwrap();
                portforward::serve_upgraded(upgrade.transport, conn, connect, options).await
            }
            Err(rejection) => {
                let resp = format!(
                    "HTTP/1.1 {} Refused\r\ncontent-length: {}\r\n\r\n{}",
                    rejection.status,
                    rejection.message.len(),
                    rejection.message
                );
                conn.write_all(resp.as_bytes()).await.unwrap();
                Ok(())
            }
        }
    });
    (addr, task)
}

// === the client's side ===

/// A SPDY client driven by hand, as kubectl's spdystream would talk.
struct Client {
    io: Box<dyn Duplex>,
    enc: FrameEncoder,
    dec: FrameDecoder,
    buf: BytesMut,
}

impl Client {
    /// Connects and upgrades: plain SPDY, or the WebSocket tunnel.
    async fn connect(addr: SocketAddr, websocket: bool) -> Client {
        let mut conn = TcpStream::connect(addr).await.unwrap();
        let upgrade = if websocket {
            "Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\n\
             Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
             Sec-WebSocket-Protocol: SPDY/3.1+portforward.k8s.io\r\n"
        } else {
            "Connection: Upgrade\r\nUpgrade: SPDY/3.1\r\n\
             X-Stream-Protocol-Version: portforward.k8s.io\r\n"
        };
        let req = format!("POST /portForward/default/web HTTP/1.1\r\nHost: node\r\n{upgrade}\r\n");
        conn.write_all(req.as_bytes()).await.unwrap();
        let (status, headers) = read_head(&mut conn).await;
        assert!(status.starts_with("HTTP/1.1 101"), "{status}");
        let io: Box<dyn Duplex> = if websocket {
            assert_eq!(
                headers["sec-websocket-accept"],
                "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
            );
            assert_eq!(
                headers["sec-websocket-protocol"],
                "SPDY/3.1+portforward.k8s.io"
            );
            Box::new(WebSocketIo::new(conn, Role::Client))
        } else {
            assert_eq!(headers["upgrade"], "SPDY/3.1");
            assert_eq!(headers["x-stream-protocol-version"], "portforward.k8s.io");
            Box::new(conn)
        };
        Client {
            io,
            enc: FrameEncoder::new(),
            dec: FrameDecoder::new(),
            buf: BytesMut::new(),
        }
    }

    async fn send(&mut self, frame: Frame) {
        let mut out = BytesMut::new();
        self.enc.encode(&frame, &mut out).unwrap();
        self.io.write_all(&out).await.unwrap();
        self.io.flush().await.unwrap();
    }

    async fn open(&mut self, stream_id: u32, headers: Headers) {
        self.send(Frame::SynStream {
            stream_id,
            associated_to: 0,
            priority: 0,
            slot: 0,
            fin: false,
            unidirectional: false,
            headers,
        })
        .await;
    }

    /// Opens a pair as kubectl does: the error stream (which it half-closes at once, it
    /// writes nothing on it), then the data stream.
    async fn open_pair(&mut self, request_id: u32, port: u16, error_id: u32, data_id: u32) {
        let headers = |kind: &str| {
            Headers::new()
                .with("streamtype", kind)
                .with("port", port.to_string())
                .with("requestid", request_id.to_string())
        };
        self.open(error_id, headers("error")).await;
        self.data(error_id, b"", true).await;
        self.open(data_id, headers("data")).await;
    }

    async fn data(&mut self, stream_id: u32, data: &[u8], fin: bool) {
        self.send(Frame::Data {
            stream_id,
            fin,
            data: Bytes::copy_from_slice(data),
        })
        .await;
    }

    /// The next frame (`None` at EOF); WINDOW_UPDATEs are skipped.
    async fn next(&mut self) -> Option<Frame> {
        loop {
            if let Some(f) = self.dec.decode(&mut self.buf).unwrap() {
                if matches!(f, Frame::WindowUpdate { .. }) {
                    continue;
                }
                return Some(f);
            }
            if self.io.read_buf(&mut self.buf).await.unwrap() == 0 {
                return None;
            }
        }
    }
}

/// What the client saw per stream.
#[derive(Default, Debug)]
struct Seen {
    replied: bool,
    data: Vec<u8>,
    fin: bool,
    reset: Option<u32>,
}

/// Reads frames into `seen` until `done` holds.
async fn until(
    client: &mut Client,
    seen: &mut HashMap<u32, Seen>,
    what: &str,
    done: impl Fn(&HashMap<u32, Seen>) -> bool,
) {
    within(what, async {
        while !done(seen) {
            match client.next().await.expect("connection open") {
                Frame::SynReply { stream_id, .. } => {
                    seen.entry(stream_id).or_default().replied = true
                }
                Frame::Data {
                    stream_id,
                    fin,
                    data,
                } => {
                    let s = seen.entry(stream_id).or_default();
                    assert!(!s.fin, "data after FIN on {stream_id}");
                    s.data.extend_from_slice(&data);
                    s.fin |= fin;
                }
                Frame::RstStream { stream_id, status } => {
                    seen.entry(stream_id).or_default().reset = Some(status)
                }
                Frame::Ping { .. } | Frame::Settings { .. } => {}
                other => panic!("unexpected {other:?}"),
            }
        }
    })
    .await;
}

fn has(seen: &HashMap<u32, Seen>, id: u32, f: impl Fn(&Seen) -> bool) -> bool {
    seen.get(&id).is_some_and(f)
}

// === tests ===

async fn two_pairs_at_once(websocket: bool) {
    let echo = echo_server().await;
    let shout = shout_after_eof_server().await;
    let (addr, server) = kubelet(
        ServeOptions::for_pod("default/web", "uid-1"),
        connect_loopback,
    )
    .await;
    let mut c = Client::connect(addr, websocket).await;
    let mut seen = HashMap::new();

    c.open_pair(0, echo, 1, 3).await;
    c.open_pair(1, shout, 5, 7).await;
    until(&mut c, &mut seen, "four SYN_REPLYs", |s| {
        [1, 3, 5, 7].iter().all(|id| has(s, *id, |x| x.replied))
    })
    .await;

    // Both connections at once, interleaved.
    c.data(3, b"alpha ", false).await;
    c.data(7, b"quiet ", false).await;
    c.data(3, b"beta", false).await;
    c.data(7, b"words", false).await;
    until(&mut c, &mut seen, "the echo", |s| {
        has(s, 3, |x| x.data == b"alpha beta")
    })
    .await;
    assert!(seen[&7].data.is_empty(), "the shouter waits for EOF");

    // The client's FIN half-closes the pod connection; the pod answers, then both streams
    // of the pair end, the error stream empty.
    c.data(7, b"", true).await;
    until(&mut c, &mut seen, "the shout and both FINs", |s| {
        has(s, 7, |x| x.fin) && has(s, 5, |x| x.fin)
    })
    .await;
    assert_eq!(seen[&7].data, b"QUIET WORDS");
    assert!(seen[&5].data.is_empty(), "no error: {:?}", seen[&5].data);

    // The other pair is still up.
    c.data(3, b"!", false).await;
    until(&mut c, &mut seen, "more echo", |s| {
        has(s, 3, |x| x.data == b"alpha beta!")
    })
    .await;
    c.data(3, b"", true).await;
    until(&mut c, &mut seen, "the echo pair's FINs", |s| {
        has(s, 3, |x| x.fin) && has(s, 1, |x| x.fin)
    })
    .await;
    assert!(seen[&1].data.is_empty());
    assert!(seen.values().all(|s| s.reset.is_none()), "{seen:?}");

    // kubectl ends with GOAWAY and closing the connection: serve returns.
    c.send(Frame::GoAway {
        last_good_stream_id: 0,
        status: 0,
    })
    .await;
    drop(c);
    within("serve to return", server).await.unwrap().unwrap();
}

#[tokio::test]
async fn plain_spdy_two_connections_at_once() {
    two_pairs_at_once(false).await;
}

#[tokio::test]
async fn websocket_tunnel_two_connections_at_once() {
    two_pairs_at_once(true).await;
}

async fn refused_port(websocket: bool) {
    let port = closed_port().await;
    let (addr, _server) = kubelet(
        ServeOptions::for_pod("default/web", "uid-1"),
        connect_loopback,
    )
    .await;
    let mut c = Client::connect(addr, websocket).await;
    let mut seen = HashMap::new();
    c.open_pair(0, port, 1, 3).await;
    until(&mut c, &mut seen, "both streams closed", |s| {
        has(s, 1, |x| x.fin) && has(s, 3, |x| x.fin)
    })
    .await;
    let message = String::from_utf8(seen[&1].data.clone()).unwrap();
    assert!(
        message.starts_with(&format!(
            "error forwarding port {port} to pod default/web, uid uid-1: "
        )),
        "{message}"
    );
    assert!(message.contains("refused"), "{message}");
    assert!(seen[&3].data.is_empty());
}

#[tokio::test]
async fn plain_spdy_refused_port_is_reported_on_the_error_stream() {
    refused_port(false).await;
}

#[tokio::test]
async fn websocket_tunnel_refused_port_is_reported_on_the_error_stream() {
    refused_port(true).await;
}

#[tokio::test]
async fn streams_without_port_or_type_are_reset() {
    let (addr, _server) = kubelet(ServeOptions::default(), connect_loopback).await;
    let mut c = Client::connect(addr, false).await;
    let mut seen = HashMap::new();
    c.open(1, Headers::new().with("streamtype", "data")).await;
    c.open(
        3,
        Headers::new().with("streamtype", "data").with("port", "0"),
    )
    .await;
    c.open(
        5,
        Headers::new()
            .with("streamtype", "stdin")
            .with("port", "80"),
    )
    .await;
    c.open(7, Headers::new().with("port", "http")).await;
    until(&mut c, &mut seen, "four resets", |s| {
        [1, 3, 5, 7]
            .iter()
            .all(|id| has(s, *id, |x| x.reset.is_some()))
    })
    .await;
    assert!(seen
        .values()
        .all(|s| s.reset == Some(rst::CANCEL) && !s.replied));
}

#[tokio::test]
async fn an_incomplete_pair_times_out_on_its_error_stream() {
    let options = ServeOptions {
        stream_creation_timeout: Duration::from_millis(100),
        ..ServeOptions::default()
    };
    let (addr, _server) = kubelet(options, connect_loopback).await;
    let mut c = Client::connect(addr, false).await;
    let mut seen = HashMap::new();
    c.open(
        1,
        Headers::new()
            .with("streamtype", "error")
            .with("port", "80")
            .with("requestid", "9"),
    )
    .await;
    until(&mut c, &mut seen, "the error stream to close", |s| {
        has(s, 1, |x| x.fin)
    })
    .await;
    let message = String::from_utf8(seen[&1].data.clone()).unwrap();
    assert!(
        message.contains("timed out waiting for streams"),
        "{message}"
    );
}

#[tokio::test]
async fn old_clients_without_requestid_pair_by_stream_id() {
    let echo = echo_server().await;
    let (addr, _server) = kubelet(ServeOptions::default(), connect_loopback).await;
    let mut c = Client::connect(addr, false).await;
    let mut seen = HashMap::new();
    let h = |kind: &str| {
        Headers::new()
            .with("streamtype", kind)
            .with("port", echo.to_string())
    };
    c.open(1, h("error")).await;
    c.open(3, h("data")).await;
    c.data(3, b"old", true).await;
    until(&mut c, &mut seen, "the echo", |s| has(s, 3, |x| x.fin)).await;
    assert_eq!(seen[&3].data, b"old");
}

#[tokio::test]
async fn refused_upgrades_answer_an_http_error() {
    let (addr, _server) = kubelet(ServeOptions::default(), connect_loopback).await;
    let mut conn = TcpStream::connect(addr).await.unwrap();
    conn.write_all(
        b"POST /portForward/default/web HTTP/1.1\r\nHost: node\r\nConnection: Upgrade\r\n\
          Upgrade: SPDY/3.1\r\nX-Stream-Protocol-Version: v4.channel.k8s.io\r\n\r\n",
    )
    .await
    .unwrap();
    let (status, _) = read_head(&mut conn).await;
    assert!(status.starts_with("HTTP/1.1 403"), "{status}");
}

/// The whole way: `serve` with `ProcessRuntime::port_forward` as the connector, to a server
/// listening on the pod's IP (HostNetwork: an address in 127.0.0.0/8).
#[tokio::test]
async fn process_runtime_port_forward_reaches_the_pod_ip() {
    let dir = tempfile::tempdir().unwrap();
    let rt = ProcessRuntime::new(dir.path().join("root"), HostNetwork::new());
    let sandbox = rt
        .run_pod_sandbox(&sandbox_config(dir.path(), "pf"))
        .await
        .unwrap();
    let ip = rt.pod_sandbox_status(&sandbox).await.unwrap().ip.unwrap();
    assert!(ip.is_loopback());
    let listener = TcpListener::bind((ip, 0)).await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        let (mut conn, _) = listener.accept().await.unwrap();
        conn.write_all(b"hello from the pod").await.unwrap();
        conn.shutdown().await.unwrap();
    });

    // An unknown sandbox is NotFound.
    assert!(matches!(
        rt.port_forward("nope", port).await,
        Err(Error::NotFound { .. })
    ));

    let rt2 = Arc::new(rt.clone());
    let id = sandbox.clone();
    let connect = move |port: u16| {
        let rt = rt2.clone();
        let id = id.clone();
        Box::pin(async move { rt.port_forward(&id, port).await })
            as BoxFuture<'static, kernel_node::Result<Box<dyn Duplex>>>
    };
    let (addr, _server) = kubelet(ServeOptions::for_pod("conformance/pf", "u"), connect).await;
    let mut c = Client::connect(addr, true).await;
    let mut seen = HashMap::new();
    c.open_pair(0, port, 1, 3).await;
    until(&mut c, &mut seen, "the pod's greeting", |s| {
        has(s, 3, |x| x.fin)
    })
    .await;
    assert_eq!(
        String::from_utf8(seen[&3].data.clone()).unwrap(),
        "hello from the pod"
    );
    assert!(seen[&1].data.is_empty());

    rt.stop_pod_sandbox(&sandbox).await.unwrap();
    assert!(matches!(
        rt.port_forward(&sandbox, port).await,
        Err(Error::InvalidState(_))
    ));
    rt.remove_pod_sandbox(&sandbox).await.unwrap();
}

/// A network plugin that gives each sandbox a fresh network namespace with only its
/// loopback up (needs root).
struct LoopbackOnly {
    dir: std::path::PathBuf,
}

#[async_trait::async_trait]
impl NetworkPlugin for LoopbackOnly {
    fn name(&self) -> &str {
        "loopback-only"
    }

    async fn set_up(&self, pod: &PodNetworkConfig) -> kernel_node::Result<PodNetwork> {
        let path = self.dir.join(&pod.sandbox_id);
        NetNs::create(&path)?;
        let status = tokio::process::Command::new("nsenter")
            .arg(format!("--net={}", path.display()))
            .args(["ip", "link", "set", "lo", "up"])
            .status()
            .await
            .expect("nsenter runs");
        assert!(status.success(), "lo up: {status}");
        Ok(PodNetwork {
            ips: vec![],
            netns: Some(path),
        })
    }

    async fn tear_down(&self, pod: &PodNetworkConfig) -> kernel_node::Result<()> {
        NetNs::remove(&self.dir.join(&pod.sandbox_id))
    }

    async fn check(&self, _pod: &PodNetworkConfig) -> kernel_node::Result<()> {
        Ok(())
    }
}

/// Listens on `127.0.0.1:0` inside `netns` (a thread joins it to bind, then ends) and greets
/// whoever connects with `greeting`.
async fn greet_inside(netns: &std::path::Path, greeting: &'static [u8]) -> u16 {
    use std::os::fd::AsRawFd;
    let fd = std::fs::File::open(netns).unwrap();
    let listener = std::thread::spawn(move || {
        // SAFETY: setns only moves this short-lived thread into the namespace.
        assert_eq!(
            unsafe { libc::setns(fd.as_raw_fd(), libc::CLONE_NEWNET) },
            0
        );
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.set_nonblocking(true).unwrap();
        l
    })
    .join()
    .unwrap();
    let listener = TcpListener::from_std(listener).unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((mut conn, _)) = listener.accept().await {
            let _ = conn.write_all(greeting).await;
            let _ = conn.shutdown().await;
        }
    });
    port
}

/// With a network namespace, the connection is made inside it, to its loopback: the pod's
/// `127.0.0.1`, not the host's.
#[tokio::test]
async fn process_runtime_port_forward_connects_inside_the_pod_netns() {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        component_missing("root", "network namespaces need root");
        return;
    }
    if kernel_testing::which("nsenter").is_none() || kernel_testing::which("ip").is_none() {
        component_missing(
            "nsenter and ip",
            "util-linux and iproute2 bring the pod's lo up",
        );
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let net = LoopbackOnly {
        dir: dir.path().join("netns"),
    };
    let rt = ProcessRuntime::with_network(dir.path().join("root"), Arc::new(net));
    let sandbox = rt
        .run_pod_sandbox(&sandbox_config(dir.path(), "pf-netns"))
        .await
        .unwrap();
    let netns = dir.path().join("netns").join(&sandbox);
    let port = greet_inside(&netns, b"inside the pod").await;
    // The host's 127.0.0.1 on the same port, if free, says something else.
    if let Ok(host) = TcpListener::bind(("127.0.0.1", port)).await {
        tokio::spawn(async move {
            while let Ok((mut conn, _)) = host.accept().await {
                let _ = conn.write_all(b"on the host").await;
            }
        });
    }

    let mut conn = rt.port_forward(&sandbox, port).await.unwrap();
    let mut got = String::new();
    conn.read_to_string(&mut got).await.unwrap();
    assert_eq!(got, "inside the pod");

    // A port nobody listens on inside: refused, and the message names the namespace.
    let closed = closed_port().await;
    let err = match rt.port_forward(&sandbox, closed).await {
        Err(e) => e.to_string(),
        Ok(_) => panic!("port {closed} answered inside the pod"),
    };
    assert!(
        err.contains("network namespace") && err.contains("refused"),
        "{err}"
    );

    rt.stop_pod_sandbox(&sandbox).await.unwrap();
    rt.remove_pod_sandbox(&sandbox).await.unwrap();
}

// === upstream's WebSocket channel protocol ===

/// Greets whoever connects and closes.
async fn greeter() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((mut conn, _)) = listener.accept().await {
            let _ = conn.write_all(b"hello from the pod").await;
            let _ = conn.shutdown().await;
        }
    });
    port
}

/// Upgrades to the channel protocol (`protocol`: the subprotocol offered, if any).
async fn channels_client(
    addr: SocketAddr,
    protocol: Option<&str>,
    query: &str,
) -> WebSocketIo<TcpStream> {
    let mut conn = TcpStream::connect(addr).await.unwrap();
    let offer = protocol
        .map(|p| format!("Sec-WebSocket-Protocol: {p}\r\n"))
        .unwrap_or_default();
    let req = format!(
        "GET /portForward/default/web?{query} HTTP/1.1\r\nHost: node\r\nConnection: Upgrade\r\n\
         Upgrade: websocket\r\nSec-WebSocket-Version: 13\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n{offer}\r\n"
    );
    conn.write_all(req.as_bytes()).await.unwrap();
    let (status, headers) = read_head(&mut conn).await;
    assert!(status.starts_with("HTTP/1.1 101"), "{status}");
    assert_eq!(
        headers
            .get("sec-websocket-protocol")
            .map(|v| v.to_str().unwrap()),
        protocol
    );
    WebSocketIo::new(conn, Role::Client)
}

/// (channel, payload) of the next message, decoded per the subprotocol.
async fn next_channel_message(
    ws: &mut WebSocketIo<TcpStream>,
    base64: bool,
) -> Option<(u8, Vec<u8>)> {
    use base64::Engine as _;
    let m = within("a channel message", ws.recv_message())
        .await
        .unwrap()?;
    if base64 {
        assert_eq!(m.kind, MessageKind::Text);
        let data = base64::engine::general_purpose::STANDARD
            .decode(&m.data[1..])
            .unwrap();
        Some((m.data[0] - b'0', data))
    } else {
        assert_eq!(m.kind, MessageKind::Binary);
        Some((m.data[0], m.data[1..].to_vec()))
    }
}

async fn send_channel_message(
    ws: &mut WebSocketIo<TcpStream>,
    base64: bool,
    channel: u8,
    data: &[u8],
) {
    use base64::Engine as _;
    if base64 {
        let mut m = vec![b'0' + channel];
        m.extend_from_slice(
            base64::engine::general_purpose::STANDARD
                .encode(data)
                .as_bytes(),
        );
        ws.send_message(MessageKind::Text, &m).await.unwrap();
    } else {
        let mut m = vec![channel];
        m.extend_from_slice(data);
        ws.send_message(MessageKind::Binary, &m).await.unwrap();
    }
}

async fn channels(protocol: Option<&str>) {
    let base64 = protocol == Some("v4.base64.channel.k8s.io");
    let echo = echo_server().await;
    let closed = closed_port().await;
    let (addr, server) = kubelet(
        ServeOptions::for_pod("default/web", "uid-1"),
        connect_loopback,
    )
    .await;
    let mut ws = channels_client(addr, protocol, &format!("port={echo}&port={closed}")).await;

    // Each channel first says its port.
    let mut prefixes = Vec::new();
    for _ in 0..4 {
        prefixes.push(next_channel_message(&mut ws, base64).await.unwrap());
    }
    prefixes.sort();
    let le = |p: u16| p.to_le_bytes().to_vec();
    assert_eq!(
        prefixes,
        vec![
            (0, le(echo)),
            (1, le(echo)),
            (2, le(closed)),
            (3, le(closed))
        ]
    );

    // The refused port reports on its error channel; the echo works meanwhile.
    send_channel_message(&mut ws, base64, 0, b"over channel zero").await;
    let mut echoed = Vec::new();
    let mut error = None;
    while echoed != b"over channel zero" || error.is_none() {
        match next_channel_message(&mut ws, base64).await.unwrap() {
            (0, data) => echoed.extend(data),
            (3, data) => error = Some(String::from_utf8(data).unwrap()),
            other => panic!("unexpected {other:?}"),
        }
    }
    let error = error.unwrap();
    assert!(
        error.starts_with(&format!(
            "error forwarding port {closed} to pod default/web, uid uid-1: "
        )),
        "{error}"
    );

    // The client closing the WebSocket ends everything.
    ws.close(1000).await.unwrap();
    within("serve to return", server).await.unwrap().unwrap();
}

#[tokio::test]
async fn websocket_channels_binary() {
    channels(Some("v4.channel.k8s.io")).await;
}

#[tokio::test]
async fn websocket_channels_base64() {
    channels(Some("v4.base64.channel.k8s.io")).await;
}

#[tokio::test]
async fn websocket_channels_without_subprotocol_close_once_every_port_ended() {
    let pod = greeter().await;
    let (addr, server) = kubelet(ServeOptions::default(), connect_loopback).await;
    let mut ws = channels_client(addr, None, &format!("port={pod}")).await;
    assert_eq!(
        next_channel_message(&mut ws, false).await,
        Some((0, pod.to_le_bytes().to_vec()))
    );
    assert_eq!(
        next_channel_message(&mut ws, false).await,
        Some((1, pod.to_le_bytes().to_vec()))
    );
    assert_eq!(
        next_channel_message(&mut ws, false).await,
        Some((0, b"hello from the pod".to_vec()))
    );
    // The pod closed: the port ended, and with it (the only one) the WebSocket.
    assert_eq!(next_channel_message(&mut ws, false).await, None);
    within("serve to return", server).await.unwrap().unwrap();
}

// === idle timeout ===

#[tokio::test]
async fn an_idle_spdy_connection_is_closed_with_goaway() {
    let echo = echo_server().await;
    let options = ServeOptions {
        // Long beside the 100 ms between ticks, so a busy machine does not close it early.
        idle_timeout: Some(Duration::from_secs(2)),
        ..ServeOptions::default()
    };
    let (addr, server) = kubelet(options, connect_loopback).await;
    let mut c = Client::connect(addr, false).await;
    let mut seen = HashMap::new();
    c.open_pair(0, echo, 1, 3).await;
    // Data keeps it alive; pings would not.
    for _ in 0..4 {
        c.data(3, b"tick", false).await;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    until(&mut c, &mut seen, "the echoes", |s| {
        has(s, 3, |x| x.data.len() == 16)
    })
    .await;
    // Then silence: GOAWAY, and the connection ends.
    let mut goaway = false;
    within("the idle close", async {
        while let Some(frame) = c.next().await {
            goaway |= matches!(frame, Frame::GoAway { .. });
        }
    })
    .await;
    assert!(goaway);
    within("serve to return", server).await.unwrap().unwrap();
}

#[tokio::test]
async fn an_idle_channel_connection_is_closed() {
    let echo = echo_server().await;
    let options = ServeOptions {
        idle_timeout: Some(Duration::from_millis(200)),
        ..ServeOptions::default()
    };
    let (addr, server) = kubelet(options, connect_loopback).await;
    let mut ws = channels_client(addr, Some("v4.channel.k8s.io"), &format!("port={echo}")).await;
    for _ in 0..2 {
        next_channel_message(&mut ws, false).await.unwrap();
    }
    // The WebSocket is closed by the server: reads end.
    assert_eq!(next_channel_message(&mut ws, false).await, None);
    within("serve to return", server).await.unwrap().unwrap();
}
