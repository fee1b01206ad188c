//! The strategy of Events (`events`), served as core/v1 and as events.k8s.io/v1 (one stored object): upstream's `pkg/registry/core/event/strategy.go`.

use k8s_openapi::jiff::Timestamp;
use serde_json::{json, Value};

use crate::json::s;
use crate::strategy::{Column, Strategy};
use crate::table::{c, i, name, name_col, translate_timestamp_since};

/// The Event strategy.
#[derive(Debug)]
pub(crate) struct Event;

impl Strategy for Event {
    fn columns(&self) -> Vec<Column> {
        vec![
            c("Last Seen", "string", 0, "The time at which the most recent occurrence of this event was recorded."),
            c("Type", "string", 0, "Type of this event (Normal, Warning), new types could be added in the future"),
            c("Reason", "string", 0, "This should be a short, machine understandable string that gives the reason for the transition into the object's current status."),
            c("Object", "string", 0, "The object that this event is about."),
            c("Subobject", "string", 1, "The field path of the object this event is about."),
            c("Source", "string", 1, "The component reporting this event."),
            c("Message", "string", 0, "A human-readable description of the status of this operation."),
            c("First Seen", "string", 1, "The time at which the event was first recorded."),
            c("Count", "string", 1, "The number of times this event has occurred."),
            Column { priority: 1, ..name_col() },
        ]
    }

    fn cells(&self, obj: &Value, now: Timestamp) -> Vec<Value> {
        event_cells(obj, now)
    }
}

fn event_cells(ev: &Value, now: Timestamp) -> Vec<Value> {
    if let Some(core) = crate::selector::core_event_view(ev) {
        return event_cells(&core, now);
    }
    let first = ev
        .pointer("/firstTimestamp")
        .and_then(Value::as_str)
        .or_else(|| ev.pointer("/eventTime").and_then(Value::as_str));
    let last = ev
        .pointer("/lastTimestamp")
        .and_then(Value::as_str)
        .or_else(|| {
            ev.pointer("/series/lastObservedTime")
                .and_then(Value::as_str)
        })
        .or(first);
    let mut source = s(ev, "/source/component").to_string();
    if source.is_empty() {
        source = s(ev, "/reportingComponent").to_string();
    }
    let host = s(ev, "/source/host");
    if !host.is_empty() {
        source = format!("{source}, {host}");
    }
    let count = ev
        .pointer("/series/count")
        .and_then(Value::as_i64)
        .unwrap_or_else(|| i(ev, "/count"));
    vec![
        json!(translate_timestamp_since(last, now)),
        json!(s(ev, "/type")),
        json!(s(ev, "/reason")),
        json!(format!(
            "{}/{}",
            s(ev, "/involvedObject/kind").to_lowercase(),
            s(ev, "/involvedObject/name")
        )),
        json!(s(ev, "/involvedObject/fieldPath")),
        json!(source),
        json!(s(ev, "/message").trim()),
        json!(translate_timestamp_since(first, now)),
        json!(count.to_string()),
        name(ev),
    ]
}
