//! The official Python `kubernetes` client (from PyPI) lists and watches pods on our API server.
//!
//! The interpreter is `$KERNEL_PYTHON`, else `python3` in `PATH` ([`kernel_testing::python_with`];
//! `scripts/test-all.sh` makes a venv with the package and exports `KERNEL_PYTHON`). Skipped with
//! a notice when there is no interpreter or it cannot import `kubernetes`, unless
//! `KERNEL_REQUIRE_ALL=1`.

use std::sync::Arc;

use kernel::api::ApiServer;
use kernel::store::MemoryStore;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_client_lists_and_watches_pods() {
    let Some(python) = kernel_testing::python_with("kubernetes") else {
        return;
    };
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
    let output = tokio::process::Command::new(&python)
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
