//! The kubelet as its own process against a remote API server: `kernel_node::Kubelet` over a
//! `kube::Client` made from a kubeconfig, as the upstream kubelet runs with `--kubeconfig`.
//!
//! ```text
//! cargo run --release --example cluster -- --no-kubelet            # one terminal
//! cargo run --release --example kubelet -- --kubeconfig ~/.local/share/kube-in-a-library/kubeconfig \
//!     --node-name worker-1 --pod-cidr 10.244.1.0/24                 # another
//! ```
//!
//! The kubelet acts as whoever the kubeconfig names (the `cluster` binary's kubeconfig is the
//! admin); upstream's kubelet uses a `system:node:<name>` credential, which comes with
//! certificate signing (issue 17). Runtime: the process runtime (pods are local processes, pod
//! IPs in 127/8) or `--runtime sim`. SIGTERM or Ctrl-C stops it and its pods' processes.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use clap::Parser;
use kernel_node::runtime::Runtime;
use kernel_node::{
    HostNetwork, Kubelet, KubeletConfig, KubeletServerConfig, ProcessRuntime, SimRuntime,
};

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// A kubelet (kernel-node) joining a cluster through a kubeconfig.
#[derive(Debug, Parser)]
#[command(name = "kubelet", version, about)]
struct Cli {
    /// The kubeconfig to reach the API server with (default: $KUBECONFIG, then ~/.kube/config).
    #[arg(long, env = "KUBECONFIG", value_name = "FILE")]
    kubeconfig: Option<PathBuf>,
    /// The node's name (default: this machine's hostname).
    #[arg(long, env = "KERNEL_NODE_NAME")]
    node_name: Option<String>,
    /// The node's pod CIDR (`spec.podCIDR`); the process runtime moves it into 127.0.0.0/8.
    #[arg(long, env = "KERNEL_POD_CIDR", default_value = "10.244.1.0/24")]
    pod_cidr: String,
    /// `process` (pods are local processes) or `sim` (simulated, nothing runs).
    #[arg(long, env = "KERNEL_RUNTIME", default_value = "process", value_parser = ["process", "sim"])]
    runtime: String,
    /// The port of the kubelet's HTTPS server (logs, exec, attach, stats, metrics), on all
    /// addresses, published in the Node's status.daemonEndpoints; 0 picks a free port.
    #[arg(long, env = "KERNEL_KUBELET_PORT", default_value_t = kernel_node::server::DEFAULT_PORT)]
    kubelet_port: u16,
    /// The kubelet's root directory (pod volumes, logs); default: a directory under /tmp.
    #[arg(long, env = "KERNEL_ROOT_DIR", value_name = "DIR")]
    root_dir: Option<PathBuf>,
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let config = match &cli.kubeconfig {
        Some(path) => {
            let file = kube::config::Kubeconfig::read_from(path)
                .map_err(|e| format!("--kubeconfig {}: {e}", path.display()))?;
            kube::Config::from_custom_kubeconfig(file, &Default::default()).await?
        }
        None => kube::Config::infer().await?,
    };
    let client = kube::Client::try_from(config)?;
    let node = cli.node_name.clone().unwrap_or_else(hostname);
    let root = cli
        .root_dir
        .clone()
        .unwrap_or_else(|| std::env::temp_dir().join("kernel-kubelet").join(&node));
    let mut process = None;
    let runtime: Arc<dyn Runtime> = match cli.runtime.as_str() {
        "sim" => Arc::new(SimRuntime::new()),
        _ => {
            let runtime = ProcessRuntime::new(root.join("pods"), HostNetwork::new());
            process = Some(runtime.clone());
            Arc::new(runtime)
        }
    };
    let kubelet = Kubelet::builder(client, node.clone())
        .runtime(runtime)
        .pod_cidr(cli.pod_cidr.clone())
        .config(KubeletConfig {
            root_dir: Some(root),
            ..KubeletConfig::default()
        })
        .server(KubeletServerConfig::on(std::net::SocketAddr::from((
            [0, 0, 0, 0],
            cli.kubelet_port,
        ))))
        .build()?;
    tracing::info!(node, "kubelet starting");
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::select! {
        ended = kubelet.run() => ended?,
        _ = term.recv() => tracing::info!("SIGTERM: stopping"),
        _ = tokio::signal::ctrl_c() => tracing::info!("interrupt: stopping"),
    }
    if let Some(process) = process {
        process.shutdown(Duration::from_secs(10)).await?;
    }
    Ok(())
}

/// This machine's hostname, lower-cased as upstream's default node name.
fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|h| h.trim().to_lowercase())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".into())
}
