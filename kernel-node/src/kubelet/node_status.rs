//! Node registration and status: upstream's `pkg/kubelet/kubelet_node_status.go`
//! (`registerWithAPIServer`, `updateNodeStatus`) and `pkg/kubelet/nodestatus/setters.go`
//! (addresses, machine info, node info, the Ready and pressure conditions).

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::Node;
use k8s_openapi::apimachinery::pkg::api::resource::Quantity as WireQuantity;
use kernel_core::pod::{RESOURCE_CPU, RESOURCE_EPHEMERAL_STORAGE, RESOURCE_MEMORY, RESOURCE_PODS};
use kernel_core::quantity::{Format, Quantity};
use kernel_core::well_known;
use kube::api::{Patch, PatchParams, PostParams};
use kube::Api;
use serde_json::{json, Value};
use tokio::sync::OnceCell;

use super::config::{KubeletConfig, KUBELET_VERSION};
use super::Shared;
use crate::kubelet::status::now_time;

/// What the kubelet reads of its host once per process.
#[derive(Debug, Default)]
pub(crate) struct HostInfo {
    pub cpus: usize,
    pub memory_bytes: u64,
    pub machine_id: String,
    pub boot_id: String,
    pub kernel_version: String,
    pub os_image: String,
}

static HOST: OnceCell<HostInfo> = OnceCell::const_new();

async fn read(path: &str) -> String {
    tokio::fs::read_to_string(path)
        .await
        .map(|s| s.trim().to_owned())
        .unwrap_or_default()
}

/// The host's CPUs, memory, ids and OS, read once (`/proc`, `/etc`).
pub(crate) async fn host_info() -> &'static HostInfo {
    HOST.get_or_init(|| async {
        let meminfo = read("/proc/meminfo").await;
        let memory_kib = meminfo
            .lines()
            .find_map(|l| l.strip_prefix("MemTotal:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            .unwrap_or(0);
        let os_release = read("/etc/os-release").await;
        let os_image = os_release
            .lines()
            .find_map(|l| l.strip_prefix("PRETTY_NAME="))
            .map(|v| v.trim_matches('"').to_owned())
            .unwrap_or_else(|| "Linux".into());
        HostInfo {
            cpus: std::thread::available_parallelism().map_or(1, |n| n.get()),
            memory_bytes: memory_kib * 1024,
            machine_id: read("/etc/machine-id").await,
            boot_id: read("/proc/sys/kernel/random/boot_id").await,
            kernel_version: read("/proc/sys/kernel/osrelease").await,
            os_image,
        }
    })
    .await
}

/// The address of the host's default route (a UDP socket "connected" to a public address
/// sends nothing), as upstream picks the node IP when `--node-ip` is not given.
pub(crate) async fn default_node_ip() -> Option<IpAddr> {
    let socket = tokio::net::UdpSocket::bind("0.0.0.0:0").await.ok()?;
    socket.connect("192.0.2.1:9").await.ok()?;
    let ip = socket.local_addr().ok()?.ip();
    (!ip.is_unspecified()).then_some(ip)
}

/// `GOARCH` for Rust's architecture names.
pub(crate) fn go_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        "powerpc64" => "ppc64le",
        "s390x" => "s390x",
        "riscv64" => "riscv64",
        other => other,
    }
}

/// The labels upstream's kubelet sets on its Node (`initialNode`): hostname, os, arch and
/// their beta twins.
pub(crate) fn well_known_labels(node_name: &str) -> BTreeMap<String, String> {
    BTreeMap::from([
        (well_known::LABEL_HOSTNAME.to_owned(), node_name.to_owned()),
        (well_known::LABEL_OS.to_owned(), "linux".to_owned()),
        (well_known::LABEL_ARCH.to_owned(), go_arch().to_owned()),
        ("beta.kubernetes.io/os".to_owned(), "linux".to_owned()),
        ("beta.kubernetes.io/arch".to_owned(), go_arch().to_owned()),
    ])
}

/// The size of the file system holding `dir` (its nearest existing ancestor), in bytes.
async fn filesystem_bytes(dir: &Path) -> Option<u64> {
    let mut probe = dir.to_path_buf();
    while !tokio::fs::try_exists(&probe).await.unwrap_or(false) {
        if !probe.pop() {
            return None;
        }
    }
    tokio::task::spawn_blocking(move || {
        use std::os::unix::ffi::OsStrExt;
        let path = std::ffi::CString::new(probe.as_os_str().as_bytes()).ok()?;
        let mut stat = std::mem::MaybeUninit::<libc::statvfs>::zeroed();
        // SAFETY: `path` is a NUL-terminated string and `stat` is valid for writes.
        let rc = unsafe { libc::statvfs(path.as_ptr(), stat.as_mut_ptr()) };
        if rc != 0 {
            return None;
        }
        // SAFETY: statvfs succeeded, so it filled `stat`.
        let stat = unsafe { stat.assume_init() };
        // The field types differ between targets (u32 on some 32-bit ones).
        #[allow(clippy::unnecessary_cast)]
        let bytes = stat.f_blocks as u64 * stat.f_frsize as u64;
        Some(bytes)
    })
    .await
    .ok()
    .flatten()
}

/// The node's capacity: the configured entries, the rest from the host and `maxPods`.
pub(crate) async fn capacity(
    configured: &BTreeMap<String, String>,
    config: &KubeletConfig,
    host: &HostInfo,
    root_dir: &Path,
) -> BTreeMap<String, WireQuantity> {
    let mut out: BTreeMap<String, WireQuantity> = BTreeMap::new();
    out.insert(RESOURCE_CPU.into(), WireQuantity(host.cpus.to_string()));
    out.insert(
        RESOURCE_MEMORY.into(),
        WireQuantity(format!("{}Ki", host.memory_bytes / 1024)),
    );
    out.insert(
        RESOURCE_PODS.into(),
        WireQuantity(config.max_pods.to_string()),
    );
    if !configured.contains_key(RESOURCE_EPHEMERAL_STORAGE) {
        if let Some(bytes) = filesystem_bytes(root_dir).await {
            out.insert(
                RESOURCE_EPHEMERAL_STORAGE.into(),
                WireQuantity(format!("{}Ki", bytes / 1024)),
            );
        }
    }
    for (name, value) in configured {
        out.insert(name.clone(), WireQuantity(value.clone()));
    }
    out
}

/// Allocatable: capacity less upstream's default hard-eviction thresholds
/// (`memory.available<100Mi`, `nodefs.available<10%`); no reservations are configured.
pub(crate) fn allocatable(
    capacity: &BTreeMap<String, WireQuantity>,
) -> BTreeMap<String, WireQuantity> {
    let mut out = capacity.clone();
    let parse = |name: &str| capacity.get(name).and_then(|q| Quantity::from_wire(q).ok());
    if let Some(memory) = parse(RESOURCE_MEMORY) {
        let bytes = (memory.value() - 100 * 1024 * 1024).max(0);
        out.insert(
            RESOURCE_MEMORY.into(),
            Quantity::new(bytes, Format::BinarySI).to_wire(),
        );
    }
    if let Some(storage) = parse(RESOURCE_EPHEMERAL_STORAGE) {
        let bytes = storage.value() - storage.value() / 10;
        out.insert(
            RESOURCE_EPHEMERAL_STORAGE.into(),
            Quantity::new(bytes, Format::BinarySI).to_wire(),
        );
    }
    out
}

/// The status this kubelet posts, `lastHeartbeatTime` now and each condition's
/// `lastTransitionTime` kept from `previous` while its status holds.
pub(crate) fn node_status(shared: &Shared, host: &HostInfo, previous: Option<&Value>) -> Value {
    let now = now_time();
    let transition = |kind: &str, status: &str| {
        previous
            .and_then(|p| p["conditions"].as_array())
            .and_then(|cs| {
                cs.iter()
                    .find(|c| c["type"] == kind && c["status"] == status)
                    .map(|c| c["lastTransitionTime"].clone())
            })
            .unwrap_or_else(|| now.clone())
    };
    let condition = |kind: &str, status: &str, reason: &str, message: &str| {
        json!({
            "type": kind, "status": status, "reason": reason, "message": message,
            "lastHeartbeatTime": now, "lastTransitionTime": transition(kind, status),
        })
    };
    let mut status = json!({
        "capacity": shared.capacity,
        "allocatable": shared.allocatable,
        "conditions": [
            condition("MemoryPressure", "False", "KubeletHasSufficientMemory", "kubelet has sufficient memory available"),
            condition("DiskPressure", "False", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
            condition("PIDPressure", "False", "KubeletHasSufficientPID", "kubelet has sufficient PID available"),
            condition("Ready", "True", "KubeletReady", "kubelet is posting ready status"),
        ],
        "addresses": [
            { "type": "InternalIP", "address": shared.node_ip.to_string() },
            { "type": "Hostname", "address": shared.node_name },
        ],
        "nodeInfo": {
            "machineID": host.machine_id,
            "systemUUID": host.machine_id,
            "bootID": host.boot_id,
            "kernelVersion": host.kernel_version,
            "osImage": host.os_image,
            "containerRuntimeVersion": shared.runtime_version,
            "kubeletVersion": KUBELET_VERSION,
            "operatingSystem": "linux",
            "architecture": go_arch(),
        },
    });
    if let Some(port) = shared.kubelet_port {
        status["daemonEndpoints"] = json!({ "kubeletEndpoint": { "Port": port } });
    }
    status
}

/// The status without heartbeat times: what "changed" compares (`nodeStatusHasChanged`).
fn without_heartbeats(status: &Value) -> Value {
    let mut status = status.clone();
    if let Some(cs) = status["conditions"].as_array_mut() {
        for c in cs {
            if let Some(c) = c.as_object_mut() {
                c.remove("lastHeartbeatTime");
            }
        }
    }
    status
}

fn adopt_pod_cidr(shared: &Shared, node: &Node) {
    let Some(cidr) = node.spec.as_ref().and_then(|s| s.pod_cidr.clone()) else {
        return;
    };
    let mut current = shared.pod_cidr.write().unwrap_or_else(|e| e.into_inner());
    if current.is_none() {
        *current = Some(cidr);
    }
}

/// Creates the Node, or adopts the one of that name (its labels reconciled), retrying until
/// the API server answers; returns the Node's uid.
pub(crate) async fn register(shared: &Shared, set_pod_cidr: bool) -> String {
    let nodes: Api<Node> = Api::all(shared.client.clone());
    let mut delay = Duration::from_millis(100);
    loop {
        match try_register(shared, &nodes, set_pod_cidr).await {
            Ok(node) => {
                adopt_pod_cidr(shared, &node);
                return node.metadata.uid.unwrap_or_default();
            }
            Err(e) => {
                tracing::warn!(node = %shared.node_name, error = %e, "unable to register node; retrying");
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(7));
            }
        }
    }
}

async fn try_register(
    shared: &Shared,
    nodes: &Api<Node>,
    set_pod_cidr: bool,
) -> Result<Node, kube::Error> {
    let mut spec = json!({});
    if let Some(cidr) = shared.pod_cidr().filter(|_| set_pod_cidr) {
        spec = json!({ "podCIDR": cidr, "podCIDRs": [cidr] });
    }
    let node: Node = serde_json::from_value(json!({
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": { "name": shared.node_name, "labels": shared.labels },
        "spec": spec,
    }))
    .map_err(kube::Error::SerdeError)?;
    match nodes.create(&PostParams::default(), &node).await {
        Ok(node) => Ok(node),
        Err(kube::Error::Api(e)) if e.code == 409 => {
            tracing::info!(node = %shared.node_name, "node already exists; adopting it");
            let patch = json!({ "metadata": { "labels": shared.labels } });
            nodes
                .patch(
                    &shared.node_name,
                    &PatchParams::default(),
                    &Patch::Merge(&patch),
                )
                .await
        }
        Err(e) => Err(e),
    }
}

/// Posts the node status every `nodeStatusUpdateFrequency` when it changed, and every
/// `nodeStatusReportFrequency` regardless (upstream `syncNodeStatus`).
pub(crate) async fn run(shared: Arc<Shared>) {
    let nodes: Api<Node> = Api::all(shared.client.clone());
    let host = host_info().await;
    let mut last: Option<(Value, Instant)> = None;
    let mut tick = tokio::time::interval(shared.config.node_status_update_frequency);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let status = node_status(&shared, host, last.as_ref().map(|(s, _)| s));
        let due = match &last {
            None => true,
            Some((previous, at)) => {
                without_heartbeats(previous) != without_heartbeats(&status)
                    || at.elapsed() >= shared.config.node_status_report_frequency
            }
        };
        if !due {
            continue;
        }
        let patch = json!({ "status": status });
        match nodes
            .patch_status(
                &shared.node_name,
                &PatchParams::default(),
                &Patch::Merge(&patch),
            )
            .await
        {
            Ok(node) => {
                adopt_pod_cidr(&shared, &node);
                tracing::debug!(node = %shared.node_name, "node status posted");
                last = Some((status, Instant::now()));
            }
            Err(kube::Error::Api(e)) if e.code == 404 => {
                tracing::warn!(node = %shared.node_name, "node is gone; registering it again");
                register(&shared, shared.pod_cidr().is_some()).await;
                last = None;
            }
            Err(e) => {
                tracing::warn!(node = %shared.node_name, error = %e, "unable to update node status")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allocatable_subtracts_the_eviction_thresholds() {
        let capacity = BTreeMap::from([
            ("memory".to_string(), WireQuantity("1Gi".into())),
            (
                "ephemeral-storage".to_string(),
                WireQuantity("100Gi".into()),
            ),
            ("cpu".to_string(), WireQuantity("4".into())),
        ]);
        let a = allocatable(&capacity);
        assert_eq!(a["memory"].0, "924Mi");
        assert_eq!(a["cpu"].0, "4");
        assert_eq!(
            Quantity::from_wire(&a["ephemeral-storage"])
                .unwrap()
                .value(),
            90 * 1024 * 1024 * 1024
        );
    }
}
