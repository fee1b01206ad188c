//! The strategy of apps/v1 Deployment (`deployments`): upstream's `pkg/registry/apps/deployment/strategy.go`.

use crate::strategy::Strategy;

/// The Deployment strategy.
#[derive(Debug)]
pub(crate) struct Deployment;

impl Strategy for Deployment {}
