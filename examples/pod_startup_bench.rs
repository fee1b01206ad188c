//! Pod startup latency through a real kubelet, measured the way
//! `shared/reference/podlat.py` measures upstream: N pods created at once, each pod's latency
//! the wall time from just before the first create to the first watch event that shows it
//! `Running`.
//!
//! ```text
//! cargo run --release --example pod_startup_bench -- [pods] [process|sim|containerd]
//! ```
//!
//! Defaults: 100 pods, the process runtime. `containerd` (root, containerd, runc, the CNI
//! plugins and busybox-static installed) starts a throwaway containerd of kernel-testing's
//! (its own root and socket, a CNI bridge on 10.66.100.0/24, busybox imported as the pods'
//! image) and runs the kubelet on `CriRuntime`: real containers, as upstream measures (on this
//! machine, release build, Debian's containerd 1.6.20, 30 pods: p50 2.5–3.4 s, p99 2.7–3.8 s). The bench starts an in-process API server (memory
//! store), the scheduler and one kubelet with the chosen runtime, waits until the node is
//! Ready and the scheduler has synced, opens a pod watch, creates the pods concurrently
//! (`sleep 3600`, `terminationGracePeriodSeconds: 0`, the image present) and prints p50, p90,
//! p99 and max, and the time until every pod was Running. Upstream on this machine
//! (`ANCHORS.md`): 30 pods with containerd, p50 3.4–4.2 s, p99 3.8–4.5 s; the published SLO is
//! p99 ≤ 5 s.

use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::core::v1::{Node, Pod};
use kernel_api::ApiServer;
use kernel_node::runtime::cri::CriRuntime;
use kernel_node::runtime::Runtime;
use kernel_node::{HostNetwork, Kubelet, KubeletConfig, ProcessRuntime, SimRuntime};
use kernel_sched::Scheduler;
use kernel_store::MemoryStore;
use kube::{Api, Client};
use serde_json::json;

#[path = "support/run_pods.rs"]
mod run_pods;
use run_pods::{run_pods, BoxError};

/// The node the kubelet registers.
const NODE: &str = "bench-node";

/// How long to wait for every pod to run.
const TIMEOUT: Duration = Duration::from_secs(300);

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    let mut args = std::env::args().skip(1);
    let pods: usize = args.next().map(|a| a.parse()).transpose()?.unwrap_or(100);
    let runtime_name = args.next().unwrap_or_else(|| "process".into());
    let root = tempfile::tempdir()?;

    let server = ApiServer::builder()
        .store(Arc::new(MemoryStore::new()))
        .build()
        .await?;
    let client = Client::new(server, "default");
    // Kept until the end: dropping it stops containerd and every container.
    let mut _containerd = None;
    let (runtime, process): (Arc<dyn Runtime>, Option<ProcessRuntime>) = match runtime_name.as_str()
    {
        "sim" => (Arc::new(SimRuntime::new()), None),
        "process" => {
            let runtime = ProcessRuntime::new(root.path().join("pods"), HostNetwork::new());
            (Arc::new(runtime.clone()), Some(runtime))
        }
        "containerd" => {
            let containerd = kernel_testing::ContainerdProcess::start("10.66.100.0/24").await?;
            // The pods' image, next to the harness's busybox:latest.
            let archive = containerd.dir().join("busybox-1.tar");
            containerd
                .build_busybox_archive(&archive, &[("docker.io/library/busybox:1", &["sh"])])?;
            containerd.import_image(&archive).await?;
            let runtime = CriRuntime::connect(containerd.socket()).await?;
            _containerd = Some(containerd);
            (Arc::new(runtime), None)
        }
        other => {
            return Err(format!("unknown runtime {other:?} (process, sim or containerd)").into())
        }
    };
    let kubelet = Kubelet::builder(client.clone(), NODE)
        .runtime(runtime)
        .capacity([("cpu", "64"), ("memory", "256Gi"), ("pods", "1000")])
        .pod_cidr("10.244.0.0/16")
        .config(KubeletConfig {
            root_dir: Some(root.path().to_path_buf()),
            max_pods: 1000,
            ..KubeletConfig::default()
        })
        .build()?;
    let kubelet = tokio::spawn(kubelet.run());
    let scheduler = Scheduler::new(client.clone());
    let synced = scheduler.synced();
    let scheduler = tokio::spawn(scheduler.run());
    synced.await;
    wait_node_ready(&client).await?;

    let api: Api<Pod> = Api::namespaced(client.clone(), "default");
    let make = |i: usize| -> Pod {
        serde_json::from_value(json!({
            "metadata": { "name": format!("p{i:03}"), "labels": { "bench": "podlat" } },
            "spec": {
                "terminationGracePeriodSeconds": 0,
                "containers": [{
                    "name": "c", "image": "busybox:1", "imagePullPolicy": "IfNotPresent",
                    "command": ["sleep", "3600"],
                }],
            },
        }))
        .expect("a pod")
    };
    let running = run_pods(&api, "podlat", pods, make, TIMEOUT).await?;
    let mut latencies: Vec<Duration> = running.into_values().collect();
    latencies.sort();
    let pct = |p: f64| {
        let rank = ((p / 100.0 * latencies.len() as f64).ceil() as usize).max(1);
        latencies[rank.min(latencies.len()) - 1]
    };
    println!(
        "runtime {runtime_name}: {pods} pods created at once -> Running: p50 {:.3} s, p90 {:.3} s, p99 {:.3} s, max {:.3} s",
        pct(50.0).as_secs_f64(),
        pct(90.0).as_secs_f64(),
        pct(99.0).as_secs_f64(),
        latencies[latencies.len() - 1].as_secs_f64(),
    );
    kubelet.abort();
    scheduler.abort();
    if let Some(process) = process {
        process.shutdown(Duration::from_secs(5)).await?;
    }
    Ok(())
}

/// Waits until the kubelet's node is Ready.
async fn wait_node_ready(client: &Client) -> Result<(), BoxError> {
    let nodes: Api<Node> = Api::all(client.clone());
    for _ in 0..600 {
        if let Some(node) = nodes.get_opt(NODE).await? {
            let ready = node
                .status
                .and_then(|s| s.conditions)
                .unwrap_or_default()
                .into_iter()
                .any(|c| c.type_ == "Ready" && c.status == "True");
            if ready {
                return Ok(());
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Err("the node never became Ready".into())
}
