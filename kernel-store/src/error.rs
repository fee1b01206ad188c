//! The one error type of kernel-store.

use crate::{LeaseId, Revision};

/// What can go wrong talking to a store. Every backend maps its failures onto these variants,
/// so callers (the API server) can match on them without knowing the backend.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The key does not exist (update/delete of a missing key).
    #[error("key {key:?} not found")]
    NotFound {
        /// The key that was looked up.
        key: String,
    },
    /// `create` of a key that already exists.
    #[error("key {key:?} already exists")]
    AlreadyExists {
        /// The key that exists.
        key: String,
    },
    /// A compare-and-swap failed: the key's `mod_revision` is not the expected one.
    #[error("key {key:?} was modified: expected mod_revision {expected}, found {actual}")]
    Conflict {
        /// The contended key.
        key: String,
        /// The `mod_revision` the caller expected.
        expected: Revision,
        /// The key's current `mod_revision`.
        actual: Revision,
    },
    /// The requested revision is older than the compacted revision.
    #[error("required revision {requested} has been compacted (compacted revision {compacted})")]
    Compacted {
        /// The revision that was asked for.
        requested: Revision,
        /// The oldest revision still available.
        compacted: Revision,
    },
    /// The requested revision is newer than the store's current revision.
    #[error("required revision {requested} is a future revision (current revision {current})")]
    FutureRevision {
        /// The revision that was asked for.
        requested: Revision,
        /// The store's current revision.
        current: Revision,
    },
    /// Keys must not be empty.
    #[error("key must not be empty")]
    EmptyKey,
    /// A key plus value is larger than the request limit (etcd's default is 1.5 MiB).
    #[error("request of {size} bytes is larger than the limit of {limit} bytes")]
    TooLarge {
        /// Bytes in the rejected request.
        size: usize,
        /// The limit.
        limit: usize,
    },
    /// The lease does not exist (never granted, revoked or expired).
    #[error("lease {0} not found")]
    LeaseNotFound(LeaseId),
    /// The request is malformed (e.g. the same key written twice in one transaction).
    #[error("invalid request: {0}")]
    InvalidArgument(String),
    /// The store has been shut down.
    #[error("store is closed")]
    Closed,
    /// The backend failed (I/O, disk format, network, etcd unavailable).
    #[error("store backend error: {0}")]
    Backend(String),
    /// A [`FileStore`](crate::FileStore) file in a format version this build cannot open:
    /// written by a newer kernel-store, or not readable as the version it claims.
    #[error(
        "store file {}: format version {found} cannot be opened by this kernel-store, which writes version {current}: {detail}",
        path.display()
    )]
    FileFormat {
        /// The file.
        path: std::path::PathBuf,
        /// The version the file claims; 0 for a file without one (written by kernel-store 0.1.0).
        found: i64,
        /// The version this build writes ([`FileStore::FORMAT_VERSION`](crate::FileStore::FORMAT_VERSION)).
        current: i64,
        /// What is wrong, and what to do about it.
        detail: String,
    },
}

/// `Result` with [`enum@Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// Wraps any backend failure.
    pub fn backend(err: impl std::fmt::Display) -> Self {
        Error::Backend(err.to_string())
    }

    /// True for errors a caller may retry as they are (network or backend trouble).
    pub fn is_transient(&self) -> bool {
        matches!(self, Error::Backend(_))
    }
}
