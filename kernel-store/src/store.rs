//! The [`Store`] and [`Watch`] traits: the contract every backend implements.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;

use crate::{
    Compare, CompareResult, Error, KeyValue, LeaseId, RangeRequest, RangeResponse, Result,
    Revision, Txn, TxnOp, TxnOpResponse, TxnResponse, WatchRequest, WatchStream, MAX_REQUEST_BYTES,
};

/// Watching keys for changes (etcd's `Watch` service).
///
/// # Contract
/// - Events arrive in revision order; within one revision (one transaction) in the order the
///   transaction applied them.
/// - From `start_revision` on, every matching event is delivered exactly once: none skipped,
///   none repeated, including events written while the watch is being opened.
/// - A `start_revision` below the compacted revision fails with [`Error::Compacted`]: either
///   from `watch` itself or as the first item of the stream.
/// - Dropping the stream cancels the watch.
/// - A backend that cannot continue (etcd unreachable past its reconnect budget, a failed
///   durable commit) ends the stream with an [`Error::Backend`] item; the consumer re-watches
///   from the revision after the last event it saw.
#[async_trait]
pub trait Watch: Send + Sync {
    /// Opens a watch.
    async fn watch(&self, request: WatchRequest) -> Result<WatchStream>;
}

/// A key-value store with etcd v3 semantics: the cluster's only persistent state.
///
/// # Contract
/// - **Revisions.** The store has one global revision. Every transaction that writes advances it
///   (by exactly one for [`MemoryStore`](crate::MemoryStore) and [`FileStore`](crate::FileStore);
///   by at least one for etcd, whose revision is shared with other clients); all writes of one
///   transaction carry the same `mod_revision`. Reads never advance it.
/// - **Keys** are non-empty strings; key plus value must fit in [`MAX_REQUEST_BYTES`]
///   ([`Error::EmptyKey`], [`Error::TooLarge`]). etcd counts its whole request (transaction
///   wrapper included) against `--max-request-bytes` and at most `--max-txn-ops` (128) operations
///   per transaction: run it with a slightly larger request limit than 1.5 MiB.
/// - **Atomicity.** A [`Txn`] applies all of its branch or nothing; its guards are evaluated
///   against the state just before it, with no other write in between.
/// - **Compaction.** [`Store::compact`] forgets history below a revision: reads at, and watches
///   from, an older revision fail with [`Error::Compacted`]; the current state is untouched.
/// - **Leases.** A key written with a lease is deleted (a normal delete event at a new revision)
///   when the lease is revoked or expires because no keep-alive arrived within its TTL.
///
/// Conveniences (`get`, `create`, `update`, `delete`) are provided methods built on [`Store::txn`]
/// and [`Store::range`]. The trait is object safe: `Arc<dyn Store>` is a `Store`.
#[async_trait]
pub trait Store: Watch {
    /// Reads a range of keys.
    async fn range(&self, request: RangeRequest) -> Result<RangeResponse>;

    /// Applies a transaction atomically.
    async fn txn(&self, txn: Txn) -> Result<TxnResponse>;

    /// Compacts history below `revision`; fails with [`Error::Compacted`] if it already is and
    /// [`Error::FutureRevision`] if `revision` is ahead of the store.
    async fn compact(&self, revision: Revision) -> Result<()>;

    /// The store's current revision.
    async fn current_revision(&self) -> Result<Revision>;

    /// The revision below which history is gone: reads at, and watches from, an older revision
    /// fail with [`Error::Compacted`]. `0` if nothing was ever compacted. With etcd this is the
    /// cluster-wide value, which other clients of the same etcd may have advanced.
    async fn compacted_revision(&self) -> Result<Revision>;

    /// Grants a lease that expires `ttl` after its grant or last keep-alive.
    /// Backends may round the TTL up (etcd enforces a minimum of a few seconds).
    async fn lease_grant(&self, ttl: Duration) -> Result<LeaseId>;

    /// Revokes a lease, deleting every key attached to it.
    async fn lease_revoke(&self, lease: LeaseId) -> Result<()>;

    /// Renews a lease; returns its TTL.
    async fn lease_keep_alive(&self, lease: LeaseId) -> Result<Duration>;

    /// Reads one key.
    async fn get(&self, key: &str) -> Result<Option<KeyValue>> {
        check_key(key)?;
        Ok(self
            .range(RangeRequest::key(key))
            .await?
            .kvs
            .into_iter()
            .next())
    }

    /// Creates `key`; fails with [`Error::AlreadyExists`] if it exists. Returns the new key-value.
    async fn create(&self, key: &str, value: Bytes, lease: LeaseId) -> Result<KeyValue> {
        check_write(key, &value)?;
        let txn = Txn::new()
            .when([Compare::create_revision(key, CompareResult::Equal, 0)])
            .and_then([TxnOp::Put {
                key: key.to_owned(),
                value,
                lease,
            }]);
        let response = self.txn(txn).await?;
        if !response.succeeded {
            return Err(Error::AlreadyExists {
                key: key.to_owned(),
            });
        }
        put_result(response)
    }

    /// Replaces `key`'s value if its `mod_revision` is `expected` (compare-and-swap).
    /// Fails with [`Error::NotFound`] if the key is missing, [`Error::Conflict`] if it changed.
    async fn update(
        &self,
        key: &str,
        value: Bytes,
        expected: Revision,
        lease: LeaseId,
    ) -> Result<KeyValue> {
        check_write(key, &value)?;
        let txn = Txn::new()
            .when([Compare::mod_revision(key, CompareResult::Equal, expected)])
            .and_then([TxnOp::Put {
                key: key.to_owned(),
                value,
                lease,
            }])
            .or_else([TxnOp::get(key)]);
        let response = self.txn(txn).await?;
        if !response.succeeded {
            return Err(guard_failure(key, expected, response));
        }
        put_result(response)
    }

    /// Deletes `key`, if `expected` is given only when its `mod_revision` matches.
    /// Returns the deleted key-value; [`Error::NotFound`] if the key is missing.
    async fn delete(&self, key: &str, expected: Option<Revision>) -> Result<KeyValue> {
        check_key(key)?;
        let guard = match expected {
            Some(revision) => Compare::mod_revision(key, CompareResult::Equal, revision),
            None => Compare::create_revision(key, CompareResult::NotEqual, 0),
        };
        let txn = Txn::new()
            .when([guard])
            .and_then([TxnOp::delete(key)])
            .or_else([TxnOp::get(key)]);
        let response = self.txn(txn).await?;
        if !response.succeeded {
            return Err(guard_failure(key, expected.unwrap_or(0), response));
        }
        match response.responses.into_iter().next() {
            Some(TxnOpResponse::Delete { prev_kv: Some(kv) }) => Ok(kv),
            _ => Err(Error::NotFound {
                key: key.to_owned(),
            }),
        }
    }
}

fn put_result(response: TxnResponse) -> Result<KeyValue> {
    match response.responses.into_iter().next() {
        Some(TxnOpResponse::Put { kv, .. }) => Ok(kv),
        other => Err(Error::backend(format!(
            "unexpected transaction response {other:?}"
        ))),
    }
}

fn guard_failure(key: &str, expected: Revision, response: TxnResponse) -> Error {
    match response.responses.into_iter().next() {
        Some(TxnOpResponse::Get { kv: Some(kv) }) => Error::Conflict {
            key: key.to_owned(),
            expected,
            actual: kv.mod_revision,
        },
        _ => Error::NotFound {
            key: key.to_owned(),
        },
    }
}

/// Rejects an empty key.
pub fn check_key(key: &str) -> Result<()> {
    if key.is_empty() {
        return Err(Error::EmptyKey);
    }
    Ok(())
}

/// Rejects an empty key or a write over [`MAX_REQUEST_BYTES`].
pub fn check_write(key: &str, value: &[u8]) -> Result<()> {
    check_key(key)?;
    let size = key.len() + value.len();
    if size > MAX_REQUEST_BYTES {
        return Err(Error::TooLarge {
            size,
            limit: MAX_REQUEST_BYTES,
        });
    }
    Ok(())
}

/// Validates a transaction before any backend sees it: keys non-empty, writes within limits,
/// no key written twice in one branch (etcd rejects that too).
pub fn check_txn(txn: &Txn) -> Result<()> {
    for compare in &txn.compare {
        check_key(&compare.key)?;
    }
    for branch in [&txn.success, &txn.failure] {
        let mut written = std::collections::HashSet::new();
        let mut size = 0;
        for op in branch {
            match op {
                TxnOp::Put { key, value, .. } => {
                    check_write(key, value)?;
                    size += key.len() + value.len();
                }
                TxnOp::Delete { key } | TxnOp::Get { key } => check_key(key)?,
            }
            if !matches!(op, TxnOp::Get { .. }) && !written.insert(op.key()) {
                return Err(Error::InvalidArgument(format!(
                    "duplicate key {:?} given in transaction",
                    op.key()
                )));
            }
        }
        if size > MAX_REQUEST_BYTES {
            return Err(Error::TooLarge {
                size,
                limit: MAX_REQUEST_BYTES,
            });
        }
    }
    Ok(())
}

// === impl Arc<S> ===

#[async_trait]
impl<S: Watch + ?Sized> Watch for Arc<S> {
    async fn watch(&self, request: WatchRequest) -> Result<WatchStream> {
        (**self).watch(request).await
    }
}

#[async_trait]
impl<S: Store + ?Sized> Store for Arc<S> {
    async fn range(&self, request: RangeRequest) -> Result<RangeResponse> {
        (**self).range(request).await
    }
    async fn txn(&self, txn: Txn) -> Result<TxnResponse> {
        (**self).txn(txn).await
    }
    async fn compact(&self, revision: Revision) -> Result<()> {
        (**self).compact(revision).await
    }
    async fn current_revision(&self) -> Result<Revision> {
        (**self).current_revision().await
    }
    async fn compacted_revision(&self) -> Result<Revision> {
        (**self).compacted_revision().await
    }
    async fn lease_grant(&self, ttl: Duration) -> Result<LeaseId> {
        (**self).lease_grant(ttl).await
    }
    async fn lease_revoke(&self, lease: LeaseId) -> Result<()> {
        (**self).lease_revoke(lease).await
    }
    async fn lease_keep_alive(&self, lease: LeaseId) -> Result<Duration> {
        (**self).lease_keep_alive(lease).await
    }
}
