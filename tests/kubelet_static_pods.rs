//! Static pods end to end: a kubelet with a `staticPodPath` (read from an upstream
//! `KubeletConfiguration` file) runs the pods of its manifest directory and shows each as a
//! mirror pod in the API, as kubeadm's control plane runs; deleting the mirror pod does not
//! stop the static pod (the kubelet makes the mirror again), removing the manifest does.

use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::core::v1::Pod;
use kernel::api::ApiServer;
use kernel::store::MemoryStore;
use kernel_node::runtime::{ContainerState, Runtime};
use kernel_node::{Kubelet, KubeletConfig, SimRuntime};
use kernel_testing::eventually;
use kube::api::DeleteParams;
use kube::{Api, Client};

const MANIFEST: &str = "\
apiVersion: v1
kind: Pod
metadata:
  name: etcd
  namespace: kube-system
  labels: {component: etcd, tier: control-plane}
spec:
  containers:
  - name: etcd
    image: registry.k8s.io/etcd:3.5
    command: [etcd]
";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn static_pods_run_from_files_and_show_as_mirror_pods() {
    let server = ApiServer::builder()
        .store(Arc::new(MemoryStore::new()))
        .build()
        .await
        .unwrap();
    let client = Client::new(server, "default");
    let root = tempfile::tempdir().unwrap();
    let manifests = root.path().join("manifests");
    std::fs::create_dir(&manifests).unwrap();
    std::fs::write(manifests.join("etcd.yaml"), MANIFEST).unwrap();

    // The settings come from an upstream KubeletConfiguration file.
    let file = KubeletConfig::from_kubelet_configuration(&format!(
        "apiVersion: kubelet.config.k8s.io/v1beta1\n\
         kind: KubeletConfiguration\n\
         staticPodPath: {}\n\
         fileCheckFrequency: 200ms\n\
         nodeStatusUpdateFrequency: 500ms\n",
        manifests.display()
    ))
    .unwrap();
    assert!(file.ignored.is_empty(), "{:?}", file.ignored);
    let config = KubeletConfig {
        pod_relist_period: Duration::from_millis(100),
        root_dir: Some(root.path().join("kubelet")),
        ..file.config
    };
    let runtime = Arc::new(SimRuntime::new());
    let start = || {
        let kubelet = Kubelet::builder(client.clone(), "cp-1")
            .runtime(runtime.clone())
            .pod_cidr("10.88.0.0/24")
            .config(config.clone())
            .build()
            .unwrap();
        tokio::spawn(async move { kubelet.run().await.unwrap() })
    };
    let mut task = start();

    let pods: Api<Pod> = Api::namespaced(client.clone(), "kube-system");
    let running =
        |pod: &Pod| pod.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Running");
    let mirror = eventually("the mirror pod to show the static pod Running", || async {
        pods.get_opt("etcd-cp-1").await.unwrap().filter(running)
    })
    .await;
    let annotations = mirror.metadata.annotations.clone().unwrap_or_default();
    let hash = annotations["kubernetes.io/config.mirror"].clone();
    assert_eq!(annotations["kubernetes.io/config.hash"], hash);
    assert_eq!(annotations["kubernetes.io/config.source"], "file");
    assert_ne!(mirror.metadata.uid.as_deref(), Some(hash.as_str()));
    let owner = &mirror.metadata.owner_references.as_ref().unwrap()[0];
    assert_eq!((owner.kind.as_str(), owner.name.as_str()), ("Node", "cp-1"));
    assert_eq!(
        mirror.spec.as_ref().unwrap().node_name.as_deref(),
        Some("cp-1")
    );
    let running_containers = || async {
        let all = runtime.list_containers(None).await.unwrap();
        all.into_iter()
            .filter(|c| c.state == ContainerState::Running)
            .map(|c| c.id)
            .collect::<Vec<_>>()
    };
    let before = running_containers().await;
    assert_eq!(before.len(), 1, "one container runs");

    // A kubelet started again lists the mirror pod with the others: it runs the static pod
    // (adopting its container), never the mirror as a pod of its own.
    task.abort();
    task = start();
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(
        running_containers().await,
        before,
        "only the static pod runs"
    );

    // Deleting the mirror pod does not stop the static pod: the mirror comes back.
    pods.delete("etcd-cp-1", &DeleteParams::default())
        .await
        .unwrap();
    let old_uid = mirror.metadata.uid.clone();
    eventually("a new mirror pod, Running", || async {
        pods.get_opt("etcd-cp-1")
            .await
            .unwrap()
            .filter(|p| p.metadata.uid != old_uid && p.metadata.deletion_timestamp.is_none())
            .filter(running)
    })
    .await;
    assert_eq!(
        running_containers().await,
        before,
        "the static pod kept running"
    );

    // Removing the manifest stops the pod and deletes the mirror.
    std::fs::remove_file(manifests.join("etcd.yaml")).unwrap();
    eventually("the mirror pod to go", || async {
        pods.get_opt("etcd-cp-1")
            .await
            .unwrap()
            .is_none()
            .then_some(())
    })
    .await;
    eventually("the static pod's container to stop", || async {
        running_containers().await.is_empty().then_some(())
    })
    .await;
    task.abort();
}
