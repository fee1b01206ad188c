//! The strategy of core/v1 Node (`nodes`): upstream's `pkg/registry/core/node/strategy.go`.

use serde_json::Value;

use crate::defaults::set;
use crate::strategy::Strategy;

/// The Node strategy.
#[derive(Debug)]
pub(crate) struct Node;

impl Strategy for Node {
    fn defaults(&self, obj: &mut Value) {
        let Some(o) = obj.as_object_mut() else {
            return;
        };
        // SetDefaults_NodeStatus: allocatable defaults to capacity.
        if let Some(status) = o.get_mut("status").and_then(Value::as_object_mut) {
            if let Some(cap) = status.get("capacity").cloned() {
                set(status, "allocatable", cap);
            }
        }
    }
}
