//! Tests of JSON, merge and strategic merge patches.

use super::*;
use serde_json::json;

#[test]
fn json_patch_operations() {
    let mut doc = json!({"metadata": {"labels": {"a": "1"}}, "spec": {"list": [1, 2]}});
    json_patch(
        &mut doc,
        &json!([
            {"op": "test", "path": "/metadata/labels/a", "value": "1"},
            {"op": "add", "path": "/metadata/labels/b", "value": "2"},
            {"op": "remove", "path": "/metadata/labels/a"},
            {"op": "replace", "path": "/spec/list/0", "value": 9},
            {"op": "add", "path": "/spec/list/-", "value": 3},
            {"op": "copy", "from": "/spec/list", "path": "/spec/copy"},
            {"op": "move", "from": "/spec/copy", "path": "/spec/moved"}
        ]),
    )
    .unwrap();
    assert_eq!(
        doc,
        json!({"metadata": {"labels": {"b": "2"}}, "spec": {"list": [9, 2, 3], "moved": [9, 2, 3]}})
    );
}

#[test]
fn json_patch_errors_leave_doc_unchanged() {
    let orig = json!({"a": 1});
    let mut doc = orig.clone();
    let e = json_patch(
        &mut doc,
        &json!([{"op": "add", "path": "/b", "value": 2}, {"op": "test", "path": "/a", "value": 2}]),
    )
    .unwrap_err();
    assert!(matches!(e, PatchError::TestFailed(_)), "{e:?}");
    assert_eq!(doc, orig);
    let e = json_patch(&mut doc, &json!([{"op": "remove", "path": "/nope"}])).unwrap_err();
    assert!(matches!(e, PatchError::Apply(_)));
    assert_eq!(e.status_code(), 422);
    let e = json_patch(&mut doc, &json!({"op": "add"})).unwrap_err();
    assert_eq!(e.status_code(), 400);
    let e = json_patch(&mut doc, &json!([{"op": "frob", "path": "/a"}])).unwrap_err();
    assert!(matches!(e, PatchError::Invalid(_)));
}

#[test]
fn merge_patch_rfc7386() {
    let cases = [
        (json!({"a": "b"}), json!({"a": "c"}), json!({"a": "c"})),
        (json!({"a": "b"}), json!({"a": null}), json!({})),
        (json!({"a": [1, 2]}), json!({"a": [3]}), json!({"a": [3]})),
        (
            json!({"a": {"b": "c"}}),
            json!({"a": {"b": "d", "c": null}}),
            json!({"a": {"b": "d"}}),
        ),
        (json!({"a": "b"}), json!(["c"]), json!(["c"])),
        (
            json!({"e": null}),
            json!({"a": 1}),
            json!({"e": null, "a": 1}),
        ),
    ];
    for (mut doc, patch, want) in cases {
        merge_patch(&mut doc, &patch);
        assert_eq!(doc, want);
    }
}

fn smp(kind: &str, doc: Value, patch: Value) -> Value {
    let mut d = doc;
    strategic_merge_patch(&mut d, &patch, kind).unwrap_or_else(|e| panic!("{e}"));
    d
}

fn deployment(containers: Value) -> Value {
    json!({"kind": "Deployment", "spec": {"replicas": 2, "template": {"spec": {"containers": containers}}}})
}

/// Cases from the Kubernetes docs page "Update API Objects in Place Using
/// kubectl patch" and upstream's documented SMP semantics.
#[test]
fn strategic_merge_patch_table() {
    let cases: Vec<(&str, &str, Value, Value, Value)> = vec![
        (
            "docs: containers merged by name, new container placed first",
            "Deployment",
            deployment(json!([{"name": "patch-demo-ctr", "image": "nginx"}])),
            json!({"spec": {"template": {"spec": {"containers": [{"name": "patch-demo-ctr-2", "image": "redis"}]}}}}),
            deployment(
                json!([{"name": "patch-demo-ctr-2", "image": "redis"}, {"name": "patch-demo-ctr", "image": "nginx"}]),
            ),
        ),
        (
            "existing container merged in place",
            "Deployment",
            deployment(
                json!([{"name": "a", "image": "x:1", "ports": [{"containerPort": 80}]}, {"name": "b", "image": "y"}]),
            ),
            json!({"spec": {"template": {"spec": {"containers": [{"name": "a", "image": "x:2"}]}}}}),
            deployment(
                json!([{"name": "a", "image": "x:2", "ports": [{"containerPort": 80}]}, {"name": "b", "image": "y"}]),
            ),
        ),
        (
            "docs: tolerations are replaced, not merged",
            "Deployment",
            json!({"spec": {"template": {"spec": {"tolerations": [{"key": "a", "effect": "NoSchedule"}]}}}}),
            json!({"spec": {"template": {"spec": {"tolerations": [{"key": "b", "effect": "NoSchedule"}]}}}}),
            json!({"spec": {"template": {"spec": {"tolerations": [{"key": "b", "effect": "NoSchedule"}]}}}}),
        ),
        (
            "docs: $retainKeys clears rollingUpdate when switching to Recreate",
            "Deployment",
            json!({"spec": {"strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}}}}),
            json!({"spec": {"strategy": {"$retainKeys": ["type"], "type": "Recreate"}}}),
            json!({"spec": {"strategy": {"type": "Recreate"}}}),
        ),
        (
            "null deletes a field; maps merge",
            "Pod",
            json!({"metadata": {"labels": {"a": "1", "b": "2"}}}),
            json!({"metadata": {"labels": {"a": null, "c": "3"}}}),
            json!({"metadata": {"labels": {"b": "2", "c": "3"}}}),
        ),
        (
            "container ports merged by containerPort",
            "Pod",
            json!({"spec": {"containers": [{"name": "c", "ports": [{"containerPort": 80, "name": "http"}]}]}}),
            json!({"spec": {"containers": [{"name": "c", "ports": [{"containerPort": 80, "protocol": "TCP"}, {"containerPort": 443}]}]}}),
            json!({"spec": {"containers": [{"name": "c", "ports": [{"containerPort": 80, "name": "http", "protocol": "TCP"}, {"containerPort": 443}]}]}}),
        ),
        (
            "env merged by name, volumeMounts by mountPath",
            "Pod",
            json!({"spec": {"containers": [{"name": "c", "env": [{"name": "A", "value": "1"}], "volumeMounts": [{"mountPath": "/x", "name": "v"}]}]}}),
            json!({"spec": {"containers": [{"name": "c", "env": [{"name": "A", "value": "2"}], "volumeMounts": [{"mountPath": "/x", "readOnly": true}]}]}}),
            json!({"spec": {"containers": [{"name": "c", "env": [{"name": "A", "value": "2"}], "volumeMounts": [{"mountPath": "/x", "name": "v", "readOnly": true}]}]}}),
        ),
        (
            "service ports merged by port",
            "Service",
            json!({"spec": {"ports": [{"port": 80, "targetPort": 8080}]}}),
            json!({"spec": {"ports": [{"port": 80, "name": "http"}, {"port": 443}]}}),
            json!({"spec": {"ports": [{"port": 80, "targetPort": 8080, "name": "http"}, {"port": 443}]}}),
        ),
        (
            "$patch: delete removes an element by merge key",
            "Pod",
            json!({"spec": {"containers": [{"name": "a"}, {"name": "b"}]}}),
            json!({"spec": {"containers": [{"name": "a", "$patch": "delete"}]}}),
            json!({"spec": {"containers": [{"name": "b"}]}}),
        ),
        (
            "$patch: replace on a list",
            "Pod",
            json!({"spec": {"containers": [{"name": "a", "image": "x"}, {"name": "b"}]}}),
            json!({"spec": {"containers": [{"name": "c"}, {"$patch": "replace"}]}}),
            json!({"spec": {"containers": [{"name": "c"}]}}),
        ),
        (
            "$patch: replace on a map",
            "Pod",
            json!({"metadata": {"labels": {"a": "1", "b": "2"}}}),
            json!({"metadata": {"labels": {"$patch": "replace", "c": "3"}}}),
            json!({"metadata": {"labels": {"c": "3"}}}),
        ),
        (
            "$patch: delete on a map empties it",
            "Pod",
            json!({"metadata": {"labels": {"a": "1"}}}),
            json!({"metadata": {"labels": {"$patch": "delete"}}}),
            json!({"metadata": {"labels": {}}}),
        ),
        (
            "finalizers merge as a set; $deleteFromPrimitiveList removes",
            "Pod",
            json!({"metadata": {"finalizers": ["a", "b"]}}),
            json!({"metadata": {"finalizers": ["c", "a"], "$deleteFromPrimitiveList/finalizers": ["b"]}}),
            json!({"metadata": {"finalizers": ["c", "a"]}}),
        ),
        (
            "$setElementOrder orders the merged list",
            "Pod",
            json!({"spec": {"containers": [{"name": "a"}, {"name": "b"}, {"name": "c"}]}}),
            json!({"spec": {"$setElementOrder/containers": [{"name": "c"}, {"name": "b"}, {"name": "a"}], "containers": [{"name": "b", "image": "i"}]}}),
            json!({"spec": {"containers": [{"name": "c"}, {"name": "b", "image": "i"}, {"name": "a"}]}}),
        ),
        (
            "$setElementOrder without the list reorders the live list",
            "Pod",
            json!({"metadata": {"finalizers": ["x", "y"]}}),
            json!({"metadata": {"$setElementOrder/finalizers": ["y", "x"]}}),
            json!({"metadata": {"finalizers": ["y", "x"]}}),
        ),
        (
            "conditions merged by type in status",
            "Pod",
            json!({"status": {"conditions": [{"type": "Ready", "status": "False"}, {"type": "Initialized", "status": "True"}]}}),
            json!({"status": {"conditions": [{"type": "Ready", "status": "True"}]}}),
            json!({"status": {"conditions": [{"type": "Ready", "status": "True"}, {"type": "Initialized", "status": "True"}]}}),
        ),
        (
            "ownerReferences merged by uid",
            "ConfigMap",
            json!({"metadata": {"ownerReferences": [{"uid": "1", "name": "a"}]}}),
            json!({"metadata": {"ownerReferences": [{"uid": "2", "name": "b"}]}}),
            json!({"metadata": {"ownerReferences": [{"uid": "2", "name": "b"}, {"uid": "1", "name": "a"}]}}),
        ),
        (
            "CronJob jobTemplate containers merged by name",
            "CronJob",
            json!({"spec": {"jobTemplate": {"spec": {"template": {"spec": {"containers": [{"name": "a", "image": "x"}]}}}}}}),
            json!({"spec": {"jobTemplate": {"spec": {"template": {"spec": {"containers": [{"name": "a", "image": "y"}]}}}}}}),
            json!({"spec": {"jobTemplate": {"spec": {"template": {"spec": {"containers": [{"name": "a", "image": "y"}]}}}}}}),
        ),
        (
            "lists of unknown kinds are replaced",
            "Widget",
            json!({"spec": {"containers": [{"name": "a"}]}}),
            json!({"spec": {"containers": [{"name": "b"}]}}),
            json!({"spec": {"containers": [{"name": "b"}]}}),
        ),
        (
            "args (no strategy) replaced",
            "Pod",
            json!({"spec": {"containers": [{"name": "a", "args": ["1", "2"]}]}}),
            json!({"spec": {"containers": [{"name": "a", "args": ["3"]}]}}),
            json!({"spec": {"containers": [{"name": "a", "args": ["3"]}]}}),
        ),
        (
            "directives inside new content are resolved",
            "Pod",
            json!({"spec": {}}),
            json!({"spec": {"containers": [{"name": "a", "env": [{"name": "X", "$patch": "delete"}]}], "volumes": null}}),
            json!({"spec": {"containers": [{"name": "a", "env": []}]}}),
        ),
        (
            "volumes merged by name with $retainKeys",
            "Pod",
            json!({"spec": {"volumes": [{"name": "v", "emptyDir": {}}]}}),
            json!({"spec": {"volumes": [{"name": "v", "$retainKeys": ["name", "hostPath"], "hostPath": {"path": "/x"}}]}}),
            json!({"spec": {"volumes": [{"name": "v", "hostPath": {"path": "/x"}}]}}),
        ),
    ];
    for (name, kind, doc, patch, want) in cases {
        assert_eq!(smp(kind, doc, patch), want, "{name}");
    }
}

#[test]
fn strategic_merge_patch_errors() {
    let orig = json!({"spec": {"containers": [{"name": "a"}]}});
    let cases = [
        json!({"spec": {"containers": [{"image": "x"}]}}),
        json!({"spec": {"containers": [{"$patch": "merge"}]}}),
        json!({"spec": {"$patch": "frobnicate"}}),
        json!({"spec": {"$retainKeys": "x"}}),
        json!({"spec": {"$retainKeys": ["a"], "b": 1}}),
        json!({"spec": {"$deleteFromPrimitiveList/x": "y"}}),
        json!(["not", "an", "object"]),
    ];
    for patch in cases {
        let mut doc = orig.clone();
        let r = strategic_merge_patch(&mut doc, &patch, "Pod");
        assert!(r.is_err(), "{patch}");
        assert_eq!(doc, orig, "doc unchanged after failed {patch}");
    }
    let mut doc = orig.clone();
    let e = strategic_merge_patch(
        &mut doc,
        &json!({"spec": {"containers": [{"image": "x"}]}}),
        "Pod",
    )
    .unwrap_err();
    assert!(e
        .to_string()
        .contains("does not contain declared merge key: name"));
}

#[test]
fn field_strategy_lookup() {
    use ListStrategy::*;
    let cases: &[(&str, &[&str], ListStrategy)] = &[
        ("Pod", &["spec", "containers"], MergeKey("name")),
        ("Pod", &["spec", "tolerations"], Replace),
        ("Pod", &["spec", "hostAliases"], MergeKey("ip")),
        (
            "Pod",
            &["spec", "initContainers", "ports"],
            MergeKey("containerPort"),
        ),
        (
            "StatefulSet",
            &["spec", "template", "spec", "volumes"],
            MergeKey("name"),
        ),
        (
            "Job",
            &["spec", "template", "spec", "imagePullSecrets"],
            MergeKey("name"),
        ),
        ("Service", &["spec", "ports"], MergeKey("port")),
        ("Node", &["status", "addresses"], MergeKey("type")),
        ("Node", &["spec", "taints"], Replace),
        ("Namespace", &["metadata", "finalizers"], MergePrimitive),
        ("Deployment", &["status", "conditions"], MergeKey("type")),
    ];
    for (kind, path, want) in cases {
        assert_eq!(field_strategy(kind, path), *want, "{kind} {path:?}");
    }
}
