//! [`FileStore`]: the durable single-file store.
//!
//! # Why redb
//! The file is a [redb](https://docs.rs/redb) database: a pure-Rust, copy-on-write B-tree with
//! ACID transactions whose commit fsyncs before it returns. Being pure Rust, it needs no C
//! toolchain (SQLite, which kine/k3s use, would bring one), and its crash safety comes from
//! the copy-on-write design rather than from a separate WAL we would have to manage.
//!
//! # Layout
//! | table    | key            | value                                      |
//! |----------|----------------|--------------------------------------------|
//! | `meta`   | name           | `format`, `revision`, `compacted`, `next_lease` |
//! | `kv`     | store key      | the current [`KeyValue`](crate::KeyValue)   |
//! | `log`    | revision       | the events of that revision (watch replay)  |
//! | `leases` | lease id       | TTL in milliseconds                         |
//!
//! # Write path (group commit)
//! Writers hand their operation to one writer thread. It takes every operation waiting,
//! applies them in order to the in-memory [`Mvcc`] engine (so each sees the one before),
//! persists their changes in **one** redb transaction (one fsync), and only then publishes them
//! to readers and watchers and answers the callers. Nothing is acknowledged or observed before
//! it is on disk; concurrent writers share one fsync. Reads are served from memory.
//!
//! On open, the engine is rebuilt from the file: current keys, the event log since the compacted
//! revision, and the leases (whose TTLs restart, as etcd's do after a leader change).

use std::path::{Path, PathBuf};
use std::sync::mpsc as std_mpsc;
use std::sync::{Arc, Mutex, RwLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use redb::{Database, ReadableTable, ReadableTableMetadata, TableDefinition};
use tokio::sync::oneshot;

use crate::mvcc::{Change, Mvcc, Snapshot};

mod format;
use crate::{
    Error, EventKind, LeaseId, RangeRequest, RangeResponse, Result, Revision, Store, Txn,
    TxnResponse, Watch, WatchRequest, WatchStream,
};
use format::Layout;

const META: TableDefinition<&str, i64> = TableDefinition::new("meta");
const KV: TableDefinition<&str, &[u8]> = TableDefinition::new("kv");
const LOG: TableDefinition<i64, &[u8]> = TableDefinition::new("log");
const LEASES: TableDefinition<i64, u64> = TableDefinition::new("leases");

/// How many revisions of history a [`FileStore`] keeps by default before compacting itself.
pub const DEFAULT_HISTORY: i64 = 10_000;

/// How often the writer thread looks for expired leases when idle.
const LEASE_TICK: Duration = Duration::from_millis(100);

/// Most operations committed in one fsync.
const MAX_BATCH: usize = 4096;

/// Called with the persist outcome once the batch holding the operation is on disk.
type Completion = Box<dyn FnOnce(Option<&str>) + Send>;
type Job = Box<dyn FnOnce(&mut Mvcc) -> Completion + Send>;

/// A durable store in one file: every acknowledged write is fsynced; after a crash and a
/// restart nothing acknowledged is lost and revisions continue. Cloning is cheap and shares it.
///
/// # File format
/// `meta.format` is the version of the record encoding, written by hand in `file/format.rs`
/// (no serialization crate decides the bytes on disk). This build writes
/// [`FileStore::FORMAT_VERSION`]. Opening a file without the key that holds data (written by
/// kernel-store 0.1.0, whose records were bincode 1's) rewrites its records in the current
/// version, in one transaction: a crash during it leaves the old file as it was. A file of a
/// newer version, or one whose records do not decode, is refused with [`Error::FileFormat`],
/// which names the file, the version found and what to do; nothing in it is changed.
#[derive(Clone)]
pub struct FileStore {
    inner: Arc<Inner>,
}

struct Inner {
    path: PathBuf,
    mvcc: Arc<RwLock<Mvcc>>,
    jobs: Mutex<Option<std_mpsc::Sender<Job>>>,
    writer: Mutex<Option<JoinHandle<()>>>,
}

impl std::fmt::Debug for FileStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FileStore")
            .field("path", &self.inner.path)
            .finish_non_exhaustive()
    }
}

impl FileStore {
    /// The version of the file format this build writes (see [File format](FileStore#file-format)).
    pub const FORMAT_VERSION: i64 = format::CURRENT;

    /// Opens (or creates) the store at `path`, keeping 10,000 revisions of history.
    ///
    /// This reads the whole file into memory and blocks; in async code prefer
    /// `tokio::task::spawn_blocking` for large stores.
    pub fn open(path: impl AsRef<Path>) -> Result<FileStore> {
        Self::open_with_history(path, Some(DEFAULT_HISTORY))
    }

    /// Opens the store keeping at least `history` revisions (`None`: until [`Store::compact`]).
    pub fn open_with_history(path: impl AsRef<Path>, history: Option<i64>) -> Result<FileStore> {
        let path = path.as_ref().to_owned();
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(Error::backend)?;
        }
        let db = Database::create(&path)
            .map_err(|e| Error::Backend(format!("opening {}: {e}", path.display())))?;
        let snapshot = load(&db, &path)?;
        tracing::info!(
            path = %path.display(),
            revision = snapshot.revision,
            keys = snapshot.kvs.len(),
            "opened file store"
        );
        let mvcc = Arc::new(RwLock::new(Mvcc::restore(snapshot, history)));
        let (tx, rx) = std_mpsc::channel::<Job>();
        let writer = {
            let mvcc = mvcc.clone();
            std::thread::Builder::new()
                .name("kernel-store-writer".into())
                .spawn(move || writer_loop(db, mvcc, rx))
                .map_err(Error::backend)?
        };
        Ok(FileStore {
            inner: Arc::new(Inner {
                path,
                mvcc,
                jobs: Mutex::new(Some(tx)),
                writer: Mutex::new(Some(writer)),
            }),
        })
    }

    /// The file this store lives in.
    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// Runs `f` on the writer thread and answers once its changes are on disk.
    async fn submit<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Mvcc) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let (tx, rx) = oneshot::channel();
        let job: Job = Box::new(move |mvcc| {
            let result = f(mvcc);
            Box::new(move |failure: Option<&str>| {
                let _ = tx.send(match failure {
                    Some(message) => Err(Error::Backend(message.to_owned())),
                    None => result,
                });
            })
        });
        {
            let jobs = self.inner.jobs.lock().map_err(|_| Error::Closed)?;
            jobs.as_ref()
                .ok_or(Error::Closed)?
                .send(job)
                .map_err(|_| Error::Closed)?;
        }
        rx.await.map_err(|_| Error::Closed)?
    }

    fn read<T>(&self, f: impl FnOnce(&Mvcc) -> Result<T>) -> Result<T> {
        let mvcc = self.inner.mvcc.read().map_err(|_| Error::Closed)?;
        f(&mvcc)
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        // Closing the channel ends the writer once it has committed what is queued.
        if let Ok(mut jobs) = self.jobs.lock() {
            jobs.take();
        }
        if let Some(writer) = self.writer.lock().ok().and_then(|mut w| w.take()) {
            let _ = writer.join();
        }
    }
}

fn writer_loop(db: Database, mvcc: Arc<RwLock<Mvcc>>, jobs: std_mpsc::Receiver<Job>) {
    let mut failed: Option<String> = None;
    loop {
        let mut batch = Vec::new();
        match jobs.recv_timeout(LEASE_TICK) {
            Ok(job) => batch.push(job),
            Err(std_mpsc::RecvTimeoutError::Timeout) => {}
            Err(std_mpsc::RecvTimeoutError::Disconnected) => return,
        }
        while batch.len() < MAX_BATCH {
            match jobs.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        if let Some(message) = &failed {
            for job in batch {
                // Run nothing: the file and memory may disagree after a failed commit.
                let _ = job;
                tracing::error!(error = %message, "file store failed earlier; rejecting write");
            }
            continue;
        }
        let (completions, changes) = {
            let Ok(mut engine) = mvcc.write() else { return };
            let completions: Vec<Completion> =
                batch.into_iter().map(|job| job(&mut engine)).collect();
            if engine.has_leases() {
                engine.expire_leases(Instant::now());
            }
            (completions, engine.take_changes())
        };
        let outcome = if changes.is_empty() {
            Ok(())
        } else {
            persist(&db, &changes)
        };
        {
            let Ok(mut engine) = mvcc.write() else { return };
            match &outcome {
                Ok(()) => engine.publish(),
                Err(err) => {
                    tracing::error!(error = %err, "file store commit failed; store is now read-only");
                    failed = Some(err.to_string());
                    engine.fail_watchers(|| Error::Backend("file store commit failed".into()));
                }
            }
        }
        let failure = outcome.err().map(|e| e.to_string());
        for completion in completions {
            completion(failure.as_deref());
        }
    }
}

/// Writes `changes` in one transaction and fsyncs it.
fn persist(db: &Database, changes: &[Change]) -> Result<()> {
    let txn = db.begin_write().map_err(Error::backend)?;
    {
        let mut meta = txn.open_table(META).map_err(Error::backend)?;
        let mut kv = txn.open_table(KV).map_err(Error::backend)?;
        let mut log = txn.open_table(LOG).map_err(Error::backend)?;
        let mut leases = txn.open_table(LEASES).map_err(Error::backend)?;
        for change in changes {
            match change {
                Change::Write(events) => {
                    let revision = events[0].kv.mod_revision;
                    let record = format::encode_events(events).map_err(Error::Backend)?;
                    log.insert(revision, record.as_slice())
                        .map_err(Error::backend)?;
                    for event in events {
                        match event.kind {
                            EventKind::Put => {
                                let record =
                                    format::encode_kv(&event.kv).map_err(Error::Backend)?;
                                kv.insert(event.kv.key.as_str(), record.as_slice())
                                    .map_err(Error::backend)?;
                            }
                            EventKind::Delete => {
                                kv.remove(event.kv.key.as_str()).map_err(Error::backend)?;
                            }
                        }
                    }
                    meta.insert("revision", revision).map_err(Error::backend)?;
                }
                Change::Compact(revision) => {
                    let old: Vec<i64> = log
                        .range(..*revision)
                        .map_err(Error::backend)?
                        .map(|entry| entry.map(|(k, _)| k.value()))
                        .collect::<std::result::Result<_, _>>()
                        .map_err(Error::backend)?;
                    for rev in old {
                        log.remove(rev).map_err(Error::backend)?;
                    }
                    meta.insert("compacted", *revision)
                        .map_err(Error::backend)?;
                }
                Change::LeaseGrant { id, ttl_ms } => {
                    leases.insert(*id, *ttl_ms).map_err(Error::backend)?;
                    meta.insert("next_lease", id + 1).map_err(Error::backend)?;
                }
                Change::LeaseRevoke(id) => {
                    leases.remove(*id).map_err(Error::backend)?;
                }
            }
        }
    }
    txn.commit().map_err(Error::backend)
}

/// Reads the persisted state. On first use it creates the tables and writes the format
/// version; a version-0 file is rewritten in the current version (all in the one transaction
/// this opens, so an error or a crash leaves the file as it was).
fn load(db: &Database, path: &Path) -> Result<Snapshot> {
    let txn = db.begin_write().map_err(Error::backend)?;
    let mut snapshot = Snapshot::default();
    {
        let mut meta = txn.open_table(META).map_err(Error::backend)?;
        let mut kv = txn.open_table(KV).map_err(Error::backend)?;
        let mut log = txn.open_table(LOG).map_err(Error::backend)?;
        let leases = txn.open_table(LEASES).map_err(Error::backend)?;
        let found = meta
            .get(format::FORMAT_KEY)
            .map_err(Error::backend)?
            .map(|v| v.value());
        let layout =
            match found {
                Some(format::CURRENT) => Layout::V1,
                Some(version) => return Err(format_error(
                    path,
                    version,
                    "a newer kernel-store wrote it; open it with that version (or a later one), \
                     or move the file away to start an empty store. Nothing was changed"
                        .into(),
                )),
                None => {
                    let empty = meta.is_empty().map_err(Error::backend)?
                        && kv.is_empty().map_err(Error::backend)?
                        && log.is_empty().map_err(Error::backend)?
                        && leases.is_empty().map_err(Error::backend)?;
                    if empty {
                        meta.insert(format::FORMAT_KEY, format::CURRENT)
                            .map_err(Error::backend)?;
                        Layout::V1
                    } else {
                        Layout::V0
                    }
                }
            };
        let found = found.unwrap_or(0);
        let undecodable = |table: &str, key: String, err: format::DecodeError| {
            let detail = match layout {
                Layout::V0 => format!(
                    "the file has no format version, so kernel-store 0.1.0 should have written \
                     it, but its {table} record {key} is not in that version's layout ({err}). \
                     Nothing was changed; restore the file from a backup, or move it away to \
                     start an empty store"
                ),
                Layout::V1 => format!(
                    "its {table} record {key} does not decode ({err}): the file is damaged. \
                     Restore it from a backup, or move it away to start an empty store"
                ),
            };
            format_error(path, found, detail)
        };
        let get = |name: &str| -> Result<i64> {
            Ok(meta
                .get(name)
                .map_err(Error::backend)?
                .map(|v| v.value())
                .unwrap_or(0))
        };
        snapshot.revision = get("revision")?.max(1);
        snapshot.compacted = get("compacted")?;
        snapshot.next_lease = get("next_lease")?.max(1);
        for entry in kv.iter().map_err(Error::backend)? {
            let (key, value) = entry.map_err(Error::backend)?;
            let record = format::decode_kv(value.value(), layout)
                .map_err(|e| undecodable("kv", format!("{:?}", key.value()), e))?;
            snapshot.kvs.push(record);
        }
        let mut revisions = Vec::new();
        for entry in log.iter().map_err(Error::backend)? {
            let (revision, value) = entry.map_err(Error::backend)?;
            let events = format::decode_events(value.value(), layout)
                .map_err(|e| undecodable("log", format!("at revision {}", revision.value()), e))?;
            revisions.push((revision.value(), events));
        }
        if layout == Layout::V0 {
            for record in &snapshot.kvs {
                let bytes = format::encode_kv(record).map_err(Error::Backend)?;
                kv.insert(record.key.as_str(), bytes.as_slice())
                    .map_err(Error::backend)?;
            }
            for (revision, events) in &revisions {
                let bytes = format::encode_events(events).map_err(Error::Backend)?;
                log.insert(*revision, bytes.as_slice())
                    .map_err(Error::backend)?;
            }
            meta.insert(format::FORMAT_KEY, format::CURRENT)
                .map_err(Error::backend)?;
            tracing::info!(
                path = %path.display(),
                from = 0,
                to = format::CURRENT,
                keys = snapshot.kvs.len(),
                revisions = revisions.len(),
                "migrated file store format"
            );
        }
        snapshot.log = revisions
            .into_iter()
            .flat_map(|(_, events)| events)
            .collect();
        for entry in leases.iter().map_err(Error::backend)? {
            let (id, ttl) = entry.map_err(Error::backend)?;
            snapshot
                .leases
                .push((id.value(), Duration::from_millis(ttl.value())));
        }
    }
    txn.commit().map_err(Error::backend)?;
    Ok(snapshot)
}

fn format_error(path: &Path, found: i64, detail: String) -> Error {
    Error::FileFormat {
        path: path.to_owned(),
        found,
        current: format::CURRENT,
        detail,
    }
}

#[async_trait]
impl Watch for FileStore {
    async fn watch(&self, request: WatchRequest) -> Result<WatchStream> {
        let mut mvcc = self.inner.mvcc.write().map_err(|_| Error::Closed)?;
        mvcc.watch(request)
    }
}

#[async_trait]
impl Store for FileStore {
    async fn range(&self, request: RangeRequest) -> Result<RangeResponse> {
        self.read(|mvcc| mvcc.range(&request))
    }

    async fn txn(&self, txn: Txn) -> Result<TxnResponse> {
        crate::check_txn(&txn)?;
        self.submit(move |mvcc| mvcc.txn(&txn)).await
    }

    async fn compact(&self, revision: Revision) -> Result<()> {
        self.submit(move |mvcc| mvcc.compact(revision)).await
    }

    async fn current_revision(&self) -> Result<Revision> {
        self.read(|mvcc| Ok(mvcc.visible_revision()))
    }

    async fn compacted_revision(&self) -> Result<Revision> {
        self.read(|mvcc| Ok(mvcc.compacted()))
    }

    async fn lease_grant(&self, ttl: Duration) -> Result<LeaseId> {
        self.submit(move |mvcc| mvcc.lease_grant(ttl)).await
    }

    async fn lease_revoke(&self, lease: LeaseId) -> Result<()> {
        self.submit(move |mvcc| mvcc.lease_revoke(lease)).await
    }

    async fn lease_keep_alive(&self, lease: LeaseId) -> Result<Duration> {
        // Keep-alives are not persisted (TTLs restart on open), so no fsync is needed.
        let mut mvcc = self.inner.mvcc.write().map_err(|_| Error::Closed)?;
        mvcc.lease_keep_alive(lease)
    }
}
