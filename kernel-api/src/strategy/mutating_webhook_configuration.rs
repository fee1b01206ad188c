//! The strategy of admissionregistration.k8s.io/v1 MutatingWebhookConfiguration
//! (`mutatingwebhookconfigurations`; not served by default): upstream's
//! `pkg/registry/admissionregistration/mutatingwebhookconfiguration/strategy.go`.

use k8s_openapi::jiff::Timestamp;
use serde_json::Value;

use super::validating_webhook_configuration::ValidatingWebhookConfiguration;
use crate::strategy::{Column, Strategy};

/// The MutatingWebhookConfiguration strategy.
#[derive(Debug)]
pub(crate) struct MutatingWebhookConfiguration;

impl Strategy for MutatingWebhookConfiguration {
    /// The columns of ValidatingWebhookConfigurations.
    fn columns(&self) -> Vec<Column> {
        ValidatingWebhookConfiguration.columns()
    }

    fn cells(&self, obj: &Value, now: Timestamp) -> Vec<Value> {
        ValidatingWebhookConfiguration.cells(obj, now)
    }
}
