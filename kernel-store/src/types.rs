//! Request and response types shared by every backend, named as in etcd's v3 API.

use bytes::Bytes;
use serde::{Deserialize, Serialize};

/// A store revision: a global counter that increases on every write (etcd's `revision`).
/// Revisions are positive; `0` never names a real revision.
pub type Revision = i64;

/// The id of a lease; `0` means "no lease".
pub type LeaseId = i64;

/// etcd's default maximum request size (`--max-request-bytes`): 1.5 MiB.
/// Every backend rejects a write whose key plus value exceeds it with [`Error::TooLarge`](crate::Error::TooLarge).
pub const MAX_REQUEST_BYTES: usize = 1536 * 1024;

/// One key and its value, with the revisions that describe its history (etcd's `mvccpb.KeyValue`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyValue {
    /// The key.
    pub key: String,
    /// The value; empty in a delete event.
    pub value: Bytes,
    /// Revision of the write that created this key (since it last did not exist).
    pub create_revision: Revision,
    /// Revision of the last write to this key.
    pub mod_revision: Revision,
    /// Number of writes since creation: 1 after create, +1 per update.
    pub version: i64,
    /// Lease the key is attached to, `0` for none.
    pub lease: LeaseId,
}

/// Whether an [`Event`] wrote or removed its key.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum EventKind {
    /// The key was created or updated.
    Put,
    /// The key was deleted (explicitly or by lease expiry).
    Delete,
}

/// One change seen by a watch.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    /// Put or delete.
    pub kind: EventKind,
    /// For a put, the new key-value. For a delete, the key with `mod_revision` set to the
    /// revision of the delete, an empty value and `version` 0 (as etcd reports it).
    pub kv: KeyValue,
    /// The key-value before this event, when the watch asked for it and the key existed.
    pub prev_kv: Option<KeyValue>,
}

impl Event {
    /// The revision at which this event happened.
    pub fn revision(&self) -> Revision {
        self.kv.mod_revision
    }
}

/// A read of a key range: all keys starting with `prefix` (one key when `prefix` is an exact
/// key and you use [`RangeRequest::key`]), in key order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RangeRequest {
    /// Keys that start with this string (or equal it, if `exact`).
    pub prefix: String,
    /// Match only the key equal to `prefix`.
    pub exact: bool,
    /// Start at this key (inclusive) instead of at `prefix`; used to continue a paginated list.
    /// Must itself start with `prefix`.
    pub start_key: Option<String>,
    /// Return at most this many keys; `0` means no limit.
    pub limit: usize,
    /// Read the keys as they were at this revision; `None` for the current revision.
    pub revision: Option<Revision>,
    /// Return only `count`, no key-values.
    pub count_only: bool,
}

impl RangeRequest {
    /// All keys under `prefix`.
    pub fn prefix(prefix: impl Into<String>) -> Self {
        RangeRequest {
            prefix: prefix.into(),
            ..Default::default()
        }
    }

    /// Exactly one key.
    pub fn key(key: impl Into<String>) -> Self {
        RangeRequest {
            prefix: key.into(),
            exact: true,
            ..Default::default()
        }
    }

    /// Sets the maximum number of keys returned.
    pub fn with_limit(mut self, limit: usize) -> Self {
        self.limit = limit;
        self
    }

    /// Continues from `key` (inclusive).
    pub fn with_start_key(mut self, key: impl Into<String>) -> Self {
        self.start_key = Some(key.into());
        self
    }

    /// Reads at a past revision.
    pub fn with_revision(mut self, revision: Revision) -> Self {
        self.revision = Some(revision);
        self
    }

    /// Counts only.
    pub fn with_count_only(mut self) -> Self {
        self.count_only = true;
        self
    }

    /// True if `key` is in this range (ignoring `start_key`).
    pub fn matches(&self, key: &str) -> bool {
        if self.exact {
            key == self.prefix
        } else {
            key.starts_with(&self.prefix)
        }
    }
}

/// The answer to a [`RangeRequest`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RangeResponse {
    /// The key-values, in key order, at most `limit` of them.
    pub kvs: Vec<KeyValue>,
    /// True if more keys follow the last one returned.
    pub more: bool,
    /// How many keys the range holds from `start_key` on (ignoring `limit`).
    pub count: usize,
    /// The revision the read was served at (the current revision unless one was requested).
    pub revision: Revision,
}

/// What a [`Compare`] looks at.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CompareTarget {
    /// The key's `version` (0 if it does not exist).
    Version(i64),
    /// The key's `create_revision` (0 if it does not exist).
    CreateRevision(Revision),
    /// The key's `mod_revision` (0 if it does not exist).
    ModRevision(Revision),
    /// The key's value (a missing key compares unequal to everything).
    Value(Bytes),
    /// The key's lease (0 if none or missing).
    Lease(LeaseId),
}

/// How a [`Compare`] relates the key's current field to the target.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CompareResult {
    /// Field == target.
    Equal,
    /// Field != target.
    NotEqual,
    /// Field > target.
    Greater,
    /// Field < target.
    Less,
}

/// One guard of a [`Txn`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Compare {
    /// The key compared.
    pub key: String,
    /// The field and the value it is compared with.
    pub target: CompareTarget,
    /// The relation that must hold.
    pub result: CompareResult,
}

impl Compare {
    /// `key`'s `mod_revision` == `revision` (0 asserts the key does not exist).
    pub fn mod_revision(key: impl Into<String>, result: CompareResult, revision: Revision) -> Self {
        Compare {
            key: key.into(),
            target: CompareTarget::ModRevision(revision),
            result,
        }
    }

    /// `key`'s `create_revision` compared with `revision` (`== 0` asserts the key is absent).
    pub fn create_revision(
        key: impl Into<String>,
        result: CompareResult,
        revision: Revision,
    ) -> Self {
        Compare {
            key: key.into(),
            target: CompareTarget::CreateRevision(revision),
            result,
        }
    }

    /// `key`'s `version` compared with `version`.
    pub fn version(key: impl Into<String>, result: CompareResult, version: i64) -> Self {
        Compare {
            key: key.into(),
            target: CompareTarget::Version(version),
            result,
        }
    }

    /// `key`'s value compared with `value`.
    pub fn value(key: impl Into<String>, result: CompareResult, value: impl Into<Bytes>) -> Self {
        Compare {
            key: key.into(),
            target: CompareTarget::Value(value.into()),
            result,
        }
    }

    /// Evaluates this guard against the key's current state (`None` if absent).
    pub fn evaluate(&self, kv: Option<&KeyValue>) -> bool {
        use std::cmp::Ordering;
        let ordering = match &self.target {
            CompareTarget::Version(v) => kv.map_or(0, |kv| kv.version).cmp(v),
            CompareTarget::CreateRevision(r) => kv.map_or(0, |kv| kv.create_revision).cmp(r),
            CompareTarget::ModRevision(r) => kv.map_or(0, |kv| kv.mod_revision).cmp(r),
            CompareTarget::Lease(l) => kv.map_or(0, |kv| kv.lease).cmp(l),
            CompareTarget::Value(v) => match kv {
                // etcd: a value comparison on a missing key fails whatever the relation.
                None => return false,
                Some(kv) => kv.value.as_ref().cmp(v.as_ref()),
            },
        };
        match self.result {
            CompareResult::Equal => ordering == Ordering::Equal,
            CompareResult::NotEqual => ordering != Ordering::Equal,
            CompareResult::Greater => ordering == Ordering::Greater,
            CompareResult::Less => ordering == Ordering::Less,
        }
    }
}

/// One operation of a [`Txn`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TxnOp {
    /// Write `value` at `key`, attached to `lease` (0 for none).
    Put {
        /// The key written.
        key: String,
        /// The new value.
        value: Bytes,
        /// Lease to attach the key to, 0 for none.
        lease: LeaseId,
    },
    /// Delete `key` (a no-op if it does not exist).
    Delete {
        /// The key deleted.
        key: String,
    },
    /// Read `key` as it is once the preceding operations of the transaction are applied.
    Get {
        /// The key read.
        key: String,
    },
}

impl TxnOp {
    /// A put without a lease.
    pub fn put(key: impl Into<String>, value: impl Into<Bytes>) -> Self {
        TxnOp::Put {
            key: key.into(),
            value: value.into(),
            lease: 0,
        }
    }

    /// A delete.
    pub fn delete(key: impl Into<String>) -> Self {
        TxnOp::Delete { key: key.into() }
    }

    /// A read.
    pub fn get(key: impl Into<String>) -> Self {
        TxnOp::Get { key: key.into() }
    }

    /// The key this operation touches.
    pub fn key(&self) -> &str {
        match self {
            TxnOp::Put { key, .. } | TxnOp::Delete { key } | TxnOp::Get { key } => key,
        }
    }
}

/// The result of one [`TxnOp`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TxnOpResponse {
    /// A put; `prev_kv` is the value it replaced. `kv` is what was written.
    Put {
        /// The key-value as written.
        kv: KeyValue,
        /// The key-value it replaced, if any.
        prev_kv: Option<KeyValue>,
    },
    /// A delete; `prev_kv` is what was deleted, `None` if the key did not exist.
    Delete {
        /// The deleted key-value, if the key existed.
        prev_kv: Option<KeyValue>,
    },
    /// A read.
    Get {
        /// The key-value, if the key exists.
        kv: Option<KeyValue>,
    },
}

/// An atomic multi-key transaction (etcd's `Txn`): if every `compare` holds, apply `success`,
/// else apply `failure`. All writes of one transaction share one new revision; a transaction
/// that writes nothing does not advance the revision. A key may be written at most once per
/// transaction.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Txn {
    /// Guards, all of which must hold.
    pub compare: Vec<Compare>,
    /// Operations applied when every guard holds.
    pub success: Vec<TxnOp>,
    /// Operations applied otherwise.
    pub failure: Vec<TxnOp>,
}

impl Txn {
    /// An empty transaction.
    pub fn new() -> Self {
        Txn::default()
    }

    /// Adds guards.
    pub fn when(mut self, compare: impl IntoIterator<Item = Compare>) -> Self {
        self.compare.extend(compare);
        self
    }

    /// Adds operations for the success branch.
    pub fn and_then(mut self, ops: impl IntoIterator<Item = TxnOp>) -> Self {
        self.success.extend(ops);
        self
    }

    /// Adds operations for the failure branch.
    pub fn or_else(mut self, ops: impl IntoIterator<Item = TxnOp>) -> Self {
        self.failure.extend(ops);
        self
    }
}

/// The result of a [`Txn`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TxnResponse {
    /// True if every guard held and `success` was applied.
    pub succeeded: bool,
    /// The store revision after the transaction (its own revision if it wrote).
    pub revision: Revision,
    /// One response per operation of the branch applied.
    pub responses: Vec<TxnOpResponse>,
}

/// What to watch.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct WatchRequest {
    /// The key, or the prefix when `prefix` is set.
    pub key: String,
    /// Watch every key starting with `key`.
    pub prefix: bool,
    /// Deliver every event from this revision on (inclusive), replaying history first.
    /// `None` watches from the next write. A revision below the compacted one fails with
    /// [`Error::Compacted`](crate::Error::Compacted).
    pub start_revision: Option<Revision>,
    /// Include each event's previous key-value.
    pub prev_kv: bool,
}

impl WatchRequest {
    /// Watches one key.
    pub fn key(key: impl Into<String>) -> Self {
        WatchRequest {
            key: key.into(),
            ..Default::default()
        }
    }

    /// Watches every key under `prefix`.
    pub fn prefix(prefix: impl Into<String>) -> Self {
        WatchRequest {
            key: prefix.into(),
            prefix: true,
            ..Default::default()
        }
    }

    /// Starts at `revision` (inclusive).
    pub fn from_revision(mut self, revision: Revision) -> Self {
        self.start_revision = Some(revision);
        self
    }

    /// Asks for previous key-values.
    pub fn with_prev_kv(mut self) -> Self {
        self.prev_kv = true;
        self
    }

    /// True if `key` is watched by this request.
    pub fn matches(&self, key: &str) -> bool {
        if self.prefix {
            key.starts_with(&self.key)
        } else {
            key == self.key
        }
    }
}

/// A stream of watch events, in revision order, with no gaps and no duplicates. It ends with an
/// error item (e.g. [`Error::Compacted`](crate::Error::Compacted) or [`Error::Closed`](crate::Error::Closed))
/// if the watch cannot continue.
pub type WatchStream = futures::stream::BoxStream<'static, crate::Result<Event>>;
