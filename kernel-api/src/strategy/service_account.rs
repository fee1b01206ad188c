//! The strategy of core/v1 ServiceAccount (`serviceaccounts`): upstream's
//! `pkg/registry/core/serviceaccount/strategy.go`.

use k8s_openapi::jiff::Timestamp;
use serde_json::{json, Value};

use crate::json::arr;
use crate::strategy::{Column, Strategy};
use crate::table::{age, age_col, c, name, name_col};

/// The ServiceAccount strategy.
#[derive(Debug)]
pub(crate) struct ServiceAccount;

impl Strategy for ServiceAccount {
    fn columns(&self) -> Vec<Column> {
        vec![
            name_col(),
            c("Secrets", "string", 0, "Secrets is a list of the secrets in the same namespace that pods running using this ServiceAccount are allowed to use."),
            age_col(),
        ]
    }

    fn cells(&self, obj: &Value, now: Timestamp) -> Vec<Value> {
        vec![name(obj), json!(arr(obj, "/secrets").len()), age(obj, now)]
    }
}
