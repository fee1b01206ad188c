//! Shared by the top-level tests: a client of a fresh in-process API server that records
//! every request it sends, so a test can check what a component wrote as well as the result.

// Each test binary uses its own subset of these helpers.
#![allow(dead_code)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use http::Request;
use http_body_util::BodyExt;
use k8s_openapi::api::core::v1::{Node, Pod};
use kernel::api::ApiServer;
use kernel::store::MemoryStore;
use kube::api::{Api, PostParams};
use tower::ServiceExt;

/// Every request: (method, path, body).
pub type Recorded = Arc<Mutex<Vec<RecordedRequest>>>;

/// A client of a fresh in-process API server that records every request it sends.
pub async fn recording_api(recorded: Recorded) -> kube::Client {
    recording_api_delaying(recorded, "", Duration::ZERO).await
}

/// [`recording_api`] whose plain GETs (lists, not watches) of `path` are answered only after
/// `delay`: a slow first list, to test what a component does before it has one.
pub async fn recording_api_delaying(
    recorded: Recorded,
    path: &'static str,
    delay: Duration,
) -> kube::Client {
    let server = ApiServer::builder()
        .store(Arc::new(MemoryStore::new()))
        .build()
        .await
        .unwrap();
    let svc = tower::service_fn(move |req: Request<kube::client::Body>| {
        let (recorded, server) = (recorded.clone(), server.clone());
        async move {
            let (parts, body) = req.into_parts();
            let body = body
                .collect()
                .await
                .map(|b| b.to_bytes())
                .unwrap_or_default();
            let is_list = parts.method == http::Method::GET
                && parts.uri.path() == path
                && !parts.uri.query().unwrap_or("").contains("watch");
            if is_list {
                tokio::time::sleep(delay).await;
            }
            recorded.lock().unwrap().push((
                parts.method.to_string(),
                parts.uri.path().to_string(),
                String::from_utf8_lossy(&body).into_owned(),
            ));
            server
                .oneshot(Request::from_parts(
                    parts,
                    kube::client::Body::from(body.to_vec()),
                ))
                .await
        }
    });
    kube::Client::new(svc, "default")
}

/// A recorded request: (method, path, body).
pub type RecordedRequest = (String, String, String);

/// Waits (up to 20 s) until, for every predicate, some recorded request matches it; returns
/// the first match of each, in the predicates' order.
pub async fn until_recorded(
    recorded: &Recorded,
    preds: &[&dyn Fn(&RecordedRequest) -> bool],
) -> Vec<RecordedRequest> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let found: Vec<Option<RecordedRequest>> = {
            let seen = recorded.lock().unwrap();
            preds
                .iter()
                .map(|p| seen.iter().find(|r| p(r)).cloned())
                .collect()
        };
        if found.iter().all(Option::is_some) {
            return found.into_iter().flatten().collect();
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out; saw {:?}",
            recorded.lock().unwrap()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Creates `nodes` and `pods` (in namespace `default`) through `client`.
pub async fn populate(client: &kube::Client, nodes: Vec<Node>, pods: Vec<Pod>) {
    for n in nodes {
        Api::<Node>::all(client.clone())
            .create(&PostParams::default(), &n)
            .await
            .unwrap();
    }
    for p in pods {
        Api::<Pod>::namespaced(client.clone(), "default")
            .create(&PostParams::default(), &p)
            .await
            .unwrap();
    }
}
