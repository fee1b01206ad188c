//! The `Scheduler` against a scripted API server: it needs nothing but a `kube::Client`.
//! The fake serves one node and two pending pods, and records what the scheduler writes.

use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full, StreamBody};
use kernel_sched::testing::{node, pod};
use kernel_sched::Scheduler;

type Recorded = Arc<Mutex<Vec<(String, String, String)>>>;

fn full(v: serde_json::Value, code: StatusCode) -> Response<BoxBody<Bytes, Infallible>> {
    Response::builder()
        .status(code)
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(v.to_string())).boxed())
        .unwrap()
}

fn never() -> Response<BoxBody<Bytes, Infallible>> {
    let s = futures::stream::pending::<Result<http_body::Frame<Bytes>, Infallible>>();
    Response::builder()
        .status(200)
        .body(StreamBody::new(s).boxed())
        .unwrap()
}

fn list(kind: &str, items: Vec<serde_json::Value>) -> serde_json::Value {
    serde_json::json!({"apiVersion": "v1", "kind": kind, "metadata": {"resourceVersion": "1"}, "items": items})
}

fn with_kind(mut v: serde_json::Value, kind: &str) -> serde_json::Value {
    v["apiVersion"] = "v1".into();
    v["kind"] = kind.into();
    v
}

fn fake_api(
    recorded: Recorded,
    nodes: Vec<k8s_openapi::api::core::v1::Node>,
    pods: Vec<k8s_openapi::api::core::v1::Pod>,
) -> kube::Client {
    let nodes: Vec<_> = nodes
        .into_iter()
        .map(|n| with_kind(serde_json::to_value(n).unwrap(), "Node"))
        .collect();
    let pods: Vec<_> = pods
        .into_iter()
        .map(|p| with_kind(serde_json::to_value(p).unwrap(), "Pod"))
        .collect();
    let svc = tower::service_fn(move |req: Request<kube::client::Body>| {
        let recorded = recorded.clone();
        let (nodes, pods) = (nodes.clone(), pods.clone());
        async move {
            let (parts, body) = req.into_parts();
            let body = body
                .collect()
                .await
                .map(|b| b.to_bytes())
                .unwrap_or_default();
            let path = parts.uri.path().to_string();
            let query = parts.uri.query().unwrap_or("").to_string();
            let method = parts.method.to_string();
            let text = String::from_utf8_lossy(&body).to_string();
            recorded
                .lock()
                .unwrap()
                .push((method.clone(), path.clone(), text.clone()));
            let watch = query.contains("watch=true") || query.contains("watch=1");
            let resp = match (method.as_str(), path.as_str()) {
                ("GET", _) if watch => never(),
                ("GET", "/api/v1/nodes") => full(list("NodeList", nodes), StatusCode::OK),
                ("GET", "/api/v1/pods") => full(list("PodList", pods.clone()), StatusCode::OK),
                ("POST", p) if p.ends_with("/binding") => full(
                    serde_json::json!({"apiVersion": "v1", "kind": "Status", "status": "Success", "metadata": {}}),
                    StatusCode::CREATED,
                ),
                ("PATCH", p) if p.ends_with("/status") => {
                    let name = p
                        .trim_end_matches("/status")
                        .rsplit('/')
                        .next()
                        .unwrap_or_default()
                        .to_string();
                    let pod = pods
                        .iter()
                        .find(|x| x["metadata"]["name"] == name.as_str())
                        .cloned()
                        .unwrap_or_default();
                    full(pod, StatusCode::OK)
                }
                ("POST", p) if p.contains("/events") => full(
                    serde_json::from_slice(&body).unwrap_or_default(),
                    StatusCode::CREATED,
                ),
                // Other lists (PVCs, PDBs, services, ...) are empty.
                ("GET", _) => full(list("List", vec![]), StatusCode::OK),
                ("DELETE", _) => full(
                    serde_json::json!({"apiVersion": "v1", "kind": "Status", "status": "Success", "metadata": {}}),
                    StatusCode::OK,
                ),
                _ => full(
                    serde_json::json!({"kind": "Status", "apiVersion": "v1", "status": "Failure", "code": 404}),
                    StatusCode::NOT_FOUND,
                ),
            };
            Ok::<_, Infallible>(resp)
        }
    });
    kube::Client::new(svc, "default")
}

#[tokio::test]
async fn binds_fitting_pods_and_reports_unschedulable_ones() {
    let recorded: Recorded = Arc::default();
    let pods = vec![
        pod("web").uid("u-web").req("1", "1Gi").obj(),
        pod("huge").uid("u-huge").req("64", "1Gi").obj(),
        pod("other")
            .uid("u-other")
            .scheduler_name("someone-else")
            .obj(),
    ];
    let scheduler = Scheduler::new(fake_api(
        recorded.clone(),
        vec![node("n1").cpu("4").memory("8Gi").obj()],
        pods,
    ));
    let metrics = scheduler.metrics();
    let run = tokio::spawn(scheduler.run());

    let find = |pred: &dyn Fn(&(String, String, String)) -> bool| {
        recorded.lock().unwrap().iter().find(|r| pred(r)).cloned()
    };
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    let (binding, status) = loop {
        let b = find(&|r| r.0 == "POST" && r.1.ends_with("/pods/web/binding"));
        let s = find(&|r| r.0 == "PATCH" && r.1.ends_with("/pods/huge/status"));
        if let (Some(b), Some(s)) = (b.clone(), s.clone()) {
            break (b, s);
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out; saw {:?}",
            recorded.lock().unwrap()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };

    // pods/binding with a core/v1 Binding targeting the only node.
    let b: serde_json::Value = serde_json::from_str(&binding.2).unwrap();
    assert_eq!(binding.1, "/api/v1/namespaces/default/pods/web/binding");
    assert_eq!(b["kind"], "Binding");
    assert_eq!(b["target"]["kind"], "Node");
    assert_eq!(b["target"]["name"], "n1");

    // PodScheduled=False, reason Unschedulable, upstream's message.
    let s: serde_json::Value = serde_json::from_str(&status.2).unwrap();
    let cond = &s["status"]["conditions"][0];
    assert_eq!(cond["type"], "PodScheduled");
    assert_eq!(cond["status"], "False");
    assert_eq!(cond["reason"], "Unschedulable");
    assert_eq!(
        cond["message"],
        "0/1 nodes are available: 1 Insufficient cpu. preemption: 0/1 nodes are available: 1 Preemption is not helpful for scheduling.."
    );

    // A FailedScheduling event was recorded for the unschedulable pod.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let ev =
            find(&|r| r.0 == "POST" && r.1.contains("/events") && r.2.contains("FailedScheduling"));
        if let Some(ev) = ev {
            let v: serde_json::Value = serde_json::from_str(&ev.2).unwrap();
            assert_eq!(v["regarding"]["name"], "huge");
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no FailedScheduling event"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    // The pod for another scheduler was left alone.
    assert!(find(&|r| r.1.contains("/pods/other/")).is_none());
    let text = metrics.render();
    assert!(text.contains("result=\"scheduled\"} 1"), "{text}");
    assert!(text.contains("result=\"unschedulable\"} 1"), "{text}");
    run.abort();
}

#[tokio::test]
async fn preemption_deletes_victims_and_nominates_the_node() {
    let recorded: Recorded = Arc::default();
    let pods = vec![
        pod("low")
            .uid("u-low")
            .node("n1")
            .priority(1)
            .req("4", "1Gi")
            .obj(),
        pod("high")
            .uid("u-high")
            .priority(1000)
            .req("2", "1Gi")
            .obj(),
    ];
    let scheduler = Scheduler::new(fake_api(
        recorded.clone(),
        vec![node("n1").cpu("4").memory("8Gi").obj()],
        pods,
    ));
    let run = tokio::spawn(scheduler.run());
    let find = |pred: &dyn Fn(&(String, String, String)) -> bool| {
        recorded.lock().unwrap().iter().find(|r| pred(r)).cloned()
    };
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    let (delete, status) = loop {
        let d = find(&|r| r.0 == "DELETE" && r.1.ends_with("/pods/low"));
        let s = find(&|r| r.0 == "PATCH" && r.1.ends_with("/pods/high/status"));
        if let (Some(d), Some(s)) = (d.clone(), s.clone()) {
            break (d, s);
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out; saw {:?}",
            recorded.lock().unwrap()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(delete.1, "/api/v1/namespaces/default/pods/low");
    let s: serde_json::Value = serde_json::from_str(&status.2).unwrap();
    assert_eq!(s["status"]["nominatedNodeName"], "n1");
    assert_eq!(
        s["status"]["conditions"][0]["message"],
        "0/1 nodes are available: 1 Insufficient cpu."
    );
    run.abort();
}
