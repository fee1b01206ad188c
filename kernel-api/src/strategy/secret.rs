//! The strategy of core/v1 Secret (`secrets`): upstream's `pkg/registry/core/secret/strategy.go`.

use crate::strategy::Strategy;

/// The Secret strategy.
#[derive(Debug)]
pub(crate) struct Secret;

impl Strategy for Secret {}
