//! Tests of validation: metadata, the kinds' rules through their strategies, field errors.

use super::*;
use serde_json::json;

/// Validates with the strategy of the built-in resource `resource` ("pods", …).
fn validate(resource: &str, obj: &Value, old: Option<&Value>) -> Vec<FieldError> {
    crate::rest::validate_fields(&*crate::resources::strategy_for_plural(resource), obj, old)
}

fn pod() -> Value {
    json!({
        "metadata": {"name": "p", "namespace": "default"},
        "spec": {"containers": [{"name": "c", "image": "nginx", "ports": [{"containerPort": 80, "protocol": "TCP"}]}],
            "restartPolicy": "Always", "dnsPolicy": "ClusterFirst"}
    })
}

fn with(mut v: Value, ptr: &str, val: Value) -> Value {
    let (parent, key) = ptr.rsplit_once('/').unwrap();
    let p = if parent.is_empty() {
        &mut v
    } else {
        v.pointer_mut(parent).unwrap()
    };
    if let Ok(i) = key.parse::<usize>() {
        p.as_array_mut().unwrap()[i] = val;
    } else {
        p.as_object_mut().unwrap().insert(key.to_string(), val);
    }
    v
}

fn fields(errs: &[FieldError]) -> Vec<String> {
    errs.iter()
        .map(|e| format!("{}:{}", e.field, e.kind.reason()))
        .collect()
}

#[test]
fn error_rendering() {
    let e = FieldError::invalid("metadata.name", &json!("Foo"), "a lowercase thing");
    assert_eq!(
        e.to_string(),
        "metadata.name: Invalid value: \"Foo\": a lowercase thing"
    );
    assert_eq!(e.body(), "Invalid value: \"Foo\": a lowercase thing");
    assert_eq!(
        FieldError::required("spec.containers", "").to_string(),
        "spec.containers: Required value"
    );
    assert_eq!(
        FieldError::not_supported("spec.restartPolicy", &json!("Sometimes"), &["Always", "OnFailure", "Never"]).to_string(),
        "spec.restartPolicy: Unsupported value: \"Sometimes\": supported values: \"Always\", \"OnFailure\", \"Never\""
    );
    assert_eq!(
        FieldError::invalid("spec.replicas", &json!(-1), NEGATIVE).to_string(),
        "spec.replicas: Invalid value: -1: must be greater than or equal to 0"
    );
    assert_eq!(
        FieldError::too_long("metadata.annotations", 262144).to_string(),
        "metadata.annotations: Too long: may not be more than 262144 bytes"
    );
    assert_eq!(
        FieldError::duplicate("x", &json!("c")).to_string(),
        "x: Duplicate value: \"c\""
    );
    assert_eq!(
        FieldError::too_many("x", 5, 3).to_string(),
        "x: Too many: 5: must have at most 3 items"
    );
    let kinds = [
        (FieldErrorKind::Required, "FieldValueRequired"),
        (FieldErrorKind::Invalid, "FieldValueInvalid"),
        (FieldErrorKind::Duplicate, "FieldValueDuplicate"),
        (FieldErrorKind::Forbidden, "FieldValueForbidden"),
        (FieldErrorKind::NotSupported, "FieldValueNotSupported"),
        (FieldErrorKind::TooLong, "FieldValueTooLong"),
        (FieldErrorKind::TooMany, "FieldValueTooMany"),
    ];
    for (k, r) in kinds {
        assert_eq!(k.reason(), r);
    }
}

#[test]
fn metadata_rules() {
    assert!(validate("pods", &pod(), None).is_empty());
    let e = validate("pods", &with(pod(), "/metadata/name", json!("Foo")), None);
    assert_eq!(e.len(), 1);
    assert!(e[0].to_string().starts_with(
        "metadata.name: Invalid value: \"Foo\": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters"
    ), "{}", e[0]);
    let no_name = json!({"metadata": {}, "spec": pod()["spec"].clone()});
    assert_eq!(
        validate("pods", &no_name, None)[0].to_string(),
        "metadata.name: Required value: name or generateName is required"
    );
    let gen = json!({"metadata": {"generateName": "web-"}, "spec": pod()["spec"].clone()});
    assert!(validate("pods", &gen, None).is_empty());
    let cases: Vec<(&str, Value, Vec<&str>)> = vec![
        (
            "namespaces",
            json!({"metadata": {"name": "a.b"}}),
            vec!["metadata.name:FieldValueInvalid"],
        ),
        ("namespaces", json!({"metadata": {"name": "ok-ns"}}), vec![]),
        ("configmaps", json!({"metadata": {"name": "a.b"}}), vec![]),
        (
            "services",
            json!({"metadata": {"name": "1abc"}, "spec": {"ports": [{"port": 80}]}}),
            vec!["metadata.name:FieldValueInvalid"],
        ),
        ("roles", json!({"metadata": {"name": "system:x"}}), vec![]),
        (
            "widgets",
            json!({"metadata": {"name": "Foo"}}),
            vec!["metadata.name:FieldValueInvalid"],
        ),
        (
            "roles",
            json!({"metadata": {"name": "a/b"}}),
            vec!["metadata.name:FieldValueInvalid"],
        ),
        (
            "configmaps",
            json!({"metadata": {"name": "c", "labels": {"-bad": "x", "ok": "bad value"}}}),
            vec![
                "metadata.labels:FieldValueInvalid",
                "metadata.labels:FieldValueInvalid",
            ],
        ),
        (
            "configmaps",
            json!({"metadata": {"name": "c", "annotations": {"a": "x".repeat(300 * 1024)}}}),
            vec!["metadata.annotations:FieldValueTooLong"],
        ),
        (
            "configmaps",
            json!({"metadata": {"name": "c", "finalizers": ["foo", "example.com/x", "kubernetes"]}}),
            vec!["metadata.finalizers[0]:FieldValueInvalid"],
        ),
    ];
    for (res, obj, want) in cases {
        assert_eq!(fields(&validate(res, &obj, None)), want, "{res} {obj}");
    }
}

#[test]
fn pod_rules() {
    let cases: Vec<(Value, Vec<&str>)> = vec![
        (
            with(pod(), "/spec/containers", json!([])),
            vec!["spec.containers:FieldValueRequired"],
        ),
        (
            with(pod(), "/spec/containers/0", json!({"name": "c"})),
            vec!["spec.containers[0].image:FieldValueRequired"],
        ),
        (
            with(
                pod(),
                "/spec/containers",
                json!([{"name": "c", "image": "a"}, {"name": "c", "image": "b"}]),
            ),
            vec!["spec.containers[1].name:FieldValueDuplicate"],
        ),
        (
            with(
                pod(),
                "/spec/containers/0",
                json!({"name": "c", "image": "a", "ports": [{"containerPort": 70000}]}),
            ),
            vec!["spec.containers[0].ports[0].containerPort:FieldValueInvalid"],
        ),
        (
            with(
                pod(),
                "/spec/containers/0",
                json!({"name": "c", "image": "a", "ports": [{"containerPort": 80, "protocol": "HTTP"}]}),
            ),
            vec!["spec.containers[0].ports[0].protocol:FieldValueNotSupported"],
        ),
        (
            with(pod(), "/spec/restartPolicy", json!("Sometimes")),
            vec!["spec.restartPolicy:FieldValueNotSupported"],
        ),
        (
            with(
                pod(),
                "/spec/initContainers",
                json!([{"name": "c", "image": "x"}]),
            ),
            vec!["spec.initContainers[0].name:FieldValueDuplicate"],
        ),
        (
            with(
                pod(),
                "/spec/volumes",
                json!([{"name": "v"}, {"name": "v"}]),
            ),
            vec!["spec.volumes[1].name:FieldValueDuplicate"],
        ),
        (
            with(pod(), "/spec/activeDeadlineSeconds", json!(0)),
            vec!["spec.activeDeadlineSeconds:FieldValueInvalid"],
        ),
    ];
    for (obj, want) in cases {
        assert_eq!(fields(&validate("pods", &obj, None)), want, "{obj}");
    }
    let e = validate(
        "pods",
        &with(pod(), "/spec/restartPolicy", json!("Sometimes")),
        None,
    );
    assert_eq!(
        e[0].to_string(),
        "spec.restartPolicy: Unsupported value: \"Sometimes\": supported values: \"Always\", \"OnFailure\", \"Never\""
    );
}

#[test]
fn container_resources() {
    let res = |r: Value| with(pod(), "/spec/containers/0/resources", r);
    let cases: Vec<(Value, Vec<&str>)> = vec![
        (
            res(json!({"limits": {"cpu": "1"}, "requests": {"cpu": "500m"}})),
            vec![],
        ),
        (
            res(json!({"limits": {"memory": "1Gi"}, "requests": {"memory": "2Gi"}})),
            vec!["spec.containers[0].resources.requests[memory]:FieldValueInvalid"],
        ),
        (
            res(json!({"requests": {"cpu": "-1"}})),
            vec!["spec.containers[0].resources.requests[cpu]:FieldValueInvalid"],
        ),
        (
            res(json!({"limits": {"cpu": "lots"}})),
            vec!["spec.containers[0].resources.limits[cpu]:FieldValueInvalid"],
        ),
    ];
    for (obj, want) in cases {
        assert_eq!(fields(&validate("pods", &obj, None)), want, "{obj}");
    }
    let e = validate(
        "pods",
        &res(json!({"limits": {"memory": "1Gi"}, "requests": {"memory": "2Gi"}})),
        None,
    );
    assert_eq!(
        e[0].to_string(),
        "spec.containers[0].resources.requests[memory]: Invalid value: \"2Gi\": must be less than or equal to memory limit of 1Gi"
    );
}

#[test]
fn service_rules() {
    let svc = |spec: Value| json!({"metadata": {"name": "s"}, "spec": spec});
    let cases: Vec<(Value, Vec<&str>)> = vec![
        (
            svc(json!({"ports": [{"port": 80, "targetPort": 8080}]})),
            vec![],
        ),
        (svc(json!({})), vec!["spec.ports:FieldValueRequired"]),
        (svc(json!({"clusterIP": "None"})), vec![]),
        (
            svc(json!({"type": "ExternalName", "externalName": "example.com"})),
            vec![],
        ),
        (
            svc(json!({"type": "ExternalName"})),
            vec!["spec.externalName:FieldValueRequired"],
        ),
        (
            svc(json!({"ports": [{"port": 0}]})),
            vec!["spec.ports[0].port:FieldValueInvalid"],
        ),
        (
            svc(json!({"ports": [{"port": 80}, {"port": 81}]})),
            vec![
                "spec.ports[0].name:FieldValueRequired",
                "spec.ports[1].name:FieldValueRequired",
            ],
        ),
        (
            svc(json!({"ports": [{"port": 80, "name": "a"}, {"port": 80, "name": "b"}]})),
            vec!["spec.ports[1]:FieldValueDuplicate"],
        ),
        (
            svc(json!({"type": "ClusterIP", "ports": [{"port": 80, "nodePort": 30000}]})),
            vec!["spec.ports[0].nodePort:FieldValueForbidden"],
        ),
        (
            svc(json!({"type": "NodePort", "ports": [{"port": 80, "nodePort": 30000}]})),
            vec![],
        ),
        (
            svc(json!({"type": "Weird", "ports": [{"port": 80}]})),
            vec!["spec.type:FieldValueNotSupported"],
        ),
        (
            svc(json!({"ports": [{"port": 80}], "ipFamilies": ["IPv4", "IPv6", "IPv4"]})),
            vec!["spec.ipFamilies:FieldValueTooMany"],
        ),
    ];
    for (obj, want) in cases {
        assert_eq!(fields(&validate("services", &obj, None)), want, "{obj}");
    }
}

fn deployment() -> Value {
    json!({
        "metadata": {"name": "d"},
        "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "web"}},
            "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "c", "image": "nginx"}], "restartPolicy": "Always"}}}
    })
}

#[test]
fn workload_rules() {
    let cases: Vec<(&str, Value, Vec<&str>)> = vec![
        ("deployments", deployment(), vec![]),
        ("replicasets", deployment(), vec![]),
        (
            "deployments",
            with(deployment(), "/spec/replicas", json!(-1)),
            vec!["spec.replicas:FieldValueInvalid"],
        ),
        (
            "deployments",
            with(deployment(), "/spec/selector", Value::Null),
            vec!["spec.selector:FieldValueRequired"],
        ),
        (
            "deployments",
            with(deployment(), "/spec/selector", json!({})),
            vec!["spec.selector:FieldValueInvalid"],
        ),
        (
            "statefulsets",
            with(
                deployment(),
                "/spec/selector",
                json!({"matchLabels": {"app": "db"}}),
            ),
            vec!["spec.template.metadata.labels:FieldValueInvalid"],
        ),
        (
            "daemonsets",
            with(
                deployment(),
                "/spec/template/spec/restartPolicy",
                json!("Never"),
            ),
            vec!["spec.template.spec.restartPolicy:FieldValueNotSupported"],
        ),
        (
            "deployments",
            with(deployment(), "/spec/template/spec/containers", json!([])),
            vec!["spec.template.spec.containers:FieldValueRequired"],
        ),
    ];
    for (res, obj, want) in cases {
        assert_eq!(fields(&validate(res, &obj, None)), want, "{res} {obj}");
    }
    let e = validate(
        "deployments",
        &with(
            deployment(),
            "/spec/selector",
            json!({"matchLabels": {"app": "db"}}),
        ),
        None,
    );
    assert_eq!(e[0].to_string(), "spec.template.metadata.labels: Invalid value: {\"app\":\"web\"}: `selector` does not match template `labels`");
}

#[test]
fn job_rules() {
    let job = json!({"metadata": {"name": "j"}, "spec": {"template": {"spec": {"containers": [{"name": "c", "image": "busybox"}], "restartPolicy": "Never"}}}});
    assert!(validate("jobs", &job, None).is_empty());
    let bad = with(
        job.clone(),
        "/spec/template/spec/restartPolicy",
        json!("Always"),
    );
    let e = validate("jobs", &bad, None);
    assert_eq!(
        e[0].to_string(),
        "spec.template.spec.restartPolicy: Unsupported value: \"Always\": supported values: \"OnFailure\", \"Never\""
    );
    assert_eq!(
        fields(&validate(
            "jobs",
            &with(job.clone(), "/spec/backoffLimit", json!(-1)),
            None
        )),
        vec!["spec.backoffLimit:FieldValueInvalid"]
    );
    let cj = json!({"metadata": {"name": "c"}, "spec": {"schedule": "* * * * *", "jobTemplate": {"spec": job["spec"].clone()}}});
    assert!(validate("cronjobs", &cj, None).is_empty());
    let cj_bad = with(cj.clone(), "/spec/schedule", json!(""));
    assert_eq!(
        fields(&validate("cronjobs", &cj_bad, None)),
        vec!["spec.schedule:FieldValueRequired"]
    );
    let long = with(cj, "/metadata/name", json!("a".repeat(53)));
    assert_eq!(
        fields(&validate("cronjobs", &long, None)),
        vec!["metadata.name:FieldValueInvalid"]
    );
}

#[test]
fn configmap_and_secret_rules() {
    let cm = json!({"metadata": {"name": "c"}, "data": {"ok.key": "v", "bad key": "v", "..x": "v"}, "binaryData": {"ok.key": ""}});
    assert_eq!(
        fields(&validate("configmaps", &cm, None)),
        vec![
            "data[..x]:FieldValueInvalid",
            "data[bad key]:FieldValueInvalid",
            "binaryData[ok.key]:FieldValueInvalid"
        ]
    );
    let big = json!({"metadata": {"name": "c"}, "data": {"a": "x".repeat(MAX_CONFIG_SIZE + 1)}});
    assert_eq!(
        fields(&validate("configmaps", &big, None)),
        vec![":FieldValueTooLong"]
    );
    let tls = json!({"metadata": {"name": "s"}, "type": "kubernetes.io/tls", "data": {"tls.crt": "eA=="}});
    assert_eq!(
        fields(&validate("secrets", &tls, None)),
        vec!["data[tls.key]:FieldValueRequired"]
    );
    let opaque = json!({"metadata": {"name": "s"}, "type": "Opaque", "data": {"a": "eA=="}});
    assert!(validate("secrets", &opaque, None).is_empty());
}

#[test]
fn update_rules() {
    let old = with(
        with(pod(), "/metadata/uid", json!("u1")),
        "/spec/nodeName",
        json!("n1"),
    );
    // image change allowed
    let new = with(old.clone(), "/spec/containers/0/image", json!("nginx:2"));
    assert!(validate("pods", &new, Some(&old)).is_empty());
    // adding a toleration allowed, changing others not
    let tol = json!([{"key": "k", "operator": "Exists"}]);
    let old_t = with(old.clone(), "/spec/tolerations", tol.clone());
    let added = with(
        old_t.clone(),
        "/spec/tolerations",
        json!([{"key": "k", "operator": "Exists"}, {"key": "j", "operator": "Exists"}]),
    );
    assert!(validate("pods", &added, Some(&old_t)).is_empty());
    let removed = with(old_t.clone(), "/spec/tolerations", json!([]));
    assert_eq!(
        fields(&validate("pods", &removed, Some(&old_t))),
        vec!["spec.tolerations:FieldValueForbidden"]
    );
    // other spec changes forbidden
    let moved = with(old.clone(), "/spec/nodeName", json!("n2"));
    let e = validate("pods", &moved, Some(&old));
    assert_eq!(fields(&e), vec!["spec:FieldValueForbidden"]);
    assert!(e[0]
        .message()
        .starts_with("pod updates may not change fields other than `spec.containers[*].image`"));
    // name/uid immutable
    let renamed = with(old.clone(), "/metadata/name", json!("q"));
    assert_eq!(
        fields(&validate("pods", &renamed, Some(&old))),
        vec!["metadata.name:FieldValueInvalid"]
    );
    let e = validate(
        "pods",
        &with(old.clone(), "/metadata/uid", json!("u2")),
        Some(&old),
    );
    assert_eq!(
        e[0].to_string(),
        "metadata.uid: Invalid value: \"u2\": field is immutable"
    );
    // activeDeadlineSeconds: decrease ok, increase not
    let ads = with(old.clone(), "/spec/activeDeadlineSeconds", json!(100));
    assert!(validate(
        "pods",
        &with(ads.clone(), "/spec/activeDeadlineSeconds", json!(50)),
        Some(&ads)
    )
    .is_empty());
    assert_eq!(
        fields(&validate(
            "pods",
            &with(ads.clone(), "/spec/activeDeadlineSeconds", json!(200)),
            Some(&ads)
        )),
        vec!["spec.activeDeadlineSeconds:FieldValueInvalid"]
    );

    // deployment selector
    let d2 = with(
        deployment(),
        "/spec/selector",
        json!({"matchLabels": {"app": "web", "x": "y"}}),
    );
    let d2 = with(
        d2,
        "/spec/template/metadata/labels",
        json!({"app": "web", "x": "y"}),
    );
    assert_eq!(
        fields(&validate("deployments", &d2, Some(&deployment()))),
        vec!["spec.selector:FieldValueInvalid"]
    );
    let scaled = with(deployment(), "/spec/replicas", json!(5));
    assert!(validate("deployments", &scaled, Some(&deployment())).is_empty());

    // job template
    let job = json!({"metadata": {"name": "j"}, "spec": {"template": {"spec": {"containers": [{"name": "c", "image": "a"}], "restartPolicy": "Never"}}}});
    let job2 = with(
        job.clone(),
        "/spec/template/spec/containers/0/image",
        json!("b"),
    );
    assert_eq!(
        fields(&validate("jobs", &job2, Some(&job))),
        vec!["spec.template:FieldValueInvalid"]
    );

    // service clusterIP
    let svc = json!({"metadata": {"name": "s"}, "spec": {"clusterIP": "10.0.0.1", "ports": [{"port": 80}]}});
    let svc2 = with(svc.clone(), "/spec/clusterIP", json!("10.0.0.2"));
    assert_eq!(
        fields(&validate("services", &svc2, Some(&svc))),
        vec!["spec.clusterIP:FieldValueInvalid"]
    );

    // immutable configmap
    let cm = json!({"metadata": {"name": "c"}, "immutable": true, "data": {"a": "1"}});
    let cm2 = with(cm.clone(), "/data", json!({"a": "2"}));
    assert_eq!(
        fields(&validate("configmaps", &cm2, Some(&cm))),
        vec!["data:FieldValueForbidden"]
    );
    let cm3 = with(cm.clone(), "/immutable", json!(false));
    assert_eq!(
        fields(&validate("configmaps", &cm3, Some(&cm))),
        vec!["immutable:FieldValueForbidden"]
    );
    let mutable = with(cm.clone(), "/immutable", json!(false));
    assert!(validate(
        "configmaps",
        &with(mutable.clone(), "/data", json!({})),
        Some(&mutable)
    )
    .is_empty());

    // PVC: storage increase ok, decrease and other spec changes not
    let pvc = json!({"metadata": {"name": "c"}, "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}});
    assert!(validate(
        "persistentvolumeclaims",
        &with(
            pvc.clone(),
            "/spec/resources/requests/storage",
            json!("2Gi")
        ),
        Some(&pvc)
    )
    .is_empty());
    assert_eq!(
        fields(&validate(
            "persistentvolumeclaims",
            &with(
                pvc.clone(),
                "/spec/resources/requests/storage",
                json!("500Mi")
            ),
            Some(&pvc)
        )),
        vec!["spec.resources.requests.storage:FieldValueForbidden"]
    );
    assert_eq!(
        fields(&validate(
            "persistentvolumeclaims",
            &with(pvc.clone(), "/spec/accessModes", json!(["ReadWriteMany"])),
            Some(&pvc)
        )),
        vec!["spec:FieldValueForbidden"]
    );
    assert!(validate(
        "persistentvolumeclaims",
        &with(pvc.clone(), "/spec/volumeName", json!("pv1")),
        Some(&pvc)
    )
    .is_empty());
}

#[test]
fn quantities() {
    let q = |s: &str| parse_quantity(s).map(|q| q.to_string());
    for (s, want) in [
        ("1Gi", "1Gi"),
        ("500Mi", "500Mi"),
        ("100m", "100m"),
        ("1e3", "1e3"),
    ] {
        assert_eq!(q(s).as_deref(), Ok(want), "{s}");
    }
    // Upstream's UnmarshalJSON trims; the parse is exact.
    assert_eq!(q(" 2 ").as_deref(), Ok("2"));
    assert!(
        parse_quantity("9007199254740993").unwrap() > parse_quantity("9007199254740992").unwrap()
    );
    assert_eq!(
        q("abc").unwrap_err(),
        "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"
    );
    assert_eq!(q("1K").unwrap_err(), "unable to parse quantity's suffix");
}

/// Requests and limits compare exactly (kernel-core's Quantity): above 2^53, where the old
/// f64 comparison saw `9007199254740993` and `9007199254740992` as equal, the request exceeds
/// the limit; a wrong suffix is upstream's `ErrSuffix`.
#[test]
fn container_resources_compare_exactly() {
    let res = |r: Value| with(pod(), "/spec/containers/0/resources", r);
    let over = validate(
        "pods",
        &res(
            json!({"requests": {"memory": "9007199254740993"}, "limits": {"memory": "9007199254740992"}}),
        ),
        None,
    );
    assert_eq!(
        over.iter().map(ToString::to_string).collect::<Vec<_>>(),
        ["spec.containers[0].resources.requests[memory]: Invalid value: \"9007199254740993\": must be less than or equal to memory limit of 9007199254740992"]
    );
    let suffix = validate("pods", &res(json!({"limits": {"cpu": "1K"}})), None);
    assert_eq!(
        suffix.iter().map(ToString::to_string).collect::<Vec<_>>(),
        ["spec.containers[0].resources.limits[cpu]: Invalid value: \"1K\": unable to parse quantity's suffix"]
    );
}

#[test]
fn workload_selectors_are_immutable_on_update() {
    let old = with(deployment(), "/metadata/namespace", json!("default"));
    let relabelled = |v: &Value| {
        let v = with(
            v.clone(),
            "/spec/selector",
            json!({"matchLabels": {"app": "db"}}),
        );
        with(v, "/spec/template/metadata/labels", json!({"app": "db"}))
    };
    for resource in ["deployments", "replicasets", "daemonsets", "statefulsets"] {
        let new = relabelled(&old);
        assert!(
            validate(resource, &new, None).is_empty(),
            "{resource}: the new object alone is valid"
        );
        let e = validate(resource, &new, Some(&old));
        assert!(
            e.iter().any(
                |e| e.to_string().starts_with("spec.selector: Invalid value")
                    && e.to_string().ends_with("field is immutable")
            ),
            "{resource}: {e:?}"
        );
        // Scaling is not a selector change.
        let scaled = with(old.clone(), "/spec/replicas", json!(3));
        assert!(
            validate(resource, &scaled, Some(&old)).is_empty(),
            "{resource}"
        );
    }
}

#[test]
fn immutable_config_maps_and_secrets_keep_their_data() {
    let meta = json!({"name": "x", "namespace": "default"});
    let cm = json!({"metadata": meta, "immutable": true, "data": {"a": "1"}, "binaryData": {"b": "AA=="}});
    let secret =
        json!({"metadata": meta, "immutable": true, "type": "Opaque", "data": {"a": "MQ=="}});
    for (resource, old, data) in [
        ("configmaps", &cm, "/data/a"),
        ("secrets", &secret, "/data/a"),
    ] {
        assert!(validate(resource, old, Some(old)).is_empty(), "{resource}");
        let changed = with(old.clone(), data, json!("Mg=="));
        assert_eq!(
            fields(&validate(resource, &changed, Some(old))),
            vec!["data:FieldValueForbidden"],
            "{resource}"
        );
        let unset = with(old.clone(), "/immutable", json!(false));
        assert_eq!(
            fields(&validate(resource, &unset, Some(old))),
            vec!["immutable:FieldValueForbidden"],
            "{resource}"
        );
        // A mutable object's data may change.
        let mutable = with(old.clone(), "/immutable", json!(false));
        let edited = with(mutable.clone(), data, json!("Mg=="));
        assert!(
            validate(resource, &edited, Some(&mutable)).is_empty(),
            "{resource}"
        );
    }
    let binary = with(cm.clone(), "/binaryData/b", json!("AQ=="));
    assert_eq!(
        fields(&validate("configmaps", &binary, Some(&cm))),
        vec!["binaryData:FieldValueForbidden"]
    );
}
