//! # kernel-store: the cluster's key-value store
//!
//! Every object of a kube-in-a-library cluster lives here, and only the API server
//! (`kernel-api`) talks to it — exactly as kube-apiserver alone talks to etcd.
//!
//! The contract is etcd v3's: one global [`Revision`] that advances on every write, key-values
//! that carry `create_revision` / `mod_revision` / `version`, ranges by prefix with limit and
//! continuation, atomic compare-and-swap transactions ([`Txn`]), watches that replay history from
//! a revision with no gaps or duplicates, compaction ([`Error::Compacted`]) and leases with TTLs.
//!
//! ```text
//!            ┌─────────────── Store + Watch (traits, store.rs) ───────────────┐
//!            │                                                                │
//!   MemoryStore (memory.rs)      FileStore (file.rs)              EtcdStore (etcd.rs)
//!        │                           │   redb file, fsync per commit,     tonic gRPC to a real
//!        └──── mvcc.rs: in-memory MVCC engine (history, watchers, leases) ─┘ etcd 3.4+ cluster
//!                                    group commit
//! ```
//!
//! - [`MemoryStore`]: the embedded default. MVCC in memory with bounded history.
//! - [`FileStore`]: durable single file. Every acknowledged write is on disk (fsync) before the
//!   call returns; concurrent writers share one fsync (group commit).
//! - [`EtcdStore`]: the production default, a real etcd over gRPC.
//! - `testsuite` (feature): [`testsuite::run_all`], the conformance suite every backend passes.
//!
//! The etcd client's TLS ([`EtcdTls`]) is rustls with the *ring* provider, through tonic, and
//! trusts the system's roots when no CA is given. tokio: `rt`, `sync`, `time`, `macros`.
//!
//! ```
//! use bytes::Bytes;
//! use kernel_store::{MemoryStore, RangeRequest, Store, Watch, WatchRequest};
//! use futures::StreamExt;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> kernel_store::Result<()> {
//! let store = MemoryStore::new();
//! let mut events = store.watch(WatchRequest::prefix("/registry/pods/")).await?;
//!
//! let created = store.create("/registry/pods/default/web", Bytes::from("{}"), 0).await?;
//! let updated = store
//!     .update("/registry/pods/default/web", Bytes::from("{\"v\":2}"), created.mod_revision, 0)
//!     .await?;
//! assert_eq!(updated.version, 2);
//!
//! let list = store.range(RangeRequest::prefix("/registry/pods/")).await?;
//! assert_eq!(list.kvs.len(), 1);
//!
//! let first = events.next().await.unwrap()?;
//! assert_eq!(first.kv.mod_revision, created.mod_revision);
//! # Ok(())
//! # }
//! ```

#![cfg_attr(docsrs, feature(doc_cfg))]

mod error;
mod etcd;
mod file;
mod memory;
mod mvcc;
mod store;
mod types;

#[cfg(feature = "testsuite")]
#[cfg_attr(docsrs, doc(cfg(feature = "testsuite")))]
pub mod testsuite;

pub use error::{Error, Result};
pub use etcd::{EtcdConfig, EtcdStore, EtcdTls};
pub use file::FileStore;
pub use memory::MemoryStore;
pub use store::{check_key, check_txn, check_write, Store, Watch};
pub use types::{
    Compare, CompareResult, CompareTarget, Event, EventKind, KeyValue, LeaseId, RangeRequest,
    RangeResponse, Revision, Txn, TxnOp, TxnOpResponse, TxnResponse, WatchRequest, WatchStream,
    MAX_REQUEST_BYTES,
};
