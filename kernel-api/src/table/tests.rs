//! Tests of server-side printing: the Table envelope and the kinds' printers.

use super::*;

fn now() -> Timestamp {
    "2024-01-10T12:00:00Z".parse().unwrap()
}

fn to_table_at(resource: &str, objects: &[Value], wide: bool, now: Timestamp) -> Value {
    crate::strategy::to_table_at(
        &*crate::resources::strategy_for_plural(resource),
        objects,
        wide,
        now,
    )
}

fn row_cells(resource: &str, obj: Value, wide: bool) -> Vec<Value> {
    let t = to_table_at(resource, &[obj], wide, now());
    t["rows"][0]["cells"].as_array().unwrap().clone()
}

fn col_names(resource: &str, wide: bool) -> Vec<String> {
    let t = to_table_at(resource, &[], wide, now());
    t["columnDefinitions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn human_duration_table() {
    let cases: &[(i64, &str)] = &[
        (-5, "<invalid>"),
        (-1, "0s"),
        (0, "0s"),
        (5, "5s"),
        (119, "119s"),
        (120, "2m"),
        (200, "3m20s"),
        (600, "10m"),
        (179 * 60, "179m"),
        (3 * 3600, "3h"),
        (5 * 3600 + 3 * 60, "5h3m"),
        (8 * 3600, "8h"),
        (47 * 3600, "47h"),
        (48 * 3600, "2d"),
        (3 * 86400 + 4 * 3600, "3d4h"),
        (8 * 86400, "8d"),
        (400 * 86400, "400d"),
        (2 * 365 * 86400, "2y"),
        (3 * 365 * 86400 + 20 * 86400, "3y20d"),
        (9 * 365 * 86400, "9y"),
    ];
    for (secs, want) in cases {
        assert_eq!(
            human_duration(SignedDuration::from_secs(*secs)),
            *want,
            "{secs}"
        );
    }
    assert_eq!(translate_timestamp_since(None, now()), "<unknown>");
    assert_eq!(
        translate_timestamp_since(Some("2024-01-10T11:59:55Z"), now()),
        "5s"
    );
}

#[test]
fn table_envelope_and_name_format() {
    let pod = json!({"metadata": {"name": "p", "namespace": "ns", "creationTimestamp": "2024-01-10T11:00:00Z"}});
    let t = to_table_at("pods", &[pod], false, now());
    assert_eq!(t["kind"], "Table");
    assert_eq!(t["apiVersion"], "meta.k8s.io/v1");
    assert_eq!(t["columnDefinitions"][0]["format"], "name");
    assert_eq!(t["columnDefinitions"][0]["priority"], 0);
    assert_eq!(t["rows"][0]["object"]["kind"], "PartialObjectMetadata");
    assert_eq!(t["rows"][0]["object"]["metadata"]["namespace"], "ns");
    assert_eq!(
        col_names("pods", false),
        ["Name", "Ready", "Status", "Restarts", "Age"]
    );
    assert_eq!(
        col_names("pods", true),
        [
            "Name",
            "Ready",
            "Status",
            "Restarts",
            "Age",
            "IP",
            "Node",
            "Nominated Node",
            "Readiness Gates"
        ]
    );
    let wide = to_table_at("pods", &[], true, now());
    assert_eq!(wide["columnDefinitions"][5]["priority"], 1);
}

#[test]
fn pod_status_table() {
    let base = |status: Value, extra_meta: Value| {
        let mut meta = json!({"name": "p", "creationTimestamp": "2024-01-10T11:55:00Z"});
        meta.as_object_mut()
            .unwrap()
            .extend(extra_meta.as_object().unwrap().clone());
        json!({"metadata": meta, "spec": {"containers": [{"name": "c"}]}, "status": status})
    };
    let cases: Vec<(&str, Value, [&str; 4])> = vec![
        (
            "running and ready",
            base(
                json!({"phase": "Running", "containerStatuses": [{"name": "c", "ready": true, "restartCount": 0, "state": {"running": {}}}]}),
                json!({}),
            ),
            ["p", "1/1", "Running", "0"],
        ),
        (
            "pending, image pull",
            base(
                json!({"phase": "Pending", "containerStatuses": [{"name": "c", "ready": false, "restartCount": 0, "state": {"waiting": {"reason": "ErrImagePull"}}}]}),
                json!({}),
            ),
            ["p", "0/1", "ErrImagePull", "0"],
        ),
        (
            "completed",
            base(
                json!({"phase": "Succeeded", "containerStatuses": [{"name": "c", "ready": false, "restartCount": 0, "state": {"terminated": {"reason": "Completed", "exitCode": 0}}}]}),
                json!({}),
            ),
            ["p", "0/1", "Completed", "0"],
        ),
        (
            "terminated without reason",
            base(
                json!({"phase": "Failed", "containerStatuses": [{"name": "c", "state": {"terminated": {"exitCode": 2}}}]}),
                json!({}),
            ),
            ["p", "0/1", "ExitCode:2", "0"],
        ),
        (
            "terminating",
            base(
                json!({"phase": "Running", "containerStatuses": [{"name": "c", "ready": true, "state": {"running": {}}}]}),
                json!({"deletionTimestamp": "2024-01-10T11:59:00Z"}),
            ),
            ["p", "1/1", "Terminating", "0"],
        ),
        (
            "restarts with last restart time",
            base(
                json!({"phase": "Running", "containerStatuses": [{"name": "c", "ready": true, "restartCount": 2, "state": {"running": {}}, "lastState": {"terminated": {"finishedAt": "2024-01-10T11:55:00Z"}}}]}),
                json!({}),
            ),
            ["p", "1/1", "Running", "2 (5m ago)"],
        ),
        (
            "no status yet",
            base(json!({"phase": "Pending"}), json!({})),
            ["p", "0/1", "Pending", "0"],
        ),
    ];
    for (name, pod, want) in cases {
        let cells = row_cells("pods", pod, false);
        let got: Vec<&str> = cells[..4].iter().map(|c| c.as_str().unwrap()).collect();
        assert_eq!(got, want, "{name}");
        assert_eq!(cells[4], "5m", "{name}");
    }

    let init = json!({
        "metadata": {"name": "p"},
        "spec": {"initContainers": [{"name": "i1"}, {"name": "i2"}], "containers": [{"name": "c"}]},
        "status": {"phase": "Pending", "initContainerStatuses": [
            {"name": "i1", "state": {"terminated": {"exitCode": 0}}},
            {"name": "i2", "state": {"running": {}}}
        ]}
    });
    assert_eq!(row_cells("pods", init, false)[2], "Init:1/2");

    let wide = json!({
        "metadata": {"name": "p"},
        "spec": {"containers": [{"name": "c"}], "nodeName": "n1", "readinessGates": [{"conditionType": "x"}]},
        "status": {"phase": "Running", "podIPs": [{"ip": "10.1.0.5"}], "conditions": [{"type": "x", "status": "True"}]}
    });
    let cells = row_cells("pods", wide, true);
    assert_eq!(
        cells[5..],
        [
            json!("10.1.0.5"),
            json!("n1"),
            json!("<none>"),
            json!("1/1")
        ]
    );
}

#[test]
fn node_rows() {
    let node = json!({
        "metadata": {"name": "n1", "creationTimestamp": "2024-01-08T12:00:00Z",
            "labels": {"node-role.kubernetes.io/control-plane": "", "node-role.kubernetes.io/worker": ""}},
        "spec": {"unschedulable": true},
        "status": {"conditions": [{"type": "Ready", "status": "True"}],
            "addresses": [{"type": "InternalIP", "address": "10.0.0.1"}],
            "nodeInfo": {"kubeletVersion": "v1.33.0", "osImage": "Linux"}}
    });
    let cells = row_cells("nodes", node.clone(), true);
    assert_eq!(
        cells,
        vec![
            json!("n1"),
            json!("Ready,SchedulingDisabled"),
            json!("control-plane,worker"),
            json!("2d"),
            json!("v1.33.0"),
            json!("10.0.0.1"),
            json!("<none>"),
            json!("Linux"),
            json!("<unknown>"),
            json!("<unknown>")
        ]
    );
    let not_ready = json!({"metadata": {"name": "n"}, "status": {"conditions": [{"type": "Ready", "status": "Unknown"}]}});
    assert_eq!(row_cells("nodes", not_ready, false)[1], "NotReady");
    assert_eq!(
        row_cells("nodes", json!({"metadata": {"name": "n"}}), false)[1..3],
        [json!("Unknown"), json!("<none>")]
    );
}

#[test]
fn service_rows() {
    let cases = vec![
        (
            json!({"metadata": {"name": "s"}, "spec": {"type": "ClusterIP", "clusterIP": "10.96.0.1", "clusterIPs": ["10.96.0.1"], "ports": [{"port": 80, "protocol": "TCP"}], "selector": {"app": "web"}}}),
            ["s", "ClusterIP", "10.96.0.1", "<none>", "80/TCP"],
        ),
        (
            json!({"metadata": {"name": "s"}, "spec": {"type": "NodePort", "clusterIP": "10.96.0.2", "ports": [{"port": 80, "nodePort": 30080, "protocol": "TCP"}, {"port": 53, "protocol": "UDP"}]}}),
            [
                "s",
                "NodePort",
                "10.96.0.2",
                "<none>",
                "80:30080/TCP,53/UDP",
            ],
        ),
        (
            json!({"metadata": {"name": "s"}, "spec": {"type": "LoadBalancer", "clusterIP": "10.96.0.3", "ports": [{"port": 443}]}}),
            ["s", "LoadBalancer", "10.96.0.3", "<pending>", "443/TCP"],
        ),
        (
            json!({"metadata": {"name": "s"}, "spec": {"type": "ExternalName", "externalName": "example.com"}}),
            ["s", "ExternalName", "<none>", "example.com", "<none>"],
        ),
    ];
    for (svc, want) in cases {
        let cells = row_cells("services", svc, false);
        let got: Vec<&str> = cells[..5].iter().map(|c| c.as_str().unwrap()).collect();
        assert_eq!(got, want);
    }
    let svc = json!({"metadata": {"name": "s"}, "spec": {"selector": {"b": "2", "a": "1"}}});
    assert_eq!(row_cells("services", svc, true)[6], "a=1,b=2");
}

#[test]
fn workload_rows() {
    let dep = json!({
        "metadata": {"name": "d", "creationTimestamp": "2024-01-10T11:59:00Z"},
        "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "web"}},
            "template": {"spec": {"containers": [{"name": "a", "image": "nginx"}, {"name": "b", "image": "redis"}]}}},
        "status": {"readyReplicas": 2, "updatedReplicas": 3, "availableReplicas": 2}
    });
    assert_eq!(
        row_cells("deployments", dep, true),
        vec![
            json!("d"),
            json!("2/3"),
            json!(3),
            json!(2),
            json!("60s"),
            json!("a,b"),
            json!("nginx,redis"),
            json!("app=web")
        ]
    );
    assert_eq!(
        col_names("deployments", false),
        ["Name", "Ready", "Up-to-date", "Available", "Age"]
    );
    let job = json!({
        "metadata": {"name": "j"},
        "spec": {"completions": 1, "template": {"spec": {"containers": []}}},
        "status": {"succeeded": 1, "startTime": "2024-01-10T11:00:00Z", "completionTime": "2024-01-10T11:00:30Z",
            "conditions": [{"type": "Complete", "status": "True"}]}
    });
    let cells = row_cells("jobs", job, false);
    assert_eq!(
        cells[..4],
        [json!("j"), json!("Complete"), json!("1/1"), json!("30s")]
    );
    let cj =
        json!({"metadata": {"name": "c"}, "spec": {"schedule": "*/1 * * * *", "suspend": false}});
    assert_eq!(
        row_cells("cronjobs", cj, false),
        vec![
            json!("c"),
            json!("*/1 * * * *"),
            json!("<none>"),
            json!(false),
            json!(0),
            json!("<none>"),
            json!("<unknown>")
        ]
    );
    let sts =
        json!({"metadata": {"name": "s"}, "spec": {"replicas": 2}, "status": {"readyReplicas": 1}});
    assert_eq!(row_cells("statefulsets", sts, false)[1], "1/2");
}

#[test]
fn simple_kinds() {
    let cm =
        json!({"metadata": {"name": "cm"}, "data": {"a": "1", "b": "2"}, "binaryData": {"c": ""}});
    assert_eq!(
        row_cells("configmaps", cm, false)[..2],
        [json!("cm"), json!(3)]
    );
    let sec = json!({"metadata": {"name": "s"}, "type": "Opaque", "data": {"a": "MQ=="}});
    assert_eq!(
        row_cells("secrets", sec, false)[..3],
        [json!("s"), json!("Opaque"), json!(1)]
    );
    let ns = json!({"metadata": {"name": "default"}, "status": {"phase": "Active"}});
    assert_eq!(
        row_cells("namespaces", ns, false)[..2],
        [json!("default"), json!("Active")]
    );
    let ep = json!({"metadata": {"name": "e"}, "subsets": [{"addresses": [{"ip": "1.1.1.1"}, {"ip": "2.2.2.2"}, {"ip": "3.3.3.3"}, {"ip": "4.4.4.4"}], "ports": [{"port": 80}]}]});
    assert_eq!(
        row_cells("endpoints", ep, false)[1],
        "1.1.1.1:80,2.2.2.2:80,3.3.3.3:80 + 1 more..."
    );
    let ev = json!({"metadata": {"name": "e1"}, "type": "Normal", "reason": "Scheduled",
        "involvedObject": {"kind": "Pod", "name": "p"}, "message": "ok", "lastTimestamp": "2024-01-10T11:59:30Z", "count": 1});
    assert_eq!(
        row_cells("events", ev, false),
        vec![
            json!("30s"),
            json!("Normal"),
            json!("Scheduled"),
            json!("pod/p"),
            json!("ok")
        ]
    );
    let rb = json!({"metadata": {"name": "rb"}, "roleRef": {"kind": "ClusterRole", "name": "view"},
        "subjects": [{"kind": "ServiceAccount", "namespace": "ns", "name": "sa"}]});
    let cells = row_cells("rolebindings", rb, true);
    assert_eq!(cells[1], "ClusterRole/view");
    assert_eq!(cells[5], "ns:sa");
    let pvc = json!({"metadata": {"name": "c"}, "spec": {"volumeName": "pv1", "storageClassName": "std"},
        "status": {"phase": "Bound", "capacity": {"storage": "1Gi"}, "accessModes": ["ReadWriteOnce"]}});
    assert_eq!(
        row_cells("persistentvolumeclaims", pvc, false)[..6],
        [
            json!("c"),
            json!("Bound"),
            json!("pv1"),
            json!("1Gi"),
            json!("RWO"),
            json!("std")
        ]
    );
}

#[test]
fn more_kinds() {
    let pdb = json!({"metadata": {"name": "b"}, "spec": {"minAvailable": 2}, "status": {"disruptionsAllowed": 1}});
    assert_eq!(
        row_cells("poddisruptionbudgets", pdb, false)[..4],
        [json!("b"), json!("2"), json!("N/A"), json!(1)]
    );
    let hpa = json!({"metadata": {"name": "h"}, "spec": {"scaleTargetRef": {"kind": "Deployment", "name": "web"},
        "maxReplicas": 5, "metrics": [{"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 80}}}]},
        "status": {"currentReplicas": 2, "currentMetrics": [{"type": "Resource", "resource": {"name": "cpu", "current": {"averageUtilization": 40}}}]}});
    assert_eq!(
        row_cells("horizontalpodautoscalers", hpa, false)[..6],
        [
            json!("h"),
            json!("Deployment/web"),
            json!("cpu: 40%/80%"),
            json!("<unset>"),
            json!(5),
            json!(2)
        ]
    );
    let np =
        json!({"metadata": {"name": "n"}, "spec": {"podSelector": {"matchLabels": {"app": "a"}}}});
    assert_eq!(row_cells("networkpolicies", np, false)[1], "app=a");
    let np_all = json!({"metadata": {"name": "n"}, "spec": {"podSelector": {}}});
    assert_eq!(row_cells("networkpolicies", np_all, false)[1], "<none>");
    let api = json!({"metadata": {"name": "v1.apps"}, "status": {"conditions": [{"type": "Available", "status": "True"}]}});
    assert_eq!(
        row_cells("apiservices", api, false)[1..3],
        [json!("Local"), json!("True")]
    );
    let csr = json!({"metadata": {"name": "c"}, "spec": {"signerName": "kubernetes.io/kube-apiserver-client", "username": "alice"}});
    assert_eq!(
        row_cells("certificatesigningrequests", csr, false)[5],
        "Pending"
    );
}

#[test]
fn quota_template_revision_and_new_events() {
    let rq = json!({"metadata": {"name": "q"}, "spec": {"hard": {"pods": "10", "limits.cpu": "2", "requests.cpu": "1"}},
        "status": {"hard": {"pods": "10", "limits.cpu": "2", "requests.cpu": "1"}, "used": {"pods": "3"}}});
    assert_eq!(
        row_cells("resourcequotas", rq, false)[2..],
        [
            json!("pods: 3/10, requests.cpu: 0/1"),
            json!("limits.cpu: 0/2")
        ]
    );
    let pt = json!({"metadata": {"name": "t"}, "template": {"metadata": {"labels": {"a": "b"}}, "spec": {"containers": [{"name": "c", "image": "i"}]}}});
    assert_eq!(
        row_cells("podtemplates", pt, false),
        vec![json!("t"), json!("c"), json!("i"), json!("a=b")]
    );
    assert_eq!(col_names("podtemplates", false)[0], "Template");
    let cr = json!({"metadata": {"name": "r", "ownerReferences": [{"apiVersion": "apps/v1", "kind": "DaemonSet", "name": "ds", "controller": true}]}, "revision": 3});
    assert_eq!(
        row_cells("controllerrevisions", cr, false)[1..3],
        [json!("daemonset.apps/ds"), json!(3)]
    );
    let ev = json!({"metadata": {"name": "e"}, "type": "Warning", "reason": "BackOff", "note": "restarting",
        "regarding": {"kind": "Pod", "name": "p"}, "deprecatedLastTimestamp": "2024-01-10T11:59:00Z"});
    assert_eq!(
        row_cells("events", ev, false),
        vec![
            json!("60s"),
            json!("Warning"),
            json!("BackOff"),
            json!("pod/p"),
            json!("restarting")
        ]
    );
}

#[test]
fn default_columns_for_unknown_resources() {
    assert_eq!(col_names("widgets", true), ["Name", "Created At"]);
    assert_eq!(col_names("roles", true), ["Name", "Created At"]);
    let t = to_table_at(
        "widgets",
        &[json!({"metadata": {"name": "w", "creationTimestamp": "2024-01-01T00:00:00Z"}})],
        false,
        now(),
    );
    assert_eq!(t["columnDefinitions"][1]["type"], "date");
    assert_eq!(t["rows"][0]["cells"], json!(["w", "2024-01-01T00:00:00Z"]));
}

#[test]
fn replica_set_and_replication_controller_rows() {
    let template = json!({"spec": {"containers": [{"name": "a", "image": "nginx"}]}});
    let expected = |selector: &str| {
        vec![
            json!("r"),
            json!(3),
            json!(2),
            json!(1),
            json!("60s"),
            json!("a"),
            json!("nginx"),
            json!(selector),
        ]
    };
    let rs = json!({
        "metadata": {"name": "r", "creationTimestamp": "2024-01-10T11:59:00Z"},
        "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "web"}}, "template": template},
        "status": {"replicas": 2, "readyReplicas": 1}
    });
    assert_eq!(row_cells("replicasets", rs, true), expected("app=web"));
    // A ReplicationController's selector is a plain map, printed the same way.
    let rc = json!({
        "metadata": {"name": "r", "creationTimestamp": "2024-01-10T11:59:00Z"},
        "spec": {"replicas": 3, "selector": {"app": "web"}, "template": template},
        "status": {"replicas": 2, "readyReplicas": 1}
    });
    assert_eq!(
        row_cells("replicationcontrollers", rc, true),
        expected("app=web")
    );
    assert_eq!(
        col_names("replicationcontrollers", true),
        col_names("replicasets", true)
    );
}
