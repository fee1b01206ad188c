//! The strategy of discovery.k8s.io/v1 EndpointSlice (`endpointslices`): upstream's `pkg/registry/discovery/endpointslice/strategy.go`.

use crate::strategy::Strategy;

/// The EndpointSlice strategy.
#[derive(Debug)]
pub(crate) struct EndpointSlice;

impl Strategy for EndpointSlice {}
