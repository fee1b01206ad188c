//! Per-key exponential back-off: upstream's `client-go/util/flowcontrol.Backoff` as the
//! kubelet uses it for CrashLoopBackOff (keyed by pod and container) and ImagePullBackOff
//! (keyed by pod and image), without the jitter.

use std::collections::HashMap;
use std::time::{Duration, Instant};

#[derive(Clone, Copy, Debug)]
struct Entry {
    backoff: Duration,
    last_update: Instant,
}

/// Delays that double from `initial` up to `max`; an entry untouched for `2 * max` starts
/// over at `initial` (upstream's `hasExpired`).
#[derive(Debug)]
pub(crate) struct Backoff {
    initial: Duration,
    max: Duration,
    entries: HashMap<String, Entry>,
}

impl Backoff {
    pub(crate) fn new(initial: Duration, max: Duration) -> Backoff {
        Backoff {
            initial,
            max: max.max(initial),
            entries: HashMap::new(),
        }
    }

    fn expired(&self, event: Instant, last_update: Instant) -> bool {
        event.saturating_duration_since(last_update) > self.max * 2
    }

    /// `IsInBackOffSince`: how long is left of the back-off counted from `event` (when the
    /// container ended), `None` when not in back-off.
    pub(crate) fn remaining_since(&self, key: &str, event: Instant) -> Option<Duration> {
        let entry = self.entries.get(key)?;
        if self.expired(event, entry.last_update) {
            return None;
        }
        let elapsed = event.elapsed();
        (elapsed < entry.backoff).then(|| entry.backoff - elapsed)
    }

    /// `IsInBackOffSinceUpdate`: how long is left counted from the last [`Backoff::next`].
    pub(crate) fn remaining_since_update(&self, key: &str) -> Option<Duration> {
        let entry = self.entries.get(key)?;
        let elapsed = entry.last_update.elapsed();
        if elapsed > self.max * 2 {
            return None;
        }
        (elapsed < entry.backoff).then(|| entry.backoff - elapsed)
    }

    /// `Next`: records a failure at `event`, doubling the delay (or starting at `initial`).
    pub(crate) fn next(&mut self, key: &str, event: Instant) {
        let backoff = match self.entries.get(key) {
            Some(entry) if !self.expired(event, entry.last_update) => {
                (entry.backoff * 2).min(self.max)
            }
            _ => self.initial,
        };
        self.entries.insert(
            key.to_owned(),
            Entry {
                backoff,
                last_update: Instant::now(),
            },
        );
    }

    /// The current delay of `key`, if it has one.
    pub(crate) fn current(&self, key: &str) -> Option<Duration> {
        self.entries.get(key).map(|e| e.backoff)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_up_to_the_max() {
        let mut b = Backoff::new(Duration::from_secs(10), Duration::from_secs(300));
        let now = Instant::now();
        assert_eq!(b.remaining_since("c", now), None);
        b.next("c", now);
        assert_eq!(b.current("c"), Some(Duration::from_secs(10)));
        assert!(b.remaining_since("c", now).is_some());
        for _ in 0..10 {
            b.next("c", now);
        }
        assert_eq!(b.current("c"), Some(Duration::from_secs(300)));
        assert!(b.remaining_since_update("c").is_some());
        assert_eq!(b.current("other"), None);
    }
}
