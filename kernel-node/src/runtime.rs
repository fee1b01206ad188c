//! The container runtime seam, shaped like CRI's `RuntimeService` + `ImageService`
//! (k8s.io/cri-api `api.proto`): pod sandboxes, containers in them, images.
//!
//! The kubelet drives a [`Runtime`] only through this trait; implementations: `ProcessRuntime`
//! (local processes, the embedded default), `SimRuntime` (simulated, for thousands of nodes),
//! `CriRuntime` (containerd over CRI gRPC). Networking is the runtime's business, as in CRI:
//! [`Runtime::run_pod_sandbox`] gives the sandbox its network and [`PodSandboxStatus::ip`]
//! reports the address.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::PathBuf;
use std::pin::Pin;
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use futures::future::BoxFuture;
use tokio::io::{AsyncRead, AsyncWrite};

use crate::error::Result;

#[cfg(feature = "cri")]
pub mod cri;
pub mod process;
pub mod sim;
#[cfg(feature = "testsuite")]
pub mod testsuite;

pub use process::ProcessRuntime;
pub use sim::SimRuntime;

/// What a pod sandbox is made from (CRI `PodSandboxConfig`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PodSandboxConfig {
    /// The pod's name.
    pub name: String,
    /// The pod's namespace.
    pub namespace: String,
    /// The pod's uid.
    pub uid: String,
    /// How many sandboxes of this pod were made before (0 for the first).
    pub attempt: u32,
    /// The hostname the pod sees.
    pub hostname: String,
    /// Where the containers' logs go: `<log_directory>/<container log_path>`.
    pub log_directory: PathBuf,
    /// The pod's labels.
    pub labels: BTreeMap<String, String>,
    /// The pod's annotations.
    pub annotations: BTreeMap<String, String>,
    /// `spec.hostNetwork`: the sandbox uses the node's network (and the node's address).
    pub host_network: bool,
    /// The node's pod CIDR (`spec.podCIDR`), if it has one: where a runtime that assigns
    /// addresses takes the pod's IP from.
    pub pod_cidr: Option<String>,
}

/// The state of a sandbox (CRI `PodSandboxState`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SandboxState {
    /// Running: containers may be created in it.
    Ready,
    /// Stopped (its containers are stopped, its network released).
    NotReady,
}

/// A sandbox as the runtime reports it (CRI `PodSandboxStatus`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PodSandboxStatus {
    /// The runtime's id of the sandbox.
    pub id: String,
    /// The config it was made from.
    pub config: PodSandboxConfig,
    /// Ready or not.
    pub state: SandboxState,
    /// When it was made.
    pub created_at: SystemTime,
    /// The pod's IP address (`status.podIP`), if it has one. `None` for a `host_network`
    /// sandbox: the kubelet then publishes the node's address, as upstream does.
    pub ip: Option<IpAddr>,
}

/// A file or directory of the node mounted into a container (CRI `Mount`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Mount {
    /// Where the container sees it.
    pub container_path: String,
    /// Where it is on the node.
    pub host_path: PathBuf,
    /// Read-only.
    pub readonly: bool,
}

/// What a container is made from (CRI `ContainerConfig`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ContainerConfig {
    /// The container's name in the pod.
    pub name: String,
    /// How many times this container was made in this sandbox before (its restart count).
    pub attempt: u32,
    /// The image reference (`busybox:1.36`).
    pub image: String,
    /// The entrypoint (`command`), already resolved against the image's when empty.
    pub command: Vec<String>,
    /// The arguments (`args`).
    pub args: Vec<String>,
    /// The working directory, if set.
    pub working_dir: Option<String>,
    /// The environment, in order, already expanded (`$(VAR)`) by the kubelet.
    pub envs: Vec<(String, String)>,
    /// The volumes mounted into it.
    pub mounts: Vec<Mount>,
    /// The log file, relative to the sandbox's `log_directory` (`<name>/<attempt>.log`).
    pub log_path: PathBuf,
    /// Labels the kubelet sets (pod and container identity).
    pub labels: BTreeMap<String, String>,
    /// Annotations the kubelet sets (restart count, termination message path, ...).
    pub annotations: BTreeMap<String, String>,
    /// Keep stdin open.
    pub stdin: bool,
    /// Allocate a TTY.
    pub tty: bool,
}

/// The state of a container (CRI `ContainerState`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ContainerState {
    /// Made, not started.
    Created,
    /// Running.
    Running,
    /// Ended (see [`ContainerStatus::exit_code`]).
    Exited,
    /// The runtime cannot tell.
    Unknown,
}

/// A container as the runtime reports it (CRI `ContainerStatus`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ContainerStatus {
    /// The runtime's id of the container.
    pub id: String,
    /// The sandbox it is in.
    pub sandbox_id: String,
    /// The container's name in the pod.
    pub name: String,
    /// Its attempt (restart count).
    pub attempt: u32,
    /// Its state.
    pub state: ContainerState,
    /// When it was made.
    pub created_at: SystemTime,
    /// When it started, once started.
    pub started_at: Option<SystemTime>,
    /// When it ended, once ended.
    pub finished_at: Option<SystemTime>,
    /// The exit code, once ended.
    pub exit_code: Option<i32>,
    /// A one-word reason (`Completed`, `Error`, `OOMKilled`, `ContainerCannotRun`).
    pub reason: String,
    /// A human message (why it could not run).
    pub message: String,
    /// The image as asked for.
    pub image: String,
    /// The image's resolved reference or id (`status.containerStatuses[].imageID`).
    pub image_ref: String,
    /// The log file (absolute).
    pub log_path: PathBuf,
}

impl ContainerStatus {
    /// A container just made from `config` in sandbox `sandbox_id`: state Created, created now,
    /// not started.
    pub fn created(
        id: String,
        sandbox_id: &str,
        config: &ContainerConfig,
        image_ref: String,
        log_path: PathBuf,
    ) -> Self {
        ContainerStatus {
            id,
            sandbox_id: sandbox_id.to_owned(),
            name: config.name.clone(),
            attempt: config.attempt,
            state: ContainerState::Created,
            created_at: SystemTime::now(),
            started_at: None,
            finished_at: None,
            exit_code: None,
            reason: String::new(),
            message: String::new(),
            image: config.image.clone(),
            image_ref,
            log_path,
        }
    }
}

/// The answer of [`Runtime::exec_sync`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ExecResult {
    /// What the command wrote to stdout.
    pub stdout: Vec<u8>,
    /// What the command wrote to stderr.
    pub stderr: Vec<u8>,
    /// Its exit code.
    pub exit_code: i32,
}

/// What an interactive exec or an attach asks for (CRI `ExecRequest` / `AttachRequest`, the
/// query of `kubectl exec` and `kubectl attach`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ExecRequest {
    /// The command to run (empty for an attach).
    pub command: Vec<String>,
    /// Stream the caller's stdin to the process.
    pub stdin: bool,
    /// Stream the process's stdout back.
    pub stdout: bool,
    /// Stream the process's stderr back (never with a TTY: it is merged into stdout).
    pub stderr: bool,
    /// Run the process on a terminal (`kubectl exec -t`).
    pub tty: bool,
}

/// A terminal's size, as remotecommand's resize channel sends it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TerminalSize {
    /// Columns.
    pub width: u16,
    /// Rows.
    pub height: u16,
}

/// A stream of bytes read from a process.
pub type ByteReader = Pin<Box<dyn AsyncRead + Send>>;
/// A stream of bytes written to a process.
pub type ByteWriter = Pin<Box<dyn AsyncWrite + Send>>;

/// A bidirectional byte stream: one port-forward connection into a pod.
pub trait Duplex: AsyncRead + AsyncWrite + Send + Unpin {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin> Duplex for T {}

/// An interactive process in a container, as [`Runtime::exec`] and [`Runtime::attach`]
/// give it: the streams asked for, the terminal's resize channel, and its end.
pub struct StreamingSession {
    /// Where the caller's stdin goes, if asked for; dropping it closes the process's stdin.
    pub stdin: Option<ByteWriter>,
    /// The process's stdout (with a TTY: the terminal's output), if asked for.
    pub stdout: Option<ByteReader>,
    /// The process's stderr, if asked for and without a TTY.
    pub stderr: Option<ByteReader>,
    /// Resizes the terminal; `Some` only with a TTY.
    pub resize: Option<tokio::sync::mpsc::Sender<TerminalSize>>,
    /// Resolves to the exit code once the process ended (an attach: once the container did).
    pub exit: BoxFuture<'static, Result<i32>>,
}

impl std::fmt::Debug for StreamingSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StreamingSession")
            .field("stdin", &self.stdin.is_some())
            .field("stdout", &self.stdout.is_some())
            .field("stderr", &self.stderr.is_some())
            .field("tty", &self.resize.is_some())
            .finish_non_exhaustive()
    }
}

/// An image the runtime has (CRI `Image`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Image {
    /// The image id (`sha256:...`, or what the runtime uses).
    pub id: String,
    /// The references it is known by (`docker.io/library/busybox:latest`).
    pub repo_tags: Vec<String>,
    /// Its size in bytes, if known.
    pub size: u64,
}

/// Runtime name and version (CRI `VersionResponse`), shown in `kubectl get nodes -o wide`
/// as `containerRuntimeVersion` (`<name>://<version>`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RuntimeVersion {
    /// `process`, `sim`, `containerd`.
    pub runtime_name: String,
    /// The runtime's version.
    pub runtime_version: String,
}

/// A container runtime: CRI's RuntimeService and ImageService as one async trait.
///
/// Errors are [`Error`](crate::Error)s; a container that cannot start is not an error of
/// `start_container` alone: its status then says `Exited` with a reason and message, as CRI
/// runtimes report `ContainerCannotRun`.
#[async_trait]
pub trait Runtime: Send + Sync + 'static {
    /// Name and version.
    async fn version(&self) -> Result<RuntimeVersion>;

    /// Makes and starts a sandbox (with its network); returns its id.
    async fn run_pod_sandbox(&self, config: &PodSandboxConfig) -> Result<String>;
    /// Stops every container of the sandbox and releases its network. Idempotent.
    async fn stop_pod_sandbox(&self, sandbox_id: &str) -> Result<()>;
    /// Removes a stopped sandbox and its containers. Idempotent: a missing sandbox is fine.
    async fn remove_pod_sandbox(&self, sandbox_id: &str) -> Result<()>;
    /// The sandbox's status; [`Error::NotFound`](crate::Error::NotFound) if there is none.
    async fn pod_sandbox_status(&self, sandbox_id: &str) -> Result<PodSandboxStatus>;
    /// Every sandbox.
    async fn list_pod_sandboxes(&self) -> Result<Vec<PodSandboxStatus>>;

    /// Makes a container in a ready sandbox; returns its id.
    async fn create_container(
        &self,
        sandbox_id: &str,
        config: &ContainerConfig,
        sandbox: &PodSandboxConfig,
    ) -> Result<String>;
    /// Starts a created container.
    async fn start_container(&self, container_id: &str) -> Result<()>;
    /// Stops a container: SIGTERM (or the image's stop signal), SIGKILL after `timeout`.
    /// Idempotent for a known container; an unknown one is
    /// [`Error::NotFound`](crate::Error::NotFound), as containerd answers.
    async fn stop_container(&self, container_id: &str, timeout: Duration) -> Result<()>;
    /// Removes a container (stopping it first if needed). Idempotent.
    async fn remove_container(&self, container_id: &str) -> Result<()>;
    /// The container's status; [`Error::NotFound`](crate::Error::NotFound) if there is none.
    async fn container_status(&self, container_id: &str) -> Result<ContainerStatus>;
    /// The containers of one sandbox, or of every sandbox.
    async fn list_containers(&self, sandbox_id: Option<&str>) -> Result<Vec<ContainerStatus>>;
    /// Runs a command in a running container and waits (up to `timeout`) for it to end:
    /// exec probes and `kubectl exec` without a TTY.
    async fn exec_sync(
        &self,
        container_id: &str,
        command: &[String],
        timeout: Duration,
    ) -> Result<ExecResult>;

    /// Runs a command in a running container with its streams connected to the caller:
    /// `kubectl exec` (CRI `Exec`, which hands back a URL of the runtime's streaming server;
    /// here the runtime hands back the streams). Runtimes that cannot answer
    /// [`Error::Unsupported`](crate::Error::Unsupported).
    async fn exec(&self, container_id: &str, request: &ExecRequest) -> Result<StreamingSession> {
        let _ = (container_id, request);
        Err(crate::Error::Unsupported("exec".into()))
    }
    /// Connects the caller to a running container's own stdin/stdout/stderr:
    /// `kubectl attach` (CRI `Attach`). `request.command` is empty.
    async fn attach(&self, container_id: &str, request: &ExecRequest) -> Result<StreamingSession> {
        let _ = (container_id, request);
        Err(crate::Error::Unsupported("attach".into()))
    }
    /// Opens one TCP connection to `port` inside the sandbox's network: one connection of
    /// `kubectl port-forward` (CRI `PortForward`).
    async fn port_forward(&self, sandbox_id: &str, port: u16) -> Result<Box<dyn Duplex>> {
        let _ = (sandbox_id, port);
        Err(crate::Error::Unsupported("port-forward".into()))
    }

    /// Pulls an image; returns its reference (or id). An image that cannot be had is
    /// [`Error::ImagePull`](crate::Error::ImagePull).
    async fn pull_image(&self, image: &str) -> Result<String>;
    /// The image if the runtime has it.
    async fn image_status(&self, image: &str) -> Result<Option<Image>>;
    /// Every image the runtime has.
    async fn list_images(&self) -> Result<Vec<Image>>;
    /// Removes an image. Idempotent.
    async fn remove_image(&self, image: &str) -> Result<()>;
}
