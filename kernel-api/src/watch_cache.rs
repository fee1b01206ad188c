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

impl EventType {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            EventType::Added => "ADDED",
            EventType::Modified => "MODIFIED",
            EventType::Deleted => "DELETED",
        }
    }
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

    /// The newest revision the cache of `prefix` has seen (for bookmarks).
    pub fn last_revision(&self, prefix: &str) -> Option<Revision> {
        let caches = self.caches.lock().unwrap_or_else(|e| e.into_inner());
        let cache = caches.get(prefix)?;
        let state = cache.state.lock().unwrap_or_else(|e| e.into_inner());
        Some(state.last_revision)
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
                    convert(&e, prev).map(Arc::new)
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
                let event = event.map_err(Error::from).and_then(|e| {
                    let cached = task_cache
                        .state
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .objects
                        .get(&e.kv.key)
                        .cloned();
                    let prev = match cached {
                        Some(prev) => Some(prev),
                        None => e.prev_kv.as_ref().map(decode).transpose()?.map(Arc::new),
                    };
                    convert(&e, prev)
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

/// The cached form of a store event, given the object's previous state.
fn convert(event: &kernel_store::Event, prev: Option<Arc<Value>>) -> Result<CachedEvent> {
    match event.kind {
        EventKind::Put => Ok(CachedEvent {
            kind: if prev.is_some() {
                EventType::Modified
            } else {
                EventType::Added
            },
            revision: event.kv.mod_revision,
            key: event.kv.key.clone(),
            object: Arc::new(decode(&event.kv)?),
            prev,
            lines: Default::default(),
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
            })
        }
    }
}
