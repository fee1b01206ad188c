//! The strategy of policy/v1 PodDisruptionBudget (`poddisruptionbudgets`): upstream's `pkg/registry/policy/poddisruptionbudget/strategy.go`.

use crate::strategy::Strategy;

/// The PodDisruptionBudget strategy.
#[derive(Debug)]
pub(crate) struct PodDisruptionBudget;

impl Strategy for PodDisruptionBudget {}
