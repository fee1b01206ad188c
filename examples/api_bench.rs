//! API server bench: throughput and latency through real clients, in-process and over HTTPS.
//!
//! ```text
//! cargo run --release --example api_bench -- [memory|etcd|all] [requests-per-test]
//! ```
//!
//! Measured the way `shared/reference/ANCHORS.md` measured upstream kube-apiserver v1.33: 64
//! concurrent clients POSTing ConfigMaps and Pods with `generateName`, GETting one ConfigMap, and
//! LISTing with `limit=10`; plus full LISTs of 1,000 and 10,000 pods, watch fan-out to 1,000
//! watchers (write → event delivered), time from start to the first `/readyz`, and resident
//! memory. Every client is a `kube::Client`: in-process over the server's tower service, or over
//! HTTPS from the kubeconfig the server writes.
//!
//! Rows with transport `https-raw` come from an oha-like load generator instead, so they can be
//! set against the ANCHORS figures (which `oha` measured): 64 TLS connections (tokio-rustls,
//! trusting the CA and sending the bearer token from the written kubeconfig), each an HTTP/1.1
//! connection (hyper `client::conn::http1`) sending its share of the requests back to back. Every
//! request carries the same pre-serialized JSON body; every response body is read to the end and
//! dropped unparsed, and a non-2xx status (or a failed connection) counts as an error, reported
//! as `N non-2xx` after the row. Same four operations and request counts as the `https` rows;
//! the clock includes the TLS handshakes, as oha's does.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine as _;
use bytes::Bytes;
use futures::{StreamExt, TryStreamExt};
use http_body_util::{BodyExt as _, Full};
use k8s_openapi::api::core::v1::{ConfigMap, Pod};
use kernel_api::ApiServer;
use kernel_store::{EtcdConfig, EtcdStore, MemoryStore, Store};
use kube::api::{ListParams, PostParams, WatchEvent, WatchParams};
use kube::{Api, Client};

/// Concurrent clients (tasks, or connections for the raw generator) per load test.
const CONCURRENCY: usize = 64;

/// Errors of the raw generator's connection tasks (they run on other tokio workers).
type BoxError = Box<dyn std::error::Error + Send + Sync>;

// The binaries (not the libraries) choose the allocator: the API server allocates many small
// JSON nodes, where mimalloc is markedly faster than glibc's malloc.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Parses `[memory|etcd|all] [requests-per-test]`, runs the chosen stores and prints the table.
#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // mimalloc gives emptied pages back to the OS 10 ms after they empty; under a steady write
    // load that churn faults (and zeroes) fresh pages all the time, about a tenth of the CPU in
    // the scheduler bench. A server keeps them for 10 s.
    // SAFETY: mimalloc keeps its options in atomics; setting one is sound from any thread.
    // (`mi_option_purge_delay` is option 15 of mimalloc.h; the -sys crate names no constant.)
    unsafe { libmimalloc_sys::mi_option_set(15, 10_000) };
    let args: Vec<String> = std::env::args().skip(1).collect();
    let which = args.first().cloned().unwrap_or_else(|| "memory".into());
    let requests: usize = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(10_000);
    println!(
        "{:<7} {:<9} {:<34} {:>12} {:>10}",
        "store", "transport", "measurement", "result", "p99"
    );
    if which == "memory" || which == "all" {
        run("memory", Arc::new(MemoryStore::new()), requests).await?;
    }
    if which == "etcd" || which == "all" {
        match kernel_testing::etcd().await {
            Some(etcd) => {
                let store = EtcdStore::connect(EtcdConfig::new(vec![etcd.endpoint()])).await?;
                run("etcd", Arc::new(store), requests).await?;
            }
            None => println!("etcd    (skipped: no etcd binary)"),
        }
    }
    println!(
        "process VmRSS after the run: {} MiB (server and clients together)",
        rss_mib()
    );
    Ok(())
}

/// Starts an API server on `store`, then prints every row for it: start-up time, then per
/// transport the load tests, full LISTs and watch fan-out (the `https-raw` rows follow the
/// `https` load tests).
async fn run(
    name: &str,
    store: Arc<dyn Store>,
    requests: usize,
) -> Result<(), Box<dyn std::error::Error>> {
    let started = Instant::now();
    let server = ApiServer::builder().store(store).build().await?;
    let serving = server.bind("127.0.0.1:0".parse()?).await?;
    let dir = tempfile::tempdir()?;
    let kubeconfig = dir.path().join("kubeconfig");
    server.write_kubeconfig(&kubeconfig)?;
    let https = https_client(&kubeconfig).await?;
    loop {
        if https
            .request_text(http::Request::get("/readyz").body(Vec::new())?)
            .await
            .is_ok()
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let ready = started.elapsed();
    println!(
        "{name:<7} {:<9} {:<34} {:>9.1} ms",
        "https",
        "start → first /readyz ok",
        ready.as_secs_f64() * 1e3
    );

    let in_process = Client::new(server.clone(), "default");
    let raw = Arc::new(RawTarget::from_kubeconfig(&kubeconfig).await?);
    if std::env::var("API_BENCH_ONLY").is_ok_and(|v| v == "pods") {
        // For profiling: in-process pod creates only.
        report(
            name,
            "in-proc",
            "POST pods (generateName)",
            load(&in_process, requests, Op::CreatePod).await,
        );
        return Ok(());
    }
    for (transport, client) in [("in-proc", in_process.clone()), ("https", https)] {
        let n = if transport == "https" {
            requests / 2
        } else {
            requests
        };
        report(
            name,
            transport,
            "POST configmaps (generateName)",
            load(&client, n, Op::CreateConfigMap).await,
        );
        report(
            name,
            transport,
            "POST pods (generateName)",
            load(&client, n, Op::CreatePod).await,
        );
        report(
            name,
            transport,
            "GET one configmap",
            load(&client, n, Op::GetConfigMap).await,
        );
        report(
            name,
            transport,
            "LIST configmaps limit=10",
            load(&client, n / 4, Op::ListLimit10).await,
        );
        if transport == "https" {
            raw_rows(name, &raw, &in_process, n).await;
        }
        report(
            name,
            transport,
            "1 client: POST pod",
            load_with(&client, n / 10, Op::CreatePod, 1).await,
        );
        report(
            name,
            transport,
            "1 client: GET configmap",
            load_with(&client, n / 10, Op::GetConfigMap, 1).await,
        );
        for pods in [1_000usize, 10_000] {
            let ns = format!("list-{transport}-{pods}");
            fill_pods(&client, &ns, pods).await;
            let api: Api<Pod> = Api::namespaced(client.clone(), &ns);
            let t = Instant::now();
            let rounds = 5;
            let mut failure = None;
            for _ in 0..rounds {
                match api.list(&ListParams::default()).await {
                    Ok(list) => assert_eq!(list.items.len(), pods),
                    Err(error) => {
                        failure = Some(error);
                        break;
                    }
                }
            }
            let each = t.elapsed() / rounds;
            let what = format!("LIST {pods} pods (full)");
            // A failed LIST (e.g. a store's response size limit) is reported, not fatal, so the
            // rows after it still run.
            match failure {
                None => println!(
                    "{name:<7} {transport:<9} {what:<34} {:>9.1} ms",
                    each.as_secs_f64() * 1e3
                ),
                Some(error) => {
                    let why = match error {
                        kube::Error::Api(status) => status.message,
                        other => other.to_string(),
                    };
                    println!("{name:<7} {transport:<9} {what:<34} failed: {why}");
                }
            }
        }
        let what = "watch fan-out 1000 watchers (p50)";
        match watch_fan_out(&client, transport, 1000, 50).await {
            Ok((p50, p99)) => println!(
                "{name:<7} {transport:<9} {what:<34} {:>9.2} ms {:>7.2} ms",
                p50.as_secs_f64() * 1e3,
                p99.as_secs_f64() * 1e3
            ),
            Err(why) => println!("{name:<7} {transport:<9} {what:<34} failed: {why}"),
        }
    }
    serving.shutdown().await;
    Ok(())
}

/// A `kube::Client` over HTTPS configured from the kubeconfig at `kubeconfig`.
async fn https_client(kubeconfig: &std::path::Path) -> Result<Client, Box<dyn std::error::Error>> {
    let config = kube::Config::from_custom_kubeconfig(
        kube::config::Kubeconfig::read_from(kubeconfig)?,
        &kube::config::KubeConfigOptions::default(),
    )
    .await?;
    Ok(Client::try_from(config)?)
}

/// One load-test operation, as in ANCHORS.
#[derive(Clone, Copy)]
enum Op {
    CreateConfigMap,
    CreatePod,
    GetConfigMap,
    ListLimit10,
}

/// What a load test measured.
struct Outcome {
    /// Completed requests (errors included) per second of wall time.
    per_second: f64,
    /// 99th-percentile latency of one request.
    p99: Duration,
    /// Non-2xx responses and failed connections; `None` where any error aborts the bench.
    errors: Option<usize>,
}

/// Prints one load-test row (with the error count, where the test counts errors).
fn report(store: &str, transport: &str, what: &str, outcome: Outcome) {
    let errors = outcome
        .errors
        .map_or_else(String::new, |n| format!("  {n} non-2xx"));
    println!(
        "{store:<7} {transport:<9} {what:<34} {:>10.0}/s {:>7.2} ms{errors}",
        outcome.per_second,
        outcome.p99.as_secs_f64() * 1e3
    );
}

/// The bench's pod: one container with cpu and memory requests, named by `generate_name`.
fn pod(generate_name: &str) -> Pod {
    serde_json::from_value(serde_json::json!({
        "metadata": { "generateName": generate_name, "labels": { "app": "bench" } },
        "spec": { "containers": [{ "name": "c", "image": "busybox:1", "command": ["sleep", "3600"],
                   "resources": { "requests": { "cpu": "100m", "memory": "64Mi" } } }] }
    }))
    .expect("pod")
}

/// The bench's one-key ConfigMap, named by `generate_name`.
fn config_map(generate_name: &str) -> ConfigMap {
    serde_json::from_value(serde_json::json!({
        "metadata": { "generateName": generate_name },
        "data": { "key": "value" }
    }))
    .expect("configmap")
}

/// `total` requests of `op` from [`CONCURRENCY`] tasks sharing `client`.
async fn load(client: &Client, total: usize, op: Op) -> Outcome {
    load_with(client, total, op, CONCURRENCY).await
}

/// `total` requests of `op` from `concurrency` tasks sharing `client`, each task sending its
/// share one after another.
async fn load_with(client: &Client, total: usize, op: Op, concurrency: usize) -> Outcome {
    if matches!(op, Op::GetConfigMap | Op::ListLimit10) {
        ensure_bench_target(client).await;
    }
    let per_task = total.div_ceil(concurrency);
    let start = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..concurrency {
        let client = client.clone();
        tasks.push(tokio::spawn(async move {
            let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
            let pods: Api<Pod> = Api::namespaced(client, "default");
            let mut latencies = Vec::with_capacity(per_task);
            for _ in 0..per_task {
                let t = Instant::now();
                match op {
                    Op::CreateConfigMap => {
                        cms.create(&PostParams::default(), &config_map("bench-"))
                            .await
                            .unwrap();
                    }
                    Op::CreatePod => {
                        pods.create(&PostParams::default(), &pod("bench-"))
                            .await
                            .unwrap();
                    }
                    Op::GetConfigMap => {
                        cms.get("bench-target").await.unwrap();
                    }
                    Op::ListLimit10 => {
                        cms.list(&ListParams::default().limit(10)).await.unwrap();
                    }
                }
                latencies.push(t.elapsed());
            }
            latencies
        }));
    }
    let mut latencies = Vec::new();
    for task in tasks {
        latencies.extend(task.await.unwrap());
    }
    let elapsed = start.elapsed();
    latencies.sort_unstable();
    Outcome {
        per_second: latencies.len() as f64 / elapsed.as_secs_f64(),
        p99: latencies[(latencies.len() - 1) * 99 / 100],
        errors: None,
    }
}

/// Creates ConfigMap `default/bench-target` (what the GET tests read) unless it exists.
async fn ensure_bench_target(client: &Client) {
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    if cms.get_opt("bench-target").await.unwrap().is_none() {
        let mut cm = config_map("");
        cm.metadata.name = Some("bench-target".into());
        cm.metadata.generate_name = None;
        cms.create(&PostParams::default(), &cm).await.unwrap();
    }
}

/// Where and how the raw generator connects: the server, CA and admin token of a kubeconfig.
struct RawTarget {
    /// The server's socket address.
    addr: SocketAddr,
    /// The `Host` header value (`host:port` of the kubeconfig's server URL).
    authority: http::HeaderValue,
    /// The name the serving certificate is checked against.
    server_name: rustls::pki_types::ServerName<'static>,
    /// TLS client configuration trusting only the kubeconfig's CA; ALPN `http/1.1`.
    tls: Arc<rustls::ClientConfig>,
    /// `Authorization: Bearer <token>`.
    authorization: http::HeaderValue,
}

impl RawTarget {
    /// Reads the current context's cluster and user from the kubeconfig the server wrote
    /// (`certificate-authority-data` and `token`, as `ApiServer::write_kubeconfig` writes them).
    async fn from_kubeconfig(path: &std::path::Path) -> Result<Self, Box<dyn std::error::Error>> {
        let config: serde_json::Value = serde_saphyr::from_str(&std::fs::read_to_string(path)?)?;
        let context_name = config["current-context"]
            .as_str()
            .ok_or("no current-context")?;
        let context = named(&config["contexts"], context_name)?["context"].clone();
        let cluster_name = context["cluster"]
            .as_str()
            .ok_or("context without cluster")?;
        let user_name = context["user"].as_str().ok_or("context without user")?;
        let cluster = &named(&config["clusters"], cluster_name)?["cluster"];
        let user = &named(&config["users"], user_name)?["user"];

        let server: http::Uri = cluster["server"]
            .as_str()
            .ok_or("cluster without server")?
            .parse()?;
        let host = server.host().ok_or("server URL without host")?;
        let port = server.port_u16().unwrap_or(443);
        let bare_host = host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_owned();
        let addr = tokio::net::lookup_host((bare_host.as_str(), port))
            .await?
            .next()
            .ok_or("server host does not resolve")?;
        let server_name = rustls::pki_types::ServerName::try_from(bare_host)?;

        let ca_pem = base64::engine::general_purpose::STANDARD.decode(
            cluster["certificate-authority-data"]
                .as_str()
                .ok_or("cluster without certificate-authority-data")?,
        )?;
        let mut roots = rustls::RootCertStore::empty();
        for cert in
            <rustls::pki_types::CertificateDer as rustls::pki_types::pem::PemObject>::pem_slice_iter(
                &ca_pem,
            )
        {
            roots.add(cert?)?;
        }
        let mut tls = rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_no_client_auth();
        tls.alpn_protocols = vec![b"http/1.1".to_vec()];

        let token = user["token"]
            .as_str()
            .ok_or("user without a bearer token")?;
        Ok(Self {
            addr,
            authority: http::HeaderValue::from_str(&format!("{host}:{port}"))?,
            server_name,
            tls: Arc::new(tls),
            authorization: http::HeaderValue::from_str(&format!("Bearer {token}"))?,
        })
    }

    /// Opens one TLS connection and does the HTTP/1.1 handshake; the connection is driven by a
    /// spawned task until the returned sender is dropped.
    async fn connect(
        &self,
    ) -> Result<hyper::client::conn::http1::SendRequest<Full<Bytes>>, BoxError> {
        let tcp = tokio::net::TcpStream::connect(self.addr).await?;
        tcp.set_nodelay(true)?;
        let tls = tokio_rustls::TlsConnector::from(self.tls.clone())
            .connect(self.server_name.clone(), tcp)
            .await?;
        let (sender, connection) =
            hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(tls)).await?;
        tokio::spawn(async move {
            // Errors surface on the sender's next request.
            let _ = connection.await;
        });
        Ok(sender)
    }
}

/// The entry of a kubeconfig list (`clusters`, `users`, `contexts`) called `name`.
fn named<'a>(
    list: &'a serde_json::Value,
    name: &str,
) -> Result<&'a serde_json::Value, Box<dyn std::error::Error>> {
    list.as_array()
        .and_then(|entries| entries.iter().find(|entry| entry["name"] == name))
        .ok_or_else(|| format!("kubeconfig has no entry {name:?}").into())
}

/// One fixed request the raw generator repeats: method, origin-form path and body.
#[derive(Clone)]
struct RawRequest {
    /// The HTTP method.
    method: http::Method,
    /// Path and query.
    path: &'static str,
    /// The pre-serialized JSON body (empty for GETs).
    body: Bytes,
}

impl RawRequest {
    /// The request for `op`; bodies are serialized here, once.
    fn for_op(op: Op) -> Self {
        let (method, path, body) = match op {
            Op::CreateConfigMap => (
                http::Method::POST,
                "/api/v1/namespaces/default/configmaps",
                serde_json::to_vec(&config_map("bench-raw-")).expect("configmap json"),
            ),
            Op::CreatePod => (
                http::Method::POST,
                "/api/v1/namespaces/default/pods",
                serde_json::to_vec(&pod("bench-raw-")).expect("pod json"),
            ),
            Op::GetConfigMap => (
                http::Method::GET,
                "/api/v1/namespaces/default/configmaps/bench-target",
                Vec::new(),
            ),
            Op::ListLimit10 => (
                http::Method::GET,
                "/api/v1/namespaces/default/configmaps?limit=10",
                Vec::new(),
            ),
        };
        Self {
            method,
            path,
            body: Bytes::from(body),
        }
    }

    /// The HTTP request, with `Host`, the bearer token and JSON content type and accept headers.
    fn build(&self, target: &RawTarget) -> http::Request<Full<Bytes>> {
        let mut request = http::Request::new(Full::new(self.body.clone()));
        *request.method_mut() = self.method.clone();
        *request.uri_mut() = http::Uri::from_static(self.path);
        let headers = request.headers_mut();
        headers.insert(http::header::HOST, target.authority.clone());
        headers.insert(http::header::AUTHORIZATION, target.authorization.clone());
        headers.insert(
            http::header::ACCEPT,
            http::HeaderValue::from_static("application/json"),
        );
        if !self.body.is_empty() {
            headers.insert(
                http::header::CONTENT_TYPE,
                http::HeaderValue::from_static("application/json"),
            );
        }
        request
    }
}

/// Prints the four `https-raw` rows (the ANCHORS operations) for `requests` per test (a quarter
/// of that for the LIST, as the other transports do); `client` creates the GET target first.
async fn raw_rows(store: &str, target: &Arc<RawTarget>, client: &Client, requests: usize) {
    ensure_bench_target(client).await;
    for (what, op, total) in [
        (
            "POST configmaps (generateName)",
            Op::CreateConfigMap,
            requests,
        ),
        ("POST pods (generateName)", Op::CreatePod, requests),
        ("GET one configmap", Op::GetConfigMap, requests),
        ("LIST configmaps limit=10", Op::ListLimit10, requests / 4),
    ] {
        let outcome = raw_load(target, RawRequest::for_op(op), total, CONCURRENCY).await;
        report(store, "https-raw", what, outcome);
    }
}

/// `total` copies of `request` spread over `connections` fresh TLS connections, each sending its
/// share back to back; response bodies are read to the end and dropped. A connection that fails
/// counts its unsent requests as errors.
async fn raw_load(
    target: &Arc<RawTarget>,
    request: RawRequest,
    total: usize,
    connections: usize,
) -> Outcome {
    let start = Instant::now();
    let mut tasks = Vec::with_capacity(connections);
    for index in 0..connections {
        let share = total / connections + usize::from(index < total % connections);
        let target = target.clone();
        let request = request.clone();
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::with_capacity(share);
            let mut errors = 0;
            let mut sender = match target.connect().await {
                Ok(sender) => sender,
                Err(_) => return (latencies, share),
            };
            for sent in 0..share {
                let t = Instant::now();
                match raw_send(&mut sender, request.build(&target)).await {
                    Ok(status) => {
                        if !status.is_success() {
                            errors += 1;
                        }
                        latencies.push(t.elapsed());
                    }
                    Err(_) => {
                        errors += share - sent;
                        break;
                    }
                }
            }
            (latencies, errors)
        }));
    }
    let mut latencies = Vec::with_capacity(total);
    let mut errors = 0;
    for task in tasks {
        let (task_latencies, task_errors) = task.await.expect("raw load task");
        latencies.extend(task_latencies);
        errors += task_errors;
    }
    let elapsed = start.elapsed();
    latencies.sort_unstable();
    let p99 = latencies
        .get(latencies.len().saturating_sub(1) * 99 / 100)
        .copied()
        .unwrap_or_default();
    Outcome {
        per_second: latencies.len() as f64 / elapsed.as_secs_f64(),
        p99,
        errors: Some(errors),
    }
}

/// Sends `request` on `sender` once it is ready and reads the response body to the end,
/// discarding it; returns the status.
async fn raw_send(
    sender: &mut hyper::client::conn::http1::SendRequest<Full<Bytes>>,
    request: http::Request<Full<Bytes>>,
) -> Result<http::StatusCode, BoxError> {
    sender.ready().await?;
    let response = sender.send_request(request).await?;
    let status = response.status();
    let mut body = response.into_body();
    while let Some(frame) = body.frame().await {
        frame?;
    }
    Ok(status)
}

/// Creates namespace `namespace` and `count` pods in it, [`CONCURRENCY`] at a time.
async fn fill_pods(client: &Client, namespace: &str, count: usize) {
    let namespaces: Api<k8s_openapi::api::core::v1::Namespace> = Api::all(client.clone());
    let ns =
        serde_json::from_value(serde_json::json!({ "metadata": { "name": namespace } })).unwrap();
    namespaces
        .create(&PostParams::default(), &ns)
        .await
        .unwrap();
    let pods: Api<Pod> = Api::namespaced(client.clone(), namespace);
    futures::stream::iter(0..count)
        .map(|_| {
            let pods = pods.clone();
            async move {
                pods.create(&PostParams::default(), &pod("fill-"))
                    .await
                    .map(|_| ())
            }
        })
        .buffer_unordered(CONCURRENCY)
        .try_collect::<Vec<_>>()
        .await
        .unwrap();
}

/// `watchers` watches of one namespace's pods; `writes` pods created one after another; for each
/// (watcher, event) the time from the create's response to the event's arrival: p50 and p99, or
/// why watches ended before they saw every write.
async fn watch_fan_out(
    client: &Client,
    transport: &str,
    watchers: usize,
    writes: usize,
) -> Result<(Duration, Duration), String> {
    let namespace = format!("watch-{transport}");
    let namespaces: Api<k8s_openapi::api::core::v1::Namespace> = Api::all(client.clone());
    let ns =
        serde_json::from_value(serde_json::json!({ "metadata": { "name": namespace } })).unwrap();
    namespaces
        .create(&PostParams::default(), &ns)
        .await
        .unwrap();
    let pods: Api<Pod> = Api::namespaced(client.clone(), &namespace);
    let origin = Instant::now();
    let version = pods
        .list(&ListParams::default().limit(1))
        .await
        .unwrap()
        .metadata
        .resource_version
        .unwrap();
    let mut handles = Vec::new();
    for _ in 0..watchers {
        let pods = pods.clone();
        let version = version.clone();
        handles.push(tokio::spawn(async move {
            let mut seen = Vec::with_capacity(writes);
            let stream = match pods
                .watch(&WatchParams::default().timeout(290), &version)
                .await
            {
                Ok(stream) => stream,
                Err(error) => return (seen, Some(format!("watch failed: {error}"))),
            };
            let mut stream = Box::pin(stream);
            while seen.len() < writes {
                match stream.next().await {
                    Some(Ok(WatchEvent::Added(pod))) => {
                        let index: usize = pod.metadata.labels.unwrap()["i"].parse().unwrap();
                        seen.push((index, origin.elapsed()));
                    }
                    Some(Ok(WatchEvent::Error(status))) => {
                        return (seen, Some(format!("ERROR event: {}", status.message)));
                    }
                    Some(Ok(_)) => {}
                    other => return (seen, Some(format!("watch ended: {other:?}"))),
                }
            }
            (seen, None)
        }));
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mut acked = Vec::with_capacity(writes);
    for i in 0..writes {
        let mut p = pod("w-");
        p.metadata
            .labels
            .get_or_insert_with(Default::default)
            .insert("i".into(), i.to_string());
        if let Err(error) = pods.create(&PostParams::default(), &p).await {
            for handle in &handles {
                handle.abort();
            }
            return Err(format!("write {i} of {writes} failed: {error}"));
        }
        acked.push(origin.elapsed());
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let mut latencies = Vec::new();
    let mut ended_early = 0;
    let mut first_reason = None;
    for handle in handles {
        let (seen, ended) = handle.await.unwrap();
        for (index, at) in seen {
            latencies.push(at.saturating_sub(acked[index]));
        }
        if let Some(reason) = ended {
            ended_early += 1;
            first_reason.get_or_insert(reason);
        }
    }
    if let Some(reason) = first_reason {
        return Err(format!(
            "{ended_early} of {watchers} watches ended early, first: {reason}"
        ));
    }
    latencies.sort_unstable();
    Ok((
        latencies[latencies.len() / 2],
        latencies[(latencies.len() - 1) * 99 / 100],
    ))
}

/// This process's resident set size in MiB (0 where `/proc` is missing).
fn rss_mib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .map(str::to_owned)
        })
        .and_then(|l| {
            l.split_whitespace()
                .nth(1)
                .and_then(|kb| kb.parse::<u64>().ok())
        })
        .map_or(0, |kb| kb / 1024)
}
