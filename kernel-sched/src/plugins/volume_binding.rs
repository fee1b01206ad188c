//! VolumeBinding: every PVC the pod uses must exist; a bound PVC's volume must be reachable
//! from the node (PV node affinity); an unbound PVC whose class binds `WaitForFirstConsumer`
//! needs either a matching available PV reachable from the node or a class that provisions
//! dynamically (with `allowedTopologies` admitting the node). Claims with `Immediate` binding
//! must already be bound.
//!
//! Beyond filtering, the plugin binds delayed claims the way upstream's does:
//!
//! - **Filter** records, per feasible node, which PV each unbound claim would get (the smallest
//!   available PV that fits, a PV pre-bound to the claim first; upstream `FindMatchingVolume`)
//!   or that it would be provisioned. (Only pods with unbound claims pay for that record.)
//! - **Reserve** takes the choice for the chosen node and *assumes* the PVs in plugin-owned
//!   state shared by every cycle of the profile, so the next cycle cannot hand the same PV to
//!   another claim before the API writes land. **Unreserve** drops the assumptions.
//! - **PreBind** writes through the `kube::Client`. This project has no PV controller yet, so
//!   for a static PV it does the scheduler's part *and* the PV controller's (`bind`): the PV's
//!   `claimRef` and `Bound` phase, then the claim's `volumeName`, `bind-completed` and
//!   `bound-by-controller` annotations and its `Bound` status with the PV's access modes and
//!   capacity. Every write carries the resourceVersion the decision was based on, so a
//!   concurrent change fails PreBind and the pod is unreserved and retried. For a claim to be
//!   provisioned it sets `volume.kubernetes.io/selected-node` (and, standing in for the PV
//!   controller, the storage-provisioner annotations) and waits up to `bindTimeoutSeconds`
//!   (args; default 600) for an external provisioner to bind the claim.
//! - An assumption is dropped by Unreserve, or once the informer snapshot shows the claim
//!   bound (or the PV or claim gone), as upstream's assume cache gives way to newer objects.
//!
//! Not modelled: CSI storage capacity, volume-limit checks, the assumed-PVC cache beyond
//! "a claim being bound by a pod in flight counts as bound to its assumed PV", and scoring.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use futures::future::BoxFuture;
use k8s_openapi::api::core::v1::{
    NodeSelector as V1NodeSelector, NodeSelectorRequirement, NodeSelectorTerm, ObjectReference,
    PersistentVolume, PersistentVolumeClaim, PersistentVolumeClaimStatus, PersistentVolumeStatus,
};
use k8s_openapi::api::storage::v1::StorageClass;
use kernel_core::labels::{NodeSelector, Selector};
use kernel_core::pod::RESOURCE_STORAGE;
use kernel_core::quantity::Quantity;
use kube::api::{Api, PostParams};
use serde::Deserialize;
use tracing::{debug, info, warn};

use crate::framework::{
    CycleState, FilterPlugin, Plugin, PreBindPlugin, PreFilterPlugin, PreFilterResult,
    ReservePlugin, Status,
};
use crate::snapshot::{ClusterObjects, Snapshot};
use crate::types::{NodeInfo, PodInfo};
use crate::Error;

/// The plugin name.
pub const NAME: &str = "VolumeBinding";
/// Upstream reason: a bound volume's node affinity excludes the node.
pub const ERR_REASON_NODE_CONFLICT: &str = "node(s) had volume node affinity conflict";
/// Upstream reason: no PV can be bound on the node.
pub const ERR_REASON_BIND_CONFLICT: &str =
    "node(s) didn't find available persistent volumes to bind";
/// Upstream reason: an `Immediate` claim is still unbound.
pub const ERR_REASON_UNBOUND_IMMEDIATE: &str = "pod has unbound immediate PersistentVolumeClaims";
/// Upstream's default `bindTimeoutSeconds`.
pub const DEFAULT_BIND_TIMEOUT: Duration = Duration::from_secs(600);
/// The node chosen for a claim to be provisioned (set by PreBind).
pub const ANN_SELECTED_NODE: &str = "volume.kubernetes.io/selected-node";
/// The provisioner expected to provision a claim.
pub const ANN_STORAGE_PROVISIONER: &str = "volume.kubernetes.io/storage-provisioner";
/// The legacy (beta) form of [`ANN_STORAGE_PROVISIONER`].
pub const ANN_BETA_STORAGE_PROVISIONER: &str = "volume.beta.kubernetes.io/storage-provisioner";
/// Set on a claim once its binding is complete.
pub const ANN_BIND_COMPLETED: &str = "pv.kubernetes.io/bind-completed";
/// Set on a claim (or PV) whose binding was made by the controller rather than the user.
pub const ANN_BOUND_BY_CONTROLLER: &str = "pv.kubernetes.io/bound-by-controller";
/// The provisioner of classes that never provision.
const NO_PROVISIONER: &str = "kubernetes.io/no-provisioner";
/// How often PreBind looks at a claim waiting to be provisioned.
const PROVISION_POLL: Duration = Duration::from_millis(250);

/// `VolumeBindingArgs` (`kubescheduler.config.k8s.io/v1`); only `bindTimeoutSeconds` is read.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VolumeBindingArgs {
    /// How long PreBind waits for a provisioned claim to be bound (default 600).
    pub bind_timeout_seconds: Option<i64>,
}

/// PVs assumed bound by Reserve: PV name → claim `namespace/name`.
type Assumed = HashMap<String, String>;

/// Checks PVC/PV availability and binds delayed claims (see the module docs).
#[derive(Clone)]
pub struct VolumeBinding {
    client: Option<kube::Client>,
    bind_timeout: Duration,
    assumed: Arc<Mutex<Assumed>>,
}

impl Default for VolumeBinding {
    fn default() -> Self {
        VolumeBinding {
            client: None,
            bind_timeout: DEFAULT_BIND_TIMEOUT,
            assumed: Arc::default(),
        }
    }
}

impl std::fmt::Debug for VolumeBinding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VolumeBinding")
            .field("client", &self.client.is_some())
            .field("bind_timeout", &self.bind_timeout)
            .field("assumed", &self.lock_assumed().len())
            .finish()
    }
}

impl VolumeBinding {
    /// Builds the plugin; without a client PreBind has nothing to write to and succeeds.
    pub fn new(args: VolumeBindingArgs, client: Option<kube::Client>) -> Result<Self, Error> {
        let bind_timeout = match args.bind_timeout_seconds {
            None => DEFAULT_BIND_TIMEOUT,
            Some(s) if s >= 0 => Duration::from_secs(s.unsigned_abs()),
            Some(s) => {
                return Err(Error::Config(format!(
                    "{NAME} args: bindTimeoutSeconds must be non-negative, got {s}"
                )))
            }
        };
        Ok(VolumeBinding {
            client,
            bind_timeout,
            assumed: Arc::default(),
        })
    }

    /// How long PreBind waits for provisioned claims.
    pub fn bind_timeout(&self) -> Duration {
        self.bind_timeout
    }

    /// The PVs currently assumed bound (PV name → claim `namespace/name`).
    pub fn assumed_volumes(&self) -> BTreeMap<String, String> {
        self.lock_assumed()
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }

    fn lock_assumed(&self) -> MutexGuard<'_, Assumed> {
        self.assumed.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Drops assumptions the snapshot has overtaken: the claim is bound, or the PV or the
    /// claim is gone, or the PV went to another claim.
    fn prune_assumed(&self, objs: &ClusterObjects) {
        let mut assumed = self.lock_assumed();
        if assumed.is_empty() {
            return;
        }
        assumed.retain(|pv_name, claim_key| {
            let Some(pv) = objs
                .pvs
                .iter()
                .find(|pv| pv.metadata.name.as_deref() == Some(pv_name.as_str()))
            else {
                return false;
            };
            let Some(pvc) = objs.pvcs.get(claim_key) else {
                return false;
            };
            let claim_bound = pvc
                .spec
                .as_ref()
                .and_then(|s| s.volume_name.as_deref())
                .is_some_and(|v| !v.is_empty());
            let elsewhere = pv
                .spec
                .as_ref()
                .and_then(|s| s.claim_ref.as_ref())
                .is_some_and(|r| !claim_ref_is(r, pvc));
            let keep = !claim_bound && !elsewhere;
            if !keep {
                debug!(pv = %pv_name, claim = %claim_key, "assumed volume caught up; dropped");
            }
            keep
        });
    }
}

impl Plugin for VolumeBinding {
    fn name(&self) -> &'static str {
        NAME
    }
    fn as_pre_filter(self: Arc<Self>) -> Option<Arc<dyn PreFilterPlugin>> {
        Some(self)
    }
    fn as_filter(self: Arc<Self>) -> Option<Arc<dyn FilterPlugin>> {
        Some(self)
    }
    fn as_reserve(self: Arc<Self>) -> Option<Arc<dyn ReservePlugin>> {
        Some(self)
    }
    fn as_pre_bind(self: Arc<Self>) -> Option<Arc<dyn PreBindPlugin>> {
        Some(self)
    }
}

// === PreFilter state ===

/// A PV that could be bound to an unbound claim.
#[derive(Clone, Debug)]
struct Candidate {
    /// Index into `ClusterObjects::pvs`.
    pv: usize,
    affinity: Option<NodeSelector>,
}

/// An unbound claim with delayed binding.
#[derive(Clone, Debug)]
struct UnboundClaim {
    /// `namespace/name`, the key into `ClusterObjects::pvcs`.
    key: String,
    /// Matching PVs, best first: pre-bound to this claim, then smallest, then by name.
    candidates: Vec<Candidate>,
    /// The class's provisioner, when it provisions dynamically.
    provisioner: Option<String>,
    /// The class's `allowedTopologies`, if any.
    allowed_topologies: Option<NodeSelector>,
}

/// What one unbound claim gets on one node (index-aligned with `State::unbound`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Choice {
    /// The PV at this index of `ClusterObjects::pvs`.
    Static(usize),
    /// Dynamic provisioning.
    Provision,
}

#[derive(Clone)]
struct State {
    objects: Arc<ClusterObjects>,
    /// Node affinities of the volumes of bound claims (`None` = any node).
    bound: Vec<Option<NodeSelector>>,
    /// Unbound delayed claims, smallest request first (as upstream).
    unbound: Vec<UnboundClaim>,
    /// Filter's decision per feasible node (shared by clones of the state, as upstream).
    by_node: Arc<Mutex<HashMap<String, Vec<Choice>>>>,
}

/// What Reserve decided, for PreBind and Unreserve.
#[derive(Clone, Debug, Default)]
struct Reserved {
    /// PV name → claim key of the static bindings this pod assumed.
    assumed: Vec<(String, String)>,
    bindings: Vec<Binding>,
}

#[derive(Clone, Debug)]
enum Binding {
    /// Bind the claim to the PV (both as seen when the decision was made).
    Static {
        pvc: Box<PersistentVolumeClaim>,
        pv: Box<PersistentVolume>,
    },
    /// Ask `provisioner` to provision the claim on the node.
    Provision {
        pvc: Box<PersistentVolumeClaim>,
        provisioner: String,
    },
}

fn pv_affinity(pv: &PersistentVolume) -> Option<NodeSelector> {
    pv.spec
        .as_ref()?
        .node_affinity
        .as_ref()?
        .required
        .as_ref()
        .map(NodeSelector::lazy)
}

fn storage_of(
    q: Option<&BTreeMap<String, k8s_openapi::apimachinery::pkg::api::resource::Quantity>>,
) -> i64 {
    q.and_then(|r| r.get(RESOURCE_STORAGE))
        .and_then(|q| Quantity::from_wire(q).ok())
        .map_or(0, |q| q.value())
}

fn storage_request(pvc: &PersistentVolumeClaim) -> i64 {
    storage_of(
        pvc.spec
            .as_ref()
            .and_then(|s| s.resources.as_ref())
            .and_then(|r| r.requests.as_ref()),
    )
}

fn pv_capacity(pv: &PersistentVolume) -> i64 {
    storage_of(pv.spec.as_ref().and_then(|s| s.capacity.as_ref()))
}

fn claim_ref_is(r: &ObjectReference, pvc: &PersistentVolumeClaim) -> bool {
    r.name.as_deref() == pvc.metadata.name.as_deref()
        && r.namespace.as_deref() == pvc.metadata.namespace.as_deref()
        && (r.uid.as_deref().unwrap_or("").is_empty()
            || r.uid.as_deref() == pvc.metadata.uid.as_deref())
}

/// Whether the PV's `claimRef` names this claim (a PV pre-bound to it).
fn pre_bound_to(pv: &PersistentVolume, pvc: &PersistentVolumeClaim) -> bool {
    pv.spec
        .as_ref()
        .and_then(|s| s.claim_ref.as_ref())
        .is_some_and(|r| claim_ref_is(r, pvc))
}

fn volume_mode(m: Option<&String>) -> &str {
    m.map_or("Filesystem", String::as_str)
}

/// Whether an available, unclaimed PV satisfies the claim (upstream `FindMatchingVolume`
/// without the node check, which Filter does).
fn pv_matches(pv: &PersistentVolume, pvc: &PersistentVolumeClaim, class: &str) -> bool {
    let Some(spec) = pv.spec.as_ref() else {
        return false;
    };
    let claim = pvc.spec.as_ref();
    if volume_mode(spec.volume_mode.as_ref())
        != volume_mode(claim.and_then(|c| c.volume_mode.as_ref()))
    {
        return false;
    }
    if pre_bound_to(pv, pvc) {
        return true;
    }
    if spec.claim_ref.is_some() || pv.metadata.deletion_timestamp.is_some() {
        return false;
    }
    if pv
        .status
        .as_ref()
        .and_then(|s| s.phase.as_deref())
        .is_some_and(|p| p != "Available")
    {
        return false;
    }
    if spec.storage_class_name.as_deref().unwrap_or("") != class {
        return false;
    }
    if let Some(sel) = claim.and_then(|c| c.selector.as_ref()) {
        let empty = BTreeMap::new();
        let labels = pv.metadata.labels.as_ref().unwrap_or(&empty);
        // An invalid claim selector matches no volume (upstream fails FindMatchingVolume).
        if !Selector::from_meta(sel).is_ok_and(|s| s.matches(labels)) {
            return false;
        }
    }
    if pv_capacity(pv) < storage_request(pvc) {
        return false;
    }
    let want = claim.and_then(|s| s.access_modes.as_deref()).unwrap_or(&[]);
    let have = spec.access_modes.as_deref().unwrap_or(&[]);
    want.iter().all(|m| have.contains(m))
}

fn allowed_topologies(class: &StorageClass) -> Option<NodeSelector> {
    let terms = class
        .allowed_topologies
        .as_ref()
        .filter(|t| !t.is_empty())?;
    let sel = V1NodeSelector {
        node_selector_terms: terms
            .iter()
            .map(|t| NodeSelectorTerm {
                match_expressions: Some(
                    t.match_label_expressions
                        .iter()
                        .flatten()
                        .map(|r| NodeSelectorRequirement {
                            key: r.key.clone(),
                            operator: "In".into(),
                            values: Some(r.values.clone()),
                        })
                        .collect(),
                ),
                match_fields: None,
            })
            .collect(),
    };
    Some(NodeSelector::lazy(&sel))
}

fn reachable(a: &Option<NodeSelector>, node: &NodeInfo) -> bool {
    a.as_ref()
        .is_none_or(|m| m.matches(&node.name, node.labels()))
}

/// The choice for every unbound claim on `node`, or `None` if some claim has neither a PV
/// nor provisioning there. A PV goes to at most one claim of the pod.
fn choose(s: &State, node: &NodeInfo) -> Option<Vec<Choice>> {
    let mut out: Vec<Choice> = Vec::with_capacity(s.unbound.len());
    for c in &s.unbound {
        let pv = c
            .candidates
            .iter()
            .find(|cand| reachable(&cand.affinity, node) && !out.contains(&Choice::Static(cand.pv)))
            .map(|cand| cand.pv);
        match pv {
            Some(pv) => out.push(Choice::Static(pv)),
            None if c.provisioner.is_some() && reachable(&c.allowed_topologies, node) => {
                out.push(Choice::Provision)
            }
            None => return None,
        }
    }
    Some(out)
}

// === impl VolumeBinding: scheduling cycle ===

impl PreFilterPlugin for VolumeBinding {
    fn pre_filter(
        &self,
        state: &mut CycleState,
        pod: &PodInfo,
        snapshot: &Snapshot,
    ) -> (Option<PreFilterResult>, Status) {
        let mut claim_names: Vec<&str> = pod
            .pod
            .spec
            .iter()
            .flat_map(|s| s.volumes.iter().flatten())
            .filter_map(|v| {
                v.persistent_volume_claim
                    .as_ref()
                    .map(|c| c.claim_name.as_str())
            })
            .collect();
        if claim_names.is_empty() {
            return (None, Status::skip());
        }
        claim_names.dedup();
        let objs = snapshot.objects.clone();
        self.prune_assumed(&objs);
        let assumed = self.lock_assumed().clone();
        let mut bound = Vec::new();
        let mut unbound: Vec<(i64, UnboundClaim)> = Vec::new();
        for name in claim_names {
            let key = format!("{}/{}", pod.namespace, name);
            if unbound.iter().any(|(_, c)| c.key == key) {
                continue;
            }
            let Some(pvc) = objs.pvcs.get(&key) else {
                return (
                    None,
                    Status::unresolvable(format!("persistentvolumeclaim \"{name}\" not found")),
                );
            };
            if pvc.metadata.deletion_timestamp.is_some() {
                return (
                    None,
                    Status::unresolvable(format!(
                        "persistentvolumeclaim \"{name}\" is being deleted"
                    )),
                );
            }
            let spec = pvc.spec.as_ref();
            // Bound, or being bound to an assumed PV by a pod in flight.
            let volume = spec
                .and_then(|s| s.volume_name.as_deref())
                .filter(|v| !v.is_empty())
                .or_else(|| {
                    assumed
                        .iter()
                        .find(|(_, claim)| **claim == key)
                        .map(|(pv, _)| pv.as_str())
                });
            if let Some(vol) = volume {
                match objs
                    .pvs
                    .iter()
                    .find(|pv| pv.metadata.name.as_deref() == Some(vol))
                {
                    Some(pv) => bound.push(pv_affinity(pv)),
                    None => {
                        return (
                            None,
                            Status::unresolvable(format!("persistentvolume \"{vol}\" not found")),
                        );
                    }
                }
                continue;
            }
            let class_name = spec
                .and_then(|s| s.storage_class_name.as_deref())
                .unwrap_or("");
            let Some(class) = objs
                .storage_classes
                .get(class_name)
                .filter(|c| c.volume_binding_mode.as_deref() == Some("WaitForFirstConsumer"))
            else {
                return (None, Status::unresolvable(ERR_REASON_UNBOUND_IMMEDIATE));
            };
            let provisioner = (!class.provisioner.is_empty()
                && class.provisioner != NO_PROVISIONER)
                .then(|| class.provisioner.clone());
            let mut candidates: Vec<(bool, i64, &str, Candidate)> = objs
                .pvs
                .iter()
                .enumerate()
                .filter(|(_, pv)| {
                    !pv.metadata
                        .name
                        .as_ref()
                        .is_some_and(|n| assumed.contains_key(n))
                        && pv_matches(pv, pvc, class_name)
                })
                .map(|(i, pv)| {
                    (
                        !pre_bound_to(pv, pvc),
                        pv_capacity(pv),
                        pv.metadata.name.as_deref().unwrap_or(""),
                        Candidate {
                            pv: i,
                            affinity: pv_affinity(pv),
                        },
                    )
                })
                .collect();
            candidates.sort_by(|a, b| (a.0, a.1, a.2).cmp(&(b.0, b.1, b.2)));
            unbound.push((
                storage_request(pvc),
                UnboundClaim {
                    key,
                    candidates: candidates.into_iter().map(|c| c.3).collect(),
                    provisioner,
                    allowed_topologies: allowed_topologies(class),
                },
            ));
        }
        // Smaller claims choose first (stable: pod order among equals).
        unbound.sort_by_key(|(request, _)| *request);
        state.write(State {
            objects: objs,
            bound,
            unbound: unbound.into_iter().map(|(_, c)| c).collect(),
            by_node: Arc::default(),
        });
        (None, Status::success())
    }
}

impl FilterPlugin for VolumeBinding {
    fn filter(&self, state: &CycleState, _: &PodInfo, node: &NodeInfo) -> Status {
        let Some(s) = state.read::<State>() else {
            return Status::success();
        };
        if s.bound.iter().any(|a| !reachable(a, node)) {
            return Status::unresolvable(ERR_REASON_NODE_CONFLICT);
        }
        if s.unbound.is_empty() {
            return Status::success();
        }
        match choose(s, node) {
            Some(choices) => {
                s.by_node
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .insert(node.name.clone(), choices);
                Status::success()
            }
            None => Status::unresolvable(ERR_REASON_BIND_CONFLICT),
        }
    }
}

impl ReservePlugin for VolumeBinding {
    fn reserve(&self, state: &mut CycleState, pod: &PodInfo, node: &str) -> Status {
        let Some(s) = state.read::<State>() else {
            return Status::success();
        };
        if s.unbound.is_empty() {
            return Status::success();
        }
        let choices = s
            .by_node
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(node)
            .cloned();
        let Some(choices) = choices else {
            return Status::error(format!(
                "no volume binding decision for pod {} on node {node:?}",
                pod.key()
            ));
        };
        let mut reserved = Reserved::default();
        let mut assumed = self.lock_assumed();
        for (claim, choice) in s.unbound.iter().zip(choices) {
            let Some(pvc) = s.objects.pvcs.get(&claim.key) else {
                // PreFilter found it in these very objects.
                release(&mut assumed, &reserved.assumed);
                return Status::error(format!("claim {} vanished from the snapshot", claim.key));
            };
            match choice {
                Choice::Static(i) => {
                    let pv = &s.objects.pvs[i];
                    let pv_name = pv.metadata.name.clone().unwrap_or_default();
                    if let Some(other) = assumed.get(&pv_name).filter(|c| **c != claim.key) {
                        let msg = format!(
                            "persistentvolume {pv_name:?} is already assumed for claim {other}"
                        );
                        release(&mut assumed, &reserved.assumed);
                        return Status::error(msg);
                    }
                    if assumed.insert(pv_name.clone(), claim.key.clone()).is_none() {
                        reserved.assumed.push((pv_name.clone(), claim.key.clone()));
                    }
                    debug!(pod = %pod.key(), claim = %claim.key, pv = %pv_name, node, "assumed volume");
                    reserved.bindings.push(Binding::Static {
                        pvc: Box::new(pvc.clone()),
                        pv: Box::new(pv.clone()),
                    });
                }
                Choice::Provision => {
                    debug!(pod = %pod.key(), claim = %claim.key, node, "claim to be provisioned");
                    reserved.bindings.push(Binding::Provision {
                        pvc: Box::new(pvc.clone()),
                        provisioner: claim.provisioner.clone().unwrap_or_default(),
                    });
                }
            }
        }
        drop(assumed);
        state.write(reserved);
        Status::success()
    }

    fn unreserve(&self, state: &mut CycleState, pod: &PodInfo, node: &str) {
        let Some(r) = state.read_mut::<Reserved>() else {
            return;
        };
        let taken = std::mem::take(&mut r.assumed);
        if taken.is_empty() {
            return;
        }
        release(&mut self.lock_assumed(), &taken);
        debug!(pod = %pod.key(), node, volumes = taken.len(), "volume assumptions reverted");
    }
}

/// Drops the assumptions in `taken` that still hold (PV name → claim key).
fn release(assumed: &mut Assumed, taken: &[(String, String)]) {
    for (pv, claim) in taken {
        if assumed.get(pv) == Some(claim) {
            assumed.remove(pv);
        }
    }
}

// === impl VolumeBinding: binding cycle ===

impl PreBindPlugin for VolumeBinding {
    fn pre_bind<'a>(
        &'a self,
        state: &'a CycleState,
        pod: &'a PodInfo,
        node: &'a str,
    ) -> BoxFuture<'a, Status> {
        // Most pods bind no volume: answer them without allocating the (large) binding future.
        let Some(r) = state.read::<Reserved>().filter(|r| !r.bindings.is_empty()) else {
            return Box::pin(std::future::ready(Status::success()));
        };
        Box::pin(async move {
            let Some(client) = self.client.clone() else {
                debug!(pod = %pod.key(), "no client: volume bindings left to the caller");
                return Status::success();
            };
            match self.bind_pod_volumes(client, &r.bindings, node).await {
                Ok(()) => Status::success(),
                Err(msg) => {
                    warn!(pod = %pod.key(), node, error = %msg, "binding volumes failed");
                    Status::error(msg)
                }
            }
        })
    }
}

fn claim_key(pvc: &PersistentVolumeClaim) -> String {
    format!(
        "{}/{}",
        pvc.metadata.namespace.as_deref().unwrap_or_default(),
        pvc.metadata.name.as_deref().unwrap_or_default()
    )
}

fn claim_is_bound(pvc: &PersistentVolumeClaim) -> bool {
    pvc.spec
        .as_ref()
        .and_then(|s| s.volume_name.as_deref())
        .is_some_and(|v| !v.is_empty())
        && pvc.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Bound")
}

impl VolumeBinding {
    /// Static bindings first, then the provisioning requests, then the wait for provisioners
    /// (upstream `BindPodVolumes`: `bindAPIUpdate`, then `checkBindings` until the timeout).
    async fn bind_pod_volumes(
        &self,
        client: kube::Client,
        bindings: &[Binding],
        node: &str,
    ) -> Result<(), String> {
        for b in bindings {
            if let Binding::Static { pvc, pv } = b {
                bind_static(&client, pvc, pv).await?;
            }
        }
        let mut waiting = Vec::new();
        for b in bindings {
            if let Binding::Provision { pvc, provisioner } = b {
                select_node(&client, pvc, provisioner, node).await?;
                waiting.push(pvc);
            }
        }
        if waiting.is_empty() {
            return Ok(());
        }
        let wait = async {
            for pvc in &waiting {
                wait_provisioned(&client, pvc, node).await?;
            }
            Ok(())
        };
        match tokio::time::timeout(self.bind_timeout, wait).await {
            Ok(r) => r,
            Err(_) => Err(format!(
                "binding volumes: timed out after {}s waiting for PersistentVolumeClaim(s) {} to be provisioned and bound",
                self.bind_timeout.as_secs(),
                waiting
                    .iter()
                    .map(|p| claim_key(p))
                    .collect::<Vec<_>>()
                    .join(", ")
            )),
        }
    }
}

/// Binds `pvc` to `pv` as the scheduler and then the PV controller would: PV `claimRef` and
/// phase, claim `volumeName` and annotations, claim status. Each write is conditional on the
/// resourceVersion the decision was based on (or that the previous write returned).
async fn bind_static(
    client: &kube::Client,
    pvc: &PersistentVolumeClaim,
    pv: &PersistentVolume,
) -> Result<(), String> {
    let key = claim_key(pvc);
    let pv_name = pv.metadata.name.clone().unwrap_or_default();
    let ns = pvc.metadata.namespace.clone().unwrap_or_default();
    let pvs: Api<PersistentVolume> = Api::all(client.clone());
    let pvcs: Api<PersistentVolumeClaim> = Api::namespaced(client.clone(), &ns);
    let pp = PostParams::default();
    let fail = |what: &str, e: kube::Error| {
        format!("binding volume {pv_name:?} to claim {key:?}: {what}: {e}")
    };

    // The PV points at the claim (scheduler `bindAPIUpdate`, controller `bindVolumeToClaim`).
    let mut new_pv = pv.clone();
    let spec = new_pv.spec.get_or_insert_with(Default::default);
    if spec.claim_ref.is_none() {
        new_pv
            .metadata
            .annotations
            .get_or_insert_with(Default::default)
            .insert(ANN_BOUND_BY_CONTROLLER.into(), "yes".into());
    }
    new_pv.spec.get_or_insert_with(Default::default).claim_ref = Some(ObjectReference {
        api_version: Some("v1".into()),
        kind: Some("PersistentVolumeClaim".into()),
        namespace: Some(ns.clone()),
        name: pvc.metadata.name.clone(),
        uid: pvc.metadata.uid.clone(),
        resource_version: pvc.metadata.resource_version.clone(),
        field_path: None,
    });
    let mut new_pv = pvs
        .replace(&pv_name, &pp, &new_pv)
        .await
        .map_err(|e| fail("updating the volume", e))?;
    new_pv.status = Some(PersistentVolumeStatus {
        phase: Some("Bound".into()),
        ..new_pv.status.unwrap_or_default()
    });
    let new_pv = pvs
        .replace_status(&pv_name, &pp, &new_pv)
        .await
        .map_err(|e| fail("updating the volume status", e))?;

    // The claim points at the PV (controller `bindClaimToVolume`, `updateClaimStatus`).
    let mut new_pvc = pvc.clone();
    new_pvc
        .spec
        .get_or_insert_with(Default::default)
        .volume_name = Some(pv_name.clone());
    let ann = new_pvc
        .metadata
        .annotations
        .get_or_insert_with(Default::default);
    ann.insert(ANN_BIND_COMPLETED.into(), "yes".into());
    ann.insert(ANN_BOUND_BY_CONTROLLER.into(), "yes".into());
    let mut new_pvc = pvcs
        .replace(
            pvc.metadata.name.as_deref().unwrap_or_default(),
            &pp,
            &new_pvc,
        )
        .await
        .map_err(|e| fail("updating the claim", e))?;
    let pv_spec = new_pv.spec.as_ref();
    new_pvc.status = Some(PersistentVolumeClaimStatus {
        phase: Some("Bound".into()),
        access_modes: pv_spec.and_then(|s| s.access_modes.clone()),
        capacity: pv_spec.and_then(|s| s.capacity.clone()),
        ..new_pvc.status.unwrap_or_default()
    });
    pvcs.replace_status(
        pvc.metadata.name.as_deref().unwrap_or_default(),
        &pp,
        &new_pvc,
    )
    .await
    .map_err(|e| fail("updating the claim status", e))?;
    info!(claim = %key, pv = %pv_name, "bound volume to claim");
    Ok(())
}

/// Asks the class's provisioner to provision `pvc` on `node` (upstream sets the
/// selected-node annotation; the PV controller adds the storage-provisioner annotations).
async fn select_node(
    client: &kube::Client,
    pvc: &PersistentVolumeClaim,
    provisioner: &str,
    node: &str,
) -> Result<(), String> {
    let key = claim_key(pvc);
    let pvcs: Api<PersistentVolumeClaim> = Api::namespaced(
        client.clone(),
        pvc.metadata.namespace.as_deref().unwrap_or_default(),
    );
    let mut new_pvc = pvc.clone();
    let ann = new_pvc
        .metadata
        .annotations
        .get_or_insert_with(Default::default);
    ann.insert(ANN_SELECTED_NODE.into(), node.into());
    ann.insert(ANN_STORAGE_PROVISIONER.into(), provisioner.into());
    ann.insert(ANN_BETA_STORAGE_PROVISIONER.into(), provisioner.into());
    pvcs.replace(
        pvc.metadata.name.as_deref().unwrap_or_default(),
        &PostParams::default(),
        &new_pvc,
    )
    .await
    .map_err(|e| format!("selecting node {node:?} for claim {key:?}: {e}"))?;
    info!(claim = %key, node, provisioner, "claim waits for provisioning");
    Ok(())
}

/// Polls until the provisioner has bound `pvc`; fails if the claim is deleted or its
/// selected-node annotation is reset (the provisioner asks for rescheduling that way).
async fn wait_provisioned(
    client: &kube::Client,
    pvc: &PersistentVolumeClaim,
    node: &str,
) -> Result<(), String> {
    let key = claim_key(pvc);
    let name = pvc.metadata.name.as_deref().unwrap_or_default();
    let pvcs: Api<PersistentVolumeClaim> = Api::namespaced(
        client.clone(),
        pvc.metadata.namespace.as_deref().unwrap_or_default(),
    );
    loop {
        match pvcs.get_opt(name).await {
            Ok(Some(c)) => {
                if claim_is_bound(&c) {
                    debug!(claim = %key, "provisioned claim bound");
                    return Ok(());
                }
                let selected = c
                    .metadata
                    .annotations
                    .as_ref()
                    .and_then(|a| a.get(ANN_SELECTED_NODE));
                if selected.map(String::as_str) != Some(node) {
                    return Err(format!("selectedNode annotation reset for PVC {key:?}"));
                }
            }
            Ok(None) => return Err(format!("PVC {key:?} was deleted while waiting to be bound")),
            Err(e) => debug!(claim = %key, error = %e, "reading claim; retrying"),
        }
        tokio::time::sleep(PROVISION_POLL).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::framework::{Framework, PluginEntry};
    use crate::snapshot::ClusterObjects;
    use crate::testing::{node, pod};
    use k8s_openapi::api::core::v1::{
        NodeSelector, NodeSelectorRequirement, NodeSelectorTerm, PersistentVolumeClaimSpec,
        PersistentVolumeClaimVolumeSource, PersistentVolumeSpec, TopologySelectorLabelRequirement,
        TopologySelectorTerm, Volume, VolumeNodeAffinity, VolumeResourceRequirements,
    };
    use k8s_openapi::api::storage::v1::StorageClass;
    use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

    /// A pod named `name` mounting claim `claim` as volume `data`.
    fn pod_with_claim(name: &str, claim: &str) -> k8s_openapi::api::core::v1::Pod {
        pod(name)
            .with_spec(|s| {
                s.volumes = Some(vec![Volume {
                    name: "data".into(),
                    persistent_volume_claim: Some(PersistentVolumeClaimVolumeSource {
                        claim_name: claim.into(),
                        read_only: None,
                    }),
                    ..Default::default()
                }])
            })
            .obj()
    }

    fn pvc(name: &str, class: &str, volume: Option<&str>) -> PersistentVolumeClaim {
        PersistentVolumeClaim {
            metadata: ObjectMeta {
                name: Some(name.into()),
                namespace: Some("default".into()),
                ..Default::default()
            },
            spec: Some(PersistentVolumeClaimSpec {
                storage_class_name: Some(class.into()),
                volume_name: volume.map(String::from),
                ..Default::default()
            }),
            status: None,
        }
    }

    fn pv(name: &str, class: &str, on_node: &str) -> PersistentVolume {
        PersistentVolume {
            metadata: ObjectMeta {
                name: Some(name.into()),
                ..Default::default()
            },
            spec: Some(PersistentVolumeSpec {
                storage_class_name: Some(class.into()),
                node_affinity: Some(VolumeNodeAffinity {
                    required: Some(NodeSelector {
                        node_selector_terms: vec![NodeSelectorTerm {
                            match_expressions: Some(vec![NodeSelectorRequirement {
                                key: crate::plugins::LABEL_HOSTNAME.into(),
                                operator: "In".into(),
                                values: Some(vec![on_node.into()]),
                            }]),
                            match_fields: None,
                        }],
                    }),
                }),
                ..Default::default()
            }),
            status: None,
        }
    }

    fn class(name: &str, mode: &str, provisioner: &str) -> StorageClass {
        StorageClass {
            metadata: ObjectMeta {
                name: Some(name.into()),
                ..Default::default()
            },
            provisioner: provisioner.into(),
            volume_binding_mode: Some(mode.into()),
            ..Default::default()
        }
    }

    fn run(objects: ClusterObjects, claim: &str) -> Vec<Status> {
        let fwk = Framework::new(
            "t",
            vec![PluginEntry {
                plugin: Arc::new(VolumeBinding::default()),
                weight: 0,
            }],
        );
        let p = pod_with_claim("p", claim);
        let snap =
            Snapshot::new(vec![node("a").obj(), node("b").obj()], vec![]).with_objects(objects);
        let pi = PodInfo::new(p);
        let mut st = CycleState::new();
        let (_, s) = fwk.run_pre_filter_plugins(&mut st, &pi, &snap);
        if !s.is_success() {
            return vec![s; 2];
        }
        snap.node_infos()
            .iter()
            .map(|n| fwk.run_filter_plugins(&st, &pi, n))
            .collect()
    }

    #[test]
    fn volume_binding_cases() {
        let mut objs = ClusterObjects::default();
        // Missing claim.
        let s = run(objs.clone(), "data");
        assert_eq!(
            s[0].reasons()[0],
            "persistentvolumeclaim \"data\" not found"
        );
        // Bound claim whose PV lives on node b.
        objs.pvcs
            .insert("default/data".into(), pvc("data", "local", Some("pv-b")));
        objs.pvs.push(pv("pv-b", "local", "b"));
        let s = run(objs.clone(), "data");
        assert_eq!(s[0].reasons()[0], ERR_REASON_NODE_CONFLICT);
        assert!(s[1].is_success());
        // Unbound claim, WaitForFirstConsumer, no provisioner: only nodes with a free PV fit.
        objs.pvcs
            .insert("default/data".into(), pvc("data", "local", None));
        objs.storage_classes.insert(
            "local".into(),
            class(
                "local",
                "WaitForFirstConsumer",
                "kubernetes.io/no-provisioner",
            ),
        );
        let s = run(objs.clone(), "data");
        assert_eq!(s[0].reasons()[0], ERR_REASON_BIND_CONFLICT);
        assert!(s[1].is_success());
        // Unbound Immediate claim: wait for the PV controller.
        objs.storage_classes.insert(
            "local".into(),
            class("local", "Immediate", "csi.example.com"),
        );
        assert_eq!(
            run(objs.clone(), "data")[0].reasons()[0],
            ERR_REASON_UNBOUND_IMMEDIATE
        );
        // Dynamic provisioning with WaitForFirstConsumer: any node.
        objs.storage_classes.insert(
            "local".into(),
            class("local", "WaitForFirstConsumer", "csi.example.com"),
        );
        objs.pvs.clear();
        assert!(run(objs, "data").iter().all(|s| s.is_success()));
    }

    fn sized_pvc(name: &str, request: &str) -> PersistentVolumeClaim {
        let mut c = pvc(name, "local", None);
        c.spec.as_mut().unwrap().resources = Some(VolumeResourceRequirements {
            requests: Some([("storage".to_string(), Quantity(request.into()))].into()),
            ..Default::default()
        });
        c
    }

    fn sized_pv(name: &str, on_node: &str, capacity: &str) -> PersistentVolume {
        let mut v = pv(name, "local", on_node);
        v.spec.as_mut().unwrap().capacity =
            Some([("storage".to_string(), Quantity(capacity.into()))].into());
        v
    }

    fn wffc_objects(pvs: Vec<PersistentVolume>, claims: &[(&str, &str)]) -> ClusterObjects {
        let mut objs = ClusterObjects::default();
        objs.storage_classes.insert(
            "local".into(),
            class(
                "local",
                "WaitForFirstConsumer",
                "kubernetes.io/no-provisioner",
            ),
        );
        for (name, request) in claims {
            objs.pvcs
                .insert(format!("default/{name}"), sized_pvc(name, request));
        }
        objs.pvs = pvs;
        objs
    }

    /// One scheduling cycle of `pod_name` (using claim `claim`) against nodes a and b with a
    /// shared plugin: the cycle state after Filter and the Filter status per node.
    fn cycle(
        plugin: &Arc<VolumeBinding>,
        objs: &ClusterObjects,
        pod_name: &str,
        claim: &str,
    ) -> (Framework, PodInfo, CycleState, Vec<Status>) {
        let fwk = Framework::new(
            "t",
            vec![PluginEntry {
                plugin: plugin.clone(),
                weight: 0,
            }],
        );
        let p = pod_with_claim(pod_name, claim);
        let snap = Snapshot::new(vec![node("a").obj(), node("b").obj()], vec![])
            .with_objects(objs.clone());
        let pi = PodInfo::new(p);
        let mut st = CycleState::new();
        let (_, s) = fwk.run_pre_filter_plugins(&mut st, &pi, &snap);
        assert!(s.is_success(), "prefilter: {s}");
        let statuses = snap
            .node_infos()
            .iter()
            .map(|n| fwk.run_filter_plugins(&st, &pi, n))
            .collect();
        (fwk, pi, st, statuses)
    }

    fn assumed(plugin: &VolumeBinding) -> Vec<(String, String)> {
        plugin.assumed_volumes().into_iter().collect()
    }

    #[test]
    fn volume_binding_reserve_assumes_the_pv_until_unreserve() {
        let plugin = Arc::new(VolumeBinding::default());
        let objs = wffc_objects(
            vec![sized_pv("pv-b", "b", "1Gi")],
            &[("c1", "1Gi"), ("c2", "1Gi")],
        );
        let (fwk, p1, mut st1, s) = cycle(&plugin, &objs, "p1", "c1");
        assert_eq!(s[0].reasons()[0], ERR_REASON_BIND_CONFLICT);
        assert!(s[1].is_success());
        assert!(fwk.run_reserve_plugins(&mut st1, &p1, "b").is_success());
        assert_eq!(
            assumed(&plugin),
            vec![("pv-b".to_string(), "default/c1".to_string())]
        );

        // The next cycle (the informer has not seen any write yet) cannot take pv-b.
        let (_, _, _, s) = cycle(&plugin, &objs, "p2", "c2");
        assert_eq!(s[0].reasons()[0], ERR_REASON_BIND_CONFLICT);
        assert_eq!(s[1].reasons()[0], ERR_REASON_BIND_CONFLICT);

        // Unreserve frees it (and is idempotent).
        fwk.run_unreserve_plugins(&mut st1, &p1, "b");
        fwk.run_unreserve_plugins(&mut st1, &p1, "b");
        assert!(assumed(&plugin).is_empty());
        let (fwk, p2, mut st2, s) = cycle(&plugin, &objs, "p2", "c2");
        assert!(s[1].is_success());
        assert!(fwk.run_reserve_plugins(&mut st2, &p2, "b").is_success());
        assert_eq!(
            assumed(&plugin),
            vec![("pv-b".to_string(), "default/c2".to_string())]
        );
    }

    #[test]
    fn volume_binding_picks_the_smallest_pv_that_fits() {
        let plugin = Arc::new(VolumeBinding::default());
        let objs = wffc_objects(
            vec![
                sized_pv("pv-big", "b", "10Gi"),
                sized_pv("pv-tiny", "b", "500Mi"),
                sized_pv("pv-small", "b", "2Gi"),
            ],
            &[("c1", "1Gi"), ("c2", "1Gi"), ("c3", "1Gi")],
        );
        let (fwk, p1, mut st1, s) = cycle(&plugin, &objs, "p1", "c1");
        assert!(s[1].is_success());
        assert!(fwk.run_reserve_plugins(&mut st1, &p1, "b").is_success());
        assert_eq!(
            plugin.assumed_volumes().get("pv-small").map(String::as_str),
            Some("default/c1")
        );
        let (fwk, p2, mut st2, _) = cycle(&plugin, &objs, "p2", "c2");
        assert!(fwk.run_reserve_plugins(&mut st2, &p2, "b").is_success());
        assert_eq!(
            plugin.assumed_volumes().get("pv-big").map(String::as_str),
            Some("default/c2")
        );
        // Only pv-tiny is left, and it is too small.
        let (_, _, _, s) = cycle(&plugin, &objs, "p3", "c3");
        assert_eq!(s[1].reasons()[0], ERR_REASON_BIND_CONFLICT);
        fwk.run_unreserve_plugins(&mut st2, &p2, "b");
        let (fwk, p3, mut st3, s) = cycle(&plugin, &objs, "p3", "c3");
        assert!(s[1].is_success());
        assert!(fwk.run_reserve_plugins(&mut st3, &p3, "b").is_success());
        assert_eq!(
            plugin.assumed_volumes().get("pv-big").map(String::as_str),
            Some("default/c3")
        );
    }

    #[test]
    fn volume_binding_assumption_gives_way_to_the_informer() {
        let plugin = Arc::new(VolumeBinding::default());
        let mut objs = wffc_objects(vec![sized_pv("pv-b", "b", "1Gi")], &[("c1", "1Gi")]);
        let (fwk, p1, mut st1, _) = cycle(&plugin, &objs, "p1", "c1");
        assert!(fwk.run_reserve_plugins(&mut st1, &p1, "b").is_success());
        // A second pod sharing the in-flight claim sees it bound to the assumed PV.
        let (_, _, _, s) = cycle(&plugin, &objs, "p2", "c1");
        assert_eq!(s[0].reasons()[0], ERR_REASON_NODE_CONFLICT);
        assert!(s[1].is_success());
        assert_eq!(assumed(&plugin).len(), 1);
        // Once the snapshot shows the claim bound, the assumption is dropped.
        objs.pvcs
            .get_mut("default/c1")
            .unwrap()
            .spec
            .as_mut()
            .unwrap()
            .volume_name = Some("pv-b".into());
        let _ = cycle(&plugin, &objs, "p2", "c1");
        assert!(assumed(&plugin).is_empty());
    }

    #[test]
    fn volume_binding_provisioning_and_args() {
        let mut objs = wffc_objects(vec![], &[("c1", "1Gi")]);
        // No PV, no provisioner: nowhere.
        let plugin = Arc::new(VolumeBinding::default());
        let (_, _, _, s) = cycle(&plugin, &objs, "p1", "c1");
        assert!(s.iter().all(|s| s.reasons()[0] == ERR_REASON_BIND_CONFLICT));
        // A provisioner restricted to node b by allowedTopologies.
        let mut c = class("local", "WaitForFirstConsumer", "csi.example.com");
        c.allowed_topologies = Some(vec![TopologySelectorTerm {
            match_label_expressions: Some(vec![TopologySelectorLabelRequirement {
                key: crate::plugins::LABEL_HOSTNAME.into(),
                values: vec!["b".into()],
            }]),
        }]);
        objs.storage_classes.insert("local".into(), c);
        let (fwk, p1, mut st1, s) = cycle(&plugin, &objs, "p1", "c1");
        assert_eq!(s[0].reasons()[0], ERR_REASON_BIND_CONFLICT);
        assert!(s[1].is_success());
        assert!(fwk.run_reserve_plugins(&mut st1, &p1, "b").is_success());
        assert!(assumed(&plugin).is_empty(), "provisioning assumes no PV");

        let args = |v| serde_json::from_value::<VolumeBindingArgs>(v).unwrap();
        assert_eq!(
            VolumeBinding::new(args(serde_json::json!({})), None)
                .unwrap()
                .bind_timeout(),
            DEFAULT_BIND_TIMEOUT
        );
        assert_eq!(
            VolumeBinding::new(args(serde_json::json!({"bindTimeoutSeconds": 5})), None)
                .unwrap()
                .bind_timeout(),
            Duration::from_secs(5)
        );
        assert!(
            VolumeBinding::new(args(serde_json::json!({"bindTimeoutSeconds": -1})), None).is_err()
        );
        let bad = serde_json::json!({"bindTimeoutSeconds": -1});
        assert!(crate::plugins::Registry::in_tree()
            .build(NAME, Some(&bad), &Default::default())
            .is_err());
    }
}
