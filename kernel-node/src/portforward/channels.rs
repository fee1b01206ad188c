//! Upstream's WebSocket channel protocol for port-forward (kubelet
//! `pkg/kubelet/cri/streaming/portforward/websocket.go`), which the Python client's
//! `portforward` speaks: one WebSocket, one forwarded connection per port asked for.
//!
//! Port `ports[i]` has channel `2i` for its data and `2i + 1` for its errors. Every message
//! starts with its channel: a byte (`v4.channel.k8s.io`, binary messages), or the character
//! `'0' + channel` with the rest base64 (`v4.base64.channel.k8s.io`, text messages). Both
//! channels of a port first carry the port number (two bytes, little-endian) from us. Data
//! the client sends on a data channel goes to the pod; what the pod sends comes back on it;
//! an error (a refused port, ...) is written as text on the error channel. The protocol has
//! no half-close: a pod connection's end ends that port, and once every port ended the
//! WebSocket is closed (1000); the client closing the WebSocket ends them all.

use std::future::Future;
use std::sync::Arc;
use std::task::Poll;

use base64::Engine as _;
use bytes::Bytes;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::mpsc;
use tokio::task::JoinSet;
use tracing::debug;

use super::{Connect, ServeOptions};
use crate::error::{Error, Result};
use crate::websocket::{Message, MessageKind, Role, WebSocketIo, CLOSE_NORMAL};

enum Event {
    In(std::io::Result<Option<Message>>),
    Out(Option<(u8, Bytes)>),
    Idle,
}

fn encode(base64: bool, channel: u8, data: &[u8]) -> (MessageKind, Vec<u8>) {
    if base64 {
        let mut out = vec![b'0' + channel];
        out.extend_from_slice(
            base64::engine::general_purpose::STANDARD
                .encode(data)
                .as_bytes(),
        );
        (MessageKind::Text, out)
    } else {
        let mut out = Vec::with_capacity(1 + data.len());
        out.push(channel);
        out.extend_from_slice(data);
        (MessageKind::Binary, out)
    }
}

fn decode(base64: bool, message: &Message) -> Option<(u8, Bytes)> {
    let (&first, rest) = message.data.split_first()?;
    if base64 {
        let channel = first.checked_sub(b'0')?;
        let data = base64::engine::general_purpose::STANDARD
            .decode(rest)
            .ok()?;
        Some((channel, Bytes::from(data)))
    } else {
        Some((first, message.data.slice(1..)))
    }
}

/// Serves the channel protocol on an upgraded WebSocket connection (server side).
pub(super) async fn serve_channels<IO>(
    io: IO,
    ports: Vec<u16>,
    base64: bool,
    connect: Arc<Connect>,
    options: Arc<ServeOptions>,
) -> Result<()>
where
    IO: AsyncRead + AsyncWrite + Send + Unpin + 'static,
{
    let mut ws = WebSocketIo::new(io, Role::Server);
    let io_err = |source| Error::Io {
        context: "port-forward websocket".into(),
        source,
    };
    for (i, port) in ports.iter().enumerate() {
        for channel in [2 * i as u8, 2 * i as u8 + 1] {
            let (kind, msg) = encode(base64, channel, &port.to_le_bytes());
            ws.send_message(kind, &msg).await.map_err(io_err)?;
        }
    }
    let (out_tx, mut out_rx) = mpsc::channel::<(u8, Bytes)>(64);
    let mut to_pod = Vec::with_capacity(ports.len());
    let mut pairs = JoinSet::new();
    for (i, &port) in ports.iter().enumerate() {
        let (tx, rx) = mpsc::channel(16);
        to_pod.push(Some(tx));
        pairs.spawn(forward_port(
            2 * i as u8,
            port,
            rx,
            out_tx.clone(),
            connect.clone(),
            options.clone(),
        ));
    }
    drop(out_tx);
    // No data either way for this long closes the connection (as the SPDY path does).
    let mut idle = options
        .idle_timeout
        .map(|t| (t, Box::pin(tokio::time::sleep(t))));
    loop {
        let event = std::future::poll_fn(|cx| {
            if let Poll::Ready(r) = ws.poll_recv_message(cx) {
                return Poll::Ready(Event::In(r));
            }
            if let Poll::Ready(o) = out_rx.poll_recv(cx) {
                return Poll::Ready(Event::Out(o));
            }
            if let Some((_, sleep)) = &mut idle {
                if sleep.as_mut().poll(cx).is_ready() {
                    return Poll::Ready(Event::Idle);
                }
            }
            Poll::Pending
        })
        .await;
        if let (Event::In(Ok(Some(_))) | Event::Out(Some(_)), Some((t, sleep))) =
            (&event, &mut idle)
        {
            sleep.as_mut().reset(tokio::time::Instant::now() + *t);
        }
        match event {
            Event::Idle => {
                debug!("port-forward websocket: idle; closing");
                break;
            }
            Event::In(Ok(Some(message))) => {
                let Some((channel, data)) = decode(base64, &message) else {
                    debug!("port-forward websocket: a message without a channel");
                    continue;
                };
                // Data channels are even; what comes on an error channel is dropped.
                let slot = to_pod.get_mut(usize::from(channel / 2));
                if let (0, Some(slot)) = (channel % 2, slot) {
                    if let Some(tx) = slot {
                        if tx.send(data).await.is_err() {
                            *slot = None;
                        }
                    }
                }
            }
            Event::In(Ok(None)) => {
                debug!("port-forward websocket: the client closed");
                break;
            }
            Event::In(Err(e)) => {
                debug!(error = %e, "port-forward websocket: reading failed");
                break;
            }
            Event::Out(Some((channel, data))) => {
                let (kind, msg) = encode(base64, channel, &data);
                if let Err(e) = ws.send_message(kind, &msg).await {
                    debug!(error = %e, "port-forward websocket: writing failed");
                    break;
                }
            }
            Event::Out(None) => {
                // Every port ended and said what it had to.
                let _ = ws.close(CLOSE_NORMAL).await;
                return Ok(());
            }
        }
    }
    pairs.abort_all();
    let _ = ws.close(CLOSE_NORMAL).await;
    Ok(())
}

/// One port: connect, then copy until the pod's side ends.
async fn forward_port(
    data_channel: u8,
    port: u16,
    mut from_client: mpsc::Receiver<Bytes>,
    out: mpsc::Sender<(u8, Bytes)>,
    connect: Arc<Connect>,
    options: Arc<ServeOptions>,
) {
    let result = async {
        let conn = connect(port).await?;
        let (mut pod_r, mut pod_w) = tokio::io::split(conn);
        let io = |context: &'static str| {
            move |source| Error::Io {
                context: context.into(),
                source,
            }
        };
        let up = async move {
            while let Some(chunk) = from_client.recv().await {
                pod_w
                    .write_all(&chunk)
                    .await
                    .map_err(io("writing to the pod"))?;
            }
            let _ = pod_w.shutdown().await;
            Ok::<_, Error>(())
        };
        let down = async {
            let mut buf = vec![0u8; 32 * 1024];
            loop {
                let n = pod_r
                    .read(&mut buf)
                    .await
                    .map_err(io("reading from the pod"))?;
                if n == 0 {
                    return Ok::<_, Error>(());
                }
                if out
                    .send((data_channel, Bytes::copy_from_slice(&buf[..n])))
                    .await
                    .is_err()
                {
                    return Ok(());
                }
            }
        };
        tokio::pin!(up, down);
        let mut up_done = false;
        loop {
            tokio::select! {
                r = &mut down => return r,
                r = &mut up, if !up_done => {
                    up_done = true;
                    r?;
                }
            }
        }
    }
    .await;
    if let Err(e) = result {
        let msg = format!(
            "error forwarding port {port} to pod {}, uid {}: {e}",
            options.pod, options.uid
        );
        debug!("port-forward: {msg}");
        let _ = out.send((data_channel + 1, Bytes::from(msg))).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn channel_framing_binary_and_base64() {
        let (kind, msg) = encode(false, 2, b"hi");
        assert_eq!((kind, &msg[..]), (MessageKind::Binary, &b"\x02hi"[..]));
        let (kind, msg) = encode(true, 3, &80u16.to_le_bytes());
        assert_eq!((kind, &msg[..]), (MessageKind::Text, &b"3UAA="[..]));
        let m = |kind, data: &'static [u8]| Message {
            kind,
            data: Bytes::from_static(data),
        };
        assert_eq!(
            decode(false, &m(MessageKind::Binary, b"\x00abc")),
            Some((0, Bytes::from_static(b"abc")))
        );
        assert_eq!(
            decode(true, &m(MessageKind::Text, b"0aGVsbG8=")),
            Some((0, Bytes::from_static(b"hello")))
        );
        assert_eq!(decode(true, &m(MessageKind::Text, b"0!!")), None);
        assert_eq!(decode(false, &m(MessageKind::Binary, b"")), None);
    }
}
