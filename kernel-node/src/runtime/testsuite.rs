//! The conformance suite every [`Runtime`] passes (feature `testsuite`).
//!
//! Two parts, so a runtime that runs no real processes can still pass the first:
//!
//! - [`conformance_basic`]: CRI bookkeeping that holds whatever the commands do — sandbox and
//!   container lifecycles, IPs, ids, listing, idempotent stop/remove, typed errors, images.
//!   A simulated runtime that runs commands as no-ops passes it.
//! - [`conformance_processes`]: what real processes do — exit codes and reasons, SIGTERM then
//!   SIGKILL on stop, logs in the CRI format, `exec_sync` output, env, a missing command.
//!
//! [`run_all`] runs both. Every case is also public, to run one alone. Cases share the runtime
//! given, so they only look at the sandboxes and containers they made and remove them after;
//! `scratch` is a directory the suite may write into (log directories). Commands are run with
//! `sh` (found on `PATH`). The suite never asserts durations; waits have generous hang guards.
//!
//! ```no_run
//! # async fn doc() {
//! use kernel_node::{HostNetwork, ProcessRuntime};
//! let dir = std::env::temp_dir().join("suite");
//! let runtime = ProcessRuntime::new(dir.join("root"), HostNetwork::new());
//! kernel_node::runtime::testsuite::run_all(&runtime, &dir.join("scratch")).await;
//! # }
//! ```

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use super::{
    ContainerConfig, ContainerState, ContainerStatus, PodSandboxConfig, Runtime, SandboxState,
};
use crate::error::Error;

/// The longest the suite waits for anything (a hang guard, never a timing assertion).
const GUARD: Duration = Duration::from_secs(60);

static SEQ: AtomicU64 = AtomicU64::new(0);

/// Every case of [`conformance_basic`] then of [`conformance_processes`].
pub async fn run_all(runtime: &dyn Runtime, scratch: &Path) {
    conformance_basic(runtime, scratch).await;
    conformance_processes(runtime, scratch).await;
}

/// The cases that hold for any runtime, even one whose commands are no-ops.
pub async fn conformance_basic(runtime: &dyn Runtime, scratch: &Path) {
    version_has_a_name(runtime, scratch).await;
    sandbox_lifecycle(runtime, scratch).await;
    host_network_sandbox_has_no_ip_of_its_own(runtime, scratch).await;
    sandboxes_get_distinct_ips(runtime, scratch).await;
    container_lifecycle(runtime, scratch).await;
    list_containers_filters_by_sandbox(runtime, scratch).await;
    stop_sandbox_stops_its_containers(runtime, scratch).await;
    remove_sandbox_removes_its_containers(runtime, scratch).await;
    no_container_in_a_missing_or_stopped_sandbox(runtime, scratch).await;
    unknown_ids_are_not_found(runtime, scratch).await;
    images_pull_list_remove(runtime, scratch).await;
}

/// The cases about real processes: exit codes, signals, logs, exec, env.
pub async fn conformance_processes(runtime: &dyn Runtime, scratch: &Path) {
    exit_codes_and_reasons(runtime, scratch).await;
    stop_sends_sigterm_first(runtime, scratch).await;
    stop_kills_a_process_ignoring_sigterm(runtime, scratch).await;
    logs_are_written_in_cri_format(runtime, scratch).await;
    exec_sync_returns_output_and_exit_code(runtime, scratch).await;
    exec_sync_times_out(runtime, scratch).await;
    env_reaches_the_process_and_exec(runtime, scratch).await;
    missing_command_is_reported_not_fatal(runtime, scratch).await;
}

// ---------------------------------------------------------------------------------------------
// Helpers.

/// A fresh sandbox config with its own log directory under `scratch`.
pub fn sandbox_config(scratch: &Path, name: &str) -> PodSandboxConfig {
    let n = SEQ.fetch_add(1, Ordering::Relaxed);
    PodSandboxConfig {
        name: format!("{name}-{n}"),
        namespace: "conformance".into(),
        uid: format!("uid-{}-{n}", std::process::id()),
        attempt: 0,
        hostname: format!("{name}-{n}"),
        log_directory: scratch.join(format!("pods/{name}-{n}")),
        ..Default::default()
    }
}

/// A container config running `sh -c <script>`.
pub fn shell_container(name: &str, script: &str) -> ContainerConfig {
    ContainerConfig {
        name: name.into(),
        image: "busybox:latest".into(),
        command: vec!["sh".into(), "-c".into(), script.into()],
        log_path: PathBuf::from(format!("{name}/0.log")),
        ..Default::default()
    }
}

async fn guard<T>(what: &str, f: impl std::future::Future<Output = T>) -> T {
    match tokio::time::timeout(GUARD, f).await {
        Ok(v) => v,
        Err(_) => panic!("{what}: no answer within {GUARD:?}"),
    }
}

async fn run_sandbox(rt: &dyn Runtime, config: &PodSandboxConfig) -> String {
    guard("run_pod_sandbox", rt.run_pod_sandbox(config))
        .await
        .expect("run_pod_sandbox")
}

async fn create(rt: &dyn Runtime, sb: &str, sbc: &PodSandboxConfig, c: &ContainerConfig) -> String {
    guard("create_container", rt.create_container(sb, c, sbc))
        .await
        .expect("create_container")
}

async fn start(rt: &dyn Runtime, id: &str) {
    guard("start_container", rt.start_container(id))
        .await
        .expect("start_container");
}

/// A ready sandbox named `name` with one started container running `sleep 60`: (sandbox id,
/// container id).
async fn running_sleeper(rt: &dyn Runtime, scratch: &Path, name: &str) -> (String, String) {
    let sbc = sandbox_config(scratch, name);
    let sb = run_sandbox(rt, &sbc).await;
    let id = create(rt, &sb, &sbc, &shell_container("app", "sleep 60")).await;
    start(rt, &id).await;
    (sb, id)
}

async fn status(rt: &dyn Runtime, id: &str) -> ContainerStatus {
    rt.container_status(id).await.expect("container_status")
}

async fn cleanup(rt: &dyn Runtime, sandbox: &str) {
    guard("stop_pod_sandbox", rt.stop_pod_sandbox(sandbox))
        .await
        .expect("stop_pod_sandbox");
    guard("remove_pod_sandbox", rt.remove_pod_sandbox(sandbox))
        .await
        .expect("remove_pod_sandbox");
}

/// Polls the container until it is `Exited`; returns its status.
pub async fn wait_exited(rt: &dyn Runtime, id: &str) -> ContainerStatus {
    guard("waiting for Exited", async {
        loop {
            let s = status(rt, id).await;
            if s.state == ContainerState::Exited {
                return s;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
}

/// Polls the container's log until it contains `needle`; returns the log.
pub async fn wait_log(rt: &dyn Runtime, id: &str, needle: &str) -> String {
    let path = status(rt, id).await.log_path;
    guard(
        &format!("waiting for {needle:?} in {}", path.display()),
        async {
            loop {
                if let Ok(log) = tokio::fs::read_to_string(&path).await {
                    if log.contains(needle) {
                        return log;
                    }
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        },
    )
    .await
}

/// One line of a CRI log file.
#[derive(Debug, PartialEq, Eq)]
pub struct LogLine {
    /// `stdout` or `stderr`.
    pub stream: String,
    /// `F` (full, or the end of a line) or `P` (a piece of a longer line).
    pub tag: String,
    /// The content, without the newline.
    pub content: String,
}

/// Parses a CRI log file, asserting every line is `<RFC 3339 timestamp> <stream> <F|P> <content>`
/// (with the kubelet's own parser, the one `kubectl logs` is served by).
pub fn parse_cri_log(log: &str) -> Vec<LogLine> {
    log.lines()
        .map(|line| {
            let entry = crate::server::logs::parse_line(line.as_bytes())
                .unwrap_or_else(|| panic!("not a CRI log line: {line:?}"));
            assert!(
                entry.time.parse::<jiff::Timestamp>().is_ok(),
                "bad timestamp {:?} in log line {line:?}",
                entry.time
            );
            LogLine {
                stream: entry.stream.into(),
                tag: if entry.partial { "P" } else { "F" }.into(),
                content: String::from_utf8_lossy(entry.content).into_owned(),
            }
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Basic cases.

/// `version` names the runtime.
pub async fn version_has_a_name(rt: &dyn Runtime, _scratch: &Path) {
    let v = rt.version().await.expect("version");
    assert!(!v.runtime_name.is_empty(), "runtime_name is empty");
    assert!(!v.runtime_version.is_empty(), "runtime_version is empty");
}

/// run → Ready with an IP → stop → NotReady (twice is fine) → remove → NotFound (twice is fine).
pub async fn sandbox_lifecycle(rt: &dyn Runtime, scratch: &Path) {
    let config = sandbox_config(scratch, "lifecycle");
    let id = run_sandbox(rt, &config).await;
    let s = rt
        .pod_sandbox_status(&id)
        .await
        .expect("pod_sandbox_status");
    assert_eq!(s.id, id);
    assert_eq!(s.state, SandboxState::Ready);
    assert_eq!(s.config.name, config.name);
    assert_eq!(s.config.uid, config.uid);
    assert!(s.ip.is_some(), "a sandbox off the host network has an IP");
    let listed = rt.list_pod_sandboxes().await.expect("list_pod_sandboxes");
    assert!(listed.iter().any(|l| l.id == id), "the sandbox is listed");

    guard("stop", rt.stop_pod_sandbox(&id)).await.expect("stop");
    assert_eq!(
        rt.pod_sandbox_status(&id).await.expect("status").state,
        SandboxState::NotReady
    );
    guard("stop again", rt.stop_pod_sandbox(&id))
        .await
        .expect("stop is idempotent");

    guard("remove", rt.remove_pod_sandbox(&id))
        .await
        .expect("remove");
    assert!(
        matches!(
            rt.pod_sandbox_status(&id).await,
            Err(Error::NotFound { .. })
        ),
        "a removed sandbox is NotFound"
    );
    let listed = rt.list_pod_sandboxes().await.expect("list_pod_sandboxes");
    assert!(
        !listed.iter().any(|l| l.id == id),
        "a removed sandbox is not listed"
    );
    guard("remove again", rt.remove_pod_sandbox(&id))
        .await
        .expect("remove is idempotent");
}

/// A `host_network` sandbox reports no IP of its own (the kubelet uses the node's).
pub async fn host_network_sandbox_has_no_ip_of_its_own(rt: &dyn Runtime, scratch: &Path) {
    let mut config = sandbox_config(scratch, "hostnet");
    config.host_network = true;
    let id = run_sandbox(rt, &config).await;
    let s = rt.pod_sandbox_status(&id).await.expect("status");
    assert_eq!(s.state, SandboxState::Ready);
    assert_eq!(s.ip, None, "a host-network sandbox has no IP of its own");
    cleanup(rt, &id).await;
}

/// Two live sandboxes never share an IP.
pub async fn sandboxes_get_distinct_ips(rt: &dyn Runtime, scratch: &Path) {
    let a = run_sandbox(rt, &sandbox_config(scratch, "ip-a")).await;
    let b = run_sandbox(rt, &sandbox_config(scratch, "ip-b")).await;
    assert_ne!(a, b, "sandbox ids are unique");
    let ia = rt.pod_sandbox_status(&a).await.expect("status").ip;
    let ib = rt.pod_sandbox_status(&b).await.expect("status").ip;
    assert!(ia.is_some() && ib.is_some());
    assert_ne!(ia, ib, "two sandboxes got the same IP");
    cleanup(rt, &a).await;
    cleanup(rt, &b).await;
}

/// create → Created → start → Running → stop → Exited (twice is fine) → remove → NotFound.
pub async fn container_lifecycle(rt: &dyn Runtime, scratch: &Path) {
    let sbc = sandbox_config(scratch, "ctr");
    let sb = run_sandbox(rt, &sbc).await;
    let mut config = shell_container("app", "sleep 60");
    config.attempt = 2;
    let id = create(rt, &sb, &sbc, &config).await;
    let s = status(rt, &id).await;
    assert_eq!(s.id, id);
    assert_eq!(s.sandbox_id, sb);
    assert_eq!(s.name, "app");
    assert_eq!(s.attempt, 2);
    assert_eq!(s.image, "busybox:latest");
    assert_eq!(s.state, ContainerState::Created);
    assert_eq!(s.started_at, None);
    assert_eq!(s.exit_code, None);
    assert_eq!(s.log_path, sbc.log_directory.join("app/0.log"));

    start(rt, &id).await;
    let s = status(rt, &id).await;
    assert_eq!(s.state, ContainerState::Running);
    assert!(s.started_at.is_some());
    assert!(
        rt.start_container(&id).await.is_err(),
        "starting a started container is an error"
    );

    guard("stop", rt.stop_container(&id, Duration::from_secs(10)))
        .await
        .expect("stop");
    let s = status(rt, &id).await;
    assert_eq!(s.state, ContainerState::Exited);
    assert!(s.finished_at.is_some());
    assert!(s.exit_code.is_some());
    guard("stop again", rt.stop_container(&id, Duration::from_secs(1)))
        .await
        .expect("stop is idempotent");

    guard("remove", rt.remove_container(&id))
        .await
        .expect("remove");
    assert!(matches!(
        rt.container_status(&id).await,
        Err(Error::NotFound { .. })
    ));
    guard("remove again", rt.remove_container(&id))
        .await
        .expect("remove is idempotent");
    cleanup(rt, &sb).await;
}

/// `list_containers(Some(sandbox))` lists that sandbox's only; `None` lists all.
pub async fn list_containers_filters_by_sandbox(rt: &dyn Runtime, scratch: &Path) {
    let (ca, cb) = (
        sandbox_config(scratch, "list-a"),
        sandbox_config(scratch, "list-b"),
    );
    let (a, b) = (run_sandbox(rt, &ca).await, run_sandbox(rt, &cb).await);
    let x = create(rt, &a, &ca, &shell_container("x", "sleep 60")).await;
    let y = create(rt, &b, &cb, &shell_container("y", "sleep 60")).await;
    let ids = |l: Vec<ContainerStatus>| l.into_iter().map(|c| c.id).collect::<Vec<_>>();
    assert_eq!(
        ids(rt.list_containers(Some(&a)).await.expect("list")),
        std::slice::from_ref(&x)
    );
    assert_eq!(
        ids(rt.list_containers(Some(&b)).await.expect("list")),
        std::slice::from_ref(&y)
    );
    let all = ids(rt.list_containers(None).await.expect("list"));
    assert!(all.contains(&x) && all.contains(&y));
    cleanup(rt, &a).await;
    cleanup(rt, &b).await;
}

/// Stopping a sandbox stops its running containers.
pub async fn stop_sandbox_stops_its_containers(rt: &dyn Runtime, scratch: &Path) {
    let (sb, id) = running_sleeper(rt, scratch, "stop-sb").await;
    guard("stop sandbox", rt.stop_pod_sandbox(&sb))
        .await
        .expect("stop sandbox");
    assert_eq!(status(rt, &id).await.state, ContainerState::Exited);
    cleanup(rt, &sb).await;
}

/// Removing a sandbox removes its containers (running ones too).
pub async fn remove_sandbox_removes_its_containers(rt: &dyn Runtime, scratch: &Path) {
    let (sb, id) = running_sleeper(rt, scratch, "rm-sb").await;
    guard("remove sandbox", rt.remove_pod_sandbox(&sb))
        .await
        .expect("remove sandbox");
    assert!(matches!(
        rt.container_status(&id).await,
        Err(Error::NotFound { .. })
    ));
    assert!(rt
        .list_containers(Some(&sb))
        .await
        .expect("list")
        .is_empty());
}

/// No container in a sandbox that does not exist (NotFound) or is stopped (an error).
pub async fn no_container_in_a_missing_or_stopped_sandbox(rt: &dyn Runtime, scratch: &Path) {
    let sbc = sandbox_config(scratch, "no-ctr");
    let config = shell_container("app", "true");
    assert!(matches!(
        rt.create_container("no-such-sandbox", &config, &sbc).await,
        Err(Error::NotFound { .. })
    ));
    let sb = run_sandbox(rt, &sbc).await;
    guard("stop", rt.stop_pod_sandbox(&sb)).await.expect("stop");
    assert!(
        rt.create_container(&sb, &config, &sbc).await.is_err(),
        "a container in a stopped sandbox is an error"
    );
    cleanup(rt, &sb).await;
}

/// Unknown ids: status and stop are NotFound, remove is fine.
pub async fn unknown_ids_are_not_found(rt: &dyn Runtime, _scratch: &Path) {
    assert!(matches!(
        rt.container_status("no-such-container").await,
        Err(Error::NotFound { .. })
    ));
    assert!(matches!(
        rt.stop_container("no-such-container", Duration::ZERO).await,
        Err(Error::NotFound { .. })
    ));
    assert!(matches!(
        rt.pod_sandbox_status("no-such-sandbox").await,
        Err(Error::NotFound { .. })
    ));
    rt.remove_container("no-such-container")
        .await
        .expect("removing a missing container is fine");
    rt.remove_pod_sandbox("no-such-sandbox")
        .await
        .expect("removing a missing sandbox is fine");
    assert!(
        rt.exec_sync(
            "no-such-container",
            &["true".into()],
            Duration::from_secs(5)
        )
        .await
        .is_err(),
        "exec in a missing container is an error"
    );
}

/// pull → image_status and list_images have it → remove → gone (twice is fine).
pub async fn images_pull_list_remove(rt: &dyn Runtime, _scratch: &Path) {
    let image = format!(
        "conformance.local/pulled:{}",
        SEQ.fetch_add(1, Ordering::Relaxed)
    );
    let reference = guard("pull", rt.pull_image(&image)).await.expect("pull");
    assert!(!reference.is_empty());
    let got = rt
        .image_status(&image)
        .await
        .expect("image_status")
        .expect("a pulled image is present");
    assert!(!got.id.is_empty());
    assert!(
        rt.list_images()
            .await
            .expect("list_images")
            .iter()
            .any(|i| i.id == got.id),
        "a pulled image is listed"
    );
    rt.remove_image(&image).await.expect("remove_image");
    assert_eq!(rt.image_status(&image).await.expect("image_status"), None);
    rt.remove_image(&image)
        .await
        .expect("remove_image is idempotent");
}

// ---------------------------------------------------------------------------------------------
// Process cases.

/// `exit 3` → Exited, exit code 3, reason `Error`; `true` → exit code 0, reason `Completed`.
pub async fn exit_codes_and_reasons(rt: &dyn Runtime, scratch: &Path) {
    let sbc = sandbox_config(scratch, "exit");
    let sb = run_sandbox(rt, &sbc).await;
    let fail = create(rt, &sb, &sbc, &shell_container("fail", "exit 3")).await;
    let ok = create(rt, &sb, &sbc, &shell_container("ok", "true")).await;
    guard("start", rt.start_container(&fail))
        .await
        .expect("start");
    guard("start", rt.start_container(&ok))
        .await
        .expect("start");
    let f = wait_exited(rt, &fail).await;
    assert_eq!(f.exit_code, Some(3));
    assert_eq!(f.reason, "Error");
    assert!(f.finished_at.is_some() && f.started_at.is_some());
    let o = wait_exited(rt, &ok).await;
    assert_eq!(o.exit_code, Some(0));
    assert_eq!(o.reason, "Completed");
    cleanup(rt, &sb).await;
}

/// A stopped process gets SIGTERM first: `sleep` dies of it, exit code 143 (128 + 15).
pub async fn stop_sends_sigterm_first(rt: &dyn Runtime, scratch: &Path) {
    let sbc = sandbox_config(scratch, "term");
    let sb = run_sandbox(rt, &sbc).await;
    let id = create(rt, &sb, &sbc, &shell_container("app", "exec sleep 60")).await;
    start(rt, &id).await;
    guard("stop", rt.stop_container(&id, Duration::from_secs(30)))
        .await
        .expect("stop");
    let s = status(rt, &id).await;
    assert_eq!(s.state, ContainerState::Exited);
    assert_eq!(s.exit_code, Some(128 + 15), "killed by SIGTERM");
    assert_eq!(s.reason, "Error");
    cleanup(rt, &sb).await;
}

/// A process ignoring SIGTERM is SIGKILLed after the timeout: exit code 137 (128 + 9).
pub async fn stop_kills_a_process_ignoring_sigterm(rt: &dyn Runtime, scratch: &Path) {
    let sbc = sandbox_config(scratch, "kill");
    let sb = run_sandbox(rt, &sbc).await;
    let script = "trap '' TERM; echo trapped; sleep 60";
    let id = create(rt, &sb, &sbc, &shell_container("stubborn", script)).await;
    start(rt, &id).await;
    // Stop only once the trap is in place.
    wait_log(rt, &id, "trapped").await;
    guard(
        "stop of a process ignoring SIGTERM",
        rt.stop_container(&id, Duration::from_millis(500)),
    )
    .await
    .expect("stop");
    let s = status(rt, &id).await;
    assert_eq!(s.state, ContainerState::Exited);
    assert_eq!(s.exit_code, Some(128 + 9), "killed by SIGKILL");
    cleanup(rt, &sb).await;
}

/// stdout and stderr land in `log_path` as CRI log lines, in order per stream.
pub async fn logs_are_written_in_cri_format(rt: &dyn Runtime, scratch: &Path) {
    let sbc = sandbox_config(scratch, "logs");
    let sb = run_sandbox(rt, &sbc).await;
    let script = "echo out one; echo err one >&2; echo out two; printf 'no newline'";
    let id = create(rt, &sb, &sbc, &shell_container("talk", script)).await;
    start(rt, &id).await;
    let s = wait_exited(rt, &id).await;
    assert_eq!(s.exit_code, Some(0));
    let log = wait_log(rt, &id, "no newline").await;
    let lines = parse_cri_log(&log);
    let of = |stream: &str| {
        lines
            .iter()
            .filter(|l| l.stream == stream)
            .map(|l| (l.tag.as_str(), l.content.as_str()))
            .collect::<Vec<_>>()
    };
    assert_eq!(
        of("stdout"),
        [("F", "out one"), ("F", "out two"), ("F", "no newline")],
        "log:\n{log}"
    );
    assert_eq!(of("stderr"), [("F", "err one")], "log:\n{log}");
    cleanup(rt, &sb).await;
}

/// `exec_sync` returns stdout, stderr and the exit code; the container keeps running.
pub async fn exec_sync_returns_output_and_exit_code(rt: &dyn Runtime, scratch: &Path) {
    let (sb, id) = running_sleeper(rt, scratch, "exec").await;
    let cmd: Vec<String> = ["sh", "-c", "echo hello; echo oops >&2; exit 4"]
        .map(String::from)
        .into();
    let r = guard(
        "exec_sync",
        rt.exec_sync(&id, &cmd, Duration::from_secs(30)),
    )
    .await
    .expect("exec_sync");
    assert_eq!(String::from_utf8_lossy(&r.stdout), "hello\n");
    assert_eq!(String::from_utf8_lossy(&r.stderr), "oops\n");
    assert_eq!(r.exit_code, 4);
    let ok = guard(
        "exec_sync",
        rt.exec_sync(&id, &["true".into()], Duration::from_secs(30)),
    )
    .await
    .expect("exec_sync");
    assert_eq!(ok.exit_code, 0);
    assert_eq!(status(rt, &id).await.state, ContainerState::Running);
    cleanup(rt, &sb).await;
}

/// An exec that outlives its timeout is an error (the kubelet counts a probe failure).
pub async fn exec_sync_times_out(rt: &dyn Runtime, scratch: &Path) {
    let (sb, id) = running_sleeper(rt, scratch, "exec-timeout").await;
    let cmd: Vec<String> = ["sleep", "60"].map(String::from).into();
    let r = guard(
        "exec_sync with a timeout",
        rt.exec_sync(&id, &cmd, Duration::from_millis(300)),
    )
    .await;
    assert!(
        r.is_err(),
        "an exec past its timeout is an error, got {r:?}"
    );
    cleanup(rt, &sb).await;
}

/// The container's env reaches its process and its execs.
pub async fn env_reaches_the_process_and_exec(rt: &dyn Runtime, scratch: &Path) {
    let sbc = sandbox_config(scratch, "env");
    let sb = run_sandbox(rt, &sbc).await;
    let mut config = shell_container("app", "echo \"greeting=$GREETING\"; sleep 60");
    config.envs = vec![("GREETING".into(), "hello world".into())];
    let id = create(rt, &sb, &sbc, &config).await;
    start(rt, &id).await;
    wait_log(rt, &id, "greeting=hello world").await;
    let cmd: Vec<String> = ["sh", "-c", "printf %s \"$GREETING\""]
        .map(String::from)
        .into();
    let r = guard(
        "exec_sync",
        rt.exec_sync(&id, &cmd, Duration::from_secs(30)),
    )
    .await
    .expect("exec_sync");
    assert_eq!(String::from_utf8_lossy(&r.stdout), "hello world");
    cleanup(rt, &sb).await;
}

/// A command that does not exist is reported, never fatal. Allowed: `create_container` fails
/// with [`Error::CreateContainer`], or `start_container` fails with [`Error::RunContainer`]
/// (a non-empty message), or the container starts and ends `Exited` with a non-zero exit code
/// and a reason. The runtime runs other containers afterwards.
pub async fn missing_command_is_reported_not_fatal(rt: &dyn Runtime, scratch: &Path) {
    let sbc = sandbox_config(scratch, "missing");
    let sb = run_sandbox(rt, &sbc).await;
    let config = ContainerConfig {
        command: vec!["/nonexistent/command-that-does-not-exist".into()],
        ..shell_container("missing", "")
    };
    match rt.create_container(&sb, &config, &sbc).await {
        Err(Error::CreateContainer(message)) => assert!(!message.is_empty()),
        Err(other) => panic!("create of a missing command: want CreateContainer, got {other}"),
        Ok(id) => match guard("start", rt.start_container(&id)).await {
            Err(Error::RunContainer(message)) => assert!(!message.is_empty()),
            Err(other) => panic!("start of a missing command: want RunContainer, got {other}"),
            Ok(()) => {
                let s = wait_exited(rt, &id).await;
                assert_ne!(s.exit_code, Some(0));
                assert!(!s.reason.is_empty());
            }
        },
    }
    let next = create(rt, &sb, &sbc, &shell_container("after", "true")).await;
    guard("start", rt.start_container(&next))
        .await
        .expect("start");
    assert_eq!(wait_exited(rt, &next).await.exit_code, Some(0));
    cleanup(rt, &sb).await;
}
