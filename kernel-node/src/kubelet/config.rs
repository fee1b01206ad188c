//! The kubelet's settings: the part of upstream's `KubeletConfiguration`
//! (`k8s.io/kubelet/config/v1beta1`) this kubelet honours, with upstream's defaults.

use std::path::PathBuf;
use std::time::Duration;

/// The version this kubelet reports as `status.nodeInfo.kubeletVersion`: the Kubernetes
/// release the workspace's wire types and behaviour follow.
pub const KUBELET_VERSION: &str = "v1.33.0";

/// The namespace of node leases (`kube-node-lease`).
pub const NODE_LEASE_NAMESPACE: &str = "kube-node-lease";

/// How a kubelet behaves; [`Default`] gives upstream's defaults.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KubeletConfig {
    /// `nodeStatusUpdateFrequency` (10 s): how often the node's status is computed and, when
    /// it changed, written.
    pub node_status_update_frequency: Duration,
    /// `nodeStatusReportFrequency` (5 min): an unchanged status is still written this often.
    pub node_status_report_frequency: Duration,
    /// `nodeLeaseDurationSeconds` (40).
    pub node_lease_duration_seconds: i32,
    /// How often the lease is renewed: upstream's `renewInterval`, a quarter of the lease
    /// duration (10 s).
    pub node_lease_renew_interval: Duration,
    /// The first CrashLoopBackOff / ImagePullBackOff delay (10 s as upstream; short in tests).
    pub backoff_initial: Duration,
    /// The longest back-off (`MaxContainerBackOff`, 300 s). A back-off resets once the
    /// container ran (or the image pulled) twice this long without a new failure (10 min).
    pub backoff_max: Duration,
    /// How often a pod worker looks at its containers in the runtime (upstream's PLEG relist
    /// period, 1 s).
    pub pod_relist_period: Duration,
    /// `maxPods` (110): `pods` in the node's capacity when not configured.
    pub max_pods: u32,
    /// The kubelet's root directory (upstream `/var/lib/kubelet`): pod volumes live in
    /// `<root_dir>/pods/<uid>/volumes/kubernetes.io~<plugin>/<name>`, logs in
    /// `<root_dir>/logs/<namespace>_<name>_<uid>`. Default: `<tmp>/kernel-kubelet/<node>`.
    pub root_dir: Option<PathBuf>,
    /// How often the files of configMap, secret, downwardAPI and projected volumes are
    /// rewritten from the API (upstream's `syncFrequency`, 1 min), so that updates reach
    /// running containers.
    pub volume_resync_period: Duration,
}

impl Default for KubeletConfig {
    fn default() -> Self {
        KubeletConfig {
            node_status_update_frequency: Duration::from_secs(10),
            node_status_report_frequency: Duration::from_secs(300),
            node_lease_duration_seconds: 40,
            node_lease_renew_interval: Duration::from_secs(10),
            backoff_initial: Duration::from_secs(10),
            backoff_max: Duration::from_secs(300),
            pod_relist_period: Duration::from_secs(1),
            max_pods: 110,
            root_dir: None,
            volume_resync_period: Duration::from_secs(60),
        }
    }
}
