//! The strategy of core/v1 ResourceQuota (`resourcequotas`): upstream's
//! `pkg/registry/core/resourcequota/strategy.go`.

use k8s_openapi::jiff::Timestamp;
use serde_json::{json, Value};

use crate::strategy::{Column, Strategy};
use crate::table::{age, age_col, c, name, name_col, obj_keys, quantity_text};

/// The ResourceQuota strategy.
#[derive(Debug)]
pub(crate) struct ResourceQuota;

impl Strategy for ResourceQuota {
    fn columns(&self) -> Vec<Column> {
        vec![
            name_col(),
            age_col(),
            c("Request", "string", 0, "Request represents a minimum amount of cpu/memory that a container may consume."),
            c("Limit", "string", 0, "Limits control the maximum amount of cpu/memory that a container may use independent of contention on the node."),
        ]
    }

    fn cells(&self, obj: &Value, now: Timestamp) -> Vec<Value> {
        let mut names: Vec<String> = obj_keys(obj, "/spec/hard");
        names.sort();
        let (mut req, mut lim) = (Vec::new(), Vec::new());
        for r in names {
            let used = quantity_text(obj, &format!("/status/used/{}", r.replace('/', "~1")));
            let hard = quantity_text(obj, &format!("/status/hard/{}", r.replace('/', "~1")));
            let cell = format!("{r}: {used}/{hard}");
            if r.split('.').next() == Some("limits") && r.contains('.') {
                lim.push(cell);
            } else {
                req.push(cell);
            }
        }
        vec![
            name(obj),
            age(obj, now),
            json!(req.join(", ")),
            json!(lim.join(", ")),
        ]
    }
}
