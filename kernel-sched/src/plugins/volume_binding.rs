//! VolumeBinding (simplified): every PVC the pod uses must exist; a bound PVC's volume must be
//! reachable from the node (PV node affinity); an unbound PVC needs either a matching
//! available PV reachable from the node or a storage class that provisions dynamically with
//! `WaitForFirstConsumer`. Claims with `Immediate` binding must already be bound.
//!
//! Upstream also binds the PVC to the chosen PV in PreBind; here the PV controller is trusted
//! to do that.

use std::sync::Arc;

use k8s_openapi::api::core::v1::{PersistentVolume, PersistentVolumeClaim};

use crate::framework::{
    CycleState, FilterPlugin, Plugin, PreFilterPlugin, PreFilterResult, Status,
};
use crate::labels::NodeSelectorMatcher;
use crate::resources::parse_quantity;
use crate::snapshot::Snapshot;
use crate::types::{NodeInfo, PodInfo};

/// The plugin name.
pub const NAME: &str = "VolumeBinding";
/// Upstream reason: a bound volume's node affinity excludes the node.
pub const ERR_REASON_NODE_CONFLICT: &str = "node(s) had volume node affinity conflict";
/// Upstream reason: no PV can be bound on the node.
pub const ERR_REASON_BIND_CONFLICT: &str =
    "node(s) didn't find available persistent volumes to bind";
/// Upstream reason: an `Immediate` claim is still unbound.
pub const ERR_REASON_UNBOUND_IMMEDIATE: &str = "pod has unbound immediate PersistentVolumeClaims";

/// Checks PVC/PV availability.
#[derive(Clone, Copy, Debug, Default)]
pub struct VolumeBinding;

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
}

#[derive(Clone, Debug)]
enum Claim {
    /// Bound: the PV's node affinity, if any.
    Bound(Option<NodeSelectorMatcher>),
    /// Unbound, delayed binding: candidate PVs' node affinities (`None` = any node), and
    /// whether dynamic provisioning is possible.
    Unbound {
        candidates: Vec<Option<NodeSelectorMatcher>>,
        provisionable: bool,
    },
}

#[derive(Clone, Debug)]
struct State {
    claims: Vec<Claim>,
}

fn pv_affinity(pv: &PersistentVolume) -> Option<NodeSelectorMatcher> {
    pv.spec
        .as_ref()?
        .node_affinity
        .as_ref()?
        .required
        .as_ref()
        .map(NodeSelectorMatcher::new)
}

fn storage_request(pvc: &PersistentVolumeClaim) -> i64 {
    pvc.spec
        .as_ref()
        .and_then(|s| s.resources.as_ref())
        .and_then(|r| r.requests.as_ref())
        .and_then(|r| r.get("storage"))
        .and_then(|q| parse_quantity(&q.0).ok())
        .map_or(0, |q| q.value())
}

fn pv_matches(pv: &PersistentVolume, pvc: &PersistentVolumeClaim, class: &str) -> bool {
    let Some(spec) = pv.spec.as_ref() else {
        return false;
    };
    if spec.claim_ref.is_some() {
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
    let cap = spec
        .capacity
        .as_ref()
        .and_then(|c| c.get("storage"))
        .and_then(|q| parse_quantity(&q.0).ok())
        .map_or(0, |q| q.value());
    if cap < storage_request(pvc) {
        return false;
    }
    let want = pvc
        .spec
        .as_ref()
        .and_then(|s| s.access_modes.as_deref())
        .unwrap_or(&[]);
    let have = spec.access_modes.as_deref().unwrap_or(&[]);
    want.iter().all(|m| have.contains(m))
}

impl PreFilterPlugin for VolumeBinding {
    fn pre_filter(
        &self,
        state: &mut CycleState,
        pod: &PodInfo,
        snapshot: &Snapshot,
    ) -> (Option<PreFilterResult>, Status) {
        let claim_names: Vec<&str> = pod
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
        let objs = snapshot.objects();
        let mut claims = Vec::new();
        for name in claim_names {
            let Some(pvc) = objs.pvcs.get(&format!("{}/{}", pod.namespace, name)) else {
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
            let spec = pvc.spec.clone().unwrap_or_default();
            if let Some(vol) = spec.volume_name.as_deref().filter(|v| !v.is_empty()) {
                let pv = objs
                    .pvs
                    .iter()
                    .find(|pv| pv.metadata.name.as_deref() == Some(vol));
                match pv {
                    Some(pv) => claims.push(Claim::Bound(pv_affinity(pv))),
                    None => {
                        return (
                            None,
                            Status::unresolvable(format!("persistentvolume \"{vol}\" not found")),
                        );
                    }
                }
                continue;
            }
            let class_name = spec.storage_class_name.clone().unwrap_or_default();
            let class = objs.storage_classes.get(&class_name);
            let delayed = class.and_then(|c| c.volume_binding_mode.as_deref())
                == Some("WaitForFirstConsumer");
            if !delayed {
                return (None, Status::unresolvable(ERR_REASON_UNBOUND_IMMEDIATE));
            }
            let provisionable =
                class.is_some_and(|c| c.provisioner != "kubernetes.io/no-provisioner");
            let candidates = objs
                .pvs
                .iter()
                .filter(|pv| pv_matches(pv, pvc, &class_name))
                .map(pv_affinity)
                .collect();
            claims.push(Claim::Unbound {
                candidates,
                provisionable,
            });
        }
        state.write(State { claims });
        (None, Status::success())
    }
}

impl FilterPlugin for VolumeBinding {
    fn filter(&self, state: &CycleState, _: &PodInfo, node: &NodeInfo) -> Status {
        let Some(s) = state.read::<State>() else {
            return Status::success();
        };
        let reachable = |a: &Option<NodeSelectorMatcher>| {
            a.as_ref()
                .is_none_or(|m| m.matches(&node.name, node.labels()))
        };
        for c in &s.claims {
            match c {
                Claim::Bound(a) if !reachable(a) => {
                    return Status::unresolvable(ERR_REASON_NODE_CONFLICT)
                }
                Claim::Unbound {
                    candidates,
                    provisionable,
                } if !provisionable && !candidates.iter().any(reachable) => {
                    return Status::unresolvable(ERR_REASON_BIND_CONFLICT);
                }
                _ => {}
            }
        }
        Status::success()
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
        PersistentVolumeClaimVolumeSource, PersistentVolumeSpec, Volume, VolumeNodeAffinity,
    };
    use k8s_openapi::api::storage::v1::StorageClass;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

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
                plugin: Arc::new(VolumeBinding),
                weight: 0,
            }],
        );
        let p = pod("p")
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
            .obj();
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
}
