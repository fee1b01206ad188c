//! Finding the command-line tools tests drive: [`which`], [`find_tool`], [`kubectl()`],
//! [`python_with`]. One rule for all of them: the tool's environment variable if set, else the
//! tool's name in `PATH`; no hard-coded install locations.

use std::ffi::OsStr;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// The environment variable naming the kubectl binary [`kubectl()`] uses.
pub const KUBECTL_ENV: &str = "KUBECTL";

/// The environment variable naming the Python interpreter [`python_with`] uses
/// (`scripts/test-all.sh` points it at the venv it makes).
pub const PYTHON_ENV: &str = "KERNEL_PYTHON";

/// The first executable file named `name` in the directories of `PATH`, like the shell's
/// `command -v`.
///
/// ```no_run
/// assert!(kernel_testing::which("sh").is_some());
/// ```
pub fn which(name: &str) -> Option<PathBuf> {
    which_in(name, &std::env::var_os("PATH")?)
}

/// A tool chosen by the environment variable `env_var`, else `name` in `PATH` ([`which`]).
///
/// The variable holds a path (anything with a `/`) or a name looked up in `PATH`. A variable
/// that names no executable gives `None`: an explicit choice is never silently replaced by
/// another binary. An empty variable counts as unset.
///
/// ```no_run
/// let kubectl = kernel_testing::find_tool("KUBECTL", "kubectl");
/// ```
pub fn find_tool(env_var: &str, name: &str) -> Option<PathBuf> {
    resolve(
        std::env::var_os(env_var).as_deref(),
        name,
        &std::env::var_os("PATH").unwrap_or_default(),
    )
}

/// What [`find_tool`] looks at, for a [`component_missing`](crate::component_missing) notice:
/// `` $KUBECTL (unset), then `kubectl` in PATH ``.
pub fn looked_at(env_var: &str, name: &str) -> String {
    match std::env::var_os(env_var).filter(|v| !v.is_empty()) {
        Some(value) => format!("${env_var}={}", Path::new(&value).display()),
        None => format!("${env_var} (unset), then `{name}` in PATH"),
    }
}

/// kubectl for a test: `$KUBECTL`, else `kubectl` in `PATH`.
///
/// Returns `None` after [`component_missing`](crate::component_missing) printed the skip
/// notice (or panics under `KERNEL_REQUIRE_ALL=1`) when there is none.
///
/// ```no_run
/// let Some(kubectl) = kernel_testing::kubectl() else { return };
/// std::process::Command::new(kubectl).arg("version").arg("--client").status().unwrap();
/// ```
pub fn kubectl() -> Option<PathBuf> {
    let found = find_tool(KUBECTL_ENV, "kubectl");
    if found.is_none() {
        crate::component_missing(
            "kubectl",
            &format!(
                "looked at {}; kubectl is not packaged by Debian: get the static binary from \
                 https://dl.k8s.io/release/v1.33.0/bin/linux/ARCH/kubectl (ARCH amd64 or arm64) \
                 into PATH or set $KUBECTL",
                looked_at(KUBECTL_ENV, "kubectl")
            ),
        );
    }
    found
}

/// A Python interpreter that can `import module`: `$KERNEL_PYTHON`, else `python3` in `PATH`.
///
/// Returns `None` after [`component_missing`](crate::component_missing) printed the skip
/// notice (or panics under `KERNEL_REQUIRE_ALL=1`) when there is no interpreter or it cannot
/// import `module`.
///
/// ```no_run
/// let Some(python) = kernel_testing::python_with("kubernetes") else { return };
/// std::process::Command::new(python).arg("script.py").status().unwrap();
/// ```
pub fn python_with(module: &str) -> Option<PathBuf> {
    let component = format!("Python module `{module}`");
    let hint = "scripts/test-all.sh installs it in a venv and sets $KERNEL_PYTHON";
    let Some(python) = find_tool(PYTHON_ENV, "python3") else {
        crate::component_missing(
            &component,
            &format!(
                "no interpreter: looked at {}; {hint}",
                looked_at(PYTHON_ENV, "python3")
            ),
        );
        return None;
    };
    if !imports(&python, module) {
        crate::component_missing(
            &component,
            &format!("`{} -c 'import {module}'` failed; {hint}", python.display()),
        );
        return None;
    }
    Some(python)
}

/// True if `python -c "import module"` succeeds.
fn imports(python: &Path, module: &str) -> bool {
    Command::new(python)
        .arg("-c")
        .arg(format!("import {module}"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success())
}

/// [`find_tool`] with the variable's value and `PATH` given.
fn resolve(explicit: Option<&OsStr>, name: &str, path: &OsStr) -> Option<PathBuf> {
    match explicit.filter(|value| !value.is_empty()) {
        Some(value) if value.as_encoded_bytes().contains(&b'/') => {
            let path = PathBuf::from(value);
            is_executable(&path).then_some(path)
        }
        Some(value) => which_in(&value.to_string_lossy(), path),
        None => which_in(name, path),
    }
}

/// [`which`] over the given `PATH` value.
fn which_in(name: &str, path: &OsStr) -> Option<PathBuf> {
    std::env::split_paths(path)
        .filter(|dir| !dir.as_os_str().is_empty())
        .map(|dir| dir.join(name))
        .find(|candidate| is_executable(candidate))
}

/// A regular file (after symlinks) with an execute bit.
fn is_executable(path: &Path) -> bool {
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

#[cfg(test)]
mod tests {
    use std::ffi::OsString;

    use super::*;

    /// A `PATH` value of the given directories.
    fn path_of(dirs: &[&Path]) -> OsString {
        std::env::join_paths(dirs).unwrap()
    }

    fn file(dir: &Path, name: &str, mode: u32) -> PathBuf {
        let path = dir.join(name);
        std::fs::write(&path, "#!/bin/sh\n").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
        path
    }

    #[test]
    fn which_takes_the_first_executable_in_path_order() {
        let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        file(a.path(), "tool", 0o644); // not executable: skipped
        let want = file(b.path(), "tool", 0o755);
        std::fs::create_dir(a.path().join("dir")).unwrap(); // a directory: skipped
        let path = path_of(&[a.path(), b.path()]);
        assert_eq!(which_in("tool", &path), Some(want.clone()));
        assert_eq!(which_in("dir", &path), None);
        assert_eq!(which_in("absent", &path), None);
        let first = file(a.path(), "tool2", 0o755);
        file(b.path(), "tool2", 0o755);
        assert_eq!(which_in("tool2", &path), Some(first));
    }

    #[test]
    fn the_variable_wins_and_is_never_replaced() {
        let (dir, other) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let in_path = file(dir.path(), "kubectl", 0o755);
        let chosen = file(other.path(), "my-kubectl", 0o755);
        let path = path_of(&[dir.path()]);
        // Unset or empty: the name in PATH.
        assert_eq!(resolve(None, "kubectl", &path), Some(in_path.clone()));
        assert_eq!(
            resolve(Some(OsStr::new("")), "kubectl", &path),
            Some(in_path.clone())
        );
        // A path: that file.
        assert_eq!(
            resolve(Some(chosen.as_os_str()), "kubectl", &path),
            Some(chosen.clone())
        );
        // A bare name: looked up in PATH.
        let both = path_of(&[dir.path(), other.path()]);
        assert_eq!(
            resolve(Some(OsStr::new("my-kubectl")), "kubectl", &both),
            Some(chosen)
        );
        // A path to nothing: None, not the kubectl in PATH.
        let missing = other.path().join("nope");
        assert_eq!(resolve(Some(missing.as_os_str()), "kubectl", &path), None);
        assert_eq!(resolve(Some(OsStr::new("nope")), "kubectl", &path), None);
    }

    #[test]
    fn imports_tells_a_working_import_from_a_failing_one() {
        let dir = tempfile::tempdir().unwrap();
        // A stand-in interpreter: succeeds only for `import present`.
        let python = dir.path().join("python");
        std::fs::write(&python, "#!/bin/sh\n[ \"$2\" = \"import present\" ]\n").unwrap();
        std::fs::set_permissions(&python, std::fs::Permissions::from_mode(0o755)).unwrap();
        assert!(imports(&python, "present"));
        assert!(!imports(&python, "absent"));
        assert!(!imports(&dir.path().join("no-python"), "present"));
    }
}
