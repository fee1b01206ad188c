//! [`EtcdProcess`]: a throwaway single-member etcd on free loopback ports, with its data in a
//! temporary directory, killed when dropped (and when the test process dies).

use std::io::{self, Read};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{mpsc, Mutex, OnceLock};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::time::Instant;

/// How long etcd may take to become healthy.
const START_TIMEOUT: Duration = Duration::from_secs(30);
/// Start attempts (each with fresh ports, in case another process took one meanwhile).
const START_ATTEMPTS: usize = 3;
/// etcd's `--max-request-bytes`. The store limits key + value to 1.5 MiB (etcd's default), but
/// etcd counts the whole request (transaction envelope, key prefix), so the test member allows a
/// little more, as a production deployment of kube-in-a-library should.
const MAX_REQUEST_BYTES: u32 = 2 * 1024 * 1024;

/// Starts etcd for a test, or reports it missing.
///
/// Returns `None` (after [`component_missing`](crate::component_missing) printed the skip
/// notice) when no etcd binary is installed; the test should then return. Panics if etcd is
/// installed but does not start, or is missing while `KERNEL_REQUIRE_ALL=1`.
///
/// ```no_run
/// # async fn doc() {
/// let Some(etcd) = kernel_testing::etcd().await else { return };
/// assert!(etcd.endpoint().starts_with("http://127.0.0.1:"));
/// # }
/// ```
pub async fn etcd() -> Option<EtcdProcess> {
    if !etcd_installed() {
        return None;
    }
    match EtcdProcess::start().await {
        Ok(etcd) => Some(etcd),
        Err(err) => panic!("etcd is installed but did not start: {err}"),
    }
}

/// Like [`etcd()`], but the member serves clients over TLS only and requires a client
/// certificate ([`EtcdProcess::start_tls`]).
pub async fn etcd_tls() -> Option<EtcdProcess> {
    if !etcd_installed() {
        return None;
    }
    match EtcdProcess::start_tls().await {
        Ok(etcd) => Some(etcd),
        Err(err) => panic!("etcd is installed but did not start with TLS: {err}"),
    }
}

/// The environment variable naming the etcd binary [`EtcdProcess::find_binary`] uses.
pub const ETCD_ENV: &str = "KERNEL_ETCD_BIN";

/// True if there is an etcd binary; otherwise reports it missing.
fn etcd_installed() -> bool {
    let found = EtcdProcess::find_binary().is_some();
    if !found {
        crate::component_missing(
            "etcd",
            &format!(
                "looked at {}; Debian/Ubuntu: apt-get install etcd-server",
                crate::looked_at(ETCD_ENV, "etcd")
            ),
        );
    }
    found
}

/// PEM files of the test PKI made for a TLS [`EtcdProcess`].
#[derive(Clone, Debug)]
pub struct EtcdTlsFiles {
    /// The CA that signed the server and client certificates.
    pub ca_pem: Vec<u8>,
    /// A client certificate etcd accepts (`--client-cert-auth`).
    pub client_cert_pem: Vec<u8>,
    /// The client certificate's private key.
    pub client_key_pem: Vec<u8>,
}

/// A running etcd member on `127.0.0.1`, with its data in a temporary directory.
///
/// It is killed on drop. It is also killed if the test process dies (the child is spawned from a
/// long-lived thread with `PR_SET_PDEATHSIG`), so a crashing test never leaks etcd.
#[derive(Debug)]
pub struct EtcdProcess {
    binary: PathBuf,
    dir: tempfile::TempDir,
    client_port: u16,
    peer_port: u16,
    metrics_port: u16,
    tls: Option<EtcdTlsFiles>,
    child: Option<Child>,
}

// === impl EtcdProcess ===

impl EtcdProcess {
    /// The etcd binary: `$KERNEL_ETCD_BIN`, else `etcd` in `PATH` ([`find_tool`](crate::find_tool)).
    pub fn find_binary() -> Option<PathBuf> {
        crate::find_tool(ETCD_ENV, "etcd")
    }

    /// Starts a fresh member on free loopback ports and waits until it serves requests.
    /// Fails with [`io::ErrorKind::NotFound`] if there is no etcd binary.
    pub async fn start() -> io::Result<EtcdProcess> {
        Self::start_with(false).await
    }

    /// Starts a fresh member whose client port speaks TLS only (`https://`) and requires a
    /// client certificate. The CA, server and client certificates are made in-process with
    /// `rcgen` (server names `localhost` and `127.0.0.1`); [`EtcdProcess::tls_files`] returns
    /// them.
    pub async fn start_tls() -> io::Result<EtcdProcess> {
        Self::start_with(true).await
    }

    async fn start_with(tls: bool) -> io::Result<EtcdProcess> {
        let binary = Self::find_binary()
            .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, "no etcd binary found"))?;
        let mut last_error = None;
        for _ in 0..START_ATTEMPTS {
            let [client_port, peer_port, metrics_port] = free_ports()?;
            let dir = tempfile::Builder::new().prefix("kernel-etcd-").tempdir()?;
            let tls = if tls {
                Some(make_pki(&dir.path().join("pki"))?)
            } else {
                None
            };
            let mut etcd = EtcdProcess {
                binary: binary.clone(),
                dir,
                client_port,
                peer_port,
                metrics_port,
                tls,
                child: None,
            };
            match etcd.launch().await {
                Ok(()) => return Ok(etcd),
                Err(err) => last_error = Some(err),
            }
        }
        Err(last_error.unwrap_or_else(|| io::Error::other("etcd did not start")))
    }

    /// The client URL, e.g. `http://127.0.0.1:40123` (`https://` for a TLS member).
    pub fn endpoint(&self) -> String {
        let scheme = if self.tls.is_some() { "https" } else { "http" };
        format!("{scheme}://127.0.0.1:{}", self.client_port)
    }

    /// The certificates of a member started with [`EtcdProcess::start_tls`].
    pub fn tls_files(&self) -> Option<&EtcdTlsFiles> {
        self.tls.as_ref()
    }

    /// The client port.
    pub fn client_port(&self) -> u16 {
        self.client_port
    }

    /// The member's data directory.
    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// etcd's log (stdout and stderr), for diagnosing a failure.
    pub fn log_path(&self) -> PathBuf {
        self.dir.path().join("etcd.log")
    }

    /// True while the etcd process runs.
    pub fn is_running(&mut self) -> bool {
        self.child
            .as_mut()
            .is_some_and(|child| matches!(child.try_wait(), Ok(None)))
    }

    /// Kills etcd (SIGKILL, like a crash) and waits for it to exit. The data stays.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Kills etcd and starts it again on the same data directory and ports; waits until it
    /// serves requests again.
    pub async fn restart(&mut self) -> io::Result<()> {
        self.stop();
        self.launch().await
    }

    /// Spawns etcd and waits until it is healthy.
    async fn launch(&mut self) -> io::Result<()> {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.log_path())?;
        let client = self.endpoint();
        let peer = format!("http://127.0.0.1:{}", self.peer_port);
        let mut command = Command::new(&self.binary);
        command
            .arg("--name=default")
            .arg(format!("--data-dir={}", self.data_dir().display()))
            .arg(format!("--listen-client-urls={client}"))
            .arg(format!("--advertise-client-urls={client}"))
            .arg(format!("--listen-peer-urls={peer}"))
            .arg(format!("--initial-advertise-peer-urls={peer}"))
            .arg(format!("--initial-cluster=default={peer}"))
            .arg("--initial-cluster-state=new")
            .arg(format!("--max-request-bytes={MAX_REQUEST_BYTES}"))
            .arg(format!(
                "--listen-metrics-urls=http://127.0.0.1:{}",
                self.metrics_port
            ))
            .env_remove("ETCDCTL_API")
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log);
        if self.tls.is_some() {
            let pki = self.dir.path().join("pki");
            command
                .arg(format!("--cert-file={}", pki.join("server.pem").display()))
                .arg(format!("--key-file={}", pki.join("server.key").display()))
                .arg(format!(
                    "--trusted-ca-file={}",
                    pki.join("ca.pem").display()
                ))
                .arg("--client-cert-auth");
        }
        // SAFETY: the closure only calls `prctl`, which is async-signal-safe.
        unsafe {
            command.pre_exec(|| {
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
        self.child = Some(spawn_from_keeper(command)?);
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if let Some(status) = self
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten())
            {
                self.child = None;
                return Err(io::Error::other(format!(
                    "etcd exited with {status} while starting; log:\n{}",
                    log_tail(&self.log_path())
                )));
            }
            if healthy(self.metrics_port).await {
                return Ok(());
            }
            if Instant::now() > deadline {
                self.stop();
                return Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!(
                        "etcd not healthy after {START_TIMEOUT:?}; log:\n{}",
                        log_tail(&self.log_path())
                    ),
                ));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for EtcdProcess {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Distinct free loopback ports (client, peer, metrics): all bound at once, then released.
fn free_ports<const N: usize>() -> io::Result<[u16; N]> {
    let listeners = (0..N)
        .map(|_| std::net::TcpListener::bind("127.0.0.1:0"))
        .collect::<io::Result<Vec<_>>>()?;
    let mut ports = [0; N];
    for (port, listener) in ports.iter_mut().zip(&listeners) {
        *port = listener.local_addr()?.port();
    }
    Ok(ports)
}

/// Makes a CA (`CN=kernel-testing-ca`), a server certificate (`CN=server`, names `localhost`
/// and `127.0.0.1`, extended key usage serverAuth) and a client certificate (`CN=client`,
/// clientAuth), both signed by the CA, with `rcgen`. Writes `ca.pem`, `ca.key`, `server.pem`,
/// `server.key`, `client.pem` and `client.key` (PEM; PKCS#8 ECDSA P-256 keys) to `dir`. The
/// certificates keep rcgen's default validity (1975 to 4096): they live as long as the
/// temporary directory, so no test can fail on an expired or not-yet-valid certificate.
fn make_pki(dir: &Path) -> io::Result<EtcdTlsFiles> {
    use rcgen::{
        BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose,
        IsCa, KeyPair, KeyUsagePurpose,
    };

    let err = |e: rcgen::Error| io::Error::other(format!("making test certificates: {e}"));
    let params = |common_name: &str, names: &[&str]| -> io::Result<CertificateParams> {
        let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
        let mut params = CertificateParams::new(names).map_err(err)?;
        params.distinguished_name = DistinguishedName::new();
        params
            .distinguished_name
            .push(DnType::CommonName, common_name);
        Ok(params)
    };
    std::fs::create_dir_all(dir)?;
    let write = |name: &str, pem: &str| std::fs::write(dir.join(name), pem);

    let mut ca_params = params("kernel-testing-ca", &[])?;
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let ca_key = KeyPair::generate().map_err(err)?;
    let ca = ca_params.self_signed(&ca_key).map_err(err)?;
    write("ca.pem", &ca.pem())?;
    write("ca.key", &ca_key.serialize_pem())?;

    let mut pems = Vec::new();
    for (name, names, usage) in [
        (
            "server",
            &["localhost", "127.0.0.1"][..],
            ExtendedKeyUsagePurpose::ServerAuth,
        ),
        ("client", &[][..], ExtendedKeyUsagePurpose::ClientAuth),
    ] {
        // `CertificateParams::new` makes `127.0.0.1` an IP address SAN, the rest DNS names.
        let mut params = params(name, names)?;
        params.extended_key_usages = vec![usage];
        let key = KeyPair::generate().map_err(err)?;
        let cert = params.signed_by(&key, &ca, &ca_key).map_err(err)?;
        let (cert_pem, key_pem) = (cert.pem(), key.serialize_pem());
        write(&format!("{name}.pem"), &cert_pem)?;
        write(&format!("{name}.key"), &key_pem)?;
        pems.push((cert_pem, key_pem));
    }
    let (client_cert_pem, client_key_pem) = pems.pop().expect("the client pair");
    Ok(EtcdTlsFiles {
        ca_pem: ca.pem().into_bytes(),
        client_cert_pem: client_cert_pem.into_bytes(),
        client_key_pem: client_key_pem.into_bytes(),
    })
}

/// True if etcd answers `GET /health` on its plain-HTTP metrics port with `"health":"true"`
/// (it has a leader and serves reads).
async fn healthy(port: u16) -> bool {
    let check = async {
        let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port)).await?;
        stream
            .write_all(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
            .await?;
        let mut body = Vec::new();
        stream.read_to_end(&mut body).await?;
        io::Result::Ok(String::from_utf8_lossy(&body).contains("\"health\":\"true\""))
    };
    matches!(
        tokio::time::timeout(Duration::from_secs(2), check).await,
        Ok(Ok(true))
    )
}

/// The last lines of etcd's log.
fn log_tail(path: &Path) -> String {
    let mut text = String::new();
    if let Ok(mut file) = std::fs::File::open(path) {
        let _ = file.read_to_string(&mut text);
    }
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(20)..].join("\n")
}

type SpawnJob = (Command, mpsc::Sender<io::Result<Child>>);

/// Spawns `command` from one thread that lives as long as the process. `PR_SET_PDEATHSIG`
/// fires when the *thread* that spawned the child exits, so spawning from a test's (or a
/// runtime's) thread could kill etcd early; the keeper thread never exits.
pub(crate) fn spawn_from_keeper(command: Command) -> io::Result<Child> {
    static KEEPER: OnceLock<Mutex<mpsc::Sender<SpawnJob>>> = OnceLock::new();
    let keeper = KEEPER.get_or_init(|| {
        let (tx, rx) = mpsc::channel::<SpawnJob>();
        std::thread::Builder::new()
            .name("kernel-testing-spawner".into())
            .spawn(move || {
                for (mut command, reply) in rx {
                    let _ = reply.send(command.spawn());
                }
            })
            .expect("spawn the process keeper thread");
        Mutex::new(tx)
    });
    let (reply, result) = mpsc::channel();
    keeper
        .lock()
        .map_err(|_| io::Error::other("process keeper poisoned"))?
        .send((command, reply))
        .map_err(|_| io::Error::other("process keeper is gone"))?;
    result
        .recv()
        .map_err(|_| io::Error::other("process keeper is gone"))?
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn make_pki_writes_the_ca_server_and_client_pairs() {
        let dir = tempfile::tempdir().unwrap();
        let files = make_pki(dir.path()).unwrap();
        let read = |name: &str| std::fs::read_to_string(dir.path().join(name)).unwrap();
        for name in ["ca", "server", "client"] {
            assert!(read(&format!("{name}.pem")).starts_with("-----BEGIN CERTIFICATE-----"));
            assert!(read(&format!("{name}.key")).starts_with("-----BEGIN PRIVATE KEY-----"));
        }
        assert_eq!(files.ca_pem, read("ca.pem").into_bytes());
        assert_eq!(files.client_cert_pem, read("client.pem").into_bytes());
        assert_eq!(files.client_key_pem, read("client.key").into_bytes());
        assert_ne!(read("server.pem"), read("client.pem"));
    }
}
