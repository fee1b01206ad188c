//! [`ApiServerBuilder`]: assembles an [`ApiServer`] from a store and the pluggable seams.

use std::sync::Arc;
use std::time::Duration;

use kernel_store::{MemoryStore, Store};
use tower::util::BoxCloneSyncService;
use tower::ServiceBuilder;

use crate::admission::{Admission, AdmissionChain};
use crate::auth::{
    AlwaysAllow, AnonymousAdmin, Authenticator, Authorizer, TokenAuthenticator, UserInfo,
};
use crate::filters::{
    AuthenticationLayer, AuthorizationLayer, MaxInFlightLayer, PanicRecoveryLayer,
};
use crate::kubelet_proxy::{KubeletClient, KubeletClientConfig};
use crate::registry::Registry;
use crate::resources::{ResourceDef, Resources};
use crate::server::{
    bootstrap_namespaces, spawn_namespace_finalizer, ApiServer, NamespaceWakeup, Router,
};
use crate::shared::{Shared, StoreHooks};
use crate::status::Result;
use crate::tls::TlsMaterial;

/// Builds an [`ApiServer`]. Every setting has a default: a fresh [`MemoryStore`], anonymous
/// admin authentication, AlwaysAllow authorization, no admission plugins, generated TLS.
pub struct ApiServerBuilder {
    store: Option<Arc<dyn Store>>,
    prefix: String,
    authenticator: Arc<dyn Authenticator>,
    authorizer: Arc<dyn Authorizer>,
    admission: AdmissionChain,
    tls: Option<TlsMaterial>,
    tls_names: Vec<String>,
    token: Option<String>,
    require_token: bool,
    max_in_flight: usize,
    request_timeout: Duration,
    watch_cache_capacity: usize,
    extra_resources: Vec<ResourceDef>,
    kubelet_client: KubeletClientConfig,
}

impl std::fmt::Debug for ApiServerBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiServerBuilder")
            .field("prefix", &self.prefix)
            .finish()
    }
}

impl Default for ApiServerBuilder {
    fn default() -> Self {
        ApiServerBuilder {
            store: None,
            prefix: "/registry".into(),
            authenticator: Arc::new(AnonymousAdmin),
            authorizer: Arc::new(AlwaysAllow),
            admission: AdmissionChain::new(),
            tls: None,
            tls_names: Vec::new(),
            token: None,
            require_token: false,
            max_in_flight: 600,
            request_timeout: Duration::from_secs(60),
            watch_cache_capacity: 10 * 1024,
            extra_resources: Vec::new(),
            kubelet_client: KubeletClientConfig::default(),
        }
    }
}

impl ApiServer {
    /// Starts building a server.
    pub fn builder() -> ApiServerBuilder {
        ApiServerBuilder::default()
    }
}

impl ApiServerBuilder {
    /// The store (default: a new [`MemoryStore`]).
    pub fn store(mut self, store: Arc<dyn Store>) -> Self {
        self.store = Some(store);
        self
    }

    /// The key prefix (default `/registry`).
    pub fn prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into().trim_end_matches('/').to_owned();
        self
    }

    /// The authenticator (default: everyone is the admin).
    pub fn authenticator(mut self, authenticator: impl Authenticator) -> Self {
        self.authenticator = Arc::new(authenticator);
        self
    }

    /// The authorizer (default: AlwaysAllow).
    pub fn authorizer(mut self, authorizer: impl Authorizer) -> Self {
        self.authorizer = Arc::new(authorizer);
        self
    }

    /// Adds an admission plugin (they run in the order added).
    pub fn admission(mut self, plugin: impl Admission) -> Self {
        self.admission = self.admission.with(plugin);
        self
    }

    /// Serving TLS material (default: generated at build).
    pub fn tls(mut self, tls: TlsMaterial) -> Self {
        self.tls = Some(tls);
        self
    }

    /// Extra DNS names or IP addresses for the generated serving certificate.
    pub fn tls_name(mut self, name: impl Into<String>) -> Self {
        self.tls_names.push(name.into());
        self
    }

    /// The admin bearer token written into kubeconfigs (default: random).
    pub fn token(mut self, token: impl Into<String>) -> Self {
        self.token = Some(token.into());
        self
    }

    /// Serving TLS material and admin token kept somewhere, e.g. by
    /// [`Credentials::load_or_create`](crate::Credentials::load_or_create) in a data directory,
    /// so kubeconfigs stay valid across restarts.
    pub fn credentials(mut self, credentials: crate::Credentials) -> Self {
        self.tls = Some(credentials.tls);
        self.token = Some(credentials.token);
        self
    }

    /// Requires the admin bearer token (the one [`ApiServer::write_kubeconfig`] writes) on every
    /// request instead of treating every caller as the admin; others get 401. Replaces any
    /// authenticator set before.
    pub fn require_admin_token(mut self) -> Self {
        self.require_token = true;
        self
    }

    /// Maximum concurrent non-watch requests (default 600).
    pub fn max_in_flight(mut self, limit: usize) -> Self {
        self.max_in_flight = limit;
        self
    }

    /// Timeout of non-watch requests (default 60 s).
    pub fn request_timeout(mut self, timeout: Duration) -> Self {
        self.request_timeout = timeout;
        self
    }

    /// Recent events kept per resource type by the watch cache (default 10,240), which is also
    /// how far a watcher may fall behind before it is ended with 410 Gone. Upstream sizes its
    /// cache between 100 and 102,400 events by the event rate; 10,240 holds a few seconds of
    /// writes at full speed.
    pub fn watch_cache_capacity(mut self, capacity: usize) -> Self {
        self.watch_cache_capacity = capacity;
        self
    }

    /// Serves an additional resource.
    pub fn resource(mut self, def: ResourceDef) -> Self {
        self.extra_resources.push(def);
        self
    }

    /// How the server reaches kubelets for `pods/log`, `pods/exec`, `pods/attach`,
    /// `pods/portforward` and `nodes/proxy` (default: HTTPS without verifying the kubelet's
    /// serving certificate and without a client certificate, as upstream without
    /// `--kubelet-certificate-authority` / `--kubelet-client-certificate`).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use kernel_api::{ApiServer, KubeletClientConfig};
    /// let (ca_pem, _ca_key) = kernel_api::TlsMaterial::generate_ca()?;
    /// let server = ApiServer::builder()
    ///     .kubelet_client(KubeletClientConfig {
    ///         // Verify kubelet serving certificates against this CA.
    ///         ca_pem: Some(ca_pem),
    ///         // Nodes that publish no kubelet port: upstream's default.
    ///         default_port: Some(10250),
    ///         ..Default::default()
    ///     })
    ///     .build()
    ///     .await?;
    /// # let _ = server;
    /// # Ok(())
    /// # }
    /// ```
    pub fn kubelet_client(mut self, config: KubeletClientConfig) -> Self {
        self.kubelet_client = config;
        self
    }

    /// Builds the server: creates the built-in namespaces and starts background tasks (so it must
    /// run inside a tokio runtime).
    pub async fn build(self) -> Result<ApiServer> {
        let store = self.store.unwrap_or_else(|| Arc::new(MemoryStore::new()));
        let resources = Arc::new(Resources::builtin());
        for def in self.extra_resources {
            resources.insert(def);
        }
        let tls = match self.tls {
            Some(tls) => tls,
            None => TlsMaterial::generate(&self.tls_names)?,
        };
        let token = self.token.unwrap_or_else(crate::credentials::random_token);
        let authenticator: Arc<dyn Authenticator> = if self.require_token {
            Arc::new(TokenAuthenticator::new().with_token(token.clone(), UserInfo::admin()))
        } else {
            self.authenticator
        };
        let service_account_tokens = Arc::new(crate::auth::ServiceAccountTokens::default());
        let authenticator: Arc<dyn Authenticator> =
            Arc::new(crate::auth::WithServiceAccountTokens {
                tokens: service_account_tokens.clone(),
                inner: authenticator,
            });
        let mut shared = Shared::new(
            resources,
            Registry::new(store, self.prefix),
            self.watch_cache_capacity,
            Arc::new(self.admission),
            authenticator.clone(),
            self.authorizer.clone(),
            tls,
            token,
        );
        shared.service_account_tokens = service_account_tokens;
        shared.kubelet = Some(Arc::new(KubeletClient::new(&self.kubelet_client)?));
        let hooks: [(&str, &str, Arc<dyn StoreHooks>); 3] = [
            ("", "services", Arc::new(crate::allocator::ServiceIps)),
            ("", "namespaces", Arc::new(NamespaceWakeup)),
            (
                "apiextensions.k8s.io",
                "customresourcedefinitions",
                Arc::new(crate::crd::Registration),
            ),
        ];
        for (group, resource, hook) in hooks {
            shared.hooks.insert((group.into(), resource.into()), hook);
        }
        let shared = Arc::new(shared);
        bootstrap_namespaces(&shared).await?;
        spawn_namespace_finalizer(Arc::downgrade(&shared));
        crate::crd::reconcile(&shared).await?;
        crate::crd::spawn_controller(Arc::downgrade(&shared));
        let chain = ServiceBuilder::new()
            .layer(PanicRecoveryLayer)
            .layer(MaxInFlightLayer::new(
                self.max_in_flight,
                self.request_timeout,
            ))
            .layer(AuthenticationLayer::new(authenticator))
            .layer(AuthorizationLayer::new(self.authorizer))
            .service(Router {
                shared: shared.clone(),
            });
        Ok(ApiServer {
            shared,
            chain: BoxCloneSyncService::new(chain),
        })
    }
}
