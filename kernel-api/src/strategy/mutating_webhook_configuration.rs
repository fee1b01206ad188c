//! The strategy of admissionregistration.k8s.io/v1 MutatingWebhookConfiguration (`mutatingwebhookconfigurations`; not served by default): upstream's `pkg/registry/admissionregistration/mutatingwebhookconfiguration/strategy.go`.

use crate::strategy::Strategy;

/// The MutatingWebhookConfiguration strategy.
#[derive(Debug)]
pub(crate) struct MutatingWebhookConfiguration;

impl Strategy for MutatingWebhookConfiguration {}
