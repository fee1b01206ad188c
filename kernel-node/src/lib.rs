//! # kernel-node: the kubelet as a library
//!
//! The node agent: it registers its Node, runs the pods bound to it through a pluggable
//! [`Runtime`] and reports their status, reaching the cluster only through `kube::Client` —
//! in-process over the API server's tower service or over HTTPS — exactly as the upstream
//! kubelet reaches kube-apiserver.
//!
//! ## Parts
//!
//! - [`runtime`]: the [`Runtime`] trait, shaped like CRI's RuntimeService + ImageService
//!   (sandboxes, containers, images), and its types.
//! - [`Error`]: the crate's one error enum.
//! - [`ProcessRuntime`]: the embedded default runtime, containers as local processes, no root.
//! - [`network`]: [`HostNetwork`], the embedded network: pod IPs in 127.0.0.0/8, no root.
//! - `runtime::testsuite` (feature `testsuite`): the conformance suite every [`Runtime`] passes.
//!
//! Work in progress (issue 16): the kubelet, the process and simulated runtimes, CRI, CNI.
//!
//! ## Example
//!
//! ```
//! use kernel_node::runtime::{ContainerState, PodSandboxConfig};
//!
//! let sandbox = PodSandboxConfig { name: "web".into(), namespace: "default".into(), ..Default::default() };
//! assert!(!sandbox.host_network);
//! assert_ne!(ContainerState::Running, ContainerState::Exited);
//! ```

mod error;
pub mod network;
pub mod runtime;

pub use error::{Error, Result};
pub use network::HostNetwork;
pub use runtime::ProcessRuntime;
pub use runtime::Runtime;
