//! The API server's connection to a kubelet: TLS (rustls) with upstream's defaults — the
//! serving certificate is not verified unless a kubelet CA is configured
//! (`--kubelet-certificate-authority`), a client certificate is presented when configured
//! (`--kubelet-client-certificate` / `--kubelet-client-key`) — and one HTTP/1.1 connection per
//! request, upgradable.

use std::fmt;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::Full;
use hyper::body::Incoming;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;

use super::KubeletClientConfig;
use crate::status::{Error, Result};

/// Where a kubelet (or another port of a node, for `nodes/{name}:{port}/proxy`) listens.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Target {
    /// True for `https` (the kubelet's own port), false for `http`.
    pub(crate) https: bool,
    /// The node address (an IP, or a name).
    pub(crate) host: String,
    /// The port.
    pub(crate) port: u16,
}

impl Target {
    /// `host:port`, IPv6 addresses bracketed (Go's `net.JoinHostPort`).
    pub(crate) fn authority(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }

    /// `https://host:port` followed by `path_and_query`, for messages.
    pub(crate) fn url(&self, path_and_query: &str) -> String {
        let scheme = if self.https { "https" } else { "http" };
        format!("{scheme}://{}{path_and_query}", self.authority())
    }
}

/// Why a request did not reach the kubelet, worded as Go's net and tls packages word it
/// (`dial tcp 10.0.0.1:10250: connect: connection refused`), since upstream's messages embed it.
#[derive(Debug)]
pub(crate) enum ForwardError {
    /// TCP connect or TLS handshake failed.
    Dial(String),
    /// The connection was made, but sending the request or reading the response head failed.
    Send(String),
}

impl fmt::Display for ForwardError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ForwardError::Dial(m) | ForwardError::Send(m) => f.write_str(m),
        }
    }
}

/// Streams the proxy can speak HTTP over.
trait Io: AsyncRead + AsyncWrite + Unpin + Send + 'static {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send + 'static> Io for T {}

/// The kubelet client built from a [`KubeletClientConfig`].
pub(crate) struct KubeletClient {
    /// TLS as configured (verifying when a CA is set).
    tls: tokio_rustls::TlsConnector,
    /// TLS without verification, for `insecureSkipTLSVerifyBackend=true` on `pods/log`.
    insecure: tokio_rustls::TlsConnector,
    /// Dial and TLS handshake timeout (upstream `--kubelet-timeout`, 5 s).
    timeout: Duration,
    /// The port used when a node publishes none (upstream `--kubelet-port`); `None`: an error.
    pub(crate) default_port: Option<u16>,
}

impl fmt::Debug for KubeletClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KubeletClient")
            .field("timeout", &self.timeout)
            .field("default_port", &self.default_port)
            .finish_non_exhaustive()
    }
}

impl KubeletClient {
    /// Builds the TLS configurations; fails on unreadable PEM.
    pub(crate) fn new(config: &KubeletClientConfig) -> Result<Self> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let any: Arc<dyn ServerCertVerifier> = Arc::new(AcceptAnyServerCert(provider.clone()));
        let verifier = match &config.ca_pem {
            None => any.clone(),
            Some(ca) => {
                let mut roots = rustls::RootCertStore::empty();
                for cert in CertificateDer::pem_slice_iter(ca.as_bytes()) {
                    let cert = cert.map_err(|e| setup(format!("reading the kubelet CA: {e}")))?;
                    roots
                        .add(cert)
                        .map_err(|e| setup(format!("reading the kubelet CA: {e}")))?;
                }
                let verifier = rustls::client::WebPkiServerVerifier::builder_with_provider(
                    Arc::new(roots),
                    provider.clone(),
                )
                .build()
                .map_err(|e| setup(format!("the kubelet CA: {e}")))?;
                verifier as Arc<dyn ServerCertVerifier>
            }
        };
        let client_auth = match (&config.client_cert_pem, &config.client_key_pem) {
            (Some(cert), Some(key)) => {
                let chain = CertificateDer::pem_slice_iter(cert.as_bytes())
                    .collect::<std::result::Result<Vec<_>, _>>()
                    .map_err(|e| setup(format!("reading the kubelet client certificate: {e}")))?;
                let key = PrivateKeyDer::from_pem_slice(key.as_bytes())
                    .map_err(|e| setup(format!("reading the kubelet client key: {e}")))?;
                Some((chain, key))
            }
            (None, None) => None,
            _ => {
                return Err(setup(
                    "a kubelet client certificate needs both its certificate and its key",
                ))
            }
        };
        let build = |verifier: Arc<dyn ServerCertVerifier>| -> Result<tokio_rustls::TlsConnector> {
            let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
                .with_safe_default_protocol_versions()
                .map_err(|e| setup(format!("kubelet client TLS: {e}")))?
                .dangerous()
                .with_custom_certificate_verifier(verifier);
            let mut tls = match &client_auth {
                Some((chain, key)) => builder
                    .with_client_auth_cert(chain.clone(), key.clone_key())
                    .map_err(|e| setup(format!("kubelet client certificate: {e}")))?,
                None => builder.with_no_client_auth(),
            };
            // Upgrades (exec, attach, port-forward) need HTTP/1.1.
            tls.alpn_protocols = vec![b"http/1.1".to_vec()];
            Ok(tokio_rustls::TlsConnector::from(Arc::new(tls)))
        };
        Ok(KubeletClient {
            tls: build(verifier)?,
            insecure: build(any)?,
            timeout: config.timeout,
            default_port: config.default_port,
        })
    }

    /// Opens a connection to `target` (TCP, then TLS for https).
    async fn dial(
        &self,
        target: &Target,
        skip_verify: bool,
    ) -> std::result::Result<Box<dyn Io>, ForwardError> {
        let authority = target.authority();
        let connect = TcpStream::connect((target.host.as_str(), target.port));
        let tcp = match tokio::time::timeout(self.timeout, connect).await {
            Err(_) => {
                return Err(ForwardError::Dial(format!(
                    "dial tcp {authority}: i/o timeout"
                )))
            }
            Ok(Err(e)) => {
                return Err(ForwardError::Dial(format!(
                    "dial tcp {authority}: {}",
                    go_net_error(&e)
                )))
            }
            Ok(Ok(tcp)) => tcp,
        };
        let _ = tcp.set_nodelay(true);
        if !target.https {
            return Ok(Box::new(tcp));
        }
        let name = match target.host.parse::<IpAddr>() {
            Ok(ip) => ServerName::IpAddress(ip.into()),
            Err(_) => ServerName::try_from(target.host.clone()).map_err(|e| {
                ForwardError::Dial(format!("tls: invalid server name {:?}: {e}", target.host))
            })?,
        };
        let connector = if skip_verify {
            &self.insecure
        } else {
            &self.tls
        };
        match tokio::time::timeout(self.timeout, connector.connect(name, tcp)).await {
            Err(_) => Err(ForwardError::Dial("net/http: TLS handshake timeout".into())),
            Ok(Err(e)) => Err(ForwardError::Dial(format!("tls: {e}"))),
            Ok(Ok(tls)) => Ok(Box::new(tls)),
        }
    }

    /// Sends `request` (origin-form URI, `Host` set by the caller) to `target` on a new
    /// connection and returns the response head; its body streams from the kubelet as it comes.
    /// With `upgrade`, the connection stays usable after a `101 Switching Protocols`
    /// (`hyper::upgrade::on` on the response).
    pub(crate) async fn send(
        &self,
        target: &Target,
        request: Request<Full<Bytes>>,
        upgrade: bool,
        skip_verify: bool,
    ) -> std::result::Result<Response<Incoming>, ForwardError> {
        let io = self.dial(target, skip_verify).await?;
        let io = hyper_util::rt::TokioIo::new(io);
        let (mut sender, connection) = hyper::client::conn::http1::handshake(io)
            .await
            .map_err(|e| ForwardError::Send(format!("error sending request: {e}")))?;
        let peer = target.authority();
        if upgrade {
            tokio::spawn(async move {
                if let Err(e) = connection.with_upgrades().await {
                    tracing::debug!(kubelet = %peer, error = %e, "kubelet connection ended");
                }
            });
        } else {
            tokio::spawn(async move {
                if let Err(e) = connection.await {
                    tracing::debug!(kubelet = %peer, error = %e, "kubelet connection ended");
                }
            });
        }
        sender
            .send_request(request)
            .await
            .map_err(|e| ForwardError::Send(go_http_error(&e)))
    }
}

/// What Go's `net` package says for a failed connect.
fn go_net_error(e: &std::io::Error) -> String {
    use std::io::ErrorKind::*;
    match e.kind() {
        ConnectionRefused => "connect: connection refused".into(),
        ConnectionReset => "connect: connection reset by peer".into(),
        TimedOut => "i/o timeout".into(),
        HostUnreachable => "connect: no route to host".into(),
        NetworkUnreachable => "connect: network is unreachable".into(),
        _ => format!("connect: {e}"),
    }
}

/// What Go's HTTP client says when a request fails on an open connection.
fn go_http_error(e: &hyper::Error) -> String {
    if e.is_incomplete_message() || e.is_closed() {
        "EOF".into()
    } else {
        e.to_string()
    }
}

fn setup(message: impl Into<String>) -> Error {
    Error::internal(message.into())
}

/// Accepts any serving certificate (upstream's default without
/// `--kubelet-certificate-authority`), still checking that the handshake is signed by the key of
/// the certificate presented.
#[derive(Debug)]
struct AcceptAnyServerCert(Arc<CryptoProvider>);

impl ServerCertVerifier for AcceptAnyServerCert {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> std::result::Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}
