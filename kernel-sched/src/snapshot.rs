//! [`Snapshot`]: the immutable view of the cluster one scheduling cycle works on.
//!
//! A snapshot is cheap to keep current: [`Cache::update_snapshot`](crate::Cache::update_snapshot)
//! replaces only the nodes whose generation moved since the last cycle. Node infos are stored
//! contiguously, so a filter pass over consecutive nodes streams through memory.

use std::collections::HashMap;
use std::sync::Arc;

use k8s_openapi::api::apps::v1::{ReplicaSet, StatefulSet};
use k8s_openapi::api::core::v1::{
    Node, PersistentVolume, PersistentVolumeClaim, Pod, ReplicationController, Service,
};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use k8s_openapi::api::storage::v1::StorageClass;
use kernel_core::labels::Labels;

use crate::types::{NodeInfo, PodInfo};
use crate::util::FastMap;

/// Non-node objects some plugins consult: namespaces (for namespace selectors), volumes,
/// disruption budgets and the workload objects behind default topology spreading.
#[derive(Clone, Debug, Default)]
pub struct ClusterObjects {
    /// Namespace labels by namespace name.
    pub namespace_labels: HashMap<String, Labels>,
    /// PersistentVolumeClaims by `namespace/name`.
    pub pvcs: HashMap<String, PersistentVolumeClaim>,
    /// PersistentVolumes.
    pub pvs: Vec<PersistentVolume>,
    /// StorageClasses by name.
    pub storage_classes: HashMap<String, StorageClass>,
    /// PodDisruptionBudgets.
    pub pdbs: Vec<PodDisruptionBudget>,
    /// Services (their selectors feed default topology spreading).
    pub services: Vec<Service>,
    /// ReplicationControllers.
    pub replication_controllers: Vec<ReplicationController>,
    /// ReplicaSets.
    pub replica_sets: Vec<ReplicaSet>,
    /// StatefulSets.
    pub stateful_sets: Vec<StatefulSet>,
}

/// A point-in-time view of nodes and their pods (upstream `cache.Snapshot`).
#[derive(Clone, Debug, Default)]
pub struct Snapshot {
    pub(crate) node_infos: Vec<NodeInfo>,
    pub(crate) index: FastMap<String, usize>,
    pub(crate) have_pods_with_affinity: Vec<usize>,
    pub(crate) have_pods_with_required_anti_affinity: Vec<usize>,
    pub(crate) image_num_nodes: HashMap<String, usize>,
    pub(crate) objects: Arc<ClusterObjects>,
    pub(crate) generation: u64,
    /// Nodes with `spec.unschedulable`.
    pub(crate) num_unschedulable: usize,
    /// Nodes with `NoSchedule`/`NoExecute` taints.
    pub(crate) num_hard_tainted: usize,
    /// Nodes with `PreferNoSchedule` taints.
    pub(crate) num_soft_tainted: usize,
    /// Whether no two nodes share a `kubernetes.io/hostname` value (then a hostname topology
    /// domain is a single node, which lets InterPodAffinity check such terms node-locally).
    pub(crate) hostname_unique: bool,
    /// Sum of [`NodeInfo::pods_affecting_affinity_score`].
    pub(crate) num_pods_affecting_affinity_score: usize,
    /// Pending pods nominated to a node by preemption, by node name.
    pub(crate) nominated: Arc<FastMap<String, Vec<Arc<PodInfo>>>>,
}

impl Snapshot {
    /// Builds a snapshot from nodes and pods; pods with `spec.nodeName` naming one of the
    /// nodes are placed on it; pending pods with `status.nominatedNodeName` reserve room on
    /// that node for pods of lower priority; other pods are ignored.
    pub fn new(nodes: impl IntoIterator<Item = Node>, pods: impl IntoIterator<Item = Pod>) -> Self {
        let mut infos: Vec<NodeInfo> = nodes.into_iter().map(NodeInfo::new).collect();
        let index: FastMap<String, usize> = infos
            .iter()
            .enumerate()
            .map(|(i, n)| (n.name.clone(), i))
            .collect();
        let mut nominated: FastMap<String, Vec<Arc<PodInfo>>> = FastMap::default();
        for pod in pods {
            let assigned = pod
                .spec
                .as_ref()
                .and_then(|s| s.node_name.clone())
                .filter(|n| !n.is_empty());
            let Some(node) = assigned else {
                // Pending pods nominated by preemption hold their room on the node.
                if let Some(n) = nominated_node(&pod) {
                    nominated
                        .entry(n)
                        .or_default()
                        .push(Arc::new(PodInfo::new(pod)));
                }
                continue;
            };
            if let Some(&i) = index.get(&node) {
                infos[i].add_pod(Arc::new(PodInfo::new(pod)));
            }
        }
        let mut s = Self::from_node_infos(infos, Arc::default());
        s.nominated = Arc::new(nominated);
        s
    }

    /// Builds a snapshot from node infos, in the given order.
    pub fn from_node_infos(node_infos: Vec<NodeInfo>, objects: Arc<ClusterObjects>) -> Self {
        let mut s = Snapshot {
            node_infos,
            objects,
            ..Default::default()
        };
        s.rebuild_index();
        s.rebuild_images();
        s.rebuild_affinity_lists();
        s
    }

    /// Replaces the non-node objects.
    pub fn with_objects(mut self, objects: ClusterObjects) -> Self {
        self.objects = Arc::new(objects);
        self
    }

    pub(crate) fn rebuild_index(&mut self) {
        self.index = self
            .node_infos
            .iter()
            .enumerate()
            .map(|(i, n)| (n.name.clone(), i))
            .collect();
        self.num_unschedulable = self.node_infos.iter().filter(|n| n.unschedulable).count();
        self.num_hard_tainted = self
            .node_infos
            .iter()
            .filter(|n| !n.hard_taints.is_empty())
            .count();
        self.num_soft_tainted = self
            .node_infos
            .iter()
            .filter(|n| !n.soft_taints.is_empty())
            .count();
        self.recompute_hostname_unique();
        self.num_pods_affecting_affinity_score = self
            .node_infos
            .iter()
            .map(|n| n.pods_affecting_affinity_score)
            .sum();
    }

    /// Whether any placed pod has terms that affect InterPodAffinity scoring.
    pub fn has_pods_affecting_affinity_score(&self) -> bool {
        self.num_pods_affecting_affinity_score > 0
    }

    fn recompute_hostname_unique(&mut self) {
        let mut seen = std::collections::HashSet::with_capacity(self.node_infos.len());
        self.hostname_unique = self
            .node_infos
            .iter()
            .filter_map(|n| n.labels().get(crate::plugins::LABEL_HOSTNAME))
            .all(|h| seen.insert(h.as_str()));
    }

    /// Whether hostname labels are unique across nodes.
    pub fn hostname_unique(&self) -> bool {
        self.hostname_unique
    }

    /// Replaces node `i` with a fresh copy, keeping the counters and lists right.
    pub(crate) fn replace(&mut self, i: usize, fresh: &NodeInfo) {
        let old = &self.node_infos[i];
        let update = |list: &mut Vec<usize>, had: bool, has: bool| {
            if has && !had {
                list.push(i);
            } else if had && !has {
                if let Some(p) = list.iter().position(|&x| x == i) {
                    list.swap_remove(p);
                }
            }
        };
        update(
            &mut self.have_pods_with_affinity,
            !old.pods_with_affinity.is_empty(),
            !fresh.pods_with_affinity.is_empty(),
        );
        update(
            &mut self.have_pods_with_required_anti_affinity,
            !old.pods_with_required_anti_affinity.is_empty(),
            !fresh.pods_with_required_anti_affinity.is_empty(),
        );
        let hostname_changed = old.labels().get(crate::plugins::LABEL_HOSTNAME)
            != fresh.labels().get(crate::plugins::LABEL_HOSTNAME);
        let old = &mut self.node_infos[i];
        self.num_pods_affecting_affinity_score = self.num_pods_affecting_affinity_score
            + fresh.pods_affecting_affinity_score
            - old.pods_affecting_affinity_score;
        self.num_unschedulable = self.num_unschedulable + usize::from(fresh.unschedulable)
            - usize::from(old.unschedulable);
        self.num_hard_tainted = self.num_hard_tainted + usize::from(!fresh.hard_taints.is_empty())
            - usize::from(!old.hard_taints.is_empty());
        self.num_soft_tainted = self.num_soft_tainted + usize::from(!fresh.soft_taints.is_empty())
            - usize::from(!old.soft_taints.is_empty());
        old.clone_from(fresh);
        if hostname_changed {
            self.recompute_hostname_unique();
        }
    }

    /// Pending pods nominated to `node` (they will run there once their victims are gone).
    pub fn nominated_pods(&self, node: &str) -> &[Arc<PodInfo>] {
        if self.nominated.is_empty() {
            return &[];
        }
        self.nominated.get(node).map_or(&[], Vec::as_slice)
    }

    /// Whether any node is cordoned.
    pub fn has_unschedulable_nodes(&self) -> bool {
        self.num_unschedulable > 0
    }

    /// Whether any node has a `PreferNoSchedule` taint.
    pub fn has_soft_tainted_nodes(&self) -> bool {
        self.num_soft_tainted > 0
    }

    /// Whether any node has a `NoSchedule` or `NoExecute` taint.
    pub fn has_hard_tainted_nodes(&self) -> bool {
        self.num_hard_tainted > 0
    }

    pub(crate) fn rebuild_images(&mut self) {
        self.image_num_nodes.clear();
        for n in &self.node_infos {
            for img in n.node.status.iter().flat_map(|s| s.images.iter().flatten()) {
                for name in img.names.iter().flatten() {
                    *self
                        .image_num_nodes
                        .entry(normalized_image_name(name))
                        .or_default() += 1;
                }
            }
        }
    }

    pub(crate) fn rebuild_affinity_lists(&mut self) {
        self.have_pods_with_affinity.clear();
        self.have_pods_with_required_anti_affinity.clear();
        for (i, n) in self.node_infos.iter().enumerate() {
            if !n.pods_with_affinity.is_empty() {
                self.have_pods_with_affinity.push(i);
            }
            if !n.pods_with_required_anti_affinity.is_empty() {
                self.have_pods_with_required_anti_affinity.push(i);
            }
        }
    }

    /// All nodes, in evaluation order.
    pub fn node_infos(&self) -> &[NodeInfo] {
        &self.node_infos
    }

    /// The number of nodes.
    pub fn num_nodes(&self) -> usize {
        self.node_infos.len()
    }

    /// A node by name.
    pub fn get(&self, name: &str) -> Option<&NodeInfo> {
        self.index.get(name).map(|&i| &self.node_infos[i])
    }

    /// The position of a node in [`node_infos`](Self::node_infos).
    pub fn position(&self, name: &str) -> Option<usize> {
        self.index.get(name).copied()
    }

    /// Nodes with at least one pod that has pod affinity or anti-affinity.
    pub fn nodes_with_affinity_pods(&self) -> impl Iterator<Item = &NodeInfo> {
        self.have_pods_with_affinity
            .iter()
            .map(|&i| &self.node_infos[i])
    }

    /// Nodes with at least one pod that has required anti-affinity.
    pub fn nodes_with_required_anti_affinity_pods(&self) -> impl Iterator<Item = &NodeInfo> {
        self.have_pods_with_required_anti_affinity
            .iter()
            .map(|&i| &self.node_infos[i])
    }

    /// On how many nodes an image (normalized name) is present.
    pub fn image_num_nodes(&self, image: &str) -> usize {
        self.image_num_nodes.get(image).copied().unwrap_or(0)
    }

    /// The non-node objects.
    pub fn objects(&self) -> &ClusterObjects {
        &self.objects
    }

    /// The labels of a namespace, if known.
    pub fn namespace_labels(&self, ns: &str) -> Option<&Labels> {
        if self.objects.namespace_labels.is_empty() {
            return None;
        }
        self.objects.namespace_labels.get(ns)
    }
}

/// `status.nominatedNodeName` of a pending pod.
pub fn nominated_node(pod: &Pod) -> Option<String> {
    pod.status
        .as_ref()
        .and_then(|s| s.nominated_node_name.clone())
        .filter(|n| !n.is_empty())
}

/// Normalizes an image name the way ImageLocality compares them: a missing tag means `:latest`.
pub fn normalized_image_name(name: &str) -> String {
    let colon = name.rfind(':').map_or(-1, |i| i as i64);
    let slash = name.rfind('/').map_or(-1, |i| i as i64);
    if colon <= slash {
        format!("{name}:latest")
    } else {
        name.to_string()
    }
}
