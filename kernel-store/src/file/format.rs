//! The encoding of the records in a [`FileStore`](super::FileStore) file, and its versions.
//!
//! The file says which encoding its records use: the `meta` table holds the version under the
//! key [`FORMAT_KEY`]. The encoding is written and read here by hand, so it changes only when
//! this file changes (and then [`CURRENT`] is raised), never because a dependency did.
//!
//! # Version 1 (current)
//! Integers are little-endian.
//!
//! | record | layout |
//! |---|---|
//! | key-value (`kv` table) | key length `u32`, key (UTF-8), value length `u32`, value, then `create_revision`, `mod_revision`, `version`, `lease` as `i64` |
//! | events of one revision (`log` table) | count `u32`, then per event: kind `u8` (0 put, 1 delete), its key-value, `u8` 1 and the previous key-value or `u8` 0 |
//!
//! # Version 0 (no version key)
//! kernel-store 0.1.0 wrote the same records through bincode 1 without writing a version: as
//! version 1, but lengths and counts are `u64` and the event kind is a `u32`. Such a file is
//! read once with [`Layout::V0`] and rewritten in version 1 when it is opened.

use bytes::Bytes;

use crate::{Event, EventKind, KeyValue};

/// The `meta` key holding the format version.
pub(crate) const FORMAT_KEY: &str = "format";

/// The version this build writes.
pub(crate) const CURRENT: i64 = 1;

/// How lengths and event kinds are laid out in a record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Layout {
    /// The unversioned layout of kernel-store 0.1.0 (bincode 1's): `u64` lengths, `u32` kinds.
    V0,
    /// Version 1: `u32` lengths, `u8` kinds.
    V1,
}

/// Why a record could not be decoded.
#[derive(Debug)]
pub(crate) struct DecodeError(String);

impl std::fmt::Display for DecodeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Encodes a `kv` record in the current version.
pub(crate) fn encode_kv(kv: &KeyValue) -> Result<Vec<u8>, String> {
    let mut out = Vec::with_capacity(kv.key.len() + kv.value.len() + 40);
    put_kv(&mut out, kv)?;
    Ok(out)
}

/// Encodes a `log` record (the events of one revision) in the current version.
pub(crate) fn encode_events(events: &[Event]) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    put_len(&mut out, events.len())?;
    for event in events {
        out.push(match event.kind {
            EventKind::Put => 0,
            EventKind::Delete => 1,
        });
        put_kv(&mut out, &event.kv)?;
        match &event.prev_kv {
            Some(prev) => {
                out.push(1);
                put_kv(&mut out, prev)?;
            }
            None => out.push(0),
        }
    }
    Ok(out)
}

fn put_len(out: &mut Vec<u8>, len: usize) -> Result<(), String> {
    let len = u32::try_from(len).map_err(|_| format!("length {len} does not fit the format"))?;
    out.extend_from_slice(&len.to_le_bytes());
    Ok(())
}

fn put_kv(out: &mut Vec<u8>, kv: &KeyValue) -> Result<(), String> {
    put_len(out, kv.key.len())?;
    out.extend_from_slice(kv.key.as_bytes());
    put_len(out, kv.value.len())?;
    out.extend_from_slice(&kv.value);
    for n in [kv.create_revision, kv.mod_revision, kv.version, kv.lease] {
        out.extend_from_slice(&n.to_le_bytes());
    }
    Ok(())
}

/// Decodes a `kv` record.
pub(crate) fn decode_kv(bytes: &[u8], layout: Layout) -> Result<KeyValue, DecodeError> {
    let mut reader = Reader { bytes, layout };
    let kv = reader.kv()?;
    reader.finish()?;
    Ok(kv)
}

/// Decodes a `log` record.
pub(crate) fn decode_events(bytes: &[u8], layout: Layout) -> Result<Vec<Event>, DecodeError> {
    let mut reader = Reader { bytes, layout };
    let count = reader.len()?;
    // Every event takes at least 40 bytes: no allocation larger than the record itself.
    let mut events = Vec::with_capacity(count.min(bytes.len() / 40));
    for _ in 0..count {
        let kind = match reader.kind()? {
            0 => EventKind::Put,
            1 => EventKind::Delete,
            other => return Err(DecodeError(format!("unknown event kind {other}"))),
        };
        let kv = reader.kv()?;
        let prev_kv = match reader.u8()? {
            0 => None,
            1 => Some(reader.kv()?),
            other => return Err(DecodeError(format!("invalid option tag {other}"))),
        };
        events.push(Event { kind, kv, prev_kv });
    }
    reader.finish()?;
    Ok(events)
}

struct Reader<'a> {
    bytes: &'a [u8],
    layout: Layout,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        if n > self.bytes.len() {
            return Err(DecodeError(format!(
                "record truncated: {n} bytes wanted, {} left",
                self.bytes.len()
            )));
        }
        let (head, rest) = self.bytes.split_at(n);
        self.bytes = rest;
        Ok(head)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], DecodeError> {
        let mut out = [0; N];
        out.copy_from_slice(self.take(N)?);
        Ok(out)
    }

    fn u8(&mut self) -> Result<u8, DecodeError> {
        Ok(self.array::<1>()?[0])
    }

    fn i64(&mut self) -> Result<i64, DecodeError> {
        Ok(i64::from_le_bytes(self.array()?))
    }

    fn len(&mut self) -> Result<usize, DecodeError> {
        let len = match self.layout {
            Layout::V0 => u64::from_le_bytes(self.array()?),
            Layout::V1 => u64::from(u32::from_le_bytes(self.array()?)),
        };
        usize::try_from(len).map_err(|_| DecodeError(format!("length {len} out of range")))
    }

    fn kind(&mut self) -> Result<u32, DecodeError> {
        match self.layout {
            Layout::V0 => Ok(u32::from_le_bytes(self.array()?)),
            Layout::V1 => Ok(u32::from(self.u8()?)),
        }
    }

    fn kv(&mut self) -> Result<KeyValue, DecodeError> {
        let len = self.len()?;
        let key = std::str::from_utf8(self.take(len)?)
            .map_err(|e| DecodeError(format!("key is not UTF-8: {e}")))?
            .to_owned();
        let len = self.len()?;
        let value = Bytes::copy_from_slice(self.take(len)?);
        Ok(KeyValue {
            key,
            value,
            create_revision: self.i64()?,
            mod_revision: self.i64()?,
            version: self.i64()?,
            lease: self.i64()?,
        })
    }

    fn finish(&self) -> Result<(), DecodeError> {
        match self.bytes.len() {
            0 => Ok(()),
            n => Err(DecodeError(format!(
                "{n} bytes after the end of the record"
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kv(key: &str, value: &'static [u8], revision: i64, lease: i64) -> KeyValue {
        KeyValue {
            key: key.into(),
            value: Bytes::from_static(value),
            create_revision: 2,
            mod_revision: revision,
            version: revision - 1,
            lease,
        }
    }

    #[test]
    fn current_version_round_trips() {
        let a = kv("/registry/pods/default/ä", b"{\"x\":1}", 3, 0);
        assert_eq!(decode_kv(&encode_kv(&a).unwrap(), Layout::V1).unwrap(), a);
        let events = vec![
            Event {
                kind: EventKind::Put,
                kv: a.clone(),
                prev_kv: None,
            },
            Event {
                kind: EventKind::Delete,
                kv: kv("/b", b"", 3, 0),
                prev_kv: Some(kv("/b", b"old", 2, 7)),
            },
        ];
        let bytes = encode_events(&events).unwrap();
        assert_eq!(decode_events(&bytes, Layout::V1).unwrap(), events);
        assert_eq!(decode_events(&[0, 0, 0, 0], Layout::V1).unwrap(), vec![]);
    }

    #[test]
    fn version_0_is_bincode_1s_layout() {
        // What bincode 1.3 wrote for `KeyValue { key: "/a", value: "v1", 2, 3, 2, 0 }`.
        let bytes = [
            2, 0, 0, 0, 0, 0, 0, 0, b'/', b'a', 2, 0, 0, 0, 0, 0, 0, 0, b'v', b'1', 2, 0, 0, 0, 0,
            0, 0, 0, 3, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
        ];
        assert_eq!(
            decode_kv(&bytes, Layout::V0).unwrap(),
            kv("/a", b"v1", 3, 0)
        );
        assert!(decode_kv(&bytes, Layout::V1).is_err());
    }

    #[test]
    fn damaged_records_are_errors() {
        let bytes = encode_kv(&kv("/a", b"v", 3, 0)).unwrap();
        for cut in 0..bytes.len() {
            assert!(
                decode_kv(&bytes[..cut], Layout::V1).is_err(),
                "cut at {cut}"
            );
        }
        let mut longer = bytes.clone();
        longer.push(0);
        assert!(decode_kv(&longer, Layout::V1)
            .unwrap_err()
            .to_string()
            .contains("after the end"));
        let mut not_utf8 = bytes;
        not_utf8[4] = 0xff;
        assert!(decode_kv(&not_utf8, Layout::V1).is_err());
        // A huge count in a short record neither allocates nor panics.
        assert!(decode_events(&[0xff, 0xff, 0xff, 0xff, 9], Layout::V1).is_err());
        assert!(decode_events(&[1, 0, 0, 0, 2], Layout::V1)
            .unwrap_err()
            .to_string()
            .contains("unknown event kind 2"));
    }
}
