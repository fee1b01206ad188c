//! The strategy of a kind without behaviour of its own: every [`Strategy`] default (upstream's
//! registries that only validate object metadata, e.g. LimitRange, the reviews).

use crate::strategy::Strategy;

/// The defaults.
#[derive(Debug)]
pub(crate) struct Generic;

impl Strategy for Generic {}
