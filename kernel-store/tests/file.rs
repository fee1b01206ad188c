//! [`FileStore`]: the conformance suite, durability across reopen, and `kill -9`.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use bytes::Bytes;
use futures::StreamExt;
use kernel_store::{testsuite, FileStore, RangeRequest, Store, Watch, WatchRequest};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn file_store_conforms() {
    let dir = tempfile::tempdir().unwrap();
    let n = AtomicUsize::new(0);
    testsuite::run_all(|| {
        let path = dir
            .path()
            .join(format!("store-{}.redb", n.fetch_add(1, Ordering::SeqCst)));
        async move { FileStore::open(path).unwrap() }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reopen_keeps_keys_history_leases_and_revision() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.redb");
    let (a, lease, revision) = {
        let store = FileStore::open(&path).unwrap();
        let a = store.create("/k/a", Bytes::from("1"), 0).await.unwrap();
        let a = store
            .update("/k/a", Bytes::from("2"), a.mod_revision, 0)
            .await
            .unwrap();
        store.create("/k/b", Bytes::from("b"), 0).await.unwrap();
        store.delete("/k/b", None).await.unwrap();
        let lease = store.lease_grant(Duration::from_secs(60)).await.unwrap();
        store
            .create("/k/leased", Bytes::from("l"), lease)
            .await
            .unwrap();
        (a, lease, store.current_revision().await.unwrap())
    };
    let store = FileStore::open(&path).unwrap();
    assert_eq!(
        store.current_revision().await.unwrap(),
        revision,
        "revision survives"
    );
    assert_eq!(store.get("/k/a").await.unwrap(), Some(a.clone()));
    assert!(
        store.get("/k/b").await.unwrap().is_none(),
        "deletes survive"
    );
    // History survives too: reads at the first revision and watch replay.
    let at_create = store
        .range(RangeRequest::key("/k/a").with_revision(a.create_revision))
        .await
        .unwrap();
    assert_eq!(at_create.kvs[0].value, Bytes::from("1"));
    let mut watch = store
        .watch(WatchRequest::prefix("/k/").from_revision(a.create_revision))
        .await
        .unwrap();
    let mut keys = Vec::new();
    for _ in 0..5 {
        let event = testsuite::next_event(&mut watch).await.unwrap();
        keys.push((event.kv.key, event.kv.mod_revision));
    }
    assert_eq!(
        keys.iter().map(|(k, _)| k.as_str()).collect::<Vec<_>>(),
        ["/k/a", "/k/a", "/k/b", "/k/b", "/k/leased"]
    );
    // New writes continue the revision sequence; the lease still exists and still works.
    let c = store.create("/k/c", Bytes::from("c"), 0).await.unwrap();
    assert_eq!(c.mod_revision, revision + 1);
    store.lease_revoke(lease).await.unwrap();
    assert!(store.get("/k/leased").await.unwrap().is_none());
    let next = watch.next().await.unwrap().unwrap();
    assert_eq!(next.kv.key, "/k/c");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compaction_survives_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.redb");
    let first = {
        let store = FileStore::open(&path).unwrap();
        let first = store.create("/x", Bytes::from("0"), 0).await.unwrap();
        let mut kv = first.clone();
        for i in 1..10 {
            kv = store
                .update("/x", Bytes::from(i.to_string()), kv.mod_revision, 0)
                .await
                .unwrap();
        }
        store.compact(kv.mod_revision - 2).await.unwrap();
        first
    };
    let store = FileStore::open(&path).unwrap();
    let err = store
        .range(RangeRequest::key("/x").with_revision(first.mod_revision))
        .await
        .unwrap_err();
    assert!(
        matches!(err, kernel_store::Error::Compacted { .. }),
        "{err:?}"
    );
    assert_eq!(
        store.get("/x").await.unwrap().unwrap().value,
        Bytes::from("9")
    );
}

const CHILD_ENV: &str = "KERNEL_STORE_CRASH_CHILD";

/// The child half of `acknowledged_writes_survive_kill_9`: writes until killed, printing an
/// `ACK key revision` line after each acknowledged write.
fn crash_child(path: &str) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let store = FileStore::open(path).unwrap();
        let mut tasks = Vec::new();
        for t in 0..8 {
            let store = store.clone();
            tasks.push(tokio::spawn(async move {
                for i in 0.. {
                    let key = format!("/crash/{t}/{i}");
                    let kv = store
                        .create(&key, Bytes::from(vec![b'v'; 512]), 0)
                        .await
                        .unwrap();
                    println!("ACK {key} {}", kv.mod_revision);
                }
            }));
        }
        for task in tasks {
            task.await.unwrap();
        }
    });
}

#[test]
fn acknowledged_writes_survive_kill_9() {
    if let Ok(path) = std::env::var(CHILD_ENV) {
        crash_child(&path);
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("crash.redb");
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "acknowledged_writes_survive_kill_9",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_ENV, &path)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut acked = Vec::new();
    while acked.len() < 300 {
        let line = lines.next().expect("child output").unwrap();
        if let Some(rest) = line.strip_prefix("ACK ") {
            let (key, rev) = rest.split_once(' ').unwrap();
            acked.push((key.to_owned(), rev.parse::<i64>().unwrap()));
        }
    }
    child.kill().unwrap(); // SIGKILL: no destructor, no flush.
                           // Acknowledgements printed before the kill also count.
    for line in lines.map_while(Result::ok) {
        if let Some(rest) = line.strip_prefix("ACK ") {
            if let Some((key, rev)) = rest.split_once(' ') {
                if let Ok(rev) = rev.parse::<i64>() {
                    acked.push((key.to_owned(), rev));
                }
            }
        }
    }
    child.wait().unwrap();

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let store = FileStore::open(&path).unwrap();
        let max = acked.iter().map(|(_, r)| *r).max().unwrap();
        let current = store.current_revision().await.unwrap();
        assert!(
            current >= max,
            "revision {current} went back below acknowledged {max}"
        );
        for (key, rev) in &acked {
            let kv = store.get(key).await.unwrap();
            assert_eq!(
                kv.map(|kv| kv.mod_revision),
                Some(*rev),
                "acknowledged {key} lost"
            );
        }
        let next = store.create("/after", Bytes::from("x"), 0).await.unwrap();
        assert!(
            next.mod_revision > current,
            "revisions continue after the crash"
        );
        eprintln!(
            "{} acknowledged writes survived kill -9; revision continued at {}",
            acked.len(),
            next.mod_revision
        );
    });
}
