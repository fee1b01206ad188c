//! The upgrade handshake of `/portForward`: which transport the client asks for, and the
//! headers of the `101 Switching Protocols` answer.
//!
//! Two ways in, as upstream (kubelet `ServePortForward`, apimachinery `httpstream.Handshake`
//! and `spdy.NewResponseUpgrader`, apiserver's SPDY-over-WebSocket tunnel):
//!
//! - **SPDY**: `Connection: Upgrade`, `Upgrade: SPDY/3.1` and
//!   `X-Stream-Protocol-Version: portforward.k8s.io` (one header per version the client
//!   speaks; the first we speak wins). Answer: `Connection: Upgrade`, `Upgrade: SPDY/3.1`,
//!   `X-Stream-Protocol-Version: portforward.k8s.io`.
//! - **WebSocket tunnel**: `Connection: Upgrade`, `Upgrade: websocket`,
//!   `Sec-WebSocket-Version: 13`, `Sec-WebSocket-Key`, and
//!   `Sec-WebSocket-Protocol: SPDY/3.1+portforward.k8s.io`. Answer: `Connection: Upgrade`,
//!   `Upgrade: websocket`, `Sec-WebSocket-Accept`, `Sec-WebSocket-Protocol:
//!   SPDY/3.1+portforward.k8s.io`; the SPDY frames then travel in binary messages
//!   ([`WebSocketIo`](super::websocket::WebSocketIo)).
//!
//! Not served: upstream's older WebSocket port-forward protocol (`portforward.k8s.io` or
//! `v4.channel.k8s.io` as a WebSocket subprotocol, with a channel pair per `ports=` port),
//! which no kubectl uses.

use base64::Engine as _;
use http::HeaderMap;

/// The port-forward stream protocol (`X-Stream-Protocol-Version`).
pub const PORT_FORWARD_PROTOCOL_V1: &str = "portforward.k8s.io";
/// The WebSocket subprotocol that tunnels SPDY for port-forward.
pub const WEBSOCKET_SPDY_TUNNEL_PROTOCOL: &str = "SPDY/3.1+portforward.k8s.io";
/// `Upgrade:` value of a SPDY upgrade.
pub const SPDY_UPGRADE: &str = "SPDY/3.1";
/// The header that offers (and answers) stream protocol versions.
pub const HEADER_PROTOCOL_VERSION: &str = "X-Stream-Protocol-Version";
/// The header that lists our versions when none of the client's matched.
pub const HEADER_ACCEPTED_PROTOCOL_VERSIONS: &str = "X-Accepted-Stream-Protocol-Versions";

/// RFC 6455's GUID appended to the key for `Sec-WebSocket-Accept`.
const WEBSOCKET_GUID: &str = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/// How the client's bytes will come after the 101.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transport {
    /// Plain SPDY/3.1 on the upgraded connection.
    Spdy,
    /// SPDY/3.1 in binary WebSocket messages.
    WebSocketTunnel,
}

/// An accepted upgrade: answer `101 Switching Protocols` with `headers`, then hand the
/// upgraded connection to [`serve_upgraded`](super::serve_upgraded) with `transport`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Upgrade {
    /// The transport the client asked for.
    pub transport: Transport,
    /// The 101 response's headers.
    pub headers: Vec<(&'static str, String)>,
}

/// A refused upgrade: answer `status` with `message` as a `text/plain` body and `headers`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rejection {
    /// 400 Bad Request (not an upgrade, bad WebSocket handshake) or 403 Forbidden (no common
    /// protocol version, as upstream).
    pub status: u16,
    /// Why.
    pub message: String,
    /// Extra headers (`X-Accepted-Stream-Protocol-Versions`, `Sec-WebSocket-Version`).
    pub headers: Vec<(&'static str, String)>,
}

impl Rejection {
    fn bad_request(message: String) -> Rejection {
        Rejection {
            status: 400,
            message,
            headers: Vec::new(),
        }
    }
}

impl std::fmt::Display for Rejection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.status, self.message)
    }
}

impl std::error::Error for Rejection {}

/// Every value of `name`, comma-separated lists split, trimmed.
fn tokens<'a>(headers: &'a HeaderMap, name: &str) -> Vec<&'a str> {
    headers
        .get_all(name)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .collect()
}

fn has_token(headers: &HeaderMap, name: &str, token: &str) -> bool {
    tokens(headers, name)
        .iter()
        .any(|t| t.eq_ignore_ascii_case(token))
}

/// Whether the request asks for a WebSocket (`Connection: Upgrade`, `Upgrade: websocket`),
/// as upstream's `wsstream.IsWebSocketRequest`.
pub fn is_websocket_request(headers: &HeaderMap) -> bool {
    has_token(headers, "connection", "upgrade") && has_token(headers, "upgrade", "websocket")
}

/// `Sec-WebSocket-Accept` for a `Sec-WebSocket-Key`: base64(SHA-1(key + GUID)).
pub fn websocket_accept(key: &str) -> String {
    let digest = ring::digest::digest(
        &ring::digest::SHA1_FOR_LEGACY_USE_ONLY,
        format!("{}{WEBSOCKET_GUID}", key.trim()).as_bytes(),
    );
    base64::engine::general_purpose::STANDARD.encode(digest.as_ref())
}

/// Decides a `/portForward` upgrade from the request's headers (see the
/// [module docs](self)).
pub fn negotiate(headers: &HeaderMap) -> Result<Upgrade, Rejection> {
    if is_websocket_request(headers) {
        return negotiate_websocket(headers);
    }
    // httpstream.Handshake: the client must name a protocol version we speak.
    let offered: Vec<&str> = headers
        .get_all(HEADER_PROTOCOL_VERSION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .map(str::trim)
        .collect();
    if offered.is_empty() {
        return Err(Rejection::bad_request(format!(
            "unable to upgrade: {HEADER_PROTOCOL_VERSION} is required"
        )));
    }
    if !offered.contains(&PORT_FORWARD_PROTOCOL_V1) {
        return Err(Rejection {
            status: 403,
            message: format!(
                "unable to upgrade: unable to negotiate protocol: client supports {offered:?}, \
                 server accepts [{PORT_FORWARD_PROTOCOL_V1:?}]"
            ),
            headers: vec![(
                HEADER_ACCEPTED_PROTOCOL_VERSIONS,
                PORT_FORWARD_PROTOCOL_V1.to_string(),
            )],
        });
    }
    // spdy.NewResponseUpgrader: Connection: Upgrade and Upgrade: SPDY/3.1.
    if !has_token(headers, "connection", "upgrade") || !has_token(headers, "upgrade", SPDY_UPGRADE)
    {
        return Err(Rejection::bad_request(
            "unable to upgrade: missing upgrade headers in request (want Connection: Upgrade \
             and Upgrade: SPDY/3.1, or a WebSocket upgrade)"
                .to_string(),
        ));
    }
    Ok(Upgrade {
        transport: Transport::Spdy,
        headers: vec![
            ("Connection", "Upgrade".to_string()),
            ("Upgrade", SPDY_UPGRADE.to_string()),
            (
                HEADER_PROTOCOL_VERSION,
                PORT_FORWARD_PROTOCOL_V1.to_string(),
            ),
        ],
    })
}

fn negotiate_websocket(headers: &HeaderMap) -> Result<Upgrade, Rejection> {
    if !has_token(headers, "sec-websocket-version", "13") {
        return Err(Rejection {
            status: 400,
            message: "websocket: unsupported version: 13 not found in 'Sec-Websocket-Version' \
                      header"
                .to_string(),
            headers: vec![("Sec-WebSocket-Version", "13".to_string())],
        });
    }
    let key = headers
        .get("sec-websocket-key")
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|k| !k.is_empty())
        .ok_or_else(|| {
            Rejection::bad_request("websocket: not a websocket handshake: 'Sec-WebSocket-Key' header is missing or blank".to_string())
        })?;
    let offered = tokens(headers, "sec-websocket-protocol");
    if !offered.contains(&WEBSOCKET_SPDY_TUNNEL_PROTOCOL) {
        return Err(Rejection::bad_request(format!(
            "unable to upgrade: websocket subprotocols {offered:?} offered, the kubelet serves \
             port-forward only as [{WEBSOCKET_SPDY_TUNNEL_PROTOCOL:?}]"
        )));
    }
    Ok(Upgrade {
        transport: Transport::WebSocketTunnel,
        headers: vec![
            ("Connection", "Upgrade".to_string()),
            ("Upgrade", "websocket".to_string()),
            ("Sec-WebSocket-Accept", websocket_accept(key)),
            (
                "Sec-WebSocket-Protocol",
                WEBSOCKET_SPDY_TUNNEL_PROTOCOL.to_string(),
            ),
        ],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (n, v) in pairs {
            h.append(*n, v.parse().unwrap());
        }
        h
    }

    #[test]
    fn accept_key_is_rfc6455s_example() {
        assert_eq!(
            websocket_accept("dGhlIHNhbXBsZSBub25jZQ=="),
            "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
        );
    }

    #[test]
    fn spdy_upgrade_as_kubectl_sends_it() {
        let up = negotiate(&map(&[
            ("Connection", "Upgrade"),
            ("Upgrade", "SPDY/3.1"),
            ("X-Stream-Protocol-Version", "portforward.k8s.io"),
        ]))
        .unwrap();
        assert_eq!(up.transport, Transport::Spdy);
        assert!(up
            .headers
            .contains(&("X-Stream-Protocol-Version", "portforward.k8s.io".into())));
        assert!(up.headers.contains(&("Upgrade", "SPDY/3.1".into())));
    }

    #[test]
    fn websocket_tunnel_upgrade_as_kubectl_sends_it() {
        let up = negotiate(&map(&[
            ("Connection", "Upgrade"),
            ("Upgrade", "websocket"),
            ("Sec-WebSocket-Version", "13"),
            ("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="),
            ("Sec-WebSocket-Protocol", "SPDY/3.1+portforward.k8s.io"),
        ]))
        .unwrap();
        assert_eq!(up.transport, Transport::WebSocketTunnel);
        assert!(up.headers.contains(&(
            "Sec-WebSocket-Accept",
            "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=".into()
        )));
        assert!(up.headers.contains(&(
            "Sec-WebSocket-Protocol",
            "SPDY/3.1+portforward.k8s.io".into()
        )));
    }

    #[test]
    fn refusals_name_status_and_reason() {
        let no_version =
            negotiate(&map(&[("Connection", "Upgrade"), ("Upgrade", "SPDY/3.1")])).unwrap_err();
        assert_eq!(no_version.status, 400);
        let wrong = negotiate(&map(&[
            ("Connection", "Upgrade"),
            ("Upgrade", "SPDY/3.1"),
            ("X-Stream-Protocol-Version", "v4.channel.k8s.io"),
        ]))
        .unwrap_err();
        assert_eq!(wrong.status, 403);
        assert!(wrong.headers.contains(&(
            HEADER_ACCEPTED_PROTOCOL_VERSIONS,
            "portforward.k8s.io".into()
        )));
        let not_upgrade =
            negotiate(&map(&[("X-Stream-Protocol-Version", "portforward.k8s.io")])).unwrap_err();
        assert_eq!(not_upgrade.status, 400);
        let old_ws = negotiate(&map(&[
            ("Connection", "Upgrade"),
            ("Upgrade", "websocket"),
            ("Sec-WebSocket-Version", "13"),
            ("Sec-WebSocket-Key", "x"),
            ("Sec-WebSocket-Protocol", "v4.channel.k8s.io"),
        ]))
        .unwrap_err();
        assert_eq!(old_ws.status, 400);
        assert!(old_ws.message.contains("SPDY/3.1+portforward.k8s.io"));
    }
}
