//! # kernel-api: the Kubernetes API server as a library (being built)
pub mod selector;
pub mod patch;
