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
