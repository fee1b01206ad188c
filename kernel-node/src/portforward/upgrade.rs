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
//!   ([`WebSocketIo`](crate::websocket::WebSocketIo)).
//!
//! - **WebSocket channels** (upstream's older WebSocket port-forward, what the Python client's
//!   `portforward` speaks): a WebSocket upgrade offering `v4.channel.k8s.io`,
//!   `v4.base64.channel.k8s.io` or no subprotocol, with the ports in the query
//!   (`?port=80&port=8080` or `?port=80,8080`, as the API server passes
//!   `PodPortForwardOptions.ports`). Answer: the WebSocket 101, naming the chosen
//!   subprotocol; then one forwarded connection per port (see
//!   [`serve_upgraded`](super::serve_upgraded)).

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

/// The channel WebSocket subprotocol (binary messages, the first byte the channel).
pub const WEBSOCKET_CHANNEL_PROTOCOL_V4: &str = "v4.channel.k8s.io";
/// The base64 channel WebSocket subprotocol (text messages: `'0' + channel`, then base64).
pub const WEBSOCKET_BASE64_CHANNEL_PROTOCOL_V4: &str = "v4.base64.channel.k8s.io";
/// The query parameter (and SPDY header) naming a port.
pub const PORT_PARAM: &str = "port";

/// How the client's bytes will come after the 101.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Transport {
    /// Plain SPDY/3.1 on the upgraded connection.
    Spdy,
    /// SPDY/3.1 in binary WebSocket messages.
    WebSocketTunnel,
    /// Upstream's WebSocket channel protocol: channels `2i` (data) and `2i + 1` (error) for
    /// `ports[i]`.
    WebSocketChannels {
        /// The ports, in the query's order.
        ports: Vec<u16>,
        /// `v4.base64.channel.k8s.io`: text messages, base64.
        base64: bool,
    },
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

/// Decides a `/portForward` upgrade from the request's headers and its query string (the part
/// after `?`, undecoded; only the WebSocket channel protocol reads it) (see the
/// [module docs](self)).
pub fn negotiate(headers: &HeaderMap, query: Option<&str>) -> Result<Upgrade, Rejection> {
    if is_websocket_request(headers) {
        return negotiate_websocket(headers, query);
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

/// The `port` query parameters, as upstream's `NewV4Options`: repeated, comma lists, 1–65535.
fn query_ports(query: Option<&str>) -> Result<Vec<u16>, String> {
    let mut values = Vec::new();
    for pair in query.unwrap_or("").split('&') {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        if name == PORT_PARAM {
            values.push(value.replace("%2C", ",").replace("%2c", ","));
        }
    }
    if values.is_empty() {
        return Err(format!("query parameter {PORT_PARAM:?} is required"));
    }
    let mut ports = Vec::new();
    for value in &values {
        if value.is_empty() {
            return Err(format!("query parameter {PORT_PARAM:?} cannot be empty"));
        }
        for p in value.split(',') {
            let port: u16 = p
                .parse()
                .map_err(|e| format!("unable to parse {value:?} as a port: {e}"))?;
            if port < 1 {
                return Err(format!("port {value:?} must be > 0"));
            }
            ports.push(port);
        }
    }
    // Two channels per port, numbered in one byte.
    if ports.len() > 127 {
        return Err(format!("too many ports ({}): at most 127", ports.len()));
    }
    Ok(ports)
}

fn negotiate_websocket(headers: &HeaderMap, query: Option<&str>) -> Result<Upgrade, Rejection> {
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
    let accept = crate::websocket::accept_key(key);
    if !offered.contains(&WEBSOCKET_SPDY_TUNNEL_PROTOCOL) {
        // wsstream: the first offered protocol we speak; none offered is binary channels.
        let chosen = if offered.is_empty() {
            Some("")
        } else {
            offered.iter().copied().find(|p| {
                *p == WEBSOCKET_CHANNEL_PROTOCOL_V4 || *p == WEBSOCKET_BASE64_CHANNEL_PROTOCOL_V4
            })
        };
        let Some(chosen) = chosen else {
            return Err(Rejection::bad_request(format!(
                "unable to upgrade websocket connection: requested protocol(s) are not \
                 supported: {offered:?}; supports [{WEBSOCKET_SPDY_TUNNEL_PROTOCOL:?} \
                 {WEBSOCKET_CHANNEL_PROTOCOL_V4:?} {WEBSOCKET_BASE64_CHANNEL_PROTOCOL_V4:?}]"
            )));
        };
        let ports = query_ports(query).map_err(Rejection::bad_request)?;
        let mut headers = vec![
            ("Connection", "Upgrade".to_string()),
            ("Upgrade", "websocket".to_string()),
            ("Sec-WebSocket-Accept", accept),
        ];
        if !chosen.is_empty() {
            headers.push(("Sec-WebSocket-Protocol", chosen.to_string()));
        }
        return Ok(Upgrade {
            transport: Transport::WebSocketChannels {
                ports,
                base64: chosen == WEBSOCKET_BASE64_CHANNEL_PROTOCOL_V4,
            },
            headers,
        });
    }
    Ok(Upgrade {
        transport: Transport::WebSocketTunnel,
        headers: vec![
            ("Connection", "Upgrade".to_string()),
            ("Upgrade", "websocket".to_string()),
            ("Sec-WebSocket-Accept", accept),
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

    fn negotiate_h(h: &HeaderMap) -> Result<Upgrade, Rejection> {
        negotiate(h, None)
    }

    fn map(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (n, v) in pairs {
            h.append(*n, v.parse().unwrap());
        }
        h
    }

    #[test]
    fn spdy_upgrade_as_kubectl_sends_it() {
        let up = negotiate_h(&map(&[
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
        let up = negotiate_h(&map(&[
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
            negotiate_h(&map(&[("Connection", "Upgrade"), ("Upgrade", "SPDY/3.1")])).unwrap_err();
        assert_eq!(no_version.status, 400);
        let wrong = negotiate_h(&map(&[
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
            negotiate_h(&map(&[("X-Stream-Protocol-Version", "portforward.k8s.io")])).unwrap_err();
        assert_eq!(not_upgrade.status, 400);
        let unknown_ws = negotiate_h(&map(&[
            ("Connection", "Upgrade"),
            ("Upgrade", "websocket"),
            ("Sec-WebSocket-Version", "13"),
            ("Sec-WebSocket-Key", "x"),
            ("Sec-WebSocket-Protocol", "v5.channel.k8s.io"),
        ]))
        .unwrap_err();
        assert_eq!(unknown_ws.status, 400);
        assert!(unknown_ws.message.contains("SPDY/3.1+portforward.k8s.io"));
    }

    fn channels_request(protocol: Option<&str>) -> HeaderMap {
        let mut h = map(&[
            ("Connection", "Upgrade"),
            ("Upgrade", "websocket"),
            ("Sec-WebSocket-Version", "13"),
            ("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="),
        ]);
        if let Some(p) = protocol {
            h.append("sec-websocket-protocol", p.parse().unwrap());
        }
        h
    }

    #[test]
    fn websocket_channels_take_their_ports_from_the_query() {
        let up = negotiate(
            &channels_request(Some("v4.base64.channel.k8s.io, v4.channel.k8s.io")),
            Some("port=80&port=8080%2C9090&other=1"),
        )
        .unwrap();
        assert_eq!(
            up.transport,
            Transport::WebSocketChannels {
                ports: vec![80, 8080, 9090],
                base64: true
            }
        );
        assert!(up
            .headers
            .contains(&("Sec-WebSocket-Protocol", "v4.base64.channel.k8s.io".into())));
        // No subprotocol: binary channels, and none named in the answer.
        let up = negotiate(&channels_request(None), Some("port=5432")).unwrap();
        assert_eq!(
            up.transport,
            Transport::WebSocketChannels {
                ports: vec![5432],
                base64: false
            }
        );
        assert!(!up
            .headers
            .iter()
            .any(|(n, _)| *n == "Sec-WebSocket-Protocol"));
        for bad in [
            None,
            Some("port="),
            Some("port=0"),
            Some("port=http"),
            Some("port=70000"),
        ] {
            let err = negotiate(&channels_request(Some("v4.channel.k8s.io")), bad).unwrap_err();
            assert_eq!(err.status, 400, "{bad:?}");
        }
        // The SPDY tunnel needs no ports.
        let mut tunnel = channels_request(Some("SPDY/3.1+portforward.k8s.io"));
        tunnel.append(
            "sec-websocket-protocol",
            "v4.channel.k8s.io".parse().unwrap(),
        );
        assert_eq!(
            negotiate(&tunnel, None).unwrap().transport,
            Transport::WebSocketTunnel
        );
    }
}
