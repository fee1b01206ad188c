//! [`Shared`]: the state every request and background task reaches (served resources, the
//! registry, the watch cache, the seams), in a module of its own so that the handlers, the
//! server and the CRD loop can all depend on it without depending on each other.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use serde_json::Value;
use tokio::sync::Notify;

use crate::admission::Admission;
pub use crate::metrics::Metrics;
use crate::openapi::OpenApiDocs;
use crate::registry::Registry;
use crate::resources::{ResourceDef, Resources};
use crate::status::Result;
use crate::tls::TlsMaterial;
use crate::version::GIT_VERSION;
use crate::watch_cache::WatchCache;

/// State shared by every request.
pub struct Shared {
    /// Served resources.
    pub resources: Arc<Resources>,
    /// Object storage.
    pub registry: Registry,
    /// The watch cache.
    pub watch_cache: WatchCache,
    /// Admission plugins.
    pub admission: Arc<dyn Admission>,
    /// The authenticator (also answers TokenReviews).
    pub authenticator: Arc<dyn crate::auth::Authenticator>,
    /// The authorizer (also answers SubjectAccessReviews).
    pub authorizer: Arc<dyn crate::auth::Authorizer>,
    /// Tokens issued through `serviceaccounts/<name>/token`.
    pub service_account_tokens: Arc<crate::auth::ServiceAccountTokens>,
    /// Wakes the built-in namespace finalizer.
    pub namespace_wakeup: Notify,
    /// Wakes the CRD reconcile loop.
    pub crd_wakeup: Notify,
    /// The request metrics served at `/metrics` (`apiserver_request_total`,
    /// `apiserver_request_duration_seconds`).
    pub metrics: Metrics,
    /// Serving TLS material.
    pub tls: TlsMaterial,
    /// The admin bearer token written into kubeconfigs.
    pub token: String,
    /// The last address `bind` listened on.
    pub bound: Mutex<Option<SocketAddr>>,
    /// What the storage of some resources does around their strategy, by group and resource.
    pub(crate) hooks: HashMap<(String, String), Arc<dyn StoreHooks>>,
    /// How `pods/log`, `pods/exec`, … and `nodes/proxy` reach kubelets (set by the builder).
    pub(crate) kubelet: Option<Arc<crate::kubelet_proxy::KubeletClient>>,
    openapi: Mutex<Option<Arc<OpenApiDocs>>>,
}

impl Shared {
    /// Assembles the state.
    #[allow(clippy::too_many_arguments)] // one call site, the builder
    pub(crate) fn new(
        resources: Arc<Resources>,
        registry: Registry,
        watch_cache_capacity: usize,
        admission: Arc<dyn Admission>,
        authenticator: Arc<dyn crate::auth::Authenticator>,
        authorizer: Arc<dyn crate::auth::Authorizer>,
        tls: TlsMaterial,
        token: String,
    ) -> Self {
        Shared {
            resources,
            watch_cache: WatchCache::new(registry.clone(), watch_cache_capacity),
            registry,
            admission,
            authenticator,
            authorizer,
            service_account_tokens: Arc::default(),
            namespace_wakeup: Notify::new(),
            crd_wakeup: Notify::new(),
            metrics: Metrics::default(),
            tls,
            token,
            bound: Mutex::new(None),
            hooks: HashMap::new(),
            kubelet: None,
            openapi: Mutex::new(None),
        }
    }

    /// The OpenAPI documents of the served resources, built on first use.
    pub(crate) fn openapi(&self) -> Arc<OpenApiDocs> {
        let mut cached = self.openapi.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(docs) = cached.as_ref() {
            return docs.clone();
        }
        let defs: Vec<_> = self.resources.all().iter().map(|d| (**d).clone()).collect();
        let docs = Arc::new(crate::openapi::build(&defs, GIT_VERSION));
        *cached = Some(docs.clone());
        docs
    }

    /// The storage hooks of `def`'s resource, if it has any.
    pub(crate) fn hooks(&self, def: &ResourceDef) -> Option<&dyn StoreHooks> {
        self.hooks
            .get(&(def.group.clone(), def.plural.clone()))
            .map(|h| &**h)
    }

    /// Runs the hooks that follow a stored write of `obj` (a create, an update, or a delete
    /// that marks it).
    pub(crate) fn written(&self, def: &ResourceDef, obj: &Value) {
        if let Some(hooks) = self.hooks(def) {
            hooks.written(self, obj);
        }
    }

    /// Forgets the OpenAPI documents (after the served resources changed).
    pub fn invalidate_openapi(&self) {
        *self.openapi.lock().unwrap_or_else(|e| e.into_inner()) = None;
    }
}

/// What a resource's storage does around its [`Strategy`](crate::strategy::Strategy): upstream
/// decorates its `genericregistry.Store` the same way (`BeginCreate`/`BeginUpdate` for Service
/// IP allocation, and what follows a write). Registered per resource by the builder, next to the
/// background loops they feed.
#[async_trait]
pub(crate) trait StoreHooks: Send + Sync {
    /// Before the strategy prepares and validates a create (`old` = None) or an update of the
    /// main resource.
    async fn begin_write(
        &self,
        shared: &Shared,
        def: &ResourceDef,
        obj: &mut Value,
        old: Option<&Value>,
    ) -> Result<()> {
        let _ = (shared, def, obj, old);
        Ok(())
    }

    /// After a stored write.
    fn written(&self, shared: &Shared, obj: &Value) {
        let _ = (shared, obj);
    }
}
