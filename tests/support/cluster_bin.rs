//! Shared by the tests that start the `cluster` binary (`#[path]`-included, not a test target
//! of its own): finding the binary, starting it up to its KUBECONFIG line, and running kubectl.

// Each test binary uses its own subset of these helpers.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Stdio;

use kernel_testing::within;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, Command};

/// The `cluster` example, which cargo builds beside the test binaries (`target/<profile>/examples`)
/// when it runs the package's tests (and `scripts/test-all.sh` builds every target first). A run
/// filtered to one test binary does not rebuild it: build it with `cargo build --example cluster`
/// after changing it.
pub fn bin() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let profile_dir = exe.parent().and_then(Path::parent).unwrap();
    let bin = profile_dir.join("examples/cluster");
    assert!(
        bin.exists(),
        "{} is missing: build it with `cargo build --example cluster`",
        bin.display()
    );
    bin
}

/// A free TCP port on loopback (free when asked).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Starts the binary with `args` (plus `--data-dir`, a free scheduler metrics port and
/// `RUST_LOG=warn`) and reads its stdout up to the KUBECONFIG line; returns the process, the
/// kubeconfig path it named and everything it printed. Its stdout is drained afterwards so the
/// pipe never fills.
pub async fn start_cluster(data_dir: &Path, args: &[&str]) -> (Child, PathBuf, String) {
    let mut child = Command::new(bin())
        .args(args)
        .args(["--scheduler-metrics-address", "127.0.0.1:0"])
        .arg("--data-dir")
        .arg(data_dir)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut printed = String::new();
    let kubeconfig = within("the ready line", async {
        while let Some(line) = lines.next_line().await.unwrap() {
            printed.push_str(&line);
            printed.push('\n');
            if let Some(path) = line.trim().strip_prefix("export KUBECONFIG=") {
                return PathBuf::from(path);
            }
        }
        panic!("the binary ended before it was ready:\n{printed}");
    })
    .await;
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    (child, kubeconfig, printed)
}

/// Runs kubectl with the kubeconfig and `stdin`; whether it succeeded and its output (stdout
/// then stderr).
pub async fn kubectl_run(
    kubectl: &Path,
    kubeconfig: &Path,
    args: &[&str],
    stdin: &str,
) -> (bool, String) {
    let mut child = Command::new(kubectl)
        .args(args)
        .env("KUBECONFIG", kubeconfig)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut input = child.stdin.take().unwrap();
    input.write_all(stdin.as_bytes()).await.unwrap();
    drop(input);
    let out = within(&format!("kubectl {args:?}"), child.wait_with_output())
        .await
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

/// Starts `kubectl port-forward <target> <local>:<remote>` and waits until it listens on
/// 127.0.0.1; the process (killed when dropped).
pub async fn port_forward(
    kubectl: &Path,
    kubeconfig: &Path,
    target: &str,
    local: u16,
    remote: u16,
) -> Child {
    let mut forward = Command::new(kubectl)
        .args(["port-forward", target, &format!("{local}:{remote}")])
        .env("KUBECONFIG", kubeconfig)
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(forward.stdout.take().unwrap()).lines();
    within("kubectl port-forward to listen", async {
        while let Some(line) = lines.next_line().await.unwrap() {
            if line.starts_with("Forwarding from 127.0.0.1") {
                return;
            }
        }
        panic!("kubectl port-forward ended");
    })
    .await;
    // kubectl prints a line per connection: keep reading, or its writes fail and it exits.
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    forward
}
