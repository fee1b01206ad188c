//! [`ContainerdProcess`]: a throwaway containerd of the test's own — its root, state, gRPC
//! socket, CNI config (bridge + host-local on a subnet the test gives) and images all under a
//! temporary directory — never the system service. Dropping it kills its containers, shims
//! and containerd, unmounts what it mounted and deletes its bridge.
//!
//! No registry is reachable from tests, so [`ContainerdProcess::start`] builds two tiny images
//! from the static busybox (`/bin/busybox` plus applet symlinks: `sh`, `httpd`, `sleep`,
//! `echo`, `cat`, `wget`, `nc`, ...) and imports them with `ctr images import`:
//! [`BUSYBOX_IMAGE`] (entrypoint `sh`) and [`PAUSE_IMAGE`] (sleeps; the CRI plugin's
//! `sandbox_image`).
//!
//! ```no_run
//! # async fn doc() {
//! let Some(containerd) = kernel_testing::containerd("10.88.7.0/24").await else { return };
//! println!("CRI socket: {}", containerd.socket().display());
//! # }
//! ```

use std::io::{self, Read};
use std::os::unix::fs::symlink;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use tokio::time::Instant;

/// The busybox image every container of the tests runs (`sh` as its command).
pub const BUSYBOX_IMAGE: &str = "docker.io/library/busybox:latest";
/// The image the CRI plugin makes sandboxes ("pause" containers) from: busybox sleeping.
pub const PAUSE_IMAGE: &str = "registry.k8s.io/pause:3.6";
/// The environment variable naming the containerd binary (else `containerd` in `PATH`).
pub const CONTAINERD_ENV: &str = "KERNEL_CONTAINERD_BIN";

/// How long containerd may take to serve its socket.
const START_TIMEOUT: Duration = Duration::from_secs(30);
/// The busybox applets linked into the images.
const APPLETS: &[&str] = &[
    "sh", "ash", "httpd", "sleep", "echo", "cat", "wget", "nc", "true", "false", "ls", "printf",
    "env", "id", "ps", "kill", "mkdir", "rm", "touch", "hostname", "ip", "ifconfig", "grep",
    "head", "tail", "wc", "date", "test", "[", "seq", "pwd", "uname",
];
/// Where the reference CNI plugins are looked for.
const CNI_BIN_DIRS: &[&str] = &["/usr/lib/cni", "/opt/cni/bin"];

static SEQ: AtomicU32 = AtomicU32::new(0);

/// Starts a containerd for a test, or reports what is missing.
///
/// Returns `None` (after [`component_missing`](crate::component_missing) printed the skip
/// notice) when not root or when containerd, `ctr`, runc, busybox or the CNI plugins are not
/// installed; the test should then return. Under `KERNEL_REQUIRE_ALL=1` a missing piece
/// panics instead. Panics if everything is there but containerd does not start. `subnet` is
/// the pods' IPv4 range (`10.88.7.0/24`); tests running at once must use distinct ones.
pub async fn containerd(subnet: &str) -> Option<ContainerdProcess> {
    if !prerequisites() {
        return None;
    }
    match ContainerdProcess::start(subnet).await {
        Ok(c) => Some(c),
        Err(err) => panic!("containerd is installed but did not start: {err}"),
    }
}

/// True if everything containerd needs is here; otherwise reports the first thing missing.
fn prerequisites() -> bool {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        crate::component_missing(
            "root",
            "containerd needs root (mounts, namespaces, cgroups)",
        );
        return false;
    }
    let apt = "Debian/Ubuntu: apt-get install containerd runc containernetworking-plugins \
               busybox-static";
    if ContainerdProcess::find_binary().is_none() {
        crate::component_missing(
            "containerd",
            &format!(
                "looked at {}; {apt}",
                crate::looked_at(CONTAINERD_ENV, "containerd")
            ),
        );
        return false;
    }
    for tool in ["ctr", "runc", "busybox", "tar", "sha256sum"] {
        if crate::which(tool).is_none() {
            crate::component_missing(tool, &format!("`{tool}` in PATH; {apt}"));
            return false;
        }
    }
    if cni_bin_dir().is_none() {
        crate::component_missing(
            "CNI plugins bridge, host-local, loopback",
            &format!("looked in {CNI_BIN_DIRS:?}; {apt}"),
        );
        return false;
    }
    true
}

/// The first directory holding the CNI plugins the harness uses.
fn cni_bin_dir() -> Option<PathBuf> {
    CNI_BIN_DIRS.iter().map(PathBuf::from).find(|dir| {
        ["bridge", "host-local", "loopback"]
            .iter()
            .all(|p| dir.join(p).is_file())
    })
}

/// A running containerd of the test's own, with everything under a temporary directory.
#[derive(Debug)]
pub struct ContainerdProcess {
    dir: tempfile::TempDir,
    bridge: String,
    subnet: String,
    child: Option<Child>,
}

// === impl ContainerdProcess ===

impl ContainerdProcess {
    /// The containerd binary: `$KERNEL_CONTAINERD_BIN`, else `containerd` in `PATH`.
    pub fn find_binary() -> Option<PathBuf> {
        crate::find_tool(CONTAINERD_ENV, "containerd")
    }

    /// Writes the config and the CNI conflist, starts containerd, waits for its socket and
    /// imports [`BUSYBOX_IMAGE`] and [`PAUSE_IMAGE`].
    pub async fn start(subnet: &str) -> io::Result<ContainerdProcess> {
        let binary = Self::find_binary()
            .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, "no containerd binary"))?;
        let cni_bin = cni_bin_dir()
            .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, "no CNI plugins"))?;
        let dir = tempfile::Builder::new()
            .prefix("kernel-containerd-")
            .tempdir()?;
        let n = SEQ.fetch_add(1, Ordering::Relaxed);
        // Linux allows 15 bytes for an interface name.
        let bridge = format!("kcri{}", (std::process::id() % 100_000) * 100 + n % 100);
        let mut me = ContainerdProcess {
            dir,
            bridge,
            subnet: subnet.to_owned(),
            child: None,
        };
        me.write_config(&cni_bin)?;
        let log = std::fs::File::create(me.log_path())?;
        let mut command = Command::new(binary);
        command
            .arg("--config")
            .arg(me.dir.path().join("config.toml"))
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log);
        // SAFETY: the closure only calls `setpgid` and `prctl`, both async-signal-safe.
        unsafe {
            command.pre_exec(|| {
                // Its own process group, so a Ctrl-C of the test run reaches it once.
                libc::setpgid(0, 0);
                if libc::prctl(
                    libc::PR_SET_PDEATHSIG,
                    libc::SIGKILL as libc::c_ulong,
                    0,
                    0,
                    0,
                ) != 0
                {
                    return Err(io::Error::last_os_error());
                }
                Ok(())
            });
        }
        me.child = Some(crate::etcd::spawn_from_keeper(command)?);
        me.wait_ready().await?;
        me.import_images().await?;
        Ok(me)
    }

    /// containerd's gRPC socket (CRI and containerd's own API).
    pub fn socket(&self) -> PathBuf {
        self.dir.path().join("containerd.sock")
    }

    /// The temporary directory everything lives in.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// containerd's log.
    pub fn log_path(&self) -> PathBuf {
        self.dir.path().join("containerd.log")
    }

    /// The pods' subnet, as given.
    pub fn subnet(&self) -> &str {
        &self.subnet
    }

    /// The host bridge the pods are attached to (its address is the subnet's first).
    pub fn bridge(&self) -> &str {
        &self.bridge
    }

    /// Runs `ctr -a <socket> -n k8s.io <args>` (the CRI plugin's namespace) and returns its
    /// stdout; an exit other than 0 is an error with its stderr.
    pub async fn ctr(&self, args: &[&str]) -> io::Result<String> {
        let out = tokio::process::Command::new("ctr")
            .arg("-a")
            .arg(self.socket())
            .args(["-n", "k8s.io"])
            .args(args)
            .stdin(Stdio::null())
            .output()
            .await?;
        if !out.status.success() {
            return Err(io::Error::other(format!(
                "ctr {}: {}: {}",
                args.join(" "),
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            )));
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// Imports a docker-archive or OCI tarball into the CRI plugin's namespace.
    pub async fn import_image(&self, archive: &Path) -> io::Result<()> {
        let archive = archive.to_string_lossy();
        self.ctr(&["images", "import", &archive]).await.map(drop)
    }

    /// Builds a docker-archive tarball at `archive` holding the busybox layer under every
    /// `(reference, command)` given: each image's `Cmd` is its command, its `PATH` `/bin`.
    pub fn build_busybox_archive(
        &self,
        archive: &Path,
        images: &[(&str, &[&str])],
    ) -> io::Result<()> {
        let work = self.dir.path().join(format!(
            "image-build-{}",
            SEQ.fetch_add(1, Ordering::Relaxed)
        ));
        let rootfs = work.join("rootfs");
        let out = work.join("archive");
        for d in ["bin", "tmp", "etc", "proc", "sys", "dev", "var/www"] {
            std::fs::create_dir_all(rootfs.join(d))?;
        }
        std::fs::create_dir_all(&out)?;
        let busybox = crate::which("busybox")
            .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, "no busybox in PATH"))?;
        std::fs::copy(&busybox, rootfs.join("bin/busybox"))?;
        for applet in APPLETS {
            symlink("busybox", rootfs.join("bin").join(applet))?;
        }
        std::fs::write(rootfs.join("etc/passwd"), "root:x:0:0:root:/:/bin/sh\n")?;
        std::fs::write(rootfs.join("etc/group"), "root:x:0:\n")?;
        let layer = work.join("layer.tar");
        run(Command::new("tar")
            .arg("--numeric-owner")
            .arg("-C")
            .arg(&rootfs)
            .arg("-cf")
            .arg(&layer)
            .arg("."))?;
        let layer_digest = sha256(&layer)?;
        std::fs::create_dir_all(out.join(&layer_digest))?;
        std::fs::rename(&layer, out.join(&layer_digest).join("layer.tar"))?;
        let arch = match std::env::consts::ARCH {
            "x86_64" => "amd64",
            "aarch64" => "arm64",
            other => other,
        };
        let mut manifest = Vec::new();
        for (reference, command) in images {
            let cmd = command
                .iter()
                .map(|c| json_string(c))
                .collect::<Vec<_>>()
                .join(",");
            let config = format!(
                r#"{{"architecture":"{arch}","os":"linux","config":{{"Env":["PATH=/bin"],"Cmd":[{cmd}],"WorkingDir":"/"}},"rootfs":{{"type":"layers","diff_ids":["sha256:{layer_digest}"]}}}}"#
            );
            let config_path = work.join("config.json");
            std::fs::write(&config_path, &config)?;
            let config_digest = sha256(&config_path)?;
            std::fs::rename(&config_path, out.join(format!("{config_digest}.json")))?;
            manifest.push(format!(
                r#"{{"Config":"{config_digest}.json","RepoTags":[{}],"Layers":["{layer_digest}/layer.tar"]}}"#,
                json_string(reference)
            ));
        }
        std::fs::write(
            out.join("manifest.json"),
            format!("[{}]", manifest.join(",")),
        )?;
        run(Command::new("tar")
            .arg("-C")
            .arg(&out)
            .arg("-cf")
            .arg(archive)
            .arg("."))?;
        std::fs::remove_dir_all(&work)
    }

    fn write_config(&self, cni_bin: &Path) -> io::Result<()> {
        let d = self.dir.path();
        let cni_conf = d.join("cni");
        std::fs::create_dir_all(&cni_conf)?;
        let config = format!(
            r#"version = 2
root = "{root}"
state = "{state}"
[grpc]
  address = "{socket}"
[ttrpc]
  address = "{socket}.ttrpc"
[plugins."io.containerd.internal.v1.opt"]
  path = "{opt}"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "{pause}"
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  netns_mounts_under_state_dir = true
  enable_selinux = false
  # Without CAP_SYS_RESOURCE (a container as the test machine) the sandbox's oom_score_adj
  # of -998 is refused; keep it at containerd's own.
  restrict_oom_score_adj = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        # runc's state beside ours, not in /run/containerd/runc.
        Root = "{runc_root}"
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "{cni_bin}"
    conf_dir = "{cni_conf}"
    max_conf_num = 1
"#,
            root = d.join("root").display(),
            state = d.join("state").display(),
            socket = self.socket().display(),
            opt = d.join("opt").display(),
            pause = PAUSE_IMAGE,
            cni_bin = cni_bin.display(),
            cni_conf = cni_conf.display(),
            runc_root = d.join("state/runc").display(),
        );
        std::fs::write(d.join("config.toml"), config)?;
        let conflist = format!(
            r#"{{"cniVersion":"0.4.0","name":"kernel-cri","plugins":[{{"type":"bridge","bridge":"{bridge}","isGateway":true,"ipMasq":false,"hairpinMode":true,"ipam":{{"type":"host-local","ranges":[[{{"subnet":"{subnet}"}}]],"routes":[{{"dst":"0.0.0.0/0"}}],"dataDir":"{ipam}"}}}}]}}"#,
            bridge = self.bridge,
            subnet = self.subnet,
            ipam = d.join("ipam").display(),
        );
        std::fs::write(cni_conf.join("10-kernel-cri.conflist"), conflist)
    }

    async fn wait_ready(&mut self) -> io::Result<()> {
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if let Some(status) = self
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten())
            {
                return Err(io::Error::other(format!(
                    "containerd exited with {status}:\n{}",
                    log_tail(&self.log_path())
                )));
            }
            if self.socket().exists() && self.ctr(&["version"]).await.is_ok() {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(io::Error::other(format!(
                    "containerd did not serve {} within {START_TIMEOUT:?}:\n{}",
                    self.socket().display(),
                    log_tail(&self.log_path())
                )));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn import_images(&self) -> io::Result<()> {
        let archive = self.dir.path().join("images.tar");
        self.build_busybox_archive(
            &archive,
            &[
                (BUSYBOX_IMAGE, &["sh"]),
                (PAUSE_IMAGE, &["sleep", "2147483647"]),
            ],
        )?;
        self.import_image(&archive).await
    }

    /// Kills every container process and shim of this containerd, then containerd.
    fn kill_all(&mut self) {
        let socket = self.socket();
        let shims = processes()
            .into_iter()
            .filter(|p| {
                p.cmdline
                    .first()
                    .is_some_and(|c| c.contains("containerd-shim"))
                    && p.cmdline
                        .windows(2)
                        .any(|w| w[0] == "-address" && Path::new(&w[1]) == socket.as_path())
            })
            .map(|p| p.pid)
            .collect::<Vec<_>>();
        // A container's first process is a child of its shim; SIGKILL to it ends its PID
        // namespace.
        for p in processes() {
            if shims.contains(&p.ppid) {
                kill(p.pid);
            }
        }
        // The shims' sockets live in /run/containerd/s whatever the config says; a killed
        // shim cannot remove its own.
        let sockets = shims
            .iter()
            .flat_map(|pid| socket_paths(*pid))
            .collect::<Vec<_>>();
        for pid in &shims {
            kill(*pid);
        }
        for socket in sockets {
            let _ = std::fs::remove_file(socket);
        }
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Unmounts everything mounted under the directory (rootfs overlays, netns, shm), deepest
    /// first, so the directory can be removed.
    fn unmount_all(&self) {
        let dir = self.dir.path().to_string_lossy().into_owned();
        let Ok(info) = std::fs::read_to_string("/proc/self/mountinfo") else {
            return;
        };
        let mut points = info
            .lines()
            .filter_map(|l| l.split(' ').nth(4))
            .map(unescape_mount_path)
            .filter(|p| p.starts_with(&dir))
            .collect::<Vec<_>>();
        points.sort_by_key(|p| std::cmp::Reverse(p.len()));
        for point in points {
            if let Ok(c) = std::ffi::CString::new(point) {
                // SAFETY: a valid NUL-terminated path.
                unsafe { libc::umount2(c.as_ptr(), libc::MNT_DETACH) };
            }
        }
    }
}

impl Drop for ContainerdProcess {
    fn drop(&mut self) {
        self.kill_all();
        self.unmount_all();
        let _ = Command::new("ip")
            .args(["link", "delete", &self.bridge])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

/// A process as `/proc` shows it.
struct Proc {
    pid: i32,
    ppid: i32,
    cmdline: Vec<String>,
}

fn processes() -> Vec<Proc> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .filter_map(|pid| {
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
            // `pid (comm) state ppid ...`; comm may hold spaces and parentheses.
            let after = &stat[stat.rfind(')')? + 2..];
            let ppid = after.split(' ').nth(1)?.parse().ok()?;
            let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
            let cmdline = cmdline
                .split(|b| *b == 0)
                .filter(|a| !a.is_empty())
                .map(|a| String::from_utf8_lossy(a).into_owned())
                .collect();
            Some(Proc { pid, ppid, cmdline })
        })
        .collect()
}

/// The paths of the unix sockets process `pid` has bound (its fds matched in
/// `/proc/<pid>/net/unix` by inode).
fn socket_paths(pid: i32) -> Vec<PathBuf> {
    let Ok(fds) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
        return Vec::new();
    };
    let inodes = fds
        .flatten()
        .filter_map(|fd| std::fs::read_link(fd.path()).ok())
        .filter_map(|link| {
            let link = link.to_string_lossy().into_owned();
            link.strip_prefix("socket:[")?
                .strip_suffix(']')
                .map(str::to_owned)
        })
        .collect::<Vec<_>>();
    let Ok(table) = std::fs::read_to_string(format!("/proc/{pid}/net/unix")) else {
        return Vec::new();
    };
    // `Num RefCount Protocol Flags Type St Inode Path`.
    table
        .lines()
        .skip(1)
        .filter_map(|line| {
            let cols = line.split_whitespace().collect::<Vec<_>>();
            let (inode, path) = (cols.get(6)?, cols.get(7)?);
            (inodes.iter().any(|i| i == inode) && path.starts_with('/'))
                .then(|| PathBuf::from(path))
        })
        .collect()
}

fn kill(pid: i32) {
    // SAFETY: kill has no memory preconditions.
    unsafe { libc::kill(pid, libc::SIGKILL) };
}

/// mountinfo escapes space, tab, newline and backslash as octal.
fn unescape_mount_path(p: &str) -> String {
    p.replace("\\040", " ")
        .replace("\\011", "\t")
        .replace("\\012", "\n")
        .replace("\\134", "\\")
}

fn run(command: &mut Command) -> io::Result<()> {
    let out = command.stdin(Stdio::null()).output()?;
    if !out.status.success() {
        return Err(io::Error::other(format!(
            "{command:?}: {}: {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    Ok(())
}

/// The hex SHA-256 of a file (`sha256sum`).
fn sha256(path: &Path) -> io::Result<String> {
    let out = Command::new("sha256sum")
        .arg(path)
        .stdin(Stdio::null())
        .output()?;
    let text = String::from_utf8_lossy(&out.stdout);
    match text.split_whitespace().next() {
        Some(hex) if out.status.success() && hex.len() == 64 => Ok(hex.to_owned()),
        _ => Err(io::Error::other(format!(
            "sha256sum {}: {}",
            path.display(),
            out.status
        ))),
    }
}

/// A JSON string literal (the harness only quotes references and commands).
fn json_string(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// The last lines of containerd's log.
fn log_tail(path: &Path) -> String {
    let mut text = String::new();
    if let Ok(mut file) = std::fs::File::open(path) {
        let _ = file.read_to_string(&mut text);
    }
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(20)..].join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_strings_are_escaped() {
        assert_eq!(json_string(r#"a"b\c"#), r#""a\"b\\c""#);
        assert_eq!(json_string("x\ny"), r#""x\u000ay""#);
    }

    #[test]
    fn mount_paths_are_unescaped() {
        assert_eq!(unescape_mount_path(r"/tmp/a\040b"), "/tmp/a b");
    }
}
