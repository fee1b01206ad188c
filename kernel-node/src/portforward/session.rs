//! One SPDY/3.1 connection, either side: the server accepts the streams the client opens,
//! the client opens them.
//!
//! [`Session::new`] takes any `AsyncRead + AsyncWrite` (a hyper upgrade, a TCP stream, a
//! [`WebSocketIo`](crate::websocket::WebSocketIo) tunnel) and spawns two tasks: a reader that
//! parses frames and dispatches them, and a writer that owns the header compressor and sends
//! frames in order. [`Session::accept`] hands out each [`Stream`] the client opened with
//! `SYN_STREAM`; the caller looks at its headers and either [`Stream::reply`]s (`SYN_REPLY`)
//! or [`Stream::reset`]s (`RST_STREAM`) it.
//!
//! [`Session::client`] is the other role (the kubelet talking to a CRI streaming server):
//! [`Session::open`] sends `SYN_STREAM` with the next odd id and waits for the server's
//! `SYN_REPLY`; the server opens no streams (its `SYN_STREAM`s get `REFUSED_STREAM`). Data,
//! half-close, resets and flow control work the same either way.
//!
//! - **PING**: pings with the peer's parity (odd from a client, even from a server) are
//!   echoed; ours would have our parity.
//! - **GOAWAY** from the client: no stream is accepted after it ([`Session::accept`] then
//!   answers `None`; later `SYN_STREAM`s get `REFUSED_STREAM`); open streams go on until the
//!   connection closes. From the server: [`Session::open`] fails after it.
//! - **Half-close**: [`StreamWriter::close`] sends an empty `DATA` frame with `FLAG_FIN`, as
//!   spdystream does; the client's `FLAG_FIN` makes [`StreamReader::recv`] answer `None`.
//! - **Flow control (3.1)**: we send `WINDOW_UPDATE`s (for the stream and for the session) as
//!   the caller consumes data. Our own sending honours the client's windows once the client
//!   shows it does flow control (it sent a `WINDOW_UPDATE` or an initial window in
//!   `SETTINGS`): spdystream — kubectl's SPDY — implements neither and never sends one, and
//!   a sender that waited for its window would stall after 64 KiB. Incoming data is bounded
//!   by a small queue per stream instead: a stream whose reader falls behind holds up the
//!   connection's reader, as spdystream's server does.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::{mpsc, oneshot, Notify};
use tracing::{debug, trace};

use super::spdy::{
    goaway, rst, Frame, FrameDecoder, FrameEncoder, Headers, DEFAULT_INITIAL_WINDOW,
    SETTINGS_INITIAL_WINDOW_SIZE,
};
use crate::error::{Error, Result};

/// The largest `DATA` payload we send in one frame.
const MAX_DATA_CHUNK: usize = 32 * 1024;
/// Chunks queued per stream between the connection's reader and the stream's reader.
const STREAM_QUEUE: usize = 16;
/// Frames queued for the writer.
const WRITE_QUEUE: usize = 64;
/// Streams queued for [`Session::accept`].
const ACCEPT_QUEUE: usize = 32;

fn closed() -> Error {
    Error::Io {
        context: "spdy session".into(),
        source: std::io::Error::new(std::io::ErrorKind::BrokenPipe, "connection closed"),
    }
}

/// What the connection's reader hands a stream.
enum Inbound {
    Data(Bytes),
    Fin,
    Reset(u32),
}

struct Entry {
    data: mpsc::Sender<Inbound>,
    /// Our send window for this stream (may go negative when the peer does no flow control).
    send_window: i64,
    /// The peer sent `FLAG_FIN`.
    remote_closed: bool,
    /// Reset by either side.
    reset: bool,
    /// Client role: told when the server answers our `SYN_STREAM` (`Err(status)`: reset).
    reply: Option<oneshot::Sender<std::result::Result<(), u32>>>,
}

struct State {
    streams: HashMap<u32, Entry>,
    /// The highest stream id the client opened (in the client role: we opened).
    last_stream_id: u32,
    /// We are the client: we open the (odd) streams.
    client: bool,
    /// Client role: the server sent `GOAWAY`, no more streams.
    went_away: bool,
    /// New streams' send window (the client's `SETTINGS_INITIAL_WINDOW_SIZE`).
    initial_window: i64,
    /// Our session-level send window (SPDY/3.1).
    session_window: i64,
    /// The client sent a `WINDOW_UPDATE` or an initial window: it does flow control.
    peer_flow_control: bool,
    /// The connection is gone (read side ended or a write failed).
    closed: bool,
}

struct Shared {
    state: Mutex<State>,
    /// Woken whenever a window grows, a stream is reset or the connection closes.
    changed: Notify,
    /// When a `DATA` frame last came or went (what "idle" means, as in spdystream).
    last_data: Mutex<tokio::time::Instant>,
}

impl Shared {
    fn touch(&self) {
        *self.last_data.lock().expect("spdy idle clock poisoned") = tokio::time::Instant::now();
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().expect("spdy session state poisoned")
    }

    fn close(&self) {
        let mut st = self.lock();
        st.closed = true;
        st.streams.clear();
        drop(st);
        self.changed.notify_waiters();
    }
}

// === impl Session ===

/// One SPDY connection, the server's or the client's side (see the [module docs](self)).
///
/// Dropping it ends the connection: the reader stops, streams still held fail, and the
/// writer shuts the connection down once the last of them is gone.
pub struct Session {
    incoming: mpsc::Receiver<Stream>,
    frames: mpsc::Sender<Frame>,
    shared: Arc<Shared>,
    reader: tokio::task::JoinHandle<()>,
    /// Client role: held from allocating a stream id until its `SYN_STREAM` is queued, so
    /// ids go out in order.
    opening: tokio::sync::Mutex<()>,
}

impl Drop for Session {
    fn drop(&mut self) {
        self.reader.abort();
        self.shared.close();
    }
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let st = self.shared.lock();
        f.debug_struct("Session")
            .field("streams", &st.streams.len())
            .field("last_stream_id", &st.last_stream_id)
            .field("closed", &st.closed)
            .finish()
    }
}

impl Session {
    /// Starts serving `io` as the server (spawns the reader and the writer on the current
    /// tokio runtime).
    pub fn new<IO>(io: IO) -> Session
    where
        IO: AsyncRead + AsyncWrite + Send + 'static,
    {
        Session::start(io, false)
    }

    /// Starts `io` as the client: streams are opened with [`Session::open`];
    /// [`Session::accept`] answers `None`.
    pub fn client<IO>(io: IO) -> Session
    where
        IO: AsyncRead + AsyncWrite + Send + 'static,
    {
        Session::start(io, true)
    }

    fn start<IO>(io: IO, client: bool) -> Session
    where
        IO: AsyncRead + AsyncWrite + Send + 'static,
    {
        let (r, w) = tokio::io::split(io);
        let shared = Arc::new(Shared {
            state: Mutex::new(State {
                streams: HashMap::new(),
                last_stream_id: 0,
                client,
                went_away: false,
                initial_window: i64::from(DEFAULT_INITIAL_WINDOW),
                session_window: i64::from(DEFAULT_INITIAL_WINDOW),
                peer_flow_control: false,
                closed: false,
            }),
            changed: Notify::new(),
            last_data: Mutex::new(tokio::time::Instant::now()),
        });
        let (frames, frames_rx) = mpsc::channel(WRITE_QUEUE);
        let (incoming_tx, incoming) = mpsc::channel(ACCEPT_QUEUE);
        tokio::spawn(write_loop(w, frames_rx, shared.clone()));
        let reader = Reader {
            shared: shared.clone(),
            frames: frames.clone(),
            incoming: (!client).then_some(incoming_tx),
        };
        let reader = tokio::spawn(reader.run(r));
        Session {
            incoming,
            frames,
            shared,
            reader,
            opening: tokio::sync::Mutex::new(()),
        }
    }

    /// Client role: opens a stream with `headers` (`SYN_STREAM`, the next odd id) and waits
    /// for the server's `SYN_REPLY`. A server that resets it instead, a lost connection or a
    /// `GOAWAY` is an error; so is calling it on the server's side.
    pub async fn open(&self, headers: Headers) -> Result<Stream> {
        let (tx, rx) = mpsc::channel(STREAM_QUEUE);
        let (reply_tx, reply_rx) = oneshot::channel();
        let guard = self.opening.lock().await;
        let stream_id = {
            let mut st = self.shared.lock();
            if !st.client {
                return Err(Error::InvalidState(
                    "spdy: the server side opens no streams".into(),
                ));
            }
            if st.closed {
                return Err(closed());
            }
            if st.went_away {
                return Err(Error::InvalidState(
                    "spdy: the server sent GOAWAY, no new streams".into(),
                ));
            }
            let stream_id = if st.last_stream_id == 0 {
                1
            } else {
                st.last_stream_id + 2
            };
            st.last_stream_id = stream_id;
            let send_window = st.initial_window;
            st.streams.insert(
                stream_id,
                Entry {
                    data: tx,
                    send_window,
                    remote_closed: false,
                    reset: false,
                    reply: Some(reply_tx),
                },
            );
            stream_id
        };
        // Made before sending: dropped on failure, it forgets (or resets) the stream.
        let stream = new_stream(&self.shared, &self.frames, stream_id, headers.clone(), rx);
        self.frames
            .send(Frame::SynStream {
                stream_id,
                associated_to: 0,
                priority: 0,
                slot: 0,
                fin: false,
                unidirectional: false,
                headers,
            })
            .await
            .map_err(|_| closed())?;
        drop(guard);
        match reply_rx.await {
            Ok(Ok(())) => Ok(stream),
            Ok(Err(status)) => Err(Error::Io {
                context: format!("spdy stream {stream_id}"),
                source: std::io::Error::new(
                    std::io::ErrorKind::ConnectionRefused,
                    format!("refused by the server (status {status})"),
                ),
            }),
            Err(_) => Err(closed()),
        }
    }

    /// The next stream the client opened; `None` once the connection closed or the client
    /// sent `GOAWAY`.
    pub async fn accept(&mut self) -> Option<Stream> {
        self.incoming.recv().await
    }

    /// Sends `GOAWAY` (status OK, naming the last stream the client opened): the client opens
    /// no more streams; open ones go on.
    pub async fn go_away(&self) -> Result<()> {
        let last_good_stream_id = self.shared.lock().last_stream_id;
        self.frames
            .send(Frame::GoAway {
                last_good_stream_id,
                status: goaway::OK,
            })
            .await
            .map_err(|_| closed())
    }

    /// Whether the connection is gone.
    pub fn is_closed(&self) -> bool {
        self.shared.lock().closed
    }

    /// When a `DATA` frame last came or went (the session's start before any did). Pings and
    /// other control frames do not count, as in spdystream's idle timeout.
    pub fn last_data(&self) -> tokio::time::Instant {
        *self
            .shared
            .last_data
            .lock()
            .expect("spdy idle clock poisoned")
    }
}

// === impl Reader ===

struct Reader {
    shared: Arc<Shared>,
    frames: mpsc::Sender<Frame>,
    incoming: Option<mpsc::Sender<Stream>>,
}

impl Reader {
    async fn run<R: AsyncRead + Unpin>(mut self, mut r: R) {
        let mut buf = BytesMut::with_capacity(16 * 1024);
        let mut decoder = FrameDecoder::new();
        let end = loop {
            match decoder.decode(&mut buf) {
                Ok(Some(frame)) => {
                    trace!(?frame, "spdy frame in");
                    if let Err(e) = self.handle(frame).await {
                        break Some(e);
                    }
                    continue;
                }
                Ok(None) => {}
                Err(e) => {
                    let last_good_stream_id = self.shared.lock().last_stream_id;
                    let _ = self
                        .frames
                        .send(Frame::GoAway {
                            last_good_stream_id,
                            status: goaway::PROTOCOL_ERROR,
                        })
                        .await;
                    break Some(e);
                }
            }
            match r.read_buf(&mut buf).await {
                Ok(0) => break None,
                Ok(_) => {}
                Err(source) => {
                    break Some(Error::Io {
                        context: "reading the spdy connection".into(),
                        source,
                    })
                }
            }
        };
        match end {
            Some(e) => debug!(error = %e, "spdy session ended"),
            None => debug!("spdy session: the client closed the connection"),
        }
        self.shared.close();
    }

    async fn send(&self, frame: Frame) -> Result<()> {
        self.frames.send(frame).await.map_err(|_| closed())
    }

    async fn handle(&mut self, frame: Frame) -> Result<()> {
        match frame {
            Frame::SynStream {
                stream_id,
                fin,
                headers,
                ..
            } => self.open(stream_id, fin, headers).await,
            Frame::Data {
                stream_id,
                fin,
                data,
            } => {
                self.shared.touch();
                let target = {
                    let mut st = self.shared.lock();
                    let known = stream_id <= st.last_stream_id;
                    match st.streams.get_mut(&stream_id) {
                        Some(e) if e.remote_closed || e.reset => Err(e.reset),
                        Some(e) => {
                            e.remote_closed |= fin;
                            Ok(Some(e.data.clone()))
                        }
                        // A stream we are done with: the client may still be sending.
                        None if known && stream_id % 2 == 1 => Ok(None),
                        None => Err(false),
                    }
                };
                match target {
                    Ok(Some(tx)) => {
                        if !data.is_empty() {
                            let _ = tx.send(Inbound::Data(data)).await;
                        }
                        if fin {
                            let _ = tx.send(Inbound::Fin).await;
                        }
                        Ok(())
                    }
                    Ok(None) | Err(true) => Ok(()),
                    Err(false) => {
                        let last = self.shared.lock().last_stream_id;
                        let status = if stream_id <= last {
                            rst::STREAM_ALREADY_CLOSED
                        } else {
                            rst::INVALID_STREAM
                        };
                        self.send(Frame::RstStream { stream_id, status }).await
                    }
                }
            }
            Frame::RstStream { stream_id, status } => {
                let tx = {
                    let mut st = self.shared.lock();
                    st.streams.get_mut(&stream_id).map(|e| {
                        e.reset = true;
                        if let Some(reply) = e.reply.take() {
                            let _ = reply.send(Err(status));
                        }
                        e.data.clone()
                    })
                };
                self.shared.changed.notify_waiters();
                if let Some(tx) = tx {
                    let _ = tx.send(Inbound::Reset(status)).await;
                }
                Ok(())
            }
            Frame::Ping { id } => {
                // The peer's pings: odd from a client, even from a server.
                let client = self.shared.lock().client;
                if (id % 2 == 1) != client {
                    self.send(Frame::Ping { id }).await?;
                }
                Ok(())
            }
            Frame::GoAway {
                last_good_stream_id,
                status,
            } => {
                debug!(last_good_stream_id, status, "spdy: the peer sent GOAWAY");
                self.incoming = None;
                self.shared.lock().went_away = true;
                Ok(())
            }
            Frame::Settings { entries, .. } => {
                let mut st = self.shared.lock();
                for s in entries {
                    if s.id == SETTINGS_INITIAL_WINDOW_SIZE {
                        let new = i64::from(s.value);
                        let delta = new - st.initial_window;
                        st.initial_window = new;
                        st.peer_flow_control = true;
                        for e in st.streams.values_mut() {
                            e.send_window += delta;
                        }
                    }
                }
                drop(st);
                self.shared.changed.notify_waiters();
                Ok(())
            }
            Frame::WindowUpdate { stream_id, delta } => {
                let mut st = self.shared.lock();
                st.peer_flow_control = true;
                if stream_id == 0 {
                    st.session_window += i64::from(delta);
                } else if let Some(e) = st.streams.get_mut(&stream_id) {
                    e.send_window += i64::from(delta);
                }
                drop(st);
                self.shared.changed.notify_waiters();
                Ok(())
            }
            Frame::Headers { stream_id, .. } => {
                debug!(stream_id, "spdy: HEADERS after SYN_STREAM ignored");
                Ok(())
            }
            Frame::SynReply { stream_id, fin, .. } => {
                let answered = {
                    let mut st = self.shared.lock();
                    let client = st.client;
                    match st.streams.get_mut(&stream_id) {
                        Some(e) if client => {
                            if let Some(reply) = e.reply.take() {
                                let _ = reply.send(Ok(()));
                            }
                            e.remote_closed |= fin;
                            Some(fin.then(|| e.data.clone()))
                        }
                        // A stream we forgot already: nothing to tell.
                        None if client => Some(None),
                        _ => None,
                    }
                };
                match answered {
                    Some(Some(tx)) => {
                        let _ = tx.send(Inbound::Fin).await;
                        Ok(())
                    }
                    Some(None) => Ok(()),
                    // The server opens no streams: a reply to one is a protocol error.
                    None => {
                        self.send(Frame::RstStream {
                            stream_id,
                            status: rst::PROTOCOL_ERROR,
                        })
                        .await
                    }
                }
            }
            Frame::Unknown { kind, .. } => {
                debug!(kind, "spdy: unknown control frame skipped");
                Ok(())
            }
        }
    }

    async fn open(&mut self, stream_id: u32, fin: bool, headers: Headers) -> Result<()> {
        let refuse = {
            let st = self.shared.lock();
            if st.client {
                // We are the client: the server opens no streams here.
                Some(rst::REFUSED_STREAM)
            } else if st.streams.contains_key(&stream_id) {
                Some(rst::STREAM_IN_USE)
            } else if stream_id.is_multiple_of(2) || stream_id <= st.last_stream_id {
                Some(rst::PROTOCOL_ERROR)
            } else if self.incoming.is_none() {
                Some(rst::REFUSED_STREAM)
            } else {
                None
            }
        };
        if let Some(status) = refuse {
            return self.send(Frame::RstStream { stream_id, status }).await;
        }
        let (tx, rx) = mpsc::channel(STREAM_QUEUE);
        if fin {
            let _ = tx.try_send(Inbound::Fin);
        }
        {
            let mut st = self.shared.lock();
            st.last_stream_id = stream_id;
            let send_window = st.initial_window;
            st.streams.insert(
                stream_id,
                Entry {
                    data: tx,
                    send_window,
                    remote_closed: fin,
                    reset: false,
                    reply: None,
                },
            );
        }
        let stream = new_stream(&self.shared, &self.frames, stream_id, headers, rx);
        if let Some(incoming) = &self.incoming {
            if incoming.send(stream).await.is_err() {
                // Nobody accepts any more: the stream is dropped, which resets it.
                self.incoming = None;
            }
        }
        Ok(())
    }
}

/// The [`Stream`] for an entry already in the table.
fn new_stream(
    shared: &Arc<Shared>,
    frames: &mpsc::Sender<Frame>,
    id: u32,
    headers: Headers,
    rx: mpsc::Receiver<Inbound>,
) -> Stream {
    let link = Arc::new(Link {
        id,
        shared: shared.clone(),
        frames: frames.clone(),
        finished: Mutex::new(false),
    });
    Stream {
        headers,
        reader: StreamReader {
            link: link.clone(),
            rx,
            unacked: 0,
            done: false,
        },
        writer: StreamWriter { link },
    }
}

async fn write_loop<W: AsyncWrite + Unpin>(
    mut w: W,
    mut rx: mpsc::Receiver<Frame>,
    shared: Arc<Shared>,
) {
    let mut encoder = FrameEncoder::new();
    let mut out = BytesMut::with_capacity(16 * 1024);
    while let Some(frame) = rx.recv().await {
        let mut result = encoder.encode(&frame, &mut out);
        trace!(?frame, "spdy frame out");
        while result.is_ok() && out.len() < 64 * 1024 {
            match rx.try_recv() {
                Ok(frame) => {
                    trace!(?frame, "spdy frame out");
                    result = encoder.encode(&frame, &mut out);
                }
                Err(_) => break,
            }
        }
        let written = match result {
            Ok(()) => match w.write_all(&out).await {
                Ok(()) => w.flush().await,
                Err(e) => Err(e),
            },
            Err(e) => Err(std::io::Error::other(e.to_string())),
        };
        out.clear();
        if let Err(e) = written {
            debug!(error = %e, "spdy: writing failed");
            shared.close();
            return;
        }
    }
    let _ = w.shutdown().await;
}

// === impl Stream ===

/// What both halves of a stream share; dropping the last half forgets the stream (and resets
/// it if it was neither closed nor reset).
struct Link {
    id: u32,
    shared: Arc<Shared>,
    frames: mpsc::Sender<Frame>,
    /// We sent `FLAG_FIN` or `RST_STREAM`.
    finished: Mutex<bool>,
}

impl Link {
    fn finished(&self) -> std::sync::MutexGuard<'_, bool> {
        self.finished.lock().expect("spdy stream state poisoned")
    }
}

impl Drop for Link {
    fn drop(&mut self) {
        let entry = self.shared.lock().streams.remove(&self.id);
        let done = *self.finished();
        if !done && entry.is_some_and(|e| !e.reset) {
            let _ = self.frames.try_send(Frame::RstStream {
                stream_id: self.id,
                status: rst::CANCEL,
            });
        }
    }
}

/// A stream of the session (the client opened it): its headers, and a reading and a writing
/// half.
pub struct Stream {
    headers: Headers,
    reader: StreamReader,
    writer: StreamWriter,
}

impl std::fmt::Debug for Stream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Stream")
            .field("id", &self.id())
            .field("headers", &self.headers)
            .finish()
    }
}

impl Stream {
    /// The stream's id (odd: the client's).
    pub fn id(&self) -> u32 {
        self.writer.link.id
    }

    /// The headers of its `SYN_STREAM` (the ones we sent, in the client role).
    pub fn headers(&self) -> &Headers {
        &self.headers
    }

    /// Accepts the stream: `SYN_REPLY` with no headers (what upstream's kubelet sends).
    pub async fn reply(&self) -> Result<()> {
        self.writer
            .send_frame(Frame::SynReply {
                stream_id: self.id(),
                fin: false,
                headers: Headers::new(),
            })
            .await
    }

    /// Refuses or aborts the stream: `RST_STREAM` with `status` (one of
    /// [`rst`]).
    pub async fn reset(self, status: u32) -> Result<()> {
        self.writer.reset(status).await
    }

    /// The next data from the client; `None` after its `FLAG_FIN` (see [`StreamReader::recv`]).
    pub async fn recv(&mut self) -> Result<Option<Bytes>> {
        self.reader.recv().await
    }

    /// Sends data (see [`StreamWriter::send`]).
    pub async fn send(&self, data: &[u8]) -> Result<()> {
        self.writer.send(data).await
    }

    /// Half-closes our side (see [`StreamWriter::close`]).
    pub async fn close(&self) -> Result<()> {
        self.writer.close().await
    }

    /// The two halves, to read and write at once.
    pub fn split(self) -> (StreamReader, StreamWriter) {
        (self.reader, self.writer)
    }
}

/// The reading half of a [`Stream`].
pub struct StreamReader {
    link: Arc<Link>,
    rx: mpsc::Receiver<Inbound>,
    /// Bytes consumed and not yet given back with `WINDOW_UPDATE`.
    unacked: u32,
    done: bool,
}

impl std::fmt::Debug for StreamReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StreamReader")
            .field("id", &self.link.id)
            .finish()
    }
}

impl StreamReader {
    /// The next data from the client; `None` once it half-closed the stream (`FLAG_FIN`).
    /// A reset stream or a lost connection is an error.
    pub async fn recv(&mut self) -> Result<Option<Bytes>> {
        if self.done {
            return Ok(None);
        }
        match self.rx.recv().await {
            Some(Inbound::Data(data)) => {
                self.unacked += data.len() as u32;
                if self.unacked >= DEFAULT_INITIAL_WINDOW / 2 {
                    let delta = std::mem::take(&mut self.unacked);
                    for stream_id in [self.link.id, 0] {
                        let _ = self
                            .link
                            .frames
                            .send(Frame::WindowUpdate { stream_id, delta })
                            .await;
                    }
                }
                Ok(Some(data))
            }
            Some(Inbound::Fin) => {
                self.done = true;
                Ok(None)
            }
            Some(Inbound::Reset(status)) => Err(Error::Io {
                context: format!("spdy stream {}", self.link.id),
                source: std::io::Error::new(
                    std::io::ErrorKind::ConnectionReset,
                    format!("reset by the peer (status {status})"),
                ),
            }),
            None => Err(closed()),
        }
    }
}

/// The writing half of a [`Stream`].
pub struct StreamWriter {
    link: Arc<Link>,
}

impl std::fmt::Debug for StreamWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StreamWriter")
            .field("id", &self.link.id)
            .finish()
    }
}

impl StreamWriter {
    async fn send_frame(&self, frame: Frame) -> Result<()> {
        self.link.frames.send(frame).await.map_err(|_| closed())
    }

    /// Sends `data` in `DATA` frames (waiting for window when the client does flow control).
    pub async fn send(&self, data: &[u8]) -> Result<()> {
        let id = self.link.id;
        let mut rest = data;
        while !rest.is_empty() {
            let n = loop {
                let changed = self.link.shared.changed.notified();
                tokio::pin!(changed);
                changed.as_mut().enable();
                {
                    let mut st = self.link.shared.lock();
                    if st.closed {
                        return Err(closed());
                    }
                    let enforce = st.peer_flow_control;
                    let session_window = st.session_window;
                    let Some(e) = st.streams.get_mut(&id) else {
                        return Err(closed());
                    };
                    if e.reset {
                        return Err(Error::Io {
                            context: format!("spdy stream {id}"),
                            source: std::io::ErrorKind::ConnectionReset.into(),
                        });
                    }
                    let avail = if enforce {
                        e.send_window.min(session_window)
                    } else {
                        i64::MAX
                    };
                    if avail > 0 {
                        let n = rest.len().min(MAX_DATA_CHUNK).min(avail as usize);
                        e.send_window -= n as i64;
                        st.session_window -= n as i64;
                        break n;
                    }
                }
                changed.await;
            };
            if *self.link.finished() {
                return Err(Error::InvalidState(format!(
                    "spdy stream {id}: write after close"
                )));
            }
            self.send_frame(Frame::Data {
                stream_id: id,
                fin: false,
                data: Bytes::copy_from_slice(&rest[..n]),
            })
            .await?;
            self.link.shared.touch();
            rest = &rest[n..];
        }
        Ok(())
    }

    /// Half-closes our side: an empty `DATA` frame with `FLAG_FIN`. Idempotent.
    pub async fn close(&self) -> Result<()> {
        {
            let mut finished = self.link.finished();
            if *finished {
                return Ok(());
            }
            *finished = true;
        }
        self.send_frame(Frame::Data {
            stream_id: self.link.id,
            fin: true,
            data: Bytes::new(),
        })
        .await
    }

    /// Aborts the stream: `RST_STREAM` with `status`.
    pub async fn reset(&self, status: u32) -> Result<()> {
        *self.link.finished() = true;
        if let Some(e) = self.link.shared.lock().streams.get_mut(&self.link.id) {
            e.reset = true;
        }
        self.link.shared.changed.notify_waiters();
        self.send_frame(Frame::RstStream {
            stream_id: self.link.id,
            status,
        })
        .await
    }
}

#[cfg(test)]
mod tests;
