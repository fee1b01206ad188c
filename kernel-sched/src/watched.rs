//! [`Watched`]: how the scheduler's pod and node informers hold their objects, the hot path of
//! its watches: decoded without `metadata.managedFields`, behind an [`Arc`].
//!
//! * **Without managed fields**: the scheduler never reads them, and they are the costliest
//!   part of an object to decode (an untyped JSON tree per manager). Measured on the pending
//!   pod of `sched_e2e_bench` as the API server stores it (one manager): 10.7 µs as a `Pod`,
//!   6.1 µs as a `Watched<Pod>`. Upstream's scheduler likewise drops managed fields from its
//!   informers' objects (`TransformStripManagedFields`).
//! * **Behind an `Arc`**: the reflector clones every object it stores (a deep clone of that
//!   pod: 3.8 µs), and the scheduler's [`Cache`](crate::Cache) holds the same object in a
//!   [`PodInfo`](crate::PodInfo) or [`NodeInfo`](crate::NodeInfo) (both keep an `Arc`):
//!   cloning a `Watched` is a reference count, so store, cache and queue share one decoded
//!   object instead of each event being deep-copied and every node and pod kept twice.
//!
//! They run through the same generic informer as every other kind
//! ([`informer::run`](crate::informer)); only the decode differs. The other kinds are few,
//! rarely change, and are read where they are stored, so they are plain `k8s-openapi` types.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::sync::Arc;

use k8s_openapi::api::core::v1::{Node, NodeSpec, NodeStatus, Pod, PodSpec, PodStatus};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference, Time};
use kube::Resource;
use serde::Deserialize;

/// An object as the scheduler's informers hold pods and nodes (see the module docs).
#[derive(Clone, Debug, Default)]
pub(crate) struct Watched<K>(pub Arc<K>);

/// The wire form: `metadata` without `managedFields` (unknown fields are skipped unparsed).
#[derive(Deserialize)]
struct Wire<S, T> {
    #[serde(default)]
    metadata: Metadata,
    spec: Option<S>,
    status: Option<T>,
}

/// Every `ObjectMeta` field but `managedFields` (and the long-deprecated `selfLink`).
#[derive(Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
struct Metadata {
    annotations: Option<BTreeMap<String, String>>,
    creation_timestamp: Option<Time>,
    deletion_grace_period_seconds: Option<i64>,
    deletion_timestamp: Option<Time>,
    finalizers: Option<Vec<String>>,
    generate_name: Option<String>,
    generation: Option<i64>,
    labels: Option<BTreeMap<String, String>>,
    name: Option<String>,
    namespace: Option<String>,
    owner_references: Option<Vec<OwnerReference>>,
    resource_version: Option<String>,
    uid: Option<String>,
}

impl From<Metadata> for ObjectMeta {
    fn from(m: Metadata) -> Self {
        ObjectMeta {
            annotations: m.annotations,
            creation_timestamp: m.creation_timestamp,
            deletion_grace_period_seconds: m.deletion_grace_period_seconds,
            deletion_timestamp: m.deletion_timestamp,
            finalizers: m.finalizers,
            generate_name: m.generate_name,
            generation: m.generation,
            labels: m.labels,
            managed_fields: None,
            name: m.name,
            namespace: m.namespace,
            owner_references: m.owner_references,
            resource_version: m.resource_version,
            self_link: None,
            uid: m.uid,
        }
    }
}

/// `Deserialize` and `Resource` for `Watched<$kind>`, a kind of `metadata`, `spec`, `status`.
macro_rules! watched {
    ($kind:ident, $spec:ty, $status:ty) => {
        impl<'de> Deserialize<'de> for Watched<$kind> {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let Wire::<$spec, $status> {
                    metadata,
                    spec,
                    status,
                } = Wire::deserialize(d)?;
                Ok(Watched(Arc::new($kind {
                    metadata: metadata.into(),
                    spec,
                    status,
                })))
            }
        }

        impl Resource for Watched<$kind> {
            type DynamicType = ();
            type Scope = <$kind as Resource>::Scope;

            fn kind(dt: &()) -> Cow<'_, str> {
                $kind::kind(dt)
            }
            fn group(dt: &()) -> Cow<'_, str> {
                $kind::group(dt)
            }
            fn version(dt: &()) -> Cow<'_, str> {
                $kind::version(dt)
            }
            fn plural(dt: &()) -> Cow<'_, str> {
                $kind::plural(dt)
            }
            fn meta(&self) -> &ObjectMeta {
                &self.0.metadata
            }
            fn meta_mut(&mut self) -> &mut ObjectMeta {
                &mut Arc::make_mut(&mut self.0).metadata
            }
        }
    };
}

watched!(Pod, PodSpec, PodStatus);
watched!(Node, NodeSpec, NodeStatus);

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn metadata() -> serde_json::Value {
        json!({
            "name": "web", "namespace": "ns", "uid": "u1", "resourceVersion": "7",
            "labels": {"app": "web"}, "annotations": {"a": "b"},
            "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "rs", "uid": "u0", "controller": true}],
            "creationTimestamp": "2026-11-25T20:00:00Z",
            "deletionTimestamp": "2026-11-25T20:01:00Z", "deletionGracePeriodSeconds": 30,
            "finalizers": ["f"], "generateName": "we", "generation": 2,
            "managedFields": [{"manager": "m", "operation": "Update", "fieldsType": "FieldsV1", "fieldsV1": {"f:spec": {}}}]
        })
    }

    #[test]
    fn decodes_a_pod_but_its_managed_fields() {
        let wire = json!({
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": metadata(),
            "spec": {"nodeName": "n1", "containers": [{"name": "c", "image": "i"}]},
            "status": {"phase": "Pending", "nominatedNodeName": "n2"}
        });
        let mut expected: Pod = serde_json::from_value(wire.clone()).unwrap();
        let Watched(pod) = serde_json::from_value::<Watched<Pod>>(wire).unwrap();
        expected.metadata.managed_fields = None;
        assert_eq!(*pod, expected);
    }

    #[test]
    fn decodes_a_node_but_its_managed_fields() {
        let wire = json!({
            "apiVersion": "v1",
            "kind": "Node",
            "metadata": metadata(),
            "spec": {"unschedulable": true, "taints": [{"key": "k", "effect": "NoSchedule"}]},
            "status": {"allocatable": {"cpu": "4"}, "images": [{"names": ["i:1"], "sizeBytes": 1}]}
        });
        let mut expected: Node = serde_json::from_value(wire.clone()).unwrap();
        let Watched(node) = serde_json::from_value::<Watched<Node>>(wire).unwrap();
        expected.metadata.managed_fields = None;
        assert_eq!(*node, expected);
    }
}
