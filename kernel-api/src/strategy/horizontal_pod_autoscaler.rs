//! The strategy of autoscaling/v2 HorizontalPodAutoscaler (`horizontalpodautoscalers`): upstream's `pkg/registry/autoscaling/horizontalpodautoscaler/strategy.go`.

use crate::strategy::Strategy;

/// The HorizontalPodAutoscaler strategy.
#[derive(Debug)]
pub(crate) struct HorizontalPodAutoscaler;

impl Strategy for HorizontalPodAutoscaler {}
