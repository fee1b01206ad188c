//! Server-side printing: objects rendered as a `meta.k8s.io/v1` `Table`, the
//! answer to `Accept: application/json;as=Table;g=meta.k8s.io;v=v1` that
//! `kubectl get` asks for.
//!
//! Each kind's columns and cells are its `Strategy::columns` and `Strategy::cells`
//! (`strategy/<kind>.rs`), mirroring `pkg/printers/internalversion/printers.go`
//! (`printPod`, `printNode`, `printService`, `printDeployment`, …); kinds without a printer
//! get upstream's default convertor columns (`Name`, `Created At`). This module renders the
//! `Table` and holds the cell helpers the printers share; ages mirror
//! `k8s.io/apimachinery/pkg/util/duration.HumanDuration`.
//!
//! Upstream's server always generates the wide form and lets the client hide
//! `priority: 1` columns; pass `wide = true` for that behaviour.

use std::collections::BTreeMap;

use k8s_openapi::jiff::{SignedDuration, Timestamp};
use serde_json::{json, Map, Value};

use crate::json::{arr, s};

/// The current time (jiff's own `Timestamp::now` needs its `std` feature).
pub(crate) fn now() -> Timestamp {
    let d = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    Timestamp::new(d.as_secs() as i64, d.subsec_nanos() as i32).unwrap_or(Timestamp::UNIX_EPOCH)
}

/// Renders `objects` as a `meta.k8s.io/v1` `Table` with `cols`; `row` gives an object's cells
/// (one per column) and row conditions. With `wide = false` the `priority: 1` columns (those
/// `kubectl -o wide` adds) are left out of both the definitions and the cells.
pub(crate) fn render(
    cols: &[Column],
    objects: &[Value],
    wide: bool,
    row: impl Fn(&Value) -> (Vec<Value>, Option<Value>),
) -> Value {
    let column_definitions: Vec<Value> = cols
        .iter()
        .filter(|c| wide || c.priority == 0)
        .map(|c| {
            json!({
                "name": c.name,
                "type": c.ty,
                "format": c.format,
                "description": c.description,
                "priority": c.priority,
            })
        })
        .collect();
    let rows: Vec<Value> = objects
        .iter()
        .map(|obj| {
            let (all, conditions) = row(obj);
            let cells: Vec<Value> = all
                .into_iter()
                .zip(cols.iter())
                .filter(|(_, c)| wide || c.priority == 0)
                .map(|(v, _)| v)
                .collect();
            let mut row = Map::new();
            row.insert("cells".into(), Value::Array(cells));
            if let Some(conditions) = conditions {
                row.insert("conditions".into(), conditions);
            }
            row.insert(
                "object".into(),
                json!({
                    "kind": "PartialObjectMetadata",
                    "apiVersion": "meta.k8s.io/v1",
                    "metadata": obj.get("metadata").cloned().unwrap_or_else(|| json!({})),
                }),
            );
            Value::Object(row)
        })
        .collect();
    json!({
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": {},
        "columnDefinitions": column_definitions,
        "rows": rows,
    })
}

/// Upstream `duration.HumanDuration`: "5s", "3m20s", "15m", "5h3m", "2d",
/// "3y20d", with up to one second of clock skew shown as "0s".
pub(crate) fn human_duration(d: SignedDuration) -> String {
    let secs = d.as_secs();
    if secs < -1 {
        return "<invalid>".to_string();
    } else if secs < 0 {
        return "0s".to_string();
    } else if secs < 120 {
        return format!("{secs}s");
    }
    let minutes = secs / 60;
    if minutes < 10 {
        let s = secs % 60;
        return if s == 0 {
            format!("{minutes}m")
        } else {
            format!("{minutes}m{s}s")
        };
    } else if minutes < 180 {
        return format!("{minutes}m");
    }
    let hours = secs / 3600;
    if hours < 8 {
        let m = minutes % 60;
        return if m == 0 {
            format!("{hours}h")
        } else {
            format!("{hours}h{m}m")
        };
    } else if hours < 48 {
        return format!("{hours}h");
    } else if hours < 24 * 8 {
        let h = hours % 24;
        return if h == 0 {
            format!("{}d", hours / 24)
        } else {
            format!("{}d{}h", hours / 24, h)
        };
    } else if hours < 24 * 365 * 2 {
        return format!("{}d", hours / 24);
    } else if hours < 24 * 365 * 8 {
        let dy = (hours / 24) % 365;
        return if dy == 0 {
            format!("{}y", hours / 24 / 365)
        } else {
            format!("{}y{}d", hours / 24 / 365, dy)
        };
    }
    format!("{}y", hours / 24 / 365)
}

/// Upstream `translateTimestampSince`: the age of an RFC 3339 timestamp, or
/// `<unknown>` when missing or unparsable.
pub(crate) fn translate_timestamp_since(ts: Option<&str>, now: Timestamp) -> String {
    match ts.and_then(|t| t.parse::<Timestamp>().ok()) {
        Some(t) => human_duration(now.duration_since(t)),
        None => "<unknown>".to_string(),
    }
}
// --- columns ------------------------------------------------------------------

/// One column of a server-side `Table` (`meta.k8s.io/v1` `TableColumnDefinition`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Column {
    /// The header (`Ready`).
    pub name: &'static str,
    /// The OpenAPI type of the cells (`string`, `integer`, `boolean`, `date`).
    pub ty: &'static str,
    /// The OpenAPI format (`name` for the name column, else empty).
    pub format: &'static str,
    /// What the column shows.
    pub description: &'static str,
    /// 0 for the columns `kubectl get` shows, 1 for those only `-o wide` adds.
    pub priority: u8,
}

pub(crate) const NAME_DESC: &str = "Name must be unique within a namespace. More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/names#names";
pub(crate) const AGE_DESC: &str = "CreationTimestamp is a timestamp representing the server time when this object was created. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata";

impl Column {
    /// A column without a format.
    pub const fn new(
        name: &'static str,
        ty: &'static str,
        priority: u8,
        description: &'static str,
    ) -> Column {
        Column {
            name,
            ty,
            format: "",
            description,
            priority,
        }
    }

    /// Upstream's `Name` column.
    pub const fn name() -> Column {
        Column {
            name: "Name",
            ty: "string",
            format: "name",
            description: NAME_DESC,
            priority: 0,
        }
    }

    /// Upstream's `Age` column.
    pub const fn age() -> Column {
        Column::new("Age", "string", 0, AGE_DESC)
    }
}

/// A column without a format.
pub(crate) fn c(
    name: &'static str,
    ty: &'static str,
    priority: u8,
    description: &'static str,
) -> Column {
    Column::new(name, ty, priority, description)
}

/// Upstream's `Name` column.
pub(crate) fn name_col() -> Column {
    Column::name()
}

/// Upstream's `Age` column.
pub(crate) fn age_col() -> Column {
    Column::age()
}

/// The `-o wide` columns of a workload's pod template.
pub(crate) fn container_columns() -> [Column; 2] {
    [
        c(
            "Containers",
            "string",
            1,
            "Names of each container in the template.",
        ),
        c(
            "Images",
            "string",
            1,
            "Images referenced by each container in the template.",
        ),
    ]
}

/// The `-o wide` column of a workload's selector.
pub(crate) fn selector_column() -> Column {
    c("Selector", "string", 1, "Label selector of the pods.")
}

// --- small JSON accessors ----------------------------------------------------

pub(crate) fn i(obj: &Value, ptr: &str) -> i64 {
    obj.pointer(ptr).and_then(Value::as_i64).unwrap_or(0)
}

pub(crate) fn or_none(v: &str) -> String {
    if v.is_empty() {
        "<none>".to_string()
    } else {
        v.to_string()
    }
}

pub(crate) fn string_map(obj: &Value, ptr: &str) -> BTreeMap<String, String> {
    obj.pointer(ptr)
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
                .collect()
        })
        .unwrap_or_default()
}

/// Upstream `labels.FormatLabels`: `k=v,k2=v2`, or `<none>`.
pub(crate) fn format_labels(m: &BTreeMap<String, String>) -> String {
    if m.is_empty() {
        return "<none>".to_string();
    }
    m.iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(",")
}

/// A `metav1.LabelSelector` in string form, `<none>` when absent.
pub(crate) fn format_selector(obj: &Value, ptr: &str) -> String {
    let Some(sel) = obj.pointer(ptr).filter(|v| !v.is_null()) else {
        return "<none>".to_string();
    };
    match kernel_core::labels::Selector::from_meta_json(sel) {
        Ok(sel) => sel.to_string(),
        Err(e) => e.to_string(),
    }
}

pub(crate) fn layout_containers(obj: &Value, ptr: &str) -> (String, String) {
    let cs = arr(obj, ptr);
    let names: Vec<&str> = cs.iter().map(|c| s(c, "/name")).collect();
    let images: Vec<&str> = cs.iter().map(|c| s(c, "/image")).collect();
    (names.join(","), images.join(","))
}

pub(crate) fn age(obj: &Value, now: Timestamp) -> Value {
    Value::String(translate_timestamp_since(
        obj.pointer("/metadata/creationTimestamp")
            .and_then(Value::as_str),
        now,
    ))
}

pub(crate) fn name(obj: &Value) -> Value {
    Value::String(s(obj, "/metadata/name").to_string())
}

pub(crate) fn condition<'a>(obj: &'a Value, ptr: &str, ty: &str) -> Option<&'a Value> {
    arr(obj, ptr).iter().find(|c| s(c, "/type") == ty)
}

pub(crate) fn condition_true(obj: &Value, ptr: &str, ty: &str) -> bool {
    condition(obj, ptr, ty).is_some_and(|c| s(c, "/status") == "True")
}

/// Up to three items, then " + N more...", as upstream's endpoint printers.
pub(crate) fn first_three(items: &[String], empty: &str) -> String {
    if items.is_empty() {
        return empty.to_string();
    }
    let mut out = items.iter().take(3).cloned().collect::<Vec<_>>().join(",");
    if items.len() > 3 {
        out.push_str(&format!(" + {} more...", items.len() - 3));
    }
    out
}

pub(crate) fn load_balancer_status(obj: &Value, ptr: &str, wide: bool) -> String {
    let ips: Vec<&str> = arr(obj, ptr)
        .iter()
        .filter_map(|i| {
            let ip = s(i, "/ip");
            let host = s(i, "/hostname");
            if !ip.is_empty() {
                Some(ip)
            } else if !host.is_empty() {
                Some(host)
            } else {
                None
            }
        })
        .collect();
    let r = ips.join(",");
    if !wide && r.chars().count() > 16 {
        format!("{}...", r.chars().take(13).collect::<String>())
    } else {
        r
    }
}

pub(crate) fn obj_keys(obj: &Value, ptr: &str) -> Vec<String> {
    obj.pointer(ptr)
        .and_then(Value::as_object)
        .map(|m| m.keys().cloned().collect())
        .unwrap_or_default()
}

/// A quantity as text; absent is "0" as upstream's zero `Quantity`.
pub(crate) fn quantity_text(obj: &Value, ptr: &str) -> String {
    match obj.pointer(ptr) {
        Some(Value::String(q)) => q.clone(),
        Some(Value::Number(n)) => n.to_string(),
        _ => "0".to_string(),
    }
}

pub(crate) fn unset(v: &str) -> String {
    if v.is_empty() {
        "<unset>".to_string()
    } else {
        v.to_string()
    }
}

/// Upstream `GetAccessModesAsString`: RWO, ROX, RWX, RWOP joined by ",".
pub(crate) fn access_modes(modes: &[Value]) -> String {
    let mut out = Vec::new();
    for (long, short) in [
        ("ReadWriteOnce", "RWO"),
        ("ReadOnlyMany", "ROX"),
        ("ReadWriteMany", "RWX"),
        ("ReadWriteOncePod", "RWOP"),
    ] {
        if modes.iter().any(|m| m.as_str() == Some(long)) {
            out.push(short);
        }
    }
    out.join(",")
}

#[cfg(test)]
mod tests;
