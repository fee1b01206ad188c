//! The strategy of core/v1 Secret (`secrets`): upstream's `pkg/registry/core/secret/strategy.go`.

use serde_json::{json, Value};

use crate::defaults::set;
use crate::strategy::Strategy;

/// The Secret strategy.
#[derive(Debug)]
pub(crate) struct Secret;

impl Strategy for Secret {
    fn defaults(&self, obj: &mut Value) {
        let Some(o) = obj.as_object_mut() else {
            return;
        };
        set(o, "type", json!("Opaque"));
    }
}
