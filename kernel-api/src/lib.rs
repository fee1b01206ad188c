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
//!                               └─ resources (handlers.rs: RequestInfo → ResourceDef from resources.rs)
//!                                    ├─ read.rs     get / list (selectors, limit/continue, Table via table.rs)
//!                                    ├─ watch.rs    watch ◄── watch_cache.rs ◄── one Store::watch per resource
//!                                    ├─ write.rs    create / update / patch (patch.rs, apply.rs) / delete
//!                                    │     decode (JSON, YAML, protobuf.rs) → defaults.rs → registry.rs
//!                                    │     strategy → allocator.rs (Services) → admission.rs (mutating)
//!                                    │     → typed check / crd.rs schema → validation.rs
//!                                    │     → admission.rs (validating) → conversion.rs → Store CAS
//!                                    ├─ subresource.rs  status · scale · pods/binding · pods/eviction · namespaces/finalize
//!                                    └─ review.rs   SelfSubjectAccessReview · TokenReview · … (not stored)
//!  every error ─► status.rs: one Error enum ─► metav1.Status with upstream code and reason
//!  background: crd.rs (serve CRDs, Established) · namespace finalizer (server.rs) · watch cache tasks
//! ```
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
//! ## Seams
//!
//! - [`Store`](kernel_store::Store): where objects live ([`ApiServerBuilder::store`]).
//! - [`Authenticator`], [`Authorizer`]: defaults [`AnonymousAdmin`] and [`AlwaysAllow`].
//! - [`Admission`]: mutating + validating plugins ([`ApiServerBuilder::admission`]).
//! - [`ResourceDef`]: serving another resource is one declaration ([`ApiServerBuilder::resource`]).

pub mod admission;
pub mod allocator;
pub mod apply;
pub mod auth;
pub mod builder;
pub mod conversion;
pub mod crd;
pub mod defaults;
pub mod discovery;
pub mod filters;
pub mod handlers;
pub mod kubeconfig;
pub mod openapi;
pub mod options;
pub mod patch;
pub mod protobuf;
pub mod registry;
pub mod resources;
pub mod selector;
pub mod server;
pub mod status;
pub mod strict;
pub mod table;
pub mod tls;
pub mod validation;
pub mod watch_cache;

pub use admission::{Admission, AdmissionChain, AdmissionRequest, AlwaysAdmit, Operation};
pub use auth::{
    AlwaysAllow, AnonymousAdmin, Attributes, Authenticator, Authorizer, Decision,
    TokenAuthenticator, UserInfo,
};
pub use builder::ApiServerBuilder;
pub use resources::{ResourceDef, Resources, Strategy, Subresource};
pub use server::{ApiServer, Serving, GIT_VERSION};
pub use status::{Error, Result, StatusCause};
pub use tls::TlsMaterial;

/// Server-side printing: the `meta.k8s.io/v1` Table for `objects` of `resource`.
pub(crate) fn table_output(
    resource: &str,
    objects: &[serde_json::Value],
    wide: bool,
) -> Option<serde_json::Value> {
    Some(table::to_table(resource, objects, wide))
}
