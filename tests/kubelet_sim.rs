//! kernel-node's kubelet end to end through kernel-api with the simulated runtime: the Node is
//! registered Ready with its capacity, the Lease renews, pods bound to the node run (init
//! containers first), crash-loop, succeed, fail to pull, are deleted gracefully; 100 pods on
//! one kubelet and 50 kubelets in one process.

use kernel_testing::{eventually, within};
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{Node, Pod};
use kernel::api::ApiServer;
use kernel::store::MemoryStore;
use kernel_node::runtime::Runtime;
use kernel_node::{Kubelet, KubeletConfig, SimRuntime};
use kube::api::{DeleteParams, ListParams, PostParams};
use kube::runtime::watcher;
use kube::{Api, Client};
use serde_json::{json, Value};

async fn cluster() -> Client {
    let server = ApiServer::builder()
        .store(Arc::new(MemoryStore::new()))
        .build()
        .await
        .unwrap();
    Client::new(server, "default")
}

fn test_config(root: &std::path::Path) -> KubeletConfig {
    KubeletConfig {
        node_status_update_frequency: Duration::from_millis(500),
        node_lease_renew_interval: Duration::from_millis(200),
        backoff_initial: Duration::from_millis(300),
        backoff_max: Duration::from_secs(5),
        pod_relist_period: Duration::from_millis(100),
        root_dir: Some(root.to_path_buf()),
        ..KubeletConfig::default()
    }
}

/// A running kubelet, stopped when dropped.
struct Running {
    task: tokio::task::JoinHandle<()>,
    runtime: Arc<SimRuntime>,
    root: tempfile::TempDir,
}

impl Drop for Running {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn start_kubelet(client: &Client, node: &str) -> Running {
    let root = tempfile::tempdir().unwrap();
    let runtime = Arc::new(SimRuntime::new());
    let kubelet = Kubelet::builder(client.clone(), node)
        .runtime(runtime.clone())
        .capacity([
            ("cpu", "4"),
            ("memory", "8Gi"),
            ("ephemeral-storage", "100Gi"),
        ])
        .labels([("example.com/pool", "sim")])
        .pod_cidr("10.88.0.0/24")
        .config(test_config(root.path()))
        .build()
        .unwrap();
    let task = tokio::spawn(async move {
        kubelet.run().await.unwrap();
    });
    Running {
        task,
        runtime,
        root,
    }
}

/// Watches one pod until `done` holds of it; every version of the pod is shown to `done`,
/// so transient states are not missed.
async fn watch_pod(pods: &Api<Pod>, name: &str, mut done: impl FnMut(&Value) -> bool) -> Value {
    let config = watcher::Config::default().fields(&format!("metadata.name={name}"));
    let mut stream = watcher::watcher(pods.clone(), config).boxed();
    let wait = async {
        while let Some(event) = stream.next().await {
            let pod = match event {
                Ok(watcher::Event::Apply(p) | watcher::Event::InitApply(p)) => p,
                _ => continue,
            };
            let pod = serde_json::to_value(&pod).unwrap();
            if done(&pod) {
                return pod;
            }
        }
        panic!("watch of {name} ended");
    };
    within(&format!("the watched state of pod {name}"), wait).await
}

fn pod(name: &str, node: &str, spec: Value) -> Pod {
    let mut spec = spec;
    spec["nodeName"] = json!(node);
    serde_json::from_value(json!({ "metadata": { "name": name }, "spec": spec })).unwrap()
}

fn container(name: &str, command: &[&str]) -> Value {
    json!({ "name": name, "image": "busybox:1.36", "command": command })
}

fn condition<'a>(pod: &'a Value, kind: &str) -> &'a Value {
    pod["status"]["conditions"]
        .as_array()
        .and_then(|cs| cs.iter().find(|c| c["type"] == kind))
        .unwrap_or(&Value::Null)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn node_is_registered_ready_and_its_lease_renews() {
    let client = cluster().await;
    let _kubelet = start_kubelet(&client, "sim-1");
    let nodes: Api<Node> = Api::all(client.clone());
    let node = eventually("the node to be Ready", || async {
        let node = serde_json::to_value(nodes.get_opt("sim-1").await.unwrap()?).unwrap();
        (condition(&node, "Ready")["status"] == "True").then_some(node)
    })
    .await;
    let labels = &node["metadata"]["labels"];
    assert_eq!(labels["kubernetes.io/hostname"], "sim-1");
    assert_eq!(labels["kubernetes.io/os"], "linux");
    assert!(labels["kubernetes.io/arch"].is_string());
    assert_eq!(labels["example.com/pool"], "sim");
    let status = &node["status"];
    assert_eq!(status["capacity"]["cpu"], "4");
    assert_eq!(status["capacity"]["memory"], "8Gi");
    assert_eq!(status["capacity"]["pods"], "110");
    assert_eq!(status["allocatable"]["memory"], "8092Mi");
    assert_eq!(status["allocatable"]["cpu"], "4");
    let ready = condition(&node, "Ready");
    assert_eq!(ready["reason"], "KubeletReady");
    assert_eq!(ready["message"], "kubelet is posting ready status");
    for (kind, reason) in [
        ("MemoryPressure", "KubeletHasSufficientMemory"),
        ("DiskPressure", "KubeletHasNoDiskPressure"),
        ("PIDPressure", "KubeletHasSufficientPID"),
    ] {
        assert_eq!(condition(&node, kind)["status"], "False", "{kind}");
        assert_eq!(condition(&node, kind)["reason"], reason, "{kind}");
    }
    let info = &status["nodeInfo"];
    assert!(info["containerRuntimeVersion"]
        .as_str()
        .unwrap()
        .starts_with("sim://"));
    assert_eq!(
        info["kubeletVersion"],
        kernel_node::kubelet::KUBELET_VERSION
    );
    assert_eq!(info["operatingSystem"], "linux");
    let addresses = status["addresses"].as_array().unwrap();
    assert!(addresses.iter().any(|a| a["type"] == "InternalIP"));
    assert!(addresses
        .iter()
        .any(|a| a["type"] == "Hostname" && a["address"] == "sim-1"));
    assert_eq!(node["spec"]["podCIDR"], "10.88.0.0/24");

    let leases: Api<Lease> = Api::namespaced(client.clone(), "kube-node-lease");
    let first = eventually("the lease", || async {
        leases.get_opt("sim-1").await.unwrap()
    })
    .await;
    let spec = first.spec.clone().unwrap();
    assert_eq!(spec.holder_identity.as_deref(), Some("sim-1"));
    assert_eq!(spec.lease_duration_seconds, Some(40));
    let owner = &first.metadata.owner_references.clone().unwrap()[0];
    assert_eq!(
        (owner.kind.as_str(), owner.name.as_str()),
        ("Node", "sim-1")
    );
    assert_eq!(
        Some(&owner.uid),
        node["metadata"]["uid"].as_str().map(String::from).as_ref()
    );
    let renewed = eventually("the lease to be renewed", || async {
        let lease = leases.get("sim-1").await.unwrap();
        (lease.spec.as_ref().unwrap().renew_time != spec.renew_time).then_some(lease)
    })
    .await;
    assert_ne!(
        renewed.metadata.resource_version,
        first.metadata.resource_version
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bound_pod_runs_with_an_ip_and_running_containers() {
    let client = cluster().await;
    let kubelet = start_kubelet(&client, "sim-1");
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    let spec = json!({
        "containers": [
            container("web", &["httpd", "-f", "-p", "$(PORT)"]),
            container("sidecar", &["sleep", "3600"]),
        ],
        "volumes": [{ "name": "scratch", "emptyDir": {} }],
    });
    let mut spec = spec;
    spec["containers"][0]["env"] = json!([
        { "name": "PORT", "value": "8080" },
        { "name": "POD_IP", "valueFrom": { "fieldRef": { "fieldPath": "status.podIP" } } },
        { "name": "NODE", "valueFrom": { "fieldRef": { "fieldPath": "spec.nodeName" } } },
        { "name": "URL", "value": "http://$(POD_IP):$(PORT)" },
    ]);
    spec["containers"][0]["volumeMounts"] = json!([{ "name": "scratch", "mountPath": "/scratch" }]);
    pods.create(&PostParams::default(), &pod("web", "sim-1", spec))
        .await
        .unwrap();
    let running = watch_pod(&pods, "web", |p| {
        p["status"]["phase"] == "Running" && condition(p, "Ready")["status"] == "True"
    })
    .await;
    let status = &running["status"];
    let ip = status["podIP"].as_str().unwrap();
    assert!(ip.starts_with("10.88.0."), "{ip}");
    assert_eq!(status["podIPs"][0]["ip"], ip);
    assert!(status["hostIP"].is_string());
    assert!(status["startTime"].is_string());
    for kind in [
        "PodReadyToStartContainers",
        "Initialized",
        "ContainersReady",
        "PodScheduled",
    ] {
        assert_eq!(condition(&running, kind)["status"], "True", "{kind}");
    }
    let statuses = status["containerStatuses"].as_array().unwrap();
    assert_eq!(statuses.len(), 2);
    for c in statuses {
        assert!(c["state"]["running"]["startedAt"].is_string(), "{c}");
        assert_eq!(c["ready"], true);
        assert_eq!(c["started"], true);
        assert_eq!(c["restartCount"], 0);
        assert!(c["containerID"].as_str().unwrap().starts_with("sim://"));
        assert!(c["imageID"].as_str().unwrap().starts_with("sha256:"));
    }
    // The runtime got the expanded command and the emptyDir mount.
    let sandboxes = kubelet.runtime.list_pod_sandboxes().await.unwrap();
    assert_eq!(sandboxes.len(), 1);
    let containers = kubelet.runtime.list_containers(None).await.unwrap();
    assert_eq!(containers.len(), 2);
    let web = containers.iter().find(|c| c.name == "web").unwrap();
    let config = kubelet.runtime.container_config(&web.id).unwrap();
    assert_eq!(config.command, ["httpd", "-f", "-p", "8080"]);
    let env = |name: &str| {
        config
            .envs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    };
    assert_eq!(env("POD_IP").as_deref(), Some(ip));
    assert_eq!(env("NODE").as_deref(), Some("sim-1"));
    assert_eq!(env("URL"), Some(format!("http://{ip}:8080")));
    assert_eq!(config.mounts.len(), 1);
    assert_eq!(config.mounts[0].container_path, "/scratch");
    let dir = &config.mounts[0].host_path;
    assert!(dir.starts_with(kubelet.root.path()), "{dir:?}");
    assert!(tokio::fs::metadata(dir).await.unwrap().is_dir());

    // A host-network pod has the node's address.
    let spec = json!({ "hostNetwork": true, "containers": [container("c", &["sleep", "3600"])] });
    pods.create(&PostParams::default(), &pod("host", "sim-1", spec))
        .await
        .unwrap();
    let host = watch_pod(&pods, "host", |p| p["status"]["phase"] == "Running").await;
    assert_eq!(host["status"]["podIP"], host["status"]["hostIP"]);
    assert_eq!(host["status"]["hostIP"], status["hostIP"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restart_policies_crash_loops_and_completion() {
    let client = cluster().await;
    let _kubelet = start_kubelet(&client, "sim-1");
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    let crash = json!({ "containers": [container("c", &["sh", "-c", "exit 1"])] });
    pods.create(&PostParams::default(), &pod("crash", "sim-1", crash))
        .await
        .unwrap();
    let done = json!({ "restartPolicy": "Never", "containers": [container("c", &["true"])] });
    pods.create(&PostParams::default(), &pod("done", "sim-1", done))
        .await
        .unwrap();
    let failed = json!({ "restartPolicy": "Never", "containers": [container("c", &["false"])] });
    pods.create(&PostParams::default(), &pod("failed", "sim-1", failed))
        .await
        .unwrap();
    let on_failure =
        json!({ "restartPolicy": "OnFailure", "containers": [container("c", &["true"])] });
    pods.create(
        &PostParams::default(),
        &pod("onfailure", "sim-1", on_failure),
    )
    .await
    .unwrap();

    let looping = watch_pod(&pods, "crash", |p| {
        let c = &p["status"]["containerStatuses"][0];
        c["restartCount"].as_i64().unwrap_or(0) > 0
            && c["state"]["waiting"]["reason"] == "CrashLoopBackOff"
    })
    .await;
    let c = &looping["status"]["containerStatuses"][0];
    assert_eq!(c["lastState"]["terminated"]["exitCode"], 1);
    assert_eq!(c["lastState"]["terminated"]["reason"], "Error");
    assert!(c["state"]["waiting"]["message"]
        .as_str()
        .unwrap()
        .contains("back-off"));
    assert_eq!(looping["status"]["phase"], "Running");
    assert_eq!(condition(&looping, "Ready")["status"], "False");
    // It keeps being restarted.
    watch_pod(&pods, "crash", |p| {
        p["status"]["containerStatuses"][0]["restartCount"]
            .as_i64()
            .unwrap_or(0)
            >= 2
    })
    .await;

    let succeeded = watch_pod(&pods, "done", |p| p["status"]["phase"] == "Succeeded").await;
    let c = &succeeded["status"]["containerStatuses"][0];
    assert_eq!(c["state"]["terminated"]["exitCode"], 0);
    assert_eq!(c["state"]["terminated"]["reason"], "Completed");
    assert_eq!(c["restartCount"], 0);
    assert_eq!(condition(&succeeded, "Ready")["reason"], "PodCompleted");

    let failed = watch_pod(&pods, "failed", |p| p["status"]["phase"] == "Failed").await;
    let c = &failed["status"]["containerStatuses"][0];
    assert_eq!(c["state"]["terminated"]["exitCode"], 1);
    assert_eq!(c["restartCount"], 0);

    let on_failure = watch_pod(&pods, "onfailure", |p| p["status"]["phase"] == "Succeeded").await;
    assert_eq!(
        on_failure["status"]["containerStatuses"][0]["restartCount"],
        0
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn init_containers_run_first_and_in_order() {
    let client = cluster().await;
    let _kubelet = start_kubelet(&client, "sim-1");
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    // The second init container never ends: the main container must not start.
    let blocked = json!({
        "initContainers": [container("one", &["true"]), container("two", &["sleep", "3600"])],
        "containers": [container("main", &["sleep", "3600"])],
    });
    pods.create(&PostParams::default(), &pod("blocked", "sim-1", blocked))
        .await
        .unwrap();
    let p = watch_pod(&pods, "blocked", |p| {
        !p["status"]["initContainerStatuses"][1]["state"]["running"].is_null()
    })
    .await;
    assert_eq!(p["status"]["phase"], "Pending");
    let init = &p["status"]["initContainerStatuses"];
    assert_eq!(init[0]["state"]["terminated"]["reason"], "Completed");
    let main = &p["status"]["containerStatuses"][0];
    assert_eq!(main["state"]["waiting"]["reason"], "PodInitializing");
    assert_eq!(condition(&p, "Initialized")["status"], "False");
    assert_eq!(
        condition(&p, "Initialized")["reason"],
        "ContainersNotInitialized"
    );
    assert!(condition(&p, "Initialized")["message"]
        .as_str()
        .unwrap()
        .contains("two"));

    let ok = json!({
        "initContainers": [container("one", &["true"]), container("two", &["sh", "-c", "exit 0"])],
        "containers": [container("main", &["sleep", "3600"])],
    });
    pods.create(&PostParams::default(), &pod("ok", "sim-1", ok))
        .await
        .unwrap();
    let p = watch_pod(&pods, "ok", |p| p["status"]["phase"] == "Running").await;
    assert_eq!(condition(&p, "Initialized")["status"], "True");
    for i in 0..2 {
        assert_eq!(
            p["status"]["initContainerStatuses"][i]["state"]["terminated"]["exitCode"],
            0
        );
    }
    assert!(!p["status"]["containerStatuses"][0]["state"]["running"].is_null());

    // A failing init container with restartPolicy Never fails the pod; main never runs.
    let bad = json!({
        "restartPolicy": "Never",
        "initContainers": [container("one", &["sh", "-c", "exit 7"])],
        "containers": [container("main", &["sleep", "3600"])],
    });
    pods.create(&PostParams::default(), &pod("bad", "sim-1", bad))
        .await
        .unwrap();
    let p = watch_pod(&pods, "bad", |p| p["status"]["phase"] == "Failed").await;
    assert_eq!(
        p["status"]["initContainerStatuses"][0]["state"]["terminated"]["exitCode"],
        7
    );
    assert_eq!(
        p["status"]["containerStatuses"][0]["state"]["waiting"]["reason"],
        "PodInitializing"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn images_that_cannot_be_pulled_and_commands_that_do_not_exist() {
    let client = cluster().await;
    let _kubelet = start_kubelet(&client, "sim-1");
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    let spec = json!({ "containers": [{ "name": "c", "image": "example.com/does-not-exist:1" }] });
    pods.create(&PostParams::default(), &pod("nopull", "sim-1", spec))
        .await
        .unwrap();
    let (mut pull_error, mut backoff) = (None, false);
    let p = watch_pod(&pods, "nopull", |p| {
        let waiting = &p["status"]["containerStatuses"][0]["state"]["waiting"];
        if waiting["reason"] == "ErrImagePull" {
            pull_error = waiting["message"].as_str().map(String::from);
        }
        if waiting["reason"] == "ImagePullBackOff" {
            backoff = true;
        }
        pull_error.is_some() && backoff
    })
    .await;
    assert!(pull_error.unwrap().contains("does-not-exist"));
    assert_eq!(p["status"]["phase"], "Pending");

    let spec = json!({ "containers": [container("c", &["/does-not-exist"])] });
    pods.create(&PostParams::default(), &pod("nocmd", "sim-1", spec))
        .await
        .unwrap();
    let mut run_error = None;
    watch_pod(&pods, "nocmd", |p| {
        let c = &p["status"]["containerStatuses"][0];
        if c["state"]["waiting"]["reason"] == "RunContainerError" {
            run_error = c["state"]["waiting"]["message"].as_str().map(String::from);
        }
        run_error.is_some() && c["state"]["waiting"]["reason"] == "CrashLoopBackOff"
    })
    .await;
    assert!(run_error.unwrap().contains("does-not-exist"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleted_pods_go_away_and_their_sandboxes_are_removed() {
    let client = cluster().await;
    let kubelet = start_kubelet(&client, "sim-1");
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    for name in ["graceful", "forced"] {
        let spec = json!({
            "terminationGracePeriodSeconds": 5,
            "containers": [container("c", &["sleep", "3600"])],
            "volumes": [{ "name": "scratch", "emptyDir": {} }],
        });
        pods.create(&PostParams::default(), &pod(name, "sim-1", spec))
            .await
            .unwrap();
        watch_pod(&pods, name, |p| p["status"]["phase"] == "Running").await;
    }
    assert_eq!(kubelet.runtime.list_pod_sandboxes().await.unwrap().len(), 2);
    let entries = |dir: std::path::PathBuf| async move {
        let mut n = 0;
        if let Ok(mut d) = tokio::fs::read_dir(&dir).await {
            while d.next_entry().await.unwrap().is_some() {
                n += 1;
            }
        }
        n
    };
    let root = kubelet.root.path().to_path_buf();
    assert_eq!(entries(root.join("pods")).await, 2);
    assert_eq!(entries(root.join("logs")).await, 2);

    // Graceful: the API only marks it; the kubelet stops it and deletes it for good.
    let marked = pods
        .delete("graceful", &DeleteParams::default())
        .await
        .unwrap();
    assert!(marked.left().is_some(), "a bound pod is deleted gracefully");
    eventually("the graceful pod to be gone", || async {
        pods.get_opt("graceful")
            .await
            .unwrap()
            .is_none()
            .then_some(())
    })
    .await;
    // Forced: gone from the API at once; the kubelet cleans up.
    pods.delete("forced", &DeleteParams::default().grace_period(0))
        .await
        .unwrap();
    // Their containers and directories go with them.
    eventually(
        "both sandboxes and their directories to be removed",
        || async {
            let left = kubelet.runtime.list_pod_sandboxes().await.unwrap();
            let dirs = entries(root.join("pods")).await + entries(root.join("logs")).await;
            (left.is_empty() && dirs == 0).then_some(())
        },
    )
    .await;
    assert!(kubelet
        .runtime
        .list_containers(None)
        .await
        .unwrap()
        .is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hundred_pods_on_one_kubelet_run() {
    let client = cluster().await;
    let _kubelet = start_kubelet(&client, "sim-1");
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    for i in 0..100 {
        let spec = json!({ "containers": [container("c", &["sleep", "3600"])] });
        pods.create(
            &PostParams::default(),
            &pod(&format!("p{i}"), "sim-1", spec),
        )
        .await
        .unwrap();
    }
    let ips = eventually("100 pods Running", || async {
        let list = pods.list(&ListParams::default()).await.unwrap();
        let running: Vec<String> = list
            .items
            .iter()
            .filter(|p| p.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Running"))
            .filter_map(|p| p.status.as_ref().and_then(|s| s.pod_ip.clone()))
            .collect();
        (running.len() == 100).then_some(running)
    })
    .await;
    let distinct: std::collections::BTreeSet<_> = ips.iter().collect();
    assert_eq!(distinct.len(), 100, "every pod has its own IP");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_kubelets_in_one_process_register() {
    let client = cluster().await;
    let kubelets: Vec<Running> = (0..50)
        .map(|i| start_kubelet(&client, &format!("sim-{i}")))
        .collect();
    let nodes: Api<Node> = Api::all(client.clone());
    let leases: Api<Lease> = Api::namespaced(client.clone(), "kube-node-lease");
    eventually("50 Ready nodes with leases", || async {
        let list = nodes.list(&ListParams::default()).await.unwrap();
        let ready = list
            .items
            .iter()
            .filter(|n| {
                let n = serde_json::to_value(n).unwrap();
                condition(&n, "Ready")["status"] == "True"
            })
            .count();
        let leases = leases
            .list(&ListParams::default())
            .await
            .unwrap()
            .items
            .len();
        (ready == 50 && leases == 50).then_some(())
    })
    .await;
    drop(kubelets);
}
