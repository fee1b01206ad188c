//! The node's heartbeat Lease: upstream's `pkg/kubelet/nodelease` on client-go's
//! `component-helpers/apimachinery/lease` controller — a `coordination.k8s.io/v1` Lease named
//! after the node in `kube-node-lease`, held by the node, owned by the Node object, renewed
//! every `renewInterval`.

use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime;
use kube::api::PostParams;
use kube::Api;
use serde_json::json;

use super::config::NODE_LEASE_NAMESPACE;
use super::Shared;

fn now_micro() -> MicroTime {
    MicroTime(k8s_openapi::jiff::Timestamp::now())
}

fn new_lease(shared: &Shared, node_uid: &str) -> Result<Lease, serde_json::Error> {
    let mut metadata = json!({ "name": shared.node_name, "namespace": NODE_LEASE_NAMESPACE });
    if !node_uid.is_empty() {
        metadata["ownerReferences"] = json!([{
            "apiVersion": "v1", "kind": "Node", "name": shared.node_name, "uid": node_uid,
        }]);
    }
    let mut lease: Lease = serde_json::from_value(json!({
        "apiVersion": "coordination.k8s.io/v1",
        "kind": "Lease",
        "metadata": metadata,
        "spec": {
            "holderIdentity": shared.node_name,
            "leaseDurationSeconds": shared.config.node_lease_duration_seconds,
        },
    }))?;
    if let Some(spec) = lease.spec.as_mut() {
        spec.renew_time = Some(now_micro());
    }
    Ok(lease)
}

/// Creates or renews the lease once; returns the lease as written.
async fn renew(
    shared: &Shared,
    leases: &Api<Lease>,
    node_uid: &str,
    cached: Option<Lease>,
) -> Result<Lease, kube::Error> {
    let current = match cached {
        Some(lease) => Some(lease),
        None => leases.get_opt(&shared.node_name).await?,
    };
    match current {
        None => {
            let lease = new_lease(shared, node_uid).map_err(kube::Error::SerdeError)?;
            leases.create(&PostParams::default(), &lease).await
        }
        Some(mut lease) => {
            let spec = lease.spec.get_or_insert_with(Default::default);
            spec.holder_identity = Some(shared.node_name.clone());
            spec.lease_duration_seconds = Some(shared.config.node_lease_duration_seconds);
            spec.renew_time = Some(now_micro());
            if !node_uid.is_empty() && lease.metadata.owner_references.is_none() {
                lease.metadata.owner_references = new_lease(shared, node_uid)
                    .ok()
                    .and_then(|l| l.metadata.owner_references);
            }
            leases
                .replace(&shared.node_name, &PostParams::default(), &lease)
                .await
        }
    }
}

/// Renews the lease every `node_lease_renew_interval`, retrying sooner after a failure.
pub(crate) async fn run(shared: Arc<Shared>, node_uid: String) {
    let leases: Api<Lease> = Api::namespaced(shared.client.clone(), NODE_LEASE_NAMESPACE);
    let interval = shared.config.node_lease_renew_interval;
    let mut cached: Option<Lease> = None;
    loop {
        let wait = match renew(&shared, &leases, &node_uid, cached.take()).await {
            Ok(lease) => {
                tracing::trace!(node = %shared.node_name, "node lease renewed");
                cached = Some(lease);
                interval
            }
            Err(e) => {
                tracing::warn!(node = %shared.node_name, error = %e, "failed to renew node lease");
                // Upstream retries at 200 ms, doubling up to 7 s; never later than the interval.
                Duration::from_millis(200).min(interval)
            }
        };
        tokio::time::sleep(wait).await;
    }
}
