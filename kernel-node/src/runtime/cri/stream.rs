//! The client side of a CRI streaming server's exec and attach (the URL CRI `Exec` and
//! `Attach` return): a minimal RFC 6455 websocket client speaking Kubernetes'
//! `v4.channel.k8s.io` protocol — each binary message's first byte is its channel: 0 stdin,
//! 1 stdout, 2 stderr, 3 the error channel (a `metav1.Status` JSON with the exit code), 4
//! resize (`{"Width":..,"Height":..}`).
//!
//! v4 has no way to close stdin alone: dropping the session's stdin stops sending, the
//! process sees no EOF (as with upstream's v4 clients).

use futures::FutureExt;
use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, oneshot};

use super::super::{ExecRequest, StreamingSession, TerminalSize};
use crate::error::{Error, Result};
use crate::websocket::{self, op, Frame, Role};

/// The subprotocol asked for.
const PROTOCOL: &str = "v4.channel.k8s.io";
/// The buffer of each stream pipe.
const PIPE: usize = 64 * 1024;

const STDIN: u8 = 0;
const STDOUT: u8 = 1;
const STDERR: u8 = 2;
const ERROR: u8 = 3;
const RESIZE: u8 = 4;

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
        // The response head, byte by byte up to the blank line (what follows is frames).
        let mut head = Vec::new();
        while !head.ends_with(b"\r\n\r\n") {
            if head.len() > 16 * 1024 {
                return Err(backend("handshake", "response head too long"));
            }
            let b = conn.read_u8().await.map_err(|e| backend("handshake", e))?;
            head.push(b);
        }
        let head = String::from_utf8_lossy(&head);
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

/// Connects to the streaming `url` and hands back the session `request` asked for.
pub(super) async fn open(url: &str, request: &ExecRequest) -> Result<StreamingSession> {
    let mut ws = Ws::connect(url).await?;
    let send = ws.send.clone();
    let pipe = || tokio::io::duplex(PIPE);
    let (stdout_w, stdout_r) = pipe();
    let (stderr_w, stderr_r) = pipe();
    let mut stdout_w = request.stdout.then_some(stdout_w);
    let mut stderr_w = (request.stderr && !request.tty).then_some(stderr_w);
    let (exit_tx, exit_rx) = oneshot::channel::<Result<i32>>();
    tokio::spawn(async move {
        let mut exit_tx = Some(exit_tx);
        let result = loop {
            let frame = match ws.recv().await {
                Ok(Some(frame)) => frame,
                Ok(None) => break Ok(()),
                Err(e) => break Err(e),
            };
            let Some((&channel, data)) = frame.split_first() else {
                continue;
            };
            let sink = match channel {
                STDOUT => stdout_w.as_mut(),
                STDERR => stderr_w.as_mut(),
                ERROR => {
                    if let Some(tx) = exit_tx.take() {
                        let _ = tx.send(exit_code(data));
                    }
                    continue;
                }
                _ => None,
            };
            if let Some(w) = sink {
                write_or_drop(w, data).await;
            }
        };
        // Closed without an error-channel message: the stream ended (attach: the container).
        if let Some(tx) = exit_tx.take() {
            let _ = tx.send(result.map(|()| 0));
        }
    });

    let stdin = if request.stdin {
        let (stdin_w, stdin_r) = pipe();
        tokio::spawn(send_channel(stdin_r, STDIN, send.clone()));
        Some(Box::pin(stdin_w) as super::super::ByteWriter)
    } else {
        None
    };
    let resize = request.tty.then(|| {
        let (tx, mut rx) = mpsc::channel::<TerminalSize>(4);
        let send = send.clone();
        tokio::spawn(async move {
            while let Some(size) = rx.recv().await {
                let mut msg = vec![RESIZE];
                msg.extend_from_slice(
                    format!(r#"{{"Width":{},"Height":{}}}"#, size.width, size.height).as_bytes(),
                );
                if send.send((op::BINARY, msg)).await.is_err() {
                    break;
                }
            }
        });
        tx
    });
    drop(send);
    let reader = |r: DuplexStream| Some(Box::pin(r) as super::super::ByteReader);
    Ok(StreamingSession {
        stdin,
        stdout: if request.stdout {
            reader(stdout_r)
        } else {
            None
        },
        stderr: if request.stderr && !request.tty {
            reader(stderr_r)
        } else {
            None
        },
        resize,
        exit: exit_rx
            .map(|r| r.unwrap_or_else(|_| Err(backend("exit", "stream task ended"))))
            .boxed(),
    })
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
