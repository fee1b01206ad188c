//! `/metrics` of the in-process API server: upstream's `apiserver_request_total` and
//! `apiserver_request_duration_seconds` (labels, buckets, watch durations) after real requests.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures::StreamExt;
use http::Request;
use http_body_util::{BodyExt, Full};
use k8s_openapi::api::core::v1::ConfigMap;
use kernel_api::ApiServer;
use kernel_store::MemoryStore;
use kube::api::{Api, PostParams, WatchParams};
use serde_json::json;
use tower::ServiceExt;

async fn metrics(server: &ApiServer) -> (String, String) {
    let request = Request::get("/metrics")
        .body(Full::new(Bytes::new()))
        .unwrap();
    let response = server.clone().oneshot(request).await.unwrap();
    let content_type = response.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_string();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    (content_type, String::from_utf8(body.to_vec()).unwrap())
}

/// The value of the sample line starting with `series` (labels included).
fn sample(text: &str, series: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' '))
        .unwrap_or_else(|| panic!("{series} missing in\n{text}"))
        .parse()
        .unwrap()
}

#[tokio::test]
async fn requests_are_counted_and_timed_with_upstream_labels_and_buckets() {
    let server = ApiServer::builder()
        .store(Arc::new(MemoryStore::new()))
        .build()
        .await
        .unwrap();
    let client = kube::Client::new(server.clone(), "default");
    let api: Api<ConfigMap> = Api::default_namespaced(client.clone());
    let cm: ConfigMap =
        serde_json::from_value(json!({ "metadata": { "name": "a" }, "data": { "k": "v" } }))
            .unwrap();
    api.create(&PostParams::default(), &cm).await.unwrap();
    let dry = PostParams {
        dry_run: true,
        ..Default::default()
    };
    let mut b = cm.clone();
    b.metadata.name = Some("b".into());
    api.create(&dry, &b).await.unwrap();
    api.get("a").await.unwrap();
    assert!(api.get("missing").await.is_err());
    api.list(&Default::default()).await.unwrap();
    // A watch that the server ends after a second.
    let mut events = api
        .watch(&WatchParams::default().timeout(1), "0")
        .await
        .unwrap()
        .boxed();
    while events.next().await.is_some() {}
    // The watch's response body is dropped by the client once it ends; let that happen.
    tokio::time::sleep(Duration::from_millis(50)).await;

    let (content_type, text) = metrics(&server).await;
    assert!(
        content_type.starts_with("text/plain; version=0.0.4"),
        "{content_type}"
    );
    assert!(
        text.contains("# TYPE apiserver_request_duration_seconds histogram"),
        "{text}"
    );
    let labels = |verb: &str, scope: &str, dry_run: &str| {
        format!("component=\"apiserver\",dry_run=\"{dry_run}\",group=\"\",resource=\"configmaps\",scope=\"{scope}\",subresource=\"\",verb=\"{verb}\",version=\"v1\"")
    };
    let post = labels("POST", "resource", "");
    assert_eq!(
        sample(
            &text,
            &format!("apiserver_request_total{{code=\"201\",{post}}}")
        ),
        1.0
    );
    assert_eq!(
        sample(
            &text,
            &format!(
                "apiserver_request_total{{code=\"201\",{}}}",
                labels("POST", "resource", "All")
            )
        ),
        1.0
    );
    let get = labels("GET", "resource", "");
    assert_eq!(
        sample(
            &text,
            &format!("apiserver_request_total{{code=\"200\",{get}}}")
        ),
        1.0
    );
    assert_eq!(
        sample(
            &text,
            &format!("apiserver_request_total{{code=\"404\",{get}}}")
        ),
        1.0
    );
    let list = labels("LIST", "namespace", "");
    assert_eq!(
        sample(
            &text,
            &format!("apiserver_request_total{{code=\"200\",{list}}}")
        ),
        1.0
    );
    // Upstream's 23 buckets, from 5ms to 60s.
    let buckets: Vec<&str> = text
        .lines()
        .filter(|l| {
            l.starts_with(&format!(
                "apiserver_request_duration_seconds_bucket{{{post},le="
            ))
        })
        .map(|l| l.split("le=\"").nth(1).unwrap().split('"').next().unwrap())
        .collect();
    assert_eq!(
        buckets,
        [
            "0.005", "0.025", "0.05", "0.1", "0.2", "0.4", "0.6", "0.8", "1", "1.25", "1.5", "2",
            "3", "4", "5", "6", "8", "10", "15", "20", "30", "45", "60", "+Inf"
        ]
    );
    assert_eq!(
        sample(
            &text,
            &format!("apiserver_request_duration_seconds_bucket{{{post},le=\"+Inf\"}}")
        ),
        1.0
    );
    assert_eq!(
        sample(
            &text,
            &format!("apiserver_request_duration_seconds_count{{{get}}}")
        ),
        2.0
    );
    // The watch is timed over its lifetime (about the second it lasted).
    let watch = labels("WATCH", "namespace", "");
    assert_eq!(
        sample(
            &text,
            &format!("apiserver_request_total{{code=\"200\",{watch}}}")
        ),
        1.0
    );
    assert_eq!(
        sample(
            &text,
            &format!("apiserver_request_duration_seconds_count{{{watch}}}")
        ),
        1.0
    );
    let watched = sample(
        &text,
        &format!("apiserver_request_duration_seconds_sum{{{watch}}}"),
    );
    assert!((0.9..10.0).contains(&watched), "watch lasted {watched}s");
    assert_eq!(
        sample(
            &text,
            &format!("apiserver_request_duration_seconds_bucket{{{watch},le=\"0.6\"}}")
        ),
        0.0
    );
}
