//! The scheduler's informers against the in-process API server: a change to one object reaches
//! the scheduler's stores and cache as that object alone (the others are not re-read), a
//! deleted node leaves the cache, and after a watch that fell behind is ended with 410 Gone
//! the informers re-list and the cache matches the API again, deletions missed meanwhile
//! included.

mod common;

use kernel_testing::eventually;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::core::v1::{Node, PersistentVolumeClaim, Pod};
use k8s_openapi::api::storage::v1::StorageClass;
use kernel::sched::{Cache, Scheduler, Snapshot};
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams};
use serde_json::json;

use common::{populate, recording_api, recording_api_pausing, Recorded, WatchPause};

fn node(name: &str) -> Node {
    serde_json::from_value(json!({
        "metadata": { "name": name, "labels": { "kubernetes.io/hostname": name } },
        "status": {
            "capacity": { "cpu": "4", "memory": "8Gi", "pods": "110" },
            "allocatable": { "cpu": "4", "memory": "8Gi", "pods": "110" },
            "conditions": [{ "type": "Ready", "status": "True" }],
        }
    }))
    .unwrap()
}

/// A pod requesting 100m cpu, bound to `node` if given.
fn pod(name: &str, node: Option<&str>) -> Pod {
    serde_json::from_value(json!({
        "metadata": { "name": name },
        "spec": {
            "nodeName": node,
            "containers": [{ "name": "c", "image": "busybox:1",
                             "resources": { "requests": { "cpu": "100m" } } }],
        }
    }))
    .unwrap()
}

fn pvc(name: &str, class: &str) -> PersistentVolumeClaim {
    serde_json::from_value(json!({
        "metadata": { "name": name },
        "spec": {
            "storageClassName": class,
            "accessModes": ["ReadWriteOnce"],
            "resources": { "requests": { "storage": "1Gi" } },
        }
    }))
    .unwrap()
}

fn storage_class(name: &str) -> StorageClass {
    serde_json::from_value(json!({
        "metadata": { "name": name },
        "provisioner": "kubernetes.io/no-provisioner",
        "volumeBindingMode": "WaitForFirstConsumer",
    }))
    .unwrap()
}

/// Starts `sched` and waits until its informers have listed; returns its cache.
async fn start(sched: Scheduler) -> Arc<std::sync::Mutex<Cache>> {
    let cache = sched.cache();
    let synced = sched.synced();
    tokio::spawn(sched.run());
    tokio::time::timeout(Duration::from_secs(20), synced)
        .await
        .expect("informers listed");
    cache
}

/// The cache's nodes and, per node, the names of its pods.
fn cached(cache: &std::sync::Mutex<Cache>) -> BTreeMap<String, Vec<String>> {
    let mut snapshot = Snapshot::default();
    cache.lock().unwrap().update_snapshot(&mut snapshot);
    snapshot
        .node_infos()
        .iter()
        .map(|n| {
            let mut pods: Vec<String> = n.pods.iter().map(|p| p.name.clone()).collect();
            pods.sort();
            (n.name.clone(), pods)
        })
        .collect()
}

/// The API's nodes and, per node, the names of the pods bound to it.
async fn in_api(client: &kube::Client) -> BTreeMap<String, Vec<String>> {
    let lp = ListParams::default();
    let mut out: BTreeMap<String, Vec<String>> = Api::<Node>::all(client.clone())
        .list(&lp)
        .await
        .unwrap()
        .items
        .into_iter()
        .map(|n| (n.metadata.name.unwrap(), Vec::new()))
        .collect();
    for p in Api::<Pod>::all(client.clone())
        .list(&lp)
        .await
        .unwrap()
        .items
    {
        let node = p.spec.and_then(|s| s.node_name);
        if let Some(pods) = node.and_then(|n| out.get_mut(&n)) {
            pods.push(p.metadata.name.unwrap());
            pods.sort();
        }
    }
    out
}

fn labels(cache: &std::sync::Mutex<Cache>, node: &str) -> BTreeMap<String, String> {
    let mut snapshot = Snapshot::default();
    cache.lock().unwrap().update_snapshot(&mut snapshot);
    snapshot
        .get(node)
        .map(|n| n.labels().clone())
        .unwrap_or_default()
}

#[tokio::test]
async fn one_changed_object_reaches_the_scheduler_alone() {
    let client = recording_api(Recorded::default()).await;
    populate(&client, vec![node("n1"), node("n2"), node("n3")], vec![]).await;
    let pvcs: Api<PersistentVolumeClaim> = Api::namespaced(client.clone(), "default");
    let classes: Api<StorageClass> = Api::all(client.clone());
    let pp = PostParams::default();
    for c in ["fast", "slow"] {
        classes.create(&pp, &storage_class(c)).await.unwrap();
    }
    for (name, class) in [("a", "fast"), ("b", "slow")] {
        pvcs.create(&pp, &pvc(name, class)).await.unwrap();
    }
    let sched = Scheduler::new(client.clone());
    let objects = sched.objects().clone();
    let cache = start(sched).await;

    let (a0, b0) = (
        objects.pvc("default", "a").unwrap(),
        objects.pvc("default", "b").unwrap(),
    );
    let (fast0, slow0) = (
        objects.storage_class("fast").unwrap(),
        objects.storage_class("slow").unwrap(),
    );
    // A snapshot kept current, as the scheduling loop keeps its own.
    let mut snapshot = Snapshot::default();
    assert_eq!(cache.lock().unwrap().update_snapshot(&mut snapshot), 3);

    let label = |v: &str| Patch::Merge(json!({ "metadata": { "labels": { "changed": v } } }));
    let ps = PatchParams::default();

    // One claim changes: the store has the new claim; every other object is the very one
    // decoded before (same allocation: nothing was re-read or re-decoded).
    let a1 = pvcs.patch("a", &ps, &label("1")).await.unwrap();
    let a1 = eventually("claim a updated", || {
        std::future::ready({
            objects
                .pvc("default", "a")
                .filter(|a| a.metadata.resource_version == a1.metadata.resource_version)
        })
    })
    .await;
    assert!(!Arc::ptr_eq(&a0, &a1));
    assert!(Arc::ptr_eq(&b0, &objects.pvc("default", "b").unwrap()));
    assert!(Arc::ptr_eq(&fast0, &objects.storage_class("fast").unwrap()));
    assert!(Arc::ptr_eq(&slow0, &objects.storage_class("slow").unwrap()));

    // One storage class changes: likewise.
    let fast1 = classes.patch("fast", &ps, &label("1")).await.unwrap();
    eventually("class fast updated", || {
        std::future::ready({
            objects
                .storage_class("fast")
                .filter(|c| c.metadata.resource_version == fast1.metadata.resource_version)
        })
    })
    .await;
    assert!(Arc::ptr_eq(&slow0, &objects.storage_class("slow").unwrap()));
    assert!(Arc::ptr_eq(&a1, &objects.pvc("default", "a").unwrap()));
    assert!(Arc::ptr_eq(&b0, &objects.pvc("default", "b").unwrap()));

    // One node changes: the cache has its new labels and the snapshot copies that node only.
    Api::<Node>::all(client.clone())
        .patch("n2", &ps, &label("1"))
        .await
        .unwrap();
    eventually("node n2 updated", || {
        std::future::ready(labels(&cache, "n2").contains_key("changed").then_some(()))
    })
    .await;
    assert_eq!(cache.lock().unwrap().update_snapshot(&mut snapshot), 1);
    assert_eq!(
        snapshot.get("n2").unwrap().labels().get("changed"),
        Some(&"1".to_string())
    );
    assert!(!labels(&cache, "n1").contains_key("changed"));
}

#[tokio::test]
async fn deleted_node_leaves_the_cache() {
    let client = recording_api(Recorded::default()).await;
    populate(&client, vec![node("n1"), node("n2")], vec![]).await;
    let cache = start(Scheduler::new(client.clone())).await;
    assert_eq!(cached(&cache).len(), 2);

    Api::<Node>::all(client.clone())
        .delete("n1", &DeleteParams::default())
        .await
        .unwrap();
    eventually("n1 gone from the cache", || {
        std::future::ready((cached(&cache).keys().collect::<Vec<_>>() == ["n2"]).then_some(()))
    })
    .await;
    assert_eq!(cache.lock().unwrap().node_count(), 1);

    // And the scheduler places the next pod on the node that is left.
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    pods.create(&PostParams::default(), &pod("web", None))
        .await
        .unwrap();
    let bound = eventually("web bound", || {
        std::future::ready({
            let c = cached(&cache);
            c.iter()
                .find(|(_, pods)| pods.contains(&"web".to_string()))
                .map(|(n, _)| n.clone())
        })
    })
    .await;
    assert_eq!(bound, "n2");
}

#[tokio::test]
async fn watches_ended_with_410_relist_and_the_cache_matches_the_api() {
    let pause = WatchPause::new(&["/api/v1/nodes", "/api/v1/pods"]);
    let recorded = Recorded::default();
    let client = recording_api_pausing(recorded.clone(), pause.clone()).await;
    populate(
        &client,
        vec![node("n1"), node("n2"), node("n3")],
        vec![pod("doomed", Some("n3")), pod("kept", Some("n2"))],
    )
    .await;
    let cache = start(Scheduler::new(client.clone())).await;
    assert_eq!(cached(&cache), in_api(&client).await);
    let gets = |path: &str| {
        recorded
            .lock()
            .unwrap()
            .iter()
            .filter(|(m, p, _)| m == "GET" && p == path)
            .count()
    };
    let (node_gets, pod_gets) = (gets("/api/v1/nodes"), gets("/api/v1/pods"));

    let nodes: Api<Node> = Api::all(client.clone());
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    let (pp, ps, dp) = (
        PostParams::default(),
        PatchParams::default(),
        DeleteParams::default(),
    );
    let churn =
        |i: usize| Patch::Merge(json!({ "metadata": { "labels": { "churn": i.to_string() } } }));

    pause.pause();
    // A watch already waiting takes one more event: let these go first.
    nodes.patch("n3", &ps, &churn(0)).await.unwrap();
    pods.patch("kept", &ps, &churn(0)).await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    // What the scheduler must learn from the re-list: a node and a pod deleted, a node and a
    // bound pod added.
    nodes.delete("n1", &dp).await.unwrap();
    // No kubelet runs: delete the bound pod at once rather than gracefully.
    pods.delete("doomed", &DeleteParams::default().grace_period(0))
        .await
        .unwrap();
    nodes.create(&pp, &node("n4")).await.unwrap();
    pods.create(&pp, &pod("newcomer", Some("n4")))
        .await
        .unwrap();
    // Enough writes for both watches to fall more than 1,024 events behind.
    futures::stream::iter(1..=1100)
        .for_each_concurrent(16, |i| {
            let (nodes, pods, ps) = (nodes.clone(), pods.clone(), ps.clone());
            async move {
                nodes.patch("n2", &ps, &churn(i)).await.unwrap();
                pods.patch("kept", &ps, &churn(i)).await.unwrap();
            }
        })
        .await;
    let n2_churn = nodes.get("n2").await.unwrap().metadata.labels.unwrap()["churn"].clone();
    pause.resume();

    // The watches were ended with 410 Gone and both informers listed again (a list and a new
    // watch each); the deletions they never saw as events are gone from the cache.
    let want = in_api(&client).await;
    let expected: BTreeMap<String, Vec<String>> = [
        ("n2", vec!["kept"]),
        ("n3", vec![]),
        ("n4", vec!["newcomer"]),
    ]
    .into_iter()
    .map(|(n, pods)| (n.to_string(), pods.into_iter().map(String::from).collect()))
    .collect();
    assert_eq!(want, expected, "the API itself");
    eventually("the cache matches the API", || {
        std::future::ready((cached(&cache) == want).then_some(()))
    })
    .await;
    assert!(gets("/api/v1/nodes") >= node_gets + 2, "nodes re-listed");
    assert!(gets("/api/v1/pods") >= pod_gets + 2, "pods re-listed");
    eventually("n2's last labels", || {
        std::future::ready((labels(&cache, "n2").get("churn") == Some(&n2_churn)).then_some(()))
    })
    .await;
    let c = cache.lock().unwrap();
    assert_eq!(c.node_count(), 3);
    assert_eq!(c.pod_count(), 2, "kept and newcomer");
}
