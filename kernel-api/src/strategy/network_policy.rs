//! The strategy of networking.k8s.io/v1 NetworkPolicy (`networkpolicies`): upstream's
//! `pkg/registry/networking/networkpolicy/strategy.go`.

use k8s_openapi::jiff::Timestamp;
use serde_json::{json, Value};

use crate::strategy::{Column, Strategy};
use crate::table::{age, age_col, c, format_selector, name, name_col, or_none};

/// The NetworkPolicy strategy.
#[derive(Debug)]
pub(crate) struct NetworkPolicy;

impl Strategy for NetworkPolicy {
    fn columns(&self) -> Vec<Column> {
        vec![
            name_col(),
            c(
                "Pod-Selector",
                "string",
                0,
                "podSelector selects the pods to which this NetworkPolicy object applies.",
            ),
            age_col(),
        ]
    }

    fn cells(&self, obj: &Value, now: Timestamp) -> Vec<Value> {
        let sel = format_selector(obj, "/spec/podSelector");
        vec![name(obj), json!(or_none(&sel)), age(obj, now)]
    }
}
