//! Real clients against `portforward::serve_upgraded`: `kubectl port-forward` (client-go's
//! spdystream and tunnelling dialer: our SPDY, header compression and WebSocket tunnel) and
//! the Python client's `portforward` (the WebSocket channel protocol). They talk to an API
//! server; here a stand-in on loopback answers only what they ask before the upgrade
//! (discovery and the pod, `Running`), passes `ports` on as `port` as the API server does, and
//! then does what the kubelet's `/portForward` handler does: `negotiate`, 101,
//! `serve_upgraded`. The end-to-end path through the real API server and kubelet server is
//! tested where those are wired together. Each test is skipped with a notice without its
//! client (kubectl; Python with `kubernetes`), unless `KERNEL_REQUIRE_ALL=1`.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::process::Stdio;
use std::sync::Arc;

use futures::future::BoxFuture;
use kernel_node::portforward::{self, ServeOptions};
use kernel_node::runtime::Duplex;
use kernel_node::Error;
use kernel_testing::within;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

const POD: &str = r#"{"kind":"Pod","apiVersion":"v1","metadata":{"name":"web","namespace":"default","uid":"uid-1"},"spec":{"containers":[{"name":"c","image":"busybox"}]},"status":{"phase":"Running"}}"#;
const API_VERSIONS: &str = r#"{"kind":"APIVersions","versions":["v1"],"serverAddressByClientCIDRs":[{"clientCIDR":"0.0.0.0/0","serverAddress":"127.0.0.1"}]}"#;
const API_GROUPS: &str = r#"{"kind":"APIGroupList","apiVersion":"v1","groups":[]}"#;
const CORE_V1: &str = r#"{"kind":"APIResourceList","groupVersion":"v1","resources":[{"name":"pods","singularName":"pod","namespaced":true,"kind":"Pod","verbs":["get","list"],"shortNames":["po"]},{"name":"pods/portforward","singularName":"","namespaced":true,"kind":"PodPortForwardOptions","verbs":["create","get"]}]}"#;

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

async fn read_head(conn: &mut TcpStream) -> Option<(String, http::HeaderMap)> {
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        let mut b = [0u8; 1];
        if conn.read(&mut b).await.ok()? != 1 {
            return None;
        }
        head.push(b[0]);
    }
    let text = String::from_utf8(head).ok()?;
    let mut lines = text.split("\r\n");
    let first = lines.next()?.to_string();
    let mut headers = http::HeaderMap::new();
    for line in lines.filter(|l| !l.is_empty()) {
        let (n, v) = line.split_once(':')?;
        headers.append(
            http::HeaderName::from_bytes(n.trim().as_bytes()).ok()?,
            v.trim().parse().ok()?,
        );
    }
    Some((first, headers))
}

async fn respond(conn: &mut TcpStream, status: u16, body: &str) {
    let head = format!(
        "HTTP/1.1 {status} {}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n",
        if status == 200 { "OK" } else { "Error" },
        body.len()
    );
    let _ = conn.write_all(head.as_bytes()).await;
    let _ = conn.write_all(body.as_bytes()).await;
}

/// Which loopback port each pod port is: `routes[port]`, else `routes[0]`.
type Routes = Arc<HashMap<u16, u16>>;

/// Forwards pod ports to loopback ports as `routes` say.
fn to_loopback(
    routes: Routes,
) -> impl Fn(u16) -> BoxFuture<'static, kernel_node::Result<Box<dyn Duplex>>> + Send + Sync + 'static
{
    move |port| {
        let target = routes.get(&port).or(routes.get(&0)).copied().unwrap_or(1);
        Box::pin(async move {
            let conn = TcpStream::connect(("127.0.0.1", target))
                .await
                .map_err(|source| Error::Io {
                    context: format!("connecting to 127.0.0.1:{target}"),
                    source,
                })?;
            Ok(Box::new(conn) as Box<dyn Duplex>)
        })
    }
}

/// One keep-alive connection of a client's: answers until the port-forward upgrade.
async fn api_connection(mut conn: TcpStream, routes: Routes, refuse_websocket: bool) {
    while let Some((line, headers)) = read_head(&mut conn).await {
        if let Some(n) = headers.get("content-length") {
            let n: usize = n.to_str().unwrap().parse().unwrap();
            let mut body = vec![0; n];
            conn.read_exact(&mut body).await.unwrap();
        }
        let request_target = line.split(' ').nth(1).unwrap_or("");
        // The API server's PortForwardLocation: `ports=80,81` reaches the kubelet as `port=`.
        let query = request_target
            .split_once('?')
            .map(|(_, q)| q.replace("ports=", "port="));
        let path = line
            .split(' ')
            .nth(1)
            .unwrap_or("")
            .split('?')
            .next()
            .unwrap()
            .to_string();
        match path.as_str() {
            "/api" => respond(&mut conn, 200, API_VERSIONS).await,
            "/apis" => respond(&mut conn, 200, API_GROUPS).await,
            "/api/v1" => respond(&mut conn, 200, CORE_V1).await,
            "/api/v1/namespaces/default/pods/web" => respond(&mut conn, 200, POD).await,
            "/api/v1/namespaces/default/pods/web/portforward" => {
                if refuse_websocket && portforward::is_websocket_request(&headers) {
                    respond(&mut conn, 400, "no websockets here").await;
                    continue;
                }
                let upgrade = match portforward::negotiate(&headers, query.as_deref()) {
                    Ok(upgrade) => upgrade,
                    Err(rejection) => {
                        respond(&mut conn, rejection.status, &rejection.message).await;
                        continue;
                    }
                };
                let mut resp = String::from("HTTP/1.1 101 Switching Protocols\r\n");
                for (n, v) in &upgrade.headers {
                    resp.push_str(&format!("{n}: {v}\r\n"));
                }
                resp.push_str("\r\n");
                conn.write_all(resp.as_bytes()).await.unwrap();
                let options = ServeOptions::for_pod("web", "uid-1");
                let _ = portforward::serve_upgraded(upgrade.transport, conn, to_loopback(routes), options).await;
                return;
            }
            _ => respond(&mut conn, 404, r#"{"kind":"Status","apiVersion":"v1","status":"Failure","reason":"NotFound","code":404}"#).await,
        }
    }
}

async fn api_stand_in(routes: HashMap<u16, u16>, refuse_websocket: bool) -> SocketAddr {
    let routes = Arc::new(routes);
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((conn, _)) = listener.accept().await {
            tokio::spawn(api_connection(conn, routes.clone(), refuse_websocket));
        }
    });
    addr
}

/// kubectl port-forward to the stand-in; returns the child and the local port it listens on.
async fn kubectl_port_forward(
    kubectl: &std::path::Path,
    dir: &std::path::Path,
    api: SocketAddr,
) -> (tokio::process::Child, u16, tokio::task::JoinHandle<String>) {
    let kubeconfig = dir.join("kubeconfig");
    std::fs::write(
        &kubeconfig,
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster: {{server: \"http://{api}\"}}\n\
             users:\n- name: u\n  user: {{token: t}}\ncontexts:\n- name: x\n  context: {{cluster: c, user: u}}\n\
             current-context: x\n"
        ),
    )
    .unwrap();
    let mut child = tokio::process::Command::new(kubectl)
        .arg("--kubeconfig")
        .arg(&kubeconfig)
        .args(["port-forward", "--address", "127.0.0.1", "pod/web", ":80"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap()).lines();
    let stderr = child.stderr.take().unwrap();
    let errors = tokio::spawn(async move {
        let mut all = String::new();
        let _ = BufReader::new(stderr).read_to_string(&mut all).await;
        all
    });
    let port = within("kubectl to listen", async {
        loop {
            let line = stdout.next_line().await.unwrap().expect("kubectl exited");
            // "Forwarding from 127.0.0.1:43117 -> 80"
            if let Some(rest) = line.strip_prefix("Forwarding from 127.0.0.1:") {
                break rest.split(' ').next().unwrap().parse::<u16>().unwrap();
            }
        }
    })
    .await;
    tokio::spawn(async move { while let Ok(Some(_)) = stdout.next_line().await {} });
    (child, port, errors)
}

/// Sends `payload` and half-closes, reading everything back at the same time.
async fn round_trip(port: u16, payload: Vec<u8>) -> Vec<u8> {
    let conn = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    let (mut r, mut w) = conn.into_split();
    let writer = tokio::spawn(async move {
        w.write_all(&payload).await.unwrap();
        w.shutdown().await.unwrap();
    });
    let mut got = Vec::new();
    r.read_to_end(&mut got).await.unwrap();
    writer.await.unwrap();
    got
}

async fn three_connections_at_once(refuse_websocket: bool) {
    let Some(kubectl) = kernel_testing::kubectl() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let echo = echo_server().await;
    let api = api_stand_in(HashMap::from([(0, echo)]), refuse_websocket).await;
    let (mut child, port, _errors) = kubectl_port_forward(&kubectl, dir.path(), api).await;
    // More than SPDY's 64 KiB window each, at once: kubectl sends no WINDOW_UPDATE.
    let payloads: Vec<Vec<u8>> = (0..3u8)
        .map(|i| (0..300_000u32).map(|j| (j as u8) ^ i).collect())
        .collect();
    let got = within(
        "three round trips through kubectl",
        futures::future::join_all(payloads.iter().cloned().map(|p| round_trip(port, p))),
    )
    .await;
    for (i, (g, p)) in got.iter().zip(&payloads).enumerate() {
        assert!(
            g == p,
            "connection {i}: {} bytes back of {}",
            g.len(),
            p.len()
        );
    }
    child.kill().await.unwrap();
}

#[tokio::test]
async fn kubectl_through_the_websocket_tunnel() {
    three_connections_at_once(false).await;
}

#[tokio::test]
async fn kubectl_falling_back_to_plain_spdy() {
    three_connections_at_once(true).await;
}

#[tokio::test]
async fn kubectl_shows_the_error_stream() {
    let Some(kubectl) = kernel_testing::kubectl() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let closed = TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let api = api_stand_in(HashMap::from([(0, closed)]), false).await;
    let (mut child, port, errors) = kubectl_port_forward(&kubectl, dir.path(), api).await;
    let got = within(
        "the forwarded connection to end",
        round_trip(port, b"hello".to_vec()),
    )
    .await;
    assert!(got.is_empty());
    // kubectl prints the error stream's text and, as with a real kubelet, gives up.
    within("kubectl to exit", child.wait()).await.unwrap();
    let stderr = within("kubectl's stderr", errors).await.unwrap();
    assert!(
        stderr.contains(&format!(
            "an error occurred forwarding {port} -> 80: error forwarding port 80 to pod web, uid uid-1: connecting to 127.0.0.1:{closed}"
        )),
        "{stderr}"
    );
}

/// The Python client's `portforward`: two ports over the WebSocket channel protocol, one
/// echoing 180 KB, one refused (its error channel's text reaches `pf.error`).
#[tokio::test]
async fn python_client_portforward_over_websocket_channels() {
    let Some(python) = kernel_testing::python_with("kubernetes") else {
        return;
    };
    let echo = echo_server().await;
    let closed = TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let api = api_stand_in(HashMap::from([(80, echo), (81, closed)]), false).await;
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("pf.py");
    std::fs::write(&script, PYTHON_SCRIPT).unwrap();
    let out = within(
        "the Python client",
        tokio::process::Command::new(python)
            .arg(&script)
            .arg(format!("http://{api}"))
            .kill_on_drop(true)
            .output(),
    )
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "stdout:\n{stdout}\nstderr:\n{stderr}");
    assert!(stdout.contains("echo ok"), "{stdout}\n{stderr}");
    assert!(stdout.contains("81 data b''"), "{stdout}\n{stderr}");
    assert!(
        stdout.contains(&format!(
            "81 error error forwarding port 81 to pod web, uid uid-1: connecting to 127.0.0.1:{closed}"
        )),
        "{stdout}\n{stderr}"
    );
}

const PYTHON_SCRIPT: &str = r#"
import sys
from kubernetes import client
from kubernetes.stream import portforward

cfg = client.Configuration()
cfg.host = sys.argv[1]
api = client.CoreV1Api(client.ApiClient(cfg))
pf = portforward(api.connect_get_namespaced_pod_portforward, "web", "default", ports="80,81")
s = pf.socket(80)
s.setblocking(True)
payload = b"python says hello " * 10000
s.sendall(payload)
got = b""
while len(got) < len(payload):
    d = s.recv(65536)
    if not d:
        break
    got += d
print("echo ok" if got == payload else "echo BAD %d bytes" % len(got))
s81 = pf.socket(81)
s81.setblocking(True)
print("81 data", s81.recv(10))
print("81 error", pf.error(81))
pf.close()
"#;
