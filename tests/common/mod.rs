//! Shared by the top-level tests: a client of a fresh in-process API server that records
//! every request it sends, so a test can check what a component wrote as well as the result.

use std::sync::{Arc, Mutex};

use http::Request;
use http_body_util::BodyExt;
use kernel::api::ApiServer;
use kernel::store::MemoryStore;
use tower::ServiceExt;

/// Every request: (method, path, body).
pub type Recorded = Arc<Mutex<Vec<(String, String, String)>>>;

/// A client of a fresh in-process API server that records every request it sends.
pub async fn recording_api(recorded: Recorded) -> kube::Client {
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
