//! `CniNetwork` with the real CNI plugins, inside a network namespace of the test's own (the
//! "node"), so the host's network is never touched. Needs root and the reference plugins
//! (`containernetworking-plugins`); skipped with a notice otherwise, unless
//! `KERNEL_REQUIRE_ALL=1`.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use kernel_node::network::netns::NetNs;
use kernel_node::network::{testsuite, CniNetwork, NetworkPlugin, PodNetworkConfig};
use kernel_node::runtime::testsuite::{sandbox_config, shell_container};
use kernel_node::{Error, ProcessRuntime, Runtime};
use kernel_testing::{component_missing, eventually};

/// A test's CNI network: its own run directory and node namespace, removed on drop.
struct Node {
    dir: tempfile::TempDir,
    node_netns: PathBuf,
    net: CniNetwork,
}

impl Drop for Node {
    fn drop(&mut self) {
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
        &format!(
            "exec /usr/bin/busybox httpd -f -p 8080 -h {}",
            www.display()
        ),
    )
    .await;
    let (sb_b, client) = start(&rt, &scratch, "client", "exec /usr/bin/busybox sleep 600").await;
    let ip_a = rt.pod_sandbox_status(&sb_a).await.unwrap().ip.unwrap();
    let ip_b = rt.pod_sandbox_status(&sb_b).await.unwrap().ip.unwrap();
    assert_ne!(ip_a, ip_b);
    assert!(in_cidr(ip_a, "10.77.2.0/24"), "{ip_a}");
    assert!(in_cidr(ip_b, "10.77.2.0/24"), "{ip_b}");

    // The client's exec runs in its pod's namespace: it has the pod's address on eth0.
    let addr = rt
        .exec_sync(
            &client,
            &[
                "/usr/bin/busybox".into(),
                "ip".into(),
                "-4".into(),
                "addr".into(),
            ],
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
                    "/usr/bin/busybox".into(),
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
