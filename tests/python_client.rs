//! The official Python `kubernetes` client (from PyPI) lists and watches pods on our API server.
//!
//! Skipped with a notice when `python3` or its `kubernetes` package is missing, unless
//! `KERNEL_REQUIRE_ALL=1` (the full test command installs the package).

use std::process::Command;
use std::sync::Arc;

use kernel::api::ApiServer;
use kernel::store::MemoryStore;

fn python_client_available() -> bool {
    Command::new("python3")
        .args(["-c", "import kubernetes"])
        .output()
        .is_ok_and(|out| out.status.success())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_client_lists_and_watches_pods() {
    if !python_client_available() {
        kernel_testing::component_missing("python3 kubernetes package", "pip install kubernetes");
        return;
    }
    let server = ApiServer::builder()
        .store(Arc::new(MemoryStore::new()))
        .build()
        .await
        .unwrap();
    let serving = server.bind("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = dir.path().join("kubeconfig");
    server.write_kubeconfig(&kubeconfig).unwrap();
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/python/list_watch_pods.py"
    );
    let output = tokio::process::Command::new("python3")
        .arg(script)
        .arg(&kubeconfig)
        .arg("default")
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "python client failed:\n{stdout}\n{stderr}"
    );
    assert!(stdout.starts_with("ok "), "{stdout}");
    serving.shutdown().await;
}
