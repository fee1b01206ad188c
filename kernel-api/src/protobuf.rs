//! Decoding of `application/vnd.kubernetes.protobuf` request bodies for the kinds kubectl's typed
//! clients send that way (kubectl ≥ 1.32 encodes `kubectl create configmap|secret|namespace|
//! serviceaccount` bodies as protobuf and does not fall back to JSON).
//!
//! The envelope is upstream's: the magic `k8s\0`, then a `runtime.Unknown` whose `raw` field holds
//! the object message. Field numbers follow `k8s.io/api/core/v1/generated.proto`. Kinds without a
//! table here are refused with 415 UnsupportedMediaType. Responses are always JSON (clients list
//! `application/json` in `Accept`).

use base64::Engine as _;
use serde_json::{json, Map, Value};

use crate::status::{Error, Result};

#[derive(Clone, Copy)]
enum Ty {
    Str,
    Int,
    Bool,
    Time,
    MapStr,
    MapBytes,
    RepStr,
    Msg(&'static [Field]),
    RepMsg(&'static [Field]),
}

type Field = (u64, &'static str, Ty);

const TYPE_META: &[Field] = &[(1, "apiVersion", Ty::Str), (2, "kind", Ty::Str)];
const OWNER_REFERENCE: &[Field] = &[
    (1, "kind", Ty::Str),
    (3, "name", Ty::Str),
    (4, "uid", Ty::Str),
    (5, "apiVersion", Ty::Str),
    (6, "controller", Ty::Bool),
    (7, "blockOwnerDeletion", Ty::Bool),
];
const OBJECT_META: &[Field] = &[
    (1, "name", Ty::Str),
    (2, "generateName", Ty::Str),
    (3, "namespace", Ty::Str),
    (5, "uid", Ty::Str),
    (6, "resourceVersion", Ty::Str),
    (7, "generation", Ty::Int),
    (8, "creationTimestamp", Ty::Time),
    (9, "deletionTimestamp", Ty::Time),
    (10, "deletionGracePeriodSeconds", Ty::Int),
    (11, "labels", Ty::MapStr),
    (12, "annotations", Ty::MapStr),
    (13, "ownerReferences", Ty::RepMsg(OWNER_REFERENCE)),
    (14, "finalizers", Ty::RepStr),
];
const CONFIG_MAP: &[Field] = &[
    (1, "metadata", Ty::Msg(OBJECT_META)),
    (2, "data", Ty::MapStr),
    (3, "binaryData", Ty::MapBytes),
    (4, "immutable", Ty::Bool),
];
const SECRET: &[Field] = &[
    (1, "metadata", Ty::Msg(OBJECT_META)),
    (2, "data", Ty::MapBytes),
    (3, "type", Ty::Str),
    (4, "stringData", Ty::MapStr),
    (5, "immutable", Ty::Bool),
];
const NAMESPACE: &[Field] = &[
    (1, "metadata", Ty::Msg(OBJECT_META)),
    (2, "spec", Ty::Msg(&[(1, "finalizers", Ty::RepStr)])),
    (3, "status", Ty::Msg(&[(1, "phase", Ty::Str)])),
];
const OBJECT_REFERENCE: &[Field] = &[
    (1, "kind", Ty::Str),
    (2, "namespace", Ty::Str),
    (3, "name", Ty::Str),
    (4, "uid", Ty::Str),
    (5, "apiVersion", Ty::Str),
    (6, "resourceVersion", Ty::Str),
    (7, "fieldPath", Ty::Str),
];
const SERVICE_ACCOUNT: &[Field] = &[
    (1, "metadata", Ty::Msg(OBJECT_META)),
    (2, "secrets", Ty::RepMsg(OBJECT_REFERENCE)),
    (3, "imagePullSecrets", Ty::RepMsg(&[(1, "name", Ty::Str)])),
    (4, "automountServiceAccountToken", Ty::Bool),
];
const PRECONDITIONS: &[Field] = &[(1, "uid", Ty::Str), (2, "resourceVersion", Ty::Str)];
const DELETE_OPTIONS: &[Field] = &[
    (1, "gracePeriodSeconds", Ty::Int),
    (2, "preconditions", Ty::Msg(PRECONDITIONS)),
    (4, "propagationPolicy", Ty::Str),
    (5, "dryRun", Ty::RepStr),
];

fn table_for(api_version: &str, kind: &str) -> Option<&'static [Field]> {
    Some(match (api_version, kind) {
        ("v1", "ConfigMap") => CONFIG_MAP,
        ("v1", "Secret") => SECRET,
        ("v1", "Namespace") => NAMESPACE,
        ("v1", "ServiceAccount") => SERVICE_ACCOUNT,
        (_, "DeleteOptions") => DELETE_OPTIONS,
        _ => return None,
    })
}

struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn done(&self) -> bool {
        self.pos >= self.buf.len()
    }

    fn varint(&mut self) -> Result<u64> {
        let mut value = 0u64;
        for shift in (0..64).step_by(7) {
            let byte = *self.buf.get(self.pos).ok_or_else(truncated)?;
            self.pos += 1;
            value |= u64::from(byte & 0x7f) << shift;
            if byte & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err(truncated())
    }

    fn bytes(&mut self) -> Result<&'a [u8]> {
        let len = usize::try_from(self.varint()?).map_err(|_| truncated())?;
        let end = self
            .pos
            .checked_add(len)
            .filter(|e| *e <= self.buf.len())
            .ok_or_else(truncated)?;
        let out = &self.buf[self.pos..end];
        self.pos = end;
        Ok(out)
    }

    fn skip(&mut self, wire: u64) -> Result<()> {
        match wire {
            0 => {
                self.varint()?;
            }
            1 => self.pos += 8,
            2 => {
                self.bytes()?;
            }
            5 => self.pos += 4,
            _ => return Err(Error::bad_request("protobuf: unsupported wire type")),
        }
        if self.pos > self.buf.len() {
            return Err(truncated());
        }
        Ok(())
    }
}

fn truncated() -> Error {
    Error::bad_request("protobuf: truncated message")
}

fn string(bytes: &[u8]) -> Result<Value> {
    Ok(Value::String(String::from_utf8(bytes.to_vec()).map_err(
        |_| Error::bad_request("protobuf: invalid UTF-8"),
    )?))
}

fn map_entry(bytes: &[u8], binary: bool) -> Result<(String, Value)> {
    let mut r = Reader { buf: bytes, pos: 0 };
    let (mut key, mut value) = (String::new(), Value::String(String::new()));
    while !r.done() {
        let tag = r.varint()?;
        match (tag >> 3, tag & 7) {
            (1, 2) => key = String::from_utf8_lossy(r.bytes()?).into_owned(),
            (2, 2) => {
                let b = r.bytes()?;
                value = if binary {
                    Value::String(base64::engine::general_purpose::STANDARD.encode(b))
                } else {
                    string(b)?
                };
            }
            (_, wire) => r.skip(wire)?,
        }
    }
    Ok((key, value))
}

fn time(bytes: &[u8]) -> Result<Value> {
    let mut r = Reader { buf: bytes, pos: 0 };
    let mut seconds = 0i64;
    while !r.done() {
        let tag = r.varint()?;
        match (tag >> 3, tag & 7) {
            (1, 0) => seconds = r.varint()? as i64,
            (_, wire) => r.skip(wire)?,
        }
    }
    Ok(jiff::Timestamp::from_second(seconds)
        .map(|t| json!(t.to_string()))
        .unwrap_or(Value::Null))
}

fn message(bytes: &[u8], fields: &[Field]) -> Result<Value> {
    let mut r = Reader { buf: bytes, pos: 0 };
    let mut out = Map::new();
    while !r.done() {
        let tag = r.varint()?;
        let (number, wire) = (tag >> 3, tag & 7);
        let Some((_, name, ty)) = fields.iter().find(|(n, _, _)| *n == number) else {
            r.skip(wire)?;
            continue;
        };
        let name = (*name).to_owned();
        match (ty, wire) {
            (Ty::Str, 2) => {
                out.insert(name, string(r.bytes()?)?);
            }
            (Ty::Int, 0) => {
                out.insert(name, json!(r.varint()? as i64));
            }
            (Ty::Bool, 0) => {
                out.insert(name, json!(r.varint()? != 0));
            }
            (Ty::Time, 2) => {
                out.insert(name, time(r.bytes()?)?);
            }
            (Ty::MapStr | Ty::MapBytes, 2) => {
                let (k, v) = map_entry(r.bytes()?, matches!(ty, Ty::MapBytes))?;
                let entry = out.entry(name).or_insert_with(|| json!({}));
                entry[k] = v;
            }
            (Ty::RepStr, 2) => {
                let s = string(r.bytes()?)?;
                if let Some(list) = out.entry(name).or_insert_with(|| json!([])).as_array_mut() {
                    list.push(s);
                }
            }
            (Ty::Msg(inner), 2) => {
                out.insert(name, message(r.bytes()?, inner)?);
            }
            (Ty::RepMsg(inner), 2) => {
                let m = message(r.bytes()?, inner)?;
                if let Some(list) = out.entry(name).or_insert_with(|| json!([])).as_array_mut() {
                    list.push(m);
                }
            }
            (_, wire) => r.skip(wire)?,
        }
    }
    Ok(Value::Object(out))
}

/// Decodes a protobuf-encoded Kubernetes object into its JSON form.
pub fn decode(body: &[u8]) -> Result<Value> {
    let Some(envelope) = body.strip_prefix(b"k8s\0") else {
        return Err(Error::bad_request(
            "protobuf: missing the k8s envelope prefix",
        ));
    };
    let mut r = Reader {
        buf: envelope,
        pos: 0,
    };
    let (mut type_meta, mut raw) = (json!({}), &[][..]);
    while !r.done() {
        let tag = r.varint()?;
        match (tag >> 3, tag & 7) {
            (1, 2) => type_meta = message(r.bytes()?, TYPE_META)?,
            (2, 2) => raw = r.bytes()?,
            (_, wire) => r.skip(wire)?,
        }
    }
    let api_version = type_meta["apiVersion"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let kind = type_meta["kind"].as_str().unwrap_or_default().to_owned();
    let Some(table) = table_for(&api_version, &kind) else {
        return Err(Error::UnsupportedMediaType(format!(
            "the body of the request was in an unknown format - accepted media types include: application/json, application/yaml (protobuf is only decoded for ConfigMap, Secret, Namespace, ServiceAccount and DeleteOptions, not {api_version} {kind})"
        )));
    };
    let mut obj = message(raw, table)?;
    obj["apiVersion"] = json!(api_version);
    obj["kind"] = json!(kind);
    Ok(obj)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field(number: u64, bytes: &[u8]) -> Vec<u8> {
        let mut out = vec![(number << 3 | 2) as u8, bytes.len() as u8];
        out.extend_from_slice(bytes);
        out
    }

    #[test]
    fn decodes_a_config_map() {
        let meta = [
            field(1, b"lit"),
            field(11, &[field(1, b"app"), field(2, b"x")].concat()),
        ]
        .concat();
        let raw = [
            field(1, &meta),
            field(2, &[field(1, b"a"), field(2, b"b")].concat()),
        ]
        .concat();
        let type_meta = [field(1, b"v1"), field(2, b"ConfigMap")].concat();
        let body = [b"k8s\0".to_vec(), field(1, &type_meta), field(2, &raw)].concat();
        let obj = decode(&body).unwrap();
        assert_eq!(obj["metadata"]["name"], "lit");
        assert_eq!(obj["metadata"]["labels"]["app"], "x");
        assert_eq!(obj["data"]["a"], "b");
        assert_eq!(obj["kind"], "ConfigMap");
    }
}
