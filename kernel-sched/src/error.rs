//! The crate's error type.

/// Errors of kernel-sched.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Invalid scheduler configuration.
    #[error("invalid configuration: {0}")]
    Config(String),
    /// The configuration file could not be parsed.
    #[error("parsing configuration: {0}")]
    ConfigParse(#[from] serde_saphyr::Error),
    /// A cache invariant was violated (assume/forget misuse).
    #[error("cache: {0}")]
    Cache(String),
    /// An API call failed.
    #[error("kube: {0}")]
    Kube(#[from] kube::Error),
    /// A watch stream failed.
    #[error("watch: {0}")]
    Watch(#[from] kube::runtime::watcher::Error),
}

/// `Result` with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
