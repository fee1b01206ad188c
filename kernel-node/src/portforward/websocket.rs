//! The WebSocket tunnel: a byte stream carried in binary WebSocket messages (RFC 6455), as
//! kubectl ≥ 1.31 carries SPDY for `port-forward` (subprotocol `SPDY/3.1+portforward.k8s.io`,
//! client-go's `TunnelingConnection`).
//!
//! [`WebSocketIo`] wraps the upgraded connection (after the 101 response; see
//! [`negotiate`](super::negotiate) for the handshake) and is itself `AsyncRead + AsyncWrite`:
//!
//! - reads yield the payloads of binary messages (continuation frames included), in order;
//!   a text message is an error (`InvalidData`), as the client treats one; a ping is answered
//!   with a pong; a close frame is answered with a close frame and reads then end (EOF);
//! - each write is sent as one binary message (at most 64 KiB; longer writes are split);
//! - shutdown sends a close frame (1000, normal closure: the client reads EOF) and then shuts
//!   the connection down.
//!
//! A [`Role::Server`] expects masked frames and sends unmasked ones; a [`Role::Client`] (for
//! tests and tools) masks what it sends.
//!
//! Whole messages, text ones included, are also to be had without the byte-stream view:
//! [`WebSocketIo::recv_message`] and [`WebSocketIo::send_message`] (what the channel
//! protocols, `v4.channel.k8s.io` and its base64 twin, are made of).

use std::io;
use std::pin::Pin;
use std::task::{ready, Context, Poll, Waker};

use std::collections::VecDeque;

use bytes::{Buf, BufMut, Bytes, BytesMut};
use ring::rand::{SecureRandom, SystemRandom};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, ReadBuf};

/// The largest frame payload accepted (a guard against a hostile length).
pub const MAX_FRAME: usize = 16 * 1024 * 1024;
/// The largest payload one write puts in a message.
const MAX_WRITE: usize = 64 * 1024;

/// Close code 1000: normal closure.
pub const CLOSE_NORMAL: u16 = 1000;

mod op {
    pub const CONTINUATION: u8 = 0x0;
    pub const TEXT: u8 = 0x1;
    pub const BINARY: u8 = 0x2;
    pub const CLOSE: u8 = 0x8;
    pub const PING: u8 = 0x9;
    pub const PONG: u8 = 0xa;
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

/// A WebSocket connection as a byte stream (see the [module docs](self)).
#[derive(Debug)]
pub struct WebSocketIo<T> {
    inner: T,
    role: Role,
    /// Raw bytes read from `inner`, not yet parsed.
    rbuf: BytesMut,
    /// Byte-stream view: the rest of the message being read.
    pending: Bytes,
    /// The opcode of the message whose continuation frames are coming.
    message: Option<u8>,
    /// The frames of that message so far.
    partial: BytesMut,
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
            message: None,
            partial: BytesMut::new(),
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
        let masked = self.role == Role::Client;
        self.wbuf.put_u8(0x80 | opcode);
        let mask_bit = if masked { 0x80 } else { 0 };
        match payload.len() {
            n if n < 126 => self.wbuf.put_u8(mask_bit | n as u8),
            n if n <= usize::from(u16::MAX) => {
                self.wbuf.put_u8(mask_bit | 126);
                self.wbuf.put_u16(n as u16);
            }
            n => {
                self.wbuf.put_u8(mask_bit | 127);
                self.wbuf.put_u64(n as u64);
            }
        }
        if masked {
            let mut key = [0u8; 4];
            SystemRandom::new()
                .fill(&mut key)
                .expect("the system random source works");
            self.wbuf.put_slice(&key);
            let start = self.wbuf.len();
            self.wbuf.put_slice(payload);
            for (i, b) in self.wbuf[start..].iter_mut().enumerate() {
                *b ^= key[i % 4];
            }
        } else {
            self.wbuf.put_slice(payload);
        }
    }

    fn queue_close(&mut self, code: u16) {
        if !self.close_sent {
            self.close_sent = true;
            self.queue(op::CLOSE, &code.to_be_bytes());
        }
    }

    /// Parses one whole frame off `rbuf` and acts on it. `Ok(false)`: no whole frame yet.
    fn parse_one(&mut self) -> io::Result<bool> {
        let buf = &self.rbuf[..];
        if buf.len() < 2 {
            return Ok(false);
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
                    return Ok(false);
                }
                at = 4;
                usize::from(u16::from_be_bytes([buf[2], buf[3]]))
            }
            127 => {
                if buf.len() < 10 {
                    return Ok(false);
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
            return Ok(false);
        }
        let mut key = [0u8; 4];
        if masked {
            key.copy_from_slice(&buf[at..at + 4]);
        }
        self.rbuf.advance(at + key_len);
        let mut payload = self.rbuf.split_to(len);
        if masked {
            for (i, b) in payload.iter_mut().enumerate() {
                *b ^= key[i % 4];
            }
        }
        match opcode {
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
                    self.messages.push_back(Message { kind, data });
                } else {
                    self.message = Some(kind);
                }
            }
            op::PING => {
                if !fin || len > 125 {
                    return Err(invalid("websocket: bad ping frame"));
                }
                if !self.close_sent {
                    self.queue(op::PONG, &payload);
                }
            }
            op::PONG => {}
            op::CLOSE => {
                self.read_closed = true;
                // Answer with the same code (or a normal closure).
                let code = if payload.len() >= 2 {
                    u16::from_be_bytes([payload[0], payload[1]])
                } else {
                    CLOSE_NORMAL
                };
                self.queue_close(code);
            }
            other => return Err(invalid(format!("websocket: unknown opcode {other:#x}"))),
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
                if self.message.is_some() || !self.rbuf.is_empty() {
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
