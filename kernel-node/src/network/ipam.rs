//! [`Ipam`]: one pod-IP allocator, shaped like CNI's `host-local` IPAM plugin.
//!
//! Used by [`HostNetwork`](super::HostNetwork) and by the simulated runtime
//! ([`SimRuntime`](crate::SimRuntime)); [`CniNetwork`](super::CniNetwork) leaves allocation to
//! the real `host-local` plugin.
//!
//! As `host-local` allocates:
//!
//! - never the network address, never the first address after it (the gateway `host-local`
//!   reserves for the bridge), never the IPv4 broadcast address, never an address
//!   [excluded](Ipam::exclude);
//! - unique among the owners (sandbox ids) of one `Ipam` (clones share it);
//! - round-robin from the last address handed out in that subnet, so a released address is
//!   not reused at once (the first allocation of a subnet is its `.2`);
//! - idempotent per owner: an owner that holds an address gets it back.

use std::collections::{HashMap, HashSet};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::{Arc, Mutex};

use crate::error::{Error, Result};

/// An IPv4 or IPv6 subnet (`10.244.1.0/24`, `fd00::/64`), held as its network address.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Subnet {
    network: u128,
    prefix: u8,
    v6: bool,
}

impl Subnet {
    /// Parses `a.b.c.d/n` or `x::y/n`; host bits are cleared (`10.1.2.3/24` → `10.1.2.0/24`).
    /// `None` when it does not parse or the prefix is too long for the family.
    pub fn parse(s: &str) -> Option<Subnet> {
        let (addr, prefix) = s.trim().split_once('/')?;
        let prefix: u8 = prefix.parse().ok()?;
        let (bits, v6) = match addr.parse::<IpAddr>().ok()? {
            IpAddr::V4(v4) if prefix <= 32 => (u128::from(u32::from(v4)), false),
            IpAddr::V6(v6) if prefix <= 128 => (u128::from(v6), true),
            _ => return None,
        };
        let subnet = Subnet {
            network: 0,
            prefix,
            v6,
        };
        Some(Subnet {
            network: bits & subnet.mask(),
            ..subnet
        })
    }

    /// The subnet of this network address and prefix (host bits cleared).
    pub fn new(addr: IpAddr, prefix: u8) -> Option<Subnet> {
        Subnet::parse(&format!("{addr}/{prefix}"))
    }

    fn width(self) -> u32 {
        if self.v6 {
            128
        } else {
            32
        }
    }

    fn mask(self) -> u128 {
        let host = self.width() - u32::from(self.prefix);
        let all = if self.v6 {
            u128::MAX
        } else {
            u128::from(u32::MAX)
        };
        if host >= 128 {
            0
        } else {
            all & !((1u128 << host) - 1)
        }
    }

    /// The prefix length.
    pub fn prefix(self) -> u8 {
        self.prefix
    }

    /// Whether this is an IPv6 subnet.
    pub fn is_ipv6(self) -> bool {
        self.v6
    }

    /// The network address.
    pub fn network(self) -> IpAddr {
        self.addr(self.network)
    }

    /// The gateway address `host-local` reserves: the network address + 1.
    pub fn gateway(self) -> IpAddr {
        self.addr(self.network + 1)
    }

    /// Whether `ip` is inside the subnet.
    pub fn contains(self, ip: IpAddr) -> bool {
        match (ip, self.v6) {
            (IpAddr::V4(v4), false) => u128::from(u32::from(v4)) & self.mask() == self.network,
            (IpAddr::V6(v6), true) => u128::from(v6) & self.mask() == self.network,
            _ => false,
        }
    }

    /// The first and last address handed out (network + 2 ..= broadcast - 1 in IPv4, the
    /// last address in IPv6), if there is any.
    fn usable(self) -> Option<(u128, u128)> {
        let host = self.width() - u32::from(self.prefix);
        let last_offset = if host >= 128 {
            u128::MAX
        } else {
            (1u128 << host) - 1
        };
        let last_offset = if self.v6 {
            last_offset
        } else {
            last_offset.checked_sub(1)?
        };
        (last_offset >= 2).then(|| (self.network + 2, self.network + last_offset))
    }

    fn addr(self, bits: u128) -> IpAddr {
        if self.v6 {
            IpAddr::V6(Ipv6Addr::from(bits))
        } else {
            IpAddr::V4(Ipv4Addr::from(bits as u32))
        }
    }
}

impl std::fmt::Display for Subnet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.network(), self.prefix)
    }
}

impl std::str::FromStr for Subnet {
    type Err = Error;

    fn from_str(s: &str) -> Result<Subnet> {
        Subnet::parse(s).ok_or_else(|| Error::InvalidState(format!("invalid subnet {s:?}")))
    }
}

#[derive(Debug, Default)]
struct State {
    /// Allocated address → owner.
    by_ip: HashMap<IpAddr, String>,
    /// Owner → its address.
    by_owner: HashMap<String, IpAddr>,
    /// Per subnet, the last address handed out.
    last: HashMap<Subnet, u128>,
    /// Never handed out.
    excluded: HashSet<IpAddr>,
}

/// The allocator (see the [module docs](self)). Cloning shares it.
#[derive(Clone, Debug, Default)]
pub struct Ipam {
    state: Arc<Mutex<State>>,
}

impl Ipam {
    /// An allocator with nothing allocated.
    pub fn new() -> Ipam {
        Ipam::default()
    }

    /// Never hands out `ip` (e.g. `127.0.0.1`).
    pub fn exclude(self, ip: IpAddr) -> Ipam {
        self.lock().excluded.insert(ip);
        self
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().expect("IPAM state poisoned")
    }

    /// Gives `owner` an address of `subnet` (or the one it holds). A subnet without a free
    /// address is [`Error::Backend`].
    pub fn allocate(&self, owner: &str, subnet: Subnet) -> Result<IpAddr> {
        let mut state = self.lock();
        if let Some(ip) = state.by_owner.get(owner) {
            return Ok(*ip);
        }
        let (first, last) = subnet
            .usable()
            .ok_or_else(|| Error::Backend(format!("pod CIDR {subnet} has no usable address")))?;
        let start =
            state
                .last
                .get(&subnet)
                .map_or(first, |&prev| if prev >= last { first } else { prev + 1 });
        let mut candidate = start;
        loop {
            let ip = subnet.addr(candidate);
            if !state.excluded.contains(&ip) && !state.by_ip.contains_key(&ip) {
                state.by_ip.insert(ip, owner.to_owned());
                state.by_owner.insert(owner.to_owned(), ip);
                state.last.insert(subnet, candidate);
                tracing::debug!(owner, %ip, %subnet, "pod IP allocated");
                return Ok(ip);
            }
            candidate = if candidate >= last {
                first
            } else {
                candidate + 1
            };
            if candidate == start {
                return Err(Error::Backend(format!(
                    "pod CIDR {subnet} is exhausted ({} addresses in use)",
                    state
                        .by_ip
                        .keys()
                        .filter(|ip| subnet.contains(**ip))
                        .count()
                )));
            }
        }
    }

    /// Releases `owner`'s address, if it has one; returns it. Idempotent.
    pub fn release(&self, owner: &str) -> Option<IpAddr> {
        let mut state = self.lock();
        let ip = state.by_owner.remove(owner)?;
        state.by_ip.remove(&ip);
        tracing::debug!(owner, %ip, "pod IP released");
        Some(ip)
    }

    /// `owner`'s address, if it has one.
    pub fn ip_of(&self, owner: &str) -> Option<IpAddr> {
        self.lock().by_owner.get(owner).copied()
    }

    /// How many addresses are allocated.
    pub fn allocated(&self) -> usize {
        self.lock().by_ip.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn subnets_parse_and_contain() {
        let s = Subnet::parse("10.244.1.7/24").unwrap();
        assert_eq!(s.to_string(), "10.244.1.0/24");
        assert_eq!(s.gateway(), ip("10.244.1.1"));
        assert!(s.contains(ip("10.244.1.255")));
        assert!(!s.contains(ip("10.244.2.0")));
        assert!(!s.contains(ip("fd00::1")));
        assert_eq!(
            Subnet::parse("fd00::5/64").unwrap().to_string(),
            "fd00::/64"
        );
        assert!(Subnet::parse("10.0.0.0/33").is_none());
        assert!(Subnet::parse("garbage").is_none());
        assert!(Subnet::parse("0.0.0.0/0").unwrap().contains(ip("1.2.3.4")));
    }

    #[test]
    fn allocation_skips_reserved_is_unique_and_round_robin() {
        let ipam = Ipam::new();
        let s = Subnet::parse("10.9.9.0/29").unwrap();
        let a = ipam.allocate("a", s).unwrap();
        let b = ipam.allocate("b", s).unwrap();
        assert_eq!((a, b), (ip("10.9.9.2"), ip("10.9.9.3")));
        assert_eq!(ipam.allocate("a", s).unwrap(), a, "idempotent");
        for owner in ["c", "d", "e"] {
            ipam.allocate(owner, s).unwrap();
        }
        // .0, .1 and .7 are never handed out: 5 usable.
        assert!(matches!(ipam.allocate("f", s), Err(Error::Backend(_))));
        assert_eq!(ipam.release("b"), Some(b));
        assert_eq!(ipam.release("b"), None, "idempotent");
        assert_eq!(ipam.allocate("f", s).unwrap(), b);
        assert_eq!(ipam.allocated(), 5);
        // Round-robin: a released address is not the next one handed out.
        ipam.release("c");
        ipam.release("d");
        assert_eq!(ipam.allocate("g", s).unwrap(), ip("10.9.9.4"));
        assert_eq!(ipam.allocate("h", s).unwrap(), ip("10.9.9.5"));
    }

    #[test]
    fn exclusions_and_ipv6() {
        let ipam = Ipam::new().exclude(ip("127.0.0.2"));
        let s = Subnet::parse("127.0.0.0/29").unwrap();
        assert_eq!(ipam.allocate("a", s).unwrap(), ip("127.0.0.3"));
        let v6 = Subnet::parse("fd00::/64").unwrap();
        assert_eq!(ipam.allocate("b", v6).unwrap(), ip("fd00::2"));
        assert!(Ipam::new()
            .allocate("x", Subnet::parse("10.0.0.0/31").unwrap())
            .is_err());
    }
}
