//! Object metadata helpers (upstream's `meta.Accessor` for JSON objects) and API timestamps.

use std::collections::BTreeMap;

use kernel_store::Revision;
use rand::Rng;
use serde_json::{json, Map, Value};

use crate::status::{Error, Result};

/// `metadata` as a mutable map (created if missing or not an object).
pub fn meta_mut(obj: &mut Value) -> &mut Map<String, Value> {
    if !obj.is_object() {
        *obj = json!({});
    }
    let map = obj.as_object_mut().expect("object");
    let meta = map.entry("metadata").or_insert_with(|| json!({}));
    if !meta.is_object() {
        *meta = json!({});
    }
    meta.as_object_mut().expect("object")
}

/// `metadata.name`, or `""`.
pub fn name_of(obj: &Value) -> String {
    obj["metadata"]["name"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

/// `metadata.namespace`, if set.
pub fn namespace_of(obj: &Value) -> Option<String> {
    obj["metadata"]["namespace"]
        .as_str()
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
}

/// `metadata.resourceVersion` as a revision, if set.
pub fn revision_of(obj: &Value) -> Result<Option<Revision>> {
    match obj["metadata"]["resourceVersion"].as_str() {
        None | Some("") => Ok(None),
        Some(rv) => rv
            .parse::<Revision>()
            .map(Some)
            .map_err(|_| Error::bad_request(format!("invalid resourceVersion {rv:?}"))),
    }
}

/// `metadata.labels` as a map.
pub fn labels_of(obj: &Value) -> BTreeMap<String, String> {
    obj["metadata"]["labels"]
        .as_object()
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_owned())))
                .collect()
        })
        .unwrap_or_default()
}

/// `metadata.finalizers`.
pub fn finalizers_of(obj: &Value) -> Vec<String> {
    obj["metadata"]["finalizers"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// Now, as RFC 3339 with second precision (`metav1.Time`).
pub fn now_rfc3339() -> String {
    let now = jiff::Timestamp::now();
    jiff::Timestamp::from_second(now.as_second())
        .unwrap_or(now)
        .to_string()
}

/// RFC 3339 `seconds` from now.
pub fn rfc3339_in(seconds: i64) -> String {
    let now = jiff::Timestamp::now().as_second() + seconds;
    jiff::Timestamp::from_second(now)
        .map(|t| t.to_string())
        .unwrap_or_else(|_| now_rfc3339())
}

/// A name generated from `base` (`metadata.generateName`) as upstream's SimpleNameGenerator
/// does: [`kernel_core::names::generate_name`] with this thread's random generator.
pub fn generate_name(base: &str) -> String {
    let mut rng = rand::thread_rng();
    kernel_core::names::generate_name(base, || rng.gen())
}

/// The `generateName` of an object whose name was generated from it (the possibly truncated
/// base plus the random suffix), so a colliding create can be retried with another name.
pub fn generated_prefix(obj: &Value) -> Option<String> {
    let meta = obj.get("metadata")?;
    let base = meta.get("generateName")?.as_str()?;
    let name = meta.get("name")?.as_str()?;
    // Any generated name has the length and the base part of this one.
    let sample = kernel_core::names::generate_name(base, || 0);
    let kept = sample.len() - kernel_core::names::GENERATED_SUFFIX_LENGTH;
    (!base.is_empty() && name.len() == sample.len() && name.starts_with(&sample[..kept]))
        .then(|| base.to_owned())
}

/// True if the object is marked for deletion and nothing holds it any more.
pub fn should_delete_now(obj: &Value) -> bool {
    !obj["metadata"]["deletionTimestamp"].is_null()
        && finalizers_of(obj).is_empty()
        && obj["metadata"]["deletionGracePeriodSeconds"]
            .as_i64()
            .unwrap_or(0)
            == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_prefix_only_for_generated_names() {
        let obj = |name: &str| json!({"metadata": {"generateName": "web-", "name": name}});
        assert_eq!(generated_prefix(&obj("web-x7k2q")).as_deref(), Some("web-"));
        assert_eq!(generated_prefix(&obj("web-1")), None);
        assert_eq!(
            generated_prefix(&json!({"metadata": {"name": "web-x7k2q"}})),
            None
        );
    }

    #[test]
    fn long_bases_are_truncated_as_upstream() {
        let base = "a".repeat(70);
        let name = generate_name(&base);
        assert_eq!(name.len(), 63);
        assert!(name.starts_with(&"a".repeat(58)));
        let obj = json!({"metadata": {"generateName": base, "name": name}});
        assert_eq!(generated_prefix(&obj).as_deref(), Some(base.as_str()));
    }
}
