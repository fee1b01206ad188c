//! The strategy of Events (`events`), served as core/v1 and as events.k8s.io/v1 (one stored
//! object): upstream's `pkg/registry/core/event/strategy.go`.

use k8s_openapi::jiff::Timestamp;
use serde_json::{json, Value};

use crate::json::{field_at, s, str_at};
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

    fn selectable_fields(&self) -> &'static [&'static str] {
        &[
            "involvedObject.kind",
            "involvedObject.namespace",
            "involvedObject.name",
            "involvedObject.uid",
            "involvedObject.apiVersion",
            "involvedObject.resourceVersion",
            "involvedObject.fieldPath",
            "reason",
            "reportingComponent",
            "source",
            "type",
        ]
    }

    fn field_value(&self, obj: &Value, field: &str) -> String {
        if let Some(core) = core_event_view(obj) {
            return self.field_value(&core, field);
        }
        match field {
            "source" => str_at(obj, "/source/component"),
            f => field_at(obj, f),
        }
    }
}

fn event_cells(ev: &Value, now: Timestamp) -> Vec<Value> {
    if let Some(core) = core_event_view(ev) {
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

/// An `events.k8s.io/v1` Event seen in `core/v1` shape (`regarding` as
/// `involvedObject`, `note` as `message`, the `deprecated*` fields as their
/// core names), the way upstream stores both as one internal type. `None`
/// for an event that is already in core shape.
fn core_event_view(ev: &Value) -> Option<Value> {
    if ev.get("involvedObject").is_some() || ev.get("regarding").is_none() {
        return None;
    }
    let mut out = ev.clone();
    let m = out.as_object_mut()?;
    let moves = [
        ("regarding", "involvedObject"),
        ("note", "message"),
        ("deprecatedFirstTimestamp", "firstTimestamp"),
        ("deprecatedLastTimestamp", "lastTimestamp"),
        ("deprecatedCount", "count"),
        ("deprecatedSource", "source"),
        ("reportingController", "reportingComponent"),
        ("reportingInstance", "reportingInstance"),
    ];
    for (from, to) in moves {
        if let Some(v) = m.remove(from) {
            m.insert(to.to_string(), v);
        }
    }
    Some(out)
}
