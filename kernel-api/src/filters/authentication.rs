//! Authentication: identify the user with an [`Authenticator`].

use std::sync::Arc;

use std::convert::Infallible;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::{Request, Response};
use tower::{Layer, Service, ServiceExt};

use super::{BoxFuture, Inner};
use crate::auth::{Authenticator, InProcessUser};
use crate::handlers::error_response;
use crate::handlers::Body;
use crate::status::Error;

/// Identifies the user (an [`Authenticator`]) and stores its [`UserInfo`](crate::auth::UserInfo)
/// in the request extensions; 401 if nobody can be identified. A request from an in-process
/// client ([`ApiServer::client_as`](crate::ApiServer::client_as)) already names its user.
#[derive(Clone)]
pub struct AuthenticationLayer {
    authenticator: Arc<dyn Authenticator>,
}

impl AuthenticationLayer {
    /// Uses `authenticator`.
    pub fn new(authenticator: Arc<dyn Authenticator>) -> Self {
        AuthenticationLayer { authenticator }
    }
}

impl<S> Layer<S> for AuthenticationLayer {
    type Service = Authentication<S>;
    fn layer(&self, inner: S) -> Self::Service {
        Authentication {
            inner,
            authenticator: self.authenticator.clone(),
        }
    }
}

/// See [`AuthenticationLayer`].
#[derive(Clone)]
pub struct Authentication<S> {
    inner: S,
    authenticator: Arc<dyn Authenticator>,
}

impl<S: Inner> Service<Request<Bytes>> for Authentication<S> {
    type Response = Response<Body>;
    type Error = Infallible;
    type Future = BoxFuture;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<Bytes>) -> BoxFuture {
        let inner = self.inner.clone();
        let authenticator = self.authenticator.clone();
        Box::pin(async move {
            let (mut parts, body) = request.into_parts();
            if let Some(InProcessUser(user)) = parts.extensions.remove::<InProcessUser>() {
                parts.extensions.insert(user);
                return inner.oneshot(Request::from_parts(parts, body)).await;
            }
            match authenticator.authenticate(&parts).await {
                Ok(Some(user)) => {
                    parts.extensions.insert(user);
                    inner.oneshot(Request::from_parts(parts, body)).await
                }
                Ok(None) => Ok(error_response(&Error::Unauthorized)),
                Err(e) => Ok(error_response(&e)),
            }
        })
    }
}
