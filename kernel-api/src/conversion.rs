//! Conversion between API shapes that share storage (upstream stores `events.k8s.io/v1` Events
//! as core `v1` Events, so both APIs see the same objects: `kubectl describe` shows events that
//! kube-runtime's `Recorder` wrote through `events.k8s.io`).

use serde_json::{json, Map, Value};

/// Converts objects between an API version and the stored form.
#[derive(Clone, Copy, Debug)]
pub struct Conversion {
    /// API form → stored form (on writes).
    pub to_storage: fn(Value) -> Value,
    /// Stored form → API form (on reads, lists and watch events).
    pub from_storage: fn(Value) -> Value,
}

/// `events.k8s.io/v1` field ↔ core `v1` field.
const EVENT_FIELDS: &[(&str, &str)] = &[
    ("regarding", "involvedObject"),
    ("related", "related"),
    ("note", "message"),
    ("reason", "reason"),
    ("type", "type"),
    ("action", "action"),
    ("reportingController", "reportingComponent"),
    ("reportingInstance", "reportingInstance"),
    ("eventTime", "eventTime"),
    ("series", "series"),
    ("deprecatedSource", "source"),
    ("deprecatedFirstTimestamp", "firstTimestamp"),
    ("deprecatedLastTimestamp", "lastTimestamp"),
    ("deprecatedCount", "count"),
];

fn rename(obj: Value, api_version: &str, from_index: usize) -> Value {
    let Value::Object(mut src) = obj else {
        return obj;
    };
    let mut out = Map::new();
    out.insert("apiVersion".into(), json!(api_version));
    out.insert("kind".into(), json!("Event"));
    if let Some(meta) = src.remove("metadata") {
        out.insert("metadata".into(), meta);
    }
    for pair in EVENT_FIELDS {
        let (from, to) = if from_index == 0 {
            (pair.0, pair.1)
        } else {
            (pair.1, pair.0)
        };
        if let Some(v) = src.remove(from) {
            if !v.is_null() {
                out.insert(to.into(), v);
            }
        }
    }
    Value::Object(out)
}

/// `events.k8s.io/v1` Event → core `v1` Event.
pub fn event_to_core(obj: Value) -> Value {
    let mut core = rename(obj, "v1", 0);
    // Core events name their source; fill it from the reporting controller as upstream does.
    if core.get("source").is_none() {
        if let Some(controller) = core.get("reportingComponent").cloned() {
            core["source"] = json!({ "component": controller });
        }
    }
    core
}

/// Core `v1` Event → `events.k8s.io/v1` Event.
pub fn event_from_core(obj: Value) -> Value {
    rename(obj, "events.k8s.io/v1", 1)
}

/// The conversion of `events.k8s.io/v1` Events.
pub const EVENTS: Conversion = Conversion {
    to_storage: event_to_core,
    from_storage: event_from_core,
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_round_trip() {
        let new_style = json!({
            "apiVersion": "events.k8s.io/v1", "kind": "Event",
            "metadata": {"name": "e", "namespace": "default"},
            "regarding": {"kind": "Pod", "name": "p"}, "note": "Scheduled", "reason": "Scheduled",
            "type": "Normal", "reportingController": "kernel-sched", "reportingInstance": "x",
            "eventTime": "2025-01-01T00:00:00.000000Z", "action": "Binding",
        });
        let core = event_to_core(new_style.clone());
        assert_eq!(core["involvedObject"]["name"], "p");
        assert_eq!(core["message"], "Scheduled");
        assert_eq!(core["source"]["component"], "kernel-sched");
        let back = event_from_core(core);
        assert_eq!(back["note"], "Scheduled");
        assert_eq!(back["regarding"], new_style["regarding"]);
        assert_eq!(back["apiVersion"], "events.k8s.io/v1");
    }
}
