//! [`CniNetwork`]: pods in network namespaces of their own, wired by real CNI plugins.
//!
//! It does what containerd's CRI plugin does with `go-cni` for every sandbox, following the
//! CNI specification 1.0:
//!
//! - a network namespace per sandbox ([`NetNs`], `<run dir>/netns/<sandbox id>`);
//! - the `loopback` plugin on `lo` (run on its own, as the kubelet and containerd do);
//! - the network configuration list ([`pod_conflist`], built from the pod CIDR) on `eth0`:
//!   `bridge` (a gateway on the node, IP masquerade off unless asked) with `host-local` IPAM
//!   (the pod CIDR, a `dataDir` under the run dir), then `portmap` (`portMappings`
//!   capability, given as `runtimeConfig`). Each plugin gets the previous one's result as
//!   `prevResult`; `DEL` runs the list in reverse order.
//!
//! Plugins are executables found in the plugin directories (by default `/usr/lib/cni`, then
//! `/opt/cni/bin`) and run with `CNI_COMMAND`, `CNI_CONTAINERID`, `CNI_NETNS`, `CNI_IFNAME`,
//! `CNI_PATH` and `CNI_ARGS` (`K8S_POD_NAMESPACE`, `K8S_POD_NAME`, ...), the configuration on
//! stdin. A plugin's error (the CNI error JSON on stdout) is [`Error::Backend`] with its `msg`.
//!
//! With a *node namespace* ([`CniNetwork::with_node_netns`]) the plugins run in that network
//! namespace instead of the kubelet's, so the bridge, the veth ends and the portmap rules live
//! there: tests use it to leave the host's network alone.
//!
//! Needs root.

use std::collections::HashMap;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use serde_json::{json, Value};
use tokio::io::AsyncWriteExt;

use super::netns::{join_in_child, NetNs};
use super::{NetworkPlugin, PodNetwork, PodNetworkConfig, PortMapping};
use crate::error::{Error, Result};

/// The CNI version of the configurations [`CniNetwork`] writes.
pub const CNI_VERSION: &str = "1.0.0";

/// Where CNI plugins are looked for when no directory is given, in order.
pub const DEFAULT_PLUGIN_DIRS: &[&str] = &["/usr/lib/cni", "/opt/cni/bin"];

/// How the pod network list is built ([`pod_conflist`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConflistOptions {
    /// The network's name (the conflist's `name`).
    pub network_name: String,
    /// The bridge's name on the node.
    pub bridge: String,
    /// The pod CIDR (host-local's `subnet`).
    pub pod_cidr: String,
    /// Where host-local keeps its allocations.
    pub ipam_data_dir: PathBuf,
    /// Masquerade traffic leaving the pod CIDR (bridge `ipMasq`).
    pub ip_masq: bool,
}

/// The network configuration list for pods: `bridge` + `host-local`, then `portmap` (see the
/// [module docs](self)). Public so that other runtimes (a containerd harness) can write the
/// same network.
pub fn pod_conflist(opts: &ConflistOptions) -> Value {
    let default_route = if opts.pod_cidr.contains(':') {
        "::/0"
    } else {
        "0.0.0.0/0"
    };
    json!({
        "cniVersion": CNI_VERSION,
        "name": opts.network_name,
        "plugins": [
            {
                "type": "bridge",
                "bridge": opts.bridge,
                "isGateway": true,
                "ipMasq": opts.ip_masq,
                "hairpinMode": true,
                "ipam": {
                    "type": "host-local",
                    "ranges": [[{ "subnet": opts.pod_cidr }]],
                    "routes": [{ "dst": default_route }],
                    "dataDir": opts.ipam_data_dir,
                }
            },
            {
                "type": "portmap",
                "capabilities": { "portMappings": true },
            }
        ]
    })
}

/// The configuration of the `loopback` plugin, run on `lo` of every pod.
pub fn loopback_config() -> Value {
    json!({ "cniVersion": CNI_VERSION, "name": "cni-loopback", "type": "loopback" })
}

/// The IPs of a CNI result (`ips[].address`, without the prefix length).
pub fn result_ips(result: &Value) -> Vec<IpAddr> {
    result
        .get("ips")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|ip| ip.get("address")?.as_str())
        .filter_map(|addr| addr.split('/').next()?.parse().ok())
        .collect()
}

/// One plugin invocation, as [`CniNetwork`] would exec it: what a [`CniExec`] is given.
#[derive(Clone, Debug, PartialEq)]
pub struct CniInvocation {
    /// `CNI_COMMAND`: `ADD`, `DEL` or `CHECK`.
    pub command: String,
    /// The plugin (the configuration's `type`).
    pub plugin: String,
    /// `CNI_CONTAINERID`: the sandbox id.
    pub container_id: String,
    /// `CNI_NETNS`; `None` (empty) for a `DEL` whose namespace is gone.
    pub netns: Option<PathBuf>,
    /// `CNI_IFNAME`.
    pub ifname: String,
    /// `CNI_ARGS`.
    pub args: String,
    /// The configuration on stdin (with `name`, `cniVersion` and any `prevResult`).
    pub config: Value,
}

/// Runs CNI plugins in place of executing them: a seam for tests, which record the
/// invocations and answer them ([`CniNetwork::with_exec`]).
#[async_trait]
pub trait CniExec: Send + Sync + 'static {
    /// Runs one plugin; returns its result (`Null` for none). A failing plugin is
    /// [`Error::Backend`].
    async fn exec(&self, invocation: &CniInvocation) -> Result<Value>;
}

/// A sandbox's network as set up.
#[derive(Clone, Debug)]
struct Attachment {
    netns: NetNs,
    conflist: Value,
    /// The result of the last plugin's `ADD`.
    result: Value,
}

struct Inner {
    plugin_dirs: Vec<PathBuf>,
    run_dir: PathBuf,
    node_netns: Option<NetNs>,
    network_name: String,
    bridge: String,
    ip_masq: bool,
    default_cidr: String,
    exec: Option<Arc<dyn CniExec>>,
    attachments: Mutex<HashMap<String, Attachment>>,
}

/// The CNI network plugin (see the [module docs](self)). Cloning shares it.
#[derive(Clone)]
pub struct CniNetwork {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for CniNetwork {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CniNetwork")
            .field("plugin_dirs", &self.inner.plugin_dirs)
            .field("run_dir", &self.inner.run_dir)
            .field("node_netns", &self.inner.node_netns)
            .field("bridge", &self.inner.bridge)
            .finish_non_exhaustive()
    }
}

impl CniNetwork {
    /// The name [`NetworkPlugin::name`] reports.
    pub const NAME: &'static str = "cni";
    /// The CIDR used for pods without a pod CIDR (containerd's default).
    pub const DEFAULT_POD_CIDR: &'static str = "10.88.0.0/16";

    /// A network keeping its namespaces and IPAM state under `run_dir`, with plugins from
    /// [`DEFAULT_PLUGIN_DIRS`], the network `kernel-pods` on the bridge `kernel0`.
    pub fn new(run_dir: impl Into<PathBuf>) -> CniNetwork {
        CniNetwork {
            inner: Arc::new(Inner {
                plugin_dirs: DEFAULT_PLUGIN_DIRS.iter().map(PathBuf::from).collect(),
                run_dir: run_dir.into(),
                node_netns: None,
                network_name: "kernel-pods".into(),
                bridge: "kernel0".into(),
                ip_masq: false,
                default_cidr: Self::DEFAULT_POD_CIDR.into(),
                exec: None,
                attachments: Mutex::default(),
            }),
        }
    }

    fn edit(mut self, f: impl FnOnce(&mut Inner)) -> CniNetwork {
        let inner =
            Arc::get_mut(&mut self.inner).expect("configure a CniNetwork before cloning it");
        f(inner);
        self
    }

    /// Looks for plugins in these directories instead, in order.
    pub fn with_plugin_dirs(self, dirs: Vec<PathBuf>) -> CniNetwork {
        self.edit(|i| i.plugin_dirs = dirs)
    }

    /// Runs the plugins in this network namespace instead of the kubelet's (see the
    /// [module docs](self)).
    pub fn with_node_netns(self, netns: NetNs) -> CniNetwork {
        self.edit(|i| i.node_netns = Some(netns))
    }

    /// Runs plugins through `exec` instead of executing them (tests).
    pub fn with_exec(self, exec: Arc<dyn CniExec>) -> CniNetwork {
        self.edit(|i| i.exec = Some(exec))
    }

    /// Another bridge name.
    pub fn with_bridge(self, bridge: impl Into<String>) -> CniNetwork {
        self.edit(|i| i.bridge = bridge.into())
    }

    /// Masquerades traffic leaving the pod CIDR (bridge `ipMasq`).
    pub fn with_ip_masq(self, ip_masq: bool) -> CniNetwork {
        self.edit(|i| i.ip_masq = ip_masq)
    }

    /// Another CIDR for pods without a pod CIDR.
    pub fn with_default_cidr(self, cidr: impl Into<String>) -> CniNetwork {
        self.edit(|i| i.default_cidr = cidr.into())
    }

    /// The bridge's name.
    pub fn bridge(&self) -> &str {
        &self.inner.bridge
    }

    /// The first plugin directory that holds `plugin`, if any (e.g. to check that the
    /// plugins are installed).
    pub fn find_plugin(&self, plugin: &str) -> Option<PathBuf> {
        self.inner
            .plugin_dirs
            .iter()
            .map(|d| d.join(plugin))
            .find(|p| p.is_file())
    }

    /// The conflist a pod with this pod CIDR is wired with.
    pub fn conflist(&self, pod_cidr: Option<&str>) -> Value {
        pod_conflist(&ConflistOptions {
            network_name: self.inner.network_name.clone(),
            bridge: self.inner.bridge.clone(),
            pod_cidr: pod_cidr.unwrap_or(&self.inner.default_cidr).to_owned(),
            ipam_data_dir: self.inner.run_dir.join("ipam"),
            ip_masq: self.inner.ip_masq,
        })
    }

    fn netns_path(&self, sandbox_id: &str) -> PathBuf {
        self.inner.run_dir.join("netns").join(sandbox_id)
    }

    fn attachment(&self, sandbox_id: &str) -> Option<Attachment> {
        self.inner
            .attachments
            .lock()
            .expect("CNI state poisoned")
            .get(sandbox_id)
            .cloned()
    }

    /// Runs one plugin: `config` is its configuration (with `name`, `cniVersion` and any
    /// `prevResult`). Returns its result (`Null` when it prints none, as `DEL` does).
    async fn exec(
        &self,
        command: &str,
        config: &Value,
        pod: &PodNetworkConfig,
        netns: Option<&Path>,
        ifname: &str,
    ) -> Result<Value> {
        let plugin = config
            .get("type")
            .and_then(Value::as_str)
            .ok_or_else(|| Error::Backend("CNI configuration without a type".into()))?;
        let args = format!(
            "IgnoreUnknown=1;K8S_POD_NAMESPACE={};K8S_POD_NAME={};K8S_POD_INFRA_CONTAINER_ID={};K8S_POD_UID={}",
            pod.namespace, pod.name, pod.sandbox_id, pod.uid
        );
        if let Some(exec) = &self.inner.exec {
            return exec
                .exec(&CniInvocation {
                    command: command.to_owned(),
                    plugin: plugin.to_owned(),
                    container_id: pod.sandbox_id.clone(),
                    netns: netns.map(Path::to_owned),
                    ifname: ifname.to_owned(),
                    args,
                    config: config.clone(),
                })
                .await;
        }
        let binary = self.find_plugin(plugin).ok_or_else(|| {
            Error::Backend(format!(
                "CNI plugin {plugin:?} not found in {:?}",
                self.inner.plugin_dirs
            ))
        })?;
        let cni_path = std::env::join_paths(&self.inner.plugin_dirs)
            .map_err(|e| Error::Backend(format!("CNI_PATH: {e}")))?;
        let mut cmd = tokio::process::Command::new(&binary);
        cmd.env_clear()
            .env("CNI_COMMAND", command)
            .env("CNI_CONTAINERID", &pod.sandbox_id)
            .env("CNI_NETNS", netns.map(Path::as_os_str).unwrap_or_default())
            .env("CNI_IFNAME", ifname)
            .env("CNI_PATH", cni_path)
            .env("CNI_ARGS", args)
            .env(
                "PATH",
                std::env::var_os("PATH").unwrap_or_else(|| {
                    "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".into()
                }),
            )
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        if let Some(node) = &self.inner.node_netns {
            join_in_child(&mut cmd, node)?;
        }
        let mut child = cmd.spawn().map_err(|source| Error::Io {
            context: format!("running CNI plugin {}", binary.display()),
            source,
        })?;
        let input = serde_json::to_vec(config).expect("JSON values serialize");
        if let Some(mut stdin) = child.stdin.take() {
            // A plugin that exits without reading is reported by its status below.
            let _ = stdin.write_all(&input).await;
        }
        let out = child.wait_with_output().await.map_err(|source| Error::Io {
            context: format!("waiting for CNI plugin {plugin}"),
            source,
        })?;
        let stdout: Value = if out.stdout.iter().all(u8::is_ascii_whitespace) {
            Value::Null
        } else {
            serde_json::from_slice(&out.stdout).unwrap_or(Value::Null)
        };
        if !out.status.success() {
            let msg = stdout
                .get("msg")
                .and_then(Value::as_str)
                .map(str::to_owned)
                .unwrap_or_else(|| String::from_utf8_lossy(&out.stderr).trim().to_owned());
            let details = stdout
                .get("details")
                .and_then(Value::as_str)
                .filter(|d| !d.is_empty())
                .map(|d| format!(" ({d})"))
                .unwrap_or_default();
            return Err(Error::Backend(format!(
                "CNI plugin {plugin} {command} for sandbox {}: {msg}{details}",
                pod.sandbox_id
            )));
        }
        tracing::debug!(plugin, command, sandbox = %pod.sandbox_id, "CNI plugin done");
        Ok(stdout)
    }

    /// Runs the list's plugins for `command` (`ADD` and `CHECK` in order, `DEL` reversed),
    /// chaining results as `prevResult`. Returns the last result.
    async fn exec_list(
        &self,
        command: &str,
        conflist: &Value,
        prev: Option<&Value>,
        pod: &PodNetworkConfig,
        netns: Option<&Path>,
    ) -> Result<Value> {
        let mut plugins: Vec<Value> = conflist
            .get("plugins")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        if command == "DEL" {
            plugins.reverse();
        }
        let mut prev = prev.cloned();
        let mut first_err = None;
        for mut plugin in plugins {
            let obj = plugin.as_object_mut().ok_or_else(|| {
                Error::Backend("CNI plugin configuration is not an object".into())
            })?;
            obj.insert("name".into(), conflist["name"].clone());
            obj.insert("cniVersion".into(), conflist["cniVersion"].clone());
            if let Some(prev) = &prev {
                obj.insert("prevResult".into(), prev.clone());
            }
            let wants_ports = obj
                .get("capabilities")
                .and_then(|c| c.get("portMappings"))
                .and_then(Value::as_bool)
                .unwrap_or(false);
            if wants_ports && !pod.port_mappings.is_empty() {
                obj.insert(
                    "runtimeConfig".into(),
                    json!({ "portMappings": pod.port_mappings.iter().map(port_mapping).collect::<Vec<_>>() }),
                );
            }
            match self.exec(command, &plugin, pod, netns, "eth0").await {
                Ok(result) if command == "ADD" => prev = Some(result),
                Ok(_) => {}
                // DEL goes on through the list and reports the first error.
                Err(err) if command == "DEL" => {
                    first_err.get_or_insert(err);
                }
                Err(err) => return Err(err),
            }
        }
        match first_err {
            Some(err) => Err(err),
            None => Ok(prev.unwrap_or(Value::Null)),
        }
    }
}

fn port_mapping(p: &PortMapping) -> Value {
    let mut v = json!({
        "hostPort": p.host_port,
        "containerPort": p.container_port,
        "protocol": if p.protocol.is_empty() { "tcp".to_owned() } else { p.protocol.to_lowercase() },
    });
    if let Some(ip) = &p.host_ip {
        v["hostIP"] = json!(ip);
    }
    v
}

async fn blocking<T: Send + 'static>(f: impl FnOnce() -> Result<T> + Send + 'static) -> Result<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| Error::Backend(format!("network namespace task: {e}")))?
}

#[async_trait]
impl NetworkPlugin for CniNetwork {
    fn name(&self) -> &str {
        Self::NAME
    }

    async fn set_up(&self, pod: &PodNetworkConfig) -> Result<PodNetwork> {
        if pod.host_network {
            return Ok(PodNetwork::default());
        }
        if let Some(a) = self.attachment(&pod.sandbox_id) {
            return Ok(PodNetwork {
                ips: result_ips(&a.result),
                netns: Some(a.netns.path().to_owned()),
            });
        }
        let path = self.netns_path(&pod.sandbox_id);
        let netns = blocking(move || NetNs::create(path)).await?;
        let conflist = self.conflist(pod.pod_cidr.as_deref());
        let added = async {
            self.exec("ADD", &loopback_config(), pod, Some(netns.path()), "lo")
                .await?;
            self.exec_list("ADD", &conflist, None, pod, Some(netns.path()))
                .await
        }
        .await;
        let result = match added {
            Ok(result) => result,
            Err(err) => {
                // Undo what was made; the ADD's error is what matters.
                let _ = self
                    .exec_list("DEL", &conflist, None, pod, Some(netns.path()))
                    .await;
                let path = netns.path().to_owned();
                let _ = blocking(move || NetNs::remove(&path)).await;
                return Err(err);
            }
        };
        let ips = result_ips(&result);
        tracing::info!(sandbox = %pod.sandbox_id, ?ips, netns = %netns.path().display(), "pod network set up");
        let network = PodNetwork {
            ips,
            netns: Some(netns.path().to_owned()),
        };
        self.inner
            .attachments
            .lock()
            .expect("CNI state poisoned")
            .insert(
                pod.sandbox_id.clone(),
                Attachment {
                    netns,
                    conflist,
                    result,
                },
            );
        Ok(network)
    }

    async fn tear_down(&self, pod: &PodNetworkConfig) -> Result<()> {
        if pod.host_network {
            return Ok(());
        }
        let attachment = self.attachment(&pod.sandbox_id);
        let (netns, conflist, prev) = match attachment {
            Some(a) => (a.netns, a.conflist, Some(a.result)),
            // Unknown (e.g. made before a restart): DEL from the pod's config, as CNI allows.
            None => (
                NetNs::at(self.netns_path(&pod.sandbox_id)),
                self.conflist(pod.pod_cidr.as_deref()),
                None,
            ),
        };
        let ns_path = netns.exists().then(|| netns.path().to_owned());
        self.exec_list("DEL", &conflist, prev.as_ref(), pod, ns_path.as_deref())
            .await?;
        if ns_path.is_some() {
            self.exec("DEL", &loopback_config(), pod, ns_path.as_deref(), "lo")
                .await?;
        }
        let path = netns.path().to_owned();
        blocking(move || NetNs::remove(&path)).await?;
        self.inner
            .attachments
            .lock()
            .expect("CNI state poisoned")
            .remove(&pod.sandbox_id);
        tracing::info!(sandbox = %pod.sandbox_id, "pod network torn down");
        Ok(())
    }

    async fn check(&self, pod: &PodNetworkConfig) -> Result<()> {
        if pod.host_network {
            return Ok(());
        }
        let a = self
            .attachment(&pod.sandbox_id)
            .ok_or_else(|| Error::NotFound {
                kind: "pod network",
                id: pod.sandbox_id.clone(),
            })?;
        if !a.netns.exists() {
            return Err(Error::Backend(format!(
                "network namespace {} of sandbox {} is gone",
                a.netns.path().display(),
                pod.sandbox_id
            )));
        }
        self.exec_list(
            "CHECK",
            &a.conflist,
            Some(&a.result),
            pod,
            Some(a.netns.path()),
        )
        .await
        .map(drop)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_conflist_follows_the_pod_cidr() {
        let list = pod_conflist(&ConflistOptions {
            network_name: "n".into(),
            bridge: "br9".into(),
            pod_cidr: "10.7.0.0/24".into(),
            ipam_data_dir: "/run/x/ipam".into(),
            ip_masq: false,
        });
        assert_eq!(list["cniVersion"], CNI_VERSION);
        let bridge = &list["plugins"][0];
        assert_eq!(bridge["type"], "bridge");
        assert_eq!(bridge["bridge"], "br9");
        assert_eq!(bridge["isGateway"], true);
        assert_eq!(bridge["ipMasq"], false);
        assert_eq!(bridge["ipam"]["type"], "host-local");
        assert_eq!(bridge["ipam"]["ranges"][0][0]["subnet"], "10.7.0.0/24");
        assert_eq!(bridge["ipam"]["dataDir"], "/run/x/ipam");
        assert_eq!(list["plugins"][1]["type"], "portmap");
        assert_eq!(list["plugins"][1]["capabilities"]["portMappings"], true);
    }

    #[test]
    fn result_ips_drop_the_prefix() {
        let result = json!({"cniVersion": "1.0.0", "ips": [
            {"address": "10.7.0.2/24", "gateway": "10.7.0.1", "interface": 2},
            {"address": "fd00::2/64"}
        ]});
        assert_eq!(
            result_ips(&result),
            vec![
                "10.7.0.2".parse::<IpAddr>().unwrap(),
                "fd00::2".parse().unwrap()
            ]
        );
        assert!(result_ips(&Value::Null).is_empty());
    }

    /// Records invocations; `bridge` ADD answers an IP, others echo `prevResult`; plugins
    /// named in `failing` fail.
    #[derive(Default)]
    struct Recorder {
        calls: Mutex<Vec<CniInvocation>>,
        failing: Vec<&'static str>,
    }

    #[async_trait]
    impl CniExec for Recorder {
        async fn exec(&self, inv: &CniInvocation) -> Result<Value> {
            self.calls.lock().unwrap().push(inv.clone());
            if self.failing.contains(&inv.plugin.as_str()) {
                return Err(Error::Backend(format!("{} failed", inv.plugin)));
            }
            Ok(match (inv.command.as_str(), inv.plugin.as_str()) {
                ("ADD", "bridge") => {
                    json!({"cniVersion": CNI_VERSION, "ips": [{"address": "10.5.0.9/24"}]})
                }
                ("ADD", _) => inv.config.get("prevResult").cloned().unwrap_or(Value::Null),
                _ => Value::Null,
            })
        }
    }

    fn recorded(failing: Vec<&'static str>) -> (Arc<Recorder>, CniNetwork) {
        let rec = Arc::new(Recorder {
            failing,
            ..Default::default()
        });
        let net = CniNetwork::new("/nonexistent/run").with_exec(rec.clone());
        (rec, net)
    }

    fn ports_pod() -> PodNetworkConfig {
        PodNetworkConfig {
            sandbox_id: "sb1".into(),
            name: "web".into(),
            namespace: "ns".into(),
            uid: "u1".into(),
            pod_cidr: Some("10.5.0.0/24".into()),
            host_network: false,
            port_mappings: vec![PortMapping {
                host_port: 8080,
                container_port: 80,
                protocol: "TCP".into(),
                host_ip: None,
            }],
        }
    }

    #[tokio::test]
    async fn add_chains_prev_results_and_gives_port_mappings_to_portmap_only() {
        let (rec, net) = recorded(vec![]);
        let pod = ports_pod();
        let conflist = net.conflist(pod.pod_cidr.as_deref());
        let result = net
            .exec_list("ADD", &conflist, None, &pod, Some(Path::new("/run/ns/sb1")))
            .await
            .unwrap();
        assert_eq!(
            result_ips(&result),
            vec!["10.5.0.9".parse::<IpAddr>().unwrap()]
        );
        let calls = rec.calls.lock().unwrap().clone();
        let plugins: Vec<_> = calls.iter().map(|c| c.plugin.as_str()).collect();
        assert_eq!(plugins, ["bridge", "portmap"]);
        let (bridge, portmap) = (&calls[0], &calls[1]);
        assert_eq!(bridge.config["name"], "kernel-pods");
        assert_eq!(bridge.config["cniVersion"], CNI_VERSION);
        assert!(bridge.config.get("prevResult").is_none());
        assert!(bridge.config.get("runtimeConfig").is_none());
        assert_eq!(
            portmap.config["prevResult"]["ips"][0]["address"],
            "10.5.0.9/24"
        );
        assert_eq!(
            portmap.config["runtimeConfig"]["portMappings"],
            json!([{"hostPort": 8080, "containerPort": 80, "protocol": "tcp"}])
        );
        for c in &calls {
            assert_eq!(c.container_id, "sb1");
            assert_eq!(c.ifname, "eth0");
            assert_eq!(c.netns.as_deref(), Some(Path::new("/run/ns/sb1")));
            assert!(
                c.args.contains("K8S_POD_NAMESPACE=ns;K8S_POD_NAME=web;"),
                "{}",
                c.args
            );
        }
    }

    #[tokio::test]
    async fn del_runs_in_reverse_goes_on_after_an_error_and_reports_it() {
        let (rec, net) = recorded(vec!["portmap"]);
        let pod = ports_pod();
        let conflist = net.conflist(pod.pod_cidr.as_deref());
        let prev = json!({"cniVersion": CNI_VERSION, "ips": [{"address": "10.5.0.9/24"}]});
        let err = net
            .exec_list("DEL", &conflist, Some(&prev), &pod, None)
            .await
            .unwrap_err();
        assert!(err.to_string().contains("portmap failed"), "{err}");
        let calls = rec.calls.lock().unwrap().clone();
        let plugins: Vec<_> = calls.iter().map(|c| c.plugin.as_str()).collect();
        assert_eq!(
            plugins,
            ["portmap", "bridge"],
            "DEL reversed, and bridge still run"
        );
        assert!(calls.iter().all(|c| c.config["prevResult"] == prev));
        assert!(calls.iter().all(|c| c.netns.is_none()));
    }

    #[tokio::test]
    async fn add_stops_at_the_first_error() {
        let (rec, net) = recorded(vec!["bridge"]);
        let pod = ports_pod();
        let conflist = net.conflist(pod.pod_cidr.as_deref());
        assert!(net
            .exec_list("ADD", &conflist, None, &pod, None)
            .await
            .is_err());
        assert_eq!(
            rec.calls.lock().unwrap().len(),
            1,
            "portmap ran after bridge failed"
        );
    }

    #[tokio::test]
    async fn host_network_pods_run_no_plugin() {
        let (rec, net) = recorded(vec![]);
        let pod = PodNetworkConfig {
            host_network: true,
            ..ports_pod()
        };
        assert_eq!(net.set_up(&pod).await.unwrap(), PodNetwork::default());
        net.tear_down(&pod).await.unwrap();
        assert!(rec.calls.lock().unwrap().is_empty());
    }

    #[tokio::test]
    async fn a_plugin_error_is_the_cni_error_msg() {
        let dir = tempfile::tempdir().unwrap();
        let plugin = dir.path().join("failing");
        std::fs::write(
            &plugin,
            "#!/bin/sh\ncat >/dev/null\necho '{\"cniVersion\":\"1.0.0\",\"code\":11,\"msg\":\"no luck\",\"details\":\"try again\"}'\nexit 1\n",
        )
        .unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&plugin, std::fs::Permissions::from_mode(0o755)).unwrap();
        let net = CniNetwork::new(dir.path().join("run")).with_plugin_dirs(vec![dir.path().into()]);
        let pod = PodNetworkConfig {
            sandbox_id: "sb".into(),
            ..Default::default()
        };
        let config = json!({"cniVersion": "1.0.0", "name": "n", "type": "failing"});
        match net.exec("ADD", &config, &pod, None, "eth0").await {
            Err(Error::Backend(msg)) => {
                assert!(msg.contains("no luck (try again)"), "{msg}");
            }
            other => panic!("want a backend error, got {other:?}"),
        }
        let missing = json!({"cniVersion": "1.0.0", "name": "n", "type": "nope"});
        assert!(matches!(
            net.exec("ADD", &missing, &pod, None, "eth0").await,
            Err(Error::Backend(_))
        ));
    }
}
