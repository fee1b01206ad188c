//! `cluster`: a whole Kubernetes control plane in one process, for the real `kubectl`.
//!
//! ```text
//! cargo run --release --example cluster   # file store in ~/.local/share/kube-in-a-library
//! cargo run --release --example cluster -- --store memory --secure-port 0 --data-dir /tmp/k
//! cluster --help
//! ```
//!
//! It assembles the crates' public API only: the store (kernel-store), the API server
//! (kernel-api), the scheduler (kernel-sched) and a kubelet (kernel-node), each component
//! reaching the API server through an in-process `kube::Client` carrying its own identity.
//! Each later component (controller managers, kube-proxy) is added here, each with a switch
//! to turn it off.

// The binary (not the library) chooses the allocator: mimalloc suits the many small JSON nodes
// the server allocates (about 25% more pod creates/s than glibc malloc in examples/api_bench).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

mod cli;
mod store;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use clap::Parser;
use kernel::api::{ApiServer, Credentials, UserInfo};
use kernel::sched::{serving, KubeSchedulerConfiguration, Scheduler};
use kernel_node::network::CniNetwork;
use kernel_node::runtime::cri::CriRuntime;
use kernel_node::runtime::Runtime;
use kernel_node::{
    HostNetwork, Kubelet, KubeletConfig, KubeletServerConfig, ProcessRuntime, SimRuntime,
};

use cli::Cli;

/// What runs, for the table printed once ready.
struct Row {
    component: &'static str,
    state: &'static str,
    detail: String,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // mimalloc gives emptied pages back to the OS 10 ms after they empty; under a steady write
    // load that churn faults (and zeroes) fresh pages all the time. A server keeps them 10 s.
    // SAFETY: mimalloc keeps its options in atomics; setting one is sound from any thread.
    // (`mi_option_purge_delay` is option 15 of mimalloc.h; the -sys crate names no constant.)
    unsafe { libmimalloc_sys::mi_option_set(15, 10_000) };
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: starting the tokio runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> Result<(), Box<dyn std::error::Error>> {
    // Configuration first: a bad file stops the binary before it makes or opens anything.
    let scheduler_config = match &cli.scheduler_config {
        Some(path) => KubeSchedulerConfiguration::from_file(path)
            .map_err(|e| format!("--scheduler-config {}: {e}", path.display()))?,
        None => KubeSchedulerConfiguration::default(),
    };
    let data_dir = cli.data_dir()?;
    std::fs::create_dir_all(&data_dir)
        .map_err(|e| format!("creating the data directory {}: {e}", data_dir.display()))?;
    let (store, store_detail) = store::open(&cli, &data_dir).await?;

    let mut names = cli.tls_san.clone();
    if !cli.bind_address.is_loopback() && !cli.bind_address.is_unspecified() {
        names.push(cli.bind_address.to_string());
    }
    let credentials = {
        let dir = data_dir.clone();
        tokio::task::spawn_blocking(move || Credentials::load_or_create(&dir, &names)).await??
    };
    let server = ApiServer::builder()
        .store(store)
        .credentials(credentials)
        .require_admin_token()
        .build()
        .await?;
    let serving = server
        .bind(SocketAddr::new(cli.bind_address, cli.secure_port))
        .await
        .map_err(|e| {
            format!(
                "listening on {}:{}: {e} (another cluster running? pick another --secure-port)",
                cli.bind_address, cli.secure_port
            )
        })?;
    let kubeconfig = data_dir.join("kubeconfig");
    server.write_kubeconfig(&kubeconfig)?;
    let mut rows = vec![Row {
        component: "kube-apiserver",
        state: "running",
        detail: format!("https://{} · store: {store_detail}", serving.local_addr()),
    }];

    let mut tasks = tokio::task::JoinSet::new();
    // Tells the components with a graceful stop of their own (HTTP endpoints) to stop.
    let (stopping, _) = tokio::sync::watch::channel(false);
    let mut endpoints = Vec::new();
    if cli.no_scheduler {
        rows.push(Row {
            component: "kube-scheduler",
            state: "off",
            detail: "--no-scheduler: pods stay Pending".into(),
        });
    } else {
        let identity = UserInfo {
            name: "system:kube-scheduler".into(),
            groups: vec!["system:authenticated".into()],
            ..UserInfo::default()
        };
        let scheduler = Scheduler::from_config(server.client_as(identity), &scheduler_config)?;
        let synced = scheduler.synced();
        let mut detail = match &cli.scheduler_config {
            Some(path) => format!("config {}", path.display()),
            None => "default-scheduler".to_owned(),
        };
        if let Some(addr) = cli.scheduler_metrics_address.0 {
            let listener = tokio::net::TcpListener::bind(addr)
                .await
                .map_err(|e| format!("--scheduler-metrics-address {addr}: {e}"))?;
            detail.push_str(&format!(
                " · metrics http://{}/metrics",
                listener.local_addr()?
            ));
            let handle = scheduler.serving();
            let mut stop = stopping.subscribe();
            endpoints.push(tokio::spawn(serving::serve(listener, handle, async move {
                let _ = stop.wait_for(|s| *s).await;
            })));
        }
        tasks.spawn(async move {
            if let Err(e) = scheduler.run().await {
                tracing::error!(error = %e, "the scheduler stopped");
            }
        });
        synced.await;
        rows.push(Row {
            component: "kube-scheduler",
            state: "running",
            detail,
        });
    }
    let mut runtimes = Vec::new();
    if cli.no_kubelet {
        rows.push(Row {
            component: "kubelet",
            state: "off",
            detail: "--no-kubelet: no node runs pods".into(),
        });
    } else {
        let node = match &cli.node_name {
            Some(name) => name.clone(),
            None => kernel_node::kubelet::default_node_name(),
        };
        let (runtime, detail): (Arc<dyn Runtime>, String) = match cli.runtime.as_str() {
            "sim" => (Arc::new(SimRuntime::new()), "simulated runtime".into()),
            r if cli::containerd_socket(r).is_some() => {
                let socket = cli::containerd_socket(r).unwrap_or_default();
                let cri = CriRuntime::connect(socket)
                    .await
                    .map_err(|e| format!("--runtime {r}: {e}"))?;
                let v = cri.version().await?;
                let detail = format!(
                    "{} {} over CRI at {socket} (pod network: its CNI config)",
                    v.runtime_name, v.runtime_version
                );
                (Arc::new(cri), detail)
            }
            _ => {
                let pods = data_dir.join("kubelet").join(&node).join("pods");
                let (runtime, detail) = if cli.network == "cni" {
                    let network = CniNetwork::new(data_dir.join("kubelet").join(&node).join("cni"));
                    let detail = format!(
                        "process runtime (pods are local processes in network namespaces on the CNI bridge {}, pod IPs in {NODE_POD_CIDR})",
                        network.bridge()
                    );
                    (
                        ProcessRuntime::with_network(pods, Arc::new(network)),
                        detail,
                    )
                } else {
                    let network = HostNetwork::new();
                    let cidr = network.effective_cidr(Some(NODE_POD_CIDR));
                    let detail =
                        format!("process runtime (pods are local processes, pod IPs in {cidr})");
                    (ProcessRuntime::new(pods, network), detail)
                };
                runtimes.push(runtime.clone());
                (Arc::new(runtime), detail)
            }
        };
        tasks.spawn(run_kubelet(
            &server,
            &data_dir,
            node.clone(),
            runtime,
            NODE_POD_CIDR.into(),
            Some(cli.kubelet_port),
            cli.pod_manifest_path.clone(),
        )?);
        let mut detail = format!("node {node} · {detail}");
        if let Some(dir) = &cli.pod_manifest_path {
            detail.push_str(&format!(" · static pods from {}", dir.display()));
        }
        for n in 1..=cli.nodes {
            let name = format!("sim-{n}");
            let cidr = format!("10.244.{n}.0/24");
            tasks.spawn(run_kubelet(
                &server,
                &data_dir,
                name,
                Arc::new(SimRuntime::new()),
                cidr,
                None,
                None,
            )?);
        }
        if cli.nodes > 0 {
            detail.push_str(&format!(
                " · {} simulated nodes sim-1..sim-{}",
                cli.nodes, cli.nodes
            ));
        }
        rows.push(Row {
            component: "kubelet",
            state: "running",
            detail,
        });
    }
    for (component, issue) in [
        ("kube-controller-manager", "issue 17"),
        ("kube-proxy", "issue 18"),
    ] {
        rows.push(Row {
            component,
            state: "not yet",
            detail: format!("not built yet ({issue})"),
        });
    }
    print_ready(&rows, &kubeconfig);

    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::select! {
        _ = term.recv() => tracing::info!("SIGTERM: shutting down"),
        _ = tokio::signal::ctrl_c() => tracing::info!("interrupt: shutting down"),
        Some(ended) = tasks.join_next() => {
            tracing::error!(?ended, "a component ended on its own: shutting down");
        }
    }
    // The components first (they are the API server's clients), then the listener.
    stopping.send_replace(true);
    for endpoint in endpoints {
        let _ = tokio::time::timeout(cli.shutdown_grace, endpoint).await;
    }
    // The rest (the scheduler, the kubelets) have no graceful stop of their own: they are
    // aborted; then the processes the kubelet started are stopped (SIGTERM, then SIGKILL).
    tasks.shutdown().await;
    for runtime in runtimes {
        if let Err(e) = runtime.shutdown(cli.shutdown_grace).await {
            tracing::warn!(error = %e, "stopping the pods' processes");
        }
    }
    serving.shutdown_within(cli.shutdown_grace).await;
    tracing::info!("stopped");
    Ok(())
}

/// The pod CIDR of the kubelet's own node (the process runtime moves it into 127.0.0.0/8).
const NODE_POD_CIDR: &str = "10.244.0.0/24";

/// A kubelet for `node`, acting as `system:node:<node>`, keeping its files under the data
/// directory, serving its HTTPS API on `kubelet_port` (0: any free port) if given, running the
/// static pods of `static_pod_path` if given; the future runs it.
fn run_kubelet(
    server: &ApiServer,
    data_dir: &Path,
    node: String,
    runtime: Arc<dyn Runtime>,
    pod_cidr: String,
    kubelet_port: Option<u16>,
    static_pod_path: Option<PathBuf>,
) -> Result<impl std::future::Future<Output = ()> + Send + 'static, Box<dyn std::error::Error>> {
    let identity = UserInfo {
        name: format!("system:node:{node}"),
        groups: vec!["system:nodes".into(), "system:authenticated".into()],
        ..UserInfo::default()
    };
    let config = KubeletConfig {
        root_dir: Some(data_dir.join("kubelet").join(&node)),
        static_pod_path,
        ..KubeletConfig::default()
    };
    let mut kubelet = Kubelet::builder(server.client_as(identity), node.clone())
        .runtime(runtime)
        .pod_cidr(pod_cidr)
        .config(config);
    if let Some(port) = kubelet_port {
        kubelet = kubelet.server(KubeletServerConfig::on(SocketAddr::from((
            [0, 0, 0, 0],
            port,
        ))));
    }
    let kubelet = kubelet.build()?;
    Ok(async move {
        if let Err(e) = kubelet.run().await {
            tracing::error!(node, error = %e, "the kubelet stopped");
        }
    })
}

fn print_ready(rows: &[Row], kubeconfig: &Path) {
    let width = rows.iter().map(|r| r.component.len()).max().unwrap_or(0);
    let mut out = String::from("\nkube-in-a-library cluster is ready\n\n");
    for row in rows {
        out.push_str(&format!(
            "  {:width$}  {:8} {}\n",
            row.component, row.state, row.detail
        ));
    }
    out.push_str(&format!(
        "\nUse it with kubectl:\n\n  export KUBECONFIG={}\n  kubectl get nodes\n\n",
        kubeconfig.display()
    ));
    print!("{out}");
    use std::io::Write;
    let _ = std::io::stdout().flush();
}
