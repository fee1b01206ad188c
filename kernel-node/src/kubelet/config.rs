//! The kubelet's settings: the part of upstream's `KubeletConfiguration`
//! (`k8s.io/kubelet/config/v1beta1`) this kubelet honours, with upstream's defaults.

use std::path::PathBuf;
use std::time::Duration;

use crate::{Error, Result};

/// The version this kubelet reports as `status.nodeInfo.kubeletVersion`: the Kubernetes
/// release the workspace's wire types and behaviour follow.
pub const KUBELET_VERSION: &str = "v1.33.0";

/// The namespace of node leases (`kube-node-lease`).
pub const NODE_LEASE_NAMESPACE: &str = "kube-node-lease";

/// The node name a kubelet takes when none is given: this machine's hostname, lower-cased
/// (upstream's `--hostname-override` default); `localhost` when it has none. Reads
/// `/proc/sys/kernel/hostname` (a small synchronous read, meant for start-up).
pub fn default_node_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|h| h.trim().to_lowercase())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".into())
}

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
    /// `staticPodPath`: a directory of pod manifests (YAML or JSON, one pod a file) the
    /// kubelet runs without the API server, publishing each as a mirror pod. `None`: no
    /// static pods.
    pub static_pod_path: Option<PathBuf>,
    /// `fileCheckFrequency` (20 s): how often the static pod directory is read again.
    pub file_check_frequency: Duration,
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
            static_pod_path: None,
            file_check_frequency: Duration::from_secs(20),
        }
    }
}

/// The fields of upstream's `KubeletConfiguration` (`kubelet.config.k8s.io/v1beta1`) that this
/// kubelet reads from a config file (upstream `--config`), besides those of [`KubeletConfig`];
/// [`KubeletConfig::from_kubelet_configuration`] returns them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct KubeletConfigurationFile {
    /// The settings of [`KubeletConfig`] the file sets, upstream's defaults elsewhere.
    pub config: KubeletConfig,
    /// `address`: the IP the kubelet's server listens on.
    pub address: Option<String>,
    /// `port` (upstream 10250): the kubelet server's port.
    pub port: Option<u16>,
    /// `podCIDR`: the node's pod CIDR when it has none yet.
    pub pod_cidr: Option<String>,
    /// `tlsCertFile` and `tlsPrivateKeyFile`: the serving certificate of the kubelet's server.
    pub tls_cert_file: Option<PathBuf>,
    /// See `tls_cert_file`.
    pub tls_private_key_file: Option<PathBuf>,
    /// `authentication.x509.clientCAFile`: clients of the kubelet's server must present a
    /// certificate this CA signed.
    pub client_ca_file: Option<PathBuf>,
    /// Fields of the file that are upstream's but that this kubelet does not act on (it logs
    /// them), in the file's order.
    pub ignored: Vec<String>,
}

impl KubeletConfig {
    /// Reads an upstream `KubeletConfiguration` document (YAML or JSON; `apiVersion`
    /// `kubelet.config.k8s.io/v1beta1`, `kind: KubeletConfiguration`). Durations are Go's
    /// (`10s`, `5m0s`). Fields this kubelet honours: `nodeStatusUpdateFrequency`,
    /// `nodeStatusReportFrequency`, `nodeLeaseDurationSeconds`, `maxPods`, `staticPodPath`,
    /// `fileCheckFrequency`, `syncFrequency` (the volume resync period), `podCIDR`, `address`,
    /// `port`, `tlsCertFile`, `tlsPrivateKeyFile`, `authentication.x509.clientCAFile`; any
    /// other field is listed in
    /// [`KubeletConfigurationFile::ignored`]. A wrong kind or apiVersion, a malformed
    /// duration or a value of the wrong type is an [`Error::InvalidState`] naming the field,
    /// as upstream refuses to start on them.
    ///
    /// ```
    /// use std::time::Duration;
    /// use kernel_node::KubeletConfig;
    ///
    /// let file = KubeletConfig::from_kubelet_configuration(
    ///     "apiVersion: kubelet.config.k8s.io/v1beta1\n\
    ///      kind: KubeletConfiguration\n\
    ///      maxPods: 50\n\
    ///      nodeStatusUpdateFrequency: 1m0s\n\
    ///      staticPodPath: /etc/kubernetes/manifests\n\
    ///      evictionHard: {memory.available: 100Mi}\n",
    /// )?;
    /// assert_eq!(file.config.max_pods, 50);
    /// assert_eq!(file.config.node_status_update_frequency, Duration::from_secs(60));
    /// assert_eq!(file.ignored, ["evictionHard"]);
    /// # Ok::<(), kernel_node::Error>(())
    /// ```
    pub fn from_kubelet_configuration(text: &str) -> Result<KubeletConfigurationFile> {
        let doc: serde_json::Value = serde_saphyr::from_str(text)
            .map_err(|e| Error::InvalidState(format!("KubeletConfiguration: {e}")))?;
        let serde_json::Value::Object(fields) = doc else {
            return Err(Error::InvalidState(
                "KubeletConfiguration: not a mapping".into(),
            ));
        };
        let mut file = KubeletConfigurationFile::default();
        let bad = |field: &str, why: &str| {
            Error::InvalidState(format!("KubeletConfiguration: {field}: {why}"))
        };
        let string = |field: &str, v: &serde_json::Value| -> Result<String> {
            v.as_str()
                .map(str::to_string)
                .ok_or_else(|| bad(field, "expected a string"))
        };
        let duration = |field: &str, v: &serde_json::Value| -> Result<Duration> {
            kernel_core::duration::parse(&string(field, v)?).map_err(|e| bad(field, &e.to_string()))
        };
        let integer = |field: &str, v: &serde_json::Value| -> Result<i64> {
            v.as_i64().ok_or_else(|| bad(field, "expected an integer"))
        };
        for (name, value) in &fields {
            let c = &mut file.config;
            match name.as_str() {
                "apiVersion" => {
                    let v = string(name, value)?;
                    if v != "kubelet.config.k8s.io/v1beta1" {
                        return Err(bad(name, &format!("unsupported version {v:?}")));
                    }
                }
                "kind" => {
                    let v = string(name, value)?;
                    if v != "KubeletConfiguration" {
                        return Err(bad(
                            name,
                            &format!("expected KubeletConfiguration, not {v:?}"),
                        ));
                    }
                }
                "nodeStatusUpdateFrequency" => {
                    c.node_status_update_frequency = duration(name, value)?
                }
                "nodeStatusReportFrequency" => {
                    c.node_status_report_frequency = duration(name, value)?
                }
                "fileCheckFrequency" => c.file_check_frequency = duration(name, value)?,
                "syncFrequency" => c.volume_resync_period = duration(name, value)?,
                "nodeLeaseDurationSeconds" => {
                    let v = integer(name, value)?;
                    c.node_lease_duration_seconds = i32::try_from(v)
                        .ok()
                        .filter(|v| *v > 0)
                        .ok_or_else(|| bad(name, "must be greater than 0"))?;
                    // Upstream renews at a quarter of the duration.
                    c.node_lease_renew_interval =
                        Duration::from_secs(c.node_lease_duration_seconds as u64) / 4;
                }
                "maxPods" => {
                    let v = integer(name, value)?;
                    c.max_pods = u32::try_from(v).map_err(|_| bad(name, "must be 0 or more"))?;
                }
                "staticPodPath" => {
                    let v = string(name, value)?;
                    c.static_pod_path = (!v.is_empty()).then(|| PathBuf::from(v));
                }
                "podCIDR" => file.pod_cidr = Some(string(name, value)?).filter(|v| !v.is_empty()),
                "address" => file.address = Some(string(name, value)?),
                "port" => {
                    let v = integer(name, value)?;
                    file.port = Some(u16::try_from(v).map_err(|_| bad(name, "not a port"))?);
                }
                "tlsCertFile" => file.tls_cert_file = Some(string(name, value)?.into()),
                "tlsPrivateKeyFile" => {
                    file.tls_private_key_file = Some(string(name, value)?.into())
                }
                "authentication" => {
                    let ca = value.pointer("/x509/clientCAFile");
                    if let Some(ca) = ca {
                        file.client_ca_file =
                            Some(string("authentication.x509.clientCAFile", ca)?.into());
                    }
                    let others = value
                        .as_object()
                        .into_iter()
                        .flatten()
                        .filter(|(k, _)| *k != "x509");
                    file.ignored
                        .extend(others.map(|(k, _)| format!("authentication.{k}")));
                }
                _ => file.ignored.push(name.clone()),
            }
        }
        if !file.ignored.is_empty() {
            tracing::info!(fields = ?file.ignored, "KubeletConfiguration: fields this kubelet does not act on");
        }
        Ok(file)
    }
}
