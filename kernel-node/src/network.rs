//! Pod networking: the [`NetworkPlugin`] trait, shaped like CNI, and its implementations.
//!
//! A runtime asks its network plugin for a sandbox's network when it makes the sandbox
//! ([`NetworkPlugin::set_up`], CNI `ADD`) and gives it back when it stops the sandbox
//! ([`NetworkPlugin::tear_down`], CNI `DEL`), as containerd does for CRI. What the runtime
//! gets is a [`PodNetwork`]: the pod's IPs (the first is `status.podIP`) and, when the plugin
//! isolates pods, the network namespace the sandbox's processes must join.
//!
//! - [`HostNetwork`] ([`host`]): the embedded default, no root: pods share the host's network
//!   namespace and each gets an address of its own in `127.0.0.0/8`.
//! - [`CniNetwork`] ([`cni`]): real CNI plugins (`bridge`, `host-local`, `loopback`,
//!   `portmap`) in a network namespace per pod; needs root.
//! - [`ipam`]: the one host-local-style allocator [`HostNetwork`] and the simulated runtime
//!   share.
//! - [`netns`]: named network namespaces (as `ip netns add` makes them).
//! - `testsuite` (feature `testsuite`): the conformance suite every plugin passes.
//!
//! # Contract
//!
//! - `set_up` of a `host_network` pod gives no IP and no namespace: the pod uses the node's.
//! - Otherwise `set_up` gives at least one IP, inside the pod CIDR when the plugin takes
//!   addresses from it, unique among the pods the plugin has set up and not torn down.
//! - `set_up` again for a sandbox already set up gives the same network (idempotent).
//! - `tear_down` releases everything `set_up` made; it is idempotent and succeeds for a sandbox
//!   never set up (CNI `DEL` semantics), so a runtime can call it on every stop.
//! - `check` succeeds while the sandbox's network is as `set_up` left it, and fails (at least)
//!   for a sandbox not set up.

use std::net::IpAddr;
use std::path::PathBuf;

use async_trait::async_trait;

use crate::error::Result;

pub mod cni;
pub mod host;
pub mod ipam;
pub mod netns;
#[cfg(feature = "testsuite")]
pub mod testsuite;

pub use cni::CniNetwork;
pub use host::HostNetwork;

/// A port of the pod published on the node (`hostPort`; CNI's `portMappings` capability).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PortMapping {
    /// The port on the node.
    pub host_port: u16,
    /// The port in the pod.
    pub container_port: u16,
    /// `tcp`, `udp` or `sctp` (lower case, as CNI wants it).
    pub protocol: String,
    /// The node address to publish on; `None` for all.
    pub host_ip: Option<String>,
}

/// What the network of one sandbox is made from.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PodNetworkConfig {
    /// The sandbox's id (CNI `CNI_CONTAINERID`).
    pub sandbox_id: String,
    /// The pod's name.
    pub name: String,
    /// The pod's namespace.
    pub namespace: String,
    /// The pod's uid.
    pub uid: String,
    /// The node's pod CIDR (`spec.podCIDR`), where addresses come from, if it has one.
    pub pod_cidr: Option<String>,
    /// `spec.hostNetwork`: the pod uses the node's network; nothing is set up.
    pub host_network: bool,
    /// The pod's host ports.
    pub port_mappings: Vec<PortMapping>,
}

impl PodNetworkConfig {
    /// The network config of the sandbox `sandbox_id` made from `config`.
    pub fn for_sandbox(sandbox_id: &str, config: &crate::runtime::PodSandboxConfig) -> Self {
        PodNetworkConfig {
            sandbox_id: sandbox_id.to_owned(),
            name: config.name.clone(),
            namespace: config.namespace.clone(),
            uid: config.uid.clone(),
            pod_cidr: config.pod_cidr.clone(),
            host_network: config.host_network,
            port_mappings: Vec::new(),
        }
    }
}

/// The network a sandbox got.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PodNetwork {
    /// The pod's addresses; the first is `status.podIP`. Empty for `host_network` pods.
    pub ips: Vec<IpAddr>,
    /// The network namespace (a bind-mounted nsfs file) the sandbox's processes must join;
    /// `None` when they stay in the runtime's own.
    pub netns: Option<PathBuf>,
}

impl PodNetwork {
    /// The pod's primary address (`status.podIP`).
    pub fn ip(&self) -> Option<IpAddr> {
        self.ips.first().copied()
    }
}

/// A pod network: see the [module docs](self) for the contract.
#[async_trait]
pub trait NetworkPlugin: Send + Sync + 'static {
    /// A short name (`host`, `cni`), for logs.
    fn name(&self) -> &str;

    /// Makes the sandbox's network (CNI `ADD`).
    async fn set_up(&self, pod: &PodNetworkConfig) -> Result<PodNetwork>;

    /// Releases the sandbox's network (CNI `DEL`). Idempotent; succeeds for a sandbox never
    /// set up.
    async fn tear_down(&self, pod: &PodNetworkConfig) -> Result<()>;

    /// Checks that the sandbox's network is as `set_up` left it (CNI `CHECK`).
    async fn check(&self, pod: &PodNetworkConfig) -> Result<()>;
}
