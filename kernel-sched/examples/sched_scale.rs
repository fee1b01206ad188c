//! Scale benchmark of the pure scheduling algorithm, modelled on upstream scheduler_perf
//! `SchedulingBasic` and `SchedulingPodAntiAffinity`: 5,000 nodes, 10,000 existing pods, then
//! 10,000 more pods scheduled one by one (snapshot update → schedule → assume), like the
//! scheduler's own loop minus the API calls.
//!
//! Run with `cargo run -p kernel-sched --release --example sched_scale [nodes] [existing] [pods]`;
//! `SCHED_CASE=Basic` runs only the cases whose name contains `Basic`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::{Affinity, Pod, PodAffinityTerm, PodAntiAffinity};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use kernel_sched::plugins::{default_framework, Handle, LABEL_HOSTNAME};
use kernel_sched::testing::{node, pod};
use kernel_sched::{schedule_pod, Cache, CycleState, PodInfo, ScheduleState, Snapshot};

// The binary (not the library) chooses the allocator, as the workspace's other bench binaries
// do: the scheduler's cache allocates and frees many small pod and node entries.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// One bench case: its name and the pods it schedules.
struct Case {
    name: &'static str,
    make_pod: fn(usize) -> Pod,
}

/// Upstream's `pod-default.yaml`: 100m CPU, 500Mi memory.
fn basic_pod(i: usize) -> Pod {
    pod(&format!("p-{i}"))
        .uid(&format!("uid-{i}"))
        .req("100m", "500Mi")
        .obj()
}

/// Upstream's `pod-with-pod-anti-affinity.yaml`, with the colour split four ways so 10,000
/// pods fit on 5,000 nodes (upstream only measures 1,000 such pods).
fn anti_affinity_pod(i: usize) -> Pod {
    let color = format!("c{}", i % 4);
    let term = PodAffinityTerm {
        label_selector: Some(LabelSelector {
            match_labels: Some([("color".to_string(), color.clone())].into()),
            match_expressions: None,
        }),
        topology_key: LABEL_HOSTNAME.into(),
        namespaces: Some(vec!["sched-0".into(), "sched-1".into()]),
        ..Default::default()
    };
    pod(&format!("aa-{i}"))
        .namespace("sched-1")
        .uid(&format!("aa-uid-{i}"))
        .label("color", &color)
        .req("100m", "500Mi")
        .affinity(Affinity {
            pod_anti_affinity: Some(PodAntiAffinity {
                required_during_scheduling_ignored_during_execution: Some(vec![term]),
                ..Default::default()
            }),
            ..Default::default()
        })
        .obj()
}

fn run(
    case: &Case,
    nodes: usize,
    existing: usize,
    pods: usize,
) -> (f64, Duration, Duration, usize) {
    let mut cache = Cache::new();
    for i in 0..nodes {
        // Upstream's `node-default.yaml`: 4 CPU, 32Gi, 110 pods.
        cache.add_or_update_node(
            node(&format!("node-{i}"))
                .cpu("4")
                .memory("32Gi")
                .pods(110)
                .obj(),
        );
    }
    for i in 0..existing {
        let mut p = basic_pod(1_000_000 + i);
        p.spec.as_mut().unwrap().node_name = Some(format!("node-{}", i % nodes));
        cache.add_or_update_pod(p);
    }
    let fwk = default_framework(&Handle::default());
    let mut snapshot = Snapshot::default();
    // The initial full snapshot belongs to setup (upstream measures after the init phase).
    cache.update_snapshot(&mut snapshot);
    let mut st = ScheduleState::with_seed(1);
    let infos: Vec<Arc<PodInfo>> = (0..pods)
        .map(|i| Arc::new(PodInfo::new((case.make_pod)(i))))
        .collect();
    let mut latencies = Vec::with_capacity(pods);
    let mut failed = 0;
    let mut in_algorithm = Duration::ZERO;
    let mut in_update = Duration::ZERO;
    let start = Instant::now();
    for pi in infos {
        let t = Instant::now();
        cache.update_snapshot(&mut snapshot);
        in_update += t.elapsed();
        let mut state = CycleState::new();
        let a = Instant::now();
        let r = schedule_pod(&fwk, &mut state, &pi, &snapshot, &mut st);
        in_algorithm += a.elapsed();
        match r {
            Ok(r) => cache.assume_pod(pi, &r.suggested_host).expect("assume"),
            Err(_) => failed += 1,
        }
        latencies.push(t.elapsed());
    }
    eprintln!(
        "  {}: schedule_pod {:?}/pod, snapshot update {:?}/pod, rest (assume, bookkeeping) {:?}/pod",
        case.name,
        in_algorithm / pods as u32,
        in_update / pods as u32,
        (start.elapsed() - in_algorithm - in_update) / pods as u32
    );
    let total = start.elapsed();
    latencies.sort();
    let p50 = latencies[latencies.len() / 2];
    let p99 = latencies[(latencies.len() * 99 / 100).min(latencies.len() - 1)];
    (pods as f64 / total.as_secs_f64(), p50, p99, failed)
}

fn main() {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let nodes = args.first().copied().unwrap_or(5_000);
    let existing = args.get(1).copied().unwrap_or(10_000);
    let pods = args.get(2).copied().unwrap_or(10_000);
    let cases = [
        Case {
            name: "SchedulingBasic",
            make_pod: basic_pod,
        },
        Case {
            name: "SchedulingPodAntiAffinity",
            make_pod: anti_affinity_pod,
        },
    ];
    println!("nodes={nodes} existing_pods={existing} scheduled_pods={pods}");
    println!(
        "{:<28} {:>12} {:>12} {:>12} {:>8}",
        "case", "pods/s", "p50", "p99", "failed"
    );
    let only = std::env::var("SCHED_CASE").ok();
    for case in cases
        .iter()
        .filter(|c| only.as_deref().is_none_or(|o| c.name.contains(o)))
    {
        let (rate, p50, p99, failed) = run(case, nodes, existing, pods);
        println!(
            "{:<28} {:>12.0} {:>12?} {:>12?} {:>8}",
            case.name, rate, p50, p99, failed
        );
    }
}
