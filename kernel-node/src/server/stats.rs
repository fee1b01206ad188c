//! `GET /stats/summary`: the Summary API (`k8s.io/kubelet/pkg/apis/stats/v1alpha1`
//! `Summary`), as much as the kubelet knows without cAdvisor: the node's CPU (from
//! `/proc/stat`) and memory (from `/proc/meminfo`), its start time, and each pod with a
//! sandbox: `podRef`, `startTime` and its containers' names and start times. Per-container
//! CPU and memory are not measured (no cgroups of the process runtime).
//!
//! Also `GET /metrics/resource` (what metrics-server scrapes; upstream
//! `pkg/kubelet/metrics/collectors/resource_metrics.go`): `node_cpu_usage_seconds_total`,
//! `node_memory_working_set_bytes`, `container_start_time_seconds` of running containers and
//! `scrape_error` / `resource_scrape_error`, in the Prometheus text format with timestamps.

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

/// The `/metrics/resource` text.
pub(crate) async fn resource_metrics(runtime: &Arc<dyn Runtime>) -> String {
    let now_ms = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or(0);
    let mut out = String::new();
    let mut error = 0;
    let mut metric = |name: &str, help: &str, kind: &str, samples: &[(String, f64)]| {
        out.push_str(&format!("# HELP {name} {help}\n# TYPE {name} {kind}\n"));
        for (labels, value) in samples {
            out.push_str(&format!("{name}{labels} {value} {now_ms}\n"));
        }
    };
    let secs = |t: SystemTime| {
        t.duration_since(SystemTime::UNIX_EPOCH)
            .map(|d| d.as_secs_f64())
            .unwrap_or(0.0)
    };
    match cpu_nanos().await {
        Some(nanos) => metric(
            "node_cpu_usage_seconds_total",
            "[STABLE] Cumulative cpu time consumed by the node in core-seconds",
            "counter",
            &[(String::new(), nanos as f64 / 1e9)],
        ),
        None => error = 1,
    }
    match memory().await {
        Some((total, available)) => metric(
            "node_memory_working_set_bytes",
            "[STABLE] Current working set of the node in bytes",
            "gauge",
            &[(String::new(), total.saturating_sub(available) as f64)],
        ),
        None => error = 1,
    }
    let sandboxes = runtime.list_pod_sandboxes().await.unwrap_or_default();
    let containers = match runtime.list_containers(None).await {
        Ok(c) => c,
        Err(_) => {
            error = 1;
            Vec::new()
        }
    };
    let starts: Vec<(String, f64)> = containers
        .iter()
        .filter(|c| c.state == crate::runtime::ContainerState::Running)
        .filter_map(|c| {
            let sandbox = sandboxes.iter().find(|s| s.id == c.sandbox_id)?;
            let labels = format!(
                "{{container={:?},namespace={:?},pod={:?}}}",
                c.name, sandbox.config.namespace, sandbox.config.name
            );
            Some((labels, secs(c.started_at.unwrap_or(c.created_at))))
        })
        .collect();
    metric(
        "container_start_time_seconds",
        "[STABLE] Start time of the container since unix epoch in seconds",
        "gauge",
        &starts,
    );
    for name in ["resource_scrape_error", "scrape_error"] {
        metric(
            name,
            "[STABLE] 1 if there was an error while getting container metrics, 0 otherwise",
            "gauge",
            &[(String::new(), f64::from(error))],
        );
    }
    out
}
