//! [`ProcessRuntime`]'s `port_forward`: one TCP connection to a port of the sandbox.
//!
//! - A sandbox with a network namespace (CNI): the connection is made from inside it, to
//!   `127.0.0.1:<port>`, as containerd dials `localhost` in the pod's namespace, so ports the
//!   pod binds only on its loopback are reachable too. A thread of its own joins the
//!   namespace (`setns`), connects and exits; the socket stays in the namespace. Needs root.
//! - Otherwise (the embedded [`HostNetwork`](crate::HostNetwork)): to the pod's IP (an
//!   address in `127.0.0.0/8`), or `127.0.0.1` for a `host_network` sandbox.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::os::fd::AsRawFd;
use std::time::Duration;

use tokio::net::TcpStream;

use super::{not_found, ProcessRuntime};
use crate::error::{Error, Result};
use crate::network::netns::NetNs;
use crate::runtime::{Duplex, SandboxState};

/// How long a connection to the pod may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// The body of `ProcessRuntime::port_forward`.
pub(super) async fn port_forward(
    rt: &ProcessRuntime,
    sandbox_id: &str,
    port: u16,
) -> Result<Box<dyn Duplex>> {
    let (ip, netns) = {
        let st = rt.lock();
        let sb = st
            .sandboxes
            .get(sandbox_id)
            .ok_or_else(|| not_found("sandbox", sandbox_id))?;
        if sb.state != SandboxState::Ready {
            return Err(Error::InvalidState(format!(
                "sandbox {sandbox_id} is not ready"
            )));
        }
        (sb.ip, sb.netns.clone())
    };
    let stream = match netns {
        Some(path) => connect_in_netns(NetNs::at(path), port).await?,
        None => {
            let ip = ip.unwrap_or(IpAddr::V4(Ipv4Addr::LOCALHOST));
            let context = || format!("connecting to {ip}:{port} of sandbox {sandbox_id}");
            tokio::time::timeout(
                CONNECT_TIMEOUT,
                TcpStream::connect(SocketAddr::new(ip, port)),
            )
            .await
            .map_err(|_| Error::Timeout(context()))?
            .map_err(|source| Error::Io {
                context: context(),
                source,
            })?
        }
    };
    let _ = stream.set_nodelay(true);
    Ok(Box::new(stream))
}

/// Connects to `127.0.0.1:port` inside `netns`, from a thread that joins it and then ends.
async fn connect_in_netns(netns: NetNs, port: u16) -> Result<TcpStream> {
    let fd = netns.open()?;
    let (tx, rx) = tokio::sync::oneshot::channel();
    let path = netns.path().display().to_string();
    std::thread::Builder::new()
        .name("port-forward-netns".into())
        .spawn(move || {
            let result = (|| -> std::io::Result<std::net::TcpStream> {
                // SAFETY: setns takes an open namespace fd and only moves this thread, which
                // ends right after, into that namespace.
                if unsafe { libc::setns(fd.as_raw_fd(), libc::CLONE_NEWNET) } != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                let addr = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), port);
                let stream = std::net::TcpStream::connect_timeout(&addr, CONNECT_TIMEOUT)?;
                stream.set_nonblocking(true)?;
                Ok(stream)
            })();
            let _ = tx.send(result);
        })
        .map_err(|source| Error::Io {
            context: "starting the port-forward thread".into(),
            source,
        })?;
    let stream = rx
        .await
        .map_err(|_| Error::Backend("the port-forward thread ended without an answer".into()))?
        .map_err(|source| Error::Io {
            context: format!("connecting to 127.0.0.1:{port} in network namespace {path}"),
            source,
        })?;
    TcpStream::from_std(stream).map_err(|source| Error::Io {
        context: "registering the port-forward connection".into(),
        source,
    })
}
