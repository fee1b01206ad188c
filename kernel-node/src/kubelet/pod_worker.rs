//! One worker per pod: upstream's `pkg/kubelet/pod_workers.go` (a goroutine per pod uid
//! taking the latest pod), `kuberuntime_manager.go`'s `SyncPod` (sandbox, init containers in
//! order, then containers, restarts with back-off) and `KillPod`, the image puller
//! (`pkg/kubelet/images`) and the status manager's final delete (`status_manager.go`).

use std::collections::HashMap;
use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use k8s_openapi::api::core::v1::{Container, Pod};
use kube::api::{DeleteParams, Patch, PatchParams, Preconditions};
use kube::Api;
use serde_json::{json, Value};
use tokio::sync::watch;

use super::backoff::Backoff;
use super::env::{self, PodContext};
use super::events::{EventRecorder, EventType};
use super::hooks;
use super::probe::{Probers, Target};
use super::status::{self, ContainerView, Kind};
use super::volumes::{self, Objects, PodVolumes};
use super::Shared;
use crate::error::Error;
use crate::runtime::{
    ContainerConfig, ContainerState, ContainerStatus, PodSandboxConfig, SandboxState,
};

/// The sandbox the worker runs the pod in.
struct Sandbox {
    id: String,
    config: PodSandboxConfig,
    pod_ips: Vec<String>,
}

struct Worker {
    shared: Arc<Shared>,
    uid: String,
    namespace: String,
    name: String,
    sandbox: Option<Sandbox>,
    sandbox_attempt: u32,
    /// CrashLoopBackOff by container name, ImagePullBackOff by `image:<ref>`.
    backoff: Backoff,
    /// Why a container is waiting (a failed pull, create or start; a back-off).
    waiting: HashMap<String, (String, String)>,
    /// The status last written (what a new one is compared to).
    last_written: Option<Value>,
    /// A static pod's mirror pod uid, as the pod loop last named it.
    mirror_uid: Option<String>,
    start_time: Option<Value>,
    /// The pod's events.
    events: EventRecorder,
    /// The pod's probes, started with its first sandbox.
    probers: Option<Probers>,
    /// The pod's volumes, set up before its sandbox.
    volumes: PodVolumes,
}

/// Runs the worker of the pod `uid` until the pod is gone (deleted and cleaned up); returns
/// the uid. `rx` holds the latest pod, `None` once it left the API.
pub(crate) async fn run(
    shared: Arc<Shared>,
    uid: String,
    mut rx: watch::Receiver<Option<Arc<Pod>>>,
) -> String {
    let first = rx.borrow().clone();
    let (namespace, name) = first
        .as_ref()
        .map(|p| {
            (
                p.metadata.namespace.clone().unwrap_or_default(),
                p.metadata.name.clone().unwrap_or_default(),
            )
        })
        .unwrap_or_default();
    let config = &shared.config;
    let events = EventRecorder::new(
        shared.client.clone(),
        shared.node_name.clone(),
        &namespace,
        &name,
        &uid,
    );
    let mut worker = Worker {
        events,
        probers: None,
        backoff: Backoff::new(config.backoff_initial, config.backoff_max),
        shared: shared.clone(),
        uid: uid.clone(),
        namespace,
        name,
        sandbox: None,
        sandbox_attempt: 0,
        waiting: HashMap::new(),
        last_written: None,
        mirror_uid: None,
        start_time: first
            .as_ref()
            .and_then(|p| p.status.as_ref())
            .and_then(|s| s.start_time.as_ref())
            .and_then(|t| serde_json::to_value(t).ok()),
        volumes: PodVolumes::default(),
    };
    worker.adopt_sandbox().await;
    loop {
        let pod = rx.borrow_and_update().clone();
        let wake = match pod {
            None => {
                worker.terminate(None).await;
                return uid;
            }
            Some(pod) if pod.metadata.deletion_timestamp.is_some() => {
                if worker.terminate(Some(&pod)).await {
                    return uid;
                }
                shared.config.pod_relist_period
            }
            Some(pod) => {
                // A static pod's mirror was made again: its status must be written again.
                let mirror = pod
                    .metadata
                    .annotations
                    .as_ref()
                    .and_then(|a| a.get(super::static_pods::MIRROR_UID));
                if mirror.is_some() && mirror != worker.mirror_uid.as_ref() {
                    worker.mirror_uid = mirror.cloned();
                    worker.last_written = None;
                }
                worker.sync(&pod).await
            }
        };
        tokio::select! {
            changed = rx.changed() => if changed.is_err() { return uid },
            _ = tokio::time::sleep(wake) => {}
            _ = worker.probe_changed() => {}
        }
    }
}

fn restart_policy(pod: &Pod) -> &str {
    pod.spec
        .as_ref()
        .and_then(|s| s.restart_policy.as_deref())
        .unwrap_or("Always")
}

fn is_terminal(phase: Option<&str>) -> bool {
    matches!(phase, Some("Succeeded" | "Failed"))
}

/// `<name>` of the newest and the one before, by attempt.
fn by_name(containers: &[ContainerStatus]) -> HashMap<&str, Vec<&ContainerStatus>> {
    let mut out: HashMap<&str, Vec<&ContainerStatus>> = HashMap::new();
    for c in containers {
        out.entry(c.name.as_str()).or_default().push(c);
    }
    for list in out.values_mut() {
        list.sort_by_key(|c| std::cmp::Reverse((c.attempt, c.created_at)));
    }
    out
}

fn instant_of(at: Option<SystemTime>) -> Instant {
    let ago = at
        .and_then(|t| SystemTime::now().duration_since(t).ok())
        .unwrap_or_default();
    Instant::now().checked_sub(ago).unwrap_or_else(Instant::now)
}

/// What a sync ended with for one container.
enum Step {
    /// Done or running: go on.
    Fine,
    /// Wait (and look again after this long, at most).
    Wait(Option<Duration>),
}

impl Worker {
    fn pod_dir(&self) -> PathBuf {
        self.shared.root_dir.join("pods").join(&self.uid)
    }

    fn log_dir(&self) -> PathBuf {
        self.shared
            .root_dir
            .join("logs")
            .join(format!("{}_{}_{}", self.namespace, self.name, self.uid))
    }

    /// Takes over a ready sandbox of this pod a previous kubelet left in the runtime.
    async fn adopt_sandbox(&mut self) {
        let Ok(sandboxes) = self.shared.runtime.list_pod_sandboxes().await else {
            return;
        };
        let mine = sandboxes.into_iter().filter(|s| s.config.uid == self.uid);
        if let Some(s) = mine
            .filter(|s| s.state == SandboxState::Ready)
            .max_by_key(|s| s.config.attempt)
        {
            self.sandbox_attempt = s.config.attempt + 1;
            let pod_ips = match s.ip {
                Some(ip) => vec![ip.to_string()],
                None => vec![self.shared.node_ip.to_string()],
            };
            self.sandbox = Some(Sandbox {
                id: s.id,
                config: s.config,
                pod_ips,
            });
        }
    }

    /// Makes the sandbox (and the pod's directories) when there is none or it stopped.
    async fn ensure_sandbox(&mut self, pod: &Pod) -> Result<(), String> {
        if let Some(sb) = &self.sandbox {
            match self.shared.runtime.pod_sandbox_status(&sb.id).await {
                Ok(s) if s.state == SandboxState::Ready => return Ok(()),
                Ok(_) | Err(Error::NotFound { .. }) => {
                    tracing::info!(pod = %self.name, namespace = %self.namespace, "sandbox is not ready; making a new one");
                    let _ = self.shared.runtime.stop_pod_sandbox(&sb.id).await;
                    self.sandbox = None;
                }
                Err(e) => return Err(e.to_string()),
            }
        }
        let spec = pod.spec.as_ref();
        let host_network = spec.and_then(|s| s.host_network).unwrap_or(false);
        let mut labels = pod.metadata.labels.clone().unwrap_or_default();
        labels.insert("io.kubernetes.pod.name".into(), self.name.clone());
        labels.insert("io.kubernetes.pod.namespace".into(), self.namespace.clone());
        labels.insert("io.kubernetes.pod.uid".into(), self.uid.clone());
        let config = PodSandboxConfig {
            name: self.name.clone(),
            namespace: self.namespace.clone(),
            uid: self.uid.clone(),
            attempt: self.sandbox_attempt,
            hostname: spec
                .and_then(|s| s.hostname.clone())
                .unwrap_or_else(|| self.name.clone()),
            log_directory: self.log_dir(),
            labels,
            annotations: pod.metadata.annotations.clone().unwrap_or_default(),
            host_network,
            pod_cidr: self.shared.pod_cidr(),
        };
        if let Err(e) = tokio::fs::create_dir_all(&config.log_directory).await {
            return Err(format!("failed to make the pod's log directory: {e}"));
        }
        let id = self
            .shared
            .runtime
            .run_pod_sandbox(&config)
            .await
            .map_err(|e| e.to_string())?;
        self.sandbox_attempt += 1;
        let ip: Option<IpAddr> = match self.shared.runtime.pod_sandbox_status(&id).await {
            Ok(s) => s.ip,
            Err(_) => None,
        };
        let pod_ips = match (host_network, ip) {
            (false, Some(ip)) => vec![ip.to_string()],
            _ => vec![self.shared.node_ip.to_string()],
        };
        tracing::info!(pod = %self.name, namespace = %self.namespace, sandbox = %id, ip = ?pod_ips, "sandbox ready");
        // A new sandbox starts its containers over.
        self.waiting.clear();
        self.sandbox = Some(Sandbox {
            id,
            config,
            pod_ips,
        });
        Ok(())
    }

    /// Pulls the container's image as its `imagePullPolicy` says; `Err` is the waiting
    /// reason and message.
    async fn ensure_image(&mut self, container: &Container) -> Result<(), (String, String)> {
        let image = container.image.clone().unwrap_or_default();
        let policy = container.image_pull_policy.clone().unwrap_or_else(|| {
            let last = image.rsplit('/').next().unwrap_or_default();
            if !last.contains(':') || last.ends_with(":latest") {
                "Always".into()
            } else {
                "IfNotPresent".into()
            }
        });
        let present =
            || async { matches!(self.shared.runtime.image_status(&image).await, Ok(Some(_))) };
        let name = container.name.as_str();
        let already = || format!("Container image {image:?} already present on machine");
        match policy.as_str() {
            "Never" => {
                if present().await {
                    self.events
                        .container_event(name, EventType::Normal, "Pulled", already());
                    return Ok(());
                }
                let message =
                    format!("Container image {image:?} is not present with pull policy of Never");
                self.events.container_event(
                    name,
                    EventType::Warning,
                    "ErrImageNeverPull",
                    message.clone(),
                );
                return Err(("ErrImageNeverPull".into(), message));
            }
            "IfNotPresent" if present().await => {
                self.events
                    .container_event(name, EventType::Normal, "Pulled", already());
                return Ok(());
            }
            _ => {}
        }
        let key = format!("image:{image}");
        if self.backoff.remaining_since_update(&key).is_some() {
            self.events.container_event(
                name,
                EventType::Normal,
                "BackOff",
                format!("Back-off pulling image {image:?}"),
            );
            return Err((
                "ImagePullBackOff".into(),
                format!("Back-off pulling image {image:?}"),
            ));
        }
        self.events.container_event(
            name,
            EventType::Normal,
            "Pulling",
            format!("Pulling image {image:?}"),
        );
        let pulling = Instant::now();
        match self.shared.runtime.pull_image(&image).await {
            Ok(_) => {
                self.events.container_event(
                    name,
                    EventType::Normal,
                    "Pulled",
                    format!(
                        "Successfully pulled image {image:?} in {}",
                        kernel_core::duration::format(pulling.elapsed())
                    ),
                );
                Ok(())
            }
            Err(e) => {
                self.events.container_event(
                    name,
                    EventType::Warning,
                    "Failed",
                    format!("Failed to pull image {image:?}: {e}"),
                );
                self.events.container_event(
                    name,
                    EventType::Warning,
                    "Failed",
                    "Error: ErrImagePull",
                );
                self.backoff.next(&key, Instant::now());
                tracing::warn!(pod = %self.name, namespace = %self.namespace, %image, error = %e, "image pull failed");
                Err(("ErrImagePull".into(), e.to_string()))
            }
        }
    }

    /// Pulls, creates and starts attempt `attempt` of `container`.
    async fn start(&mut self, pod: &Pod, container: &Container, attempt: u32) {
        let name = container.name.clone();
        if let Err(waiting) = self.ensure_image(container).await {
            self.waiting.insert(name, waiting);
            return;
        }
        let mut objects = Objects::default();
        if let Err(message) = objects
            .fetch_for_env(&self.shared.client, &self.namespace, container)
            .await
        {
            self.waiting
                .insert(name, ("CreateContainerConfigError".into(), message));
            return;
        }
        let Some(sandbox) = &self.sandbox else { return };
        let host_ips = vec![self.shared.node_ip.to_string()];
        let ctx = PodContext {
            pod,
            pod_ips: &sandbox.pod_ips,
            host_ips: &host_ips,
            allocatable: &self.shared.allocatable,
        };
        for message in env::invalid_env_from(pod, container, &objects) {
            let event = "InvalidEnvironmentVariableNames";
            if self.volumes.event(&self.events, event, &message) {
                tracing::warn!(pod = %self.name, namespace = %self.namespace, container = %name, "{message}");
            }
        }
        let envs = match env::environment(&ctx, container, &objects) {
            Ok(envs) => envs,
            Err(message) => {
                self.waiting
                    .insert(name, ("CreateContainerConfigError".into(), message));
                return;
            }
        };
        let mounts = match self.volumes.mounts(container, &envs).await {
            Ok(mounts) => mounts,
            Err(message) => {
                self.waiting
                    .insert(name, ("CreateContainerConfigError".into(), message));
                return;
            }
        };
        let mut labels = std::collections::BTreeMap::new();
        labels.insert("io.kubernetes.container.name".into(), name.clone());
        labels.insert("io.kubernetes.pod.name".into(), self.name.clone());
        labels.insert("io.kubernetes.pod.namespace".into(), self.namespace.clone());
        labels.insert("io.kubernetes.pod.uid".into(), self.uid.clone());
        let mut annotations = std::collections::BTreeMap::new();
        annotations.insert(
            "io.kubernetes.container.restartCount".into(),
            attempt.to_string(),
        );
        let config = ContainerConfig {
            name: name.clone(),
            attempt,
            image: container.image.clone().unwrap_or_default(),
            command: env::expand_all(container.command.as_deref().unwrap_or_default(), &envs),
            args: env::expand_all(container.args.as_deref().unwrap_or_default(), &envs),
            working_dir: container.working_dir.clone().filter(|w| !w.is_empty()),
            envs,
            mounts,
            log_path: PathBuf::from(&name).join(format!("{attempt}.log")),
            labels,
            annotations,
            stdin: container.stdin.unwrap_or(false),
            tty: container.tty.unwrap_or(false),
        };
        let runtime = &self.shared.runtime;
        let id = match runtime
            .create_container(&sandbox.id, &config, &sandbox.config)
            .await
        {
            Ok(id) => {
                self.events.container_event(
                    &name,
                    EventType::Normal,
                    "Created",
                    format!("Created container: {name}"),
                );
                id
            }
            Err(e) => {
                self.events.container_event(
                    &name,
                    EventType::Warning,
                    "Failed",
                    format!("Error: {e}"),
                );
                tracing::warn!(pod = %self.name, namespace = %self.namespace, container = %name, error = %e, "create container failed");
                self.waiting
                    .insert(name, ("CreateContainerError".into(), e.to_string()));
                return;
            }
        };
        // Keep the newest dead one (for lastState) and drop the older.
        if let Ok(existing) = runtime.list_containers(Some(&sandbox.id)).await {
            for old in existing.iter().filter(|c| {
                c.name == name && c.attempt + 1 < attempt && c.state == ContainerState::Exited
            }) {
                let _ = runtime.remove_container(&old.id).await;
            }
        }
        match runtime.start_container(&id).await {
            Ok(()) => {
                self.events.container_event(
                    &name,
                    EventType::Normal,
                    "Started",
                    format!("Started container {name}"),
                );
                tracing::info!(pod = %self.name, namespace = %self.namespace, container = %name, attempt, "container started");
                self.waiting.remove(&name);
                self.post_start(pod, container, &id).await;
            }
            Err(e) => {
                self.events.container_event(
                    &name,
                    EventType::Warning,
                    "Failed",
                    format!("Error: {e}"),
                );
                tracing::warn!(pod = %self.name, namespace = %self.namespace, container = %name, error = %e, "start container failed");
                self.waiting
                    .insert(name, ("RunContainerError".into(), e.to_string()));
            }
        }
    }

    /// Starts, restarts (after back-off) or leaves one container; `init` when it is an
    /// init container (which must exit 0).
    async fn step(
        &mut self,
        pod: &Pod,
        container: &Container,
        latest: Option<ContainerStatus>,
        init: bool,
    ) -> Step {
        let policy = restart_policy(pod).to_owned();
        let Some(latest) = latest else {
            if let Some((reason, _)) = self.waiting.get(&container.name) {
                if reason == "ImagePullBackOff" || reason == "ErrImagePull" {
                    // Still counted from the last failed pull.
                    if let Some(left) = self.backoff.remaining_since_update(&format!(
                        "image:{}",
                        container.image.clone().unwrap_or_default()
                    )) {
                        self.waiting.insert(
                            container.name.clone(),
                            (
                                "ImagePullBackOff".into(),
                                format!(
                                    "Back-off pulling image {:?}",
                                    container.image.clone().unwrap_or_default()
                                ),
                            ),
                        );
                        return Step::Wait(Some(left));
                    }
                }
            }
            self.start(pod, container, 0).await;
            return Step::Wait(Some(Duration::ZERO))
                .or_wait(self.waiting.contains_key(&container.name));
        };
        match latest.state {
            ContainerState::Running | ContainerState::Created | ContainerState::Unknown => {
                if init {
                    Step::Wait(None)
                } else {
                    Step::Fine
                }
            }
            ContainerState::Exited => {
                let code = latest.exit_code.unwrap_or(0);
                if init && code == 0 {
                    return Step::Fine;
                }
                let restart = match policy.as_str() {
                    "Never" => false,
                    "OnFailure" => code != 0,
                    _ => !init || code != 0,
                };
                if !restart {
                    return Step::Fine;
                }
                let key = container.name.clone();
                let finished = instant_of(latest.finished_at);
                if let Some(left) = self.backoff.remaining_since(&key, finished) {
                    let delay = self.backoff.current(&key).unwrap_or_default();
                    self.events.container_event(
                        &container.name,
                        EventType::Warning,
                        "BackOff",
                        format!(
                            "Back-off restarting failed container {} in pod {}_{}({})",
                            container.name, self.name, self.namespace, self.uid
                        ),
                    );
                    self.waiting.insert(
                        key,
                        (
                            "CrashLoopBackOff".into(),
                            format!(
                                "back-off {} restarting failed container={} pod={}_{}({})",
                                kernel_core::duration::format(delay),
                                container.name,
                                self.name,
                                self.namespace,
                                self.uid
                            ),
                        ),
                    );
                    return Step::Wait(Some(left));
                }
                self.backoff.next(&key, finished);
                self.start(pod, container, latest.attempt + 1).await;
                Step::Wait(Some(Duration::ZERO)).or_wait(self.waiting.contains_key(&container.name))
            }
        }
    }

    /// One `SyncPod`: drives the runtime toward the pod, writes the status; returns when to
    /// look again.
    async fn sync(&mut self, pod: &Pod) -> Duration {
        let relist = self.shared.config.pod_relist_period;
        let api_phase = pod.status.as_ref().and_then(|s| s.phase.as_deref());
        let last_phase = self
            .last_written
            .as_ref()
            .and_then(|s| s["phase"].as_str().map(str::to_owned));
        if is_terminal(api_phase) || is_terminal(last_phase.as_deref()) {
            // A finished pod keeps its status; its sandbox is stopped, not removed.
            if let Some(sb) = &self.sandbox {
                let _ = self.shared.runtime.stop_pod_sandbox(&sb.id).await;
            }
            // Its volumes are torn down (upstream unmounts the volumes of terminated pods).
            self.volumes.tear_down(&self.pod_dir()).await;
            return relist.max(Duration::from_secs(10));
        }
        if self.start_time.is_none() {
            self.start_time = Some(status::now_time());
        }
        let mut wake = relist;
        let mut sandbox_error = None;
        let pod_dir = self.pod_dir();
        if let Err(e) = self
            .volumes
            .sync(&self.shared, &self.events, pod, &pod_dir)
            .await
        {
            sandbox_error = Some(e);
        } else if let Err(e) = self.ensure_sandbox(pod).await {
            tracing::warn!(pod = %self.name, namespace = %self.namespace, error = %e, "failed to make the sandbox");
            self.events.pod_event(
                EventType::Warning,
                "FailedCreatePodSandBox",
                format!("Failed to create pod sandbox: {e}"),
            );
            sandbox_error = Some(e);
        }
        let spec = pod.spec.clone().unwrap_or_default();
        let mut init_failed = false;
        let mut init_done = spec.init_containers.as_ref().is_none_or(|c| c.is_empty());
        if self.sandbox.is_some() {
            if self.probers.is_none() {
                self.probers = Some(Probers::start(
                    pod,
                    self.shared.runtime.clone(),
                    self.events.clone(),
                ));
            }
            self.kill_unhealthy(pod).await;
            let containers = self.list().await;
            let latest = |name: &str| {
                containers
                    .iter()
                    .filter(|c| c.name == name)
                    .max_by_key(|c| (c.attempt, c.created_at))
                    .cloned()
            };
            let mut all_init = true;
            for c in spec.init_containers.iter().flatten() {
                let l = latest(&c.name);
                let failed = l.as_ref().is_some_and(|l| {
                    l.state == ContainerState::Exited && l.exit_code.unwrap_or(0) != 0
                });
                match self.step(pod, c, l, true).await {
                    Step::Fine => {
                        if failed {
                            // Not restarted (restartPolicy Never): the pod failed.
                            init_failed = true;
                            all_init = false;
                            break;
                        }
                    }
                    Step::Wait(after) => {
                        wake = wake.min(after.unwrap_or(relist));
                        all_init = false;
                        break;
                    }
                }
            }
            init_done = all_init;
            if init_done {
                for c in &spec.containers {
                    if let Step::Wait(after) = self.step(pod, c, latest(&c.name), false).await {
                        wake = wake.min(after.unwrap_or(relist));
                    }
                }
            }
        }
        let containers = self.list().await;
        self.update_probers(&containers);
        let status = self.status(
            pod,
            &containers,
            init_done,
            init_failed,
            false,
            sandbox_error,
        );
        self.write_status(status).await;
        wake
    }

    /// Resolves when a probe result changed (never without probes).
    async fn probe_changed(&self) {
        match &self.probers {
            Some(p) if !p.is_empty() => p.changed().await,
            _ => std::future::pending().await,
        }
    }

    /// Tells the probes what runs now (the newest container of each probed name).
    fn update_probers(&self, containers: &[ContainerStatus]) {
        let Some(probers) = &self.probers else { return };
        if probers.is_empty() {
            return;
        }
        let pod_ip = self
            .sandbox
            .as_ref()
            .and_then(|s| s.pod_ips.first().cloned());
        let named = by_name(containers);
        let targets = probers
            .probed_containers()
            .into_iter()
            .filter_map(|name| {
                let latest = named.get(name)?.first()?;
                let target = Target {
                    container_id: latest.id.clone(),
                    running: latest.state == ContainerState::Running,
                    started_at: latest.started_at,
                    pod_ip: pod_ip.clone(),
                    started: probers.started(name, &latest.id),
                };
                Some((name.to_owned(), target))
            })
            .collect();
        probers.update(targets);
    }

    /// Kills the running containers whose liveness or startup probe failed (upstream
    /// `computePodActions` + `killContainer`); the restart policy then restarts them.
    async fn kill_unhealthy(&mut self, pod: &Pod) {
        let Some(probers) = &self.probers else { return };
        if probers.is_empty() {
            return;
        }
        let containers = self.list().await;
        let named = by_name(&containers);
        let pod_grace = pod
            .spec
            .as_ref()
            .and_then(|s| s.termination_grace_period_seconds)
            .unwrap_or(30);
        let mut kills = Vec::new();
        for (name, list) in &named {
            let Some(latest) = list.first().filter(|l| l.state == ContainerState::Running) else {
                continue;
            };
            if let Some(reason) = probers.kill_reason(name, &latest.id) {
                kills.push((name.to_string(), latest.id.clone(), reason));
            }
        }
        let restart = restart_policy(pod) != "Never";
        for (name, id, reason) in kills {
            let mut message = format!(
                "Container {name} failed {} probe",
                reason.kind.title().to_lowercase()
            );
            if restart {
                message.push_str(", will be restarted");
            }
            self.events
                .container_event(&name, EventType::Normal, "Killing", message.clone());
            tracing::info!(pod = %self.name, namespace = %self.namespace, container = %name, %message, "killing container");
            let grace = reason.termination_grace.unwrap_or(pod_grace).max(0) as u64;
            let grace = self
                .pre_stop(Some(pod), &name, &id, Duration::from_secs(grace))
                .await;
            if let Err(e) = self.shared.runtime.stop_container(&id, grace).await {
                tracing::warn!(pod = %self.name, namespace = %self.namespace, container = %name, error = %e, "failed to kill container");
            }
        }
    }

    /// The pod's first IP, for hooks and probes.
    fn pod_ip(&self) -> Option<String> {
        self.sandbox
            .as_ref()
            .and_then(|sb| sb.pod_ips.first().cloned())
    }

    /// Runs the container's `postStart` hook; a failure is a `FailedPostStartHook` event and
    /// the container is killed (the restart policy restarts it), as upstream.
    async fn post_start(&mut self, pod: &Pod, container: &Container, id: &str) {
        let pod_ip = self.pod_ip();
        let runtime = self.shared.runtime.clone();
        let result = hooks::run(
            &runtime,
            container,
            id,
            pod_ip.as_deref(),
            hooks::Hook::PostStart,
            hooks::POST_START_TIMEOUT,
        )
        .await;
        let Err(why) = result else { return };
        let name = &container.name;
        tracing::warn!(pod = %self.name, namespace = %self.namespace, container = %name, error = %why, "postStart hook failed; killing the container");
        self.events.container_event(
            name,
            EventType::Warning,
            "FailedPostStartHook",
            format!("PostStartHook failed: {why}"),
        );
        self.events.container_event(
            name,
            EventType::Normal,
            "Killing",
            format!("FailedPostStartHook: container {name} is killed"),
        );
        let grace = pod
            .spec
            .as_ref()
            .and_then(|s| s.termination_grace_period_seconds)
            .unwrap_or(30)
            .max(0) as u64;
        if let Err(e) = runtime.stop_container(id, Duration::from_secs(grace)).await {
            tracing::warn!(pod = %self.name, namespace = %self.namespace, container = %name, error = %e, "failed to kill container");
        }
    }

    /// Runs the container's `preStop` hook within `grace` (recording `FailedPreStopHook` if it
    /// fails); the grace left for stopping it.
    async fn pre_stop(&self, pod: Option<&Pod>, name: &str, id: &str, grace: Duration) -> Duration {
        let spec = pod.and_then(|p| hooks::container_spec(p, name));
        let pod_ip = self.pod_ip();
        let (left, result) =
            hooks::pre_stop(&self.shared.runtime, spec, id, pod_ip.as_deref(), grace).await;
        if let Err(why) = result {
            tracing::warn!(pod = %self.name, namespace = %self.namespace, container = %name, error = %why, "preStop hook failed");
            self.events.container_event(
                name,
                EventType::Warning,
                "FailedPreStopHook",
                format!("PreStopHook failed: {why}"),
            );
        }
        left
    }

    async fn list(&self) -> Vec<ContainerStatus> {
        match &self.sandbox {
            Some(sb) => self
                .shared
                .runtime
                .list_containers(Some(&sb.id))
                .await
                .unwrap_or_default(),
            None => Vec::new(),
        }
    }

    /// The pod's status from the runtime's containers and the worker's waiting reasons.
    fn status<'a>(
        &'a self,
        pod: &'a Pod,
        containers: &'a [ContainerStatus],
        init_done: bool,
        init_failed: bool,
        terminating: bool,
        sandbox_error: Option<String>,
    ) -> Value {
        let previous = self.last_written.as_ref();
        let rt = self.shared.runtime_name.as_str();
        let Some(spec) = pod.spec.as_ref() else {
            return json!({});
        };
        let named = by_name(containers);
        let waiting = &self.waiting;
        let probers = self.probers.as_ref();
        let view = |c: &'a Container| -> ContainerView<'a> {
            let list = named.get(c.name.as_str());
            let latest = list.and_then(|l| l.first().copied());
            let running = latest
                .filter(|l| l.state == ContainerState::Running)
                .map(|l| l.id.as_str());
            let started = running.is_some_and(|id| probers.is_none_or(|p| p.started(&c.name, id)));
            let ready = running.is_some_and(|id| probers.is_none_or(|p| p.ready(&c.name, id)));
            ContainerView {
                name: c.name.as_str(),
                image: c.image.as_deref().unwrap_or_default(),
                latest,
                previous: list.and_then(|l| l.get(1).copied()),
                waiting: waiting.get(&c.name),
                started,
                ready,
            }
        };
        let init_default = if sandbox_error.is_some() {
            "ContainerCreating"
        } else {
            "PodInitializing"
        };
        let mut init_statuses = Vec::new();
        let mut incomplete = Vec::new();
        for c in spec.init_containers.iter().flatten() {
            let (s, kind) = status::container_status(rt, &view(c), init_default);
            if kind != Kind::Terminated(0) {
                incomplete.push(c.name.as_str());
            }
            init_statuses.push(s);
        }
        let main_default = if init_done {
            "ContainerCreating"
        } else {
            "PodInitializing"
        };
        let mut statuses = Vec::new();
        let mut kinds = Vec::new();
        let mut unready = Vec::new();
        for c in &spec.containers {
            let (s, kind) = status::container_status(rt, &view(c), main_default);
            if s["ready"] != json!(true) {
                unready.push(c.name.as_str());
            }
            kinds.push(kind);
            statuses.push(s);
        }
        let policy = restart_policy(pod);
        let mut phase = if init_failed {
            "Failed"
        } else if !init_done {
            "Pending"
        } else {
            status::phase(policy, &kinds)
        };
        if terminating && !kinds.contains(&Kind::Running) {
            // A pod that was deleted and whose containers all stopped ends terminal.
            phase = if kinds.iter().all(|k| *k == Kind::Terminated(0)) {
                "Succeeded"
            } else {
                "Failed"
            };
        }
        let sandbox_ready = self.sandbox.is_some() && !terminating;
        let ready = unready.is_empty();
        let (ready_reason, ready_message) = if ready {
            (None, None)
        } else if phase == "Succeeded" {
            (Some("PodCompleted"), None)
        } else {
            (
                Some("ContainersNotReady"),
                Some(status::names_message("unready", &unready)),
            )
        };
        let initialized = init_done || phase == "Succeeded";
        let api_conditions = pod
            .status
            .as_ref()
            .and_then(|s| s.conditions.as_deref())
            .unwrap_or_default();
        let (pod_ready, pod_ready_reason, pod_ready_message) =
            match status::readiness_gates(spec, api_conditions) {
                Some(message) if ready => (false, Some("ReadinessGatesNotReady"), Some(message)),
                _ => (ready, ready_reason, ready_message.clone()),
            };
        let conditions = vec![
            status::condition(
                previous,
                "PodReadyToStartContainers",
                sandbox_ready,
                None,
                None,
            ),
            status::condition(
                previous,
                "Initialized",
                initialized,
                (!initialized).then_some("ContainersNotInitialized"),
                (!initialized).then(|| status::names_message("incomplete", &incomplete)),
            ),
            status::condition(
                previous,
                "Ready",
                pod_ready,
                pod_ready_reason,
                pod_ready_message,
            ),
            status::condition(
                previous,
                "ContainersReady",
                ready,
                ready_reason,
                ready_message,
            ),
            status::pod_scheduled(pod, previous),
        ];
        // Conditions others own (readiness gates', DisruptionTarget) are not written: the
        // strategic patch merges conditions by type, so the API keeps them as they are.
        let host_ip = self.shared.node_ip.to_string();
        let mut out = json!({
            "phase": phase,
            "conditions": conditions,
            "hostIP": host_ip,
            "hostIPs": [{ "ip": host_ip }],
            "containerStatuses": statuses,
        });
        if let Some(start) = &self.start_time {
            out["startTime"] = start.clone();
        }
        if let Some(sb) = &self.sandbox {
            out["podIP"] = json!(sb.pod_ips.first());
            out["podIPs"] = json!(sb
                .pod_ips
                .iter()
                .map(|ip| json!({ "ip": ip }))
                .collect::<Vec<_>>());
        } else if let Some(prev) = previous {
            for key in ["podIP", "podIPs"] {
                if !prev[key].is_null() {
                    out[key] = prev[key].clone();
                }
            }
        }
        if !init_statuses.is_empty() {
            out["initContainerStatuses"] = json!(init_statuses);
        }
        out
    }

    /// Writes the status through `pods/status` when it differs from the last written.
    async fn write_status(&mut self, status: Value) -> bool {
        if self.last_written.as_ref() == Some(&status) {
            return true;
        }
        let pods: Api<Pod> = Api::namespaced(self.shared.client.clone(), &self.namespace);
        let patch = json!({ "status": status::strategic_patch(&status) });
        match pods
            .patch_status(
                &self.name,
                &PatchParams::default(),
                &Patch::Strategic(&patch),
            )
            .await
        {
            Ok(_) => {
                tracing::debug!(pod = %self.name, namespace = %self.namespace, phase = %status["phase"], "pod status written");
                self.last_written = Some(status);
                true
            }
            Err(kube::Error::Api(e)) if e.code == 404 => false,
            Err(e) => {
                tracing::warn!(pod = %self.name, namespace = %self.namespace, error = %e, "failed to write pod status");
                false
            }
        }
    }

    /// `KillPod` and the final delete: stops the containers with the pod's grace period,
    /// stops the sandbox, writes the final status, deletes the pod object (grace 0,
    /// precondition uid) and removes the sandbox. `pod` is `None` when the pod is already
    /// gone from the API. Returns `true` once done.
    async fn terminate(&mut self, pod: Option<&Pod>) -> bool {
        // No liveness probing of a pod going away.
        if let Some(p) = self.probers.as_mut() {
            p.terminating();
        }
        let grace = pod
            .and_then(|p| {
                p.metadata.deletion_grace_period_seconds.or_else(|| {
                    p.spec
                        .as_ref()
                        .and_then(|s| s.termination_grace_period_seconds)
                })
            })
            .unwrap_or(0)
            .max(0) as u64;
        let runtime = self.shared.runtime.clone();
        if let Some(sb) = &self.sandbox {
            let running: Vec<ContainerStatus> = self
                .list()
                .await
                .into_iter()
                .filter(|c| {
                    c.state == ContainerState::Running || c.state == ContainerState::Created
                })
                .collect();
            for c in &running {
                self.events.container_event(
                    &c.name,
                    EventType::Normal,
                    "Killing",
                    format!("Stopping container {}", c.name),
                );
            }
            let this = &*self;
            let stops = running.iter().map(|c| {
                let runtime = runtime.clone();
                async move {
                    let grace = this
                        .pre_stop(pod, &c.name, &c.id, Duration::from_secs(grace))
                        .await;
                    if let Err(e) = runtime.stop_container(&c.id, grace).await {
                        tracing::warn!(container = %c.id, error = %e, "failed to stop container");
                    }
                }
            });
            futures::future::join_all(stops).await;
            if let Err(e) = runtime.stop_pod_sandbox(&sb.id).await {
                tracing::warn!(pod = %self.name, namespace = %self.namespace, error = %e, "failed to stop sandbox");
                return false;
            }
        }
        if let Some(pod) = pod {
            let containers = self.list().await;
            let init_done = pod
                .spec
                .as_ref()
                .and_then(|s| s.init_containers.as_ref())
                .is_none_or(|cs| {
                    cs.iter().all(|c| {
                        containers.iter().any(|r| {
                            r.name == c.name
                                && r.state == ContainerState::Exited
                                && r.exit_code == Some(0)
                        })
                    })
                });
            self.waiting.clear();
            let status = self.status(pod, &containers, init_done, false, true, None);
            self.write_status(status).await;
            let pods: Api<Pod> = Api::namespaced(self.shared.client.clone(), &self.namespace);
            let params = DeleteParams {
                grace_period_seconds: Some(0),
                preconditions: Some(Preconditions {
                    uid: Some(self.uid.clone()),
                    resource_version: None,
                }),
                ..DeleteParams::default()
            };
            match pods.delete(&self.name, &params).await {
                Ok(_) => {
                    tracing::info!(pod = %self.name, namespace = %self.namespace, "pod deleted")
                }
                Err(kube::Error::Api(e)) if e.code == 404 || e.code == 409 => {}
                Err(e) => {
                    tracing::warn!(pod = %self.name, namespace = %self.namespace, error = %e, "failed to delete pod");
                    return false;
                }
            }
        }
        if let Some(sb) = self.sandbox.take() {
            if let Err(e) = runtime.remove_pod_sandbox(&sb.id).await {
                tracing::warn!(pod = %self.name, namespace = %self.namespace, error = %e, "failed to remove sandbox");
            }
        }
        // Sandboxes of earlier attempts.
        if let Ok(all) = runtime.list_pod_sandboxes().await {
            for s in all.into_iter().filter(|s| s.config.uid == self.uid) {
                let _ = runtime.remove_pod_sandbox(&s.id).await;
            }
        }
        volumes::teardown(&self.pod_dir()).await;
        let _ = tokio::fs::remove_dir_all(self.pod_dir()).await;
        let _ = tokio::fs::remove_dir_all(self.log_dir()).await;
        tracing::info!(pod = %self.name, namespace = %self.namespace, "pod cleaned up");
        true
    }
}

impl Step {
    /// `Wait(None)` (the relist period) instead when the container is left waiting.
    fn or_wait(self, waiting: bool) -> Step {
        if waiting {
            Step::Wait(None)
        } else {
            self
        }
    }
}
