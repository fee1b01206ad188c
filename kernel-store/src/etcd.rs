//! [`EtcdStore`]: the production backend, a real etcd v3 cluster over gRPC.
//! (Being written: see the module's final version.)

use std::time::Duration;

/// TLS settings for talking to etcd.
#[derive(Clone, Debug, Default)]
pub struct EtcdTls {
    /// PEM CA bundle that signs etcd's serving certificate.
    pub ca_pem: Vec<u8>,
    /// PEM client certificate and key, for etcd's `--client-cert-auth`.
    pub identity: Option<(Vec<u8>, Vec<u8>)>,
    /// Server name to verify, if it differs from the endpoint host.
    pub domain: Option<String>,
}

/// How to reach etcd.
#[derive(Clone, Debug)]
pub struct EtcdConfig {
    /// Endpoints such as `http://127.0.0.1:2379`.
    pub endpoints: Vec<String>,
    /// Prefix prepended to every key (default `/registry`)...
    pub prefix: String,
    /// TLS, if the endpoints are `https://`.
    pub tls: Option<EtcdTls>,
    /// Connect timeout.
    pub connect_timeout: Duration,
}

/// A store backed by etcd.
#[derive(Clone, Debug)]
pub struct EtcdStore {}
