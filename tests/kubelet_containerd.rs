//! kernel-node's kubelet on `CriRuntime` against a real containerd (kernel-testing's, with its
//! own root, socket and CNI bridge), through the in-process kernel-api: the Node reports
//! containerd as its runtime, a busybox pod runs with an IP of the CNI subnet and serves HTTP
//! there, a failing container's exit code reaches the pod status, a deleted pod's containers
//! are gone from containerd. Needs root, containerd, runc, the CNI plugins and busybox-static;
//! skipped with a notice otherwise, unless `KERNEL_REQUIRE_ALL=1`.

use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::core::v1::{Node, Pod};
use kernel::api::ApiServer;
use kernel::store::MemoryStore;
use kernel_node::runtime::cri::CriRuntime;
use kernel_node::runtime::Runtime;
use kernel_node::{Kubelet, KubeletConfig};
use kernel_testing::{containerd, eventually};
use kube::api::{DeleteParams, PostParams};
use kube::{Api, Client};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const NODE: &str = "cri-node";
const SUBNET: &str = "10.66.20.0/24";

fn pod(name: &str, script: &str, restart: &str) -> Pod {
    serde_json::from_value(json!({
        "metadata": { "name": name },
        "spec": {
            "nodeName": NODE,
            "restartPolicy": restart,
            "terminationGracePeriodSeconds": 1,
            "containers": [{
                "name": "c", "image": "busybox:latest", "imagePullPolicy": "IfNotPresent",
                "command": ["sh", "-c", script],
            }],
        },
    }))
    .unwrap()
}

#[tokio::test]
async fn kubelet_runs_pods_on_containerd() {
    let Some(containerd) = containerd(SUBNET).await else {
        return;
    };
    let runtime = Arc::new(CriRuntime::connect(containerd.socket()).await.unwrap());
    let server = ApiServer::builder()
        .store(Arc::new(MemoryStore::new()))
        .build()
        .await
        .unwrap();
    let client = Client::new(server, "default");
    let root = tempfile::tempdir().unwrap();
    let kubelet = Kubelet::builder(client.clone(), NODE)
        .runtime(runtime.clone())
        .capacity([("cpu", "4"), ("memory", "8Gi")])
        .pod_cidr(SUBNET)
        .config(KubeletConfig {
            node_status_update_frequency: Duration::from_millis(500),
            pod_relist_period: Duration::from_millis(200),
            root_dir: Some(root.path().to_path_buf()),
            ..KubeletConfig::default()
        })
        .build()
        .unwrap();
    let task = tokio::spawn(async move { kubelet.run().await.unwrap() });

    let nodes: Api<Node> = Api::all(client.clone());
    let runtime_version = eventually("the node registers", || async {
        let node = nodes.get_opt(NODE).await.ok().flatten()?;
        node.status?.node_info.map(|i| i.container_runtime_version)
    })
    .await;
    assert!(
        runtime_version.starts_with("containerd://"),
        "{runtime_version}"
    );

    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    let web = "echo hello-from-containerd > /var/www/index.html; exec httpd -f -p 8080 -h /var/www";
    pods.create(&PostParams::default(), &pod("web", web, "Always"))
        .await
        .unwrap();
    let ip = eventually("the pod runs with an IP", || async {
        let status = pods.get("web").await.ok()?.status?;
        (status.phase.as_deref() == Some("Running")).then_some(())?;
        status.pod_ip
    })
    .await;
    let ip: std::net::IpAddr = ip.parse().unwrap();
    assert!(
        kernel_node::network::ipam::Subnet::parse(SUBNET)
            .unwrap()
            .contains(ip),
        "{ip} not in {SUBNET}"
    );
    let body = eventually("httpd answers on the pod IP", || async move {
        let mut conn = tokio::net::TcpStream::connect((ip, 8080)).await.ok()?;
        conn.write_all(b"GET / HTTP/1.0\r\n\r\n").await.ok()?;
        let mut response = String::new();
        conn.read_to_string(&mut response).await.ok()?;
        response.contains("200").then_some(response)
    })
    .await;
    assert!(body.contains("hello-from-containerd"), "{body}");
    let status = pods.get("web").await.unwrap().status.unwrap();
    let c = &status.container_statuses.unwrap()[0];
    assert!(c.ready, "{c:?}");
    assert!(!c.image_id.is_empty(), "{c:?}");

    pods.create(&PostParams::default(), &pod("fail", "exit 3", "Never"))
        .await
        .unwrap();
    let code = eventually("the failing pod's exit code", || async {
        let status = pods.get("fail").await.ok()?.status?;
        (status.phase.as_deref() == Some("Failed")).then_some(())?;
        let c = status.container_statuses?.into_iter().next()?;
        c.state?.terminated.map(|t| t.exit_code)
    })
    .await;
    assert_eq!(code, 3);

    let uid = pods.get("web").await.unwrap().metadata.uid.unwrap();
    pods.delete("web", &DeleteParams::default()).await.unwrap();
    eventually("the deleted pod's sandbox is gone from containerd", || {
        let (runtime, uid) = (runtime.clone(), uid.clone());
        async move {
            let sandboxes = runtime.list_pod_sandboxes().await.ok()?;
            (!sandboxes.iter().any(|s| s.config.uid == uid)).then_some(())
        }
    })
    .await;
    task.abort();
}
