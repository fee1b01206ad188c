//! The subset of etcd's v3 gRPC messages that [`EtcdStore`](super::EtcdStore) uses, declared with
//! `prost` derives so that no `protoc` is needed at build time.
//!
//! Field numbers follow etcd's `api/etcdserverpb/rpc.proto` and `api/mvccpb/kv.proto`; fields
//! this crate never sets or reads are left out (protobuf skips unknown fields). Enums are kept as
//! plain `i32` with the numeric constants below.

// === mvccpb ===

/// `mvccpb.KeyValue`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct KeyValue {
    /// The key, in bytes.
    #[prost(bytes = "vec", tag = "1")]
    pub key: Vec<u8>,
    /// Revision of the key's last creation.
    #[prost(int64, tag = "2")]
    pub create_revision: i64,
    /// Revision of the key's last modification.
    #[prost(int64, tag = "3")]
    pub mod_revision: i64,
    /// Writes since creation.
    #[prost(int64, tag = "4")]
    pub version: i64,
    /// The value.
    #[prost(bytes = "bytes", tag = "5")]
    pub value: bytes::Bytes,
    /// Attached lease, 0 for none.
    #[prost(int64, tag = "6")]
    pub lease: i64,
}

/// `mvccpb.Event.EventType.PUT`.
pub const EVENT_PUT: i32 = 0;
/// `mvccpb.Event.EventType.DELETE`.
pub const EVENT_DELETE: i32 = 1;

/// `mvccpb.Event`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Event {
    /// [`EVENT_PUT`] or [`EVENT_DELETE`].
    #[prost(int32, tag = "1")]
    pub r#type: i32,
    /// The key-value after the event.
    #[prost(message, optional, tag = "2")]
    pub kv: Option<KeyValue>,
    /// The key-value before the event, when requested.
    #[prost(message, optional, tag = "3")]
    pub prev_kv: Option<KeyValue>,
}

// === etcdserverpb: common ===

/// `etcdserverpb.ResponseHeader`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct ResponseHeader {
    /// Cluster id.
    #[prost(uint64, tag = "1")]
    pub cluster_id: u64,
    /// Member that answered.
    #[prost(uint64, tag = "2")]
    pub member_id: u64,
    /// Store revision when the request was applied.
    #[prost(int64, tag = "3")]
    pub revision: i64,
    /// Raft term.
    #[prost(uint64, tag = "4")]
    pub raft_term: u64,
}

// === etcdserverpb: KV ===

/// `etcdserverpb.RangeRequest`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct RangeRequest {
    /// First key.
    #[prost(bytes = "vec", tag = "1")]
    pub key: Vec<u8>,
    /// End of the range (exclusive); empty for one key.
    #[prost(bytes = "vec", tag = "2")]
    pub range_end: Vec<u8>,
    /// Maximum number of keys, 0 for no limit.
    #[prost(int64, tag = "3")]
    pub limit: i64,
    /// Read at this revision; 0 for the newest.
    #[prost(int64, tag = "4")]
    pub revision: i64,
    /// Return only the count.
    #[prost(bool, tag = "9")]
    pub count_only: bool,
}

/// `etcdserverpb.RangeResponse`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct RangeResponse {
    /// Header.
    #[prost(message, optional, tag = "1")]
    pub header: Option<ResponseHeader>,
    /// Matching key-values.
    #[prost(message, repeated, tag = "2")]
    pub kvs: Vec<KeyValue>,
    /// More keys follow.
    #[prost(bool, tag = "3")]
    pub more: bool,
    /// Keys in the range, ignoring the limit.
    #[prost(int64, tag = "4")]
    pub count: i64,
}

/// `etcdserverpb.PutRequest`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct PutRequest {
    /// Key.
    #[prost(bytes = "vec", tag = "1")]
    pub key: Vec<u8>,
    /// Value.
    #[prost(bytes = "bytes", tag = "2")]
    pub value: bytes::Bytes,
    /// Lease, 0 for none.
    #[prost(int64, tag = "3")]
    pub lease: i64,
    /// Return the previous key-value.
    #[prost(bool, tag = "4")]
    pub prev_kv: bool,
}

/// `etcdserverpb.PutResponse`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct PutResponse {
    /// Header.
    #[prost(message, optional, tag = "1")]
    pub header: Option<ResponseHeader>,
    /// The key-value replaced, when requested.
    #[prost(message, optional, tag = "2")]
    pub prev_kv: Option<KeyValue>,
}

/// `etcdserverpb.DeleteRangeRequest`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct DeleteRangeRequest {
    /// First key.
    #[prost(bytes = "vec", tag = "1")]
    pub key: Vec<u8>,
    /// End of the range (exclusive); empty for one key.
    #[prost(bytes = "vec", tag = "2")]
    pub range_end: Vec<u8>,
    /// Return the deleted key-values.
    #[prost(bool, tag = "3")]
    pub prev_kv: bool,
}

/// `etcdserverpb.DeleteRangeResponse`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct DeleteRangeResponse {
    /// Header.
    #[prost(message, optional, tag = "1")]
    pub header: Option<ResponseHeader>,
    /// Number of keys deleted.
    #[prost(int64, tag = "2")]
    pub deleted: i64,
    /// The deleted key-values, when requested.
    #[prost(message, repeated, tag = "3")]
    pub prev_kvs: Vec<KeyValue>,
}

/// `etcdserverpb.RequestOp`: one operation of a transaction.
#[derive(Clone, PartialEq, prost::Message)]
pub struct RequestOp {
    /// The operation.
    #[prost(oneof = "Request", tags = "1, 2, 3")]
    pub request: Option<Request>,
}

/// `etcdserverpb.RequestOp.request` (nested transactions are not used).
#[derive(Clone, PartialEq, prost::Oneof)]
pub enum Request {
    /// A read.
    #[prost(message, tag = "1")]
    Range(RangeRequest),
    /// A write.
    #[prost(message, tag = "2")]
    Put(PutRequest),
    /// A delete.
    #[prost(message, tag = "3")]
    DeleteRange(DeleteRangeRequest),
}

/// `etcdserverpb.ResponseOp`: the result of one [`RequestOp`].
#[derive(Clone, PartialEq, prost::Message)]
pub struct ResponseOp {
    /// The result.
    #[prost(oneof = "Response", tags = "1, 2, 3")]
    pub response: Option<Response>,
}

/// `etcdserverpb.ResponseOp.response`.
#[derive(Clone, PartialEq, prost::Oneof)]
pub enum Response {
    /// A read's result.
    #[prost(message, tag = "1")]
    Range(RangeResponse),
    /// A write's result.
    #[prost(message, tag = "2")]
    Put(PutResponse),
    /// A delete's result.
    #[prost(message, tag = "3")]
    DeleteRange(DeleteRangeResponse),
}

/// `Compare.CompareResult.EQUAL`.
pub const COMPARE_EQUAL: i32 = 0;
/// `Compare.CompareResult.GREATER`.
pub const COMPARE_GREATER: i32 = 1;
/// `Compare.CompareResult.LESS`.
pub const COMPARE_LESS: i32 = 2;
/// `Compare.CompareResult.NOT_EQUAL`.
pub const COMPARE_NOT_EQUAL: i32 = 3;

/// `Compare.CompareTarget.VERSION`.
pub const TARGET_VERSION: i32 = 0;
/// `Compare.CompareTarget.CREATE`.
pub const TARGET_CREATE: i32 = 1;
/// `Compare.CompareTarget.MOD`.
pub const TARGET_MOD: i32 = 2;
/// `Compare.CompareTarget.VALUE`.
pub const TARGET_VALUE: i32 = 3;
/// `Compare.CompareTarget.LEASE`.
pub const TARGET_LEASE: i32 = 4;

/// `etcdserverpb.Compare`: one guard of a transaction.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Compare {
    /// One of the `COMPARE_*` constants.
    #[prost(int32, tag = "1")]
    pub result: i32,
    /// One of the `TARGET_*` constants.
    #[prost(int32, tag = "2")]
    pub target: i32,
    /// The key compared.
    #[prost(bytes = "vec", tag = "3")]
    pub key: Vec<u8>,
    /// The value compared with.
    #[prost(oneof = "TargetUnion", tags = "4, 5, 6, 7, 8")]
    pub target_union: Option<TargetUnion>,
}

/// `etcdserverpb.Compare.target_union`.
#[derive(Clone, PartialEq, prost::Oneof)]
pub enum TargetUnion {
    /// Version.
    #[prost(int64, tag = "4")]
    Version(i64),
    /// Create revision.
    #[prost(int64, tag = "5")]
    CreateRevision(i64),
    /// Mod revision.
    #[prost(int64, tag = "6")]
    ModRevision(i64),
    /// Value.
    #[prost(bytes = "bytes", tag = "7")]
    Value(bytes::Bytes),
    /// Lease.
    #[prost(int64, tag = "8")]
    Lease(i64),
}

/// `etcdserverpb.TxnRequest`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct TxnRequest {
    /// Guards.
    #[prost(message, repeated, tag = "1")]
    pub compare: Vec<Compare>,
    /// Applied when every guard holds.
    #[prost(message, repeated, tag = "2")]
    pub success: Vec<RequestOp>,
    /// Applied otherwise.
    #[prost(message, repeated, tag = "3")]
    pub failure: Vec<RequestOp>,
}

/// `etcdserverpb.TxnResponse`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct TxnResponse {
    /// Header.
    #[prost(message, optional, tag = "1")]
    pub header: Option<ResponseHeader>,
    /// Whether the success branch ran.
    #[prost(bool, tag = "2")]
    pub succeeded: bool,
    /// One result per operation of the branch that ran.
    #[prost(message, repeated, tag = "3")]
    pub responses: Vec<ResponseOp>,
}

/// `etcdserverpb.CompactionRequest`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct CompactionRequest {
    /// Compact history below this revision.
    #[prost(int64, tag = "1")]
    pub revision: i64,
    /// Wait until the compaction is applied to the backend database.
    #[prost(bool, tag = "2")]
    pub physical: bool,
}

/// `etcdserverpb.CompactionResponse`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct CompactionResponse {
    /// Header.
    #[prost(message, optional, tag = "1")]
    pub header: Option<ResponseHeader>,
}

// === etcdserverpb: Watch ===

/// `etcdserverpb.WatchRequest`: a message on the client half of a watch stream.
#[derive(Clone, PartialEq, prost::Message)]
pub struct WatchRequest {
    /// Create, cancel or progress.
    #[prost(oneof = "WatchRequestUnion", tags = "1, 2, 3")]
    pub request_union: Option<WatchRequestUnion>,
}

/// `etcdserverpb.WatchRequest.request_union`.
#[derive(Clone, PartialEq, prost::Oneof)]
pub enum WatchRequestUnion {
    /// Create a watcher.
    #[prost(message, tag = "1")]
    Create(WatchCreateRequest),
    /// Cancel a watcher.
    #[prost(message, tag = "2")]
    Cancel(WatchCancelRequest),
    /// Ask for a progress notification.
    #[prost(message, tag = "3")]
    Progress(WatchProgressRequest),
}

/// `etcdserverpb.WatchCreateRequest`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct WatchCreateRequest {
    /// Key or first key.
    #[prost(bytes = "vec", tag = "1")]
    pub key: Vec<u8>,
    /// End of the range (exclusive); empty for one key.
    #[prost(bytes = "vec", tag = "2")]
    pub range_end: Vec<u8>,
    /// First revision to deliver (inclusive); 0 for "from now".
    #[prost(int64, tag = "3")]
    pub start_revision: i64,
    /// Ask for periodic empty responses carrying the current revision.
    #[prost(bool, tag = "4")]
    pub progress_notify: bool,
    /// Include previous key-values.
    #[prost(bool, tag = "6")]
    pub prev_kv: bool,
    /// Requested watch id, 0 to let the server choose.
    #[prost(int64, tag = "7")]
    pub watch_id: i64,
}

/// `etcdserverpb.WatchCancelRequest`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct WatchCancelRequest {
    /// The watcher to cancel.
    #[prost(int64, tag = "1")]
    pub watch_id: i64,
}

/// `etcdserverpb.WatchProgressRequest`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct WatchProgressRequest {}

/// `etcdserverpb.WatchResponse`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct WatchResponse {
    /// Header; its revision is the progress of the stream.
    #[prost(message, optional, tag = "1")]
    pub header: Option<ResponseHeader>,
    /// The watcher this response is for.
    #[prost(int64, tag = "2")]
    pub watch_id: i64,
    /// Answer to a create request.
    #[prost(bool, tag = "3")]
    pub created: bool,
    /// The watcher was canceled (on request, or because its revision was compacted).
    #[prost(bool, tag = "4")]
    pub canceled: bool,
    /// Set when the requested revision has been compacted: the oldest revision available.
    #[prost(int64, tag = "5")]
    pub compact_revision: i64,
    /// Why the watcher was canceled.
    #[prost(string, tag = "6")]
    pub cancel_reason: String,
    /// The events, in revision order.
    #[prost(message, repeated, tag = "11")]
    pub events: Vec<Event>,
}

// === etcdserverpb: Lease ===

/// `etcdserverpb.LeaseGrantRequest`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct LeaseGrantRequest {
    /// TTL in seconds.
    #[prost(int64, tag = "1")]
    pub ttl: i64,
    /// Requested id, 0 to let the server choose.
    #[prost(int64, tag = "2")]
    pub id: i64,
}

/// `etcdserverpb.LeaseGrantResponse`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct LeaseGrantResponse {
    /// Header.
    #[prost(message, optional, tag = "1")]
    pub header: Option<ResponseHeader>,
    /// The lease id.
    #[prost(int64, tag = "2")]
    pub id: i64,
    /// The TTL the server chose, in seconds.
    #[prost(int64, tag = "3")]
    pub ttl: i64,
    /// An error message, if the grant failed.
    #[prost(string, tag = "4")]
    pub error: String,
}

/// `etcdserverpb.LeaseRevokeRequest`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct LeaseRevokeRequest {
    /// The lease to revoke.
    #[prost(int64, tag = "1")]
    pub id: i64,
}

/// `etcdserverpb.LeaseRevokeResponse`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct LeaseRevokeResponse {
    /// Header.
    #[prost(message, optional, tag = "1")]
    pub header: Option<ResponseHeader>,
}

/// `etcdserverpb.LeaseKeepAliveRequest`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct LeaseKeepAliveRequest {
    /// The lease to renew.
    #[prost(int64, tag = "1")]
    pub id: i64,
}

/// `etcdserverpb.LeaseKeepAliveResponse`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct LeaseKeepAliveResponse {
    /// Header.
    #[prost(message, optional, tag = "1")]
    pub header: Option<ResponseHeader>,
    /// The lease renewed.
    #[prost(int64, tag = "2")]
    pub id: i64,
    /// Its TTL in seconds; 0 if the lease does not exist.
    #[prost(int64, tag = "3")]
    pub ttl: i64,
}
