//! The session over an in-memory pipe, driven by hand as a client would.

use std::time::Duration;

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream};

use super::*;
use crate::portforward::spdy::{Setting, DEFAULT_INITIAL_WINDOW};

/// A hand-driven SPDY client.
struct Client {
    io: DuplexStream,
    enc: FrameEncoder,
    dec: FrameDecoder,
    buf: BytesMut,
}

impl Client {
    fn new(io: DuplexStream) -> Client {
        Client {
            io,
            enc: FrameEncoder::new(),
            dec: FrameDecoder::new(),
            buf: BytesMut::new(),
        }
    }

    async fn send(&mut self, frame: Frame) {
        let mut out = BytesMut::new();
        self.enc.encode(&frame, &mut out).unwrap();
        self.io.write_all(&out).await.unwrap();
    }

    async fn open(&mut self, stream_id: u32, headers: Headers) {
        self.send(Frame::SynStream {
            stream_id,
            associated_to: 0,
            priority: 0,
            slot: 0,
            fin: false,
            unidirectional: false,
            headers,
        })
        .await;
    }

    async fn data(&mut self, stream_id: u32, data: &'static [u8], fin: bool) {
        self.send(Frame::Data {
            stream_id,
            fin,
            data: Bytes::from_static(data),
        })
        .await;
    }

    /// The next frame; `None` at EOF.
    async fn next(&mut self) -> Option<Frame> {
        loop {
            if let Some(f) = self.dec.decode(&mut self.buf).unwrap() {
                return Some(f);
            }
            let n = tokio::time::timeout(Duration::from_secs(10), self.io.read_buf(&mut self.buf))
                .await
                .expect("a frame within 10 s")
                .unwrap();
            if n == 0 {
                return None;
            }
        }
    }

    /// The next frame that is not a `WINDOW_UPDATE`.
    async fn next_not_window(&mut self) -> Option<Frame> {
        loop {
            match self.next().await {
                Some(Frame::WindowUpdate { .. }) => continue,
                other => return other,
            }
        }
    }
}

fn pair() -> (Session, Client) {
    let (server, client) = tokio::io::duplex(1 << 20);
    (Session::new(server), Client::new(client))
}

#[tokio::test]
async fn accepts_streams_and_moves_data_both_ways() {
    let (mut session, mut client) = pair();
    client
        .open(
            1,
            Headers::new().with("streamtype", "data").with("port", "80"),
        )
        .await;
    let mut stream = session.accept().await.unwrap();
    assert_eq!(stream.id(), 1);
    assert_eq!(stream.headers().get("port"), Some("80"));
    stream.reply().await.unwrap();
    assert_eq!(
        client.next().await,
        Some(Frame::SynReply {
            stream_id: 1,
            fin: false,
            headers: Headers::new()
        })
    );

    client.data(1, b"ping?", false).await;
    assert_eq!(stream.recv().await.unwrap().unwrap(), &b"ping?"[..]);
    stream.send(b"pong!").await.unwrap();
    assert_eq!(
        client.next().await,
        Some(Frame::Data {
            stream_id: 1,
            fin: false,
            data: Bytes::from_static(b"pong!")
        })
    );

    // The client's FIN ends our reading; our close is an empty DATA with FIN.
    client.data(1, b"", true).await;
    assert_eq!(stream.recv().await.unwrap(), None);
    stream.close().await.unwrap();
    assert_eq!(
        client.next().await,
        Some(Frame::Data {
            stream_id: 1,
            fin: true,
            data: Bytes::new()
        })
    );
    // Writing after close is refused.
    assert!(stream.send(b"late").await.is_err());
}

#[tokio::test]
async fn pings_from_the_client_are_echoed() {
    let (_session, mut client) = pair();
    client.send(Frame::Ping { id: 7 }).await;
    assert_eq!(client.next().await, Some(Frame::Ping { id: 7 }));
    // An even id would be a reply to a ping of ours: not echoed.
    client.send(Frame::Ping { id: 2 }).await;
    client.send(Frame::Ping { id: 9 }).await;
    assert_eq!(client.next().await, Some(Frame::Ping { id: 9 }));
}

#[tokio::test]
async fn two_streams_at_once_keep_their_data_apart() {
    let (mut session, mut client) = pair();
    client.open(1, Headers::new().with("n", "one")).await;
    client.open(3, Headers::new().with("n", "three")).await;
    let mut one = session.accept().await.unwrap();
    let mut three = session.accept().await.unwrap();
    client.data(3, b"for three", false).await;
    client.data(1, b"for one", false).await;
    assert_eq!(three.recv().await.unwrap().unwrap(), &b"for three"[..]);
    assert_eq!(one.recv().await.unwrap().unwrap(), &b"for one"[..]);
}

#[tokio::test]
async fn a_reset_stream_errors_and_a_dropped_one_is_cancelled() {
    let (mut session, mut client) = pair();
    client.open(1, Headers::new()).await;
    client.open(3, Headers::new()).await;
    let mut one = session.accept().await.unwrap();
    let three = session.accept().await.unwrap();
    client
        .send(Frame::RstStream {
            stream_id: 1,
            status: rst::CANCEL,
        })
        .await;
    assert!(one.recv().await.is_err());
    drop(three);
    assert_eq!(
        client.next().await,
        Some(Frame::RstStream {
            stream_id: 3,
            status: rst::CANCEL
        })
    );
    // Our refusal of a stream is an RST_STREAM with the status given.
    client.open(5, Headers::new()).await;
    session
        .accept()
        .await
        .unwrap()
        .reset(rst::REFUSED_STREAM)
        .await
        .unwrap();
    assert_eq!(
        client.next().await,
        Some(Frame::RstStream {
            stream_id: 5,
            status: rst::REFUSED_STREAM
        })
    );
}

#[tokio::test]
async fn bad_stream_ids_are_refused() {
    let (mut session, mut client) = pair();
    client.open(3, Headers::new()).await;
    let _three = session.accept().await.unwrap();
    // Reused, even (server's) and lower ids.
    client.open(3, Headers::new()).await;
    assert_eq!(
        client.next().await,
        Some(Frame::RstStream {
            stream_id: 3,
            status: rst::STREAM_IN_USE
        })
    );
    client.open(4, Headers::new()).await;
    assert_eq!(
        client.next().await,
        Some(Frame::RstStream {
            stream_id: 4,
            status: rst::PROTOCOL_ERROR
        })
    );
    // Data for a stream never opened.
    client.data(11, b"x", false).await;
    assert_eq!(
        client.next().await,
        Some(Frame::RstStream {
            stream_id: 11,
            status: rst::INVALID_STREAM
        })
    );
}

#[tokio::test]
async fn goaway_ends_accepting_but_not_open_streams() {
    let (mut session, mut client) = pair();
    client.open(1, Headers::new()).await;
    let mut one = session.accept().await.unwrap();
    client
        .send(Frame::GoAway {
            last_good_stream_id: 0,
            status: goaway::OK,
        })
        .await;
    assert!(session.accept().await.is_none());
    client.open(3, Headers::new()).await;
    assert_eq!(
        client.next().await,
        Some(Frame::RstStream {
            stream_id: 3,
            status: rst::REFUSED_STREAM
        })
    );
    client.data(1, b"still", false).await;
    assert_eq!(one.recv().await.unwrap().unwrap(), &b"still"[..]);
}

#[tokio::test]
async fn window_updates_follow_what_the_reader_consumed() {
    let (mut session, mut client) = pair();
    client.open(1, Headers::new()).await;
    let mut one = session.accept().await.unwrap();
    static CHUNK: [u8; 16 * 1024] = [7; 16 * 1024];
    for _ in 0..2 {
        client
            .send(Frame::Data {
                stream_id: 1,
                fin: false,
                data: Bytes::from_static(&CHUNK),
            })
            .await;
    }
    let mut got = 0;
    while got < 2 * CHUNK.len() {
        got += one.recv().await.unwrap().unwrap().len();
    }
    // Half the window consumed: the stream's and the session's windows are given back.
    let want = DEFAULT_INITIAL_WINDOW / 2;
    assert_eq!(
        client.next().await,
        Some(Frame::WindowUpdate {
            stream_id: 1,
            delta: want
        })
    );
    assert_eq!(
        client.next().await,
        Some(Frame::WindowUpdate {
            stream_id: 0,
            delta: want
        })
    );
}

#[tokio::test]
async fn sending_waits_for_window_when_the_client_does_flow_control() {
    let (mut session, mut client) = pair();
    client
        .send(Frame::Settings {
            clear: false,
            entries: vec![Setting {
                flags: 0,
                id: SETTINGS_INITIAL_WINDOW_SIZE,
                value: 4,
            }],
        })
        .await;
    client.open(1, Headers::new()).await;
    let one = session.accept().await.unwrap();
    let sender = tokio::spawn(async move {
        one.send(b"0123456789").await.unwrap();
        one
    });
    assert_eq!(
        client.next_not_window().await,
        Some(Frame::Data {
            stream_id: 1,
            fin: false,
            data: Bytes::from_static(b"0123")
        })
    );
    // Nothing more until the window grows.
    assert!(
        tokio::time::timeout(Duration::from_millis(200), client.next())
            .await
            .is_err()
    );
    client
        .send(Frame::WindowUpdate {
            stream_id: 1,
            delta: 100,
        })
        .await;
    assert_eq!(
        client.next_not_window().await,
        Some(Frame::Data {
            stream_id: 1,
            fin: false,
            data: Bytes::from_static(b"456789")
        })
    );
    sender.await.unwrap();
}

#[tokio::test]
async fn without_flow_control_from_the_client_sending_never_stalls() {
    // spdystream (kubectl) sends no WINDOW_UPDATE: more than a window must still go out.
    let (mut session, mut client) = pair();
    client.open(1, Headers::new()).await;
    let one = session.accept().await.unwrap();
    let big = vec![1u8; 3 * DEFAULT_INITIAL_WINDOW as usize];
    let sent = big.len();
    tokio::spawn(async move { one.send(&big).await.unwrap() });
    let mut got = 0;
    while got < sent {
        match client.next().await.unwrap() {
            Frame::Data { data, .. } => got += data.len(),
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(got, sent);
}

#[tokio::test]
async fn the_connection_closing_ends_everything() {
    let (mut session, mut client) = pair();
    client.open(1, Headers::new()).await;
    let mut one = session.accept().await.unwrap();
    drop(client);
    assert!(one.recv().await.is_err());
    assert!(session.accept().await.is_none());
    assert!(one.send(b"x").await.is_err());
    assert!(session.is_closed());
}

#[tokio::test]
async fn dropping_the_session_closes_the_connection() {
    let (mut session, mut client) = pair();
    client.open(1, Headers::new()).await;
    let mut one = session.accept().await.unwrap();
    drop(session);
    assert!(one.recv().await.is_err());
    assert!(one.send(b"x").await.is_err());
    drop(one);
    // The writer shut its side down: the client reads EOF.
    assert_eq!(client.next().await, None);
}

// --- the client role, against our own server side ---

fn sessions() -> (Session, Session) {
    let (a, b) = tokio::io::duplex(1 << 20);
    (Session::client(a), Session::new(b))
}

#[tokio::test]
async fn a_client_opens_streams_that_the_server_accepts() {
    let (client, mut server) = sessions();
    let serve = tokio::spawn(async move {
        let mut got = Vec::new();
        for _ in 0..2 {
            let mut s = server.accept().await.expect("a stream");
            s.reply().await.unwrap();
            let kind = s.headers().get("streamType").unwrap().to_owned();
            let mut data = Vec::new();
            // The client's FIN ends what we read.
            while let Some(chunk) = s.recv().await.unwrap() {
                data.extend_from_slice(&chunk);
            }
            s.send(format!("echo {kind}: ").as_bytes()).await.unwrap();
            s.send(&data).await.unwrap();
            s.close().await.unwrap();
            got.push((s.id(), kind));
        }
        (server, got)
    });
    let mut ids = Vec::new();
    for kind in ["stdin", "stdout"] {
        let s = client
            .open(Headers::new().with("streamType", kind))
            .await
            .unwrap();
        assert_eq!(s.headers().get("streamtype"), Some(kind));
        ids.push(s.id());
        let (mut r, w) = s.split();
        w.send(b"abc").await.unwrap();
        w.close().await.unwrap();
        let mut back = Vec::new();
        while let Some(chunk) = r.recv().await.unwrap() {
            back.extend_from_slice(&chunk);
        }
        assert_eq!(back, format!("echo {kind}: abc").as_bytes());
    }
    assert_eq!(ids, [1, 3], "client streams get odd ids, in order");
    let (_server, got) = serve.await.unwrap();
    assert_eq!(got, [(1, "stdin".to_owned()), (3, "stdout".to_owned())]);
}

#[tokio::test]
async fn a_stream_the_server_resets_fails_to_open() {
    let (client, mut server) = sessions();
    tokio::spawn(async move {
        while let Some(s) = server.accept().await {
            s.reset(rst::REFUSED_STREAM).await.unwrap();
        }
    });
    let err = client.open(Headers::new()).await.unwrap_err();
    assert!(err.to_string().contains("spdy stream 1"), "{err}");
    // The session goes on: the next stream gets the next id (and is refused too).
    let err = client.open(Headers::new()).await.unwrap_err();
    assert!(err.to_string().contains("spdy stream 3"), "{err}");
}

#[tokio::test]
async fn roles_do_not_mix() {
    let (mut client, server) = sessions();
    assert!(server.open(Headers::new()).await.is_err());
    drop(server);
    assert!(client.accept().await.is_none());
    // The server is gone: opening fails instead of waiting for a reply.
    assert!(client.open(Headers::new()).await.is_err());
}

#[tokio::test]
async fn a_client_echoes_the_servers_pings_and_refuses_its_streams() {
    let (a, b) = tokio::io::duplex(1 << 20);
    let _client = Session::client(a);
    let mut server = Client::new(b);
    server.send(Frame::Ping { id: 2 }).await;
    assert!(matches!(server.next().await, Some(Frame::Ping { id: 2 })));
    server.open(2, Headers::new()).await;
    assert!(matches!(
        server.next().await,
        Some(Frame::RstStream {
            stream_id: 2,
            status: rst::REFUSED_STREAM
        })
    ));
}
