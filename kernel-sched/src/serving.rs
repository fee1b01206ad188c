//! The scheduler's HTTP endpoint: `/metrics`, `/healthz`, `/livez` and `/readyz`.
//!
//! ```no_run
//! # async fn example(client: kube::Client) -> Result<(), Box<dyn std::error::Error>> {
//! use kernel_sched::{serving, Scheduler};
//!
//! let scheduler = Scheduler::new(client);
//! let endpoints = scheduler.serving(); // before `run`, which consumes the scheduler
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:10259").await?;
//! let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
//! let server = tokio::spawn(serving::serve(listener, endpoints, async {
//!     let _ = stopped.await;
//! }));
//! let scheduling = tokio::spawn(scheduler.run());
//! // ... `curl http://127.0.0.1:10259/metrics`; later:
//! let _ = stop.send(());
//! server.await?; // in-flight requests finished, idle connections closed
//! scheduling.abort();
//! # Ok(())
//! # }
//! ```
//!
//! | path | answer |
//! |---|---|
//! | `/metrics` | [`Metrics::render`]: the `scheduler_*` series in the Prometheus text format 0.0.4 (`text/plain; version=0.0.4`) |
//! | `/healthz`, `/livez` | `200 ok` while the server runs (check `ping`) |
//! | `/readyz` | `200 ok` once every informer of the scheduler has listed ([`Scheduler::synced`](crate::Scheduler::synced); check `sched-handler-sync`), else `500` with the failed check |
//!
//! `?verbose` lists the checks (`[+]ping ok`), as upstream's health endpoints do. Only `GET`
//! and `HEAD` are answered (`405` otherwise); other paths are `404`.
//!
//! **Difference from upstream.** kube-scheduler serves these on `:10259` over HTTPS with
//! delegated authentication and authorization (a TokenReview and a SubjectAccessReview against
//! the API server for `/metrics`; the health paths are always allowed). This endpoint is plain
//! HTTP/1.1 on whatever listener the caller binds, without authentication: bind it to a
//! loopback or otherwise trusted address, or put it behind a proxy that authenticates.

use std::convert::Infallible;
use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{header, HeaderValue, Method, Request, Response, StatusCode};
use http_body_util::Full;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;
use tracing::{debug, warn};

use crate::metrics::{Metrics, CONTENT_TYPE};

/// What the endpoint answers from: the metrics and a readiness check. Cheap to clone; made by
/// [`Scheduler::serving`](crate::Scheduler::serving).
#[derive(Clone)]
pub struct Endpoints {
    metrics: Arc<Metrics>,
    ready: Arc<dyn Fn() -> bool + Send + Sync>,
}

impl fmt::Debug for Endpoints {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Endpoints")
            .field("ready", &(self.ready)())
            .finish_non_exhaustive()
    }
}

const TEXT: &str = "text/plain; charset=utf-8";

impl Endpoints {
    /// Endpoints serving `metrics`, ready while `ready` returns true.
    pub fn new(metrics: Arc<Metrics>, ready: Arc<dyn Fn() -> bool + Send + Sync>) -> Self {
        Endpoints { metrics, ready }
    }

    /// The metrics served at `/metrics`.
    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.metrics
    }

    /// Whether `/readyz` answers `200`.
    pub fn is_ready(&self) -> bool {
        (self.ready)()
    }

    /// The answer to a request for `path` (with the raw `query`, if any), without any I/O:
    /// what [`serve`] sends.
    pub fn respond(
        &self,
        method: &Method,
        path: &str,
        query: Option<&str>,
    ) -> Response<Full<Bytes>> {
        if method != Method::GET && method != Method::HEAD {
            let mut r = text(StatusCode::METHOD_NOT_ALLOWED, "method not allowed\n");
            r.headers_mut()
                .insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
            return r;
        }
        let verbose = query.is_some_and(|q| {
            q.split('&')
                .any(|kv| kv.split('=').next() == Some("verbose"))
        });
        match path.trim_end_matches('/') {
            "/metrics" => {
                let mut r = Response::new(Full::new(Bytes::from(self.metrics.render())));
                r.headers_mut()
                    .insert(header::CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE));
                r
            }
            "/healthz" => health("healthz", &[("ping", true)], verbose),
            "/livez" => health("livez", &[("ping", true)], verbose),
            "/readyz" => health(
                "readyz",
                &[("ping", true), ("sched-handler-sync", self.is_ready())],
                verbose,
            ),
            _ => text(StatusCode::NOT_FOUND, "404 page not found\n"),
        }
    }
}

fn text(code: StatusCode, body: impl Into<Bytes>) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(body.into()));
    *r.status_mut() = code;
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(TEXT));
    h.insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    r
}

/// An upstream-style health answer: `ok`, or (verbose or failing) one line per check and a
/// verdict.
fn health(name: &str, checks: &[(&str, bool)], verbose: bool) -> Response<Full<Bytes>> {
    let passed = checks.iter().all(|(_, ok)| *ok);
    if passed && !verbose {
        return text(StatusCode::OK, "ok");
    }
    let mut body = String::new();
    for (check, ok) in checks {
        if *ok {
            body.push_str(&format!("[+]{check} ok\n"));
        } else {
            body.push_str(&format!("[-]{check} failed: reason withheld\n"));
        }
    }
    if passed {
        body.push_str(&format!("{name} check passed\n"));
        text(StatusCode::OK, body)
    } else {
        body.push_str(&format!("{name} check failed\n"));
        text(StatusCode::INTERNAL_SERVER_ERROR, body)
    }
}

/// Serves `endpoints` on `listener` (HTTP/1.1, keep-alive) until `shutdown` resolves; then
/// stops accepting, lets the requests in flight finish, closes idle connections, and returns.
///
/// Errors accepting a connection (such as running out of file descriptors) are logged and
/// retried after a short pause; a failed connection only ends that connection.
pub async fn serve<F>(listener: TcpListener, endpoints: Endpoints, shutdown: F)
where
    F: Future<Output = ()> + Send,
{
    let graceful = GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            () = &mut shutdown => break,
        };
        let stream = match accepted {
            Ok((stream, _)) => stream,
            Err(e) => {
                warn!(error = %e, "scheduler metrics endpoint: accept failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let endpoints = endpoints.clone();
        let service = service_fn(move |req: Request<hyper::body::Incoming>| {
            let response = endpoints.respond(req.method(), req.uri().path(), req.uri().query());
            async move { Ok::<_, Infallible>(response) }
        });
        let conn = http1::Builder::new().serve_connection(TokioIo::new(stream), service);
        let conn = graceful.watch(conn);
        tokio::spawn(async move {
            if let Err(e) = conn.await {
                debug!(error = %e, "scheduler metrics endpoint: connection ended");
            }
        });
    }
    drop(listener);
    graceful.shutdown().await;
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicBool, Ordering};

    use http_body_util::BodyExt;

    use super::*;

    async fn body(r: Response<Full<Bytes>>) -> String {
        let bytes = r.into_body().collect().await.unwrap().to_bytes();
        String::from_utf8(bytes.to_vec()).unwrap()
    }

    #[tokio::test]
    async fn answers_health_and_metrics_paths() {
        let ready = Arc::new(AtomicBool::new(false));
        let r = ready.clone();
        let ep = Endpoints::new(
            Arc::new(Metrics::new()),
            Arc::new(move || r.load(Ordering::Relaxed)),
        );
        let get = |path: &str, query: Option<&str>| ep.respond(&Method::GET, path, query);

        let m = get("/metrics", None);
        assert_eq!(m.status(), StatusCode::OK);
        assert_eq!(m.headers()[header::CONTENT_TYPE], CONTENT_TYPE);
        assert!(CONTENT_TYPE.starts_with("text/plain; version=0.0.4"));
        assert!(body(m)
            .await
            .contains("# TYPE scheduler_preemption_attempts_total counter"));

        for path in ["/healthz", "/livez"] {
            let r = get(path, None);
            assert_eq!(r.status(), StatusCode::OK);
            assert_eq!(body(r).await, "ok");
        }
        let r = get("/readyz", None);
        assert_eq!(r.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(
            body(r).await,
            "[+]ping ok\n[-]sched-handler-sync failed: reason withheld\nreadyz check failed\n"
        );
        ready.store(true, Ordering::Relaxed);
        assert_eq!(body(get("/readyz", None)).await, "ok");
        assert_eq!(
            body(get("/readyz", Some("verbose"))).await,
            "[+]ping ok\n[+]sched-handler-sync ok\nreadyz check passed\n"
        );
        assert_eq!(get("/nope", None).status(), StatusCode::NOT_FOUND);
        let post = ep.respond(&Method::POST, "/metrics", None);
        assert_eq!(post.status(), StatusCode::METHOD_NOT_ALLOWED);
    }

    /// A raw HTTP/1.1 GET over `stream`, returning the whole response.
    async fn raw_get(addr: std::net::SocketAddr, path: &str) -> String {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
        s.write_all(
            format!("GET {path} HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n").as_bytes(),
        )
        .await
        .unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).await.unwrap();
        out
    }

    #[tokio::test]
    async fn serves_until_shutdown() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let ep = Endpoints::new(Arc::new(Metrics::new()), Arc::new(|| true));
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(serve(listener, ep, async {
            let _ = stopped.await;
        }));
        let r = raw_get(addr, "/metrics").await;
        assert!(r.starts_with("HTTP/1.1 200 OK\r\n"), "{r}");
        assert!(r.contains("content-type: text/plain; version=0.0.4"), "{r}");
        assert!(r.contains("scheduler_preemption_attempts_total 0"), "{r}");
        assert!(raw_get(addr, "/readyz").await.ends_with("\r\n\r\nok"));

        // An idle keep-alive connection does not hold up the shutdown.
        let idle = tokio::net::TcpStream::connect(addr).await.unwrap();
        stop.send(()).unwrap();
        tokio::time::timeout(Duration::from_secs(5), server)
            .await
            .expect("graceful shutdown completes")
            .unwrap();
        drop(idle);
        assert!(
            tokio::net::TcpStream::connect(addr).await.is_err(),
            "no longer listening"
        );
    }
}
