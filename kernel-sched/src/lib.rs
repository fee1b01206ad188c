//! kernel-sched (placeholder)
