//! The kubelet's probes end to end: an in-process API server, a kubelet and the process
//! runtime running busybox (`/usr/bin/busybox`, from busybox-static; skipped with a notice
//! when it is missing, unless `KERNEL_REQUIRE_ALL=1`). Readiness over httpGet and tcpSocket
//! drives `ready` and the pod's Ready condition; a failing liveness probe restarts the
//! container; a startup probe holds liveness back; failures are `Unhealthy` events. The
//! lifecycle hooks, which share the probes' handlers: `postStart` after the start, `preStop`
//! before SIGTERM.
//!
//! Probes run every second; every wait is a hang guard, not a speed check.

use std::future::Future;
use std::path::Path;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::core::v1::{Event, Pod};
use kernel::api::ApiServer;
use kernel::store::MemoryStore;
use kernel_node::{HostNetwork, Kubelet, KubeletConfig, ProcessRuntime};
use kernel_testing::{component_missing, eventually};
use kube::api::{ListParams, PostParams};
use kube::{Api, Client};
use serde_json::{json, Value};

const BUSYBOX: &str = "/usr/bin/busybox";

/// A distinct pod CIDR per test, so pods of tests running at once get distinct IPs (their
/// servers share ports).
static NEXT_CIDR: AtomicU8 = AtomicU8::new(1);

/// What a test works with: the API and a directory of its own.
struct Node {
    client: Client,
    dir: tempfile::TempDir,
}

impl Node {
    fn pods(&self) -> Api<Pod> {
        Api::namespaced(self.client.clone(), "default")
    }

    fn path(&self, name: &str) -> String {
        self.dir.path().join(name).to_string_lossy().into_owned()
    }
}

/// Runs `test` against a fresh API server and a kubelet with the process runtime; the
/// runtime's containers are stopped afterwards, also when the test fails.
async fn with_node<F, Fut>(test: F)
where
    F: FnOnce(Node) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    if !Path::new(BUSYBOX).is_file() {
        component_missing("busybox", "the pods run /usr/bin/busybox (busybox-static)");
        return;
    }
    let server = ApiServer::builder()
        .store(Arc::new(MemoryStore::new()))
        .build()
        .await
        .unwrap();
    let client = Client::new(server, "default");
    let dir = tempfile::tempdir().unwrap();
    let runtime = ProcessRuntime::new(dir.path().join("runtime"), HostNetwork::new());
    let n = NEXT_CIDR.fetch_add(1, Ordering::Relaxed);
    let kubelet = Kubelet::builder(client.clone(), "probe-node")
        .runtime(Arc::new(runtime.clone()))
        .capacity([
            ("cpu", "4"),
            ("memory", "8Gi"),
            ("ephemeral-storage", "10Gi"),
        ])
        .pod_cidr(format!("10.93.{n}.0/24"))
        .config(KubeletConfig {
            node_status_update_frequency: Duration::from_millis(500),
            node_lease_renew_interval: Duration::from_millis(500),
            backoff_initial: Duration::from_millis(300),
            backoff_max: Duration::from_secs(2),
            pod_relist_period: Duration::from_millis(200),
            root_dir: Some(dir.path().join("kubelet")),
            ..KubeletConfig::default()
        })
        .build()
        .unwrap();
    let kubelet = tokio::spawn(async move {
        let _ = kubelet.run().await;
    });
    let outcome = tokio::spawn(test(Node { client, dir })).await;
    kubelet.abort();
    let _ = runtime.shutdown(Duration::from_secs(1)).await;
    if let Err(e) = outcome {
        std::panic::resume_unwind(e.into_panic());
    }
}

/// A pod of one busybox container `c` running `script` with `$POD_IP` set; `extra` is
/// merged into the container.
fn pod(name: &str, script: &str, extra: Value) -> Pod {
    let mut container = json!({
        "name": "c",
        "image": "busybox:1.36",
        "imagePullPolicy": "IfNotPresent",
        "command": [BUSYBOX, "sh", "-c", script],
        "env": [ { "name": "POD_IP", "valueFrom": { "fieldRef": { "fieldPath": "status.podIP" } } } ],
    });
    for (k, v) in extra.as_object().unwrap() {
        container[k] = v.clone();
    }
    serde_json::from_value(json!({
        "metadata": { "name": name },
        "spec": {
            "nodeName": "probe-node",
            "terminationGracePeriodSeconds": 2,
            "containers": [container],
        },
    }))
    .unwrap()
}

async fn create(node: &Node, pod: &Pod) {
    node.pods()
        .create(&PostParams::default(), pod)
        .await
        .unwrap();
}

/// Polls the pod until `check` holds of it (as JSON); returns that version.
async fn until(node: &Node, name: &str, what: &str, check: impl Fn(&Value) -> bool) -> Value {
    let pods = node.pods();
    eventually(&format!("pod {name}: {what}"), || {
        let pods = pods.clone();
        let check = &check;
        async move {
            let pod = pods.get(name).await.ok()?;
            let pod = serde_json::to_value(&pod).unwrap();
            check(&pod).then_some(pod)
        }
    })
    .await
}

fn condition<'a>(pod: &'a Value, kind: &str) -> &'a Value {
    pod["status"]["conditions"]
        .as_array()
        .and_then(|cs| cs.iter().find(|c| c["type"] == kind))
        .map(|c| &c["status"])
        .unwrap_or(&Value::Null)
}

fn container(pod: &Value) -> &Value {
    &pod["status"]["containerStatuses"][0]
}

fn running(pod: &Value) -> bool {
    pod["status"]["phase"] == "Running" && !container(pod)["state"]["running"].is_null()
}

/// The events of pod `name`, selected as `kubectl describe pod` selects them.
async fn events(node: &Node, name: &str) -> Vec<Event> {
    let uid = node.pods().get(name).await.unwrap().metadata.uid.unwrap();
    let api: Api<Event> = Api::namespaced(node.client.clone(), "default");
    let selector = format!(
        "involvedObject.name={name},involvedObject.namespace=default,involvedObject.uid={uid}"
    );
    api.list(&ListParams::default().fields(&selector))
        .await
        .unwrap()
        .items
}

/// Waits for an event of pod `name` with `reason` whose message starts with `prefix` (and,
/// with `min_count`, that happened at least that often); returns it.
async fn until_event(node: &Node, name: &str, reason: &str, prefix: &str, min_count: i32) -> Event {
    eventually(
        &format!("a {reason} event {prefix:?} of {name}"),
        || async {
            events(node, name).await.into_iter().find(|e| {
                e.reason.as_deref() == Some(reason)
                    && e.message.as_deref().unwrap_or_default().starts_with(prefix)
                    && e.count.unwrap_or(1) >= min_count
            })
        },
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readiness_http_probe_follows_the_server() {
    with_node(|node| async move {
        let www = node.path("www");
        std::fs::create_dir(&www).unwrap();
        std::fs::write(format!("{www}/index.html"), "ok\n").unwrap();
        // The server answers only after a while: the pod runs, not ready, meanwhile.
        let script = format!("sleep 2; exec {BUSYBOX} httpd -f -p \"$POD_IP:8080\" -h {www}");
        let web = pod(
            "web",
            &script,
            json!({
                "ports": [ { "name": "http", "containerPort": 8080 } ],
                "readinessProbe": {
                    "httpGet": { "path": "/index.html", "port": "http",
                                 "httpHeaders": [ { "name": "X-Probe", "value": "1" } ] },
                    "periodSeconds": 1, "failureThreshold": 1,
                },
            }),
        );
        create(&node, &web).await;
        let early = until(&node, "web", "running", running).await;
        assert_eq!(container(&early)["ready"], false, "{early:#}");
        assert_eq!(
            container(&early)["started"],
            true,
            "no startup probe: started at once"
        );
        assert_eq!(condition(&early, "Ready"), "False");
        assert_eq!(condition(&early, "ContainersReady"), "False");
        let ready = until(&node, "web", "ready", |p| condition(p, "Ready") == "True").await;
        assert_eq!(container(&ready)["ready"], true);
        assert_eq!(condition(&ready, "ContainersReady"), "True");
        // The file goes away: httpd answers 404, the pod is not ready any more.
        std::fs::remove_file(format!("{www}/index.html")).unwrap();
        let unready = until(&node, "web", "not ready again", |p| {
            condition(p, "Ready") == "False"
        })
        .await;
        assert_eq!(container(&unready)["ready"], false);
        assert_eq!(
            container(&unready)["restartCount"],
            0,
            "readiness never restarts"
        );
        assert!(!container(&unready)["state"]["running"].is_null());
        // Repeats of the same failure are one event whose count grows.
        let event = until_event(
            &node,
            "web",
            "Unhealthy",
            "Readiness probe failed: HTTP probe failed with statuscode: 404",
            2,
        )
        .await;
        assert_eq!(event.type_.as_deref(), Some("Warning"));
        assert_eq!(
            event.involved_object.field_path.as_deref(),
            Some("spec.containers{c}")
        );
        let source = event.source.clone().unwrap_or_default();
        assert_eq!(source.component.as_deref(), Some("kubelet"));
        assert_eq!(source.host.as_deref(), Some("probe-node"));
        // The container's lifecycle events are there too.
        let reasons: Vec<String> = events(&node, "web")
            .await
            .into_iter()
            .filter_map(|e| e.reason)
            .collect();
        for reason in ["Pulled", "Created", "Started"] {
            assert!(
                reasons.iter().any(|r| r == reason),
                "{reason} in {reasons:?}"
            );
        }
        // Back: ready again.
        std::fs::write(format!("{www}/index.html"), "ok\n").unwrap();
        until(&node, "web", "ready again", |p| {
            condition(p, "Ready") == "True"
        })
        .await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failing_liveness_probe_restarts_the_container() {
    with_node(|node| async move {
        let healthy = node.path("healthy");
        // SIGTERM is ignored (also by the sleeps, which inherit that): only the SIGKILL after
        // the probe's grace period of 1 s ends the container, not the pod's 10 minutes.
        let script = format!("trap '' TERM; touch {healthy}; while true; do sleep 1; done");
        let mut live = pod(
            "live",
            &script,
            json!({
                "livenessProbe": {
                    "exec": { "command": [BUSYBOX, "cat", healthy] },
                    "periodSeconds": 1, "failureThreshold": 2,
                    "terminationGracePeriodSeconds": 1,
                },
            }),
        );
        live.spec.as_mut().unwrap().termination_grace_period_seconds = Some(600);
        create(&node, &live).await;
        let up = until(&node, "live", "ready", |p| {
            running(p) && condition(p, "Ready") == "True"
        })
        .await;
        assert_eq!(container(&up)["restartCount"], 0);
        let file = healthy.clone();
        eventually("the container made its file", || {
            std::future::ready(Path::new(&file).exists().then_some(()))
        })
        .await;
        std::fs::remove_file(&healthy).unwrap();
        // The probe fails, the container is killed and started again (which makes the file
        // again, so it stays up).
        let restarted = until(&node, "live", "restarted", |p| {
            container(p)["restartCount"].as_u64().unwrap_or(0) >= 1 && running(p)
        })
        .await;
        assert!(
            !container(&restarted)["lastState"]["terminated"].is_null(),
            "{restarted:#}"
        );
        let unhealthy = until_event(&node, "live", "Unhealthy", "Liveness probe failed: ", 1).await;
        assert!(
            unhealthy.message.unwrap_or_default().contains("healthy"),
            "the event carries cat's complaint"
        );
        until_event(
            &node,
            "live",
            "Killing",
            "Container c failed liveness probe, will be restarted",
            1,
        )
        .await;
        // The new container is probed afresh and passes: it stays ready.
        until(&node, "live", "ready after the restart", |p| {
            condition(p, "Ready") == "True" && container(p)["restartCount"] == 1
        })
        .await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn startup_probe_holds_liveness_back() {
    with_node(|node| async move {
        let started = node.path("started");
        let alive = node.path("alive");
        let slow = pod(
            "slow",
            "exec sleep 600",
            json!({
                "startupProbe": {
                    "exec": { "command": [BUSYBOX, "cat", started] },
                    "periodSeconds": 1, "failureThreshold": 600,
                },
                "livenessProbe": {
                    "exec": { "command": [BUSYBOX, "cat", alive] },
                    "periodSeconds": 1, "failureThreshold": 1,
                    "terminationGracePeriodSeconds": 1,
                },
            }),
        );
        create(&node, &slow).await;
        let early = until(&node, "slow", "running", running).await;
        assert_eq!(container(&early)["started"], false, "{early:#}");
        assert_eq!(container(&early)["ready"], false);
        // The startup probe fails for a while; the liveness probe, which would fail at once,
        // is not run meanwhile.
        until_event(&node, "slow", "Unhealthy", "Startup probe failed: ", 3).await;
        let held = node.pods().get("slow").await.unwrap();
        let held = serde_json::to_value(&held).unwrap();
        assert_eq!(container(&held)["restartCount"], 0, "{held:#}");
        assert_eq!(container(&held)["started"], false);
        assert!(
            !events(&node, "slow").await.iter().any(|e| e
                .message
                .as_deref()
                .unwrap_or_default()
                .starts_with("Liveness probe")),
            "no liveness probe before the container started"
        );
        // Started: now the liveness probe runs, fails and restarts the container.
        std::fs::write(&started, "").unwrap();
        until(&node, "slow", "started", |p| {
            container(p)["started"] == true
        })
        .await;
        until_event(&node, "slow", "Unhealthy", "Liveness probe failed: ", 1).await;
        until(&node, "slow", "restarted", |p| {
            container(p)["restartCount"].as_u64().unwrap_or(0) >= 1
        })
        .await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readiness_tcp_probe_waits_for_the_listener() {
    with_node(|node| async move {
        let www = node.path("www");
        std::fs::create_dir(&www).unwrap();
        let script = format!("sleep 2; exec {BUSYBOX} httpd -f -p \"$POD_IP:8081\" -h {www}");
        let tcp = pod(
            "tcp",
            &script,
            json!({
                "readinessProbe": {
                    "tcpSocket": { "port": 8081 },
                    "periodSeconds": 1,
                },
            }),
        );
        create(&node, &tcp).await;
        let early = until(&node, "tcp", "running", running).await;
        assert_eq!(container(&early)["ready"], false, "{early:#}");
        assert_eq!(condition(&early, "Ready"), "False");
        let ready = until(&node, "tcp", "ready", |p| condition(p, "Ready") == "True").await;
        assert_eq!(container(&ready)["ready"], true);
        let refused = until_event(
            &node,
            "tcp",
            "Unhealthy",
            "Readiness probe failed: dial tcp ",
            1,
        )
        .await;
        assert!(
            refused.message.unwrap_or_default().contains(":8081"),
            "the event names the address"
        );
    })
    .await;
}

/// A kubelet on the simulated runtime (no busybox needed): its `exec_sync` answers `true`
/// and `false` as the commands would.
async fn sim_node() -> (Client, tokio::task::JoinHandle<()>, tempfile::TempDir) {
    let server = ApiServer::builder()
        .store(Arc::new(MemoryStore::new()))
        .build()
        .await
        .unwrap();
    let client = Client::new(server, "default");
    let dir = tempfile::tempdir().unwrap();
    let kubelet = Kubelet::builder(client.clone(), "probe-node")
        .runtime(Arc::new(kernel_node::SimRuntime::new()))
        .pod_cidr("10.88.0.0/24")
        .config(KubeletConfig {
            backoff_initial: Duration::from_millis(300),
            pod_relist_period: Duration::from_millis(200),
            root_dir: Some(dir.path().to_path_buf()),
            ..KubeletConfig::default()
        })
        .build()
        .unwrap();
    let task = tokio::spawn(async move {
        let _ = kubelet.run().await;
    });
    (client, task, dir)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readiness_gates_hold_the_ready_condition() {
    let (client, kubelet, _dir) = sim_node().await;
    let node = Node {
        client,
        dir: tempfile::tempdir().unwrap(),
    };
    let mut gated = pod("gated", "exec sleep 600", json!({}));
    let spec = gated.spec.as_mut().unwrap();
    spec.readiness_gates = Some(vec![serde_json::from_value(
        json!({ "conditionType": "example.com/lb" }),
    )
    .unwrap()]);
    create(&node, &gated).await;
    let held = until(&node, "gated", "running, gate missing", |p| {
        running(p) && condition(p, "ContainersReady") == "True"
    })
    .await;
    let ready = held["status"]["conditions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["type"] == "Ready")
        .unwrap();
    assert_eq!(ready["status"], "False", "{held:#}");
    assert_eq!(ready["reason"], "ReadinessGatesNotReady");
    assert_eq!(
        ready["message"],
        "corresponding condition of pod readiness gate \"example.com/lb\" does not exist."
    );
    // A controller sets the gate's condition: the pod is Ready, and the kubelet keeps the
    // condition it does not own in the status it writes.
    let patch = json!({ "status": { "conditions": [
        { "type": "example.com/lb", "status": "True", "lastTransitionTime": "2025-01-01T00:00:00Z" }
    ] } });
    node.pods()
        .patch_status(
            "gated",
            &kube::api::PatchParams::default(),
            &kube::api::Patch::Strategic(&patch),
        )
        .await
        .unwrap();
    let open = until(&node, "gated", "ready", |p| condition(p, "Ready") == "True").await;
    assert_eq!(condition(&open, "example.com/lb"), "True", "{open:#}");
    assert_eq!(condition(&open, "ContainersReady"), "True");
    kubelet.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn liveness_failure_with_restart_policy_never_fails_the_pod() {
    let (client, kubelet, _dir) = sim_node().await;
    let node = Node {
        client,
        dir: tempfile::tempdir().unwrap(),
    };
    let mut doomed = pod(
        "doomed",
        "exec sleep 600",
        json!({
            "livenessProbe": { "exec": { "command": ["false"] }, "periodSeconds": 1,
                               "failureThreshold": 1 },
            // Ready at once (`true`), until the container is killed.
            "readinessProbe": { "exec": { "command": ["true"] }, "periodSeconds": 1 },
        }),
    );
    doomed.spec.as_mut().unwrap().restart_policy = Some("Never".into());
    create(&node, &doomed).await;
    let failed = until(&node, "doomed", "failed", |p| {
        p["status"]["phase"] == "Failed"
    })
    .await;
    assert_eq!(container(&failed)["restartCount"], 0, "{failed:#}");
    assert!(!container(&failed)["state"]["terminated"].is_null());
    assert_eq!(container(&failed)["ready"], false);
    let killing = until_event(
        &node,
        "doomed",
        "Killing",
        "Container c failed liveness probe",
        1,
    )
    .await;
    assert_eq!(
        killing.message.as_deref(),
        Some("Container c failed liveness probe"),
        "not restarted: no \", will be restarted\""
    );
    until_event(&node, "doomed", "Unhealthy", "Liveness probe failed: ", 1).await;
    kubelet.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failing_startup_probe_restarts_the_container() {
    let (client, kubelet, _dir) = sim_node().await;
    let node = Node {
        client,
        dir: tempfile::tempdir().unwrap(),
    };
    let never = pod(
        "never",
        "exec sleep 600",
        json!({
            "startupProbe": { "exec": { "command": ["false"] }, "periodSeconds": 1,
                              "failureThreshold": 2 },
            "livenessProbe": { "exec": { "command": ["true"] }, "periodSeconds": 1 },
        }),
    );
    create(&node, &never).await;
    let restarted = until(&node, "never", "restarted", |p| {
        container(p)["restartCount"].as_u64().unwrap_or(0) >= 1
    })
    .await;
    assert_eq!(container(&restarted)["started"], false, "{restarted:#}");
    assert_eq!(condition(&restarted, "Ready"), "False");
    until_event(
        &node,
        "never",
        "Killing",
        "Container c failed startup probe, will be restarted",
        1,
    )
    .await;
    until_event(&node, "never", "Unhealthy", "Startup probe failed: ", 1).await;
    kubelet.abort();
}

/// Lifecycle hooks run with the probes' handlers: `postStart` after the container starts,
/// `preStop` before the SIGTERM of a graceful deletion.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pre_stop_runs_before_sigterm_and_post_start_after_start() {
    with_node(|node| async move {
        let log = node.path("order");
        let script = format!(
            "trap 'echo term >> {log}; exit 0' TERM; echo main >> {log}; \
             while true; do {BUSYBOX} sleep 0.1; done"
        );
        let hook = |line: &str| json!({ "exec": { "command": [BUSYBOX, "sh", "-c", format!("echo {line} >> {log}")] } });
        let hooked = pod(
            "hooked",
            &script,
            json!({ "lifecycle": { "postStart": hook("poststart"), "preStop": hook("prestop") } }),
        );
        create(&node, &hooked).await;
        until(&node, "hooked", "Running", running).await;
        eventually("the postStart hook's line", || async {
            let text = std::fs::read_to_string(&log).unwrap_or_default();
            text.contains("poststart").then_some(())
        })
        .await;
        node.pods()
            .delete("hooked", &Default::default())
            .await
            .unwrap();
        eventually("the pod to be gone", || async {
            node.pods().get_opt("hooked").await.unwrap().is_none().then_some(())
        })
        .await;
        let text = std::fs::read_to_string(&log).unwrap();
        let at = |what: &str| text.find(what).unwrap_or_else(|| panic!("no {what} in {text:?}"));
        assert!(at("main") < at("prestop"), "{text}");
        assert!(at("prestop") < at("term"), "the hook ran before SIGTERM: {text}");
    })
    .await;
}

/// A failing `postStart` hook kills the container (`FailedPostStartHook`), and the restart
/// policy restarts it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failing_post_start_hook_kills_and_restarts_the_container() {
    with_node(|node| async move {
        let failing = pod(
            "failing-hook",
            &format!("exec {BUSYBOX} sleep 1000"),
            json!({ "lifecycle": { "postStart": { "exec": { "command": [BUSYBOX, "false"] } } } }),
        );
        create(&node, &failing).await;
        until_event(
            &node,
            "failing-hook",
            "FailedPostStartHook",
            "PostStartHook failed",
            1,
        )
        .await;
        until(&node, "failing-hook", "restarted", |p| {
            container(p)["restartCount"].as_i64().unwrap_or(0) >= 1
        })
        .await;
    })
    .await;
}
