//! [`ProcessRuntime`]'s interactive streams: [`Runtime::exec`](crate::Runtime::exec)
//! (`kubectl exec`, with or without a TTY) and [`Runtime::attach`](crate::Runtime::attach)
//! (`kubectl attach`, output only).
//!
//! - **exec** runs the command as [`exec_sync`](crate::Runtime::exec_sync) does (the
//!   container's working directory, environment and network namespace), with the streams
//!   asked for piped to the caller. With `tty`, the process gets a pseudo-terminal (`openpty`)
//!   as stdin, stdout and stderr, is the leader of a new session with the terminal as its
//!   controlling terminal, and `TERM=xterm` when the container sets no `TERM` (as containerd
//!   adds it); sizes sent on [`StreamingSession::resize`] are applied with `TIOCSWINSZ`
//!   (the kernel then signals `SIGWINCH`). Once the process exits, what is left of its process
//!   group (or session) is SIGKILLed; dropping the session's `exit` future before that
//!   SIGKILLs the group too (the caller went away).
//! - **attach** streams what the container writes from now on, read back from its CRI log
//!   file (so stdout and stderr stay apart), and ends when the container exits. The process
//!   runtime starts containers with stdin on `/dev/null` and without a terminal, so an attach
//!   asking for stdin or a TTY is [`Error::Unsupported`].

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::path::PathBuf;
use std::pin::Pin;
use std::process::Stdio;
use std::sync::Arc;
use std::task::{ready, Context, Poll};
use std::time::Duration;

use tokio::io::unix::AsyncFd;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, ReadBuf};
use tracing::debug;

use super::{command_in, exit_code, io_err, kill_group, not_found, ProcessRuntime};
use crate::error::{Error, Result};
use crate::runtime::{
    ByteReader, ByteWriter, ContainerState, ExecRequest, StreamingSession, TerminalSize,
};

/// A running container's environment, working directory and network namespace.
type ExecContext = (Vec<(String, String)>, PathBuf, Option<PathBuf>);

/// How often an attach looks for new lines in the container's log.
const ATTACH_POLL: Duration = Duration::from_millis(100);

impl ProcessRuntime {
    /// What `exec` and `attach` need of a running container: env, working dir, netns.
    fn running_container(&self, container_id: &str) -> Result<ExecContext> {
        let state = self.lock();
        let c = state
            .containers
            .get(container_id)
            .ok_or_else(|| not_found("container", container_id))?;
        if c.status.state != ContainerState::Running {
            return Err(Error::InvalidState(format!(
                "container {container_id} is {:?}, not Running",
                c.status.state
            )));
        }
        Ok((c.env.clone(), c.workdir.clone(), c.netns.clone()))
    }

    /// [`Runtime::exec`](crate::Runtime::exec) (see the [module docs](self)).
    pub(super) async fn exec_streaming(
        &self,
        container_id: &str,
        request: &ExecRequest,
    ) -> Result<StreamingSession> {
        if request.command.is_empty() || request.command[0].is_empty() {
            return Err(Error::InvalidState("exec needs a command".into()));
        }
        let (mut env, workdir, netns) = self.running_container(container_id)?;
        if request.tty {
            if !env.iter().any(|(k, _)| k == "TERM") {
                env.push(("TERM".into(), "xterm".into()));
            }
            let mut cmd = command_in(&request.command, &env, &workdir, netns.as_deref(), false)?;
            return exec_tty(&mut cmd, request, container_id);
        }
        let mut cmd = command_in(&request.command, &env, &workdir, netns.as_deref(), true)?;
        let piped = |on: bool| if on { Stdio::piped() } else { Stdio::null() };
        cmd.stdin(piped(request.stdin))
            .stdout(piped(request.stdout))
            .stderr(piped(request.stderr));
        let mut child = cmd
            .spawn()
            .map_err(|e| Error::RunContainer(format!("exec {:?}: {e}", request.command[0])))?;
        let pid = child.id().and_then(|p| i32::try_from(p).ok());
        debug!(container = %container_id, ?pid, command = ?request.command, "exec started");
        let stdin = child.stdin.take().map(|s| Box::pin(s) as ByteWriter);
        let stdout = child.stdout.take().map(|s| Box::pin(s) as ByteReader);
        let stderr = child.stderr.take().map(|s| Box::pin(s) as ByteReader);
        let mut guard = GroupGuard(pid);
        let exit = Box::pin(async move {
            let status = child.wait().await.map_err(io_err("waiting for exec"));
            guard.release();
            Ok(exit_code(status?))
        });
        Ok(StreamingSession {
            stdin,
            stdout,
            stderr,
            resize: None,
            exit,
        })
    }

    /// [`Runtime::attach`](crate::Runtime::attach) (see the [module docs](self)).
    pub(super) async fn attach_streaming(
        &self,
        container_id: &str,
        request: &ExecRequest,
    ) -> Result<StreamingSession> {
        if request.stdin || request.tty {
            return Err(Error::Unsupported(
                "attach with stdin or a TTY (the process runtime runs containers with stdin on /dev/null and no terminal)".into(),
            ));
        }
        self.running_container(container_id)?;
        let (log_path, mut exited) = {
            let state = self.lock();
            let c = state
                .containers
                .get(container_id)
                .ok_or_else(|| not_found("container", container_id))?;
            (c.status.log_path.clone(), c.exited.clone())
        };
        let start = tokio::fs::metadata(&log_path)
            .await
            .map(|m| m.len())
            .unwrap_or(0);
        let (out_tx, out_rx) = tokio::io::duplex(64 * 1024);
        let (err_tx, err_rx) = tokio::io::duplex(64 * 1024);
        let (want_out, want_err) = (request.stdout, request.stderr);
        let mut watch = exited.clone();
        tokio::spawn(async move {
            let mut out = want_out.then_some(out_tx);
            let mut err = want_err.then_some(err_tx);
            let mut offset = start;
            let mut pending = Vec::new();
            loop {
                let done = *watch.borrow();
                match crate::server::logs::read_from(&log_path, offset).await {
                    Ok(bytes) => {
                        offset += bytes.len() as u64;
                        pending.extend_from_slice(&bytes);
                        let end = pending
                            .iter()
                            .rposition(|b| *b == b'\n')
                            .map_or(0, |i| i + 1);
                        for line in pending[..end].split(|b| *b == b'\n') {
                            let Some(entry) = crate::server::logs::parse_line(line) else {
                                continue;
                            };
                            let target = if entry.stream == "stderr" {
                                &mut err
                            } else {
                                &mut out
                            };
                            if let Some(w) = target {
                                let mut data = entry.content.to_vec();
                                if !entry.partial {
                                    data.push(b'\n');
                                }
                                if w.write_all(&data).await.is_err() {
                                    *target = None;
                                }
                            }
                        }
                        pending.drain(..end);
                    }
                    Err(e) => debug!(error = %e, "attach: reading the log failed"),
                }
                if done || (out.is_none() && err.is_none()) {
                    return;
                }
                tokio::select! {
                    _ = tokio::time::sleep(ATTACH_POLL) => {}
                    _ = watch.wait_for(|e| *e) => {}
                }
            }
        });
        let this = self.clone();
        let id = container_id.to_string();
        let exit = Box::pin(async move {
            let _ = exited.wait_for(|e| *e).await;
            let status = this.lock().containers.get(&id).map(|c| c.status.exit_code);
            Ok(status.flatten().unwrap_or(0))
        });
        Ok(StreamingSession {
            stdin: None,
            stdout: request.stdout.then(|| Box::pin(out_rx) as ByteReader),
            stderr: request.stderr.then(|| Box::pin(err_rx) as ByteReader),
            resize: None,
            exit,
        })
    }
}

/// SIGKILLs the process group on drop unless released (the process ended).
struct GroupGuard(Option<i32>);

impl GroupGuard {
    /// The process ended: its leftovers go now, and the guard does nothing more.
    fn release(&mut self) {
        if let Some(pid) = self.0.take() {
            kill_group(pid, libc::SIGKILL);
        }
    }
}

impl Drop for GroupGuard {
    fn drop(&mut self) {
        if let Some(pid) = self.0.take() {
            debug!(
                pid,
                "exec session dropped before the process ended: SIGKILL"
            );
            kill_group(pid, libc::SIGKILL);
        }
    }
}

/// Spawns `cmd` on a fresh pseudo-terminal.
fn exec_tty(
    cmd: &mut tokio::process::Command,
    request: &ExecRequest,
    container_id: &str,
) -> Result<StreamingSession> {
    let (master, slave) = openpty()?;
    let stdio = |fd: &OwnedFd| -> Result<Stdio> {
        Ok(Stdio::from(
            fd.try_clone().map_err(io_err("duplicating the pty"))?,
        ))
    };
    cmd.stdin(stdio(&slave)?)
        .stdout(stdio(&slave)?)
        .stderr(stdio(&slave)?);
    // SAFETY: the closure runs in the forked child before exec and only calls setsid and
    // ioctl, which are async-signal-safe. Its stdin is the pty's slave by then.
    unsafe {
        cmd.pre_exec(|| {
            if libc::setsid() < 0 {
                return Err(std::io::Error::last_os_error());
            }
            if libc::ioctl(0, libc::TIOCSCTTY as _, 0) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let spawned = cmd.spawn();
    // The child has its copies; the parent's must close, or reads never see the end.
    drop(slave);
    let mut child =
        spawned.map_err(|e| Error::RunContainer(format!("exec {:?}: {e}", request.command[0])))?;
    let pid = child.id().and_then(|p| i32::try_from(p).ok());
    debug!(container = %container_id, ?pid, command = ?request.command, "exec started on a tty");
    set_nonblocking(master.as_raw_fd())?;
    // SAFETY: an OwnedFd's fd is valid, stays open and is the same until it is dropped with
    // the AsyncFd.
    let master = unsafe { AsyncFd::register(master) }.map_err(|e| Error::Io {
        context: "registering the pty".into(),
        source: std::io::Error::other(e.to_string()),
    })?;
    let master = Arc::new(master);
    let (resize_tx, mut resize_rx) = tokio::sync::mpsc::channel::<TerminalSize>(4);
    let resized = master.clone();
    tokio::spawn(async move {
        while let Some(size) = resize_rx.recv().await {
            let ws = libc::winsize {
                ws_row: size.height,
                ws_col: size.width,
                ws_xpixel: 0,
                ws_ypixel: 0,
            };
            // SAFETY: TIOCSWINSZ reads one winsize from the pointer, which outlives the call.
            let rc = unsafe { libc::ioctl(resized.as_raw_fd(), libc::TIOCSWINSZ as _, &ws) };
            if rc != 0 {
                debug!(err = %std::io::Error::last_os_error(), "TIOCSWINSZ failed");
            }
        }
    });
    let mut guard = GroupGuard(pid);
    let exit = Box::pin(async move {
        let status = child.wait().await.map_err(io_err("waiting for exec"));
        guard.release();
        Ok(exit_code(status?))
    });
    Ok(StreamingSession {
        stdin: request
            .stdin
            .then(|| Box::pin(Pty(master.clone())) as ByteWriter),
        stdout: request
            .stdout
            .then(|| Box::pin(Pty(master.clone())) as ByteReader),
        stderr: None,
        resize: Some(resize_tx),
        exit,
    })
}

/// A new pseudo-terminal: (master, slave).
fn openpty() -> Result<(OwnedFd, OwnedFd)> {
    let (mut master, mut slave): (RawFd, RawFd) = (-1, -1);
    // SAFETY: openpty writes two fds into the pointers; name, termios and winsize may be null.
    let rc = unsafe {
        libc::openpty(
            &mut master,
            &mut slave,
            std::ptr::null_mut(),
            std::ptr::null(),
            std::ptr::null(),
        )
    };
    if rc != 0 {
        return Err(Error::Io {
            context: "openpty".into(),
            source: std::io::Error::last_os_error(),
        });
    }
    // SAFETY: openpty succeeded: both fds are open and now owned here only.
    let (master, slave) = unsafe { (OwnedFd::from_raw_fd(master), OwnedFd::from_raw_fd(slave)) };
    for fd in [&master, &slave] {
        // SAFETY: fcntl on an fd this function owns.
        unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_SETFD, libc::FD_CLOEXEC) };
    }
    Ok((master, slave))
}

fn set_nonblocking(fd: RawFd) -> Result<()> {
    // SAFETY: fcntl on an open fd owned by the caller.
    let rc = unsafe {
        let flags = libc::fcntl(fd, libc::F_GETFL);
        libc::fcntl(fd, libc::F_SETFL, flags | libc::O_NONBLOCK)
    };
    if rc < 0 {
        return Err(Error::Io {
            context: "making the pty non-blocking".into(),
            source: std::io::Error::last_os_error(),
        });
    }
    Ok(())
}

/// The pty's master end, read and written without blocking; `EIO` (every slave closed: the
/// process and its children ended) reads as the end of the stream.
struct Pty(Arc<AsyncFd<OwnedFd>>);

impl AsyncRead for Pty {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        loop {
            let mut guard = ready!(self.0.poll_read_ready(cx))?;
            let unfilled = buf.initialize_unfilled();
            let result = guard.try_io(|fd| {
                // SAFETY: reads at most `unfilled.len()` bytes into memory it borrows mutably.
                let n = unsafe {
                    libc::read(fd.as_raw_fd(), unfilled.as_mut_ptr().cast(), unfilled.len())
                };
                if n < 0 {
                    Err(std::io::Error::last_os_error())
                } else {
                    Ok(n as usize)
                }
            });
            match result {
                Ok(Ok(n)) => {
                    buf.advance(n);
                    return Poll::Ready(Ok(()));
                }
                Ok(Err(e)) if e.raw_os_error() == Some(libc::EIO) => return Poll::Ready(Ok(())),
                Ok(Err(e)) => return Poll::Ready(Err(e)),
                Err(_would_block) => continue,
            }
        }
    }
}

impl AsyncWrite for Pty {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        loop {
            let mut guard = ready!(self.0.poll_write_ready(cx))?;
            let result = guard.try_io(|fd| {
                // SAFETY: writes at most `data.len()` bytes from memory it borrows.
                let n = unsafe { libc::write(fd.as_raw_fd(), data.as_ptr().cast(), data.len()) };
                if n < 0 {
                    Err(std::io::Error::last_os_error())
                } else {
                    Ok(n as usize)
                }
            });
            match result {
                Ok(r) => return Poll::Ready(r),
                Err(_would_block) => continue,
            }
        }
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        // A terminal has no half-close; the session's end closes it.
        Poll::Ready(Ok(()))
    }
}
