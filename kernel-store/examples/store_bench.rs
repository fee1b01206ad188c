//! Store throughput and watch-latency bench: prints one table row per measurement.
//!
//! ```text
//! cargo run --release -p kernel-store --example store_bench -- [memory|file|etcd|all] [seconds]
//! ```
//!
//! For each backend: writes/s (creates of fresh keys) and reads/s (gets of random existing keys)
//! with 1 and 64 concurrent tasks, and watch delivery latency (write acknowledged → event
//! received) to 1,000 watchers of one prefix. With `etcd` (or `all`) it starts a private etcd on
//! loopback (`$KERNEL_ETCD_BIN`, else `etcd` in `PATH`) and also runs etcd's own
//! `etcdctl check perf` (from `PATH`) against it so the ratio compares like with like.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures::StreamExt;
use kernel_store::{EtcdConfig, EtcdStore, FileStore, MemoryStore, Store, WatchRequest};

const VALUE: usize = 256;

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let which = args.first().map(String::as_str).unwrap_or("all").to_owned();
    let seconds: u64 = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(3);
    let duration = Duration::from_secs(seconds);
    println!("{:<8} {:<28} {:>14}", "backend", "measurement", "result");

    if which == "memory" || which == "all" {
        bench("memory", Arc::new(MemoryStore::new()), duration).await;
    }
    if which == "file" || which == "all" {
        let dir = tempfile::tempdir().unwrap();
        let store = FileStore::open(dir.path().join("bench.redb")).unwrap();
        bench("file", Arc::new(store), duration).await;
    }
    if which == "etcd" || which == "all" {
        let Some(etcd) = kernel_testing::etcd().await else {
            println!("etcd     (skipped: no etcd binary)");
            return;
        };
        let store =
            EtcdStore::connect(EtcdConfig::new(vec![etcd.endpoint()]).with_prefix("/bench"))
                .await
                .unwrap();
        bench("etcd", Arc::new(store), duration).await;
        etcdctl_check_perf(&etcd.endpoint()).await;
    }
}

async fn bench(name: &str, store: Arc<dyn Store>, duration: Duration) {
    for tasks in [1, 64] {
        let ops = writes(&store, tasks, duration).await;
        println!(
            "{name:<8} {:<28} {:>10.0} /s",
            format!("writes, {tasks} task(s)"),
            ops
        );
    }
    for tasks in [1, 64] {
        let ops = reads(&store, tasks, duration).await;
        println!(
            "{name:<8} {:<28} {:>10.0} /s",
            format!("reads, {tasks} task(s)"),
            ops
        );
    }
    let (p50, p99) = watch_latency(&store, 1000, 200).await;
    println!(
        "{name:<8} {:<28} {:>9.3} ms",
        "watch p50, 1000 watchers",
        p50.as_secs_f64() * 1e3
    );
    println!(
        "{name:<8} {:<28} {:>9.3} ms",
        "watch p99, 1000 watchers",
        p99.as_secs_f64() * 1e3
    );
}

async fn writes(store: &Arc<dyn Store>, tasks: usize, duration: Duration) -> f64 {
    let start = Instant::now();
    let mut handles = Vec::new();
    for t in 0..tasks {
        let store = store.clone();
        handles.push(tokio::spawn(async move {
            let value = Bytes::from(vec![b'x'; VALUE]);
            let mut n = 0u64;
            while start.elapsed() < duration {
                store
                    .create(&format!("/w{tasks}/{t}/{n}"), value.clone(), 0)
                    .await
                    .unwrap();
                n += 1;
            }
            n
        }));
    }
    let mut total = 0;
    for h in handles {
        total += h.await.unwrap();
    }
    total as f64 / start.elapsed().as_secs_f64()
}

async fn reads(store: &Arc<dyn Store>, tasks: usize, duration: Duration) -> f64 {
    const KEYS: usize = 1000;
    let value = Bytes::from(vec![b'r'; VALUE]);
    if store.get("/r/0").await.unwrap().is_none() {
        for i in 0..KEYS {
            store
                .create(&format!("/r/{i}"), value.clone(), 0)
                .await
                .unwrap();
        }
    }
    let start = Instant::now();
    let mut handles = Vec::new();
    for t in 0..tasks {
        let store = store.clone();
        handles.push(tokio::spawn(async move {
            let mut n = 0u64;
            let mut i = t * 7919;
            while start.elapsed() < duration {
                i = (i + 104_729) % KEYS;
                let kv = store.get(&format!("/r/{i}")).await.unwrap();
                assert!(kv.is_some());
                n += 1;
            }
            n
        }));
    }
    let mut total = 0;
    for h in handles {
        total += h.await.unwrap();
    }
    total as f64 / start.elapsed().as_secs_f64()
}

/// Opens `watchers` watches on one prefix, writes `writes` keys one after another, and measures
/// for every (watcher, event) pair the time from the write's acknowledgement to delivery.
async fn watch_latency(
    store: &Arc<dyn Store>,
    watchers: usize,
    writes: usize,
) -> (Duration, Duration) {
    let origin = Instant::now();
    let mut handles = Vec::new();
    let (ready_tx, mut ready_rx) = tokio::sync::mpsc::channel(watchers);
    for _ in 0..watchers {
        let mut stream = store.watch(WatchRequest::prefix("/watch/")).await.unwrap();
        let ready = ready_tx.clone();
        handles.push(tokio::spawn(async move {
            let _ = ready.send(()).await;
            let mut received = Vec::with_capacity(writes);
            while received.len() < writes {
                let event = stream.next().await.unwrap().unwrap();
                let at = origin.elapsed().as_nanos() as u64;
                let index: usize = event.kv.key.rsplit('/').next().unwrap().parse().unwrap();
                received.push((index, at));
            }
            received
        }));
    }
    for _ in 0..watchers {
        ready_rx.recv().await.unwrap();
    }
    let mut acked = vec![0u64; writes];
    for (i, slot) in acked.iter_mut().enumerate() {
        store
            .create(&format!("/watch/{i}"), Bytes::from_static(b"w"), 0)
            .await
            .unwrap();
        *slot = origin.elapsed().as_nanos() as u64;
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let mut latencies = Vec::with_capacity(watchers * writes);
    for h in handles {
        for (index, at) in h.await.unwrap() {
            latencies.push(at.saturating_sub(acked[index]));
        }
    }
    latencies.sort_unstable();
    let pick =
        |q: f64| Duration::from_nanos(latencies[((latencies.len() - 1) as f64 * q) as usize]);
    (pick(0.50), pick(0.99))
}

async fn etcdctl_check_perf(endpoint: &str) {
    let output = tokio::process::Command::new("etcdctl")
        .args(["--endpoints", endpoint, "check", "perf", "--load=l"])
        .env("ETCDCTL_API", "3")
        .output()
        .await;
    match output {
        Ok(out) => {
            let text = String::from_utf8_lossy(&out.stdout);
            for line in text.lines().filter(|l| {
                l.contains("Throughput") || l.contains("Slowest") || l.contains("Stddev")
            }) {
                println!(
                    "{:<8} {:<28} {}",
                    "etcdctl",
                    "check perf --load=l",
                    line.trim()
                );
            }
        }
        Err(err) => println!("etcdctl  check perf unavailable: {err}"),
    }
}
