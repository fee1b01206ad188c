use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::*;

/// A client frame written by hand: FIN as given, masked with `key`.
fn masked(fin: bool, opcode: u8, payload: &[u8], key: [u8; 4]) -> Vec<u8> {
    let mut out = vec![if fin { 0x80 } else { 0 } | opcode];
    assert!(payload.len() < 126);
    out.push(0x80 | payload.len() as u8);
    out.extend_from_slice(&key);
    out.extend(payload.iter().enumerate().map(|(i, b)| b ^ key[i % 4]));
    out
}

#[tokio::test]
async fn bytes_round_trip_between_client_and_server() {
    let (a, b) = tokio::io::duplex(1 << 20);
    let mut server = WebSocketIo::new(a, Role::Server);
    let mut client = WebSocketIo::new(b, Role::Client);
    client.write_all(b"hello over websocket").await.unwrap();
    client.flush().await.unwrap();
    let mut buf = [0u8; 20];
    server.read_exact(&mut buf).await.unwrap();
    assert_eq!(&buf, b"hello over websocket");

    // Larger than one message: split into several, read back whole.
    let big: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
    let expect = big.clone();
    let writer = tokio::spawn(async move {
        server.write_all(&big).await.unwrap();
        server.shutdown().await.unwrap();
        server
    });
    let mut got = Vec::new();
    client.read_to_end(&mut got).await.unwrap();
    assert_eq!(got, expect);
    writer.await.unwrap();
}

#[tokio::test]
async fn server_frames_are_binary_unmasked_and_close_is_normal() {
    let (a, mut raw) = tokio::io::duplex(1 << 16);
    let mut server = WebSocketIo::new(a, Role::Server);
    server.write_all(b"abc").await.unwrap();
    server.shutdown().await.unwrap();
    let mut wire = Vec::new();
    raw.read_to_end(&mut wire).await.unwrap();
    assert_eq!(wire, [0x82, 3, b'a', b'b', b'c', 0x88, 2, 0x03, 0xe8]);
}

#[tokio::test]
async fn fragments_pings_and_close_from_the_client() {
    let (a, mut raw) = tokio::io::duplex(1 << 16);
    let mut server = WebSocketIo::new(a, Role::Server);
    let key = [1, 2, 3, 4];
    let mut wire = Vec::new();
    wire.extend(masked(false, 0x2, b"frag", key));
    wire.extend(masked(true, 0x9, b"are you there", key));
    wire.extend(masked(true, 0x0, b"mented", key));
    wire.extend(masked(true, 0x8, &1000u16.to_be_bytes(), key));
    raw.write_all(&wire).await.unwrap();

    let mut got = Vec::new();
    server.read_to_end(&mut got).await.unwrap();
    assert_eq!(got, b"fragmented");

    // The ping got its pong, the close its close.
    let mut back = [0u8; 19];
    raw.read_exact(&mut back).await.unwrap();
    let mut want = vec![0x8a, 13];
    want.extend_from_slice(b"are you there");
    want.extend_from_slice(&[0x88, 2, 0x03, 0xe8]);
    assert_eq!(&back[..], &want[..]);
    // After the close, writes fail.
    assert!(server.write_all(b"x").await.is_err());
}

#[tokio::test]
async fn text_and_unmasked_client_frames_are_errors() {
    for frame in [
        masked(true, 0x1, b"text", [9, 9, 9, 9]),
        vec![0x82, 1, b'x'],
    ] {
        let (a, mut raw) = tokio::io::duplex(1 << 16);
        let mut server = WebSocketIo::new(a, Role::Server);
        raw.write_all(&frame).await.unwrap();
        let mut buf = [0u8; 8];
        let err = server.read(&mut buf).await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidData);
    }
}

#[tokio::test]
async fn extended_lengths_parse() {
    let (a, mut raw) = tokio::io::duplex(1 << 20);
    let mut server = WebSocketIo::new(a, Role::Server);
    for len in [125usize, 126, 65535, 65536] {
        let payload = vec![0x5a; len];
        let mut frame = vec![0x82];
        match len {
            n if n < 126 => frame.push(0x80 | n as u8),
            n if n <= 65535 => {
                frame.push(0x80 | 126);
                frame.extend_from_slice(&(n as u16).to_be_bytes());
            }
            n => {
                frame.push(0x80 | 127);
                frame.extend_from_slice(&(n as u64).to_be_bytes());
            }
        }
        frame.extend_from_slice(&[0, 0, 0, 0]);
        frame.extend_from_slice(&payload);
        raw.write_all(&frame).await.unwrap();
        let mut got = vec![0u8; len];
        server.read_exact(&mut got).await.unwrap();
        assert_eq!(got, payload);
    }
}

/// Reading and writing from two tasks over a tiny pipe: the reading side drains queued
/// frames too, and must wake the writing side when it does (the pipe keeps one write waker).
#[tokio::test]
async fn split_reader_and_writer_tasks_both_make_progress() {
    const N: usize = 1 << 20;
    let (a, b) = tokio::io::duplex(512);
    let (mut sr, mut sw) = tokio::io::split(WebSocketIo::new(a, Role::Server));
    let (mut cr, mut cw) = tokio::io::split(WebSocketIo::new(b, Role::Client));
    let data: Vec<u8> = (0..N).map(|i| (i % 253) as u8).collect();
    let (d1, d2) = (data.clone(), data.clone());
    let server_writer = tokio::spawn(async move {
        for chunk in d1.chunks(3000) {
            sw.write_all(chunk).await.unwrap();
        }
        sw.flush().await.unwrap();
    });
    let client_writer = tokio::spawn(async move {
        for chunk in d2.chunks(3000) {
            cw.write_all(chunk).await.unwrap();
        }
        cw.flush().await.unwrap();
    });
    let server_reader = tokio::spawn(async move {
        let mut got = vec![0u8; N];
        sr.read_exact(&mut got).await.unwrap();
        got
    });
    let client_reader = tokio::spawn(async move {
        let mut got = vec![0u8; N];
        cr.read_exact(&mut got).await.unwrap();
        got
    });
    let all = async {
        server_writer.await.unwrap();
        client_writer.await.unwrap();
        (server_reader.await.unwrap(), client_reader.await.unwrap())
    };
    let (s, c) = tokio::time::timeout(std::time::Duration::from_secs(60), all)
        .await
        .expect("no side stalls");
    assert!(s == data && c == data);
}

#[test]
fn accept_key_is_rfc6455s_example() {
    assert_eq!(
        accept_key("dGhlIHNhbXBsZSBub25jZQ=="),
        "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
    );
}

#[test]
fn client_handshake_helpers() {
    let key = client_key();
    let nonce = base64::engine::general_purpose::STANDARD
        .decode(&key)
        .unwrap();
    assert_eq!(nonce.len(), 16);
    assert_ne!(key, client_key(), "each key is fresh");
    let head = client_request("/exec/x", "127.0.0.1:1", &key, Some("v4.channel.k8s.io"));
    assert!(head.starts_with("GET /exec/x HTTP/1.1\r\nHost: 127.0.0.1:1\r\n"));
    assert!(head.contains("Upgrade: websocket\r\n"));
    assert!(head.contains("Connection: Upgrade\r\n"));
    assert!(head.contains("Sec-WebSocket-Version: 13\r\n"));
    assert!(head.contains(&format!("Sec-WebSocket-Key: {key}\r\n")));
    assert!(head.contains("Sec-WebSocket-Protocol: v4.channel.k8s.io\r\n"));
    assert!(head.ends_with("\r\n\r\n"));
    assert!(!client_request("/", "h", &key, None).contains("Sec-WebSocket-Protocol"));
}

#[test]
fn server_frame_lengths() {
    assert_eq!(
        frame(Role::Server, op::BINARY, b"ab"),
        [0x82, 2, b'a', b'b']
    );
    let long = frame(Role::Server, op::BINARY, &[0; 300]);
    assert_eq!(&long[..4], &[0x82, 126, 1, 44]);
    assert_eq!(long.len(), 304);
    let huge = frame(Role::Server, op::BINARY, &[0; 70_000]);
    assert_eq!(&huge[..2], &[0x82, 127]);
    assert_eq!(huge.len(), 70_010);
}

#[tokio::test]
async fn reader_joins_fragments_around_control_frames() {
    let mut wire = masked(false, op::BINARY, b"\x00he", [1, 2, 3, 4]);
    wire.extend(masked(true, op::PING, b"p", [5, 6, 7, 8]));
    wire.extend(masked(true, op::CONTINUATION, b"llo", [9, 9, 9, 9]));
    wire.extend(masked(
        true,
        op::CLOSE,
        &1000u16.to_be_bytes(),
        [1, 1, 1, 1],
    ));
    let mut r = Reader::new(&wire[..], Role::Server);
    assert_eq!(
        r.next().await.unwrap(),
        Some(Frame::Ping(Bytes::from_static(b"p")))
    );
    assert_eq!(
        r.next().await.unwrap(),
        Some(Frame::Message(Message {
            kind: MessageKind::Binary,
            data: Bytes::from_static(b"\x00hello"),
        }))
    );
    assert_eq!(r.next().await.unwrap(), Some(Frame::Close(Some(1000))));
    assert_eq!(r.next().await.unwrap(), None);
}

#[tokio::test]
async fn reader_reads_client_frames_of_every_length_form() {
    for len in [0usize, 5, 125, 126, 65_535, 70_000] {
        let payload: Vec<u8> = (0..len).map(|i| i as u8).collect();
        let wire = frame(Role::Client, op::BINARY, &payload);
        assert_eq!(wire[1] & 0x80, 0x80, "a client masks");
        let mut r = Reader::new(&wire[..], Role::Server);
        match r.next().await.unwrap() {
            Some(Frame::Message(m)) => assert_eq!(m.data, payload, "length {len}"),
            other => panic!("length {len}: {other:?}"),
        }
        assert_eq!(r.next().await.unwrap(), None);
    }
}

#[tokio::test]
async fn reader_checks_masking_and_truncation() {
    // A server's (unmasked) frame is refused by a server, taken by a client.
    let wire = frame(Role::Server, op::TEXT, b"hi");
    let err = Reader::new(&wire[..], Role::Server)
        .next()
        .await
        .unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::InvalidData);
    assert_eq!(
        Reader::new(&wire[..], Role::Client).next().await.unwrap(),
        Some(Frame::Message(Message {
            kind: MessageKind::Text,
            data: Bytes::from_static(b"hi"),
        }))
    );
    // A connection that ends inside a frame.
    let err = Reader::new(&wire[..3], Role::Client)
        .next()
        .await
        .unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::UnexpectedEof);
}
