//! [`MemoryStore`]: MVCC in memory, the embedded default.

use std::sync::{Arc, RwLock, Weak};
use std::time::{Duration, Instant};

use async_trait::async_trait;

use crate::mvcc::Mvcc;
use crate::{
    Error, LeaseId, RangeRequest, RangeResponse, Result, Revision, Store, Txn, TxnResponse, Watch,
    WatchRequest, WatchStream,
};

/// How many revisions of history a [`MemoryStore`] keeps by default for watch replay and reads
/// at a past revision. Older history is compacted automatically once twice this much accumulates.
pub const DEFAULT_HISTORY: i64 = 10_000;

/// How often expired leases are looked for.
const LEASE_TICK: Duration = Duration::from_millis(100);

/// An in-memory store with etcd semantics: MVCC with bounded history, watches, leases.
///
/// Nothing survives the process; use [`FileStore`](crate::FileStore) for durability.
/// Cloning is cheap and shares the store.
#[derive(Clone)]
pub struct MemoryStore {
    inner: Arc<Inner>,
}

struct Inner {
    mvcc: RwLock<Mvcc>,
    reaper: std::sync::Once,
}

impl Default for MemoryStore {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for MemoryStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryStore").finish_non_exhaustive()
    }
}

impl MemoryStore {
    /// An empty store keeping 10,000 revisions of history.
    pub fn new() -> Self {
        Self::with_history(Some(DEFAULT_HISTORY))
    }

    /// An empty store keeping at least `history` revisions (`None`: until [`Store::compact`]).
    pub fn with_history(history: Option<i64>) -> Self {
        MemoryStore {
            inner: Arc::new(Inner {
                mvcc: RwLock::new(Mvcc::new(history, false)),
                reaper: std::sync::Once::new(),
            }),
        }
    }

    fn write<T>(&self, f: impl FnOnce(&mut Mvcc) -> Result<T>) -> Result<T> {
        let mut mvcc = self.inner.mvcc.write().map_err(|_| Error::Closed)?;
        let result = f(&mut mvcc);
        mvcc.publish();
        result
    }

    fn read<T>(&self, f: impl FnOnce(&Mvcc) -> Result<T>) -> Result<T> {
        let mvcc = self.inner.mvcc.read().map_err(|_| Error::Closed)?;
        f(&mvcc)
    }

    /// Starts the thread that expires leases; it ends when the store is dropped.
    fn start_reaper(&self) {
        self.inner.reaper.call_once(|| {
            let weak: Weak<Inner> = Arc::downgrade(&self.inner);
            std::thread::Builder::new()
                .name("kernel-store-leases".into())
                .spawn(move || loop {
                    std::thread::sleep(LEASE_TICK);
                    let Some(inner) = weak.upgrade() else { return };
                    let Ok(mut mvcc) = inner.mvcc.write() else {
                        return;
                    };
                    if mvcc.has_leases() {
                        mvcc.expire_leases(Instant::now());
                        mvcc.publish();
                    }
                })
                .expect("spawn lease thread");
        });
    }
}

#[async_trait]
impl Watch for MemoryStore {
    async fn watch(&self, request: WatchRequest) -> Result<WatchStream> {
        self.write(|mvcc| mvcc.watch(request))
    }
}

#[async_trait]
impl Store for MemoryStore {
    async fn range(&self, request: RangeRequest) -> Result<RangeResponse> {
        self.read(|mvcc| mvcc.range(&request))
    }

    async fn txn(&self, txn: Txn) -> Result<TxnResponse> {
        self.write(|mvcc| mvcc.txn(&txn))
    }

    async fn compact(&self, revision: Revision) -> Result<()> {
        self.write(|mvcc| mvcc.compact(revision))
    }

    async fn current_revision(&self) -> Result<Revision> {
        self.read(|mvcc| Ok(mvcc.visible_revision()))
    }

    async fn compacted_revision(&self) -> Result<Revision> {
        self.read(|mvcc| Ok(mvcc.compacted()))
    }

    async fn lease_grant(&self, ttl: Duration) -> Result<LeaseId> {
        self.start_reaper();
        self.write(|mvcc| mvcc.lease_grant(ttl))
    }

    async fn lease_revoke(&self, lease: LeaseId) -> Result<()> {
        self.write(|mvcc| mvcc.lease_revoke(lease))
    }

    async fn lease_keep_alive(&self, lease: LeaseId) -> Result<Duration> {
        self.write(|mvcc| mvcc.lease_keep_alive(lease))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    #[tokio::test]
    async fn history_is_bounded_by_automatic_compaction() {
        let store = MemoryStore::with_history(Some(10));
        let first = store.create("/a", Bytes::from("0"), 0).await.unwrap();
        let mut kv = first.clone();
        for i in 1..100 {
            kv = store
                .update("/a", Bytes::from(i.to_string()), kv.mod_revision, 0)
                .await
                .unwrap();
        }
        let compacted = store.compacted_revision().await.unwrap();
        let current = store.current_revision().await.unwrap();
        assert!(
            current - compacted <= 20,
            "at most twice the history is kept"
        );
        assert!(current - compacted >= 10, "at least the history is kept");
        let err = store
            .watch(WatchRequest::key("/a").from_revision(first.mod_revision))
            .await
            .err();
        assert!(matches!(err, Some(Error::Compacted { .. })), "{err:?}");
        let recent = store
            .range(RangeRequest::key("/a").with_revision(current - 5))
            .await
            .unwrap();
        assert_eq!(recent.kvs[0].value, Bytes::from("94"));
    }

    #[tokio::test]
    async fn first_page_counts_track_creates_deletes_and_leases() {
        let store = MemoryStore::new();
        for i in 0..5 {
            store
                .create(&format!("/x/ns/{i}"), Bytes::from("v"), 0)
                .await
                .unwrap();
        }
        let lease = store.lease_grant(Duration::from_secs(60)).await.unwrap();
        store
            .create("/x/other/l", Bytes::from("v"), lease)
            .await
            .unwrap();
        store.delete("/x/ns/0", None).await.unwrap();
        store.delete("/x/ns/1", None).await.unwrap();
        let kv = store.get("/x/ns/2").await.unwrap().unwrap();
        store
            .update("/x/ns/2", Bytes::from("w"), kv.mod_revision, 0)
            .await
            .unwrap();
        let page = store
            .range(RangeRequest::prefix("/x/ns/").with_limit(1))
            .await
            .unwrap();
        assert_eq!((page.count, page.kvs.len(), page.more), (3, 1, true));
        assert_eq!(
            store
                .range(RangeRequest::prefix("/x/").with_count_only())
                .await
                .unwrap()
                .count,
            4
        );
        store.lease_revoke(lease).await.unwrap();
        assert_eq!(
            store
                .range(RangeRequest::prefix("/x/").with_count_only())
                .await
                .unwrap()
                .count,
            3
        );
        // A page at an older revision still counts by walking its keys.
        let old = store
            .range(
                RangeRequest::prefix("/x/ns/")
                    .with_limit(1)
                    .with_revision(kv.mod_revision),
            )
            .await
            .unwrap();
        assert_eq!(old.count, 3);
    }
}
