//! # kernel-sched: the Kubernetes scheduler as a library
//!
//! kernel-sched places pods on nodes the way kube-scheduler does: the same scheduling
//! framework (extension points as traits), the same default plugins with the same scores and
//! failure messages, the same queue and sampling behaviour. It can be used two ways:
//!
//! * **pure**: [`schedule`] takes a pod and a [`Snapshot`] of nodes and pods and returns the
//!   chosen node, or a [`Diagnosis`] (`0/5 nodes are available: 3 Insufficient cpu, ...`).
//!   No API server, no async.
//! * **as a component**: [`Scheduler`] watches unscheduled pods and nodes through a
//!   `kube::Client`, binds through `pods/binding`, records `FailedScheduling` events and the
//!   `PodScheduled=False` condition. It needs nothing but a client, so it runs against our
//!   kernel-api or any Kubernetes API server.
//!
//! ## Parts
//!
//! ```text
//!  informers (watcher → reflector store → handler), one per kind:
//!    nodes, pods ──► Cache (bound + assumed pods) ──update_snapshot──► Snapshot (per cycle)
//!    namespaces, PVCs, PVs, ... ──► ClusterObjects (the stores) ──shared──┘      │
//!    pending pods ──► SchedulingQueue (active / backoff / unschedulable) ──pop──► schedule_pod
//!                                                                                  │
//!   Framework (one per profile): PreFilter → Filter → PostFilter → PreScore → Score
//!                                → Reserve → Permit → PreBind → Bind → PostBind
//! ```
//!
//! * [`framework`]: [`Status`]/[`Code`], [`CycleState`], the plugin traits and the
//!   [`ExtensionPoints`](framework::ExtensionPoints) each plugin states, [`Framework`] (one
//!   file each under `framework/`).
//! * [`plugins`]: the default plugins and the [`Registry`](plugins::Registry) (out-of-tree
//!   plugins register there).
//! * [`types`]: [`PodInfo`], [`NodeInfo`]; [`snapshot`]: [`Snapshot`] and the
//!   [`ClusterObjects`](snapshot::ClusterObjects) stores plugins read; [`cache`]: [`Cache`].
//! * [`queue`]: [`SchedulingQueue`]; [`config`]: `KubeSchedulerConfiguration` → [`Profile`]s.
//! * [`waiting_pods`]: pods held at Permit ([`WaitingPods`](waiting_pods::WaitingPods)).
//! * [`metrics`]: upstream's `scheduler_*` metrics ([`Metrics`](metrics::Metrics), on a
//!   `prometheus-client` registry); [`serving`]: `/metrics`, `/healthz`, `/livez`, `/readyz`
//!   over HTTP ([`serving::serve`]).
//! * [`schedule_one`]: the algorithm; [`scheduler`]: the `kube::Client` runner, fed by one
//!   generic informer loop per watched kind (kube-runtime watcher → reflector store → event
//!   handler; each event costs the changed object, re-lists after 410 Gone report what
//!   vanished).
//! * Label and node selectors, quantities, tolerations and pod requests come from
//!   [`kernel_core`], shared with every other component.
//!
//! ## Kubernetes version (k8s-openapi)
//!
//! The wire types are [k8s-openapi](https://docs.rs/k8s-openapi)'s, which is told the Kubernetes
//! version by a feature that exactly one crate must pick: your binary. Following k8s-openapi's
//! rule for libraries, this crate picks none, so a binary using it adds
//!
//! ```toml
//! k8s-openapi = { version = "0.29", features = ["v1_33"] }
//! ```
//!
//! Supported: `v1_33`, the release whose behaviour this project is compared against and the one
//! its tests, examples and the docs on docs.rs use. The library crates also compile against
//! `v1_34` to `v1_37`, k8s-openapi 0.29's other versions (it has none before `v1_33`), but their
//! tests run on `v1_33` only.
//!
//! ## kube and TLS
//!
//! [`Scheduler`] uses the `kube::Client` it is given and never builds one from a kubeconfig, so
//! this crate enables kube's `client` and `runtime` features but no TLS backend: whoever builds
//! the client picks it (kube's `rustls-tls` or `openssl-tls` in the program's own kube
//! dependency; an in-process client over kernel-api's tower service needs none). tokio: `rt`,
//! `sync`, `time`, `macros`.
//!
//! ## Example
//!
//! ```
//! use kernel_sched::{schedule, Snapshot};
//! use kernel_sched::testing::{node, pod};
//!
//! let snapshot = Snapshot::new(
//!     vec![
//!         node("n1").cpu("2").memory("4Gi").obj(),
//!         node("n2").cpu("8").memory("16Gi").obj(),
//!     ],
//!     vec![pod("busy").node("n2").req("7", "1Gi").obj()],
//! );
//! // n2 has 1 CPU left, n1 has 2: only n1 fits a 1500m pod.
//! let node = schedule(&pod("web").req("1500m", "1Gi").obj(), &snapshot).unwrap();
//! assert_eq!(node, "n1");
//! ```

// `Diagnosis` is the upstream-shaped error of `schedule`; it is returned by value on the
// (cold) failure path on purpose.
#![allow(clippy::result_large_err)]

pub mod cache;
pub mod config;
pub mod diagnosis;
mod error;
pub mod events;
pub mod framework;
mod informer;
pub mod metrics;
pub mod plugins;
pub mod queue;
pub mod schedule_one;
pub mod scheduler;
pub mod serving;
pub mod snapshot;
pub mod testing;
pub mod types;
mod util;
pub mod waiting_pods;
mod watched;

pub use cache::Cache;
pub use config::{KubeSchedulerConfiguration, Profile};
pub use diagnosis::Diagnosis;
pub use error::{Error, Result};
pub use framework::{Code, CycleState, Framework, Status};
pub use queue::SchedulingQueue;
pub use schedule_one::{
    schedule, schedule_pod, schedule_with, NodeName, ScheduleResult, ScheduleState,
};
pub use scheduler::Scheduler;
pub use snapshot::Snapshot;
pub use types::{NodeInfo, PodInfo};

/// The scheduler name pods get when they name none.
pub const DEFAULT_SCHEDULER_NAME: &str = "default-scheduler";
