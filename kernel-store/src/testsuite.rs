//! The conformance suite every [`Store`] implementation passes (feature `testsuite`).
//!
//! Modelled on TiKV's `engine_traits_tests`: one set of cases, run against whichever backend a
//! test supplies through a factory. Cases never assume revisions are contiguous (etcd's revision
//! is shared with every other client), only that they strictly increase.
//!
//! ```no_run
//! # async fn doc() {
//! kernel_store::testsuite::run_all(|| async { kernel_store::MemoryStore::new() }).await;
//! # }
//! ```

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures::StreamExt;

use crate::{
    Compare, CompareResult, Error, Event, EventKind, RangeRequest, Store, Txn, TxnOp,
    TxnOpResponse, WatchRequest, WatchStream, MAX_REQUEST_BYTES,
};

/// A conformance case: a name and the test, run on a fresh store.
pub type Case = (
    &'static str,
    fn(Arc<dyn Store>) -> futures::future::BoxFuture<'static, ()>,
);

macro_rules! cases {
    ($($name:ident),* $(,)?) => {
        /// Every case of the suite, by name.
        pub fn cases() -> Vec<Case> {
            vec![$((stringify!($name), |s| Box::pin($name(s)))),*]
        }
    };
}

cases!(
    create_and_get,
    update_is_compare_and_swap,
    delete_is_guarded,
    range_by_prefix_with_limit_and_continue,
    range_at_past_revision,
    transactions_are_atomic,
    concurrent_writers_race_exactly_one_wins,
    watch_delivers_puts_and_deletes_in_order,
    watch_replays_history_from_a_revision,
    watch_opened_during_writes_misses_nothing,
    watch_of_one_key_ignores_siblings,
    compaction_forgets_history,
    leases_delete_their_keys,
    bad_input_is_a_typed_error,
);

/// Runs every case sequentially, each on a fresh store from `factory`. Panics on the first
/// failure with the case's name.
pub async fn run_all<F, Fut, S>(factory: F)
where
    F: Fn() -> Fut,
    Fut: Future<Output = S>,
    S: Store + 'static,
{
    for (name, case) in cases() {
        let store: Arc<dyn Store> = Arc::new(factory().await);
        eprintln!("conformance: {name}");
        let outcome = tokio::time::timeout(Duration::from_secs(60), case(store)).await;
        assert!(outcome.is_ok(), "conformance case {name} timed out");
    }
}

const WAIT: Duration = Duration::from_secs(10);

/// The next event of a watch, failing the test after 10 s.
pub async fn next_event(stream: &mut WatchStream) -> crate::Result<Event> {
    tokio::time::timeout(WAIT, stream.next())
        .await
        .expect("watch event within 10s")
        .expect("watch stream ended early")
}

fn b(s: &str) -> Bytes {
    Bytes::copy_from_slice(s.as_bytes())
}

/// `create` makes a key at a new revision; a second create fails with `AlreadyExists`.
pub async fn create_and_get(store: Arc<dyn Store>) {
    let before = store.current_revision().await.unwrap();
    let kv = store.create("/c/a", b("1"), 0).await.unwrap();
    assert!(kv.mod_revision > before, "create advances the revision");
    assert_eq!(kv.create_revision, kv.mod_revision);
    assert_eq!(kv.version, 1);
    assert_eq!(kv.key, "/c/a");
    assert_eq!(store.current_revision().await.unwrap(), kv.mod_revision);
    let got = store.get("/c/a").await.unwrap().expect("key exists");
    assert_eq!(got, kv);
    assert!(store.get("/c/missing").await.unwrap().is_none());
    let err = store.create("/c/a", b("2"), 0).await.unwrap_err();
    assert!(
        matches!(err, Error::AlreadyExists { ref key } if key == "/c/a"),
        "{err:?}"
    );
    assert_eq!(
        store.get("/c/a").await.unwrap().unwrap().value,
        b("1"),
        "failed create wrote nothing"
    );
    assert_eq!(
        store.current_revision().await.unwrap(),
        kv.mod_revision,
        "failed create is no write"
    );
}

/// `update` succeeds only with the current `mod_revision`.
pub async fn update_is_compare_and_swap(store: Arc<dyn Store>) {
    let v1 = store.create("/u/a", b("1"), 0).await.unwrap();
    let v2 = store
        .update("/u/a", b("2"), v1.mod_revision, 0)
        .await
        .unwrap();
    assert!(v2.mod_revision > v1.mod_revision);
    assert_eq!(v2.create_revision, v1.create_revision);
    assert_eq!(v2.version, 2);
    assert_eq!(v2.value, b("2"));
    let err = store
        .update("/u/a", b("3"), v1.mod_revision, 0)
        .await
        .unwrap_err();
    match err {
        Error::Conflict {
            key,
            expected,
            actual,
        } => {
            assert_eq!(key, "/u/a");
            assert_eq!(expected, v1.mod_revision);
            assert_eq!(actual, v2.mod_revision);
        }
        other => panic!("expected Conflict, got {other:?}"),
    }
    assert_eq!(store.get("/u/a").await.unwrap().unwrap().value, b("2"));
    let err = store.update("/u/missing", b("x"), 5, 0).await.unwrap_err();
    assert!(matches!(err, Error::NotFound { .. }), "{err:?}");
}

/// `delete` returns what it removed, honours the expected revision, and fails on a missing key.
pub async fn delete_is_guarded(store: Arc<dyn Store>) {
    let kv = store.create("/d/a", b("1"), 0).await.unwrap();
    let err = store
        .delete("/d/a", Some(kv.mod_revision + 1000))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Conflict { .. }), "{err:?}");
    assert!(
        store.get("/d/a").await.unwrap().is_some(),
        "guarded delete kept the key"
    );
    let gone = store.delete("/d/a", Some(kv.mod_revision)).await.unwrap();
    assert_eq!(gone, kv);
    assert!(store.get("/d/a").await.unwrap().is_none());
    assert!(matches!(
        store.delete("/d/a", None).await.unwrap_err(),
        Error::NotFound { .. }
    ));
    // Re-creating starts a new life: version 1, a new create_revision.
    let again = store.create("/d/a", b("2"), 0).await.unwrap();
    assert_eq!(again.version, 1);
    assert!(again.create_revision > kv.create_revision);
    let unguarded = store.delete("/d/a", None).await.unwrap();
    assert_eq!(unguarded.value, b("2"));
}

/// Ranges are in key order, bounded by `limit`, continued by `start_key`, counted.
pub async fn range_by_prefix_with_limit_and_continue(store: Arc<dyn Store>) {
    for i in (0..10).rev() {
        store
            .create(&format!("/r/a/{i:02}"), b(&i.to_string()), 0)
            .await
            .unwrap();
    }
    store.create("/r/b/0", b("x"), 0).await.unwrap();
    store.create("/r/a", b("exact"), 0).await.unwrap();

    let all = store.range(RangeRequest::prefix("/r/a/")).await.unwrap();
    assert_eq!(all.count, 10);
    assert!(!all.more);
    let keys: Vec<_> = all.kvs.iter().map(|kv| kv.key.clone()).collect();
    let expected: Vec<_> = (0..10).map(|i| format!("/r/a/{i:02}")).collect();
    assert_eq!(keys, expected, "keys come back in order");

    let mut seen = Vec::new();
    let mut request = RangeRequest::prefix("/r/a/").with_limit(3);
    let mut pages = 0;
    loop {
        let page = store.range(request.clone()).await.unwrap();
        pages += 1;
        assert!(page.kvs.len() <= 3);
        assert_eq!(
            page.count,
            10 - seen.len(),
            "count covers the rest of the range"
        );
        seen.extend(page.kvs.iter().map(|kv| kv.key.clone()));
        if !page.more {
            break;
        }
        let last = page.kvs.last().unwrap().key.clone();
        request = request.with_start_key(format!("{last}\0"));
    }
    assert_eq!(pages, 4);
    assert_eq!(seen, expected);

    let counted = store
        .range(RangeRequest::prefix("/r/").with_count_only())
        .await
        .unwrap();
    assert_eq!(counted.count, 12);
    assert!(counted.kvs.is_empty());

    let exact = store.range(RangeRequest::key("/r/a")).await.unwrap();
    assert_eq!(exact.kvs.len(), 1);
    assert_eq!(exact.kvs[0].value, b("exact"));
}

/// Reads at a past revision see the state of that revision.
pub async fn range_at_past_revision(store: Arc<dyn Store>) {
    let v1 = store.create("/p/a", b("1"), 0).await.unwrap();
    let v2 = store
        .update("/p/a", b("2"), v1.mod_revision, 0)
        .await
        .unwrap();
    store.create("/p/b", b("b"), 0).await.unwrap();
    store.delete("/p/a", None).await.unwrap();

    let at1 = store
        .range(RangeRequest::prefix("/p/").with_revision(v1.mod_revision))
        .await
        .unwrap();
    assert_eq!(at1.revision, v1.mod_revision);
    assert_eq!(at1.kvs, vec![v1.clone()]);
    let at2 = store
        .range(RangeRequest::prefix("/p/").with_revision(v2.mod_revision))
        .await
        .unwrap();
    assert_eq!(at2.kvs, vec![v2]);
    let now = store.range(RangeRequest::prefix("/p/")).await.unwrap();
    assert_eq!(now.kvs.len(), 1);
    assert_eq!(now.kvs[0].key, "/p/b");

    let current = store.current_revision().await.unwrap();
    let err = store
        .range(RangeRequest::prefix("/p/").with_revision(current + 1_000_000))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::FutureRevision { .. }), "{err:?}");
}

/// A transaction applies one branch atomically at one revision.
pub async fn transactions_are_atomic(store: Arc<dyn Store>) {
    let a = store.create("/t/a", b("a"), 0).await.unwrap();
    let txn = Txn::new()
        .when([
            Compare::mod_revision("/t/a", CompareResult::Equal, a.mod_revision),
            Compare::create_revision("/t/b", CompareResult::Equal, 0),
        ])
        .and_then([
            TxnOp::put("/t/a", "a2"),
            TxnOp::put("/t/b", "b"),
            TxnOp::get("/t/b"),
        ])
        .or_else([TxnOp::get("/t/a")]);
    let response = store.txn(txn.clone()).await.unwrap();
    assert!(response.succeeded);
    assert_eq!(response.responses.len(), 3);
    let (TxnOpResponse::Put { kv: ka, prev_kv }, TxnOpResponse::Put { kv: kb, .. }) =
        (&response.responses[0], &response.responses[1])
    else {
        panic!("unexpected responses {:?}", response.responses)
    };
    assert_eq!(prev_kv.as_ref(), Some(&a));
    assert_eq!(
        ka.mod_revision, kb.mod_revision,
        "one revision per transaction"
    );
    assert_eq!(response.revision, ka.mod_revision);
    assert!(matches!(&response.responses[2], TxnOpResponse::Get { kv: Some(kv) } if kv == kb));

    // Same transaction again: the guards fail, the failure branch runs, nothing is written.
    let before = store.current_revision().await.unwrap();
    let response = store.txn(txn).await.unwrap();
    assert!(!response.succeeded);
    assert!(matches!(&response.responses[0], TxnOpResponse::Get { kv: Some(kv) } if kv == ka));
    assert_eq!(
        store.current_revision().await.unwrap(),
        before,
        "a read-only branch is no write"
    );

    // Deleting in a transaction returns the previous value; absent keys delete nothing.
    let response = store
        .txn(Txn::new().and_then([TxnOp::delete("/t/a"), TxnOp::delete("/t/none")]))
        .await
        .unwrap();
    assert!(
        matches!(&response.responses[0], TxnOpResponse::Delete { prev_kv: Some(kv) } if kv == ka)
    );
    assert!(matches!(
        &response.responses[1],
        TxnOpResponse::Delete { prev_kv: None }
    ));

    let duplicate = Txn::new().and_then([TxnOp::put("/t/x", "1"), TxnOp::put("/t/x", "2")]);
    assert!(matches!(
        store.txn(duplicate).await.unwrap_err(),
        Error::InvalidArgument(_)
    ));
    assert!(
        store.get("/t/x").await.unwrap().is_none(),
        "a rejected transaction wrote nothing"
    );
}

/// Racing compare-and-swaps: exactly one writer wins each round; retries lose no increment.
pub async fn concurrent_writers_race_exactly_one_wins(store: Arc<dyn Store>) {
    let start = store.create("/race/k", b("0"), 0).await.unwrap();
    let mut tasks = Vec::new();
    for i in 0..16 {
        let store = store.clone();
        let expected = start.mod_revision;
        tasks.push(tokio::spawn(async move {
            store
                .update("/race/k", b(&format!("w{i}")), expected, 0)
                .await
        }));
    }
    let mut wins = 0;
    for task in tasks {
        match task.await.unwrap() {
            Ok(_) => wins += 1,
            Err(Error::Conflict { .. }) => {}
            Err(other) => panic!("unexpected error {other:?}"),
        }
    }
    assert_eq!(wins, 1, "exactly one compare-and-swap wins");

    let counter = store.create("/race/counter", b("0"), 0).await.unwrap();
    let _ = counter;
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            for _ in 0..10 {
                loop {
                    let kv = store.get("/race/counter").await.unwrap().unwrap();
                    let n: u64 = std::str::from_utf8(&kv.value).unwrap().parse().unwrap();
                    match store
                        .update("/race/counter", b(&(n + 1).to_string()), kv.mod_revision, 0)
                        .await
                    {
                        Ok(_) => break,
                        Err(Error::Conflict { .. }) => continue,
                        Err(other) => panic!("unexpected error {other:?}"),
                    }
                }
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    let kv = store.get("/race/counter").await.unwrap().unwrap();
    assert_eq!(kv.value, b("80"), "no increment lost");
    assert_eq!(kv.version, 81);
}

/// A watch sees puts and deletes in order, with previous values when asked.
pub async fn watch_delivers_puts_and_deletes_in_order(store: Arc<dyn Store>) {
    let mut watch = store
        .watch(WatchRequest::prefix("/w/").with_prev_kv())
        .await
        .unwrap();
    let mut plain = store.watch(WatchRequest::prefix("/w/")).await.unwrap();
    let created = store.create("/w/a", b("1"), 0).await.unwrap();
    store.create("/other/a", b("x"), 0).await.unwrap();
    let updated = store
        .update("/w/a", b("2"), created.mod_revision, 0)
        .await
        .unwrap();
    let deleted = store.delete("/w/a", None).await.unwrap();
    assert_eq!(deleted, updated);

    let e1 = next_event(&mut watch).await.unwrap();
    assert_eq!(
        (e1.kind, &e1.kv, &e1.prev_kv),
        (EventKind::Put, &created, &None)
    );
    let e2 = next_event(&mut watch).await.unwrap();
    assert_eq!(
        (e2.kind, &e2.kv, e2.prev_kv.as_ref()),
        (EventKind::Put, &updated, Some(&created))
    );
    let e3 = next_event(&mut watch).await.unwrap();
    assert_eq!(e3.kind, EventKind::Delete);
    assert_eq!(e3.kv.key, "/w/a");
    assert!(e3.kv.mod_revision > updated.mod_revision);
    assert_eq!(e3.prev_kv.as_ref(), Some(&updated));

    for expected in [&e1, &e2, &e3] {
        let event = next_event(&mut plain).await.unwrap();
        assert_eq!(event.kv, expected.kv);
        assert_eq!(event.prev_kv, None, "prev_kv only when asked for");
    }
}

/// A watch from an old revision replays history, then continues live, without duplicates.
pub async fn watch_replays_history_from_a_revision(store: Arc<dyn Store>) {
    let first = store.create("/h/0", b("0"), 0).await.unwrap();
    for i in 1..5 {
        store
            .create(&format!("/h/{i}"), b(&i.to_string()), 0)
            .await
            .unwrap();
    }
    let mut watch = store
        .watch(WatchRequest::prefix("/h/").from_revision(first.mod_revision))
        .await
        .unwrap();
    for i in 5..8 {
        store
            .create(&format!("/h/{i}"), b(&i.to_string()), 0)
            .await
            .unwrap();
    }
    let mut last = 0;
    for i in 0..8 {
        let event = next_event(&mut watch).await.unwrap();
        assert_eq!(event.kv.key, format!("/h/{i}"), "event {i} in order");
        assert!(event.kv.mod_revision > last);
        last = event.kv.mod_revision;
    }
    // Nothing more: a sentinel write is the very next event.
    store.create("/h/sentinel", b("s"), 0).await.unwrap();
    assert_eq!(next_event(&mut watch).await.unwrap().kv.key, "/h/sentinel");
}

/// Watches opened while writes are in flight see every write from their start revision,
/// in order, once.
pub async fn watch_opened_during_writes_misses_nothing(store: Arc<dyn Store>) {
    const WRITES: usize = 150;
    let writer = {
        let store = store.clone();
        tokio::spawn(async move {
            let mut revisions = Vec::with_capacity(WRITES);
            for i in 0..WRITES {
                let kv = store
                    .create(&format!("/live/{i:04}"), b(&i.to_string()), 0)
                    .await
                    .unwrap();
                revisions.push(kv.mod_revision);
                if i % 10 == 0 {
                    tokio::task::yield_now().await;
                }
            }
            revisions
        })
    };
    let mut watches = Vec::new();
    for _ in 0..6 {
        let start = store.current_revision().await.unwrap() + 1;
        let watch = store
            .watch(WatchRequest::prefix("/live/").from_revision(start))
            .await
            .unwrap();
        watches.push((start, watch));
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let revisions = writer.await.unwrap();
    for (start, mut watch) in watches {
        let expected: Vec<usize> = (0..WRITES).filter(|&i| revisions[i] >= start).collect();
        for i in expected {
            let event = next_event(&mut watch).await.unwrap();
            assert_eq!(
                event.kv.key,
                format!("/live/{i:04}"),
                "watch from {start}: no gap, no duplicate"
            );
        }
    }
}

/// A watch of one key does not see keys that merely share its prefix.
pub async fn watch_of_one_key_ignores_siblings(store: Arc<dyn Store>) {
    let mut watch = store.watch(WatchRequest::key("/k/a")).await.unwrap();
    store.create("/k/ab", b("1"), 0).await.unwrap();
    store.create("/k/a", b("2"), 0).await.unwrap();
    let event = next_event(&mut watch).await.unwrap();
    assert_eq!(event.kv.key, "/k/a");
}

/// After compaction, older revisions cannot be read or watched; newer ones still can.
pub async fn compaction_forgets_history(store: Arc<dyn Store>) {
    let mut revisions = Vec::new();
    let mut kv = store.create("/cmp/a", b("0"), 0).await.unwrap();
    revisions.push(kv.mod_revision);
    for i in 1..5 {
        kv = store
            .update("/cmp/a", b(&i.to_string()), kv.mod_revision, 0)
            .await
            .unwrap();
        revisions.push(kv.mod_revision);
    }
    let target = revisions[2];
    store.compact(target).await.unwrap();
    assert!(store.compacted_revision().await.unwrap() >= target);

    let err = store
        .range(RangeRequest::key("/cmp/a").with_revision(revisions[1]))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Compacted { .. }), "{err:?}");
    let at = store
        .range(RangeRequest::key("/cmp/a").with_revision(target))
        .await
        .unwrap();
    assert_eq!(
        at.kvs[0].value,
        b("2"),
        "the compacted revision itself is still readable"
    );
    assert_eq!(
        store.get("/cmp/a").await.unwrap().unwrap().value,
        b("4"),
        "current state untouched"
    );

    let compacted = match store
        .watch(WatchRequest::key("/cmp/a").from_revision(revisions[1]))
        .await
    {
        Err(err) => err,
        Ok(mut stream) => next_event(&mut stream).await.unwrap_err(),
    };
    assert!(
        matches!(compacted, Error::Compacted { .. }),
        "{compacted:?}"
    );

    let mut watch = store
        .watch(WatchRequest::key("/cmp/a").from_revision(revisions[3]))
        .await
        .unwrap();
    assert_eq!(next_event(&mut watch).await.unwrap().kv.value, b("3"));
    assert_eq!(next_event(&mut watch).await.unwrap().kv.value, b("4"));

    assert!(matches!(
        store.compact(target).await.unwrap_err(),
        Error::Compacted { .. }
    ));
    let current = store.current_revision().await.unwrap();
    assert!(matches!(
        store.compact(current + 1_000_000).await.unwrap_err(),
        Error::FutureRevision { .. }
    ));
}

/// Keys attached to a lease are deleted when it is revoked or expires.
pub async fn leases_delete_their_keys(store: Arc<dyn Store>) {
    let lease = store.lease_grant(Duration::from_secs(30)).await.unwrap();
    assert!(store.lease_keep_alive(lease).await.unwrap() >= Duration::from_secs(30));
    let kv = store.create("/l/a", b("1"), lease).await.unwrap();
    assert_eq!(kv.lease, lease);
    let mut watch = store.watch(WatchRequest::prefix("/l/")).await.unwrap();
    store.lease_revoke(lease).await.unwrap();
    let event = next_event(&mut watch).await.unwrap();
    assert_eq!(
        (event.kind, event.kv.key.as_str()),
        (EventKind::Delete, "/l/a")
    );
    assert!(store.get("/l/a").await.unwrap().is_none());
    assert!(matches!(
        store.lease_keep_alive(lease).await.unwrap_err(),
        Error::LeaseNotFound(_)
    ));
    assert!(matches!(
        store.lease_revoke(lease).await.unwrap_err(),
        Error::LeaseNotFound(_)
    ));
    let err = store.create("/l/b", b("1"), lease).await.unwrap_err();
    assert!(matches!(err, Error::LeaseNotFound(_)), "{err:?}");
    assert!(store.get("/l/b").await.unwrap().is_none());

    // Expiry: no keep-alive within the TTL (backends may round a TTL up to their minimum).
    let short = store.lease_grant(Duration::from_secs(1)).await.unwrap();
    store.create("/l/short", b("1"), short).await.unwrap();
    store.create("/l/kept", b("1"), 0).await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while store.get("/l/short").await.unwrap().is_some() {
        assert!(Instant::now() < deadline, "leased key outlived its TTL");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        store.get("/l/kept").await.unwrap().is_some(),
        "unleased keys stay"
    );
}

/// Empty keys, oversize values and impossible revisions are typed errors, and write nothing.
pub async fn bad_input_is_a_typed_error(store: Arc<dyn Store>) {
    assert!(matches!(store.get("").await.unwrap_err(), Error::EmptyKey));
    assert!(matches!(
        store.create("", b("x"), 0).await.unwrap_err(),
        Error::EmptyKey
    ));
    assert!(matches!(
        store.range(RangeRequest::prefix("")).await.unwrap_err(),
        Error::EmptyKey
    ));
    assert!(matches!(
        store.watch(WatchRequest::prefix("")).await.err(),
        Some(Error::EmptyKey)
    ));
    let huge = Bytes::from(vec![b'x'; MAX_REQUEST_BYTES + 1]);
    let err = store.create("/big", huge.clone(), 0).await.unwrap_err();
    assert!(matches!(err, Error::TooLarge { .. }), "{err:?}");
    assert!(store.get("/big").await.unwrap().is_none());
    let err = store
        .txn(Txn::new().and_then([TxnOp::put("/big", huge)]))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::TooLarge { .. }), "{err:?}");
    // Just under the limit is fine.
    let fits = Bytes::from(vec![b'y'; MAX_REQUEST_BYTES - 64]);
    store.create("/fits", fits.clone(), 0).await.unwrap();
    assert_eq!(
        store.get("/fits").await.unwrap().unwrap().value.len(),
        fits.len()
    );
    let err = store
        .range(RangeRequest::key("/fits").with_revision(i64::MAX / 2))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::FutureRevision { .. }), "{err:?}");
}
