//! [`HostNetwork`]: the embedded network, without root.
//!
//! Pods share the host's network namespace (nothing is isolated: every pod sees every port of
//! the host and of every other pod), but each sandbox still gets an IP of its own, taken inside
//! `127.0.0.0/8`. On Linux every address of `127.0.0.0/8` is local (the kernel routes the whole
//! block to `lo`), so a process can bind its pod IP without privileges, two pods can serve the
//! same port on their own IPs, and the IP is reachable from anything on the host. The runtime
//! reports it as the sandbox's IP, so the kubelet publishes it as `status.podIP` and
//! `fieldRef: status.podIP` works.
//!
//! Where the address comes from, given the sandbox's `pod_cidr` (the node's `spec.podCIDR`):
//!
//! - an IPv4 CIDR inside `127.0.0.0/8` (prefix length 8 or more) is used as it is;
//! - any other IPv4 CIDR with a prefix length of 8 or more is shifted into `127.0.0.0/8` by
//!   replacing its first octet with 127 (`10.244.1.0/24` → `127.244.1.0/24`), so nodes with
//!   distinct pod CIDRs keep distinct pod IPs when several kubelets share one host;
//! - no CIDR, an IPv6 one, a shorter prefix or one that does not parse: the network's default
//!   CIDR, [`HostNetwork::DEFAULT_POD_CIDR`] (`127.64.0.0/16`) unless given to
//!   [`HostNetwork::with_default_cidr`].
//!
//! Allocation, as CNI's `host-local` IPAM does it: never the network address, never the
//! broadcast address, never the first address after the network (host-local's gateway), never
//! `127.0.0.1`; unique among the live sandboxes of every runtime sharing this `HostNetwork`
//! (it is a cheap `Clone` of one shared allocator); handed out round-robin from the last
//! allocation, so a released IP is not reused at once; released when the sandbox stops.
//!
//! `hostNetwork: true` sandboxes get no IP of their own: the runtime reports `None`, and the
//! kubelet publishes the node's address as `status.podIP`, as upstream does.
//!
//! Linux only: elsewhere (macOS) only `127.0.0.1` is configured on the loopback interface.

use std::net::{IpAddr, Ipv4Addr};

use async_trait::async_trait;

use super::ipam::{Ipam, Subnet};
use super::{NetworkPlugin, PodNetwork, PodNetworkConfig};
use crate::error::{Error, Result};

/// `pod_cidr` as an IPv4 subnet inside `127.0.0.0/8` with a prefix length of 8 to 30.
fn loopback_subnet(s: &str) -> Option<Subnet> {
    let (addr, prefix) = s.trim().split_once('/')?;
    let addr: Ipv4Addr = addr.parse().ok()?;
    let prefix: u8 = prefix.parse().ok()?;
    if !(8..=30).contains(&prefix) {
        return None;
    }
    let mut octets = addr.octets();
    octets[0] = 127;
    Subnet::new(IpAddr::V4(Ipv4Addr::from(octets)), prefix)
}

/// The embedded network: pod IPs in `127.0.0.0/8` on the host's network namespace (see the
/// [module docs](self)). Cloning shares the allocator.
#[derive(Clone, Debug)]
pub struct HostNetwork {
    default_cidr: Subnet,
    ipam: Ipam,
}

impl Default for HostNetwork {
    fn default() -> Self {
        Self::new()
    }
}

impl HostNetwork {
    /// The CIDR used when a sandbox's pod CIDR is missing or unusable.
    pub const DEFAULT_POD_CIDR: &'static str = "127.64.0.0/16";

    /// The name [`NetworkPlugin::name`] reports.
    pub const NAME: &'static str = "host";

    /// A network whose default CIDR is [`DEFAULT_POD_CIDR`](Self::DEFAULT_POD_CIDR).
    pub fn new() -> Self {
        Self::with_default_cidr(Self::DEFAULT_POD_CIDR).expect("the default CIDR is valid")
    }

    /// A network with another default CIDR: IPv4 with a prefix length of 8 to 30, shifted into
    /// `127.0.0.0/8` as a sandbox's CIDR is. Anything else is [`Error::InvalidState`].
    pub fn with_default_cidr(cidr: &str) -> Result<Self> {
        let default_cidr = loopback_subnet(cidr).ok_or_else(|| {
            Error::InvalidState(format!(
                "default pod CIDR {cidr:?}: want an IPv4 CIDR with a prefix length of 8 to 30"
            ))
        })?;
        Ok(HostNetwork {
            default_cidr,
            ipam: Ipam::new().exclude(IpAddr::V4(Ipv4Addr::LOCALHOST)),
        })
    }

    /// The CIDR addresses for a sandbox with this pod CIDR come from (see the module docs), as
    /// `a.b.c.d/n`.
    pub fn effective_cidr(&self, pod_cidr: Option<&str>) -> String {
        self.cidr_for(pod_cidr).to_string()
    }

    fn cidr_for(&self, pod_cidr: Option<&str>) -> Subnet {
        pod_cidr
            .and_then(loopback_subnet)
            .unwrap_or(self.default_cidr)
    }

    /// Gives `owner` (a sandbox id) an address from the CIDR for `pod_cidr`. Idempotent: an
    /// owner that has one gets the same one back. A CIDR with no free address is
    /// [`Error::Backend`].
    pub fn allocate(&self, owner: &str, pod_cidr: Option<&str>) -> Result<Ipv4Addr> {
        match self.ipam.allocate(owner, self.cidr_for(pod_cidr))? {
            IpAddr::V4(ip) => Ok(ip),
            IpAddr::V6(ip) => unreachable!("IPv6 address {ip} from an IPv4 subnet"),
        }
    }

    /// Releases `owner`'s address, if it has one; returns it. Idempotent.
    pub fn release(&self, owner: &str) -> Option<Ipv4Addr> {
        self.ipam.release(owner).and_then(v4)
    }

    /// `owner`'s address, if it has one.
    pub fn ip_of(&self, owner: &str) -> Option<Ipv4Addr> {
        self.ipam.ip_of(owner).and_then(v4)
    }

    /// How many addresses are allocated.
    pub fn allocated(&self) -> usize {
        self.ipam.allocated()
    }
}

fn v4(ip: IpAddr) -> Option<Ipv4Addr> {
    match ip {
        IpAddr::V4(ip) => Some(ip),
        IpAddr::V6(_) => None,
    }
}

#[async_trait]
impl NetworkPlugin for HostNetwork {
    fn name(&self) -> &str {
        Self::NAME
    }

    async fn set_up(&self, pod: &PodNetworkConfig) -> Result<PodNetwork> {
        if pod.host_network {
            return Ok(PodNetwork::default());
        }
        let ip = self.allocate(&pod.sandbox_id, pod.pod_cidr.as_deref())?;
        Ok(PodNetwork {
            ips: vec![IpAddr::V4(ip)],
            netns: None,
        })
    }

    async fn tear_down(&self, pod: &PodNetworkConfig) -> Result<()> {
        self.release(&pod.sandbox_id);
        Ok(())
    }

    async fn check(&self, pod: &PodNetworkConfig) -> Result<()> {
        if pod.host_network || self.ip_of(&pod.sandbox_id).is_some() {
            Ok(())
        } else {
            Err(Error::NotFound {
                kind: "pod network",
                id: pod.sandbox_id.clone(),
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cidrs_are_taken_inside_127_8() {
        let net = HostNetwork::new();
        assert_eq!(net.effective_cidr(None), "127.64.0.0/16");
        assert_eq!(net.effective_cidr(Some("127.10.3.0/24")), "127.10.3.0/24");
        assert_eq!(net.effective_cidr(Some("10.244.1.0/24")), "127.244.1.0/24");
        assert_eq!(net.effective_cidr(Some("10.244.1.7/24")), "127.244.1.0/24");
        assert_eq!(net.effective_cidr(Some("10.0.0.0/7")), "127.64.0.0/16");
        assert_eq!(net.effective_cidr(Some("fd00::/64")), "127.64.0.0/16");
        assert_eq!(net.effective_cidr(Some("garbage")), "127.64.0.0/16");
        assert_eq!(net.effective_cidr(Some("10.1.2.3/32")), "127.64.0.0/16");
        assert!(HostNetwork::with_default_cidr("127.0.0.0/31").is_err());
        assert!(HostNetwork::with_default_cidr("::1/128").is_err());
    }

    #[test]
    fn allocation_is_unique_skips_reserved_and_is_released() {
        let net = HostNetwork::new();
        let a = net.allocate("a", Some("10.9.9.0/29")).unwrap();
        let b = net.allocate("b", Some("10.9.9.0/29")).unwrap();
        // .0 network, .1 gateway, .7 broadcast are never handed out.
        assert_eq!(a, Ipv4Addr::new(127, 9, 9, 2));
        assert_eq!(b, Ipv4Addr::new(127, 9, 9, 3));
        assert_eq!(
            net.allocate("a", Some("10.9.9.0/29")).unwrap(),
            a,
            "idempotent"
        );
        for owner in ["c", "d", "e"] {
            net.allocate(owner, Some("10.9.9.0/29")).unwrap();
        }
        assert!(matches!(
            net.allocate("f", Some("10.9.9.0/29")),
            Err(Error::Backend(_))
        ));
        assert_eq!(net.release("b"), Some(b));
        assert_eq!(net.release("b"), None, "idempotent");
        assert_eq!(net.ip_of("b"), None);
        assert_eq!(net.allocate("f", Some("10.9.9.0/29")).unwrap(), b);
        assert_eq!(net.allocated(), 5);
    }

    #[test]
    fn never_hands_out_localhost() {
        let net = HostNetwork::with_default_cidr("127.0.0.0/29").unwrap();
        // 127.0.0.1 is that CIDR's gateway address: 5 of its 8 addresses are usable.
        let ips: Vec<_> = (0..5)
            .map(|i| net.allocate(&i.to_string(), None).unwrap())
            .collect();
        assert!(!ips.contains(&Ipv4Addr::LOCALHOST));
        assert!(net.allocate("x", None).is_err());
    }

    #[test]
    fn clones_share_the_allocator() {
        let net = HostNetwork::new();
        let other = net.clone();
        assert_ne!(
            net.allocate("a", None).unwrap(),
            other.allocate("b", None).unwrap()
        );
        assert_eq!(other.ip_of("a"), net.ip_of("a"));
    }

    /// Two pod IPs serve the same port: the point of giving each pod an address in 127/8.
    #[tokio::test]
    async fn two_pod_ips_bind_the_same_port_without_root() {
        let net = HostNetwork::new();
        let a = net.allocate("a", None).unwrap();
        let b = net.allocate("b", None).unwrap();
        assert_ne!(a, b);
        let la = tokio::net::TcpListener::bind((a, 0)).await.unwrap();
        let port = la.local_addr().unwrap().port();
        let lb = tokio::net::TcpListener::bind((b, port)).await.unwrap();
        assert_eq!(lb.local_addr().unwrap().ip(), std::net::IpAddr::V4(b));
        // Each is reachable on its own address.
        let (conn, accepted) = tokio::join!(tokio::net::TcpStream::connect((b, port)), lb.accept());
        conn.unwrap();
        assert_eq!(accepted.unwrap().0.local_addr().unwrap().ip(), b);
    }
}
