//! The one WebSocket (RFC 6455) codec of the crate, both roles: the frame encoder (masking
//! for the client role), a frame decoder (fragments joined, control frames between them, the
//! masking rule of each role checked), the handshake helpers ([`accept_key`] for a server;
//! [`client_key`] and [`client_request`] for a client), and two ways to drive a connection:
//!
//! - [`WebSocketIo`] owns the whole connection and is itself `AsyncRead + AsyncWrite`, as
//!   port-forward's WebSocket tunnel (kubectl ≥ 1.31 carries SPDY in binary messages,
//!   subprotocol `SPDY/3.1+portforward.k8s.io`, client-go's `TunnelingConnection`) wants it:
//!   - reads yield the payloads of binary messages (continuation frames included), in order;
//!     a text message is an error (`InvalidData`), as the client treats one; a ping is
//!     answered with a pong; a close frame is answered with a close frame and reads then end
//!     (EOF);
//!   - each write is sent as one binary message (at most 64 KiB; longer writes are split);
//!   - shutdown sends a close frame (1000, normal closure: the client reads EOF) and then
//!     shuts the connection down.
//!
//!   Whole messages, text ones included, are also to be had without the byte-stream view:
//!   [`WebSocketIo::recv_message`] and [`WebSocketIo::send_message`] (what the channel
//!   protocols, `v4.channel.k8s.io` and its base64 twin, are made of).
//! - [`Reader`] reads the frames of one direction off a read half, for a connection whose
//!   writing is done elsewhere with [`frame`] (remotecommand's exec/attach server, the CRI
//!   streaming client); it hands control frames to its caller, who answers them.
//!
//! A [`Role::Server`] expects masked frames and sends unmasked ones; a [`Role::Client`]
//! masks what it sends and expects unmasked frames. No extensions (no compression).

use std::io;
use std::pin::Pin;
use std::task::{ready, Context, Poll, Waker};

use std::collections::VecDeque;

use base64::Engine as _;
use bytes::{Buf, BufMut, Bytes, BytesMut};
use ring::rand::{SecureRandom, SystemRandom};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};

/// The largest frame payload accepted (a guard against a hostile length).
pub const MAX_FRAME: usize = 16 * 1024 * 1024;
/// The largest payload one write puts in a message.
const MAX_WRITE: usize = 64 * 1024;

/// Close code 1000: normal closure.
pub const CLOSE_NORMAL: u16 = 1000;

/// The GUID RFC 6455 appends to the client's key.
const GUID: &str = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/// Frame opcodes.
pub mod op {
    /// A continuation frame.
    pub const CONTINUATION: u8 = 0x0;
    /// A text message.
    pub const TEXT: u8 = 0x1;
    /// A binary message.
    pub const BINARY: u8 = 0x2;
    /// Close.
    pub const CLOSE: u8 = 0x8;
    /// Ping.
    pub const PING: u8 = 0x9;
    /// Pong.
    pub const PONG: u8 = 0xa;
}

/// `Sec-WebSocket-Accept` for a `Sec-WebSocket-Key`: base64(SHA-1(key + GUID)).
pub fn accept_key(key: &str) -> String {
    let mut ctx = ring::digest::Context::new(&ring::digest::SHA1_FOR_LEGACY_USE_ONLY);
    ctx.update(key.trim().as_bytes());
    ctx.update(GUID.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(ctx.finish().as_ref())
}

/// A fresh `Sec-WebSocket-Key` for a client's handshake: 16 random bytes, base64.
pub fn client_key() -> String {
    let mut nonce = [0u8; 16];
    SystemRandom::new()
        .fill(&mut nonce)
        .expect("the system random source works");
    base64::engine::general_purpose::STANDARD.encode(nonce)
}

/// A client's upgrade request head (`GET path HTTP/1.1` and its headers, up to the blank
/// line) for `host`, with `key` (see [`client_key`]) and the `protocol` offered, if any.
pub fn client_request(path: &str, host: &str, key: &str, protocol: Option<&str>) -> String {
    let offer = protocol
        .map(|p| format!("Sec-WebSocket-Protocol: {p}\r\n"))
        .unwrap_or_default();
    format!(
        "GET {path} HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n{offer}\r\n"
    )
}

/// Appends one final frame (`opcode`, `payload`) to `out` as `role` sends it: a client's is
/// masked with a fresh random key.
pub fn encode_frame(out: &mut BytesMut, role: Role, opcode: u8, payload: &[u8]) {
    let masked = role == Role::Client;
    out.reserve(payload.len() + 14);
    out.put_u8(0x80 | opcode);
    let mask_bit = if masked { 0x80 } else { 0 };
    match payload.len() {
        n if n < 126 => out.put_u8(mask_bit | n as u8),
        n if n <= usize::from(u16::MAX) => {
            out.put_u8(mask_bit | 126);
            out.put_u16(n as u16);
        }
        n => {
            out.put_u8(mask_bit | 127);
            out.put_u64(n as u64);
        }
    }
    if masked {
        let mut key = [0u8; 4];
        SystemRandom::new()
            .fill(&mut key)
            .expect("the system random source works");
        out.put_slice(&key);
        let start = out.len();
        out.put_slice(payload);
        for (i, b) in out[start..].iter_mut().enumerate() {
            *b ^= key[i % 4];
        }
    } else {
        out.put_slice(payload);
    }
}

/// One final frame as `role` sends it (see [`encode_frame`]), as its own buffer.
pub fn frame(role: Role, opcode: u8, payload: &[u8]) -> Vec<u8> {
    let mut out = BytesMut::new();
    encode_frame(&mut out, role, opcode, payload);
    out.to_vec()
}

/// A whole message's kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MessageKind {
    /// A binary message.
    Binary,
    /// A text (UTF-8) message.
    Text,
}

/// One whole data message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Message {
    /// Binary or text.
    pub kind: MessageKind,
    /// The payload (all its frames joined).
    pub data: Bytes,
}

/// Which end of the WebSocket we are.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// The server: frames from the client must be masked; ours are not.
    Server,
    /// The client: our frames are masked.
    Client,
}

/// What one decoded frame amounts to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Frame {
    /// The last frame of a data message: the whole message.
    Message(Message),
    /// A ping, to be answered with a pong of the same payload.
    Ping(Bytes),
    /// A pong.
    Pong,
    /// The peer closes, with its status code if it sent one.
    Close(Option<u16>),
}

/// Decodes the frames of one direction of a connection (see the [module docs](self)).
#[derive(Debug)]
pub struct Decoder {
    /// Our end: the peer's frames must be masked when we are the server, unmasked otherwise.
    role: Role,
    /// The opcode of the message whose continuation frames are coming.
    message: Option<u8>,
    /// The frames of that message so far.
    partial: BytesMut,
}

impl Decoder {
    /// A decoder for `role`'s end of a connection.
    pub fn new(role: Role) -> Decoder {
        Decoder {
            role,
            message: None,
            partial: BytesMut::new(),
        }
    }

    /// Whether a fragmented message is partly read.
    pub fn mid_message(&self) -> bool {
        self.message.is_some()
    }

    /// Takes one whole frame off the front of `rbuf`. `Ok(None)`: no whole frame yet (the
    /// frame that completes no message yields nothing either, and the next is tried).
    pub fn decode(&mut self, rbuf: &mut BytesMut) -> io::Result<Option<Frame>> {
        loop {
            let Some(frame) = self.decode_one(rbuf)? else {
                return Ok(None);
            };
            if let Some(frame) = frame {
                return Ok(Some(frame));
            }
        }
    }

    /// One frame: `None` when `rbuf` has no whole frame, `Some(None)` for a data frame that
    /// does not end its message.
    fn decode_one(&mut self, rbuf: &mut BytesMut) -> io::Result<Option<Option<Frame>>> {
        let buf = &rbuf[..];
        if buf.len() < 2 {
            return Ok(None);
        }
        let fin = buf[0] & 0x80 != 0;
        if buf[0] & 0x70 != 0 {
            return Err(invalid(
                "websocket: reserved bits set (no extension was agreed)",
            ));
        }
        let opcode = buf[0] & 0x0f;
        let masked = buf[1] & 0x80 != 0;
        let mut at = 2;
        let len = match buf[1] & 0x7f {
            126 => {
                if buf.len() < 4 {
                    return Ok(None);
                }
                at = 4;
                usize::from(u16::from_be_bytes([buf[2], buf[3]]))
            }
            127 => {
                if buf.len() < 10 {
                    return Ok(None);
                }
                at = 10;
                let n = u64::from_be_bytes(buf[2..10].try_into().expect("8 bytes"));
                usize::try_from(n).unwrap_or(usize::MAX)
            }
            n => usize::from(n),
        };
        if len > MAX_FRAME {
            return Err(invalid(format!(
                "websocket: frame of {len} bytes is too large"
            )));
        }
        match (self.role, masked) {
            (Role::Server, false) => return Err(invalid("websocket: unmasked client frame")),
            (Role::Client, true) => return Err(invalid("websocket: masked server frame")),
            _ => {}
        }
        let key_len = if masked { 4 } else { 0 };
        if buf.len() < at + key_len + len {
            return Ok(None);
        }
        let mut key = [0u8; 4];
        if masked {
            key.copy_from_slice(&buf[at..at + 4]);
        }
        rbuf.advance(at + key_len);
        let mut payload = rbuf.split_to(len);
        if masked {
            for (i, b) in payload.iter_mut().enumerate() {
                *b ^= key[i % 4];
            }
        }
        Ok(Some(match opcode {
            op::BINARY | op::TEXT | op::CONTINUATION => {
                let kind = match (opcode, self.message) {
                    (op::CONTINUATION, Some(kind)) => kind,
                    (op::CONTINUATION, None) => {
                        return Err(invalid("websocket: continuation without a message"))
                    }
                    (_, Some(_)) => return Err(invalid("websocket: new message inside another")),
                    (kind, None) => kind,
                };
                if self.partial.len() + payload.len() > MAX_FRAME {
                    return Err(invalid("websocket: message too large"));
                }
                self.partial.extend_from_slice(&payload);
                if fin {
                    self.message = None;
                    let kind = if kind == op::TEXT {
                        MessageKind::Text
                    } else {
                        MessageKind::Binary
                    };
                    let data = self.partial.split().freeze();
                    Some(Frame::Message(Message { kind, data }))
                } else {
                    self.message = Some(kind);
                    None
                }
            }
            op::PING => {
                if !fin || len > 125 {
                    return Err(invalid("websocket: bad ping frame"));
                }
                Some(Frame::Ping(payload.freeze()))
            }
            op::PONG => Some(Frame::Pong),
            op::CLOSE => Some(Frame::Close(
                (payload.len() >= 2).then(|| u16::from_be_bytes([payload[0], payload[1]])),
            )),
            other => return Err(invalid(format!("websocket: unknown opcode {other:#x}"))),
        }))
    }
}

/// Reads the frames of one direction off a read half (see the [module docs](self)).
#[derive(Debug)]
pub struct Reader<R> {
    inner: R,
    decoder: Decoder,
    /// Raw bytes read from `inner`, not yet decoded.
    rbuf: BytesMut,
}

impl<R: AsyncRead + Unpin> Reader<R> {
    /// Reads what the peer of `role` sends on `inner`.
    pub fn new(inner: R, role: Role) -> Reader<R> {
        Reader {
            inner,
            decoder: Decoder::new(role),
            rbuf: BytesMut::with_capacity(16 * 1024),
        }
    }

    /// The next frame that means something (a whole message or a control frame); `Ok(None)`
    /// when the connection ended between messages, `UnexpectedEof` when it ended inside one.
    pub async fn next(&mut self) -> io::Result<Option<Frame>> {
        loop {
            if let Some(frame) = self.decoder.decode(&mut self.rbuf)? {
                return Ok(Some(frame));
            }
            if self.rbuf.capacity() - self.rbuf.len() < 4096 {
                self.rbuf.reserve(16 * 1024);
            }
            if self.inner.read_buf(&mut self.rbuf).await? == 0 {
                if self.decoder.mid_message() || !self.rbuf.is_empty() {
                    return Err(io::ErrorKind::UnexpectedEof.into());
                }
                return Ok(None);
            }
        }
    }
}

/// A WebSocket connection as a byte stream (see the [module docs](self)).
#[derive(Debug)]
pub struct WebSocketIo<T> {
    inner: T,
    role: Role,
    /// Raw bytes read from `inner`, not yet parsed.
    rbuf: BytesMut,
    /// Byte-stream view: the rest of the message being read.
    pending: Bytes,
    /// Decodes what `rbuf` holds.
    decoder: Decoder,
    /// Whole messages not yet taken.
    messages: VecDeque<Message>,
    /// A close frame came (or the connection ended): reads are at EOF.
    read_closed: bool,
    /// Encoded frames not yet written to `inner`.
    wbuf: BytesMut,
    /// We queued our close frame.
    close_sent: bool,
    /// The task last told to wait for `wbuf` to drain. The reading side also writes (pongs,
    /// close replies, and whatever is queued before them); when the two sides run in two
    /// tasks (`tokio::io::split`), the connection keeps only the last write waker, so the
    /// reading side wakes this one after it wrote.
    write_waker: Option<Waker>,
}

fn invalid(msg: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg.into())
}

impl<T> WebSocketIo<T> {
    /// Wraps an upgraded connection.
    pub fn new(inner: T, role: Role) -> WebSocketIo<T> {
        WebSocketIo {
            inner,
            role,
            rbuf: BytesMut::with_capacity(16 * 1024),
            pending: Bytes::new(),
            decoder: Decoder::new(role),
            messages: VecDeque::new(),
            read_closed: false,
            wbuf: BytesMut::new(),
            close_sent: false,
            write_waker: None,
        }
    }

    /// The wrapped connection.
    pub fn into_inner(self) -> T {
        self.inner
    }

    /// Appends one frame to the write buffer.
    fn queue(&mut self, opcode: u8, payload: &[u8]) {
        encode_frame(&mut self.wbuf, self.role, opcode, payload);
    }

    fn queue_close(&mut self, code: u16) {
        if !self.close_sent {
            self.close_sent = true;
            self.queue(op::CLOSE, &code.to_be_bytes());
        }
    }

    /// Parses one whole frame off `rbuf` and acts on it. `Ok(false)`: no whole frame yet.
    fn parse_one(&mut self) -> io::Result<bool> {
        match self.decoder.decode(&mut self.rbuf)? {
            None => return Ok(false),
            Some(Frame::Message(m)) => self.messages.push_back(m),
            Some(Frame::Ping(payload)) => {
                if !self.close_sent {
                    self.queue(op::PONG, &payload);
                }
            }
            Some(Frame::Pong) => {}
            Some(Frame::Close(code)) => {
                self.read_closed = true;
                // Answer with the same code (or a normal closure).
                self.queue_close(code.unwrap_or(CLOSE_NORMAL));
            }
        }
        Ok(true)
    }
}

impl<T: AsyncWrite + Unpin> WebSocketIo<T> {
    /// Writes out the write buffer from the reading side (see `write_waker`); a failure is
    /// left for the writing side to see.
    fn drain_from_reader(&mut self, cx: &mut Context<'_>) {
        if self.wbuf.is_empty() {
            return;
        }
        if let Poll::Ready(Err(_)) = self.poll_drain(cx) {
            self.wbuf.clear();
        }
        if let Some(waker) = self.write_waker.take() {
            waker.wake();
        }
    }

    /// Writes out the write buffer from the writing side.
    fn poll_drain_writer(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let r = self.poll_drain(cx);
        if r.is_pending() {
            self.write_waker = Some(cx.waker().clone());
        }
        r
    }

    /// Writes out the write buffer.
    fn poll_drain(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while !self.wbuf.is_empty() {
            let n = ready!(Pin::new(&mut self.inner).poll_write(cx, &self.wbuf))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            self.wbuf.advance(n);
        }
        Poll::Ready(Ok(()))
    }
}

impl<T: AsyncRead + AsyncWrite + Unpin> WebSocketIo<T> {
    /// The next whole data message; `None` once the peer closed (a close frame, answered, or
    /// the connection's end). Pings are answered on the way.
    pub fn poll_recv_message(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<Option<Message>>> {
        loop {
            if let Some(m) = self.messages.pop_front() {
                return Poll::Ready(Ok(Some(m)));
            }
            if self.read_closed {
                // Send our close reply (or pong) on the way out.
                self.drain_from_reader(cx);
                return Poll::Ready(Ok(None));
            }
            if self.parse_one()? {
                continue;
            }
            // Pongs and close replies go out while we wait for more.
            self.drain_from_reader(cx);
            if self.rbuf.capacity() - self.rbuf.len() < 4096 {
                self.rbuf.reserve(16 * 1024);
            }
            let n = {
                let dst = self.rbuf.spare_capacity_mut();
                let mut rb = ReadBuf::uninit(dst);
                ready!(Pin::new(&mut self.inner).poll_read(cx, &mut rb))?;
                rb.filled().len()
            };
            if n == 0 {
                // The connection ended without a close frame.
                self.read_closed = true;
                if self.decoder.mid_message() || !self.rbuf.is_empty() {
                    return Poll::Ready(Err(io::ErrorKind::UnexpectedEof.into()));
                }
                return Poll::Ready(Ok(None));
            }
            // SAFETY: `poll_read` initialised the first `n` bytes of the spare capacity.
            unsafe { self.rbuf.set_len(self.rbuf.len() + n) };
        }
    }

    /// The next whole data message (see [`WebSocketIo::poll_recv_message`]).
    pub async fn recv_message(&mut self) -> io::Result<Option<Message>> {
        std::future::poll_fn(|cx| self.poll_recv_message(cx)).await
    }

    /// Sends one message and flushes it.
    pub async fn send_message(&mut self, kind: MessageKind, data: &[u8]) -> io::Result<()> {
        std::future::poll_fn(|cx| self.poll_drain_writer(cx)).await?;
        if self.close_sent {
            return Err(io::ErrorKind::BrokenPipe.into());
        }
        let opcode = match kind {
            MessageKind::Binary => op::BINARY,
            MessageKind::Text => op::TEXT,
        };
        self.queue(opcode, data);
        std::future::poll_fn(|cx| {
            ready!(self.poll_drain_writer(cx))?;
            Pin::new(&mut self.inner).poll_flush(cx)
        })
        .await
    }

    /// Sends a close frame with `code` (once) and shuts the connection down.
    pub async fn close(&mut self, code: u16) -> io::Result<()> {
        self.queue_close(code);
        AsyncWriteExt::shutdown(self).await
    }
}

impl<T: AsyncRead + AsyncWrite + Unpin> AsyncRead for WebSocketIo<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        out: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        loop {
            if !this.pending.is_empty() {
                let n = this.pending.len().min(out.remaining());
                out.put_slice(&this.pending[..n]);
                this.pending.advance(n);
                return Poll::Ready(Ok(()));
            }
            match ready!(this.poll_recv_message(cx))? {
                None => return Poll::Ready(Ok(())),
                Some(Message {
                    kind: MessageKind::Text,
                    ..
                }) => {
                    return Poll::Ready(Err(invalid(
                        "websocket: text message where binary is expected",
                    )))
                }
                Some(Message { data, .. }) => this.pending = data,
            }
        }
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for WebSocketIo<T> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        ready!(this.poll_drain_writer(cx))?;
        if this.close_sent {
            return Poll::Ready(Err(io::ErrorKind::BrokenPipe.into()));
        }
        if buf.is_empty() {
            return Poll::Ready(Ok(0));
        }
        let n = buf.len().min(MAX_WRITE);
        this.queue(op::BINARY, &buf[..n]);
        // Start writing now; what is left goes out on the next write or flush.
        if let Poll::Ready(Err(e)) = this.poll_drain_writer(cx) {
            return Poll::Ready(Err(e));
        }
        Poll::Ready(Ok(n))
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        ready!(this.poll_drain_writer(cx))?;
        Pin::new(&mut this.inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        this.queue_close(CLOSE_NORMAL);
        ready!(this.poll_drain_writer(cx))?;
        ready!(Pin::new(&mut this.inner).poll_flush(cx))?;
        Pin::new(&mut this.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests;
