//! Upstream's atomic writer (`pkg/volume/util/atomic_writer.go`): the files of a configMap,
//! secret, downwardAPI or projected volume are replaced all at once.
//!
//! The layout under the volume directory:
//!
//! ```text
//! ..2026_12_02_13_48_18.123456789/   the files of one version (a timestamped directory)
//! ..data -> ..2026_12_02_13_48_18.123456789
//! key    -> ..data/key                one symlink per top-level path of the payload
//! ```
//!
//! A write makes a new timestamped directory, points `..data_tmp` at it and renames that
//! over `..data` (a rename is atomic), then adds the symlinks of new top-level paths, removes
//! those of paths that went away and removes the old directory. A reader that opens `key`
//! sees either the old version or the new one, never a mix.

use std::collections::{BTreeMap, BTreeSet};
use std::io;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// The link to the current version.
pub(crate) const DATA_DIR: &str = "..data";
/// The link being made before it is renamed over [`DATA_DIR`].
const DATA_DIR_TMP: &str = "..data_tmp";

/// One file of a payload: its bytes and its permission bits.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct FileProjection {
    /// The contents.
    pub data: Vec<u8>,
    /// The mode (`0o644` by default).
    pub mode: u32,
}

/// Files by path relative to the volume directory (`a`, `dir/b`).
pub(crate) type Payload = BTreeMap<String, FileProjection>;

/// A payload path, checked (`validatePath`) and cleaned: relative, no `..` element, not
/// starting with `..`; `Err` says why not.
pub(crate) fn clean_path(path: &str) -> Result<String, String> {
    if path.is_empty() {
        return Err("invalid path: must not be empty".into());
    }
    if path.starts_with('/') {
        return Err(format!("invalid path: must be relative path: {path}"));
    }
    let parts: Vec<&str> = path
        .split('/')
        .filter(|p| !p.is_empty() && *p != ".")
        .collect();
    if parts.contains(&"..") {
        return Err(format!("invalid path: must not contain '..': {path}"));
    }
    if parts.first().is_none_or(|p| p.starts_with("..")) {
        return Err(format!("invalid path: must not start with '..': {path}"));
    }
    Ok(parts.join("/"))
}

/// Writes `payload` into `target` (made if missing) with the layout of the [module
/// docs](self); `Ok(false)` when the files there already are exactly the payload (nothing
/// written). Blocking: call it from `spawn_blocking`.
pub(crate) fn write(target: &Path, payload: &Payload) -> io::Result<bool> {
    let mut cleaned = Payload::new();
    for (path, file) in payload {
        let path = clean_path(path).map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
        cleaned.insert(path, file.clone());
    }
    std::fs::create_dir_all(target)?;
    let old_dir = std::fs::read_link(target.join(DATA_DIR))
        .ok()
        .map(|name| target.join(name));
    let old_paths = match &old_dir {
        Some(dir) => {
            let old = read_tree(dir)?;
            if same(&old, &cleaned) {
                return Ok(false);
            }
            old.into_keys().collect()
        }
        None => BTreeSet::new(),
    };
    let ts_dir = new_ts_dir(target)?;
    for (path, file) in &cleaned {
        let full = ts_dir.join(path);
        if let Some(parent) = full.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(&full, &file.data)?;
        std::fs::set_permissions(&full, std::fs::Permissions::from_mode(file.mode & 0o7777))?;
    }
    let tmp = target.join(DATA_DIR_TMP);
    let _ = std::fs::remove_file(&tmp);
    let ts_name = ts_dir
        .file_name()
        .expect("a directory made under the target has a name");
    std::os::unix::fs::symlink(ts_name, &tmp)?;
    std::fs::rename(&tmp, target.join(DATA_DIR))?;
    let new_top = top_level(cleaned.keys());
    for top in &new_top {
        let visible = target.join(top);
        if std::fs::symlink_metadata(&visible).is_err() {
            std::os::unix::fs::symlink(Path::new(DATA_DIR).join(top), &visible)?;
        }
    }
    for gone in top_level(old_paths.iter()).difference(&new_top) {
        let visible = target.join(gone);
        if std::fs::symlink_metadata(&visible).is_ok_and(|m| m.file_type().is_symlink()) {
            std::fs::remove_file(&visible)?;
        }
    }
    if let Some(old) = old_dir {
        if old != ts_dir {
            std::fs::remove_dir_all(&old)?;
        }
    }
    Ok(true)
}

/// The files under `dir` (recursively) by relative path, with their mode bits.
fn read_tree(dir: &Path) -> io::Result<Payload> {
    let mut out = Payload::new();
    let mut stack: Vec<(PathBuf, String)> = vec![(dir.to_path_buf(), String::new())];
    while let Some((path, rel)) = stack.pop() {
        let entries = match std::fs::read_dir(&path) {
            Ok(e) => e,
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
            Err(e) => return Err(e),
        };
        for entry in entries {
            let entry = entry?;
            let name = entry.file_name().to_string_lossy().into_owned();
            let rel = if rel.is_empty() {
                name
            } else {
                format!("{rel}/{name}")
            };
            let meta = std::fs::symlink_metadata(entry.path())?;
            if meta.is_dir() {
                stack.push((entry.path(), rel));
            } else {
                out.insert(
                    rel,
                    FileProjection {
                        data: std::fs::read(entry.path())?,
                        mode: meta.permissions().mode() & 0o7777,
                    },
                );
            }
        }
    }
    Ok(out)
}

fn same(old: &Payload, new: &Payload) -> bool {
    old.len() == new.len()
        && old
            .iter()
            .zip(new)
            .all(|((ka, a), (kb, b))| ka == kb && a.data == b.data && a.mode == b.mode & 0o7777)
}

fn top_level<'a>(paths: impl Iterator<Item = &'a String>) -> BTreeSet<String> {
    paths
        .filter_map(|p| p.split('/').next())
        .map(str::to_owned)
        .collect()
}

/// A new `..<UTC timestamp>.<nanos>` directory (mode 0755) under `target`.
fn new_ts_dir(target: &Path) -> io::Result<PathBuf> {
    static SEQ: AtomicU64 = AtomicU64::new(0);
    let now = jiff::Timestamp::now().to_zoned(jiff::tz::TimeZone::UTC);
    let stamp = format!(
        "..{:04}_{:02}_{:02}_{:02}_{:02}_{:02}.{:09}",
        now.year(),
        now.month(),
        now.day(),
        now.hour(),
        now.minute(),
        now.second(),
        now.subsec_nanosecond()
    );
    loop {
        let seq = SEQ.fetch_add(1, Ordering::Relaxed);
        let dir = target.join(format!("{stamp}{seq}"));
        match std::fs::create_dir(&dir) {
            Ok(()) => {
                std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755))?;
                return Ok(dir);
            }
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(data: &str, mode: u32) -> FileProjection {
        FileProjection {
            data: data.as_bytes().to_vec(),
            mode,
        }
    }

    fn link(path: &Path) -> String {
        std::fs::read_link(path)
            .unwrap()
            .to_string_lossy()
            .into_owned()
    }

    fn ts_dirs(target: &Path) -> Vec<String> {
        let mut out: Vec<String> = std::fs::read_dir(target)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with("..") && n != DATA_DIR)
            .collect();
        out.sort();
        out
    }

    #[test]
    fn paths_are_checked_and_cleaned() {
        assert_eq!(clean_path("a/./b//c").unwrap(), "a/b/c");
        assert!(clean_path("/abs").is_err());
        assert!(clean_path("a/../b").is_err());
        assert!(clean_path("..data").is_err());
        assert!(clean_path("").is_err());
    }

    #[test]
    fn writes_the_layout_and_swaps_versions() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("vol");
        let first = Payload::from([
            ("a".to_string(), file("one", 0o644)),
            ("dir/b".to_string(), file("two", 0o400)),
        ]);
        assert!(write(&target, &first).unwrap());
        let versions = ts_dirs(&target);
        assert_eq!(versions.len(), 1, "{versions:?}");
        assert!(versions[0].starts_with("..20"), "{versions:?}");
        assert_eq!(link(&target.join(DATA_DIR)), versions[0]);
        assert_eq!(link(&target.join("a")), "..data/a");
        assert_eq!(link(&target.join("dir")), "..data/dir");
        assert_eq!(std::fs::read_to_string(target.join("a")).unwrap(), "one");
        assert_eq!(
            std::fs::read_to_string(target.join("dir/b")).unwrap(),
            "two"
        );
        let mode = std::fs::metadata(target.join("dir/b"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o400);

        // The same payload again: nothing written.
        assert!(!write(&target, &first).unwrap());
        assert_eq!(ts_dirs(&target), versions);

        // An update: a new version, `a` changed, `dir` gone, `c` new.
        let second = Payload::from([
            ("a".to_string(), file("uno", 0o644)),
            ("c".to_string(), file("three", 0o600)),
        ]);
        assert!(write(&target, &second).unwrap());
        let now = ts_dirs(&target);
        assert_eq!(now.len(), 1, "the old version is removed: {now:?}");
        assert_ne!(now, versions);
        assert_eq!(link(&target.join(DATA_DIR)), now[0]);
        assert_eq!(std::fs::read_to_string(target.join("a")).unwrap(), "uno");
        assert_eq!(std::fs::read_to_string(target.join("c")).unwrap(), "three");
        assert!(std::fs::symlink_metadata(target.join("dir")).is_err());
        assert!(!target.join(DATA_DIR_TMP).exists());

        // A mode change alone is a change.
        let third = Payload::from([
            ("a".to_string(), file("uno", 0o600)),
            ("c".to_string(), file("three", 0o600)),
        ]);
        assert!(write(&target, &third).unwrap());
    }

    #[test]
    fn an_empty_payload_is_an_empty_version() {
        let dir = tempfile::tempdir().unwrap();
        assert!(write(dir.path(), &Payload::new()).unwrap());
        assert!(dir.path().join(DATA_DIR).is_dir());
        assert!(!write(dir.path(), &Payload::new()).unwrap());
    }

    #[test]
    fn bad_paths_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let bad = Payload::from([("../escape".to_string(), file("x", 0o644))]);
        assert!(write(dir.path(), &bad).is_err());
        assert!(!dir.path().join(DATA_DIR).exists());
    }
}
