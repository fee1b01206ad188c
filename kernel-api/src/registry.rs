//! Generic storage of API objects (upstream's `genericregistry.Store` and `etcd3.store`).
//!
//! Objects are `serde_json::Value`s stored as JSON under
//! `<prefix>/<resource>/<namespace>/<name>` (`<prefix>/<resource>/<name>` when cluster-scoped).
//! `metadata.resourceVersion` is never stored: it is the key's `mod_revision`, filled in on read.
//! What happens to an object before it is stored is elsewhere: [`crate::rest`] (system metadata
//! and the kind's [`Strategy`](crate::strategy::Strategy)), [`crate::decode`] (type checks).

use std::sync::Arc;

use base64::Engine as _;
use bytes::Bytes;
use kernel_store::{KeyValue, RangeRequest, Revision, Store};
use serde_json::{json, Map, Value};

use crate::resources::ResourceDef;
use crate::status::{Error, Result};

// The metadata helpers and decode checks are used wherever registry objects are.
pub(crate) use crate::decode::{check_type, typed_check};
pub(crate) use crate::meta::{
    finalizers_of, labels_of, meta_mut, name_of, namespace_of, now_rfc3339, revision_of, rfc3339_in,
};

/// Storage of API objects over any [`Store`].
#[derive(Clone)]
pub struct Registry {
    /// The store.
    pub store: Arc<dyn Store>,
    /// Key prefix, `/registry` by default.
    pub prefix: String,
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registry")
            .field("prefix", &self.prefix)
            .finish()
    }
}

/// One page of a list.
#[derive(Debug, Default)]
pub struct ListPage {
    /// Matching objects, with `resourceVersion` set.
    pub items: Vec<Value>,
    /// The revision the list was read at (the list's `resourceVersion`).
    pub revision: Revision,
    /// Continue token, if more items follow.
    pub continue_token: Option<String>,
    /// Estimated items after this page (only without filtering).
    pub remaining: Option<i64>,
}

/// What a list reads.
#[derive(Default)]
pub struct ListOptions<'a> {
    /// Page size; 0 for everything.
    pub limit: usize,
    /// Continue token from a previous page.
    pub continue_token: Option<&'a str>,
    /// Exact revision to read at (`resourceVersionMatch=Exact`).
    pub revision: Option<Revision>,
    /// Keep only objects passing this filter.
    pub filter: Option<&'a (dyn Fn(&Value) -> bool + Send + Sync)>,
}

impl Registry {
    /// Storage of `def`'s objects under `prefix`.
    pub fn new(store: Arc<dyn Store>, prefix: impl Into<String>) -> Self {
        Registry {
            store,
            prefix: prefix.into(),
        }
    }

    /// The key of one object.
    pub fn key(&self, def: &ResourceDef, namespace: Option<&str>, name: &str) -> String {
        match namespace.filter(|_| def.namespaced) {
            Some(ns) => format!("{}/{}/{}/{}", self.prefix, def.storage, ns, name),
            None => format!("{}/{}/{}", self.prefix, def.storage, name),
        }
    }

    /// The key prefix of all objects of `def` (in `namespace`, if given), ending in `/`.
    pub fn list_prefix(&self, def: &ResourceDef, namespace: Option<&str>) -> String {
        match namespace.filter(|_| def.namespaced) {
            Some(ns) => format!("{}/{}/{}/", self.prefix, def.storage, ns),
            None => format!("{}/{}/", self.prefix, def.storage),
        }
    }

    /// Reads one object.
    pub async fn get(
        &self,
        def: &ResourceDef,
        namespace: Option<&str>,
        name: &str,
    ) -> Result<Value> {
        let key = self.key(def, namespace, name);
        match self.store.get(&key).await? {
            Some(kv) => Ok(from_storage(def, decode(&kv)?)),
            None => Err(not_found(def, name)),
        }
    }

    /// Reads only the parts of one object that `T` names (cheaper than [`Registry::get`] when
    /// a caller needs a field or two). For resources stored as served (no conversion).
    pub async fn get_partial<T: serde::de::DeserializeOwned>(
        &self,
        def: &ResourceDef,
        namespace: Option<&str>,
        name: &str,
    ) -> Result<T> {
        let key = self.key(def, namespace, name);
        match self.store.get(&key).await? {
            Some(kv) => serde_json::from_slice(&kv.value)
                .map_err(|e| Error::internal(format!("stored object {key} is corrupt: {e}"))),
            None => Err(not_found(def, name)),
        }
    }

    /// Lists objects, a page at a time.
    pub async fn list(
        &self,
        def: &ResourceDef,
        namespace: Option<&str>,
        options: ListOptions<'_>,
    ) -> Result<ListPage> {
        let prefix = self.list_prefix(def, namespace);
        let (mut start, mut revision) = (None, options.revision);
        if let Some(token) = options.continue_token.filter(|t| !t.is_empty()) {
            let (rv, key) = decode_continue(token)?;
            if !key.starts_with(&prefix) {
                return Err(Error::bad_request(
                    "continue key is not valid: key is not in the listed range",
                ));
            }
            let compacted = self.store.compacted_revision().await?;
            if rv < compacted {
                return Err(Error::Gone(
                    "The provided continue parameter is too old to display a consistent list result. \
                     You can start a new list without the continue parameter."
                        .into(),
                ));
            }
            start = Some(key);
            revision = Some(rv);
        }
        let mut page = ListPage::default();
        loop {
            let chunk = if options.limit == 0 {
                0
            } else {
                (options.limit - page.items.len()).max(1)
            };
            let mut request = RangeRequest::prefix(&prefix).with_limit(chunk);
            if let Some(start) = &start {
                request = request.with_start_key(start.clone());
            }
            if let Some(rev) = revision {
                request = request.with_revision(rev);
            }
            let response = self.store.range(request).await?;
            revision = Some(response.revision);
            page.revision = response.revision;
            let last_key = response.kvs.last().map(|kv| kv.key.clone());
            let returned = response.kvs.len();
            for kv in &response.kvs {
                let obj = from_storage(def, decode(kv)?);
                if options.filter.is_none_or(|f| f(&obj)) {
                    page.items.push(obj);
                }
            }
            if !response.more {
                break;
            }
            let next = format!("{}\0", last_key.unwrap_or_default());
            if options.limit > 0 && page.items.len() >= options.limit {
                if options.filter.is_none() {
                    page.remaining = Some((response.count - returned) as i64);
                }
                page.continue_token = Some(encode_continue(page.revision, &next));
                break;
            }
            start = Some(next);
        }
        Ok(page)
    }

    /// A fresh lease for objects of `def` that expire (0 for none).
    async fn lease_for(&self, def: &ResourceDef) -> Result<kernel_store::LeaseId> {
        match def.flags.ttl {
            Some(ttl) => Ok(self.store.lease_grant(ttl).await?),
            None => Ok(0),
        }
    }

    /// Creates an object (its name must be set). Fails with AlreadyExists.
    pub async fn create(&self, def: &ResourceDef, obj: &Value) -> Result<Value> {
        let revision = self.insert(def, obj).await?;
        with_revision(obj.clone(), revision)
    }

    /// Creates an object (its name must be set) and returns the revision it was written at,
    /// without copying it (the caller sets `resourceVersion` on its own value with
    /// [`with_revision`]). Fails with AlreadyExists.
    pub async fn insert(&self, def: &ResourceDef, obj: &Value) -> Result<Revision> {
        let (namespace, name) = (namespace_of(obj), name_of(obj));
        let key = self.key(def, namespace.as_deref(), &name);
        match self
            .store
            .create(&key, encode(def, obj)?, self.lease_for(def).await?)
            .await
        {
            Ok(kv) => Ok(kv.mod_revision),
            Err(kernel_store::Error::AlreadyExists { .. }) => Err(Error::AlreadyExists {
                resource: def.qualified(),
                name,
            }),
            Err(e) => Err(e.into()),
        }
    }

    /// Replaces an object if it is still at revision `expected`.
    pub async fn update(
        &self,
        def: &ResourceDef,
        obj: &Value,
        expected: Revision,
    ) -> Result<Value> {
        let revision = self.replace(def, obj, expected).await?;
        with_revision(obj.clone(), revision)
    }

    /// Replaces an object if it is still at revision `expected` and returns the revision it
    /// was written at, without copying it.
    pub async fn replace(
        &self,
        def: &ResourceDef,
        obj: &Value,
        expected: Revision,
    ) -> Result<Revision> {
        let (namespace, name) = (namespace_of(obj), name_of(obj));
        let key = self.key(def, namespace.as_deref(), &name);
        match self
            .store
            .update(
                &key,
                encode(def, obj)?,
                expected,
                self.lease_for(def).await?,
            )
            .await
        {
            Ok(kv) => Ok(kv.mod_revision),
            Err(kernel_store::Error::Conflict { .. }) => Err(conflict(def, &name)),
            Err(kernel_store::Error::NotFound { .. }) => Err(not_found(def, &name)),
            Err(e) => Err(e.into()),
        }
    }

    /// Removes an object (if `expected` is given, only at that revision). Returns it as it was.
    pub async fn delete(
        &self,
        def: &ResourceDef,
        namespace: Option<&str>,
        name: &str,
        expected: Option<Revision>,
    ) -> Result<Value> {
        let key = self.key(def, namespace, name);
        match self.store.delete(&key, expected).await {
            Ok(kv) => Ok(from_storage(def, decode(&kv)?)),
            Err(kernel_store::Error::Conflict { .. }) => Err(conflict(def, name)),
            Err(kernel_store::Error::NotFound { .. }) => Err(not_found(def, name)),
            Err(e) => Err(e.into()),
        }
    }
}

/// The API form of a stored object of `def` (see [`crate::conversion`]).
///
/// A custom resource served in several versions is stored once; read through any version it
/// comes back with that version's `apiVersion`, as upstream's `None` conversion strategy does.
pub fn from_storage(def: &ResourceDef, obj: Value) -> Value {
    let mut obj = match def.flags.conversion {
        Some(c) => (c.from_storage)(obj),
        None => obj,
    };
    if needs_version_rewrite(def, &obj) {
        if let Some(map) = obj.as_object_mut() {
            map.insert("apiVersion".into(), json!(def.api_version()));
        }
    }
    obj
}

/// Whether `obj` (stored form) reads differently through `def`: a conversion, or a custom
/// resource stored under another version.
pub fn needs_conversion(def: &ResourceDef, obj: &Value) -> bool {
    def.flags.conversion.is_some() || needs_version_rewrite(def, obj)
}

/// Whether `obj` is a custom resource stored under a version other than `def`'s.
fn needs_version_rewrite(def: &ResourceDef, obj: &Value) -> bool {
    def.flags.custom
        && obj
            .get("apiVersion")
            .and_then(Value::as_str)
            .is_some_and(|v| v != def.api_version())
}

/// The NotFound error for `def`/`name`.
pub fn not_found(def: &ResourceDef, name: &str) -> Error {
    Error::NotFound {
        resource: def.qualified(),
        name: name.into(),
    }
}

/// The optimistic-concurrency Conflict error for `def`/`name`.
pub fn conflict(def: &ResourceDef, name: &str) -> Error {
    Error::Conflict {
        resource: def.qualified(),
        name: name.into(),
        message: "the object has been modified; please apply your changes to the latest version and try again"
            .into(),
    }
}

/// Parses a stored object and sets its `resourceVersion` to the key's `mod_revision`.
pub fn decode(kv: &KeyValue) -> Result<Value> {
    let obj: Value = serde_json::from_slice(&kv.value)
        .map_err(|e| Error::internal(format!("stored object {} is corrupt: {e}", kv.key)))?;
    with_revision(obj, kv.mod_revision)
}

/// `obj` with `metadata.resourceVersion` set to `revision`.
pub fn with_revision(mut obj: Value, revision: Revision) -> Result<Value> {
    meta_mut(&mut obj).insert("resourceVersion".into(), json!(revision.to_string()));
    Ok(obj)
}

/// The stored bytes of an object of `def`: its storage form as JSON without
/// `metadata.resourceVersion` (serialized without copying the object when `def` stores the API
/// form as it is).
fn encode(def: &ResourceDef, obj: &Value) -> Result<Bytes> {
    let bytes = match def.flags.conversion {
        Some(c) => serde_json::to_vec(&WithoutRevision(&(c.to_storage)(obj.clone()))),
        None => serde_json::to_vec(&WithoutRevision(obj)),
    };
    Ok(Bytes::from(bytes.map_err(Error::internal)?))
}

/// Serializes an object skipping `metadata.resourceVersion`.
struct WithoutRevision<'a>(&'a Value);

impl serde::Serialize for WithoutRevision<'_> {
    fn serialize<S: serde::Serializer>(
        &self,
        serializer: S,
    ) -> std::result::Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let Value::Object(fields) = self.0 else {
            return self.0.serialize(serializer);
        };
        let mut map = serializer.serialize_map(Some(fields.len()))?;
        for (k, v) in fields {
            match v {
                Value::Object(meta) if k == "metadata" => {
                    map.serialize_entry(k, &MetadataWithoutRevision(meta))?
                }
                _ => map.serialize_entry(k, v)?,
            }
        }
        map.end()
    }
}

/// `metadata` without `resourceVersion`.
struct MetadataWithoutRevision<'a>(&'a Map<String, Value>);

impl serde::Serialize for MetadataWithoutRevision<'_> {
    fn serialize<S: serde::Serializer>(
        &self,
        serializer: S,
    ) -> std::result::Result<S::Ok, S::Error> {
        serializer.collect_map(
            self.0
                .iter()
                .filter(|(k, _)| k.as_str() != "resourceVersion"),
        )
    }
}

fn encode_continue(revision: Revision, start: &str) -> String {
    let raw = json!({ "v": "meta.k8s.io/v1", "rv": revision, "start": start }).to_string();
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw)
}

fn decode_continue(token: &str) -> Result<(Revision, String)> {
    let invalid = || {
        Error::bad_request("continue key is not valid: incorrect encoded start resourceVersion (version meta.k8s.io/v1)")
    };
    let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(token)
        .map_err(|_| invalid())?;
    let v: Value = serde_json::from_slice(&raw).map_err(|_| invalid())?;
    match (v["rv"].as_i64(), v["start"].as_str()) {
        (Some(rv), Some(start)) if rv > 0 => Ok((rv, start.to_owned())),
        _ => Err(invalid()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn continue_tokens_round_trip() {
        let token = encode_continue(42, "/registry/pods/default/b\0");
        assert_eq!(
            decode_continue(&token).unwrap(),
            (42, "/registry/pods/default/b\0".into())
        );
        assert!(decode_continue("garbage!").is_err());
    }
}
