//! The strategy of admissionregistration.k8s.io/v1 ValidatingWebhookConfiguration (`validatingwebhookconfigurations`; not served by default): upstream's `pkg/registry/admissionregistration/validatingwebhookconfiguration/strategy.go`.

use crate::strategy::Strategy;

/// The ValidatingWebhookConfiguration strategy.
#[derive(Debug)]
pub(crate) struct ValidatingWebhookConfiguration;

impl Strategy for ValidatingWebhookConfiguration {}
