//! The strategy of batch/v1 CronJob (`cronjobs`): upstream's `pkg/registry/batch/cronjob/strategy.go`.

use crate::strategy::Strategy;

/// The CronJob strategy.
#[derive(Debug)]
pub(crate) struct CronJob;

impl Strategy for CronJob {}
