//! The real kubectl and a kubeconfig-built kube::Client against the server over HTTPS.
//!
//! kubectl is `$KUBECTL`, else `kubectl` in `PATH` ([`kernel_testing::kubectl`]); the kubectl
//! tests skip (with a notice) when there is none, or fail under `KERNEL_REQUIRE_ALL=1`.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use k8s_openapi::api::core::v1::ConfigMap;
use kernel_api::{ApiServer, Serving};
use kube::api::{Api, PostParams};

struct Cluster {
    /// The kubectl binary [`Cluster::run`] runs.
    kubectl: Option<PathBuf>,
    _server: ApiServer,
    _serving: Serving,
    dir: tempfile::TempDir,
}

impl Cluster {
    async fn start() -> Cluster {
        let server = ApiServer::builder()
            .require_admin_token()
            .build()
            .await
            .unwrap();
        let serving = server.bind("127.0.0.1:0".parse().unwrap()).await.unwrap();
        let dir = tempfile::tempdir().unwrap();
        server
            .write_kubeconfig(dir.path().join("kubeconfig"))
            .unwrap();
        Cluster {
            kubectl: None,
            _server: server,
            _serving: serving,
            dir,
        }
    }

    /// The cluster, driven by `kubectl` from [`kernel_testing::kubectl`].
    fn with_kubectl(mut self, kubectl: PathBuf) -> Cluster {
        self.kubectl = Some(kubectl);
        self
    }

    fn kubectl(&self) -> PathBuf {
        self.kubectl.clone().expect("Cluster::with_kubectl")
    }

    fn kubeconfig(&self) -> PathBuf {
        self.dir.path().join("kubeconfig")
    }

    fn file(&self, name: &str, content: &str) -> PathBuf {
        let path = self.dir.path().join(name);
        std::fs::write(&path, content).unwrap();
        path
    }

    /// Runs kubectl; returns (success, stdout, stderr).
    async fn run(&self, args: &[&str]) -> (bool, String, String) {
        let (kubectl, kubeconfig) = (self.kubectl(), self.kubeconfig());
        let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        tokio::task::spawn_blocking(move || {
            let out = Command::new(kubectl)
                .arg("--kubeconfig")
                .arg(&kubeconfig)
                .args(&args)
                .env("HOME", kubeconfig.parent().unwrap_or(Path::new("/tmp")))
                .output()
                .expect("run kubectl");
            (
                out.status.success(),
                String::from_utf8_lossy(&out.stdout).into_owned(),
                String::from_utf8_lossy(&out.stderr).into_owned(),
            )
        })
        .await
        .unwrap()
    }

    /// Runs kubectl and requires success; returns stdout.
    async fn ok(&self, args: &[&str]) -> String {
        let (ok, out, err) = self.run(args).await;
        assert!(ok, "kubectl {args:?} failed:\nstdout: {out}\nstderr: {err}");
        out
    }
}

const MANIFEST: &str = r#"
apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
data:
  color: blue
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  labels: {app: web}
spec:
  replicas: 2
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - name: nginx
        image: nginx:1.27
---
apiVersion: v1
kind: Pod
metadata:
  name: solo
  labels: {app: solo}
spec:
  containers:
  - name: main
    image: busybox:1.36
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kube_client_from_kubeconfig_over_https() {
    let cluster = Cluster::start().await;
    let kubeconfig = kube::config::Kubeconfig::read_from(cluster.kubeconfig()).unwrap();
    let config = kube::Config::from_custom_kubeconfig(kubeconfig, &Default::default())
        .await
        .unwrap();
    let client = kube::Client::try_from(config).unwrap();
    let api: Api<ConfigMap> = Api::default_namespaced(client);
    let cm: ConfigMap = serde_json::from_value(
        serde_json::json!({"metadata": {"name": "tls"}, "data": {"a": "b"}}),
    )
    .unwrap();
    api.create(&PostParams::default(), &cm).await.unwrap();
    assert_eq!(api.get("tls").await.unwrap().data.unwrap()["a"], "b");

    // With a wrong token: 401.
    let mut kubeconfig = kube::config::Kubeconfig::read_from(cluster.kubeconfig()).unwrap();
    for user in &mut kubeconfig.auth_infos {
        if let Some(auth) = user.auth_info.as_mut() {
            auth.token = Some("wrong".to_string().into());
        }
    }
    let config = kube::Config::from_custom_kubeconfig(kubeconfig, &Default::default())
        .await
        .unwrap();
    let api: Api<ConfigMap> = Api::default_namespaced(kube::Client::try_from(config).unwrap());
    match api.get("tls").await {
        Err(kube::Error::Api(s)) => assert_eq!((s.code, s.reason.as_str()), (401, "Unauthorized")),
        other => panic!("expected 401, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_end_to_end() {
    let Some(kubectl) = kernel_testing::kubectl() else {
        return;
    };
    let c = Cluster::start().await.with_kubectl(kubectl);

    let resources = c.ok(&["api-resources"]).await;
    for needle in [
        "deployments",
        "deploy",
        "apps/v1",
        "pods",
        "po",
        "customresourcedefinitions",
        "leases",
    ] {
        assert!(
            resources.contains(needle),
            "api-resources lacks {needle}:\n{resources}"
        );
    }

    let manifest = c.file("app.yaml", MANIFEST);
    let out = c.ok(&["apply", "-f", manifest.to_str().unwrap()]).await;
    assert!(out.contains("deployment.apps/web created"), "{out}");
    // Re-applying changes nothing: the OpenAPI merge keys let kubectl compute an empty patch.
    let out = c.ok(&["apply", "-f", manifest.to_str().unwrap()]).await;
    assert!(out.contains("deployment.apps/web unchanged"), "{out}");
    assert!(out.contains("configmap/settings unchanged"), "{out}");

    // `kubectl explain` reads the OpenAPI v3 documents.
    let out = c.ok(&["explain", "deployment.spec.replicas"]).await;
    assert!(
        out.contains("KIND:       Deployment") && out.contains("replicas <integer>"),
        "{out}"
    );
    let out = c.ok(&["explain", "pods.spec.containers"]).await;
    assert!(out.contains("image"), "{out}");

    // Table printing, wide, yaml, json, jsonpath.
    let out = c.ok(&["get", "pods"]).await;
    assert!(
        out.contains("NAME")
            && out.contains("STATUS")
            && out.contains("solo")
            && out.contains("Pending"),
        "{out}"
    );
    let out = c.ok(&["get", "deploy", "-o", "wide"]).await;
    assert!(
        out.contains("IMAGES") && out.contains("nginx:1.27"),
        "{out}"
    );
    let out = c.ok(&["get", "cm", "settings", "-o", "yaml"]).await;
    assert!(
        out.contains("color: blue") && out.contains("resourceVersion"),
        "{out}"
    );
    let out = c.ok(&["get", "deploy", "web", "-o", "json"]).await;
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["metadata"]["generation"], 1);
    let out = c
        .ok(&["get", "deploy", "web", "-o", "jsonpath={.spec.replicas}"])
        .await;
    assert_eq!(out.trim(), "2");

    // Label, annotate, patch (json, merge, strategic), scale.
    c.ok(&["label", "deploy", "web", "tier=front"]).await;
    c.ok(&["annotate", "deploy", "web", "note=hello"]).await;
    let out = c
        .ok(&["get", "deploy", "-l", "tier=front", "-o", "name"])
        .await;
    assert_eq!(out.trim(), "deployment.apps/web");
    c.ok(&[
        "patch",
        "deploy",
        "web",
        "--type=json",
        "-p",
        r#"[{"op":"replace","path":"/spec/replicas","value":3}]"#,
    ])
    .await;
    c.ok(&[
        "patch",
        "deploy",
        "web",
        "--type=merge",
        "-p",
        r#"{"spec":{"minReadySeconds":5}}"#,
    ])
    .await;
    c.ok(&[
        "patch",
        "deploy",
        "web",
        "-p",
        r#"{"spec":{"template":{"spec":{"containers":[{"name":"nginx","image":"nginx:1.28"}]}}}}"#,
    ])
    .await;
    c.ok(&["scale", "deploy", "web", "--replicas=4"]).await;
    let out = c.ok(&["get", "deploy", "web", "-o", "jsonpath={.spec.replicas} {.spec.template.spec.containers[0].image} {.metadata.annotations.note}"]).await;
    assert_eq!(out.trim(), "4 nginx:1.28 hello");

    // Server-side apply.
    let out = c
        .ok(&[
            "apply",
            "--server-side",
            "-f",
            manifest.to_str().unwrap(),
            "--force-conflicts",
        ])
        .await;
    assert!(out.contains("serverside-applied"), "{out}");

    // create configmap (protobuf body), describe.
    c.ok(&[
        "create",
        "configmap",
        "lit",
        "--from-literal=a=b",
        "--from-literal=c=d",
    ])
    .await;
    let out = c.ok(&["describe", "configmap", "lit"]).await;
    assert!(out.contains("Name:") && out.contains("lit"), "{out}");
    // The forced server-side apply took image and replicas back to the manifest's values.
    let out = c.ok(&["describe", "deploy", "web"]).await;
    assert!(
        out.contains("nginx:1.27") && out.contains("2 desired"),
        "{out}"
    );

    // Other typed-client (protobuf) creates.
    c.ok(&[
        "create",
        "deployment",
        "d1",
        "--image=nginx:1.27",
        "--replicas=2",
        "--port=80",
    ])
    .await;
    let out = c.ok(&["get", "deploy", "d1", "-o", "jsonpath={.spec.replicas} {.spec.template.spec.containers[0].image} {.spec.template.spec.containers[0].ports[0].containerPort} {.spec.selector.matchLabels.app}"]).await;
    assert_eq!(out.trim(), "2 nginx:1.27 80 d1");
    c.ok(&[
        "create",
        "secret",
        "generic",
        "s1",
        "--from-literal=user=admin",
    ])
    .await;
    let out = c
        .ok(&["get", "secret", "s1", "-o", "jsonpath={.data.user}"])
        .await;
    assert_eq!(out.trim(), "YWRtaW4=");
    c.ok(&["create", "serviceaccount", "robot"]).await;
    // TokenRequest: a token for the service account, accepted by the server.
    let token = c.ok(&["create", "token", "robot"]).await;
    let out = c
        .ok(&[
            "--token",
            token.trim(),
            "auth",
            "whoami",
            "-o",
            "jsonpath={.status.userInfo.username}",
        ])
        .await;
    assert_eq!(out.trim(), "system:serviceaccount:default:robot");
    c.ok(&["create", "service", "clusterip", "svc1", "--tcp=80:8080"])
        .await;
    let out = c
        .ok(&[
            "get",
            "svc",
            "svc1",
            "-o",
            "jsonpath={.spec.ports[0].targetPort} {.spec.clusterIP}",
        ])
        .await;
    assert!(out.starts_with("8080 10."), "{out}");
    c.ok(&["create", "job", "j1", "--image=busybox", "--", "echo", "hi"])
        .await;
    let out = c
        .ok(&[
            "get",
            "job",
            "j1",
            "-o",
            "jsonpath={.spec.template.spec.containers[0].command}",
        ])
        .await;
    assert!(out.contains("echo"), "{out}");

    c.ok(&[
        "create",
        "role",
        "reader",
        "--verb=get,list",
        "--resource=pods",
    ])
    .await;
    c.ok(&[
        "create",
        "rolebinding",
        "reader",
        "--role=reader",
        "--user=alice",
    ])
    .await;
    c.ok(&[
        "create",
        "clusterrole",
        "creader",
        "--verb=get",
        "--resource=nodes",
    ])
    .await;
    c.ok(&["create", "priorityclass", "high", "--value=1000"])
        .await;
    c.ok(&["create", "quota", "q", "--hard=pods=10,cpu=2"])
        .await;
    c.ok(&[
        "create",
        "pdb",
        "web",
        "--selector=app=web",
        "--min-available=1",
    ])
    .await;
    let out = c
        .ok(&[
            "get",
            "rolebinding",
            "reader",
            "-o",
            "jsonpath={.roleRef.name} {.subjects[0].name}",
        ])
        .await;
    assert_eq!(out.trim(), "reader alice");
    let out = c
        .ok(&["get", "quota", "q", "-o", "jsonpath={.spec.hard.cpu}"])
        .await;
    assert_eq!(out.trim(), "2");
    let out = c
        .ok(&["get", "pdb", "web", "-o", "jsonpath={.spec.minAvailable}"])
        .await;
    assert_eq!(out.trim(), "1");

    // kubectl auth (SelfSubjectAccessReview, SelfSubjectReview).
    let out = c.ok(&["auth", "can-i", "create", "pods"]).await;
    assert_eq!(out.trim(), "yes");
    let out = c.ok(&["auth", "whoami"]).await;
    assert!(
        out.contains("kubernetes-admin") && out.contains("system:masters"),
        "{out}"
    );

    // Errors come back as upstream phrases them.
    let typo = c.file(
        "typo.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: typo\ndatta:\n  a: b\n",
    );
    let (ok, _, err) = c.run(&["apply", "-f", typo.to_str().unwrap()]).await;
    assert!(
        !ok && err.contains("strict decoding error: unknown field \"datta\""),
        "{err}"
    );
    let (ok, _, err) = c.run(&["get", "pod", "nope"]).await;
    assert!(!ok && err.contains("pods \"nope\" not found"), "{err}");

    // get -w prints the current state, then changes.
    let (kubectl, kubeconfig) = (c.kubectl(), c.kubeconfig());
    let watcher = tokio::task::spawn_blocking(move || {
        Command::new(kubectl)
            .arg("--kubeconfig")
            .arg(&kubeconfig)
            .args(["get", "configmaps", "-w", "--request-timeout=4s"])
            .output()
            .unwrap()
    });
    tokio::time::sleep(Duration::from_millis(1500)).await;
    c.ok(&["create", "configmap", "late", "--from-literal=x=y"])
        .await;
    let out = watcher.await.unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(stdout.matches("NAME").count(), 1, "one header: {stdout}");
    assert!(
        stdout
            .lines()
            .any(|l| l.starts_with("late") && l.split_whitespace().nth(1) == Some("1")),
        "rows like the list's: {stdout}"
    );
    assert!(
        stdout.contains("settings") && stdout.contains("late"),
        "get -w output: {stdout}"
    );

    // delete and wait --for=delete.
    c.ok(&["delete", "configmap", "lit"]).await;
    c.ok(&["delete", "pod", "solo", "--wait=false"]).await;
    c.ok(&["wait", "--for=delete", "pod/solo", "--timeout=10s"])
        .await;
    c.ok(&[
        "delete",
        "-f",
        manifest.to_str().unwrap(),
        "--ignore-not-found",
    ])
    .await;
    let out = c.ok(&["get", "deploy,cm", "-o", "name"]).await;
    assert!(!out.contains("web") && !out.contains("settings"), "{out}");

    // Namespaces.
    c.ok(&["create", "namespace", "scratch"]).await;
    c.ok(&["delete", "namespace", "scratch"]).await;
    let (ok, _, _) = c.run(&["get", "namespace", "scratch"]).await;
    assert!(!ok, "namespace should be gone after delete (kubectl waits)");
}
