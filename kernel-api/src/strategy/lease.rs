//! The strategy of coordination.k8s.io/v1 Lease (`leases`): upstream's
//! `pkg/registry/coordination/lease/strategy.go`.

use k8s_openapi::jiff::Timestamp;
use serde_json::{json, Value};

use crate::json::s;
use crate::strategy::{Column, Strategy};
use crate::table::{age, age_col, c, name, name_col};

/// The Lease strategy.
#[derive(Debug)]
pub(crate) struct Lease;

impl Strategy for Lease {
    fn columns(&self) -> Vec<Column> {
        vec![
            name_col(),
            c("Holder", "string", 0, "The holder of the lease."),
            age_col(),
        ]
    }

    fn cells(&self, obj: &Value, now: Timestamp) -> Vec<Value> {
        vec![
            name(obj),
            json!(s(obj, "/spec/holderIdentity")),
            age(obj, now),
        ]
    }
}
