//! kernel-node's kubelet volumes and env references end to end: an in-process API server, a
//! kubelet with the ProcessRuntime (containers are local `sh` processes). The ProcessRuntime
//! does not remap container paths, so the tests look at the files in the pod's volume
//! directories on the host and at what the containers print (their CRI log files).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::core::v1::{
    ConfigMap, Event, PersistentVolume, PersistentVolumeClaim, Pod, Secret, ServiceAccount,
};
use kernel::api::ApiServer;
use kernel::store::MemoryStore;
use kernel_node::{HostNetwork, Kubelet, KubeletConfig, ProcessRuntime};
use kernel_testing::{component_missing, eventually};
use kube::api::{DeleteParams, ListParams, Patch, PatchParams, PostParams};
use kube::{Api, Client};
use serde_json::{json, Value};

const NODE: &str = "vol-1";

async fn cluster() -> Client {
    let server = ApiServer::builder()
        .store(Arc::new(MemoryStore::new()))
        .build()
        .await
        .unwrap();
    Client::new(server, "default")
}

/// The shell the containers run, or `None` (skip notice printed).
fn shell() -> Option<&'static str> {
    for sh in ["/bin/sh", "/usr/bin/busybox"] {
        if Path::new(sh).exists() {
            return Some(sh);
        }
    }
    component_missing("sh", "/bin/sh or /usr/bin/busybox");
    None
}

/// A running kubelet on a ProcessRuntime; [`stop`](Self::stop) ends it and its processes.
struct Running {
    task: tokio::task::JoinHandle<()>,
    runtime: ProcessRuntime,
    root: tempfile::TempDir,
}

impl Drop for Running {
    /// A failed test leaves no tmpfs mounts behind (the kubelet unmounts them with the pod).
    fn drop(&mut self) {
        self.task.abort();
        let mut mounts = mounts_under(self.root.path());
        mounts.sort_by_key(|p| std::cmp::Reverse(p.components().count()));
        for m in mounts {
            use std::os::unix::ffi::OsStrExt;
            let Ok(path) = std::ffi::CString::new(m.as_os_str().as_bytes()) else {
                continue;
            };
            // SAFETY: `path` is a valid NUL-terminated string.
            unsafe { libc::umount2(path.as_ptr(), libc::MNT_DETACH) };
        }
    }
}

impl Running {
    async fn stop(self) {
        self.task.abort();
        let _ = self.runtime.shutdown(Duration::from_secs(2)).await;
    }

    fn volume_dir(&self, uid: &str, plugin: &str, name: &str) -> PathBuf {
        self.root
            .path()
            .join("pods")
            .join(uid)
            .join("volumes")
            .join(format!("kubernetes.io~{plugin}"))
            .join(name)
    }

    fn pod_dir(&self, uid: &str) -> PathBuf {
        self.root.path().join("pods").join(uid)
    }

    /// What the container printed (the CRI log's lines without the timestamp and stream).
    fn log(&self, pod: &Pod, container: &str) -> String {
        let dir = self.root.path().join("logs").join(format!(
            "default_{}_{}",
            pod.metadata.name.as_deref().unwrap(),
            pod.metadata.uid.as_deref().unwrap()
        ));
        let text = std::fs::read_to_string(dir.join(container).join("0.log")).unwrap_or_default();
        text.lines()
            .filter_map(|l| l.splitn(4, ' ').nth(3))
            .collect::<Vec<_>>()
            .join("\n")
    }
}

fn start_kubelet(client: &Client) -> Running {
    let root = tempfile::tempdir().unwrap();
    let runtime = ProcessRuntime::new(root.path().join("runtime"), HostNetwork::new());
    let kubelet = Kubelet::builder(client.clone(), NODE)
        .runtime(Arc::new(runtime.clone()))
        .capacity([("cpu", "4"), ("memory", "8Gi")])
        .pod_cidr("10.89.0.0/24")
        .config(KubeletConfig {
            node_status_update_frequency: Duration::from_millis(500),
            node_lease_renew_interval: Duration::from_millis(200),
            backoff_initial: Duration::from_millis(300),
            backoff_max: Duration::from_secs(5),
            pod_relist_period: Duration::from_millis(100),
            volume_resync_period: Duration::from_millis(200),
            root_dir: Some(root.path().to_path_buf()),
            ..KubeletConfig::default()
        })
        .build()
        .unwrap();
    let task = tokio::spawn(async move {
        kubelet.run().await.unwrap();
    });
    Running {
        task,
        runtime,
        root,
    }
}

async fn create<K>(client: &Client, value: Value) -> K
where
    K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope>
        + Clone
        + serde::de::DeserializeOwned
        + serde::Serialize
        + std::fmt::Debug,
    K::DynamicType: Default,
{
    let api: Api<K> = Api::namespaced(client.clone(), "default");
    api.create(
        &PostParams::default(),
        &serde_json::from_value(value).unwrap(),
    )
    .await
    .unwrap()
}

fn pod_value(name: &str, spec: Value) -> Value {
    let mut spec = spec;
    spec["nodeName"] = json!(NODE);
    json!({ "metadata": { "name": name, "labels": { "app": "web", "tier": "front" } }, "spec": spec })
}

/// Waits for the pod to be Running and returns it.
async fn running(pods: &Api<Pod>, name: &str) -> Pod {
    eventually(&format!("pod {name} Running"), || async {
        let pod = pods.get(name).await.unwrap();
        let phase = pod.status.as_ref().and_then(|s| s.phase.clone());
        (phase.as_deref() == Some("Running")).then_some(pod)
    })
    .await
}

/// Mount points at or under `dir` (`/proc/self/mountinfo`).
fn mounts_under(dir: &Path) -> Vec<PathBuf> {
    std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.split(' ').nth(4))
        .map(PathBuf::from)
        .filter(|p| p.starts_with(dir))
        .collect()
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

/// The `FailedMount`-style event of the pod whose message contains `needle`.
async fn warning_event(client: &Client, pod: &str, reason: &str, needle: &str) -> Event {
    let events: Api<Event> = Api::namespaced(client.clone(), "default");
    eventually(&format!("a {reason} event for {pod}"), || async {
        let list = events.list(&ListParams::default()).await.unwrap();
        list.items.into_iter().find(|e| {
            e.involved_object.name.as_deref() == Some(pod)
                && e.reason.as_deref() == Some(reason)
                && e.message.as_deref().is_some_and(|m| m.contains(needle))
        })
    })
    .await
}

/// The waiting reason and message of the pod's first container.
fn waiting(pod: &Pod) -> Option<(String, String)> {
    let w = pod
        .status
        .as_ref()?
        .container_statuses
        .as_ref()?
        .first()?
        .state
        .as_ref()?
        .waiting
        .clone()?;
    Some((w.reason.unwrap_or_default(), w.message.unwrap_or_default()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn projected_host_path_and_empty_dir_volumes_are_materialised_and_resynced() {
    let Some(sh) = shell() else { return };
    let client = cluster().await;
    let kubelet = start_kubelet(&client);
    let host = tempfile::tempdir().unwrap();
    let host_dir = host.path().join("made/by/kubelet");

    let _: ConfigMap = create(
        &client,
        json!({ "metadata": { "name": "cfg" }, "data": { "a": "one", "b": "two" } }),
    )
    .await;
    let _: Secret = create(
        &client,
        json!({ "metadata": { "name": "creds" }, "data": { "password": "aHVudGVyMg==" } }),
    )
    .await;
    let _: ServiceAccount = create(&client, json!({ "metadata": { "name": "default" } })).await;

    let spec = json!({
        "containers": [{
            "name": "c", "image": "busybox:1.36",
            "command": [sh, "-c", "sleep 3600"],
            "volumeMounts": [
                { "name": "cfg", "mountPath": "/etc/cfg" },
                { "name": "secret", "mountPath": "/etc/secret" },
                { "name": "info", "mountPath": "/etc/info" },
                { "name": "all", "mountPath": "/etc/all" },
                { "name": "host", "mountPath": "/host" },
                { "name": "scratch", "mountPath": "/scratch", "subPath": "sub/dir" }
            ]
        }],
        "volumes": [
            { "name": "cfg", "configMap": { "name": "cfg", "items": [
                { "key": "a", "path": "dir/a.txt", "mode": 0o400 },
                { "key": "b", "path": "b" }
            ] } },
            { "name": "secret", "secret": { "secretName": "creds", "defaultMode": 0o440 } },
            { "name": "info", "downwardAPI": { "items": [
                { "path": "labels", "fieldRef": { "fieldPath": "metadata.labels" } },
                { "path": "name", "fieldRef": { "fieldPath": "metadata.name" } }
            ] } },
            { "name": "all", "projected": { "sources": [
                { "configMap": { "name": "cfg", "items": [{ "key": "a", "path": "cfg-a" }] } },
                { "secret": { "name": "creds" } },
                { "downwardAPI": { "items": [{ "path": "ns", "fieldRef": { "fieldPath": "metadata.namespace" } }] } },
                { "serviceAccountToken": { "path": "token", "expirationSeconds": 3600 } }
            ] } },
            { "name": "host", "hostPath": { "path": host_dir, "type": "DirectoryOrCreate" } },
            { "name": "scratch", "emptyDir": {} },
            { "name": "mem", "emptyDir": { "medium": "Memory", "sizeLimit": "1Mi" } }
        ]
    });
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    pods.create(
        &PostParams::default(),
        &serde_json::from_value(pod_value("vols", spec)).unwrap(),
    )
    .await
    .unwrap();
    let pod = running(&pods, "vols").await;
    let uid = pod.metadata.uid.clone().unwrap();

    // configMap: items with their paths and modes, the atomic writer's layout.
    let cfg = kubelet.volume_dir(&uid, "configmap", "cfg");
    assert_eq!(read(&cfg.join("dir/a.txt")), "one");
    assert_eq!(read(&cfg.join("b")), "two");
    assert_eq!(mode(&cfg.join("dir/a.txt")), 0o400);
    assert_eq!(mode(&cfg.join("b")), 0o644);
    let data = std::fs::read_link(cfg.join("..data")).unwrap();
    assert!(data.to_string_lossy().starts_with("..20"), "{data:?}");
    assert_eq!(
        std::fs::read_link(cfg.join("b")).unwrap(),
        Path::new("..data/b")
    );

    // secret: decoded, defaultMode.
    let secret = kubelet.volume_dir(&uid, "secret", "secret");
    assert_eq!(read(&secret.join("password")), "hunter2");
    assert_eq!(mode(&secret.join("password")), 0o440);

    // downwardAPI: labels in upstream's format.
    let info = kubelet.volume_dir(&uid, "downward-api", "info");
    assert_eq!(read(&info.join("labels")), "app=\"web\"\ntier=\"front\"");
    assert_eq!(read(&info.join("name")), "vols");

    // projected: every source in one directory, a TokenRequest token.
    let all = kubelet.volume_dir(&uid, "projected", "all");
    assert_eq!(read(&all.join("cfg-a")), "one");
    assert_eq!(read(&all.join("password")), "hunter2");
    assert_eq!(read(&all.join("ns")), "default");
    assert!(!read(&all.join("token")).is_empty());

    // hostPath DirectoryOrCreate and the emptyDir's subPath.
    assert!(host_dir.is_dir());
    let scratch = kubelet.volume_dir(&uid, "empty-dir", "scratch");
    assert!(scratch.join("sub/dir").is_dir());
    let mem = kubelet.volume_dir(&uid, "empty-dir", "mem");
    assert!(mem.is_dir());
    let pod_dir = kubelet.pod_dir(&uid);
    let mounted = mounts_under(&pod_dir);
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } == 0 && !mounted.is_empty() {
        // Root that may mount: the Memory emptyDir and the secret volume are tmpfs.
        assert!(mounted.contains(&mem), "{mounted:?}");
        assert!(mounted.contains(&secret), "{mounted:?}");
    }

    // An update of the ConfigMap reaches the files (and only through a new `..data`).
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    cms.patch(
        "cfg",
        &PatchParams::default(),
        &Patch::Merge(json!({ "data": { "a": "uno" } })),
    )
    .await
    .unwrap();
    eventually("the updated key in the configMap volume", || async {
        (std::fs::read_to_string(cfg.join("dir/a.txt")).ok()? == "uno").then_some(())
    })
    .await;
    eventually("the updated key in the projected volume", || async {
        (std::fs::read_to_string(all.join("cfg-a")).ok()? == "uno").then_some(())
    })
    .await;
    assert_ne!(std::fs::read_link(cfg.join("..data")).unwrap(), data);

    // A token that cannot be requested (no such service account): the source is skipped,
    // the rest of the projected volume is written and the pod runs.
    let spec = json!({
        "serviceAccountName": "nobody",
        "containers": [{ "name": "c", "image": "busybox:1.36", "command": [sh, "-c", "sleep 3600"] }],
        "volumes": [{ "name": "all", "projected": { "sources": [
            { "configMap": { "name": "cfg", "items": [{ "key": "b", "path": "b" }] } },
            { "serviceAccountToken": { "path": "token" } }
        ] } }]
    });
    pods.create(
        &PostParams::default(),
        &serde_json::from_value(pod_value("no-sa", spec)).unwrap(),
    )
    .await
    .unwrap();
    let no_sa = running(&pods, "no-sa").await;
    let dir = kubelet.volume_dir(no_sa.metadata.uid.as_deref().unwrap(), "projected", "all");
    assert_eq!(read(&dir.join("b")), "two");
    assert!(!dir.join("token").exists());

    // Teardown: the pod's directory goes with the pod, the host path stays.
    pods.delete("vols", &DeleteParams::default()).await.unwrap();
    eventually("the pod directory removed", || async {
        (!pod_dir.exists()).then_some(())
    })
    .await;
    assert!(host_dir.is_dir());
    assert!(
        mounts_under(&pod_dir).is_empty(),
        "tmpfs mounts are unmounted"
    );
    kubelet.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn claims_mount_their_host_path_volume_once_bound() {
    let Some(sh) = shell() else { return };
    let client = cluster().await;
    let kubelet = start_kubelet(&client);
    let disk = tempfile::tempdir().unwrap();

    let pvs: Api<PersistentVolume> = Api::all(client.clone());
    pvs.create(
        &PostParams::default(),
        &serde_json::from_value(json!({
            "metadata": { "name": "pv-1" },
            "spec": {
                "capacity": { "storage": "1Gi" },
                "accessModes": ["ReadWriteOnce"],
                "hostPath": { "path": disk.path(), "type": "Directory" }
            }
        }))
        .unwrap(),
    )
    .await
    .unwrap();
    let _: PersistentVolumeClaim = create(
        &client,
        json!({
            "metadata": { "name": "data" },
            "spec": {
                "accessModes": ["ReadWriteOnce"],
                "resources": { "requests": { "storage": "1Gi" } },
                "volumeName": "pv-1"
            }
        }),
    )
    .await;

    // The container writes through the env var naming the volume's host path (no remapping).
    let spec = json!({
        "containers": [{
            "name": "c", "image": "busybox:1.36",
            "command": [sh, "-c", "echo written > \"$DATA/out\"; sleep 3600"],
            "env": [{ "name": "DATA", "value": disk.path() }],
            "volumeMounts": [{ "name": "data", "mountPath": "/data" }]
        }],
        "volumes": [{ "name": "data", "persistentVolumeClaim": { "claimName": "data" } }]
    });
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    pods.create(
        &PostParams::default(),
        &serde_json::from_value(pod_value("claims", spec)).unwrap(),
    )
    .await
    .unwrap();

    // Not bound: a FailedMount event, the pod waits in ContainerCreating.
    let event = warning_event(&client, "claims", "FailedMount", "non-bound phase").await;
    assert_eq!(event.type_.as_deref(), Some("Warning"));
    assert!(
        event.message.as_deref().unwrap().starts_with(
            "MountVolume.SetUp failed for volume \"data\" : error processing PVC default/data"
        ),
        "{event:?}"
    );
    let pod = eventually("the pod's status", || async {
        let pod = pods.get("claims").await.unwrap();
        waiting(&pod).map(|_| pod)
    })
    .await;
    assert_eq!(
        pod.status.as_ref().unwrap().phase.as_deref(),
        Some("Pending")
    );
    assert_eq!(waiting(&pod).unwrap().0, "ContainerCreating");
    assert!(!disk.path().join("out").exists());

    // Bound: the pod runs and its container writes into the PV's directory.
    let pvcs: Api<PersistentVolumeClaim> = Api::namespaced(client.clone(), "default");
    pvcs.patch_status(
        "data",
        &PatchParams::default(),
        &Patch::Merge(json!({ "status": { "phase": "Bound" } })),
    )
    .await
    .unwrap();
    running(&pods, "claims").await;
    eventually("the container's file in the PV", || async {
        (std::fs::read_to_string(disk.path().join("out")).ok()? == "written\n").then_some(())
    })
    .await;

    // A generic ephemeral volume: the claim `<pod>-<volume>`, which the pod must own.
    let spec = json!({
        "containers": [{ "name": "c", "image": "busybox:1.36", "command": [sh, "-c", "sleep 3600"] }],
        "volumes": [{ "name": "scratch", "ephemeral": { "volumeClaimTemplate": { "spec": {
            "accessModes": ["ReadWriteOnce"], "resources": { "requests": { "storage": "1Gi" } }
        } } } }]
    });
    let eph = pods
        .create(
            &PostParams::default(),
            &serde_json::from_value(pod_value("eph", spec)).unwrap(),
        )
        .await
        .unwrap();
    let _: PersistentVolumeClaim = create(
        &client,
        json!({
            "metadata": { "name": "eph-scratch" },
            "spec": {
                "accessModes": ["ReadWriteOnce"],
                "resources": { "requests": { "storage": "1Gi" } },
                "volumeName": "pv-1"
            }
        }),
    )
    .await;
    pvcs.patch_status(
        "eph-scratch",
        &PatchParams::default(),
        &Patch::Merge(json!({ "status": { "phase": "Bound" } })),
    )
    .await
    .unwrap();
    warning_event(&client, "eph", "FailedMount", "(pod is not owner)").await;
    pvcs.patch(
        "eph-scratch",
        &PatchParams::default(),
        &Patch::Merge(json!({ "metadata": { "ownerReferences": [{
            "apiVersion": "v1", "kind": "Pod", "name": "eph",
            "uid": eph.metadata.uid, "controller": true
        }] } })),
    )
    .await
    .unwrap();
    running(&pods, "eph").await;

    // A hostPath whose type does not match: FailedMount, ContainerCreating.
    let spec = json!({
        "containers": [{ "name": "c", "image": "busybox:1.36", "command": [sh, "-c", "sleep 3600"] }],
        "volumes": [{ "name": "h", "hostPath": { "path": disk.path().join("missing"), "type": "Directory" } }]
    });
    pods.create(
        &PostParams::default(),
        &serde_json::from_value(pod_value("bad-host", spec)).unwrap(),
    )
    .await
    .unwrap();
    let event = warning_event(&client, "bad-host", "FailedMount", "hostPath type check").await;
    assert_eq!(
        event.message.as_deref().unwrap(),
        format!(
            "MountVolume.SetUp failed for volume \"h\" : hostPath type check failed: {} is not a directory",
            disk.path().join("missing").display()
        )
    );
    let pod = pods.get("bad-host").await.unwrap();
    assert_eq!(
        pod.status.as_ref().and_then(|s| s.phase.as_deref()),
        Some("Pending")
    );
    kubelet.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn env_comes_from_config_maps_and_secrets() {
    let Some(sh) = shell() else { return };
    let client = cluster().await;
    let kubelet = start_kubelet(&client);
    let _: ConfigMap = create(
        &client,
        json!({ "metadata": { "name": "cfg" }, "data": { "LEVEL": "3", "MODE": "fast" } }),
    )
    .await;
    let _: Secret = create(
        &client,
        json!({ "metadata": { "name": "creds" }, "data": { "PASSWORD": "aHVudGVyMg==", "1st": "eA==" } }),
    )
    .await;
    let spec = json!({
        "containers": [{
            "name": "c", "image": "busybox:1.36",
            "command": [sh, "-c", "env; sleep 3600"],
            "envFrom": [
                { "configMapRef": { "name": "cfg" }, "prefix": "CFG_" },
                { "secretRef": { "name": "creds" } }
            ],
            "env": [
                { "name": "FROM_CM", "valueFrom": { "configMapKeyRef": { "name": "cfg", "key": "MODE" } } },
                { "name": "FROM_SECRET", "valueFrom": { "secretKeyRef": { "name": "creds", "key": "PASSWORD" } } },
                { "name": "OPTIONAL", "valueFrom": { "configMapKeyRef": { "name": "nope", "key": "k", "optional": true } } },
                { "name": "COMBINED", "value": "$(CFG_LEVEL)-$(FROM_CM)" }
            ]
        }]
    });
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    pods.create(
        &PostParams::default(),
        &serde_json::from_value(pod_value("env", spec)).unwrap(),
    )
    .await
    .unwrap();
    let pod = running(&pods, "env").await;
    let wanted = [
        "CFG_LEVEL=3",
        "CFG_MODE=fast",
        "PASSWORD=hunter2",
        "FROM_CM=fast",
        "FROM_SECRET=hunter2",
        "COMBINED=3-fast",
    ];
    // `env` prints in no particular order: wait for every wanted line.
    let log = eventually("the container's env in its log", || async {
        let log = kubelet.log(&pod, "c");
        let lines: Vec<&str> = log.lines().collect();
        wanted
            .iter()
            .all(|w| lines.contains(w))
            .then(|| log.clone())
    })
    .await;
    let lines: Vec<&str> = log.lines().collect();
    assert!(!log.contains("OPTIONAL="), "{log}");
    assert!(
        !lines.iter().any(|l| l.starts_with("1st=")),
        "a key that is not an env name is skipped: {log}"
    );
    let event = warning_event(&client, "env", "InvalidEnvironmentVariableNames", "1st").await;
    assert_eq!(
        event.message.as_deref().unwrap(),
        "Keys [1st] from the EnvFrom secret default/creds were skipped since they are considered invalid environment variable names."
    );

    // A missing key: CreateContainerConfigError with upstream's message, until it exists.
    let spec = json!({
        "containers": [{
            "name": "c", "image": "busybox:1.36",
            "command": [sh, "-c", "sleep 3600"],
            "env": [{ "name": "X", "valueFrom": { "configMapKeyRef": { "name": "cfg", "key": "later" } } }]
        }]
    });
    pods.create(
        &PostParams::default(),
        &serde_json::from_value(pod_value("missing-key", spec)).unwrap(),
    )
    .await
    .unwrap();
    let (reason, message) = eventually("the config error", || async {
        let pod = pods.get("missing-key").await.unwrap();
        waiting(&pod).filter(|(r, _)| r == "CreateContainerConfigError")
    })
    .await;
    assert_eq!(reason, "CreateContainerConfigError");
    assert_eq!(message, "couldn't find key later in ConfigMap default/cfg");

    let spec = json!({
        "containers": [{
            "name": "c", "image": "busybox:1.36",
            "command": [sh, "-c", "sleep 3600"],
            "envFrom": [{ "secretRef": { "name": "absent" } }]
        }]
    });
    pods.create(
        &PostParams::default(),
        &serde_json::from_value(pod_value("missing-secret", spec)).unwrap(),
    )
    .await
    .unwrap();
    let (_, message) = eventually("the config error", || async {
        let pod = pods.get("missing-secret").await.unwrap();
        waiting(&pod).filter(|(r, _)| r == "CreateContainerConfigError")
    })
    .await;
    assert_eq!(message, "secret \"absent\" not found");

    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    cms.patch(
        "cfg",
        &PatchParams::default(),
        &Patch::Merge(json!({ "data": { "later": "now" } })),
    )
    .await
    .unwrap();
    running(&pods, "missing-key").await;
    kubelet.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn finished_pods_release_their_volumes() {
    let Some(sh) = shell() else { return };
    let client = cluster().await;
    let kubelet = start_kubelet(&client);
    let _: ConfigMap = create(
        &client,
        json!({ "metadata": { "name": "cfg" }, "data": { "a": "one" } }),
    )
    .await;
    let spec = json!({
        "restartPolicy": "Never",
        "containers": [{
            "name": "c", "image": "busybox:1.36",
            "command": [sh, "-c", "test -f \"$CFG/a\" && echo done > \"$SCRATCH/out\""],
            "env": [
                { "name": "CFG", "value": "$(VOLS)/kubernetes.io~configmap/cfg" },
                { "name": "SCRATCH", "value": "$(VOLS)/kubernetes.io~empty-dir/mem" }
            ],
            "volumeMounts": [
                { "name": "cfg", "mountPath": "/cfg" },
                { "name": "mem", "mountPath": "/mem" }
            ]
        }],
        "volumes": [
            { "name": "cfg", "configMap": { "name": "cfg" } },
            { "name": "mem", "emptyDir": { "medium": "Memory" } }
        ]
    });
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    let mut pod: Pod = serde_json::from_value(pod_value("once", spec)).unwrap();
    // The uid is only known once created: the container finds its volumes through VOLS,
    // set from a fieldRef (the process runtime does not remap paths).
    let env = pod.spec.as_mut().unwrap().containers[0]
        .env
        .as_mut()
        .unwrap();
    env.insert(
        0,
        serde_json::from_value(
            json!({ "name": "UID", "valueFrom": { "fieldRef": { "fieldPath": "metadata.uid" } } }),
        )
        .unwrap(),
    );
    env.insert(
        1,
        serde_json::from_value(json!({
            "name": "VOLS",
            "value": format!("{}/pods/$(UID)/volumes", kubelet.root.path().display())
        }))
        .unwrap(),
    );
    let created = pods.create(&PostParams::default(), &pod).await.unwrap();
    let uid = created.metadata.uid.clone().unwrap();
    let done = eventually("the pod to succeed", || async {
        let pod = pods.get("once").await.unwrap();
        let phase = pod.status.as_ref().and_then(|s| s.phase.clone())?;
        (phase == "Succeeded" || phase == "Failed").then_some(phase)
    })
    .await;
    assert_eq!(done, "Succeeded", "the container saw its configMap file");
    let volumes = kubelet.pod_dir(&uid).join("volumes");
    eventually("the finished pod's volumes torn down", || async {
        (!volumes.exists()).then_some(())
    })
    .await;
    assert!(mounts_under(&kubelet.pod_dir(&uid)).is_empty());
    // The pod object stays, with its status.
    assert!(pods.get_opt("once").await.unwrap().is_some());
    kubelet.stop().await;
}
