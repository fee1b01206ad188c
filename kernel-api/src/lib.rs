//! kernel-api (placeholder)
