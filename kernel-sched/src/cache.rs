//! [`Cache`]: the scheduler's own view of nodes and pods, including *assumed* pods — pods the
//! scheduler placed whose binding has not been confirmed by a watch event yet — so the next
//! cycle already sees the previous decision (upstream `internal/cache`).
//!
//! An assumed pod stays until its bound pod arrives from the watch or the binding cycle
//! forgets it on failure: it never expires, as upstream's (`durationToExpireAssumedPod = 0`
//! since kubernetes#106361, where expiry raced with slow bindings and counted pods twice).

use std::collections::BTreeMap;
use std::sync::Arc;

use k8s_openapi::api::core::v1::{Node, Pod};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use crate::snapshot::{ClusterObjects, Snapshot};
use crate::types::{NodeInfo, PodInfo};
use crate::util::FastMap;
use crate::Error;

#[derive(Debug)]
struct CacheNode {
    info: NodeInfo,
    /// False while only pods refer to the node (its object not seen yet).
    has_node: bool,
}

#[derive(Debug)]
struct PodState {
    pod: Arc<PodInfo>,
    node: String,
    assumed: bool,
}

/// Nodes, bound pods and assumed pods, with generation numbers for incremental snapshots.
#[derive(Debug, Default)]
pub struct Cache {
    nodes: FastMap<String, CacheNode>,
    pods: FastMap<String, PodState>,
    generation: u64,
    by_generation: BTreeMap<u64, String>,
    /// Set when nodes were added or removed, or a node's images changed: full snapshot rebuild.
    layout_dirty: bool,
    objects: Arc<ClusterObjects>,
    objects_generation: u64,
    /// Pending pods nominated to nodes (pod key → (node, pod)).
    nominated: FastMap<String, (String, Arc<PodInfo>)>,
    nominated_dirty: bool,
    /// Nodes with a node object.
    node_count: usize,
}

fn pod_key(pod: &PodInfo) -> String {
    if pod.uid.is_empty() {
        pod.key()
    } else {
        pod.uid.clone()
    }
}

/// `status.images` of a node.
fn node_images(node: &Node) -> Option<&Vec<k8s_openapi::api::core::v1::ContainerImage>> {
    node.status.as_ref().and_then(|s| s.images.as_ref())
}

/// [`pod_key`] of a pod object, without building its [`PodInfo`].
fn object_key(pod: &Pod) -> String {
    match pod.metadata.uid.as_deref().filter(|u| !u.is_empty()) {
        Some(uid) => uid.to_owned(),
        None => format!(
            "{}/{}",
            pod.metadata.namespace.as_deref().unwrap_or_default(),
            pod.metadata.name.as_deref().unwrap_or_default()
        ),
    }
}

impl Cache {
    /// An empty cache.
    pub fn new() -> Self {
        Self::default()
    }

    fn touch(&mut self, name: &str) {
        self.generation += 1;
        let Some(n) = self.nodes.get_mut(name) else {
            return;
        };
        self.by_generation.remove(&n.info.generation);
        n.info.generation = self.generation;
        self.by_generation.insert(self.generation, name.to_string());
    }

    fn node_entry(&mut self, name: &str) -> &mut CacheNode {
        if !self.nodes.contains_key(name) {
            let placeholder = Node {
                metadata: ObjectMeta {
                    name: Some(name.to_string()),
                    ..Default::default()
                },
                ..Default::default()
            };
            self.nodes.insert(
                name.to_string(),
                CacheNode {
                    info: NodeInfo::new(placeholder),
                    has_node: false,
                },
            );
        }
        self.nodes.get_mut(name).expect("just inserted")
    }

    /// Adds or updates a node.
    pub fn add_or_update_node(&mut self, node: impl Into<Arc<Node>>) {
        let node: Arc<Node> = node.into();
        let name = node.metadata.name.clone().unwrap_or_default();
        let images_changed = self
            .nodes
            .get(&name)
            .and_then(|n| node_images(&n.info.node))
            != node_images(&node);
        let entry = self.node_entry(&name);
        let was_present = entry.has_node;
        entry.info.set_node(node);
        entry.has_node = true;
        if !was_present {
            self.node_count += 1;
        }
        if !was_present || images_changed {
            self.layout_dirty = true;
        }
        self.touch(&name);
    }

    /// Removes a node (its pods stay accounted until they are deleted).
    pub fn remove_node(&mut self, name: &str) {
        let Some(n) = self.nodes.get_mut(name) else {
            return;
        };
        if n.has_node {
            self.node_count -= 1;
        }
        n.has_node = false;
        let empty = n.info.pods.is_empty();
        self.by_generation.remove(&n.info.generation);
        if empty {
            self.nodes.remove(name);
        }
        self.generation += 1;
        self.layout_dirty = true;
    }

    /// Replaces the non-node objects (PVCs, PDBs, services, ...). They are reflector stores
    /// (see [`ClusterObjects`]), kept current by their informers, so a scheduler sets them once.
    pub fn set_objects(&mut self, objects: ClusterObjects) {
        self.objects = Arc::new(objects);
        self.generation += 1;
        self.objects_generation = self.generation;
    }

    /// Assumes `pod` runs on `node` before the binding is confirmed.
    pub fn assume_pod(&mut self, pod: Arc<PodInfo>, node: &str) -> Result<(), Error> {
        let key = pod_key(&pod);
        if self.pods.contains_key(&key) {
            return Err(Error::Cache(format!(
                "pod {} is in the cache, so can't be assumed",
                pod.key()
            )));
        }
        self.node_entry(node).info.add_pod(pod.clone());
        self.touch(node);
        self.pods.insert(
            key,
            PodState {
                pod,
                node: node.to_string(),
                assumed: true,
            },
        );
        Ok(())
    }

    /// Drops an assumed pod (binding failed).
    pub fn forget_pod(&mut self, pod: &PodInfo) -> Result<(), Error> {
        let key = pod_key(pod);
        match self.pods.get(&key) {
            Some(st) if st.assumed => {
                let node = st.node.clone();
                self.pods.remove(&key);
                self.remove_from_node(pod, &node);
                Ok(())
            }
            Some(_) => Err(Error::Cache(format!(
                "pod {} wasn't assumed so cannot be forgotten",
                pod.key()
            ))),
            None => Ok(()),
        }
    }

    fn remove_from_node(&mut self, pod: &PodInfo, node: &str) {
        if let Some(n) = self.nodes.get_mut(node) {
            n.info.remove_pod(pod);
            let drop_it = !n.has_node && n.info.pods.is_empty();
            self.touch(node);
            if drop_it {
                if let Some(n) = self.nodes.remove(node) {
                    self.by_generation.remove(&n.info.generation);
                }
            }
        }
    }

    /// A pod bound to a node was observed (add or update). Confirms an assumed pod.
    pub fn add_or_update_pod(&mut self, pod: impl Into<Arc<Pod>>) {
        let pod: Arc<Pod> = pod.into();
        let Some(node) = pod
            .spec
            .as_ref()
            .and_then(|s| s.node_name.clone())
            .filter(|n| !n.is_empty())
        else {
            return;
        };
        let info = Arc::new(PodInfo::new(pod));
        let key = pod_key(&info);
        if self.nominated.remove(&key).is_some() {
            self.nominated_dirty = true;
        }
        if let Some(st) = self.pods.remove(&key) {
            let old_node = st.node.clone();
            self.remove_from_node(&st.pod, &old_node);
        }
        self.node_entry(&node).info.add_pod(info.clone());
        self.touch(&node);
        self.pods.insert(
            key,
            PodState {
                pod: info,
                node,
                assumed: false,
            },
        );
    }

    /// Records (or clears) a pending pod's `status.nominatedNodeName`.
    pub fn update_nominated_pod(&mut self, pod: &Pod) {
        let key = object_key(pod);
        let assigned = pod
            .spec
            .as_ref()
            .and_then(|s| s.node_name.as_deref())
            .is_some_and(|n| !n.is_empty());
        let changed = match crate::snapshot::nominated_node(pod).filter(|_| !assigned) {
            Some(node) => {
                let info = Arc::new(PodInfo::new(pod.clone()));
                self.nominated.insert(key, (node, info));
                true
            }
            None => self.nominated.remove(&key).is_some(),
        };
        if changed {
            self.nominated_dirty = true;
            self.generation += 1;
        }
    }

    /// A pod was deleted.
    pub fn remove_pod(&mut self, pod: &Pod) {
        if self.nominated.remove(&object_key(pod)).is_some() {
            self.nominated_dirty = true;
            self.generation += 1;
        }
        if let Some(st) = self.pods.remove(&object_key(pod)) {
            let node = st.node.clone();
            self.remove_from_node(&st.pod, &node);
        }
    }

    /// Whether the pod is assumed (placed, binding not yet observed).
    pub fn is_assumed(&self, pod: &PodInfo) -> bool {
        self.pods.get(&pod_key(pod)).is_some_and(|s| s.assumed)
    }

    /// Number of nodes with a node object.
    pub fn node_count(&self) -> usize {
        self.node_count
    }

    /// Number of pods (bound and assumed).
    pub fn pod_count(&self) -> usize {
        self.pods.len()
    }

    /// Brings `snapshot` up to date, copying only nodes changed since its last update.
    /// Returns how many node infos were copied.
    pub fn update_snapshot(&mut self, snapshot: &mut Snapshot) -> usize {
        if snapshot.generation >= self.generation && !self.layout_dirty {
            return 0;
        }
        let mut copied = 0;
        if self.objects_generation > snapshot.generation || snapshot.generation == 0 {
            snapshot.objects = self.objects.clone();
        }
        if self.nominated_dirty || snapshot.generation == 0 {
            let mut by_node: FastMap<String, Vec<Arc<PodInfo>>> = FastMap::default();
            for (node, p) in self.nominated.values() {
                by_node.entry(node.clone()).or_default().push(p.clone());
            }
            snapshot.nominated = Arc::new(by_node);
            self.nominated_dirty = false;
        }
        if self.layout_dirty
            || snapshot.generation == 0
            || snapshot.node_infos.len() != self.node_count()
        {
            let mut zones: BTreeMap<String, Vec<NodeInfo>> = BTreeMap::new();
            let mut names: Vec<&String> = self
                .nodes
                .iter()
                .filter(|(_, n)| n.has_node)
                .map(|(k, _)| k)
                .collect();
            names.sort();
            for name in names {
                let info = &self.nodes[name].info;
                let zone = info
                    .labels()
                    .get(crate::plugins::LABEL_ZONE)
                    .cloned()
                    .unwrap_or_default();
                zones.entry(zone).or_default().push(info.clone());
                copied += 1;
            }
            // Interleave zones as upstream's node tree does, so sampling spreads across zones.
            let mut lists: Vec<std::vec::IntoIter<NodeInfo>> =
                zones.into_values().map(|v| v.into_iter()).collect();
            let mut infos = Vec::with_capacity(self.nodes.len());
            loop {
                let before = infos.len();
                for l in lists.iter_mut() {
                    infos.extend(l.next());
                }
                if infos.len() == before {
                    break;
                }
            }
            snapshot.node_infos = infos;
            snapshot.rebuild_index();
            snapshot.rebuild_images();
            snapshot.rebuild_affinity_lists();
            self.layout_dirty = false;
        } else {
            for (_, name) in self.by_generation.range(snapshot.generation + 1..) {
                let Some(&i) = snapshot.index.get(name) else {
                    continue;
                };
                snapshot.replace(i, &self.nodes[name].info);
                copied += 1;
            }
        }
        snapshot.generation = self.generation;
        copied
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{node, pod};

    #[test]
    fn assumed_pods_are_visible_in_the_next_snapshot_and_forgettable() {
        let mut cache = Cache::new();
        cache.add_or_update_node(node("n1").cpu("4").obj());
        cache.add_or_update_node(node("n2").cpu("4").obj());
        let mut snap = Snapshot::default();
        assert_eq!(cache.update_snapshot(&mut snap), 2);
        assert_eq!(snap.num_nodes(), 2);

        let p = Arc::new(PodInfo::new(pod("p").uid("u1").req("1", "0").obj()));
        cache.assume_pod(p.clone(), "n1").unwrap();
        assert!(
            cache.assume_pod(p.clone(), "n1").is_err(),
            "double assume must fail"
        );
        // Only the changed node is copied.
        assert_eq!(cache.update_snapshot(&mut snap), 1);
        assert_eq!(snap.get("n1").unwrap().requested.milli_cpu, 1000);
        assert_eq!(cache.update_snapshot(&mut snap), 0, "nothing changed since");

        cache.forget_pod(&p).unwrap();
        cache.update_snapshot(&mut snap);
        assert_eq!(snap.get("n1").unwrap().requested.milli_cpu, 0);
        assert!(snap.get("n1").unwrap().pods.is_empty());
    }

    #[test]
    fn observed_binding_confirms_assumed_pod() {
        let mut cache = Cache::new();
        cache.add_or_update_node(node("n1").cpu("4").obj());
        let p = pod("p").uid("u1").req("1", "0").obj();
        let info = Arc::new(PodInfo::new(p.clone()));
        cache.assume_pod(info.clone(), "n1").unwrap();
        assert!(cache.is_assumed(&info));
        let mut bound = p;
        bound.spec.as_mut().unwrap().node_name = Some("n1".into());
        cache.add_or_update_pod(bound.clone());
        assert!(!cache.is_assumed(&info));
        let mut snap = Snapshot::default();
        cache.update_snapshot(&mut snap);
        assert_eq!(snap.get("n1").unwrap().pods.len(), 1, "not double counted");
        cache.remove_pod(&bound);
        cache.update_snapshot(&mut snap);
        assert_eq!(snap.get("n1").unwrap().requested.milli_cpu, 0);
    }

    #[test]
    fn node_add_and_remove_rebuild_the_list() {
        let mut cache = Cache::new();
        cache.add_or_update_node(node("a").zone("z1").obj());
        cache.add_or_update_node(node("b").zone("z1").obj());
        cache.add_or_update_node(node("c").zone("z2").obj());
        let mut snap = Snapshot::default();
        cache.update_snapshot(&mut snap);
        let order: Vec<_> = snap.node_infos().iter().map(|n| n.name.clone()).collect();
        assert_eq!(order, vec!["a", "c", "b"], "zones interleaved");
        cache.remove_node("c");
        cache.update_snapshot(&mut snap);
        assert_eq!(snap.num_nodes(), 2);
        assert!(snap.get("c").is_none());
    }
}
