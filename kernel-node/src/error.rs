//! The crate's error type.

/// What can go wrong in the kubelet and its runtimes.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// No sandbox, container or image with this id.
    #[error("{kind} {id:?} not found")]
    NotFound {
        /// `sandbox`, `container` or `image`.
        kind: &'static str,
        /// The id asked for.
        id: String,
    },
    /// An image that cannot be pulled (`ErrImagePull` in the pod's status).
    #[error("failed to pull image {image:?}: {message}")]
    ImagePull {
        /// The image reference.
        image: String,
        /// Why.
        message: String,
    },
    /// A container that cannot be made (`CreateContainerError`), e.g. a bad config.
    #[error("failed to create container: {0}")]
    CreateContainer(String),
    /// A container that cannot be started (`RunContainerError`), e.g. no such command.
    #[error("failed to start container: {0}")]
    RunContainer(String),
    /// An operation the state does not allow (a container in a stopped sandbox, ...).
    #[error("{0}")]
    InvalidState(String),
    /// A timeout (exec, stop).
    #[error("timed out: {0}")]
    Timeout(String),
    /// The runtime's own I/O.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The error.
        #[source]
        source: std::io::Error,
    },
    /// An API request failed.
    #[error("API request failed: {0}")]
    Api(#[from] kube::Error),
    /// An operation this runtime does not offer (`exec` on the simulated runtime, ...).
    #[error("{0} is not supported by this runtime")]
    Unsupported(String),
    /// Anything else from a backend (gRPC, CNI).
    #[error("{0}")]
    Backend(String),
}

/// `Result` with [`Error`].
pub type Result<T> = std::result::Result<T, Error>;
