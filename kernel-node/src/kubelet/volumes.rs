//! Pod volumes: upstream's volume manager (`pkg/kubelet/volumemanager`) and volume plugins
//! (`pkg/volume/...`) for the volumes a kubelet without attach/detach or CSI can offer, and
//! `makeMounts` (`kubelet_pods.go`) for the containers' mounts.
//!
//! Each volume lives where upstream puts it:
//! `<root_dir>/pods/<uid>/volumes/kubernetes.io~<plugin>/<name>`:
//!
//! - `emptyDir` (`kubernetes.io~empty-dir`): a directory, mode 0777; `medium: Memory` is a
//!   tmpfs mounted there (its size the `sizeLimit`) when the kubelet runs as root, and a plain
//!   directory otherwise.
//! - `configMap` (`kubernetes.io~configmap`), `secret` (`kubernetes.io~secret`),
//!   `downwardAPI` (`kubernetes.io~downward-api`), `projected` (`kubernetes.io~projected`):
//!   files written by the atomic writer (a timestamped `..<ts>` directory, the `..data`
//!   symlink swapped by a rename, top-level symlinks `<key> -> ..data/<key>`); `items`,
//!   `mode`/`defaultMode` and `optional` as upstream. They are rewritten every
//!   [`KubeletConfig::volume_resync_period`](super::KubeletConfig::volume_resync_period) so
//!   that updates of the objects reach the files (upstream's `syncFrequency`), and are always
//!   mounted read-only. The directories of secret, downwardAPI and projected volumes are
//!   tmpfs mounts when the kubelet runs as root (upstream wraps them in a memory-backed
//!   emptyDir), so that secrets do not reach a disk.
//! - projected `serviceAccountToken`: a token requested through TokenRequest
//!   (`serviceaccounts/<name>/token`, bound to the pod) and renewed once 80% of its lifetime
//!   passed. When the request fails (no such service account, an API server without
//!   TokenRequest) the source is skipped with a warning log: the rest of the volume is still
//!   written (upstream fails the mount instead). `clusterTrustBundle` and `podCertificate`
//!   sources are skipped with a warning.
//! - `hostPath`: the host path itself, after upstream's `type` check (DirectoryOrCreate,
//!   Directory, FileOrCreate, File, Socket, CharDevice, BlockDevice, `""`).
//! - `persistentVolumeClaim`: the claim must be Bound; its PersistentVolume's `hostPath`
//!   (type-checked) or `local` path is what gets mounted (no bind mount under the pod
//!   directory: the path is used as is). Other PV sources are not supported. A generic
//!   `ephemeral` volume is the claim `<pod>-<volume>`, which the pod must control (made by
//!   the ephemeral volume controller, not by the kubelet).
//!
//! A volume that cannot be set up is a `FailedMount` Warning event
//! (`MountVolume.SetUp failed for volume "<name>" : <why>`) and the pod waits in
//! `ContainerCreating` without a sandbox, retried at every sync, as upstream. A projection
//! volume whose object went away after it was mounted keeps its last files.
//!
//! Mounts: `subPath` and `subPathExpr` (expanded from the container's environment; a
//! variable without a value is a `CreateContainerConfigError`) name a path inside the
//! volume, made as a directory when missing; `readOnly` is passed to the runtime. Unlike
//! upstream's bind mount of a subPath, a subPath of a configMap volume follows later updates.
//!
//! Volumes are set up whatever the runtime, the simulated one included: a hostPath is
//! checked (and made) on the kubelet's host, a claim's PV path must exist there.
//!
//! The pod's volumes are torn down when it finished (Succeeded or Failed: mounts under
//! `<pod dir>/volumes` are unmounted and that directory removed, as upstream unmounts the
//! volumes of terminated pods) and when it is removed (the whole pod directory).

mod atomic_writer;
mod claim;
mod empty_dir;
mod host_path;
pub(crate) mod projection;
mod token;

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::{ConfigMap, Container, Pod, Secret, Volume};
use kube::{Api, Client};

use self::atomic_writer::Payload;
use super::env::{self, PodContext};
use super::events::{EventRecorder, EventType};
use super::Shared;
use crate::runtime::Mount;

/// The ConfigMaps and Secrets of a namespace read during one sync (`None`: not found), so
/// that each is read once per pod sync.
#[derive(Default)]
pub(crate) struct Objects {
    pub config_maps: HashMap<String, Option<ConfigMap>>,
    pub secrets: HashMap<String, Option<Secret>>,
}

fn api_message(e: kube::Error) -> String {
    match e {
        kube::Error::Api(s) => s.message,
        other => other.to_string(),
    }
}

impl Objects {
    /// The ConfigMap `name` (read at most once).
    pub async fn config_map(
        &mut self,
        client: &Client,
        namespace: &str,
        name: &str,
    ) -> Result<Option<&ConfigMap>, String> {
        if !self.config_maps.contains_key(name) {
            let api: Api<ConfigMap> = Api::namespaced(client.clone(), namespace);
            let got = api.get_opt(name).await.map_err(api_message)?;
            self.config_maps.insert(name.to_owned(), got);
        }
        Ok(self.config_maps.get(name).and_then(Option::as_ref))
    }

    /// The Secret `name` (read at most once).
    pub async fn secret(
        &mut self,
        client: &Client,
        namespace: &str,
        name: &str,
    ) -> Result<Option<&Secret>, String> {
        if !self.secrets.contains_key(name) {
            let api: Api<Secret> = Api::namespaced(client.clone(), namespace);
            let got = api.get_opt(name).await.map_err(api_message)?;
            self.secrets.insert(name.to_owned(), got);
        }
        Ok(self.secrets.get(name).and_then(Option::as_ref))
    }

    /// Reads every ConfigMap and Secret the container's `env` and `envFrom` name.
    pub async fn fetch_for_env(
        &mut self,
        client: &Client,
        namespace: &str,
        container: &Container,
    ) -> Result<(), String> {
        for var in container.env.iter().flatten() {
            let Some(from) = &var.value_from else {
                continue;
            };
            if let Some(r) = &from.config_map_key_ref {
                self.config_map(client, namespace, &r.name).await?;
            }
            if let Some(r) = &from.secret_key_ref {
                self.secret(client, namespace, &r.name).await?;
            }
        }
        for from in container.env_from.iter().flatten() {
            if let Some(r) = &from.config_map_ref {
                self.config_map(client, namespace, &r.name).await?;
            }
            if let Some(r) = &from.secret_ref {
                self.secret(client, namespace, &r.name).await?;
            }
        }
        Ok(())
    }
}

/// A volume that is set up.
#[derive(Clone, Debug)]
struct Mounted {
    /// Where it is on the host.
    host_path: PathBuf,
    /// Whether every mount of it is read-only (projections; a read-only claim).
    read_only: bool,
    /// Rewritten at every resync (configMap, secret, downwardAPI, projected).
    resync: bool,
}

/// The volumes of one pod, kept by its worker.
#[derive(Default)]
pub(crate) struct PodVolumes {
    mounted: HashMap<String, Mounted>,
    last_resync: Option<Instant>,
    tokens: token::Tokens,
    /// Events posted, by reason and message, when (one per minute at most).
    posted: HashMap<(String, String), Instant>,
    /// Whether [`tear_down`](Self::tear_down) ran.
    torn_down: bool,
}

fn plugin_dir(pod_dir: &Path, plugin: &str, name: &str) -> PathBuf {
    pod_dir
        .join("volumes")
        .join(format!("kubernetes.io~{plugin}"))
        .join(name)
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, String> + Send + 'static,
) -> Result<T, String> {
    tokio::task::spawn_blocking(f)
        .await
        .unwrap_or_else(|e| Err(format!("volume task failed: {e}")))
}

async fn write_payload(dir: PathBuf, payload: Payload) -> Result<(), String> {
    blocking(move || {
        atomic_writer::write(&dir, &payload)
            .map(|changed| {
                if changed {
                    tracing::debug!(dir = %dir.display(), "volume files written");
                }
            })
            .map_err(|e| format!("failed to write the files of {}: {e}", dir.display()))
    })
    .await
}

/// The directory of a secret, downwardAPI or projected volume: a tmpfs when root, as
/// upstream wraps them in a `medium: Memory` emptyDir (so secrets never reach a disk).
async fn memory_backed(dir: &Path) -> Result<(), String> {
    let at = dir.to_path_buf();
    blocking(move || empty_dir::setup(&at, "Memory", None).map(|_| ())).await
}

fn mode(mode: Option<i32>) -> u32 {
    mode.map(|m| m as u32).unwrap_or(projection::DEFAULT_MODE)
}

impl PodVolumes {
    /// Sets up the pod's volumes that are not yet, and rewrites the projections when the
    /// resync period passed. `Err` (with a `FailedMount` event posted) while a volume cannot
    /// be set up: the pod must not start.
    pub async fn sync(
        &mut self,
        shared: &Shared,
        events: &EventRecorder,
        pod: &Pod,
        pod_dir: &Path,
    ) -> Result<(), String> {
        let due = self
            .last_resync
            .is_none_or(|t| t.elapsed() >= shared.config.volume_resync_period);
        let mut objects = Objects::default();
        let mut failed = Vec::new();
        let volumes = pod.spec.as_ref().and_then(|s| s.volumes.as_ref());
        for volume in volumes.into_iter().flatten() {
            let known = self.mounted.get(&volume.name);
            if known.is_some_and(|m| !m.resync || !due) {
                continue;
            }
            let first = known.is_none();
            match self
                .setup(shared, pod, pod_dir, volume, &mut objects, first)
                .await
            {
                Ok(mounted) => {
                    if first {
                        tracing::debug!(pod = ?pod.metadata.name, volume = %volume.name, path = %mounted.host_path.display(), "volume set up");
                    }
                    self.mounted.insert(volume.name.clone(), mounted);
                }
                Err(e) => {
                    let message = format!(
                        "MountVolume.SetUp failed for volume {:?} : {e}",
                        volume.name
                    );
                    if self.event(events, "FailedMount", &message) {
                        tracing::warn!(pod = ?pod.metadata.name, namespace = ?pod.metadata.namespace, volume = %volume.name, error = %e, "volume set up failed");
                    } else {
                        tracing::debug!(pod = ?pod.metadata.name, volume = %volume.name, error = %e, "volume set up failed again");
                    }
                    if first {
                        failed.push(message);
                    }
                }
            }
        }
        if due {
            self.last_resync = Some(Instant::now());
        }
        if failed.is_empty() {
            Ok(())
        } else {
            Err(failed.join("; "))
        }
    }

    async fn setup(
        &mut self,
        shared: &Shared,
        pod: &Pod,
        pod_dir: &Path,
        volume: &Volume,
        objects: &mut Objects,
        first: bool,
    ) -> Result<Mounted, String> {
        let client = &shared.client;
        let namespace = pod.metadata.namespace.clone().unwrap_or_default();
        let name = volume.name.as_str();
        let projected = |host_path: PathBuf| Mounted {
            host_path,
            read_only: true,
            resync: true,
        };
        if let Some(source) = &volume.empty_dir {
            let dir = plugin_dir(pod_dir, "empty-dir", name);
            let medium = source.medium.clone().unwrap_or_default();
            let size = match &source.size_limit {
                Some(q) => Some(
                    kernel_core::quantity::Quantity::from_wire(q)
                        .map_err(|e| format!("sizeLimit: {e}"))?
                        .value(),
                ),
                None => None,
            };
            let at = dir.clone();
            blocking(move || empty_dir::setup(&at, &medium, size)).await?;
            return Ok(Mounted {
                host_path: dir,
                read_only: false,
                resync: false,
            });
        }
        if let Some(source) = &volume.host_path {
            let path = PathBuf::from(&source.path);
            let kind = source.type_.clone();
            let at = path.clone();
            blocking(move || host_path::check_type(&at, kind.as_deref())).await?;
            return Ok(Mounted {
                host_path: path,
                read_only: false,
                resync: false,
            });
        }
        if let Some(source) = &volume.config_map {
            let optional = source.optional.unwrap_or(false);
            let cm = objects.config_map(client, &namespace, &source.name).await?;
            if cm.is_none() && !optional {
                return Err(format!("configmap {:?} not found", source.name));
            }
            let payload = projection::config_map(
                cm,
                source.items.as_deref(),
                mode(source.default_mode),
                optional,
            )?;
            let dir = plugin_dir(pod_dir, "configmap", name);
            write_payload(dir.clone(), payload).await?;
            return Ok(projected(dir));
        }
        if let Some(source) = &volume.secret {
            let optional = source.optional.unwrap_or(false);
            let secret_name = source.secret_name.clone().unwrap_or_default();
            let secret = objects.secret(client, &namespace, &secret_name).await?;
            if secret.is_none() && !optional {
                return Err(format!("secret {secret_name:?} not found"));
            }
            let payload = projection::secret(
                secret,
                source.items.as_deref(),
                mode(source.default_mode),
                optional,
            )?;
            let dir = plugin_dir(pod_dir, "secret", name);
            if first {
                memory_backed(&dir).await?;
            }
            write_payload(dir.clone(), payload).await?;
            return Ok(projected(dir));
        }
        if let Some(source) = &volume.downward_api {
            let ctx = PodContext {
                pod,
                pod_ips: &[],
                host_ips: &[],
                allocatable: &shared.allocatable,
            };
            let payload = projection::downward_api(
                &ctx,
                source.items.as_deref().unwrap_or_default(),
                mode(source.default_mode),
            )?;
            let dir = plugin_dir(pod_dir, "downward-api", name);
            if first {
                memory_backed(&dir).await?;
            }
            write_payload(dir.clone(), payload).await?;
            return Ok(projected(dir));
        }
        if let Some(source) = &volume.projected {
            let payload = self
                .projected_payload(shared, pod, &namespace, source, objects)
                .await?;
            let dir = plugin_dir(pod_dir, "projected", name);
            if first {
                memory_backed(&dir).await?;
            }
            write_payload(dir.clone(), payload).await?;
            return Ok(projected(dir));
        }
        if let Some(source) = &volume.persistent_volume_claim {
            let mut mounted =
                claim::claim_path(client, &namespace, &source.claim_name, None).await?;
            mounted.read_only |= source.read_only.unwrap_or(false);
            return Ok(mounted);
        }
        if volume.ephemeral.is_some() {
            // A generic ephemeral volume: the claim `<pod>-<volume>` the pod owns.
            let pod_name = pod.metadata.name.clone().unwrap_or_default();
            let claim = format!("{pod_name}-{name}");
            let owner = pod
                .metadata
                .uid
                .as_deref()
                .map(|uid| (pod_name.as_str(), uid));
            return claim::claim_path(client, &namespace, &claim, owner).await;
        }
        Err("the volume's type is not supported by this kubelet (supported: emptyDir, hostPath, configMap, secret, downwardAPI, projected, persistentVolumeClaim, ephemeral)".into())
    }

    async fn projected_payload(
        &mut self,
        shared: &Shared,
        pod: &Pod,
        namespace: &str,
        source: &k8s_openapi::api::core::v1::ProjectedVolumeSource,
        objects: &mut Objects,
    ) -> Result<Payload, String> {
        let client = &shared.client;
        let default_mode = mode(source.default_mode);
        let mut payload = Payload::new();
        for s in source.sources.iter().flatten() {
            if let Some(cm) = &s.config_map {
                let optional = cm.optional.unwrap_or(false);
                let obj = objects.config_map(client, namespace, &cm.name).await?;
                if obj.is_none() && !optional {
                    return Err(format!("configmap {:?} not found", cm.name));
                }
                payload.extend(projection::config_map(
                    obj,
                    cm.items.as_deref(),
                    default_mode,
                    optional,
                )?);
            } else if let Some(secret) = &s.secret {
                let optional = secret.optional.unwrap_or(false);
                let obj = objects.secret(client, namespace, &secret.name).await?;
                if obj.is_none() && !optional {
                    return Err(format!("secret {:?} not found", secret.name));
                }
                payload.extend(projection::secret(
                    obj,
                    secret.items.as_deref(),
                    default_mode,
                    optional,
                )?);
            } else if let Some(d) = &s.downward_api {
                let ctx = PodContext {
                    pod,
                    pod_ips: &[],
                    host_ips: &[],
                    allocatable: &shared.allocatable,
                };
                payload.extend(projection::downward_api(
                    &ctx,
                    d.items.as_deref().unwrap_or_default(),
                    default_mode,
                )?);
            } else if let Some(t) = &s.service_account_token {
                if let Some(token) = self.tokens.get(shared, pod, namespace, t).await {
                    payload.insert(
                        t.path.clone(),
                        atomic_writer::FileProjection {
                            data: token.into_bytes(),
                            mode: default_mode,
                        },
                    );
                }
            } else {
                tracing::warn!(pod = ?pod.metadata.name, namespace, "projected volume source not supported by this kubelet (clusterTrustBundle, podCertificate); skipped");
            }
        }
        Ok(payload)
    }

    /// Tears the volumes of a finished pod down, once: unmounts what is mounted under
    /// `<pod_dir>/volumes` and removes that directory (hostPath and claim paths are
    /// outside it and stay).
    pub async fn tear_down(&mut self, pod_dir: &Path) {
        if self.torn_down {
            return;
        }
        self.torn_down = true;
        self.mounted.clear();
        let dir = pod_dir.join("volumes");
        let at = dir.clone();
        let _ = tokio::task::spawn_blocking(move || empty_dir::unmount_all(&at)).await;
        match tokio::fs::remove_dir_all(&dir).await {
            Ok(()) => tracing::debug!(dir = %dir.display(), "volumes of a finished pod torn down"),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => {
                tracing::warn!(dir = %dir.display(), error = %e, "failed to remove the volumes of a finished pod")
            }
        }
    }

    /// The runtime mounts of `container` (`makeMounts`); `Err` is a
    /// `CreateContainerConfigError` message.
    pub async fn mounts(
        &self,
        container: &Container,
        envs: &[(String, String)],
    ) -> Result<Vec<Mount>, String> {
        let mut out = Vec::new();
        for m in container.volume_mounts.iter().flatten() {
            let Some(volume) = self.mounted.get(&m.name) else {
                return Err(format!(
                    "cannot find volume {:?} to mount into container {:?}",
                    m.name, container.name
                ));
            };
            let expr = m.sub_path_expr.as_deref().unwrap_or_default();
            let sub = if !expr.is_empty() {
                expand_sub_path(expr, envs)?
            } else {
                m.sub_path.clone().unwrap_or_default()
            };
            let mut host_path = volume.host_path.clone();
            if !sub.is_empty() {
                if sub.starts_with('/') {
                    return Err(format!(
                        "unable to provision SubPath `{sub}`: abs paths are not allowed"
                    ));
                }
                if sub.split('/').any(|p| p == "..") {
                    return Err(format!(
                        "unable to provision SubPath `{sub}`: must not contain '..'"
                    ));
                }
                host_path = host_path.join(&sub);
                if tokio::fs::symlink_metadata(&host_path).await.is_err() {
                    tokio::fs::create_dir_all(&host_path)
                        .await
                        .map_err(|e| format!("failed to create subPath directory for volumeMount {:?} of container {:?}: {e}", m.name, container.name))?;
                }
            }
            out.push(Mount {
                container_path: m.mount_path.clone(),
                host_path,
                readonly: m.read_only.unwrap_or(false) || volume.read_only,
            });
        }
        Ok(out)
    }

    /// Records a Warning event about the pod, once a minute at most per reason and message
    /// (a volume is retried at every sync); `false` when it was recorded less than a minute
    /// ago.
    pub fn event(&mut self, events: &EventRecorder, reason: &str, message: &str) -> bool {
        let key = (reason.to_owned(), message.to_owned());
        if self
            .posted
            .get(&key)
            .is_some_and(|t| t.elapsed() < Duration::from_secs(60))
        {
            return false;
        }
        self.posted.insert(key, Instant::now());
        events.pod_event(EventType::Warning, reason, message);
        true
    }
}

/// `ExpandContainerVolumeMounts`: `$(VAR)` from the environment; a variable without a value
/// is an error.
fn expand_sub_path(expr: &str, envs: &[(String, String)]) -> Result<String, String> {
    let map: BTreeMap<&str, &str> = envs.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let missing = std::cell::RefCell::new(std::collections::BTreeSet::new());
    let out = env::expand(expr, |name| match map.get(name) {
        Some(v) if !v.is_empty() => Some(v.to_string()),
        _ => {
            missing.borrow_mut().insert(name.to_owned());
            Some(String::new())
        }
    });
    let missing = missing.into_inner();
    if missing.is_empty() {
        Ok(out)
    } else {
        Err(format!(
            "missing value for {}",
            missing.into_iter().collect::<Vec<_>>().join(", ")
        ))
    }
}

/// Tears the pod's volumes down: unmounts what is mounted under the pod directory (tmpfs
/// emptyDirs) so that the directory can be removed.
pub(crate) async fn teardown(pod_dir: &Path) {
    let dir = pod_dir.to_path_buf();
    let _ = tokio::task::spawn_blocking(move || empty_dir::unmount_all(&dir)).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sub_path_expr_needs_every_variable() {
        let envs = vec![("POD".to_string(), "p1".to_string())];
        assert_eq!(expand_sub_path("logs/$(POD)", &envs).unwrap(), "logs/p1");
        assert_eq!(
            expand_sub_path("$(A)/$(POD)/$(B)", &envs).unwrap_err(),
            "missing value for A, B"
        );
    }

    #[tokio::test]
    async fn mounts_follow_volume_mounts() {
        let dir = tempfile::tempdir().unwrap();
        let mut volumes = PodVolumes::default();
        volumes.mounted.insert(
            "cache".into(),
            Mounted {
                host_path: dir.path().join("cache"),
                read_only: false,
                resync: false,
            },
        );
        volumes.mounted.insert(
            "cfg".into(),
            Mounted {
                host_path: dir.path().join("cfg"),
                read_only: true,
                resync: true,
            },
        );
        let container: Container = serde_json::from_value(serde_json::json!({
            "name": "c",
            "volumeMounts": [
                { "name": "cache", "mountPath": "/cache", "subPathExpr": "$(POD)" },
                { "name": "cfg", "mountPath": "/etc/cfg" },
                { "name": "cache", "mountPath": "/ro", "readOnly": true }
            ]
        }))
        .unwrap();
        let envs = vec![("POD".to_string(), "p1".to_string())];
        let mounts = volumes.mounts(&container, &envs).await.unwrap();
        assert_eq!(mounts[0].host_path, dir.path().join("cache/p1"));
        assert!(dir.path().join("cache/p1").is_dir(), "the subPath is made");
        assert!(!mounts[0].readonly);
        assert_eq!(mounts[1].container_path, "/etc/cfg");
        assert!(mounts[1].readonly, "projections are read-only");
        assert!(mounts[2].readonly);

        let bad: Container = serde_json::from_value(serde_json::json!({
            "name": "c",
            "volumeMounts": [{ "name": "cache", "mountPath": "/x", "subPath": "../up" }]
        }))
        .unwrap();
        assert!(volumes
            .mounts(&bad, &envs)
            .await
            .unwrap_err()
            .contains("must not contain '..'"));
        let unknown: Container = serde_json::from_value(serde_json::json!({
            "name": "c",
            "volumeMounts": [{ "name": "nope", "mountPath": "/x" }]
        }))
        .unwrap();
        assert_eq!(
            volumes.mounts(&unknown, &envs).await.unwrap_err(),
            "cannot find volume \"nope\" to mount into container \"c\""
        );
    }
}
