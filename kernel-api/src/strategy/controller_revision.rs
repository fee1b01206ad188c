//! The strategy of apps/v1 ControllerRevision (`controllerrevisions`): upstream's
//! `pkg/registry/apps/controllerrevision/strategy.go`.

use k8s_openapi::jiff::Timestamp;
use serde_json::{json, Value};

use crate::json::{arr, s};
use crate::strategy::{Column, Strategy};
use crate::table::{age, age_col, c, i, name, name_col};

/// The ControllerRevision strategy.
#[derive(Debug)]
pub(crate) struct ControllerRevision;

impl Strategy for ControllerRevision {
    fn columns(&self) -> Vec<Column> {
        vec![
            name_col(),
            c("Controller", "string", 0, "Controller of the object"),
            c(
                "Revision",
                "integer",
                0,
                "Revision indicates the revision of the state represented by Data.",
            ),
            age_col(),
        ]
    }

    fn cells(&self, obj: &Value, now: Timestamp) -> Vec<Value> {
        let controller = arr(obj, "/metadata/ownerReferences")
            .iter()
            .find(|r| r.get("controller").and_then(Value::as_bool) == Some(true))
            .map(|r| {
                let group = s(r, "/apiVersion")
                    .rsplit_once('/')
                    .map(|(g, _)| g)
                    .unwrap_or("");
                let kind = if group.is_empty() {
                    s(r, "/kind").to_string()
                } else {
                    format!("{}.{}", s(r, "/kind"), group)
                };
                format!("{}/{}", kind.to_lowercase(), s(r, "/name"))
            })
            .unwrap_or_else(|| "<none>".to_string());
        vec![
            name(obj),
            json!(controller),
            json!(i(obj, "/revision")),
            age(obj, now),
        ]
    }
}
