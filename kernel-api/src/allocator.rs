//! Service ClusterIP and NodePort allocation (upstream's `ipallocator` / `portallocator`).
//!
//! ClusterIPs come from `10.96.0.0/12` (`10.96.0.1` is the `kubernetes` Service's), node ports
//! from `30000-32767`. Allocation scans the existing Services, so it needs no state of its own;
//! two concurrent creates could pick the same random address, which is unlikely but not excluded
//! (upstream serializes through an allocation bitmap in the store).

use std::collections::HashSet;
use std::net::Ipv4Addr;

use rand::Rng;
use serde_json::{json, Value};

use crate::registry::{name_of, ListOptions, Registry};
use crate::resources::ResourceDef;
use crate::shared::{Shared, StoreHooks};
use crate::status::{Error, Result, StatusCause};

/// The service CIDR's base address (`10.96.0.0`) and size (a /12).
const BASE: u32 = u32::from_be_bytes([10, 96, 0, 0]);
const SIZE: u32 = 1 << 20;
/// The ClusterIP of the `kubernetes` Service.
pub const KUBERNETES_SERVICE_IP: &str = "10.96.0.1";
const NODE_PORTS: std::ops::RangeInclusive<i64> = 30000..=32767;

fn invalid(def: &ResourceDef, name: &str, cause: StatusCause) -> Error {
    Error::Invalid {
        kind: def.kind.clone(),
        group: def.group.clone(),
        name: name.into(),
        causes: vec![cause],
    }
}

/// The Service storage's allocation (upstream's `beginCreate`/`beginUpdate` of
/// `pkg/registry/core/service/storage`).
pub(crate) struct ServiceIps;

#[async_trait::async_trait]
impl StoreHooks for ServiceIps {
    async fn begin_write(
        &self,
        shared: &Shared,
        def: &ResourceDef,
        obj: &mut Value,
        old: Option<&Value>,
    ) -> Result<()> {
        allocate(&shared.registry, def, obj, old).await
    }
}

/// Fills `spec.clusterIP(s)`, `ipFamilies`, `ipFamilyPolicy` and missing node ports of a Service
/// being created (`old` = None) or updated.
pub async fn allocate(
    registry: &Registry,
    def: &ResourceDef,
    svc: &mut Value,
    old: Option<&Value>,
) -> Result<()> {
    let name = name_of(svc);
    let service_type = svc["spec"]["type"]
        .as_str()
        .unwrap_or("ClusterIP")
        .to_owned();
    if service_type == "ExternalName" {
        return Ok(());
    }
    let existing = registry.list(def, None, ListOptions::default()).await?;
    let same = |other: &Value| {
        other["metadata"]["namespace"] == svc["metadata"]["namespace"] && name_of(other) == name
    };
    let mut used_ips: HashSet<String> = HashSet::new();
    let mut used_ports: HashSet<i64> = HashSet::new();
    for other in existing.items.iter().filter(|o| !same(o)) {
        if let Some(ip) = other["spec"]["clusterIP"].as_str() {
            used_ips.insert(ip.to_owned());
        }
        for port in other["spec"]["ports"].as_array().into_iter().flatten() {
            if let Some(p) = port["nodePort"].as_i64() {
                used_ports.insert(p);
            }
        }
    }

    let requested = svc["spec"]["clusterIP"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let previous = old
        .and_then(|o| o["spec"]["clusterIP"].as_str())
        .unwrap_or_default()
        .to_owned();
    let ip = if !requested.is_empty() {
        if requested != "None" && requested != previous {
            if requested.parse::<Ipv4Addr>().is_err() {
                return Err(invalid(
                    def,
                    &name,
                    StatusCause::invalid(
                        "spec.clusterIPs",
                        &json!([requested]),
                        "must be a valid IP address",
                    ),
                ));
            }
            if used_ips.contains(&requested) {
                return Err(invalid(
                    def,
                    &name,
                    StatusCause::invalid(
                        "spec.clusterIPs",
                        &json!([requested]),
                        &format!(
                            "failed to allocate IP {requested}: provided IP is already allocated"
                        ),
                    ),
                ));
            }
        }
        requested
    } else if !previous.is_empty() {
        previous
    } else {
        let mut rng = rand::thread_rng();
        let mut found = None;
        for _ in 0..10_000 {
            let candidate = Ipv4Addr::from(BASE + rng.gen_range(2..SIZE - 1)).to_string();
            if !used_ips.contains(&candidate) {
                found = Some(candidate);
                break;
            }
        }
        found.ok_or_else(|| Error::internal("failed to allocate a service IP: range is full"))?
    };
    svc["spec"]["clusterIP"] = json!(ip);
    svc["spec"]["clusterIPs"] = json!([ip]);
    if ip != "None" {
        svc["spec"]["ipFamilies"] = json!(["IPv4"]);
        svc["spec"]["ipFamilyPolicy"] = json!("SingleStack");
    }

    if matches!(service_type.as_str(), "NodePort" | "LoadBalancer") {
        let old_ports: Vec<Value> = old
            .and_then(|o| o["spec"]["ports"].as_array().cloned())
            .unwrap_or_default();
        let mut rng = rand::thread_rng();
        if let Some(ports) = svc["spec"]["ports"].as_array_mut() {
            for (i, port) in ports.iter_mut().enumerate() {
                match port["nodePort"].as_i64() {
                    Some(p) if p != 0 => {
                        if !NODE_PORTS.contains(&p) {
                            return Err(invalid(
                                def,
                                &name,
                                StatusCause::invalid(
                                    format!("spec.ports[{i}].nodePort"),
                                    &json!(p),
                                    &format!(
                                        "provided port is not in the valid range. The range of valid ports is {}-{}",
                                        NODE_PORTS.start(),
                                        NODE_PORTS.end()
                                    ),
                                ),
                            ));
                        }
                        let unchanged = old_ports.iter().any(|o| o["nodePort"].as_i64() == Some(p));
                        if !unchanged && used_ports.contains(&p) {
                            return Err(invalid(
                                def,
                                &name,
                                StatusCause::invalid(
                                    format!("spec.ports[{i}].nodePort"),
                                    &json!(p),
                                    "provided port is already allocated",
                                ),
                            ));
                        }
                        used_ports.insert(p);
                    }
                    _ => {
                        let keep = old_ports
                            .iter()
                            .find(|o| {
                                o["port"] == port["port"] && o["protocol"] == port["protocol"]
                            })
                            .and_then(|o| o["nodePort"].as_i64());
                        let chosen = match keep {
                            Some(p) => p,
                            None => {
                                let mut chosen = None;
                                for _ in 0..10_000 {
                                    let candidate = rng.gen_range(NODE_PORTS);
                                    if !used_ports.contains(&candidate) {
                                        chosen = Some(candidate);
                                        break;
                                    }
                                }
                                chosen.ok_or_else(|| {
                                    Error::internal("failed to allocate a node port: range is full")
                                })?
                            }
                        };
                        used_ports.insert(chosen);
                        port["nodePort"] = json!(chosen);
                    }
                }
            }
        }
    }
    Ok(())
}
