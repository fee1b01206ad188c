//! # kube-in-a-library
//!
//! The Kubernetes architecture rebuilt in Rust as a family of embeddable crates. This umbrella
//! crate re-exports them; an application picks the parts it needs and assembles its own
//! orchestrator — or runs a whole cluster from the example binaries and drives it with the real
//! `kubectl`.
//!
//! The package is `kube-in-a-library` (`cargo add kube-in-a-library`); its library is named
//! `kernel`, so code says `kernel::api`, `kernel::store`, ...
//!
//! | crate | re-exported as | what it is |
//! |---|---|---|
//! | `kernel-core` | [`core`] | shared API machinery: selectors, quantities, names, field errors, tolerations, pod requests |
//! | `kernel-store` | [`store`] | the cluster's key-value store: etcd, in-memory MVCC, durable single file |
//! | `kernel-api` | [`api`] | the Kubernetes API server as a library |
//! | `kernel-sched` | [`sched`] | the scheduler: queue, filter/score plugins, binding |
//! | `k8s-openapi` | [`k8s_openapi`] | the Kubernetes wire types all of them use |
//! | `kernel-controllers` | — (planned) | controller manager + cloud controller manager |
//! | `kernel-node` | — (planned) | the kubelet |
//! | `kernel-proxy` | — (planned) | kube-proxy |
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
//!
//! ## Kubernetes version
//!
//! k8s-openapi must be told the Kubernetes version by one crate, the final binary, and this
//! crate (like every library crate of the project) picks none. Add it to your binary with the
//! version feature:
//!
//! ```toml
//! [dependencies]
//! kube-in-a-library = "0.1"
//! k8s-openapi = { version = "0.29", features = ["v1_33"] }
//! ```
//!
//! Supported: `v1_33`, the release this project compares its behaviour against, used by its
//! tests and examples and by the docs on docs.rs. The libraries also compile against `v1_34` to
//! `v1_37` (k8s-openapi 0.29 has nothing before `v1_33`); their tests run on `v1_33` only.
//!
//! ## TLS and runtime
//!
//! The API server's HTTPS listener is its own rustls (*ring*) server. No crate enables a kube
//! TLS backend: the components take the `kube::Client` you build, in-process over the API
//! server's tower service (no TLS) or over HTTPS with the backend your own kube dependency
//! enables (`rustls-tls`, `openssl-tls`). None enables `tokio/full`: the program picks its
//! runtime.

pub use k8s_openapi;
pub use kernel_api as api;
pub use kernel_core as core;
pub use kernel_sched as sched;
pub use kernel_store as store;
