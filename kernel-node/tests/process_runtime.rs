//! `ProcessRuntime` against the public conformance suite, plus what only it does.

use std::path::Path;
use std::time::Duration;

use kernel_node::runtime::testsuite;
use kernel_node::runtime::{ContainerState, Runtime};
use kernel_node::{Error, HostNetwork, ProcessRuntime};

fn runtime(dir: &Path) -> ProcessRuntime {
    ProcessRuntime::new(dir.join("root"), HostNetwork::new())
}

#[tokio::test]
async fn conformance_basic() {
    let dir = tempfile::tempdir().unwrap();
    testsuite::conformance_basic(&runtime(dir.path()), &dir.path().join("scratch")).await;
}

#[tokio::test]
async fn conformance_processes() {
    let dir = tempfile::tempdir().unwrap();
    testsuite::conformance_processes(&runtime(dir.path()), &dir.path().join("scratch")).await;
}

/// Runs the whole suite twice, concurrently, on one runtime: cases only look at their own.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conformance_concurrently_on_one_runtime() {
    let dir = tempfile::tempdir().unwrap();
    let rt = runtime(dir.path());
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    tokio::join!(testsuite::run_all(&rt, &a), testsuite::run_all(&rt, &b));
    assert!(rt.list_pod_sandboxes().await.unwrap().is_empty());
    assert_eq!(
        rt.host_network().unwrap().allocated(),
        0,
        "every IP released"
    );
}

#[tokio::test]
async fn missing_command_is_run_container_error_and_cannot_run() {
    let dir = tempfile::tempdir().unwrap();
    let rt = runtime(dir.path());
    let sbc = testsuite::sandbox_config(dir.path(), "missing");
    let sb = rt.run_pod_sandbox(&sbc).await.unwrap();
    let mut config = testsuite::shell_container("app", "");
    config.command = vec!["no-such-command-anywhere".into()];
    let id = rt.create_container(&sb, &config, &sbc).await.unwrap();
    let err = rt.start_container(&id).await.unwrap_err();
    let Error::RunContainer(message) = &err else {
        panic!("want RunContainer, got {err:?}")
    };
    assert!(message.contains("no-such-command-anywhere"), "{message}");
    assert!(message.contains("No such file"), "{message}");
    let s = rt.container_status(&id).await.unwrap();
    assert_eq!(s.state, ContainerState::Exited);
    assert_eq!(s.exit_code, Some(128));
    assert_eq!(s.reason, "ContainerCannotRun");
    assert_eq!(&s.message, message);
    rt.remove_pod_sandbox(&sb).await.unwrap();
}

#[tokio::test]
async fn no_command_is_create_container_error() {
    let dir = tempfile::tempdir().unwrap();
    let rt = runtime(dir.path());
    let sbc = testsuite::sandbox_config(dir.path(), "nocmd");
    let sb = rt.run_pod_sandbox(&sbc).await.unwrap();
    let mut config = testsuite::shell_container("app", "");
    config.command.clear();
    let err = rt.create_container(&sb, &config, &sbc).await.unwrap_err();
    assert!(
        matches!(&err, Error::CreateContainer(m) if m.contains("needs a command")),
        "{err:?}"
    );
    // Args alone are the command (an image without an entrypoint).
    config.args = vec!["true".into()];
    let id = rt.create_container(&sb, &config, &sbc).await.unwrap();
    rt.start_container(&id).await.unwrap();
    assert_eq!(testsuite::wait_exited(&rt, &id).await.exit_code, Some(0));
    // The same name and attempt twice is refused, as CRI runtimes reserve names.
    assert!(matches!(
        rt.create_container(&sb, &config, &sbc).await,
        Err(Error::CreateContainer(_))
    ));
    rt.remove_pod_sandbox(&sb).await.unwrap();
}

#[tokio::test]
async fn env_is_exactly_the_configs_and_working_dir_is_honoured() {
    // cargo runs tests with CARGO_MANIFEST_DIR & co. set: none of them may reach the container.
    assert!(std::env::var_os("CARGO_MANIFEST_DIR").is_some());
    let dir = tempfile::tempdir().unwrap();
    let rt = runtime(dir.path());
    let sbc = testsuite::sandbox_config(dir.path(), "env");
    let sb = rt.run_pod_sandbox(&sbc).await.unwrap();
    let work = dir.path().join("work");
    std::fs::create_dir(&work).unwrap();
    let mut config = testsuite::shell_container("app", "env; echo cwd=$(pwd); sleep 60");
    config.envs = vec![("ONLY".into(), "me".into())];
    config.working_dir = Some(work.to_string_lossy().into_owned());
    let id = rt.create_container(&sb, &config, &sbc).await.unwrap();
    rt.start_container(&id).await.unwrap();
    let log = testsuite::wait_log(&rt, &id, "cwd=").await;
    assert!(log.contains("stdout F ONLY=me"), "{log}");
    assert!(
        log.contains(&format!("stdout F HOSTNAME={}", sbc.hostname)),
        "{log}"
    );
    assert!(log.contains("stdout F PATH="), "{log}");
    assert!(
        !log.contains("KERNEL_NODE_TEST_LEAK"),
        "the kubelet's env leaked: {log}"
    );
    assert!(log.contains(&format!("cwd={}", work.display())), "{log}");
    // exec runs in the same directory.
    let r = rt
        .exec_sync(&id, &["pwd".into()], Duration::from_secs(30))
        .await
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&r.stdout).trim(),
        work.display().to_string()
    );
    rt.remove_pod_sandbox(&sb).await.unwrap();

    // Without a working dir (or one missing on the host): the container's own directory.
    let sb = rt.run_pod_sandbox(&sbc).await.unwrap();
    let mut config = testsuite::shell_container("app", "pwd");
    config.working_dir = Some("/no/such/dir".into());
    let id = rt.create_container(&sb, &config, &sbc).await.unwrap();
    rt.start_container(&id).await.unwrap();
    testsuite::wait_exited(&rt, &id).await;
    let log = testsuite::wait_log(&rt, &id, "stdout F").await;
    let own = rt.root().join(&sb).join(&id);
    assert!(
        log.contains(&format!("stdout F {}", own.display())),
        "{log}"
    );
    rt.remove_pod_sandbox(&sb).await.unwrap();
    assert!(
        !rt.root().join(&sb).exists(),
        "the sandbox directory is removed"
    );
}

#[tokio::test]
async fn pod_ips_come_from_the_pod_cidr_and_are_released() {
    let dir = tempfile::tempdir().unwrap();
    let rt = runtime(dir.path());
    let mut sbc = testsuite::sandbox_config(dir.path(), "cidr");
    sbc.pod_cidr = Some("10.244.7.0/24".into());
    let sb = rt.run_pod_sandbox(&sbc).await.unwrap();
    let ip = rt.pod_sandbox_status(&sb).await.unwrap().ip.unwrap();
    assert_eq!(ip.to_string(), "127.244.7.2");
    // A process of the pod binds its IP (what `httpd -p $(POD_IP):8080` does).
    let mut config =
        testsuite::shell_container("app", "python3 -c \"import socket,os; s=socket.socket(); s.bind((os.environ['POD_IP'], 0)); print('bound', s.getsockname()[0])\" || echo nopython");
    config.envs = vec![("POD_IP".into(), ip.to_string())];
    let id = rt.create_container(&sb, &config, &sbc).await.unwrap();
    rt.start_container(&id).await.unwrap();
    testsuite::wait_exited(&rt, &id).await;
    let log = std::fs::read_to_string(rt.container_status(&id).await.unwrap().log_path).unwrap();
    assert!(
        log.contains(&format!("bound {ip}")) || log.contains("nopython"),
        "{log}"
    );
    rt.stop_pod_sandbox(&sb).await.unwrap();
    assert_eq!(
        rt.host_network().unwrap().ip_of(&sb),
        None,
        "released on stop"
    );
    rt.remove_pod_sandbox(&sb).await.unwrap();
}

#[tokio::test]
async fn long_lines_are_split_into_partial_pieces() {
    let dir = tempfile::tempdir().unwrap();
    let rt = runtime(dir.path());
    let sbc = testsuite::sandbox_config(dir.path(), "long");
    let sb = rt.run_pod_sandbox(&sbc).await.unwrap();
    // 40,000 x's then a newline: two 16 KiB pieces tagged P, the rest F.
    let config = testsuite::shell_container("app", "head -c 40000 /dev/zero | tr '\\0' x; echo");
    let id = rt.create_container(&sb, &config, &sbc).await.unwrap();
    rt.start_container(&id).await.unwrap();
    testsuite::wait_exited(&rt, &id).await;
    let log = std::fs::read_to_string(rt.container_status(&id).await.unwrap().log_path).unwrap();
    let lines = testsuite::parse_cri_log(&log);
    let tags: Vec<_> = lines.iter().map(|l| l.tag.as_str()).collect();
    assert_eq!(tags, ["P", "P", "F"]);
    let joined: String = lines.iter().map(|l| l.content.as_str()).collect();
    assert_eq!(joined, "x".repeat(40000));
    rt.remove_pod_sandbox(&sb).await.unwrap();
}

#[tokio::test]
async fn stop_kills_the_whole_process_group() {
    let dir = tempfile::tempdir().unwrap();
    let rt = runtime(dir.path());
    let sbc = testsuite::sandbox_config(dir.path(), "group");
    let sb = rt.run_pod_sandbox(&sbc).await.unwrap();
    // A background child that would outlive its shell.
    let config = testsuite::shell_container("app", "sleep 300 & echo child=$!; wait");
    let id = rt.create_container(&sb, &config, &sbc).await.unwrap();
    rt.start_container(&id).await.unwrap();
    let log = testsuite::wait_log(&rt, &id, "child=").await;
    let pid: i32 = log.split("child=").nth(1).unwrap().trim().parse().unwrap();
    rt.stop_container(&id, Duration::from_secs(10))
        .await
        .unwrap();
    // The child is gone (or a zombie on its way out): poll with a hang guard.
    tokio::time::timeout(Duration::from_secs(30), async {
        loop {
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
            let state = stat.rsplit(')').next().unwrap_or("").trim().chars().next();
            if stat.is_empty() || state == Some('Z') {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("the background child survived stop");
    rt.remove_pod_sandbox(&sb).await.unwrap();
}

#[tokio::test]
async fn pulls_always_succeed_and_are_recorded() {
    let dir = tempfile::tempdir().unwrap();
    let rt = runtime(dir.path());
    assert_eq!(rt.version().await.unwrap().runtime_name, "process");
    assert_eq!(rt.image_status("busybox").await.unwrap(), None);
    assert_eq!(rt.pull_image("busybox").await.unwrap(), "busybox");
    assert_eq!(
        rt.image_status("busybox").await.unwrap().unwrap().id,
        "busybox"
    );
    assert!(matches!(
        rt.pull_image("").await,
        Err(Error::ImagePull { .. })
    ));
}

/// A stop that comes while the container is starting still stops it.
#[tokio::test]
async fn stop_during_start_stops_the_container() {
    let dir = tempfile::tempdir().unwrap();
    let rt = runtime(dir.path());
    let sbc = testsuite::sandbox_config(dir.path(), "race");
    let sb = rt.run_pod_sandbox(&sbc).await.unwrap();
    let config = testsuite::shell_container("app", "sleep 300");
    let id = rt.create_container(&sb, &config, &sbc).await.unwrap();
    let (started, stopped) = tokio::time::timeout(Duration::from_secs(60), async {
        tokio::join!(
            rt.start_container(&id),
            rt.stop_container(&id, Duration::from_secs(10))
        )
    })
    .await
    .expect("start and stop together hung");
    started.unwrap();
    stopped.unwrap();
    let s = rt.container_status(&id).await.unwrap();
    assert_eq!(s.state, ContainerState::Exited, "{s:?}");
    assert_ne!(s.exit_code, Some(0));
    rt.remove_pod_sandbox(&sb).await.unwrap();
}

#[tokio::test]
async fn shutdown_stops_every_container_and_releases_every_ip() {
    let dir = tempfile::tempdir().unwrap();
    let rt = runtime(dir.path());
    let mut ids = Vec::new();
    for name in ["a", "b"] {
        let sbc = testsuite::sandbox_config(dir.path(), name);
        let sb = rt.run_pod_sandbox(&sbc).await.unwrap();
        let id = rt
            .create_container(&sb, &testsuite::shell_container("app", "sleep 300"), &sbc)
            .await
            .unwrap();
        rt.start_container(&id).await.unwrap();
        ids.push(id);
    }
    assert_eq!(rt.host_network().unwrap().allocated(), 2);
    tokio::time::timeout(
        Duration::from_secs(60),
        rt.shutdown(Duration::from_secs(10)),
    )
    .await
    .expect("shutdown hung")
    .unwrap();
    for id in ids {
        assert_eq!(
            rt.container_status(&id).await.unwrap().state,
            ContainerState::Exited
        );
    }
    assert_eq!(rt.host_network().unwrap().allocated(), 0);
    for sb in rt.list_pod_sandboxes().await.unwrap() {
        assert_eq!(sb.state, kernel_node::runtime::SandboxState::NotReady);
    }
}
