//! Discovery: `/api`, `/api/v1`, `/apis`, `/apis/<group>`, `/apis/<group>/<version>`, in the
//! legacy form and the aggregated form (`apidiscovery.k8s.io/v2` `APIGroupDiscoveryList`) that
//! kubectl 1.30+ asks for first.

use serde_json::{json, Value};

use crate::resources::{ResourceDef, Resources, Subresource};

/// The media type of aggregated discovery responses.
pub const AGGREGATED_CONTENT_TYPE: &str =
    "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList";

/// True if an `Accept` header asks for aggregated discovery (v2).
pub fn wants_aggregated(accept: &str) -> bool {
    accept.split(',').any(|part| {
        part.contains("as=APIGroupDiscoveryList")
            && part.contains("v=v2")
            && !part.contains("v=v2beta1")
    })
}

/// A core/v1 options kind of a connect subresource.
fn connect(kind: &str, verbs: Vec<&'static str>) -> (String, String, String, Vec<&'static str>) {
    (String::new(), "v1".into(), kind.into(), verbs)
}

fn sub_kind(def: &ResourceDef, sub: Subresource) -> (String, String, String, Vec<&'static str>) {
    match sub {
        Subresource::Status => (
            def.group.clone(),
            def.version.clone(),
            def.kind.clone(),
            vec!["get", "patch", "update"],
        ),
        Subresource::Scale => (
            "autoscaling".into(),
            "v1".into(),
            "Scale".into(),
            vec!["get", "patch", "update"],
        ),
        Subresource::Binding => (String::new(), "v1".into(), "Binding".into(), vec!["create"]),
        Subresource::Eviction => (
            "policy".into(),
            "v1".into(),
            "Eviction".into(),
            vec!["create"],
        ),
        Subresource::Finalize => (
            String::new(),
            "v1".into(),
            "Namespace".into(),
            vec!["update"],
        ),
        Subresource::Token => (
            "authentication.k8s.io".into(),
            "v1".into(),
            "TokenRequest".into(),
            vec!["create"],
        ),
        // The connect subresources (kubelet_proxy.rs), with upstream's kinds and verbs.
        Subresource::Log => (String::new(), "v1".into(), "Pod".into(), vec!["get"]),
        Subresource::Attach => connect("PodAttachOptions", vec!["create", "get"]),
        Subresource::Exec => connect("PodExecOptions", vec!["create", "get"]),
        Subresource::PortForward => connect("PodPortForwardOptions", vec!["create", "get"]),
        Subresource::Proxy => connect(
            "NodeProxyOptions",
            vec!["create", "delete", "get", "patch", "update"],
        ),
    }
}

/// `/api`.
pub fn api_versions() -> Value {
    json!({
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [{ "clientCIDR": "0.0.0.0/0", "serverAddress": "127.0.0.1:6443" }],
    })
}

fn group_json(group: &str, versions: &[String]) -> Value {
    let versions: Vec<Value> = versions
        .iter()
        .map(|v| json!({ "groupVersion": format!("{group}/{v}"), "version": v }))
        .collect();
    json!({ "name": group, "versions": versions, "preferredVersion": versions[0] })
}

/// `/apis`.
pub fn api_group_list(resources: &Resources) -> Value {
    let groups: Vec<Value> = resources
        .groups()
        .into_iter()
        .filter(|(g, _)| !g.is_empty())
        .map(|(g, versions)| group_json(&g, &versions))
        .collect();
    json!({ "kind": "APIGroupList", "apiVersion": "v1", "groups": groups })
}

/// `/apis/<group>`, if served.
pub fn api_group(resources: &Resources, group: &str) -> Option<Value> {
    let (_, versions) = resources
        .groups()
        .into_iter()
        .find(|(g, _)| g == group && !g.is_empty())?;
    let mut v = group_json(group, &versions);
    v["kind"] = json!("APIGroup");
    v["apiVersion"] = json!("v1");
    Some(v)
}

/// `/api/v1` or `/apis/<group>/<version>`, if served.
pub fn api_resource_list(resources: &Resources, group: &str, version: &str) -> Option<Value> {
    let defs: Vec<_> = resources
        .all()
        .into_iter()
        .filter(|d| d.group == group && d.version == version)
        .collect();
    if defs.is_empty() {
        return None;
    }
    let mut list = Vec::new();
    for d in &defs {
        let mut r = json!({
            "name": d.plural,
            "singularName": d.singular,
            "namespaced": d.namespaced,
            "kind": d.kind,
            "verbs": d.verbs(),
        });
        if !d.short_names.is_empty() {
            r["shortNames"] = json!(d.short_names);
        }
        if !d.categories.is_empty() {
            r["categories"] = json!(d.categories);
        }
        list.push(r);
        for sub in &d.subresources {
            let (g, v, kind, verbs) = sub_kind(d, *sub);
            let mut s = json!({
                "name": format!("{}/{}", d.plural, sub.name()),
                "singularName": "",
                "namespaced": d.namespaced,
                "kind": kind,
                "verbs": verbs,
            });
            if g != d.group || v != d.version {
                s["group"] = json!(g);
                s["version"] = json!(v);
            }
            list.push(s);
        }
    }
    let group_version = if group.is_empty() {
        version.to_owned()
    } else {
        format!("{group}/{version}")
    };
    Some(
        json!({ "kind": "APIResourceList", "apiVersion": "v1", "groupVersion": group_version, "resources": list }),
    )
}

/// Aggregated discovery for the core group (`legacy = true`, `/api`) or every named group (`/apis`).
pub fn aggregated(resources: &Resources, legacy: bool) -> Value {
    let mut items = Vec::new();
    for (group, versions) in resources.groups() {
        if group.is_empty() != legacy {
            continue;
        }
        let mut version_items = Vec::new();
        for version in &versions {
            let mut rs = Vec::new();
            for d in resources
                .all()
                .into_iter()
                .filter(|d| d.group == group && &d.version == version)
            {
                let subresources: Vec<Value> = d
                    .subresources
                    .iter()
                    .map(|s| {
                        let (g, v, kind, verbs) = sub_kind(&d, *s);
                        json!({ "subresource": s.name(), "responseKind": { "group": g, "version": v, "kind": kind }, "verbs": verbs })
                    })
                    .collect();
                let mut r = json!({
                    "resource": d.plural,
                    "responseKind": { "group": d.group, "version": d.version, "kind": d.kind },
                    "scope": if d.namespaced { "Namespaced" } else { "Cluster" },
                    "singularResource": d.singular,
                    "verbs": d.verbs(),
                });
                if !d.short_names.is_empty() {
                    r["shortNames"] = json!(d.short_names);
                }
                if !d.categories.is_empty() {
                    r["categories"] = json!(d.categories);
                }
                if !subresources.is_empty() {
                    r["subresources"] = json!(subresources);
                }
                rs.push(r);
            }
            version_items
                .push(json!({ "version": version, "resources": rs, "freshness": "Current" }));
        }
        items.push(json!({ "metadata": { "name": group }, "versions": version_items }));
    }
    json!({ "kind": "APIGroupDiscoveryList", "apiVersion": "apidiscovery.k8s.io/v2", "metadata": {}, "items": items })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn core_list_has_pods_and_subresources() {
        let resources = Resources::builtin();
        let list = api_resource_list(&resources, "", "v1").unwrap();
        let names: Vec<&str> = list["resources"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|r| r["name"].as_str())
            .collect();
        assert!(names.contains(&"pods") && names.contains(&"pods/binding"));
        // The connect subresources, as upstream lists them.
        let find = |name: &str| {
            list["resources"]
                .as_array()
                .unwrap()
                .iter()
                .find(|r| r["name"] == name)
                .cloned()
                .unwrap_or_else(|| panic!("{name} not listed"))
        };
        assert_eq!(find("pods/exec")["kind"], "PodExecOptions");
        assert_eq!(find("pods/exec")["verbs"], json!(["create", "get"]));
        assert_eq!(find("pods/log")["kind"], "Pod");
        assert_eq!(find("pods/log")["verbs"], json!(["get"]));
        assert_eq!(find("pods/portforward")["kind"], "PodPortForwardOptions");
        assert_eq!(find("pods/attach")["kind"], "PodAttachOptions");
        assert_eq!(find("nodes/proxy")["kind"], "NodeProxyOptions");
        assert_eq!(
            find("nodes/proxy")["verbs"],
            json!(["create", "delete", "get", "patch", "update"])
        );
        let agg = aggregated(&resources, false);
        assert!(agg["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|g| g["metadata"]["name"] == "apps"));
        assert!(wants_aggregated(
            "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json"
        ));
    }
}
