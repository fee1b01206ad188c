use super::*;

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

fn pf_headers(kind: &str, request: &str) -> Headers {
    Headers::new()
        .with("streamtype", kind)
        .with("port", "80")
        .with("requestid", request)
}

fn every_frame() -> Vec<Frame> {
    vec![
        Frame::Data {
            stream_id: 3,
            fin: false,
            data: Bytes::from_static(b"hello"),
        },
        Frame::Data {
            stream_id: 0x7fff_fffd,
            fin: true,
            data: Bytes::new(),
        },
        Frame::SynStream {
            stream_id: 1,
            associated_to: 0,
            priority: 0,
            slot: 0,
            fin: false,
            unidirectional: false,
            headers: pf_headers("error", "0"),
        },
        Frame::SynStream {
            stream_id: 5,
            associated_to: 3,
            priority: 7,
            slot: 2,
            fin: true,
            unidirectional: true,
            headers: Headers::new().with("x", "a").with("x", "b"),
        },
        Frame::SynReply {
            stream_id: 1,
            fin: false,
            headers: Headers::new(),
        },
        Frame::SynReply {
            stream_id: 3,
            fin: true,
            headers: Headers::new().with("status", "200"),
        },
        Frame::RstStream {
            stream_id: 7,
            status: rst::CANCEL,
        },
        Frame::Settings {
            clear: true,
            entries: vec![
                Setting {
                    flags: 1,
                    id: SETTINGS_INITIAL_WINDOW_SIZE,
                    value: 1 << 20,
                },
                Setting {
                    flags: 0,
                    id: 4,
                    value: 100,
                },
            ],
        },
        Frame::Settings {
            clear: false,
            entries: vec![],
        },
        Frame::Ping { id: 1 },
        Frame::Ping { id: 0xffff_fffe },
        Frame::GoAway {
            last_good_stream_id: 9,
            status: goaway::OK,
        },
        Frame::Headers {
            stream_id: 9,
            fin: true,
            headers: Headers::new().with("trailer", "yes"),
        },
        Frame::WindowUpdate {
            stream_id: 0,
            delta: 0x7fff_ffff,
        },
        Frame::WindowUpdate {
            stream_id: 3,
            delta: 32768,
        },
        Frame::Unknown {
            kind: 10,
            flags: 0,
            payload: Bytes::from_static(b"\x00\x01credential"),
        },
    ]
}

#[test]
fn every_frame_type_round_trips() {
    let mut enc = FrameEncoder::new();
    let mut dec = FrameDecoder::new();
    let frames = every_frame();
    let mut wire = BytesMut::new();
    for f in &frames {
        enc.encode(f, &mut wire).unwrap();
    }
    // One frame at a time, fed a byte at a time: partial frames wait for the rest.
    let mut buf = BytesMut::new();
    let mut got = Vec::new();
    for b in wire.iter() {
        buf.put_u8(*b);
        if let Some(f) = dec.decode(&mut buf).unwrap() {
            got.push(f);
        }
    }
    assert!(buf.is_empty());
    assert_eq!(got, frames);
}

#[test]
fn wire_layout_of_fixed_frames_is_the_drafts() {
    let mut enc = FrameEncoder::new();
    let mut out = BytesMut::new();
    enc.encode(&Frame::Ping { id: 1 }, &mut out).unwrap();
    assert_eq!(&out[..], &hex("800300060000000400000001")[..]);
    out.clear();
    enc.encode(
        &Frame::RstStream {
            stream_id: 3,
            status: rst::CANCEL,
        },
        &mut out,
    )
    .unwrap();
    assert_eq!(&out[..], &hex("80030003000000080000000300000005")[..]);
    out.clear();
    enc.encode(
        &Frame::Data {
            stream_id: 3,
            fin: true,
            data: Bytes::from_static(b"ab"),
        },
        &mut out,
    )
    .unwrap();
    assert_eq!(&out[..], &hex("00000003010000026162")[..]);
    out.clear();
    enc.encode(
        &Frame::WindowUpdate {
            stream_id: 0,
            delta: 65536,
        },
        &mut out,
    )
    .unwrap();
    assert_eq!(&out[..], &hex("80030009000000080000000000010000")[..]);
}

#[test]
fn dictionary_is_spdy3s() {
    assert_eq!(DICTIONARY.len(), 1423);
    // zlib's FDICT id of the SPDY/3 dictionary, which every SPDY/3 peer checks.
    assert_eq!(adler32(DICTIONARY), 0xe3c6_a7c2);
}

fn adler32(data: &[u8]) -> u32 {
    let (mut a, mut b) = (1u32, 0u32);
    for &x in data {
        a = (a + u32::from(x)) % 65521;
        b = (b + a) % 65521;
    }
    (b << 16) | a
}

#[test]
fn header_blocks_share_one_zlib_stream_per_direction() {
    let mut enc = FrameEncoder::new();
    let mut sizes = Vec::new();
    let mut wire = BytesMut::new();
    for id in [1u32, 3, 5] {
        let before = wire.len();
        enc.encode(
            &Frame::SynStream {
                stream_id: id,
                associated_to: 0,
                priority: 0,
                slot: 0,
                fin: false,
                unidirectional: false,
                headers: pf_headers("data", "0"),
            },
            &mut wire,
        )
        .unwrap();
        sizes.push(wire.len() - before);
    }
    // The first block carries the zlib header and the literals; the later identical blocks
    // are back-references into the shared window, so they are smaller.
    assert!(sizes[1] < sizes[0], "sizes {sizes:?}");
    // The first frame starts its block with a zlib header naming the SPDY dictionary.
    assert_eq!(wire[18] & 0x0f, 8, "deflate");
    assert_ne!(wire[19] & 0x20, 0, "FDICT set");
    assert_eq!(&wire[20..24], &0xe3c6_a7c2u32.to_be_bytes());

    // One decoder reads them all, in order.
    let mut dec = FrameDecoder::new();
    let mut buf = wire.clone();
    for id in [1u32, 3, 5] {
        match dec.decode(&mut buf).unwrap().unwrap() {
            Frame::SynStream {
                stream_id, headers, ..
            } => {
                assert_eq!(stream_id, id);
                assert_eq!(headers, pf_headers("data", "0"));
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    // A second frame cannot be read with a fresh zlib stream: the context is shared.
    let mut first_skipped = wire.clone();
    let _ = first_skipped.split_to(sizes[0]);
    assert!(FrameDecoder::new().decode(&mut first_skipped).is_err());
}

/// Two `SYN_STREAM`s as a SPDY/3 client sends them: headers compressed by C zlib (level 9,
/// the SPDY dictionary, SYNC_FLUSH after each block), as Go's `compress/zlib` does for
/// spdystream.
const FOREIGN_SYN_STREAMS: &str = "800300010000003c0000000100000000000078f9e3c6a7c202253a48f95b044aab4c16064092b308125b99a054cc68004e872545a989b9d0a2863515141100000000ffff800300010000001600000003000000000000224b2ba8944a04000000ffff";

#[test]
fn reads_header_blocks_compressed_by_another_zlib() {
    let mut dec = FrameDecoder::new();
    let mut buf = BytesMut::from(&hex(FOREIGN_SYN_STREAMS)[..]);
    let mut got = Vec::new();
    while let Some(f) = dec.decode(&mut buf).unwrap() {
        got.push(f);
    }
    let [Frame::SynStream {
        stream_id: 1,
        headers: error,
        ..
    }, Frame::SynStream {
        stream_id: 3,
        headers: data,
        ..
    }] = &got[..]
    else {
        panic!("unexpected {got:?}");
    };
    assert_eq!(error.get("streamtype"), Some("error"));
    assert_eq!(data.get("streamtype"), Some("data"));
    assert_eq!(data.get("PORT"), Some("80"));
    assert_eq!(data.get("requestid"), Some("0"));
}

#[test]
fn multiple_values_travel_nul_joined() {
    let h = Headers::new().with("a", "1").with("B", "2").with("a", "3");
    let block = h.encode_block();
    assert_eq!(
        block,
        [
            &2u32.to_be_bytes()[..],
            &1u32.to_be_bytes(),
            b"a",
            &3u32.to_be_bytes(),
            b"1\x003",
            &1u32.to_be_bytes(),
            b"b",
            &1u32.to_be_bytes(),
            b"2",
        ]
        .concat()
    );
    let back = Headers::decode_block(&block).unwrap();
    assert_eq!(
        back.iter().collect::<Vec<_>>(),
        vec![("a", "1"), ("a", "3"), ("b", "2")]
    );
}

#[test]
fn bad_header_blocks_are_refused() {
    let upper = Headers(vec![("Port".into(), "80".into())]).encode_block();
    assert!(Headers::decode_block(&upper).is_err());
    let mut twice = Vec::new();
    twice.put_u32(2);
    for _ in 0..2 {
        twice.put_u32(1);
        twice.put_slice(b"a");
        twice.put_u32(1);
        twice.put_slice(b"b");
    }
    assert!(Headers::decode_block(&twice).is_err());
    let full = Headers::new().with("a", "b").encode_block();
    assert!(Headers::decode_block(&full[..full.len() - 1]).is_err());
}

#[test]
fn other_versions_and_short_frames_are_errors() {
    let mut dec = FrameDecoder::new();
    let mut v2 = BytesMut::from(&hex("800200060000000400000001")[..]);
    assert!(dec.decode(&mut v2).is_err());
    let mut short = BytesMut::from(&hex("800300030000000400000001")[..]);
    assert!(FrameDecoder::new().decode(&mut short).is_err());
}
