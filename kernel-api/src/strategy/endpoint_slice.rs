//! The strategy of discovery.k8s.io/v1 EndpointSlice (`endpointslices`): upstream's
//! `pkg/registry/discovery/endpointslice/strategy.go`.

use k8s_openapi::jiff::Timestamp;
use serde_json::{json, Value};

use crate::defaults::default_ports_protocol;
use crate::json::{arr, s};
use crate::strategy::{Column, Strategy};
use crate::table::{age, age_col, c, first_three, name, name_col};

/// The EndpointSlice strategy.
#[derive(Debug)]
pub(crate) struct EndpointSlice;

impl Strategy for EndpointSlice {
    fn defaults(&self, obj: &mut Value) {
        let Some(o) = obj.as_object_mut() else {
            return;
        };
        default_ports_protocol(o.get_mut("ports"));
    }

    fn columns(&self) -> Vec<Column> {
        vec![
            name_col(),
            c(
                "AddressType",
                "string",
                0,
                "addressType specifies the type of address carried by this EndpointSlice.",
            ),
            c(
                "Ports",
                "string",
                0,
                "ports specifies the list of network ports exposed by each endpoint in this slice.",
            ),
            c(
                "Endpoints",
                "string",
                0,
                "endpoints is a list of unique endpoints in this slice.",
            ),
            age_col(),
        ]
    }

    fn cells(&self, obj: &Value, now: Timestamp) -> Vec<Value> {
        let ports: Vec<String> = arr(obj, "/ports")
            .iter()
            .map(|p| match p.get("port").and_then(Value::as_i64) {
                Some(n) => n.to_string(),
                None => "<unset>".to_string(),
            })
            .collect();
        let addrs: Vec<String> = arr(obj, "/endpoints")
            .iter()
            .flat_map(|e| arr(e, "/addresses").iter().filter_map(Value::as_str))
            .map(str::to_string)
            .collect();
        vec![
            name(obj),
            json!(s(obj, "/addressType")),
            json!(if ports.is_empty() {
                "<unset>".to_string()
            } else {
                ports.join(",")
            }),
            json!(first_three(&addrs, "<unset>")),
            age(obj, now),
        ]
    }
}
