//! kernel-controllers (placeholder)
