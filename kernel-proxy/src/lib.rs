//! kernel-proxy (placeholder)
