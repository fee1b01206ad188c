//! # kernel-api: a Kubernetes-compatible API server as a library
//!
//! `kernel-api` serves the Kubernetes REST API — discovery, CRUD, watch, patch, server-side
//! apply, subresources, `metav1.Status` errors — over any [`kernel_store::Store`], so the real
//! `kubectl` and `kube-rs` talk to it unchanged. It is the only crate that touches the store.
//!
//! [`ApiServer`] is a cloneable `tower::Service<http::Request<B>>`: wrap it in
//! `kube::Client::new` to use it in-process, or [`ApiServer::bind`] it to serve HTTPS
//! (rustls, HTTP/2 and HTTP/1.1, self-signed CA generated at start) and
//! [`ApiServer::write_kubeconfig`] for kubectl.
//!
//! ## Request flow
//!
//! ```text
//!  http::Request<B> ─► ApiServer (collect body ≤ 3 MiB → 413, tracing span)
//!     └─► filters/:  PanicRecovery ─► MaxInFlight + timeout ─► Authentication ─► Authorization
//!         └─► server.rs Router ─┬─ /version /healthz /livez /readyz /metrics /openapi (openapi.rs)
//!                               ├─ /api /apis … discovery (discovery.rs, legacy + aggregated v2)
//!                               ├─ pods/log · exec · attach · portforward, nodes/proxy
//!                               │    (kubelet_proxy.rs: to the node's kubelet over HTTPS; bodies
//!                               │     streamed, upgrades spliced)
//!                               └─ resources (handlers.rs: RequestInfo → ResourceDef, its Strategy)
//!                                    ├─ read.rs     get / list (selectors, limit/continue, Table: strategy columns)
//!                                    ├─ watch.rs    watch ◄── watch_cache.rs ◄── one Store::watch per resource
//!                                    ├─ write.rs    create / update / patch (patch.rs, apply.rs) / delete
//!                                    │   1 decode (JSON, YAML, protobuf.rs; decode.rs: kind, typed check)
//!                                    │   2 Strategy::defaults; request metadata (rest.rs)
//!                                    │   3 mutating admission: namespace lifecycle, then admission.rs
//!                                    │   4 strategy prepare: system metadata (rest.rs) → store hooks
//!                                    │     (allocator.rs: Service IPs) → Strategy::prepare_for_create /
//!                                    │     prepare_for_update → managedFields (apply.rs)
//!                                    │   5 validation: crd.rs schema → validation.rs metadata →
//!                                    │     Strategy::validate / validate_update
//!                                    │   6 validating admission (admission.rs)
//!                                    │   7 store: registry.rs (conversion.rs) → Store CAS; delete: Strategy::deletion
//!                                    ├─ subresource.rs  status · scale · pods/binding · pods/eviction · namespaces/finalize
//!                                    └─ review.rs   SelfSubjectAccessReview · TokenReview · … (not stored)
//!  every error ─► status.rs: one Error enum ─► metav1.Status with upstream code and reason
//!  background: crd.rs (serve CRDs, Established) · namespace finalizer (server.rs) · watch cache tasks
//! ```
//!
//! ## Modules
//!
//! Public: [`resources`] (the [`ResourceDef`] of every served resource, [`Resources`]) and
//! [`strategy`] (the [`Strategy`] trait; one implementation per kind in `strategy/<kind>.rs`,
//! as upstream's `pkg/registry/<group>/<kind>/strategy.go`). Everything else is private, its
//! public items re-exported here:
//!
//! - serving: `builder.rs` ([`ApiServerBuilder`]), `server.rs` ([`ApiServer`], [`Serving`],
//!   bootstrap objects, namespace finalizer), `shared.rs` (state every request reaches, store
//!   hooks), `filters/` (one tower layer per filter), `tls.rs` ([`TlsMaterial`]),
//!   `kubeconfig.rs`, `version.rs`;
//! - requests: `handlers/` (routing, read, watch, write, subresources, reviews),
//!   `kubelet_proxy.rs` (the connect subresources that reach a kubelet;
//!   [`KubeletClientConfig`]), `discovery.rs`,
//!   `openapi.rs`, `status.rs` ([`Error`], `metav1.Status`), `options.rs` (request options
//!   validated as upstream's `Validate*Options`);
//! - the write path: `decode.rs`, `strict.rs` (`fieldValidation=Strict` duplicate fields), `defaults.rs` (shared defaulting), `rest.rs` (generic steps
//!   around the strategy), `validation.rs` ([`FieldError`], metadata and shared rules),
//!   `admission.rs`, `allocator.rs`, `apply.rs` (managedFields, server-side apply), `patch.rs`,
//!   `protobuf.rs`, `crd.rs` (CustomResourceDefinitions);
//! - storage: `registry.rs` (objects over a [`Store`](kernel_store::Store)), `watch_cache.rs`,
//!   `conversion.rs`, `meta.rs` (metadata helpers);
//! - shared helpers: `table.rs` (server-side printing), `json.rs`. Label and field selectors,
//!   [`FieldError`], names and quantities are kernel-core's (`kernel_core::labels`, `fields`,
//!   `names`, `quantity`); a field's value is read through the kind's [`Strategy`].
//!
//! ## What upstream behaviour is covered
//!
//! Resource versions are store revisions; optimistic concurrency (409 Conflict); `generation`
//! bumps on spec changes (and Deployment annotations); status only through `/status`; `uid`,
//! `creationTimestamp`, `generateName`, `managedFields` and server-side apply with conflicts;
//! finalizers, graceful pod deletion, `propagationPolicy` finalizers for the GC; namespace
//! lifecycle (404 for a missing namespace, 403 while terminating); ClusterIP and NodePort
//! allocation and the `kubernetes` Service; `fieldValidation=Strict`; `dryRun=All`; paginated
//! lists with expiring continue tokens; watches with bookmarks, initial events and 410 Gone after
//! compaction; CustomResourceDefinitions with structural schemas; Events that expire after an
//! hour and are shared between `v1` and `events.k8s.io/v1`.
//!
//! ## Example
//!
//! ```
//! use k8s_openapi::api::core::v1::ConfigMap;
//! use kube::api::{Api, PostParams};
//! use kernel_api::ApiServer;
//! use kernel_store::MemoryStore;
//! use std::sync::Arc;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let server = ApiServer::builder().store(Arc::new(MemoryStore::new())).build().await?;
//! let client = kube::Client::new(server.clone(), "default");
//! let config_maps: Api<ConfigMap> = Api::default_namespaced(client);
//!
//! let mut cm = ConfigMap::default();
//! cm.metadata.name = Some("settings".into());
//! cm.data = Some([("color".to_string(), "blue".to_string())].into());
//! config_maps.create(&PostParams::default(), &cm).await?;
//!
//! let read = config_maps.get("settings").await?;
//! assert_eq!(read.data.unwrap()["color"], "blue");
//! assert!(read.metadata.resource_version.is_some());
//! # Ok(())
//! # }
//! ```
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
//! ## Dependencies chosen for you, and not
//!
//! - The HTTPS listener ([`ApiServer::bind`]) is this crate's own server side: rustls with the
//!   *ring* provider (TLS 1.2 and 1.3), and rcgen (also on *ring*) for the self-signed CA and
//!   serving certificate. That is fixed, as it is part of the server.
//! - kube: only its core types (`kube::Resource`), no client and no TLS backend. A program that
//!   reaches the server through `kube::Client` over HTTPS enables a backend in its own kube
//!   dependency (`rustls-tls`, or `openssl-tls`); the in-process client
//!   (`kube::Client::new(server, ..)`) needs none.
//! - tokio: `rt`, `net`, `sync`, `time`, `macros`; the program chooses its runtime flavour.
//!
//! ## Seams
//!
//! - [`Store`](kernel_store::Store): where objects live ([`ApiServerBuilder::store`]).
//! - [`Authenticator`], [`Authorizer`]: defaults [`AnonymousAdmin`] and [`AlwaysAllow`].
//! - [`Admission`]: mutating + validating plugins ([`ApiServerBuilder::admission`]).
//! - [`KubeletClientConfig`]: how `pods/log`, `pods/exec`, `pods/attach`, `pods/portforward`
//!   and `nodes/proxy` reach kubelets ([`ApiServerBuilder::kubelet_client`]; default: HTTPS
//!   without verifying the kubelet's certificate and without a client certificate, as upstream
//!   without `--kubelet-certificate-authority`).
//! - [`ResourceDef`]: serving another resource is one declaration ([`ApiServerBuilder::resource`]),
//!   its per-kind behaviour a [`Strategy`] ([`ResourceDef::strategy`]).

// Public: the resource definitions and the per-kind strategies.
pub mod resources;
pub mod strategy;

// Implementation detail; the public items are re-exported below.
mod admission;
mod allocator;
mod apply;
mod auth;
mod builder;
mod conversion;
mod crd;
mod credentials;
mod decode;
mod defaults;
mod discovery;
mod filters;
mod handlers;
mod json;
mod kubeconfig;
mod kubelet_proxy;
mod meta;
mod metrics;
mod openapi;
mod options;
mod patch;
mod protobuf;
mod registry;
mod rest;
mod server;
mod shared;
mod status;
mod strict;
mod table;
mod tls;
mod validation;
mod version;
mod watch_cache;

pub use admission::{Admission, AdmissionChain, AdmissionRequest, AlwaysAdmit, Operation};
pub use auth::{
    AlwaysAllow, AnonymousAdmin, Attributes, Authenticator, Authorizer, Decision,
    TokenAuthenticator, UserInfo,
};
pub use builder::ApiServerBuilder;
pub use conversion::Conversion;
pub use credentials::Credentials;
pub use kubelet_proxy::KubeletClientConfig;
pub use resources::{Flags, ResourceDef, Resources, Subresource};
pub use server::{ApiServer, Serving, DEFAULT_SHUTDOWN_GRACE};
pub use status::{Error, Result, StatusCause};
pub use strategy::{Column, Deletion, Strategy};
pub use tls::TlsMaterial;
pub use validation::{FieldError, FieldErrorKind};
pub use version::GIT_VERSION;
