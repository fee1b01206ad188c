//! The strategy of certificates.k8s.io/v1 CertificateSigningRequest (`certificatesigningrequests`; not served by default): upstream's `pkg/registry/certificates/certificates/strategy.go`.

use crate::strategy::Strategy;

/// The CertificateSigningRequest strategy.
#[derive(Debug)]
pub(crate) struct CertificateSigningRequest;

impl Strategy for CertificateSigningRequest {}
