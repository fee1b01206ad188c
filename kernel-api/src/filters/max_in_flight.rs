//! Max in flight and request timeout (`--max-requests-inflight`, `--request-timeout`).

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Semaphore;

use std::convert::Infallible;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::{Request, Response};
use tower::{Layer, Service, ServiceExt};

use super::{BoxFuture, Inner};
use crate::handlers::error_response;
use crate::handlers::Body;
use crate::status::Error;

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

/// Upstream's `BasicLongRunningRequestCheck`: watches, and the connect subresources that stream
/// from a kubelet (`log`, `exec`, `attach`, `portforward`, `proxy`).
fn is_long_running(request: &Request<Bytes>) -> bool {
    let path = request.uri().path();
    let query = request.uri().query().unwrap_or_default();
    let info = crate::handlers::RequestInfo::parse(request.method(), path, &Default::default());
    let connect = info.is_resource_request
        && matches!(
            info.subresource.as_str(),
            "log" | "exec" | "attach" | "portforward" | "proxy"
        );
    connect
        || path.contains("/watch/")
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
