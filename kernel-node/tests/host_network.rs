//! `HostNetwork` passes the network conformance suite, and the process runtime uses it.

use kernel_node::network::{testsuite, HostNetwork, NetworkPlugin, PodNetworkConfig};

#[tokio::test]
async fn host_network_passes_the_conformance_suite() {
    let net = HostNetwork::new();
    let pod_cidr = "10.244.3.0/24";
    let from = net.effective_cidr(Some(pod_cidr));
    assert_eq!(from, "127.244.3.0/24");
    testsuite::run_all(&net, pod_cidr, &from).await;
    assert_eq!(net.allocated(), 0, "the suite released every address");
}

#[tokio::test]
async fn host_network_passes_without_a_pod_cidr_of_its_own() {
    // An IPv6 pod CIDR is not usable on 127/8: addresses come from the default CIDR.
    let net = HostNetwork::new();
    testsuite::run_all(&net, "fd00::/64", HostNetwork::DEFAULT_POD_CIDR).await;
}

#[tokio::test]
async fn host_network_plugin_shares_the_allocator_with_its_clones() {
    let net = HostNetwork::new();
    let pod = PodNetworkConfig {
        sandbox_id: "a".into(),
        ..Default::default()
    };
    let up = net.clone().set_up(&pod).await.unwrap();
    assert_eq!(up.netns, None, "the host network makes no namespace");
    assert_eq!(up.ip(), net.ip_of("a").map(Into::into));
    net.tear_down(&pod).await.unwrap();
    assert_eq!(net.ip_of("a"), None);
    assert_eq!(net.name(), "host");
}
