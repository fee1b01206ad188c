//! The strategy of core/v1 PodTemplate (`podtemplates`): upstream's `pkg/registry/core/podtemplate/strategy.go`.

use serde_json::Value;

use crate::defaults::{child, default_pod_template};
use crate::strategy::Strategy;

/// The PodTemplate strategy.
#[derive(Debug)]
pub(crate) struct PodTemplate;

impl Strategy for PodTemplate {
    fn defaults(&self, obj: &mut Value) {
        let Some(o) = obj.as_object_mut() else {
            return;
        };
        default_pod_template(child(o, "template"));
    }
}
