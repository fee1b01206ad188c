//! # kernel: kube-in-a-library
//!
//! The Kubernetes architecture rebuilt in Rust as a family of embeddable crates. This umbrella
//! crate re-exports them; an application picks the parts it needs and assembles its own
//! orchestrator — or runs a whole cluster from the example binaries and drives it with the real
//! `kubectl`.
//!
//! | crate | re-exported as | what it is |
//! |---|---|---|
//! | `kernel-core` | [`core`] | shared API machinery: selectors, quantities, names, field errors, tolerations, pod requests |
//! | `kernel-store` | [`store`] | the cluster's key-value store: etcd, in-memory MVCC, durable single file |
//! | `kernel-api` | [`api`] | the Kubernetes API server as a library |
//! | `kernel-sched` | [`sched`] | the scheduler: queue, filter/score plugins, binding |
//! | `kernel-controllers` | [`controllers`] | controller manager + cloud controller manager |
//! | `kernel-node` | [`node`] | the kubelet |
//! | `kernel-proxy` | [`proxy`] | kube-proxy |
//!
//! Every component talks only to the API server (through `kube::Client`, in-process or over
//! HTTPS); the API server alone talks to the store. Components share API machinery through
//! `kernel-core`, never through `kernel-api`.
//!
//! ```
//! use kernel::store::{MemoryStore, Store};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> kernel::store::Result<()> {
//! let store = MemoryStore::new();
//! let kv = store.create("/registry/namespaces/default", "{}".into(), 0).await?;
//! assert_eq!(store.get("/registry/namespaces/default").await?, Some(kv));
//! # Ok(())
//! # }
//! ```

pub use kernel_api as api;
pub use kernel_controllers as controllers;
pub use kernel_core as core;
pub use kernel_node as node;
pub use kernel_proxy as proxy;
pub use kernel_sched as sched;
pub use kernel_store as store;
