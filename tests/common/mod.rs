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
    tap(server, recorded, path, delay, None)
}

/// Holds back the watch responses of some paths: while paused, nothing reads their bodies, so
/// the API server's watch cache overtakes those watchers and ends them with 410 Gone once they
/// are more than its broadcast capacity behind (1,024 events with the smallest watch cache,
/// which [`recording_api_pausing`] configures); their clients must re-list.
#[derive(Clone)]
pub struct WatchPause {
    paths: &'static [&'static str],
    paused: Arc<tokio::sync::watch::Sender<bool>>,
}

impl WatchPause {
    /// Pauses nothing yet; [`pause`](Self::pause) holds back the watches of `paths`.
    pub fn new(paths: &'static [&'static str]) -> Self {
        WatchPause {
            paths,
            paused: Arc::new(tokio::sync::watch::channel(false).0),
        }
    }

    /// Stops reading the watched paths' responses.
    pub fn pause(&self) {
        self.paused.send_replace(true);
    }

    /// Reads them again.
    pub fn resume(&self) {
        self.paused.send_replace(false);
    }
}

/// [`recording_api`] whose watches of `pause`'s paths can be held back (see [`WatchPause`]).
pub async fn recording_api_pausing(recorded: Recorded, pause: WatchPause) -> kube::Client {
    let server = ApiServer::builder()
        .store(Arc::new(MemoryStore::new()))
        .watch_cache_capacity(16)
        .build()
        .await
        .unwrap();
    tap(server, recorded, "", Duration::ZERO, Some(pause))
}

/// The recording tap in front of `server` (see [`recording_api_delaying`], [`WatchPause`]).
fn tap(
    server: ApiServer,
    recorded: Recorded,
    path: &'static str,
    delay: Duration,
    pause: Option<WatchPause>,
) -> kube::Client {
    let svc = tower::service_fn(move |req: Request<kube::client::Body>| {
        let (recorded, server, pause) = (recorded.clone(), server.clone(), pause.clone());
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
            let pausable = pause.filter(|p| {
                p.paths.contains(&parts.uri.path())
                    && parts.uri.query().unwrap_or("").contains("watch=true")
            });
            let resp = server
                .oneshot(Request::from_parts(
                    parts,
                    kube::client::Body::from(body.to_vec()),
                ))
                .await?;
            let Some(pause) = pausable else {
                return Ok::<_, std::convert::Infallible>(resp);
            };
            let (parts, body) = resp.into_parts();
            let frames = http_body_util::BodyStream::new(body);
            let gated = futures::stream::unfold(
                (frames, pause.paused.subscribe()),
                |(mut frames, mut paused)| async move {
                    let _ = paused.wait_for(|p| !*p).await;
                    let frame = futures::StreamExt::next(&mut frames).await?;
                    Some((frame, (frames, paused)))
                },
            );
            Ok(http::Response::from_parts(
                parts,
                http_body_util::BodyExt::boxed_unsync(http_body_util::StreamBody::new(gated)),
            ))
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
