//! kernel-sched VolumeBinding end to end through kernel-api: a pod whose claim binds
//! `WaitForFirstConsumer` lands where its volume is, and the scheduler binds the claim and
//! the PV (there is no PV controller); a claim of a provisioning class gets the
//! selected-node annotation and the pod is bound once a provisioner has bound the claim, or
//! the binding fails after `bindTimeoutSeconds`.

use kernel_testing::eventually;
use std::sync::Arc;
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::{Node, PersistentVolume, PersistentVolumeClaim, Pod};
use k8s_openapi::api::storage::v1::StorageClass;
use kernel::api::ApiServer;
use kernel::sched::metrics::{AttemptResult, Metrics};
use kernel::sched::{KubeSchedulerConfiguration, Scheduler};
use kernel::store::MemoryStore;
use kube::api::PostParams;
use kube::{Api, Client};
use serde_json::{json, Value};

const SELECTED_NODE: &str = "volume.kubernetes.io/selected-node";

fn obj<T: serde::de::DeserializeOwned>(v: Value) -> T {
    serde_json::from_value(v).unwrap()
}

fn node(name: &str) -> Node {
    obj(json!({
        "metadata": { "name": name, "labels": { "kubernetes.io/hostname": name } },
        "status": {
            "capacity": { "cpu": "4", "memory": "8Gi", "pods": "110" },
            "allocatable": { "cpu": "4", "memory": "8Gi", "pods": "110" },
            "conditions": [{ "type": "Ready", "status": "True" }],
        }
    }))
}

fn class(name: &str, provisioner: &str) -> StorageClass {
    obj(json!({
        "metadata": { "name": name },
        "provisioner": provisioner,
        "volumeBindingMode": "WaitForFirstConsumer",
    }))
}

fn pv(name: &str, class: &str, on_node: &str, claim_ref: Value) -> PersistentVolume {
    obj(json!({
        "metadata": { "name": name },
        "spec": {
            "storageClassName": class,
            "capacity": { "storage": "1Gi" },
            "accessModes": ["ReadWriteOnce"],
            "local": { "path": "/mnt/disk" },
            "claimRef": claim_ref,
            "nodeAffinity": { "required": { "nodeSelectorTerms": [{ "matchExpressions": [{
                "key": "kubernetes.io/hostname", "operator": "In", "values": [on_node]
            }] }] } },
        }
    }))
}

fn pvc(name: &str, class: &str) -> PersistentVolumeClaim {
    obj(json!({
        "metadata": { "name": name },
        "spec": {
            "storageClassName": class,
            "accessModes": ["ReadWriteOnce"],
            "resources": { "requests": { "storage": "1Gi" } },
        }
    }))
}

fn pod(name: &str, claim: &str) -> Pod {
    obj(json!({
        "metadata": { "name": name },
        "spec": {
            "containers": [{ "name": "c", "image": "busybox:1",
                             "resources": { "requests": { "cpu": "100m", "memory": "64Mi" } } }],
            "volumes": [{ "name": "data", "persistentVolumeClaim": { "claimName": claim } }],
        }
    }))
}

/// An API server with nodes a and b, and a scheduler whose VolumeBinding waits
/// `bind_timeout_seconds` for provisioning.
async fn cluster(bind_timeout_seconds: u64) -> (Client, tokio::task::JoinHandle<()>, Arc<Metrics>) {
    let server = ApiServer::builder()
        .store(Arc::new(MemoryStore::new()))
        .build()
        .await
        .unwrap();
    let client = Client::new(server, "default");
    let nodes: Api<Node> = Api::all(client.clone());
    for n in ["node-a", "node-b"] {
        nodes
            .create(&PostParams::default(), &node(n))
            .await
            .unwrap();
    }
    let cfg = KubeSchedulerConfiguration::from_yaml(&format!(
        "profiles: [{{pluginConfig: [{{name: VolumeBinding, args: {{bindTimeoutSeconds: {bind_timeout_seconds}}}}}]}}]\n"
    ))
    .unwrap();
    let scheduler = Scheduler::from_config(client.clone(), &cfg).unwrap();
    let metrics = scheduler.metrics();
    let handle = tokio::spawn(async move {
        let _ = scheduler.run().await;
    });
    (client, handle, metrics)
}

/// The node pod `name` is bound to now, if any.
async fn bound_node(pods: &Api<Pod>, name: &str) -> Option<String> {
    pods.get(name).await.unwrap().spec.and_then(|s| s.node_name)
}

async fn node_of(pods: &Api<Pod>, name: &str) -> String {
    eventually(&format!("pod {name} to be scheduled"), || {
        bound_node(pods, name)
    })
    .await
}

/// Acts as an external provisioner: a PV on `node`, pre-bound to the claim, then the claim
/// bound to it.
async fn provision(client: &Client, claim: &str, class: &str, node: &str) {
    let pp = PostParams::default();
    let pvs: Api<PersistentVolume> = Api::all(client.clone());
    let pvcs: Api<PersistentVolumeClaim> = Api::namespaced(client.clone(), "default");
    let pv_name = format!("pvc-{claim}");
    let current = pvcs.get(claim).await.unwrap();
    let claim_ref = json!({
        "kind": "PersistentVolumeClaim", "apiVersion": "v1", "namespace": "default",
        "name": claim, "uid": current.metadata.uid,
    });
    let mut volume = pvs
        .create(&pp, &pv(&pv_name, class, node, claim_ref))
        .await
        .unwrap();
    volume.status = Some(obj(json!({ "phase": "Bound" })));
    pvs.replace_status(&pv_name, &pp, &volume).await.unwrap();
    let mut current = pvcs.get(claim).await.unwrap();
    current.spec.as_mut().unwrap().volume_name = Some(pv_name);
    let mut current = pvcs.replace(claim, &pp, &current).await.unwrap();
    current.status = Some(obj(json!({
        "phase": "Bound", "accessModes": ["ReadWriteOnce"], "capacity": { "storage": "1Gi" }
    })));
    pvcs.replace_status(claim, &pp, &current).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn static_pv_is_bound_to_the_claim_on_the_node_of_the_volume() {
    let (client, scheduler, _) = cluster(5).await;
    let pp = PostParams::default();
    let pvs: Api<PersistentVolume> = Api::all(client.clone());
    let pvcs: Api<PersistentVolumeClaim> = Api::namespaced(client.clone(), "default");
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    Api::<StorageClass>::all(client.clone())
        .create(&pp, &class("local", "kubernetes.io/no-provisioner"))
        .await
        .unwrap();
    pvs.create(&pp, &pv("pv-b", "local", "node-b", Value::Null))
        .await
        .unwrap();
    // Two claims, two pods, one PV: exactly one pod gets it.
    for name in ["data-1", "data-2"] {
        pvcs.create(&pp, &pvc(name, "local")).await.unwrap();
    }
    pods.create(&pp, &pod("app-1", "data-1")).await.unwrap();
    pods.create(&pp, &pod("app-2", "data-2")).await.unwrap();

    let (winner, claim, loser) = eventually("one pod to be scheduled", || async {
        for (pod, claim, other) in [("app-1", "data-1", "app-2"), ("app-2", "data-2", "app-1")] {
            if pods
                .get(pod)
                .await
                .unwrap()
                .spec
                .and_then(|s| s.node_name)
                .is_some()
            {
                return Some((pod, claim, other));
            }
        }
        None
    })
    .await;
    assert_eq!(node_of(&pods, winner).await, "node-b");

    let claim_obj = pvcs.get(claim).await.unwrap();
    let volume = pvs.get("pv-b").await.unwrap();
    let claim_ref = volume.spec.as_ref().unwrap().claim_ref.clone().unwrap();
    assert_eq!(claim_ref.kind.as_deref(), Some("PersistentVolumeClaim"));
    assert_eq!(claim_ref.api_version.as_deref(), Some("v1"));
    assert_eq!(claim_ref.namespace.as_deref(), Some("default"));
    assert_eq!(claim_ref.name.as_deref(), Some(claim));
    assert_eq!(claim_ref.uid, claim_obj.metadata.uid);
    assert!(claim_ref.resource_version.is_some());
    assert_eq!(
        volume.status.as_ref().and_then(|s| s.phase.as_deref()),
        Some("Bound")
    );

    let spec = claim_obj.spec.as_ref().unwrap();
    assert_eq!(spec.volume_name.as_deref(), Some("pv-b"));
    let ann = claim_obj.metadata.annotations.clone().unwrap_or_default();
    assert_eq!(
        ann.get("pv.kubernetes.io/bind-completed")
            .map(String::as_str),
        Some("yes")
    );
    assert_eq!(
        ann.get("pv.kubernetes.io/bound-by-controller")
            .map(String::as_str),
        Some("yes")
    );
    let status = claim_obj.status.unwrap();
    assert_eq!(status.phase.as_deref(), Some("Bound"));
    assert_eq!(status.access_modes, Some(vec!["ReadWriteOnce".to_string()]));
    assert_eq!(
        status
            .capacity
            .and_then(|c| c.get("storage").cloned())
            .map(|q| q.0),
        Some("1Gi".to_string())
    );

    // The other pod finds no PV anywhere and stays pending.
    let message = eventually("the loser's PodScheduled=False condition", || async {
        pods.get(loser)
            .await
            .unwrap()
            .status
            .and_then(|s| s.conditions)
            .and_then(|c| c.into_iter().find(|c| c.type_ == "PodScheduled"))
            .and_then(|c| c.message)
            .filter(|m| m.contains("didn't find available persistent volumes to bind"))
    })
    .await;
    assert!(message.starts_with("0/2 nodes are available"), "{message}");
    assert_eq!(bound_node(&pods, loser).await, None);
    let other_claim = if claim == "data-1" {
        "data-2"
    } else {
        "data-1"
    };
    assert!(pvcs
        .get(other_claim)
        .await
        .unwrap()
        .spec
        .unwrap()
        .volume_name
        .is_none());
    scheduler.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn provisioned_claim_gets_the_selected_node_and_the_pod_waits_for_the_provisioner() {
    let (client, scheduler, _) = cluster(15).await;
    let pp = PostParams::default();
    let pvcs: Api<PersistentVolumeClaim> = Api::namespaced(client.clone(), "default");
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    Api::<StorageClass>::all(client.clone())
        .create(&pp, &class("fast", "example.com/fake"))
        .await
        .unwrap();
    pvcs.create(&pp, &pvc("dyn", "fast")).await.unwrap();
    pods.create(&pp, &pod("app", "dyn")).await.unwrap();

    let claim = eventually("the selected-node annotation", || async {
        let c = pvcs.get("dyn").await.unwrap();
        c.metadata
            .annotations
            .as_ref()
            .is_some_and(|a| a.contains_key(SELECTED_NODE))
            .then_some(c)
    })
    .await;
    let ann = claim.metadata.annotations.clone().unwrap();
    let selected = ann[SELECTED_NODE].clone();
    assert!(["node-a", "node-b"].contains(&selected.as_str()));
    assert_eq!(
        ann.get("volume.kubernetes.io/storage-provisioner")
            .map(String::as_str),
        Some("example.com/fake")
    );
    assert_eq!(
        ann.get("volume.beta.kubernetes.io/storage-provisioner")
            .map(String::as_str),
        Some("example.com/fake")
    );
    // PreBind is waiting for the provisioner: the pod is not bound yet.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(bound_node(&pods, "app").await, None);

    provision(&client, "dyn", "fast", &selected).await;
    assert_eq!(node_of(&pods, "app").await, selected);
    scheduler.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn binding_fails_after_the_bind_timeout_and_the_pod_is_retried() {
    let (client, scheduler, metrics) = cluster(1).await;
    let pp = PostParams::default();
    let pvcs: Api<PersistentVolumeClaim> = Api::namespaced(client.clone(), "default");
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    // The provisioner only serves node-b, so every attempt selects node-b.
    let mut slow = class("slow", "example.com/slow");
    slow.allowed_topologies = Some(obj(json!([{ "matchLabelExpressions": [
        { "key": "kubernetes.io/hostname", "values": ["node-b"] }
    ] }])));
    Api::<StorageClass>::all(client.clone())
        .create(&pp, &slow)
        .await
        .unwrap();
    pvcs.create(&pp, &pvc("dyn", "slow")).await.unwrap();
    pods.create(&pp, &pod("app", "dyn")).await.unwrap();

    let selected = eventually("the selected-node annotation", || async {
        pvcs.get("dyn")
            .await
            .unwrap()
            .metadata
            .annotations
            .and_then(|mut a| a.remove(SELECTED_NODE))
    })
    .await;
    assert_eq!(selected, "node-b");
    let asked = Instant::now();
    // Nobody provisions: PreBind gives up after bindTimeoutSeconds and the pod is requeued.
    eventually("a failed binding", || async {
        (metrics.schedule_attempts(AttemptResult::Error) > 0).then_some(())
    })
    .await;
    assert!(asked.elapsed() >= Duration::from_millis(900));
    assert_eq!(bound_node(&pods, "app").await, None);

    // A late provisioner: the retried pod is bound.
    provision(&client, "dyn", "slow", "node-b").await;
    assert_eq!(node_of(&pods, "app").await, "node-b");
    scheduler.abort();
}
