//! `kubectl port-forward` on the kubelet's side: SPDY/3.1 (plain or tunnelled in a WebSocket)
//! and the port-forward protocol over it (upstream
//! `pkg/kubelet/cri/streaming/portforward/httpstream.go`).
//!
//! ## Parts
//!
//! - [`spdy`]: SPDY/3 frames and the zlib-compressed header blocks.
//! - [`session`]: the server side of a SPDY connection ([`session::Session`]).
//! - [`crate::websocket`]: a WebSocket connection as a byte stream, for the tunnel.
//! - [`upgrade`] ([`negotiate`]): the upgrade handshake (which [`Transport`], the 101's headers).
//! - upstream's older WebSocket channel protocol (`v4.channel.k8s.io`, the Python client's),
//!   served by [`serve_upgraded`] for [`Transport::WebSocketChannels`].
//! - [`serve`] / [`serve_upgraded`]: the port-forward protocol on an upgraded connection.
//!
//! ## How the kubelet server uses it
//!
//! For `GET|POST /portForward/{namespace}/{pod}[/{uid}]` (HTTP/1.1: upgrades do not exist in
//! h2): call [`negotiate`] with the request's headers and its query string; on
//! `Err(rejection)` answer `rejection.status` with its message (`text/plain`) and headers; on
//! `Ok(upgrade)` answer `101 Switching Protocols` with `upgrade.headers`, and on the upgraded
//! connection (hyper's `upgrade::on(req)`, in `TokioIo`) run
//! `serve_upgraded(upgrade.transport, io, connect, ServeOptions::for_pod(..))`, where
//! `connect(port)` is `runtime.port_forward(sandbox_id, port)`. It returns once the client
//! is gone and every forwarded connection ended.
//!
//! ```
//! use futures::future::BoxFuture;
//! use kernel_node::portforward::{self, ServeOptions, Transport};
//! use kernel_node::runtime::Duplex;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! // The request's headers, as kubectl ≥ 1.31 sends them.
//! let mut headers = http::HeaderMap::new();
//! headers.insert("connection", "Upgrade".parse().unwrap());
//! headers.insert("upgrade", "websocket".parse().unwrap());
//! headers.insert("sec-websocket-version", "13".parse().unwrap());
//! headers.insert("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ==".parse().unwrap());
//! headers.insert("sec-websocket-protocol", "SPDY/3.1+portforward.k8s.io".parse().unwrap());
//! let upgrade = portforward::negotiate(&headers, None).expect("a port-forward upgrade");
//! assert_eq!(upgrade.transport, Transport::WebSocketTunnel);
//! assert!(upgrade.headers.contains(&("Sec-WebSocket-Accept", "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=".into())));
//!
//! // The kubelet answers 101 with `upgrade.headers`, then serves the upgraded connection
//! // (here one end of an in-memory pipe whose client leaves at once). `connect` would be
//! // `runtime.port_forward(&sandbox_id, port)`.
//! let (upgraded, client) = tokio::io::duplex(64 * 1024);
//! drop(client);
//! let connect = |port: u16| -> BoxFuture<'static, kernel_node::Result<Box<dyn Duplex>>> {
//!     Box::pin(async move { Err(kernel_node::Error::Unsupported(format!("port {port}"))) })
//! };
//! portforward::serve_upgraded(upgrade.transport, upgraded, connect, ServeOptions::for_pod("default/web", "uid"))
//!     .await
//!     .unwrap();
//! # }
//! ```
//!
//! ## The protocol
//!
//! The client opens streams in pairs that share a `requestid` header: one with
//! `streamtype: error`, one with `streamtype: data`, both with `port`. A stream without a
//! valid `port` (1–65535) or `streamtype` is refused (`RST_STREAM`, as upstream's stream
//! handler does); every other stream gets a `SYN_REPLY`. Once both of a pair are there, the
//! pod's port is connected and bytes are copied both ways: the client's `FLAG_FIN` on the
//! data stream half-closes the pod connection; the pod connection's end half-closes the data
//! stream and then the error stream. Errors (a refused port, ...) are written as text on the
//! error stream before it closes: `error forwarding port 80 to pod NAME, uid UID: ...`. A pair
//! that is not complete within [`ServeOptions::stream_creation_timeout`] is dropped with
//! `timed out waiting for streams` on its error stream. Clients that send no `requestid`
//! (kubectl before 1.6) get upstream's fallback: error stream id, or data stream id − 2.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::mpsc;
use tokio::task::JoinSet;
use tracing::{debug, warn};

use crate::error::{Error, Result};
use crate::runtime::Duplex;
use crate::websocket;

mod channels;
pub mod session;
pub mod spdy;
pub mod upgrade;

pub use upgrade::{
    is_websocket_request, negotiate, Rejection, Transport, Upgrade,
    HEADER_ACCEPTED_PROTOCOL_VERSIONS, HEADER_PROTOCOL_VERSION, PORT_FORWARD_PROTOCOL_V1,
    PORT_PARAM, SPDY_UPGRADE, WEBSOCKET_BASE64_CHANNEL_PROTOCOL_V4, WEBSOCKET_CHANNEL_PROTOCOL_V4,
    WEBSOCKET_SPDY_TUNNEL_PROTOCOL,
};

use session::{Session, Stream, StreamReader, StreamWriter};

/// Header: `error` or `data`.
pub const HEADER_STREAM_TYPE: &str = "streamtype";
/// Header: the pod's port.
pub const HEADER_PORT: &str = "port";
/// Header: what pairs an error and a data stream.
pub const HEADER_REQUEST_ID: &str = "requestid";
/// `streamtype` of the stream errors are written on.
pub const STREAM_TYPE_ERROR: &str = "error";
/// `streamtype` of the stream the bytes go on.
pub const STREAM_TYPE_DATA: &str = "data";

/// Upstream's default time for the second stream of a pair to come.
pub const DEFAULT_STREAM_CREATION_TIMEOUT: Duration = Duration::from_secs(30);

/// Connects one forwarded connection to the pod's port.
pub type Connect = dyn Fn(u16) -> BoxFuture<'static, Result<Box<dyn Duplex>>> + Send + Sync;

/// What [`serve_with`] needs beside the connection.
#[derive(Clone, Debug)]
pub struct ServeOptions {
    /// The pod's name, for error messages (upstream names the pod and its uid).
    pub pod: String,
    /// The pod's uid, for error messages.
    pub uid: String,
    /// How long the second stream of a pair may take.
    pub stream_creation_timeout: Duration,
    /// Closes the connection after this long without data either way (upstream kubelet's
    /// `--streaming-connection-idle-timeout`, 4 h by default there); `None`: never.
    pub idle_timeout: Option<Duration>,
}

impl Default for ServeOptions {
    fn default() -> Self {
        ServeOptions {
            pod: String::new(),
            uid: String::new(),
            stream_creation_timeout: DEFAULT_STREAM_CREATION_TIMEOUT,
            idle_timeout: None,
        }
    }
}

impl ServeOptions {
    /// Options naming the pod (`namespace/name` or the sandbox, as the caller likes) and uid.
    pub fn for_pod(pod: impl Into<String>, uid: impl Into<String>) -> ServeOptions {
        ServeOptions {
            pod: pod.into(),
            uid: uid.into(),
            ..ServeOptions::default()
        }
    }
}

/// Serves port-forward on a plain SPDY connection with default [`ServeOptions`]; returns
/// once the client closed the connection (or sent `GOAWAY`) and every forwarded connection
/// ended.
pub async fn serve<IO, F>(io: IO, connect: F) -> Result<()>
where
    IO: AsyncRead + AsyncWrite + Send + Unpin + 'static,
    F: Fn(u16) -> BoxFuture<'static, Result<Box<dyn Duplex>>> + Send + Sync + 'static,
{
    serve_with(io, Arc::new(connect), ServeOptions::default()).await
}

/// Serves port-forward on an upgraded connection: plain SPDY, SPDY in a WebSocket (server
/// side) for [`Transport::WebSocketTunnel`], or upstream's WebSocket channel protocol for
/// [`Transport::WebSocketChannels`] (one connection per port; ends when they all did or the
/// client closed).
pub async fn serve_upgraded<IO, F>(
    transport: Transport,
    io: IO,
    connect: F,
    options: ServeOptions,
) -> Result<()>
where
    IO: AsyncRead + AsyncWrite + Send + Unpin + 'static,
    F: Fn(u16) -> BoxFuture<'static, Result<Box<dyn Duplex>>> + Send + Sync + 'static,
{
    let connect: Arc<Connect> = Arc::new(connect);
    match transport {
        Transport::Spdy => serve_with(io, connect, options).await,
        Transport::WebSocketTunnel => {
            let ws = websocket::WebSocketIo::new(io, websocket::Role::Server);
            serve_with(ws, connect, options).await
        }
        Transport::WebSocketChannels { ports, base64 } => {
            channels::serve_channels(io, ports, base64, connect, Arc::new(options)).await
        }
    }
}

/// Serves port-forward on a plain SPDY connection (see the [module docs](self)).
pub async fn serve_with<IO>(io: IO, connect: Arc<Connect>, options: ServeOptions) -> Result<()>
where
    IO: AsyncRead + AsyncWrite + Send + Unpin + 'static,
{
    let options = Arc::new(options);
    let mut session = Session::new(io);
    let mut pairs: HashMap<String, Pair> = HashMap::new();
    let (expired_tx, mut expired) = mpsc::unbounded_channel::<String>();
    let mut timers = JoinSet::new();
    let mut forwards = JoinSet::new();
    let idle_check = options
        .idle_timeout
        .map(|t| (t / 4).max(Duration::from_millis(10)));
    let mut ticks = tokio::time::interval(idle_check.unwrap_or(Duration::from_secs(3600)));
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = ticks.tick(), if idle_check.is_some() => {
                let idle = options.idle_timeout.expect("checked");
                if session.last_data().elapsed() >= idle {
                    debug!(?idle, "port-forward: the connection is idle; closing it");
                    let _ = session.go_away().await;
                    // Dropping the session ends the connection and the forwards with it.
                    timers.abort_all();
                    forwards.abort_all();
                    return Ok(());
                }
            }
            stream = session.accept() => {
                let Some(stream) = stream else { break };
                let Some(complete) = add_stream(&mut pairs, stream, &mut timers, &expired_tx, &options).await else {
                    continue;
                };
                let connect = connect.clone();
                let options = options.clone();
                forwards.spawn(forward(complete, connect, options));
            }
            Some(request_id) = expired.recv() => {
                if let Some(pair) = pairs.remove(&request_id) {
                    debug!(request_id, "port-forward: timed out waiting for streams");
                    pair.fail(&format!("(request={request_id}) timed out waiting for streams")).await;
                }
            }
            Some(_) = forwards.join_next(), if !forwards.is_empty() => {}
        }
    }
    // No new streams: let the forwarded connections finish.
    timers.abort_all();
    drop(pairs);
    while forwards.join_next().await.is_some() {}
    Ok(())
}

/// An error and a data stream sharing a `requestid`.
#[derive(Default)]
struct Pair {
    error: Option<Stream>,
    data: Option<Stream>,
}

impl Pair {
    /// Writes `message` on the error stream (if there is one) and closes both.
    async fn fail(self, message: &str) {
        if let Some(error) = &self.error {
            let _ = error.send(message.as_bytes()).await;
            let _ = error.close().await;
        }
        if let Some(data) = &self.data {
            let _ = data.close().await;
        }
    }
}

/// A complete pair: what [`forward`] runs.
struct Complete {
    port: u16,
    error: Stream,
    data: Stream,
}

/// Checks a new stream's headers as upstream's `httpStreamReceived`; `Err` is why it is
/// refused.
fn validate(stream: &Stream) -> std::result::Result<(u16, &str), String> {
    let h = stream.headers();
    let port = h
        .get(HEADER_PORT)
        .filter(|p| !p.is_empty())
        .ok_or_else(|| format!("{HEADER_PORT:?} header is required"))?;
    let port: u16 = port
        .parse()
        .map_err(|e| format!("unable to parse {port:?} as a port: {e}"))?;
    if port < 1 {
        return Err(format!("port \"{port}\" must be > 0"));
    }
    let kind = h
        .get(HEADER_STREAM_TYPE)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| format!("{HEADER_STREAM_TYPE:?} header is required"))?;
    if kind != STREAM_TYPE_ERROR && kind != STREAM_TYPE_DATA {
        return Err(format!("invalid stream type {kind:?}"));
    }
    Ok((port, kind))
}

/// The pair a stream belongs to: its `requestid`, or upstream's guess for old clients.
fn request_id(stream: &Stream, kind: &str) -> String {
    match stream.headers().get(HEADER_REQUEST_ID) {
        Some(id) if !id.is_empty() => id.to_string(),
        _ if kind == STREAM_TYPE_DATA => (i64::from(stream.id()) - 2).to_string(),
        _ => stream.id().to_string(),
    }
}

/// Files a new stream into its pair; answers the pair once it is complete.
async fn add_stream(
    pairs: &mut HashMap<String, Pair>,
    stream: Stream,
    timers: &mut JoinSet<()>,
    expired: &mpsc::UnboundedSender<String>,
    options: &ServeOptions,
) -> Option<Complete> {
    let (port, kind) = match validate(&stream) {
        Ok((port, kind)) => (port, kind.to_string()),
        Err(why) => {
            warn!(stream = stream.id(), %why, "port-forward: stream refused");
            let _ = stream.reset(spdy::rst::CANCEL).await;
            return None;
        }
    };
    if stream.reply().await.is_err() {
        return None;
    }
    let request_id = request_id(&stream, &kind);
    debug!(request_id, kind, port, "port-forward: stream");
    let pair = pairs.entry(request_id.clone()).or_insert_with(|| {
        let expired = expired.clone();
        let id = request_id.clone();
        let timeout = options.stream_creation_timeout;
        timers.spawn(async move {
            tokio::time::sleep(timeout).await;
            let _ = expired.send(id);
        });
        Pair::default()
    });
    let slot = if kind == STREAM_TYPE_ERROR {
        &mut pair.error
    } else {
        &mut pair.data
    };
    if slot.is_some() {
        let msg = format!(
            "error processing stream for request {request_id}: {kind} stream already assigned"
        );
        warn!("port-forward: {msg}");
        if let Some(error) = &pair.error {
            let _ = error.send(msg.as_bytes()).await;
        }
        let _ = stream.close().await;
        return None;
    }
    *slot = Some(stream);
    if pair.error.is_some() && pair.data.is_some() {
        let pair = pairs.remove(&request_id).expect("the pair is there");
        let (Some(error), Some(data)) = (pair.error, pair.data) else {
            unreachable!("both streams are there");
        };
        let port = validate(&data).map(|(p, _)| p).unwrap_or(port);
        return Some(Complete { port, error, data });
    }
    None
}

/// Runs one forwarded connection.
async fn forward(pair: Complete, connect: Arc<Connect>, options: Arc<ServeOptions>) {
    let Complete { port, error, data } = pair;
    let (data_in, data_out) = data.split();
    let result = match connect(port).await {
        Ok(conn) => copy(conn, data_in, &data_out).await,
        Err(e) => Err(e),
    };
    if let Err(e) = result {
        let msg = format!(
            "error forwarding port {port} to pod {}, uid {}: {e}",
            options.pod, options.uid
        );
        debug!("port-forward: {msg}");
        let _ = error.send(msg.as_bytes()).await;
    }
    let _ = data_out.close().await;
    let _ = error.close().await;
}

/// Copies both ways until the pod's side ends (the client's FIN only half-closes the pod
/// connection).
async fn copy(
    conn: Box<dyn Duplex>,
    mut data_in: StreamReader,
    data_out: &StreamWriter,
) -> Result<()> {
    let (mut pod_r, mut pod_w) = tokio::io::split(conn);
    let io = |context: &'static str| {
        move |source| Error::Io {
            context: context.into(),
            source,
        }
    };
    let up = async move {
        while let Some(chunk) = data_in.recv().await? {
            pod_w
                .write_all(&chunk)
                .await
                .map_err(io("writing to the pod"))?;
        }
        let _ = pod_w.shutdown().await;
        Ok::<_, Error>(())
    };
    let down = async {
        let mut buf = vec![0u8; 32 * 1024];
        loop {
            let n = pod_r
                .read(&mut buf)
                .await
                .map_err(io("reading from the pod"))?;
            if n == 0 {
                return Ok::<_, Error>(());
            }
            data_out.send(&buf[..n]).await?;
        }
    };
    tokio::pin!(up, down);
    let mut up_done = false;
    loop {
        tokio::select! {
            r = &mut down => return r,
            r = &mut up, if !up_done => {
                up_done = true;
                r?;
            }
        }
    }
}
