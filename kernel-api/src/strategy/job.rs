//! The strategy of batch/v1 Job (`jobs`): upstream's `pkg/registry/batch/job/strategy.go`.

use crate::strategy::Strategy;

/// The Job strategy.
#[derive(Debug)]
pub(crate) struct Job;

impl Strategy for Job {}
