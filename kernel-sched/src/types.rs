//! The per-pod and per-node data the framework works on: [`PodInfo`] (a pod with everything
//! plugins need precomputed once) and [`NodeInfo`] (a node with the sum of what its pods use),
//! as upstream's `framework/types.go`.

use std::collections::HashMap;
use std::sync::Arc;

use k8s_openapi::api::core::v1::{Node, Pod, PodAffinityTerm, Taint, WeightedPodAffinityTerm};
use k8s_openapi::jiff::Timestamp;

use crate::labels::{Labels, Selector};
use crate::resources::{pod_requests, Resource};
use crate::snapshot::normalized_image_name;

static EMPTY_LABELS: Labels = Labels::new();

/// A compiled pod (anti-)affinity term, as upstream `framework.AffinityTerm`.
#[derive(Clone, Debug)]
pub struct AffinityTerm {
    /// Namespaces the term applies to (explicit list, or the pod's own namespace); usually
    /// one or two, so a vector beats a hash set.
    pub namespaces: Vec<String>,
    /// Label selector over pods (with `matchLabelKeys`/`mismatchLabelKeys` merged in).
    pub selector: Selector,
    /// The topology key (`kubernetes.io/hostname`, `topology.kubernetes.io/zone`, ...).
    pub topology_key: String,
    /// Namespace selector: `None` selects no namespace; an empty selector all of them.
    pub namespace_selector: Option<Selector>,
}

impl AffinityTerm {
    /// Compiles a term declared by `pod`.
    pub fn new(pod: &Pod, term: &PodAffinityTerm) -> Self {
        let pod_ns = pod.metadata.namespace.clone().unwrap_or_default();
        let pod_labels = pod.metadata.labels.as_ref().unwrap_or(&EMPTY_LABELS);
        let mut selector = match &term.label_selector {
            Some(s) => Selector::from_label_selector(s),
            // A nil label selector matches no pods.
            None => {
                let mut s = Selector::everything();
                s.add_equals("\u{0}never", "\u{0}");
                s
            }
        };
        if term.label_selector.is_some() {
            for k in term.match_label_keys.iter().flatten() {
                if let Some(v) = pod_labels.get(k) {
                    selector.add_equals(k, v);
                }
            }
            for k in term.mismatch_label_keys.iter().flatten() {
                if let Some(v) = pod_labels.get(k) {
                    selector.add_not_equals(k, v);
                }
            }
        }
        let mut namespaces: Vec<String> = term.namespaces.iter().flatten().cloned().collect();
        namespaces.sort();
        namespaces.dedup();
        if namespaces.is_empty() && term.namespace_selector.is_none() {
            namespaces.push(pod_ns);
        }
        AffinityTerm {
            namespaces,
            selector,
            topology_key: term.topology_key.clone(),
            namespace_selector: term
                .namespace_selector
                .as_ref()
                .map(Selector::from_label_selector),
        }
    }

    /// Whether the term selects `pod` (namespace and labels). `ns_labels` are the labels of the
    /// pod's namespace (used only by namespace selectors).
    pub fn matches(&self, pod: &PodInfo, ns_labels: Option<&Labels>) -> bool {
        let ns_ok = self.namespaces.contains(&pod.namespace)
            || self
                .namespace_selector
                .as_ref()
                .is_some_and(|s| s.is_empty() || ns_labels.is_some_and(|l| s.matches(l)));
        ns_ok && self.selector.matches(pod.labels())
    }

    /// Like [`matches`](Self::matches), looking the namespace labels up in the snapshot only
    /// when a namespace selector needs them.
    #[inline]
    pub fn matches_in(&self, pod: &PodInfo, snapshot: &crate::Snapshot) -> bool {
        self.matches_lazy(pod, || snapshot.namespace_labels(&pod.namespace))
    }

    /// Like [`matches`](Self::matches), calling `ns_labels` only when a namespace selector
    /// needs the pod's namespace labels.
    #[inline]
    pub fn matches_lazy<L: std::ops::Deref<Target = Labels>>(
        &self,
        pod: &PodInfo,
        ns_labels: impl FnOnce() -> Option<L>,
    ) -> bool {
        if self.namespaces.contains(&pod.namespace) {
            return self.selector.matches(pod.labels());
        }
        match &self.namespace_selector {
            None => false,
            Some(s) if s.is_empty() => self.selector.matches(pod.labels()),
            Some(_) => self.matches(pod, ns_labels().as_deref()),
        }
    }
}

/// A weighted affinity term (preferred affinity / anti-affinity).
#[derive(Clone, Debug)]
pub struct WeightedAffinityTerm {
    /// The term.
    pub term: AffinityTerm,
    /// Its weight (1..100).
    pub weight: i64,
}

/// A host port a pod uses: `(hostIP, protocol, port)`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct HostPort {
    /// Host IP; `0.0.0.0` for "all addresses".
    pub ip: String,
    /// `TCP`, `UDP` or `SCTP`.
    pub protocol: String,
    /// The port.
    pub port: i32,
}

impl HostPort {
    /// Whether two host ports conflict: same protocol and port, and the IPs overlap
    /// (equal, or either is `0.0.0.0`).
    pub fn conflicts(&self, other: &HostPort) -> bool {
        self.port == other.port
            && self.protocol == other.protocol
            && (self.ip == other.ip || self.ip == "0.0.0.0" || other.ip == "0.0.0.0")
    }
}

/// A pod plus everything plugins derive from it, computed once (upstream `framework.PodInfo`).
#[derive(Clone, Debug)]
pub struct PodInfo {
    /// The pod.
    pub pod: Arc<Pod>,
    /// Namespace.
    pub namespace: String,
    /// Name.
    pub name: String,
    /// UID (empty if unset).
    pub uid: String,
    /// `spec.priority` (0 when unset).
    pub priority: i32,
    /// Effective requests.
    pub requests: Resource,
    /// Requests with the scoring defaults for containers that request nothing.
    pub non_zero_requests: Resource,
    /// Required pod affinity terms.
    pub required_affinity_terms: Vec<AffinityTerm>,
    /// Required pod anti-affinity terms.
    pub required_anti_affinity_terms: Vec<AffinityTerm>,
    /// Preferred pod affinity terms.
    pub preferred_affinity_terms: Vec<WeightedAffinityTerm>,
    /// Preferred pod anti-affinity terms.
    pub preferred_anti_affinity_terms: Vec<WeightedAffinityTerm>,
    /// Host ports requested by the containers.
    pub host_ports: Vec<HostPort>,
    /// Whether some required anti-affinity term uses a topology key other than
    /// `kubernetes.io/hostname`.
    pub has_non_hostname_anti_affinity: bool,
    /// Start time (or creation time), for preemption tie-breaks.
    pub start_time: Option<Timestamp>,
}

impl PodInfo {
    /// Computes the pod info.
    pub fn new(pod: impl Into<Arc<Pod>>) -> Self {
        let pod: Arc<Pod> = pod.into();
        let spec = pod.spec.as_ref();
        let affinity = spec.and_then(|s| s.affinity.as_ref());
        let pa = affinity.and_then(|a| a.pod_affinity.as_ref());
        let paa = affinity.and_then(|a| a.pod_anti_affinity.as_ref());
        let req = |terms: Option<&Vec<PodAffinityTerm>>| -> Vec<AffinityTerm> {
            terms
                .into_iter()
                .flatten()
                .map(|t| AffinityTerm::new(&pod, t))
                .collect()
        };
        let pref = |terms: Option<&Vec<WeightedPodAffinityTerm>>| -> Vec<WeightedAffinityTerm> {
            terms
                .into_iter()
                .flatten()
                .map(|t| WeightedAffinityTerm {
                    term: AffinityTerm::new(&pod, &t.pod_affinity_term),
                    weight: i64::from(t.weight),
                })
                .collect()
        };
        let mut host_ports = Vec::new();
        for c in spec.into_iter().flat_map(|s| s.containers.iter()) {
            for p in c.ports.iter().flatten() {
                if let Some(hp) = p.host_port.filter(|p| *p > 0) {
                    host_ports.push(HostPort {
                        ip: p
                            .host_ip
                            .clone()
                            .filter(|s| !s.is_empty())
                            .unwrap_or_else(|| "0.0.0.0".into()),
                        protocol: p.protocol.clone().unwrap_or_else(|| "TCP".into()),
                        port: hp,
                    });
                }
            }
        }
        PodInfo {
            namespace: pod.metadata.namespace.clone().unwrap_or_default(),
            name: pod.metadata.name.clone().unwrap_or_default(),
            uid: pod.metadata.uid.clone().unwrap_or_default(),
            priority: spec.and_then(|s| s.priority).unwrap_or(0),
            requests: pod_requests(&pod, false),
            non_zero_requests: pod_requests(&pod, true),
            required_affinity_terms: req(pa.and_then(|a| {
                a.required_during_scheduling_ignored_during_execution
                    .as_ref()
            })),
            required_anti_affinity_terms: req(paa.and_then(|a| {
                a.required_during_scheduling_ignored_during_execution
                    .as_ref()
            })),
            preferred_affinity_terms: pref(pa.and_then(|a| {
                a.preferred_during_scheduling_ignored_during_execution
                    .as_ref()
            })),
            preferred_anti_affinity_terms: pref(paa.and_then(|a| {
                a.preferred_during_scheduling_ignored_during_execution
                    .as_ref()
            })),
            has_non_hostname_anti_affinity: false,
            host_ports,
            start_time: pod
                .status
                .as_ref()
                .and_then(|s| s.start_time.as_ref())
                .or(pod.metadata.creation_timestamp.as_ref())
                .map(|t| t.0),
            pod,
        }
        .finish()
    }

    /// The pod's labels.
    pub fn labels(&self) -> &Labels {
        self.pod.metadata.labels.as_ref().unwrap_or(&EMPTY_LABELS)
    }

    fn finish(mut self) -> Self {
        self.has_non_hostname_anti_affinity = self
            .required_anti_affinity_terms
            .iter()
            .any(|t| t.topology_key != crate::plugins::LABEL_HOSTNAME);
        self
    }

    /// `namespace/name`.
    pub fn key(&self) -> String {
        format!("{}/{}", self.namespace, self.name)
    }

    /// Whether this pod, once placed, can change other pods' InterPodAffinity scores.
    pub fn affects_affinity_score(&self) -> bool {
        !(self.required_affinity_terms.is_empty()
            && self.preferred_affinity_terms.is_empty()
            && self.preferred_anti_affinity_terms.is_empty())
    }

    /// Whether the pod declares any pod affinity or anti-affinity.
    pub fn has_affinity(&self) -> bool {
        !(self.required_affinity_terms.is_empty()
            && self.required_anti_affinity_terms.is_empty()
            && self.preferred_affinity_terms.is_empty()
            && self.preferred_anti_affinity_terms.is_empty())
    }

    /// Whether this is the same pod as `other` (UID, or namespace/name when UIDs are unset).
    pub fn same_pod(&self, other: &PodInfo) -> bool {
        if !self.uid.is_empty() || !other.uid.is_empty() {
            self.uid == other.uid
        } else {
            self.namespace == other.namespace && self.name == other.name
        }
    }
}

/// A node plus the aggregate of the pods on it (upstream `framework.NodeInfo`).
///
/// Fields read by every Filter call come first (`repr(C)`), so a filter pass over many
/// nodes touches as few cache lines as possible.
#[derive(Debug)]
#[repr(C)]
pub struct NodeInfo {
    /// Pods on the node (bound or assumed).
    pub pods: Vec<Arc<PodInfo>>,
    /// Allocatable resources (status.allocatable, falling back to capacity).
    pub allocatable: Resource,
    /// Sum of the pods' requests.
    pub requested: Resource,
    /// Sum of the pods' requests with scoring defaults.
    pub non_zero_requested: Resource,
    /// Taints with effect `NoSchedule` or `NoExecute`.
    pub hard_taints: Vec<Taint>,
    /// Taints with effect `PreferNoSchedule`.
    pub soft_taints: Vec<Taint>,
    /// `spec.unschedulable`.
    pub unschedulable: bool,
    /// Node name.
    pub name: String,
    /// The node object.
    pub node: Arc<Node>,
    /// The subset of `pods` with any pod affinity or anti-affinity.
    pub pods_with_affinity: Vec<Arc<PodInfo>>,
    /// The subset of `pods` with required anti-affinity.
    pub pods_with_required_anti_affinity: Vec<Arc<PodInfo>>,
    /// How many of those have a term keyed on something other than the hostname.
    pub pods_with_non_hostname_anti_affinity: usize,
    /// Pods whose terms can change another pod's InterPodAffinity score (required or
    /// preferred affinity, preferred anti-affinity).
    pub pods_affecting_affinity_score: usize,
    /// Host ports in use.
    pub used_ports: Vec<HostPort>,
    /// Images on the node: normalized name → size in bytes.
    pub images: Arc<HashMap<String, i64>>,
    /// Changes whenever the node or its pods change (set by the [`Cache`](crate::Cache)).
    pub generation: u64,
}

impl Clone for NodeInfo {
    fn clone(&self) -> Self {
        NodeInfo {
            allocatable: self.allocatable.clone(),
            requested: self.requested.clone(),
            pods: self.pods.clone(),
            hard_taints: self.hard_taints.clone(),
            soft_taints: self.soft_taints.clone(),
            unschedulable: self.unschedulable,
            non_zero_requested: self.non_zero_requested.clone(),
            name: self.name.clone(),
            node: self.node.clone(),
            pods_with_affinity: self.pods_with_affinity.clone(),
            pods_with_required_anti_affinity: self.pods_with_required_anti_affinity.clone(),
            pods_with_non_hostname_anti_affinity: self.pods_with_non_hostname_anti_affinity,
            pods_affecting_affinity_score: self.pods_affecting_affinity_score,
            used_ports: self.used_ports.clone(),
            images: self.images.clone(),
            generation: self.generation,
        }
    }

    /// Copies field by field, reusing this value's allocations (the snapshot refresh path).
    fn clone_from(&mut self, src: &Self) {
        self.allocatable.clone_from(&src.allocatable);
        self.requested.clone_from(&src.requested);
        self.pods.clone_from(&src.pods);
        self.hard_taints.clone_from(&src.hard_taints);
        self.soft_taints.clone_from(&src.soft_taints);
        self.unschedulable = src.unschedulable;
        self.non_zero_requested.clone_from(&src.non_zero_requested);
        self.name.clone_from(&src.name);
        self.node.clone_from(&src.node);
        self.pods_with_affinity.clone_from(&src.pods_with_affinity);
        self.pods_with_required_anti_affinity
            .clone_from(&src.pods_with_required_anti_affinity);
        self.pods_with_non_hostname_anti_affinity = src.pods_with_non_hostname_anti_affinity;
        self.pods_affecting_affinity_score = src.pods_affecting_affinity_score;
        self.used_ports.clone_from(&src.used_ports);
        self.images.clone_from(&src.images);
        self.generation = src.generation;
    }
}

impl NodeInfo {
    /// A node info for `node` without pods.
    pub fn new(node: impl Into<Arc<Node>>) -> Self {
        let node: Arc<Node> = node.into();
        let status = node.status.as_ref();
        let allocatable = status
            .and_then(|s| s.allocatable.as_ref().or(s.capacity.as_ref()))
            .map(Resource::from_list)
            .unwrap_or_default();
        let taints = node
            .spec
            .as_ref()
            .and_then(|s| s.taints.clone())
            .unwrap_or_default();
        let (soft_taints, hard_taints): (Vec<_>, Vec<_>) = taints
            .into_iter()
            .partition(|t| t.effect == "PreferNoSchedule");
        let mut images = HashMap::new();
        for img in status.iter().flat_map(|s| s.images.iter().flatten()) {
            for name in img.names.iter().flatten() {
                images.insert(normalized_image_name(name), img.size_bytes.unwrap_or(0));
            }
        }
        let unschedulable = node
            .spec
            .as_ref()
            .and_then(|s| s.unschedulable)
            .unwrap_or(false);
        NodeInfo {
            name: node.metadata.name.clone().unwrap_or_default(),
            node,
            pods: Vec::new(),
            pods_with_affinity: Vec::new(),
            pods_with_required_anti_affinity: Vec::new(),
            pods_with_non_hostname_anti_affinity: 0,
            pods_affecting_affinity_score: 0,
            used_ports: Vec::new(),
            requested: Resource::default(),
            non_zero_requested: Resource::default(),
            allocatable,
            unschedulable,
            hard_taints,
            soft_taints,
            images: Arc::new(images),
            generation: 0,
        }
    }

    /// Replaces the node object, keeping the pods.
    pub fn set_node(&mut self, node: impl Into<Arc<Node>>) {
        let mut fresh = NodeInfo::new(node);
        std::mem::swap(&mut fresh.pods, &mut self.pods);
        std::mem::swap(&mut fresh.pods_with_affinity, &mut self.pods_with_affinity);
        std::mem::swap(
            &mut fresh.pods_with_required_anti_affinity,
            &mut self.pods_with_required_anti_affinity,
        );
        std::mem::swap(&mut fresh.used_ports, &mut self.used_ports);
        fresh.pods_with_non_hostname_anti_affinity = self.pods_with_non_hostname_anti_affinity;
        fresh.pods_affecting_affinity_score = self.pods_affecting_affinity_score;
        fresh.requested = std::mem::take(&mut self.requested);
        fresh.non_zero_requested = std::mem::take(&mut self.non_zero_requested);
        fresh.generation = self.generation;
        *self = fresh;
    }

    /// The size of an image (normalized name) if the node has it.
    pub fn image_size(&self, name: &str) -> Option<i64> {
        if self.images.is_empty() {
            return None;
        }
        self.images.get(name).copied()
    }

    /// The node's labels.
    pub fn labels(&self) -> &Labels {
        self.node.metadata.labels.as_ref().unwrap_or(&EMPTY_LABELS)
    }

    /// Adds a pod: its requests, ports and affinity bookkeeping.
    pub fn add_pod(&mut self, pod: Arc<PodInfo>) {
        self.requested.add(&pod.requests);
        self.non_zero_requested.milli_cpu += pod.non_zero_requests.milli_cpu;
        self.non_zero_requested.memory += pod.non_zero_requests.memory;
        self.used_ports.extend(pod.host_ports.iter().cloned());
        if pod.has_affinity() {
            self.pods_with_affinity.push(pod.clone());
        }
        if !pod.required_anti_affinity_terms.is_empty() {
            self.pods_with_required_anti_affinity.push(pod.clone());
        }
        if pod.has_non_hostname_anti_affinity {
            self.pods_with_non_hostname_anti_affinity += 1;
        }
        if pod.affects_affinity_score() {
            self.pods_affecting_affinity_score += 1;
        }
        self.pods.push(pod);
    }

    /// Removes a pod (matched by UID, or namespace/name); returns it if it was there.
    pub fn remove_pod(&mut self, pod: &PodInfo) -> Option<Arc<PodInfo>> {
        let i = self.pods.iter().position(|p| p.same_pod(pod))?;
        let removed = self.pods.swap_remove(i);
        if removed.has_non_hostname_anti_affinity {
            self.pods_with_non_hostname_anti_affinity -= 1;
        }
        if removed.affects_affinity_score() {
            self.pods_affecting_affinity_score -= 1;
        }
        self.pods_with_affinity.retain(|p| !p.same_pod(pod));
        self.pods_with_required_anti_affinity
            .retain(|p| !p.same_pod(pod));
        self.requested.sub(&removed.requests);
        self.non_zero_requested.milli_cpu -= removed.non_zero_requests.milli_cpu;
        self.non_zero_requested.memory -= removed.non_zero_requests.memory;
        for hp in &removed.host_ports {
            if let Some(j) = self.used_ports.iter().position(|u| u == hp) {
                self.used_ports.swap_remove(j);
            }
        }
        Some(removed)
    }
}
