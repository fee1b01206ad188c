//! [`CriRuntime`]: the [`Runtime`] seam spoken as CRI v1 over gRPC on a unix socket, to
//! containerd (or any CRI runtime: CRI-O) — the kubelet's `--container-runtime-endpoint`
//! (feature `cri`).
//!
//! Every [`Runtime`] method is one CRI call or a few: sandboxes and containers map field by
//! field (see [`proto`] for the messages, written by hand with upstream's field numbers, no
//! protoc). What CRI's statuses do not return but [`PodSandboxConfig`] and [`ContainerStatus`]
//! carry (the sandbox's hostname, log directory and pod CIDR, the container's image as asked
//! for) travels in annotations under [`ANNOTATION_PREFIX`], which the runtime strips again, so
//! the statuses survive a restart of the kubelet with no state of its own.
//!
//! Errors: gRPC `NotFound` is [`Error::NotFound`], `DeadlineExceeded` is [`Error::Timeout`], a
//! failed pull is [`Error::ImagePull`], a failed create/start is
//! [`Error::CreateContainer`]/[`Error::RunContainer`], the rest [`Error::Backend`].
//!
//! [`Runtime::exec`], [`Runtime::attach`] and [`Runtime::port_forward`] ask CRI `Exec`,
//! `Attach` and `PortForward` for a URL of the runtime's streaming server: exec and attach
//! speak remotecommand over SPDY/3.1 to it (closing stdin is EOF for the process),
//! port-forward websocket `v4.channel.k8s.io`.
//!
//! CRI semantics that differ from the process runtime: each container has its own PID
//! namespace (as the kubelet asks for every pod without `shareProcessNamespace`), so a
//! container whose PID 1 installs no SIGTERM handler ignores SIGTERM and dies of the SIGKILL
//! after the grace period, as in Kubernetes; and [`Runtime::pull_image`] really pulls from a
//! registry.
//!
//! ```no_run
//! # async fn doc() -> kernel_node::Result<()> {
//! use kernel_node::runtime::{cri::CriRuntime, Runtime};
//! let runtime = CriRuntime::connect("/run/containerd/containerd.sock").await?;
//! println!("{}", runtime.version().await?.runtime_version);
//! # Ok(()) }
//! ```

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use tonic::{Code, Status};

use super::{
    ContainerConfig, ContainerState, ContainerStatus, Duplex, ExecRequest, ExecResult, Image,
    PodSandboxConfig, PodSandboxStatus, Runtime, RuntimeVersion, SandboxState, StreamingSession,
};
use crate::error::{Error, Result};

pub mod proto;
mod stream;

use proto::{method, CriClient, NamespaceMode};

/// The prefix of the annotations [`CriRuntime`] adds to carry what CRI statuses do not
/// return; they are removed from the statuses it reports.
pub const ANNOTATION_PREFIX: &str = "cri.kernel-node.io/";
const HOSTNAME: &str = "cri.kernel-node.io/hostname";
const LOG_DIRECTORY: &str = "cri.kernel-node.io/log-directory";
const POD_CIDR: &str = "cri.kernel-node.io/pod-cidr";
const IMAGE: &str = "cri.kernel-node.io/image";

/// The default containerd socket.
pub const CONTAINERD_SOCKET: &str = "/run/containerd/containerd.sock";

/// How much longer than an exec's own timeout the client waits for the runtime's answer.
const EXEC_SLACK: Duration = Duration::from_secs(10);

/// A [`Runtime`] speaking CRI v1 (`runtime.v1.RuntimeService` and `ImageService`) to a
/// runtime's unix socket. Cheap to clone (one HTTP/2 connection, multiplexed).
#[derive(Clone, Debug)]
pub struct CriRuntime {
    client: CriClient,
    socket: PathBuf,
}

// === impl CriRuntime ===

impl CriRuntime {
    /// Connects to the CRI socket at `socket` (`/run/containerd/containerd.sock`) and checks it
    /// answers CRI v1 `Version`.
    pub async fn connect(socket: impl AsRef<Path>) -> Result<CriRuntime> {
        let socket = socket.as_ref().to_path_buf();
        let uri = format!("unix://{}", socket.display());
        let endpoint = tonic::transport::Endpoint::from_shared(uri)
            .map_err(|e| Error::Backend(format!("CRI socket {}: {e}", socket.display())))?
            .connect_timeout(Duration::from_secs(10));
        let channel = endpoint
            .connect()
            .await
            .map_err(|e| Error::Backend(format!("connecting to {}: {e}", socket.display())))?;
        let runtime = CriRuntime {
            client: CriClient::new(channel),
            socket,
        };
        let version = runtime.version().await?;
        tracing::debug!(
            socket = %runtime.socket.display(),
            runtime = %version.runtime_name,
            version = %version.runtime_version,
            "connected to CRI runtime"
        );
        Ok(runtime)
    }

    /// The socket this runtime talks to.
    pub fn socket(&self) -> &Path {
        &self.socket
    }

    /// The gRPC client, for CRI calls the [`Runtime`] trait does not have.
    pub fn client(&self) -> &CriClient {
        &self.client
    }

    async fn call<Req, Resp>(
        &self,
        path: &'static str,
        request: Req,
    ) -> std::result::Result<Resp, Status>
    where
        Req: prost::Message + Send + Sync + 'static,
        Resp: prost::Message + Default + Send + Sync + 'static,
    {
        tracing::trace!(method = path, "CRI call");
        self.client.call(path, request).await
    }
}

/// A gRPC status as an [`Error`]: `NotFound` names `kind` and `id`.
fn error(what: &str, kind: &'static str, id: &str, status: Status) -> Error {
    match status.code() {
        Code::NotFound => Error::NotFound {
            kind,
            id: id.to_owned(),
        },
        Code::DeadlineExceeded => Error::Timeout(format!("{what} {id}: {}", status.message())),
        _ => Error::Backend(format!(
            "CRI {what} {id}: {:?}: {}",
            status.code(),
            status.message()
        )),
    }
}

/// `Ok(())` for a NotFound answer (idempotent removes), the error otherwise.
fn ignore_not_found(result: Result<()>) -> Result<()> {
    match result {
        Err(Error::NotFound { .. }) => Ok(()),
        other => other,
    }
}

/// Whole seconds for a CRI timeout field, rounded up (CRI's 0 means "no timeout" for exec and
/// "kill now" for stop, so a sub-second wish must not become 0).
fn ceil_secs(d: Duration) -> i64 {
    let secs = d.as_secs() + u64::from(d.subsec_nanos() > 0);
    i64::try_from(secs).unwrap_or(i64::MAX)
}

/// A CRI timestamp (nanoseconds since the epoch; 0 = unset).
fn time(nanos: i64) -> Option<SystemTime> {
    u64::try_from(nanos)
        .ok()
        .filter(|n| *n > 0)
        .map(|n| SystemTime::UNIX_EPOCH + Duration::from_nanos(n))
}

fn mode(m: NamespaceMode) -> i32 {
    m as i32
}

/// The namespaces the kubelet asks for: the pod's network (or the node's), a PID namespace per
/// container, the pod's IPC.
fn namespaces(host_network: bool) -> proto::NamespaceOption {
    proto::NamespaceOption {
        network: mode(if host_network {
            NamespaceMode::Node
        } else {
            NamespaceMode::Pod
        }),
        pid: mode(NamespaceMode::Container),
        ipc: mode(NamespaceMode::Pod),
        target_id: String::new(),
    }
}

/// Our sandbox config as CRI's, with the fields CRI does not return stashed in annotations.
fn sandbox_to_cri(config: &PodSandboxConfig) -> proto::PodSandboxConfig {
    let mut annotations = config.annotations.clone();
    annotations.insert(HOSTNAME.into(), config.hostname.clone());
    annotations.insert(
        LOG_DIRECTORY.into(),
        config.log_directory.to_string_lossy().into_owned(),
    );
    if let Some(cidr) = &config.pod_cidr {
        annotations.insert(POD_CIDR.into(), cidr.clone());
    }
    proto::PodSandboxConfig {
        metadata: Some(proto::PodSandboxMetadata {
            name: config.name.clone(),
            uid: config.uid.clone(),
            namespace: config.namespace.clone(),
            attempt: config.attempt,
        }),
        // CRI: the hostname may only be empty with the node's network.
        hostname: if config.host_network {
            String::new()
        } else {
            config.hostname.clone()
        },
        log_directory: config.log_directory.to_string_lossy().into_owned(),
        dns_config: Some(proto::DnsConfig::default()),
        labels: config.labels.clone(),
        annotations,
        linux: Some(proto::LinuxPodSandboxConfig {
            cgroup_parent: String::new(),
            security_context: Some(proto::LinuxSandboxSecurityContext {
                namespace_options: Some(namespaces(config.host_network)),
                privileged: false,
            }),
        }),
    }
}

/// Splits our stashed annotations off `annotations`: (the caller's, ours).
fn split_annotations(
    mut annotations: BTreeMap<String, String>,
) -> (BTreeMap<String, String>, BTreeMap<String, String>) {
    let ours = annotations
        .keys()
        .filter(|k| k.starts_with(ANNOTATION_PREFIX))
        .cloned()
        .collect::<Vec<_>>();
    let ours = ours
        .into_iter()
        .filter_map(|k| annotations.remove_entry(&k))
        .collect();
    (annotations, ours)
}

/// CRI's sandbox status as ours.
fn sandbox_from_cri(status: proto::PodSandboxStatus) -> PodSandboxStatus {
    let metadata = status.metadata.unwrap_or_default();
    let (annotations, ours) = split_annotations(status.annotations);
    let host_network = status
        .linux
        .and_then(|l| l.namespaces)
        .and_then(|n| n.options)
        .is_some_and(|o| o.network == mode(NamespaceMode::Node));
    let ip = status
        .network
        .map(|n| n.ip)
        .filter(|ip| !ip.is_empty() && !host_network)
        .and_then(|ip| ip.parse::<IpAddr>().ok());
    let state = if status.state == proto::PodSandboxState::SandboxReady as i32 {
        SandboxState::Ready
    } else {
        SandboxState::NotReady
    };
    PodSandboxStatus {
        id: status.id,
        config: PodSandboxConfig {
            name: metadata.name,
            namespace: metadata.namespace,
            uid: metadata.uid,
            attempt: metadata.attempt,
            hostname: ours.get(HOSTNAME).cloned().unwrap_or_default(),
            log_directory: ours
                .get(LOG_DIRECTORY)
                .map(PathBuf::from)
                .unwrap_or_default(),
            labels: status.labels,
            annotations,
            host_network,
            pod_cidr: ours.get(POD_CIDR).cloned(),
        },
        state,
        created_at: time(status.created_at).unwrap_or(SystemTime::UNIX_EPOCH),
        ip,
    }
}

/// Our container config as CRI's.
fn container_to_cri(
    config: &ContainerConfig,
    sandbox: &PodSandboxConfig,
) -> proto::ContainerConfig {
    let mut annotations = config.annotations.clone();
    annotations.insert(IMAGE.into(), config.image.clone());
    proto::ContainerConfig {
        metadata: Some(proto::ContainerMetadata {
            name: config.name.clone(),
            attempt: config.attempt,
        }),
        image: Some(proto::ImageSpec {
            image: config.image.clone(),
        }),
        command: config.command.clone(),
        args: config.args.clone(),
        working_dir: config.working_dir.clone().unwrap_or_default(),
        envs: config
            .envs
            .iter()
            .map(|(key, value)| proto::KeyValue {
                key: key.clone(),
                value: value.clone(),
            })
            .collect(),
        mounts: config
            .mounts
            .iter()
            .map(|m| proto::Mount {
                container_path: m.container_path.clone(),
                host_path: m.host_path.to_string_lossy().into_owned(),
                readonly: m.readonly,
            })
            .collect(),
        labels: config.labels.clone(),
        annotations,
        log_path: config.log_path.to_string_lossy().into_owned(),
        stdin: config.stdin,
        stdin_once: false,
        tty: config.tty,
        linux: Some(proto::LinuxContainerConfig {
            security_context: Some(proto::LinuxContainerSecurityContext {
                privileged: false,
                namespace_options: Some(namespaces(sandbox.host_network)),
            }),
        }),
    }
}

/// CRI's container status (of a container in `sandbox_id`) as ours.
fn container_from_cri(status: proto::ContainerStatus, sandbox_id: String) -> ContainerStatus {
    let metadata = status.metadata.unwrap_or_default();
    let (_, ours) = split_annotations(status.annotations);
    let state = match proto::ContainerState::try_from(status.state) {
        Ok(proto::ContainerState::ContainerCreated) => ContainerState::Created,
        Ok(proto::ContainerState::ContainerRunning) => ContainerState::Running,
        Ok(proto::ContainerState::ContainerExited) => ContainerState::Exited,
        _ => ContainerState::Unknown,
    };
    let finished_at = time(status.finished_at);
    let image_ref = [status.image_id, status.image_ref]
        .into_iter()
        .find(|r| !r.is_empty())
        .unwrap_or_default();
    ContainerStatus {
        id: status.id,
        sandbox_id,
        name: metadata.name,
        attempt: metadata.attempt,
        state,
        created_at: time(status.created_at).unwrap_or(SystemTime::UNIX_EPOCH),
        started_at: time(status.started_at),
        finished_at,
        exit_code: (state == ContainerState::Exited).then_some(status.exit_code),
        reason: status.reason,
        message: status.message,
        image: ours
            .get(IMAGE)
            .cloned()
            .or_else(|| status.image.map(|i| i.image))
            .unwrap_or_default(),
        image_ref,
        log_path: PathBuf::from(status.log_path),
    }
}

fn image_from_cri(image: proto::Image) -> Image {
    Image {
        id: image.id,
        repo_tags: image.repo_tags,
        size: image.size,
    }
}

fn image_spec(image: &str) -> Option<proto::ImageSpec> {
    Some(proto::ImageSpec {
        image: image.to_owned(),
    })
}

async fn create_dir(dir: &Path) -> Result<()> {
    tokio::fs::create_dir_all(dir)
        .await
        .map_err(|source| Error::Io {
            context: format!("creating log directory {}", dir.display()),
            source,
        })
}

impl CriRuntime {
    /// The container's status and the sandbox it is in (containerd reports the sandbox only in
    /// the verbose `info`; the list call has it too).
    async fn status_of(&self, container_id: &str) -> Result<ContainerStatus> {
        let response: proto::ContainerStatusResponse = self
            .call(
                method::CONTAINER_STATUS,
                proto::ContainerStatusRequest {
                    container_id: container_id.to_owned(),
                    verbose: false,
                },
            )
            .await
            .map_err(|s| error("ContainerStatus", "container", container_id, s))?;
        let status = response.status.ok_or_else(|| Error::NotFound {
            kind: "container",
            id: container_id.to_owned(),
        })?;
        let listed: proto::ListContainersResponse = self
            .call(
                method::LIST_CONTAINERS,
                proto::ListContainersRequest {
                    filter: Some(proto::ContainerFilter {
                        id: container_id.to_owned(),
                        pod_sandbox_id: String::new(),
                    }),
                },
            )
            .await
            .map_err(|s| error("ListContainers", "container", container_id, s))?;
        let sandbox_id = listed
            .containers
            .into_iter()
            .find(|c| c.id == status.id)
            .map(|c| c.pod_sandbox_id)
            .unwrap_or_default();
        Ok(container_from_cri(status, sandbox_id))
    }
}

#[async_trait]
impl Runtime for CriRuntime {
    async fn version(&self) -> Result<RuntimeVersion> {
        let v: proto::VersionResponse = self
            .call(
                method::VERSION,
                proto::VersionRequest {
                    version: "v1".into(),
                },
            )
            .await
            .map_err(|s| error("Version", "runtime", "", s))?;
        Ok(RuntimeVersion {
            runtime_name: v.runtime_name,
            runtime_version: v.runtime_version,
        })
    }

    async fn run_pod_sandbox(&self, config: &PodSandboxConfig) -> Result<String> {
        if !config.log_directory.as_os_str().is_empty() {
            create_dir(&config.log_directory).await?;
        }
        let response: proto::RunPodSandboxResponse = self
            .call(
                method::RUN_POD_SANDBOX,
                proto::RunPodSandboxRequest {
                    config: Some(sandbox_to_cri(config)),
                    runtime_handler: String::new(),
                },
            )
            .await
            .map_err(|s| {
                Error::Backend(format!(
                    "CRI RunPodSandbox {}/{}: {}",
                    config.namespace,
                    config.name,
                    s.message()
                ))
            })?;
        Ok(response.pod_sandbox_id)
    }

    async fn stop_pod_sandbox(&self, sandbox_id: &str) -> Result<()> {
        let result: Result<proto::Empty> = self
            .call(
                method::STOP_POD_SANDBOX,
                proto::PodSandboxIdRequest {
                    pod_sandbox_id: sandbox_id.to_owned(),
                },
            )
            .await
            .map_err(|s| error("StopPodSandbox", "sandbox", sandbox_id, s));
        result.map(drop)
    }

    async fn remove_pod_sandbox(&self, sandbox_id: &str) -> Result<()> {
        let result: Result<proto::Empty> = self
            .call(
                method::REMOVE_POD_SANDBOX,
                proto::PodSandboxIdRequest {
                    pod_sandbox_id: sandbox_id.to_owned(),
                },
            )
            .await
            .map_err(|s| error("RemovePodSandbox", "sandbox", sandbox_id, s));
        ignore_not_found(result.map(drop))
    }

    async fn pod_sandbox_status(&self, sandbox_id: &str) -> Result<PodSandboxStatus> {
        let response: proto::PodSandboxStatusResponse = self
            .call(
                method::POD_SANDBOX_STATUS,
                proto::PodSandboxStatusRequest {
                    pod_sandbox_id: sandbox_id.to_owned(),
                    verbose: false,
                },
            )
            .await
            .map_err(|s| error("PodSandboxStatus", "sandbox", sandbox_id, s))?;
        let status = response.status.ok_or_else(|| Error::NotFound {
            kind: "sandbox",
            id: sandbox_id.to_owned(),
        })?;
        Ok(sandbox_from_cri(status))
    }

    async fn list_pod_sandboxes(&self) -> Result<Vec<PodSandboxStatus>> {
        let listed: proto::ListPodSandboxResponse = self
            .call(
                method::LIST_POD_SANDBOX,
                proto::ListPodSandboxRequest::default(),
            )
            .await
            .map_err(|s| error("ListPodSandbox", "sandbox", "", s))?;
        let mut out = Vec::with_capacity(listed.items.len());
        for item in listed.items {
            match self.pod_sandbox_status(&item.id).await {
                Ok(status) => out.push(status),
                // Removed between the list and the status.
                Err(Error::NotFound { .. }) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(out)
    }

    async fn create_container(
        &self,
        sandbox_id: &str,
        config: &ContainerConfig,
        sandbox: &PodSandboxConfig,
    ) -> Result<String> {
        if let Some(dir) = sandbox.log_directory.join(&config.log_path).parent() {
            if !sandbox.log_directory.as_os_str().is_empty() {
                create_dir(dir).await?;
            }
        }
        let response: proto::CreateContainerResponse = self
            .call(
                method::CREATE_CONTAINER,
                proto::CreateContainerRequest {
                    pod_sandbox_id: sandbox_id.to_owned(),
                    config: Some(container_to_cri(config, sandbox)),
                    sandbox_config: Some(sandbox_to_cri(sandbox)),
                },
            )
            .await
            .map_err(|s| match s.code() {
                Code::NotFound => Error::NotFound {
                    kind: "sandbox",
                    id: sandbox_id.to_owned(),
                },
                _ => Error::CreateContainer(format!("{}: {}", config.name, s.message())),
            })?;
        Ok(response.container_id)
    }

    async fn start_container(&self, container_id: &str) -> Result<()> {
        let result: Result<proto::Empty> = self
            .call(
                method::START_CONTAINER,
                proto::ContainerIdRequest {
                    container_id: container_id.to_owned(),
                },
            )
            .await
            .map_err(|s| match s.code() {
                Code::NotFound => Error::NotFound {
                    kind: "container",
                    id: container_id.to_owned(),
                },
                _ => Error::RunContainer(s.message().to_owned()),
            });
        result.map(drop)
    }

    async fn stop_container(&self, container_id: &str, timeout: Duration) -> Result<()> {
        let result: Result<proto::Empty> = self
            .call(
                method::STOP_CONTAINER,
                proto::StopContainerRequest {
                    container_id: container_id.to_owned(),
                    timeout: ceil_secs(timeout),
                },
            )
            .await
            .map_err(|s| error("StopContainer", "container", container_id, s));
        result.map(drop)
    }

    async fn remove_container(&self, container_id: &str) -> Result<()> {
        let result: Result<proto::Empty> = self
            .call(
                method::REMOVE_CONTAINER,
                proto::ContainerIdRequest {
                    container_id: container_id.to_owned(),
                },
            )
            .await
            .map_err(|s| error("RemoveContainer", "container", container_id, s));
        ignore_not_found(result.map(drop))
    }

    async fn container_status(&self, container_id: &str) -> Result<ContainerStatus> {
        self.status_of(container_id).await
    }

    async fn list_containers(&self, sandbox_id: Option<&str>) -> Result<Vec<ContainerStatus>> {
        let listed: proto::ListContainersResponse = self
            .call(
                method::LIST_CONTAINERS,
                proto::ListContainersRequest {
                    filter: Some(proto::ContainerFilter {
                        id: String::new(),
                        pod_sandbox_id: sandbox_id.unwrap_or_default().to_owned(),
                    }),
                },
            )
            .await
            .map_err(|s| error("ListContainers", "container", "", s))?;
        let mut out = Vec::with_capacity(listed.containers.len());
        for container in listed.containers {
            let response: Result<proto::ContainerStatusResponse> = self
                .call(
                    method::CONTAINER_STATUS,
                    proto::ContainerStatusRequest {
                        container_id: container.id.clone(),
                        verbose: false,
                    },
                )
                .await
                .map_err(|s| error("ContainerStatus", "container", &container.id, s));
            match response {
                Ok(proto::ContainerStatusResponse {
                    status: Some(status),
                    ..
                }) => out.push(container_from_cri(status, container.pod_sandbox_id)),
                // Removed between the list and the status.
                Ok(_) | Err(Error::NotFound { .. }) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(out)
    }

    async fn exec_sync(
        &self,
        container_id: &str,
        command: &[String],
        timeout: Duration,
    ) -> Result<ExecResult> {
        let call = self.call::<_, proto::ExecSyncResponse>(
            method::EXEC_SYNC,
            proto::ExecSyncRequest {
                container_id: container_id.to_owned(),
                cmd: command.to_vec(),
                timeout: ceil_secs(timeout).max(1),
            },
        );
        let response = tokio::time::timeout(timeout + EXEC_SLACK, call)
            .await
            .map_err(|_| Error::Timeout(format!("exec in {container_id}: no answer")))?
            .map_err(|s| error("ExecSync", "container", container_id, s))?;
        Ok(ExecResult {
            stdout: response.stdout,
            stderr: response.stderr,
            exit_code: response.exit_code,
        })
    }

    async fn exec(&self, container_id: &str, request: &ExecRequest) -> Result<StreamingSession> {
        let response: proto::StreamUrlResponse = self
            .call(
                method::EXEC,
                proto::ExecRequest {
                    container_id: container_id.to_owned(),
                    cmd: request.command.clone(),
                    tty: request.tty,
                    stdin: request.stdin,
                    stdout: request.stdout,
                    stderr: request.stderr && !request.tty,
                },
            )
            .await
            .map_err(|s| error("Exec", "container", container_id, s))?;
        stream::open(&response.url, request).await
    }

    async fn attach(&self, container_id: &str, request: &ExecRequest) -> Result<StreamingSession> {
        let response: proto::StreamUrlResponse = self
            .call(
                method::ATTACH,
                proto::AttachRequest {
                    container_id: container_id.to_owned(),
                    stdin: request.stdin,
                    tty: request.tty,
                    stdout: request.stdout,
                    stderr: request.stderr && !request.tty,
                },
            )
            .await
            .map_err(|s| error("Attach", "container", container_id, s))?;
        stream::open(&response.url, request).await
    }

    async fn port_forward(&self, sandbox_id: &str, port: u16) -> Result<Box<dyn Duplex>> {
        let response: proto::StreamUrlResponse = self
            .call(
                method::PORT_FORWARD,
                proto::PortForwardRequest {
                    pod_sandbox_id: sandbox_id.to_owned(),
                    port: vec![i32::from(port)],
                },
            )
            .await
            .map_err(|s| error("PortForward", "sandbox", sandbox_id, s))?;
        Ok(Box::new(stream::port_forward(&response.url, port).await?))
    }

    async fn pull_image(&self, image: &str) -> Result<String> {
        let response: proto::PullImageResponse = self
            .call(
                method::PULL_IMAGE,
                proto::PullImageRequest {
                    image: image_spec(image),
                    sandbox_config: None,
                },
            )
            .await
            .map_err(|s| Error::ImagePull {
                image: image.to_owned(),
                message: s.message().to_owned(),
            })?;
        Ok(response.image_ref)
    }

    async fn image_status(&self, image: &str) -> Result<Option<Image>> {
        let response: Result<proto::ImageStatusResponse> = self
            .call(
                method::IMAGE_STATUS,
                proto::ImageSpecRequest {
                    image: image_spec(image),
                },
            )
            .await
            .map_err(|s| error("ImageStatus", "image", image, s));
        match response {
            Ok(r) => Ok(r.image.map(image_from_cri)),
            Err(Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    async fn list_images(&self) -> Result<Vec<Image>> {
        let response: proto::ListImagesResponse = self
            .call(method::LIST_IMAGES, proto::ListImagesRequest::default())
            .await
            .map_err(|s| error("ListImages", "image", "", s))?;
        Ok(response.images.into_iter().map(image_from_cri).collect())
    }

    async fn remove_image(&self, image: &str) -> Result<()> {
        let result: Result<proto::Empty> = self
            .call(
                method::REMOVE_IMAGE,
                proto::ImageSpecRequest {
                    image: image_spec(image),
                },
            )
            .await
            .map_err(|s| error("RemoveImage", "image", image, s));
        ignore_not_found(result.map(drop))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timeouts_round_up_to_whole_seconds() {
        assert_eq!(ceil_secs(Duration::ZERO), 0);
        assert_eq!(ceil_secs(Duration::from_millis(300)), 1);
        assert_eq!(ceil_secs(Duration::from_secs(2)), 2);
        assert_eq!(ceil_secs(Duration::from_millis(2001)), 3);
    }

    #[test]
    fn sandbox_config_round_trips_through_cri() {
        let config = PodSandboxConfig {
            name: "web".into(),
            namespace: "default".into(),
            uid: "u1".into(),
            attempt: 2,
            hostname: "web-host".into(),
            log_directory: "/var/log/pods/default_web_u1".into(),
            labels: [("app".to_string(), "web".to_string())].into(),
            annotations: [("a".to_string(), "b".to_string())].into(),
            host_network: true,
            pod_cidr: Some("10.1.0.0/24".into()),
        };
        let cri = sandbox_to_cri(&config);
        assert_eq!(cri.hostname, "", "no hostname with the node's network");
        let ns = cri
            .linux
            .as_ref()
            .and_then(|l| l.security_context.as_ref())
            .and_then(|s| s.namespace_options.clone())
            .unwrap();
        assert_eq!(ns.network, NamespaceMode::Node as i32);
        assert_eq!(ns.pid, NamespaceMode::Container as i32);
        // What containerd would answer.
        let status = proto::PodSandboxStatus {
            id: "sb".into(),
            metadata: cri.metadata.clone(),
            state: proto::PodSandboxState::SandboxReady as i32,
            created_at: 1_000_000_000,
            network: Some(proto::PodSandboxNetworkStatus { ip: String::new() }),
            linux: Some(proto::LinuxPodSandboxStatus {
                namespaces: Some(proto::Namespace { options: Some(ns) }),
            }),
            labels: cri.labels.clone(),
            annotations: cri.annotations.clone(),
        };
        let back = sandbox_from_cri(status);
        assert_eq!(back.config, config);
        assert_eq!(back.state, SandboxState::Ready);
        assert_eq!(back.ip, None);
        assert_eq!(
            back.created_at,
            SystemTime::UNIX_EPOCH + Duration::from_secs(1)
        );
    }

    #[test]
    fn pod_ip_comes_from_the_network_status() {
        let status = proto::PodSandboxStatus {
            network: Some(proto::PodSandboxNetworkStatus {
                ip: "10.88.0.7".into(),
            }),
            state: proto::PodSandboxState::SandboxNotready as i32,
            ..Default::default()
        };
        let s = sandbox_from_cri(status);
        assert_eq!(s.ip, Some("10.88.0.7".parse().unwrap()));
        assert_eq!(s.state, SandboxState::NotReady);
    }

    #[test]
    fn container_status_maps_state_exit_code_and_image() {
        let config = ContainerConfig {
            name: "app".into(),
            image: "busybox:latest".into(),
            annotations: [("k".to_string(), "v".to_string())].into(),
            ..Default::default()
        };
        let cri = container_to_cri(&config, &PodSandboxConfig::default());
        let running = proto::ContainerStatus {
            id: "c1".into(),
            metadata: cri.metadata.clone(),
            state: proto::ContainerState::ContainerRunning as i32,
            started_at: 5,
            image: Some(proto::ImageSpec {
                image: "docker.io/library/busybox:latest".into(),
            }),
            image_ref: "docker.io/library/busybox@sha256:aa".into(),
            image_id: "sha256:bb".into(),
            annotations: cri.annotations.clone(),
            log_path: "/logs/app/0.log".into(),
            ..Default::default()
        };
        let s = container_from_cri(running.clone(), "sb".into());
        assert_eq!(s.state, ContainerState::Running);
        assert_eq!(s.exit_code, None, "no exit code while running");
        assert_eq!(s.image, "busybox:latest", "the image as asked for");
        assert_eq!(s.image_ref, "sha256:bb");
        assert_eq!(s.sandbox_id, "sb");
        assert_eq!(s.log_path, PathBuf::from("/logs/app/0.log"));
        assert!(s.started_at.is_some() && s.finished_at.is_none());
        let exited = proto::ContainerStatus {
            state: proto::ContainerState::ContainerExited as i32,
            finished_at: 6,
            exit_code: 3,
            reason: "Error".into(),
            ..running
        };
        let s = container_from_cri(exited, "sb".into());
        assert_eq!(s.state, ContainerState::Exited);
        assert_eq!(s.exit_code, Some(3));
        assert_eq!(s.reason, "Error");
    }

    #[test]
    fn grpc_codes_map_to_typed_errors() {
        assert!(matches!(
            error("x", "container", "c", Status::not_found("gone")),
            Error::NotFound {
                kind: "container",
                ..
            }
        ));
        assert!(matches!(
            error("x", "container", "c", Status::deadline_exceeded("slow")),
            Error::Timeout(_)
        ));
        assert!(matches!(
            error("x", "container", "c", Status::internal("boom")),
            Error::Backend(_)
        ));
        assert!(ignore_not_found(Err(Error::NotFound {
            kind: "image",
            id: "i".into()
        }))
        .is_ok());
    }
}
