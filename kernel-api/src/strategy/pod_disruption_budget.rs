//! The strategy of policy/v1 PodDisruptionBudget (`poddisruptionbudgets`): upstream's
//! `pkg/registry/policy/poddisruptionbudget/strategy.go`.

use k8s_openapi::jiff::Timestamp;
use serde_json::{json, Value};

use crate::strategy::{Column, Strategy};
use crate::table::{age, age_col, c, i, name, name_col};

/// The PodDisruptionBudget strategy.
#[derive(Debug)]
pub(crate) struct PodDisruptionBudget;

impl Strategy for PodDisruptionBudget {
    fn columns(&self) -> Vec<Column> {
        vec![
            name_col(),
            c(
                "Min Available",
                "string",
                0,
                "The minimum number of pods that must be available.",
            ),
            c(
                "Max Unavailable",
                "string",
                0,
                "The maximum number of pods that may be unavailable.",
            ),
            c(
                "Allowed Disruptions",
                "integer",
                0,
                "Calculated number of pods that may be disrupted at this time.",
            ),
            age_col(),
        ]
    }

    fn cells(&self, obj: &Value, now: Timestamp) -> Vec<Value> {
        let int_or_string = |p: &str| match obj.pointer(p) {
            Some(Value::String(v)) => v.clone(),
            Some(Value::Number(n)) => n.to_string(),
            _ => "N/A".to_string(),
        };
        vec![
            name(obj),
            json!(int_or_string("/spec/minAvailable")),
            json!(int_or_string("/spec/maxUnavailable")),
            json!(i(obj, "/status/disruptionsAllowed")),
            age(obj, now),
        ]
    }
}
