//! Static pods: pods the kubelet runs from manifest files, without the API server, and the
//! mirror pods that show them in the API (upstream `pkg/kubelet/config/file.go` and
//! `pod/mirror_client.go`), as kubeadm runs its control plane.
//!
//! Every `fileCheckFrequency` the kubelet reads `staticPodPath` (files whose names do not
//! start with `.`; each a YAML or JSON `v1` Pod). As upstream, a static pod is named
//! `<name>-<node name>`, lives in its namespace (`default` when the file names none), is bound
//! to this node, and its uid is a hash of its manifest and the node: the
//! `kubernetes.io/config.hash` annotation, with `kubernetes.io/config.source: file`. A changed
//! file is a new pod (its old one is stopped); a removed file stops the pod.
//!
//! The mirror pod is a copy in the API with the annotation `kubernetes.io/config.mirror`
//! (the hash) and the Node as its controlling owner; the pod worker writes the static pod's
//! status to it. A mirror pod whose static pod is gone or changed, or that is being deleted, is
//! deleted (grace 0) and, while its static pod runs, made again — deleting a mirror pod does
//! not stop a static pod, as upstream.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use k8s_openapi::api::core::v1::{Node, Pod};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use kube::api::{DeleteParams, ListParams, PostParams, Preconditions};
use kube::{Api, Resource};
use tokio::sync::watch;

use super::Shared;

/// The annotation naming a static pod's hash (its uid).
pub(crate) const CONFIG_HASH: &str = "kubernetes.io/config.hash";
/// The annotation naming where a pod came from (`file`, `api`).
pub(crate) const CONFIG_SOURCE: &str = "kubernetes.io/config.source";
/// The annotation that makes a pod in the API a mirror pod; its value is the static pod's hash.
pub(crate) const CONFIG_MIRROR: &str = "kubernetes.io/config.mirror";

/// In-memory only (never sent to the API): the uid of the mirror pod the pod worker is to
/// write a static pod's status to; a new value makes the worker write it again.
pub(crate) const MIRROR_UID: &str = "kernel-node/mirror-uid";

/// The static pods of a node, by uid (their hash).
pub(crate) type StaticPods = BTreeMap<String, Arc<Pod>>;

/// Whether an API pod is a mirror pod (it is not run: its static pod is).
pub(crate) fn is_mirror(pod: &Pod) -> bool {
    pod.metadata
        .annotations
        .as_ref()
        .is_some_and(|a| a.contains_key(CONFIG_MIRROR))
}

/// Reads the manifests of `dir` for `node`; a file that is not a pod is logged and skipped,
/// as upstream does.
pub(crate) async fn read_manifests(dir: &Path, node: &str) -> StaticPods {
    let mut pods = StaticPods::new();
    let mut entries = match tokio::fs::read_dir(dir).await {
        Ok(e) => e,
        Err(e) => {
            tracing::warn!(dir = %dir.display(), error = %e, "cannot read the static pod directory");
            return pods;
        }
    };
    let mut paths = Vec::new();
    while let Ok(Some(entry)) = entries.next_entry().await {
        let name = entry.file_name();
        if name.to_string_lossy().starts_with('.') {
            continue;
        }
        if entry.file_type().await.is_ok_and(|t| t.is_file()) {
            paths.push(entry.path());
        }
    }
    paths.sort();
    for path in paths {
        let text = match tokio::fs::read_to_string(&path).await {
            Ok(t) => t,
            Err(e) => {
                tracing::warn!(file = %path.display(), error = %e, "cannot read static pod manifest");
                continue;
            }
        };
        match static_pod(&text, node) {
            Ok(pod) => {
                let uid = pod.metadata.uid.clone().unwrap_or_default();
                pods.insert(uid, Arc::new(pod));
            }
            Err(e) => {
                tracing::warn!(file = %path.display(), error = %e, "invalid static pod manifest")
            }
        }
    }
    pods
}

/// The static pod a manifest describes on `node`: named, bound, hashed and annotated.
pub(crate) fn static_pod(text: &str, node: &str) -> Result<Pod, String> {
    let value: serde_json::Value = serde_saphyr::from_str(text).map_err(|e| e.to_string())?;
    match (value.get("apiVersion"), value.get("kind")) {
        (Some(v), Some(k)) if v == "v1" && k == "Pod" => {}
        _ => return Err("not a v1 Pod (apiVersion: v1, kind: Pod)".into()),
    }
    let mut pod: Pod = serde_json::from_value(value).map_err(|e| e.to_string())?;
    let name = pod
        .metadata
        .name
        .clone()
        .filter(|n| !n.is_empty())
        .ok_or("the pod has no metadata.name")?;
    pod.metadata.name = Some(format!("{name}-{}", node.to_lowercase()));
    if pod.metadata.namespace.as_deref().unwrap_or("").is_empty() {
        pod.metadata.namespace = Some("default".into());
    }
    let spec = pod.spec.get_or_insert_with(Default::default);
    spec.node_name = Some(node.to_string());
    // What the API server would default, for the pod worker: the file does not go through it.
    spec.restart_policy.get_or_insert_with(|| "Always".into());
    spec.termination_grace_period_seconds.get_or_insert(30);
    pod.status = None;
    let hash = hash_hex(&format!(
        "{}\n{}",
        serde_json::to_string(&pod).unwrap_or_default(),
        node
    ));
    pod.metadata.uid = Some(hash.clone());
    let annotations = pod
        .metadata
        .annotations
        .get_or_insert_with(Default::default);
    annotations.insert(CONFIG_HASH.into(), hash);
    annotations.insert(CONFIG_SOURCE.into(), "file".into());
    Ok(pod)
}

/// 32 hex digits (two FNV-1a 64-bit hashes with different offsets), like upstream's md5 hash
/// in length; stable across runs and builds.
fn hash_hex(text: &str) -> String {
    let fnv = |offset: u64| {
        text.bytes().fold(offset, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
        })
    };
    format!(
        "{:016x}{:016x}",
        fnv(0xcbf2_9ce4_8422_2325),
        fnv(0x84222325_cbf29ce4)
    )
}

/// The mirror pod of a static pod, owned by the node.
fn mirror_of(pod: &Pod, node_uid: &str, node_name: &str) -> Pod {
    let mut mirror = pod.clone();
    mirror.metadata.uid = None;
    mirror.metadata.resource_version = None;
    let hash = pod.metadata.uid.clone().unwrap_or_default();
    mirror
        .metadata
        .annotations
        .get_or_insert_with(Default::default)
        .insert(CONFIG_MIRROR.into(), hash);
    mirror.metadata.owner_references = Some(vec![OwnerReference {
        api_version: "v1".into(),
        kind: "Node".into(),
        name: node_name.to_string(),
        uid: node_uid.to_string(),
        controller: Some(true),
        ..Default::default()
    }]);
    mirror
}

/// Reads the manifest directory every `fileCheckFrequency`, publishes the static pods to the
/// pod loop through `tx`, and keeps their mirror pods in the API. Runs until dropped.
pub(crate) async fn run(shared: Arc<Shared>, node_uid: String, tx: watch::Sender<StaticPods>) {
    let Some(dir) = shared.config.static_pod_path.clone() else {
        return std::future::pending().await;
    };
    tracing::info!(dir = %dir.display(), "watching the static pod directory");
    loop {
        let pods = read_manifests(&dir, &shared.node_name).await;
        tx.send_if_modified(|current| {
            let changed = current.keys().ne(pods.keys());
            if changed {
                *current = pods.clone();
            }
            changed
        });
        sync_mirrors(&shared, &node_uid, &pods).await;
        tokio::time::sleep(shared.config.file_check_frequency).await;
    }
}

/// Deletes the mirror pods of this node that have no running static pod (or are being
/// deleted), and makes the missing ones.
async fn sync_mirrors(shared: &Shared, node_uid: &str, pods: &StaticPods) {
    let all: Api<Pod> = Api::all(shared.client.clone());
    let params = ListParams::default().fields(&format!("spec.nodeName={}", shared.node_name));
    let listed = match all.list(&params).await {
        Ok(l) => l.items,
        Err(e) => {
            tracing::debug!(error = %e, "cannot list mirror pods; retrying");
            return;
        }
    };
    // A Node of our own: the mirror's owner (the uid may have changed if it was re-made).
    let node_uid = match Api::<Node>::all(shared.client.clone())
        .get_opt(&shared.node_name)
        .await
    {
        Ok(Some(n)) => n.meta().uid.clone().unwrap_or_else(|| node_uid.to_string()),
        _ => node_uid.to_string(),
    };
    let mut live = std::collections::HashSet::new();
    for mirror in listed.iter().filter(|p| is_mirror(p)) {
        let hash = mirror
            .metadata
            .annotations
            .as_ref()
            .and_then(|a| a.get(CONFIG_MIRROR))
            .cloned()
            .unwrap_or_default();
        let wanted = pods.get(&hash).is_some_and(|p| {
            p.metadata.name == mirror.metadata.name
                && p.metadata.namespace == mirror.metadata.namespace
        });
        if wanted && mirror.metadata.deletion_timestamp.is_none() {
            live.insert(hash);
            continue;
        }
        let ns = mirror.metadata.namespace.clone().unwrap_or_default();
        let name = mirror.metadata.name.clone().unwrap_or_default();
        let delete = DeleteParams {
            grace_period_seconds: Some(0),
            preconditions: Some(Preconditions {
                uid: mirror.metadata.uid.clone(),
                resource_version: None,
            }),
            ..Default::default()
        };
        match Api::<Pod>::namespaced(shared.client.clone(), &ns)
            .delete(&name, &delete)
            .await
        {
            Ok(_) => tracing::info!(pod = %name, namespace = %ns, "deleted mirror pod"),
            Err(e) => {
                tracing::debug!(pod = %name, namespace = %ns, error = %e, "cannot delete mirror pod")
            }
        }
    }
    for (hash, pod) in pods {
        if live.contains(hash) {
            continue;
        }
        let ns = pod.metadata.namespace.clone().unwrap_or_default();
        let mirror = mirror_of(pod, &node_uid, &shared.node_name);
        match Api::<Pod>::namespaced(shared.client.clone(), &ns)
            .create(&PostParams::default(), &mirror)
            .await
        {
            Ok(_) => {
                tracing::info!(pod = ?pod.metadata.name, namespace = %ns, "created mirror pod")
            }
            // 409: a mirror being deleted still holds the name; the next round makes it.
            Err(e) => {
                tracing::debug!(pod = ?pod.metadata.name, namespace = %ns, error = %e, "cannot create mirror pod")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MANIFEST: &str = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: etcd\n  namespace: kube-system\nspec:\n  containers:\n  - name: etcd\n    image: busybox\n";

    #[test]
    fn a_manifest_becomes_a_named_bound_hashed_pod() {
        let pod = static_pod(MANIFEST, "Node-1").unwrap();
        assert_eq!(pod.metadata.name.as_deref(), Some("etcd-node-1"));
        assert_eq!(pod.metadata.namespace.as_deref(), Some("kube-system"));
        let spec = pod.spec.as_ref().unwrap();
        assert_eq!(spec.node_name.as_deref(), Some("Node-1"));
        assert_eq!(spec.restart_policy.as_deref(), Some("Always"));
        let uid = pod.metadata.uid.clone().unwrap();
        assert_eq!(uid.len(), 32);
        let a = pod.metadata.annotations.as_ref().unwrap();
        assert_eq!(a[CONFIG_HASH], uid);
        assert_eq!(a[CONFIG_SOURCE], "file");
        // Stable for the same manifest and node; another node or content is another pod.
        assert_eq!(
            static_pod(MANIFEST, "Node-1").unwrap().metadata.uid,
            Some(uid.clone())
        );
        assert_ne!(
            static_pod(MANIFEST, "node-2").unwrap().metadata.uid,
            Some(uid.clone())
        );
        let changed = MANIFEST.replace("busybox", "busybox:1");
        assert_ne!(
            static_pod(&changed, "Node-1").unwrap().metadata.uid,
            Some(uid)
        );
    }

    #[test]
    fn json_manifests_and_the_default_namespace() {
        let json = r#"{"apiVersion":"v1","kind":"Pod","metadata":{"name":"web"},"spec":{"containers":[{"name":"c","image":"x"}]}}"#;
        let pod = static_pod(json, "n").unwrap();
        assert_eq!(pod.metadata.namespace.as_deref(), Some("default"));
    }

    #[test]
    fn what_is_not_a_pod_is_refused() {
        assert!(static_pod("apiVersion: v1\nkind: Service\nmetadata: {name: x}\n", "n").is_err());
        assert!(static_pod("apiVersion: v1\nkind: Pod\nmetadata: {}\n", "n").is_err());
        assert!(static_pod(": : :", "n").is_err());
    }

    #[test]
    fn the_mirror_points_at_its_static_pod_and_node() {
        let pod = static_pod(MANIFEST, "node-1").unwrap();
        let mirror = mirror_of(&pod, "node-uid", "node-1");
        assert!(is_mirror(&mirror));
        assert!(!is_mirror(&pod));
        assert_eq!(mirror.metadata.uid, None);
        assert_eq!(
            mirror.metadata.annotations.as_ref().unwrap()[CONFIG_MIRROR],
            pod.metadata.uid.clone().unwrap()
        );
        let owner = &mirror.metadata.owner_references.as_ref().unwrap()[0];
        assert_eq!(
            (owner.kind.as_str(), owner.uid.as_str()),
            ("Node", "node-uid")
        );
        assert_eq!(owner.controller, Some(true));
    }

    #[tokio::test]
    async fn the_directory_is_read_skipping_hidden_and_invalid_files() {
        let dir = tempfile::tempdir().unwrap();
        tokio::fs::write(dir.path().join("etcd.yaml"), MANIFEST)
            .await
            .unwrap();
        tokio::fs::write(
            dir.path().join(".hidden.yaml"),
            MANIFEST.replace("etcd", "h"),
        )
        .await
        .unwrap();
        tokio::fs::write(dir.path().join("bad.yaml"), "kind: Nope")
            .await
            .unwrap();
        let pods = read_manifests(dir.path(), "n").await;
        let names: Vec<_> = pods
            .values()
            .map(|p| p.metadata.name.clone().unwrap())
            .collect();
        assert_eq!(names, ["etcd-n"]);
    }
}
