//! [`ProcessRuntime`]: containers as local processes, the embedded default; needs no root.
//!
//! # What it does
//!
//! - **Sandboxes** are a directory each, `<root>/<sandbox id>/`, and a network from the
//!   runtime's [`NetworkPlugin`] ([`HostNetwork`] by default: an IP in `127.0.0.0/8`; none for
//!   `host_network` sandboxes: the kubelet publishes the node's address, as upstream). The
//!   network is set up when the sandbox is made and torn down when it stops.
//! - **Network namespace**: when the plugin gives the sandbox one
//!   ([`CniNetwork`](crate::network::CniNetwork)), every container process and every exec
//!   joins it (`setns` before exec; needs root).
//! - **Command**: `command` + `args`. With an empty `command` the `args` are the command (an
//!   image without an entrypoint); with both empty, [`create_container`](Runtime::create_container)
//!   fails with [`Error::CreateContainer`]: the process runtime knows nothing of images, so
//!   there is no image entrypoint to fall back on.
//! - **Process group**: each container is its own process group (`process_group(0)`).
//!   [`stop_container`](Runtime::stop_container) sends SIGTERM to the group and SIGKILL after
//!   the timeout. When the container's main process exits, whatever is left of its group is
//!   SIGKILLed, as the kernel does to a PID namespace whose init exits.
//! - **Working directory**: `working_dir` if it is set and exists, otherwise the container's
//!   own directory `<root>/<sandbox id>/<container id>/`.
//! - **Environment**: exactly the container's `envs`, plus `PATH` when they set none (the
//!   kubelet's own `PATH`, or `/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin`;
//!   an image's config would supply one) and `HOSTNAME` (the sandbox's hostname, as containerd
//!   adds it) when they set none. Nothing else of the kubelet's environment leaks in. The
//!   command is looked up on that `PATH`.
//! - **Logs**: stdout and stderr are appended to `<log_directory>/<log_path>` in the CRI log
//!   format, one `<RFC 3339 nano timestamp> <stdout|stderr> <F|P> <line>` per line (`P` for the
//!   pieces of a line longer than 16 KiB, `F` for the piece that ends it), which is what the
//!   kubelet reads for `kubectl logs`. Without a `log_directory` the logs go to the sandbox's
//!   directory. stdin is `/dev/null`; there is no TTY.
//! - **Exit**: exit code, `finished_at` and a reason (`Completed` for 0, `Error` otherwise) are
//!   recorded when the process ends; killed by a signal, the exit code is 128 + the signal, as
//!   CRI runtimes report it. A command that cannot be started (not found, not executable) makes
//!   [`start_container`](Runtime::start_container) fail with [`Error::RunContainer`] and the
//!   OS's message, and the container then reads `Exited`, exit code 128, reason
//!   `ContainerCannotRun` with the same message.
//! - **Exec** ([`exec_sync`](Runtime::exec_sync)): a new process in the container's working
//!   directory with its environment (in the sandbox's network namespace if it has one), in a
//!   process group of its own that is SIGKILLed on timeout ([`Error::Timeout`]).
//! - **Streaming exec and attach** ([`exec`](Runtime::exec), [`attach`](Runtime::attach)):
//!   the same process with its streams piped to the caller, or on a pseudo-terminal with
//!   resize for `tty`; attach streams the container's output from its log (no stdin, no TTY:
//!   containers run with stdin on `/dev/null`). See `streaming.rs`.
//! - **Images**: there are none. Every pull of a non-empty reference succeeds and records the
//!   reference (its id and `image_ref` are the reference itself, size 0); a process runtime
//!   cannot tell that an image does not exist, so `ErrImagePull` never comes from it.
//!
//! # What it does not enforce
//!
//! No isolation of any kind: containers run as the kubelet's user, on the host's filesystem,
//! network and PID space.
//!
//! - **Filesystem**: there is no root filesystem of the image. Mounts are not performed and
//!   container paths are **not** remapped: a volume is only its directory on the host
//!   (`Mount::host_path`), which the process must be told about (through env or args);
//!   `readonly` is not enforced.
//! - **Users**: `runAsUser`, `runAsGroup`, capabilities, seccomp, AppArmor, SELinux: ignored.
//! - **Resources**: CPU and memory requests and limits are not applied (no cgroups); there is
//!   no OOM killer of its own.
//! - **Network**: with [`HostNetwork`] the pod IP is an address on the host's loopback, not a
//!   namespace; every pod can bind and reach every port of the host and of every other pod.
//!   `hostname` is not set for the process (only `HOSTNAME` in its env).
//! - **PIDs**: a process that leaves its process group (`setsid`) escapes stop and cleanup.
//!
//! State lives in memory: a new `ProcessRuntime` knows no sandbox of an earlier one.

use std::collections::{BTreeMap, HashMap};
use std::hash::{BuildHasher, Hasher};
use std::net::IpAddr;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::sync::watch;
use tracing::{debug, info, warn};

use super::{
    ContainerConfig, ContainerState, ContainerStatus, ExecResult, Image, PodSandboxConfig,
    PodSandboxStatus, Runtime, RuntimeVersion, SandboxState,
};
use crate::error::{Error, Result};
use crate::network::netns::{join_in_child, NetNs};
use crate::network::{HostNetwork, NetworkPlugin, PodNetworkConfig};

mod port_forward;
mod streaming;

/// `PATH` when neither the container nor the kubelet has one.
const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
/// The longest log line written as one; longer lines are split into `P` pieces.
const MAX_LOG_LINE: usize = 16 * 1024;
/// How long an exited container's log copiers may take to drain before the exit is recorded.
const LOG_DRAIN: Duration = Duration::from_secs(5);
/// How long to wait for a SIGKILLed process group to be reaped.
const KILL_WAIT: Duration = Duration::from_secs(30);

/// The process runtime: containers are local processes (see the [module docs](self) for what
/// it does and does not enforce).
#[derive(Clone)]
pub struct ProcessRuntime {
    inner: Arc<Inner>,
}

struct Inner {
    root: PathBuf,
    network: Arc<dyn NetworkPlugin>,
    /// The network when it is a [`HostNetwork`] (for [`ProcessRuntime::host_network`]).
    host: Option<HostNetwork>,
    state: Mutex<State>,
    ids: AtomicU64,
    id_seed: std::collections::hash_map::RandomState,
}

#[derive(Default)]
struct State {
    sandboxes: HashMap<String, Sandbox>,
    containers: HashMap<String, Container>,
    images: BTreeMap<String, Image>,
}

struct Sandbox {
    config: PodSandboxConfig,
    state: SandboxState,
    created_at: SystemTime,
    ip: Option<IpAddr>,
    /// The network namespace its processes join, if the plugin gave it one.
    netns: Option<PathBuf>,
    /// Set up and not yet torn down.
    network_up: bool,
    dir: PathBuf,
}

struct Container {
    status: ContainerStatus,
    /// The sandbox's network namespace.
    netns: Option<PathBuf>,
    argv: Vec<String>,
    env: Vec<(String, String)>,
    workdir: PathBuf,
    /// The container's own directory (removed with it).
    dir: PathBuf,
    /// Set once `start_container` began (guards double starts).
    starting: bool,
    /// A stop came while the container was starting: kill it as soon as it runs.
    stop_requested: bool,
    /// The process group while the main process runs.
    pgid: Option<i32>,
    /// Turns `true` once the exit is recorded.
    exited: watch::Receiver<bool>,
    exited_tx: Option<watch::Sender<bool>>,
}

impl ProcessRuntime {
    /// A process runtime keeping its sandboxes under `root` (created when missing) and taking
    /// pod IPs from `network`.
    pub fn new(root: PathBuf, network: HostNetwork) -> Self {
        Self::build(root, Arc::new(network.clone()), Some(network))
    }

    /// A process runtime keeping its sandboxes under `root` whose sandboxes get their network
    /// from `network` (e.g. a [`CniNetwork`](crate::network::CniNetwork)).
    pub fn with_network(root: PathBuf, network: Arc<dyn NetworkPlugin>) -> Self {
        Self::build(root, network, None)
    }

    fn build(root: PathBuf, network: Arc<dyn NetworkPlugin>, host: Option<HostNetwork>) -> Self {
        ProcessRuntime {
            inner: Arc::new(Inner {
                root,
                network,
                host,
                state: Mutex::default(),
                ids: AtomicU64::new(0),
                id_seed: std::collections::hash_map::RandomState::new(),
            }),
        }
    }

    /// The directory sandboxes live in.
    pub fn root(&self) -> &Path {
        &self.inner.root
    }

    /// The network plugin sandboxes get their network from.
    pub fn network(&self) -> &Arc<dyn NetworkPlugin> {
        &self.inner.network
    }

    /// The [`HostNetwork`] pod IPs come from, when the runtime was made with one
    /// ([`ProcessRuntime::new`]).
    pub fn host_network(&self) -> Option<&HostNetwork> {
        self.inner.host.as_ref()
    }

    /// Stops every sandbox (and so every container: SIGTERM, SIGKILL after `timeout`) and
    /// releases their IPs; the sandboxes stay listed as `NotReady`. Containers are not stopped
    /// when the runtime is dropped (their exit watchers keep it alive): call this when the
    /// kubelet shuts down and should take its pods with it.
    pub async fn shutdown(&self, timeout: Duration) -> Result<()> {
        let ids: Vec<(String, Vec<String>)> = {
            let state = self.lock();
            state
                .sandboxes
                .keys()
                .map(|sb| {
                    let containers = state
                        .containers
                        .values()
                        .filter(|c| &c.status.sandbox_id == sb)
                        .map(|c| c.status.id.clone())
                        .collect();
                    (sb.clone(), containers)
                })
                .collect()
        };
        let stops = ids.into_iter().map(|(sb, containers)| async move {
            for c in containers {
                match self.stop_container(&c, timeout).await {
                    Ok(()) | Err(Error::NotFound { .. }) => {}
                    Err(err) => return Err(err),
                }
            }
            match self.stop_pod_sandbox(&sb).await {
                Ok(()) | Err(Error::NotFound { .. }) => Ok(()),
                Err(err) => Err(err),
            }
        });
        futures::future::try_join_all(stops).await?;
        Ok(())
    }

    /// A fresh 32-hex-digit id: random per process, unique within it.
    fn new_id(&self) -> String {
        let n = self.inner.ids.fetch_add(1, Ordering::Relaxed);
        let mut out = String::with_capacity(32);
        for half in 0..2u64 {
            let mut h = self.inner.id_seed.build_hasher();
            h.write_u64(n);
            h.write_u64(half);
            h.write_u32(std::process::id());
            out.push_str(&format!("{:016x}", h.finish()));
        }
        out
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.inner
            .state
            .lock()
            .expect("process runtime state poisoned")
    }
}

fn io_err(context: impl Into<String>) -> impl FnOnce(std::io::Error) -> Error {
    let context = context.into();
    move |source| Error::Io { context, source }
}

fn not_found(kind: &'static str, id: &str) -> Error {
    Error::NotFound {
        kind,
        id: id.to_string(),
    }
}

/// Sends `signal` to process group `pgid`; a group that is gone is fine.
fn kill_group(pgid: i32, signal: i32) {
    // SAFETY: killpg only sends a signal; it touches no memory of this process.
    let rc = unsafe { libc::killpg(pgid, signal) };
    if rc != 0 {
        let err = std::io::Error::last_os_error();
        if err.raw_os_error() != Some(libc::ESRCH) {
            warn!(pgid, signal, %err, "killpg failed");
        }
    }
}

/// The exit code as CRI reports it: the code, or 128 + the signal that killed it.
fn exit_code(status: ExitStatus) -> i32 {
    status
        .code()
        .or_else(|| status.signal().map(|s| 128 + s))
        .unwrap_or(-1)
}

/// The environment a container's processes get (see the module docs).
fn container_env(config: &ContainerConfig, sandbox: &PodSandboxConfig) -> Vec<(String, String)> {
    let mut env = config.envs.clone();
    if !env.iter().any(|(k, _)| k == "PATH") {
        let path = std::env::var("PATH").unwrap_or_else(|_| DEFAULT_PATH.to_string());
        env.push(("PATH".into(), path));
    }
    if !env.iter().any(|(k, _)| k == "HOSTNAME") {
        let hostname = if sandbox.hostname.is_empty() {
            &sandbox.name
        } else {
            &sandbox.hostname
        };
        env.push(("HOSTNAME".into(), hostname.clone()));
    }
    env
}

/// A command for `argv` in `workdir` with exactly `env`, in a process group of its own, in
/// the network namespace `netns` if there is one.
fn command(
    argv: &[String],
    env: &[(String, String)],
    workdir: &Path,
    netns: Option<&Path>,
) -> Result<tokio::process::Command> {
    command_in(argv, env, workdir, netns, true)
}

/// [`command`], in a process group of its own only with `own_group` (a TTY exec makes its
/// own session instead: `setsid` fails in a group leader).
fn command_in(
    argv: &[String],
    env: &[(String, String)],
    workdir: &Path,
    netns: Option<&Path>,
    own_group: bool,
) -> Result<tokio::process::Command> {
    let mut cmd = tokio::process::Command::new(&argv[0]);
    cmd.args(&argv[1..])
        .env_clear()
        .envs(env.iter().map(|(k, v)| (k, v)))
        .current_dir(workdir);
    if own_group {
        cmd.process_group(0);
    }
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(false);
    if let Some(netns) = netns {
        join_in_child(&mut cmd, &NetNs::at(netns))?;
    }
    Ok(cmd)
}

/// Copies `reader` line by line into `log` in the CRI log format, tagging lines `stream`.
async fn copy_log<R: AsyncRead + Unpin>(
    reader: R,
    stream: &'static str,
    log: Arc<tokio::sync::Mutex<tokio::fs::File>>,
) {
    let mut reader = BufReader::new(reader);
    let mut line = Vec::with_capacity(256);
    loop {
        line.clear();
        let n = match (&mut reader)
            .take(MAX_LOG_LINE as u64)
            .read_until(b'\n', &mut line)
            .await
        {
            Ok(0) => return,
            Ok(n) => n,
            Err(err) => {
                debug!(stream, %err, "container output closed");
                return;
            }
        };
        let tag = if line.last() == Some(&b'\n') {
            line.pop();
            "F"
        } else if n == MAX_LOG_LINE {
            "P"
        } else {
            // The last line of the stream, without a newline: still a full line.
            "F"
        };
        let mut entry =
            format!("{} {stream} {tag} ", cri_timestamp(SystemTime::now())).into_bytes();
        entry.extend_from_slice(&line);
        entry.push(b'\n');
        let mut file = log.lock().await;
        // tokio's File writes in the background: flush so the line is in the file (for
        // `kubectl logs`) once written.
        let written = match file.write_all(&entry).await {
            Ok(()) => file.flush().await,
            Err(err) => Err(err),
        };
        if let Err(err) = written {
            warn!(stream, %err, "writing the container log failed");
            return;
        }
    }
}

/// `t` as Go's `time.RFC3339Nano` writes it in UTC: `2006-01-02T15:04:05.999999999Z`.
pub(crate) fn cri_timestamp(t: SystemTime) -> String {
    match jiff::Timestamp::try_from(t) {
        Ok(ts) => ts.to_string(),
        Err(_) => "1970-01-01T00:00:00Z".to_string(),
    }
}

#[async_trait]
impl Runtime for ProcessRuntime {
    async fn version(&self) -> Result<RuntimeVersion> {
        Ok(RuntimeVersion {
            runtime_name: "process".into(),
            runtime_version: env!("CARGO_PKG_VERSION").into(),
        })
    }

    async fn run_pod_sandbox(&self, config: &PodSandboxConfig) -> Result<String> {
        let id = self.new_id();
        let dir = self.inner.root.join(&id);
        tokio::fs::create_dir_all(&dir)
            .await
            .map_err(io_err(format!(
                "creating sandbox directory {}",
                dir.display()
            )))?;
        let network = match self
            .inner
            .network
            .set_up(&PodNetworkConfig::for_sandbox(&id, config))
            .await
        {
            Ok(network) => network,
            Err(err) => {
                let _ = tokio::fs::remove_dir_all(&dir).await;
                return Err(err);
            }
        };
        let ip = network.ip();
        info!(sandbox = %id, pod = %format!("{}/{}", config.namespace, config.name), ?ip, "sandbox ready");
        self.lock().sandboxes.insert(
            id.clone(),
            Sandbox {
                config: config.clone(),
                state: SandboxState::Ready,
                created_at: SystemTime::now(),
                ip,
                netns: network.netns,
                network_up: true,
                dir,
            },
        );
        Ok(id)
    }

    async fn stop_pod_sandbox(&self, sandbox_id: &str) -> Result<()> {
        let containers: Vec<String> = {
            let state = self.lock();
            if !state.sandboxes.contains_key(sandbox_id) {
                return Err(not_found("sandbox", sandbox_id));
            }
            state
                .containers
                .iter()
                .filter(|(_, c)| c.status.sandbox_id == sandbox_id)
                .map(|(id, _)| id.clone())
                .collect()
        };
        for id in containers {
            match self.stop_container(&id, Duration::ZERO).await {
                Ok(()) | Err(Error::NotFound { .. }) => {}
                Err(err) => return Err(err),
            }
        }
        let up = self
            .lock()
            .sandboxes
            .get(sandbox_id)
            .filter(|s| s.network_up)
            .map(|s| PodNetworkConfig::for_sandbox(sandbox_id, &s.config));
        if let Some(pod) = up {
            self.inner.network.tear_down(&pod).await?;
            if let Some(s) = self.lock().sandboxes.get_mut(sandbox_id) {
                s.network_up = false;
                s.netns = None;
            }
        }
        if let Some(sandbox) = self.lock().sandboxes.get_mut(sandbox_id) {
            if sandbox.state == SandboxState::Ready {
                info!(sandbox = %sandbox_id, "sandbox stopped");
            }
            sandbox.state = SandboxState::NotReady;
        }
        Ok(())
    }

    async fn remove_pod_sandbox(&self, sandbox_id: &str) -> Result<()> {
        match self.stop_pod_sandbox(sandbox_id).await {
            Ok(()) => {}
            Err(Error::NotFound { .. }) => return Ok(()),
            Err(err) => return Err(err),
        }
        let containers: Vec<String> = self
            .lock()
            .containers
            .iter()
            .filter(|(_, c)| c.status.sandbox_id == sandbox_id)
            .map(|(id, _)| id.clone())
            .collect();
        for id in containers {
            self.remove_container(&id).await?;
        }
        let removed = self.lock().sandboxes.remove(sandbox_id);
        if let Some(sandbox) = removed {
            match tokio::fs::remove_dir_all(&sandbox.dir).await {
                Ok(()) => {}
                Err(err) if err.kind() == std::io::ErrorKind::NotFound => {}
                Err(err) => {
                    warn!(sandbox = %sandbox_id, %err, "removing the sandbox directory failed")
                }
            }
            debug!(sandbox = %sandbox_id, "sandbox removed");
        }
        Ok(())
    }

    async fn pod_sandbox_status(&self, sandbox_id: &str) -> Result<PodSandboxStatus> {
        let state = self.lock();
        let sandbox = state
            .sandboxes
            .get(sandbox_id)
            .ok_or_else(|| not_found("sandbox", sandbox_id))?;
        Ok(sandbox_status(sandbox_id, sandbox))
    }

    async fn list_pod_sandboxes(&self) -> Result<Vec<PodSandboxStatus>> {
        let state = self.lock();
        let mut all: Vec<_> = state
            .sandboxes
            .iter()
            .map(|(id, s)| sandbox_status(id, s))
            .collect();
        all.sort_by(|a, b| a.created_at.cmp(&b.created_at).then(a.id.cmp(&b.id)));
        Ok(all)
    }

    async fn create_container(
        &self,
        sandbox_id: &str,
        config: &ContainerConfig,
        sandbox: &PodSandboxConfig,
    ) -> Result<String> {
        let argv: Vec<String> = if config.command.is_empty() {
            config.args.clone()
        } else {
            config.command.iter().chain(&config.args).cloned().collect()
        };
        if argv.is_empty() || argv[0].is_empty() {
            return Err(Error::CreateContainer(format!(
                "container {:?}: the process runtime has no image config for {:?}, so the container needs a command",
                config.name, config.image
            )));
        }
        let id = self.new_id();
        let (sandbox_dir, image_ref, netns) = {
            let state = self.lock();
            let sb = state
                .sandboxes
                .get(sandbox_id)
                .ok_or_else(|| not_found("sandbox", sandbox_id))?;
            if sb.state != SandboxState::Ready {
                return Err(Error::InvalidState(format!(
                    "sandbox {sandbox_id} is not ready"
                )));
            }
            if let Some(other) = state.containers.values().find(|c| {
                c.status.sandbox_id == sandbox_id
                    && c.status.name == config.name
                    && c.status.attempt == config.attempt
            }) {
                return Err(Error::CreateContainer(format!(
                    "container name {:?} attempt {} is already in use by {}",
                    config.name, config.attempt, other.status.id
                )));
            }
            let image_ref = state
                .images
                .get(&config.image)
                .map_or_else(|| config.image.clone(), |i| i.id.clone());
            (sb.dir.clone(), image_ref, sb.netns.clone())
        };
        let dir = sandbox_dir.join(&id);
        tokio::fs::create_dir_all(&dir)
            .await
            .map_err(io_err(format!(
                "creating container directory {}",
                dir.display()
            )))?;
        let log_dir = if sandbox.log_directory.as_os_str().is_empty() {
            sandbox_dir
        } else {
            sandbox.log_directory.clone()
        };
        let log_path = log_dir.join(&config.log_path);
        if let Some(parent) = log_path.parent() {
            tokio::fs::create_dir_all(parent)
                .await
                .map_err(io_err(format!(
                    "creating log directory {}",
                    parent.display()
                )))?;
        }
        let workdir = match &config.working_dir {
            Some(wd)
                if !wd.is_empty() && tokio::fs::metadata(wd).await.is_ok_and(|m| m.is_dir()) =>
            {
                PathBuf::from(wd)
            }
            Some(wd) if !wd.is_empty() => {
                debug!(container = %config.name, working_dir = %wd, "working dir does not exist on the host; using the container's directory");
                dir.clone()
            }
            _ => dir.clone(),
        };
        let (exited_tx, exited) = watch::channel(false);
        let status = ContainerStatus::created(id.clone(), sandbox_id, config, image_ref, log_path);
        let env = container_env(config, sandbox);
        let mut state = self.lock();
        // The sandbox may have stopped meanwhile.
        if state.sandboxes.get(sandbox_id).map(|s| s.state) != Some(SandboxState::Ready) {
            return Err(Error::InvalidState(format!(
                "sandbox {sandbox_id} is not ready"
            )));
        }
        state.containers.insert(
            id.clone(),
            Container {
                status,
                netns,
                argv,
                env,
                workdir,
                dir,
                starting: false,
                stop_requested: false,
                pgid: None,
                exited,
                exited_tx: Some(exited_tx),
            },
        );
        debug!(container = %id, sandbox = %sandbox_id, name = %config.name, "container created");
        Ok(id)
    }

    async fn start_container(&self, container_id: &str) -> Result<()> {
        let (argv, env, workdir, log_path, netns) = {
            let mut state = self.lock();
            let c = state
                .containers
                .get_mut(container_id)
                .ok_or_else(|| not_found("container", container_id))?;
            if c.starting || c.status.state != ContainerState::Created {
                return Err(Error::InvalidState(format!(
                    "container {container_id} is {:?}, not Created",
                    c.status.state
                )));
            }
            c.starting = true;
            (
                c.argv.clone(),
                c.env.clone(),
                c.workdir.clone(),
                c.status.log_path.clone(),
                c.netns.clone(),
            )
        };
        let spawned = async {
            let file = tokio::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&log_path)
                .await
                .map_err(|e| format!("opening log file {}: {e}", log_path.display()))?;
            let child = command(&argv, &env, &workdir, netns.as_deref())
                .map_err(|e| e.to_string())?
                .spawn()
                .map_err(|e| format!("starting {:?}: {e}", argv[0]))?;
            Ok::<_, String>((file, child))
        }
        .await;
        let (file, mut child) = match spawned {
            Ok(x) => x,
            Err(message) => {
                warn!(container = %container_id, %message, "container cannot run");
                let mut state = self.lock();
                if let Some(c) = state.containers.get_mut(container_id) {
                    let now = SystemTime::now();
                    c.status.state = ContainerState::Exited;
                    c.status.started_at = Some(now);
                    c.status.finished_at = Some(now);
                    c.status.exit_code = Some(128);
                    c.status.reason = "ContainerCannotRun".into();
                    c.status.message = message.clone();
                    if let Some(tx) = c.exited_tx.take() {
                        let _ = tx.send(true);
                    }
                }
                return Err(Error::RunContainer(message));
            }
        };
        let pid = child.id().and_then(|p| i32::try_from(p).ok());
        let log = Arc::new(tokio::sync::Mutex::new(file));
        let copiers: Vec<_> = [
            child
                .stdout
                .take()
                .map(|out| tokio::spawn(copy_log(out, "stdout", log.clone()))),
            child
                .stderr
                .take()
                .map(|err| tokio::spawn(copy_log(err, "stderr", log.clone()))),
        ]
        .into_iter()
        .flatten()
        .collect();
        {
            let mut state = self.lock();
            match state.containers.get_mut(container_id) {
                Some(c) => {
                    c.status.state = ContainerState::Running;
                    c.status.started_at = Some(SystemTime::now());
                    c.pgid = pid;
                    if c.stop_requested {
                        if let Some(pid) = pid {
                            kill_group(pid, libc::SIGKILL);
                        }
                    }
                }
                None => {
                    // Removed while starting: do not leave the process behind.
                    if let Some(pid) = pid {
                        kill_group(pid, libc::SIGKILL);
                    }
                }
            }
        }
        info!(container = %container_id, ?pid, command = ?argv, "container started");
        let this = self.clone();
        let id = container_id.to_string();
        tokio::spawn(async move {
            let status = child.wait().await;
            // Like a PID namespace whose init exits: the rest of the group goes too.
            if let Some(pid) = pid {
                kill_group(pid, libc::SIGKILL);
            }
            for copier in copiers {
                if tokio::time::timeout(LOG_DRAIN, copier).await.is_err() {
                    warn!(container = %id, "log copier still busy after the container exited");
                }
            }
            let (code, message) = match status {
                Ok(status) => (exit_code(status), String::new()),
                Err(err) => (-1, format!("waiting for the process failed: {err}")),
            };
            let mut state = this.lock();
            if let Some(c) = state.containers.get_mut(&id) {
                c.status.state = ContainerState::Exited;
                c.status.finished_at = Some(SystemTime::now());
                c.status.exit_code = Some(code);
                c.status.reason = if code == 0 { "Completed" } else { "Error" }.into();
                c.status.message = message;
                c.pgid = None;
                if let Some(tx) = c.exited_tx.take() {
                    let _ = tx.send(true);
                }
            }
            info!(container = %id, exit_code = code, "container exited");
        });
        Ok(())
    }

    async fn stop_container(&self, container_id: &str, timeout: Duration) -> Result<()> {
        let (pgid, mut exited) = {
            let state = self.lock();
            let c = state
                .containers
                .get(container_id)
                .ok_or_else(|| not_found("container", container_id))?;
            (c.pgid, c.exited.clone())
        };
        let Some(pgid) = pgid else {
            // Created and never started, starting right now, or already exited.
            let starting = {
                let mut state = self.lock();
                match state.containers.get_mut(container_id) {
                    Some(c) if c.status.state == ContainerState::Created && c.starting => {
                        // `start_container` kills it once spawned (or fails): wait for that.
                        c.stop_requested = true;
                        true
                    }
                    Some(c) if c.status.state == ContainerState::Created => {
                        // CRI: a stopped container that never ran reads Exited.
                        c.status.state = ContainerState::Exited;
                        c.status.finished_at = Some(SystemTime::now());
                        c.status.exit_code = Some(0);
                        c.status.reason = "Completed".into();
                        if let Some(tx) = c.exited_tx.take() {
                            let _ = tx.send(true);
                        }
                        false
                    }
                    _ => false,
                }
            };
            if !starting {
                return Ok(());
            }
            let reaped = tokio::time::timeout(KILL_WAIT, exited.wait_for(|e| *e))
                .await
                .is_ok();
            return match reaped {
                true => Ok(()),
                false => Err(Error::Timeout(format!(
                    "container {container_id} did not exit while starting"
                ))),
            };
        };
        if *exited.borrow() {
            return Ok(());
        }
        debug!(container = %container_id, pgid, ?timeout, "stopping container: SIGTERM");
        kill_group(pgid, libc::SIGTERM);
        if tokio::time::timeout(timeout, exited.wait_for(|e| *e))
            .await
            .is_ok()
        {
            return Ok(());
        }
        debug!(container = %container_id, pgid, "stopping container: SIGKILL");
        if *exited.borrow() {
            return Ok(());
        }
        kill_group(pgid, libc::SIGKILL);
        let reaped = tokio::time::timeout(KILL_WAIT, exited.wait_for(|e| *e))
            .await
            .is_ok();
        match reaped {
            true => Ok(()),
            false => Err(Error::Timeout(format!(
                "container {container_id} did not exit {KILL_WAIT:?} after SIGKILL"
            ))),
        }
    }

    async fn remove_container(&self, container_id: &str) -> Result<()> {
        match self.stop_container(container_id, Duration::ZERO).await {
            Ok(()) => {}
            Err(Error::NotFound { .. }) => return Ok(()),
            Err(err) => return Err(err),
        }
        let removed = self.lock().containers.remove(container_id);
        if let Some(c) = removed {
            match tokio::fs::remove_dir_all(&c.dir).await {
                Ok(()) => {}
                Err(err) if err.kind() == std::io::ErrorKind::NotFound => {}
                Err(err) => {
                    warn!(container = %container_id, %err, "removing the container directory failed")
                }
            }
            debug!(container = %container_id, "container removed");
        }
        Ok(())
    }

    async fn container_status(&self, container_id: &str) -> Result<ContainerStatus> {
        let state = self.lock();
        state
            .containers
            .get(container_id)
            .map(|c| c.status.clone())
            .ok_or_else(|| not_found("container", container_id))
    }

    async fn list_containers(&self, sandbox_id: Option<&str>) -> Result<Vec<ContainerStatus>> {
        let state = self.lock();
        let mut all: Vec<_> = state
            .containers
            .values()
            .filter(|c| sandbox_id.is_none_or(|s| c.status.sandbox_id == s))
            .map(|c| c.status.clone())
            .collect();
        all.sort_by(|a, b| a.created_at.cmp(&b.created_at).then(a.id.cmp(&b.id)));
        Ok(all)
    }

    async fn exec_sync(
        &self,
        container_id: &str,
        command_line: &[String],
        timeout: Duration,
    ) -> Result<ExecResult> {
        if command_line.is_empty() || command_line[0].is_empty() {
            return Err(Error::InvalidState("exec needs a command".into()));
        }
        let (env, workdir, netns) = {
            let state = self.lock();
            let c = state
                .containers
                .get(container_id)
                .ok_or_else(|| not_found("container", container_id))?;
            if c.status.state != ContainerState::Running {
                return Err(Error::InvalidState(format!(
                    "container {container_id} is {:?}, not Running",
                    c.status.state
                )));
            }
            (c.env.clone(), c.workdir.clone(), c.netns.clone())
        };
        let mut child = command(command_line, &env, &workdir, netns.as_deref())?
            .spawn()
            .map_err(|e| Error::RunContainer(format!("exec {:?}: {e}", command_line[0])))?;
        let pid = child.id().and_then(|p| i32::try_from(p).ok());
        let read = |r: Option<Box<dyn AsyncRead + Unpin + Send>>| {
            tokio::spawn(async move {
                let mut buf = Vec::new();
                if let Some(mut r) = r {
                    let _ = r.read_to_end(&mut buf).await;
                }
                buf
            })
        };
        let stdout = read(child.stdout.take().map(|s| Box::new(s) as _));
        let stderr = read(child.stderr.take().map(|s| Box::new(s) as _));
        let status = tokio::select! {
            status = child.wait() => status.map_err(io_err("waiting for exec"))?,
            () = tokio::time::sleep(timeout) => {
                if let Some(pid) = pid {
                    kill_group(pid, libc::SIGKILL);
                }
                let _ = child.wait().await;
                return Err(Error::Timeout(format!(
                    "exec {command_line:?} in container {container_id} did not finish within {timeout:?}"
                )));
            }
        };
        // The exec's own leftovers (background children) go with it.
        if let Some(pid) = pid {
            kill_group(pid, libc::SIGKILL);
        }
        // Bounded: a leftover that left the group (setsid) may hold the pipes open.
        let stdout = match tokio::time::timeout(LOG_DRAIN, stdout).await {
            Ok(out) => out.unwrap_or_default(),
            Err(_) => Vec::new(),
        };
        let stderr = match tokio::time::timeout(LOG_DRAIN, stderr).await {
            Ok(out) => out.unwrap_or_default(),
            Err(_) => Vec::new(),
        };
        Ok(ExecResult {
            stdout,
            stderr,
            exit_code: exit_code(status),
        })
    }

    async fn exec(
        &self,
        container_id: &str,
        request: &super::ExecRequest,
    ) -> Result<super::StreamingSession> {
        self.exec_streaming(container_id, request).await
    }

    async fn attach(
        &self,
        container_id: &str,
        request: &super::ExecRequest,
    ) -> Result<super::StreamingSession> {
        self.attach_streaming(container_id, request).await
    }

    async fn pull_image(&self, image: &str) -> Result<String> {
        if image.trim().is_empty() {
            return Err(Error::ImagePull {
                image: image.to_string(),
                message: "empty image reference".into(),
            });
        }
        self.lock()
            .images
            .entry(image.to_string())
            .or_insert_with(|| Image {
                id: image.to_string(),
                repo_tags: vec![image.to_string()],
                size: 0,
            });
        debug!(
            image,
            "image pulled (the process runtime has no images: recorded only)"
        );
        Ok(image.to_string())
    }

    async fn image_status(&self, image: &str) -> Result<Option<Image>> {
        Ok(self.lock().images.get(image).cloned())
    }

    async fn list_images(&self) -> Result<Vec<Image>> {
        Ok(self.lock().images.values().cloned().collect())
    }

    async fn remove_image(&self, image: &str) -> Result<()> {
        self.lock().images.remove(image);
        Ok(())
    }

    async fn port_forward(&self, sandbox_id: &str, port: u16) -> Result<Box<dyn super::Duplex>> {
        port_forward::port_forward(self, sandbox_id, port).await
    }
}

fn sandbox_status(id: &str, s: &Sandbox) -> PodSandboxStatus {
    PodSandboxStatus {
        id: id.to_string(),
        config: s.config.clone(),
        state: s.state,
        created_at: s.created_at,
        ip: s.ip,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_are_rfc3339_nano_utc() {
        let t = SystemTime::UNIX_EPOCH + Duration::new(1_700_000_000, 123_456_789);
        assert_eq!(cri_timestamp(t), "2023-11-14T22:13:20.123456789Z");
        let t = SystemTime::UNIX_EPOCH + Duration::new(1_700_000_000, 120_000_000);
        assert_eq!(cri_timestamp(t), "2023-11-14T22:13:20.12Z");
        let t = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        assert_eq!(cri_timestamp(t), "2023-11-14T22:13:20Z");
    }

    #[test]
    fn exit_codes_of_signals_are_128_plus() {
        assert_eq!(exit_code(ExitStatus::from_raw(3 << 8)), 3);
        assert_eq!(exit_code(ExitStatus::from_raw(libc::SIGKILL)), 137);
    }

    #[test]
    fn env_is_exactly_given_plus_path_and_hostname() {
        let config = ContainerConfig {
            envs: vec![("A".into(), "1".into())],
            ..Default::default()
        };
        let sandbox = PodSandboxConfig {
            name: "web".into(),
            ..Default::default()
        };
        let env = container_env(&config, &sandbox);
        let keys: Vec<_> = env.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(keys, ["A", "PATH", "HOSTNAME"]);
        assert_eq!(env[2].1, "web");
        let config = ContainerConfig {
            envs: vec![
                ("PATH".into(), "/x".into()),
                ("HOSTNAME".into(), "h".into()),
            ],
            ..Default::default()
        };
        assert_eq!(container_env(&config, &sandbox), config.envs);
    }
}
