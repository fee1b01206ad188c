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
//! - [`network`]: the [`NetworkPlugin`] trait, shaped like CNI; [`HostNetwork`], the embedded
//!   network (pod IPs in 127.0.0.0/8, no root); [`CniNetwork`](network::CniNetwork), real CNI
//!   plugins in a network namespace per pod (root); `network::testsuite` (feature `testsuite`).
//! - `runtime::testsuite` (feature `testsuite`): the conformance suite every [`Runtime`] passes.
//! - `runtime::cri` (feature `cri`): `CriRuntime`, the [`Runtime`] spoken as CRI v1 over gRPC
//!   to containerd's socket (exec, attach and port-forward through its streaming server).
//! - [`runtime::sim`]: [`SimRuntime`], an in-memory runtime for scale tests (a real kubelet
//!   loop on a fake runtime, unlike kwok's status faker).
//! - [`kubelet`]: the node agent ([`Kubelet`]): Node registration and status, the node Lease,
//!   a worker per pod (sandbox, init containers, containers, restarts with back-off,
//!   graceful termination) and the pod status manager (upstream `pkg/kubelet`).
//!
//! Not yet (issue 16): probes, volumes other than emptyDir, env from ConfigMaps and Secrets,
//! static pods, the kubelet HTTP server (logs, exec, port-forward).
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
pub mod kubelet;
pub mod network;
pub mod runtime;

pub use error::{Error, Result};
pub use kubelet::{Kubelet, KubeletBuilder, KubeletConfig};
pub use network::{HostNetwork, NetworkPlugin};
pub use runtime::Runtime;
pub use runtime::{ProcessRuntime, SimRuntime};
