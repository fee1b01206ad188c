//! Authorization: parse the [`RequestInfo`] and ask an [`Authorizer`].

use std::collections::HashMap;
use std::sync::Arc;

use std::convert::Infallible;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::{Request, Response};
use tower::{Layer, Service, ServiceExt};

use super::{BoxFuture, Inner};
use crate::auth::{Authorizer, Decision};
use crate::handlers::Body;
use crate::handlers::{error_response, parse_query, RequestInfo};
use crate::status::Error;

/// Parses the [`RequestInfo`] (stored in the extensions for the router) and asks an
/// [`Authorizer`]; 403 when denied.
#[derive(Clone)]
pub struct AuthorizationLayer {
    authorizer: Arc<dyn Authorizer>,
}

impl AuthorizationLayer {
    /// Uses `authorizer`.
    pub fn new(authorizer: Arc<dyn Authorizer>) -> Self {
        AuthorizationLayer { authorizer }
    }
}

impl<S> Layer<S> for AuthorizationLayer {
    type Service = Authorization<S>;
    fn layer(&self, inner: S) -> Self::Service {
        Authorization {
            inner,
            authorizer: self.authorizer.clone(),
        }
    }
}

/// See [`AuthorizationLayer`].
#[derive(Clone)]
pub struct Authorization<S> {
    inner: S,
    authorizer: Arc<dyn Authorizer>,
}

impl<S: Inner> Service<Request<Bytes>> for Authorization<S> {
    type Response = Response<Body>;
    type Error = Infallible;
    type Future = BoxFuture;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, mut request: Request<Bytes>) -> BoxFuture {
        let inner = self.inner.clone();
        let authorizer = self.authorizer.clone();
        Box::pin(async move {
            let query: HashMap<String, String> = parse_query(request.uri().query());
            let info = RequestInfo::parse(request.method(), request.uri().path(), &query);
            let user = request
                .extensions()
                .get::<crate::auth::UserInfo>()
                .cloned()
                .unwrap_or_default();
            let attributes = info.attributes(user.clone());
            if let Decision::Deny(reason) = authorizer.authorize(&attributes).await {
                let what = if info.is_resource_request {
                    let mut r = info.resource.clone();
                    if !info.subresource.is_empty() {
                        r = format!("{r}/{}", info.subresource);
                    }
                    let group = if info.api_group.is_empty() {
                        "the core API group".to_owned()
                    } else {
                        format!("API group \"{}\"", info.api_group)
                    };
                    let scope = if info.namespace.is_empty() {
                        "at the cluster scope".to_owned()
                    } else {
                        format!("in the namespace \"{}\"", info.namespace)
                    };
                    format!("{} is forbidden: User \"{}\" cannot {} resource \"{r}\" in {group} {scope}", info.resource, user.name, info.verb)
                } else {
                    format!(
                        "forbidden: User \"{}\" cannot {} path \"{}\"",
                        user.name, info.verb, info.path
                    )
                };
                let message = if reason.is_empty() {
                    what
                } else {
                    format!("{what}: {reason}")
                };
                return Ok(error_response(&Error::Forbidden(message)));
            }
            request.extensions_mut().insert(info);
            inner.oneshot(request).await
        })
    }
}
