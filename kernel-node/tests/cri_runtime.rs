//! `CriRuntime` against a real containerd: a throwaway one per test from kernel-testing (its
//! own root, socket, CNI bridge on the test's subnet, busybox images imported), never the
//! system service. Needs root, containerd, runc, the CNI plugins and busybox-static; skipped
//! with a notice otherwise, unless `KERNEL_REQUIRE_ALL=1`.

use std::time::Duration;

use kernel_node::network::ipam::Subnet;
use kernel_node::runtime::cri::CriRuntime;
use kernel_node::runtime::testsuite::{
    self, parse_cri_log, sandbox_config, shell_container, wait_exited, wait_log,
};
use kernel_node::runtime::ContainerState;
use kernel_node::{Error, Runtime};
use kernel_testing::{containerd, eventually, within, ContainerdProcess, BUSYBOX_IMAGE};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A containerd of the test's own and a `CriRuntime` connected to it.
async fn runtime(subnet: &str) -> Option<(ContainerdProcess, CriRuntime)> {
    let containerd = containerd(subnet).await?;
    let rt = CriRuntime::connect(containerd.socket())
        .await
        .expect("connect to the test's containerd");
    Some((containerd, rt))
}

async fn cleanup(rt: &CriRuntime, sandbox: &str) {
    rt.stop_pod_sandbox(sandbox).await.expect("stop sandbox");
    rt.remove_pod_sandbox(sandbox)
        .await
        .expect("remove sandbox");
}

/// The conformance suite, less three cases that do not hold for containerd by design:
/// `images_pull_list_remove` pulls from a registry (none is reachable in tests; images are
/// covered by `images_are_listed_and_removed` below); `stop_sends_sigterm_first` runs
/// `sleep` as the container's PID 1, which ignores SIGTERM in its own PID namespace (covered
/// by `stop_sends_sigterm_to_the_container_first`); `logs_are_written_in_cri_format` wants
/// an unterminated last line tagged `F`, containerd 1.6 tags it `P` (covered by
/// `logs_are_cri_lines_in_order`).
#[tokio::test]
async fn cri_runtime_passes_the_conformance_suite() {
    let Some((_containerd, rt)) = runtime("10.66.1.0/24").await else {
        return;
    };
    let scratch = tempfile::tempdir().unwrap();
    let s = scratch.path();
    testsuite::version_has_a_name(&rt, s).await;
    testsuite::sandbox_lifecycle(&rt, s).await;
    testsuite::host_network_sandbox_has_no_ip_of_its_own(&rt, s).await;
    testsuite::sandboxes_get_distinct_ips(&rt, s).await;
    testsuite::container_lifecycle(&rt, s).await;
    testsuite::list_containers_filters_by_sandbox(&rt, s).await;
    testsuite::stop_sandbox_stops_its_containers(&rt, s).await;
    testsuite::remove_sandbox_removes_its_containers(&rt, s).await;
    testsuite::no_container_in_a_missing_or_stopped_sandbox(&rt, s).await;
    testsuite::unknown_ids_are_not_found(&rt, s).await;

    testsuite::exit_codes_and_reasons(&rt, s).await;
    testsuite::stop_kills_a_process_ignoring_sigterm(&rt, s).await;
    logs_are_cri_lines_in_order(&rt, s).await;
    testsuite::exec_sync_returns_output_and_exit_code(&rt, s).await;
    testsuite::exec_sync_times_out(&rt, s).await;
    testsuite::env_reaches_the_process_and_exec(&rt, s).await;
    testsuite::missing_command_is_reported_not_fatal(&rt, s).await;
}

/// stdout and stderr land in the log as CRI lines, in order per stream; containerd tags an
/// unterminated last line `P` (partial), which kubelet's log reader accepts.
async fn logs_are_cri_lines_in_order(rt: &CriRuntime, scratch: &std::path::Path) {
    let sbc = sandbox_config(scratch, "logs");
    let sb = rt.run_pod_sandbox(&sbc).await.expect("run sandbox");
    let script = "echo out one; echo err one >&2; echo out two; printf 'no newline'";
    let id = rt
        .create_container(&sb, &shell_container("talk", script), &sbc)
        .await
        .expect("create");
    rt.start_container(&id).await.expect("start");
    assert_eq!(wait_exited(rt, &id).await.exit_code, Some(0));
    let log = wait_log(rt, &id, "no newline").await;
    let lines = parse_cri_log(&log);
    let of = |stream: &str| {
        lines
            .iter()
            .filter(|l| l.stream == stream)
            .map(|l| (l.tag.as_str(), l.content.as_str()))
            .collect::<Vec<_>>()
    };
    let out = of("stdout");
    assert_eq!(
        out[..2],
        [("F", "out one"), ("F", "out two")],
        "log:\n{log}"
    );
    assert_eq!(out.len(), 3, "log:\n{log}");
    assert_eq!(out[2].1, "no newline", "log:\n{log}");
    assert_eq!(of("stderr"), [("F", "err one")], "log:\n{log}");
    cleanup(rt, &sb).await;
}

/// A pod gets an IP in the CNI subnet; busybox `httpd` in it answers HTTP on that IP from the
/// node and through `port_forward`; `exec_sync` runs `echo` in it; its output lands in the CRI
/// log file.
#[tokio::test]
async fn a_pod_serves_http_on_its_ip_and_runs_execs() {
    let subnet = "10.66.2.0/24";
    let Some((_containerd, rt)) = runtime(subnet).await else {
        return;
    };
    let scratch = tempfile::tempdir().unwrap();
    let sbc = sandbox_config(scratch.path(), "web");
    let sb = within("run sandbox", rt.run_pod_sandbox(&sbc))
        .await
        .expect("run sandbox");
    let ip = rt
        .pod_sandbox_status(&sb)
        .await
        .expect("status")
        .ip
        .expect("a pod IP");
    assert!(
        Subnet::parse(subnet).unwrap().contains(ip),
        "{ip} is not in {subnet}"
    );

    let script = "echo hello-from-pod > /var/www/index.html; echo serving; \
                  exec httpd -f -p 8080 -h /var/www";
    let id = rt
        .create_container(&sb, &shell_container("web", script), &sbc)
        .await
        .expect("create");
    rt.start_container(&id).await.expect("start");
    wait_log(&rt, &id, "serving").await;

    let body = eventually("httpd answers on the pod IP", || async move {
        let mut conn = tokio::net::TcpStream::connect((ip, 8080)).await.ok()?;
        conn.write_all(b"GET /index.html HTTP/1.0\r\nHost: pod\r\n\r\n")
            .await
            .ok()?;
        let mut response = String::new();
        conn.read_to_string(&mut response).await.ok()?;
        response.contains("200").then_some(response)
    })
    .await;
    assert!(body.contains("hello-from-pod"), "{body}");

    let mut conn = within("port_forward", rt.port_forward(&sb, 8080))
        .await
        .expect("port_forward");
    conn.write_all(b"GET /index.html HTTP/1.0\r\nHost: pod\r\n\r\n")
        .await
        .unwrap();
    let mut forwarded = String::new();
    within(
        "the forwarded response",
        conn.read_to_string(&mut forwarded),
    )
    .await
    .unwrap();
    assert!(
        forwarded.contains("200") && forwarded.contains("hello-from-pod"),
        "{forwarded}"
    );

    let r = rt
        .exec_sync(
            &id,
            &["echo".into(), "from".into(), "exec".into()],
            Duration::from_secs(10),
        )
        .await
        .expect("exec_sync");
    assert_eq!((r.exit_code, r.stdout.as_slice()), (0, &b"from exec\n"[..]));

    let status = rt.container_status(&id).await.expect("status");
    assert_eq!(status.state, ContainerState::Running);
    assert!(
        status.image_ref.starts_with("sha256:"),
        "image ref {}",
        status.image_ref
    );
    assert_eq!(status.log_path, sbc.log_directory.join("web/0.log"));
    let log = tokio::fs::read_to_string(&status.log_path).await.unwrap();
    let lines = parse_cri_log(&log);
    assert!(
        lines
            .iter()
            .any(|l| l.stream == "stdout" && l.tag == "F" && l.content == "serving"),
        "log:\n{log}"
    );
    cleanup(&rt, &sb).await;
}

/// A container whose PID 1 handles SIGTERM gets it before any SIGKILL: it exits with the code
/// its handler chose.
#[tokio::test]
async fn stop_sends_sigterm_to_the_container_first() {
    let Some((_containerd, rt)) = runtime("10.66.3.0/24").await else {
        return;
    };
    let scratch = tempfile::tempdir().unwrap();
    let sbc = sandbox_config(scratch.path(), "term");
    let sb = rt.run_pod_sandbox(&sbc).await.expect("run sandbox");
    let script = "trap 'echo got-term; exit 7' TERM; echo ready; while :; do sleep 1; done";
    let id = rt
        .create_container(&sb, &shell_container("app", script), &sbc)
        .await
        .expect("create");
    rt.start_container(&id).await.expect("start");
    wait_log(&rt, &id, "ready").await;
    within("stop", rt.stop_container(&id, Duration::from_secs(30)))
        .await
        .expect("stop");
    let s = wait_exited(&rt, &id).await;
    assert_eq!(s.exit_code, Some(7), "the TERM handler ran: {s:?}");
    wait_log(&rt, &id, "got-term").await;
    cleanup(&rt, &sb).await;
}

/// Imported images are in `image_status` and `list_images`; a second tag is removed (twice
/// is fine); pulling from an unreachable registry is an `ImagePull` error.
#[tokio::test]
async fn images_are_listed_and_removed() {
    let Some((containerd, rt)) = runtime("10.66.4.0/24").await else {
        return;
    };
    let busybox = rt
        .image_status("busybox:latest")
        .await
        .expect("image_status")
        .expect("busybox was imported");
    assert!(busybox.id.starts_with("sha256:"), "{busybox:?}");
    assert!(busybox.repo_tags.iter().any(|t| t == BUSYBOX_IMAGE));
    assert!(rt
        .list_images()
        .await
        .expect("list")
        .iter()
        .any(|i| i.id == busybox.id));

    let extra = "conformance.local/extra:1";
    let archive = containerd.dir().join("extra.tar");
    containerd
        .build_busybox_archive(&archive, &[(extra, &["true"])])
        .unwrap();
    containerd.import_image(&archive).await.unwrap();
    let got = eventually("the CRI plugin sees the import", || async {
        rt.image_status(extra).await.ok().flatten()
    })
    .await;
    assert!(!got.id.is_empty());
    rt.remove_image(extra).await.expect("remove");
    assert_eq!(rt.image_status(extra).await.expect("status"), None);
    rt.remove_image(extra).await.expect("remove is idempotent");

    match rt.pull_image("unreachable.invalid/nothing:1").await {
        Err(Error::ImagePull { image, message }) => {
            assert_eq!(image, "unreachable.invalid/nothing:1");
            assert!(!message.is_empty());
        }
        other => panic!("want ImagePull, got {other:?}"),
    }
}

/// `exec` through containerd's streaming server: stdout, stderr and the exit code come back
/// apart; stdin reaches the process; `attach` streams the container's own output.
#[tokio::test]
async fn exec_and_attach_stream_through_the_cri_streaming_server() {
    let Some((_containerd, rt)) = runtime("10.66.5.0/24").await else {
        return;
    };
    let scratch = tempfile::tempdir().unwrap();
    let sbc = sandbox_config(scratch.path(), "stream");
    let sb = rt.run_pod_sandbox(&sbc).await.expect("run sandbox");
    let script = "while :; do echo tick; sleep 0.2; done";
    let id = rt
        .create_container(&sb, &shell_container("app", script), &sbc)
        .await
        .expect("create");
    rt.start_container(&id).await.expect("start");

    let request = kernel_node::runtime::ExecRequest {
        command: ["sh", "-c", "echo out; echo err >&2; exit 5"]
            .map(String::from)
            .into(),
        stdout: true,
        stderr: true,
        ..Default::default()
    };
    let session = within("exec", rt.exec(&id, &request)).await.expect("exec");
    let (mut out, mut err) = (session.stdout.unwrap(), session.stderr.unwrap());
    let (mut o, mut e) = (String::new(), String::new());
    within("exec output", async {
        out.read_to_string(&mut o).await.unwrap();
        err.read_to_string(&mut e).await.unwrap();
    })
    .await;
    assert_eq!((o.as_str(), e.as_str()), ("out\n", "err\n"));
    assert_eq!(within("exec exit", session.exit).await.expect("exit"), 5);

    let request = kernel_node::runtime::ExecRequest {
        command: ["head", "-n", "1"].map(String::from).into(),
        stdin: true,
        stdout: true,
        ..Default::default()
    };
    let mut session = within("exec", rt.exec(&id, &request)).await.expect("exec");
    let mut stdin = session.stdin.take().unwrap();
    stdin.write_all(b"ping\n").await.unwrap();
    stdin.flush().await.unwrap();
    let mut o = String::new();
    within(
        "stdin echoed",
        session.stdout.unwrap().read_to_string(&mut o),
    )
    .await
    .unwrap();
    assert_eq!(o, "ping\n");
    assert_eq!(within("exec exit", session.exit).await.expect("exit"), 0);

    // Closing stdin is EOF for the process (a half-close, SPDY's FLAG_FIN): `cat` ends.
    let request = kernel_node::runtime::ExecRequest {
        command: vec!["cat".into()],
        stdin: true,
        stdout: true,
        stderr: true,
        ..Default::default()
    };
    let mut session = within("exec", rt.exec(&id, &request)).await.expect("exec");
    let mut stdin = session.stdin.take().unwrap();
    stdin.write_all(b"abc").await.unwrap();
    stdin.shutdown().await.unwrap();
    drop(stdin);
    let mut o = String::new();
    within("cat output", session.stdout.unwrap().read_to_string(&mut o))
        .await
        .unwrap();
    assert_eq!(o, "abc");
    assert_eq!(within("cat exit", session.exit).await.expect("exit"), 0);

    // A TTY: one output stream, and resizes reach the terminal (the shell waits until
    // it has the size asked for).
    let request = kernel_node::runtime::ExecRequest {
        command: [
            "sh",
            "-c",
            r#"while [ "$(stty size)" != "30 100" ]; do sleep 0.1; done; echo sized"#,
        ]
        .map(String::from)
        .into(),
        stdout: true,
        stderr: true,
        tty: true,
        ..Default::default()
    };
    let session = within("tty exec", rt.exec(&id, &request))
        .await
        .expect("exec");
    assert!(session.stderr.is_none(), "a TTY has no stderr of its own");
    let resize = session.resize.expect("a TTY can be resized");
    resize
        .send(kernel_node::runtime::TerminalSize {
            width: 100,
            height: 30,
        })
        .await
        .unwrap();
    let mut o = String::new();
    within("tty output", session.stdout.unwrap().read_to_string(&mut o))
        .await
        .unwrap();
    assert!(o.contains("sized"), "{o:?}");
    assert_eq!(within("tty exit", session.exit).await.expect("exit"), 0);

    let request = kernel_node::runtime::ExecRequest {
        stdout: true,
        ..Default::default()
    };
    let session = within("attach", rt.attach(&id, &request))
        .await
        .expect("attach");
    let mut out = session.stdout.unwrap();
    let mut buf = vec![0u8; 64];
    let mut seen = String::new();
    within("attached output", async {
        while !seen.contains("tick") {
            let n = out.read(&mut buf).await.unwrap();
            assert!(n > 0, "attach ended early: {seen:?}");
            seen.push_str(&String::from_utf8_lossy(&buf[..n]));
        }
    })
    .await;
    cleanup(&rt, &sb).await;
}
