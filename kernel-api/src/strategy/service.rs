//! The strategy of core/v1 Service (`services`): upstream's
//! `pkg/registry/core/service/strategy.go`.

use std::collections::HashSet;

use k8s_openapi::jiff::Timestamp;
use serde_json::{json, Map, Value};

use crate::defaults::{child, set};
use crate::json::{arr, s};
use crate::strategy::{Column, Strategy};
use crate::table::{
    age, age_col, c, format_labels, i, load_balancer_status, name, name_col, or_none, string_map,
};
use crate::validation::{
    get, is_valid_port_name, is_valid_port_num, obj_map, validate_enum, validate_labels,
    FieldError, IMMUTABLE,
};
use kernel_core::names::{is_dns1035_label, is_dns1123_label, is_dns1123_subdomain};

/// The Service strategy.
#[derive(Debug)]
pub(crate) struct Service;

impl Strategy for Service {
    fn selectable_fields(&self) -> &'static [&'static str] {
        &["spec.clusterIP", "spec.type"]
    }

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

    fn validate(&self, obj: &Value, _old: Option<&Value>) -> Vec<FieldError> {
        let mut errs = Vec::new();
        validate_service(obj, &mut errs);
        errs
    }

    fn validate_update(&self, new: &Value, old: &Value) -> Vec<FieldError> {
        let mut out = Vec::new();
        let errs = &mut out;
        let external = |v: &Value| s(v, "/spec/type") == "ExternalName";
        let old_ip = s(old, "/spec/clusterIP");
        let new_ip = s(new, "/spec/clusterIP");
        if !external(old)
            && !external(new)
            && !old_ip.is_empty()
            && !new_ip.is_empty()
            && new_ip != old_ip
        {
            errs.push(FieldError::invalid(
                "spec.clusterIP",
                &Value::String(new_ip.into()),
                IMMUTABLE,
            ));
        }
        out
    }

    /// A DNS-1035 label, as upstream requires of service names.
    fn validate_name(&self, name: &str) -> Vec<String> {
        is_dns1035_label(name)
    }

    fn columns(&self) -> Vec<Column> {
        vec![
            name_col(),
            c("Type", "string", 0, "type determines how the Service is exposed."),
            c("Cluster-IP", "string", 0, "clusterIP is the IP address of the service."),
            c("External-IP", "string", 0, "List of IP addresses for which nodes in the cluster will also accept traffic for this service."),
            c("Port(s)", "string", 0, "The list of ports that are exposed by this service."),
            age_col(),
            c("Selector", "string", 1, "Route service traffic to pods with label keys and values matching this selector."),
        ]
    }

    fn cells(&self, obj: &Value, now: Timestamp) -> Vec<Value> {
        service_cells(obj, now)
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

fn validate_service(obj: &Value, errs: &mut Vec<FieldError>) {
    let ty = match s(obj, "/spec/type") {
        "" => "ClusterIP",
        t => t,
    };
    validate_enum(
        obj,
        "/spec/type",
        "spec.type",
        &["ClusterIP", "ExternalName", "LoadBalancer", "NodePort"],
        errs,
    );
    let headless = s(obj, "/spec/clusterIP") == "None";
    let ports = arr(obj, "/spec/ports");
    if ty == "ExternalName" {
        let en = s(obj, "/spec/externalName");
        if en.is_empty() {
            errs.push(FieldError::required("spec.externalName", ""));
        } else {
            for m in is_dns1123_subdomain(en.trim_end_matches('.')) {
                errs.push(FieldError::invalid(
                    "spec.externalName",
                    &Value::String(en.into()),
                    &m,
                ));
            }
        }
    } else if ports.is_empty() && !headless {
        errs.push(FieldError::required("spec.ports", ""));
    }
    let require_name = ports.len() > 1;
    let mut names = HashSet::new();
    let mut keys = HashSet::new();
    for (i, p) in ports.iter().enumerate() {
        let pp = format!("spec.ports[{i}]");
        let name = s(p, "/name");
        if require_name && name.is_empty() {
            errs.push(FieldError::required(format!("{pp}.name"), ""));
        } else if !name.is_empty() {
            for m in is_dns1123_label(name) {
                errs.push(FieldError::invalid(
                    format!("{pp}.name"),
                    &Value::String(name.into()),
                    &m,
                ));
            }
            if !names.insert(name.to_string()) {
                errs.push(FieldError::duplicate(
                    format!("{pp}.name"),
                    &Value::String(name.into()),
                ));
            }
        }
        let port = get(p, "/port").cloned().unwrap_or(Value::from(0));
        for m in is_valid_port_num(port.as_i64().unwrap_or(0)) {
            errs.push(FieldError::invalid(format!("{pp}.port"), &port, &m));
        }
        validate_enum(
            p,
            "/protocol",
            &format!("{pp}.protocol"),
            &["SCTP", "TCP", "UDP"],
            errs,
        );
        match get(p, "/targetPort") {
            Some(Value::Number(n)) => {
                for m in is_valid_port_num(n.as_i64().unwrap_or(0)) {
                    errs.push(FieldError::invalid(
                        format!("{pp}.targetPort"),
                        &Value::Number(n.clone()),
                        &m,
                    ));
                }
            }
            Some(Value::String(t)) => {
                for m in is_valid_port_name(t) {
                    errs.push(FieldError::invalid(
                        format!("{pp}.targetPort"),
                        &Value::String(t.clone()),
                        &m,
                    ));
                }
            }
            _ => {}
        }
        if let Some(np) = get(p, "/nodePort") {
            if np.as_i64() != Some(0) {
                if ty == "ClusterIP" {
                    errs.push(FieldError::forbidden(
                        format!("{pp}.nodePort"),
                        "may not be used when `type` is 'ClusterIP'",
                    ));
                } else {
                    for m in is_valid_port_num(np.as_i64().unwrap_or(0)) {
                        errs.push(FieldError::invalid(format!("{pp}.nodePort"), np, &m));
                    }
                }
            }
        }
        let key = format!(
            "{}/{}",
            port,
            match s(p, "/protocol") {
                "" => "TCP",
                x => x,
            }
        );
        if !keys.insert(key.clone()) {
            errs.push(FieldError::duplicate(pp, &Value::String(key)));
        }
    }
    validate_enum(
        obj,
        "/spec/sessionAffinity",
        "spec.sessionAffinity",
        &["ClientIP", "None"],
        errs,
    );
    validate_labels(obj_map(obj, "/spec/selector"), "spec.selector", errs);
    for f in ["ipFamilies", "clusterIPs"] {
        let n = arr(obj, &format!("/spec/{f}")).len();
        if n > 2 {
            errs.push(FieldError::too_many(format!("spec.{f}"), n, 2));
        }
    }
    validate_enum(
        obj,
        "/spec/ipFamilyPolicy",
        "spec.ipFamilyPolicy",
        &["SingleStack", "PreferDualStack", "RequireDualStack"],
        errs,
    );
}

fn service_cells(svc: &Value, now: Timestamp) -> Vec<Value> {
    let ty = match s(svc, "/spec/type") {
        "" => "ClusterIP",
        t => t,
    };
    let cluster_ip = arr(svc, "/spec/clusterIPs")
        .first()
        .and_then(Value::as_str)
        .unwrap_or_else(|| s(svc, "/spec/clusterIP"));
    let external_ips: Vec<String> = arr(svc, "/spec/externalIPs")
        .iter()
        .filter_map(Value::as_str)
        .map(str::to_string)
        .collect();
    let external = match ty {
        "ClusterIP" | "NodePort" => or_none(&external_ips.join(",")),
        "LoadBalancer" => {
            let lb = load_balancer_status(svc, "/status/loadBalancer/ingress", true);
            let mut all: Vec<String> = if lb.is_empty() {
                Vec::new()
            } else {
                lb.split(',').map(str::to_string).collect()
            };
            all.extend(external_ips);
            if all.is_empty() {
                "<pending>".to_string()
            } else {
                all.join(",")
            }
        }
        "ExternalName" => s(svc, "/spec/externalName").to_string(),
        _ => "<unknown>".to_string(),
    };
    let ports: Vec<String> = arr(svc, "/spec/ports")
        .iter()
        .map(|p| {
            let proto = match s(p, "/protocol") {
                "" => "TCP",
                x => x,
            };
            let node_port = i(p, "/nodePort");
            if node_port > 0 {
                format!("{}:{}/{}", i(p, "/port"), node_port, proto)
            } else {
                format!("{}/{}", i(p, "/port"), proto)
            }
        })
        .collect();
    vec![
        name(svc),
        json!(ty),
        json!(or_none(cluster_ip)),
        json!(external),
        json!(or_none(&ports.join(","))),
        age(svc, now),
        json!(format_labels(&string_map(svc, "/spec/selector"))),
    ]
}
