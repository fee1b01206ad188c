//! hostPath volumes: upstream's `pkg/volume/hostpath` type checks (`checkType`), with
//! upstream's messages. The volume is the host path itself (nothing under the pod directory).

use std::io;
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt, PermissionsExt};
use std::path::Path;

/// Checks `path` against the volume's `type` (`""` or none: no check), making it for
/// `DirectoryOrCreate` (mode 0755) and `FileOrCreate` (an empty file, mode 0644). `Err` is
/// upstream's message (`hostPath type check failed: /x is not a directory`). Blocking.
pub(crate) fn check_type(path: &Path, kind: Option<&str>) -> Result<(), String> {
    let shown = path.display();
    let meta = std::fs::metadata(path).ok();
    let file_type = meta.as_ref().map(|m| m.file_type());
    let failed = |what: &str| Err(format!("hostPath type check failed: {shown} is not {what}"));
    match kind.unwrap_or_default() {
        "" => Ok(()),
        "DirectoryOrCreate" if meta.is_none() => make_dir(path),
        "DirectoryOrCreate" | "Directory" => match file_type {
            Some(t) if t.is_dir() => Ok(()),
            _ => failed("a directory"),
        },
        "FileOrCreate" if meta.is_none() => make_file(path),
        "FileOrCreate" | "File" => match file_type {
            Some(t) if t.is_file() => Ok(()),
            _ => failed("a file"),
        },
        "Socket" => match file_type {
            Some(t) if t.is_socket() => Ok(()),
            _ => failed("a socket file"),
        },
        "CharDevice" => match file_type {
            Some(t) if t.is_char_device() => Ok(()),
            _ => failed("a character device"),
        },
        "BlockDevice" => match file_type {
            Some(t) if t.is_block_device() => Ok(()),
            _ => failed("a block device"),
        },
        other => Err(format!("{other} is an invalid volume type")),
    }
}

fn make_dir(path: &Path) -> Result<(), String> {
    std::fs::create_dir_all(path)
        .and_then(|()| std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)))
        .map_err(|e| format!("mkdir {}: {e}", path.display()))
}

fn make_file(path: &Path) -> Result<(), String> {
    let made = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o644)
        .open(path);
    match made {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(format!("open {}: {e}", path.display())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn types_are_checked_like_upstream() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let file = d.join("file");
        std::fs::write(&file, "x").unwrap();
        let missing = d.join("missing");

        assert!(check_type(&missing, None).is_ok(), "no type: no check");
        assert!(check_type(&missing, Some("")).is_ok());

        assert!(check_type(d, Some("Directory")).is_ok());
        assert_eq!(
            check_type(&missing, Some("Directory")).unwrap_err(),
            format!(
                "hostPath type check failed: {} is not a directory",
                missing.display()
            )
        );
        assert!(check_type(&file, Some("Directory")).is_err());
        assert!(check_type(&file, Some("DirectoryOrCreate")).is_err());

        let made = d.join("made/deeper");
        check_type(&made, Some("DirectoryOrCreate")).unwrap();
        assert!(made.is_dir());
        let mode = std::fs::metadata(&made).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o755);

        assert!(check_type(&file, Some("File")).is_ok());
        assert_eq!(
            check_type(d, Some("File")).unwrap_err(),
            format!("hostPath type check failed: {} is not a file", d.display())
        );
        let new_file = d.join("new-file");
        check_type(&new_file, Some("FileOrCreate")).unwrap();
        assert!(new_file.is_file());
        assert!(check_type(d, Some("FileOrCreate")).is_err());

        assert!(check_type(&file, Some("Socket"))
            .unwrap_err()
            .ends_with("is not a socket file"));
        let sock = d.join("sock");
        let _listener = std::os::unix::net::UnixListener::bind(&sock).unwrap();
        assert!(check_type(&sock, Some("Socket")).is_ok());

        assert!(check_type(Path::new("/dev/null"), Some("CharDevice")).is_ok());
        assert!(check_type(&file, Some("CharDevice"))
            .unwrap_err()
            .ends_with("is not a character device"));
        assert!(check_type(Path::new("/dev/null"), Some("BlockDevice"))
            .unwrap_err()
            .ends_with("is not a block device"));

        assert_eq!(
            check_type(d, Some("Weird")).unwrap_err(),
            "Weird is an invalid volume type"
        );
    }
}
