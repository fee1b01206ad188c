//! The strategy of core/v1 Secret (`secrets`): upstream's `pkg/registry/core/secret/strategy.go`.

use k8s_openapi::jiff::Timestamp;
use serde_json::{json, Map, Value};

use crate::defaults::set;
use crate::json::s;
use crate::strategy::{Column, Strategy};
use crate::table::{age, age_col, c, name, name_col};
use crate::validation::{
    get, immutable, immutable_data, validate_data_keys, FieldError, MAX_CONFIG_SIZE,
};

/// The Secret strategy.
#[derive(Debug)]
pub(crate) struct Secret;

impl Strategy for Secret {
    fn defaults(&self, obj: &mut Value) {
        let Some(o) = obj.as_object_mut() else {
            return;
        };
        set(o, "type", json!("Opaque"));
    }

    fn validate(&self, obj: &Value, _old: Option<&Value>) -> Vec<FieldError> {
        let mut errs = Vec::new();
        validate_secret(obj, &mut errs);
        errs
    }

    fn validate_update(&self, new: &Value, old: &Value) -> Vec<FieldError> {
        let mut out = immutable_data(new, old, &["data"]);
        let errs = &mut out;
        if get(new, "/type").is_some() {
            immutable(new, old, "/type", "type", errs);
        }
        out
    }

    fn columns(&self) -> Vec<Column> {
        vec![
            name_col(),
            c(
                "Type",
                "string",
                0,
                "Used to facilitate programmatic handling of secret data.",
            ),
            c("Data", "string", 0, "Data contains the secret data."),
            age_col(),
        ]
    }

    fn cells(&self, obj: &Value, now: Timestamp) -> Vec<Value> {
        let n = obj
            .get("data")
            .and_then(Value::as_object)
            .map_or(0, Map::len);
        vec![name(obj), json!(s(obj, "/type")), json!(n), age(obj, now)]
    }

    fn selectable_fields(&self) -> &'static [&'static str] {
        &["type"]
    }
}

fn validate_secret(obj: &Value, errs: &mut Vec<FieldError>) {
    let total = validate_data_keys(obj, false, errs);
    if total > MAX_CONFIG_SIZE {
        errs.push(FieldError::too_long("data", MAX_CONFIG_SIZE));
    }
    let has = |k: &str| {
        obj.pointer(&format!(
            "/data/{}",
            k.replace('~', "~0").replace('/', "~1")
        ))
        .is_some()
            || obj
                .pointer(&format!(
                    "/stringData/{}",
                    k.replace('~', "~0").replace('/', "~1")
                ))
                .is_some()
    };
    let required: &[&str] = match s(obj, "/type") {
        "kubernetes.io/tls" => &["tls.crt", "tls.key"],
        "kubernetes.io/dockerconfigjson" => &[".dockerconfigjson"],
        "kubernetes.io/dockercfg" => &[".dockercfg"],
        "kubernetes.io/ssh-auth" => &["ssh-privatekey"],
        _ => &[],
    };
    for k in required {
        if !has(k) {
            errs.push(FieldError::required(format!("data[{k}]"), ""));
        }
    }
    if s(obj, "/type") == "kubernetes.io/service-account-token"
        && s(
            obj,
            "/metadata/annotations/kubernetes.io~1service-account.name",
        )
        .is_empty()
    {
        errs.push(FieldError::required(
            "metadata.annotations[kubernetes.io/service-account.name]",
            "",
        ));
    }
}
