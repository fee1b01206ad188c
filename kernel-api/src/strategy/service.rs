//! The strategy of core/v1 Service (`services`): upstream's `pkg/registry/core/service/strategy.go`.

use serde_json::{json, Map, Value};

use crate::defaults::{child, set};
use crate::strategy::Strategy;

/// The Service strategy.
#[derive(Debug)]
pub(crate) struct Service;

impl Strategy for Service {
    fn defaults(&self, obj: &mut Value) {
        let Some(o) = obj.as_object_mut() else {
            return;
        };
        default_service(child(o, "spec"));
        let lb = o
            .get("spec")
            .and_then(|sp| sp.get("type"))
            .and_then(Value::as_str)
            == Some("LoadBalancer");
        if let (true, Some(Value::Array(ingress))) = (
            lb,
            o.get_mut("status")
                .and_then(|st| st.pointer_mut("/loadBalancer/ingress")),
        ) {
            for ing in ingress.iter_mut().filter_map(Value::as_object_mut) {
                if ing
                    .get("ip")
                    .and_then(Value::as_str)
                    .is_some_and(|ip| !ip.is_empty())
                {
                    set(ing, "ipMode", json!("VIP"));
                }
            }
        }
    }
}

fn default_service(spec: &mut Map<String, Value>) {
    set(spec, "type", json!("ClusterIP"));
    set(spec, "sessionAffinity", json!("None"));
    if spec.get("sessionAffinity").and_then(Value::as_str) == Some("None") {
        spec.remove("sessionAffinityConfig");
    }
    if spec.get("sessionAffinity").and_then(Value::as_str) == Some("ClientIP") {
        let cfg = child(spec, "sessionAffinityConfig");
        set(child(cfg, "clientIP"), "timeoutSeconds", json!(10800));
    }
    let ty = spec
        .get("type")
        .and_then(Value::as_str)
        .unwrap_or("ClusterIP")
        .to_string();
    if let Some(Value::Array(ports)) = spec.get_mut("ports") {
        for p in ports.iter_mut().filter_map(Value::as_object_mut) {
            set(p, "protocol", json!("TCP"));
            let unset = match p.get("targetPort") {
                None | Some(Value::Null) => true,
                Some(Value::Number(n)) => n.as_i64() == Some(0),
                Some(Value::String(s)) => s.is_empty(),
                _ => false,
            };
            if unset {
                if let Some(port) = p.get("port").cloned() {
                    p.insert("targetPort".to_string(), port);
                }
            }
        }
    }
    if ty != "ExternalName" {
        set(spec, "internalTrafficPolicy", json!("Cluster"));
        set(spec, "ipFamilyPolicy", json!("SingleStack"));
    }
    let has_external_ips = spec
        .get("externalIPs")
        .and_then(Value::as_array)
        .is_some_and(|a| !a.is_empty());
    if ty == "NodePort" || ty == "LoadBalancer" || (ty == "ClusterIP" && has_external_ips) {
        set(spec, "externalTrafficPolicy", json!("Cluster"));
    }
    if ty == "LoadBalancer" {
        set(spec, "allocateLoadBalancerNodePorts", json!(true));
    }
}
