//! `GET /metrics`: the kubelet's metrics with upstream's names (`pkg/kubelet/metrics`,
//! `pkg/kubelet/server/metrics`), in a [`prometheus_client`] registry rendered in the
//! Prometheus text format (as kernel-api's and kernel-sched's).
//!
//! | metric | type | labels |
//! |---|---|---|
//! | `kubelet_node_name` | gauge (1) | `node` |
//! | `kubelet_running_pods` | gauge: ready sandboxes | |
//! | `kubelet_running_containers` | gauge | `container_state` (`created`, `running`, `exited`, `unknown`) |
//! | `kubelet_http_requests_total` | counter | `long_running`, `method`, `path`, `server_type` |
//! | `kubelet_http_requests_duration_seconds` | histogram | `long_running`, `method`, `path`, `server_type` |
//! | `kubelet_pod_start_duration_seconds` | histogram, 0.5 … 3600 s (upstream's buckets) | |
//!
//! `path` is the first segment of the request path (`containerLogs`, `exec`, `healthz`,
//! `pods`, `stats`, `metrics`, ...; `other` for unknown ones), `server_type` is `readwrite`,
//! `long_running` is `true` for exec, attach, port-forward and followed logs. The running
//! gauges are computed from the runtime when scraped. `kubelet_pod_start_duration_seconds`
//! is observed by the kubelet's pod loop: from the first time it sees a pod to the first
//! version of the pod whose containers all run (a pod already running when first seen, e.g.
//! after a kubelet restart, is not observed). Not yet: the other pod-lifecycle histograms.

use std::sync::Arc;
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

use crate::runtime::{ContainerState, Runtime, SandboxState};

/// The `Content-Type` of [`Metrics::render`]'s output.
pub(crate) const CONTENT_TYPE: &str = prometheus_client::encoding::prometheus_text::CONTENT_TYPE;

/// Upstream's `kubelet_http_requests_duration_seconds` buckets (`prometheus.DefBuckets`).
const BUCKETS: [f64; 11] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// Upstream's `kubelet_pod_start_duration_seconds` buckets.
const POD_START_BUCKETS: [f64; 25] = [
    0.5, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 8.0, 10.0, 20.0, 30.0, 45.0, 60.0, 120.0, 180.0, 240.0,
    300.0, 360.0, 480.0, 600.0, 900.0, 1200.0, 1800.0, 2700.0, 3600.0,
];

/// The labels of the HTTP request series.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct RequestLabels {
    /// `true` for streams.
    pub long_running: &'static str,
    /// The HTTP method.
    pub method: String,
    /// The first path segment.
    pub path: &'static str,
    /// `readwrite`.
    pub server_type: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StateLabel {
    container_state: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct NodeLabel {
    node: String,
}

/// The kubelet server's metrics (see the [module docs](self)).
pub(crate) struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    durations: Family<RequestLabels, Histogram, fn() -> Histogram>,
    running_pods: Gauge,
    running_containers: Family<StateLabel, Gauge>,
    pod_start: Histogram,
}

fn histogram() -> Histogram {
    Histogram::new(BUCKETS)
}

impl Metrics {
    /// The registry for node `node`.
    pub(crate) fn new(node: &str) -> Self {
        let mut registry = Registry::default();
        let node_name = Family::<NodeLabel, Gauge>::default();
        node_name
            .get_or_create(&NodeLabel {
                node: node.to_string(),
            })
            .set(1);
        registry.register(
            "kubelet_node_name",
            "The node's name. The count is always 1.",
            node_name,
        );
        let running_pods = Gauge::default();
        registry.register(
            "kubelet_running_pods",
            "Number of pods that have a running pod sandbox",
            running_pods.clone(),
        );
        let running_containers = Family::<StateLabel, Gauge>::default();
        registry.register(
            "kubelet_running_containers",
            "Number of containers currently running",
            running_containers.clone(),
        );
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register(
            "kubelet_http_requests",
            "Number of the http requests received since the server started",
            requests.clone(),
        );
        let durations: Family<RequestLabels, Histogram, fn() -> Histogram> =
            Family::new_with_constructor(histogram);
        registry.register(
            "kubelet_http_requests_duration_seconds",
            "Duration in seconds to serve http requests",
            durations.clone(),
        );
        let pod_start = Histogram::new(POD_START_BUCKETS);
        registry.register(
            "kubelet_pod_start_duration_seconds",
            "Duration in seconds from kubelet seeing a pod for the first time to the pod starting to run",
            pod_start.clone(),
        );
        Metrics {
            pod_start,
            registry,
            requests,
            durations,
            running_pods,
            running_containers,
        }
    }

    /// Observes how long a pod took from first seen to running.
    pub(crate) fn observe_pod_start(&self, took: Duration) {
        self.pod_start.observe(took.as_secs_f64());
    }

    /// Counts a request as it arrives.
    pub(crate) fn request(&self, labels: &RequestLabels) {
        self.requests.get_or_create(labels).inc();
    }

    /// Observes a request's duration once answered (a stream: once its answer head is out).
    pub(crate) fn observe(&self, labels: &RequestLabels, took: Duration) {
        self.durations
            .get_or_create(labels)
            .observe(took.as_secs_f64());
    }

    /// The metrics in the text format, with the running gauges taken from `runtime` now.
    pub(crate) async fn render(&self, runtime: &Arc<dyn Runtime>) -> String {
        if let Ok(sandboxes) = runtime.list_pod_sandboxes().await {
            let ready = sandboxes
                .iter()
                .filter(|s| s.state == SandboxState::Ready)
                .count();
            self.running_pods.set(ready as i64);
        }
        if let Ok(containers) = runtime.list_containers(None).await {
            for (state, label) in [
                (ContainerState::Created, "created"),
                (ContainerState::Running, "running"),
                (ContainerState::Exited, "exited"),
                (ContainerState::Unknown, "unknown"),
            ] {
                let n = containers.iter().filter(|c| c.state == state).count();
                self.running_containers
                    .get_or_create(&StateLabel {
                        container_state: label,
                    })
                    .set(n as i64);
            }
        }
        let mut out = String::new();
        if let Err(e) =
            prometheus_client::encoding::prometheus_text::encode(&mut out, &self.registry)
        {
            tracing::warn!(error = %e, "encoding the metrics failed");
        }
        out
    }
}
