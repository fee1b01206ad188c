//! kernel-sched end to end through kernel-api: a `Scheduler` on an in-process `kube::Client`
//! places pods with every kind of constraint where upstream kube-scheduler would, and an
//! unschedulable pod gets `FailedScheduling` + `PodScheduled=False`, then is scheduled once a
//! fitting node appears.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::{Node, Pod};
use k8s_openapi::api::events::v1::Event;
use kernel::api::ApiServer;
use kernel::sched::Scheduler;
use kernel::store::MemoryStore;
use kube::api::{ListParams, PostParams};
use kube::{Api, Client};
use serde_json::{json, Value};

fn node(
    name: &str,
    cpu: &str,
    memory: &str,
    labels: Value,
    taints: Value,
    unschedulable: bool,
) -> Node {
    let mut labels = labels;
    labels["kubernetes.io/hostname"] = json!(name);
    serde_json::from_value(json!({
        "metadata": { "name": name, "labels": labels },
        "spec": { "taints": taints, "unschedulable": unschedulable },
        "status": {
            "capacity": { "cpu": cpu, "memory": memory, "pods": "110" },
            "allocatable": { "cpu": cpu, "memory": memory, "pods": "110" },
            "conditions": [{ "type": "Ready", "status": "True" }],
        }
    }))
    .unwrap()
}

fn pod(name: &str, cpu: &str, extra: Value) -> Pod {
    let mut spec = json!({
        "containers": [{ "name": "c", "image": "busybox:1",
                         "resources": { "requests": { "cpu": cpu, "memory": "64Mi" } } }]
    });
    if let (Some(spec), Some(extra)) = (spec.as_object_mut(), extra.as_object()) {
        for (k, v) in extra {
            spec.insert(k.clone(), v.clone());
        }
    }
    let labels = spec
        .as_object_mut()
        .and_then(|s| s.remove("labels"))
        .unwrap_or(json!({}));
    serde_json::from_value(json!({ "metadata": { "name": name, "labels": labels }, "spec": spec }))
        .unwrap()
}

async fn node_of(pods: &Api<Pod>, name: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let pod = pods.get(name).await.unwrap();
        if let Some(node) = pod.spec.and_then(|s| s.node_name) {
            return node;
        }
        assert!(Instant::now() < deadline, "pod {name} was not scheduled");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scheduler_places_pods_like_upstream() {
    let server = ApiServer::builder()
        .store(Arc::new(MemoryStore::new()))
        .build()
        .await
        .unwrap();
    let client = Client::new(server.clone(), "default");
    let nodes: Api<Node> = Api::all(client.clone());
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    let pp = PostParams::default();
    for n in [
        node(
            "node-a",
            "4",
            "8Gi",
            json!({ "zone": "a", "disktype": "ssd" }),
            json!([]),
            false,
        ),
        node(
            "node-b",
            "2",
            "4Gi",
            json!({ "zone": "a" }),
            json!([]),
            false,
        ),
        node(
            "node-c",
            "8",
            "16Gi",
            json!({ "zone": "b", "gpu": "true" }),
            json!([{ "key": "dedicated", "value": "gpu", "effect": "NoSchedule" }]),
            false,
        ),
        node(
            "node-d",
            "1",
            "1Gi",
            json!({ "zone": "b" }),
            json!([]),
            false,
        ),
        node(
            "node-e",
            "16",
            "32Gi",
            json!({ "zone": "c" }),
            json!([]),
            true,
        ),
    ] {
        nodes.create(&pp, &n).await.unwrap();
    }
    let scheduler = tokio::spawn(Scheduler::new(client.clone()).run());

    // nodeSelector: only node-a has disktype=ssd.
    pods.create(
        &pp,
        &pod(
            "ssd",
            "500m",
            json!({ "nodeSelector": { "disktype": "ssd" } }),
        ),
    )
    .await
    .unwrap();
    assert_eq!(node_of(&pods, "ssd").await, "node-a");

    // Toleration + required node affinity: only the tainted GPU node matches.
    let gpu = json!({
        "tolerations": [{ "key": "dedicated", "operator": "Equal", "value": "gpu", "effect": "NoSchedule" }],
        "affinity": { "nodeAffinity": { "requiredDuringSchedulingIgnoredDuringExecution": {
            "nodeSelectorTerms": [{ "matchExpressions": [{ "key": "gpu", "operator": "In", "values": ["true"] }] }]
        } } }
    });
    pods.create(&pp, &pod("gpu", "1", gpu)).await.unwrap();
    assert_eq!(node_of(&pods, "gpu").await, "node-c");

    // Resources: 3 cpu fit only on node-a (node-c is tainted, node-e unschedulable, b and d too small).
    pods.create(&pp, &pod("big", "3", json!({}))).await.unwrap();
    assert_eq!(node_of(&pods, "big").await, "node-a");

    // A pod with spec.nodeName set is not the scheduler's business and stays where it was put.
    pods.create(&pp, &pod("pinned", "100m", json!({ "nodeName": "node-d" })))
        .await
        .unwrap();
    assert_eq!(node_of(&pods, "pinned").await, "node-d");

    // Required anti-affinity on hostname, restricted to zone a: two replicas on two nodes.
    let web = |name: &str| {
        pod(
            name,
            "100m",
            json!({
                "labels": { "app": "web" },
                "nodeSelector": { "zone": "a" },
                "affinity": { "podAntiAffinity": { "requiredDuringSchedulingIgnoredDuringExecution": [{
                    "labelSelector": { "matchLabels": { "app": "web" } },
                    "topologyKey": "kubernetes.io/hostname"
                }] } }
            }),
        )
    };
    pods.create(&pp, &web("web-1")).await.unwrap();
    let first = node_of(&pods, "web-1").await;
    pods.create(&pp, &web("web-2")).await.unwrap();
    let second = node_of(&pods, "web-2").await;
    assert_eq!(
        BTreeSet::from([first, second]),
        BTreeSet::from(["node-a".to_owned(), "node-b".to_owned()])
    );

    // Unschedulable: nothing has 32 cpu. FailedScheduling event + PodScheduled=False.
    pods.create(&pp, &pod("huge", "32", json!({})))
        .await
        .unwrap();
    let events: Api<Event> = Api::namespaced(client.clone(), "default");
    let deadline = Instant::now() + Duration::from_secs(20);
    let message = loop {
        // kube-scheduler records through the events.k8s.io/v1 API, as upstream's does.
        let list = events.list(&ListParams::default()).await.unwrap();
        let found = list.items.iter().find(|e| {
            e.reason.as_deref() == Some("FailedScheduling")
                && e.regarding.as_ref().and_then(|r| r.name.as_deref()) == Some("huge")
        });
        if let Some(event) = found {
            break event.note.clone().unwrap_or_default();
        }
        assert!(Instant::now() < deadline, "no FailedScheduling event");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(message.starts_with("0/5 nodes are available"), "{message}");
    assert!(message.contains("Insufficient cpu"), "{message}");
    assert!(message.contains("untolerated taint"), "{message}");
    assert!(message.contains("unschedulable"), "{message}");
    let huge = pods.get("huge").await.unwrap();
    let condition = huge
        .status
        .and_then(|s| s.conditions)
        .and_then(|c| c.into_iter().find(|c| c.type_ == "PodScheduled"))
        .expect("PodScheduled condition");
    assert_eq!(
        (condition.status.as_str(), condition.reason.as_deref()),
        ("False", Some("Unschedulable"))
    );
    assert!(huge.spec.unwrap().node_name.is_none());

    // A node that fits appears: the parked pod is retried and placed there.
    nodes
        .create(
            &pp,
            &node(
                "node-f",
                "64",
                "64Gi",
                json!({ "zone": "c" }),
                json!([]),
                false,
            ),
        )
        .await
        .unwrap();
    assert_eq!(node_of(&pods, "huge").await, "node-f");
    scheduler.abort();
}
