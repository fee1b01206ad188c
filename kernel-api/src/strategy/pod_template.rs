//! The strategy of core/v1 PodTemplate (`podtemplates`): upstream's
//! `pkg/registry/core/podtemplate/strategy.go`.

use k8s_openapi::jiff::Timestamp;
use serde_json::{json, Value};

use crate::defaults::{child, default_pod_template};
use crate::strategy::{Column, Strategy};
use crate::table::{c, format_labels, layout_containers, name, name_col, string_map};
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

    fn columns(&self) -> Vec<Column> {
        vec![
            Column {
                name: "Template",
                ..name_col()
            },
            c(
                "Containers",
                "string",
                0,
                "Names of each container in the template.",
            ),
            c(
                "Images",
                "string",
                0,
                "Images referenced by each container in the template.",
            ),
            c(
                "Pod Labels",
                "string",
                0,
                "The labels for the pod template.",
            ),
        ]
    }

    fn cells(&self, obj: &Value, _now: Timestamp) -> Vec<Value> {
        let (cn, im) = layout_containers(obj, "/template/spec/containers");
        vec![
            name(obj),
            json!(cn),
            json!(im),
            json!(format_labels(&string_map(obj, "/template/metadata/labels"))),
        ]
    }
}
