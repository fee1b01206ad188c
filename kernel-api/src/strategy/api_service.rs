//! The strategy of apiregistration.k8s.io/v1 APIService (`apiservices`; not served by default):
//! upstream's `staging/src/k8s.io/kube-aggregator/pkg/registry/apiservice/strategy.go`.

use k8s_openapi::jiff::Timestamp;
use serde_json::{json, Value};

use crate::json::s;
use crate::strategy::{Column, Strategy};
use crate::table::{age, age_col, c, condition, name, name_col};

/// The ApiService strategy.
#[derive(Debug)]
pub(crate) struct ApiService;

impl Strategy for ApiService {
    fn columns(&self) -> Vec<Column> {
        vec![
            name_col(),
            c(
                "Service",
                "string",
                0,
                "The reference to the service that hosts this API endpoint.",
            ),
            c(
                "Available",
                "string",
                0,
                "Whether this service is available.",
            ),
            age_col(),
        ]
    }

    fn cells(&self, obj: &Value, now: Timestamp) -> Vec<Value> {
        let service = match obj.pointer("/spec/service") {
            Some(sv) if sv.is_object() => {
                format!("{}/{}", s(sv, "/namespace"), s(sv, "/name"))
            }
            _ => "Local".to_string(),
        };
        let available = match condition(obj, "/status/conditions", "Available") {
            None => "Unknown".to_string(),
            Some(c) if s(c, "/status") == "True" => "True".to_string(),
            Some(c) => format!("{} ({})", s(c, "/status"), s(c, "/reason")),
        };
        vec![name(obj), json!(service), json!(available), age(obj, now)]
    }
}
