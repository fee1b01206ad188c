//! A minimal RFC 6455 WebSocket, server side: the handshake's accept key, reading the
//! client's (masked, possibly fragmented) frames as messages, and writing unmasked frames.
//! Enough for the remotecommand channel protocol; no extensions (no compression).

use base64::Engine;
use tokio::io::{AsyncRead, AsyncReadExt};

/// The GUID RFC 6455 appends to the client's key.
const GUID: &str = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
/// The largest message accepted from a client.
const MAX_MESSAGE: usize = 16 << 20;

/// Frame opcodes.
pub(crate) mod opcode {
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
    pub const PONG: u8 = 0xA;
}

/// `Sec-WebSocket-Accept` for the client's `Sec-WebSocket-Key`.
pub(crate) fn accept_key(key: &str) -> String {
    let mut ctx = ring::digest::Context::new(&ring::digest::SHA1_FOR_LEGACY_USE_ONLY);
    ctx.update(key.trim().as_bytes());
    ctx.update(GUID.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(ctx.finish().as_ref())
}

/// A message from the client.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Message {
    /// A text message.
    Text(Vec<u8>),
    /// A binary message.
    Binary(Vec<u8>),
    /// A ping (to be answered with a pong of the same payload).
    Ping(Vec<u8>),
    /// A pong.
    Pong,
    /// The client closes.
    Close,
}

/// Reads messages from the client side of a connection.
pub(crate) struct Reader<R> {
    inner: R,
    /// A fragmented message being assembled (control frames may come between its frames).
    partial: Option<(u8, Vec<u8>)>,
}

impl<R: AsyncRead + Unpin> Reader<R> {
    /// Reads from `inner`.
    pub(crate) fn new(inner: R) -> Self {
        Reader {
            inner,
            partial: None,
        }
    }

    async fn frame(&mut self) -> std::io::Result<(bool, u8, Vec<u8>)> {
        let mut head = [0u8; 2];
        self.inner.read_exact(&mut head).await?;
        let fin = head[0] & 0x80 != 0;
        let op = head[0] & 0x0F;
        let masked = head[1] & 0x80 != 0;
        let len = match head[1] & 0x7F {
            126 => u64::from(self.inner.read_u16().await?),
            127 => self.inner.read_u64().await?,
            n => u64::from(n),
        };
        if len > MAX_MESSAGE as u64 {
            return Err(invalid("WebSocket frame too large"));
        }
        let mut mask = [0u8; 4];
        if masked {
            self.inner.read_exact(&mut mask).await?;
        }
        let mut payload = vec![0u8; len as usize];
        self.inner.read_exact(&mut payload).await?;
        if masked {
            for (i, b) in payload.iter_mut().enumerate() {
                *b ^= mask[i % 4];
            }
        }
        Ok((fin, op, payload))
    }

    /// The next message; `Ok(None)` at the end of the connection.
    pub(crate) async fn next(&mut self) -> std::io::Result<Option<Message>> {
        loop {
            let (fin, op, payload) = match self.frame().await {
                Ok(f) => f,
                Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(None),
                Err(e) => return Err(e),
            };
            let message = &mut self.partial;
            match op {
                opcode::PING => return Ok(Some(Message::Ping(payload))),
                opcode::PONG => return Ok(Some(Message::Pong)),
                opcode::CLOSE => return Ok(Some(Message::Close)),
                opcode::TEXT | opcode::BINARY => {
                    if message.is_some() {
                        return Err(invalid("a new WebSocket message inside a fragmented one"));
                    }
                    *message = Some((op, payload));
                }
                opcode::CONTINUATION => match message {
                    Some((_, data)) => {
                        if data.len() + payload.len() > MAX_MESSAGE {
                            return Err(invalid("WebSocket message too large"));
                        }
                        data.extend_from_slice(&payload);
                    }
                    None => return Err(invalid("a WebSocket continuation without a message")),
                },
                _ => return Err(invalid("unknown WebSocket opcode")),
            }
            if fin {
                if let Some((op, data)) = message.take() {
                    return Ok(Some(if op == opcode::TEXT {
                        Message::Text(data)
                    } else {
                        Message::Binary(data)
                    }));
                }
            }
        }
    }
}

fn invalid(message: &str) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidData, message.to_string())
}

/// One unmasked frame (a server's), final.
pub(crate) fn frame(op: u8, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(payload.len() + 10);
    out.push(0x80 | op);
    match payload.len() {
        n if n < 126 => out.push(n as u8),
        n if n <= usize::from(u16::MAX) => {
            out.push(126);
            out.extend_from_slice(&(n as u16).to_be_bytes());
        }
        n => {
            out.push(127);
            out.extend_from_slice(&(n as u64).to_be_bytes());
        }
    }
    out.extend_from_slice(payload);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_key_of_rfc6455() {
        assert_eq!(
            accept_key("dGhlIHNhbXBsZSBub25jZQ=="),
            "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
        );
    }

    fn masked(fin: bool, op: u8, payload: &[u8]) -> Vec<u8> {
        let mask = [1u8, 2, 3, 4];
        let mut out = vec![if fin { 0x80 } else { 0 } | op, 0x80 | payload.len() as u8];
        out.extend_from_slice(&mask);
        out.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
        out
    }

    #[tokio::test]
    async fn reads_masked_and_fragmented_messages() {
        let mut wire = masked(false, opcode::BINARY, b"\x00he");
        wire.extend(masked(true, opcode::PING, b"p"));
        wire.extend(masked(true, opcode::CONTINUATION, b"llo"));
        wire.extend(masked(true, opcode::CLOSE, b""));
        let mut r = Reader::new(&wire[..]);
        // A control frame may come between fragments.
        assert_eq!(r.next().await.unwrap(), Some(Message::Ping(b"p".to_vec())));
        assert_eq!(
            r.next().await.unwrap(),
            Some(Message::Binary(b"\x00hello".to_vec()))
        );
        assert_eq!(r.next().await.unwrap(), Some(Message::Close));
        assert_eq!(r.next().await.unwrap(), None);
    }

    #[test]
    fn frame_lengths() {
        assert_eq!(frame(opcode::BINARY, b"ab"), [0x82, 2, b'a', b'b']);
        let long = frame(opcode::BINARY, &[0; 300]);
        assert_eq!(&long[..4], &[0x82, 126, 1, 44]);
        assert_eq!(long.len(), 304);
    }
}
