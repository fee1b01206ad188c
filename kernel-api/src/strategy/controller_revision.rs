//! The strategy of apps/v1 ControllerRevision (`controllerrevisions`): upstream's `pkg/registry/apps/controllerrevision/strategy.go`.

use crate::strategy::Strategy;

/// The ControllerRevision strategy.
#[derive(Debug)]
pub(crate) struct ControllerRevision;

impl Strategy for ControllerRevision {}
