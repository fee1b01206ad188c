//! The API server's request metrics, with upstream's names, labels and buckets
//! (`k8s.io/apiserver/pkg/endpoints/metrics`, v1.33), in a [`prometheus_client`] registry
//! (the same way as kernel-sched's), rendered at `/metrics` in the Prometheus text format 0.0.4.
//!
//! | metric | type | labels |
//! |---|---|---|
//! | `apiserver_request_total` | counter | `code`, `component`, `dry_run`, `group`, `resource`, `scope`, `subresource`, `verb`, `version` |
//! | `apiserver_request_duration_seconds` | histogram, 0.005 … 60 s (upstream's 23 buckets) | `component`, `dry_run`, `group`, `resource`, `scope`, `subresource`, `verb`, `version` |
//!
//! As upstream's `MonitorRequest`:
//! * `verb` comes from the HTTP method: `GET`/`HEAD` of a collection is `LIST`, of one object
//!   `GET`; a watch (`?watch=true` or `/watch/` paths) is `WATCH`; a `PATCH` with
//!   `application/apply-patch+yaml` is `APPLY`; the `log`, `exec`, `portforward`, `attach` and
//!   `proxy` subresources are `CONNECT`; `POST`, `PUT`, `PATCH`, `DELETE` stay as they are;
//!   anything else is `other`;
//! * `scope` is `resource` for a named object or a create, `namespace` within a namespace,
//!   `cluster` otherwise; `dry_run` is `All`, `invalid` or empty; `component` is `apiserver`;
//! * the duration runs from the request's arrival to the end of its response; a watch is
//!   observed (as `WATCH`) when its stream ends, so its duration is the watch's lifetime, as
//!   upstream's (which is why SLO queries leave `WATCH` out).
//!
//! Only resource requests are counted (upstream also counts some non-resource paths such as
//! `/healthz`, with `subresource` set to the path); requests refused by the filters before
//! routing (authentication, authorization, max-in-flight) are not counted.

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Instant;

use bytes::Bytes;
use http::{Method, Response};
use http_body::{Body as HttpBody, Frame, SizeHint};
use http_body_util::BodyExt;
use prometheus_client::encoding::{prometheus_text, EncodeLabelSet};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

use crate::handlers::{Body, RequestInfo};

/// The `Content-Type` of [`Metrics::render`]'s output (Prometheus text format 0.0.4).
pub const CONTENT_TYPE: &str = prometheus_text::CONTENT_TYPE;

/// Upstream's `apiserver_request_duration_seconds` buckets.
const DURATION_BUCKETS: [f64; 23] = [
    0.005, 0.025, 0.05, 0.1, 0.2, 0.4, 0.6, 0.8, 1.0, 1.25, 1.5, 2.0, 3.0, 4.0, 5.0, 6.0, 8.0,
    10.0, 15.0, 20.0, 30.0, 45.0, 60.0,
];

/// The subresources upstream reports as `CONNECT`.
const CONNECT_SUBRESOURCES: [&str; 5] = ["log", "exec", "portforward", "attach", "proxy"];

fn duration_histogram() -> Histogram {
    Histogram::new(DURATION_BUCKETS)
}

/// When a request reached the server (put in the request's extensions by
/// [`ApiServer`](crate::ApiServer) on arrival, read when the request is recorded).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Received(pub(crate) Instant);

/// The labels of one request's series, in upstream's (alphabetical) order.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct RequestLabels {
    component: &'static str,
    dry_run: &'static str,
    group: String,
    resource: String,
    scope: &'static str,
    subresource: String,
    verb: &'static str,
    version: String,
}

/// The `code` label, first in `apiserver_request_total`'s label set.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CodeLabel {
    code: u16,
}

type CounterLabels = (CodeLabel, RequestLabels);

/// The request metrics (see the [module docs](self)).
pub struct Metrics {
    registry: Registry,
    requests: Family<CounterLabels, Counter>,
    durations: Family<RequestLabels, Histogram, fn() -> Histogram>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::default();
        let requests = Family::<CounterLabels, Counter>::default();
        registry.register(
            "apiserver_request",
            "Counter of apiserver requests broken out for each verb, dry run value, group, version, resource, scope, component, and HTTP response code",
            requests.clone(),
        );
        let durations: Family<RequestLabels, Histogram, fn() -> Histogram> =
            Family::new_with_constructor(duration_histogram);
        registry.register(
            "apiserver_request_duration_seconds",
            "Response latency distribution in seconds for each verb, dry run value, group, version, resource, subresource, scope and component",
            durations.clone(),
        );
        Metrics {
            registry,
            requests,
            durations,
        }
    }
}

/// Upstream's `CleanScope`.
fn scope(info: &RequestInfo) -> &'static str {
    if !info.name.is_empty() || info.verb == "create" {
        "resource"
    } else if !info.namespace.is_empty() {
        "namespace"
    } else if info.is_resource_request {
        "cluster"
    } else {
        ""
    }
}

/// Upstream's reported verb (`CanonicalVerb` then `cleanVerb`).
fn verb(method: &Method, info: &RequestInfo, scope: &str, apply: bool) -> &'static str {
    if info.verb == "watch" {
        return "WATCH";
    }
    if CONNECT_SUBRESOURCES.contains(&info.subresource.as_str()) {
        return "CONNECT";
    }
    match *method {
        Method::GET | Method::HEAD if scope != "resource" && !scope.is_empty() => "LIST",
        Method::GET | Method::HEAD => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH if apply => "APPLY",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::CONNECT => "CONNECT",
        _ => "other",
    }
}

impl Metrics {
    /// The labels of a request, taken before it is handled: its method, what its path names,
    /// its `dryRun` parameter and whether its body is an apply patch.
    pub(crate) fn labels(
        &self,
        method: &Method,
        info: &RequestInfo,
        dry_run: Option<&str>,
        apply: bool,
    ) -> RequestLabels {
        let scope = scope(info);
        RequestLabels {
            component: "apiserver",
            dry_run: match dry_run {
                None => "",
                Some("All") => "All",
                Some(_) => "invalid",
            },
            group: info.api_group.clone(),
            resource: info.resource.clone(),
            scope,
            subresource: info.subresource.clone(),
            verb: verb(method, info, scope, apply),
            version: info.api_version.clone(),
        }
    }

    /// Records a request that arrived at `received` and is answered by `response`: counts it
    /// now, and observes its duration now or, for a watch, when the response's stream ends.
    pub(crate) fn record(
        &self,
        labels: RequestLabels,
        received: Instant,
        response: Response<Body>,
    ) -> Response<Body> {
        let histogram = self.durations.get_or_create_owned(&labels);
        let watch = labels.verb == "WATCH" && response.status().is_success();
        let code = response.status().as_u16();
        self.requests
            .get_or_create(&(CodeLabel { code }, labels))
            .inc();
        if !watch {
            histogram.observe(received.elapsed().as_secs_f64());
            return response;
        }
        response.map(|body| {
            ObservedOnEnd {
                body,
                end: Some((histogram, received)),
            }
            .boxed_unsync()
        })
    }

    /// Every metric in the Prometheus text format 0.0.4 ([`CONTENT_TYPE`]).
    pub fn render(&self) -> String {
        let mut out = String::with_capacity(16 * 1024);
        // Writing into a String cannot fail.
        let _ = prometheus_text::encode(&mut out, &self.registry);
        out
    }
}

/// A response body that observes its request's duration when it ends or is dropped (the
/// client went away).
struct ObservedOnEnd {
    body: Body,
    end: Option<(Histogram, Instant)>,
}

impl ObservedOnEnd {
    fn observe(&mut self) {
        if let Some((histogram, received)) = self.end.take() {
            histogram.observe(received.elapsed().as_secs_f64());
        }
    }
}

impl Drop for ObservedOnEnd {
    fn drop(&mut self) {
        self.observe();
    }
}

impl HttpBody for ObservedOnEnd {
    type Data = Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let polled = Pin::new(&mut self.body).poll_frame(cx);
        if let Poll::Ready(None) = polled {
            self.observe();
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn info(method: &Method, path: &str, query: &[(&str, &str)]) -> RequestInfo {
        let q: HashMap<String, String> = query
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        RequestInfo::parse(method, path, &q)
    }

    #[test]
    fn verbs_and_scopes_as_upstream() {
        let m = Metrics::default();
        let cases = [
            (
                Method::GET,
                "/api/v1/namespaces/a/pods",
                vec![],
                false,
                "LIST",
                "namespace",
            ),
            (
                Method::GET,
                "/api/v1/pods",
                vec![],
                false,
                "LIST",
                "cluster",
            ),
            (
                Method::GET,
                "/api/v1/namespaces/a/pods/p",
                vec![],
                false,
                "GET",
                "resource",
            ),
            (
                Method::GET,
                "/api/v1/namespaces/a/pods",
                vec![("watch", "true")],
                false,
                "WATCH",
                "namespace",
            ),
            (
                Method::GET,
                "/api/v1/watch/pods",
                vec![],
                false,
                "WATCH",
                "cluster",
            ),
            (
                Method::POST,
                "/api/v1/namespaces/a/pods",
                vec![],
                false,
                "POST",
                "resource",
            ),
            (
                Method::PUT,
                "/api/v1/namespaces/a/pods/p",
                vec![],
                false,
                "PUT",
                "resource",
            ),
            (
                Method::PATCH,
                "/apis/apps/v1/namespaces/a/deployments/d",
                vec![],
                true,
                "APPLY",
                "resource",
            ),
            (
                Method::PATCH,
                "/apis/apps/v1/namespaces/a/deployments/d",
                vec![],
                false,
                "PATCH",
                "resource",
            ),
            (
                Method::DELETE,
                "/api/v1/namespaces/a/pods",
                vec![],
                false,
                "DELETE",
                "namespace",
            ),
            (
                Method::GET,
                "/api/v1/namespaces/a/pods/p/log",
                vec![],
                false,
                "CONNECT",
                "resource",
            ),
            (
                Method::OPTIONS,
                "/api/v1/pods",
                vec![],
                false,
                "other",
                "cluster",
            ),
        ];
        for (method, path, query, apply, want_verb, want_scope) in cases {
            let l = m.labels(&method, &info(&method, path, &query), None, apply);
            assert_eq!(
                (l.verb, l.scope),
                (want_verb, want_scope),
                "{method} {path}"
            );
        }
        let l = m.labels(
            &Method::POST,
            &info(&Method::POST, "/api/v1/namespaces/a/pods", &[]),
            Some("All"),
            false,
        );
        assert_eq!(l.dry_run, "All");
        let l = m.labels(
            &Method::POST,
            &info(&Method::POST, "/api/v1/namespaces/a/pods", &[]),
            Some("x"),
            false,
        );
        assert_eq!(l.dry_run, "invalid");
    }

    #[tokio::test]
    async fn a_watch_is_observed_when_its_stream_ends() {
        let m = Metrics::default();
        let i = info(&Method::GET, "/api/v1/pods", &[("watch", "1")]);
        let labels = m.labels(&Method::GET, &i, None, false);
        let response = m.record(
            labels,
            Instant::now(),
            Response::new(crate::handlers::full("x")),
        );
        let count = "apiserver_request_duration_seconds_count{component=\"apiserver\",dry_run=\"\",group=\"\",resource=\"pods\",scope=\"cluster\",subresource=\"\",verb=\"WATCH\",version=\"v1\"}";
        assert!(m.render().contains(&format!("{count} 0")), "{}", m.render());
        assert!(m.render().contains("apiserver_request_total{code=\"200\",component=\"apiserver\",dry_run=\"\",group=\"\",resource=\"pods\",scope=\"cluster\",subresource=\"\",verb=\"WATCH\",version=\"v1\"} 1"));
        let body = response.into_body().collect().await.unwrap().to_bytes();
        assert_eq!(&body[..], b"x");
        assert!(m.render().contains(&format!("{count} 1")), "{}", m.render());
    }
}
