//! The strategy of core/v1 PodTemplate (`podtemplates`): upstream's `pkg/registry/core/podtemplate/strategy.go`.

use serde_json::Value;

use crate::defaults::{child, default_pod_template};
use crate::strategy::Strategy;
use crate::validation::{validate_pod_spec, FieldError};

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

    fn validate(&self, obj: &Value, _old: Option<&Value>) -> Vec<FieldError> {
        let mut errs = Vec::new();
        let spec = obj
            .pointer("/template/spec")
            .cloned()
            .unwrap_or(Value::Null);
        validate_pod_spec(&spec, "template.spec", &mut errs);
        errs
    }
}
