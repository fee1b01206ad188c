//! The client side of a CRI streaming server (the URL CRI `Exec`, `Attach` and
//! `PortForward` return).
//!
//! **Exec and attach** speak Kubernetes' remotecommand protocol over SPDY/3.1, as kubectl
//! does: a `POST` upgraded with `Upgrade: SPDY/3.1` and `X-Stream-Protocol-Version`
//! (`v4.channel.k8s.io`, also offering v3 and v2), then the client opens one stream per
//! channel, each named by its `streamType` header: `error` (the server writes the outcome
//! there: in v4 a `metav1.Status` JSON with the exit code), `stdin`, `stdout`, `stderr`,
//! `resize` (`{"Width":..,"Height":..}` objects). Closing the session's stdin half-closes the
//! stdin stream (`FLAG_FIN`): the process sees EOF, which websocket v4 cannot express.
//!
//! There is no websocket fallback for them: containerd's streaming server consumes the URL's
//! token on the first request, so a refused upgrade could not be retried on the same URL.
//!
//! **Port-forward** still uses a minimal RFC 6455 websocket client speaking
//! `v4.channel.k8s.io`: each binary message's first byte is its channel.

use futures::FutureExt;
use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, oneshot};

use super::super::{ExecRequest, StreamingSession, TerminalSize};
use crate::error::{Error, Result};
use crate::portforward::session::{Session, Stream};
use crate::portforward::spdy::Headers;
use crate::websocket::{self, op, Frame, Role};

/// The subprotocol asked for (websocket), and the preferred one over SPDY.
const PROTOCOL: &str = "v4.channel.k8s.io";
/// Offered over SPDY too: the error stream carries plain text.
const PROTOCOL_V3: &str = "v3.channel.k8s.io";
/// Offered over SPDY too: as v3, without a resize stream.
const PROTOCOL_V2: &str = "v2.channel.k8s.io";
/// How long the server has to accept each stream we open (upstream's
/// `createStreamResponseTimeout`).
const STREAM_REPLY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);
/// The buffer of each stream pipe.
const PIPE: usize = 64 * 1024;

fn backend(what: &str, e: impl std::fmt::Display) -> Error {
    Error::Backend(format!("CRI streaming {what}: {e}"))
}

/// `http://host:port/path` → (`host:port`, `/path`).
fn split_url(url: &str) -> Result<(String, String)> {
    let rest = url
        .strip_prefix("http://")
        .ok_or_else(|| backend("URL", format!("{url:?} is not http://")))?;
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    Ok((authority.to_owned(), path.to_owned()))
}

/// The exit code in a v4 error-channel message: `Success` is 0, a `NonZeroExitCode` failure
/// carries it in `details.causes[reason=ExitCode].message`; any other failure is an error.
fn exit_code(status: &[u8]) -> Result<i32> {
    if status.is_empty() {
        return Ok(0);
    }
    let v: serde_json::Value =
        serde_json::from_slice(status).map_err(|e| backend("error channel", e))?;
    if v["status"] == "Success" {
        return Ok(0);
    }
    let code = v["details"]["causes"].as_array().and_then(|causes| {
        causes
            .iter()
            .find(|c| c["reason"] == "ExitCode")
            .and_then(|c| c["message"].as_str())
            .and_then(|m| m.parse::<i32>().ok())
    });
    code.ok_or_else(|| {
        backend(
            "error channel",
            v["message"].as_str().unwrap_or("unknown failure"),
        )
    })
}

/// A websocket connection to a streaming server: complete messages in, frames out.
struct Ws {
    rd: websocket::Reader<tokio::net::tcp::OwnedReadHalf>,
    /// (opcode, payload) to send; a task writes them masked.
    send: mpsc::Sender<(u8, Vec<u8>)>,
}

impl Ws {
    /// Connects to `url` (`http://host:port/path`) and upgrades to `v4.channel.k8s.io`.
    async fn connect(url: &str) -> Result<Ws> {
        let (authority, path) = split_url(url)?;
        let mut conn = TcpStream::connect(&authority)
            .await
            .map_err(|e| backend(&format!("connect {authority}"), e))?;
        let handshake =
            websocket::client_request(&path, &authority, &websocket::client_key(), Some(PROTOCOL));
        conn.write_all(handshake.as_bytes())
            .await
            .map_err(|e| backend("handshake", e))?;
        let head = read_head(&mut conn).await?;
        if !head.starts_with("HTTP/1.1 101") {
            return Err(backend(
                "handshake",
                head.lines().next().unwrap_or_default().to_owned(),
            ));
        }
        let (rd, mut wr) = conn.into_split();
        let (send, mut to_send) = mpsc::channel::<(u8, Vec<u8>)>(16);
        tokio::spawn(async move {
            while let Some((opcode, payload)) = to_send.recv().await {
                if wr
                    .write_all(&websocket::frame(Role::Client, opcode, &payload))
                    .await
                    .is_err()
                {
                    break;
                }
            }
            let _ = wr.shutdown().await;
        });
        Ok(Ws {
            rd: websocket::Reader::new(rd, Role::Client),
            send,
        })
    }

    /// The next complete data message (channel byte first); `None` once the server closed.
    async fn recv(&mut self) -> Result<Option<Vec<u8>>> {
        loop {
            match self.rd.next().await {
                Ok(Some(Frame::Message(m))) => return Ok(Some(m.data.to_vec())),
                Ok(Some(Frame::Ping(payload))) => {
                    let _ = self.send.send((op::PONG, payload.to_vec())).await;
                }
                Ok(Some(Frame::Pong)) => {}
                Ok(Some(Frame::Close(_)) | None) => return Ok(None),
                Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(None),
                Err(e) => return Err(backend("read", e)),
            }
        }
    }
}

/// Connects to the streaming `url` and hands back the session `request` asked for, over
/// SPDY/3.1 (see the [module docs](self)).
pub(super) async fn open(url: &str, request: &ExecRequest) -> Result<StreamingSession> {
    let (session, protocol) = spdy_connect(url).await?;
    let stream = |kind: &'static str| {
        let session = &session;
        async move {
            let what = format!("{kind} stream");
            tokio::time::timeout(
                STREAM_REPLY_TIMEOUT,
                session.open(Headers::new().with("streamType", kind)),
            )
            .await
            .map_err(|_| backend(&what, "no SYN_REPLY from the server"))?
            .map_err(|e| backend(&what, e))
        }
    };
    // The order upstream's clients use: error, stdin, stdout, stderr, resize. The server
    // waits for exactly the streams the CRI request named.
    let error = stream("error").await?;
    // We never write to the error stream.
    let _ = error.close().await;
    let stdin_stream = if request.stdin {
        Some(stream("stdin").await?)
    } else {
        None
    };
    let stdout_stream = if request.stdout {
        Some(stream("stdout").await?)
    } else {
        None
    };
    let stderr_stream = if request.stderr && !request.tty {
        Some(stream("stderr").await?)
    } else {
        None
    };
    // v2 has no resize stream.
    let resize_stream = if request.tty && protocol != PROTOCOL_V2 {
        Some(stream("resize").await?)
    } else {
        None
    };

    let mut pumps = Vec::new();
    let mut output = |s: Option<Stream>| {
        s.map(|s| {
            let (caller, mine) = tokio::io::duplex(PIPE);
            pumps.push(tokio::spawn(pump_out(s, mine)));
            Box::pin(caller) as super::super::ByteReader
        })
    };
    let stdout = output(stdout_stream);
    let stderr = output(stderr_stream);
    // Dropped once the server wrote the outcome: stdin stops waiting for the caller.
    let (ended_tx, ended_rx) = oneshot::channel::<()>();
    let stdin = stdin_stream.map(|s| {
        let (caller, mine) = tokio::io::duplex(PIPE);
        tokio::spawn(pump_in(mine, s, ended_rx));
        Box::pin(caller) as super::super::ByteWriter
    });
    let resize = request.tty.then(|| {
        let (tx, mut rx) = mpsc::channel::<TerminalSize>(4);
        tokio::spawn(async move {
            while let Some(size) = rx.recv().await {
                let Some(s) = &resize_stream else { continue };
                let msg = format!("{{\"Width\":{},\"Height\":{}}}\n", size.width, size.height);
                if s.send(msg.as_bytes()).await.is_err() {
                    break;
                }
            }
            if let Some(s) = &resize_stream {
                let _ = s.close().await;
            }
        });
        tx
    });

    let (exit_tx, exit_rx) = oneshot::channel::<Result<i32>>();
    tokio::spawn(async move {
        let (mut error, error_w) = error.split();
        let mut status = Vec::new();
        let result = loop {
            match error.recv().await {
                Ok(Some(data)) => status.extend_from_slice(&data),
                Ok(None) => break Ok(()),
                // The server closes the connection once it wrote the status.
                Err(_) => break Ok(()),
            }
        };
        let exit = result.and_then(|()| {
            if protocol == PROTOCOL {
                exit_code(&status)
            } else if status.is_empty() {
                Ok(0)
            } else {
                Err(backend("error stream", String::from_utf8_lossy(&status)))
            }
        });
        let _ = exit_tx.send(exit);
        drop(ended_tx);
        // Keep the connection until the output is all delivered.
        for pump in pumps {
            let _ = pump.await;
        }
        drop((error, error_w, session));
    });

    Ok(StreamingSession {
        stdin,
        stdout,
        stderr,
        resize,
        exit: exit_rx
            .map(|r| r.unwrap_or_else(|_| Err(backend("exit", "stream task ended"))))
            .boxed(),
    })
}

/// Connects to `url` and upgrades the connection to SPDY/3.1 (a `POST` with
/// `Upgrade: SPDY/3.1`, offering v4, v3 and v2 of the channel protocol); hands back the
/// client session and the protocol the server chose.
async fn spdy_connect(url: &str) -> Result<(Session, &'static str)> {
    let (authority, path) = split_url(url)?;
    let mut conn = TcpStream::connect(&authority)
        .await
        .map_err(|e| backend(&format!("connect {authority}"), e))?;
    let mut head = format!(
        "POST {path} HTTP/1.1\r\nHost: {authority}\r\nConnection: Upgrade\r\n\
         Upgrade: SPDY/3.1\r\nContent-Length: 0\r\n"
    );
    for protocol in [PROTOCOL, PROTOCOL_V3, PROTOCOL_V2] {
        head.push_str(&format!("X-Stream-Protocol-Version: {protocol}\r\n"));
    }
    head.push_str("\r\n");
    conn.write_all(head.as_bytes())
        .await
        .map_err(|e| backend("handshake", e))?;
    let head = read_head(&mut conn).await?;
    if !head.starts_with("HTTP/1.1 101") {
        return Err(backend(
            "SPDY upgrade",
            head.lines().next().unwrap_or_default().to_owned(),
        ));
    }
    let chosen = head
        .lines()
        .filter_map(|l| l.split_once(':'))
        .find(|(name, _)| {
            name.trim()
                .eq_ignore_ascii_case("x-stream-protocol-version")
        })
        .map(|(_, value)| value.trim().to_owned())
        .unwrap_or_default();
    let protocol = [PROTOCOL, PROTOCOL_V3, PROTOCOL_V2]
        .into_iter()
        .find(|p| *p == chosen)
        .ok_or_else(|| backend("SPDY upgrade", format!("unknown protocol {chosen:?}")))?;
    Ok((Session::client(conn), protocol))
}

/// The response head, byte by byte up to the blank line (what follows is the new protocol's).
async fn read_head(conn: &mut TcpStream) -> Result<String> {
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        if head.len() > 16 * 1024 {
            return Err(backend("handshake", "response head too long"));
        }
        let b = conn.read_u8().await.map_err(|e| backend("handshake", e))?;
        head.push(b);
    }
    Ok(String::from_utf8_lossy(&head).into_owned())
}

/// Copies a stream's data to the caller's pipe until the server half-closes it (or the
/// connection ends), then ends the pipe. A caller that dropped its end just stops getting
/// output.
async fn pump_out(stream: Stream, mut to: DuplexStream) {
    let (mut r, w) = stream.split();
    // We never write to an output stream.
    let _ = w.close().await;
    while let Ok(Some(data)) = r.recv().await {
        write_or_drop(&mut to, &data).await;
    }
    let _ = to.shutdown().await;
}

/// Sends what the caller writes to stdin on the stdin stream; the caller closing (or
/// dropping) its writer half-closes the stream: the process sees EOF. Gives up once
/// `ended` resolves (the process is gone), so a caller holding stdin keeps no connection.
async fn pump_in(mut from: DuplexStream, stream: Stream, mut ended: oneshot::Receiver<()>) {
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        let read = tokio::select! {
            read = from.read(&mut buf) => read,
            _ = &mut ended => return,
        };
        match read {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                if stream.send(&buf[..n]).await.is_err() {
                    return;
                }
            }
        }
    }
    if let Err(e) = stream.close().await {
        tracing::debug!(error = %e, "CRI exec: closing stdin failed");
    }
}

/// Connects to a port-forward `url` for one `port` (the CRI request named only it): channel 0
/// carries the data both ways, channel 1 an error message; each starts with the port (u16 LE).
pub(super) async fn port_forward(url: &str, port: u16) -> Result<DuplexStream> {
    let mut ws = Ws::connect(url).await?;
    let send = ws.send.clone();
    let (caller, mine) = tokio::io::duplex(PIPE);
    let (from_caller, mut to_caller) = tokio::io::split(mine);
    tokio::spawn(send_channel(from_caller, 0, send));
    tokio::spawn(async move {
        let mut seen_port = [false; 2];
        while let Ok(Some(frame)) = ws.recv().await {
            let Some((&channel, mut data)) = frame.split_first() else {
                continue;
            };
            let Some(seen) = seen_port.get_mut(usize::from(channel)) else {
                continue;
            };
            if !*seen {
                // The first two bytes of each channel name the port.
                let Some(rest) = data.get(2..) else { continue };
                *seen = true;
                data = rest;
            }
            if channel == 1 {
                if !data.is_empty() {
                    tracing::debug!(port, error = %String::from_utf8_lossy(data), "CRI port-forward failed");
                    break;
                }
            } else if to_caller.write_all(data).await.is_err() {
                break;
            }
        }
        let _ = to_caller.shutdown().await;
    });
    Ok(caller)
}

/// Sends what `from` yields as binary messages on `channel` until it ends or the
/// connection's writer is gone.
async fn send_channel(
    mut from: impl AsyncReadExt + Unpin,
    channel: u8,
    send: mpsc::Sender<(u8, Vec<u8>)>,
) {
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        match from.read(&mut buf[1..]).await {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                buf[0] = channel;
                if send.send((op::BINARY, buf[..=n].to_vec())).await.is_err() {
                    break;
                }
            }
        }
    }
}

/// Writes to a caller's pipe; a caller that dropped its end just stops getting output.
async fn write_or_drop(w: &mut DuplexStream, data: &[u8]) {
    let _ = w.write_all(data).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A stand-in for containerd's streaming server: upgrades to SPDY, accepts the error,
    /// stdin and stdout streams, echoes stdin to stdout once the client half-closed stdin,
    /// then reports exit code 7.
    async fn fake_server(listener: tokio::net::TcpListener) -> (String, Vec<String>) {
        let (mut conn, _) = listener.accept().await.unwrap();
        let head = read_head(&mut conn).await.unwrap();
        conn.write_all(
            b"HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\n\
              Upgrade: SPDY/3.1\r\nX-Stream-Protocol-Version: v4.channel.k8s.io\r\n\r\n",
        )
        .await
        .unwrap();
        let mut session = Session::new(conn);
        let mut streams = Vec::new();
        for _ in 0..3 {
            let s = session.accept().await.unwrap();
            s.reply().await.unwrap();
            streams.push(s);
        }
        let kinds = streams
            .iter()
            .map(|s| s.headers().get("streamType").unwrap_or_default().to_owned())
            .collect();
        let [error, mut stdin, stdout] = <[Stream; 3]>::try_from(streams).unwrap();
        let mut input = Vec::new();
        // Ends only with the client's FIN on stdin.
        while let Some(data) = stdin.recv().await.unwrap() {
            input.extend_from_slice(&data);
        }
        stdout.send(&input).await.unwrap();
        stdout.close().await.unwrap();
        let status = br#"{"status":"Failure","reason":"NonZeroExitCode","details":{"causes":[{"reason":"ExitCode","message":"7"}]}}"#;
        error.send(status).await.unwrap();
        error.close().await.unwrap();
        (head, kinds)
    }

    #[tokio::test]
    async fn exec_over_spdy_half_closes_stdin_and_reads_the_exit_code() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/exec/token", listener.local_addr().unwrap());
        let server = tokio::spawn(fake_server(listener));
        let request = ExecRequest {
            command: vec!["cat".into()],
            stdin: true,
            stdout: true,
            ..Default::default()
        };
        let mut session = open(&url, &request).await.unwrap();
        assert!(session.stderr.is_none() && session.resize.is_none());
        let mut stdin = session.stdin.take().unwrap();
        stdin.write_all(b"abc").await.unwrap();
        stdin.shutdown().await.unwrap();
        let mut out = Vec::new();
        session
            .stdout
            .take()
            .unwrap()
            .read_to_end(&mut out)
            .await
            .unwrap();
        assert_eq!(out, b"abc");
        assert_eq!(session.exit.await.unwrap(), 7);
        let (head, kinds) = server.await.unwrap();
        assert!(head.starts_with("POST /exec/token HTTP/1.1\r\n"), "{head}");
        for line in [
            "Upgrade: SPDY/3.1",
            "X-Stream-Protocol-Version: v4.channel.k8s.io",
            "X-Stream-Protocol-Version: v3.channel.k8s.io",
            "X-Stream-Protocol-Version: v2.channel.k8s.io",
        ] {
            assert!(head.contains(&format!("{line}\r\n")), "{line} in {head}");
        }
        assert_eq!(kinds, ["error", "stdin", "stdout"]);
    }

    #[tokio::test]
    async fn the_connection_closes_once_the_process_ended_though_stdin_is_held() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/exec/token", listener.local_addr().unwrap());
        let server = tokio::spawn(async move {
            let (mut conn, _) = listener.accept().await.unwrap();
            read_head(&mut conn).await.unwrap();
            conn.write_all(
                b"HTTP/1.1 101 Switching Protocols\r\n\
                  X-Stream-Protocol-Version: v4.channel.k8s.io\r\n\r\n",
            )
            .await
            .unwrap();
            let mut session = Session::new(conn);
            let error = session.accept().await.unwrap();
            error.reply().await.unwrap();
            let stdin = session.accept().await.unwrap();
            stdin.reply().await.unwrap();
            // The process ends without reading stdin.
            error.send(br#"{"status":"Success"}"#).await.unwrap();
            error.close().await.unwrap();
            // Then the client's side of the connection must end.
            while !session.is_closed() {
                tokio::time::sleep(std::time::Duration::from_millis(10)).await;
            }
            drop(stdin);
        });
        let request = ExecRequest {
            stdin: true,
            ..Default::default()
        };
        let mut session = open(&url, &request).await.unwrap();
        // Held, never written to nor closed.
        let _stdin = session.stdin.take().unwrap();
        assert_eq!(session.exit.await.unwrap(), 0);
        tokio::time::timeout(std::time::Duration::from_secs(10), server)
            .await
            .expect("the connection stayed open while stdin was held")
            .unwrap();
    }

    #[tokio::test]
    async fn a_refused_upgrade_is_an_error() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/exec/token", listener.local_addr().unwrap());
        tokio::spawn(async move {
            let (mut conn, _) = listener.accept().await.unwrap();
            let _ = read_head(&mut conn).await;
            let _ = conn
                .write_all(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n")
                .await;
        });
        let err = open(&url, &ExecRequest::default()).await.unwrap_err();
        assert!(err.to_string().contains("404"), "{err}");
    }

    #[test]
    fn urls_split_into_authority_and_path() {
        assert_eq!(
            split_url("http://127.0.0.1:3456/exec/abc").unwrap(),
            ("127.0.0.1:3456".into(), "/exec/abc".into())
        );
        assert!(split_url("https://x/y").is_err());
    }

    #[test]
    fn exit_codes_come_from_the_error_channel() {
        assert_eq!(
            exit_code(br#"{"metadata":{},"status":"Success"}"#).unwrap(),
            0
        );
        let failure = br#"{"status":"Failure","reason":"NonZeroExitCode","details":{"causes":[{"reason":"ExitCode","message":"3"}]}}"#;
        assert_eq!(exit_code(failure).unwrap(), 3);
        assert!(exit_code(br#"{"status":"Failure","message":"no such container"}"#).is_err());
    }
}
