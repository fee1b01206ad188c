//! The `cluster` binary as a newcomer uses it: `--help`, a first start that prints the
//! KUBECONFIG line, pods placed on hand-made nodes, SIGTERM, and a restart on the file store
//! that the old kubeconfig still works against.

use kernel_testing::within;
use std::path::{Path, PathBuf};
use std::time::Duration;

use k8s_openapi::api::core::v1::{ConfigMap, Node, Pod};
use kube::api::{Api, PostParams};
use tokio::process::{Child, Command};

#[path = "support/cluster_bin.rs"]
mod cluster_bin;
use cluster_bin::{bin, free_port, kubectl_run, port_forward, start_cluster};

/// Starts the binary on `port` (0: any) with `extra`, on the file store unless `extra` names
/// another; see [`start_cluster`].
async fn start(data_dir: &Path, port: u16, extra: &[&str]) -> (Child, PathBuf, String) {
    let port = port.to_string();
    let mut args = extra.to_vec();
    if !extra.contains(&"--store") {
        args.extend(["--store", "file"]);
    }
    args.extend(["--secure-port", &port]);
    start_cluster(data_dir, &args).await
}

/// `GET http://<addr/path>` with a bare HTTP/1.0 request; the body.
async fn http_get(url: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let (addr, path) = url.split_once('/').unwrap();
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream
        .write_all(format!("GET /{path} HTTP/1.0\r\nHost: {addr}\r\n\r\n").as_bytes())
        .await
        .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    assert!(
        response.starts_with("HTTP/1.0 200") || response.starts_with("HTTP/1.1 200"),
        "{response}"
    );
    response
}

async fn client(kubeconfig: &str) -> kube::Client {
    let config = kube::Config::from_custom_kubeconfig(
        kube::config::Kubeconfig::from_yaml(kubeconfig).unwrap(),
        &Default::default(),
    )
    .await
    .unwrap();
    kube::Client::try_from(config).unwrap()
}

async fn terminate(mut child: Child) {
    let pid = child.id().unwrap() as i32;
    // SAFETY: signalling a child process this test started.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGTERM) }, 0);
    let status = within("the exit after SIGTERM", child.wait())
        .await
        .unwrap();
    assert!(status.success(), "exit after SIGTERM: {status}");
}

#[test]
fn help_goes_to_stdout_and_unknown_flags_are_named() {
    let help = std::process::Command::new(bin())
        .arg("--help")
        .output()
        .unwrap();
    assert!(help.status.success());
    let text = String::from_utf8_lossy(&help.stdout);
    assert!(
        text.contains("--store") && text.contains("RUST_LOG"),
        "{text}"
    );

    let version = std::process::Command::new(bin())
        .arg("--version")
        .output()
        .unwrap();
    assert!(version.status.success());
    assert!(String::from_utf8_lossy(&version.stdout).contains("v1.33"));

    let bad = std::process::Command::new(bin())
        .arg("--bogus")
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("--bogus"));

    let bad_store = std::process::Command::new(bin())
        .args(["--store", "sqlite"])
        .output()
        .unwrap();
    assert_eq!(bad_store.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad_store.stderr).contains("etcd:URL"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schedules_onto_hand_made_nodes_and_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    // No kubelet: the pod can only go to the hand-made node.
    let (child, kubeconfig_path, printed) = start(dir.path(), port, &["--no-kubelet"]).await;
    assert!(
        printed.contains("kube-scheduler") && printed.contains("running"),
        "{printed}"
    );
    assert!(printed.contains("https://127.0.0.1:"), "{printed}");
    // The scheduler's metrics, at the address the table names.
    let metrics = printed
        .split_whitespace()
        .find_map(|w| w.strip_prefix("http://"))
        .expect("the metrics address");
    let body = http_get(metrics).await;
    assert!(body.contains("scheduler_pending_pods"), "{body}");
    let kubeconfig = std::fs::read_to_string(&kubeconfig_path).unwrap();
    let first = client(&kubeconfig).await;

    let node: Node = serde_json::from_value(serde_json::json!({
        "metadata": {"name": "hand-made", "labels": {"kubernetes.io/hostname": "hand-made"}},
        "status": {
            "capacity": {"cpu": "4", "memory": "8Gi", "pods": "110"},
            "allocatable": {"cpu": "4", "memory": "8Gi", "pods": "110"}
        }
    }))
    .unwrap();
    Api::<Node>::all(first.clone())
        .create(&PostParams::default(), &node)
        .await
        .unwrap();
    let pod: Pod = serde_json::from_value(serde_json::json!({
        "metadata": {"name": "p"},
        "spec": {"containers": [{"name": "c", "image": "busybox"}]}
    }))
    .unwrap();
    let pods: Api<Pod> = Api::default_namespaced(first);
    pods.create(&PostParams::default(), &pod).await.unwrap();
    let node_of = |pod: Pod| pod.spec.and_then(|s| s.node_name);
    within("the pod's binding", async {
        while node_of(pods.get("p").await.unwrap()).is_none() {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    assert_eq!(
        node_of(pods.get("p").await.unwrap()).as_deref(),
        Some("hand-made")
    );
    terminate(child).await;

    // Restarted on the same data directory: the kubeconfig read before still works, and the
    // pod is still there, still bound.
    let (child, _, _) = start(dir.path(), port, &["--no-kubelet"]).await;
    let pods: Api<Pod> = Api::default_namespaced(client(&kubeconfig).await);
    assert_eq!(
        node_of(pods.get("p").await.unwrap()).as_deref(),
        Some("hand-made")
    );
    assert_eq!(
        std::fs::read_to_string(&kubeconfig_path).unwrap(),
        kubeconfig
    );
    terminate(child).await;
}

/// The README's kubectl walkthrough, line by line as written, against the binary: every
/// `kubectl` line succeeds, and the outputs the README's comments promise are there.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_readme_walkthrough_works_as_written() {
    let Some(kubectl) = kernel_testing::kubectl() else {
        return;
    };
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    let section = readme
        .split("## A walkthrough with kubectl")
        .nth(1)
        .expect("the README's walkthrough section");
    let block = section
        .split("```sh\n")
        .nth(1)
        .and_then(|b| b.split("```").next())
        .expect("its sh block");
    let commands: Vec<&str> = block
        .lines()
        .map(|l| l.split(" #").next().unwrap().trim())
        .filter(|l| l.starts_with("kubectl "))
        .collect();
    assert!(commands.len() >= 8, "{commands:?}");

    let dir = tempfile::tempdir().unwrap();
    let (child, kubeconfig, _) = start(dir.path(), 0, &[]).await;
    // What the README's comments say each command shows, waited for where the scheduler has
    // to act first.
    let expected: &[(&str, &[&str])] = &[
        ("kubectl get nodes", &[" Ready "]),
        ("kubectl get namespaces", &["demo", "kube-system"]),
        (
            "kubectl -n demo get pods -o wide",
            &["127.244.0.", "Pending"],
        ),
        ("kubectl -n demo logs hello", &["hello from a pod"]),
        (
            "kubectl -n demo exec hello -- printenv HOSTNAME",
            &["hello"],
        ),
        (
            "kubectl -n demo get events",
            &["Scheduled", "FailedScheduling", "1 Insufficient cpu"],
        ),
        ("kubectl -n demo describe pod huge", &["FailedScheduling"]),
        ("kubectl describe nodes", &["Allocated resources", "hello"]),
        ("kubectl -n demo get deployment web", &["0/5"]),
        (
            "kubectl get nodes -o wide",
            &["node-a", "node-b", "process://"],
        ),
    ];
    for command in commands {
        let args: Vec<&str> = command.split_whitespace().skip(1).collect();
        let wanted = expected
            .iter()
            .find(|(c, _)| *c == command)
            .map_or(&[][..], |(_, w)| *w);
        let output = within(command, async {
            loop {
                let out = Command::new(&kubectl)
                    .args(&args)
                    .current_dir(root)
                    .env("KUBECONFIG", &kubeconfig)
                    .output()
                    .await
                    .unwrap();
                let text = String::from_utf8_lossy(&out.stdout).into_owned();
                assert!(
                    out.status.success(),
                    "{command}: {}",
                    String::from_utf8_lossy(&out.stderr)
                );
                if wanted.iter().all(|w| text.contains(w)) {
                    break text;
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        })
        .await;
        if command == "kubectl -n demo get pods -o wide" {
            // hello runs for real: a process of the kubelet's process runtime.
            let hello = output.lines().find(|l| l.starts_with("hello")).unwrap();
            assert!(
                hello.contains("Running") && hello.contains("127.244.0."),
                "{output}"
            );
        }
    }
    terminate(child).await;
}

/// Writes `contents` to `dir/name` and returns the path, as a flag value.
fn file_in(dir: &Path, name: &str, contents: &[u8]) -> String {
    let path = dir.join(name);
    std::fs::write(&path, contents).unwrap();
    path.to_str().unwrap().to_owned()
}

/// `--store etcd:URL` with the etcd TLS flags: objects outlive the binary and its data
/// directory, because they are in etcd.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runs_on_etcd_with_the_tls_flags() {
    let Some(etcd) = kernel_testing::etcd_tls().await else {
        return;
    };
    let tls = etcd.tls_files().expect("a TLS etcd").clone();
    let files = tempfile::tempdir().unwrap();
    let store = format!("etcd:{}", etcd.endpoint());
    let flags = [
        "--no-kubelet".to_owned(),
        "--store".to_owned(),
        store,
        "--etcd-cafile".to_owned(),
        file_in(files.path(), "ca.pem", &tls.ca_pem),
        "--etcd-certfile".to_owned(),
        file_in(files.path(), "client.pem", &tls.client_cert_pem),
        "--etcd-keyfile".to_owned(),
        file_in(files.path(), "client.key", &tls.client_key_pem),
    ];
    let flags: Vec<&str> = flags.iter().map(String::as_str).collect();

    let first_dir = tempfile::tempdir().unwrap();
    let (child, kubeconfig, printed) = start(first_dir.path(), 0, &flags).await;
    assert!(printed.contains("store: etcd at https://"), "{printed}");
    let first = client(&std::fs::read_to_string(kubeconfig).unwrap()).await;
    let cm: ConfigMap = serde_json::from_value(
        serde_json::json!({"metadata": {"name": "in-etcd"}, "data": {"a": "b"}}),
    )
    .unwrap();
    Api::<ConfigMap>::default_namespaced(first)
        .create(&PostParams::default(), &cm)
        .await
        .unwrap();
    terminate(child).await;

    // Another data directory (new credentials, no store file): the ConfigMap is still there.
    let second_dir = tempfile::tempdir().unwrap();
    let (child, kubeconfig, _) = start(second_dir.path(), 0, &flags).await;
    let second = client(&std::fs::read_to_string(kubeconfig).unwrap()).await;
    let read = Api::<ConfigMap>::default_namespaced(second)
        .get("in-etcd")
        .await
        .unwrap();
    assert_eq!(read.data.unwrap()["a"], "b");
    terminate(child).await;
}

/// `--scheduler-config` takes a KubeSchedulerConfiguration: its profile's schedulerName is the
/// one served (a pod naming it is bound; with the default configuration it would stay Pending).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn takes_a_kube_scheduler_configuration() {
    let dir = tempfile::tempdir().unwrap();
    let config = file_in(
        dir.path(),
        "scheduler.yaml",
        br#"apiVersion: kubescheduler.config.k8s.io/v1
kind: KubeSchedulerConfiguration
profiles:
- schedulerName: bin-packing
  pluginConfig:
  - name: NodeResourcesFit
    args: {scoringStrategy: {type: MostAllocated}}
"#,
    );
    let data = dir.path().join("data");
    let (child, kubeconfig, printed) =
        start(&data, 0, &["--no-kubelet", "--scheduler-config", &config]).await;
    assert!(printed.contains("scheduler.yaml"), "{printed}");
    let api = client(&std::fs::read_to_string(kubeconfig).unwrap()).await;
    let node: Node = serde_json::from_value(serde_json::json!({
        "metadata": {"name": "n1"},
        "status": {"allocatable": {"cpu": "4", "memory": "8Gi", "pods": "110"}}
    }))
    .unwrap();
    Api::<Node>::all(api.clone())
        .create(&PostParams::default(), &node)
        .await
        .unwrap();
    let pod: Pod = serde_json::from_value(serde_json::json!({
        "metadata": {"name": "packed"},
        "spec": {"schedulerName": "bin-packing", "containers": [{"name": "c", "image": "busybox"}]}
    }))
    .unwrap();
    let pods: Api<Pod> = Api::default_namespaced(api);
    pods.create(&PostParams::default(), &pod).await.unwrap();
    let node = kernel_testing::eventually("the bin-packing pod's binding", || async {
        pods.get("packed")
            .await
            .unwrap()
            .spec
            .and_then(|s| s.node_name)
    })
    .await;
    assert_eq!(node, "n1");
    terminate(child).await;

    // A configuration that cannot be read: a clear error naming the flag, before anything
    // is started.
    let bad = std::process::Command::new(bin())
        .args([
            "--scheduler-config",
            "/nonexistent/scheduler.yaml",
            "--data-dir",
        ])
        .arg(dir.path().join("bad"))
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&bad.stderr);
    assert!(
        stderr.contains("--scheduler-config /nonexistent/scheduler.yaml"),
        "{stderr}"
    );
    assert!(
        !dir.path().join("bad").exists(),
        "nothing made before the config was read"
    );
}

/// The `kubelet` example, beside `cluster` in the same target directory.
fn kubelet_bin() -> PathBuf {
    bin().with_file_name("kubelet")
}

/// The kubelet as its own process (`examples/kubelet.rs`) joins a `cluster --no-kubelet`
/// through the kubeconfig the cluster printed: its node registers Ready, a pod the scheduler
/// puts there runs (a real process with a pod IP from the node's CIDR), and SIGTERM stops it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_separate_kubelet_process_joins_through_the_kubeconfig() {
    let dir = tempfile::tempdir().unwrap();
    let (cluster, kubeconfig_path, _) = start(dir.path(), free_port(), &["--no-kubelet"]).await;
    let kubelet = Command::new(kubelet_bin())
        .arg("--kubeconfig")
        .arg(&kubeconfig_path)
        .args(["--node-name", "worker-1", "--pod-cidr", "10.99.3.0/24"])
        .arg("--root-dir")
        .arg(dir.path().join("worker-1"))
        .env("RUST_LOG", "warn")
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let client = client(&std::fs::read_to_string(&kubeconfig_path).unwrap()).await;
    let nodes: Api<Node> = Api::all(client.clone());
    within("worker-1 Ready", async {
        loop {
            let ready = nodes
                .get_opt("worker-1")
                .await
                .unwrap()
                .and_then(|n| n.status?.conditions)
                .unwrap_or_default()
                .iter()
                .any(|c| c.type_ == "Ready" && c.status == "True");
            if ready {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await;
    let pod: Pod = serde_json::from_value(serde_json::json!({
        "metadata": {"name": "sleeper"},
        "spec": {"containers": [{"name": "c", "image": "busybox", "command": ["sleep", "300"]}]}
    }))
    .unwrap();
    let pods: Api<Pod> = Api::default_namespaced(client);
    pods.create(&PostParams::default(), &pod).await.unwrap();
    let status = within("the pod Running", async {
        loop {
            let status = pods
                .get("sleeper")
                .await
                .unwrap()
                .status
                .unwrap_or_default();
            if status.phase.as_deref() == Some("Running") {
                break status;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await;
    // The process runtime moves the node's CIDR into 127/8: 10.99.3.0/24 -> 127.99.3.0/24.
    let ip = status.pod_ip.unwrap();
    assert!(ip.starts_with("127.99.3."), "pod IP {ip}");
    terminate(kubelet).await;
    terminate(cluster).await;
}

/// `kubectl logs`, `exec` (with stdin and exit codes), `port-forward` and `get --raw
/// .../nodes/N/proxy/...` go through the API server to the kubelet's HTTPS server (found
/// through the Node's published `daemonEndpoints`) and reach the pods the process runtime
/// runs; the kubelet's `/pods` and `/metrics` know them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_logs_exec_and_port_forward_reach_the_pods() {
    let Some(kubectl) = kernel_testing::kubectl() else {
        return;
    };
    let busybox = Path::new("/usr/bin/busybox");
    if !busybox.exists() {
        kernel_testing::component_missing("busybox", "/usr/bin/busybox (busybox-static)");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (child, kubeconfig, _) = start(dir.path(), 0, &["--node-name", "node-1"]).await;
    let run = |args: &'static [&'static str]| {
        let (kubectl, kubeconfig) = (kubectl.clone(), kubeconfig.clone());
        async move { kubectl_run(&kubectl, &kubeconfig, args, "").await }
    };
    let (ok, out) = run(&[
        "run",
        "talker",
        "--image=busybox",
        "--restart=Never",
        "--",
        "/usr/bin/busybox",
        "sh",
        "-c",
        "echo first; while true; do echo tick; sleep 0.2; done",
    ])
    .await;
    assert!(ok, "{out}");
    let (ok, out) = run(&[
        "run",
        "web",
        "--image=busybox",
        "--restart=Never",
        "--",
        "/usr/bin/busybox",
        "httpd",
        "-f",
        "-p",
        "8080",
        "-h",
        "/etc",
    ])
    .await;
    assert!(ok, "{out}");
    for pod in ["pod/talker", "pod/web"] {
        let (ok, out) = kubectl_run(
            &kubectl,
            &kubeconfig,
            &["wait", "--for=condition=Ready", pod, "--timeout=60s"],
            "",
        )
        .await;
        assert!(ok, "{out}");
    }

    // Logs: the whole log, then a tail; -f streams (kubectl is stopped by its timeout).
    let (ok, out) = run(&["logs", "talker"]).await;
    assert!(ok && out.starts_with("first\n"), "{out}");
    let (ok, out) = run(&["logs", "talker", "--tail=1"]).await;
    assert!(ok && out == "tick\n", "{out:?}");
    let (_, out) = run(&["logs", "-f", "talker", "--request-timeout=2s"]).await;
    assert!(out.matches("tick").count() >= 2, "{out}");

    // Exec: stdout, stdin, and the exit code.
    let (ok, out) = run(&["exec", "talker", "--", "/usr/bin/busybox", "echo", "hi"]).await;
    assert!(ok && out == "hi\n", "{out:?}");
    let (ok, out) = kubectl_run(
        &kubectl,
        &kubeconfig,
        &[
            "exec",
            "-i",
            "talker",
            "--",
            "/usr/bin/busybox",
            "tr",
            "a-z",
            "A-Z",
        ],
        "shout\n",
    )
    .await;
    assert!(ok && out == "SHOUT\n", "{out:?}");
    let (ok, out) = run(&[
        "exec",
        "talker",
        "--",
        "/usr/bin/busybox",
        "sh",
        "-c",
        "exit 3",
    ])
    .await;
    assert!(
        !ok && out.contains("command terminated with exit code 3"),
        "{out}"
    );

    // Port-forward: a local port reaches the pod's httpd.
    let port = free_port();
    let mut forward = port_forward(&kubectl, &kubeconfig, "pod/web", port, 8080).await;
    let hostname = std::fs::read_to_string("/etc/hostname").unwrap_or_default();
    let body = http_get(&format!("127.0.0.1:{port}/hostname")).await;
    assert!(body.ends_with(&hostname), "{body}");
    // A second connection over the same port-forward.
    http_get(&format!("127.0.0.1:{port}/hostname")).await;
    forward.kill().await.unwrap();

    // nodes/proxy reaches the kubelet's own endpoints.
    let (ok, out) = run(&["get", "--raw", "/api/v1/nodes/node-1/proxy/healthz"]).await;
    assert!(ok && out.trim() == "ok", "{out:?}");
    let (ok, out) = run(&["get", "--raw", "/api/v1/nodes/node-1/proxy/metrics"]).await;
    assert!(ok && out.contains("kubelet_running_pods 2"), "{out}");
    // Both pods' starts were observed (first seen → all containers running).
    assert!(
        out.contains("kubelet_pod_start_duration_seconds_count 2"),
        "{out}"
    );
    let (ok, out) = run(&["get", "--raw", "/api/v1/nodes/node-1/proxy/pods"]).await;
    let list: serde_json::Value = serde_json::from_str(&out).unwrap_or_default();
    let names: Vec<&str> = list["items"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|p| p["metadata"]["name"].as_str())
        .collect();
    assert!(
        ok && names.contains(&"talker") && names.contains(&"web"),
        "{out}"
    );
    terminate(child).await;
}
