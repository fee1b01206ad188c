//! The command line: flags, their environment variables and defaults.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;

/// Text after the flag list in `--help`.
const AFTER_HELP: &str = "\
Environment:
  RUST_LOG   what to log on stderr, as tracing's EnvFilter reads it (default: info),
             e.g. RUST_LOG=debug or RUST_LOG=kernel_sched=debug,info

Once ready it prints the line to paste:
  export KUBECONFIG=<data dir>/kubeconfig
  kubectl get nodes

The CA, serving certificate and admin token live in the data directory, so the kubeconfig
stays valid across restarts. SIGTERM or Ctrl-C drains open connections and stops every
component.";

/// One process running a Kubernetes cluster: the API server, the scheduler and a kubelet (the
/// controller managers and kube-proxy join as they are built).
#[derive(Debug, Parser)]
#[command(
    name = "cluster",
    version = version(),
    about = "One process running a Kubernetes cluster (API server, scheduler, kubelet) for the real kubectl.",
    after_help = AFTER_HELP
)]
pub struct Cli {
    /// Where the store file, the credentials and the kubeconfig live.
    /// Default: $XDG_DATA_HOME/kube-in-a-library (~/.local/share/kube-in-a-library).
    #[arg(long, env = "KERNEL_DATA_DIR", value_name = "DIR")]
    pub data_dir: Option<PathBuf>,

    /// The store: `file` (durable, DIR/store.redb), `memory` (gone at exit) or
    /// `etcd:URL[,URL...]` (an etcd cluster, e.g. etcd:http://127.0.0.1:2379).
    #[arg(long, env = "KERNEL_STORE", default_value = "file", value_parser = parse_store)]
    pub store: StoreChoice,

    /// CA bundle (PEM) to verify the etcd servers with; turns on TLS to etcd.
    #[arg(long, env = "KERNEL_ETCD_CAFILE", value_name = "FILE")]
    pub etcd_cafile: Option<PathBuf>,

    /// Client certificate (PEM) to present to etcd; needs --etcd-keyfile.
    #[arg(
        long,
        env = "KERNEL_ETCD_CERTFILE",
        value_name = "FILE",
        requires = "etcd_keyfile"
    )]
    pub etcd_certfile: Option<PathBuf>,

    /// Client key (PEM) for --etcd-certfile.
    #[arg(
        long,
        env = "KERNEL_ETCD_KEYFILE",
        value_name = "FILE",
        requires = "etcd_certfile"
    )]
    pub etcd_keyfile: Option<PathBuf>,

    /// The key prefix in etcd (upstream's --etcd-prefix).
    #[arg(long, env = "KERNEL_ETCD_PREFIX", default_value = "/registry")]
    pub etcd_prefix: String,

    /// Address the API server listens on (0.0.0.0 for every interface).
    #[arg(long, env = "KERNEL_BIND_ADDRESS", default_value = "127.0.0.1")]
    pub bind_address: IpAddr,

    /// HTTPS port of the API server (0 picks a free one).
    #[arg(long, env = "KERNEL_SECURE_PORT", default_value_t = 6443)]
    pub secure_port: u16,

    /// Extra DNS names or IP addresses for the serving certificate (repeat or separate with
    /// commas).
    #[arg(
        long,
        env = "KERNEL_TLS_SAN",
        value_delimiter = ',',
        value_name = "NAME"
    )]
    pub tls_san: Vec<String>,

    /// Do not run the scheduler (pods stay Pending unless something else binds them).
    #[arg(long, env = "KERNEL_NO_SCHEDULER")]
    pub no_scheduler: bool,

    /// A KubeSchedulerConfiguration file (kubescheduler.config.k8s.io/v1), as kube-scheduler's
    /// --config takes.
    #[arg(long, env = "KERNEL_SCHEDULER_CONFIG", value_name = "FILE")]
    pub scheduler_config: Option<PathBuf>,

    /// Where the scheduler serves /metrics, /healthz and /readyz over plain HTTP ("off" for
    /// nowhere). Upstream serves them over HTTPS on :10259; 10251 was its plain-HTTP port.
    #[arg(long, env = "KERNEL_SCHEDULER_METRICS_ADDRESS", default_value = "127.0.0.1:10251",
          value_parser = parse_optional_addr)]
    pub scheduler_metrics_address: OptionalAddr,

    /// Do not run the kubelet (no node registers; pods stay Pending unless a node is made by
    /// hand, and pods bound to such a node never run).
    #[arg(long, env = "KERNEL_NO_KUBELET")]
    pub no_kubelet: bool,

    /// The kubelet's container runtime: `process` (containers are local processes of this
    /// user: no isolation, no images; the command must exist on this machine), `sim`
    /// (simulated: nothing runs, statuses as if it did) or `containerd[:SOCKET]` (real
    /// containers through CRI; SOCKET defaults to /run/containerd/containerd.sock; pod
    /// networking is containerd's CNI config, `--network` does not apply).
    #[arg(long, env = "KERNEL_RUNTIME", default_value = "process", value_parser = parse_runtime)]
    pub runtime: String,

    /// The process runtime's pod network: `host` (pods share this machine's network, each
    /// with an IP of its own in 127.0.0.0/8; no root) or `cni` (a network namespace per pod on
    /// a bridge, through the CNI plugins in /usr/lib/cni or /opt/cni/bin; needs root).
    #[arg(long, env = "KERNEL_NETWORK", default_value = "host", value_parser = ["host", "cni"])]
    pub network: String,

    /// The port of the kubelet's HTTPS server (logs, exec, attach, stats, metrics), on all
    /// addresses; 0 (the default) picks a free port, published in the Node's
    /// status.daemonEndpoints. Upstream's kubelet uses 10250. The simulated nodes serve none.
    #[arg(long, env = "KERNEL_KUBELET_PORT", default_value_t = 0)]
    pub kubelet_port: u16,

    /// A directory of static pod manifests (YAML or JSON, one pod per file) the kubelet runs
    /// without the API server and shows there as mirror pods (upstream's
    /// `--pod-manifest-path`, the config file's staticPodPath).
    #[arg(long, env = "KERNEL_POD_MANIFEST_PATH", value_name = "DIR")]
    pub pod_manifest_path: Option<PathBuf>,

    /// The kubelet's node name. Default: this machine's hostname.
    #[arg(long, env = "KERNEL_NODE_NAME")]
    pub node_name: Option<String>,

    /// Extra simulated nodes (`sim-1` ... `sim-N`), each a kubelet on a simulated runtime.
    #[arg(long, env = "KERNEL_NODES", default_value_t = 0)]
    pub nodes: u16,

    /// How long a shutdown waits for requests in flight before cutting connections.
    #[arg(long, env = "KERNEL_SHUTDOWN_GRACE", default_value = "10s", value_parser = parse_duration)]
    pub shutdown_grace: Duration,
}

/// Where objects are stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StoreChoice {
    /// In memory, gone at exit.
    Memory,
    /// The durable single-file store in the data directory.
    File,
    /// An etcd cluster at these client URLs.
    Etcd(Vec<String>),
}

impl std::fmt::Display for StoreChoice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StoreChoice::Memory => f.write_str("memory"),
            StoreChoice::File => f.write_str("file"),
            StoreChoice::Etcd(urls) => write!(f, "etcd at {}", urls.join(",")),
        }
    }
}

fn parse_store(s: &str) -> Result<StoreChoice, String> {
    match s {
        "memory" => Ok(StoreChoice::Memory),
        "file" => Ok(StoreChoice::File),
        _ => match s.strip_prefix("etcd:") {
            Some(urls) if !urls.is_empty() => Ok(StoreChoice::Etcd(
                urls.split(',').map(str::to_owned).collect(),
            )),
            _ => Err("expected memory, file or etcd:URL[,URL...]".into()),
        },
    }
}

/// An address, or none ("off").
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OptionalAddr(pub Option<SocketAddr>);

/// `process`, `sim`, `containerd` or `containerd:SOCKET`.
fn parse_runtime(s: &str) -> Result<String, String> {
    match s {
        "process" | "sim" | "containerd" => Ok(s.to_owned()),
        _ if s.strip_prefix("containerd:").is_some_and(|p| !p.is_empty()) => Ok(s.to_owned()),
        _ => Err("expected process, sim, containerd or containerd:SOCKET".into()),
    }
}

/// The CRI socket of a `containerd[:SOCKET]` runtime choice, `None` for the others.
pub fn containerd_socket(runtime: &str) -> Option<&str> {
    match runtime {
        "containerd" => Some(kernel_node::runtime::cri::CONTAINERD_SOCKET),
        _ => runtime.strip_prefix("containerd:"),
    }
}

fn parse_optional_addr(s: &str) -> Result<OptionalAddr, String> {
    if matches!(s, "off" | "none" | "") {
        return Ok(OptionalAddr(None));
    }
    s.parse()
        .map(|a| OptionalAddr(Some(a)))
        .map_err(|e| format!("{e}: expected HOST:PORT or off"))
}

/// `10s`, `500ms`, `2m` or a number of seconds.
fn parse_duration(s: &str) -> Result<Duration, String> {
    let (number, unit) = s
        .find(|c: char| !c.is_ascii_digit())
        .map_or((s, "s"), |i| s.split_at(i));
    let n: u64 = number
        .parse()
        .map_err(|_| format!("{s:?}: expected a duration such as 10s, 500ms or 2m"))?;
    match unit {
        "ms" => Ok(Duration::from_millis(n)),
        "s" => Ok(Duration::from_secs(n)),
        "m" => Ok(Duration::from_secs(n * 60)),
        _ => Err(format!("{s:?}: the unit is one of ms, s, m")),
    }
}

fn version() -> String {
    format!(
        "{} (Kubernetes API {})",
        env!("CARGO_PKG_VERSION"),
        kernel::api::GIT_VERSION
    )
}

impl Cli {
    /// The data directory: the flag, else the user's data directory.
    pub fn data_dir(&self) -> Result<PathBuf, String> {
        if let Some(dir) = &self.data_dir {
            return Ok(dir.clone());
        }
        let base = match std::env::var_os("XDG_DATA_HOME").filter(|v| !v.is_empty()) {
            Some(dir) => PathBuf::from(dir),
            None => match std::env::var_os("HOME").filter(|v| !v.is_empty()) {
                Some(home) => PathBuf::from(home).join(".local/share"),
                None => {
                    return Err("no data directory: set --data-dir, XDG_DATA_HOME or HOME".into())
                }
            },
        };
        Ok(base.join("kube-in-a-library"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stores_and_durations_parse() {
        assert_eq!(parse_store("memory").unwrap(), StoreChoice::Memory);
        assert_eq!(
            parse_store("etcd:http://a:1,http://b:2").unwrap(),
            StoreChoice::Etcd(vec!["http://a:1".into(), "http://b:2".into()])
        );
        assert!(parse_store("etcd:").is_err());
        assert!(parse_store("sqlite").is_err());
        assert_eq!(parse_duration("500ms").unwrap(), Duration::from_millis(500));
        assert_eq!(parse_duration("2m").unwrap(), Duration::from_secs(120));
        assert_eq!(parse_duration("7").unwrap(), Duration::from_secs(7));
        assert!(parse_duration("7h").is_err());
        assert_eq!(parse_optional_addr("off").unwrap(), OptionalAddr(None));
    }

    #[test]
    fn the_command_is_consistent() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }
}
