//! Decoding of `application/vnd.kubernetes.protobuf` request bodies for the kinds kubectl's typed
//! clients send that way (kubectl ≥ 1.32 encodes the bodies of `kubectl create configmap|secret|
//! namespace|serviceaccount|deployment|job|cronjob|service`, and of `kubectl drain`'s evictions,
//! as protobuf and does not fall back to JSON).
//!
//! The envelope is upstream's: the magic `k8s\0`, then a `runtime.Unknown` whose `raw` field holds
//! the object message. Field numbers follow `k8s.io/api`'s `generated.proto` files. Covered:
//! ConfigMap, Secret, Namespace, ServiceAccount, Service, ResourceQuota, Deployment, Job,
//! CronJob, Eviction, PodDisruptionBudget, Role, ClusterRole, RoleBinding, ClusterRoleBinding,
//! PriorityClass, DeleteOptions and the access and token reviews (`kubectl auth`), with the fields kubectl's generators set (pod specs: containers with image,
//! command, args, ports, env and resources; not probes, volumes or affinity). Other kinds are
//! refused with 415 UnsupportedMediaType. Responses are always JSON (clients list
//! `application/json` in `Accept`).

use base64::Engine as _;
use serde_json::{json, Map, Value};

use crate::status::{Error, Result};

#[derive(Clone, Copy)]
enum Ty {
    /// A string; empty strings are dropped (JSON `omitempty`).
    Str,
    /// A plain integer; zero is dropped (`omitempty`).
    Int,
    /// A pointer integer (`*int32`): zero is kept.
    PInt,
    /// A plain bool; false is dropped.
    Bool,
    /// A pointer bool: false is kept.
    PBool,
    Time,
    MapStr,
    MapBytes,
    RepStr,
    /// `resource.Quantity` (a message holding its string form).
    MapQuantity,
    /// `intstr.IntOrString`.
    IntOrString,
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
    (6, "controller", Ty::PBool),
    (7, "blockOwnerDeletion", Ty::PBool),
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
    (10, "deletionGracePeriodSeconds", Ty::PInt),
    (11, "labels", Ty::MapStr),
    (12, "annotations", Ty::MapStr),
    (13, "ownerReferences", Ty::RepMsg(OWNER_REFERENCE)),
    (14, "finalizers", Ty::RepStr),
];
const CONFIG_MAP: &[Field] = &[
    (1, "metadata", Ty::Msg(OBJECT_META)),
    (2, "data", Ty::MapStr),
    (3, "binaryData", Ty::MapBytes),
    (4, "immutable", Ty::PBool),
];
const SECRET: &[Field] = &[
    (1, "metadata", Ty::Msg(OBJECT_META)),
    (2, "data", Ty::MapBytes),
    (3, "type", Ty::Str),
    (4, "stringData", Ty::MapStr),
    (5, "immutable", Ty::PBool),
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
    (4, "automountServiceAccountToken", Ty::PBool),
];
const LABEL_SELECTOR: &[Field] = &[
    (1, "matchLabels", Ty::MapStr),
    (
        2,
        "matchExpressions",
        Ty::RepMsg(&[
            (1, "key", Ty::Str),
            (2, "operator", Ty::Str),
            (3, "values", Ty::RepStr),
        ]),
    ),
];
const CONTAINER_PORT: &[Field] = &[
    (1, "name", Ty::Str),
    (2, "hostPort", Ty::Int),
    (3, "containerPort", Ty::Int),
    (4, "protocol", Ty::Str),
    (5, "hostIP", Ty::Str),
];
const RESOURCES: &[Field] = &[
    (1, "limits", Ty::MapQuantity),
    (2, "requests", Ty::MapQuantity),
];
const CONTAINER: &[Field] = &[
    (1, "name", Ty::Str),
    (2, "image", Ty::Str),
    (3, "command", Ty::RepStr),
    (4, "args", Ty::RepStr),
    (5, "workingDir", Ty::Str),
    (6, "ports", Ty::RepMsg(CONTAINER_PORT)),
    (
        7,
        "env",
        Ty::RepMsg(&[(1, "name", Ty::Str), (2, "value", Ty::Str)]),
    ),
    (8, "resources", Ty::Msg(RESOURCES)),
    (13, "terminationMessagePath", Ty::Str),
    (14, "imagePullPolicy", Ty::Str),
    (16, "stdin", Ty::Bool),
    (17, "stdinOnce", Ty::Bool),
    (18, "tty", Ty::Bool),
    (20, "terminationMessagePolicy", Ty::Str),
];
const POD_SPEC: &[Field] = &[
    (2, "containers", Ty::RepMsg(CONTAINER)),
    (3, "restartPolicy", Ty::Str),
    (4, "terminationGracePeriodSeconds", Ty::PInt),
    (5, "activeDeadlineSeconds", Ty::PInt),
    (6, "dnsPolicy", Ty::Str),
    (7, "nodeSelector", Ty::MapStr),
    (8, "serviceAccountName", Ty::Str),
    (10, "nodeName", Ty::Str),
    (11, "hostNetwork", Ty::Bool),
    (15, "imagePullSecrets", Ty::RepMsg(&[(1, "name", Ty::Str)])),
    (16, "hostname", Ty::Str),
    (17, "subdomain", Ty::Str),
    (19, "schedulerName", Ty::Str),
    (20, "initContainers", Ty::RepMsg(CONTAINER)),
    (24, "priorityClassName", Ty::Str),
    (29, "runtimeClassName", Ty::Str),
];
const POD_TEMPLATE_SPEC: &[Field] = &[
    (1, "metadata", Ty::Msg(OBJECT_META)),
    (2, "spec", Ty::Msg(POD_SPEC)),
];
const DEPLOYMENT: &[Field] = &[
    (1, "metadata", Ty::Msg(OBJECT_META)),
    (
        2,
        "spec",
        Ty::Msg(&[
            (1, "replicas", Ty::PInt),
            (2, "selector", Ty::Msg(LABEL_SELECTOR)),
            (3, "template", Ty::Msg(POD_TEMPLATE_SPEC)),
            (
                4,
                "strategy",
                Ty::Msg(&[
                    (1, "type", Ty::Str),
                    (
                        2,
                        "rollingUpdate",
                        Ty::Msg(&[
                            (1, "maxUnavailable", Ty::IntOrString),
                            (2, "maxSurge", Ty::IntOrString),
                        ]),
                    ),
                ]),
            ),
            (5, "minReadySeconds", Ty::Int),
            (6, "revisionHistoryLimit", Ty::PInt),
            (7, "paused", Ty::Bool),
            (9, "progressDeadlineSeconds", Ty::PInt),
        ]),
    ),
];
const JOB_SPEC: &[Field] = &[
    (1, "parallelism", Ty::PInt),
    (2, "completions", Ty::PInt),
    (3, "activeDeadlineSeconds", Ty::PInt),
    (4, "selector", Ty::Msg(LABEL_SELECTOR)),
    (5, "manualSelector", Ty::PBool),
    (6, "template", Ty::Msg(POD_TEMPLATE_SPEC)),
    (7, "backoffLimit", Ty::PInt),
    (8, "ttlSecondsAfterFinished", Ty::PInt),
    (9, "completionMode", Ty::Str),
    (10, "suspend", Ty::PBool),
];
const JOB: &[Field] = &[
    (1, "metadata", Ty::Msg(OBJECT_META)),
    (2, "spec", Ty::Msg(JOB_SPEC)),
];
const CRON_JOB: &[Field] = &[
    (1, "metadata", Ty::Msg(OBJECT_META)),
    (
        2,
        "spec",
        Ty::Msg(&[
            (1, "schedule", Ty::Str),
            (2, "startingDeadlineSeconds", Ty::PInt),
            (3, "concurrencyPolicy", Ty::Str),
            (4, "suspend", Ty::PBool),
            (5, "jobTemplate", Ty::Msg(JOB)),
            (6, "successfulJobsHistoryLimit", Ty::PInt),
            (7, "failedJobsHistoryLimit", Ty::PInt),
            (8, "timeZone", Ty::Str),
        ]),
    ),
];
const SERVICE: &[Field] = &[
    (1, "metadata", Ty::Msg(OBJECT_META)),
    (
        2,
        "spec",
        Ty::Msg(&[
            (
                1,
                "ports",
                Ty::RepMsg(&[
                    (1, "name", Ty::Str),
                    (2, "protocol", Ty::Str),
                    (3, "port", Ty::Int),
                    (4, "targetPort", Ty::IntOrString),
                    (5, "nodePort", Ty::Int),
                    (6, "appProtocol", Ty::Str),
                ]),
            ),
            (2, "selector", Ty::MapStr),
            (3, "clusterIP", Ty::Str),
            (4, "type", Ty::Str),
            (5, "externalIPs", Ty::RepStr),
            (7, "sessionAffinity", Ty::Str),
            (10, "externalName", Ty::Str),
            (18, "clusterIPs", Ty::RepStr),
        ]),
    ),
];
const PRECONDITIONS: &[Field] = &[(1, "uid", Ty::Str), (2, "resourceVersion", Ty::Str)];
const DELETE_OPTIONS: &[Field] = &[
    (1, "gracePeriodSeconds", Ty::PInt),
    (2, "preconditions", Ty::Msg(PRECONDITIONS)),
    (4, "propagationPolicy", Ty::Str),
    (5, "dryRun", Ty::RepStr),
];

const RESOURCE_ATTRIBUTES: &[Field] = &[
    (1, "namespace", Ty::Str),
    (2, "verb", Ty::Str),
    (3, "group", Ty::Str),
    (4, "version", Ty::Str),
    (5, "resource", Ty::Str),
    (6, "subresource", Ty::Str),
    (7, "name", Ty::Str),
];
const ACCESS_REVIEW: &[Field] = &[
    (1, "metadata", Ty::Msg(OBJECT_META)),
    (
        2,
        "spec",
        Ty::Msg(&[
            (1, "resourceAttributes", Ty::Msg(RESOURCE_ATTRIBUTES)),
            (
                2,
                "nonResourceAttributes",
                Ty::Msg(&[(1, "path", Ty::Str), (2, "verb", Ty::Str)]),
            ),
            (3, "user", Ty::Str),
            (4, "groups", Ty::RepStr),
            (6, "uid", Ty::Str),
        ]),
    ),
];
const TOKEN_REVIEW: &[Field] = &[
    (1, "metadata", Ty::Msg(OBJECT_META)),
    (
        2,
        "spec",
        Ty::Msg(&[(1, "token", Ty::Str), (2, "audiences", Ty::RepStr)]),
    ),
];
const POLICY_RULE: &[Field] = &[
    (1, "verbs", Ty::RepStr),
    (2, "apiGroups", Ty::RepStr),
    (3, "resources", Ty::RepStr),
    (4, "resourceNames", Ty::RepStr),
    (5, "nonResourceURLs", Ty::RepStr),
];
const ROLE: &[Field] = &[
    (1, "metadata", Ty::Msg(OBJECT_META)),
    (2, "rules", Ty::RepMsg(POLICY_RULE)),
];
const ROLE_BINDING: &[Field] = &[
    (1, "metadata", Ty::Msg(OBJECT_META)),
    (
        2,
        "subjects",
        Ty::RepMsg(&[
            (1, "kind", Ty::Str),
            (2, "apiGroup", Ty::Str),
            (3, "name", Ty::Str),
            (4, "namespace", Ty::Str),
        ]),
    ),
    (
        3,
        "roleRef",
        Ty::Msg(&[
            (1, "apiGroup", Ty::Str),
            (2, "kind", Ty::Str),
            (3, "name", Ty::Str),
        ]),
    ),
];
const PRIORITY_CLASS: &[Field] = &[
    (1, "metadata", Ty::Msg(OBJECT_META)),
    (2, "value", Ty::PInt),
    (3, "globalDefault", Ty::Bool),
    (4, "description", Ty::Str),
    (5, "preemptionPolicy", Ty::Str),
];
const RESOURCE_QUOTA: &[Field] = &[
    (1, "metadata", Ty::Msg(OBJECT_META)),
    (
        2,
        "spec",
        Ty::Msg(&[(1, "hard", Ty::MapQuantity), (2, "scopes", Ty::RepStr)]),
    ),
];
const POD_DISRUPTION_BUDGET: &[Field] = &[
    (1, "metadata", Ty::Msg(OBJECT_META)),
    (
        2,
        "spec",
        Ty::Msg(&[
            (1, "minAvailable", Ty::IntOrString),
            (2, "selector", Ty::Msg(LABEL_SELECTOR)),
            (3, "maxUnavailable", Ty::IntOrString),
            (4, "unhealthyPodEvictionPolicy", Ty::Str),
        ]),
    ),
];
const TOKEN_REQUEST: &[Field] = &[
    (1, "metadata", Ty::Msg(OBJECT_META)),
    (
        2,
        "spec",
        Ty::Msg(&[
            (1, "audiences", Ty::RepStr),
            (
                3,
                "boundObjectRef",
                Ty::Msg(&[
                    (1, "kind", Ty::Str),
                    (2, "apiVersion", Ty::Str),
                    (3, "name", Ty::Str),
                    (4, "uid", Ty::Str),
                ]),
            ),
            (4, "expirationSeconds", Ty::PInt),
        ]),
    ),
];
const EVICTION: &[Field] = &[
    (1, "metadata", Ty::Msg(OBJECT_META)),
    (2, "deleteOptions", Ty::Msg(DELETE_OPTIONS)),
];

fn table_for(api_version: &str, kind: &str) -> Option<&'static [Field]> {
    Some(match (api_version, kind) {
        ("v1", "ConfigMap") => CONFIG_MAP,
        ("v1", "Secret") => SECRET,
        ("v1", "Namespace") => NAMESPACE,
        ("v1", "ServiceAccount") => SERVICE_ACCOUNT,
        (_, "DeleteOptions") => DELETE_OPTIONS,
        ("v1", "Service") => SERVICE,
        ("apps/v1", "Deployment") => DEPLOYMENT,
        ("batch/v1", "Job") => JOB,
        ("batch/v1", "CronJob") => CRON_JOB,
        ("policy/v1", "Eviction") => EVICTION,
        ("policy/v1", "PodDisruptionBudget") => POD_DISRUPTION_BUDGET,
        ("rbac.authorization.k8s.io/v1", "Role" | "ClusterRole") => ROLE,
        ("rbac.authorization.k8s.io/v1", "RoleBinding" | "ClusterRoleBinding") => ROLE_BINDING,
        ("scheduling.k8s.io/v1", "PriorityClass") => PRIORITY_CLASS,
        ("v1", "ResourceQuota") => RESOURCE_QUOTA,
        (
            "authorization.k8s.io/v1",
            "SelfSubjectAccessReview" | "SubjectAccessReview" | "LocalSubjectAccessReview",
        ) => ACCESS_REVIEW,
        ("authentication.k8s.io/v1", "SelfSubjectReview") => {
            &[(1, "metadata", Ty::Msg(OBJECT_META))]
        }
        ("authentication.k8s.io/v1", "TokenReview") => TOKEN_REVIEW,
        ("authentication.k8s.io/v1", "TokenRequest") => TOKEN_REQUEST,
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

/// A `map<string, Quantity>` entry; a Quantity is a message whose field 1 is its string form.
fn quantity_entry(bytes: &[u8]) -> Result<(String, Value)> {
    let mut r = Reader { buf: bytes, pos: 0 };
    let (mut key, mut value) = (String::new(), Value::String(String::new()));
    while !r.done() {
        let tag = r.varint()?;
        match (tag >> 3, tag & 7) {
            (1, 2) => key = String::from_utf8_lossy(r.bytes()?).into_owned(),
            (2, 2) => value = message(r.bytes()?, &[(1, "q", Ty::Str)])?["q"].take(),
            (_, wire) => r.skip(wire)?,
        }
    }
    Ok((key, value))
}

/// `IntOrString`: type (0 int, 1 string), intVal, strVal.
fn int_or_string(bytes: &[u8]) -> Result<Value> {
    let v = message(
        bytes,
        &[
            (1, "type", Ty::PInt),
            (2, "intVal", Ty::PInt),
            (3, "strVal", Ty::Str),
        ],
    )?;
    Ok(if v["type"] == json!(1) {
        v["strVal"].clone()
    } else {
        json!(v["intVal"].as_i64().unwrap_or(0))
    })
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
                let v = string(r.bytes()?)?;
                if v != "" {
                    out.insert(name, v);
                }
            }
            (Ty::Int | Ty::PInt, 0) => {
                // int32 fields are sign-extended varints.
                let v = r.varint()? as i64;
                if v != 0 || matches!(ty, Ty::PInt) {
                    out.insert(name, json!(v));
                }
            }
            (Ty::Bool | Ty::PBool, 0) => {
                let v = r.varint()? != 0;
                if v || matches!(ty, Ty::PBool) {
                    out.insert(name, json!(v));
                }
            }
            (Ty::Time, 2) => {
                out.insert(name, time(r.bytes()?)?);
            }
            (Ty::MapStr | Ty::MapBytes, 2) => {
                let (k, v) = map_entry(r.bytes()?, matches!(ty, Ty::MapBytes))?;
                let entry = out.entry(name).or_insert_with(|| json!({}));
                entry[k] = v;
            }
            (Ty::MapQuantity, 2) => {
                let (k, v) = quantity_entry(r.bytes()?)?;
                let entry = out.entry(name).or_insert_with(|| json!({}));
                entry[k] = v;
            }
            (Ty::IntOrString, 2) => {
                out.insert(name, int_or_string(r.bytes()?)?);
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
            "the body of the request was in an unknown format - accepted media types include: application/json, application/yaml (protobuf is not decoded for {api_version} {kind})"
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
