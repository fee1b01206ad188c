//! persistentVolumeClaim and generic ephemeral volumes: the claim must be Bound (upstream's
//! `desired_state_of_world_populator` messages), its PersistentVolume's `hostPath`
//! (type-checked) or `local` path is what gets mounted.

use std::path::PathBuf;

use k8s_openapi::api::core::v1::{PersistentVolume, PersistentVolumeClaim};
use kube::{Api, Client};

use super::{api_message, blocking, host_path, Mounted};

/// The host path of a claim's PersistentVolume (hostPath or local); with `owner` (the pod's
/// name and uid, for an ephemeral volume) the claim must be controlled by that pod.
pub(super) async fn claim_path(
    client: &Client,
    namespace: &str,
    claim: &str,
    owner: Option<(&str, &str)>,
) -> Result<Mounted, String> {
    let processing = |e: String| format!("error processing PVC {namespace}/{claim}: {e}");
    let pvcs: Api<PersistentVolumeClaim> = Api::namespaced(client.clone(), namespace);
    let pvc = pvcs
        .get_opt(claim)
        .await
        .map_err(|e| {
            processing(format!(
                "failed to fetch PVC from API server: {}",
                api_message(e)
            ))
        })?
        .ok_or_else(|| {
            processing(format!(
                "failed to fetch PVC from API server: persistentvolumeclaims {claim:?} not found"
            ))
        })?;
    if let Some((pod, uid)) = owner {
        let owned = pvc
            .metadata
            .owner_references
            .iter()
            .flatten()
            .any(|r| r.uid == uid && r.controller == Some(true));
        if !owned {
            return Err(processing(format!(
                "PVC {namespace}/{claim} was not created for pod {namespace}/{pod} (pod is not owner)"
            )));
        }
    }
    let phase = pvc
        .status
        .as_ref()
        .and_then(|s| s.phase.clone())
        .unwrap_or_default();
    let volume_name = pvc
        .spec
        .as_ref()
        .and_then(|s| s.volume_name.clone())
        .unwrap_or_default();
    if phase != "Bound" || volume_name.is_empty() {
        return Err(processing(format!(
            "PVC {namespace}/{claim} has non-bound phase ({phase:?}) or empty pvc.Spec.VolumeName ({volume_name:?})"
        )));
    }
    let pvs: Api<PersistentVolume> = Api::all(client.clone());
    let pv = pvs
        .get_opt(&volume_name)
        .await
        .map_err(|e| processing(api_message(e)))?
        .ok_or_else(|| processing(format!("persistentvolumes {volume_name:?} not found")))?;
    let spec = pv.spec.unwrap_or_default();
    let bound_to = spec.claim_ref.as_ref().and_then(|r| r.uid.clone());
    if bound_to.is_some() && bound_to != pvc.metadata.uid {
        return Err(processing(format!(
            "PV {volume_name} is bound to a different claim"
        )));
    }
    let path = if let Some(hp) = &spec.host_path {
        let path = PathBuf::from(&hp.path);
        let kind = hp.type_.clone();
        let at = path.clone();
        blocking(move || host_path::check_type(&at, kind.as_deref())).await?;
        path
    } else if let Some(local) = &spec.local {
        let path = PathBuf::from(&local.path);
        if tokio::fs::metadata(&path).await.is_err() {
            return Err(format!(
                "local volume {volume_name}: path {} does not exist",
                local.path
            ));
        }
        path
    } else {
        return Err(format!(
            "PersistentVolume {volume_name}: only hostPath and local volumes are supported by this kubelet"
        ));
    };
    Ok(Mounted {
        host_path: path,
        read_only: false,
        resync: false,
    })
}
