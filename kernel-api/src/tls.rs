//! TLS for the serving endpoint: a self-signed CA and a serving certificate generated with
//! rcgen when none is given, and a rustls server config offering HTTP/2 and HTTP/1.1 via ALPN.

use std::net::IpAddr;
use std::sync::Arc;

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair, KeyUsagePurpose, SanType};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

use crate::status::{Error, Result};

/// PEM material of the serving endpoint.
#[derive(Clone, Debug)]
pub struct TlsMaterial {
    /// The CA certificate clients trust (embedded in kubeconfigs).
    pub ca_pem: String,
    /// The serving certificate chain.
    pub cert_pem: String,
    /// The serving certificate's private key (PKCS#8).
    pub key_pem: String,
    cert_der: Vec<u8>,
    key_der: Vec<u8>,
}

impl TlsMaterial {
    /// A fresh CA (`kernel-ca`) and a serving certificate for `localhost`, `127.0.0.1`, `::1`,
    /// `kubernetes.default.svc` and the extra names and addresses given.
    pub fn generate(extra_names: &[String]) -> Result<Self> {
        let (ca_pem, ca_key_pem) = Self::generate_ca()?;
        Self::generate_signed(&ca_pem, &ca_key_pem, extra_names)
    }

    /// A fresh self-signed CA: its certificate and its private key, both PEM.
    pub fn generate_ca() -> Result<(String, String)> {
        let ca_key = KeyPair::generate().map_err(rcgen_error)?;
        let ca = ca_params()?.self_signed(&ca_key).map_err(rcgen_error)?;
        Ok((ca.pem(), ca_key.serialize_pem()))
    }

    /// A serving certificate (names as [`TlsMaterial::generate`]) signed by the CA given as
    /// PEM certificate and key (from [`TlsMaterial::generate_ca`]).
    pub fn generate_signed(ca_pem: &str, ca_key_pem: &str, extra_names: &[String]) -> Result<Self> {
        let ca_key = KeyPair::from_pem(ca_key_pem).map_err(rcgen_error)?;
        // The issuer: the CA's subject and key (what a signature and the authority key
        // identifier are made from), so the certificate chains to the CA certificate on disk.
        let issuer = ca_params()?.self_signed(&ca_key).map_err(rcgen_error)?;
        let mut names: Vec<String> = vec![
            "localhost".into(),
            "kubernetes".into(),
            "kubernetes.default".into(),
            "kubernetes.default.svc".into(),
        ];
        let mut ips: Vec<IpAddr> = vec![
            IpAddr::from([127, 0, 0, 1]),
            IpAddr::from([0u16, 0, 0, 0, 0, 0, 0, 1]),
        ];
        for extra in extra_names {
            match extra.parse::<IpAddr>() {
                Ok(ip) => ips.push(ip),
                Err(_) => names.push(extra.clone()),
            }
        }
        let mut params = CertificateParams::new(names).map_err(rcgen_error)?;
        params
            .distinguished_name
            .push(DnType::CommonName, "kube-apiserver");
        params
            .subject_alt_names
            .extend(ips.into_iter().map(SanType::IpAddress));
        let key = KeyPair::generate().map_err(rcgen_error)?;
        let cert = params
            .signed_by(&key, &issuer, &ca_key)
            .map_err(rcgen_error)?;
        Ok(TlsMaterial {
            ca_pem: ca_pem.to_owned(),
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
            cert_der: cert.der().to_vec(),
            key_der: key.serialize_der(),
        })
    }

    /// Material from PEM: the CA certificate, the serving certificate and its PKCS#8 key.
    pub fn from_pem(ca_pem: String, cert_pem: String, key_pem: String) -> Result<Self> {
        let bad = |what: &str, e: rustls::pki_types::pem::Error| {
            Error::internal(format!("reading the {what}: {e}"))
        };
        let cert_der = CertificateDer::from_pem_slice(cert_pem.as_bytes())
            .map_err(|e| bad("serving certificate", e))?
            .to_vec();
        let key_der = PrivatePkcs8KeyDer::from_pem_slice(key_pem.as_bytes())
            .map_err(|e| bad("serving key", e))?
            .secret_pkcs8_der()
            .to_vec();
        Ok(TlsMaterial {
            ca_pem,
            cert_pem,
            key_pem,
            cert_der,
            key_der,
        })
    }

    /// The rustls server configuration (ALPN `h2`, `http/1.1`).
    pub fn server_config(&self) -> Result<Arc<rustls::ServerConfig>> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| Error::internal(format!("TLS setup: {e}")))?
            .with_no_client_auth()
            .with_single_cert(
                vec![CertificateDer::from(self.cert_der.clone())],
                PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(self.key_der.clone())),
            )
            .map_err(|e| Error::internal(format!("TLS setup: {e}")))?;
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        Ok(Arc::new(config))
    }
}

fn rcgen_error(e: rcgen::Error) -> Error {
    Error::internal(format!("generating certificates: {e}"))
}

/// The CA's parameters: the same every time, so a CA key kept on disk signs as that CA.
fn ca_params() -> Result<CertificateParams> {
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).map_err(rcgen_error)?;
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "kernel-ca");
    ca_params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    Ok(ca_params)
}
