//! The pod type of the scheduler's pod informer: a [`Pod`] decoded without
//! `metadata.managedFields`, behind an [`Arc`].
//!
//! * **Without managed fields**: the scheduler never reads them, and they are the costliest
//!   part of a pod to decode (an untyped JSON tree per manager). Measured on the pending pod
//!   of `sched_e2e_bench` as the API server stores it (one manager): 10.7 µs as a `Pod`,
//!   6.1 µs as a `WatchedPod`. Upstream's scheduler likewise drops managed fields from its
//!   informers' objects (`TransformStripManagedFields`).
//! * **Behind an `Arc`**: the reflector clones every object it stores (a deep clone of that
//!   pod: 3.8 µs), and the scheduler's [`Cache`](crate::Cache) and queue hold the same pod as
//!   a [`PodInfo`](crate::PodInfo) (itself an `Arc<Pod>`): cloning a `WatchedPod` is a
//!   reference count, so the store and the cache share one decoded pod.
//!
//! It runs through the same generic informer as every other kind
//! ([`informer::run`](crate::informer)); only the decode differs.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::sync::Arc;

use k8s_openapi::api::core::v1::{Pod, PodSpec, PodStatus};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference, Time};
use kube::Resource;
use serde::Deserialize;

/// A pod as the scheduler's pod informer decodes it (see the module docs).
#[derive(Clone, Debug, Default)]
pub(crate) struct WatchedPod(pub Arc<Pod>);

/// The wire form: `metadata` without `managedFields` (unknown fields are skipped unparsed).
#[derive(Deserialize)]
struct Wire {
    #[serde(default)]
    metadata: Metadata,
    spec: Option<PodSpec>,
    status: Option<PodStatus>,
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

impl<'de> Deserialize<'de> for WatchedPod {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let Wire {
            metadata: m,
            spec,
            status,
        } = Wire::deserialize(d)?;
        Ok(WatchedPod(Arc::new(Pod {
            metadata: ObjectMeta {
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
            },
            spec,
            status,
        })))
    }
}

impl Resource for WatchedPod {
    type DynamicType = ();
    type Scope = <Pod as Resource>::Scope;

    fn kind(dt: &()) -> Cow<'_, str> {
        Pod::kind(dt)
    }
    fn group(dt: &()) -> Cow<'_, str> {
        Pod::group(dt)
    }
    fn version(dt: &()) -> Cow<'_, str> {
        Pod::version(dt)
    }
    fn plural(dt: &()) -> Cow<'_, str> {
        Pod::plural(dt)
    }
    fn meta(&self) -> &ObjectMeta {
        &self.0.metadata
    }
    fn meta_mut(&mut self) -> &mut ObjectMeta {
        &mut Arc::make_mut(&mut self.0).metadata
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn decodes_a_pod_but_its_managed_fields() {
        let wire = json!({
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {
                "name": "web", "namespace": "ns", "uid": "u1", "resourceVersion": "7",
                "labels": {"app": "web"}, "annotations": {"a": "b"},
                "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "rs", "uid": "u0", "controller": true}],
                "creationTimestamp": "2026-11-25T20:00:00Z",
                "deletionTimestamp": "2026-11-25T20:01:00Z", "deletionGracePeriodSeconds": 30,
                "finalizers": ["f"], "generateName": "we", "generation": 2,
                "managedFields": [{"manager": "m", "operation": "Update", "fieldsType": "FieldsV1", "fieldsV1": {"f:spec": {}}}]
            },
            "spec": {"nodeName": "n1", "containers": [{"name": "c", "image": "i"}]},
            "status": {"phase": "Pending", "nominatedNodeName": "n2"}
        });
        let full: Pod = serde_json::from_value(wire.clone()).unwrap();
        let WatchedPod(pod) = serde_json::from_value(wire).unwrap();
        let mut expected = full;
        expected.metadata.managed_fields = None;
        assert_eq!(*pod, expected);
    }
}
