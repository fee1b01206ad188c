//! The strategy of apiregistration.k8s.io/v1 APIService (`apiservices`; not served by default): upstream's `staging/src/k8s.io/kube-aggregator/pkg/registry/apiservice/strategy.go`.

use crate::strategy::Strategy;

/// The ApiService strategy.
#[derive(Debug)]
pub(crate) struct ApiService;

impl Strategy for ApiService {}
