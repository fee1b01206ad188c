//! API server bench: throughput and latency through real clients, in-process and over HTTPS.
//!
//! ```text
//! cargo run --release --example api_bench -- [memory|etcd|all] [requests-per-test]
//! ```
//!
//! Measured the way `shared/reference/ANCHORS.md` measured upstream kube-apiserver v1.33: 64
//! concurrent clients POSTing ConfigMaps and Pods with `generateName`, GETting one ConfigMap, and
//! LISTing with `limit=10`; plus full LISTs of 1,000 and 10,000 pods, watch fan-out to 1,000
//! watchers (write → event delivered), time from start to the first `/readyz`, and resident
//! memory. Every client is a `kube::Client`: in-process over the server's tower service, or over
//! HTTPS from the kubeconfig the server writes.

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::{ConfigMap, Pod};
use kernel_api::ApiServer;
use kernel_store::{EtcdConfig, EtcdStore, MemoryStore, Store};
use kube::api::{ListParams, PostParams, WatchEvent, WatchParams};
use kube::{Api, Client};

const CONCURRENCY: usize = 64;

// The binaries (not the libraries) choose the allocator: the API server allocates many small
// JSON nodes, where mimalloc is markedly faster than glibc's malloc.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let which = args.first().cloned().unwrap_or_else(|| "memory".into());
    let requests: usize = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(10_000);
    println!(
        "{:<7} {:<9} {:<34} {:>12} {:>10}",
        "store", "transport", "measurement", "result", "p99"
    );
    if which == "memory" || which == "all" {
        run("memory", Arc::new(MemoryStore::new()), requests).await?;
    }
    if which == "etcd" || which == "all" {
        match kernel_testing::etcd().await {
            Some(etcd) => {
                let store = EtcdStore::connect(EtcdConfig::new(vec![etcd.endpoint()])).await?;
                run("etcd", Arc::new(store), requests).await?;
            }
            None => println!("etcd    (skipped: no etcd binary)"),
        }
    }
    println!(
        "process VmRSS after the run: {} MiB (server and clients together)",
        rss_mib()
    );
    Ok(())
}

async fn run(
    name: &str,
    store: Arc<dyn Store>,
    requests: usize,
) -> Result<(), Box<dyn std::error::Error>> {
    let started = Instant::now();
    let server = ApiServer::builder().store(store).build().await?;
    let serving = server.bind("127.0.0.1:0".parse()?).await?;
    let dir = tempfile::tempdir()?;
    let kubeconfig = dir.path().join("kubeconfig");
    server.write_kubeconfig(&kubeconfig)?;
    let https = https_client(&kubeconfig).await?;
    loop {
        if https
            .request_text(http::Request::get("/readyz").body(Vec::new())?)
            .await
            .is_ok()
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let ready = started.elapsed();
    println!(
        "{name:<7} {:<9} {:<34} {:>9.1} ms",
        "https",
        "start → first /readyz ok",
        ready.as_secs_f64() * 1e3
    );

    let in_process = Client::new(server.clone(), "default");
    if std::env::var("API_BENCH_ONLY").is_ok_and(|v| v == "pods") {
        // For profiling: in-process pod creates only.
        report(
            name,
            "in-proc",
            "POST pods (generateName)",
            load(&in_process, requests, Op::CreatePod).await,
        );
        return Ok(());
    }
    for (transport, client) in [("in-proc", in_process), ("https", https)] {
        let n = if transport == "https" {
            requests / 2
        } else {
            requests
        };
        report(
            name,
            transport,
            "POST configmaps (generateName)",
            load(&client, n, Op::CreateConfigMap).await,
        );
        report(
            name,
            transport,
            "POST pods (generateName)",
            load(&client, n, Op::CreatePod).await,
        );
        report(
            name,
            transport,
            "GET one configmap",
            load(&client, n, Op::GetConfigMap).await,
        );
        report(
            name,
            transport,
            "LIST configmaps limit=10",
            load(&client, n / 4, Op::ListLimit10).await,
        );
        report(
            name,
            transport,
            "1 client: POST pod",
            load_with(&client, n / 10, Op::CreatePod, 1).await,
        );
        report(
            name,
            transport,
            "1 client: GET configmap",
            load_with(&client, n / 10, Op::GetConfigMap, 1).await,
        );
        for pods in [1_000usize, 10_000] {
            let ns = format!("list-{transport}-{pods}");
            fill_pods(&client, &ns, pods).await;
            let api: Api<Pod> = Api::namespaced(client.clone(), &ns);
            let t = Instant::now();
            let rounds = 5;
            for _ in 0..rounds {
                let list = api.list(&ListParams::default()).await.expect("list");
                assert_eq!(list.items.len(), pods);
            }
            let each = t.elapsed() / rounds;
            println!(
                "{name:<7} {transport:<9} {:<34} {:>9.1} ms",
                format!("LIST {pods} pods (full)"),
                each.as_secs_f64() * 1e3
            );
        }
        let (p50, p99) = watch_fan_out(&client, transport, 1000, 50).await;
        println!(
            "{name:<7} {transport:<9} {:<34} {:>9.2} ms {:>7.2} ms",
            "watch fan-out 1000 watchers (p50)",
            p50.as_secs_f64() * 1e3,
            p99.as_secs_f64() * 1e3
        );
    }
    serving.shutdown().await;
    Ok(())
}

async fn https_client(kubeconfig: &std::path::Path) -> Result<Client, Box<dyn std::error::Error>> {
    let config = kube::Config::from_custom_kubeconfig(
        kube::config::Kubeconfig::read_from(kubeconfig)?,
        &kube::config::KubeConfigOptions::default(),
    )
    .await?;
    Ok(Client::try_from(config)?)
}

#[derive(Clone, Copy)]
enum Op {
    CreateConfigMap,
    CreatePod,
    GetConfigMap,
    ListLimit10,
}

struct Outcome {
    per_second: f64,
    p99: Duration,
}

fn report(store: &str, transport: &str, what: &str, outcome: Outcome) {
    println!(
        "{store:<7} {transport:<9} {what:<34} {:>10.0}/s {:>7.2} ms",
        outcome.per_second,
        outcome.p99.as_secs_f64() * 1e3
    );
}

fn pod(generate_name: &str) -> Pod {
    serde_json::from_value(serde_json::json!({
        "metadata": { "generateName": generate_name, "labels": { "app": "bench" } },
        "spec": { "containers": [{ "name": "c", "image": "busybox:1", "command": ["sleep", "3600"],
                   "resources": { "requests": { "cpu": "100m", "memory": "64Mi" } } }] }
    }))
    .expect("pod")
}

fn config_map(generate_name: &str) -> ConfigMap {
    serde_json::from_value(serde_json::json!({
        "metadata": { "generateName": generate_name },
        "data": { "key": "value" }
    }))
    .expect("configmap")
}

async fn load(client: &Client, total: usize, op: Op) -> Outcome {
    load_with(client, total, op, CONCURRENCY).await
}

async fn load_with(client: &Client, total: usize, op: Op, concurrency: usize) -> Outcome {
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    if matches!(op, Op::GetConfigMap | Op::ListLimit10)
        && cms.get_opt("bench-target").await.unwrap().is_none()
    {
        let mut cm = config_map("");
        cm.metadata.name = Some("bench-target".into());
        cm.metadata.generate_name = None;
        cms.create(&PostParams::default(), &cm).await.unwrap();
    }
    let per_task = total.div_ceil(concurrency);
    let start = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..concurrency {
        let client = client.clone();
        tasks.push(tokio::spawn(async move {
            let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
            let pods: Api<Pod> = Api::namespaced(client, "default");
            let mut latencies = Vec::with_capacity(per_task);
            for _ in 0..per_task {
                let t = Instant::now();
                match op {
                    Op::CreateConfigMap => {
                        cms.create(&PostParams::default(), &config_map("bench-"))
                            .await
                            .unwrap();
                    }
                    Op::CreatePod => {
                        pods.create(&PostParams::default(), &pod("bench-"))
                            .await
                            .unwrap();
                    }
                    Op::GetConfigMap => {
                        cms.get("bench-target").await.unwrap();
                    }
                    Op::ListLimit10 => {
                        cms.list(&ListParams::default().limit(10)).await.unwrap();
                    }
                }
                latencies.push(t.elapsed());
            }
            latencies
        }));
    }
    let mut latencies = Vec::new();
    for task in tasks {
        latencies.extend(task.await.unwrap());
    }
    let elapsed = start.elapsed();
    latencies.sort_unstable();
    Outcome {
        per_second: latencies.len() as f64 / elapsed.as_secs_f64(),
        p99: latencies[(latencies.len() - 1) * 99 / 100],
    }
}

async fn fill_pods(client: &Client, namespace: &str, count: usize) {
    let namespaces: Api<k8s_openapi::api::core::v1::Namespace> = Api::all(client.clone());
    let ns =
        serde_json::from_value(serde_json::json!({ "metadata": { "name": namespace } })).unwrap();
    namespaces
        .create(&PostParams::default(), &ns)
        .await
        .unwrap();
    let pods: Api<Pod> = Api::namespaced(client.clone(), namespace);
    futures::stream::iter(0..count)
        .map(|_| {
            let pods = pods.clone();
            async move {
                pods.create(&PostParams::default(), &pod("fill-"))
                    .await
                    .map(|_| ())
            }
        })
        .buffer_unordered(CONCURRENCY)
        .try_collect::<Vec<_>>()
        .await
        .unwrap();
}

/// `watchers` watches of one namespace's pods; `writes` pods created one after another; for each
/// (watcher, event) the time from the create's response to the event's arrival.
async fn watch_fan_out(
    client: &Client,
    transport: &str,
    watchers: usize,
    writes: usize,
) -> (Duration, Duration) {
    let namespace = format!("watch-{transport}");
    let namespaces: Api<k8s_openapi::api::core::v1::Namespace> = Api::all(client.clone());
    let ns =
        serde_json::from_value(serde_json::json!({ "metadata": { "name": namespace } })).unwrap();
    namespaces
        .create(&PostParams::default(), &ns)
        .await
        .unwrap();
    let pods: Api<Pod> = Api::namespaced(client.clone(), &namespace);
    let origin = Instant::now();
    let version = pods
        .list(&ListParams::default().limit(1))
        .await
        .unwrap()
        .metadata
        .resource_version
        .unwrap();
    let mut handles = Vec::new();
    for _ in 0..watchers {
        let pods = pods.clone();
        let version = version.clone();
        handles.push(tokio::spawn(async move {
            let stream = pods
                .watch(&WatchParams::default().timeout(290), &version)
                .await
                .unwrap();
            let mut stream = Box::pin(stream);
            let mut seen = Vec::with_capacity(writes);
            while seen.len() < writes {
                match stream.next().await {
                    Some(Ok(WatchEvent::Added(pod))) => {
                        let index: usize = pod.metadata.labels.unwrap()["i"].parse().unwrap();
                        seen.push((index, origin.elapsed()));
                    }
                    Some(Ok(_)) => {}
                    other => panic!("watch ended: {other:?}"),
                }
            }
            seen
        }));
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mut acked = Vec::with_capacity(writes);
    for i in 0..writes {
        let mut p = pod("w-");
        p.metadata
            .labels
            .get_or_insert_with(Default::default)
            .insert("i".into(), i.to_string());
        pods.create(&PostParams::default(), &p).await.unwrap();
        acked.push(origin.elapsed());
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let mut latencies = Vec::new();
    for handle in handles {
        for (index, at) in handle.await.unwrap() {
            latencies.push(at.saturating_sub(acked[index]));
        }
    }
    latencies.sort_unstable();
    (
        latencies[latencies.len() / 2],
        latencies[(latencies.len() - 1) * 99 / 100],
    )
}

fn rss_mib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .map(str::to_owned)
        })
        .and_then(|l| {
            l.split_whitespace()
                .nth(1)
                .and_then(|kb| kb.parse::<u64>().ok())
        })
        .map_or(0, |kb| kb / 1024)
}
