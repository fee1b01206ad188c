//! [`FileStore`]: durable single-file store.

/// A durable store in one file.
#[derive(Clone, Debug)]
pub struct FileStore {}
