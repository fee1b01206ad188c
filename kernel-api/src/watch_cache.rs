//! The watch cache: one store watch per resource type, fanned out to every API watcher
//! (upstream's `Cacher` with its `watchCache` ring).
//!
//! ```text
//!   Store::watch(/registry/pods/, prev_kv) ──► cache task ──► ring of recent events (VecDeque)
//!                                                   └──────► broadcast ──► watcher 1 (filter)
//!                                                                      ├─► watcher 2 (filter)
//!                                                                      └─► … 1,000 watchers
//! ```
//!
//! A watcher from resourceVersion `R` gets, atomically under the cache lock, every ring event
//! after `R` and a broadcast subscription for what follows, so nothing is lost or repeated. A
//! watcher from a revision older than the ring falls back to its own store watch (which fails
//! with `Compacted`, i.e. 410 Gone, when the store no longer has that history either).

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use futures::stream::{self, BoxStream, StreamExt};
use kernel_store::{EventKind, Revision, WatchRequest};
use serde_json::Value;
use tokio::sync::broadcast;

use crate::registry::{decode, Registry};
use crate::status::{Error, Result};

/// The type of a watch event, as on the wire.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EventType {
    /// `ADDED`.
    Added,
    /// `MODIFIED`.
    Modified,
    /// `DELETED`.
    Deleted,
}

/// One decoded change of one object, shared by every watcher.
#[derive(Debug)]
pub struct CachedEvent {
    /// What happened in the store (a delete is `Deleted`, a put `Added` or `Modified`).
    pub kind: EventType,
    /// The store revision of the change.
    pub revision: Revision,
    /// The storage key.
    pub key: String,
    /// The object after the change (for a delete: its last state, with the delete's revision);
    /// shared with the cache's object map.
    pub object: Arc<Value>,
    /// The object before the change, if it existed.
    pub prev: Option<Arc<Value>>,
    /// The encoded watch lines (ADDED, MODIFIED, DELETED), each made once and shared by every
    /// watcher that sends it, as upstream's `cachingObject` does.
    pub lines: [std::sync::OnceLock<bytes::Bytes>; 3],
    /// The stored bytes of a put (the object without `resourceVersion`): its watch lines are
    /// these bytes with the revision spliced in, not a new serialization of `object`.
    pub stored: Option<bytes::Bytes>,
}

impl CachedEvent {
    /// The watch line of `kind` for this event, encoded by `encode` on first use only.
    pub fn line(&self, kind: &str, encode: impl FnOnce() -> bytes::Bytes) -> bytes::Bytes {
        let slot = match kind {
            "ADDED" => 0,
            "MODIFIED" => 1,
            _ => 2,
        };
        self.lines[slot].get_or_init(encode).clone()
    }

    /// The watch line `{"type":kind,"object":…}` built from the stored bytes (with
    /// `metadata.resourceVersion` spliced in), if this event is a put whose bytes have a
    /// top-level `metadata` object. The object is the same JSON as [`CachedEvent::object`].
    pub fn stored_line(&self, kind: &str) -> Option<bytes::Bytes> {
        let stored = self.stored.as_deref()?;
        let at = metadata_members(stored)?;
        let revision = self.revision.to_string();
        let mut line = Vec::with_capacity(stored.len() + kind.len() + revision.len() + 64);
        line.extend_from_slice(b"{\"type\":\"");
        line.extend_from_slice(kind.as_bytes());
        line.extend_from_slice(b"\",\"object\":");
        line.extend_from_slice(&stored[..at]);
        line.extend_from_slice(b"\"resourceVersion\":\"");
        line.extend_from_slice(revision.as_bytes());
        line.push(b'"');
        if stored.get(at) != Some(&b'}') {
            line.push(b',');
        }
        line.extend_from_slice(&stored[at..]);
        line.extend_from_slice(b"}\n");
        Some(bytes::Bytes::from(line))
    }
}

/// The offset just inside the top-level `metadata` object of a compact JSON object (as
/// serde_json writes it: no whitespace), i.e. where its first member starts.
fn metadata_members(json: &[u8]) -> Option<usize> {
    let mut i = 1;
    if json.first() != Some(&b'{') {
        return None;
    }
    loop {
        if json.get(i)? != &b'"' {
            return None;
        }
        let key_end = string_end(json, i)?;
        let key = &json[i + 1..key_end - 1];
        if json.get(key_end)? != &b':' {
            return None;
        }
        i = key_end + 1;
        if key == b"metadata" {
            return (json.get(i)? == &b'{').then_some(i + 1);
        }
        i = value_end(json, i)?;
        match json.get(i)? {
            b',' => i += 1,
            _ => return None,
        }
    }
}

/// The offset after the string starting (at its opening quote) at `start`.
fn string_end(json: &[u8], start: usize) -> Option<usize> {
    let mut i = start + 1;
    loop {
        match json.get(i)? {
            b'\\' => i += 2,
            b'"' => return Some(i + 1),
            _ => i += 1,
        }
    }
}

/// The offset after the JSON value starting at `start` (where the `,` or closing bracket
/// that follows it is).
fn value_end(json: &[u8], start: usize) -> Option<usize> {
    let mut depth = 0usize;
    let mut i = start;
    loop {
        match *json.get(i)? {
            b'"' => i = string_end(json, i)?,
            b'{' | b'[' => {
                depth += 1;
                i += 1;
            }
            b'}' | b']' if depth > 0 => {
                depth -= 1;
                i += 1;
            }
            b',' | b'}' | b']' if depth == 0 => return Some(i),
            _ => i += 1,
        }
    }
}

/// A stream of events after a revision.
pub type EventStream = BoxStream<'static, Result<Arc<CachedEvent>>>;

struct CacheState {
    ring: VecDeque<Arc<CachedEvent>>,
    /// Every event with a revision above this one is in the ring.
    valid_from: Revision,
    /// The newest revision the cache has seen (events or start).
    last_revision: Revision,
    sender: broadcast::Sender<Arc<CachedEvent>>,
    /// Every object under the prefix as of `last_revision` (storage form), for lists.
    objects: BTreeMap<String, Arc<Value>>,
    /// Objects the server just wrote, by key, with the revision they were written at: the
    /// task takes one instead of decoding the store's bytes when its event arrives.
    handed: HashMap<String, (Revision, Arc<Value>)>,
}

/// The cache of one resource type (one storage prefix).
struct ResourceCache {
    state: Mutex<CacheState>,
}

/// All resource caches of a server.
pub struct WatchCache {
    registry: Registry,
    capacity: usize,
    caches: Mutex<HashMap<String, Arc<ResourceCache>>>,
    /// Held while a cache is being opened, so that many watchers arriving at once open one
    /// cache (one store watch, one initial read) instead of one each.
    opening: tokio::sync::Mutex<()>,
    /// Dropped with the cache: every cache task then stops (and closes its store watch).
    stop: tokio::sync::watch::Sender<()>,
}

impl std::fmt::Debug for WatchCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WatchCache")
            .field("capacity", &self.capacity)
            .finish()
    }
}

impl WatchCache {
    /// A cache keeping `capacity` recent events per resource type.
    pub fn new(registry: Registry, capacity: usize) -> Self {
        WatchCache {
            registry,
            capacity: capacity.max(16),
            caches: Mutex::new(HashMap::new()),
            opening: tokio::sync::Mutex::new(()),
            stop: tokio::sync::watch::channel(()).0,
        }
    }

    /// Events under `prefix` (a resource's storage prefix, ending in `/`) with a revision above
    /// `from`.
    pub async fn watch(&self, prefix: &str, from: Revision) -> Result<EventStream> {
        self.prune();
        let cache = self.cache_for(prefix, Some(from)).await?;
        let subscribed = {
            let state = cache.state.lock().unwrap_or_else(|e| e.into_inner());
            if from >= state.valid_from {
                let backlog: Vec<_> = state
                    .ring
                    .iter()
                    .filter(|e| e.revision > from)
                    .cloned()
                    .collect();
                Some((backlog, state.sender.subscribe()))
            } else {
                None
            }
        };
        match subscribed {
            Some((backlog, receiver)) => {
                let live = stream::unfold(receiver, |mut receiver| async move {
                    match receiver.recv().await {
                        Ok(event) => Some((Ok(event), receiver)),
                        Err(broadcast::error::RecvError::Closed) => None,
                        Err(broadcast::error::RecvError::Lagged(_)) => Some((
                            Err(Error::Gone(
                                "watcher fell too far behind; please re-list".into(),
                            )),
                            receiver,
                        )),
                    }
                })
                .filter(move |e| {
                    std::future::ready(e.as_ref().map_or(true, |e| e.revision > from))
                });
                Ok(stream::iter(backlog.into_iter().map(Ok))
                    .chain(live)
                    .boxed())
            }
            None => self.direct(prefix, from).await,
        }
    }

    /// The objects under `key_prefix` (within the resource `prefix`) and the revision they are
    /// current at: upstream serves `resourceVersion=0` lists from its watch cache the same way.
    /// `None` when the cache of `prefix` has stopped (the caller then reads the store).
    ///
    /// The state is consistent at that revision because the server writes one key per store
    /// revision.
    pub async fn list(
        &self,
        prefix: &str,
        key_prefix: &str,
    ) -> Result<Option<(Vec<Arc<Value>>, Revision)>> {
        self.prune();
        let cache = self.cache_for(prefix, None).await?;
        let state = cache.state.lock().unwrap_or_else(|e| e.into_inner());
        if state.valid_from == Revision::MAX {
            return Ok(None);
        }
        let items = state
            .objects
            .range(key_prefix.to_owned()..)
            .take_while(|(k, _)| k.starts_with(key_prefix))
            .map(|(_, v)| v.clone())
            .collect();
        Ok(Some((items, state.last_revision)))
    }

    /// Hands the cache of `prefix` the object the server has just written at `key` and
    /// `revision` (storage form, `resourceVersion` set), so that it need not decode the
    /// store's bytes of that write again. Nothing happens when no cache is open for `prefix`
    /// or it has already passed `revision`.
    pub fn hand_over(&self, prefix: &str, key: &str, revision: Revision, object: &Arc<Value>) {
        let Some(cache) = self
            .caches
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(prefix)
            .cloned()
        else {
            return;
        };
        let mut state = cache.state.lock().unwrap_or_else(|e| e.into_inner());
        if state.last_revision < revision && state.valid_from != Revision::MAX {
            state
                .handed
                .insert(key.to_owned(), (revision, object.clone()));
        }
    }

    /// The cached object at `key` (under the resource `prefix`), if a cache of `prefix` is
    /// open: possibly older than the store's. Upstream's `GuaranteedUpdate` takes the same
    /// first guess and retries from the store when the write finds it stale.
    pub fn get(&self, prefix: &str, key: &str) -> Option<Arc<Value>> {
        let cache = self
            .caches
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(prefix)
            .cloned()?;
        let state = cache.state.lock().unwrap_or_else(|e| e.into_inner());
        if state.valid_from == Revision::MAX {
            return None;
        }
        state.objects.get(key).cloned()
    }

    async fn direct(&self, prefix: &str, from: Revision) -> Result<EventStream> {
        let request = WatchRequest::prefix(prefix)
            .from_revision(from + 1)
            .with_prev_kv();
        let events = self.registry.store.watch(request).await?;
        Ok(events
            .map(|e| {
                e.map_err(Error::from).and_then(|e| {
                    let prev = e.prev_kv.as_ref().map(decode).transpose()?.map(Arc::new);
                    convert(&e, prev, None).map(Arc::new)
                })
            })
            .boxed())
    }

    /// The cache of `prefix`, opened if needed. A cache opened for a watch from revision
    /// `from` starts there (when the store still has it), so that watch and every other one
    /// from the same list are served by the cache instead of each by its own store watch.
    async fn cache_for(&self, prefix: &str, from: Option<Revision>) -> Result<Arc<ResourceCache>> {
        let open = || {
            self.caches
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .get(prefix)
                .cloned()
        };
        if let Some(cache) = open() {
            return Ok(cache);
        }
        let _opening = self.opening.lock().await;
        if let Some(cache) = open() {
            return Ok(cache);
        }
        let current = self.registry.store.current_revision().await?;
        let (start, initial) = match from.filter(|f| *f > 0 && *f < current) {
            Some(from) => match self.initial_state(prefix, from).await {
                Ok(initial) => (from, initial),
                Err(kernel_store::Error::Compacted { .. }) => {
                    (current, self.initial_state(prefix, current).await?)
                }
                Err(e) => return Err(e.into()),
            },
            None => (current, self.initial_state(prefix, current).await?),
        };
        let request = WatchRequest::prefix(prefix)
            .from_revision(start + 1)
            .with_prev_kv();
        let mut events = self.registry.store.watch(request).await?;
        let mut objects = BTreeMap::new();
        for kv in &initial.kvs {
            objects.insert(kv.key.clone(), Arc::new(decode(kv)?));
        }
        let (sender, _) = broadcast::channel(self.capacity.max(1024));
        let cache = Arc::new(ResourceCache {
            state: Mutex::new(CacheState {
                ring: VecDeque::new(),
                valid_from: start,
                last_revision: start,
                sender,
                objects,
                handed: HashMap::new(),
            }),
        });
        {
            let mut caches = self.caches.lock().unwrap_or_else(|e| e.into_inner());
            if let Some(existing) = caches.get(prefix) {
                return Ok(existing.clone());
            }
            caches.insert(prefix.to_owned(), cache.clone());
        }
        let task_cache = cache.clone();
        let capacity = self.capacity;
        let prefix_owned = prefix.to_owned();
        let mut stop = self.stop.subscribe();
        tokio::spawn(async move {
            loop {
                let event = tokio::select! {
                    event = events.next() => event,
                    _ = stop.changed() => None,
                };
                let Some(event) = event else { break };
                // The previous state is the cache's own copy (the task is the only writer of
                // the object map), so it is not decoded again from the store's prev_kv.
                // A put's object is the writer's own decoded copy when it handed one over.
                let event = event.map_err(Error::from).and_then(|e| {
                    let (cached, handed) = {
                        let mut state = task_cache.state.lock().unwrap_or_else(|e| e.into_inner());
                        let handed = match state.handed.remove(&e.kv.key) {
                            Some((revision, object)) if revision == e.kv.mod_revision => {
                                Some(object)
                            }
                            Some(later) if later.0 > e.kv.mod_revision => {
                                state.handed.insert(e.kv.key.clone(), later);
                                None
                            }
                            _ => None,
                        };
                        (state.objects.get(&e.kv.key).cloned(), handed)
                    };
                    let prev = match cached {
                        Some(prev) => Some(prev),
                        None => e.prev_kv.as_ref().map(decode).transpose()?.map(Arc::new),
                    };
                    let handed = handed.filter(|_| e.kind == EventKind::Put);
                    convert(&e, prev, handed)
                });
                let event = match event {
                    Ok(event) => Arc::new(event),
                    Err(error) => {
                        tracing::warn!(prefix = %prefix_owned, %error, "watch cache stopped");
                        break;
                    }
                };
                let mut state = task_cache.state.lock().unwrap_or_else(|e| e.into_inner());
                state.last_revision = event.revision;
                // An object handed over for this revision after the lookup above is stale now.
                if state
                    .handed
                    .get(&event.key)
                    .is_some_and(|(revision, _)| *revision <= event.revision)
                {
                    state.handed.remove(&event.key);
                }
                match event.kind {
                    EventType::Deleted => {
                        state.objects.remove(&event.key);
                    }
                    _ => {
                        state
                            .objects
                            .insert(event.key.clone(), event.object.clone());
                    }
                }
                state.ring.push_back(event.clone());
                while state.ring.len() > capacity {
                    if let Some(old) = state.ring.pop_front() {
                        state.valid_from = old.revision;
                    }
                }
                let _ = state.sender.send(event);
            }
            // The store watch ended: end every subscriber's stream (they re-watch) and let
            // `prune` forget this cache so the next watcher opens a fresh one.
            let mut state = task_cache.state.lock().unwrap_or_else(|e| e.into_inner());
            state.sender = broadcast::channel(1).0;
            state.valid_from = Revision::MAX;
        });
        Ok(cache)
    }

    /// Every object under `prefix` at `revision`.
    async fn initial_state(
        &self,
        prefix: &str,
        revision: Revision,
    ) -> kernel_store::Result<kernel_store::RangeResponse> {
        let range = kernel_store::RangeRequest::prefix(prefix).with_revision(revision);
        self.registry.store.range(range).await
    }

    /// Drops every cache whose store watch has ended (called before serving a watch).
    pub fn prune(&self) {
        let mut caches = self.caches.lock().unwrap_or_else(|e| e.into_inner());
        caches.retain(|_, c| Arc::strong_count(c) > 1);
    }
}

/// The cached form of a store event, given the object's previous state and, for a put, the
/// object already decoded (handed over by the writer), if any.
fn convert(
    event: &kernel_store::Event,
    prev: Option<Arc<Value>>,
    object: Option<Arc<Value>>,
) -> Result<CachedEvent> {
    match event.kind {
        EventKind::Put => Ok(CachedEvent {
            kind: if prev.is_some() {
                EventType::Modified
            } else {
                EventType::Added
            },
            revision: event.kv.mod_revision,
            key: event.kv.key.clone(),
            object: match object {
                Some(object) => object,
                None => Arc::new(decode(&event.kv)?),
            },
            prev,
            lines: Default::default(),
            stored: Some(event.kv.value.clone()),
        }),
        EventKind::Delete => {
            let mut object = prev
                .as_deref()
                .cloned()
                .unwrap_or_else(|| serde_json::json!({}));
            crate::registry::meta_mut(&mut object).insert(
                "resourceVersion".into(),
                Value::String(event.kv.mod_revision.to_string()),
            );
            Ok(CachedEvent {
                kind: EventType::Deleted,
                revision: event.kv.mod_revision,
                key: event.kv.key.clone(),
                object: Arc::new(object),
                prev,
                lines: Default::default(),
                stored: None,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn put(stored: &Value, revision: Revision) -> CachedEvent {
        let bytes = bytes::Bytes::from(serde_json::to_vec(stored).unwrap());
        let mut object = stored.clone();
        crate::registry::meta_mut(&mut object)
            .insert("resourceVersion".into(), json!(revision.to_string()));
        CachedEvent {
            kind: EventType::Added,
            revision,
            key: "/registry/x".into(),
            object: Arc::new(object),
            prev: None,
            lines: Default::default(),
            stored: Some(bytes),
        }
    }

    #[test]
    fn stored_line_is_the_object_with_its_revision() {
        // Keys sorting before `metadata` hold look-alikes of it: only the top-level one counts.
        let objects = [
            json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "a", "labels": {"x": "y"}}, "spec": {"nodeName": "n"}}),
            json!({"a": {"metadata": {"name": "inner"}}, "b": ["\"metadata\":{", {"metadata": {}}], "c": 1.5, "metadata": {}}),
            json!({"data": {"k": "v\\\"metadata\\\":{"}, "kind": "ConfigMap", "metadata": {"name": "c"}}),
        ];
        for (i, stored) in objects.iter().enumerate() {
            let event = put(stored, 40 + i as Revision);
            let line = event.stored_line("MODIFIED").expect("a line");
            assert_eq!(line.last(), Some(&b'\n'));
            let parsed: Value = serde_json::from_slice(&line).unwrap();
            assert_eq!(
                parsed,
                json!({"type": "MODIFIED", "object": *event.object}),
                "object {i}"
            );
        }
    }

    #[test]
    fn stored_line_needs_a_top_level_metadata_object() {
        assert!(put(&json!({"kind": "X"}), 3).stored_line("ADDED").is_none());
        let mut event = put(&json!({"metadata": {}}), 3);
        event.stored = Some(bytes::Bytes::from_static(b"{\"metadata\":null}"));
        assert!(event.stored_line("ADDED").is_none());
    }
}
