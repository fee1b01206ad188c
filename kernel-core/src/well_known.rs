//! Well-known label, taint and annotation keys (`k8s.io/api/core/v1/well_known_labels.go`,
//! `well_known_taints.go`, `annotation_key_constants.go` and their apps/batch/discovery
//! siblings), so every component spells them the same way.
//!
//! ```
//! use kernel_core::well_known::{LABEL_HOSTNAME, TAINT_NODE_NOT_READY};
//!
//! assert_eq!(LABEL_HOSTNAME, "kubernetes.io/hostname");
//! assert_eq!(TAINT_NODE_NOT_READY, "node.kubernetes.io/not-ready");
//! ```

// === labels ===

/// `kubernetes.io/hostname`: the node's hostname; set by the kubelet on its Node, the usual
/// topology key for per-node spreading and anti-affinity.
pub const LABEL_HOSTNAME: &str = "kubernetes.io/hostname";
/// `kubernetes.io/os`: the node's operating system (`linux`, `windows`), as Go's `GOOS`.
pub const LABEL_OS: &str = "kubernetes.io/os";
/// `kubernetes.io/arch`: the node's CPU architecture (`amd64`, `arm64`), as Go's `GOARCH`.
pub const LABEL_ARCH: &str = "kubernetes.io/arch";
/// `topology.kubernetes.io/zone`: the failure zone of a node or volume.
pub const LABEL_TOPOLOGY_ZONE: &str = "topology.kubernetes.io/zone";
/// `topology.kubernetes.io/region`: the region of a node or volume.
pub const LABEL_TOPOLOGY_REGION: &str = "topology.kubernetes.io/region";
/// `failure-domain.beta.kubernetes.io/zone`: the deprecated zone label, still read by some
/// volume plugins.
pub const LABEL_FAILURE_DOMAIN_BETA_ZONE: &str = "failure-domain.beta.kubernetes.io/zone";
/// `failure-domain.beta.kubernetes.io/region`: the deprecated region label.
pub const LABEL_FAILURE_DOMAIN_BETA_REGION: &str = "failure-domain.beta.kubernetes.io/region";
/// `node.kubernetes.io/instance-type`: the cloud instance type of a node.
pub const LABEL_INSTANCE_TYPE: &str = "node.kubernetes.io/instance-type";
/// `beta.kubernetes.io/instance-type`: the deprecated instance-type label.
pub const LABEL_INSTANCE_TYPE_BETA: &str = "beta.kubernetes.io/instance-type";
/// `node-role.kubernetes.io/`: the prefix of node role labels (`node-role.kubernetes.io/<role>`,
/// any value), as kubectl's ROLES column reads them.
pub const LABEL_NODE_ROLE_PREFIX: &str = "node-role.kubernetes.io/";
/// `node-role.kubernetes.io/control-plane`: marks control-plane nodes (kubeadm).
pub const LABEL_NODE_ROLE_CONTROL_PLANE: &str = "node-role.kubernetes.io/control-plane";
/// `node.kubernetes.io/exclude-from-external-load-balancers`: nodes the service controller
/// leaves out of load balancer backends.
pub const LABEL_NODE_EXCLUDE_BALANCERS: &str =
    "node.kubernetes.io/exclude-from-external-load-balancers";
/// `kubernetes.io/metadata.name`: set on every Namespace to its own name, so namespace
/// selectors can select by name.
pub const LABEL_METADATA_NAME: &str = "kubernetes.io/metadata.name";
/// `pod-template-hash`: the hash a Deployment's ReplicaSets and their pods carry.
pub const LABEL_POD_TEMPLATE_HASH: &str = "pod-template-hash";
/// `controller-revision-hash`: the ControllerRevision of a StatefulSet or DaemonSet pod.
pub const LABEL_CONTROLLER_REVISION_HASH: &str = "controller-revision-hash";
/// `statefulset.kubernetes.io/pod-name`: a StatefulSet pod's own name (for per-pod Services).
pub const LABEL_STATEFULSET_POD_NAME: &str = "statefulset.kubernetes.io/pod-name";
/// `apps.kubernetes.io/pod-index`: a StatefulSet pod's ordinal.
pub const LABEL_POD_INDEX: &str = "apps.kubernetes.io/pod-index";
/// `batch.kubernetes.io/job-name`: the Job a pod belongs to.
pub const LABEL_JOB_NAME: &str = "batch.kubernetes.io/job-name";
/// `batch.kubernetes.io/controller-uid`: the UID of the Job a pod belongs to.
pub const LABEL_JOB_CONTROLLER_UID: &str = "batch.kubernetes.io/controller-uid";
/// `batch.kubernetes.io/job-completion-index`: an Indexed Job pod's completion index.
pub const LABEL_JOB_COMPLETION_INDEX: &str = "batch.kubernetes.io/job-completion-index";
/// `kubernetes.io/service-name`: the Service an EndpointSlice belongs to.
pub const LABEL_SERVICE_NAME: &str = "kubernetes.io/service-name";
/// `endpointslice.kubernetes.io/managed-by`: the controller managing an EndpointSlice.
pub const LABEL_ENDPOINTSLICE_MANAGED_BY: &str = "endpointslice.kubernetes.io/managed-by";
/// `service.kubernetes.io/service-proxy-name`: Services with this label are left to another
/// proxy; kube-proxy skips them.
pub const LABEL_SERVICE_PROXY_NAME: &str = "service.kubernetes.io/service-proxy-name";
/// `service.kubernetes.io/headless`: set on the Endpoints/EndpointSlices of headless Services.
pub const LABEL_SERVICE_HEADLESS: &str = "service.kubernetes.io/headless";

// === taints ===

/// `node.kubernetes.io/not-ready`: the node's Ready condition is False.
pub const TAINT_NODE_NOT_READY: &str = "node.kubernetes.io/not-ready";
/// `node.kubernetes.io/unreachable`: the node controller lost contact (Ready is Unknown).
pub const TAINT_NODE_UNREACHABLE: &str = "node.kubernetes.io/unreachable";
/// `node.kubernetes.io/unschedulable`: the node is cordoned (`spec.unschedulable`).
pub const TAINT_NODE_UNSCHEDULABLE: &str = "node.kubernetes.io/unschedulable";
/// `node.kubernetes.io/memory-pressure`: the kubelet reports MemoryPressure.
pub const TAINT_NODE_MEMORY_PRESSURE: &str = "node.kubernetes.io/memory-pressure";
/// `node.kubernetes.io/disk-pressure`: the kubelet reports DiskPressure.
pub const TAINT_NODE_DISK_PRESSURE: &str = "node.kubernetes.io/disk-pressure";
/// `node.kubernetes.io/pid-pressure`: the kubelet reports PIDPressure.
pub const TAINT_NODE_PID_PRESSURE: &str = "node.kubernetes.io/pid-pressure";
/// `node.kubernetes.io/network-unavailable`: the node's network is not configured yet.
pub const TAINT_NODE_NETWORK_UNAVAILABLE: &str = "node.kubernetes.io/network-unavailable";
/// `node.kubernetes.io/out-of-service`: set by an operator on a shut-down node so its pods and
/// volumes are released.
pub const TAINT_NODE_OUT_OF_SERVICE: &str = "node.kubernetes.io/out-of-service";
/// `node.cloudprovider.kubernetes.io/uninitialized`: set by a kubelet started with an external
/// cloud provider until the cloud controller manager initializes the node.
pub const TAINT_EXTERNAL_CLOUD_PROVIDER: &str = "node.cloudprovider.kubernetes.io/uninitialized";
/// `node.cloudprovider.kubernetes.io/shutdown`: the cloud provider reports the node shut down.
pub const TAINT_NODE_SHUTDOWN: &str = "node.cloudprovider.kubernetes.io/shutdown";

// === annotations ===

/// `kubectl.kubernetes.io/last-applied-configuration`: the object as last applied by
/// client-side `kubectl apply`.
pub const ANNOTATION_LAST_APPLIED_CONFIGURATION: &str =
    "kubectl.kubernetes.io/last-applied-configuration";
/// `kubectl.kubernetes.io/restartedAt`: set on a pod template by `kubectl rollout restart`.
pub const ANNOTATION_RESTARTED_AT: &str = "kubectl.kubernetes.io/restartedAt";
/// `kubectl.kubernetes.io/default-container`: the container `kubectl logs/exec` pick by default.
pub const ANNOTATION_DEFAULT_CONTAINER: &str = "kubectl.kubernetes.io/default-container";
/// `deployment.kubernetes.io/revision`: a Deployment's (and its ReplicaSets') rollout revision.
pub const ANNOTATION_DEPLOYMENT_REVISION: &str = "deployment.kubernetes.io/revision";
/// `deployment.kubernetes.io/revision-history`: earlier revisions a ReplicaSet served.
pub const ANNOTATION_DEPLOYMENT_REVISION_HISTORY: &str =
    "deployment.kubernetes.io/revision-history";
/// `deployment.kubernetes.io/desired-replicas`: the Deployment's replicas when a ReplicaSet
/// was last scaled.
pub const ANNOTATION_DEPLOYMENT_DESIRED_REPLICAS: &str =
    "deployment.kubernetes.io/desired-replicas";
/// `deployment.kubernetes.io/max-replicas`: replicas plus maxSurge when a ReplicaSet was last
/// scaled.
pub const ANNOTATION_DEPLOYMENT_MAX_REPLICAS: &str = "deployment.kubernetes.io/max-replicas";
/// `controller.kubernetes.io/pod-deletion-cost`: which pods a ReplicaSet deletes first when
/// scaling down (lower first).
pub const ANNOTATION_POD_DELETION_COST: &str = "controller.kubernetes.io/pod-deletion-cost";
/// `kubernetes.io/config.mirror`: marks a mirror pod (the API copy of a static pod).
pub const ANNOTATION_CONFIG_MIRROR: &str = "kubernetes.io/config.mirror";
/// `kubernetes.io/config.source`: where the kubelet got a pod from (`api`, `file`, `http`).
pub const ANNOTATION_CONFIG_SOURCE: &str = "kubernetes.io/config.source";
/// `kubernetes.io/service-account.name`: the ServiceAccount a token Secret belongs to.
pub const ANNOTATION_SERVICE_ACCOUNT_NAME: &str = "kubernetes.io/service-account.name";
/// `kubernetes.io/service-account.uid`: the UID of that ServiceAccount.
pub const ANNOTATION_SERVICE_ACCOUNT_UID: &str = "kubernetes.io/service-account.uid";
/// `endpoints.kubernetes.io/last-change-trigger-time`: when the change that updated an
/// Endpoints/EndpointSlice object happened (for latency SLIs).
pub const ANNOTATION_ENDPOINTS_LAST_CHANGE_TRIGGER_TIME: &str =
    "endpoints.kubernetes.io/last-change-trigger-time";
/// `storageclass.kubernetes.io/is-default-class`: `"true"` on the default StorageClass.
pub const ANNOTATION_IS_DEFAULT_STORAGE_CLASS: &str = "storageclass.kubernetes.io/is-default-class";
/// `volume.kubernetes.io/selected-node`: the node the scheduler chose for a
/// WaitForFirstConsumer claim, for the provisioner.
pub const ANNOTATION_SELECTED_NODE: &str = "volume.kubernetes.io/selected-node";
/// `volume.kubernetes.io/storage-provisioner`: the provisioner asked to provision a claim.
pub const ANNOTATION_STORAGE_PROVISIONER: &str = "volume.kubernetes.io/storage-provisioner";
/// `volume.beta.kubernetes.io/storage-provisioner`: the deprecated spelling of the above.
pub const ANNOTATION_BETA_STORAGE_PROVISIONER: &str =
    "volume.beta.kubernetes.io/storage-provisioner";
/// `pv.kubernetes.io/bind-completed`: the PV controller finished binding a claim.
pub const ANNOTATION_BIND_COMPLETED: &str = "pv.kubernetes.io/bind-completed";
/// `pv.kubernetes.io/bound-by-controller`: the binding was made by the controller, not the user.
pub const ANNOTATION_BOUND_BY_CONTROLLER: &str = "pv.kubernetes.io/bound-by-controller";

#[cfg(test)]
mod tests {
    use super::*;
    use crate::names::is_qualified_name;

    #[test]
    fn every_key_is_a_valid_qualified_name() {
        let keys = [
            LABEL_HOSTNAME,
            LABEL_OS,
            LABEL_ARCH,
            LABEL_TOPOLOGY_ZONE,
            LABEL_TOPOLOGY_REGION,
            LABEL_FAILURE_DOMAIN_BETA_ZONE,
            LABEL_FAILURE_DOMAIN_BETA_REGION,
            LABEL_INSTANCE_TYPE,
            LABEL_INSTANCE_TYPE_BETA,
            LABEL_NODE_ROLE_CONTROL_PLANE,
            LABEL_NODE_EXCLUDE_BALANCERS,
            LABEL_METADATA_NAME,
            LABEL_POD_TEMPLATE_HASH,
            LABEL_CONTROLLER_REVISION_HASH,
            LABEL_STATEFULSET_POD_NAME,
            LABEL_POD_INDEX,
            LABEL_JOB_NAME,
            LABEL_JOB_CONTROLLER_UID,
            LABEL_JOB_COMPLETION_INDEX,
            LABEL_SERVICE_NAME,
            LABEL_ENDPOINTSLICE_MANAGED_BY,
            LABEL_SERVICE_PROXY_NAME,
            LABEL_SERVICE_HEADLESS,
            TAINT_NODE_NOT_READY,
            TAINT_NODE_UNREACHABLE,
            TAINT_NODE_UNSCHEDULABLE,
            TAINT_NODE_MEMORY_PRESSURE,
            TAINT_NODE_DISK_PRESSURE,
            TAINT_NODE_PID_PRESSURE,
            TAINT_NODE_NETWORK_UNAVAILABLE,
            TAINT_NODE_OUT_OF_SERVICE,
            TAINT_EXTERNAL_CLOUD_PROVIDER,
            TAINT_NODE_SHUTDOWN,
            ANNOTATION_LAST_APPLIED_CONFIGURATION,
            ANNOTATION_RESTARTED_AT,
            ANNOTATION_DEFAULT_CONTAINER,
            ANNOTATION_DEPLOYMENT_REVISION,
            ANNOTATION_DEPLOYMENT_REVISION_HISTORY,
            ANNOTATION_DEPLOYMENT_DESIRED_REPLICAS,
            ANNOTATION_DEPLOYMENT_MAX_REPLICAS,
            ANNOTATION_POD_DELETION_COST,
            ANNOTATION_CONFIG_MIRROR,
            ANNOTATION_CONFIG_SOURCE,
            ANNOTATION_SERVICE_ACCOUNT_NAME,
            ANNOTATION_SERVICE_ACCOUNT_UID,
            ANNOTATION_ENDPOINTS_LAST_CHANGE_TRIGGER_TIME,
            ANNOTATION_IS_DEFAULT_STORAGE_CLASS,
            ANNOTATION_SELECTED_NODE,
            ANNOTATION_STORAGE_PROVISIONER,
            ANNOTATION_BETA_STORAGE_PROVISIONER,
            ANNOTATION_BIND_COMPLETED,
            ANNOTATION_BOUND_BY_CONTROLLER,
        ];
        for k in keys {
            assert!(is_qualified_name(k).is_empty(), "{k}");
        }
        assert!(is_qualified_name(&format!("{LABEL_NODE_ROLE_PREFIX}worker")).is_empty());
    }
}
