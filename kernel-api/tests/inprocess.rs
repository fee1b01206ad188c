//! The API server in-process, through `kube::Client::new(server, "default")`.

use std::sync::Arc;
use std::time::Duration;

use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Pod};
use kernel_api::ApiServer;
use kernel_store::MemoryStore;
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams};
use kube::runtime::{reflector, watcher, WatchStreamExt};
use serde_json::json;

async fn client() -> (ApiServer, kube::Client) {
    let server = ApiServer::builder()
        .store(Arc::new(MemoryStore::new()))
        .build()
        .await
        .unwrap();
    let client = kube::Client::new(server.clone(), "default");
    (server, client)
}

fn cm(name: &str, labels: &[(&str, &str)]) -> ConfigMap {
    serde_json::from_value(json!({
        "metadata": { "name": name, "labels": labels.iter().map(|(k, v)| (k.to_string(), json!(v))).collect::<serde_json::Map<_, _>>() },
        "data": { "k": "v" },
    }))
    .unwrap()
}

fn deployment(name: &str, replicas: i32) -> Deployment {
    serde_json::from_value(json!({
        "metadata": { "name": name },
        "spec": {
            "replicas": replicas,
            "selector": { "matchLabels": { "app": name } },
            "template": {
                "metadata": { "labels": { "app": name } },
                "spec": { "containers": [{ "name": "nginx", "image": "nginx:1.27" }] },
            },
        },
    }))
    .unwrap()
}

fn status_code(err: kube::Error) -> (u16, String) {
    match err {
        kube::Error::Api(s) => (s.code, s.reason),
        other => panic!("expected an API error, got {other:?}"),
    }
}

#[tokio::test]
async fn configmap_crud_and_errors() {
    let (_server, client) = client().await;
    let api: Api<ConfigMap> = Api::default_namespaced(client.clone());
    let created = api
        .create(&PostParams::default(), &cm("a", &[("app", "x")]))
        .await
        .unwrap();
    assert!(created.metadata.uid.is_some());
    assert!(created.metadata.creation_timestamp.is_some());

    let err = api
        .create(&PostParams::default(), &cm("a", &[]))
        .await
        .unwrap_err();
    assert_eq!(status_code(err), (409, "AlreadyExists".into()));
    let err = api.get("missing").await.unwrap_err();
    assert_eq!(status_code(err), (404, "NotFound".into()));

    // Stale update → 409 Conflict.
    let mut stale = created.clone();
    let mut fresh = created.clone();
    fresh.data = Some([("k".to_string(), "2".to_string())].into());
    api.replace("a", &PostParams::default(), &fresh)
        .await
        .unwrap();
    stale.data = Some([("k".to_string(), "3".to_string())].into());
    let err = api
        .replace("a", &PostParams::default(), &stale)
        .await
        .unwrap_err();
    assert_eq!(status_code(err), (409, "Conflict".into()));

    // Patch flavours.
    let p = api
        .patch(
            "a",
            &PatchParams::default(),
            &Patch::Merge(json!({"data": {"m": "1"}})),
        )
        .await
        .unwrap();
    assert_eq!(p.data.as_ref().unwrap()["m"], "1");
    let p = api
        .patch(
            "a",
            &PatchParams::default(),
            &Patch::<()>::Json(
                serde_json::from_value(json!([{"op": "add", "path": "/data/j", "value": "2"}]))
                    .unwrap(),
            ),
        )
        .await
        .unwrap();
    assert_eq!(p.data.as_ref().unwrap()["j"], "2");

    // Invalid name → 422 (validation stand-in or real validation.rs must flag empty names at least).
    let mut nameless = cm("", &[]);
    nameless.metadata.name = None;
    let err = api
        .create(&PostParams::default(), &nameless)
        .await
        .unwrap_err();
    assert_eq!(status_code(err), (422, "Invalid".into()));

    // generateName.
    let mut generated = cm("", &[]);
    generated.metadata.name = None;
    generated.metadata.generate_name = Some("gen-".into());
    let g = api
        .create(&PostParams::default(), &generated)
        .await
        .unwrap();
    assert_eq!(g.metadata.name.unwrap().len(), "gen-".len() + 5);

    api.delete("a", &DeleteParams::default()).await.unwrap();
    assert_eq!(status_code(api.get("a").await.unwrap_err()).0, 404);
}

#[tokio::test]
async fn missing_namespace_is_not_found() {
    let (_server, client) = client().await;
    let api: Api<ConfigMap> = Api::namespaced(client, "nope");
    let err = api
        .create(&PostParams::default(), &cm("a", &[]))
        .await
        .unwrap_err();
    match err {
        kube::Error::Api(s) => {
            assert_eq!(s.code, 404);
            assert_eq!(s.message, "namespaces \"nope\" not found");
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn list_with_selectors_and_pages() {
    let (_server, client) = client().await;
    let api: Api<ConfigMap> = Api::default_namespaced(client);
    for i in 0..7 {
        let tier = if i % 2 == 0 { "even" } else { "odd" };
        api.create(
            &PostParams::default(),
            &cm(&format!("cm-{i}"), &[("tier", tier)]),
        )
        .await
        .unwrap();
    }
    let even = api
        .list(&ListParams::default().labels("tier=even"))
        .await
        .unwrap();
    assert_eq!(even.items.len(), 4);
    let by_name = api
        .list(&ListParams::default().fields("metadata.name=cm-3"))
        .await
        .unwrap();
    assert_eq!(by_name.items.len(), 1);

    let mut seen = 0;
    let mut params = ListParams::default().limit(3);
    loop {
        let page = api.list(&params).await.unwrap();
        seen += page.items.len();
        match page.metadata.continue_ {
            Some(c) if !c.is_empty() => params = params.continue_token(&c),
            _ => break,
        }
    }
    assert_eq!(seen, 7);
}

#[tokio::test]
async fn deployment_generation_scale_and_status() {
    let (_server, client) = client().await;
    let api: Api<Deployment> = Api::default_namespaced(client);
    let d = api
        .create(&PostParams::default(), &deployment("web", 1))
        .await
        .unwrap();
    assert_eq!(d.metadata.generation, Some(1));

    let d = api
        .patch(
            "web",
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"labels": {"x": "y"}}})),
        )
        .await
        .unwrap();
    assert_eq!(d.metadata.generation, Some(1), "label change does not bump");
    let d = api
        .patch(
            "web",
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"annotations": {"x": "y"}}})),
        )
        .await
        .unwrap();
    assert_eq!(
        d.metadata.generation,
        Some(2),
        "deployment annotation change bumps"
    );
    let d = api.patch("web", &PatchParams::default(), &Patch::Strategic(json!({"spec": {"template": {"spec": {"containers": [{"name": "nginx", "image": "nginx:1.28"}]}}}}))).await.unwrap();
    assert_eq!(d.metadata.generation, Some(3));
    assert_eq!(
        d.spec.unwrap().template.spec.unwrap().containers[0]
            .image
            .as_deref(),
        Some("nginx:1.28")
    );

    // Status writes never bump and only touch status.
    let d = api
        .patch_status(
            "web",
            &PatchParams::default(),
            &Patch::Merge(json!({"status": {"replicas": 5}, "spec": {"replicas": 9}})),
        )
        .await
        .unwrap();
    assert_eq!(d.metadata.generation, Some(3));
    assert_eq!(d.status.unwrap().replicas, Some(5));
    assert_eq!(d.spec.unwrap().replicas, Some(1));

    // Main resource ignores status.
    let d = api
        .patch(
            "web",
            &PatchParams::default(),
            &Patch::Merge(json!({"status": {"replicas": 1}})),
        )
        .await
        .unwrap();
    assert_eq!(d.status.unwrap().replicas, Some(5));

    // Scale.
    let scale = api.get_scale("web").await.unwrap();
    assert_eq!(scale.spec.unwrap().replicas, Some(1));
    api.patch_scale(
        "web",
        &PatchParams::default(),
        &Patch::Merge(json!({"spec": {"replicas": 4}})),
    )
    .await
    .unwrap();
    let d = api.get("web").await.unwrap();
    assert_eq!(d.spec.unwrap().replicas, Some(4));
    assert_eq!(d.metadata.generation, Some(4));
}

#[tokio::test]
async fn server_side_apply_conflicts_and_force() {
    let (_server, client) = client().await;
    let api: Api<Deployment> = Api::default_namespaced(client);
    let mut body = serde_json::to_value(deployment("ssa", 2)).unwrap();
    body["apiVersion"] = json!("apps/v1");
    body["kind"] = json!("Deployment");
    let d = api
        .patch("ssa", &PatchParams::apply("alice"), &Patch::Apply(&body))
        .await
        .unwrap();
    assert_eq!(d.spec.as_ref().unwrap().replicas, Some(2));
    assert!(d
        .metadata
        .managed_fields
        .unwrap()
        .iter()
        .any(|m| m.manager.as_deref() == Some("alice")));

    api.patch_scale(
        "ssa",
        &PatchParams {
            field_manager: Some("bob".into()),
            ..Default::default()
        },
        &Patch::Merge(json!({"spec": {"replicas": 5}})),
    )
    .await
    .unwrap();
    body["spec"]["replicas"] = json!(3);
    let err = api
        .patch("ssa", &PatchParams::apply("alice"), &Patch::Apply(&body))
        .await
        .unwrap_err();
    assert_eq!(status_code(err), (409, "Conflict".into()));
    let d = api
        .patch(
            "ssa",
            &PatchParams::apply("alice").force(),
            &Patch::Apply(&body),
        )
        .await
        .unwrap();
    assert_eq!(d.spec.unwrap().replicas, Some(3));
}

#[tokio::test]
async fn pods_binding_and_graceful_delete() {
    let (_server, client) = client().await;
    let pods: Api<Pod> = Api::default_namespaced(client.clone());
    let pod: Pod = serde_json::from_value(json!({"metadata": {"name": "p"}, "spec": {"containers": [{"name": "c", "image": "busybox"}]}})).unwrap();
    let created = pods.create(&PostParams::default(), &pod).await.unwrap();
    assert_eq!(created.status.unwrap().phase.as_deref(), Some("Pending"));

    let binding = json!({"apiVersion": "v1", "kind": "Binding", "metadata": {"name": "p"}, "target": {"kind": "Node", "name": "n1"}});
    let req = http::Request::post("/api/v1/namespaces/default/pods/p/binding")
        .header("content-type", "application/json")
        .body(serde_json::to_vec(&binding).unwrap())
        .unwrap();
    let _: serde_json::Value = client.request(req).await.unwrap();
    assert_eq!(
        pods.get("p")
            .await
            .unwrap()
            .spec
            .unwrap()
            .node_name
            .as_deref(),
        Some("n1")
    );
    let req = http::Request::post("/api/v1/namespaces/default/pods/p/binding")
        .header("content-type", "application/json")
        .body(serde_json::to_vec(&binding).unwrap())
        .unwrap();
    let err = client.request::<serde_json::Value>(req).await.unwrap_err();
    assert_eq!(status_code(err).0, 409);

    // Bound pod: graceful deletion marks it; grace 0 removes it.
    pods.delete("p", &DeleteParams::default()).await.unwrap();
    let marked = pods.get("p").await.unwrap();
    assert!(marked.metadata.deletion_timestamp.is_some());
    assert_eq!(marked.metadata.deletion_grace_period_seconds, Some(30));
    pods.delete("p", &DeleteParams::default().grace_period(0))
        .await
        .unwrap();
    assert_eq!(status_code(pods.get("p").await.unwrap_err()).0, 404);
}

/// Binding starts from the watch cache's copy of the pod when a pod watch is open; a stale copy
/// must neither let a second binding through nor refuse a recreated pod.
#[tokio::test]
async fn pods_binding_with_a_watch_cache_open() {
    let (_server, client) = client().await;
    let pods: Api<Pod> = Api::default_namespaced(client.clone());
    // A watch opens the pods' watch cache.
    let _watch = pods
        .watch(&kube::api::WatchParams::default(), "0")
        .await
        .unwrap()
        .boxed();
    let pod: Pod = serde_json::from_value(json!({"metadata": {"name": "p"}, "spec": {"containers": [{"name": "c", "image": "busybox"}]}})).unwrap();
    let bind = |node: &str| {
        let binding = json!({"apiVersion": "v1", "kind": "Binding", "metadata": {"name": "p"}, "target": {"kind": "Node", "name": node}});
        http::Request::post("/api/v1/namespaces/default/pods/p/binding")
            .header("content-type", "application/json")
            .body(serde_json::to_vec(&binding).unwrap())
            .unwrap()
    };
    for round in 0..20 {
        pods.create(&PostParams::default(), &pod).await.unwrap();
        let _: serde_json::Value = client.request(bind("n1")).await.unwrap();
        // At once again: the cache may still hold the unbound pod; the store says bound.
        let err = client
            .request::<serde_json::Value>(bind("n2"))
            .await
            .unwrap_err();
        assert_eq!(status_code(err).0, 409, "round {round}");
        let node = pods.get("p").await.unwrap().spec.unwrap().node_name;
        assert_eq!(node.as_deref(), Some("n1"), "round {round}");
        // Recreated under the same name: the cache may still hold the bound pod.
        pods.delete("p", &DeleteParams::default().grace_period(0))
            .await
            .unwrap();
    }
}

#[tokio::test]
async fn finalizers_hold_deletion() {
    let (_server, client) = client().await;
    let api: Api<ConfigMap> = Api::default_namespaced(client);
    let mut c = cm("f", &[]);
    c.metadata.finalizers = Some(vec!["example.com/hold".into()]);
    api.create(&PostParams::default(), &c).await.unwrap();
    api.delete("f", &DeleteParams::default()).await.unwrap();
    let held = api.get("f").await.unwrap();
    assert!(held.metadata.deletion_timestamp.is_some());
    api.patch(
        "f",
        &PatchParams::default(),
        &Patch::Merge(json!({"metadata": {"finalizers": null}})),
    )
    .await
    .unwrap();
    assert_eq!(status_code(api.get("f").await.unwrap_err()).0, 404);
}

#[tokio::test]
async fn namespace_lifecycle() {
    let (_server, client) = client().await;
    let namespaces: Api<Namespace> = Api::all(client.clone());
    // The namespaces the server starts with look as if created through the API (upstream's
    // kube-apiserver makes them so): the name label, Active, the kubernetes finalizer.
    for name in ["default", "kube-system", "kube-public", "kube-node-lease"] {
        let ns = namespaces.get(name).await.unwrap();
        assert_eq!(
            ns.metadata.labels.unwrap()["kubernetes.io/metadata.name"],
            name
        );
        assert_eq!(ns.status.unwrap().phase.as_deref(), Some("Active"));
        assert_eq!(ns.spec.unwrap().finalizers.unwrap(), ["kubernetes"]);
    }
    let ns: Namespace = serde_json::from_value(json!({"metadata": {"name": "tmp"}})).unwrap();
    namespaces
        .create(&PostParams::default(), &ns)
        .await
        .unwrap();
    let api: Api<ConfigMap> = Api::namespaced(client.clone(), "tmp");
    api.create(&PostParams::default(), &cm("x", &[]))
        .await
        .unwrap();
    namespaces
        .delete("tmp", &DeleteParams::default())
        .await
        .unwrap();
    // Terminating: creates are forbidden (or the namespace is already gone).
    if let Err(kube::Error::Api(s)) = api.create(&PostParams::default(), &cm("y", &[])).await {
        assert!(s.code == 403 || s.code == 404, "{s:?}");
    }
    for _ in 0..50 {
        if namespaces.get_opt("tmp").await.unwrap().is_none() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(namespaces.get_opt("tmp").await.unwrap().is_none());
}

#[tokio::test]
async fn watcher_and_reflector_see_events() {
    let (_server, client) = client().await;
    let api: Api<ConfigMap> = Api::default_namespaced(client);
    let (reader, writer) = reflector::store();
    let stream = reflector(
        writer,
        watcher(api.clone(), watcher::Config::default().labels("w=1")),
    )
    .applied_objects()
    .boxed();
    let handle = tokio::spawn(async move { stream.take(2).try_collect::<Vec<_>>().await });
    tokio::time::sleep(Duration::from_millis(200)).await;
    api.create(&PostParams::default(), &cm("w1", &[("w", "1")]))
        .await
        .unwrap();
    api.create(&PostParams::default(), &cm("w0", &[("w", "0")]))
        .await
        .unwrap();
    api.create(&PostParams::default(), &cm("w2", &[("w", "1")]))
        .await
        .unwrap();
    let seen = tokio::time::timeout(Duration::from_secs(10), handle)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    let names: Vec<_> = seen
        .iter()
        .map(|c| c.metadata.name.clone().unwrap())
        .collect();
    assert_eq!(names, vec!["w1", "w2"]);
    assert_eq!(reader.state().len(), 2);
}

#[tokio::test]
async fn discovery_works_for_kube() {
    let (_server, client) = client().await;
    let discovery = kube::discovery::Discovery::new(client.clone())
        .run()
        .await
        .unwrap();
    let apps = discovery
        .groups()
        .find(|g| g.name() == "apps")
        .expect("apps group");
    assert!(apps
        .recommended_resources()
        .iter()
        .any(|(r, _)| r.plural == "deployments"));
    let version = client.apiserver_version().await.unwrap();
    assert_eq!(version.major, "1");
}

#[tokio::test]
async fn custom_resources_are_served_from_crds() {
    use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
    use kube::api::{ApiResource, DynamicObject, GroupVersionKind};
    use kube::runtime::wait::{await_condition, conditions};

    let (_server, client) = client().await;
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    let crd: CustomResourceDefinition = serde_json::from_value(json!({
        "metadata": { "name": "widgets.example.com" },
        "spec": {
            "group": "example.com",
            "scope": "Namespaced",
            "names": { "plural": "widgets", "singular": "widget", "kind": "Widget", "shortNames": ["wd"] },
            "versions": [{
                "name": "v1", "served": true, "storage": true,
                "schema": { "openAPIV3Schema": { "type": "object", "x-kubernetes-preserve-unknown-fields": true } },
                "subresources": { "status": {} },
            }],
        },
    }))
    .unwrap();
    crds.create(&PostParams::default(), &crd).await.unwrap();
    tokio::time::timeout(
        Duration::from_secs(10),
        await_condition(
            crds.clone(),
            "widgets.example.com",
            conditions::is_crd_established(),
        ),
    )
    .await
    .unwrap()
    .unwrap();

    let gvk = GroupVersionKind::gvk("example.com", "v1", "Widget");
    let resource = ApiResource::from_gvk_with_plural(&gvk, "widgets");
    let widgets: Api<DynamicObject> = Api::namespaced_with(client.clone(), "default", &resource);
    let mut w = DynamicObject::new("w1", &resource);
    w.data = json!({ "spec": { "size": 3 } });
    let created = widgets.create(&PostParams::default(), &w).await.unwrap();
    assert_eq!(created.metadata.generation, Some(1));
    let patched = widgets
        .patch(
            "w1",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"size": 4}})),
        )
        .await
        .unwrap();
    assert_eq!(patched.metadata.generation, Some(2));
    let with_status = widgets
        .patch_status(
            "w1",
            &PatchParams::default(),
            &Patch::Merge(json!({"status": {"ready": true}})),
        )
        .await
        .unwrap();
    assert_eq!(with_status.data["status"]["ready"], true);
    assert_eq!(with_status.metadata.generation, Some(2));
    assert_eq!(
        widgets
            .list(&ListParams::default())
            .await
            .unwrap()
            .items
            .len(),
        1
    );

    // Deleting the CRD removes its objects and stops serving it.
    crds.delete("widgets.example.com", &DeleteParams::default())
        .await
        .unwrap();
    for _ in 0..50 {
        if crds.get_opt("widgets.example.com").await.unwrap().is_none() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(crds.get_opt("widgets.example.com").await.unwrap().is_none());
    assert_eq!(
        status_code(widgets.list(&ListParams::default()).await.unwrap_err()).0,
        404
    );
}

#[tokio::test]
async fn admission_plugins_mutate_and_validate() {
    use kernel_api::{Admission, AdmissionRequest, Error};

    struct Stamp;
    #[async_trait::async_trait]
    impl Admission for Stamp {
        async fn mutate(
            &self,
            request: &AdmissionRequest,
            object: &mut serde_json::Value,
        ) -> kernel_api::Result<()> {
            if request.resource == "configmaps" {
                object["metadata"]["labels"]["stamped-by"] =
                    json!(request.user.name.replace(':', "-"));
            }
            Ok(())
        }
        async fn validate(
            &self,
            request: &AdmissionRequest,
            _object: &serde_json::Value,
            _old: Option<&serde_json::Value>,
        ) -> kernel_api::Result<()> {
            if request.name == "forbidden" {
                return Err(Error::Forbidden(format!(
                    "configmaps \"{}\" is forbidden: denied by Stamp",
                    request.name
                )));
            }
            Ok(())
        }
    }

    let server = ApiServer::builder().admission(Stamp).build().await.unwrap();
    let api: Api<ConfigMap> = Api::default_namespaced(kube::Client::new(server, "default"));
    let created = api
        .create(&PostParams::default(), &cm("ok", &[]))
        .await
        .unwrap();
    assert_eq!(
        created.metadata.labels.unwrap()["stamped-by"],
        "kubernetes-admin"
    );
    let err = api
        .create(&PostParams::default(), &cm("forbidden", &[]))
        .await
        .unwrap_err();
    assert_eq!(status_code(err), (403, "Forbidden".into()));
}

#[tokio::test]
async fn writes_run_upstreams_steps_in_order() {
    use kernel_api::{Admission, AdmissionRequest, Error, Operation};
    use std::sync::Mutex;

    /// Records what mutating admission sees, and refuses `refused` configmaps when validating.
    #[derive(Default)]
    struct Recorder {
        seen: Mutex<Vec<(Operation, String, serde_json::Value)>>,
    }
    #[async_trait::async_trait]
    impl Admission for Recorder {
        async fn mutate(
            &self,
            request: &AdmissionRequest,
            object: &mut serde_json::Value,
        ) -> kernel_api::Result<()> {
            if request.resource == "pods" {
                self.seen.lock().unwrap().push((
                    request.operation,
                    request.name.clone(),
                    object.clone(),
                ));
                // Status set by admission on create is reset by PrepareForCreate, which runs after.
                object["status"] = json!({ "phase": "Running" });
            }
            Ok(())
        }
        async fn validate(
            &self,
            request: &AdmissionRequest,
            _object: &serde_json::Value,
            _old: Option<&serde_json::Value>,
        ) -> kernel_api::Result<()> {
            if request.name.starts_with("refused") {
                return Err(Error::Forbidden("refused by Recorder".into()));
            }
            Ok(())
        }
    }

    let recorder = Arc::new(Recorder::default());
    let server = ApiServer::builder()
        .admission(recorder.clone())
        .build()
        .await
        .unwrap();
    let client = kube::Client::new(server, "default");

    // Mutating admission runs before the system metadata and PrepareForCreate: no uid, no
    // generated name yet; the status it sets is reset.
    let pods: Api<Pod> = Api::default_namespaced(client.clone());
    let pod: Pod = serde_json::from_value(json!({
        "metadata": { "generateName": "web-" },
        "spec": { "containers": [{ "name": "c", "image": "nginx" }] },
    }))
    .unwrap();
    let created = pods.create(&PostParams::default(), &pod).await.unwrap();
    assert_eq!(created.status.unwrap().phase.as_deref(), Some("Pending"));
    {
        let seen = recorder.seen.lock().unwrap();
        let (operation, name, object) = &seen[0];
        assert_eq!((*operation, name.as_str()), (Operation::Create, ""));
        assert!(object["metadata"].get("uid").is_none());
        assert!(object["metadata"].get("name").is_none());
        // Defaulting ran before admission.
        assert_eq!(object["spec"]["restartPolicy"], "Always");
    }

    // Validating admission sees the generated name.
    let configmaps: Api<ConfigMap> = Api::default_namespaced(client.clone());
    let mut refused = cm("", &[]);
    refused.metadata.name = None;
    refused.metadata.generate_name = Some("refused-".into());
    let err = configmaps
        .create(&PostParams::default(), &refused)
        .await
        .unwrap_err();
    assert_eq!(status_code(err), (403, "Forbidden".into()));

    // Namespace lifecycle is the first admission step: a missing namespace is a 404 before the
    // object is validated (upstream's order), not a 422.
    let elsewhere: Api<ConfigMap> = Api::namespaced(client.clone(), "missing");
    let invalid = cm("Not_A_Name", &[]);
    let err = elsewhere
        .create(&PostParams::default(), &invalid)
        .await
        .unwrap_err();
    assert_eq!(status_code(err).0, 404);
    let err = configmaps
        .create(&PostParams::default(), &invalid)
        .await
        .unwrap_err();
    assert_eq!(status_code(err), (422, "Invalid".into()));
}

#[tokio::test]
async fn foreground_deletion_waits_for_the_garbage_collector() {
    let (_server, client) = client().await;
    let api: Api<ConfigMap> = Api::default_namespaced(client);
    api.create(&PostParams::default(), &cm("owner", &[]))
        .await
        .unwrap();
    api.delete("owner", &DeleteParams::foreground())
        .await
        .unwrap();
    let held = api.get("owner").await.unwrap();
    assert!(held.metadata.deletion_timestamp.is_some());
    assert_eq!(
        held.metadata.finalizers,
        Some(vec!["foregroundDeletion".to_string()])
    );
    // The GC (kernel-controllers) removes the finalizer once dependents are gone.
    api.patch(
        "owner",
        &PatchParams::default(),
        &Patch::Merge(json!({"metadata": {"finalizers": null}})),
    )
    .await
    .unwrap();
    assert_eq!(status_code(api.get("owner").await.unwrap_err()).0, 404);
}

#[tokio::test]
async fn events_k8s_io_events_are_core_events() {
    use k8s_openapi::api::core::v1::Event as CoreEvent;
    use k8s_openapi::api::events::v1::Event;

    let (_server, client) = client().await;
    let events: Api<Event> = Api::default_namespaced(client.clone());
    let event: Event = serde_json::from_value(json!({
        "metadata": {"name": "p.1", "namespace": "default"},
        "eventTime": "2025-01-01T00:00:00.000000Z",
        "regarding": {"kind": "Pod", "name": "p", "namespace": "default"},
        "reason": "Scheduled", "note": "assigned to n1", "type": "Normal", "action": "Binding",
        "reportingController": "kernel-sched", "reportingInstance": "kernel-sched-1",
    }))
    .unwrap();
    events.create(&PostParams::default(), &event).await.unwrap();
    let core: Api<CoreEvent> = Api::default_namespaced(client);
    let seen = core.get("p.1").await.unwrap();
    assert_eq!(seen.message.as_deref(), Some("assigned to n1"));
    assert_eq!(seen.involved_object.name.as_deref(), Some("p"));
    let listed = core
        .list(&ListParams::default().fields("involvedObject.name=p"))
        .await
        .unwrap();
    assert_eq!(listed.items.len(), 1);
    let back = events.get("p.1").await.unwrap();
    assert_eq!(back.note.as_deref(), Some("assigned to n1"));
}

#[tokio::test]
async fn custom_resources_follow_their_schema() {
    use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
    use kube::api::{ApiResource, DynamicObject, GroupVersionKind};

    let (_server, client) = client().await;
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    let crd: CustomResourceDefinition = serde_json::from_value(json!({
        "metadata": { "name": "gadgets.example.com" },
        "spec": {
            "group": "example.com",
            "scope": "Namespaced",
            "names": { "plural": "gadgets", "singular": "gadget", "kind": "Gadget" },
            "versions": [{
                "name": "v1", "served": true, "storage": true,
                "schema": { "openAPIV3Schema": {
                    "type": "object",
                    "properties": {
                        "spec": {
                            "type": "object",
                            "required": ["size"],
                            "properties": {
                                "size": { "type": "integer", "minimum": 1 },
                                "color": { "type": "string", "enum": ["red", "blue"], "default": "red" },
                            },
                        },
                    },
                }},
            }],
        },
    }))
    .unwrap();
    crds.create(&PostParams::default(), &crd).await.unwrap();
    let gvk = GroupVersionKind::gvk("example.com", "v1", "Gadget");
    let resource = ApiResource::from_gvk_with_plural(&gvk, "gadgets");
    let gadgets: Api<DynamicObject> = Api::namespaced_with(client, "default", &resource);

    let mut good = DynamicObject::new("g1", &resource);
    good.data = json!({ "spec": { "size": 2, "extra": true } });
    let created = gadgets.create(&PostParams::default(), &good).await.unwrap();
    assert_eq!(created.data["spec"]["color"], "red", "defaulted");
    assert!(created.data["spec"].get("extra").is_none(), "pruned");

    let mut bad = DynamicObject::new("g2", &resource);
    bad.data = json!({ "spec": { "size": "big", "color": "green" } });
    let err = gadgets
        .create(&PostParams::default(), &bad)
        .await
        .unwrap_err();
    match err {
        kube::Error::Api(s) => {
            assert_eq!(s.code, 422, "{s:?}");
            let fields: Vec<_> = s
                .details
                .unwrap()
                .causes
                .into_iter()
                .map(|c| c.field)
                .collect();
            assert!(
                fields.contains(&"spec.size".to_string())
                    && fields.contains(&"spec.color".to_string()),
                "{fields:?}"
            );
        }
        other => panic!("{other:?}"),
    }
    let mut missing = DynamicObject::new("g3", &resource);
    missing.data = json!({ "spec": {} });
    let err = gadgets
        .create(&PostParams::default(), &missing)
        .await
        .unwrap_err();
    assert_eq!(status_code(err).0, 422);
}

#[tokio::test]
async fn watcher_with_streaming_lists() {
    let (_server, client) = client().await;
    let api: Api<ConfigMap> = Api::default_namespaced(client);
    api.create(&PostParams::default(), &cm("before", &[]))
        .await
        .unwrap();
    let stream = watcher(api.clone(), watcher::Config::default().streaming_lists())
        .applied_objects()
        .boxed();
    let handle = tokio::spawn(async move { stream.take(2).try_collect::<Vec<_>>().await });
    tokio::time::sleep(Duration::from_millis(200)).await;
    api.create(&PostParams::default(), &cm("after", &[]))
        .await
        .unwrap();
    let seen = tokio::time::timeout(Duration::from_secs(10), handle)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    let names: Vec<_> = seen
        .iter()
        .map(|c| c.metadata.name.clone().unwrap())
        .collect();
    assert_eq!(names, vec!["before", "after"]);
}
