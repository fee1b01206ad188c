//! `SimRuntime`: a [`Runtime`] that runs nothing.
//!
//! It mirrors no single upstream part: it plays the role of containerd behind CRI for the
//! kubelet's scale tests (as kwok's fake nodes do, but with the real kubelet loop on top). State
//! lives in memory behind one mutex; no process, file or socket is made, so one process can
//! host a thousand kubelets each with its own `SimRuntime`.
//!
//! ## Conventions
//!
//! - **Sandboxes** start at once and get an IP from the sandbox's
//!   [`pod_cidr`](crate::runtime::PodSandboxConfig::pod_cidr) (else the runtime's
//!   [`SimRuntime::with_default_cidr`], `10.244.0.0/16` by default), allocated by the
//!   host-local-style [`Ipam`] (from the network's `.2` on, `.1` being the bridge's,
//!   round-robin). Host-network
//!   sandboxes get no IP (the kubelet uses the node's, as with CRI). The IP is released when
//!   the sandbox is stopped.
//! - **Containers** go `Created` → `Running` on start and run until stopped, except when
//!   their argv (command then args) is recognised as exiting at once:
//!   `true` / `false` (also `/bin/true`, `/bin/false`) exit 0 / 1, and
//!   `sh -c "exit N"` (also `/bin/sh`, and the scripts `true`, `false`, `exit`) exits `N`.
//!   Those end `Exited` right after start with reason `Completed` (0) or `Error`.
//! - **Commands that do not exist**: an argv whose first word contains `does-not-exist`
//!   fails to start ([`Error::RunContainer`]); the container is
//!   then `Exited` with code 128 and reason `ContainerCannotRun`, as Docker-era runtimes say.
//! - **Stop** ends a running container as a process that honours SIGTERM would: exit 143
//!   (128 + SIGTERM) when given a timeout, 137 (128 + SIGKILL) with a zero timeout or when its
//!   sandbox is stopped; reason `Error`.
//! - **exec_sync** in a running container answers exit 0 with empty output, or the exit code
//!   of the argv conventions above (`false` → 1, `sh -c "exit 3"` → 3).
//! - **Images**: every pull succeeds, except of a reference containing `does-not-exist`
//!   ([`Error::ImagePull`], what `ErrImagePull` is tested with).
//!   Images are kept by their normalised reference (`busybox` →
//!   `docker.io/library/busybox:latest`) with a made-up `sha256:` id. Containers are not
//!   checked against the images held.
//! - **Latency**: [`SimRuntime::with_latency`] delays sandbox start, pulls and container start.

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use async_trait::async_trait;

use crate::error::{Error, Result};
use crate::network::ipam::{Ipam, Subnet};
use crate::runtime::{
    ContainerConfig, ContainerState, ContainerStatus, ExecResult, Image, PodSandboxConfig,
    PodSandboxStatus, Runtime, RuntimeVersion, SandboxState,
};

/// The runtime name [`SimRuntime`] reports (`sim://<id>` container ids).
pub const SIM_RUNTIME_NAME: &str = "sim";

/// The substring that makes a pull ([`Runtime::pull_image`]) or a command fail in a
/// [`SimRuntime`].
pub const SIM_DOES_NOT_EXIST: &str = "does-not-exist";

/// The pod network a [`SimRuntime`] uses for sandboxes without a pod CIDR.
pub const SIM_DEFAULT_CIDR: &str = "10.244.0.0/16";

/// The simulated runtime: see the [module docs](self) for its conventions.
pub struct SimRuntime {
    state: Mutex<State>,
    next_id: AtomicU64,
    latency: Duration,
    default_cidr: String,
}

#[derive(Default)]
struct State {
    sandboxes: HashMap<String, Sandbox>,
    containers: HashMap<String, Container>,
    /// By id.
    images: HashMap<String, Image>,
    /// Pod IPs, by sandbox id.
    ipam: Ipam,
}

struct Sandbox {
    status: PodSandboxStatus,
}

struct Container {
    status: ContainerStatus,
    /// `Some(code)`: exits with `code` as soon as started.
    exits_with: Option<i32>,
    /// `Some(message)`: cannot start.
    cannot_run: Option<String>,
    /// What it was made from.
    config: ContainerConfig,
}

impl Default for SimRuntime {
    fn default() -> Self {
        SimRuntime::new()
    }
}

impl std::fmt::Debug for SimRuntime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let state = self.lock();
        f.debug_struct("SimRuntime")
            .field("sandboxes", &state.sandboxes.len())
            .field("containers", &state.containers.len())
            .field("images", &state.images.len())
            .finish()
    }
}

impl SimRuntime {
    /// An empty runtime without latency, taking IPs from [`SIM_DEFAULT_CIDR`] for sandboxes
    /// without a pod CIDR.
    pub fn new() -> SimRuntime {
        SimRuntime {
            state: Mutex::new(State::default()),
            next_id: AtomicU64::new(1),
            latency: Duration::ZERO,
            default_cidr: SIM_DEFAULT_CIDR.to_owned(),
        }
    }

    /// Delays every sandbox start, pull and container start by `latency`.
    pub fn with_latency(mut self, latency: Duration) -> SimRuntime {
        self.latency = latency;
        self
    }

    /// The CIDR sandboxes without a pod CIDR take their IP from.
    pub fn with_default_cidr(mut self, cidr: impl Into<String>) -> SimRuntime {
        self.default_cidr = cidr.into();
        self
    }

    /// The config a container was made from (what the kubelet asked for: expanded command,
    /// environment, mounts), while the container exists. Not part of [`Runtime`]: for tests.
    pub fn container_config(&self, container_id: &str) -> Option<ContainerConfig> {
        self.lock()
            .containers
            .get(container_id)
            .map(|c| c.config.clone())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn new_id(&self) -> String {
        format!("{:016x}", self.next_id.fetch_add(1, Ordering::Relaxed))
    }

    async fn delay(&self) {
        if !self.latency.is_zero() {
            tokio::time::sleep(self.latency).await;
        }
    }
}

/// `docker.io/library/busybox:latest` for `busybox`, as containerd normalises references.
pub fn normalize_image(image: &str) -> String {
    let name = match image.split_once('/') {
        Some((first, _)) if first.contains('.') || first.contains(':') || first == "localhost" => {
            image.to_owned()
        }
        Some(_) => format!("docker.io/{image}"),
        None => format!("docker.io/library/{image}"),
    };
    let last = name.rsplit('/').next().unwrap_or_default();
    if last.contains(':') || last.contains('@') {
        name
    } else {
        format!("{name}:latest")
    }
}

/// The exit code an argv exits with at once under the [module's conventions](self), `None`
/// for one that runs until stopped.
pub fn exits_with(argv: &[String]) -> Option<i32> {
    let base = |s: &str| s.rsplit('/').next().unwrap_or(s).to_owned();
    let first = base(argv.first()?);
    match (first.as_str(), argv.len()) {
        ("true", _) => Some(0),
        ("false", _) => Some(1),
        ("sh" | "bash", 3) if argv[1] == "-c" => {
            let script = argv[2].trim();
            match script {
                "true" | "exit" => Some(0),
                "false" => Some(1),
                _ => script
                    .strip_prefix("exit ")
                    .and_then(|n| n.trim().parse::<i32>().ok()),
            }
        }
        _ => None,
    }
}

fn image_id(reference: &str) -> String {
    let mut a = std::collections::hash_map::DefaultHasher::new();
    reference.hash(&mut a);
    let mut b = std::collections::hash_map::DefaultHasher::new();
    (reference, 1u8).hash(&mut b);
    format!("sha256:{:016x}{:016x}{:032x}", a.finish(), b.finish(), 0)
}

impl State {
    fn stop_container(&mut self, id: &str, exit_code: i32) {
        if let Some(c) = self.containers.get_mut(id) {
            if matches!(
                c.status.state,
                ContainerState::Running | ContainerState::Created
            ) {
                c.status.state = ContainerState::Exited;
                c.status.finished_at = Some(SystemTime::now());
                c.status.exit_code = Some(exit_code);
                c.status.reason = "Error".into();
            }
        }
    }

    fn stop_sandbox(&mut self, id: &str) -> Result<()> {
        let ids: Vec<String> = self
            .containers
            .iter()
            .filter(|(_, c)| c.status.sandbox_id == id)
            .map(|(id, _)| id.clone())
            .collect();
        for c in ids {
            self.stop_container(&c, 137);
        }
        let sandbox = self.sandboxes.get_mut(id).ok_or_else(|| Error::NotFound {
            kind: "sandbox",
            id: id.to_owned(),
        })?;
        sandbox.status.state = SandboxState::NotReady;
        if sandbox.status.ip.take().is_some() {
            self.ipam.release(id);
        }
        Ok(())
    }
}

#[async_trait]
impl Runtime for SimRuntime {
    async fn version(&self) -> Result<RuntimeVersion> {
        Ok(RuntimeVersion {
            runtime_name: SIM_RUNTIME_NAME.into(),
            runtime_version: env!("CARGO_PKG_VERSION").into(),
        })
    }

    async fn run_pod_sandbox(&self, config: &PodSandboxConfig) -> Result<String> {
        self.delay().await;
        let id = self.new_id();
        let mut state = self.lock();
        let ip = if config.host_network {
            None
        } else {
            let cidr = config.pod_cidr.as_deref().unwrap_or(&self.default_cidr);
            let subnet = Subnet::parse(cidr)
                .ok_or_else(|| Error::Backend(format!("invalid pod CIDR {cidr:?}")))?;
            Some(state.ipam.allocate(&id, subnet)?)
        };
        state.sandboxes.insert(
            id.clone(),
            Sandbox {
                status: PodSandboxStatus {
                    id: id.clone(),
                    config: config.clone(),
                    state: SandboxState::Ready,
                    created_at: SystemTime::now(),
                    ip,
                },
            },
        );
        Ok(id)
    }

    async fn stop_pod_sandbox(&self, sandbox_id: &str) -> Result<()> {
        let mut state = self.lock();
        match state.stop_sandbox(sandbox_id) {
            Err(Error::NotFound { .. }) => Ok(()),
            other => other,
        }
    }

    async fn remove_pod_sandbox(&self, sandbox_id: &str) -> Result<()> {
        let mut state = self.lock();
        if !state.sandboxes.contains_key(sandbox_id) {
            return Ok(());
        }
        state.stop_sandbox(sandbox_id)?;
        state.sandboxes.remove(sandbox_id);
        state
            .containers
            .retain(|_, c| c.status.sandbox_id != sandbox_id);
        Ok(())
    }

    async fn pod_sandbox_status(&self, sandbox_id: &str) -> Result<PodSandboxStatus> {
        self.lock()
            .sandboxes
            .get(sandbox_id)
            .map(|s| s.status.clone())
            .ok_or_else(|| Error::NotFound {
                kind: "sandbox",
                id: sandbox_id.to_owned(),
            })
    }

    async fn list_pod_sandboxes(&self) -> Result<Vec<PodSandboxStatus>> {
        Ok(self
            .lock()
            .sandboxes
            .values()
            .map(|s| s.status.clone())
            .collect())
    }

    async fn create_container(
        &self,
        sandbox_id: &str,
        config: &ContainerConfig,
        sandbox: &PodSandboxConfig,
    ) -> Result<String> {
        let id = self.new_id();
        let mut state = self.lock();
        let Some(sb) = state.sandboxes.get(sandbox_id) else {
            return Err(Error::NotFound {
                kind: "sandbox",
                id: sandbox_id.to_owned(),
            });
        };
        if sb.status.state != SandboxState::Ready {
            return Err(Error::InvalidState(format!(
                "sandbox {sandbox_id} is not ready"
            )));
        }
        let argv: Vec<String> = config
            .command
            .iter()
            .chain(config.args.iter())
            .cloned()
            .collect();
        let cannot_run = argv
            .first()
            .filter(|cmd| cmd.contains(SIM_DOES_NOT_EXIST))
            .map(|cmd| format!("exec: {cmd:?}: executable file not found in $PATH"));
        let normalized = normalize_image(&config.image);
        let image_ref = state
            .images
            .values()
            .find(|i| i.repo_tags.contains(&normalized))
            .map(|i| i.id.clone())
            .unwrap_or_else(|| config.image.clone());
        let status = ContainerStatus::created(
            id.clone(),
            sandbox_id,
            config,
            image_ref,
            PathBuf::from(&sandbox.log_directory).join(&config.log_path),
        );
        state.containers.insert(
            id.clone(),
            Container {
                status,
                exits_with: exits_with(&argv),
                cannot_run,
                config: config.clone(),
            },
        );
        Ok(id)
    }

    async fn start_container(&self, container_id: &str) -> Result<()> {
        self.delay().await;
        let mut state = self.lock();
        let c = state
            .containers
            .get_mut(container_id)
            .ok_or_else(|| Error::NotFound {
                kind: "container",
                id: container_id.to_owned(),
            })?;
        if c.status.state != ContainerState::Created {
            return Err(Error::InvalidState(format!(
                "container {container_id} is not created (it is {:?})",
                c.status.state
            )));
        }
        let now = SystemTime::now();
        if let Some(message) = c.cannot_run.clone() {
            c.status.state = ContainerState::Exited;
            c.status.finished_at = Some(now);
            c.status.exit_code = Some(128);
            c.status.reason = "ContainerCannotRun".into();
            c.status.message = message.clone();
            return Err(Error::RunContainer(message));
        }
        c.status.started_at = Some(now);
        match c.exits_with {
            Some(code) => {
                c.status.state = ContainerState::Exited;
                c.status.finished_at = Some(now);
                c.status.exit_code = Some(code);
                c.status.reason = if code == 0 { "Completed" } else { "Error" }.into();
            }
            None => c.status.state = ContainerState::Running,
        }
        Ok(())
    }

    async fn stop_container(&self, container_id: &str, timeout: Duration) -> Result<()> {
        let code = if timeout.is_zero() { 137 } else { 143 };
        let mut state = self.lock();
        if !state.containers.contains_key(container_id) {
            // As containerd's CRI: stopping an unknown container is NotFound.
            return Err(Error::NotFound {
                kind: "container",
                id: container_id.to_owned(),
            });
        }
        state.stop_container(container_id, code);
        Ok(())
    }

    async fn remove_container(&self, container_id: &str) -> Result<()> {
        self.lock().containers.remove(container_id);
        Ok(())
    }

    async fn container_status(&self, container_id: &str) -> Result<ContainerStatus> {
        self.lock()
            .containers
            .get(container_id)
            .map(|c| c.status.clone())
            .ok_or_else(|| Error::NotFound {
                kind: "container",
                id: container_id.to_owned(),
            })
    }

    async fn list_containers(&self, sandbox_id: Option<&str>) -> Result<Vec<ContainerStatus>> {
        Ok(self
            .lock()
            .containers
            .values()
            .filter(|c| sandbox_id.is_none_or(|s| c.status.sandbox_id == s))
            .map(|c| c.status.clone())
            .collect())
    }

    async fn exec_sync(
        &self,
        container_id: &str,
        command: &[String],
        _timeout: Duration,
    ) -> Result<ExecResult> {
        let state = self.lock();
        let c = state
            .containers
            .get(container_id)
            .ok_or_else(|| Error::NotFound {
                kind: "container",
                id: container_id.to_owned(),
            })?;
        if c.status.state != ContainerState::Running {
            return Err(Error::InvalidState(format!(
                "container {container_id} is not running"
            )));
        }
        Ok(ExecResult {
            exit_code: exits_with(command).unwrap_or(0),
            ..ExecResult::default()
        })
    }

    async fn pull_image(&self, image: &str) -> Result<String> {
        self.delay().await;
        if image.contains(SIM_DOES_NOT_EXIST) {
            return Err(Error::ImagePull {
                image: image.to_owned(),
                message: format!(
                    "rpc error: code = NotFound desc = failed to pull and unpack image {:?}: not found",
                    normalize_image(image)
                ),
            });
        }
        let reference = normalize_image(image);
        let id = image_id(&reference);
        let mut state = self.lock();
        let entry = state.images.entry(id.clone()).or_insert_with(|| Image {
            id: id.clone(),
            repo_tags: Vec::new(),
            size: 1 << 20,
        });
        if !entry.repo_tags.contains(&reference) {
            entry.repo_tags.push(reference);
        }
        Ok(id)
    }

    async fn image_status(&self, image: &str) -> Result<Option<Image>> {
        let reference = normalize_image(image);
        Ok(self
            .lock()
            .images
            .values()
            .find(|i| i.id == image || i.repo_tags.contains(&reference))
            .cloned())
    }

    async fn list_images(&self) -> Result<Vec<Image>> {
        Ok(self.lock().images.values().cloned().collect())
    }

    async fn remove_image(&self, image: &str) -> Result<()> {
        let reference = normalize_image(image);
        self.lock()
            .images
            .retain(|id, i| id != image && !i.repo_tags.contains(&reference));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn argv(words: &[&str]) -> Vec<String> {
        words.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn exit_conventions() {
        assert_eq!(exits_with(&argv(&["true"])), Some(0));
        assert_eq!(exits_with(&argv(&["/bin/false"])), Some(1));
        assert_eq!(exits_with(&argv(&["sh", "-c", "exit 3"])), Some(3));
        assert_eq!(exits_with(&argv(&["/bin/sh", "-c", "exit"])), Some(0));
        assert_eq!(exits_with(&argv(&["sh", "-c", "sleep 10"])), None);
        assert_eq!(exits_with(&argv(&["httpd", "-f"])), None);
        assert_eq!(exits_with(&[]), None);
    }

    #[test]
    fn normalizes_references() {
        assert_eq!(
            normalize_image("busybox"),
            "docker.io/library/busybox:latest"
        );
        assert_eq!(normalize_image("busybox:1"), "docker.io/library/busybox:1");
        assert_eq!(normalize_image("me/app"), "docker.io/me/app:latest");
        assert_eq!(
            normalize_image("registry.k8s.io/pause:3.10"),
            "registry.k8s.io/pause:3.10"
        );
        assert_eq!(
            normalize_image("localhost:5000/x"),
            "localhost:5000/x:latest"
        );
    }

    #[tokio::test]
    async fn sandboxes_take_and_release_addresses() {
        let rt = SimRuntime::new();
        let config = PodSandboxConfig {
            pod_cidr: Some("10.1.2.0/30".into()),
            ..Default::default()
        };
        let a = rt.run_pod_sandbox(&config).await.unwrap();
        let ip = rt.pod_sandbox_status(&a).await.unwrap().ip;
        assert_eq!(ip, Some("10.1.2.2".parse().unwrap()));
        // A /30 has one address past the gateway.
        assert!(rt.run_pod_sandbox(&config).await.is_err());
        rt.stop_pod_sandbox(&a).await.unwrap();
        let b = rt.run_pod_sandbox(&config).await.unwrap();
        assert_eq!(
            rt.pod_sandbox_status(&b).await.unwrap().ip,
            Some("10.1.2.2".parse().unwrap())
        );
        rt.remove_pod_sandbox(&a).await.unwrap();
        assert!(rt.pod_sandbox_status(&a).await.is_err());
        let v6 = PodSandboxConfig {
            pod_cidr: Some("fd00::/64".into()),
            ..Default::default()
        };
        let c = rt.run_pod_sandbox(&v6).await.unwrap();
        assert_eq!(
            rt.pod_sandbox_status(&c).await.unwrap().ip,
            Some("fd00::2".parse().unwrap())
        );
    }

    #[tokio::test]
    async fn containers_follow_the_conventions() {
        let rt = SimRuntime::new();
        let sandbox = PodSandboxConfig::default();
        let sb = rt.run_pod_sandbox(&sandbox).await.unwrap();
        let make = |command: &[&str]| ContainerConfig {
            name: "c".into(),
            image: "busybox".into(),
            command: argv(command),
            ..Default::default()
        };
        let long = rt
            .create_container(&sb, &make(&["sleep", "3600"]), &sandbox)
            .await
            .unwrap();
        assert_eq!(
            rt.container_status(&long).await.unwrap().state,
            ContainerState::Created
        );
        rt.start_container(&long).await.unwrap();
        assert_eq!(
            rt.container_status(&long).await.unwrap().state,
            ContainerState::Running
        );
        let exec = rt
            .exec_sync(&long, &argv(&["false"]), Duration::from_secs(1))
            .await
            .unwrap();
        assert_eq!(exec.exit_code, 1);
        rt.stop_container(&long, Duration::from_secs(30))
            .await
            .unwrap();
        let stopped = rt.container_status(&long).await.unwrap();
        assert_eq!(
            (stopped.state, stopped.exit_code),
            (ContainerState::Exited, Some(143))
        );

        let short = rt
            .create_container(&sb, &make(&["sh", "-c", "exit 2"]), &sandbox)
            .await
            .unwrap();
        rt.start_container(&short).await.unwrap();
        let exited = rt.container_status(&short).await.unwrap();
        assert_eq!(
            (exited.state, exited.exit_code, exited.reason.as_str()),
            (ContainerState::Exited, Some(2), "Error")
        );

        let missing = rt
            .create_container(&sb, &make(&["/does-not-exist"]), &sandbox)
            .await
            .unwrap();
        assert!(matches!(
            rt.start_container(&missing).await,
            Err(Error::RunContainer(_))
        ));
        assert_eq!(
            rt.container_status(&missing).await.unwrap().reason,
            "ContainerCannotRun"
        );
        assert_eq!(rt.list_containers(Some(&sb)).await.unwrap().len(), 3);
        rt.remove_pod_sandbox(&sb).await.unwrap();
        assert!(rt.list_containers(None).await.unwrap().is_empty());
    }

    #[tokio::test]
    async fn pulls_fail_for_the_missing_image_convention() {
        let rt = SimRuntime::new();
        let id = rt.pull_image("busybox:1").await.unwrap();
        let image = rt
            .image_status("docker.io/library/busybox:1")
            .await
            .unwrap();
        assert_eq!(image.map(|i| i.id), Some(id));
        assert!(matches!(
            rt.pull_image("example.com/does-not-exist:1").await,
            Err(Error::ImagePull { .. })
        ));
        rt.remove_image("busybox:1").await.unwrap();
        assert!(rt.image_status("busybox:1").await.unwrap().is_none());
    }
}
