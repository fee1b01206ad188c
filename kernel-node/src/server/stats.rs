//! `GET /stats/summary`: the Summary API (`k8s.io/kubelet/pkg/apis/stats/v1alpha1`
//! `Summary`), as much as the kubelet knows without cAdvisor: the node's CPU (from
//! `/proc/stat`) and memory (from `/proc/meminfo`), its start time, and each pod with a
//! sandbox: `podRef`, `startTime` and its containers' names and start times. Per-container
//! CPU and memory are not measured (no cgroups of the process runtime).

use std::sync::Arc;
use std::time::SystemTime;

use serde_json::{json, Value};

use crate::runtime::Runtime;

fn time(t: SystemTime) -> String {
    crate::runtime::process::cri_timestamp(t)
}

/// `usageCoreNanoSeconds`: the CPU time of every core since boot, from `/proc/stat`.
async fn cpu_nanos() -> Option<u64> {
    let stat = tokio::fs::read_to_string("/proc/stat").await.ok()?;
    let line = stat.lines().find(|l| l.starts_with("cpu "))?;
    let fields: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .filter_map(|f| f.parse().ok())
        .collect();
    // user nice system idle iowait irq softirq steal: busy = all but idle and iowait.
    let busy: u64 = fields
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != 3 && *i != 4 && *i < 8)
        .map(|(_, v)| *v)
        .sum();
    // SAFETY: sysconf only reads a configuration value.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    let ticks = u64::try_from(ticks).ok().filter(|t| *t > 0).unwrap_or(100);
    Some(busy.saturating_mul(1_000_000_000 / ticks))
}

/// `(total, available)` bytes from `/proc/meminfo`.
async fn memory() -> Option<(u64, u64)> {
    let info = tokio::fs::read_to_string("/proc/meminfo").await.ok()?;
    let field = |name: &str| {
        info.lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse::<u64>().ok())
            .map(|kib| kib * 1024)
    };
    Some((field("MemTotal:")?, field("MemAvailable:")?))
}

/// The summary JSON.
pub(crate) async fn summary(node: &str, started: SystemTime, runtime: &Arc<dyn Runtime>) -> Value {
    let now = time(SystemTime::now());
    let mut node_stats = json!({
        "nodeName": node,
        "startTime": time(started),
    });
    if let Some(nanos) = cpu_nanos().await {
        node_stats["cpu"] = json!({ "time": now, "usageCoreNanoSeconds": nanos });
    }
    if let Some((total, available)) = memory().await {
        let used = total.saturating_sub(available);
        node_stats["memory"] = json!({
            "time": now,
            "availableBytes": available,
            "usageBytes": used,
            "workingSetBytes": used,
        });
    }
    let sandboxes = runtime.list_pod_sandboxes().await.unwrap_or_default();
    let containers = runtime.list_containers(None).await.unwrap_or_default();
    let pods: Vec<Value> = sandboxes
        .iter()
        .filter(|s| s.state == crate::runtime::SandboxState::Ready)
        .map(|s| {
            let containers: Vec<Value> = containers
                .iter()
                .filter(|c| c.sandbox_id == s.id && c.state == crate::runtime::ContainerState::Running)
                .map(|c| {
                    json!({
                        "name": c.name,
                        "startTime": time(c.started_at.unwrap_or(c.created_at)),
                    })
                })
                .collect();
            json!({
                "podRef": { "name": s.config.name, "namespace": s.config.namespace, "uid": s.config.uid },
                "startTime": time(s.created_at),
                "containers": containers,
            })
        })
        .collect();
    json!({ "node": node_stats, "pods": pods })
}
