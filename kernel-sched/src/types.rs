//! The per-pod and per-node data the framework works on: [`PodInfo`] (a pod with everything
//! plugins need precomputed once) and [`NodeInfo`] (a node with the sum of what its pods use),
//! as upstream's `framework/types.go`.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, LazyLock};

use k8s_openapi::api::core::v1::{Node, Pod, PodAffinityTerm, Taint, WeightedPodAffinityTerm};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity as WireQuantity;
use k8s_openapi::jiff::Timestamp;
use kernel_core::labels::{Labels, Operator, Requirement, Selector};
use kernel_core::pod::{
    is_scalar_resource_name, pod_requests, PodResourcesOptions, ResourceList, RESOURCE_CPU,
    RESOURCE_EPHEMERAL_STORAGE, RESOURCE_MEMORY, RESOURCE_PODS,
};
use kernel_core::quantity::Quantity;
use kernel_core::scheduling::{is_do_not_schedule_taint, TAINT_EFFECT_PREFER_NO_SCHEDULE};

use crate::snapshot::normalized_image_name;

static EMPTY_LABELS: Labels = Labels::new();

/// The scheduler's scoring options: 100m CPU / 200Mi memory for containers that request none.
static NON_ZERO: LazyLock<PodResourcesOptions> = LazyLock::new(PodResourcesOptions::non_zero);

/// A vector of resource amounts, as upstream `framework.Resource`: CPU in millicores, memory
/// and ephemeral storage in bytes, pods as a count, scalar (extended) resources by name.
///
/// This is the scheduler's hot-path form; it is always built from kernel-core's exact
/// [`Quantity`] and [`pod_requests`], rounding once per resource as upstream `Resource.Add`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[repr(C)]
pub struct Resource {
    /// CPU in millicores.
    pub milli_cpu: i64,
    /// Memory in bytes.
    pub memory: i64,
    /// Ephemeral storage in bytes.
    pub ephemeral_storage: i64,
    /// Number of pods (only meaningful for allocatable).
    pub allowed_pod_number: i64,
    /// Scalar resources (extended resources, hugepages), sorted by name.
    pub scalar: Vec<(String, i64)>,
}

impl Resource {
    /// Builds a resource vector from a wire `ResourceList` (node allocatable). Unparseable
    /// quantities are skipped.
    pub fn from_list(list: &BTreeMap<String, WireQuantity>) -> Self {
        let mut r = Resource::default();
        for (name, q) in list {
            if let Ok(q) = Quantity::from_wire(q) {
                r.add_quantity(name, &q);
            }
        }
        r
    }

    /// Builds a resource vector from a parsed `ResourceList` (e.g. [`pod_requests`]).
    pub fn from_resource_list(list: &ResourceList) -> Self {
        let mut r = Resource::default();
        for (name, q) in list {
            r.add_quantity(name, q);
        }
        r
    }

    /// Adds one amount (upstream `Resource.Add` for one entry): CPU as `MilliValue()`, the
    /// rest as `Value()`; names that are neither standard nor scalar are ignored.
    pub fn add_quantity(&mut self, name: &str, q: &Quantity) {
        match name {
            RESOURCE_CPU => self.milli_cpu += q.milli_value(),
            RESOURCE_MEMORY => self.memory += q.value(),
            RESOURCE_EPHEMERAL_STORAGE => self.ephemeral_storage += q.value(),
            RESOURCE_PODS => self.allowed_pod_number += q.value(),
            _ if is_scalar_resource_name(name) => {
                let cur = self.scalar(name);
                self.set_scalar(name, cur + q.value());
            }
            _ => {}
        }
    }

    /// The amount of a scalar resource (0 when absent).
    pub fn scalar(&self, name: &str) -> i64 {
        self.scalar
            .iter()
            .find(|(n, _)| n == name)
            .map_or(0, |(_, v)| *v)
    }

    /// Sets a scalar resource.
    pub fn set_scalar(&mut self, name: &str, value: i64) {
        match self.scalar.binary_search_by(|(n, _)| n.as_str().cmp(name)) {
            Ok(i) => self.scalar[i].1 = value,
            Err(i) => self.scalar.insert(i, (name.to_string(), value)),
        }
    }

    /// Adds `other` to `self`.
    pub fn add(&mut self, other: &Resource) {
        self.milli_cpu += other.milli_cpu;
        self.memory += other.memory;
        self.ephemeral_storage += other.ephemeral_storage;
        self.allowed_pod_number += other.allowed_pod_number;
        for (n, v) in &other.scalar {
            let cur = self.scalar(n);
            self.set_scalar(n, cur + v);
        }
    }

    /// Subtracts `other` from `self`.
    pub fn sub(&mut self, other: &Resource) {
        self.milli_cpu -= other.milli_cpu;
        self.memory -= other.memory;
        self.ephemeral_storage -= other.ephemeral_storage;
        self.allowed_pod_number -= other.allowed_pod_number;
        for (n, v) in &other.scalar {
            let cur = self.scalar(n);
            self.set_scalar(n, cur - v);
        }
    }

    /// The amount of the named resource (`cpu` in millicores).
    pub fn get(&self, name: &str) -> i64 {
        match name {
            RESOURCE_CPU => self.milli_cpu,
            RESOURCE_MEMORY => self.memory,
            RESOURCE_EPHEMERAL_STORAGE => self.ephemeral_storage,
            RESOURCE_PODS => self.allowed_pod_number,
            _ => self.scalar(name),
        }
    }

    /// Whether every amount is zero.
    pub fn is_zero(&self) -> bool {
        self.milli_cpu == 0
            && self.memory == 0
            && self.ephemeral_storage == 0
            && self.scalar.iter().all(|(_, v)| *v == 0)
    }
}

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
    /// Compiles a term declared by `pod` (upstream `newAffinityTerm`); fails, as upstream
    /// `LabelSelectorAsSelector`, on an invalid label or namespace selector.
    pub fn new(pod: &Pod, term: &PodAffinityTerm) -> Result<Self, kernel_core::Error> {
        let pod_ns = pod.metadata.namespace.clone().unwrap_or_default();
        let pod_labels = pod.metadata.labels.as_ref().unwrap_or(&EMPTY_LABELS);
        // A nil label selector matches no pods.
        let mut selector = Selector::from_meta_opt(term.label_selector.as_ref())?;
        if term.label_selector.is_some() {
            for k in term.match_label_keys.iter().flatten() {
                if let Some(v) = pod_labels.get(k) {
                    selector.add(Requirement::new(k, Operator::In, vec![v.clone()])?);
                }
            }
            for k in term.mismatch_label_keys.iter().flatten() {
                if let Some(v) = pod_labels.get(k) {
                    selector.add(Requirement::new(k, Operator::NotIn, vec![v.clone()])?);
                }
            }
        }
        let mut namespaces: Vec<String> = term.namespaces.iter().flatten().cloned().collect();
        namespaces.sort();
        namespaces.dedup();
        if namespaces.is_empty() && term.namespace_selector.is_none() {
            namespaces.push(pod_ns);
        }
        Ok(AffinityTerm {
            namespaces,
            selector,
            topology_key: term.topology_key.clone(),
            namespace_selector: term
                .namespace_selector
                .as_ref()
                .map(Selector::from_meta)
                .transpose()?,
        })
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
    /// Why some of the pod's affinity terms could not be compiled (upstream
    /// `PodInfo.ParseError`, e.g. `requiredAffinityTerms: "Gt" is not a valid label selector
    /// operator`); the term lists that failed are left empty.
    pub parse_error: Option<String>,
}

/// Compiles one list of affinity terms; a term that does not compile drops the whole list and
/// records `<what>: <error>`, as upstream's `getAffinityTerms` / `getWeightedAffinityTerms`.
fn compile_terms<T, U>(
    errors: &mut Vec<String>,
    what: &str,
    compile: &impl Fn(&T) -> Result<U, kernel_core::Error>,
    terms: Option<&Vec<T>>,
) -> Vec<U> {
    let compiled: Result<Vec<U>, _> = terms.into_iter().flatten().map(compile).collect();
    compiled.unwrap_or_else(|e| {
        errors.push(format!("{what}: {e}"));
        Vec::new()
    })
}

impl PodInfo {
    /// Computes the pod info.
    pub fn new(pod: impl Into<Arc<Pod>>) -> Self {
        let pod: Arc<Pod> = pod.into();
        let spec = pod.spec.as_ref();
        let affinity = spec.and_then(|s| s.affinity.as_ref());
        let pa = affinity.and_then(|a| a.pod_affinity.as_ref());
        let paa = affinity.and_then(|a| a.pod_anti_affinity.as_ref());
        let mut errors: Vec<String> = Vec::new();
        let term = |t: &PodAffinityTerm| AffinityTerm::new(&pod, t);
        let required_affinity_terms = compile_terms(
            &mut errors,
            "requiredAffinityTerms",
            &term,
            pa.and_then(|a| {
                a.required_during_scheduling_ignored_during_execution
                    .as_ref()
            }),
        );
        let required_anti_affinity_terms = compile_terms(
            &mut errors,
            "requiredAntiAffinityTerms",
            &term,
            paa.and_then(|a| {
                a.required_during_scheduling_ignored_during_execution
                    .as_ref()
            }),
        );
        let weighted = |t: &WeightedPodAffinityTerm| {
            Ok(WeightedAffinityTerm {
                term: AffinityTerm::new(&pod, &t.pod_affinity_term)?,
                weight: i64::from(t.weight),
            })
        };
        let preferred_affinity_terms = compile_terms(
            &mut errors,
            "preferredAffinityTerms",
            &weighted,
            pa.and_then(|a| {
                a.preferred_during_scheduling_ignored_during_execution
                    .as_ref()
            }),
        );
        let preferred_anti_affinity_terms = compile_terms(
            &mut errors,
            "preferredAntiAffinityTerms",
            &weighted,
            paa.and_then(|a| {
                a.preferred_during_scheduling_ignored_during_execution
                    .as_ref()
            }),
        );
        // Upstream's aggregate: one error as is, several as `[a, b]`.
        let parse_error = match errors.len() {
            0 => None,
            1 => errors.pop(),
            _ => Some(format!("[{}]", errors.join(", "))),
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
            requests: Resource::from_resource_list(&pod_requests(
                &pod,
                &PodResourcesOptions::default(),
            )),
            non_zero_requests: Resource::from_resource_list(&pod_requests(&pod, &NON_ZERO)),
            required_affinity_terms,
            required_anti_affinity_terms,
            preferred_affinity_terms,
            preferred_anti_affinity_terms,
            parse_error,
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
            .filter(|t| is_do_not_schedule_taint(t) || t.effect == TAINT_EFFECT_PREFER_NO_SCHEDULE)
            .partition(|t| t.effect == TAINT_EFFECT_PREFER_NO_SCHEDULE);
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{node, pod};

    #[test]
    fn resource_vectors_come_from_exact_quantities() {
        // Requests are summed exactly, then rounded once (two 0.5m containers need 1m, not 2m).
        let p = pod("p")
            .request("cpu", "0.5m")
            .with_spec(|s| {
                let c = s.containers[0].clone();
                s.containers.push(c);
            })
            .obj();
        let pi = PodInfo::new(p);
        assert_eq!(pi.requests.milli_cpu, 1);
        // Scoring defaults fill in a missing memory request per container.
        assert_eq!(pi.non_zero_requests.memory, 2 * 200 * 1024 * 1024);
        // Allocatable above 2^53 is exact; prefixed native names are scalar, as upstream.
        let n = NodeInfo::new(
            node("n")
                .memory("9007199254740993")
                .resource("kubernetes.io/batch-cpu", "3")
                .resource("example.com/gpu", "2")
                .resource("bogus", "x")
                .obj(),
        );
        assert_eq!(n.allocatable.memory, 9_007_199_254_740_993);
        assert_eq!(n.allocatable.scalar("kubernetes.io/batch-cpu"), 3);
        assert_eq!(n.allocatable.scalar("example.com/gpu"), 2);
        assert_eq!(n.allocatable.get("bogus"), 0);
    }

    #[test]
    fn only_known_taint_effects_are_kept() {
        let n = NodeInfo::new(
            node("n")
                .taint("a", "", "NoSchedule")
                .taint("b", "", "NoExecute")
                .taint("c", "", "PreferNoSchedule")
                .taint("d", "", "Sometimes")
                .obj(),
        );
        let keys = |t: &[Taint]| t.iter().map(|t| t.key.clone()).collect::<Vec<_>>();
        assert_eq!(keys(&n.hard_taints), ["a", "b"]);
        assert_eq!(keys(&n.soft_taints), ["c"]);
    }

    #[test]
    fn parse_errors_aggregate_per_term_list() {
        use k8s_openapi::api::core::v1::{Affinity, PodAffinity, PodAntiAffinity};
        use k8s_openapi::apimachinery::pkg::apis::meta::v1::{
            LabelSelector, LabelSelectorRequirement,
        };
        let bad = |op: &str| PodAffinityTerm {
            label_selector: Some(LabelSelector {
                match_expressions: Some(vec![LabelSelectorRequirement {
                    key: "k".into(),
                    operator: op.into(),
                    values: None,
                }]),
                match_labels: None,
            }),
            topology_key: "kubernetes.io/hostname".into(),
            ..Default::default()
        };
        let p = pod("p")
            .affinity(Affinity {
                pod_affinity: Some(PodAffinity {
                    required_during_scheduling_ignored_during_execution: Some(vec![bad("Gt")]),
                    ..Default::default()
                }),
                pod_anti_affinity: Some(PodAntiAffinity {
                    required_during_scheduling_ignored_during_execution: Some(vec![bad("Exists")]),
                    preferred_during_scheduling_ignored_during_execution: Some(vec![
                        WeightedPodAffinityTerm {
                            weight: 1,
                            pod_affinity_term: bad("Lt"),
                        },
                    ]),
                }),
                ..Default::default()
            })
            .obj();
        let pi = PodInfo::new(p);
        assert_eq!(
            pi.parse_error.as_deref(),
            Some("[requiredAffinityTerms: \"Gt\" is not a valid label selector operator, preferredAntiAffinityTerms: \"Lt\" is not a valid label selector operator]")
        );
        assert!(pi.required_affinity_terms.is_empty());
        assert_eq!(pi.required_anti_affinity_terms.len(), 1);
        assert!(pi.preferred_anti_affinity_terms.is_empty());
        assert!(PodInfo::new(pod("q").obj()).parse_error.is_none());
    }
}
