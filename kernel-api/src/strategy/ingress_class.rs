//! The strategy of networking.k8s.io/v1 IngressClass (`ingressclasses`): upstream's
//! `pkg/registry/networking/ingressclass/strategy.go`.

use k8s_openapi::jiff::Timestamp;
use serde_json::{json, Value};

use crate::json::s;
use crate::strategy::{Column, Strategy};
use crate::table::{age, age_col, c, name, name_col};

/// The IngressClass strategy.
#[derive(Debug)]
pub(crate) struct IngressClass;

impl Strategy for IngressClass {
    fn columns(&self) -> Vec<Column> {
        vec![
            name_col(),
            c("Controller", "string", 0, "controller refers to the name of the controller that should handle this class."),
            c("Parameters", "string", 0, "parameters is a link to a custom resource containing additional configuration for the controller."),
            age_col(),
        ]
    }

    fn cells(&self, obj: &Value, now: Timestamp) -> Vec<Value> {
        let params = match obj.pointer("/spec/parameters") {
            Some(p) if p.is_object() => {
                let group = s(p, "/apiGroup");
                if group.is_empty() {
                    format!("{}/{}", s(p, "/kind"), s(p, "/name"))
                } else {
                    format!("{}/{}/{}", group, s(p, "/kind"), s(p, "/name"))
                }
            }
            _ => "<none>".to_string(),
        };
        vec![
            name(obj),
            json!(s(obj, "/spec/controller")),
            json!(params),
            age(obj, now),
        ]
    }
}
