//! The strategy of core/v1 PodTemplate (`podtemplates`): upstream's `pkg/registry/core/podtemplate/strategy.go`.

use crate::strategy::Strategy;

/// The PodTemplate strategy.
#[derive(Debug)]
pub(crate) struct PodTemplate;

impl Strategy for PodTemplate {}
