//! The strategy of scheduling.k8s.io/v1 PriorityClass (`priorityclasses`): upstream's
//! `pkg/registry/scheduling/priorityclass/strategy.go`.

use k8s_openapi::jiff::Timestamp;
use serde_json::{json, Value};

use crate::json::s;
use crate::strategy::{Column, Strategy};
use crate::table::{age, age_col, c, i, name, name_col};

/// The PriorityClass strategy.
#[derive(Debug)]
pub(crate) struct PriorityClass;

impl Strategy for PriorityClass {
    fn columns(&self) -> Vec<Column> {
        vec![
            name_col(),
            c("Value", "integer", 0, "value represents the integer value of this priority class."),
            c("Global-Default", "boolean", 0, "globalDefault specifies whether this PriorityClass should be considered as the default priority for pods that do not have any priority class."),
            c("Preemption Policy", "string", 0, "preemptionPolicy is the Policy for preempting pods with lower priority."),
            age_col(),
        ]
    }

    fn cells(&self, obj: &Value, now: Timestamp) -> Vec<Value> {
        vec![
            name(obj),
            json!(i(obj, "/value")),
            json!(obj
                .get("globalDefault")
                .and_then(Value::as_bool)
                .unwrap_or(false)),
            json!(match s(obj, "/preemptionPolicy") {
                "" => "PreemptLowerPriority",
                p => p,
            }),
            age(obj, now),
        ]
    }
}
