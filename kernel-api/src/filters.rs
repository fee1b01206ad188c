//! The filter chain, as tower layers (upstream's `DefaultBuildHandlerChain`):
//!
//! ```text
//! request ─► PanicRecovery ─► MaxInFlight (+ timeout) ─► Authentication ─► Authorization ─► router
//! ```
//!
//! Each layer wraps any `Service<Request<Bytes>, Response = Response<Body>, Error = Infallible>`
//! and answers failures itself with a `metav1.Status`.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;

use bytes::Bytes;
use http::{Request, Response};
use tower::Service;

use crate::handlers::Body;

mod authentication;
mod authorization;
mod max_in_flight;
mod panic_recovery;
#[cfg(test)]
mod tests;

pub use authentication::AuthenticationLayer;
pub use authorization::AuthorizationLayer;
pub use max_in_flight::MaxInFlightLayer;
pub use panic_recovery::PanicRecoveryLayer;

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
