//! Named network namespaces: a bind-mounted nsfs file per namespace, as `ip netns add` makes
//! them, without running `ip`.
//!
//! [`NetNs::create`] starts a thread that leaves the process's network namespace
//! (`unshare(CLONE_NEWNET)`), bind-mounts its own namespace (`/proc/thread-self/ns/net`) onto
//! the given file, and exits; the mount keeps the namespace alive with no process in it.
//! [`NetNs::remove`] unmounts and unlinks the file, which ends the namespace once no process
//! is left in it. A process joins a namespace with [`join_in_child`] (`setns` between fork and
//! exec).
//!
//! Needs `CAP_SYS_ADMIN` (root). Linux only.

use std::ffi::CString;
use std::fs::File;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// A named network namespace: the nsfs file it is bind-mounted on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NetNs {
    path: PathBuf,
}

fn io(context: String) -> impl FnOnce(std::io::Error) -> Error {
    move |source| Error::Io { context, source }
}

fn c_path(path: &Path) -> Result<CString> {
    CString::new(path.as_os_str().as_bytes())
        .map_err(|_| Error::InvalidState(format!("path {} has a NUL byte", path.display())))
}

impl NetNs {
    /// Makes a new network namespace bound to `path` (its directory is created when missing;
    /// an existing file is replaced). Needs root.
    pub fn create(path: impl Into<PathBuf>) -> Result<NetNs> {
        let path = path.into();
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(io(format!("creating {}", dir.display())))?;
        }
        // A mount point left by an earlier namespace of this name.
        let _ = NetNs::remove(&path);
        File::create(&path).map_err(io(format!("creating {}", path.display())))?;
        let target = c_path(&path)?;
        // The thread's own namespace changes, so it is a thread of its own that exits after.
        let result = std::thread::spawn(move || -> std::io::Result<()> {
            // SAFETY: unshare takes no pointers; it only moves this thread (which ends right
            // after) into a new network namespace.
            if unsafe { libc::unshare(libc::CLONE_NEWNET) } != 0 {
                return Err(std::io::Error::last_os_error());
            }
            let source = c"/proc/thread-self/ns/net";
            // SAFETY: both paths are NUL-terminated strings that outlive the call; fstype and
            // data may be null for a bind mount.
            let rc = unsafe {
                libc::mount(
                    source.as_ptr(),
                    target.as_ptr(),
                    std::ptr::null(),
                    libc::MS_BIND,
                    std::ptr::null(),
                )
            };
            if rc != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        })
        .join()
        .map_err(|_| Error::Backend("the network namespace thread panicked".into()))?;
        if let Err(source) = result {
            let _ = std::fs::remove_file(&path);
            return Err(Error::Io {
                context: format!("making network namespace {}", path.display()),
                source,
            });
        }
        Ok(NetNs { path })
    }

    /// The namespace bound to `path` (not checked).
    pub fn at(path: impl Into<PathBuf>) -> NetNs {
        NetNs { path: path.into() }
    }

    /// The nsfs file (what CNI's `CNI_NETNS` is given).
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Opens the namespace, for [`join_in_child`].
    pub fn open(&self) -> Result<OwnedFd> {
        File::open(&self.path)
            .map(OwnedFd::from)
            .map_err(io(format!(
                "opening network namespace {}",
                self.path.display()
            )))
    }

    /// Unmounts and unlinks the namespace's file. Idempotent: a missing file is fine.
    pub fn remove(path: &Path) -> Result<()> {
        let target = c_path(path)?;
        // SAFETY: `target` is a NUL-terminated path that outlives the call. MNT_DETACH: a
        // namespace still open elsewhere does not make this fail. EINVAL (not a mount
        // point) and ENOENT are what an already removed namespace answers.
        if unsafe { libc::umount2(target.as_ptr(), libc::MNT_DETACH) } != 0 {
            let err = std::io::Error::last_os_error();
            if !matches!(err.raw_os_error(), Some(libc::EINVAL | libc::ENOENT)) {
                return Err(Error::Io {
                    context: format!("unmounting network namespace {}", path.display()),
                    source: err,
                });
            }
        }
        match std::fs::remove_file(path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(source) => Err(Error::Io {
                context: format!("removing network namespace {}", path.display()),
                source,
            }),
        }
    }

    /// Whether the file is still a mounted namespace (its inode is an nsfs one, not the
    /// empty file under it).
    pub fn exists(&self) -> bool {
        let Ok(ns) = std::fs::metadata(&self.path) else {
            return false;
        };
        let Ok(ours) = std::fs::metadata("/proc/self/ns/net") else {
            return false;
        };
        use std::os::unix::fs::MetadataExt;
        ns.dev() == ours.dev()
    }
}

/// Makes `cmd`'s process join the network namespace `netns` before it execs (`setns` in
/// `pre_exec`). The namespace is opened now, so a missing one fails here.
pub fn join_in_child(cmd: &mut tokio::process::Command, netns: &NetNs) -> Result<()> {
    let fd = netns.open()?;
    // SAFETY: the closure runs in the forked child before exec and only calls setns, which is
    // async-signal-safe; `fd` is owned by the closure, so it is open in the child (it is
    // O_CLOEXEC, closed at exec, after setns used it).
    unsafe {
        cmd.pre_exec(move || {
            if libc::setns(fd.as_raw_fd(), libc::CLONE_NEWNET) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    Ok(())
}
