//! Custom resources through kube-rs: a `#[derive(CustomResource)]` type as the client side of a
//! CRD served by the ApiServer (typed CRUD, status subresource, watcher and reflector), in
//! process and over HTTPS; and a CRD served in two versions with upstream's `None` conversion.

use std::time::Duration;

use futures::{StreamExt, TryStreamExt};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kernel_api::{ApiServer, ResourceDef, Subresource};
use kube::api::{ApiResource, DynamicObject, GroupVersionKind, Patch, PatchParams, PostParams};
use kube::runtime::{reflector, watcher, WatchStreamExt};
use kube::{Api, Client, CustomResource, CustomResourceExt, ResourceExt};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The client-side type of the `widgets.example.com` CRD.
#[derive(CustomResource, Clone, Debug, Deserialize, Serialize, JsonSchema, PartialEq)]
#[kube(
    group = "example.com",
    version = "v1",
    kind = "Widget",
    namespaced,
    status = "WidgetStatus"
)]
pub struct WidgetSpec {
    /// How many.
    pub size: i64,
    /// What colour.
    pub color: String,
}

/// Status of a Widget.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema, PartialEq, Default)]
pub struct WidgetStatus {
    /// Whether it is ready.
    pub ready: bool,
}

/// Creates `crd` and waits until its resource is served.
async fn establish(client: &Client, crd: &CustomResourceDefinition, ar: &ApiResource) {
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    crds.create(&PostParams::default(), crd).await.unwrap();
    let probe: Api<DynamicObject> = Api::namespaced_with(client.clone(), "default", ar);
    for _ in 0..100 {
        if probe.list(&Default::default()).await.is_ok() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("{} was never served", ar.plural);
}

/// Typed CRUD, the status subresource, a watcher and a reflector of `Widget` through `client`
/// (after creating its CRD, when `crd`).
async fn widget_round_trip(client: Client, crd: bool) {
    if crd {
        let ar = ApiResource::erase::<Widget>(&());
        establish(&client, &Widget::crd(), &ar).await;
    }
    let widgets: Api<Widget> = Api::namespaced(client.clone(), "default");

    let (reader, writer) = reflector::store::<Widget>();
    let mut ready_widgets = reflector(writer, watcher(widgets.clone(), watcher::Config::default()))
        .applied_objects()
        .try_filter(|w| std::future::ready(w.status.as_ref().is_some_and(|s| s.ready)))
        .boxed();
    // The task hands the stream back with the first ready widget, so the reflector (the
    // stream's writer) lives on until its store is checked below.
    let reflected = tokio::spawn(async move {
        let first = ready_widgets.try_next().await;
        (first, ready_widgets)
    });

    let mut w = Widget::new(
        "w1",
        WidgetSpec {
            size: 3,
            color: "blue".into(),
        },
    );
    w.status = Some(WidgetStatus { ready: true });
    let created = widgets.create(&PostParams::default(), &w).await.unwrap();
    assert_eq!(created.spec, w.spec);
    assert!(created.uid().is_some());
    // The status subresource: status given on create is dropped, as upstream.
    assert_eq!(created.status, None);

    let got = widgets.get("w1").await.unwrap();
    assert_eq!(got.spec.color, "blue");
    let mut changed = got.clone();
    changed.spec.size = 5;
    let replaced = widgets
        .replace("w1", &PostParams::default(), &changed)
        .await
        .unwrap();
    assert_eq!(replaced.spec.size, 5);
    // A stale write conflicts.
    match widgets.replace("w1", &PostParams::default(), &got).await {
        Err(kube::Error::Api(s)) => assert_eq!(s.code, 409),
        other => panic!("expected a conflict, got {other:?}"),
    }

    let patched = widgets
        .patch_status(
            "w1",
            &PatchParams::default(),
            &Patch::Merge(serde_json::json!({ "status": { "ready": true } })),
        )
        .await
        .unwrap();
    assert_eq!(patched.status, Some(WidgetStatus { ready: true }));
    assert_eq!(patched.spec.size, 5, "a status write leaves the spec alone");

    let (first, mut ready_widgets) = tokio::time::timeout(Duration::from_secs(10), reflected)
        .await
        .expect("the watcher sees the status change")
        .unwrap();
    let seen = first.unwrap().expect("stream ended");
    assert_eq!(seen.name_any(), "w1");
    // When the watcher's first list already saw the ready widget, the event comes before the
    // list is complete, and the reflector's store fills at the list's end: keep driving the
    // stream until the store is ready.
    let ready = reader.wait_until_ready();
    tokio::pin!(ready);
    tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            tokio::select! {
                r = &mut ready => break r.unwrap(),
                _ = ready_widgets.try_next() => {}
            }
        }
    })
    .await
    .expect("the reflector completes its first list");
    assert_eq!(reader.state().len(), 1, "the reflector holds the widget");

    let list = widgets.list(&Default::default()).await.unwrap();
    assert_eq!(list.items.len(), 1);
    widgets.delete("w1", &Default::default()).await.unwrap();
    match widgets.get("w1").await {
        Err(kube::Error::Api(s)) => assert_eq!(s.code, 404),
        other => panic!("expected 404, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn derived_custom_resource_in_process() {
    let server = ApiServer::builder().build().await.unwrap();
    widget_round_trip(Client::new(server, "default"), true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn derived_custom_resource_over_https() {
    let server = ApiServer::builder().build().await.unwrap();
    let _serving = server.bind("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("kubeconfig");
    server.write_kubeconfig(&path).unwrap();
    let kubeconfig = kube::config::Kubeconfig::read_from(&path).unwrap();
    let config = kube::Config::from_custom_kubeconfig(kubeconfig, &Default::default())
        .await
        .unwrap();
    widget_round_trip(Client::try_from(config).unwrap(), true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn typed_custom_resource_registered_at_build_time() {
    let server = ApiServer::builder()
        .resource(ResourceDef::of::<Widget>().with(&[Subresource::Status]))
        .build()
        .await
        .unwrap();
    let client = Client::new(server, "default");
    // Served from the start, without a CRD object.
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    assert!(crds
        .list(&Default::default())
        .await
        .unwrap()
        .items
        .is_empty());
    widget_round_trip(client.clone(), false).await;
    // Objects are checked against the Rust type: a string where it has a number is a 400.
    let widgets: Api<DynamicObject> =
        Api::namespaced_with(client, "default", &ApiResource::erase::<Widget>(&()));
    let bad: DynamicObject = serde_json::from_value(serde_json::json!({
        "apiVersion": "example.com/v1", "kind": "Widget",
        "metadata": { "name": "bad" }, "spec": { "size": "three", "color": "red" }
    }))
    .unwrap();
    match widgets.create(&PostParams::default(), &bad).await {
        Err(kube::Error::Api(s)) => assert_eq!(s.code, 400, "{s:?}"),
        other => panic!("expected 400, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn versions_share_objects_with_none_conversion() {
    let server = ApiServer::builder().build().await.unwrap();
    let client = Client::new(server, "default");
    let schema = serde_json::json!({ "openAPIV3Schema": { "type": "object", "properties": {
        "spec": { "type": "object", "properties": { "size": { "type": "integer" } } } } } });
    let crd: CustomResourceDefinition = serde_json::from_value(serde_json::json!({
        "metadata": { "name": "gadgets.example.com" },
        "spec": {
            "group": "example.com",
            "names": { "kind": "Gadget", "plural": "gadgets", "singular": "gadget", "listKind": "GadgetList" },
            "scope": "Namespaced",
            "conversion": { "strategy": "None" },
            "versions": [
                { "name": "v1beta1", "served": true, "storage": false, "schema": schema },
                { "name": "v1", "served": true, "storage": true, "schema": schema },
            ],
        }
    }))
    .unwrap();
    let resource = |version: &str| {
        ApiResource::from_gvk_with_plural(
            &GroupVersionKind::gvk("example.com", version, "Gadget"),
            "gadgets",
        )
    };
    let (beta, v1) = (resource("v1beta1"), resource("v1"));
    establish(&client, &crd, &v1).await;
    let old: Api<DynamicObject> = Api::namespaced_with(client.clone(), "default", &beta);
    let new: Api<DynamicObject> = Api::namespaced_with(client.clone(), "default", &v1);

    let rv = new
        .list(&Default::default())
        .await
        .unwrap()
        .metadata
        .resource_version
        .unwrap();
    let watch = new.watch(&Default::default(), &rv).await.unwrap().boxed();

    let gadget: DynamicObject = serde_json::from_value(serde_json::json!({
        "apiVersion": "example.com/v1beta1", "kind": "Gadget",
        "metadata": { "name": "g1" }, "spec": { "size": 2 }
    }))
    .unwrap();
    let created = old.create(&PostParams::default(), &gadget).await.unwrap();
    assert_eq!(
        created.types.as_ref().unwrap().api_version,
        "example.com/v1beta1"
    );

    // Written through v1beta1, read through v1: the same object, with v1's apiVersion.
    let got = new.get("g1").await.unwrap();
    assert_eq!(got.types.as_ref().unwrap().api_version, "example.com/v1");
    assert_eq!(got.data["spec"]["size"], 2);
    assert_eq!(got.metadata.uid, created.metadata.uid);
    let listed = new.list(&Default::default()).await.unwrap();
    assert_eq!(
        listed.items[0].types.as_ref().unwrap().api_version,
        "example.com/v1"
    );
    let mut watch = watch;
    let event = tokio::time::timeout(Duration::from_secs(10), watch.try_next())
        .await
        .expect("the v1 watch sees the v1beta1 write")
        .unwrap()
        .unwrap();
    match event {
        kube::api::WatchEvent::Added(o) => {
            assert_eq!(o.types.unwrap().api_version, "example.com/v1")
        }
        other => panic!("expected ADDED, got {other:?}"),
    }
    // And back: read through v1beta1 it is v1beta1 again.
    let again = old.get("g1").await.unwrap();
    assert_eq!(
        again.types.as_ref().unwrap().api_version,
        "example.com/v1beta1"
    );
}
