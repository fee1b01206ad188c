//! [`FileStore`]'s format versions: files of kernel-store 0.1.0 (no version key, records in
//! bincode 1's layout) are migrated; newer or unreadable files are refused with a clear error.
//! The old files are written here by hand through redb, byte by byte.

use std::path::Path;

use bytes::Bytes;
use kernel_store::{Error, FileStore, RangeRequest, Store};
use redb::{Database, TableDefinition};

const META: TableDefinition<&str, i64> = TableDefinition::new("meta");
const KV: TableDefinition<&str, &[u8]> = TableDefinition::new("kv");
const LOG: TableDefinition<i64, &[u8]> = TableDefinition::new("log");
const LEASES: TableDefinition<i64, u64> = TableDefinition::new("leases");

/// A key-value as bincode 1 wrote it: `u64` lengths, then four `i64`, all little-endian.
fn old_kv(key: &str, value: &[u8], create: i64, modified: i64, version: i64) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(&(key.len() as u64).to_le_bytes());
    out.extend_from_slice(key.as_bytes());
    out.extend_from_slice(&(value.len() as u64).to_le_bytes());
    out.extend_from_slice(value);
    for n in [create, modified, version, 0] {
        out.extend_from_slice(&n.to_le_bytes());
    }
    out
}

/// One put event, as bincode 1 wrote a `Vec<Event>`: count `u64`, kind `u32`, kv, `None` as 0.
fn old_put_events(kv: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(&1u64.to_le_bytes());
    out.extend_from_slice(&0u32.to_le_bytes());
    out.extend_from_slice(kv);
    out.push(0);
    out
}

/// Writes `meta` entries and `kv` / `log` records as they are given, as kernel-store 0.1.0 did.
fn write_old_file(
    path: &Path,
    meta: &[(&str, i64)],
    kvs: &[(&str, Vec<u8>)],
    log: &[(i64, Vec<u8>)],
) {
    let db = Database::create(path).unwrap();
    let txn = db.begin_write().unwrap();
    {
        let mut meta_table = txn.open_table(META).unwrap();
        for (name, value) in meta {
            meta_table.insert(*name, *value).unwrap();
        }
        let mut kv_table = txn.open_table(KV).unwrap();
        for (key, record) in kvs {
            kv_table.insert(*key, record.as_slice()).unwrap();
        }
        let mut log_table = txn.open_table(LOG).unwrap();
        for (revision, record) in log {
            log_table.insert(*revision, record.as_slice()).unwrap();
        }
        txn.open_table(LEASES).unwrap();
    }
    txn.commit().unwrap();
}

fn read_meta(path: &Path, name: &str) -> Option<i64> {
    let db = Database::create(path).unwrap();
    let txn = db.begin_read().unwrap();
    let meta = txn.open_table(META).unwrap();
    let value = meta.get(name).unwrap().map(|v| v.value());
    value
}

fn read_kv_record(path: &Path, key: &str) -> Vec<u8> {
    let db = Database::create(path).unwrap();
    let txn = db.begin_read().unwrap();
    let kv = txn.open_table(KV).unwrap();
    let value = kv.get(key).unwrap().unwrap().value().to_vec();
    value
}

#[tokio::test]
async fn new_files_carry_the_current_format_version() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.redb");
    drop(FileStore::open(&path).unwrap());
    assert_eq!(read_meta(&path, "format"), Some(FileStore::FORMAT_VERSION));
    assert_eq!(FileStore::FORMAT_VERSION, 1);
}

#[tokio::test]
async fn a_file_of_kernel_store_0_1_is_migrated() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("old.redb");
    let v0 = old_kv("/a", b"zero", 2, 2, 1);
    let v1 = old_kv("/a", b"one", 2, 3, 2);
    let b = old_kv("/b", b"bee", 4, 4, 1);
    write_old_file(
        &path,
        &[("revision", 4)],
        &[("/a", v1.clone()), ("/b", b.clone())],
        &[
            (2, old_put_events(&v0)),
            (3, old_put_events(&v1)),
            (4, old_put_events(&b)),
        ],
    );
    assert_eq!(read_meta(&path, "format"), None);

    {
        let store = FileStore::open(&path).unwrap();
        assert_eq!(store.current_revision().await.unwrap(), 4);
        assert_eq!(
            store.get("/a").await.unwrap().unwrap().value,
            Bytes::from("one")
        );
        assert_eq!(store.get("/b").await.unwrap().unwrap().version, 1);
        // History came along: a read at revision 2 sees the first value.
        let at_2 = store
            .range(RangeRequest::key("/a").with_revision(2))
            .await
            .unwrap();
        assert_eq!(at_2.kvs[0].value, Bytes::from("zero"));
        store.create("/c", Bytes::from("c"), 0).await.unwrap();
    }
    // The records were rewritten in the current version (u32 lengths: 4 + 2 + 4 + 3 + 32 bytes).
    assert_eq!(read_meta(&path, "format"), Some(1));
    assert_eq!(read_kv_record(&path, "/a").len(), 45);
    let store = FileStore::open(&path).unwrap();
    assert_eq!(store.current_revision().await.unwrap(), 5);
    let at_3 = store
        .range(RangeRequest::key("/a").with_revision(3))
        .await
        .unwrap();
    assert_eq!(at_3.kvs[0].value, Bytes::from("one"));
}

#[tokio::test]
async fn an_unversioned_file_whose_records_are_not_bincode_is_refused_unchanged() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("foreign.redb");
    let good = old_kv("/a", b"one", 2, 2, 1);
    write_old_file(
        &path,
        &[("revision", 3)],
        &[("/a", good), ("/z", b"{\"not\":\"bincode\"}".to_vec())],
        &[],
    );
    let err = FileStore::open(&path).unwrap_err();
    match &err {
        Error::FileFormat {
            path: p,
            found,
            current,
            ..
        } => {
            assert_eq!(p, &path);
            assert_eq!((*found, *current), (0, 1));
        }
        other => panic!("expected FileFormat, got {other:?}"),
    }
    let message = err.to_string();
    for part in [
        path.display().to_string().as_str(),
        "format version 0",
        "kernel-store 0.1.0",
        "kv record \"/z\"",
        "Nothing was changed",
        "restore the file from a backup, or move it away",
    ] {
        assert!(message.contains(part), "{part:?} missing in: {message}");
    }
    assert!(!err.is_transient());
    // The half-done migration was not committed: no version, the old bytes still there.
    assert_eq!(read_meta(&path, "format"), None);
    assert_eq!(read_kv_record(&path, "/a"), old_kv("/a", b"one", 2, 2, 1));
}

#[tokio::test]
async fn a_newer_format_version_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("newer.redb");
    write_old_file(&path, &[("format", 99), ("revision", 7)], &[], &[]);
    let err = FileStore::open(&path).unwrap_err();
    assert!(
        matches!(
            err,
            Error::FileFormat {
                found: 99,
                current: 1,
                ..
            }
        ),
        "{err:?}"
    );
    let message = err.to_string();
    assert!(
        message.starts_with(&format!(
            "store file {}: format version 99 cannot be opened",
            path.display()
        )),
        "{message}"
    );
    assert!(
        message.contains("a newer kernel-store wrote it"),
        "{message}"
    );
    assert_eq!(read_meta(&path, "format"), Some(99));
}

#[tokio::test]
async fn a_damaged_record_names_the_file_and_the_record() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("damaged.redb");
    write_old_file(
        &path,
        &[("format", 1), ("revision", 2)],
        &[("/a", vec![1, 0])],
        &[],
    );
    let message = FileStore::open(&path).unwrap_err().to_string();
    assert!(message.contains(&path.display().to_string()), "{message}");
    assert!(message.contains("format version 1"), "{message}");
    assert!(
        message.contains("kv record \"/a\" does not decode"),
        "{message}"
    );
}
