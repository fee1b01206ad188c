//! Pod events: a small recorder posting core/v1 Events as upstream's kubelet does
//! (client-go's `tools/record` broadcaster with its `EventCorrelator`): `source.component` is
//! `kubelet`, `source.host` the node, `involvedObject` the pod (with `fieldPath`
//! `spec.containers{<name>}` for a container's events). A repeat of the same event (same
//! object, type, reason and message) is not a new object: the first one's `count` grows and
//! its `lastTimestamp` moves, which is what `kubectl describe pod` shows as `(x3 over 10s)`.
//!
//! Events are sent by a task of the recorder in the order they were recorded, never blocking
//! the caller; a failed post is logged and dropped, as upstream's are after their retries.

use std::collections::HashMap;
use std::time::SystemTime;

use k8s_openapi::api::core::v1::Event;
use kube::api::{Patch, PatchParams, PostParams};
use kube::{Api, Client};
use serde_json::{json, Value};
use tokio::sync::mpsc;

use super::status;

/// How many distinct events a recorder remembers for aggregation (upstream's LRU holds 4096).
const CACHE_SIZE: usize = 4096;

/// `Normal` or `Warning`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum EventType {
    /// Something expected happened.
    Normal,
    /// Something may be wrong.
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

/// One event to send.
struct Record {
    namespace: String,
    involved: Value,
    kind: EventType,
    reason: String,
    message: String,
    at: SystemTime,
}

/// Records the events of one pod; cheap to clone. Its task ends once every clone is dropped.
#[derive(Clone)]
pub(crate) struct EventRecorder {
    tx: mpsc::UnboundedSender<Record>,
    namespace: String,
    name: String,
    uid: String,
}

impl EventRecorder {
    /// A recorder of the pod `namespace/name` (`uid`), posting through `client` as the
    /// kubelet of `node`.
    pub(crate) fn new(
        client: Client,
        node: String,
        namespace: &str,
        name: &str,
        uid: &str,
    ) -> EventRecorder {
        let (tx, rx) = mpsc::unbounded_channel();
        tokio::spawn(send_all(client, node, rx));
        EventRecorder {
            tx,
            namespace: namespace.to_owned(),
            name: name.to_owned(),
            uid: uid.to_owned(),
        }
    }

    /// An event about the pod as a whole.
    pub(crate) fn pod_event(&self, kind: EventType, reason: &str, message: impl Into<String>) {
        self.record(None, kind, reason, message.into());
    }

    /// An event about the pod's container `container`.
    pub(crate) fn container_event(
        &self,
        container: &str,
        kind: EventType,
        reason: &str,
        message: impl Into<String>,
    ) {
        self.record(Some(container), kind, reason, message.into());
    }

    fn record(&self, container: Option<&str>, kind: EventType, reason: &str, message: String) {
        let mut involved = json!({
            "kind": "Pod",
            "apiVersion": "v1",
            "namespace": self.namespace,
            "name": self.name,
            "uid": self.uid,
        });
        if let Some(c) = container {
            involved["fieldPath"] = json!(format!("spec.containers{{{c}}}"));
        }
        tracing::debug!(pod = %self.name, namespace = %self.namespace, %reason, %message, "event");
        let _ = self.tx.send(Record {
            namespace: self.namespace.clone(),
            involved,
            kind,
            reason: reason.to_owned(),
            message,
            at: SystemTime::now(),
        });
    }
}

/// The aggregation key: the object (uid and fieldPath), type, reason and message.
type Key = (String, String, String, EventType, String, String);

/// An event already sent: its name and count.
struct Sent {
    name: String,
    count: i32,
}

async fn send_all(client: Client, node: String, mut rx: mpsc::UnboundedReceiver<Record>) {
    let mut sent: HashMap<Key, Sent> = HashMap::new();
    while let Some(r) = rx.recv().await {
        let key: Key = (
            r.namespace.clone(),
            r.involved["uid"].as_str().unwrap_or_default().to_owned(),
            r.involved["fieldPath"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
            r.kind,
            r.reason.clone(),
            r.message.clone(),
        );
        let api: Api<Event> = Api::namespaced(client.clone(), &r.namespace);
        let now = status::time(r.at);
        if let Some(prev) = sent.get_mut(&key) {
            let patch = json!({ "count": prev.count + 1, "lastTimestamp": now });
            match api
                .patch(&prev.name, &PatchParams::default(), &Patch::Merge(&patch))
                .await
            {
                Ok(_) => {
                    prev.count += 1;
                    continue;
                }
                Err(kube::Error::Api(e)) if e.code == 404 => {
                    // Gone (expired): make it anew.
                    sent.remove(&key);
                }
                Err(e) => {
                    tracing::warn!(reason = %r.reason, error = %e, "failed to update event");
                    continue;
                }
            }
        }
        let nanos =
            r.at.duration_since(SystemTime::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or_default();
        let object = r.involved["name"].as_str().unwrap_or("pod");
        let name = format!("{object}.{nanos:x}");
        let event = json!({
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": { "name": name, "namespace": r.namespace },
            "involvedObject": r.involved,
            "reason": r.reason,
            "message": r.message,
            "type": r.kind.as_str(),
            "source": { "component": "kubelet", "host": node },
            "firstTimestamp": now,
            "lastTimestamp": now,
            "count": 1,
            "reportingComponent": "kubelet",
            "reportingInstance": node,
        });
        let event: Event = match serde_json::from_value(event) {
            Ok(e) => e,
            Err(e) => {
                tracing::warn!(error = %e, "bad event");
                continue;
            }
        };
        match api.create(&PostParams::default(), &event).await {
            Ok(_) => {
                if sent.len() >= CACHE_SIZE {
                    sent.clear();
                }
                sent.insert(key, Sent { name, count: 1 });
            }
            Err(e) => tracing::warn!(reason = %r.reason, error = %e, "failed to post event"),
        }
    }
}
