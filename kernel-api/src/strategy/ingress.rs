//! The strategy of networking.k8s.io/v1 Ingress (`ingresses`): upstream's
//! `pkg/registry/networking/ingress/strategy.go`.

use k8s_openapi::jiff::Timestamp;
use serde_json::{json, Value};

use crate::json::{arr, s};
use crate::strategy::{Column, Strategy};
use crate::table::{age, age_col, c, first_three, load_balancer_status, name, name_col, or_none};

/// The Ingress strategy.
#[derive(Debug)]
pub(crate) struct Ingress;

impl Strategy for Ingress {
    fn columns(&self) -> Vec<Column> {
        vec![
            name_col(),
            c(
                "Class",
                "string",
                0,
                "The name of the IngressClass resource this ingress uses.",
            ),
            c(
                "Hosts",
                "string",
                0,
                "Hosts that incoming requests are matched against before the ingress rule",
            ),
            c(
                "Address",
                "string",
                0,
                "Address is a list containing ingress points for the load-balancer",
            ),
            c(
                "Ports",
                "string",
                0,
                "Ports of TLS configurations that open",
            ),
            age_col(),
        ]
    }

    fn cells(&self, obj: &Value, now: Timestamp) -> Vec<Value> {
        let hosts: Vec<String> = arr(obj, "/spec/rules")
            .iter()
            .map(|r| {
                let h = s(r, "/host");
                if h.is_empty() {
                    "*".to_string()
                } else {
                    h.to_string()
                }
            })
            .collect();
        let ports = if arr(obj, "/spec/tls").is_empty() {
            "80"
        } else {
            "80, 443"
        };
        vec![
            name(obj),
            json!(or_none(s(obj, "/spec/ingressClassName"))),
            json!(first_three(&hosts, "*")),
            json!(load_balancer_status(
                obj,
                "/status/loadBalancer/ingress",
                true
            )),
            json!(ports),
            age(obj, now),
        ]
    }
}
