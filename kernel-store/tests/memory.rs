//! The conformance suite against [`MemoryStore`].

use kernel_store::{testsuite, MemoryStore};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_store_conforms() {
    testsuite::run_all(|| async { MemoryStore::new() }).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_store_with_unbounded_history_conforms() {
    testsuite::run_all(|| async { MemoryStore::with_history(None) }).await;
}
