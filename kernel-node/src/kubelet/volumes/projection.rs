//! The payloads of configMap, secret and downwardAPI files (upstream `configmap.MakePayload`,
//! `secret.MakePayload`, `downwardapi.CollectData` and `fieldpath.FormatMap`), also the
//! sources of projected volumes.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{ConfigMap, DownwardAPIVolumeFile, KeyToPath, Pod, Secret};

use super::atomic_writer::{FileProjection, Payload};
use crate::kubelet::env::{self, PodContext};

/// The mode of files without one (`0644`, upstream's `ConfigMapVolumeSourceDefaultMode` and
/// friends).
pub(crate) const DEFAULT_MODE: u32 = 0o644;

fn mode_of(mode: Option<i32>, default: u32) -> u32 {
    mode.map(|m| m as u32).unwrap_or(default)
}

/// Every key (no `items`) or the keys `items` map to paths; a key that is missing is an
/// error unless `optional`. `data` are the object's keys and bytes, `kind` names it in the
/// message (`configmap`, `secret`).
fn make_payload(
    items: Option<&[KeyToPath]>,
    data: &BTreeMap<String, Vec<u8>>,
    default_mode: u32,
    optional: bool,
    missing_key: impl Fn(&str) -> String,
) -> Result<Payload, String> {
    let mut out = Payload::new();
    match items {
        None | Some([]) => {
            for (key, bytes) in data {
                out.insert(
                    key.clone(),
                    FileProjection {
                        data: bytes.clone(),
                        mode: default_mode,
                    },
                );
            }
        }
        Some(items) => {
            for item in items {
                let Some(bytes) = data.get(&item.key) else {
                    if optional {
                        continue;
                    }
                    return Err(missing_key(&item.key));
                };
                out.insert(
                    item.path.clone(),
                    FileProjection {
                        data: bytes.clone(),
                        mode: mode_of(item.mode, default_mode),
                    },
                );
            }
        }
    }
    Ok(out)
}

/// A ConfigMap's files: `data` and `binaryData` (`None`: an optional ConfigMap that does
/// not exist, no files).
pub(crate) fn config_map(
    cm: Option<&ConfigMap>,
    items: Option<&[KeyToPath]>,
    default_mode: u32,
    optional: bool,
) -> Result<Payload, String> {
    let mut data = BTreeMap::new();
    if let Some(cm) = cm {
        for (k, v) in cm.binary_data.iter().flatten() {
            data.insert(k.clone(), v.0.clone());
        }
        for (k, v) in cm.data.iter().flatten() {
            data.insert(k.clone(), v.clone().into_bytes());
        }
    }
    make_payload(items, &data, default_mode, optional, |k| {
        format!("configmap references non-existent config key: {k}")
    })
}

/// A Secret's files: `data`, already decoded from base64 by the wire type.
pub(crate) fn secret(
    secret: Option<&Secret>,
    items: Option<&[KeyToPath]>,
    default_mode: u32,
    optional: bool,
) -> Result<Payload, String> {
    let data = secret.map(secret_data).unwrap_or_default();
    make_payload(items, &data, default_mode, optional, |k| {
        format!("references non-existent secret key: {k}")
    })
}

/// A Secret's keys and bytes: `data` (decoded by the wire type), with `stringData` on top
/// should the API server hand it out (upstream's folds it into `data` on write).
pub(crate) fn secret_data(secret: &Secret) -> BTreeMap<String, Vec<u8>> {
    let mut out: BTreeMap<String, Vec<u8>> = secret
        .data
        .iter()
        .flatten()
        .map(|(k, v)| (k.clone(), v.0.clone()))
        .collect();
    for (k, v) in secret.string_data.iter().flatten() {
        out.insert(k.clone(), v.clone().into_bytes());
    }
    out
}

/// A map as upstream's `fieldpath.FormatMap`: `key="value"` lines in key order, the values
/// quoted as Go's `%q`, no newline after the last.
pub(crate) fn format_map(map: Option<&BTreeMap<String, String>>) -> String {
    map.into_iter()
        .flatten()
        .map(|(k, v)| format!("{k}={}", go_quote(v)))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Go's `strconv.Quote`.
fn go_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            '\u{07}' => out.push_str("\\a"),
            '\u{08}' => out.push_str("\\b"),
            '\u{0c}' => out.push_str("\\f"),
            '\u{0b}' => out.push_str("\\v"),
            c if (c as u32) < 0x20 || c == '\u{7f}' => {
                out.push_str(&format!("\\x{:02x}", c as u32))
            }
            c if c.is_control() => {
                if (c as u32) <= 0xffff {
                    out.push_str(&format!("\\u{:04x}", c as u32));
                } else {
                    out.push_str(&format!("\\U{:08x}", c as u32));
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// `fieldpath.ExtractFieldPathAsString`: what a downwardAPI file's `fieldRef` reads.
fn field_value(pod: &Pod, path: &str) -> Result<String, String> {
    let meta = &pod.metadata;
    match path {
        "metadata.labels" => Ok(format_map(meta.labels.as_ref())),
        "metadata.annotations" => Ok(format_map(meta.annotations.as_ref())),
        "metadata.name" | "metadata.namespace" | "metadata.uid" => {
            let ctx = PodContext {
                pod,
                pod_ips: &[],
                host_ips: &[],
                allocatable: &BTreeMap::new(),
            };
            env::field_value(&ctx, path)
        }
        _ if (path.starts_with("metadata.labels['")
            || path.starts_with("metadata.annotations['"))
            && path.ends_with("']") =>
        {
            let ctx = PodContext {
                pod,
                pod_ips: &[],
                host_ips: &[],
                allocatable: &BTreeMap::new(),
            };
            env::field_value(&ctx, path)
        }
        _ => Err(format!("unsupported fieldPath: {path}")),
    }
}

/// A downwardAPI volume's (or projection's) files.
pub(crate) fn downward_api(
    ctx: &PodContext<'_>,
    items: &[DownwardAPIVolumeFile],
    default_mode: u32,
) -> Result<Payload, String> {
    let mut out = Payload::new();
    let mut errors = Vec::new();
    for item in items {
        let value = if let Some(f) = &item.field_ref {
            field_value(ctx.pod, &f.field_path)
        } else if let Some(r) = &item.resource_field_ref {
            let name = r.container_name.as_deref().unwrap_or_default();
            ctx.pod
                .spec
                .iter()
                .flat_map(|s| {
                    s.containers
                        .iter()
                        .chain(s.init_containers.iter().flatten())
                })
                .find(|c| c.name == name)
                .ok_or_else(|| format!("container {name:?} not found in the pod"))
                .and_then(|c| env::resource_value(ctx, c, &r.resource, r.divisor.as_ref()))
        } else {
            Ok(String::new())
        };
        match value {
            Ok(v) => {
                out.insert(
                    item.path.clone(),
                    FileProjection {
                        data: v.into_bytes(),
                        mode: mode_of(item.mode, default_mode),
                    },
                );
            }
            Err(e) => errors.push(e),
        }
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(errors.join(", "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::ByteString;
    use serde_json::json;

    fn cm() -> ConfigMap {
        ConfigMap {
            data: Some(BTreeMap::from([
                ("a".into(), "A".into()),
                ("b".into(), "B".into()),
            ])),
            binary_data: Some(BTreeMap::from([("bin".into(), ByteString(vec![0, 1]))])),
            ..ConfigMap::default()
        }
    }

    fn item(key: &str, path: &str, mode: Option<i32>) -> KeyToPath {
        KeyToPath {
            key: key.into(),
            path: path.into(),
            mode,
        }
    }

    #[test]
    fn config_map_keys_items_and_modes() {
        let all = config_map(Some(&cm()), None, 0o600, false).unwrap();
        assert_eq!(all.keys().collect::<Vec<_>>(), ["a", "b", "bin"]);
        assert_eq!(all["bin"].data, vec![0, 1]);
        assert!(all.values().all(|f| f.mode == 0o600));

        let items = [item("a", "dir/x", Some(0o400)), item("b", "y", None)];
        let some = config_map(Some(&cm()), Some(&items), DEFAULT_MODE, false).unwrap();
        assert_eq!(some.keys().collect::<Vec<_>>(), ["dir/x", "y"]);
        assert_eq!(some["dir/x"].data, b"A");
        assert_eq!(some["dir/x"].mode, 0o400);
        assert_eq!(some["y"].mode, DEFAULT_MODE);

        let missing = [item("nope", "n", None)];
        assert_eq!(
            config_map(Some(&cm()), Some(&missing), DEFAULT_MODE, false).unwrap_err(),
            "configmap references non-existent config key: nope"
        );
        assert!(config_map(Some(&cm()), Some(&missing), DEFAULT_MODE, true)
            .unwrap()
            .is_empty());
        assert!(config_map(None, None, DEFAULT_MODE, true)
            .unwrap()
            .is_empty());
    }

    #[test]
    fn secret_data_is_the_decoded_bytes() {
        let s: Secret = serde_json::from_value(json!({
            "metadata": { "name": "s" },
            "data": { "password": "aHVudGVyMg==" }
        }))
        .unwrap();
        let p = secret(Some(&s), None, 0o400, false).unwrap();
        assert_eq!(p["password"].data, b"hunter2");
        let with_string: Secret = serde_json::from_value(json!({
            "data": { "a": "eA==" }, "stringData": { "b": "plain" }
        }))
        .unwrap();
        let both = secret(Some(&with_string), None, 0o400, false).unwrap();
        assert_eq!(both["a"].data, b"x");
        assert_eq!(both["b"].data, b"plain");
        assert_eq!(p["password"].mode, 0o400);
        assert_eq!(
            secret(Some(&s), Some(&[item("k", "k", None)]), 0o400, false).unwrap_err(),
            "references non-existent secret key: k"
        );
    }

    #[test]
    fn downward_api_files_in_upstream_format() {
        let pod: Pod = serde_json::from_value(json!({
            "metadata": {
                "name": "p", "namespace": "ns", "uid": "u1",
                "labels": { "zone": "a", "app": "web" },
                "annotations": { "note": "say \"hi\"\n" }
            },
            "spec": { "containers": [{
                "name": "c", "image": "busybox",
                "resources": { "limits": { "memory": "64Mi" }, "requests": { "cpu": "250m" } }
            }]}
        }))
        .unwrap();
        let items: Vec<DownwardAPIVolumeFile> = serde_json::from_value(json!([
            { "path": "labels", "fieldRef": { "fieldPath": "metadata.labels" } },
            { "path": "annotations", "fieldRef": { "fieldPath": "metadata.annotations" }, "mode": 0o400 },
            { "path": "name", "fieldRef": { "fieldPath": "metadata.name" } },
            { "path": "ns", "fieldRef": { "fieldPath": "metadata.namespace" } },
            { "path": "uid", "fieldRef": { "fieldPath": "metadata.uid" } },
            { "path": "zone", "fieldRef": { "fieldPath": "metadata.labels['zone']" } },
            { "path": "mem", "resourceFieldRef": { "containerName": "c", "resource": "limits.memory", "divisor": "1Mi" } },
            { "path": "cpu", "resourceFieldRef": { "containerName": "c", "resource": "requests.cpu", "divisor": "1m" } }
        ]))
        .unwrap();
        let allocatable = BTreeMap::new();
        let ctx = PodContext {
            pod: &pod,
            pod_ips: &[],
            host_ips: &[],
            allocatable: &allocatable,
        };
        let p = downward_api(&ctx, &items, DEFAULT_MODE).unwrap();
        let text = |k: &str| String::from_utf8(p[k].data.clone()).unwrap();
        assert_eq!(text("labels"), "app=\"web\"\nzone=\"a\"");
        assert_eq!(text("annotations"), "note=\"say \\\"hi\\\"\\n\"");
        assert_eq!(p["annotations"].mode, 0o400);
        assert_eq!(p["labels"].mode, DEFAULT_MODE);
        assert_eq!(text("name"), "p");
        assert_eq!(text("ns"), "ns");
        assert_eq!(text("uid"), "u1");
        assert_eq!(text("zone"), "a");
        assert_eq!(text("mem"), "64");
        assert_eq!(text("cpu"), "250");

        let bad: Vec<DownwardAPIVolumeFile> = serde_json::from_value(json!([
            { "path": "ip", "fieldRef": { "fieldPath": "status.podIP" } }
        ]))
        .unwrap();
        assert_eq!(
            downward_api(&ctx, &bad, DEFAULT_MODE).unwrap_err(),
            "unsupported fieldPath: status.podIP"
        );
    }
}
