//! The filter chain, as tower layers (upstream's `DefaultBuildHandlerChain`):
//!
//! ```text
//! request ─► PanicRecovery ─► MaxInFlight (+ timeout) ─► Authentication ─► Authorization ─► router
//! ```
//!
//! Each layer wraps any `Service<Request<Bytes>, Response = Response<Body>, Error = Infallible>`
//! and answers failures itself with a `metav1.Status`.

use std::collections::HashMap;
use std::convert::Infallible;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use futures::FutureExt;
use http::{Request, Response};
use tokio::sync::Semaphore;
use tower::{Layer, Service, ServiceExt};

use crate::auth::{Authenticator, Authorizer, Decision};
use crate::handlers::{error_response, parse_query, Body, RequestInfo};
use crate::status::Error;

type BoxFuture = Pin<Box<dyn Future<Output = Result<Response<Body>, Infallible>> + Send>>;

/// The trait bound every filter's inner service meets.
pub trait Inner:
    Service<Request<Bytes>, Response = Response<Body>, Error = Infallible, Future: Send + 'static>
    + Clone
    + Send
    + Sync
    + 'static
{
}

impl<S> Inner for S where
    S: Service<
            Request<Bytes>,
            Response = Response<Body>,
            Error = Infallible,
            Future: Send + 'static,
        > + Clone
        + Send
        + Sync
        + 'static
{
}

// === PanicRecovery ===

/// Turns a panicking handler into a 500 `InternalError` Status (`WithPanicRecovery`).
#[derive(Clone, Copy, Debug, Default)]
pub struct PanicRecoveryLayer;

impl<S> Layer<S> for PanicRecoveryLayer {
    type Service = PanicRecovery<S>;
    fn layer(&self, inner: S) -> Self::Service {
        PanicRecovery { inner }
    }
}

/// See [`PanicRecoveryLayer`].
#[derive(Clone, Debug)]
pub struct PanicRecovery<S> {
    inner: S,
}

impl<S: Inner> Service<Request<Bytes>> for PanicRecovery<S> {
    type Response = Response<Body>;
    type Error = Infallible;
    type Future = BoxFuture;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<Bytes>) -> BoxFuture {
        let inner = self.inner.clone();
        Box::pin(async move {
            match AssertUnwindSafe(inner.oneshot(request))
                .catch_unwind()
                .await
            {
                Ok(response) => response,
                Err(panic) => {
                    let message = panic
                        .downcast_ref::<&str>()
                        .map(|s| s.to_string())
                        .or_else(|| panic.downcast_ref::<String>().cloned())
                        .unwrap_or_else(|| "panic".into());
                    tracing::error!(%message, "handler panicked");
                    Ok(error_response(&Error::internal(format!(
                        "a handler panicked: {message}"
                    ))))
                }
            }
        })
    }
}

// === MaxInFlight ===

/// Limits concurrent non-watch requests (429 beyond the limit, as `--max-requests-inflight`) and
/// bounds each with a timeout (504, as `--request-timeout`). Watches are exempt from both.
#[derive(Clone, Debug)]
pub struct MaxInFlightLayer {
    permits: Arc<Semaphore>,
    timeout: Duration,
}

impl MaxInFlightLayer {
    /// At most `limit` concurrent requests, each at most `timeout`.
    pub fn new(limit: usize, timeout: Duration) -> Self {
        MaxInFlightLayer {
            permits: Arc::new(Semaphore::new(limit.max(1))),
            timeout,
        }
    }
}

impl<S> Layer<S> for MaxInFlightLayer {
    type Service = MaxInFlight<S>;
    fn layer(&self, inner: S) -> Self::Service {
        MaxInFlight {
            inner,
            permits: self.permits.clone(),
            timeout: self.timeout,
        }
    }
}

/// See [`MaxInFlightLayer`].
#[derive(Clone, Debug)]
pub struct MaxInFlight<S> {
    inner: S,
    permits: Arc<Semaphore>,
    timeout: Duration,
}

fn is_long_running(request: &Request<Bytes>) -> bool {
    let path = request.uri().path();
    let query = request.uri().query().unwrap_or_default();
    path.contains("/watch/")
        || query
            .split('&')
            .any(|p| p == "watch=1" || p == "watch=true")
}

impl<S: Inner> Service<Request<Bytes>> for MaxInFlight<S> {
    type Response = Response<Body>;
    type Error = Infallible;
    type Future = BoxFuture;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<Bytes>) -> BoxFuture {
        let inner = self.inner.clone();
        if is_long_running(&request) {
            return Box::pin(inner.oneshot(request));
        }
        let permits = self.permits.clone();
        let timeout = self.timeout;
        Box::pin(async move {
            let Ok(_permit) = permits.try_acquire_owned() else {
                return Ok(error_response(&Error::TooManyRequests(
                    "Too many requests, please try again later.".into(),
                )));
            };
            match tokio::time::timeout(timeout, inner.oneshot(request)).await {
                Ok(response) => response,
                Err(_) => Ok(error_response(&Error::Timeout(
                    "request did not complete within the allowed duration".into(),
                ))),
            }
        })
    }
}

// === Authentication ===

/// Identifies the user (an [`Authenticator`]) and stores its [`UserInfo`](crate::auth::UserInfo)
/// in the request extensions; 401 if nobody can be identified.
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

// === Authorization ===

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

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;

    fn request(path: &str) -> Request<Bytes> {
        Request::get(path).body(Bytes::new()).unwrap()
    }

    #[tokio::test]
    async fn panics_become_500_status() {
        let inner = tower::service_fn(|_req: Request<Bytes>| async move {
            if true {
                panic!("boom");
            }
            Ok::<_, Infallible>(Response::new(crate::handlers::full(Bytes::new())))
        });
        let service = PanicRecoveryLayer.layer(inner);
        let response = service.oneshot(request("/x")).await.unwrap();
        assert_eq!(response.status(), 500);
        let body = response.into_body().collect().await.unwrap().to_bytes();
        let status: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(status["reason"], "InternalError");
        assert!(status["message"].as_str().unwrap().contains("boom"));
    }

    #[tokio::test]
    async fn max_in_flight_answers_429_and_timeouts_504() {
        let slow = tower::service_fn(|_req: Request<Bytes>| async move {
            tokio::time::sleep(Duration::from_millis(300)).await;
            Ok::<_, Infallible>(Response::new(crate::handlers::full(Bytes::new())))
        });
        let service = MaxInFlightLayer::new(1, Duration::from_millis(100)).layer(slow);
        let first = tokio::spawn(service.clone().oneshot(request("/a")));
        tokio::time::sleep(Duration::from_millis(20)).await;
        let second = service.clone().oneshot(request("/b")).await.unwrap();
        assert_eq!(second.status(), 429);
        assert_eq!(first.await.unwrap().unwrap().status(), 504);
        // Watches are exempt from both.
        let watch = service
            .oneshot(request("/api/v1/pods?watch=1"))
            .await
            .unwrap();
        assert_eq!(watch.status(), 200);
    }

    struct Deny;

    #[async_trait::async_trait]
    impl Authorizer for Deny {
        async fn authorize(&self, _attributes: &crate::auth::Attributes) -> Decision {
            Decision::Deny(String::new())
        }
    }

    #[tokio::test]
    async fn denied_requests_get_403_like_upstream() {
        let ok = tower::service_fn(|_req: Request<Bytes>| async move {
            Ok::<_, Infallible>(Response::new(crate::handlers::full(Bytes::new())))
        });
        let service = AuthorizationLayer::new(Arc::new(Deny)).layer(ok);
        let response = service
            .oneshot(request("/api/v1/namespaces/a/pods"))
            .await
            .unwrap();
        assert_eq!(response.status(), 403);
        let body = response.into_body().collect().await.unwrap().to_bytes();
        let status: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(
            status["message"],
            "pods is forbidden: User \"\" cannot list resource \"pods\" in the core API group in the namespace \"a\""
        );
    }
}
