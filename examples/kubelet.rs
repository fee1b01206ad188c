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
//! IPs in 127/8), `--runtime containerd[:SOCKET]` (CRI) or `--runtime sim`. SIGTERM or Ctrl-C stops it and its pods' processes.

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
    /// Default: the config file's `podCIDR`, else 10.244.1.0/24 (flags win over the file, as
    /// upstream).
    #[arg(long, env = "KERNEL_POD_CIDR")]
    pod_cidr: Option<String>,
    /// `process` (pods are local processes), `sim` (simulated, nothing runs) or
    /// `containerd[:SOCKET]` (CRI; default socket /run/containerd/containerd.sock).
    #[arg(long, env = "KERNEL_RUNTIME", default_value = "process", value_parser = parse_runtime)]
    runtime: String,
    /// The port of the kubelet's HTTPS server (logs, exec, attach, stats, metrics),
    /// published in the Node's status.daemonEndpoints; 0 picks a free port. Default: the
    /// config file's `port`, else 10250 (upstream's). The server listens on the file's
    /// `address` (default 0.0.0.0), with its `tlsCertFile`/`tlsPrivateKeyFile` (default: a
    /// self-signed certificate) and `authentication.x509.clientCAFile` (default: any client).
    #[arg(long, env = "KERNEL_KUBELET_PORT")]
    kubelet_port: Option<u16>,
    /// The kubelet's root directory (pod volumes, logs); default: a directory under /tmp.
    #[arg(long, env = "KERNEL_ROOT_DIR", value_name = "DIR")]
    root_dir: Option<PathBuf>,
    /// An upstream `KubeletConfiguration` file (kubelet.config.k8s.io/v1beta1): intervals,
    /// maxPods, staticPodPath, podCIDR, ... (fields it does not act on are logged).
    #[arg(long, env = "KERNEL_KUBELET_CONFIG", value_name = "FILE")]
    config: Option<PathBuf>,
    /// A directory of static pod manifests (upstream's `--pod-manifest-path`, the config
    /// file's `staticPodPath`): run without the API server, shown there as mirror pods.
    #[arg(long, value_name = "DIR")]
    pod_manifest_path: Option<PathBuf>,
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
    let node = cli
        .node_name
        .clone()
        .unwrap_or_else(kernel_node::kubelet::default_node_name);
    let root = cli
        .root_dir
        .clone()
        .unwrap_or_else(|| std::env::temp_dir().join("kernel-kubelet").join(&node));
    let mut process = None;
    let runtime: Arc<dyn Runtime> = match cli.runtime.as_str() {
        "sim" => Arc::new(SimRuntime::new()),
        r if r.starts_with("containerd") => {
            let socket = r
                .strip_prefix("containerd:")
                .unwrap_or(kernel_node::runtime::cri::CONTAINERD_SOCKET);
            let cri = kernel_node::runtime::cri::CriRuntime::connect(socket)
                .await
                .map_err(|e| format!("--runtime {r}: {e}"))?;
            Arc::new(cri)
        }
        _ => {
            let runtime = ProcessRuntime::new(root.join("pods"), HostNetwork::new());
            process = Some(runtime.clone());
            Arc::new(runtime)
        }
    };
    let file = match &cli.config {
        Some(path) => {
            let text = tokio::fs::read_to_string(path)
                .await
                .map_err(|e| format!("--config {}: {e}", path.display()))?;
            KubeletConfig::from_kubelet_configuration(&text)
                .map_err(|e| format!("--config {}: {e}", path.display()))?
        }
        None => Default::default(),
    };
    let mut config = KubeletConfig {
        root_dir: Some(root),
        ..file.config
    };
    if let Some(dir) = &cli.pod_manifest_path {
        config.static_pod_path = Some(dir.clone());
    }
    let pod_cidr = cli
        .pod_cidr
        .clone()
        .or(file.pod_cidr)
        .unwrap_or_else(|| "10.244.1.0/24".into());
    let address: std::net::IpAddr = match &file.address {
        Some(a) => a
            .parse()
            .map_err(|e| format!("--config: address {a:?}: {e}"))?,
        None => std::net::Ipv4Addr::UNSPECIFIED.into(),
    };
    let port = cli
        .kubelet_port
        .or(file.port)
        .unwrap_or(kernel_node::server::DEFAULT_PORT);
    let mut server = KubeletServerConfig::on(std::net::SocketAddr::new(address, port));
    let read = |path: &Option<PathBuf>| {
        let path = path.clone();
        async move {
            match path {
                Some(p) => tokio::fs::read_to_string(&p)
                    .await
                    .map(Some)
                    .map_err(|e| format!("--config: {}: {e}", p.display())),
                None => Ok(None),
            }
        }
    };
    server.tls_cert_pem = read(&file.tls_cert_file).await?;
    server.tls_key_pem = read(&file.tls_private_key_file).await?;
    server.client_ca_pem = read(&file.client_ca_file).await?;
    let kubelet = Kubelet::builder(client, node.clone())
        .runtime(runtime)
        .pod_cidr(pod_cidr)
        .config(config)
        .server(server)
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

/// `process`, `sim`, `containerd` or `containerd:SOCKET`.
fn parse_runtime(s: &str) -> Result<String, String> {
    match s {
        "process" | "sim" | "containerd" => Ok(s.to_string()),
        _ if s.strip_prefix("containerd:").is_some_and(|p| !p.is_empty()) => Ok(s.to_string()),
        _ => Err("expected process, sim, containerd or containerd:SOCKET".into()),
    }
}
