//! [`EtcdStore`]: the production backend, a real etcd v3 cluster over gRPC.
//!
//! The module holds the configuration ([`EtcdConfig`], [`EtcdTls`]), the store itself (the KV,
//! Lease and compaction calls, key prefixing, error mapping) and, in submodules, the hand-declared
//! etcd messages (`etcd/proto.rs`, no `protoc` needed) and the reconnecting watch
//! (`etcd/watch.rs`).
//!
//! How the store's contract maps onto etcd is told on [`EtcdStore`].

mod proto;
mod watch;

use std::sync::atomic::{AtomicI64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use http::uri::PathAndQuery;
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint, Identity};
use tonic::{Code, Status};
use tonic_prost::ProstCodec;

use crate::{
    check_key, check_txn, Compare, CompareResult, CompareTarget, Error, KeyValue, LeaseId,
    RangeRequest, RangeResponse, Result, Revision, Store, Txn, TxnOp, TxnOpResponse, TxnResponse,
    Watch, WatchRequest, WatchStream, MAX_REQUEST_BYTES,
};

/// etcd's message for a read or watch below the compacted revision.
const ERR_COMPACTED: &str = "required revision has been compacted";
/// etcd's message for a read or compaction above the current revision.
const ERR_FUTURE: &str = "required revision is a future revision";
/// etcd's message for an unknown lease.
const ERR_LEASE_NOT_FOUND: &str = "requested lease not found";

/// etcd's message for a request over `--max-request-bytes`.
const ERR_TOO_LARGE: &str = "request is too large";

/// Pause before retrying a failed call on another endpoint.
const RETRY_PAUSE: Duration = Duration::from_millis(100);

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

impl EtcdTls {
    /// Trusts the CA bundle `ca_pem` (PEM) for etcd's serving certificate.
    pub fn new(ca_pem: impl Into<Vec<u8>>) -> Self {
        EtcdTls {
            ca_pem: ca_pem.into(),
            ..Default::default()
        }
    }

    /// Presents a client certificate and key (both PEM).
    pub fn with_identity(
        mut self,
        cert_pem: impl Into<Vec<u8>>,
        key_pem: impl Into<Vec<u8>>,
    ) -> Self {
        self.identity = Some((cert_pem.into(), key_pem.into()));
        self
    }

    /// Verifies the server certificate against `domain` instead of the endpoint host.
    pub fn with_domain(mut self, domain: impl Into<String>) -> Self {
        self.domain = Some(domain.into());
        self
    }

    fn client_config(&self) -> ClientTlsConfig {
        let mut config = ClientTlsConfig::new();
        if self.ca_pem.is_empty() {
            config = config.with_native_roots();
        } else {
            config = config.ca_certificate(Certificate::from_pem(&self.ca_pem));
        }
        if let Some((cert, key)) = &self.identity {
            config = config.identity(Identity::from_pem(cert, key));
        }
        if let Some(domain) = &self.domain {
            config = config.domain_name(domain.clone());
        }
        config
    }
}

/// How to reach etcd.
///
/// ```
/// use kernel_store::EtcdConfig;
///
/// let config = EtcdConfig::new(["http://10.0.0.1:2379", "http://10.0.0.2:2379"])
///     .with_prefix("/kube");
/// assert_eq!(config.prefix, "/kube");
/// ```
#[derive(Clone, Debug)]
pub struct EtcdConfig {
    /// Endpoints such as `http://127.0.0.1:2379` (`https://` with [`EtcdConfig::tls`]). A bare
    /// `host:port` gets `http://`, or `https://` when TLS is set. They are tried in order; calls
    /// fail over to the next one when the current one is unavailable.
    pub endpoints: Vec<String>,
    /// Prefix prepended to every key; results have it stripped. Default: empty.
    ///
    /// kernel-api already keeps its objects under `/registry/<resource>/…` (upstream's
    /// `--etcd-prefix=/registry` layout) in every backend, so the etcd keys it writes match
    /// upstream's exactly with no prefix here. Set one to keep several clusters (or test runs)
    /// apart in one etcd.
    pub prefix: String,
    /// TLS, if the endpoints are `https://`.
    pub tls: Option<EtcdTls>,
    /// Connect timeout per endpoint (default 5 s).
    pub connect_timeout: Duration,
}

impl Default for EtcdConfig {
    fn default() -> Self {
        EtcdConfig {
            endpoints: vec!["http://127.0.0.1:2379".to_owned()],
            prefix: String::new(),
            tls: None,
            connect_timeout: Duration::from_secs(5),
        }
    }
}

impl EtcdConfig {
    /// The default configuration with these endpoints.
    pub fn new(endpoints: impl IntoIterator<Item = impl Into<String>>) -> Self {
        EtcdConfig {
            endpoints: endpoints.into_iter().map(Into::into).collect(),
            ..Default::default()
        }
    }

    /// Sets the key prefix.
    pub fn with_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// Talks TLS to the endpoints.
    pub fn with_tls(mut self, tls: EtcdTls) -> Self {
        self.tls = Some(tls);
        self
    }

    /// Sets the connect timeout.
    pub fn with_connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }
}

/// A store backed by an etcd v3 cluster (etcd 3.4 or newer).
///
/// Cloning is cheap and shares the connections.
///
/// # Mapping to etcd
/// - A store key `k` is the etcd key `prefix + k`; results strip the prefix again. Ranges by
///   prefix use etcd's `range_end` = prefix with its last byte incremented.
/// - Revisions are etcd's own: global to the etcd cluster, so they may jump by more than one
///   between two writes of this store (other prefixes, other clients).
/// - A transaction's `Put` result is built locally, since etcd's `PutResponse` carries only the
///   previous key-value: `create_revision` is the previous one (or the transaction's revision),
///   `version` is the previous one plus one (or 1), `mod_revision` the transaction's revision.
/// - etcd has no call that returns the compacted revision. [`Store::compacted_revision`] reads at
///   revision 1; if that is compacted, it opens a watch from revision 1, which etcd cancels with
///   the exact compacted revision.
/// - gRPC `Unavailable` and other transport failures become [`Error::Backend`]. Reads are retried
///   on the next endpoint; writes only when the request certainly did not leave the client
///   (connection refused), so a write is never applied twice.
/// - Each [`Watch::watch`] opens its own gRPC watch stream (no multiplexing), served by a tokio
///   task that reopens it from the last delivered revision + 1 when the connection breaks.
///
/// ```no_run
/// use kernel_store::{EtcdConfig, EtcdStore, Store};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> kernel_store::Result<()> {
/// let store = EtcdStore::connect(EtcdConfig::new(["http://127.0.0.1:2379"])).await?;
/// let revision = store.current_revision().await?;
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct EtcdStore {
    inner: Arc<Inner>,
}

/// What the store and its watch tasks share.
struct Inner {
    endpoints: Vec<String>,
    /// One (lazily connecting) channel per endpoint.
    channels: Vec<Channel>,
    /// The endpoint calls go to.
    current: AtomicUsize,
    prefix: String,
    /// The highest compacted revision seen (a cache; etcd is the authority).
    compacted: AtomicI64,
}

impl std::fmt::Debug for EtcdStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EtcdStore")
            .field("endpoints", &self.inner.endpoints)
            .field("prefix", &self.inner.prefix)
            .finish_non_exhaustive()
    }
}

// === impl EtcdStore ===

impl EtcdStore {
    /// Connects to the first endpoint that answers a read within the connect timeout.
    /// Fails with [`Error::Backend`] if none does.
    pub async fn connect(config: EtcdConfig) -> Result<EtcdStore> {
        if config.endpoints.is_empty() {
            return Err(Error::InvalidArgument("no etcd endpoints given".into()));
        }
        let tls = config.tls.as_ref().map(EtcdTls::client_config);
        let mut endpoints = Vec::new();
        let mut channels = Vec::new();
        for url in &config.endpoints {
            let url = if url.contains("://") {
                url.clone()
            } else if tls.is_some() {
                format!("https://{url}")
            } else {
                format!("http://{url}")
            };
            let mut endpoint = Endpoint::from_shared(url.clone())
                .map_err(|e| Error::InvalidArgument(format!("etcd endpoint {url:?}: {e}")))?
                .connect_timeout(config.connect_timeout)
                .tcp_nodelay(true)
                .http2_keep_alive_interval(Duration::from_secs(10))
                .keep_alive_timeout(Duration::from_secs(5))
                .keep_alive_while_idle(true);
            if url.starts_with("https://") {
                let tls = tls
                    .clone()
                    .unwrap_or_else(|| ClientTlsConfig::new().with_native_roots());
                endpoint = endpoint
                    .tls_config(tls)
                    .map_err(|e| Error::InvalidArgument(format!("etcd TLS for {url}: {e}")))?;
            }
            channels.push(endpoint.connect_lazy());
            endpoints.push(url);
        }
        let inner = Inner {
            endpoints,
            channels,
            current: AtomicUsize::new(0),
            prefix: config.prefix,
            compacted: AtomicI64::new(0),
        };
        let mut failures = Vec::new();
        for index in 0..inner.channels.len() {
            let probe = RangeRequestPb {
                key: inner.probe_key(),
                count_only: true,
                ..Default::default()
            };
            let attempt = tokio::time::timeout(
                config.connect_timeout,
                unary::<_, proto::RangeResponse>(&inner.channels[index], KV_RANGE, probe),
            )
            .await;
            match attempt {
                Ok(Ok(_)) => {
                    inner.current.store(index, Ordering::Relaxed);
                    return Ok(EtcdStore {
                        inner: Arc::new(inner),
                    });
                }
                Ok(Err(status)) => {
                    failures.push(format!("{}: {}", inner.endpoints[index], status.message()))
                }
                Err(_) => failures.push(format!("{}: timed out", inner.endpoints[index])),
            }
        }
        Err(Error::Backend(format!(
            "no etcd endpoint answered: {}",
            failures.join("; ")
        )))
    }

    /// The key prefix of this store.
    pub fn prefix(&self) -> &str {
        &self.inner.prefix
    }

    /// The endpoint calls currently go to.
    pub fn current_endpoint(&self) -> &str {
        &self.inner.endpoints[self.inner.current.load(Ordering::Relaxed)]
    }
}

type RangeRequestPb = proto::RangeRequest;

const KV_RANGE: &str = "/etcdserverpb.KV/Range";
const KV_TXN: &str = "/etcdserverpb.KV/Txn";
const KV_COMPACT: &str = "/etcdserverpb.KV/Compact";
const LEASE_GRANT: &str = "/etcdserverpb.Lease/LeaseGrant";
const LEASE_REVOKE: &str = "/etcdserverpb.Lease/LeaseRevoke";
const LEASE_KEEP_ALIVE: &str = "/etcdserverpb.Lease/LeaseKeepAlive";
const WATCH: &str = "/etcdserverpb.Watch/Watch";

/// Whether a call may be sent again after an `Unavailable` failure.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Retry {
    /// Reads: always (repeating them is harmless).
    Always,
    /// Writes: only if the request never left the client.
    IfUnsent,
}

// === impl Inner ===

impl Inner {
    /// The channel of the current endpoint and its index.
    fn channel(&self) -> (usize, Channel) {
        let index = self.current.load(Ordering::Relaxed);
        (index, self.channels[index].clone())
    }

    /// Moves to the endpoint after `failed` (unless another caller already moved on).
    fn failover(&self, failed: usize) {
        let next = (failed + 1) % self.channels.len();
        if next != failed
            && self
                .current
                .compare_exchange(failed, next, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
        {
            tracing::warn!(from = %self.endpoints[failed], to = %self.endpoints[next], "etcd endpoint unavailable, failing over");
        }
    }

    /// One unary call with failover: tries each endpoint once (and the first one again, to ride
    /// over a reconnect), as `retry` allows.
    async fn call<Req, Resp>(
        &self,
        path: &'static str,
        request: Req,
        retry: Retry,
    ) -> Result<Resp, Status>
    where
        Req: prost::Message + Clone + 'static,
        Resp: prost::Message + Default + 'static,
    {
        let attempts = self.channels.len() + 1;
        let mut attempt = 0;
        loop {
            attempt += 1;
            let (index, channel) = self.channel();
            match unary(&channel, path, request.clone()).await {
                Ok(response) => return Ok(response),
                Err(status) if is_transport_failure(&status) => {
                    self.failover(index);
                    let may_retry = retry == Retry::Always || is_unsent(&status);
                    if !may_retry || attempt >= attempts {
                        return Err(status);
                    }
                    tracing::debug!(%status, path, "retrying etcd call");
                    tokio::time::sleep(RETRY_PAUSE).await;
                }
                Err(status) => return Err(status),
            }
        }
    }

    fn full_key(&self, key: &str) -> Vec<u8> {
        let mut full = Vec::with_capacity(self.prefix.len() + key.len());
        full.extend_from_slice(self.prefix.as_bytes());
        full.extend_from_slice(key.as_bytes());
        full
    }

    /// A key of this store's prefix to aim cheap reads at.
    fn probe_key(&self) -> Vec<u8> {
        if self.prefix.is_empty() {
            b"\0".to_vec()
        } else {
            self.prefix.as_bytes().to_vec()
        }
    }

    fn strip(&self, key: Vec<u8>) -> Result<String> {
        let key = String::from_utf8(key)
            .map_err(|e| Error::backend(format!("etcd key is not UTF-8: {e}")))?;
        match key.strip_prefix(self.prefix.as_str()) {
            Some(rest) => Ok(rest.to_owned()),
            None => Err(Error::backend(format!(
                "etcd key {key:?} lies outside prefix {:?}",
                self.prefix
            ))),
        }
    }

    fn key_value(&self, kv: proto::KeyValue) -> Result<KeyValue> {
        Ok(KeyValue {
            key: self.strip(kv.key)?,
            value: kv.value,
            create_revision: kv.create_revision,
            mod_revision: kv.mod_revision,
            version: kv.version,
            lease: kv.lease,
        })
    }

    /// The current revision, from the header of a cheap read.
    async fn current_revision(&self) -> Result<Revision> {
        let request = RangeRequestPb {
            key: self.probe_key(),
            count_only: true,
            ..Default::default()
        };
        let response: proto::RangeResponse = self
            .call(KV_RANGE, request, Retry::Always)
            .await
            .map_err(|s| self.error(s, 0, &[]))?;
        Ok(revision_of(response.header.as_ref()))
    }

    /// The compacted revision: 0 if a read at revision 1 works, else what etcd reports when a
    /// watch from revision 1 is canceled.
    async fn compacted_revision(&self) -> Result<Revision> {
        let request = RangeRequestPb {
            key: self.probe_key(),
            revision: 1,
            count_only: true,
            ..Default::default()
        };
        let result: Result<proto::RangeResponse, Status> =
            self.call(KV_RANGE, request, Retry::Always).await;
        let compacted = match result {
            Ok(_) => 0,
            Err(status) if status.message().contains(ERR_COMPACTED) => {
                watch::probe_compacted(self).await?
            }
            Err(status) => return Err(self.error(status, 0, &[])),
        };
        self.saw_compacted(compacted);
        // etcd is the authority: a wiped and recreated etcd may be compacted less than seen.
        Ok(compacted)
    }

    /// Records a compacted revision; returns the highest seen.
    fn saw_compacted(&self, revision: Revision) -> Revision {
        self.compacted
            .fetch_max(revision, Ordering::Relaxed)
            .max(revision)
    }

    /// Maps a failed call. `revision` is the revision the call asked for (for `Compacted` and
    /// `FutureRevision`), `leases` the leases it used (for `LeaseNotFound`).
    fn error(&self, status: Status, revision: Revision, leases: &[LeaseId]) -> Error {
        let message = status.message();
        if message.contains(ERR_COMPACTED) {
            let compacted = self.compacted.load(Ordering::Relaxed).max(revision);
            return Error::Compacted {
                requested: revision,
                compacted,
            };
        }
        if message.contains(ERR_FUTURE) {
            return Error::FutureRevision {
                requested: revision,
                current: revision - 1,
            };
        }
        if message.contains(ERR_LEASE_NOT_FOUND) {
            return Error::LeaseNotFound(leases.first().copied().unwrap_or(0));
        }
        if message.contains(ERR_TOO_LARGE) || status.code() == Code::ResourceExhausted {
            // etcd's `--max-request-bytes` counts the whole request, envelope and prefix included,
            // so a write under the store's own limit may still be refused here.
            return Error::TooLarge {
                size: 0,
                limit: MAX_REQUEST_BYTES,
            };
        }
        match status.code() {
            Code::InvalidArgument | Code::FailedPrecondition | Code::OutOfRange => {
                Error::InvalidArgument(format!("etcd: {message}"))
            }
            _ => Error::Backend(format!("etcd {:?}: {message}", status.code())),
        }
    }

    /// [`Inner::error`], with the real compacted or current revision looked up.
    async fn revision_error(&self, status: Status, revision: Revision) -> Error {
        match self.error(status, revision, &[]) {
            Error::Compacted { requested, .. } => {
                let compacted = self.compacted_revision().await.unwrap_or(requested);
                Error::Compacted {
                    requested,
                    compacted,
                }
            }
            Error::FutureRevision { requested, current } => {
                let current = self.current_revision().await.unwrap_or(current);
                Error::FutureRevision { requested, current }
            }
            other => other,
        }
    }
}

/// A gRPC client on `channel` that accepts responses of any size, as upstream's etcd client
/// does (`MaxCallRecvMsgSize` = `math.MaxInt32`): a full list of 10,000 pods is ~17 MB, far over
/// tonic's 4 MiB default. etcd itself bounds requests (`--max-request-bytes`).
pub(crate) fn grpc_client(channel: Channel) -> tonic::client::Grpc<Channel> {
    tonic::client::Grpc::new(channel)
        .max_decoding_message_size(i32::MAX as usize)
        .max_encoding_message_size(i32::MAX as usize)
}

/// One unary gRPC call on `channel`.
async fn unary<Req, Resp>(
    channel: &Channel,
    path: &'static str,
    request: Req,
) -> Result<Resp, Status>
where
    Req: prost::Message + 'static,
    Resp: prost::Message + Default + 'static,
{
    let mut grpc = grpc_client(channel.clone());
    grpc.ready()
        .await
        .map_err(|e| Status::unavailable(format!("etcd connection not ready: {e}")))?;
    let response = grpc
        .unary(
            tonic::Request::new(request),
            PathAndQuery::from_static(path),
            ProstCodec::<Req, Resp>::default(),
        )
        .await?;
    Ok(response.into_inner())
}

/// True if the call failed in the transport (no connection, connection lost) rather than in
/// etcd. tonic reports a refused connection as `Unavailable` and a connection that broke under
/// a request as `Unknown: transport error`.
fn is_transport_failure(status: &Status) -> bool {
    match status.code() {
        Code::Unavailable => true,
        Code::Unknown => status.message().contains("transport error"),
        _ => false,
    }
}

/// True if a transport failure happened before the request was sent (no connection).
fn is_unsent(status: &Status) -> bool {
    let mut text = status.message().to_owned();
    let mut source = std::error::Error::source(status);
    while let Some(err) = source {
        text.push_str(&err.to_string());
        source = err.source();
    }
    let text = text.to_ascii_lowercase();
    text.contains("connect") || text.contains("not ready") || text.contains("dns error")
}

fn revision_of(header: Option<&proto::ResponseHeader>) -> Revision {
    header.map_or(0, |h| h.revision)
}

/// The smallest key greater than every key starting with `prefix` (etcd's prefix `range_end`).
fn prefix_end(prefix: &[u8]) -> Vec<u8> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < 0xff {
            end.push(last + 1);
            return end;
        }
    }
    // Every byte is 0xff: the range runs to the end of the keyspace.
    vec![0]
}

fn compare_pb(inner: &Inner, compare: &Compare) -> proto::Compare {
    use proto::TargetUnion;
    let result = match compare.result {
        CompareResult::Equal => proto::COMPARE_EQUAL,
        CompareResult::NotEqual => proto::COMPARE_NOT_EQUAL,
        CompareResult::Greater => proto::COMPARE_GREATER,
        CompareResult::Less => proto::COMPARE_LESS,
    };
    let (target, union) = match &compare.target {
        CompareTarget::Version(v) => (proto::TARGET_VERSION, TargetUnion::Version(*v)),
        CompareTarget::CreateRevision(r) => (proto::TARGET_CREATE, TargetUnion::CreateRevision(*r)),
        CompareTarget::ModRevision(r) => (proto::TARGET_MOD, TargetUnion::ModRevision(*r)),
        CompareTarget::Value(v) => (proto::TARGET_VALUE, TargetUnion::Value(v.clone())),
        CompareTarget::Lease(l) => (proto::TARGET_LEASE, TargetUnion::Lease(*l)),
    };
    proto::Compare {
        result,
        target,
        key: inner.full_key(&compare.key),
        target_union: Some(union),
    }
}

fn op_pb(inner: &Inner, op: &TxnOp) -> proto::RequestOp {
    let request = match op {
        TxnOp::Put { key, value, lease } => proto::Request::Put(proto::PutRequest {
            key: inner.full_key(key),
            value: value.clone(),
            lease: *lease,
            prev_kv: true,
        }),
        TxnOp::Delete { key } => proto::Request::DeleteRange(proto::DeleteRangeRequest {
            key: inner.full_key(key),
            range_end: Vec::new(),
            prev_kv: true,
        }),
        TxnOp::Get { key } => proto::Request::Range(RangeRequestPb {
            key: inner.full_key(key),
            ..Default::default()
        }),
    };
    proto::RequestOp {
        request: Some(request),
    }
}

/// Builds the result of `op` from etcd's answer to it at transaction revision `revision`.
fn op_response(
    inner: &Inner,
    op: &TxnOp,
    response: proto::ResponseOp,
    revision: Revision,
) -> Result<TxnOpResponse> {
    match (op, response.response) {
        (TxnOp::Put { key, value, lease }, Some(proto::Response::Put(put))) => {
            let prev_kv = put.prev_kv.map(|kv| inner.key_value(kv)).transpose()?;
            let kv = KeyValue {
                key: key.clone(),
                value: value.clone(),
                create_revision: prev_kv.as_ref().map_or(revision, |p| p.create_revision),
                mod_revision: revision,
                version: prev_kv.as_ref().map_or(1, |p| p.version + 1),
                lease: *lease,
            };
            Ok(TxnOpResponse::Put { kv, prev_kv })
        }
        (TxnOp::Delete { .. }, Some(proto::Response::DeleteRange(delete))) => {
            let prev_kv = delete
                .prev_kvs
                .into_iter()
                .next()
                .map(|kv| inner.key_value(kv))
                .transpose()?;
            Ok(TxnOpResponse::Delete { prev_kv })
        }
        (TxnOp::Get { .. }, Some(proto::Response::Range(range))) => {
            let kv = range
                .kvs
                .into_iter()
                .next()
                .map(|kv| inner.key_value(kv))
                .transpose()?;
            Ok(TxnOpResponse::Get { kv })
        }
        (op, other) => Err(Error::backend(format!(
            "etcd answered {op:?} with {other:?}"
        ))),
    }
}

// === impl Store for EtcdStore ===

#[async_trait]
impl Watch for EtcdStore {
    async fn watch(&self, request: WatchRequest) -> Result<WatchStream> {
        check_key(&request.key)?;
        watch::open(self.inner.clone(), request).await
    }
}

#[async_trait]
impl Store for EtcdStore {
    async fn range(&self, request: RangeRequest) -> Result<RangeResponse> {
        check_key(&request.prefix)?;
        let inner = &self.inner;
        let full = inner.full_key(&request.prefix);
        let (key, range_end) = if request.exact {
            (full, Vec::new())
        } else {
            let end = prefix_end(&full);
            match &request.start_key {
                Some(start) if start.as_str() > request.prefix.as_str() => {
                    (inner.full_key(start), end)
                }
                _ => (full, end),
            }
        };
        let revision = request.revision.filter(|r| *r > 0).unwrap_or(0);
        let pb = RangeRequestPb {
            key,
            range_end,
            limit: i64::try_from(request.limit).unwrap_or(i64::MAX),
            revision,
            count_only: request.count_only,
        };
        let response: proto::RangeResponse = match inner.call(KV_RANGE, pb, Retry::Always).await {
            Ok(response) => response,
            Err(status) => return Err(inner.revision_error(status, revision).await),
        };
        let kvs = response
            .kvs
            .into_iter()
            .map(|kv| inner.key_value(kv))
            .collect::<Result<Vec<_>>>()?;
        Ok(RangeResponse {
            more: response.more && !request.count_only,
            count: usize::try_from(response.count).unwrap_or(0),
            revision: if revision > 0 {
                revision
            } else {
                revision_of(response.header.as_ref())
            },
            kvs,
        })
    }

    async fn txn(&self, txn: Txn) -> Result<TxnResponse> {
        check_txn(&txn)?;
        let inner = &self.inner;
        let pb = proto::TxnRequest {
            compare: txn.compare.iter().map(|c| compare_pb(inner, c)).collect(),
            success: txn.success.iter().map(|op| op_pb(inner, op)).collect(),
            failure: txn.failure.iter().map(|op| op_pb(inner, op)).collect(),
        };
        let response: proto::TxnResponse =
            inner
                .call(KV_TXN, pb, Retry::IfUnsent)
                .await
                .map_err(|status| {
                    let leases: Vec<LeaseId> = txn
                        .success
                        .iter()
                        .chain(&txn.failure)
                        .filter_map(|op| match op {
                            TxnOp::Put { lease, .. } if *lease != 0 => Some(*lease),
                            _ => None,
                        })
                        .collect();
                    inner.error(status, 0, &leases)
                })?;
        let revision = revision_of(response.header.as_ref());
        let ops = if response.succeeded {
            &txn.success
        } else {
            &txn.failure
        };
        if ops.len() != response.responses.len() {
            return Err(Error::backend(format!(
                "etcd answered {} operations with {} results",
                ops.len(),
                response.responses.len()
            )));
        }
        let responses = ops
            .iter()
            .zip(response.responses)
            .map(|(op, r)| op_response(inner, op, r, revision))
            .collect::<Result<Vec<_>>>()?;
        Ok(TxnResponse {
            succeeded: response.succeeded,
            revision,
            responses,
        })
    }

    async fn compact(&self, revision: Revision) -> Result<()> {
        let inner = &self.inner;
        let request = proto::CompactionRequest {
            revision,
            physical: false,
        };
        match inner
            .call::<_, proto::CompactionResponse>(KV_COMPACT, request, Retry::IfUnsent)
            .await
        {
            Ok(_) => {
                inner.saw_compacted(revision);
                Ok(())
            }
            Err(status) => Err(inner.revision_error(status, revision).await),
        }
    }

    async fn current_revision(&self) -> Result<Revision> {
        self.inner.current_revision().await
    }

    async fn compacted_revision(&self) -> Result<Revision> {
        self.inner.compacted_revision().await
    }

    async fn lease_grant(&self, ttl: Duration) -> Result<LeaseId> {
        if ttl.is_zero() {
            return Err(Error::InvalidArgument("lease TTL must be positive".into()));
        }
        let seconds = ttl.as_secs() + u64::from(ttl.subsec_nanos() > 0);
        let request = proto::LeaseGrantRequest {
            ttl: i64::try_from(seconds).unwrap_or(i64::MAX),
            id: 0,
        };
        let response: proto::LeaseGrantResponse = self
            .inner
            .call(LEASE_GRANT, request, Retry::IfUnsent)
            .await
            .map_err(|s| self.inner.error(s, 0, &[]))?;
        if !response.error.is_empty() {
            return Err(Error::Backend(format!(
                "etcd lease grant: {}",
                response.error
            )));
        }
        Ok(response.id)
    }

    async fn lease_revoke(&self, lease: LeaseId) -> Result<()> {
        let request = proto::LeaseRevokeRequest { id: lease };
        self.inner
            .call::<_, proto::LeaseRevokeResponse>(LEASE_REVOKE, request, Retry::Always)
            .await
            .map_err(|s| self.inner.error(s, 0, &[lease]))?;
        Ok(())
    }

    async fn lease_keep_alive(&self, lease: LeaseId) -> Result<Duration> {
        let inner = &self.inner;
        let mut attempt = 0;
        let response = loop {
            attempt += 1;
            let (index, channel) = inner.channel();
            match keep_alive_once(channel, lease).await {
                Ok(response) => break response,
                Err(status) if is_transport_failure(&status) && attempt <= inner.channels.len() => {
                    inner.failover(index);
                    tokio::time::sleep(RETRY_PAUSE).await;
                }
                Err(status) => return Err(inner.error(status, 0, &[lease])),
            }
        };
        if response.ttl <= 0 {
            return Err(Error::LeaseNotFound(lease));
        }
        Ok(Duration::from_secs(response.ttl.unsigned_abs()))
    }
}

/// One round trip on a `LeaseKeepAlive` stream.
async fn keep_alive_once(
    channel: Channel,
    lease: LeaseId,
) -> Result<proto::LeaseKeepAliveResponse, Status> {
    let mut grpc = grpc_client(channel);
    grpc.ready()
        .await
        .map_err(|e| Status::unavailable(format!("etcd connection not ready: {e}")))?;
    let request = tonic::Request::new(tokio_stream::once(proto::LeaseKeepAliveRequest {
        id: lease,
    }));
    let codec =
        ProstCodec::<proto::LeaseKeepAliveRequest, proto::LeaseKeepAliveResponse>::default();
    let mut responses = grpc
        .streaming(request, PathAndQuery::from_static(LEASE_KEEP_ALIVE), codec)
        .await?
        .into_inner();
    responses
        .message()
        .await?
        .ok_or_else(|| Status::unavailable("etcd closed the keep-alive stream"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_end_increments_the_last_byte() {
        assert_eq!(prefix_end(b"/a/"), b"/a0".to_vec());
        assert_eq!(prefix_end(b"a\xff"), b"b".to_vec());
        assert_eq!(prefix_end(b"\xff\xff"), vec![0]);
    }

    #[test]
    fn config_builder() {
        let config = EtcdConfig::new(["a:1"])
            .with_prefix("/p")
            .with_tls(EtcdTls::new("ca").with_domain("etcd"));
        assert_eq!(config.endpoints, ["a:1"]);
        assert_eq!(config.prefix, "/p");
        assert_eq!(config.tls.unwrap().domain.as_deref(), Some("etcd"));
        assert_eq!(EtcdConfig::default().prefix, "");
    }
}
