//! The strategy of core/v1 Endpoints (`endpoints`): upstream's
//! `pkg/registry/core/endpoint/strategy.go`.

use k8s_openapi::jiff::Timestamp;
use serde_json::{json, Value};

use crate::defaults::default_ports_protocol;
use crate::json::{arr, s};
use crate::strategy::{Column, Strategy};
use crate::table::{age, age_col, c, first_three, i, name, name_col};

/// The Endpoints strategy.
#[derive(Debug)]
pub(crate) struct Endpoints;

impl Strategy for Endpoints {
    fn defaults(&self, obj: &mut Value) {
        let Some(o) = obj.as_object_mut() else {
            return;
        };
        if let Some(Value::Array(subsets)) = o.get_mut("subsets") {
            for ss in subsets.iter_mut().filter_map(Value::as_object_mut) {
                default_ports_protocol(ss.get_mut("ports"));
            }
        }
    }

    fn columns(&self) -> Vec<Column> {
        vec![
            name_col(),
            c(
                "Endpoints",
                "string",
                0,
                "Endpoints is the list of endpoints in the current Endpoints object.",
            ),
            age_col(),
        ]
    }

    fn cells(&self, obj: &Value, now: Timestamp) -> Vec<Value> {
        let mut eps = Vec::new();
        for ss in arr(obj, "/subsets") {
            let ports = arr(ss, "/ports");
            for a in arr(ss, "/addresses") {
                if ports.is_empty() {
                    eps.push(s(a, "/ip").to_string());
                }
                for p in ports {
                    eps.push(format!("{}:{}", s(a, "/ip"), i(p, "/port")));
                }
            }
        }
        vec![name(obj), json!(first_three(&eps, "<none>")), age(obj, now)]
    }
}
