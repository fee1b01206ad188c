//! The remotecommand channel protocol over WebSocket (`kubectl exec`, `kubectl attach`;
//! k8s.io/apimachinery `pkg/util/remotecommand` and apiserver `wsstream`): every binary
//! message is one channel byte and data.
//!
//! | channel | direction | carries |
//! |---|---|---|
//! | 0 | client → kubelet | stdin |
//! | 1 | kubelet → client | stdout (the terminal's output with a TTY) |
//! | 2 | kubelet → client | stderr |
//! | 3 | kubelet → client | the end: a `metav1.Status` JSON (v4, v5); v1–v3 an error text, nothing on success |
//! | 4 | client → kubelet | a terminal size, JSON `{"Width": w, "Height": h}` (v3 on) |
//! | 255 | client → kubelet | v5 only: close a channel (`[255, 0]` closes stdin) |
//!
//! Subprotocols, most preferred first when the client offers several:
//! `v5.channel.k8s.io`, `v4.channel.k8s.io`, `v3.channel.k8s.io`, `v2.channel.k8s.io`,
//! `channel.k8s.io` (v1; also a client that names none). The base64 variants are not offered.
//! The session ends when the process does (its output drained, the status sent, a close
//! frame) or when the client closes the connection, which ends the process.

use std::time::Duration;

use serde_json::json;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::mpsc;

use crate::error::Result;
use crate::runtime::{ByteReader, StreamingSession, TerminalSize};
use crate::websocket::{self, op, Frame, Message, MessageKind, Role};

/// The subprotocols offered and their version.
pub(crate) const PROTOCOLS: [(&str, u8); 5] = [
    ("v5.channel.k8s.io", 5),
    ("v4.channel.k8s.io", 4),
    ("v3.channel.k8s.io", 3),
    ("v2.channel.k8s.io", 2),
    ("channel.k8s.io", 1),
];

/// How long output may still come after the process ended (a leftover child holding the
/// pipe is killed with the group, so this only bounds the unusual case).
const DRAIN: Duration = Duration::from_secs(2);

const STDIN: u8 = 0;
const STDOUT: u8 = 1;
const STDERR: u8 = 2;
const ERROR: u8 = 3;
const RESIZE: u8 = 4;
const CLOSE: u8 = 255;

/// The subprotocol for the client's `Sec-WebSocket-Protocol` header: `Ok(None)` when it
/// names none (v1, no header in the answer), `Err` when it names only unknown ones.
pub(crate) fn negotiate(
    header: Option<&str>,
) -> std::result::Result<Option<(&'static str, u8)>, String> {
    let Some(header) = header.filter(|h| !h.trim().is_empty()) else {
        return Ok(None);
    };
    let offered: Vec<&str> = header.split(',').map(str::trim).collect();
    PROTOCOLS
        .iter()
        .find(|(name, _)| offered.contains(name))
        .map(|p| Some(*p))
        .ok_or_else(|| {
            format!(
                "none of the requested subprotocols {offered:?} is supported; supported: {:?}",
                PROTOCOLS.iter().map(|p| p.0).collect::<Vec<_>>()
            )
        })
}

/// The status JSON sent on channel 3 (v4 on) for how the process ended.
pub(crate) fn status(result: &Result<i32>, command: &[String]) -> serde_json::Value {
    match result {
        Ok(0) => json!({ "metadata": {}, "status": "Success" }),
        Ok(code) => json!({
            "metadata": {},
            "status": "Failure",
            "message": format!("command terminated with non-zero exit code: error executing command {command:?}, exit code {code}"),
            "reason": "NonZeroExitCode",
            "details": { "causes": [ { "reason": "ExitCode", "message": code.to_string() } ] },
        }),
        Err(e) => json!({
            "metadata": {},
            "status": "Failure",
            "message": e.to_string(),
            "reason": "InternalError",
            "details": { "causes": [ { "message": e.to_string() } ] },
            "code": 500,
        }),
    }
}

fn message(channel: u8, data: &[u8]) -> Vec<u8> {
    let mut payload = Vec::with_capacity(data.len() + 1);
    payload.push(channel);
    payload.extend_from_slice(data);
    websocket::frame(Role::Server, op::BINARY, &payload)
}

/// Copies `reader` to the client as channel `channel` messages until it ends.
async fn pump(reader: Option<ByteReader>, channel: u8, tx: mpsc::Sender<Vec<u8>>) {
    let Some(mut reader) = reader else { return };
    let mut buf = vec![0u8; 32 * 1024];
    loop {
        match reader.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => {
                if tx.send(message(channel, &buf[..n])).await.is_err() {
                    return;
                }
            }
        }
    }
}

/// Runs one session on the upgraded connection `io`: `session` is what the runtime answered.
pub(crate) async fn serve<S>(
    io: S,
    version: u8,
    session: Result<StreamingSession>,
    command: Vec<String>,
) where
    S: AsyncRead + AsyncWrite + Send + 'static,
{
    let (rd, mut wr) = tokio::io::split(io);
    let (tx, mut rx) = mpsc::channel::<Vec<u8>>(32);
    let writer = tokio::spawn(async move {
        while let Some(frame) = rx.recv().await {
            if wr.write_all(&frame).await.is_err() || wr.flush().await.is_err() {
                return;
            }
        }
        let _ = wr.shutdown().await;
    });
    let end = |result: Result<i32>, tx: mpsc::Sender<Vec<u8>>| async move {
        if version >= 4 {
            let status = status(&result, &command);
            let _ = tx.send(message(ERROR, status.to_string().as_bytes())).await;
        } else if let Some(text) = match &result {
            Ok(0) => None,
            Ok(code) => Some(format!("command terminated with non-zero exit code: error executing command {command:?}, exit code {code}")),
            Err(e) => Some(e.to_string()),
        } {
            let _ = tx.send(message(ERROR, text.as_bytes())).await;
        }
        let _ = tx
            .send(websocket::frame(
                Role::Server,
                op::CLOSE,
                &websocket::CLOSE_NORMAL.to_be_bytes(),
            ))
            .await;
    };
    let session = match session {
        Ok(s) => s,
        Err(e) => {
            tracing::debug!(error = %e, "exec/attach could not start");
            end(Err(e), tx).await;
            let _ = writer.await;
            return;
        }
    };
    let StreamingSession {
        stdin,
        stdout,
        stderr,
        resize,
        mut exit,
    } = session;
    let ctl = tx.clone();
    let mut reader = tokio::spawn(async move {
        let mut stdin = stdin;
        let mut ws = websocket::Reader::new(rd, Role::Server);
        loop {
            let payload = match ws.next().await {
                Ok(Some(Frame::Message(Message {
                    kind: MessageKind::Binary,
                    data,
                }))) => data,
                Ok(Some(Frame::Ping(p))) => {
                    let _ = ctl.send(websocket::frame(Role::Server, op::PONG, &p)).await;
                    continue;
                }
                Ok(Some(Frame::Message(_) | Frame::Pong)) => continue,
                Ok(Some(Frame::Close(_)) | None) => return,
                Err(e) => {
                    tracing::debug!(error = %e, "exec stream: bad WebSocket input");
                    return;
                }
            };
            let Some((&channel, data)) = payload.split_first() else {
                continue;
            };
            match channel {
                STDIN => {
                    if let Some(w) = stdin.as_mut() {
                        if w.write_all(data).await.is_err() || w.flush().await.is_err() {
                            stdin = None;
                        }
                    }
                }
                RESIZE if version >= 3 => {
                    #[derive(serde::Deserialize)]
                    #[serde(rename_all = "PascalCase")]
                    struct Size {
                        width: u16,
                        height: u16,
                    }
                    match (serde_json::from_slice::<Size>(data), &resize) {
                        (Ok(size), Some(tx)) => {
                            let _ = tx
                                .send(TerminalSize {
                                    width: size.width,
                                    height: size.height,
                                })
                                .await;
                        }
                        (Err(e), _) => tracing::debug!(error = %e, "bad resize message"),
                        _ => {}
                    }
                }
                CLOSE if version >= 5 && data.first() == Some(&STDIN) => {
                    if let Some(mut w) = stdin.take() {
                        let _ = w.shutdown().await;
                    }
                }
                _ => {}
            }
        }
    });
    let outputs = tokio::spawn({
        let (a, b) = (tx.clone(), tx.clone());
        async move {
            tokio::join!(pump(stdout, STDOUT, a), pump(stderr, STDERR, b));
        }
    });
    tokio::select! {
        result = &mut exit => {
            if tokio::time::timeout(DRAIN, outputs).await.is_err() {
                tracing::debug!("exec output still open after the process ended");
            }
            end(result, tx).await;
            reader.abort();
            let _ = writer.await;
        }
        _ = &mut reader => {
            // The client went away: dropping `exit` ends the process.
            tracing::debug!("exec client closed the stream");
            outputs.abort();
            drop(exit);
            drop(tx);
            writer.abort();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn negotiation_prefers_v5() {
        assert_eq!(
            negotiate(Some("v4.channel.k8s.io, v5.channel.k8s.io")).unwrap(),
            Some(("v5.channel.k8s.io", 5))
        );
        assert_eq!(negotiate(None).unwrap(), None);
        assert!(negotiate(Some("base64.channel.k8s.io")).is_err());
    }

    #[test]
    fn status_of_exit_codes() {
        assert_eq!(status(&Ok(0), &[])["status"], "Success");
        let s = status(&Ok(3), &["sh".into()]);
        assert_eq!(s["status"], "Failure");
        assert_eq!(s["reason"], "NonZeroExitCode");
        assert_eq!(s["details"]["causes"][0]["reason"], "ExitCode");
        assert_eq!(s["details"]["causes"][0]["message"], "3");
    }
}
