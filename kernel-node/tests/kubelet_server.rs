//! The kubelet's HTTPS server against a `ProcessRuntime` running `/bin/sh` containers:
//! healthz, pods, stats, metrics, containerLogs (tail, timestamps, limit, previous, follow),
//! exec over WebSocket v5 (stdout, exit codes, stdin with close, a TTY with resize), attach,
//! port-forward and client certificates. The whole kubelet publishing its port to an API
//! server is tested through the `cluster` binary (tests/cluster_binary.rs), as kernel-node
//! does not depend on kernel-api.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use kernel_node::runtime::{ContainerConfig, PodSandboxConfig, Runtime};
use kernel_node::server::ServingKubelet;
use kernel_node::{HostNetwork, KubeletServer, KubeletServerConfig, ProcessRuntime};
use kernel_testing::{eventually, within};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

struct Fixture {
    dir: tempfile::TempDir,
    rt: ProcessRuntime,
    server: ServingKubelet,
    tls: tokio_rustls::TlsConnector,
    sandbox: String,
    sandbox_config: PodSandboxConfig,
}

fn loopback() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 0))
}

fn connector(server_cert_pem: &str, client: Option<(&str, &str)>) -> tokio_rustls::TlsConnector {
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(CertificateDer::from_pem_slice(server_cert_pem.as_bytes()).unwrap())
        .unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots);
    let config = match client {
        None => builder.with_no_client_auth(),
        Some((cert, key)) => builder
            .with_client_auth_cert(
                vec![CertificateDer::from_pem_slice(cert.as_bytes()).unwrap()],
                PrivateKeyDer::from_pem_slice(key.as_bytes()).unwrap(),
            )
            .unwrap(),
    };
    tokio_rustls::TlsConnector::from(Arc::new(config))
}

async fn fixture() -> Fixture {
    if kernel_testing::which("sh").is_none() {
        panic!("sh is needed");
    }
    let dir = tempfile::tempdir().unwrap();
    let rt = ProcessRuntime::new(dir.path().join("root"), HostNetwork::new());
    let server = KubeletServer::new(KubeletServerConfig::on(loopback()), Arc::new(rt.clone()))
        .node("node-1", None)
        .bind()
        .await
        .unwrap();
    let tls = connector(server.cert_pem(), None);
    let sandbox_config = PodSandboxConfig {
        name: "web".into(),
        namespace: "default".into(),
        uid: "uid-web".into(),
        hostname: "web".into(),
        log_directory: dir.path().join("logs"),
        ..Default::default()
    };
    let sandbox = rt.run_pod_sandbox(&sandbox_config).await.unwrap();
    Fixture {
        dir,
        rt,
        server,
        tls,
        sandbox,
        sandbox_config,
    }
}

impl Fixture {
    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Starts attempt `attempt` of container `name` running `sh -c script`, where
    /// [`UNTIL_DONE`] stands for "until the test ends".
    async fn start(&self, name: &str, attempt: u32, script: &str) -> String {
        let script = script.replace(UNTIL_DONE, &until_gone(self.dir.path()));
        let script = script.as_str();
        let config = ContainerConfig {
            name: name.into(),
            attempt,
            image: "busybox".into(),
            command: vec!["sh".into(), "-c".into(), script.into()],
            log_path: PathBuf::from(name).join(format!("{attempt}.log")),
            ..Default::default()
        };
        let id = self
            .rt
            .create_container(&self.sandbox, &config, &self.sandbox_config)
            .await
            .unwrap();
        self.rt.start_container(&id).await.unwrap();
        id
    }

    async fn log_has(&self, id: &str, text: &str) {
        let path = self.rt.container_status(id).await.unwrap().log_path;
        eventually(&format!("the log has {text:?}"), || {
            let path = path.clone();
            async move {
                let log = tokio::fs::read_to_string(&path).await.unwrap_or_default();
                log.contains(text).then_some(())
            }
        })
        .await;
    }

    async fn connect(&self) -> hyper::client::conn::http1::SendRequest<Empty<Bytes>> {
        let tcp = tokio::net::TcpStream::connect(self.server.local_addr())
            .await
            .unwrap();
        let name = ServerName::try_from("127.0.0.1").unwrap();
        let tls = self.tls.connect(name, tcp).await.unwrap();
        let (send, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tls))
            .await
            .unwrap();
        tokio::spawn(conn.with_upgrades());
        send
    }

    async fn request(&self, req: http::Request<Empty<Bytes>>) -> http::Response<Incoming> {
        let mut send = self.connect().await;
        within("the kubelet server's answer", send.send_request(req))
            .await
            .unwrap()
    }

    async fn get_response(&self, path: &str) -> http::Response<Incoming> {
        let req = http::Request::get(path)
            .header("host", "127.0.0.1")
            .body(Empty::new())
            .unwrap();
        self.request(req).await
    }

    /// `GET path`: the status and the whole body.
    async fn get(&self, path: &str) -> (u16, String) {
        let response = self.get_response(path).await;
        let status = response.status().as_u16();
        let body = within("the body", response.into_body().collect())
            .await
            .unwrap()
            .to_bytes();
        (status, String::from_utf8_lossy(&body).into_owned())
    }

    /// Opens a remotecommand WebSocket at `path` with subprotocol v5.
    async fn ws(&self, path: &str) -> Ws {
        self.ws_with(
            path,
            "v5.channel.k8s.io, v4.channel.k8s.io",
            "v5.channel.k8s.io",
        )
        .await
    }

    /// Opens a remotecommand WebSocket at `path` offering `offered` (none if empty),
    /// expecting `chosen` (none if empty).
    async fn ws_with(&self, path: &str, offered: &str, chosen: &str) -> Ws {
        let mut req = http::Request::get(path);
        if !offered.is_empty() {
            req = req.header("sec-websocket-protocol", offered);
        }
        let req = req
            .header("host", "127.0.0.1")
            .header("connection", "Upgrade")
            .header("upgrade", "websocket")
            .header("sec-websocket-version", "13")
            .header("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ==")
            .body(Empty::new())
            .unwrap();
        let response = self.request(req).await;
        assert_eq!(response.status().as_u16(), 101, "{path}: {response:?}");
        assert_eq!(
            response.headers()["sec-websocket-accept"],
            "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
        );
        let protocol = response.headers().get("sec-websocket-protocol");
        assert_eq!(protocol.map(|p| p.to_str().unwrap()).unwrap_or(""), chosen);
        let upgraded = hyper::upgrade::on(response).await.unwrap();
        Ws {
            io: TokioIo::new(upgraded),
            stdout: Vec::new(),
            stderr: Vec::new(),
        }
    }
}

/// A remotecommand client over a WebSocket.
struct Ws {
    io: TokioIo<hyper::upgrade::Upgraded>,
    stdout: Vec<u8>,
    stderr: Vec<u8>,
}

impl Ws {
    /// Sends `data` on `channel` (a masked binary frame, as a client must).
    async fn send(&mut self, channel: u8, data: &[u8]) {
        let mut payload = vec![channel];
        payload.extend_from_slice(data);
        self.send_frame(0x2, &payload).await;
    }

    /// Sends one masked frame.
    async fn send_frame(&mut self, op: u8, payload: &[u8]) {
        let mask = [0x11u8, 0x22, 0x33, 0x44];
        let mut frame = vec![0x80 | op];
        match payload.len() {
            n if n < 126 => frame.push(0x80 | n as u8),
            n => {
                frame.push(0x80 | 126);
                frame.extend_from_slice(&(n as u16).to_be_bytes());
            }
        }
        frame.extend_from_slice(&mask);
        frame.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
        self.io.write_all(&frame).await.unwrap();
        self.io.flush().await.unwrap();
    }

    /// The next frame: (opcode, payload).
    async fn frame(&mut self) -> (u8, Vec<u8>) {
        let mut head = [0u8; 2];
        self.io.read_exact(&mut head).await.unwrap();
        assert_eq!(head[1] & 0x80, 0, "server frames are not masked");
        let len = match head[1] & 0x7F {
            126 => u64::from(self.io.read_u16().await.unwrap()),
            127 => self.io.read_u64().await.unwrap(),
            n => u64::from(n),
        };
        let mut payload = vec![0u8; len as usize];
        self.io.read_exact(&mut payload).await.unwrap();
        (head[0] & 0x0F, payload)
    }

    /// Reads until the close frame; returns what came on channel 3 (v1–v3: text).
    async fn finish_raw(&mut self) -> Vec<u8> {
        within("the end of the exec", async {
            let mut error = Vec::new();
            loop {
                let (op, payload) = self.frame().await;
                if op == 0x8 {
                    return error;
                }
                let (channel, data) = payload.split_first().unwrap();
                match channel {
                    1 => self.stdout.extend_from_slice(data),
                    2 => self.stderr.extend_from_slice(data),
                    3 => error.extend_from_slice(data),
                    other => panic!("unexpected channel {other}"),
                }
            }
        })
        .await
    }

    /// Reads until the status on channel 3 and the close frame; returns the status.
    async fn finish(&mut self) -> Value {
        within("the end of the exec", async {
            let mut status = None;
            loop {
                let (op, payload) = self.frame().await;
                if op == 0x8 {
                    return status.expect("a status before the close frame");
                }
                if let Some(s) = self.take(op, &payload) {
                    status = Some(s);
                }
            }
        })
        .await
    }

    fn take(&mut self, op: u8, payload: &[u8]) -> Option<Value> {
        assert_eq!(op, 0x2, "binary messages only");
        let (channel, data) = payload.split_first().unwrap();
        match channel {
            1 => self.stdout.extend_from_slice(data),
            2 => self.stderr.extend_from_slice(data),
            3 => return Some(serde_json::from_slice(data).unwrap()),
            other => panic!("unexpected channel {other}"),
        }
        None
    }

    /// Reads until stdout contains `text`.
    async fn stdout_until(&mut self, text: &str) {
        within(&format!("stdout showing {text:?}"), async {
            while !String::from_utf8_lossy(&self.stdout).contains(text) {
                let (op, payload) = self.frame().await;
                assert_ne!(
                    op,
                    0x8,
                    "closed before {text:?}: {:?}",
                    String::from_utf8_lossy(&self.stdout)
                );
                if let Some(status) = self.take(op, &payload) {
                    panic!("ended before {text:?}: {status}");
                }
            }
        })
        .await
    }
}

/// In a script: run until the test's directory is gone. The process runtime does not stop
/// containers when dropped, so a container that waits for the test's end must notice it,
/// even when the test fails.
const UNTIL_DONE: &str = "UNTIL_DONE";

/// Shell that waits while `dir` exists.
fn until_gone(dir: &Path) -> String {
    format!("while [ -d {} ]; do sleep 0.1; done", dir.display())
}

/// Shell that waits until `path` exists (or the test's directory, its parent, is gone).
fn wait_for_file(path: &Path) -> String {
    let dir = path.parent().unwrap().display();
    format!(
        "while [ ! -e {} ] && [ -d {dir} ]; do sleep 0.05; done",
        path.display()
    )
}

#[tokio::test]
async fn healthz_pods_stats_metrics() {
    let f = fixture().await;
    f.start("app", 0, "UNTIL_DONE").await;
    assert_eq!(f.get("/healthz").await, (200, "ok\n".into()));
    let (status, pods) = f.get("/pods").await;
    assert_eq!(status, 200);
    let pods: Value = serde_json::from_str(&pods).unwrap();
    assert_eq!(pods["kind"], "PodList");
    assert!(pods["items"].as_array().unwrap().is_empty());

    let (status, running) = f.get("/runningpods/").await;
    assert_eq!(status, 200);
    let running: Value = serde_json::from_str(&running).unwrap();
    assert_eq!(running["items"][0]["metadata"]["name"], "web");
    assert_eq!(running["items"][0]["metadata"]["uid"], "uid-web");
    assert_eq!(running["items"][0]["spec"]["containers"][0]["name"], "app");

    let (status, summary) = f.get("/stats/summary").await;
    assert_eq!(status, 200);
    let summary: Value = serde_json::from_str(&summary).unwrap();
    assert_eq!(summary["node"]["nodeName"], "node-1");
    assert!(
        summary["node"]["memory"]["availableBytes"]
            .as_u64()
            .unwrap()
            > 0
    );
    let pod = &summary["pods"][0];
    assert_eq!(pod["podRef"]["name"], "web");
    assert_eq!(pod["podRef"]["namespace"], "default");
    assert_eq!(pod["podRef"]["uid"], "uid-web");
    assert_eq!(pod["containers"][0]["name"], "app");

    let (status, metrics) = f.get("/metrics").await;
    assert_eq!(status, 200);
    assert!(metrics.contains("kubelet_running_pods 1"), "{metrics}");
    assert!(
        metrics.contains("kubelet_running_containers{container_state=\"running\"} 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("kubelet_node_name{node=\"node-1\"} 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains(
            "kubelet_http_requests_total{long_running=\"false\",method=\"GET\",path=\"healthz\",server_type=\"readwrite\"} 1"
        ),
        "{metrics}"
    );
    assert!(
        metrics.contains("kubelet_http_requests_duration_seconds_bucket"),
        "{metrics}"
    );
    assert_eq!(f.get("/healthz/ping").await, (200, "ok\n".into()));
    let (status, resource) = f.get("/metrics/resource").await;
    assert_eq!(status, 200);
    assert!(
        resource.contains("\nnode_cpu_usage_seconds_total "),
        "{resource}"
    );
    assert!(
        resource.contains("\nnode_memory_working_set_bytes "),
        "{resource}"
    );
    assert!(
        resource.contains(
            "container_start_time_seconds{container=\"app\",namespace=\"default\",pod=\"web\"} "
        ),
        "{resource}"
    );
    assert!(resource.contains("\nscrape_error 0 "), "{resource}");
    assert_eq!(f.get("/nothing/here").await.0, 404);
}

#[tokio::test]
async fn container_logs_tail_timestamps_limit() {
    let f = fixture().await;
    // All on stdout: stdout and stderr are copied to the log apart, so their order may vary.
    let id = f
        .start("app", 0, "echo one; echo two; echo three; UNTIL_DONE")
        .await;
    f.log_has(&id, "three").await;
    let logs = "/containerLogs/default/web/app";
    assert_eq!(f.get(logs).await, (200, "one\ntwo\nthree\n".into()));
    assert_eq!(f.get(&format!("{logs}?tailLines=1")).await.1, "three\n");
    assert_eq!(f.get(&format!("{logs}?tailLines=0")).await.1, "");
    assert_eq!(f.get(&format!("{logs}?limitBytes=5")).await.1, "one\nt");
    let (_, stamped) = f.get(&format!("{logs}?timestamps=true&tailLines=2")).await;
    let lines: Vec<&str> = stamped.lines().collect();
    assert_eq!(lines.len(), 2, "{stamped}");
    for (line, want) in lines.iter().zip(["two", "three"]) {
        let (time, text) = line.split_once(' ').unwrap();
        assert_eq!(text, want);
        time.parse::<jiff::Timestamp>()
            .unwrap_or_else(|e| panic!("{time:?} is not RFC 3339: {e}"));
    }
    // All of them are at or after a time before the container started.
    assert_eq!(
        f.get(&format!("{logs}?sinceTime=2000-01-01T00:00:00Z"))
            .await
            .1,
        "one\ntwo\nthree\n"
    );
    assert_eq!(
        f.get(&format!("{logs}?sinceTime=2999-01-01T00:00:00Z"))
            .await
            .1,
        ""
    );
    assert_eq!(f.get(&format!("{logs}?tailLines=-1")).await.0, 400);
    assert_eq!(f.get("/containerLogs/default/web/nope").await.0, 404);
    assert_eq!(f.get("/containerLogs/default/nope/app").await.0, 404);
    assert_eq!(f.get(&format!("{logs}?previous=true")).await.0, 400);
}

#[tokio::test]
async fn previous_is_the_attempt_before() {
    let f = fixture().await;
    let old = f.start("app", 0, "echo old").await;
    eventually("the first attempt exits", || async {
        let s = f.rt.container_status(&old).await.unwrap();
        s.exit_code.map(|_| ())
    })
    .await;
    let new = f.start("app", 1, "echo new; UNTIL_DONE").await;
    f.log_has(&new, "new").await;
    assert_eq!(f.get("/containerLogs/default/web/app").await.1, "new\n");
    assert_eq!(
        f.get("/containerLogs/default/web/app?previous=true")
            .await
            .1,
        "old\n"
    );
}

#[tokio::test]
async fn follow_streams_new_lines_until_the_container_exits() {
    let f = fixture().await;
    let go = f.path("go");
    let script = format!(
        "echo first; {}; echo second; UNTIL_DONE",
        wait_for_file(&go)
    );
    let id = f.start("app", 0, &script).await;
    f.log_has(&id, "first").await;
    let response = f
        .get_response("/containerLogs/default/web/app?follow=true")
        .await;
    assert_eq!(response.status().as_u16(), 200);
    let mut body = response.into_body();
    let mut seen = String::new();
    let mut next = async |seen: &mut String| {
        let frame = within("a log chunk", body.frame()).await;
        match frame {
            Some(frame) => {
                if let Ok(data) = frame.unwrap().into_data() {
                    seen.push_str(&String::from_utf8_lossy(&data));
                }
                true
            }
            None => false,
        }
    };
    while !seen.contains("first\n") {
        assert!(next(&mut seen).await, "ended early: {seen:?}");
    }
    assert!(!seen.contains("second"));
    tokio::fs::write(&go, b"").await.unwrap();
    while !seen.contains("second\n") {
        assert!(next(&mut seen).await, "ended early: {seen:?}");
    }
    assert_eq!(seen, "first\nsecond\n");
    // The stream ends once the container does.
    f.rt.stop_container(&id, Duration::from_secs(5))
        .await
        .unwrap();
    while next(&mut seen).await {}
    assert_eq!(seen, "first\nsecond\n");
}

#[tokio::test]
async fn exec_echo_hi_succeeds() {
    let f = fixture().await;
    f.start("app", 0, "UNTIL_DONE").await;
    let mut ws = f
        .ws("/exec/default/web/app?command=echo&command=hi&output=1&error=1")
        .await;
    let status = ws.finish().await;
    assert_eq!(String::from_utf8_lossy(&ws.stdout), "hi\n");
    assert!(ws.stderr.is_empty());
    assert_eq!(status["status"], "Success", "{status}");
}

#[tokio::test]
async fn exec_non_zero_exit_is_non_zero_exit_code() {
    let f = fixture().await;
    f.start("app", 0, "UNTIL_DONE").await;
    // With the pod's uid in the path too.
    let mut ws = f
        .ws("/exec/default/web/uid-web/app?command=sh&command=-c&command=echo%20oops%20%3E%262%3B%20exit%203&output=1&error=1")
        .await;
    let status = ws.finish().await;
    assert_eq!(String::from_utf8_lossy(&ws.stderr), "oops\n");
    assert_eq!(status["status"], "Failure", "{status}");
    assert_eq!(status["reason"], "NonZeroExitCode", "{status}");
    assert_eq!(status["details"]["causes"][0]["reason"], "ExitCode");
    assert_eq!(status["details"]["causes"][0]["message"], "3");
}

#[tokio::test]
async fn exec_stdin_echoes_and_ends_on_close() {
    let f = fixture().await;
    f.start("app", 0, "UNTIL_DONE").await;
    let mut ws = f
        .ws("/exec/default/web/app?command=cat&input=1&output=1&error=1")
        .await;
    ws.send(0, b"hello\n").await;
    ws.stdout_until("hello\n").await;
    ws.send(0, b"again\n").await;
    ws.stdout_until("again\n").await;
    // v5: close stdin; cat sees its end and exits 0.
    ws.send(255, &[0]).await;
    let status = ws.finish().await;
    assert_eq!(String::from_utf8_lossy(&ws.stdout), "hello\nagain\n");
    assert_eq!(status["status"], "Success", "{status}");
}

#[tokio::test]
async fn exec_tty_has_a_terminal_and_resizes() {
    let f = fixture().await;
    f.start("app", 0, "UNTIL_DONE").await;
    let mut ws = f
        .ws("/exec/default/web/app?command=sh&input=1&output=1&error=1&tty=1")
        .await;
    ws.send(4, br#"{"Width":100,"Height":30}"#).await;
    // A round trip, so the resize is applied before `stty` looks.
    ws.send(0, b"echo READY-$((2+3))\n").await;
    ws.stdout_until("READY-5").await;
    ws.send(0, b"stty size; test -t 0 && echo TTY-$((1+1)); exit 7\n")
        .await;
    let status = ws.finish().await;
    let out = String::from_utf8_lossy(&ws.stdout);
    assert!(out.contains("30 100"), "{out:?}");
    assert!(out.contains("TTY-2"), "{out:?}");
    assert!(ws.stderr.is_empty(), "no stderr with a TTY");
    assert_eq!(status["reason"], "NonZeroExitCode", "{status}");
    assert_eq!(status["details"]["causes"][0]["message"], "7");
}

#[tokio::test]
async fn attach_streams_the_containers_output() {
    let f = fixture().await;
    let go = f.path("go");
    let script = format!(
        "echo before; {}; echo attached-out; echo attached-err >&2; exit 4",
        wait_for_file(&go)
    );
    let id = f.start("app", 0, &script).await;
    f.log_has(&id, "before").await;
    let mut ws = f.ws("/attach/default/web/app?output=1&error=1").await;
    tokio::fs::write(&go, b"").await.unwrap();
    let status = ws.finish().await;
    assert_eq!(String::from_utf8_lossy(&ws.stdout), "attached-out\n");
    assert_eq!(String::from_utf8_lossy(&ws.stderr), "attached-err\n");
    assert_eq!(status["details"]["causes"][0]["message"], "4", "{status}");
}

#[tokio::test]
async fn bad_streaming_requests() {
    let f = fixture().await;
    f.start("app", 0, "UNTIL_DONE").await;
    // Not an upgrade.
    assert_eq!(
        f.get("/exec/default/web/app?command=true&output=1").await.0,
        400
    );
    // No stream asked for.
    assert_eq!(f.get("/exec/default/web/app?command=true").await.0, 400);
    // No such pod, no such container.
    assert_eq!(
        f.get("/exec/default/nope/app?command=true&output=1")
            .await
            .0,
        404
    );
    assert_eq!(
        f.get("/exec/default/web/nope?command=true&output=1")
            .await
            .0,
        404
    );
    // A container that does not run.
    let done = f.start("done", 0, "true").await;
    eventually("the container exits", || async {
        f.rt.container_status(&done)
            .await
            .unwrap()
            .exit_code
            .map(|_| ())
    })
    .await;
    let (status, body) = f.get("/exec/default/web/done?command=true&output=1").await;
    assert_eq!(status, 400);
    assert!(body.contains("is not running"), "{body}");
    // Port-forward needs an upgrade.
    assert_eq!(f.get("/portForward/default/web").await.0, 400);
    assert_eq!(f.get("/portForward/default/nope").await.0, 404);
}

#[tokio::test]
async fn client_ca_requires_a_signed_client_certificate() {
    let f = fixture().await;
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "test-ca");
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let client_key = rcgen::KeyPair::generate().unwrap();
    let mut client_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    client_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "kube-apiserver");
    let client = client_params.signed_by(&client_key, &ca, &ca_key).unwrap();

    let mut config = KubeletServerConfig::on(loopback());
    config.client_ca_pem = Some(ca.pem());
    let server = KubeletServer::new(config, Arc::new(f.rt.clone()))
        .bind()
        .await
        .unwrap();
    let healthz = |tls: tokio_rustls::TlsConnector| {
        let addr = server.local_addr();
        async move {
            let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
            let name = ServerName::try_from("127.0.0.1").unwrap();
            let mut tls = tls.connect(name, tcp).await.map_err(|e| e.to_string())?;
            tls.write_all(b"GET /healthz HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n")
                .await
                .map_err(|e| e.to_string())?;
            let mut out = Vec::new();
            tls.read_to_end(&mut out).await.map_err(|e| e.to_string())?;
            Ok::<_, String>(String::from_utf8_lossy(&out).into_owned())
        }
    };
    let without = within(
        "no client certificate",
        healthz(connector(server.cert_pem(), None)),
    )
    .await;
    assert!(
        without.as_ref().is_err() || !without.as_ref().unwrap().contains("200 OK"),
        "{without:?}"
    );
    let with = within(
        "a signed client certificate",
        healthz(connector(
            server.cert_pem(),
            Some((&client.pem(), &client_key.serialize_pem())),
        )),
    )
    .await
    .unwrap();
    assert!(with.starts_with("HTTP/1.1 200 OK"), "{with}");
    assert!(with.ends_with("ok\n"), "{with}");
}

#[tokio::test]
async fn exec_v4_and_large_output() {
    let f = fixture().await;
    f.start("app", 0, "UNTIL_DONE").await;
    let mut ws = f
        .ws_with(
            "/exec/default/web/app?command=sh&command=-c&command=head%20-c%20200000%20/dev/zero%20%7C%20tr%20%27%5C0%27%20a&output=1",
            "v4.channel.k8s.io",
            "v4.channel.k8s.io",
        )
        .await;
    let status = ws.finish().await;
    assert_eq!(ws.stdout.len(), 200_000);
    assert!(ws.stdout.iter().all(|b| *b == b'a'));
    assert_eq!(status["status"], "Success", "{status}");
}

#[tokio::test]
async fn exec_ends_when_the_client_goes_away() {
    let f = fixture().await;
    f.start("app", 0, "UNTIL_DONE").await;
    let mut ws = f
        .ws("/exec/default/web/app?command=sh&command=-c&command=echo%20pid%3D%24%24%3B%20exec%20sleep%201000&input=1&output=1")
        .await;
    ws.stdout_until("\n").await;
    let out = String::from_utf8_lossy(&ws.stdout).into_owned();
    let pid: i32 = out.trim().strip_prefix("pid=").unwrap().parse().unwrap();
    // SAFETY: kill with signal 0 only checks that the process exists.
    assert_eq!(unsafe { libc::kill(pid, 0) }, 0, "the exec runs");
    drop(ws);
    eventually("the exec's process to be gone", || async {
        // SAFETY: as above.
        (unsafe { libc::kill(pid, 0) } != 0).then_some(())
    })
    .await;
}

#[tokio::test]
async fn exec_v1_without_a_subprotocol_reports_errors_as_text() {
    let f = fixture().await;
    f.start("app", 0, "UNTIL_DONE").await;
    let path =
        "/exec/default/web/app?command=sh&command=-c&command=echo%20v1%3B%20exit%202&output=1";
    let mut ws = f.ws_with(path, "", "").await;
    let error = String::from_utf8(ws.finish_raw().await).unwrap();
    assert_eq!(String::from_utf8_lossy(&ws.stdout), "v1\n");
    assert!(error.contains("exit code 2"), "{error}");
    // Success says nothing on the error channel before v4.
    let mut ws = f
        .ws_with(
            "/exec/default/web/app?command=true&output=1",
            "v3.channel.k8s.io",
            "v3.channel.k8s.io",
        )
        .await;
    assert_eq!(ws.finish_raw().await, b"");
}

/// client-go's heartbeat: pings are answered with pongs of the same payload.
#[tokio::test]
async fn pings_are_answered() {
    let f = fixture().await;
    f.start("app", 0, "UNTIL_DONE").await;
    let mut ws = f
        .ws("/exec/default/web/app?command=cat&input=1&output=1")
        .await;
    ws.send_frame(0x9, b"heartbeat").await;
    let (op, payload) = within("the pong", ws.frame()).await;
    assert_eq!((op, payload.as_slice()), (0xA, &b"heartbeat"[..]));
    ws.send(255, &[0]).await;
    assert_eq!(ws.finish().await["status"], "Success");
}

/// Port-forward through the server: the WebSocket channel protocol (`v4.channel.k8s.io`,
/// ports in the query) to a TCP server in the pod.
#[tokio::test]
async fn port_forward_reaches_the_pods_port() {
    let Some(python) = kernel_testing::which("python3") else {
        kernel_testing::component_missing("python3", "the pod's TCP server is a python3 one-liner");
        return;
    };
    let f = fixture().await;
    let port = std::net::TcpListener::bind("0.0.0.0:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let server = format!(
        "import socket\ns = socket.socket()\ns.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n\
         s.bind(('0.0.0.0', {port}))\ns.listen(8)\nwhile True:\n    c, _ = s.accept()\n\
         \x20   while True:\n        d = c.recv(4096)\n        if not d: break\n        c.sendall(d.upper())\n\
         \x20   c.close()\n"
    );
    let script = format!(
        "{} -c \"$SERVER\" & {UNTIL_DONE}; kill $!",
        python.display()
    );
    let config = ContainerConfig {
        name: "tcp".into(),
        image: "python".into(),
        command: vec![
            "sh".into(),
            "-c".into(),
            script.replace(UNTIL_DONE, &until_gone(f.dir.path())),
        ],
        envs: vec![("SERVER".into(), server)],
        log_path: PathBuf::from("tcp/0.log"),
        ..Default::default()
    };
    let id =
        f.rt.create_container(&f.sandbox, &config, &f.sandbox_config)
            .await
            .unwrap();
    f.rt.start_container(&id).await.unwrap();
    let ip =
        f.rt.pod_sandbox_status(&f.sandbox)
            .await
            .unwrap()
            .ip
            .unwrap();
    eventually("the pod's server listens", || async move {
        tokio::net::TcpStream::connect((ip, port))
            .await
            .ok()
            .map(|_| ())
    })
    .await;

    let mut ws = f
        .ws_with(
            &format!("/portForward/default/web?port={port}"),
            "v4.channel.k8s.io",
            "v4.channel.k8s.io",
        )
        .await;
    // Both channels of the port first carry the port number, little-endian.
    let mut first = Vec::new();
    for _ in 0..2 {
        let (op, payload) = within("the port frames", ws.frame()).await;
        assert_eq!(op, 0x2);
        first.push(payload);
    }
    first.sort();
    let le = port.to_le_bytes();
    assert_eq!(first, vec![vec![0, le[0], le[1]], vec![1, le[0], le[1]]]);
    ws.send(0, b"hello pod").await;
    let mut echoed = Vec::new();
    within("the pod's answer", async {
        while echoed != b"HELLO POD" {
            let (op, payload) = ws.frame().await;
            assert_eq!(op, 0x2, "{payload:?}");
            let (channel, data) = payload.split_first().unwrap();
            assert_eq!(
                *channel,
                0,
                "error channel: {}",
                String::from_utf8_lossy(data)
            );
            echoed.extend_from_slice(data);
        }
    })
    .await;
}
