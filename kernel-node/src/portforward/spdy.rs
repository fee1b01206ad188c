//! SPDY/3.1 framing (the SPDY/3 draft with 3.1's session flow control): [`Frame`]s, the
//! name/value [`Headers`] block, and its zlib compression with the SPDY/3 [`DICTIONARY`].
//!
//! What Kubernetes speaks for `kubectl port-forward` (and, before WebSockets, `exec`): the
//! `moby/spdystream` framer, version 3. Every frame starts with 8 bytes:
//!
//! - control frames: `1 | version(15) | type(16) | flags(8) | length(24)`;
//! - data frames: `0 | stream id(31) | flags(8) | length(24)`.
//!
//! Header blocks (`SYN_STREAM`, `SYN_REPLY`, `HEADERS`) are `count(32)` then, per pair,
//! `len(32) name len(32) value`, lowercase names, several values of one name joined by NUL;
//! the block is compressed with zlib using [`DICTIONARY`] as the preset dictionary, one zlib
//! stream per direction for the whole connection, each block ended with a SYNC_FLUSH
//! ([`HeaderCompressor`], [`HeaderDecompressor`]). A [`FrameEncoder`] and a [`FrameDecoder`]
//! each own one of those streams: use one of each per connection.
//!
//! The server side of a connection is [`Session`](super::session::Session).

use bytes::{Buf, BufMut, Bytes, BytesMut};
use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress, Status};

use crate::error::{Error, Result};

/// The SPDY version in every control frame.
pub const VERSION: u16 = 3;
/// `FLAG_FIN` (data frames, `SYN_STREAM`, `SYN_REPLY`, `HEADERS`): the sender's half is done.
pub const FLAG_FIN: u8 = 0x01;
/// `FLAG_UNIDIRECTIONAL` (`SYN_STREAM`): the receiver may not send on the stream.
pub const FLAG_UNIDIRECTIONAL: u8 = 0x02;
/// `FLAG_SETTINGS_CLEAR_SETTINGS` (`SETTINGS`).
pub const FLAG_SETTINGS_CLEAR_SETTINGS: u8 = 0x01;
/// The largest payload a frame's 24-bit length can say.
pub const MAX_FRAME_LENGTH: usize = (1 << 24) - 1;
/// The largest header block (compressed or not) we accept: a guard against zlib bombs.
pub const MAX_HEADER_BLOCK: usize = 1 << 20;
/// The window every stream and the session start with (SPDY/3.1: 64 KiB).
pub const DEFAULT_INITIAL_WINDOW: u32 = 64 * 1024;

/// `SETTINGS_INITIAL_WINDOW_SIZE`: the id of the setting that sets new streams' window.
pub const SETTINGS_INITIAL_WINDOW_SIZE: u32 = 7;

/// Control frame types.
mod kind {
    pub const SYN_STREAM: u16 = 1;
    pub const SYN_REPLY: u16 = 2;
    pub const RST_STREAM: u16 = 3;
    pub const SETTINGS: u16 = 4;
    pub const PING: u16 = 6;
    pub const GOAWAY: u16 = 7;
    pub const HEADERS: u16 = 8;
    pub const WINDOW_UPDATE: u16 = 9;
}

/// `RST_STREAM` status codes (SPDY/3 section 2.6.3).
pub mod rst {
    /// `PROTOCOL_ERROR`.
    pub const PROTOCOL_ERROR: u32 = 1;
    /// `INVALID_STREAM`: a frame for a stream that is not open.
    pub const INVALID_STREAM: u32 = 2;
    /// `REFUSED_STREAM`: the stream was not processed (e.g. after a GOAWAY).
    pub const REFUSED_STREAM: u32 = 3;
    /// `UNSUPPORTED_VERSION`.
    pub const UNSUPPORTED_VERSION: u32 = 4;
    /// `CANCEL`: the stream is no longer needed (what spdystream's `Reset` sends).
    pub const CANCEL: u32 = 5;
    /// `INTERNAL_ERROR`.
    pub const INTERNAL_ERROR: u32 = 6;
    /// `FLOW_CONTROL_ERROR`.
    pub const FLOW_CONTROL_ERROR: u32 = 7;
    /// `STREAM_IN_USE`: a `SYN_STREAM` for a stream already open.
    pub const STREAM_IN_USE: u32 = 8;
    /// `STREAM_ALREADY_CLOSED`: data on a half-closed stream.
    pub const STREAM_ALREADY_CLOSED: u32 = 9;
}

/// `GOAWAY` status codes.
pub mod goaway {
    /// `OK`: a normal session end.
    pub const OK: u32 = 0;
    /// `PROTOCOL_ERROR`.
    pub const PROTOCOL_ERROR: u32 = 1;
    /// `INTERNAL_ERROR`.
    pub const INTERNAL_ERROR: u32 = 2;
}

mod dictionary;
pub use dictionary::DICTIONARY;

fn protocol(msg: impl Into<String>) -> Error {
    Error::Backend(format!("spdy: {}", msg.into()))
}

// === impl Headers ===

/// A name/value header block, in order. Names are lowercase on the wire; a name with several
/// values appears once per value here (they travel NUL-joined).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Headers(Vec<(String, String)>);

impl Headers {
    /// No headers.
    pub fn new() -> Headers {
        Headers(Vec::new())
    }

    /// Adds a value for `name` (lowercased).
    pub fn add(&mut self, name: &str, value: impl Into<String>) -> &mut Headers {
        self.0.push((name.to_ascii_lowercase(), value.into()));
        self
    }

    /// Builder form of [`Headers::add`].
    pub fn with(mut self, name: &str, value: impl Into<String>) -> Headers {
        self.add(name, value);
        self
    }

    /// The first value of `name` (any case).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Every (name, value), in order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(n, v)| (n.as_str(), v.as_str()))
    }

    /// How many (name, value) pairs.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// No pairs.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The uncompressed block: the values of one name NUL-joined, names in first-seen order.
    pub fn encode_block(&self) -> Vec<u8> {
        let mut grouped: Vec<(&str, Vec<&str>)> = Vec::new();
        for (n, v) in &self.0 {
            match grouped.iter_mut().find(|(g, _)| g == n) {
                Some((_, vs)) => vs.push(v),
                None => grouped.push((n, vec![v])),
            }
        }
        let mut out = Vec::new();
        out.put_u32(grouped.len() as u32);
        for (n, vs) in grouped {
            out.put_u32(n.len() as u32);
            out.put_slice(n.as_bytes());
            let value = vs.join("\0");
            out.put_u32(value.len() as u32);
            out.put_slice(value.as_bytes());
        }
        out
    }

    /// Parses an uncompressed block. Refuses uppercase and repeated names and truncation, as
    /// spdystream does.
    pub fn decode_block(mut block: &[u8]) -> Result<Headers> {
        fn take<'a>(block: &mut &'a [u8], what: &str) -> Result<&'a [u8]> {
            if block.len() < 4 {
                return Err(protocol(format!("header block truncated in {what} length")));
            }
            let n = block.get_u32() as usize;
            if block.len() < n {
                return Err(protocol(format!("header block truncated in {what}")));
            }
            let (head, rest) = block.split_at(n);
            *block = rest;
            Ok(head)
        }
        if block.len() < 4 {
            return Err(protocol("header block without a count"));
        }
        let count = block.get_u32();
        let mut headers = Headers::new();
        for _ in 0..count {
            let name = take(&mut block, "name")?;
            let value = take(&mut block, "value")?;
            let name = std::str::from_utf8(name)
                .map_err(|_| protocol("header name is not UTF-8"))?
                .to_string();
            if name.is_empty() {
                return Err(protocol("empty header name"));
            }
            if name.bytes().any(|b| b.is_ascii_uppercase()) {
                return Err(protocol(format!("header name {name:?} is not lowercase")));
            }
            if headers.get(&name).is_some() {
                return Err(protocol(format!("header {name:?} repeated")));
            }
            let value = String::from_utf8_lossy(value);
            for v in value.split('\0') {
                headers.0.push((name.clone(), v.to_string()));
            }
        }
        if !block.is_empty() {
            return Err(protocol("bytes after the header block"));
        }
        Ok(headers)
    }
}

// === impl HeaderCompressor ===

/// One direction's header compression: a zlib stream primed with [`DICTIONARY`], shared by
/// every header block of the connection, each block ended with a SYNC_FLUSH.
pub struct HeaderCompressor {
    z: Compress,
}

impl std::fmt::Debug for HeaderCompressor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HeaderCompressor")
            .field("total_in", &self.z.total_in())
            .finish()
    }
}

impl Default for HeaderCompressor {
    fn default() -> Self {
        HeaderCompressor::new()
    }
}

impl HeaderCompressor {
    /// A fresh stream (its first block starts with the zlib header naming the dictionary).
    pub fn new() -> HeaderCompressor {
        let mut z = Compress::new(Compression::default(), true);
        z.set_dictionary(DICTIONARY)
            .expect("a fresh zlib stream takes a dictionary");
        HeaderCompressor { z }
    }

    /// Compresses one block (see [`Headers::encode_block`]).
    pub fn compress(&mut self, block: &[u8]) -> Result<Vec<u8>> {
        let mut out = Vec::with_capacity(block.len() / 2 + 64);
        let mut consumed = 0;
        loop {
            let before = self.z.total_in();
            self.z
                .compress_vec(&block[consumed..], &mut out, FlushCompress::Sync)
                .map_err(|e| protocol(format!("compressing headers: {e}")))?;
            consumed += (self.z.total_in() - before) as usize;
            // Done once all input is in and zlib stopped with room to spare (flush complete).
            if consumed == block.len() && out.len() < out.capacity() {
                return Ok(out);
            }
            out.reserve(out.capacity().max(64));
        }
    }
}

// === impl HeaderDecompressor ===

/// One direction's header decompression, the counterpart of [`HeaderCompressor`].
pub struct HeaderDecompressor {
    z: Decompress,
}

impl std::fmt::Debug for HeaderDecompressor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HeaderDecompressor")
            .field("total_in", &self.z.total_in())
            .finish()
    }
}

impl Default for HeaderDecompressor {
    fn default() -> Self {
        HeaderDecompressor::new()
    }
}

impl HeaderDecompressor {
    /// A fresh stream.
    pub fn new() -> HeaderDecompressor {
        HeaderDecompressor {
            z: Decompress::new(true),
        }
    }

    /// Decompresses one block: all of `input` must be consumed (a block is whole in its frame).
    pub fn decompress(&mut self, input: &[u8]) -> Result<Vec<u8>> {
        let mut out = Vec::with_capacity(input.len() * 4 + 64);
        let mut consumed = 0;
        loop {
            let before = self.z.total_in();
            let res = self
                .z
                .decompress_vec(&input[consumed..], &mut out, FlushDecompress::Sync);
            consumed += (self.z.total_in() - before) as usize;
            match res {
                Ok(Status::StreamEnd) => return Err(protocol("header zlib stream ended")),
                Ok(_) => {}
                Err(e) => match e.needs_dictionary() {
                    Some(_) => {
                        self.z
                            .set_dictionary(DICTIONARY)
                            .map_err(|e| protocol(format!("header dictionary: {e}")))?;
                        continue;
                    }
                    None => return Err(protocol(format!("decompressing headers: {e}"))),
                },
            }
            if consumed == input.len() && out.len() < out.capacity() {
                return Ok(out);
            }
            if out.len() >= MAX_HEADER_BLOCK {
                return Err(protocol("header block too large"));
            }
            out.reserve(out.capacity().max(64));
        }
    }
}

// === impl Frame ===

/// One `SETTINGS` entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Setting {
    /// `FLAG_SETTINGS_PERSIST_VALUE` (1), `FLAG_SETTINGS_PERSISTED` (2).
    pub flags: u8,
    /// The setting's id (24 bits), e.g. [`SETTINGS_INITIAL_WINDOW_SIZE`].
    pub id: u32,
    /// Its value.
    pub value: u32,
}

/// A SPDY/3 frame, headers uncompressed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Frame {
    /// `DATA`.
    Data {
        /// The stream.
        stream_id: u32,
        /// `FLAG_FIN`.
        fin: bool,
        /// The payload.
        data: Bytes,
    },
    /// `SYN_STREAM`: opens a stream.
    SynStream {
        /// The new stream (odd when the client opens it).
        stream_id: u32,
        /// The stream it belongs to (server push), 0 for none.
        associated_to: u32,
        /// 0 (highest) to 7.
        priority: u8,
        /// The credential slot, 0 for none.
        slot: u8,
        /// `FLAG_FIN`.
        fin: bool,
        /// `FLAG_UNIDIRECTIONAL`.
        unidirectional: bool,
        /// The stream's headers.
        headers: Headers,
    },
    /// `SYN_REPLY`: accepts a stream.
    SynReply {
        /// The stream.
        stream_id: u32,
        /// `FLAG_FIN`.
        fin: bool,
        /// The reply's headers.
        headers: Headers,
    },
    /// `RST_STREAM`: ends a stream abnormally.
    RstStream {
        /// The stream.
        stream_id: u32,
        /// One of [`rst`].
        status: u32,
    },
    /// `SETTINGS`.
    Settings {
        /// `FLAG_SETTINGS_CLEAR_SETTINGS`.
        clear: bool,
        /// The entries.
        entries: Vec<Setting>,
    },
    /// `PING`: echoed by the receiver when the id is the other side's (odd from clients).
    Ping {
        /// The ping's id.
        id: u32,
    },
    /// `GOAWAY`: no new streams; the last stream the sender processed.
    GoAway {
        /// The last stream id the sender accepted.
        last_good_stream_id: u32,
        /// One of [`goaway`].
        status: u32,
    },
    /// `HEADERS`: more headers for an open stream.
    Headers {
        /// The stream.
        stream_id: u32,
        /// `FLAG_FIN`.
        fin: bool,
        /// The headers.
        headers: Headers,
    },
    /// `WINDOW_UPDATE`: the receiver consumed `delta` bytes of a stream (0: of the session).
    WindowUpdate {
        /// The stream, or 0 for the session's window (SPDY/3.1).
        stream_id: u32,
        /// Bytes added to the window (31 bits).
        delta: u32,
    },
    /// A control frame of a type we do not know (skipped, as the spec says).
    Unknown {
        /// Its type.
        kind: u16,
        /// Its flags.
        flags: u8,
        /// Its payload.
        payload: Bytes,
    },
}

/// Serializes frames, compressing header blocks with its own [`HeaderCompressor`].
#[derive(Debug, Default)]
pub struct FrameEncoder {
    headers: HeaderCompressor,
}

impl FrameEncoder {
    /// A fresh encoder: one per connection direction.
    pub fn new() -> FrameEncoder {
        FrameEncoder::default()
    }

    /// Appends `frame`'s bytes to `out`.
    pub fn encode(&mut self, frame: &Frame, out: &mut BytesMut) -> Result<()> {
        fn control(out: &mut BytesMut, kind: u16, flags: u8, payload: &[u8]) -> Result<()> {
            if payload.len() > MAX_FRAME_LENGTH {
                return Err(protocol("control frame too long"));
            }
            out.put_u16(0x8000 | VERSION);
            out.put_u16(kind);
            out.put_u32((u32::from(flags) << 24) | payload.len() as u32);
            out.put_slice(payload);
            Ok(())
        }
        let fin = |f: bool| if f { FLAG_FIN } else { 0 };
        match frame {
            Frame::Data {
                stream_id,
                fin: f,
                data,
            } => {
                if data.len() > MAX_FRAME_LENGTH {
                    return Err(protocol("data frame too long"));
                }
                out.put_u32(stream_id & 0x7fff_ffff);
                out.put_u32((u32::from(fin(*f)) << 24) | data.len() as u32);
                out.put_slice(data);
            }
            Frame::SynStream {
                stream_id,
                associated_to,
                priority,
                slot,
                fin: f,
                unidirectional,
                headers,
            } => {
                let block = self.headers.compress(&headers.encode_block())?;
                let mut p = Vec::with_capacity(10 + block.len());
                p.put_u32(stream_id & 0x7fff_ffff);
                p.put_u32(associated_to & 0x7fff_ffff);
                p.put_u8((priority & 0x7) << 5);
                p.put_u8(*slot);
                p.put_slice(&block);
                let flags = fin(*f)
                    | if *unidirectional {
                        FLAG_UNIDIRECTIONAL
                    } else {
                        0
                    };
                control(out, kind::SYN_STREAM, flags, &p)?;
            }
            Frame::SynReply {
                stream_id,
                fin: f,
                headers,
            }
            | Frame::Headers {
                stream_id,
                fin: f,
                headers,
            } => {
                let block = self.headers.compress(&headers.encode_block())?;
                let mut p = Vec::with_capacity(4 + block.len());
                p.put_u32(stream_id & 0x7fff_ffff);
                p.put_slice(&block);
                let k = if matches!(frame, Frame::SynReply { .. }) {
                    kind::SYN_REPLY
                } else {
                    kind::HEADERS
                };
                control(out, k, fin(*f), &p)?;
            }
            Frame::RstStream { stream_id, status } => {
                let mut p = [0u8; 8];
                p[..4].copy_from_slice(&(stream_id & 0x7fff_ffff).to_be_bytes());
                p[4..].copy_from_slice(&status.to_be_bytes());
                control(out, kind::RST_STREAM, 0, &p)?;
            }
            Frame::Settings { clear, entries } => {
                let mut p = Vec::with_capacity(4 + 8 * entries.len());
                p.put_u32(entries.len() as u32);
                for e in entries {
                    p.put_u32((u32::from(e.flags) << 24) | (e.id & 0x00ff_ffff));
                    p.put_u32(e.value);
                }
                let flags = if *clear {
                    FLAG_SETTINGS_CLEAR_SETTINGS
                } else {
                    0
                };
                control(out, kind::SETTINGS, flags, &p)?;
            }
            Frame::Ping { id } => control(out, kind::PING, 0, &id.to_be_bytes())?,
            Frame::GoAway {
                last_good_stream_id,
                status,
            } => {
                let mut p = [0u8; 8];
                p[..4].copy_from_slice(&(last_good_stream_id & 0x7fff_ffff).to_be_bytes());
                p[4..].copy_from_slice(&status.to_be_bytes());
                control(out, kind::GOAWAY, 0, &p)?;
            }
            Frame::WindowUpdate { stream_id, delta } => {
                let mut p = [0u8; 8];
                p[..4].copy_from_slice(&(stream_id & 0x7fff_ffff).to_be_bytes());
                p[4..].copy_from_slice(&(delta & 0x7fff_ffff).to_be_bytes());
                control(out, kind::WINDOW_UPDATE, 0, &p)?;
            }
            Frame::Unknown {
                kind,
                flags,
                payload,
            } => control(out, *kind, *flags, payload)?,
        }
        Ok(())
    }
}

/// Parses frames out of a byte buffer, decompressing header blocks with its own
/// [`HeaderDecompressor`].
#[derive(Debug, Default)]
pub struct FrameDecoder {
    headers: HeaderDecompressor,
}

impl FrameDecoder {
    /// A fresh decoder: one per connection direction.
    pub fn new() -> FrameDecoder {
        FrameDecoder::default()
    }

    /// Takes one whole frame off the front of `buf`; `None` until a whole one is there.
    pub fn decode(&mut self, buf: &mut BytesMut) -> Result<Option<Frame>> {
        if buf.len() < 8 {
            return Ok(None);
        }
        let length = (u32::from_be_bytes([0, buf[5], buf[6], buf[7]])) as usize;
        if buf.len() < 8 + length {
            return Ok(None);
        }
        let head = buf.split_to(8);
        let mut payload = buf.split_to(length).freeze();
        let first = u32::from_be_bytes([head[0], head[1], head[2], head[3]]);
        let flags = head[4];
        if first & 0x8000_0000 == 0 {
            return Ok(Some(Frame::Data {
                stream_id: first & 0x7fff_ffff,
                fin: flags & FLAG_FIN != 0,
                data: payload,
            }));
        }
        let version = ((first >> 16) & 0x7fff) as u16;
        let k = (first & 0xffff) as u16;
        if version != VERSION {
            return Err(protocol(format!("unsupported SPDY version {version}")));
        }
        let need = |n: usize, what: &str| -> Result<()> {
            if length < n {
                Err(protocol(format!("{what} frame too short ({length} bytes)")))
            } else {
                Ok(())
            }
        };
        let fin = flags & FLAG_FIN != 0;
        let frame = match k {
            kind::SYN_STREAM => {
                need(10, "SYN_STREAM")?;
                let stream_id = payload.get_u32() & 0x7fff_ffff;
                let associated_to = payload.get_u32() & 0x7fff_ffff;
                let priority = payload.get_u8() >> 5;
                let slot = payload.get_u8();
                let headers = self.header_block(&payload)?;
                Frame::SynStream {
                    stream_id,
                    associated_to,
                    priority,
                    slot,
                    fin,
                    unidirectional: flags & FLAG_UNIDIRECTIONAL != 0,
                    headers,
                }
            }
            kind::SYN_REPLY | kind::HEADERS => {
                need(4, "SYN_REPLY/HEADERS")?;
                let stream_id = payload.get_u32() & 0x7fff_ffff;
                let headers = self.header_block(&payload)?;
                if k == kind::SYN_REPLY {
                    Frame::SynReply {
                        stream_id,
                        fin,
                        headers,
                    }
                } else {
                    Frame::Headers {
                        stream_id,
                        fin,
                        headers,
                    }
                }
            }
            kind::RST_STREAM => {
                need(8, "RST_STREAM")?;
                Frame::RstStream {
                    stream_id: payload.get_u32() & 0x7fff_ffff,
                    status: payload.get_u32(),
                }
            }
            kind::SETTINGS => {
                need(4, "SETTINGS")?;
                let count = payload.get_u32() as usize;
                if payload.len() != count.saturating_mul(8) {
                    return Err(protocol("SETTINGS length does not match its count"));
                }
                let entries = (0..count)
                    .map(|_| {
                        let fid = payload.get_u32();
                        Setting {
                            flags: (fid >> 24) as u8,
                            id: fid & 0x00ff_ffff,
                            value: payload.get_u32(),
                        }
                    })
                    .collect();
                Frame::Settings {
                    clear: flags & FLAG_SETTINGS_CLEAR_SETTINGS != 0,
                    entries,
                }
            }
            kind::PING => {
                need(4, "PING")?;
                Frame::Ping {
                    id: payload.get_u32(),
                }
            }
            kind::GOAWAY => {
                need(4, "GOAWAY")?;
                let last_good_stream_id = payload.get_u32() & 0x7fff_ffff;
                // SPDY/2's GOAWAY had no status; take 0 (OK) when it is missing.
                let status = if payload.len() >= 4 {
                    payload.get_u32()
                } else {
                    goaway::OK
                };
                Frame::GoAway {
                    last_good_stream_id,
                    status,
                }
            }
            kind::WINDOW_UPDATE => {
                need(8, "WINDOW_UPDATE")?;
                Frame::WindowUpdate {
                    stream_id: payload.get_u32() & 0x7fff_ffff,
                    delta: payload.get_u32() & 0x7fff_ffff,
                }
            }
            _ => Frame::Unknown {
                kind: k,
                flags,
                payload,
            },
        };
        Ok(Some(frame))
    }

    fn header_block(&mut self, compressed: &[u8]) -> Result<Headers> {
        if compressed.len() > MAX_HEADER_BLOCK {
            return Err(protocol("compressed header block too large"));
        }
        Headers::decode_block(&self.headers.decompress(compressed)?)
    }
}

#[cfg(test)]
mod tests;
