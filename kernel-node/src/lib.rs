//! kernel-node (placeholder)
