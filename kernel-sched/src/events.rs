//! [`EventRecorder`]: events.k8s.io/v1 Events written off the scheduling path.
//!
//! Shaped like upstream's `k8s.io/client-go/tools/events` broadcaster, which kube-scheduler
//! uses:
//!
//! * recording never blocks: events go into a queue of [`MAX_QUEUED_EVENTS`] (upstream's
//!   `maxQueuedEvents`); when it is full the event is dropped and counted, as upstream's
//!   `DropIfChannelFull` broadcaster does;
//! * one task writes them, up to [`CONCURRENT_WRITES`] at a time;
//! * isomorphic events (same action, reason, reporting controller, regarding and related
//!   object) within [`CACHE_TTL`] are one Event: the first is created, the second turns it
//!   into a series (`series.count: 2`, patched), later ones only count up locally, exactly as
//!   upstream (which refreshes series on a 30-minute heartbeat we do not need).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt;
use k8s_openapi::api::core::v1::ObjectReference;
use k8s_openapi::api::events::v1::{Event, EventSeries};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use kube::api::{Api, Patch, PatchParams, PostParams};
use tokio::sync::mpsc;
use tracing::debug;

/// Events queued for writing before new ones are dropped (upstream's `maxQueuedEvents`).
pub const MAX_QUEUED_EVENTS: usize = 1000;

/// Event writes in flight at once.
pub const CONCURRENT_WRITES: usize = 16;

/// How long an event is remembered for series aggregation (upstream: 6 minutes).
pub const CACHE_TTL: Duration = Duration::from_secs(6 * 60);

/// `Normal` or `Warning`, as `Event.type`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum EventType {
    /// Routine (`Scheduled`, `Preempted`).
    Normal,
    /// Something needs attention (`FailedScheduling`).
    Warning,
}

impl EventType {
    fn as_str(self) -> &'static str {
        match self {
            EventType::Normal => "Normal",
            EventType::Warning => "Warning",
        }
    }
}

/// One event to record.
#[derive(Clone, Debug)]
pub struct Record {
    /// The object the event is about.
    pub regarding: ObjectReference,
    /// `Normal` or `Warning`.
    pub type_: EventType,
    /// Machine-readable reason (`Scheduled`, `FailedScheduling`).
    pub reason: String,
    /// What was attempted (`Scheduling`, `Binding`, `Preempting`).
    pub action: String,
    /// Human-readable message.
    pub note: String,
}

/// Hands events to the writer task without waiting; cheap to clone.
#[derive(Clone, Debug)]
pub struct EventRecorder {
    tx: mpsc::Sender<Record>,
    dropped: Arc<AtomicU64>,
}

impl EventRecorder {
    /// A recorder writing through `client` as `reporting_controller`/`reporting_instance`,
    /// and the writer task to spawn (it ends when every recorder clone is dropped).
    pub fn new(
        client: kube::Client,
        reporting_controller: &str,
        reporting_instance: &str,
    ) -> (Self, impl std::future::Future<Output = ()> + Send + 'static) {
        let (tx, rx) = mpsc::channel(MAX_QUEUED_EVENTS);
        let writer = Writer {
            client,
            controller: reporting_controller.to_string(),
            instance: reporting_instance.to_string(),
            cache: HashMap::new(),
        };
        let recorder = EventRecorder {
            tx,
            dropped: Arc::default(),
        };
        (recorder, writer.run(rx))
    }

    /// Queues `record`; drops it (and counts it) when the queue is full or the writer is gone.
    pub fn record(&self, record: Record) {
        if self.tx.try_send(record).is_err() {
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Events dropped because the queue was full.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }
}

/// What makes two events isomorphic (upstream's `eventKey`).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct Key {
    action: String,
    reason: String,
    regarding: (String, String, String, String),
}

/// A remembered event: what was written and when it was last seen.
struct Cached {
    event: Event,
    last_seen: Instant,
    in_series: bool,
}

/// The task that owns the series cache and writes events.
struct Writer {
    client: kube::Client,
    controller: String,
    instance: String,
    cache: HashMap<Key, Cached>,
}

/// A write to perform.
enum Write {
    Create(Event),
    Series(Event),
}

impl Writer {
    async fn run(mut self, rx: mpsc::Receiver<Record>) {
        let client = self.client.clone();
        let mut last_gc = Instant::now();
        tokio_stream::wrappers::ReceiverStream::new(rx)
            .filter_map(move |record| {
                let now = Instant::now();
                if now.duration_since(last_gc) > CACHE_TTL {
                    self.cache
                        .retain(|_, c| now.duration_since(c.last_seen) < CACHE_TTL);
                    last_gc = now;
                }
                std::future::ready(self.decide(record, now))
            })
            .for_each_concurrent(CONCURRENT_WRITES, move |write| {
                let client = client.clone();
                async move { write_event(client, write).await }
            })
            .await;
    }

    /// Updates the cache and returns the write `record` needs, if any.
    fn decide(&mut self, record: Record, now: Instant) -> Option<Write> {
        let r = &record.regarding;
        let key = Key {
            action: record.action.clone(),
            reason: record.reason.clone(),
            regarding: (
                r.kind.clone().unwrap_or_default(),
                r.namespace.clone().unwrap_or_default(),
                r.name.clone().unwrap_or_default(),
                r.uid.clone().unwrap_or_default(),
            ),
        };
        let at = k8s_openapi::jiff::Timestamp::now();
        if let Some(c) = self.cache.get_mut(&key) {
            c.last_seen = now;
            let count = c.event.series.as_ref().map_or(2, |s| s.count + 1);
            c.event.series = Some(EventSeries {
                count,
                last_observed_time: MicroTime(at),
            });
            if c.in_series {
                return None;
            }
            c.in_series = true;
            return Some(Write::Series(c.event.clone()));
        }
        let name = format!(
            "{}.{:x}",
            r.name.as_deref().unwrap_or(&self.controller),
            at.as_nanosecond()
        );
        let event = Event {
            metadata: ObjectMeta {
                name: Some(name),
                // Cluster-scoped objects get their events in `default`, as upstream.
                namespace: Some(r.namespace.clone().unwrap_or_else(|| "default".into())),
                ..Default::default()
            },
            event_time: Some(MicroTime(at)),
            action: Some(record.action),
            reason: Some(record.reason),
            note: Some(record.note),
            type_: Some(record.type_.as_str().into()),
            regarding: Some(record.regarding),
            reporting_controller: Some(self.controller.clone()),
            reporting_instance: Some(self.instance.clone()),
            ..Default::default()
        };
        self.cache.insert(
            key,
            Cached {
                event: event.clone(),
                last_seen: now,
                in_series: false,
            },
        );
        Some(Write::Create(event))
    }
}

/// Performs one write; failures are logged, as upstream's recorder only logs them.
async fn write_event(client: kube::Client, write: Write) {
    let (event, create) = match write {
        Write::Create(e) => (e, true),
        Write::Series(e) => (e, false),
    };
    let ns = event.metadata.namespace.clone().unwrap_or_default();
    let name = event.metadata.name.clone().unwrap_or_default();
    let api: Api<Event> = Api::namespaced(client.clone(), &ns);
    let result = if create {
        // Posted without decoding the Event the server sends back: nothing reads it.
        let request = serde_json::to_vec(&event)
            .map_err(kube::Error::SerdeError)
            .and_then(|body| {
                kube::core::Request::new(api.resource_url())
                    .create(&PostParams::default(), body)
                    .map_err(kube::Error::BuildRequest)
            });
        match request {
            Ok(request) => client.request_text(request).await.map(drop),
            Err(e) => Err(e),
        }
    } else {
        let patch = serde_json::json!({ "series": event.series });
        api.patch(&name, &PatchParams::default(), &Patch::Merge(&patch))
            .await
            .map(drop)
    };
    if let Err(e) = result {
        debug!(event = %name, error = %e, "writing event failed");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn writer() -> Writer {
        // The client is never used by `decide`; any service will do.
        let svc = tower::service_fn(|_req: http::Request<kube::client::Body>| async {
            Ok::<_, std::convert::Infallible>(http::Response::new(kube::client::Body::empty()))
        });
        Writer {
            client: kube::Client::new(svc, "default"),
            controller: "default-scheduler".into(),
            instance: "kernel-sched".into(),
            cache: HashMap::new(),
        }
    }

    fn record(pod: &str, reason: &str, note: &str) -> Record {
        Record {
            regarding: ObjectReference {
                kind: Some("Pod".into()),
                namespace: Some("ns".into()),
                name: Some(pod.into()),
                uid: Some(format!("uid-{pod}")),
                ..Default::default()
            },
            type_: EventType::Warning,
            reason: reason.into(),
            action: "Scheduling".into(),
            note: note.into(),
        }
    }

    #[tokio::test]
    async fn isomorphic_events_become_one_series() {
        let mut w = writer();
        let now = Instant::now();
        let Some(Write::Create(first)) = w.decide(record("a", "FailedScheduling", "x"), now) else {
            panic!("first event is created");
        };
        assert_eq!(first.metadata.namespace.as_deref(), Some("ns"));
        assert!(first.metadata.name.as_deref().unwrap().starts_with("a."));
        assert_eq!(
            first.reporting_controller.as_deref(),
            Some("default-scheduler")
        );
        assert_eq!(first.type_.as_deref(), Some("Warning"));
        // The second (even with another note) patches the same event into a series of 2.
        let Some(Write::Series(second)) = w.decide(record("a", "FailedScheduling", "y"), now)
        else {
            panic!("second event starts a series");
        };
        assert_eq!(second.metadata.name, first.metadata.name);
        assert_eq!(second.series.as_ref().map(|s| s.count), Some(2));
        // Later ones only count.
        assert!(w
            .decide(record("a", "FailedScheduling", "z"), now)
            .is_none());
        assert_eq!(
            w.cache
                .values()
                .next()
                .unwrap()
                .event
                .series
                .as_ref()
                .unwrap()
                .count,
            3
        );
        // Another pod or another reason is another event.
        assert!(matches!(
            w.decide(record("b", "FailedScheduling", "x"), now),
            Some(Write::Create(_))
        ));
        assert!(matches!(
            w.decide(record("a", "Scheduled", "x"), now),
            Some(Write::Create(_))
        ));
    }

    #[tokio::test]
    async fn full_queue_drops_and_counts() {
        let svc = tower::service_fn(|_req: http::Request<kube::client::Body>| async {
            Ok::<_, std::convert::Infallible>(http::Response::new(kube::client::Body::empty()))
        });
        let (recorder, _writer_not_started) =
            EventRecorder::new(kube::Client::new(svc, "default"), "c", "i");
        for i in 0..MAX_QUEUED_EVENTS + 5 {
            recorder.record(record(&format!("p{i}"), "Scheduled", ""));
        }
        assert_eq!(recorder.dropped(), 5);
    }
}
