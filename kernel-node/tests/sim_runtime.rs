//! `SimRuntime` against the public conformance suite (the part that needs no real processes).

use kernel_node::runtime::testsuite;
use kernel_node::SimRuntime;

#[tokio::test]
async fn conformance_basic() {
    let dir = tempfile::tempdir().unwrap();
    testsuite::conformance_basic(&SimRuntime::new(), dir.path()).await;
}
