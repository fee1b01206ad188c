//! The scheduler's informers: for every kind it watches, one kube-runtime [`watcher`] feeding a
//! [`reflector`] store and one [`EventHandler`] called per event, all run by the same generic
//! loop, [`run`] (upstream: a shared informer per kind with `ResourceEventHandler`s, and
//! `WaitForCacheSync`).
//!
//! Work per event is the changed object's: the reflector stores (or drops) that one object and
//! the handler gets that object. Nothing is re-read or re-decoded.
//!
//! A watch the API server ends with 410 Gone (the watcher fell behind, or its resourceVersion
//! was compacted) makes kube-runtime re-list. The reflector swaps the new list in at its end;
//! objects present before the re-list and absent from it were deleted while the watch was down,
//! and the loop reports them to [`EventHandler::on_delete`], as upstream's informers deliver
//! `DeletedFinalStateUnknown` tombstones. Every listed object goes to
//! [`EventHandler::on_apply`] (upstream: `OnUpdate` for each object of a resync).

use std::fmt::Debug;
use std::hash::Hash;
use std::sync::Arc;

use futures::StreamExt;
use kube::api::Api;
use kube::runtime::reflector::{self, store::Writer, ObjectRef};
use kube::runtime::watcher::{self, Event};
use kube::runtime::WatchStreamExt;
use kube::Resource;
use serde::de::DeserializeOwned;
use tracing::{debug, warn};

/// What the scheduler does with the events of one kind.
pub(crate) trait EventHandler<K>: Send + Sync {
    /// `obj` was added or changed; also called for every object of a list or re-list.
    fn on_apply(&self, obj: K);
    /// `obj` was deleted (or found gone by a re-list).
    fn on_delete(&self, obj: &K);
    /// The first list completed: the store holds the kind (upstream `HasSynced`). Called once.
    fn on_synced(&self) {}
}

/// Runs the informer of `K` until its watch stream ends (it does not: errors are retried with
/// kube-runtime's default backoff): `api`'s watcher into the reflector `writer`, and `handler`
/// for each event (see the module docs). `kind` names the kind in logs.
pub(crate) async fn run<K, H>(api: Api<K>, writer: Writer<K>, handler: H, kind: &'static str)
where
    K: Resource + Clone + Debug + DeserializeOwned + Send + Sync + 'static,
    K::DynamicType: Default + Eq + Hash + Clone,
    H: EventHandler<K>,
{
    let store = writer.as_reader();
    let mut stream = reflector::reflector(
        writer,
        watcher::watcher(api, watcher::Config::default()).default_backoff(),
    )
    .boxed();
    let mut synced = false;
    // The store's contents when a (re-)list began, to find what it no longer has.
    let mut before_list: Vec<Arc<K>> = Vec::new();
    while let Some(ev) = stream.next().await {
        match ev {
            Ok(Event::Apply(obj)) | Ok(Event::InitApply(obj)) => handler.on_apply(obj),
            Ok(Event::Delete(obj)) => handler.on_delete(&obj),
            // The reflector keeps serving the old contents until the list is complete.
            Ok(Event::Init) => before_list = store.state(),
            Ok(Event::InitDone) => {
                let mut gone = 0;
                for old in std::mem::take(&mut before_list) {
                    let now = store.get(&ObjectRef::from_obj(&old));
                    // Gone, or deleted and recreated under the same name.
                    if now.is_none_or(|now| now.meta().uid != old.meta().uid) {
                        handler.on_delete(&old);
                        gone += 1;
                    }
                }
                if synced {
                    debug!(kind, objects = store.len(), gone, "re-listed");
                } else {
                    synced = true;
                    debug!(kind, objects = store.len(), "listed");
                    handler.on_synced();
                }
            }
            Err(e) => warn!(kind, error = %e, "watch failed; retrying"),
        }
    }
}
