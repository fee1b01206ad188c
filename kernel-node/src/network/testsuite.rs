//! The conformance suite every [`NetworkPlugin`] passes (feature `testsuite`).
//!
//! [`run_all`] runs every case; each is also public. The cases check the contract of the
//! [module docs](super): addresses inside the CIDR they are taken from and unique, idempotent
//! `set_up` and `tear_down`, `tear_down` releasing what `set_up` made (addresses, the network
//! namespace), `check` failing for a sandbox not set up, and nothing for `host_network` pods.
//! Cases use sandbox ids of their own and tear down what they set up, so they can share a
//! plugin with other users.
//!
//! ```no_run
//! # async fn doc() {
//! use kernel_node::network::{testsuite, HostNetwork};
//! let net = HostNetwork::new();
//! let from = net.effective_cidr(Some("10.244.1.0/24"));
//! testsuite::run_all(&net, "10.244.1.0/24", &from).await;
//! # }
//! ```

use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, Ordering};

use super::ipam::Subnet;
use super::{NetworkPlugin, PodNetworkConfig};

static SEQ: AtomicU64 = AtomicU64::new(0);

/// Every case. `pod_cidr` is what pods are given as their node's pod CIDR; `addresses` the
/// CIDR their IPs must fall in (the same, unless the plugin maps it, as
/// [`HostNetwork`](super::HostNetwork) does into `127.0.0.0/8`).
pub async fn run_all(plugin: &dyn NetworkPlugin, pod_cidr: &str, addresses: &str) {
    set_up_gives_an_address_in_the_cidr(plugin, pod_cidr, addresses).await;
    addresses_are_unique(plugin, pod_cidr).await;
    set_up_is_idempotent(plugin, pod_cidr).await;
    tear_down_is_idempotent_and_releases(plugin, pod_cidr).await;
    tear_down_of_an_unknown_sandbox_succeeds(plugin, pod_cidr).await;
    host_network_pods_get_nothing(plugin, pod_cidr).await;
}

/// A fresh pod (unique sandbox id) with this pod CIDR.
pub fn pod(name: &str, pod_cidr: &str) -> PodNetworkConfig {
    let n = SEQ.fetch_add(1, Ordering::Relaxed);
    PodNetworkConfig {
        sandbox_id: format!("conf{}x{n}", std::process::id()),
        name: format!("{name}-{n}"),
        namespace: "conformance".into(),
        uid: format!("uid-{}-{n}", std::process::id()),
        pod_cidr: Some(pod_cidr.to_owned()),
        host_network: false,
        port_mappings: Vec::new(),
    }
}

/// `set_up` gives at least one address, all inside `addresses`; `check` then succeeds.
pub async fn set_up_gives_an_address_in_the_cidr(
    plugin: &dyn NetworkPlugin,
    pod_cidr: &str,
    addresses: &str,
) {
    let subnet = Subnet::parse(addresses).expect("the suite's address CIDR parses");
    let p = pod("addr", pod_cidr);
    let net = plugin.set_up(&p).await.expect("set_up");
    assert!(
        !net.ips.is_empty(),
        "{}: set_up gave no address",
        plugin.name()
    );
    for ip in &net.ips {
        assert!(subnet.contains(*ip), "{ip} is not in {subnet}");
        assert_ne!(*ip, subnet.network(), "{ip} is the network address");
    }
    if let Some(netns) = &net.netns {
        assert!(netns.exists(), "netns {} does not exist", netns.display());
    }
    plugin.check(&p).await.expect("check after set_up");
    plugin.tear_down(&p).await.expect("tear_down");
}

/// Several pods set up at once get distinct addresses.
pub async fn addresses_are_unique(plugin: &dyn NetworkPlugin, pod_cidr: &str) {
    let pods: Vec<_> = (0..4).map(|_| pod("unique", pod_cidr)).collect();
    let mut seen = HashSet::new();
    for p in &pods {
        let net = plugin.set_up(p).await.expect("set_up");
        let ip = net.ip().expect("an address");
        assert!(seen.insert(ip), "{ip} given twice");
    }
    for p in &pods {
        plugin.tear_down(p).await.expect("tear_down");
    }
}

/// `set_up` twice for one sandbox gives the same network.
pub async fn set_up_is_idempotent(plugin: &dyn NetworkPlugin, pod_cidr: &str) {
    let p = pod("again", pod_cidr);
    let first = plugin.set_up(&p).await.expect("set_up");
    let second = plugin.set_up(&p).await.expect("set_up again");
    assert_eq!(first, second, "set_up again changed the network");
    plugin.tear_down(&p).await.expect("tear_down");
}

/// `tear_down` twice succeeds; afterwards `check` fails and the namespace is gone; a new pod
/// can be set up.
pub async fn tear_down_is_idempotent_and_releases(plugin: &dyn NetworkPlugin, pod_cidr: &str) {
    let p = pod("down", pod_cidr);
    let net = plugin.set_up(&p).await.expect("set_up");
    plugin.tear_down(&p).await.expect("tear_down");
    plugin.tear_down(&p).await.expect("tear_down again");
    assert!(
        plugin.check(&p).await.is_err(),
        "check succeeds after tear_down"
    );
    if let Some(netns) = &net.netns {
        assert!(
            !netns.exists(),
            "netns {} outlives tear_down",
            netns.display()
        );
    }
    let again = plugin.set_up(&p).await.expect("set_up after tear_down");
    assert!(again.ip().is_some());
    plugin.tear_down(&p).await.expect("tear_down");
}

/// `tear_down` and `check` of a sandbox never set up: the first succeeds, the second fails.
pub async fn tear_down_of_an_unknown_sandbox_succeeds(plugin: &dyn NetworkPlugin, pod_cidr: &str) {
    let p = pod("unknown", pod_cidr);
    plugin
        .tear_down(&p)
        .await
        .expect("tear_down of an unknown sandbox");
    assert!(
        plugin.check(&p).await.is_err(),
        "check of an unknown sandbox"
    );
}

/// A `host_network` pod gets no address and no namespace, and tears down cleanly.
pub async fn host_network_pods_get_nothing(plugin: &dyn NetworkPlugin, pod_cidr: &str) {
    let p = PodNetworkConfig {
        host_network: true,
        ..pod("hostnet", pod_cidr)
    };
    let net = plugin.set_up(&p).await.expect("set_up");
    assert!(net.ips.is_empty(), "host-network pod got {:?}", net.ips);
    assert_eq!(net.netns, None);
    plugin.check(&p).await.expect("check");
    plugin.tear_down(&p).await.expect("tear_down");
}
