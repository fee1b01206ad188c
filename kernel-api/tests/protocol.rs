//! Protocol details, calling the tower service directly (no socket).

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use common::{call, cm, CMS};
use futures::StreamExt;
use http::{Method, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use kernel_api::ApiServer;
use kernel_store::{
    LeaseId, MemoryStore, RangeRequest, RangeResponse, Revision, Store, Txn, TxnResponse, Watch,
    WatchRequest, WatchStream,
};
use serde_json::{json, Value};
use tower::ServiceExt;

/// A MemoryStore that counts the watches opened on it.
struct CountingStore {
    inner: MemoryStore,
    watches: AtomicUsize,
}

#[async_trait]
impl Watch for CountingStore {
    async fn watch(&self, request: WatchRequest) -> kernel_store::Result<WatchStream> {
        self.watches.fetch_add(1, Ordering::SeqCst);
        self.inner.watch(request).await
    }
}

#[async_trait]
impl Store for CountingStore {
    async fn range(&self, r: RangeRequest) -> kernel_store::Result<RangeResponse> {
        self.inner.range(r).await
    }
    async fn txn(&self, t: Txn) -> kernel_store::Result<TxnResponse> {
        self.inner.txn(t).await
    }
    async fn compact(&self, r: Revision) -> kernel_store::Result<()> {
        self.inner.compact(r).await
    }
    async fn current_revision(&self) -> kernel_store::Result<Revision> {
        // A round trip, as to a remote store: watchers arriving together overlap here.
        tokio::time::sleep(Duration::from_millis(5)).await;
        self.inner.current_revision().await
    }
    async fn compacted_revision(&self) -> kernel_store::Result<Revision> {
        self.inner.compacted_revision().await
    }
    async fn lease_grant(&self, ttl: Duration) -> kernel_store::Result<LeaseId> {
        self.inner.lease_grant(ttl).await
    }
    async fn lease_revoke(&self, l: LeaseId) -> kernel_store::Result<()> {
        self.inner.lease_revoke(l).await
    }
    async fn lease_keep_alive(&self, l: LeaseId) -> kernel_store::Result<Duration> {
        self.inner.lease_keep_alive(l).await
    }
}

async fn post(server: &ApiServer, uri: &str, body: Value) -> (StatusCode, Value) {
    call(
        server,
        Method::POST,
        uri,
        "application/json",
        serde_json::to_vec(&body).unwrap(),
    )
    .await
}

/// Reads watch lines from a streaming response until `n` lines arrived or the timeout hits.
async fn watch_lines(server: &ApiServer, uri: &str, n: usize) -> Vec<Value> {
    let request = Request::get(uri).body(Full::new(Bytes::new())).unwrap();
    let response = server.clone().oneshot(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let mut body = response.into_body().into_data_stream();
    let mut lines = Vec::new();
    let mut buf = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), async {
        while let Some(Ok(chunk)) = body.next().await {
            buf.extend_from_slice(&chunk);
            while let Some(pos) = buf.iter().position(|b| *b == b'\n') {
                let line: Vec<u8> = buf.drain(..=pos).collect();
                lines.push(serde_json::from_slice(&line).unwrap());
                if lines.len() >= n {
                    return;
                }
            }
        }
    })
    .await;
    lines
}

#[tokio::test]
async fn statuses_for_bad_requests() {
    let server = ApiServer::builder().build().await.unwrap();
    // 415 for an unknown content type.
    let (code, status) = call(&server, Method::POST, CMS, "text/plain", "hello").await;
    assert_eq!(
        (code, status["reason"].as_str()),
        (
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Some("UnsupportedMediaType")
        )
    );
    // 400 for malformed JSON and for a body that is not the right type.
    let (code, status) = call(&server, Method::POST, CMS, "application/json", "{").await;
    assert_eq!(
        (code, status["reason"].as_str()),
        (StatusCode::BAD_REQUEST, Some("BadRequest"))
    );
    let (code, _) = post(
        &server,
        CMS,
        json!({"metadata": {"name": "x"}, "data": {"a": 1}}),
    )
    .await;
    assert_eq!(code, StatusCode::BAD_REQUEST);
    // 413 beyond 3 MiB.
    let big = vec![b' '; 3 * 1024 * 1024 + 10];
    let (code, status) = call(&server, Method::POST, CMS, "application/json", big).await;
    assert_eq!(
        (code, status["reason"].as_str()),
        (StatusCode::PAYLOAD_TOO_LARGE, Some("RequestEntityTooLarge"))
    );
    // 405 and 404.
    let (code, _) = call(
        &server,
        Method::POST,
        "/api/v1/namespaces/default/configmaps/x",
        "application/json",
        "{}",
    )
    .await;
    assert_eq!(code, StatusCode::METHOD_NOT_ALLOWED);
    let (code, status) = call(&server, Method::GET, "/apis/nope.io/v1/things", "", "").await;
    assert_eq!(
        (code, status["reason"].as_str()),
        (StatusCode::NOT_FOUND, Some("NotFound"))
    );
    // 422 with causes.
    let (code, status) = post(&server, CMS, cm("Bad_Name")).await;
    assert_eq!(code, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(status["details"]["causes"][0]["field"], "metadata.name");
    assert_eq!(
        status["details"]["causes"][0]["reason"],
        "FieldValueInvalid"
    );
    // YAML bodies work.
    let (code, _) = call(
        &server,
        Method::POST,
        CMS,
        "application/yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: from-yaml\n",
    )
    .await;
    assert_eq!(code, StatusCode::CREATED);
}

#[tokio::test]
async fn dry_run_does_not_persist() {
    let server = ApiServer::builder().build().await.unwrap();
    let (code, obj) = post(&server, &format!("{CMS}?dryRun=All"), cm("dry")).await;
    assert_eq!(code, StatusCode::CREATED);
    assert_eq!(obj["metadata"]["name"], "dry");
    let (code, _) = call(&server, Method::GET, &format!("{CMS}/dry"), "", "").await;
    assert_eq!(code, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn compaction_makes_old_versions_gone() {
    let store = Arc::new(MemoryStore::new());
    let server = ApiServer::builder()
        .store(store.clone())
        .build()
        .await
        .unwrap();
    let (_, first) = post(&server, CMS, cm("a")).await;
    let old_rv = first["metadata"]["resourceVersion"]
        .as_str()
        .unwrap()
        .to_owned();
    for i in 0..5 {
        post(&server, CMS, cm(&format!("b{i}"))).await;
    }
    // A paginated list token taken before compaction…
    let (_, page) = call(&server, Method::GET, &format!("{CMS}?limit=2"), "", "").await;
    let token = page["metadata"]["continue"].as_str().unwrap().to_owned();
    post(&server, CMS, cm("after")).await;
    store
        .compact(store.current_revision().await.unwrap())
        .await
        .unwrap();
    // …has expired,
    let (code, status) = call(
        &server,
        Method::GET,
        &format!("{CMS}?limit=2&continue={token}"),
        "",
        "",
    )
    .await;
    assert_eq!(
        (code, status["reason"].as_str()),
        (StatusCode::GONE, Some("Expired"))
    );
    // and so has a watch from before the compaction: 200 + an ERROR event with the 410.
    let lines = watch_lines(
        &server,
        &format!("{CMS}?watch=1&resourceVersion={old_rv}"),
        1,
    )
    .await;
    assert_eq!(lines[0]["type"], "ERROR");
    assert_eq!(lines[0]["object"]["code"], 410);
    assert_eq!(lines[0]["object"]["reason"], "Expired");
}

#[tokio::test]
async fn watch_cache_uses_one_store_watch_for_many_watchers() {
    let store = Arc::new(CountingStore {
        inner: MemoryStore::new(),
        watches: AtomicUsize::new(0),
    });
    let server = ApiServer::builder()
        .store(store.clone())
        .build()
        .await
        .unwrap();
    let (_, list) = call(&server, Method::GET, CMS, "", "").await;
    let rv = list["metadata"]["resourceVersion"]
        .as_str()
        .unwrap()
        .to_owned();
    // A write after the list: the watchers' revision is older than the store's when the first
    // one opens the cache, which must still start at their revision and serve them all.
    post(&server, CMS, cm("before-watchers")).await;
    let mut watchers = Vec::new();
    for i in 0..50 {
        let server = server.clone();
        let selector = if i % 2 == 0 {
            "labelSelector=team%3Da"
        } else {
            "labelSelector=team%3Db"
        };
        let uri = format!("{CMS}?watch=1&resourceVersion={rv}&{selector}");
        watchers.push(tokio::spawn(
            async move { watch_lines(&server, &uri, 1).await },
        ));
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut labelled = cm("team-a");
    labelled["metadata"]["labels"] = json!({"team": "a"});
    post(&server, CMS, labelled).await;
    let mut got_a = 0;
    for (i, w) in watchers.into_iter().enumerate() {
        let lines = w.await.unwrap();
        if i % 2 == 0 {
            assert_eq!(lines[0]["type"], "ADDED");
            assert_eq!(lines[0]["object"]["metadata"]["name"], "team-a");
            got_a += 1;
        } else {
            assert!(lines.is_empty(), "team=b watchers see nothing");
        }
    }
    assert_eq!(got_a, 25);
    assert_eq!(
        store.watches.load(Ordering::SeqCst),
        1,
        "one store watch for every configmap watcher"
    );
}

#[tokio::test]
async fn watch_sends_initial_events_and_label_transitions() {
    let server = ApiServer::builder().build().await.unwrap();
    let mut labelled = cm("x");
    labelled["metadata"]["labels"] = json!({"keep": "yes"});
    post(&server, CMS, labelled).await;
    let uri = format!("{CMS}?watch=1&labelSelector=keep%3Dyes&sendInitialEvents=true&allowWatchBookmarks=true&resourceVersionMatch=NotOlderThan");
    let server2 = server.clone();
    let reader = tokio::spawn(async move { watch_lines(&server2, &uri, 3).await });
    tokio::time::sleep(Duration::from_millis(300)).await;
    // Relabel out of the selector: the watcher sees DELETED.
    let patch = serde_json::to_vec(&json!({"metadata": {"labels": {"keep": "no"}}})).unwrap();
    let (code, _) = call(
        &server,
        Method::PATCH,
        &format!("{CMS}/x"),
        "application/merge-patch+json",
        patch,
    )
    .await;
    assert_eq!(code, StatusCode::OK);
    let lines = reader.await.unwrap();
    assert_eq!(lines[0]["type"], "ADDED");
    assert_eq!(lines[1]["type"], "BOOKMARK");
    assert_eq!(
        lines[1]["object"]["metadata"]["annotations"]["k8s.io/initial-events-end"],
        "true"
    );
    assert_eq!(lines[2]["type"], "DELETED");
}

#[tokio::test]
async fn eviction_deletes_the_pod() {
    let server = ApiServer::builder().build().await.unwrap();
    let pod = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": {"containers": [{"name": "c", "image": "busybox"}]}});
    let (code, _) = post(&server, "/api/v1/namespaces/default/pods", pod).await;
    assert_eq!(code, StatusCode::CREATED);
    let eviction = json!({"apiVersion": "policy/v1", "kind": "Eviction", "metadata": {"name": "p", "namespace": "default"}});
    let (code, _) = post(
        &server,
        "/api/v1/namespaces/default/pods/p/eviction",
        eviction,
    )
    .await;
    assert_eq!(code, StatusCode::CREATED);
    let (code, _) = call(
        &server,
        Method::GET,
        "/api/v1/namespaces/default/pods/p",
        "",
        "",
    )
    .await;
    assert_eq!(code, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn services_get_cluster_ips_and_node_ports() {
    let server = ApiServer::builder().build().await.unwrap();
    let svc = json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s"},
        "spec": {"type": "NodePort", "selector": {"app": "s"}, "ports": [{"port": 80}]}});
    let (code, obj) = post(&server, "/api/v1/namespaces/default/services", svc).await;
    assert_eq!(code, StatusCode::CREATED, "{obj}");
    let ip = obj["spec"]["clusterIP"].as_str().unwrap();
    assert!(ip.starts_with("10."), "{ip}");
    let node_port = obj["spec"]["ports"][0]["nodePort"].as_i64().unwrap();
    assert!((30000..=32767).contains(&node_port));
    // Taking the same node port again is refused.
    let dup = json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "t"},
        "spec": {"type": "NodePort", "ports": [{"port": 80, "nodePort": node_port}]}});
    let (code, _) = post(&server, "/api/v1/namespaces/default/services", dup).await;
    assert_eq!(code, StatusCode::UNPROCESSABLE_ENTITY);
    // The kubernetes Service exists.
    let (code, k) = call(
        &server,
        Method::GET,
        "/api/v1/namespaces/default/services/kubernetes",
        "",
        "",
    )
    .await;
    assert_eq!(code, StatusCode::OK);
    assert_eq!(k["spec"]["clusterIP"], "10.96.0.1");
}

#[tokio::test]
async fn version_health_discovery_and_metrics() {
    let server = ApiServer::builder().build().await.unwrap();
    let (code, v) = call(&server, Method::GET, "/version", "", "").await;
    assert_eq!(code, StatusCode::OK);
    assert!(v["gitVersion"].as_str().unwrap().starts_with("v1.33"));
    let request = Request::get("/readyz")
        .body(Full::new(Bytes::new()))
        .unwrap();
    assert_eq!(
        server.clone().oneshot(request).await.unwrap().status(),
        StatusCode::OK
    );
    let request = Request::get("/apis")
        .header(
            "accept",
            "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json",
        )
        .body(Full::new(Bytes::new()))
        .unwrap();
    let response = server.clone().oneshot(request).await.unwrap();
    assert!(response.headers()["content-type"]
        .to_str()
        .unwrap()
        .contains("as=APIGroupDiscoveryList"));
    // Request series appear once a resource request has been served (as upstream's, empty
    // families are not printed).
    let (code, _) = call(&server, Method::GET, "/api/v1/namespaces", "", "").await;
    assert_eq!(code, StatusCode::OK);
    let request = Request::get("/metrics")
        .body(Full::new(Bytes::new()))
        .unwrap();
    let response = server.clone().oneshot(request).await.unwrap();
    let text = response.into_body().collect().await.unwrap().to_bytes();
    let text = String::from_utf8_lossy(&text);
    assert!(text.contains("apiserver_request_total{code=\"200\",component=\"apiserver\",dry_run=\"\",group=\"\",resource=\"namespaces\",scope=\"cluster\",subresource=\"\",verb=\"LIST\",version=\"v1\"} 1"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "performance smoke test; run by hand"]
async fn perf_smoke() {
    let server = ApiServer::builder().build().await.unwrap();
    let start = std::time::Instant::now();
    for i in 0..2000 {
        let (code, _) = post(&server, CMS, cm(&format!("cm-{i}"))).await;
        assert_eq!(code, StatusCode::CREATED);
    }
    eprintln!("2000 creates: {:?}", start.elapsed());
    let start = std::time::Instant::now();
    let (_, list) = call(&server, Method::GET, CMS, "", "").await;
    eprintln!(
        "list of {}: {:?}",
        list["items"].as_array().unwrap().len(),
        start.elapsed()
    );
    let start = std::time::Instant::now();
    for _ in 0..20 {
        call(
            &server,
            Method::GET,
            &format!("{CMS}?labelSelector=x%3Dy"),
            "",
            "",
        )
        .await;
    }
    eprintln!("20 filtered lists: {:?}", start.elapsed());
}

#[tokio::test]
async fn malformed_input_never_yields_500() {
    let server = ApiServer::builder().build().await.unwrap();
    post(&server, CMS, cm("target")).await;
    let bodies = [
        json!([]),
        json!("string"),
        json!(42),
        json!(null),
        json!({"metadata": "x"}),
        json!({"metadata": {"name": 5}}),
        json!({"metadata": {"name": "ok", "labels": [1, 2]}}),
        json!({"metadata": {"name": "ok", "labels": {"a": 1}}}),
        json!({"metadata": {"name": "ok", "annotations": "x"}}),
        json!({"metadata": {"name": "ok", "finalizers": "x"}}),
        json!({"metadata": {"name": "ok", "managedFields": "x"}}),
        json!({"apiVersion": 1, "kind": [], "metadata": {"name": "ok"}}),
        json!({"metadata": {"name": "ok", "resourceVersion": "abc"}}),
        json!({"metadata": {"name": "ok"}, "spec": "x", "status": 7}),
        json!({"metadata": {"name": "fresh"}, "spec": "x"}),
        json!({"metadata": {"name": "fresh2"}, "spec": {"finalizers": "x"}, "status": []}),
    ];
    let paths = [
        "/api/v1/namespaces/default/configmaps",
        "/api/v1/namespaces/default/pods",
        "/apis/apps/v1/namespaces/default/deployments",
        "/api/v1/nodes",
        "/api/v1/namespaces",
    ];
    for path in paths {
        for body in &bodies {
            let (code, status) = post(&server, path, body.clone()).await;
            assert!(code.as_u16() < 500, "POST {path} {body}: {code} {status}");
        }
    }
    let targets = [
        ("application/merge-patch+json", json!({"metadata": "x"})),
        (
            "application/merge-patch+json",
            json!({"metadata": {"labels": [1]}}),
        ),
        ("application/merge-patch+json", json!("x")),
        (
            "application/strategic-merge-patch+json",
            json!({"data": [1, 2]}),
        ),
        (
            "application/strategic-merge-patch+json",
            json!({"$patch": "delete"}),
        ),
        (
            "application/json-patch+json",
            json!([{"op": "remove", "path": "/metadata"}]),
        ),
        (
            "application/json-patch+json",
            json!([{"op": "replace", "path": "", "value": 1}]),
        ),
        ("application/json-patch+json", json!([{"op": "bogus"}])),
        ("application/json-patch+json", json!({"op": "add"})),
        (
            "application/apply-patch+yaml",
            json!({"metadata": {"name": "other"}}),
        ),
    ];
    for (content_type, patch) in targets {
        for path in [
            format!("{CMS}/target"),
            format!("{CMS}/target/status"),
            format!("{CMS}/absent"),
        ] {
            let (code, status) = call(
                &server,
                Method::PATCH,
                &format!("{path}?fieldManager=t"),
                content_type,
                serde_json::to_vec(&patch).unwrap(),
            )
            .await;
            assert!(
                code.as_u16() < 500,
                "PATCH {path} {content_type} {patch}: {code} {status}"
            );
        }
    }
    for (method, path) in [
        (Method::PUT, format!("{CMS}/target")),
        (Method::DELETE, format!("{CMS}/target")),
        (Method::GET, format!("{CMS}?limit=abc")),
        (Method::GET, format!("{CMS}?continue=%%%")),
        (Method::GET, format!("{CMS}?labelSelector=a%20in%20(")),
        (Method::GET, format!("{CMS}?fieldSelector=nope")),
        (Method::GET, format!("{CMS}?watch=1&resourceVersion=abc")),
        (
            Method::PUT,
            "/api/v1/namespaces/default/configmaps/target/scale".to_string(),
        ),
        (
            Method::POST,
            "/api/v1/namespaces/default/pods/nope/binding".to_string(),
        ),
    ] {
        let (code, status) = call(
            &server,
            method.clone(),
            &path,
            "application/json",
            "{\"x\":1}",
        )
        .await;
        assert!(code.as_u16() < 500, "{method} {path}: {code} {status}");
    }
}

#[tokio::test]
async fn token_reviews_use_the_authenticator() {
    let server = ApiServer::builder()
        .token("secret")
        .require_admin_token()
        .build()
        .await
        .unwrap();
    let review = |token: &str| json!({"apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview", "spec": {"token": token}});
    let request = |body: Value| {
        Request::post("/apis/authentication.k8s.io/v1/tokenreviews")
            .header("content-type", "application/json")
            .header("authorization", "Bearer secret")
            .body(Full::new(Bytes::from(serde_json::to_vec(&body).unwrap())))
            .unwrap()
    };
    let response = server
        .clone()
        .oneshot(request(review("secret")))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    let body: Value =
        serde_json::from_slice(&response.into_body().collect().await.unwrap().to_bytes()).unwrap();
    assert_eq!(body["status"]["authenticated"], true);
    assert_eq!(body["status"]["user"]["username"], "kubernetes-admin");
    let response = server
        .clone()
        .oneshot(request(review("wrong")))
        .await
        .unwrap();
    let body: Value =
        serde_json::from_slice(&response.into_body().collect().await.unwrap().to_bytes()).unwrap();
    assert_eq!(body["status"]["authenticated"], false);
    // Reviews are create-only.
    let get = Request::get("/apis/authentication.k8s.io/v1/tokenreviews")
        .header("authorization", "Bearer secret")
        .body(Full::new(Bytes::new()))
        .unwrap();
    assert_eq!(
        server.clone().oneshot(get).await.unwrap().status(),
        StatusCode::METHOD_NOT_ALLOWED
    );
}

#[tokio::test]
async fn resource_version_zero_lists_come_from_the_watch_cache() {
    let store = Arc::new(CountingStore {
        inner: MemoryStore::new(),
        watches: AtomicUsize::new(0),
    });
    let server = ApiServer::builder()
        .store(store.clone())
        .build()
        .await
        .unwrap();
    post(&server, CMS, cm("one")).await;
    let (code, list) = call(
        &server,
        Method::GET,
        &format!("{CMS}?resourceVersion=0"),
        "",
        "",
    )
    .await;
    assert_eq!(code, StatusCode::OK);
    assert_eq!(list["items"].as_array().unwrap().len(), 1);
    post(&server, CMS, cm("two")).await;
    let (_, created) = post(
        &server,
        "/api/v1/namespaces/kube-system/configmaps",
        cm("elsewhere"),
    )
    .await;
    // The cache follows writes; wait for it to see the last one.
    let wanted = created["metadata"]["resourceVersion"]
        .as_str()
        .unwrap()
        .parse::<i64>()
        .unwrap();
    for _ in 0..50 {
        let (_, list) = call(
            &server,
            Method::GET,
            "/api/v1/configmaps?resourceVersion=0",
            "",
            "",
        )
        .await;
        if list["metadata"]["resourceVersion"]
            .as_str()
            .unwrap()
            .parse::<i64>()
            .unwrap()
            >= wanted
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let (_, list) = call(
        &server,
        Method::GET,
        &format!("{CMS}?resourceVersion=0&fieldSelector=metadata.name%3Dtwo"),
        "",
        "",
    )
    .await;
    let names: Vec<&str> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["metadata"]["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, vec!["two"]);
    let (_, all) = call(
        &server,
        Method::GET,
        "/api/v1/configmaps?resourceVersion=0",
        "",
        "",
    )
    .await;
    assert_eq!(all["items"].as_array().unwrap().len(), 3);
    assert_eq!(store.watches.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn evictions_respect_disruption_budgets() {
    let server = ApiServer::builder().build().await.unwrap();
    let pods = "/api/v1/namespaces/default/pods";
    let pod = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "labels": {"app": "x"}},
        "spec": {"containers": [{"name": "c", "image": "busybox"}]}});
    post(&server, pods, pod).await;
    let merge = |uri: String, body: Value| {
        let server = server.clone();
        async move {
            call(
                &server,
                Method::PATCH,
                &uri,
                "application/merge-patch+json",
                serde_json::to_vec(&body).unwrap(),
            )
            .await
        }
    };
    merge(
        format!("{pods}/p/status"),
        json!({"status": {"phase": "Running"}}),
    )
    .await;
    let pdbs = "/apis/policy/v1/namespaces/default/poddisruptionbudgets";
    let pdb = json!({"apiVersion": "policy/v1", "kind": "PodDisruptionBudget", "metadata": {"name": "b"},
        "spec": {"minAvailable": 1, "selector": {"matchLabels": {"app": "x"}}}});
    let (code, _) = post(&server, pdbs, pdb).await;
    assert_eq!(code, StatusCode::CREATED);
    let status = |allowed: i64| json!({"status": {"observedGeneration": 1, "disruptionsAllowed": allowed, "currentHealthy": 1, "desiredHealthy": 1, "expectedPods": 1}});
    merge(format!("{pdbs}/b/status"), status(0)).await;
    let eviction =
        json!({"apiVersion": "policy/v1", "kind": "Eviction", "metadata": {"name": "p"}});
    let (code, body) = post(&server, &format!("{pods}/p/eviction"), eviction.clone()).await;
    assert_eq!(code, StatusCode::TOO_MANY_REQUESTS, "{body}");
    assert!(body["message"]
        .as_str()
        .unwrap()
        .contains("disruption budget"));
    merge(format!("{pdbs}/b/status"), status(1)).await;
    let (code, body) = post(&server, &format!("{pods}/p/eviction"), eviction).await;
    assert_eq!(code, StatusCode::CREATED, "{body}");
    let (_, pdb) = call(&server, Method::GET, &format!("{pdbs}/b"), "", "").await;
    assert_eq!(pdb["status"]["disruptionsAllowed"], 0);
    assert!(pdb["status"]["disruptedPods"]["p"].is_string());
}
