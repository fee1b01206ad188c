//! Counters with upstream's metric names, rendered in the Prometheus text format.

use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};

/// Scheduler counters (`scheduler_*` as upstream).
#[derive(Debug, Default)]
pub struct Metrics {
    /// `scheduler_schedule_attempts_total{result="scheduled"}`.
    pub scheduled: AtomicU64,
    /// `scheduler_schedule_attempts_total{result="unschedulable"}`.
    pub unschedulable: AtomicU64,
    /// `scheduler_schedule_attempts_total{result="error"}`.
    pub error: AtomicU64,
    /// `scheduler_preemption_attempts_total`.
    pub preemption_attempts: AtomicU64,
    /// `scheduler_preemption_victims` (sum).
    pub preemption_victims: AtomicU64,
    /// Sum of scheduling-cycle durations in microseconds (for the average).
    pub scheduling_micros: AtomicU64,
}

impl Metrics {
    /// Adds one to a counter.
    pub fn inc(c: &AtomicU64) {
        c.fetch_add(1, Ordering::Relaxed);
    }

    /// The Prometheus text exposition.
    pub fn render(&self) -> String {
        let g = |c: &AtomicU64| c.load(Ordering::Relaxed);
        let mut s = String::new();
        let _ = writeln!(s, "# TYPE scheduler_schedule_attempts_total counter");
        for (result, v) in [
            ("scheduled", g(&self.scheduled)),
            ("unschedulable", g(&self.unschedulable)),
            ("error", g(&self.error)),
        ] {
            let _ = writeln!(s, "scheduler_schedule_attempts_total{{profile=\"default-scheduler\",result=\"{result}\"}} {v}");
        }
        let _ = writeln!(s, "# TYPE scheduler_preemption_attempts_total counter");
        let _ = writeln!(
            s,
            "scheduler_preemption_attempts_total {}",
            g(&self.preemption_attempts)
        );
        let _ = writeln!(s, "# TYPE scheduler_preemption_victims_total counter");
        let _ = writeln!(
            s,
            "scheduler_preemption_victims_total {}",
            g(&self.preemption_victims)
        );
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_upstream_names() {
        let m = Metrics::default();
        Metrics::inc(&m.scheduled);
        Metrics::inc(&m.scheduled);
        let text = m.render();
        assert!(text.contains("scheduler_schedule_attempts_total{profile=\"default-scheduler\",result=\"scheduled\"} 2"));
        assert!(text.contains("result=\"unschedulable\"} 0"));
    }
}
