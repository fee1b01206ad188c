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
//! - [`portforward`]: `kubectl port-forward` on the kubelet's side: SPDY/3.1, plain or in a
//!   WebSocket tunnel, and the port-forward stream protocol; the kubelet server calls
//!   [`portforward::negotiate`] and [`portforward::serve_upgraded`].
//! - [`kubelet`]: the node agent ([`Kubelet`]): Node registration and status, the node Lease,
//!   a worker per pod (sandbox, init containers, containers, restarts with back-off,
//!   graceful termination), liveness / readiness / startup probes (exec, httpGet, tcpSocket,
//!   gRPC) with readiness gates, postStart / preStop hooks, pod events (`kubectl describe pod`), static pods with
//!   mirror pods, the pod's volumes (emptyDir, tmpfs when root; hostPath; configMap, secret,
//!   downwardAPI and projected files through upstream's atomic writer, re-synced;
//!   serviceAccountToken via TokenRequest; PVCs bound to hostPath or local PVs), env from
//!   ConfigMaps and Secrets (`*KeyRef`, `envFrom`) and the pod status manager (upstream
//!   `pkg/kubelet`).
//! - [`server`]: the kubelet's HTTPS server ([`KubeletServer`], [`KubeletServerConfig`]):
//!   `/healthz`, `/pods`, `/stats/summary`, `/metrics`, `/containerLogs`, `/exec` and
//!   `/attach` (WebSocket, remotecommand v1–v5), `/portForward` ([`portforward`]): what the
//!   API server's `pods/log`, `pods/exec`, `pods/attach`, `pods/portforward` and
//!   `nodes/proxy` reach.
//!
//! Not yet (issue 16): CSI, network and cloud volumes (and attach/detach), bind mounts of
//! volumes into containers by the process runtime, exec over SPDY (kubectl before 1.30).
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
pub mod portforward;
pub mod runtime;
pub mod server;
pub mod websocket;

pub use error::{Error, Result};
pub use kubelet::{Kubelet, KubeletBuilder, KubeletConfig};
pub use network::{HostNetwork, NetworkPlugin};
pub use runtime::Runtime;
pub use runtime::{ProcessRuntime, SimRuntime};
pub use server::{KubeletServer, KubeletServerConfig};
