//! `CniNetwork` with the real CNI plugins, inside a network namespace of the test's own (the
//! "node"), so the host's network is never touched. Needs root and the reference plugins
//! (`containernetworking-plugins`); skipped with a notice otherwise, unless
//! `KERNEL_REQUIRE_ALL=1`.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use kernel_node::network::netns::join_in_child;
use kernel_node::network::netns::NetNs;
use kernel_node::network::{testsuite, CniNetwork, NetworkPlugin, PodNetworkConfig, PortMapping};
use kernel_node::runtime::testsuite::{sandbox_config, shell_container};
use kernel_node::{Error, ProcessRuntime, Runtime};
use kernel_testing::{component_missing, eventually};

/// What the pods run (a static busybox works in any mount namespace).
const BUSYBOX: &str = "/usr/bin/busybox";

/// A test's CNI network: its own run directory and node namespace, removed on drop.
struct Node {
    dir: tempfile::TempDir,
    node_netns: PathBuf,
    net: CniNetwork,
}

impl Drop for Node {
    fn drop(&mut self) {
        // Pods a failed test left behind, then the node.
        if let Ok(entries) = std::fs::read_dir(self.dir.path().join("run/netns")) {
            for entry in entries.flatten() {
                let _ = NetNs::remove(&entry.path());
            }
        }
        let _ = NetNs::remove(&self.node_netns);
    }
}

fn node() -> Option<Node> {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        component_missing(
            "root",
            "CNI plugins need root (network namespaces, bridges)",
        );
        return None;
    }
    let dir = tempfile::tempdir().unwrap();
    let probe = CniNetwork::new(dir.path().join("run"));
    for plugin in ["bridge", "host-local", "loopback", "portmap"] {
        if probe.find_plugin(plugin).is_none() {
            component_missing(
                &format!("CNI plugin {plugin}"),
                "looked in /usr/lib/cni and /opt/cni/bin (containernetworking-plugins)",
            );
            return None;
        }
    }
    if !Path::new(BUSYBOX).is_file() {
        component_missing("busybox", "the pods run /usr/bin/busybox (busybox-static)");
        return None;
    }
    let node_netns = dir.path().join("node-netns");
    let ns = match NetNs::create(&node_netns) {
        Ok(ns) => ns,
        Err(err) => {
            component_missing("network namespaces", &err.to_string());
            return None;
        }
    };
    let net = CniNetwork::new(dir.path().join("run"))
        .with_bridge("ktest0")
        .with_node_netns(ns);
    Some(Node {
        dir,
        node_netns,
        net,
    })
}

fn in_cidr(ip: std::net::IpAddr, cidr: &str) -> bool {
    kernel_node::network::ipam::Subnet::parse(cidr)
        .unwrap()
        .contains(ip)
}

#[tokio::test]
async fn cni_network_passes_the_conformance_suite() {
    let Some(node) = node() else { return };
    testsuite::run_all(&node.net, "10.77.1.0/24", "10.77.1.0/24").await;
}

#[tokio::test]
async fn a_plugin_failure_is_a_backend_error_and_leaves_nothing() {
    let Some(node) = node() else { return };
    // host-local refuses a subnet that does not parse; the error is the plugin's message.
    let pod = PodNetworkConfig {
        sandbox_id: "badcidr".into(),
        pod_cidr: Some("not-a-cidr".into()),
        ..Default::default()
    };
    match node.net.set_up(&pod).await {
        Err(Error::Backend(msg)) => assert!(msg.contains("CNI plugin"), "{msg}"),
        other => panic!("want a backend error, got {other:?}"),
    }
    let netns = node.dir.path().join("run/netns/badcidr");
    assert!(
        !netns.exists(),
        "the failed set_up left {}",
        netns.display()
    );
    assert!(node.net.check(&pod).await.is_err());
}

async fn start(rt: &ProcessRuntime, scratch: &Path, name: &str, script: &str) -> (String, String) {
    let mut sbc = sandbox_config(scratch, name);
    sbc.pod_cidr = Some("10.77.2.0/24".into());
    let sandbox = rt.run_pod_sandbox(&sbc).await.unwrap();
    let id = rt
        .create_container(&sandbox, &shell_container(name, script), &sbc)
        .await
        .unwrap();
    rt.start_container(&id).await.unwrap();
    (sandbox, id)
}

/// Two pods of the process runtime, each in its own namespace on the bridge, reach each other.
#[tokio::test]
async fn two_pods_reach_each_other_over_the_bridge() {
    let Some(node) = node() else { return };
    let scratch = node.dir.path().join("scratch");
    let www = node.dir.path().join("www");
    std::fs::create_dir_all(&www).unwrap();
    std::fs::write(www.join("index.html"), "hello from pod a\n").unwrap();
    let rt = ProcessRuntime::with_network(node.dir.path().join("root"), Arc::new(node.net.clone()));
    assert_eq!(rt.network().name(), "cni");
    let (sb_a, _web) = start(
        &rt,
        &scratch,
        "web",
        &format!("exec {BUSYBOX} httpd -f -p 8080 -h {}", www.display()),
    )
    .await;
    let (sb_b, client) = start(
        &rt,
        &scratch,
        "client",
        &format!("exec {BUSYBOX} sleep 600"),
    )
    .await;
    let ip_a = rt.pod_sandbox_status(&sb_a).await.unwrap().ip.unwrap();
    let ip_b = rt.pod_sandbox_status(&sb_b).await.unwrap().ip.unwrap();
    assert_ne!(ip_a, ip_b);
    assert!(in_cidr(ip_a, "10.77.2.0/24"), "{ip_a}");
    assert!(in_cidr(ip_b, "10.77.2.0/24"), "{ip_b}");

    // The client's exec runs in its pod's namespace: it has the pod's address on eth0.
    let addr = rt
        .exec_sync(
            &client,
            &[BUSYBOX.into(), "ip".into(), "-4".into(), "addr".into()],
            Duration::from_secs(30),
        )
        .await
        .unwrap();
    let addr = String::from_utf8_lossy(&addr.stdout).into_owned();
    assert!(addr.contains(&format!("inet {ip_b}/")), "{addr}");
    assert!(!addr.contains(&format!("inet {ip_a}/")), "{addr}");

    let url = format!("http://{ip_a}:8080/");
    let page = eventually("the client fetches the web pod's page", || async {
        let out = rt
            .exec_sync(
                &client,
                &[
                    BUSYBOX.into(),
                    "wget".into(),
                    "-q".into(),
                    "-O-".into(),
                    url.clone(),
                ],
                // busybox wget's own -T crashes (busybox 1.36): the exec's timeout bounds it.
                Duration::from_secs(10),
            )
            .await
            .ok()?;
        (out.exit_code == 0).then(|| String::from_utf8_lossy(&out.stdout).into_owned())
    })
    .await;
    assert_eq!(page, "hello from pod a\n");

    // The bridge lives in the test's node namespace, not on the host.
    assert!(
        !Path::new("/sys/class/net/ktest0").exists(),
        "the bridge was made on the host"
    );

    rt.stop_pod_sandbox(&sb_a).await.unwrap();
    rt.stop_pod_sandbox(&sb_b).await.unwrap();
    assert!(
        node.net
            .check(&PodNetworkConfig {
                sandbox_id: sb_a.clone(),
                ..Default::default()
            })
            .await
            .is_err(),
        "the network outlives the sandbox"
    );
    rt.remove_pod_sandbox(&sb_a).await.unwrap();
    rt.remove_pod_sandbox(&sb_b).await.unwrap();
}

/// A `busybox` command in the network namespace `netns`.
fn busybox_in(netns: &Path, args: &[&str]) -> tokio::process::Command {
    let mut cmd = tokio::process::Command::new(BUSYBOX);
    cmd.args(args).kill_on_drop(true);
    join_in_child(&mut cmd, &NetNs::at(netns)).unwrap();
    cmd
}

/// portmap publishes a pod's port on the node: a connection to the node's (bridge) address
/// on the host port reaches the pod's server.
#[tokio::test]
async fn a_port_mapping_publishes_the_pod_port_on_the_node() {
    let Some(node) = node() else { return };
    let www = node.dir.path().join("www");
    std::fs::create_dir_all(&www).unwrap();
    std::fs::write(www.join("index.html"), "published\n").unwrap();
    let pod = PodNetworkConfig {
        sandbox_id: "ports".into(),
        name: "ports".into(),
        namespace: "default".into(),
        pod_cidr: Some("10.77.3.0/24".into()),
        port_mappings: vec![PortMapping {
            host_port: 18080,
            container_port: 8080,
            protocol: "TCP".into(),
            host_ip: None,
        }],
        ..Default::default()
    };
    // No CHECK here: portmap 1.1.1's CHECK looks for IPv6 chains an IPv4-only pod never has.
    let net = node.net.set_up(&pod).await.unwrap();
    let pod_netns = net.netns.clone().unwrap();
    let www_dir = www.display().to_string();
    let mut server = busybox_in(&pod_netns, &["httpd", "-f", "-p", "8080", "-h", &www_dir])
        .spawn()
        .unwrap();
    // 10.77.3.1: the bridge's address (host-local's gateway), in the node's namespace.
    let page = eventually("the host port reaches the pod", || async {
        let out = tokio::time::timeout(
            Duration::from_secs(10),
            busybox_in(
                &node.node_netns,
                &["wget", "-q", "-O-", "http://10.77.3.1:18080/"],
            )
            .output(),
        )
        .await
        .ok()?
        .ok()?;
        out.status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
    })
    .await;
    assert_eq!(page, "published\n");
    assert!(nat_rules(&node.node_netns).await.contains("--dport 18080"));
    server.kill().await.unwrap();
    node.net.tear_down(&pod).await.unwrap();
    // The mapping goes with the pod: portmap's DEL removed its DNAT rules from the node.
    let rules = nat_rules(&node.node_netns).await;
    assert!(
        !rules.contains("18080"),
        "the host port outlives the pod:\n{rules}"
    );
}

/// The node namespace's NAT table, as `iptables-save` prints it.
async fn nat_rules(node_netns: &Path) -> String {
    let mut cmd = tokio::process::Command::new("iptables-save");
    cmd.args(["-t", "nat"]);
    join_in_child(&mut cmd, &NetNs::at(node_netns)).unwrap();
    let out = cmd
        .output()
        .await
        .expect("iptables-save (portmap needs iptables too)");
    String::from_utf8_lossy(&out.stdout).into_owned()
}
