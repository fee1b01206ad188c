//! Helpers the kernel-api test binaries share: raw requests through the server's tower service.
// Each test binary compiles this module and uses a different part of it.
#![allow(dead_code)]

use bytes::Bytes;
use http::{Method, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use kernel_api::ApiServer;
use serde_json::{json, Value};
use tower::ServiceExt;

/// The default namespace's ConfigMaps.
pub const CMS: &str = "/api/v1/namespaces/default/configmaps";

/// Sends one request and returns the status and the body as JSON (a body that is not JSON comes
/// back as a JSON string of its text).
pub async fn call(
    server: &ApiServer,
    method: Method,
    uri: &str,
    content_type: &str,
    body: impl Into<Bytes>,
) -> (StatusCode, Value) {
    let request = Request::builder()
        .method(method)
        .uri(uri)
        .header("content-type", content_type)
        .body(Full::new(body.into()))
        .unwrap();
    let response = server.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or_else(|_| json!(String::from_utf8_lossy(&bytes))),
    )
}

/// A ConfigMap named `name` with one data key.
pub fn cm(name: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": {"a": "b"}})
}
