//! The strategy of apps/v1 ReplicaSet (`replicasets`): upstream's `pkg/registry/apps/replicaset/strategy.go`.

use serde_json::{json, Value};

use crate::defaults::{child, default_template_in, set};
use crate::strategy::Strategy;

/// The ReplicaSet strategy.
#[derive(Debug)]
pub(crate) struct ReplicaSet;

impl Strategy for ReplicaSet {
    fn defaults(&self, obj: &mut Value) {
        let Some(o) = obj.as_object_mut() else {
            return;
        };
        let spec = child(o, "spec");
        set(spec, "replicas", json!(1));
        default_template_in(spec);
    }
}
