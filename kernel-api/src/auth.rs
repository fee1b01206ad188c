//! Authentication and authorization seams (upstream's `authenticator.Request` and `authorizer.Authorizer`).
//!
//! Both run as layers of the filter chain (see [`crate::filters`]). The defaults let everything
//! through as an admin — right for an embedded, loopback-only server — and are the place to plug
//! in bearer tokens, client certificates or RBAC.

use std::collections::HashMap;

use async_trait::async_trait;

use crate::status::{Error, Result};

/// Who is making a request (`user.Info`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct UserInfo {
    /// User name, e.g. `admin` or `system:serviceaccount:default:builder`.
    pub name: String,
    /// Unique id, if any.
    pub uid: String,
    /// Groups, e.g. `system:masters`, `system:authenticated`.
    pub groups: Vec<String>,
}

impl UserInfo {
    /// The built-in admin: `kubernetes-admin` in `system:masters`.
    pub fn admin() -> Self {
        UserInfo {
            name: "kubernetes-admin".into(),
            uid: String::new(),
            groups: vec!["system:masters".into(), "system:authenticated".into()],
        }
    }
}

/// The user an in-process client ([`ApiServer::client_as`](crate::ApiServer::client_as))
/// puts on its requests. Authentication takes it as is: only code in this process can set a
/// request extension, nothing on the wire can.
#[derive(Clone, Debug)]
pub(crate) struct InProcessUser(pub(crate) UserInfo);

/// Identifies the user of a request.
#[async_trait]
pub trait Authenticator: Send + Sync + 'static {
    /// Returns the user, `Ok(None)` if this authenticator cannot tell (→ 401), or an error.
    async fn authenticate(&self, request: &http::request::Parts) -> Result<Option<UserInfo>>;
}

/// What a request wants to do, for authorization (`authorizer.Attributes`).
#[derive(Clone, Debug, Default)]
pub struct Attributes {
    /// The user.
    pub user: UserInfo,
    /// `get`, `list`, `watch`, `create`, `update`, `patch`, `delete`, `deletecollection`, or the
    /// lower-case HTTP method for non-resource requests.
    pub verb: String,
    /// True for a resource request (`/api/…`, `/apis/…` naming a resource).
    pub resource_request: bool,
    /// API group.
    pub api_group: String,
    /// API version.
    pub api_version: String,
    /// Resource (`pods`).
    pub resource: String,
    /// Subresource (`status`), or empty.
    pub subresource: String,
    /// Namespace, or empty.
    pub namespace: String,
    /// Object name, or empty.
    pub name: String,
    /// The request path.
    pub path: String,
}

/// An authorization decision.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Decision {
    /// Allowed.
    Allow,
    /// Denied, with a reason.
    Deny(String),
}

/// Decides whether a request may proceed.
#[async_trait]
pub trait Authorizer: Send + Sync + 'static {
    /// Decides.
    async fn authorize(&self, attributes: &Attributes) -> Decision;
}

/// Every request is the admin (upstream's anonymous access, but with full rights). For embedding
/// on loopback only.
#[derive(Clone, Copy, Debug, Default)]
pub struct AnonymousAdmin;

#[async_trait]
impl Authenticator for AnonymousAdmin {
    async fn authenticate(&self, _request: &http::request::Parts) -> Result<Option<UserInfo>> {
        Ok(Some(UserInfo::admin()))
    }
}

/// Bearer tokens from a fixed table (upstream's `--token-auth-file`).
#[derive(Clone, Debug, Default)]
pub struct TokenAuthenticator {
    tokens: HashMap<String, UserInfo>,
}

impl TokenAuthenticator {
    /// An authenticator that knows no tokens yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Accepts `token` as `user`.
    pub fn with_token(mut self, token: impl Into<String>, user: UserInfo) -> Self {
        self.tokens.insert(token.into(), user);
        self
    }
}

#[async_trait]
impl Authenticator for TokenAuthenticator {
    async fn authenticate(&self, request: &http::request::Parts) -> Result<Option<UserInfo>> {
        let header = request
            .headers
            .get(http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok());
        let Some(token) = header.and_then(|h| h.strip_prefix("Bearer ")) else {
            return Ok(None);
        };
        match self.tokens.get(token.trim()) {
            Some(user) => Ok(Some(user.clone())),
            None => Err(Error::Unauthorized),
        }
    }
}

/// Allows every request (`--authorization-mode=AlwaysAllow`).
#[derive(Clone, Copy, Debug, Default)]
pub struct AlwaysAllow;

#[async_trait]
impl Authorizer for AlwaysAllow {
    async fn authorize(&self, _attributes: &Attributes) -> Decision {
        Decision::Allow
    }
}

/// Tokens issued through `serviceaccounts/<name>/token` (TokenRequest): opaque random strings
/// held in memory until they expire (upstream issues signed JWTs that survive restarts).
#[derive(Debug, Default)]
pub struct ServiceAccountTokens {
    tokens: std::sync::Mutex<HashMap<String, (UserInfo, std::time::Instant)>>,
}

impl ServiceAccountTokens {
    /// Issues a token for service account `namespace/name` valid for `ttl`.
    pub fn issue(
        &self,
        namespace: &str,
        name: &str,
        uid: &str,
        ttl: std::time::Duration,
    ) -> String {
        use rand::Rng;
        let mut rng = rand::thread_rng();
        let secret: String = (0..40)
            .map(|_| format!("{:x}", rng.gen_range(0..16u8)))
            .collect();
        let token = format!("kernel-sa.{secret}");
        let user = UserInfo {
            name: format!("system:serviceaccount:{namespace}:{name}"),
            uid: uid.to_owned(),
            groups: vec![
                "system:serviceaccounts".into(),
                format!("system:serviceaccounts:{namespace}"),
                "system:authenticated".into(),
            ],
        };
        let mut tokens = self.tokens.lock().unwrap_or_else(|e| e.into_inner());
        let now = std::time::Instant::now();
        tokens.retain(|_, (_, expiry)| *expiry > now);
        tokens.insert(token.clone(), (user, now + ttl));
        token
    }

    /// The service account a live token was issued for.
    pub fn lookup(&self, token: &str) -> Option<UserInfo> {
        let tokens = self.tokens.lock().unwrap_or_else(|e| e.into_inner());
        tokens
            .get(token)
            .filter(|(_, expiry)| *expiry > std::time::Instant::now())
            .map(|(user, _)| user.clone())
    }
}

/// Accepts tokens issued by [`ServiceAccountTokens`], and asks `inner` about everything else.
pub struct WithServiceAccountTokens {
    /// The issued tokens.
    pub tokens: std::sync::Arc<ServiceAccountTokens>,
    /// The authenticator for every other request.
    pub inner: std::sync::Arc<dyn Authenticator>,
}

#[async_trait]
impl Authenticator for WithServiceAccountTokens {
    async fn authenticate(&self, request: &http::request::Parts) -> Result<Option<UserInfo>> {
        let header = request
            .headers
            .get(http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok());
        if let Some(token) = header.and_then(|h| h.strip_prefix("Bearer ")) {
            if let Some(user) = self.tokens.lookup(token.trim()) {
                return Ok(Some(user));
            }
        }
        self.inner.authenticate(request).await
    }
}
