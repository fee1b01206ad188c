//! The listener and the identities around it: graceful drain on shutdown, credentials kept in
//! a directory across restarts, in-process clients that carry a user.

use kernel_testing::within;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::authentication::v1::SelfSubjectReview;
use k8s_openapi::api::core::v1::ConfigMap;
use kernel_api::{ApiServer, Credentials, UserInfo};
use kernel_store::MemoryStore;
use kube::api::{Api, PostParams, WatchParams};

fn loopback() -> SocketAddr {
    "127.0.0.1:0".parse().unwrap()
}

async fn https_client(server: &ApiServer) -> kube::Client {
    kube::Client::try_from(server.kube_config().await.unwrap()).unwrap()
}

fn config_map(name: &str) -> ConfigMap {
    serde_json::from_value(serde_json::json!({"metadata": {"name": name}, "data": {"a": "b"}}))
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_ends_watches_and_closes_the_listener() {
    let server = ApiServer::builder()
        .require_admin_token()
        .build()
        .await
        .unwrap();
    let serving = server.bind(loopback()).await.unwrap();
    let addr = serving.local_addr();
    let client = https_client(&server).await;
    let api: Api<ConfigMap> = Api::default_namespaced(client);
    let mut events = api
        .watch(&WatchParams::default().timeout(290), "0")
        .await
        .unwrap()
        .boxed();
    api.create(&PostParams::default(), &config_map("before"))
        .await
        .unwrap();
    // The watch is live: it sees the create.
    let first = within("the first event", events.next()).await;
    assert!(
        matches!(first, Some(Ok(kube::api::WatchEvent::Added(_)))),
        "{first:?}"
    );

    // A grace period longer than the hang guard: the drain finishes only because the watch
    // ends, not because the grace period runs out.
    within(
        "the drain",
        serving.shutdown_within(Duration::from_secs(600)),
    )
    .await;
    // The watch ended cleanly (as when its timeout passes: no connection error, so the
    // connection was closed after its last frame rather than cut) instead of holding the drain
    // for 600 s.
    let rest: Vec<_> = within("the end of the watch", events.collect::<Vec<_>>()).await;
    assert!(
        rest.iter()
            .all(|e| matches!(e, Ok(kube::api::WatchEvent::Bookmark(_)))),
        "{rest:?}"
    );
    // Nothing listens any more.
    assert!(tokio::net::TcpStream::connect(addr).await.is_err());
    // The server itself still works in-process.
    let cms: Api<ConfigMap> = Api::default_namespaced(server.client());
    assert!(cms.get("before").await.is_ok());
}

/// Holds every create in validating admission until released, and says when one arrived.
struct Gate {
    arrived: tokio::sync::Notify,
    release: tokio::sync::Semaphore,
}

impl Default for Gate {
    fn default() -> Self {
        Gate {
            arrived: tokio::sync::Notify::new(),
            release: tokio::sync::Semaphore::new(0),
        }
    }
}

#[async_trait::async_trait]
impl kernel_api::Admission for Gate {
    async fn validate(
        &self,
        _request: &kernel_api::AdmissionRequest,
        _object: &serde_json::Value,
        _old: Option<&serde_json::Value>,
    ) -> kernel_api::Result<()> {
        self.arrived.notify_one();
        let _ = self.release.acquire().await;
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_lets_requests_in_flight_finish() {
    let gate = Arc::new(Gate::default());
    let server = ApiServer::builder()
        .require_admin_token()
        .admission(gate.clone())
        .build()
        .await
        .unwrap();
    let serving = server.bind(loopback()).await.unwrap();
    let api: Api<ConfigMap> = Api::default_namespaced(https_client(&server).await);
    let create = tokio::spawn(async move {
        api.create(&PostParams::default(), &config_map("in-flight"))
            .await
    });
    within("the create reaching admission", gate.arrived.notified()).await;
    let drain = tokio::spawn(serving.shutdown_within(Duration::from_secs(600)));
    // The drain waits for the request in flight (given time to cut it, were it to) ...
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(!drain.is_finished());
    gate.release.add_permits(1);
    // ... which completes with its answer, and is stored.
    let created = within("the create", create).await.unwrap();
    assert!(created.is_ok(), "{created:?}");
    within("the drain", drain).await.unwrap();
    let cms: Api<ConfigMap> = Api::default_namespaced(server.client());
    assert!(cms.get("in-flight").await.is_ok());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_process_clients_carry_their_identity() {
    let server = ApiServer::builder()
        .require_admin_token()
        .build()
        .await
        .unwrap();
    // No identity: the server requires a token, so 401.
    let anonymous: Api<ConfigMap> =
        Api::default_namespaced(kube::Client::new(server.clone(), "default"));
    match anonymous.list(&Default::default()).await {
        Err(kube::Error::Api(s)) => assert_eq!(s.code, 401),
        other => panic!("expected 401, got {other:?}"),
    }
    let user = UserInfo {
        name: "system:kube-scheduler".into(),
        uid: String::new(),
        groups: vec!["system:authenticated".into()],
    };
    let review: Api<SelfSubjectReview> = Api::all(server.client_as(user));
    let me = review
        .create(&PostParams::default(), &SelfSubjectReview::default())
        .await
        .unwrap();
    let info = me.status.unwrap().user_info.unwrap();
    assert_eq!(info.username.as_deref(), Some("system:kube-scheduler"));
    assert_eq!(
        info.groups.unwrap(),
        vec!["system:authenticated".to_string()]
    );

    let admin: Api<SelfSubjectReview> = Api::all(server.client());
    let me = admin
        .create(&PostParams::default(), &SelfSubjectReview::default())
        .await
        .unwrap();
    assert_eq!(
        me.status.unwrap().user_info.unwrap().username.as_deref(),
        Some("kubernetes-admin")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kubeconfig_stays_valid_across_restarts_with_kept_credentials() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(MemoryStore::new());
    let start = |store: Arc<MemoryStore>| {
        let dir = dir.path().to_owned();
        async move {
            ApiServer::builder()
                .store(store)
                .credentials(Credentials::load_or_create(&dir, &[]).unwrap())
                .require_admin_token()
                .build()
                .await
                .unwrap()
        }
    };
    let first = start(store.clone()).await;
    let serving = first.bind(loopback()).await.unwrap();
    let addr = serving.local_addr();
    let old_kubeconfig = first.kubeconfig().unwrap();
    Api::<ConfigMap>::default_namespaced(https_client(&first).await)
        .create(&PostParams::default(), &config_map("kept"))
        .await
        .unwrap();
    within("the drain", serving.shutdown()).await;
    drop(first);

    let second = start(store).await;
    let serving = second.bind(addr).await.unwrap();
    // The kubeconfig written before the restart: same CA, same token.
    let config = kube::Config::from_custom_kubeconfig(
        kube::config::Kubeconfig::from_yaml(&old_kubeconfig).unwrap(),
        &Default::default(),
    )
    .await
    .unwrap();
    let api: Api<ConfigMap> = Api::default_namespaced(kube::Client::try_from(config).unwrap());
    assert_eq!(api.get("kept").await.unwrap().data.unwrap()["a"], "b");
    serving.shutdown().await;
}
