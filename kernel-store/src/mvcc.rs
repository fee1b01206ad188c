//! The in-memory MVCC engine shared by [`MemoryStore`](crate::MemoryStore) and
//! [`FileStore`](crate::FileStore).
//!
//! It keeps, per key, the versions written since the compacted revision; a log of events for
//! watch replay; the open watchers; and the leases. Writes are *applied* at once but become
//! *visible* (to reads without an explicit revision and to watchers) only at [`Mvcc::publish`]:
//! the durable backend publishes after its fsync, so nothing is observed before it is on disk.
//! Every write is also recorded as a [`Change`] that a durable backend persists.

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::ops::Bound;
use std::time::{Duration, Instant};

use futures::StreamExt;
use tokio::sync::mpsc;
use tokio_stream::wrappers::UnboundedReceiverStream;

use crate::{
    check_txn, Error, Event, EventKind, KeyValue, LeaseId, RangeRequest, RangeResponse, Result,
    Revision, Txn, TxnOp, TxnOpResponse, TxnResponse, WatchRequest, WatchStream,
};

/// A state change to persist, in the order it was applied.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub(crate) enum Change {
    /// The events of one write revision (one transaction or one lease revocation).
    Write(Vec<Event>),
    /// History below this revision was dropped.
    Compact(Revision),
    /// A lease was granted.
    LeaseGrant {
        /// Its id.
        id: LeaseId,
        /// Its TTL in milliseconds.
        ttl_ms: u64,
    },
    /// A lease was revoked or expired (its keys' deletions are a separate `Write`).
    LeaseRevoke(LeaseId),
}

/// One version of a key: the key-value written at `revision`, or `None` for a deletion.
#[derive(Debug)]
struct Version {
    revision: Revision,
    kv: Option<KeyValue>,
}

struct Watcher {
    request: WatchRequest,
    /// First revision this watcher wants.
    start: Revision,
    tx: mpsc::UnboundedSender<Result<Event>>,
}

#[derive(Debug)]
struct Lease {
    ttl: Duration,
    expiry: Instant,
    keys: BTreeSet<String>,
}

/// The persisted state a durable backend restores from.
#[derive(Default)]
pub(crate) struct Snapshot {
    pub revision: Revision,
    pub compacted: Revision,
    pub next_lease: LeaseId,
    /// Current key-values.
    pub kvs: Vec<KeyValue>,
    /// Events from the compacted revision on, in order.
    pub log: Vec<Event>,
    /// Leases and their TTLs.
    pub leases: Vec<(LeaseId, Duration)>,
}

/// The engine. Not synchronised: backends hold it in a lock.
pub(crate) struct Mvcc {
    keys: BTreeMap<String, Vec<Version>>,
    /// Keys with more than one version or a tombstone: what compaction must visit.
    trimmable: BTreeSet<String>,
    /// Live keys (at the applied revision) under every directory-like prefix (ending in `/`):
    /// the O(1) `count` of a first page at the current revision, as listing needs.
    dir_counts: HashMap<String, usize>,
    /// The last applied revision.
    revision: Revision,
    /// The last published (visible) revision.
    visible: Revision,
    /// Reads and watches below this revision fail with `Compacted`.
    compacted: Revision,
    log: VecDeque<Event>,
    watchers: Vec<Watcher>,
    leases: HashMap<LeaseId, Lease>,
    next_lease: LeaseId,
    /// Keep at least this many revisions of history; compact automatically beyond twice that.
    history: Option<i64>,
    changes: Vec<Change>,
    record: bool,
}

impl Mvcc {
    /// An empty engine at revision 1 (etcd's first revision). `record` keeps [`Change`]s for a
    /// durable backend; `history` bounds the history kept (automatic compaction).
    pub fn new(history: Option<i64>, record: bool) -> Self {
        Mvcc {
            keys: BTreeMap::new(),
            trimmable: BTreeSet::new(),
            dir_counts: HashMap::new(),
            revision: 1,
            visible: 1,
            compacted: 0,
            log: VecDeque::new(),
            watchers: Vec::new(),
            leases: HashMap::new(),
            next_lease: 1,
            history,
            changes: Vec::new(),
            record,
        }
    }

    /// Rebuilds an engine from persisted state.
    pub fn restore(snapshot: Snapshot, history: Option<i64>) -> Self {
        let mut mvcc = Mvcc::new(history, true);
        mvcc.revision = snapshot.revision.max(1);
        mvcc.visible = mvcc.revision;
        mvcc.compacted = snapshot.compacted;
        mvcc.next_lease = snapshot.next_lease.max(1);
        let now = Instant::now();
        for (id, ttl) in snapshot.leases {
            mvcc.leases.insert(
                id,
                Lease {
                    ttl,
                    expiry: now + ttl,
                    keys: BTreeSet::new(),
                },
            );
            mvcc.next_lease = mvcc.next_lease.max(id + 1);
        }
        // Versions from the log, preceded by the version each key had before its first logged event.
        for event in &snapshot.log {
            let versions = mvcc.keys.entry(event.kv.key.clone()).or_default();
            if versions.is_empty() {
                if let Some(prev) = &event.prev_kv {
                    versions.push(Version {
                        revision: prev.mod_revision,
                        kv: Some(prev.clone()),
                    });
                }
            }
            let kv = (event.kind == EventKind::Put).then(|| event.kv.clone());
            versions.push(Version {
                revision: event.kv.mod_revision,
                kv,
            });
        }
        mvcc.trimmable = mvcc.keys.keys().cloned().collect();
        for kv in snapshot.kvs {
            if kv.lease != 0 {
                if let Some(lease) = mvcc.leases.get_mut(&kv.lease) {
                    lease.keys.insert(kv.key.clone());
                }
            }
            let versions = mvcc.keys.entry(kv.key.clone()).or_default();
            if versions.last().and_then(|v| v.kv.as_ref()) != Some(&kv) {
                versions.push(Version {
                    revision: kv.mod_revision,
                    kv: Some(kv),
                });
            }
        }
        mvcc.log = snapshot.log.into();
        let live: Vec<String> = mvcc
            .keys
            .iter()
            .filter(|(_, v)| v.last().is_some_and(|v| v.kv.is_some()))
            .map(|(k, _)| k.clone())
            .collect();
        for key in live {
            mvcc.count_dirs(&key, true);
        }
        mvcc
    }

    /// The last visible (published) revision: what readers see as current.
    pub fn visible_revision(&self) -> Revision {
        self.visible
    }

    /// The compacted revision.
    pub fn compacted(&self) -> Revision {
        self.compacted
    }

    /// Takes the changes recorded since the last call.
    pub fn take_changes(&mut self) -> Vec<Change> {
        std::mem::take(&mut self.changes)
    }

    /// Checks that `revision` can be read.
    fn check_revision(&self, revision: Revision) -> Result<()> {
        if revision < self.compacted {
            return Err(Error::Compacted {
                requested: revision,
                compacted: self.compacted,
            });
        }
        if revision > self.visible {
            return Err(Error::FutureRevision {
                requested: revision,
                current: self.visible,
            });
        }
        Ok(())
    }

    // === reads ===

    /// Reads a range at a revision (the visible one by default).
    pub fn range(&self, request: &RangeRequest) -> Result<RangeResponse> {
        crate::check_key(&request.prefix)?;
        let revision = match request.revision {
            Some(r) if r > 0 => {
                self.check_revision(r)?;
                r
            }
            _ => self.visible,
        };
        let mut response = RangeResponse {
            revision,
            ..Default::default()
        };
        if request.exact {
            if let Some(kv) = self.keys.get(&request.prefix).and_then(|v| at(v, revision)) {
                response.count = 1;
                if !request.count_only {
                    response.kvs.push(kv.clone());
                }
            }
            return Ok(response);
        }
        let start = match &request.start_key {
            Some(start) if start.as_str() > request.prefix.as_str() => start.as_str(),
            _ => request.prefix.as_str(),
        };
        // A first page at the applied revision of a directory-like prefix: the count is known,
        // so only `limit + 1` keys are visited.
        let known_count = (request.start_key.is_none()
            && revision == self.revision
            && request.prefix.ends_with('/')
            && (request.limit > 0 || request.count_only))
            .then(|| self.dir_counts.get(&request.prefix).copied().unwrap_or(0));
        if let (Some(count), true) = (known_count, request.count_only) {
            response.count = count;
            return Ok(response);
        }
        for (key, versions) in self
            .keys
            .range::<str, _>((Bound::Included(start), Bound::Unbounded))
        {
            if !key.starts_with(&request.prefix) {
                break;
            }
            if known_count.is_some() && response.more {
                break;
            }
            let Some(kv) = at(versions, revision) else {
                continue;
            };
            response.count += 1;
            if request.count_only {
                continue;
            }
            if request.limit == 0 || response.kvs.len() < request.limit {
                response.kvs.push(kv.clone());
            } else {
                response.more = true;
            }
        }
        if let Some(count) = known_count {
            response.count = count;
        }
        Ok(response)
    }

    /// The latest applied state of `key`.
    fn latest(&self, key: &str) -> Option<&KeyValue> {
        self.keys
            .get(key)
            .and_then(|v| v.last())
            .and_then(|v| v.kv.as_ref())
    }

    // === writes ===

    /// Applies a transaction.
    pub fn txn(&mut self, txn: &Txn) -> Result<TxnResponse> {
        check_txn(txn)?;
        let succeeded = txn.compare.iter().all(|c| c.evaluate(self.latest(&c.key)));
        let ops = if succeeded {
            &txn.success
        } else {
            &txn.failure
        };
        for op in ops {
            if let TxnOp::Put { lease, .. } = op {
                if *lease != 0 && !self.leases.contains_key(lease) {
                    return Err(Error::LeaseNotFound(*lease));
                }
            }
        }
        let writes = ops.iter().any(|op| !matches!(op, TxnOp::Get { .. }));
        let revision = if writes {
            self.revision + 1
        } else {
            self.revision
        };
        let mut events = Vec::new();
        let mut responses = Vec::with_capacity(ops.len());
        for op in ops {
            let response = match op {
                TxnOp::Get { key } => TxnOpResponse::Get {
                    kv: self.latest(key).cloned(),
                },
                TxnOp::Put { key, value, lease } => {
                    let prev = self.latest(key).cloned();
                    let kv = KeyValue {
                        key: key.clone(),
                        value: value.clone(),
                        create_revision: prev.as_ref().map_or(revision, |p| p.create_revision),
                        mod_revision: revision,
                        version: prev.as_ref().map_or(1, |p| p.version + 1),
                        lease: *lease,
                    };
                    let event = Event {
                        kind: EventKind::Put,
                        kv: kv.clone(),
                        prev_kv: prev.clone(),
                    };
                    self.apply(&event);
                    events.push(event);
                    TxnOpResponse::Put { kv, prev_kv: prev }
                }
                TxnOp::Delete { key } => {
                    let prev = self.latest(key).cloned();
                    if prev.is_some() {
                        let event = delete_event(key, revision, prev.clone());
                        self.apply(&event);
                        events.push(event);
                    }
                    TxnOpResponse::Delete { prev_kv: prev }
                }
            };
            responses.push(response);
        }
        self.commit(events);
        Ok(TxnResponse {
            succeeded,
            revision: self.revision,
            responses,
        })
    }

    /// Applies one event to the key index and leases.
    fn apply(&mut self, event: &Event) {
        let key = &event.kv.key;
        if let Some(prev) = &event.prev_kv {
            if prev.lease != 0 && (event.kind == EventKind::Delete || prev.lease != event.kv.lease)
            {
                if let Some(lease) = self.leases.get_mut(&prev.lease) {
                    lease.keys.remove(key);
                }
            }
        }
        let kv = match event.kind {
            EventKind::Put => {
                if event.kv.lease != 0 {
                    if let Some(lease) = self.leases.get_mut(&event.kv.lease) {
                        lease.keys.insert(key.clone());
                    }
                }
                Some(event.kv.clone())
            }
            EventKind::Delete => None,
        };
        match (event.kind, event.prev_kv.is_some()) {
            (EventKind::Put, false) => self.count_dirs(key, true),
            (EventKind::Delete, true) => self.count_dirs(key, false),
            _ => {}
        }
        let versions = self.keys.entry(key.clone()).or_default();
        let trimmable = kv.is_none() || !versions.is_empty();
        versions.push(Version {
            revision: event.kv.mod_revision,
            kv,
        });
        if trimmable {
            self.trimmable.insert(key.clone());
        }
    }

    /// Adds (or removes) `key` to the live count of each directory-like prefix above it.
    fn count_dirs(&mut self, key: &str, add: bool) {
        for (i, _) in key.match_indices('/') {
            let dir = &key[..=i];
            if dir.len() == key.len() {
                break;
            }
            match self.dir_counts.get_mut(dir) {
                Some(count) if add => *count += 1,
                Some(count) => *count = count.saturating_sub(1),
                None if add => {
                    self.dir_counts.insert(dir.to_owned(), 1);
                }
                None => {}
            }
        }
    }

    /// Records the events of one revision.
    fn commit(&mut self, events: Vec<Event>) {
        if events.is_empty() {
            return;
        }
        self.revision = events[0].kv.mod_revision;
        self.log.extend(events.iter().cloned());
        if self.record {
            self.changes.push(Change::Write(events));
        }
        if let Some(history) = self.history {
            // Compact against the visible revision so nothing unpublished is dropped.
            if self.visible - self.compacted > 2 * history {
                let _ = self.compact(self.visible - history);
            }
        }
    }

    /// Drops history below `revision`.
    pub fn compact(&mut self, revision: Revision) -> Result<()> {
        if revision <= self.compacted {
            return Err(Error::Compacted {
                requested: revision,
                compacted: self.compacted,
            });
        }
        if revision > self.visible {
            return Err(Error::FutureRevision {
                requested: revision,
                current: self.visible,
            });
        }
        let trimmable = std::mem::take(&mut self.trimmable);
        for key in trimmable {
            let Some(versions) = self.keys.get_mut(&key) else {
                continue;
            };
            // Keep the version current at `revision` and everything after it.
            let current = versions.partition_point(|v| v.revision <= revision);
            let mut drop = current.saturating_sub(1);
            if current > 0 && versions[current - 1].kv.is_none() {
                drop = current;
            }
            versions.drain(..drop);
            if versions.is_empty() {
                self.keys.remove(&key);
            } else if versions.len() > 1 || versions[0].kv.is_none() {
                self.trimmable.insert(key);
            }
        }
        let keep = self.log.partition_point(|e| e.kv.mod_revision < revision);
        self.log.drain(..keep);
        self.compacted = revision;
        if self.record {
            self.changes.push(Change::Compact(revision));
        }
        Ok(())
    }

    // === leases ===

    /// Grants a lease.
    pub fn lease_grant(&mut self, ttl: Duration) -> Result<LeaseId> {
        if ttl.is_zero() {
            return Err(Error::InvalidArgument("lease TTL must be positive".into()));
        }
        let id = self.next_lease;
        self.next_lease += 1;
        self.leases.insert(
            id,
            Lease {
                ttl,
                expiry: Instant::now() + ttl,
                keys: BTreeSet::new(),
            },
        );
        if self.record {
            self.changes.push(Change::LeaseGrant {
                id,
                ttl_ms: ttl.as_millis() as u64,
            });
        }
        Ok(id)
    }

    /// Renews a lease.
    pub fn lease_keep_alive(&mut self, id: LeaseId) -> Result<Duration> {
        let lease = self.leases.get_mut(&id).ok_or(Error::LeaseNotFound(id))?;
        lease.expiry = Instant::now() + lease.ttl;
        Ok(lease.ttl)
    }

    /// Revokes a lease, deleting its keys in one revision.
    pub fn lease_revoke(&mut self, id: LeaseId) -> Result<()> {
        let lease = self.leases.remove(&id).ok_or(Error::LeaseNotFound(id))?;
        if self.record {
            self.changes.push(Change::LeaseRevoke(id));
        }
        let revision = self.revision + 1;
        let mut events = Vec::new();
        for key in lease.keys {
            let prev = self.latest(&key).cloned();
            if prev.is_some() {
                let event = delete_event(&key, revision, prev);
                self.apply(&event);
                events.push(event);
            }
        }
        self.commit(events);
        Ok(())
    }

    /// Revokes every lease whose TTL has run out.
    pub fn expire_leases(&mut self, now: Instant) {
        let expired: Vec<LeaseId> = self
            .leases
            .iter()
            .filter(|(_, l)| l.expiry <= now)
            .map(|(id, _)| *id)
            .collect();
        for id in expired {
            tracing::debug!(lease = id, "lease expired");
            let _ = self.lease_revoke(id);
        }
    }

    /// True if any lease is held (so an expiry timer is needed).
    pub fn has_leases(&self) -> bool {
        !self.leases.is_empty()
    }

    // === watches ===

    /// Makes every applied write visible and delivers it to the watchers.
    pub fn publish(&mut self) {
        if self.visible == self.revision {
            return;
        }
        let from = self
            .log
            .partition_point(|e| e.kv.mod_revision <= self.visible);
        self.visible = self.revision;
        if self.watchers.is_empty() {
            return;
        }
        for event in self.log.range(from..) {
            for watcher in &self.watchers {
                if event.kv.mod_revision >= watcher.start && watcher.request.matches(&event.kv.key)
                {
                    let _ = watcher.tx.send(Ok(shape(event, &watcher.request)));
                }
            }
        }
        self.watchers.retain(|w| !w.tx.is_closed());
    }

    /// Opens a watch: replays history from the start revision, then follows publications.
    pub fn watch(&mut self, request: WatchRequest) -> Result<WatchStream> {
        crate::check_key(&request.key)?;
        let start = match request.start_revision {
            Some(r) if r > 0 => r,
            _ => self.visible + 1,
        };
        if start < self.compacted {
            return Err(Error::Compacted {
                requested: start,
                compacted: self.compacted,
            });
        }
        let (tx, rx) = mpsc::unbounded_channel();
        if start <= self.visible {
            let from = self.log.partition_point(|e| e.kv.mod_revision < start);
            for event in self.log.range(from..) {
                if event.kv.mod_revision > self.visible {
                    break;
                }
                if request.matches(&event.kv.key) {
                    let _ = tx.send(Ok(shape(event, &request)));
                }
            }
        }
        self.watchers.retain(|w| !w.tx.is_closed());
        self.watchers.push(Watcher { request, start, tx });
        Ok(UnboundedReceiverStream::new(rx).boxed())
    }

    /// Ends every watch with `error` (used when a durable backend fails).
    pub fn fail_watchers(&mut self, error: impl Fn() -> Error) {
        for watcher in self.watchers.drain(..) {
            let _ = watcher.tx.send(Err(error()));
        }
    }
}

/// The key-value current at `revision` among `versions`.
fn at(versions: &[Version], revision: Revision) -> Option<&KeyValue> {
    let idx = versions.partition_point(|v| v.revision <= revision);
    idx.checked_sub(1).and_then(|i| versions[i].kv.as_ref())
}

fn delete_event(key: &str, revision: Revision, prev: Option<KeyValue>) -> Event {
    Event {
        kind: EventKind::Delete,
        kv: KeyValue {
            key: key.to_owned(),
            value: Default::default(),
            create_revision: 0,
            mod_revision: revision,
            version: 0,
            lease: 0,
        },
        prev_kv: prev,
    }
}

/// The event as a watcher asked for it (without `prev_kv` unless requested).
fn shape(event: &Event, request: &WatchRequest) -> Event {
    if request.prev_kv {
        event.clone()
    } else {
        Event {
            kind: event.kind,
            kv: event.kv.clone(),
            prev_kv: None,
        }
    }
}
