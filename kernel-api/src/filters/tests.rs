//! Filter tests against mock inner services.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::BodyExt;
use tower::{Layer, ServiceExt};

use super::*;
use crate::auth::{Authorizer, Decision};

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
