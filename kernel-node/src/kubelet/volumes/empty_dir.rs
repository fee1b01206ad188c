//! emptyDir volumes (upstream `pkg/volume/emptydir`): a directory (mode 0777) under the pod
//! directory; with `medium: Memory` a tmpfs mounted on it when the kubelet runs as root
//! (its `sizeLimit` is the tmpfs size), a plain directory otherwise (not root, or root
//! without the right to mount, logged). Mounts under a pod's
//! directory are unmounted by [`unmount_all`] before the directory is removed.

use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// Makes the emptyDir at `dir`; `medium` `"Memory"` mounts a tmpfs there (root only) of
/// `size_bytes` when given. Returns whether a tmpfs is mounted. Blocking.
pub(crate) fn setup(dir: &Path, medium: &str, size_bytes: Option<i64>) -> Result<bool, String> {
    match medium {
        "" => {}
        "Memory" => {}
        other => return Err(format!("emptyDir medium {other:?} is not supported")),
    }
    std::fs::create_dir_all(dir).map_err(|e| format!("mkdir {}: {e}", dir.display()))?;
    let mut tmpfs = false;
    if medium == "Memory" {
        // SAFETY: geteuid has no preconditions.
        let root = unsafe { libc::geteuid() } == 0;
        if !root {
            tracing::debug!(dir = %dir.display(), "emptyDir medium Memory without root: a plain directory");
        } else if mounts_under(dir).iter().any(|m| m == dir) {
            tmpfs = true;
        } else {
            let options = size_bytes
                .filter(|s| *s > 0)
                .map(|s| format!("size={s}"))
                .unwrap_or_default();
            match mount_tmpfs(dir, &options) {
                Ok(()) => tmpfs = true,
                Err(e) if e.raw_os_error() == Some(libc::EPERM) => {
                    // Root without CAP_SYS_ADMIN (an unprivileged container).
                    tracing::warn!(dir = %dir.display(), "no permission to mount a tmpfs: emptyDir medium Memory is a plain directory");
                }
                Err(e) => return Err(format!("mount tmpfs on {}: {e}", dir.display())),
            }
        }
    }
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o777))
        .map_err(|e| format!("chmod {}: {e}", dir.display()))?;
    Ok(tmpfs)
}

fn c_path(path: &Path) -> Result<CString, String> {
    CString::new(path.as_os_str().as_bytes()).map_err(|e| format!("{}: {e}", path.display()))
}

fn mount_tmpfs(dir: &Path, options: &str) -> std::io::Result<()> {
    let invalid = |e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e);
    let target = CString::new(dir.as_os_str().as_bytes()).map_err(invalid)?;
    let source = CString::new("tmpfs").map_err(invalid)?;
    let data = CString::new(options).map_err(invalid)?;
    // SAFETY: every pointer is a valid NUL-terminated string that outlives the call.
    let rc = unsafe {
        libc::mount(
            source.as_ptr(),
            target.as_ptr(),
            source.as_ptr(),
            libc::MS_NOSUID | libc::MS_NODEV,
            data.as_ptr().cast(),
        )
    };
    if rc != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

/// Mount points at or under `dir`, from `/proc/self/mountinfo` (none when it cannot be read).
fn mounts_under(dir: &Path) -> Vec<PathBuf> {
    let Ok(info) = std::fs::read_to_string("/proc/self/mountinfo") else {
        return Vec::new();
    };
    info.lines()
        .filter_map(|line| line.split(' ').nth(4))
        .map(|p| PathBuf::from(unescape_mountinfo(p)))
        .filter(|p| p.starts_with(dir))
        .collect()
}

/// `\040` and friends (octal escapes) of mountinfo paths.
fn unescape_mountinfo(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'\\'
            && i + 3 < bytes.len()
            && bytes[i + 1..i + 4]
                .iter()
                .all(|b| (b'0'..=b'7').contains(b))
        {
            let v = (bytes[i + 1] - b'0') * 64 + (bytes[i + 2] - b'0') * 8 + (bytes[i + 3] - b'0');
            out.push(v);
            i += 4;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Unmounts (lazily) every mount at or under `dir`, deepest first, so that the directory can
/// be removed. Blocking.
pub(crate) fn unmount_all(dir: &Path) {
    let mut mounts = mounts_under(dir);
    mounts.sort_by_key(|p| std::cmp::Reverse(p.components().count()));
    for m in mounts {
        let Ok(target) = c_path(&m) else { continue };
        // SAFETY: `target` is a valid NUL-terminated path.
        let rc = unsafe { libc::umount2(target.as_ptr(), libc::MNT_DETACH) };
        if rc != 0 {
            let e = std::io::Error::last_os_error();
            tracing::warn!(mount = %m.display(), error = %e, "failed to unmount a pod volume");
        } else {
            tracing::debug!(mount = %m.display(), "pod volume unmounted");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_plain_empty_dir_is_a_world_writable_directory() {
        let dir = tempfile::tempdir().unwrap();
        let vol = dir.path().join("volumes/kubernetes.io~empty-dir/cache");
        assert!(!setup(&vol, "", None).unwrap());
        let mode = std::fs::metadata(&vol).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o777);
        assert!(setup(&vol, "HugePages", None).is_err());
    }

    #[test]
    fn memory_medium_is_a_tmpfs_when_root() {
        let dir = tempfile::tempdir().unwrap();
        let vol = dir.path().join("mem");
        let tmpfs = setup(&vol, "Memory", Some(1 << 20)).unwrap();
        // SAFETY: geteuid has no preconditions.
        let root = unsafe { libc::geteuid() } == 0;
        if !root {
            assert!(!tmpfs);
            assert!(vol.is_dir());
            return;
        }
        if !tmpfs {
            kernel_testing::component_missing("tmpfs mounts", "root with CAP_SYS_ADMIN");
            return;
        }
        assert!(mounts_under(&vol).contains(&vol));
        // Set up again: the mount is kept, not stacked.
        assert!(setup(&vol, "Memory", Some(1 << 20)).unwrap());
        assert_eq!(mounts_under(&vol).len(), 1);
        std::fs::write(vol.join("f"), "x").unwrap();
        unmount_all(dir.path());
        assert!(mounts_under(&vol).is_empty());
        assert!(!vol.join("f").exists(), "the file lived in the tmpfs");
    }

    #[test]
    fn mountinfo_escapes() {
        assert_eq!(unescape_mountinfo("/a\\040b"), "/a b");
        assert_eq!(unescape_mountinfo("/plain"), "/plain");
    }
}
