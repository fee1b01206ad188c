//! [`EtcdStore`] against a real etcd started by kernel-testing: the conformance suite, watch
//! reconnection across an etcd restart, and endpoint failover. Skips (with a notice) when etcd
//! is not installed, unless `KERNEL_REQUIRE_ALL=1`.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use bytes::Bytes;
use futures::StreamExt;
use kernel_store::{
    testsuite, EtcdConfig, EtcdStore, EtcdTls, EventKind, Store, Watch, WatchRequest,
};
use kernel_testing::EtcdProcess;

async fn connect(etcd: &EtcdProcess, prefix: &str) -> EtcdStore {
    EtcdStore::connect(EtcdConfig::new([etcd.endpoint()]).with_prefix(prefix))
        .await
        .expect("connect to etcd")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn etcd_store_conforms() {
    let Some(etcd) = kernel_testing::etcd().await else {
        return;
    };
    let endpoint = etcd.endpoint();
    let next = AtomicUsize::new(0);
    // Every case gets its own prefix on the one etcd, so cases never see each other's keys.
    testsuite::run_all(|| {
        let prefix = format!("/test-{}/", next.fetch_add(1, Ordering::Relaxed));
        let config = EtcdConfig::new([endpoint.clone()]).with_prefix(prefix);
        async move { EtcdStore::connect(config).await.expect("connect to etcd") }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watch_survives_an_etcd_restart_without_gaps_or_duplicates() {
    let Some(mut etcd) = kernel_testing::etcd().await else {
        return;
    };
    let store = connect(&etcd, "/reconnect").await;
    let mut watch = store.watch(WatchRequest::prefix("/k/")).await.unwrap();

    for i in 0..3 {
        store
            .create(&format!("/k/{i}"), Bytes::from("v"), 0)
            .await
            .unwrap();
    }
    etcd.restart().await.expect("restart etcd");
    for i in 3..6 {
        store
            .create(&format!("/k/{i}"), Bytes::from("v"), 0)
            .await
            .unwrap();
    }

    let mut last = 0;
    for i in 0..6 {
        let event = tokio::time::timeout(Duration::from_secs(20), watch.next())
            .await
            .expect("event within 20s")
            .expect("stream open")
            .expect("no watch error");
        assert_eq!(
            (event.kind, event.kv.key.as_str()),
            (EventKind::Put, format!("/k/{i}").as_str())
        );
        assert!(event.revision() > last, "revisions strictly increase");
        last = event.revision();
    }
    let extra = tokio::time::timeout(Duration::from_millis(500), watch.next()).await;
    assert!(extra.is_err(), "no duplicate or extra event: {extra:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_first_endpoint_is_skipped() {
    let Some(etcd) = kernel_testing::etcd().await else {
        return;
    };
    let dead = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port())
    };
    let config = EtcdConfig::new([dead, etcd.endpoint()])
        .with_prefix("/failover")
        .with_connect_timeout(Duration::from_secs(2));
    let store = EtcdStore::connect(config)
        .await
        .expect("the second endpoint answers");
    assert_eq!(store.current_endpoint(), etcd.endpoint());
    let kv = store.create("/a", Bytes::from("1"), 0).await.unwrap();
    assert_eq!(
        store.get("/a").await.unwrap().unwrap().mod_revision,
        kv.mod_revision
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_endpoint_answering_is_a_backend_error() {
    let dead = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port())
    };
    let config = EtcdConfig::new([dead]).with_connect_timeout(Duration::from_secs(1));
    let err = EtcdStore::connect(config).await.unwrap_err();
    assert!(err.is_transient(), "{err:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_with_a_client_certificate() {
    let Some(etcd) = kernel_testing::etcd_tls().await else {
        return;
    };
    let files = etcd.tls_files().expect("a TLS member").clone();
    let tls = EtcdTls::new(files.ca_pem.clone())
        .with_identity(files.client_cert_pem.clone(), files.client_key_pem.clone());
    let store = EtcdStore::connect(EtcdConfig::new([etcd.endpoint()]).with_tls(tls))
        .await
        .expect("connect over TLS");
    let kv = store.create("/tls/a", Bytes::from("1"), 0).await.unwrap();
    let mut watch = store
        .watch(WatchRequest::key("/tls/a").from_revision(kv.mod_revision))
        .await
        .unwrap();
    assert_eq!(
        testsuite::next_event(&mut watch)
            .await
            .unwrap()
            .kv
            .mod_revision,
        kv.mod_revision
    );

    // Without the client certificate etcd refuses the connection.
    let anonymous = EtcdConfig::new([etcd.endpoint()])
        .with_tls(EtcdTls::new(files.ca_pem))
        .with_connect_timeout(Duration::from_secs(2));
    assert!(EtcdStore::connect(anonymous).await.is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_fail_transiently_while_etcd_is_down_and_recover() {
    let Some(mut etcd) = kernel_testing::etcd().await else {
        return;
    };
    let store = connect(&etcd, "/down").await;
    store.create("/a", Bytes::from("1"), 0).await.unwrap();
    etcd.stop();
    let err = store.create("/b", Bytes::from("1"), 0).await.unwrap_err();
    assert!(err.is_transient(), "{err:?}");
    let err = store.get("/a").await.unwrap_err();
    assert!(err.is_transient(), "{err:?}");
    etcd.restart().await.unwrap();
    store.create("/b", Bytes::from("1"), 0).await.unwrap();
    assert_eq!(
        store.get("/a").await.unwrap().unwrap().value,
        Bytes::from("1")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ranges_larger_than_four_mebibytes_are_read_whole() {
    let Some(etcd) = kernel_testing::etcd().await else {
        return;
    };
    let store = connect(&etcd, "").await;
    // 6 values of 1 MiB: one range answer of ~6 MiB, over tonic's default 4 MiB limit.
    let value = Bytes::from(vec![b'x'; 1 << 20]);
    for i in 0..6 {
        store
            .create(&format!("/big/k{i}"), value.clone(), 0)
            .await
            .expect("create");
    }
    let all = store
        .range(kernel_store::RangeRequest::prefix("/big/"))
        .await
        .expect("a 6 MiB range is read");
    assert_eq!(all.kvs.len(), 6);
    assert!(all.kvs.iter().all(|kv| kv.value.len() == 1 << 20));
}
