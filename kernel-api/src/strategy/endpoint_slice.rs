//! The strategy of discovery.k8s.io/v1 EndpointSlice (`endpointslices`): upstream's `pkg/registry/discovery/endpointslice/strategy.go`.

use serde_json::Value;

use crate::defaults::default_ports_protocol;
use crate::strategy::Strategy;

/// The EndpointSlice strategy.
#[derive(Debug)]
pub(crate) struct EndpointSlice;

impl Strategy for EndpointSlice {
    fn defaults(&self, obj: &mut Value) {
        let Some(o) = obj.as_object_mut() else {
            return;
        };
        default_ports_protocol(o.get_mut("ports"));
    }
}
