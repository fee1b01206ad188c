//! Generic storage of API objects (upstream's `genericregistry.Store` and `etcd3.store`).
//!
//! Objects are `serde_json::Value`s stored as JSON under
//! `<prefix>/<resource>/<namespace>/<name>` (`<prefix>/<resource>/<name>` when cluster-scoped).
//! `metadata.resourceVersion` is never stored: it is the key's `mod_revision`, filled in on read.
//! The per-resource strategy (status reset, generation, system fields) lives in [`prepare_create`]
//! and [`prepare_update`].

use std::collections::BTreeMap;
use std::sync::Arc;

use base64::Engine as _;
use bytes::Bytes;
use kernel_store::{KeyValue, RangeRequest, Revision, Store};
use rand::Rng;
use serde_json::{json, Map, Value};

use crate::resources::{PathSegment, ResourceDef, Subresource};
use crate::status::{Error, Result, StatusCause};

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

/// The stored form of an object of `def`.
pub fn to_storage(def: &ResourceDef, obj: Value) -> Value {
    match def.flags.conversion {
        Some(c) => (c.to_storage)(obj),
        None => obj,
    }
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

// === object metadata helpers ===

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

/// Upstream's `generateName` suffix: 5 characters from a consonant-and-digit alphabet.
pub fn random_suffix() -> String {
    const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    let mut rng = rand::thread_rng();
    (0..5)
        .map(|_| ALPHABET[rng.gen_range(0..ALPHABET.len())] as char)
        .collect()
}

// === strategy ===

fn invalid(def: &ResourceDef, name: &str, causes: Vec<StatusCause>) -> Error {
    Error::Invalid {
        kind: def.kind.clone(),
        group: def.group.clone(),
        name: name.into(),
        causes,
    }
}

/// Checks `apiVersion`/`kind` of a request body against the resource and fills them in.
pub fn check_type(def: &ResourceDef, obj: &mut Value) -> Result<()> {
    let Some(map) = obj.as_object_mut() else {
        return Err(Error::bad_request("the body of the request was in an unknown format - accepted media types include: application/json, application/yaml"));
    };
    let api_version = def.api_version();
    match map.get("apiVersion").and_then(Value::as_str) {
        Some(v) if !v.is_empty() && v != api_version => {
            return Err(Error::bad_request(format!(
                "the API version in the data ({v}) does not match the expected API version ({api_version})"
            )))
        }
        _ => {}
    }
    match map.get("kind").and_then(Value::as_str) {
        Some(k) if !k.is_empty() && k != def.kind => {
            return Err(Error::bad_request(format!(
                "the kind in the data ({k}) does not match the expected kind ({})",
                def.kind
            )))
        }
        _ => {}
    }
    map.insert("apiVersion".into(), json!(api_version));
    map.insert("kind".into(), json!(def.kind));
    Ok(())
}

/// Decodes `obj` as its typed struct; a malformed object is a 400 as upstream reports it.
/// Fields the type does not know are dropped (as decoding into Go structs does), or, with
/// `strict` (`fieldValidation=Strict`, kubectl's default), refused with upstream's
/// `strict decoding error: unknown field "spec.replicass"`.
pub fn typed_check(def: &ResourceDef, obj: &mut Value, strict: bool) -> Result<()> {
    let Some(check) = def.flags.typed_check else {
        return Ok(());
    };
    let cannot = |e: String| {
        Error::bad_request(format!(
            "{} in version \"{}\" cannot be handled as a {}: {e}",
            def.kind, def.version, def.kind
        ))
    };
    let mut unknown = Vec::new();
    for path in check(obj).map_err(cannot)? {
        if remove_field(obj, &path) {
            unknown.push(join_path(&path));
        }
    }
    if strict && !unknown.is_empty() {
        let fields: Vec<String> = unknown
            .iter()
            .map(|f| format!("unknown field {f:?}"))
            .collect();
        return Err(cannot(format!(
            "strict decoding error: {}",
            fields.join(", ")
        )));
    }
    Ok(())
}

/// Removes the field at `path` from `obj` unless it is null (a null unknown field is not an
/// error upstream either); whether something was removed.
fn remove_field(obj: &mut Value, path: &[PathSegment]) -> bool {
    let Some((PathSegment::Field(last), parents)) = path.split_last() else {
        return false;
    };
    let mut at = obj;
    for segment in parents {
        let next = match segment {
            PathSegment::Field(k) => at.get_mut(k.as_str()),
            PathSegment::Index(i) => at.get_mut(*i),
        };
        match next {
            Some(v) => at = v,
            None => return false,
        }
    }
    match at.as_object_mut() {
        Some(map) if map.get(last).is_some_and(|v| !v.is_null()) => map.remove(last).is_some(),
        _ => false,
    }
}

/// `spec.containers[0].ports` from its segments.
fn join_path(path: &[PathSegment]) -> String {
    let mut out = String::new();
    for segment in path {
        match segment {
            PathSegment::Field(k) => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(k);
            }
            PathSegment::Index(i) => {
                out.push('[');
                out.push_str(&i.to_string());
                out.push(']');
            }
        }
    }
    out
}

/// Runs validation (validation.rs) and turns field errors into a 422.
pub fn validate(def: &ResourceDef, obj: &Value, old: Option<&Value>) -> Result<()> {
    let name = name_of(obj);
    let causes: Vec<StatusCause> = crate::validation::validate(&*def.strategy, obj, old)
        .into_iter()
        .map(StatusCause::from)
        .collect();
    if causes.is_empty() {
        Ok(())
    } else {
        Err(invalid(def, &name, causes))
    }
}

/// The `generateName` prefix of an object whose name was generated from it (name = prefix +
/// 5-character suffix), so a colliding create can be retried with another suffix.
pub fn generated_prefix(obj: &Value) -> Option<String> {
    let meta = obj.get("metadata")?;
    let prefix = meta.get("generateName")?.as_str()?;
    let name = meta.get("name")?.as_str()?;
    (!prefix.is_empty() && name.len() == prefix.len() + 5 && name.starts_with(prefix))
        .then(|| prefix.to_owned())
}

/// Sets system fields and resets what a create may not set (`PrepareForCreate` + `FillObjectMetaSystemFields`).
pub fn prepare_create(def: &ResourceDef, obj: &mut Value, namespace: Option<&str>) -> Result<()> {
    check_type(def, obj)?;
    let meta = meta_mut(obj);
    if def.namespaced {
        let ns = namespace.unwrap_or("default");
        match meta.get("namespace").and_then(Value::as_str) {
            Some(given) if !given.is_empty() && given != ns => {
                return Err(Error::bad_request(
                    "the namespace of the provided object does not match the namespace sent on the request",
                ))
            }
            _ => {
                meta.insert("namespace".into(), json!(ns));
            }
        }
    } else {
        meta.remove("namespace");
    }
    if meta
        .get("name")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .is_empty()
    {
        if let Some(generate) = meta
            .get("generateName")
            .and_then(Value::as_str)
            .filter(|g| !g.is_empty())
        {
            let name = format!("{generate}{}", random_suffix());
            meta.insert("name".into(), json!(name));
        }
    }
    if meta
        .get("resourceVersion")
        .and_then(Value::as_str)
        .is_some_and(|rv| !rv.is_empty())
    {
        return Err(Error::bad_request(
            "resourceVersion should not be set on objects to be created",
        ));
    }
    meta.remove("resourceVersion");
    meta.insert("uid".into(), json!(uuid::Uuid::new_v4().to_string()));
    meta.insert("creationTimestamp".into(), json!(now_rfc3339()));
    meta.remove("deletionTimestamp");
    meta.remove("deletionGracePeriodSeconds");
    meta.remove("selfLink");
    if def.flags.generation {
        meta.insert("generation".into(), json!(1));
    } else {
        meta.remove("generation");
    }
    def.strategy.prepare_for_create(def, obj);
    Ok(())
}

/// Carries system fields over from `old`, keeps the status (main resource) or everything but
/// the status (status subresource), and bumps the generation (`PrepareForUpdate`).
pub fn prepare_update(
    def: &ResourceDef,
    new: &mut Value,
    old: &Value,
    subresource: Option<Subresource>,
) -> Result<()> {
    check_type(def, new)?;
    let name = name_of(old);
    let given_name = name_of(new);
    if !given_name.is_empty() && given_name != name {
        return Err(Error::bad_request(format!(
            "the name of the object ({given_name}) does not match the name on the URL ({name})"
        )));
    }
    if let (Some(given), Some(ns)) = (namespace_of(new), namespace_of(old)) {
        if given != ns {
            return Err(Error::bad_request(
                "the namespace of the provided object does not match the namespace sent on the request",
            ));
        }
    }
    if subresource == Some(Subresource::Status) {
        let status = new.get("status").cloned();
        let rv = new["metadata"]["resourceVersion"].clone();
        let managed = new["metadata"]["managedFields"].clone();
        *new = old.clone();
        match status {
            Some(s) => new["status"] = s,
            None => {
                if let Some(m) = new.as_object_mut() {
                    m.remove("status");
                }
            }
        }
        let meta = meta_mut(new);
        meta.insert("resourceVersion".into(), rv);
        if !managed.is_null() {
            meta.insert("managedFields".into(), managed);
        }
        return Ok(());
    }
    let old_meta = old["metadata"].as_object().cloned().unwrap_or_default();
    let meta = meta_mut(new);
    for field in [
        "name",
        "namespace",
        "uid",
        "creationTimestamp",
        "deletionTimestamp",
        "deletionGracePeriodSeconds",
        "generation",
    ] {
        match old_meta.get(field) {
            Some(v) => meta.insert(field.into(), v.clone()),
            None => meta.remove(field),
        };
    }
    meta.remove("selfLink");
    def.strategy.prepare_for_update(def, new, old);
    if def.flags.generation && def.strategy.generation_changed(new, old) {
        let generation = old["metadata"]["generation"].as_i64().unwrap_or(0) + 1;
        meta_mut(new).insert("generation".into(), json!(generation));
    }
    Ok(())
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

    #[test]
    fn unknown_fields_are_pruned_or_refused() {
        let def = ResourceDef::new("v1", "ConfigMap", "configmaps", true)
            .typed::<k8s_openapi::api::core::v1::ConfigMap>();
        let mut obj = json!({"metadata": {"name": "a", "labelz": {}}, "data": {"k": "v"}, "extra": 1, "binaryData": null});
        typed_check(&def, &mut obj, false).unwrap();
        assert_eq!(
            obj,
            json!({"metadata": {"name": "a"}, "data": {"k": "v"}, "binaryData": null})
        );
        let mut obj = json!({"metadata": {"name": "a"}, "dta": {}});
        let err = typed_check(&def, &mut obj, true).unwrap_err().to_string();
        assert!(
            err.ends_with("strict decoding error: unknown field \"dta\""),
            "{err}"
        );
    }

    #[test]
    fn unknown_nested_fields_are_named_by_their_path() {
        let def =
            ResourceDef::new("v1", "Pod", "pods", true).typed::<k8s_openapi::api::core::v1::Pod>();
        let mut obj = json!({"metadata": {"name": "p"}, "spec": {"containers": [
            {"name": "a", "image": "x"},
            {"name": "b", "imagee": "y", "ports": [{"containerPort": 80, "hostt": 1}]}
        ]}});
        let err = typed_check(&def, &mut obj, true).unwrap_err().to_string();
        assert!(
            err.ends_with(
                "unknown field \"spec.containers[1].imagee\", unknown field \"spec.containers[1].ports[0].hostt\""
            ),
            "{err}"
        );
    }

    #[test]
    fn generation_bumps_on_spec_only() {
        let def = ResourceDef::new("apps/v1", "Deployment", "deployments", true).generation();
        assert_eq!(format!("{:?}", def.strategy), "Deployment");
        let old = json!({"metadata":{"name":"a","generation":1},"spec":{"replicas":1}});
        let mut same = json!({"metadata":{"name":"a","labels":{"x":"y"}},"spec":{"replicas":1}});
        prepare_update(&def, &mut same, &old, None).unwrap();
        assert_eq!(same["metadata"]["generation"], 1);
        let mut bumped = json!({"metadata":{"name":"a"},"spec":{"replicas":2}});
        prepare_update(&def, &mut bumped, &old, None).unwrap();
        assert_eq!(bumped["metadata"]["generation"], 2);
    }
}
