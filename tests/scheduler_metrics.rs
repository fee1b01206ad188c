//! The scheduler's `/metrics`, `/readyz` and `/healthz` over HTTP, with a `Scheduler` on an
//! in-process kernel-api: upstream's `scheduler_*` series, histograms included, after a pod is
//! bound and another found unschedulable.

use kernel_testing::eventually;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::core::v1::{Node, Pod};
use kernel::api::ApiServer;
use kernel::sched::{serving, Scheduler};
use kernel::store::MemoryStore;
use kube::api::PostParams;
use kube::{Api, Client};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// `GET path` over a fresh connection: (status line, content-type, body).
async fn get(addr: SocketAddr, path: &str) -> (String, String, String) {
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    s.write_all(
        format!("GET {path} HTTP/1.1\r\nhost: sched\r\nconnection: close\r\n\r\n").as_bytes(),
    )
    .await
    .unwrap();
    let mut raw = String::new();
    s.read_to_string(&mut raw).await.unwrap();
    let (head, body) = raw.split_once("\r\n\r\n").expect("a whole response");
    let status = head.lines().next().unwrap_or_default().to_string();
    let content_type = head
        .lines()
        .find_map(|l| l.strip_prefix("content-type: "))
        .unwrap_or_default()
        .to_string();
    (status, content_type, body.to_string())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scheduler_serves_upstream_metrics_and_health() {
    let server = ApiServer::builder()
        .store(Arc::new(MemoryStore::new()))
        .build()
        .await
        .unwrap();
    let client = Client::new(server.clone(), "default");
    let node: Node = serde_json::from_value(json!({
        "metadata": { "name": "n1", "labels": { "kubernetes.io/hostname": "n1" } },
        "status": {
            "capacity": { "cpu": "2", "memory": "4Gi", "pods": "110" },
            "allocatable": { "cpu": "2", "memory": "4Gi", "pods": "110" },
            "conditions": [{ "type": "Ready", "status": "True" }],
        }
    }))
    .unwrap();
    Api::<Node>::all(client.clone())
        .create(&PostParams::default(), &node)
        .await
        .unwrap();

    let scheduler = Scheduler::new(client.clone());
    let endpoints = scheduler.serving();
    let metrics = scheduler.metrics();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let http = tokio::spawn(serving::serve(listener, endpoints.clone(), async {
        let _ = stopped.await;
    }));

    // Not ready before the informers have listed; alive all along.
    let (status, _, body) = get(addr, "/readyz").await;
    assert_eq!(status, "HTTP/1.1 500 Internal Server Error", "{body}");
    assert!(body.contains("[-]sched-handler-sync failed"), "{body}");
    assert_eq!(get(addr, "/healthz").await.2, "ok");

    let synced = scheduler.synced();
    let run = tokio::spawn(scheduler.run());
    tokio::time::timeout(Duration::from_secs(20), synced)
        .await
        .expect("informers synced");
    let (status, _, body) = get(addr, "/readyz").await;
    assert_eq!((status.as_str(), body.as_str()), ("HTTP/1.1 200 OK", "ok"));

    // First a pod that fits nowhere (parked as unschedulable), then one that fits: one
    // attempt each, whatever the order of the watch events.
    use kernel::sched::metrics::AttemptResult;
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    for (name, cpu) in [("too-big", "16"), ("fits", "500m")] {
        let pod: Pod = serde_json::from_value(json!({
            "metadata": { "name": name },
            "spec": { "containers": [{ "name": "c", "image": "busybox:1",
                "resources": { "requests": { "cpu": cpu } } }] }
        }))
        .unwrap();
        pods.create(&PostParams::default(), &pod).await.unwrap();
        eventually(name, || {
            std::future::ready(
                {
                    metrics.schedule_attempts(AttemptResult::Unschedulable) == 1
                        && metrics.schedule_attempts(AttemptResult::Scheduled)
                            == u64::from(name == "fits")
                }
                .then_some(()),
            )
        })
        .await;
    }

    let (status, content_type, text) = get(addr, "/metrics").await;
    assert_eq!(status, "HTTP/1.1 200 OK");
    assert!(
        content_type.starts_with("text/plain; version=0.0.4"),
        "{content_type}"
    );
    let p = "profile=\"default-scheduler\"";
    for line in [
        "# TYPE scheduler_scheduling_attempt_duration_seconds histogram".to_string(),
        format!("scheduler_schedule_attempts_total{{{p},result=\"scheduled\"}} 1"),
        format!("scheduler_scheduling_attempt_duration_seconds_bucket{{{p},result=\"scheduled\",le=\"0.001\"}} "),
        format!("scheduler_scheduling_attempt_duration_seconds_bucket{{{p},result=\"scheduled\",le=\"16.384\"}} 1"),
        format!("scheduler_scheduling_attempt_duration_seconds_bucket{{{p},result=\"scheduled\",le=\"+Inf\"}} 1"),
        format!("scheduler_scheduling_attempt_duration_seconds_count{{{p},result=\"scheduled\"}} 1"),
        format!("scheduler_scheduling_attempt_duration_seconds_bucket{{{p},result=\"unschedulable\",le=\"+Inf\"}} "),
        "scheduler_pod_scheduling_sli_duration_seconds_bucket{attempts=\"1\",le=\"+Inf\"} 1".into(),
        "scheduler_pod_scheduling_attempts_bucket{le=\"1\"} 1".into(),
        "scheduler_scheduling_algorithm_duration_seconds_count 1".into(),
        "scheduler_queue_incoming_pods_total{event=\"UnschedulablePodAdd\",queue=\"active\"} 2".into(),
        "scheduler_queue_incoming_pods_total{event=\"ScheduleAttemptFailure\",queue=\"unschedulable\"} 1".into(),
        "scheduler_pending_pods{queue=\"active\"} 0".into(),
        "scheduler_pending_pods{queue=\"unschedulable\"} 1".into(),
        "scheduler_preemption_attempts_total 1".into(),
        format!("scheduler_framework_extension_point_duration_seconds_count{{extension_point=\"Bind\",{p},status=\"Success\"}} 1"),
        format!("scheduler_framework_extension_point_duration_seconds_count{{extension_point=\"PreFilter\",{p},status=\"Success\"}} 2"),
    ] {
        assert!(text.contains(&line), "{line:?} missing in\n{text}");
    }

    stop.send(()).unwrap();
    tokio::time::timeout(Duration::from_secs(10), http)
        .await
        .expect("the endpoint shuts down")
        .unwrap();
    run.abort();
}
