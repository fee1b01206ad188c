//! Panic recovery: a panicking handler becomes a 500 `InternalError` Status.

use std::panic::AssertUnwindSafe;

use futures::FutureExt;

use std::convert::Infallible;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::{Request, Response};
use tower::{Layer, Service, ServiceExt};

use super::{BoxFuture, Inner};
use crate::handlers::error_response;
use crate::handlers::Body;
use crate::status::Error;

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
