//! The strategy of core/v1 Endpoints (`endpoints`): upstream's `pkg/registry/core/endpoint/strategy.go`.

use serde_json::Value;

use crate::defaults::default_ports_protocol;
use crate::strategy::Strategy;

/// The Endpoints strategy.
#[derive(Debug)]
pub(crate) struct Endpoints;

impl Strategy for Endpoints {
    fn defaults(&self, obj: &mut Value) {
        let Some(o) = obj.as_object_mut() else {
            return;
        };
        if let Some(Value::Array(subsets)) = o.get_mut("subsets") {
            for ss in subsets.iter_mut().filter_map(Value::as_object_mut) {
                default_ports_protocol(ss.get_mut("ports"));
            }
        }
    }
}
