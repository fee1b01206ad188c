//! Many simulated kubelets in one process: N real kubelet loops (registration, node status,
//! Lease renewal, pod workers, status manager) on [`SimRuntime`]s, against an in-process API
//! server and scheduler — a scale test of the control plane with real node agents, unlike
//! kwok's status faker.
//!
//! ```text
//! cargo run --release --example sim_kubelets_bench -- [kubelets] [pods per node]
//! ```
//!
//! Defaults: 1,000 kubelets, 5 pods each. Prints the time until every Node is Ready, the time
//! from creating all pods until every one is Running, and the process's resident memory
//! (VmRSS) with everything running. Upstream has no single-process equivalent; its SLOs
//! (sig-scalability) are pod startup p99 ≤ 5 s and 110 pods per node.

use std::sync::Arc;
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::{Node, Pod};
use kernel_api::ApiServer;
use kernel_node::{Kubelet, KubeletConfig, SimRuntime};
use kernel_sched::Scheduler;
use kernel_store::MemoryStore;
use kube::api::ListParams;
use kube::{Api, Client};
use serde_json::json;

#[path = "support/run_pods.rs"]
mod run_pods;
use run_pods::{run_pods, BoxError};

/// How long to wait for each phase.
const TIMEOUT: Duration = Duration::from_secs(600);

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    let mut args = std::env::args().skip(1);
    let kubelets: usize = args.next().map(|a| a.parse()).transpose()?.unwrap_or(1000);
    let per_node: usize = args.next().map(|a| a.parse()).transpose()?.unwrap_or(5);
    let root = tempfile::tempdir()?;
    let server = ApiServer::builder()
        .store(Arc::new(MemoryStore::new()))
        .build()
        .await?;
    let client = Client::new(server, "default");
    let rss_api = rss_mib();

    let t0 = Instant::now();
    let mut tasks = Vec::with_capacity(kubelets);
    for i in 0..kubelets {
        let name = format!("sim-{i:04}");
        let kubelet = Kubelet::builder(client.clone(), name.clone())
            .runtime(Arc::new(SimRuntime::new()))
            .capacity([("cpu", "8"), ("memory", "32Gi"), ("pods", "110")])
            .pod_cidr(format!("10.{}.{}.0/24", 64 + i / 256, i % 256))
            .config(KubeletConfig {
                root_dir: Some(root.path().join(&name)),
                ..KubeletConfig::default()
            })
            .build()?;
        tasks.push(tokio::spawn(kubelet.run()));
    }
    let nodes: Api<Node> = Api::all(client.clone());
    tokio::time::timeout(TIMEOUT, async {
        loop {
            let list = nodes.list(&ListParams::default()).await?;
            let ready = list.items.iter().filter(|n| is_ready(n)).count();
            if ready == kubelets {
                return Ok::<_, BoxError>(());
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    })
    .await
    .map_err(|_| "the nodes did not all become Ready")??;
    let nodes_ready = t0.elapsed();
    let rss_nodes = rss_mib();

    let scheduler = Scheduler::new(client.clone());
    let synced = scheduler.synced();
    let _scheduler = tokio::spawn(scheduler.run());
    synced.await;
    let pods = kubelets * per_node;
    let api: Api<Pod> = Api::namespaced(client.clone(), "default");
    let make = |i: usize| -> Pod {
        serde_json::from_value(json!({
            "metadata": { "name": format!("p{i:06}"), "labels": { "bench": "sim" } },
            "spec": { "containers": [{
                "name": "c", "image": "busybox:1", "command": ["sleep", "3600"],
                "resources": { "requests": { "cpu": "10m", "memory": "16Mi" } },
            }] },
        }))
        .expect("a pod")
    };
    let t1 = Instant::now();
    run_pods(&api, "sim", pods, make, TIMEOUT).await?;
    let pods_running = t1.elapsed();
    println!("simulated kubelets in one process: {kubelets} nodes, {pods} pods");
    println!(
        "  all nodes Ready        {:>8.2} s",
        nodes_ready.as_secs_f64()
    );
    println!(
        "  all pods Running       {:>8.2} s  ({:.0} pods/s, created + scheduled + started)",
        pods_running.as_secs_f64(),
        pods as f64 / pods_running.as_secs_f64()
    );
    println!("  VmRSS: API server alone {rss_api} MiB; with the kubelets {rss_nodes} MiB; with the pods {} MiB", rss_mib());
    for task in tasks {
        task.abort();
    }
    Ok(())
}

fn is_ready(node: &Node) -> bool {
    node.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|cs| cs.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
}

/// This process's resident memory (`VmRSS`), in MiB.
fn rss_mib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<u64>().ok())
        })
        .map_or(0, |kb| kb / 1024)
}
