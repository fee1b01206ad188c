//! Pods held at Permit (upstream `waitingPodsMap`): when a Permit plugin answers `Wait`, the
//! pod stays assumed on its node and becomes a [`WaitingPod`] until every waiting plugin has
//! [allowed](WaitingPod::allow) it, one [rejects](WaitingPod::reject) it, or a plugin's timeout
//! expires (a rejection with `rejected due to timeout after waiting <d> at plugin <name>`).
//!
//! [`WaitingPods`] is the shared map, keyed by pod UID: the scheduler's binding cycle awaits
//! the outcome with [`WaitingPods::wait_on_permit`], and plugins reach the map through
//! [`Handle::waiting_pods`](crate::plugins::Handle::waiting_pods) (or
//! [`Framework::waiting_pods`](crate::Framework::waiting_pods)) to allow or reject pods from
//! outside the scheduling cycle (gang scheduling, quotas, ...).
//!
//! Timeouts are deadlines checked by the waiter; they run on tokio's clock, so paused-time
//! tests advance them instantly.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::sync::Notify;
use tokio::time::Instant;

use crate::framework::{Code, Status};
use crate::types::PodInfo;

/// The longest a Permit plugin may make a pod wait (upstream `maxTimeout`, 15 minutes);
/// longer timeouts are capped.
pub const MAX_PERMIT_TIMEOUT: Duration = Duration::from_secs(15 * 60);

#[derive(Debug)]
struct Inner {
    /// Plugins that have not allowed the pod yet: their timeout and its deadline.
    pending: BTreeMap<&'static str, (Duration, Instant)>,
    /// The outcome, once decided (the first decision wins).
    outcome: Option<Status>,
}

/// A pod held at Permit (upstream `framework.WaitingPod`).
pub struct WaitingPod {
    pod: Arc<PodInfo>,
    inner: Mutex<Inner>,
    decided: Notify,
}

impl fmt::Debug for WaitingPod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WaitingPod")
            .field("pod", &self.pod.key())
            .field("pending", &self.pending_plugins())
            .finish()
    }
}

impl WaitingPod {
    /// A pod waiting on `plugins`, each with its timeout (capped at [`MAX_PERMIT_TIMEOUT`]).
    pub fn new(
        pod: Arc<PodInfo>,
        plugins: impl IntoIterator<Item = (&'static str, Duration)>,
    ) -> Self {
        let now = Instant::now();
        let pending = plugins
            .into_iter()
            .map(|(name, d)| {
                let d = d.min(MAX_PERMIT_TIMEOUT);
                (name, (d, now + d))
            })
            .collect();
        WaitingPod {
            pod,
            inner: Mutex::new(Inner {
                pending,
                outcome: None,
            }),
            decided: Notify::new(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The waiting pod.
    pub fn pod(&self) -> &Arc<PodInfo> {
        &self.pod
    }

    /// The plugins that have not allowed the pod yet, by name.
    pub fn pending_plugins(&self) -> Vec<&'static str> {
        self.lock().pending.keys().copied().collect()
    }

    /// `plugin` allows the pod; once every waiting plugin has, the pod proceeds to binding.
    /// No effect once the pod was rejected.
    pub fn allow(&self, plugin: &str) {
        let mut inner = self.lock();
        inner.pending.remove(plugin);
        if inner.pending.is_empty() && inner.outcome.is_none() {
            inner.outcome = Some(Status::success());
            drop(inner);
            self.decided.notify_one();
        }
    }

    /// `plugin` rejects the pod with `message` (`Unschedulable`); the binding cycle then
    /// unreserves it and requeues it. No effect once the pod was allowed or rejected.
    pub fn reject(&self, plugin: &'static str, message: impl Into<String>) {
        let mut inner = self.lock();
        if inner.outcome.is_none() {
            inner.outcome =
                Some(Status::new(Code::Unschedulable, message.into()).with_plugin(plugin));
            drop(inner);
            self.decided.notify_one();
        }
    }

    /// Waits for the outcome, rejecting the pod when the earliest pending timeout expires.
    async fn outcome(&self) -> Status {
        loop {
            let next = {
                let inner = self.lock();
                if let Some(s) = &inner.outcome {
                    return s.clone();
                }
                inner
                    .pending
                    .iter()
                    .min_by_key(|(_, (_, deadline))| *deadline)
                    .map(|(name, (d, deadline))| (*name, *d, *deadline))
            };
            match next {
                Some((plugin, d, deadline)) => {
                    tokio::select! {
                        _ = self.decided.notified() => {}
                        _ = tokio::time::sleep_until(deadline) => {
                            // Unless allowed meanwhile (then the loop picks the next deadline).
                            if self.lock().pending.contains_key(plugin) {
                                self.reject(plugin, format!(
                                    "rejected due to timeout after waiting {} at plugin {plugin}",
                                    kernel_core::duration::format(d)
                                ));
                            }
                        }
                    }
                }
                None => self.decided.notified().await,
            }
        }
    }
}

/// The pods held at Permit, by pod UID (upstream `waitingPodsMap`). Cloning shares the map.
#[derive(Clone, Default)]
pub struct WaitingPods {
    pods: Arc<Mutex<HashMap<String, Arc<WaitingPod>>>>,
}

impl fmt::Debug for WaitingPods {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WaitingPods")
            .field("len", &self.len())
            .finish()
    }
}

impl WaitingPods {
    fn lock(&self) -> MutexGuard<'_, HashMap<String, Arc<WaitingPod>>> {
        self.pods.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Adds a waiting pod (replacing any other with the same UID).
    pub fn add(&self, wp: Arc<WaitingPod>) {
        self.lock().insert(wp.pod.uid.clone(), wp);
    }

    /// Removes the waiting pod with this UID.
    pub fn remove(&self, uid: &str) -> Option<Arc<WaitingPod>> {
        self.lock().remove(uid)
    }

    /// The waiting pod with this UID, if any.
    pub fn get_waiting_pod(&self, uid: &str) -> Option<Arc<WaitingPod>> {
        self.lock().get(uid).cloned()
    }

    /// Calls `f` on every waiting pod (on a copy of the map, so `f` may allow or reject).
    pub fn iterate_over_waiting_pods(&self, mut f: impl FnMut(&Arc<WaitingPod>)) {
        let pods: Vec<Arc<WaitingPod>> = self.lock().values().cloned().collect();
        for wp in &pods {
            f(wp);
        }
    }

    /// Rejects the waiting pod with this UID (upstream `RejectWaitingPod`: no plugin, message
    /// `removed`); whether there was one.
    pub fn reject_waiting_pod(&self, uid: &str) -> bool {
        match self.get_waiting_pod(uid) {
            Some(wp) => {
                wp.reject("", "removed");
                true
            }
            None => false,
        }
    }

    /// How many pods wait.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether no pod waits.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Waits until the pod with this UID is allowed (`Success`), rejected or timed out
    /// (`Unschedulable` with the plugin and message), then removes it from the map. A pod
    /// that is not waiting returns `Success` at once (upstream `WaitOnPermit`).
    pub async fn wait_on_permit(&self, uid: &str) -> Status {
        let Some(wp) = self.get_waiting_pod(uid) else {
            return Status::success();
        };
        struct Remove<'a>(&'a WaitingPods, &'a Arc<WaitingPod>);
        impl Drop for Remove<'_> {
            fn drop(&mut self) {
                let mut pods = self.0.lock();
                if pods
                    .get(&self.1.pod.uid)
                    .is_some_and(|p| Arc::ptr_eq(p, self.1))
                {
                    pods.remove(&self.1.pod.uid);
                }
            }
        }
        let _remove = Remove(self, &wp);
        wp.outcome().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::pod;

    fn waiting(uid: &str, plugins: &[(&'static str, u64)]) -> Arc<WaitingPod> {
        let p = Arc::new(PodInfo::new(pod(uid).uid(uid).obj()));
        Arc::new(WaitingPod::new(
            p,
            plugins.iter().map(|(n, s)| (*n, Duration::from_secs(*s))),
        ))
    }

    #[tokio::test(start_paused = true)]
    async fn allowed_by_every_plugin() {
        let map = WaitingPods::default();
        map.add(waiting("a", &[("P1", 10), ("P2", 10)]));
        let wp = map.get_waiting_pod("a").unwrap();
        assert_eq!(wp.pending_plugins(), vec!["P1", "P2"]);
        let m = map.clone();
        let waiter = tokio::spawn(async move { m.wait_on_permit("a").await });
        wp.allow("P1");
        tokio::task::yield_now().await;
        assert!(!waiter.is_finished());
        assert_eq!(wp.pending_plugins(), vec!["P2"]);
        wp.allow("P2");
        assert!(waiter.await.unwrap().is_success());
        assert!(map.is_empty());
        // A pod that is not waiting passes.
        assert!(map.wait_on_permit("other").await.is_success());
    }

    #[tokio::test(start_paused = true)]
    async fn timeout_and_cap() {
        let map = WaitingPods::default();
        map.add(waiting("a", &[("Slow", 3600), ("Fast", 2)]));
        map.get_waiting_pod("a").unwrap().allow("Fast");
        let started = Instant::now();
        let s = map.wait_on_permit("a").await;
        assert_eq!(started.elapsed(), MAX_PERMIT_TIMEOUT);
        assert_eq!(s.code(), Code::Unschedulable);
        assert_eq!(s.plugin(), "Slow");
        assert_eq!(
            s.message(),
            "rejected due to timeout after waiting 15m0s at plugin Slow"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn first_decision_wins_and_iteration() {
        let map = WaitingPods::default();
        map.add(waiting("a", &[("P", 10)]));
        map.add(waiting("b", &[("P", 10)]));
        let mut seen = Vec::new();
        map.iterate_over_waiting_pods(|wp| {
            seen.push(wp.pod().uid.clone());
            wp.reject("P", "no");
            wp.allow("P");
        });
        seen.sort();
        assert_eq!(seen, vec!["a", "b"]);
        let s = map.wait_on_permit("a").await;
        assert_eq!(
            (s.code(), s.plugin(), s.message()),
            (Code::Unschedulable, "P", "no".into())
        );
        assert_eq!(map.len(), 1);
        assert!(map.reject_waiting_pod("b"));
        assert!(!map.reject_waiting_pod("zzz"));
    }
}
