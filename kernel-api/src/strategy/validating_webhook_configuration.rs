//! The strategy of admissionregistration.k8s.io/v1 ValidatingWebhookConfiguration
//! (`validatingwebhookconfigurations`; not served by default): upstream's
//! `pkg/registry/admissionregistration/validatingwebhookconfiguration/strategy.go`.

use k8s_openapi::jiff::Timestamp;
use serde_json::{json, Value};

use crate::json::arr;
use crate::strategy::{Column, Strategy};
use crate::table::{age, age_col, c, name, name_col};

/// The ValidatingWebhookConfiguration strategy.
#[derive(Debug)]
pub(crate) struct ValidatingWebhookConfiguration;

impl Strategy for ValidatingWebhookConfiguration {
    fn columns(&self) -> Vec<Column> {
        vec![
            name_col(),
            c(
                "Webhooks",
                "integer",
                0,
                "Webhooks is a list of webhooks and the affected resources and operations.",
            ),
            age_col(),
        ]
    }

    fn cells(&self, obj: &Value, now: Timestamp) -> Vec<Value> {
        vec![name(obj), json!(arr(obj, "/webhooks").len()), age(obj, now)]
    }
}
