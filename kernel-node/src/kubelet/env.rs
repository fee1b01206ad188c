//! Container environment and `$(VAR)` expansion: upstream's `kubelet_pods.go`
//! (`makeEnvironmentVariables`, `podFieldSelectorRuntimeValue`) and
//! `third_party/forked/golang/expansion`.

use std::collections::{BTreeMap, HashMap};

use k8s_openapi::api::core::v1::{Container, EnvVarSource, Pod};

use super::volumes::projection::secret_data;
use super::volumes::Objects;
use k8s_openapi::apimachinery::pkg::api::resource::Quantity as WireQuantity;
use kernel_core::quantity::Quantity;

/// What the downward API reads besides the pod: the addresses the kubelet knows.
pub(crate) struct PodContext<'a> {
    pub pod: &'a Pod,
    pub pod_ips: &'a [String],
    pub host_ips: &'a [String],
    /// The node's allocatable (limits that are not set default to it).
    pub allocatable: &'a BTreeMap<String, WireQuantity>,
}

/// `Expand`: `$(NAME)` becomes the value `lookup` has for it (kept as written when it has
/// none), `$$` becomes `$`, any other `$` stays.
pub(crate) fn expand(input: &str, lookup: impl Fn(&str) -> Option<String>) -> String {
    let bytes = input.as_bytes();
    let mut out = String::with_capacity(input.len());
    let mut checkpoint = 0;
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'$' && i + 1 < bytes.len() {
            out.push_str(&input[checkpoint..i]);
            match bytes[i + 1] {
                b'$' => {
                    out.push('$');
                    i += 2;
                }
                b'(' => match input[i + 2..].find(')') {
                    Some(end) => {
                        let name = &input[i + 2..i + 2 + end];
                        match lookup(name) {
                            Some(v) => out.push_str(&v),
                            None => {
                                out.push_str("$(");
                                out.push_str(name);
                                out.push(')');
                            }
                        }
                        i += 2 + end + 1;
                    }
                    None => {
                        out.push_str(&input[i..]);
                        i = bytes.len();
                    }
                },
                _ => {
                    out.push('$');
                    i += 1;
                }
            }
            checkpoint = i;
        } else {
            i += 1;
        }
    }
    if checkpoint < bytes.len() {
        out.push_str(&input[checkpoint..]);
    }
    out
}

/// The value of a `fieldRef` path (`podFieldSelectorRuntimeValue`).
pub(crate) fn field_value(ctx: &PodContext<'_>, path: &str) -> Result<String, String> {
    let meta = &ctx.pod.metadata;
    let spec = ctx.pod.spec.as_ref();
    let subscript = |prefix: &str| {
        path.strip_prefix(prefix)
            .and_then(|rest| rest.strip_suffix("']"))
            .map(str::to_owned)
    };
    let value = match path {
        "metadata.name" => meta.name.clone().unwrap_or_default(),
        "metadata.namespace" => meta.namespace.clone().unwrap_or_default(),
        "metadata.uid" => meta.uid.clone().unwrap_or_default(),
        "spec.nodeName" => spec.and_then(|s| s.node_name.clone()).unwrap_or_default(),
        "spec.serviceAccountName" => spec
            .and_then(|s| s.service_account_name.clone())
            .unwrap_or_default(),
        "status.podIP" => ctx.pod_ips.first().cloned().unwrap_or_default(),
        "status.podIPs" => ctx.pod_ips.join(","),
        "status.hostIP" => ctx.host_ips.first().cloned().unwrap_or_default(),
        "status.hostIPs" => ctx.host_ips.join(","),
        _ => {
            if let Some(key) = subscript("metadata.labels['") {
                meta.labels
                    .as_ref()
                    .and_then(|l| l.get(&key).cloned())
                    .unwrap_or_default()
            } else if let Some(key) = subscript("metadata.annotations['") {
                meta.annotations
                    .as_ref()
                    .and_then(|l| l.get(&key).cloned())
                    .unwrap_or_default()
            } else {
                return Err(format!("unsupported fieldRef path {path:?}"));
            }
        }
    };
    Ok(value)
}

/// The value of a `resourceFieldRef` (`ExtractContainerResourceValue`): rounded up in units
/// of the divisor; unset limits are the node's allocatable.
pub(crate) fn resource_value(
    ctx: &PodContext<'_>,
    container: &Container,
    resource: &str,
    divisor: Option<&WireQuantity>,
) -> Result<String, String> {
    let (kind, name) = resource
        .split_once('.')
        .ok_or_else(|| format!("unsupported resourceFieldRef {resource:?}"))?;
    let resources = container.resources.as_ref();
    let set = match kind {
        "limits" => resources.and_then(|r| r.limits.as_ref()),
        "requests" => resources.and_then(|r| r.requests.as_ref()),
        _ => return Err(format!("unsupported resourceFieldRef {resource:?}")),
    };
    let quantity = set.and_then(|s| s.get(name)).or_else(|| {
        (kind == "limits")
            .then(|| ctx.allocatable.get(name))
            .flatten()
    });
    let parse = |q: Option<&WireQuantity>, default: &str| {
        q.map(|q| Quantity::from_wire(q).map_err(|e| e.to_string()))
            .unwrap_or_else(|| Quantity::parse(default).map_err(|e| e.to_string()))
    };
    let value = parse(quantity, "0")?;
    let divisor = parse(divisor, "1")?;
    let ceil_div = |a: i64, b: i64| if b <= 0 { a } else { (a + b - 1) / b };
    Ok(match name {
        "cpu" => ceil_div(value.milli_value(), divisor.milli_value()).to_string(),
        "memory" | "ephemeral-storage" => ceil_div(value.value(), divisor.value()).to_string(),
        _ => return Err(format!("unsupported resourceFieldRef {resource:?}")),
    })
}

/// `IsEnvVarName`: `[-._a-zA-Z][-._a-zA-Z0-9]*`.
fn is_env_var_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || matches!(c, '-' | '.' | '_'))
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_'))
}

/// The container's environment in order (`makeEnvironmentVariables`): first what `envFrom`
/// brings (each source's keys in order, a later source overriding an earlier one), then
/// `env`, values expanded (`$(VAR)` of earlier entries). ConfigMaps and Secrets come from
/// `objects` (read beforehand with [`Objects::fetch_for_env`]). `Err` is the message of a
/// `CreateContainerConfigError` (`configmap "x" not found`,
/// `couldn't find key k in ConfigMap ns/x`). `envFrom` keys that are not valid variable
/// names are skipped (see [`invalid_env_from`]).
pub(crate) fn environment(
    ctx: &PodContext<'_>,
    container: &Container,
    objects: &Objects,
) -> Result<Vec<(String, String)>, String> {
    let namespace = ctx.pod.metadata.namespace.as_deref().unwrap_or_default();
    let mut out: Vec<(String, String)> = Vec::new();
    let set = |out: &mut Vec<(String, String)>, name: &str, value: String| match out
        .iter_mut()
        .find(|(n, _)| n == name)
    {
        Some(entry) => entry.1 = value,
        None => out.push((name.to_owned(), value)),
    };
    for from in container.env_from.iter().flatten() {
        let prefix = from.prefix.as_deref().unwrap_or_default();
        let data: Vec<(String, String)> = if let Some(r) = &from.config_map_ref {
            match objects.config_maps.get(&r.name).and_then(Option::as_ref) {
                Some(cm) => cm
                    .data
                    .iter()
                    .flatten()
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect(),
                None if r.optional.unwrap_or(false) => continue,
                None => return Err(format!("configmap {:?} not found", r.name)),
            }
        } else if let Some(r) = &from.secret_ref {
            match objects.secrets.get(&r.name).and_then(Option::as_ref) {
                Some(secret) => secret_data(secret)
                    .into_iter()
                    .map(|(k, v)| (k, String::from_utf8_lossy(&v).into_owned()))
                    .collect(),
                None if r.optional.unwrap_or(false) => continue,
                None => return Err(format!("secret {:?} not found", r.name)),
            }
        } else {
            continue;
        };
        for (key, value) in data {
            let key = format!("{prefix}{key}");
            if is_env_var_name(&key) {
                set(&mut out, &key, value);
            }
        }
    }
    for var in container.env.iter().flatten() {
        let value = match &var.value_from {
            None => expand(var.value.as_deref().unwrap_or_default(), |name| {
                out.iter()
                    .rev()
                    .find(|(n, _)| n == name)
                    .map(|(_, v)| v.clone())
            }),
            Some(EnvVarSource {
                field_ref: Some(f), ..
            }) => field_value(ctx, &f.field_path)?,
            Some(EnvVarSource {
                resource_field_ref: Some(r),
                ..
            }) => {
                let target = match r.container_name.as_deref() {
                    None | Some("") => container,
                    Some(other) => ctx
                        .pod
                        .spec
                        .iter()
                        .flat_map(|s| s.containers.iter())
                        .find(|c| c.name == other)
                        .ok_or_else(|| format!("no container {other:?} in the pod"))?,
                };
                resource_value(ctx, target, &r.resource, r.divisor.as_ref())?
            }
            Some(EnvVarSource {
                config_map_key_ref: Some(r),
                ..
            }) => {
                let optional = r.optional.unwrap_or(false);
                let Some(cm) = objects.config_maps.get(&r.name).and_then(Option::as_ref) else {
                    if optional {
                        continue;
                    }
                    return Err(format!("configmap {:?} not found", r.name));
                };
                match cm.data.as_ref().and_then(|d| d.get(&r.key)) {
                    Some(v) => v.clone(),
                    None if optional => continue,
                    None => {
                        return Err(format!(
                            "couldn't find key {} in ConfigMap {namespace}/{}",
                            r.key, r.name
                        ))
                    }
                }
            }
            Some(EnvVarSource {
                secret_key_ref: Some(r),
                ..
            }) => {
                let optional = r.optional.unwrap_or(false);
                let Some(secret) = objects.secrets.get(&r.name).and_then(Option::as_ref) else {
                    if optional {
                        continue;
                    }
                    return Err(format!("secret {:?} not found", r.name));
                };
                match secret_data(secret).get(&r.key) {
                    Some(v) => String::from_utf8_lossy(v).into_owned(),
                    None if optional => continue,
                    None => {
                        return Err(format!(
                            "couldn't find key {} in Secret {namespace}/{}",
                            r.key, r.name
                        ))
                    }
                }
            }
            Some(_) => return Err(format!("env {:?}: an empty valueFrom", var.name)),
        };
        set(&mut out, &var.name, value);
    }
    Ok(out)
}

/// The messages of upstream's `InvalidEnvironmentVariableNames` events: per `envFrom`
/// source, the keys (with the prefix) that are not valid variable names and were skipped.
pub(crate) fn invalid_env_from(pod: &Pod, container: &Container, objects: &Objects) -> Vec<String> {
    let namespace = pod.metadata.namespace.as_deref().unwrap_or_default();
    let mut out = Vec::new();
    for from in container.env_from.iter().flatten() {
        let prefix = from.prefix.as_deref().unwrap_or_default();
        let (kind, name, keys): (&str, &str, Vec<String>) = if let Some(r) = &from.config_map_ref {
            let cm = objects.config_maps.get(&r.name).and_then(Option::as_ref);
            let keys = cm.and_then(|c| c.data.as_ref()).into_iter().flatten();
            ("configMap", &r.name, keys.map(|(k, _)| k.clone()).collect())
        } else if let Some(r) = &from.secret_ref {
            let secret = objects.secrets.get(&r.name).and_then(Option::as_ref);
            let keys = secret.map(secret_data).unwrap_or_default();
            ("secret", &r.name, keys.into_keys().collect())
        } else {
            continue;
        };
        let mut invalid: Vec<String> = keys
            .into_iter()
            .map(|k| format!("{prefix}{k}"))
            .filter(|k| !is_env_var_name(k))
            .collect();
        if !invalid.is_empty() {
            invalid.sort();
            out.push(format!(
                "Keys [{}] from the EnvFrom {kind} {namespace}/{name} were skipped since they are considered invalid environment variable names.",
                invalid.join(", ")
            ));
        }
    }
    out
}

/// `command` and `args` with `$(VAR)` expanded from the container's environment.
pub(crate) fn expand_all(words: &[String], env: &[(String, String)]) -> Vec<String> {
    let map: HashMap<&str, &str> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    words
        .iter()
        .map(|w| expand(w, |name| map.get(name).map(|v| v.to_string())))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::{ConfigMap, Secret};
    use serde_json::json;

    #[test]
    fn expands_like_upstream() {
        let lookup = |n: &str| (n == "A").then(|| "x".to_string());
        assert_eq!(expand("$(A)-$(B)", lookup), "x-$(B)");
        assert_eq!(expand("$$(A) $ $", lookup), "$(A) $ $");
        assert_eq!(expand("a$(A", lookup), "a$(A");
        assert_eq!(expand("plain", lookup), "plain");
    }

    #[test]
    fn builds_the_environment() {
        let pod: Pod = serde_json::from_value(json!({
            "metadata": { "name": "p", "namespace": "ns", "uid": "u1", "labels": { "app": "web" } },
            "spec": { "nodeName": "n1", "containers": [{
                "name": "c", "image": "busybox",
                "resources": { "limits": { "memory": "64Mi" } },
                "env": [
                    { "name": "A", "value": "a" },
                    { "name": "B", "value": "$(A)-b" },
                    { "name": "NAME", "valueFrom": { "fieldRef": { "fieldPath": "metadata.name" } } },
                    { "name": "APP", "valueFrom": { "fieldRef": { "fieldPath": "metadata.labels['app']" } } },
                    { "name": "NODE", "valueFrom": { "fieldRef": { "fieldPath": "spec.nodeName" } } },
                    { "name": "IP", "valueFrom": { "fieldRef": { "fieldPath": "status.podIP" } } },
                    { "name": "MEM", "valueFrom": { "resourceFieldRef": { "resource": "limits.memory", "divisor": "1Mi" } } },
                    { "name": "CPU", "valueFrom": { "resourceFieldRef": { "resource": "limits.cpu" } } }
                ]
            }]}
        }))
        .unwrap();
        let allocatable = BTreeMap::from([("cpu".to_string(), WireQuantity("1500m".into()))]);
        let ctx = PodContext {
            pod: &pod,
            pod_ips: &["10.0.0.2".into()],
            host_ips: &["192.168.0.1".into()],
            allocatable: &allocatable,
        };
        let container = &pod.spec.as_ref().unwrap().containers[0];
        let env = environment(&ctx, container, &Objects::default()).unwrap();
        let get = |k: &str| env.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
        assert_eq!(get("B"), Some("a-b"));
        assert_eq!(get("NAME"), Some("p"));
        assert_eq!(get("APP"), Some("web"));
        assert_eq!(get("NODE"), Some("n1"));
        assert_eq!(get("IP"), Some("10.0.0.2"));
        assert_eq!(get("MEM"), Some("64"));
        assert_eq!(get("CPU"), Some("2"));
        assert_eq!(
            expand_all(&["echo".into(), "$(B)".into()], &env),
            vec!["echo", "a-b"]
        );
    }

    fn objects() -> Objects {
        let cm: ConfigMap = serde_json::from_value(json!({
            "metadata": { "name": "cfg" },
            "data": { "MODE": "fast", "LEVEL": "3", "bad key": "x", "1ST": "y" }
        }))
        .unwrap();
        let secret: Secret = serde_json::from_value(json!({
            "metadata": { "name": "creds" },
            "data": { "PASSWORD": "aHVudGVyMg==" }
        }))
        .unwrap();
        let mut objects = Objects::default();
        objects.config_maps.insert("cfg".into(), Some(cm));
        objects.config_maps.insert("gone".into(), None);
        objects.secrets.insert("creds".into(), Some(secret));
        objects
    }

    fn env_of(container: serde_json::Value) -> Result<Vec<(String, String)>, String> {
        let pod: Pod = serde_json::from_value(json!({
            "metadata": { "name": "p", "namespace": "ns" },
            "spec": { "containers": [container] }
        }))
        .unwrap();
        let allocatable = BTreeMap::new();
        let ctx = PodContext {
            pod: &pod,
            pod_ips: &[],
            host_ips: &[],
            allocatable: &allocatable,
        };
        environment(&ctx, &pod.spec.as_ref().unwrap().containers[0], &objects())
    }

    #[test]
    fn config_map_and_secret_references() {
        let env = env_of(json!({
            "name": "c",
            "envFrom": [
                { "configMapRef": { "name": "cfg" } },
                { "secretRef": { "name": "creds" }, "prefix": "S_" },
                { "configMapRef": { "name": "gone", "optional": true } }
            ],
            "env": [
                { "name": "MODE", "valueFrom": { "configMapKeyRef": { "name": "cfg", "key": "LEVEL" } } },
                { "name": "PW", "valueFrom": { "secretKeyRef": { "name": "creds", "key": "PASSWORD" } } },
                { "name": "OPT", "valueFrom": { "configMapKeyRef": { "name": "cfg", "key": "nope", "optional": true } } },
                { "name": "OPT2", "valueFrom": { "secretKeyRef": { "name": "missing", "key": "k", "optional": true } } },
                { "name": "BOTH", "value": "$(S_PASSWORD)/$(LEVEL)" }
            ]
        }))
        .unwrap();
        let get = |k: &str| env.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
        assert_eq!(get("LEVEL"), Some("3"));
        assert_eq!(get("MODE"), Some("3"), "env overrides envFrom");
        assert_eq!(env.iter().filter(|(n, _)| n == "MODE").count(), 1);
        assert_eq!(get("S_PASSWORD"), Some("hunter2"));
        assert_eq!(get("PW"), Some("hunter2"));
        assert_eq!(get("BOTH"), Some("hunter2/3"));
        assert_eq!(get("OPT"), None);
        assert_eq!(get("OPT2"), None);
        assert_eq!(get("bad key"), None, "invalid names are skipped");
        assert_eq!(get("1ST"), None);
    }

    #[test]
    fn invalid_env_from_keys_are_reported() {
        let pod: Pod = serde_json::from_value(json!({
            "metadata": { "name": "p", "namespace": "ns" },
            "spec": { "containers": [{ "name": "c", "envFrom": [
                { "configMapRef": { "name": "cfg" } },
                { "configMapRef": { "name": "cfg" }, "prefix": "P_" },
                { "secretRef": { "name": "creds" } }
            ] }] }
        }))
        .unwrap();
        let container = &pod.spec.as_ref().unwrap().containers[0];
        assert_eq!(
            invalid_env_from(&pod, container, &objects()),
            vec![
                "Keys [1ST, bad key] from the EnvFrom configMap ns/cfg were skipped since they are considered invalid environment variable names.".to_string(),
                "Keys [P_bad key] from the EnvFrom configMap ns/cfg were skipped since they are considered invalid environment variable names.".to_string(),
            ]
        );
    }

    #[test]
    fn missing_references_are_config_errors() {
        let key_ref = |kind: &str, name: &str, key: &str| json!({ "name": "c", "env": [{ "name": "X", "valueFrom": { kind: { "name": name, "key": key } } }] });
        assert_eq!(
            env_of(key_ref("configMapKeyRef", "gone", "k")).unwrap_err(),
            "configmap \"gone\" not found"
        );
        assert_eq!(
            env_of(key_ref("configMapKeyRef", "cfg", "k")).unwrap_err(),
            "couldn't find key k in ConfigMap ns/cfg"
        );
        assert_eq!(
            env_of(key_ref("secretKeyRef", "nope", "k")).unwrap_err(),
            "secret \"nope\" not found"
        );
        assert_eq!(
            env_of(key_ref("secretKeyRef", "creds", "k")).unwrap_err(),
            "couldn't find key k in Secret ns/creds"
        );
        assert_eq!(
            env_of(json!({ "name": "c", "envFrom": [{ "configMapRef": { "name": "gone" } }] }))
                .unwrap_err(),
            "configmap \"gone\" not found"
        );
    }

    #[test]
    fn env_var_names() {
        assert!(is_env_var_name("A_b.c-1"));
        assert!(is_env_var_name("_x"));
        assert!(!is_env_var_name("1x"));
        assert!(!is_env_var_name("a b"));
        assert!(!is_env_var_name(""));
    }
}
