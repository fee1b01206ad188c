//! The proof with real containers: the `cluster` binary started with
//! `--runtime containerd:<socket> --pod-manifest-path <dir>` against kernel-testing's containerd
//! (its own root, socket, busybox image and CNI bridge), driven by the real kubectl:
//!
//! - a busybox `httpd` pod reaches Running with an IP of the harness's subnet and serves HTTP
//!   there;
//! - a pod whose liveness probe starts failing is restarted (restartCount grows) and an
//!   `Unhealthy` event is recorded;
//! - `kubectl logs`, `kubectl exec` (output, exit code, stdin) and `kubectl port-forward` reach
//!   the httpd pod through the API server and the kubelet;
//! - `kubectl delete pod` stops it: the pod goes away and containerd has nothing left of it;
//! - a static pod from the manifest directory shows as a Running mirror pod.
//!
//! Needs root, containerd, runc, the CNI plugins, busybox-static and kubectl; skipped with a
//! notice otherwise, unless `KERNEL_REQUIRE_ALL=1`.

use std::path::{Path, PathBuf};

use kernel_node::runtime::cri::CriRuntime;
use kernel_node::runtime::{ContainerState, Runtime};
use kernel_testing::{containerd, eventually, within};
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::process::Child;

const NODE: &str = "cri-e2e";
const SUBNET: &str = "10.66.30.0/24";

#[path = "support/cluster_bin.rs"]
mod cluster_bin;
use cluster_bin::{free_port, kubectl_run, port_forward, start_cluster};

/// Starts the binary on an in-memory store as node [`NODE`] with `extra`; the process and the
/// kubeconfig path.
async fn start(data_dir: &Path, extra: &[&str]) -> (Child, PathBuf) {
    let mut args = extra.to_vec();
    args.extend([
        "--store",
        "memory",
        "--secure-port",
        "0",
        "--node-name",
        NODE,
    ]);
    let (child, kubeconfig, printed) = start_cluster(data_dir, &args).await;
    assert!(
        printed.contains("over CRI at") && printed.contains("static pods from"),
        "{printed}"
    );
    (child, kubeconfig)
}

/// `GET /path` over a fresh TCP connection to `addr` (HTTP/1.0); the whole response, if one
/// came with status 200.
async fn http_get(addr: std::net::SocketAddr, path: &str) -> Option<String> {
    let mut conn = tokio::net::TcpStream::connect(addr).await.ok()?;
    conn.write_all(format!("GET {path} HTTP/1.0\r\n\r\n").as_bytes())
        .await
        .ok()?;
    let mut response = String::new();
    conn.read_to_string(&mut response).await.ok()?;
    response
        .lines()
        .next()?
        .contains(" 200")
        .then_some(response)
}

/// A busybox pod running `script` under `sh -c`, with `extra` merged into its container.
fn pod(name: &str, script: &str, extra: Value) -> Value {
    let mut container = json!({
        "name": "c", "image": "busybox:latest", "imagePullPolicy": "IfNotPresent",
        "command": ["sh", "-c", script],
    });
    if let (Some(c), Value::Object(more)) = (container.as_object_mut(), extra) {
        c.extend(more);
    }
    json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": { "name": name },
        "spec": { "terminationGracePeriodSeconds": 2, "containers": [container] },
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_drives_real_containers_on_containerd() {
    let Some(kubectl) = kernel_testing::kubectl() else {
        return;
    };
    let Some(containerd) = containerd(SUBNET).await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let manifests = dir.path().join("manifests");
    std::fs::create_dir(&manifests).unwrap();
    let static_pod = pod("static-web", "exec sleep 3600", json!({}));
    std::fs::write(
        manifests.join("static-web.json"),
        serde_json::to_vec(&static_pod).unwrap(),
    )
    .unwrap();
    let runtime = format!("containerd:{}", containerd.socket().display());
    let (cluster, kubeconfig) = start(
        &dir.path().join("data"),
        &[
            "--runtime",
            &runtime,
            "--pod-manifest-path",
            manifests.to_str().unwrap(),
        ],
    )
    .await;
    let run = |args: Vec<String>, stdin: &str| {
        let (kubectl, kubeconfig) = (kubectl.clone(), kubeconfig.clone());
        let stdin = stdin.to_owned();
        async move {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            kubectl_run(&kubectl, &kubeconfig, &args, &stdin).await
        }
    };
    let args = |s: &[&str]| s.iter().map(|a| a.to_string()).collect::<Vec<_>>();

    let (ok, out) = run(args(&["get", "nodes", "-o", "wide"]), "").await;
    assert!(
        ok && out.contains(NODE) && out.contains("containerd://"),
        "{out}"
    );

    // The httpd pod and the pod whose liveness probe starts failing after 3 s.
    let web = pod(
        "web",
        "echo hello-from-containerd > /var/www/index.html; echo web-started; \
         exec httpd -f -p 8080 -h /var/www",
        json!({ "ports": [{ "containerPort": 8080 }] }),
    );
    let flaky = pod(
        "flaky",
        "echo started-$(date +%s); touch /tmp/healthy; sleep 3; rm /tmp/healthy; exec sleep 3600",
        json!({ "livenessProbe": {
            "exec": { "command": ["cat", "/tmp/healthy"] },
            "periodSeconds": 1, "failureThreshold": 1,
        }}),
    );
    let manifest = format!("{web}\n{flaky}\n");
    let (ok, out) = run(args(&["apply", "-f", "-"]), &manifest).await;
    assert!(ok, "{out}");
    let (ok, out) = run(
        args(&["wait", "--for=condition=Ready", "pod/web", "--timeout=60s"]),
        "",
    )
    .await;
    assert!(ok, "{out}");

    // Running, with an IP of the harness's CNI subnet, serving HTTP there.
    let (ok, out) = run(
        args(&[
            "get",
            "pod",
            "web",
            "-o",
            "jsonpath={.status.phase} {.status.podIP} {.metadata.uid}",
        ]),
        "",
    )
    .await;
    assert!(ok, "{out}");
    let mut fields = out.split_whitespace();
    let (phase, ip, uid) = (
        fields.next().unwrap_or_default(),
        fields.next().unwrap_or_default(),
        fields.next().unwrap_or_default().to_owned(),
    );
    assert_eq!(phase, "Running", "{out}");
    let ip: std::net::IpAddr = ip.parse().unwrap();
    assert!(
        kernel_node::network::ipam::Subnet::parse(containerd.subnet())
            .unwrap()
            .contains(ip),
        "{ip} not in {}",
        containerd.subnet()
    );
    let body = eventually("httpd answers on the pod IP", || async move {
        http_get((ip, 8080).into(), "/").await
    })
    .await;
    assert!(body.contains("hello-from-containerd"), "{body}");

    // Logs.
    let (ok, out) = run(args(&["logs", "web"]), "").await;
    assert!(ok && out == "web-started\n", "{out:?}");

    // Exec: output, exit code, stdin. kubectl closing stdin reaches the process as EOF (the
    // kubelet speaks SPDY to containerd's streaming server and half-closes the stdin stream),
    // so `cat` ends.
    let (ok, out) = run(args(&["exec", "web", "--", "echo", "hi"]), "").await;
    assert!(ok && out == "hi\n", "{out:?}");
    let (ok, out) = run(
        args(&["exec", "web", "--", "cat", "/var/www/index.html"]),
        "",
    )
    .await;
    assert!(ok && out == "hello-from-containerd\n", "{out:?}");
    let (ok, out) = run(args(&["exec", "web", "--", "sh", "-c", "exit 3"]), "").await;
    assert!(
        !ok && out.contains("command terminated with exit code 3"),
        "{out}"
    );
    let (ok, out) = run(
        args(&["exec", "-i", "web", "--", "cat"]),
        "shout\nand more\n",
    )
    .await;
    assert!(ok && out == "shout\nand more\n", "{out:?}");

    // Port-forward: a local port reaches the pod's httpd, twice over the same forward.
    let port = free_port();
    let mut forward = port_forward(&kubectl, &kubeconfig, "pod/web", port, 8080).await;
    for _ in 0..2 {
        let body = http_get(([127, 0, 0, 1], port).into(), "/").await;
        assert!(
            body.as_deref()
                .is_some_and(|b| b.contains("hello-from-containerd")),
            "{body:?}"
        );
    }
    forward.kill().await.unwrap();

    // The failing liveness probe restarts the container (killed: exit code 137), again after
    // the first back-off (10 s), and says so in events.
    for (what, restarts) in [
        ("the liveness probe restarts the container", 1),
        ("the liveness probe restarts it again", 2),
    ] {
        let status = eventually(what, || async move {
            let (ok, out) = run(args(&["get", "pod", "flaky", "-o", "json"]), "").await;
            let pod: Value = serde_json::from_str(ok.then_some(&out)?).ok()?;
            let status = pod["status"]["containerStatuses"][0].clone();
            (status["restartCount"].as_u64()? >= restarts).then_some(status)
        })
        .await;
        assert_eq!(
            status["lastState"]["terminated"]["exitCode"], 137,
            "{status}"
        );
    }
    let (ok, out) = run(
        args(&[
            "get",
            "events",
            "--field-selector",
            "involvedObject.name=flaky",
        ]),
        "",
    )
    .await;
    assert!(ok && out.contains("Unhealthy"), "{out}");
    assert!(out.contains("Liveness probe failed"), "{out}");
    assert!(
        out.contains("Container c failed liveness probe, will be restarted"),
        "{out}"
    );
    assert!(out.contains("BackOff"), "{out}");
    // `logs --previous`: the log of the container the probe killed.
    let (ok, previous) = run(args(&["logs", "flaky", "--previous"]), "").await;
    assert!(ok && previous.starts_with("started-"), "{previous:?}");

    // The static pod shows as a Running mirror pod.
    let mirror = format!("static-web-{NODE}");
    let pod_json = eventually("the mirror pod runs", || {
        let (run, mirror) = (run, mirror.clone());
        async move {
            let (ok, out) = run(args(&["get", "pod", &mirror, "-o", "json"]), "").await;
            let pod: Value = serde_json::from_str(ok.then_some(&out)?).ok()?;
            (pod["status"]["phase"] == "Running").then_some(pod)
        }
    })
    .await;
    let annotations = &pod_json["metadata"]["annotations"];
    assert!(
        annotations["kubernetes.io/config.mirror"].is_string(),
        "{pod_json}"
    );
    assert_eq!(annotations["kubernetes.io/config.source"], "file");
    assert_eq!(pod_json["spec"]["nodeName"], NODE);

    // Delete: the pod goes away (kubectl waits for it) and containerd has nothing left of it.
    let cri = CriRuntime::connect(containerd.socket()).await.unwrap();
    let sandboxes: Vec<String> = cri
        .list_pod_sandboxes()
        .await
        .unwrap()
        .into_iter()
        .filter(|s| s.config.uid == uid)
        .map(|s| s.id)
        .collect();
    assert!(!sandboxes.is_empty(), "no sandbox of web ({uid})");
    let (ok, out) = run(args(&["delete", "pod", "web", "--timeout=60s"]), "").await;
    assert!(ok && out.contains("deleted"), "{out}");
    let (ok, out) = run(args(&["get", "pod", "web"]), "").await;
    assert!(!ok && out.contains("NotFound"), "{out}");
    // Graceful deletion: the API object goes only once the kubelet has stopped the containers.
    for id in &sandboxes {
        for c in cri.list_containers(Some(id)).await.unwrap_or_default() {
            assert_ne!(c.state, ContainerState::Running, "{c:?}");
        }
    }
    let (ok, out) = run(
        args(&[
            "get",
            "events",
            "--field-selector",
            "involvedObject.name=web",
        ]),
        "",
    )
    .await;
    assert!(ok && out.contains("Stopping container c"), "{out}");
    eventually("containerd has nothing left of the deleted pod", || async {
        let left = cri.list_pod_sandboxes().await.ok()?;
        if left.iter().any(|s| s.config.uid == uid) {
            return None;
        }
        for id in &sandboxes {
            if !cri.list_containers(Some(id)).await.ok()?.is_empty() {
                return None;
            }
        }
        Some(())
    })
    .await;
    // The others still run.
    let (ok, out) = run(args(&["get", "pods"]), "").await;
    assert!(
        ok && out.contains("flaky") && out.contains(&mirror),
        "{out}"
    );

    let pid = cluster.id().unwrap() as i32;
    // SAFETY: signalling a child process this test started.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGTERM) }, 0);
    let mut cluster = cluster;
    let status = within("the exit after SIGTERM", cluster.wait())
        .await
        .unwrap();
    assert!(status.success(), "exit after SIGTERM: {status}");
}
