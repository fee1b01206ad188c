//! The strategy of node.k8s.io/v1 RuntimeClass (`runtimeclasses`; not served by default):
//! upstream's `pkg/registry/node/runtimeclass/strategy.go`.

use k8s_openapi::jiff::Timestamp;
use serde_json::{json, Value};

use crate::json::s;
use crate::strategy::{Column, Strategy};
use crate::table::{age, age_col, c, name, name_col};

/// The RuntimeClass strategy.
#[derive(Debug)]
pub(crate) struct RuntimeClass;

impl Strategy for RuntimeClass {
    fn columns(&self) -> Vec<Column> {
        vec![
            name_col(),
            c("Handler", "string", 0, "handler specifies the underlying runtime and configuration that the CRI implementation will use to handle pods of this class."),
            age_col(),
        ]
    }

    fn cells(&self, obj: &Value, now: Timestamp) -> Vec<Value> {
        vec![name(obj), json!(s(obj, "/handler")), age(obj, now)]
    }
}
