//! Defaulting: the fields the API server fills in on create and update, so that
//! objects read back look the way they do from a real cluster.
//!
//! Mirrors the `SetDefaults_*` functions of `pkg/apis/core/v1/defaults.go`,
//! `pkg/apis/apps/v1/defaults.go` and `pkg/apis/batch/v1/defaults.go` (with the
//! generated defaulters' `+default` markers: container port protocol, probe
//! timings, volume modes), plus the few values upstream sets outside
//! defaulting that clients nevertheless always see: pod `priority` and
//! `preemptionPolicy` (Priority admission), the `not-ready`/`unreachable`
//! tolerations (DefaultTolerationSeconds admission), namespace `status.phase`
//! and `spec.finalizers` (namespace strategy) and service `ipFamilyPolicy`.
//!
//! Only absent (or `null`) fields are set; values the client sent are kept.

use serde_json::{json, Map, Value};

/// Applies upstream's defaults to `obj`, an object of plural `resource`
/// ("pods", "deployments", …). Unknown resources are left unchanged.
pub fn apply_defaults(resource: &str, obj: &mut Value) {
    if resource == "customresourcedefinitions" {
        return crate::crd::set_definition_defaults(obj);
    }
    let Some(o) = obj.as_object_mut() else {
        return;
    };
    match resource {
        "pods" => {
            let spec = child(o, "spec");
            default_pod_spec(spec);
            default_pod_only(spec);
            set(spec, "enableServiceLinks", json!(true));
            set(spec, "priority", json!(0));
            set(spec, "preemptionPolicy", json!("PreemptLowerPriority"));
            default_tolerations(spec);
        }
        "podtemplates" => default_pod_template(child(o, "template")),
        "replicationcontrollers" => {
            let spec = child(o, "spec");
            set(spec, "replicas", json!(1));
            if let Some(labels) = spec
                .get("template")
                .and_then(|t| t.pointer("/metadata/labels"))
                .filter(|l| l.as_object().is_some_and(|m| !m.is_empty()))
                .cloned()
            {
                let empty =
                    |v: Option<&Value>| v.and_then(Value::as_object).is_none_or(Map::is_empty);
                if empty(spec.get("selector")) {
                    spec.insert("selector".to_string(), labels.clone());
                }
                let meta = child(o, "metadata");
                if empty(meta.get("labels")) {
                    meta.insert("labels".to_string(), labels);
                }
            }
            if let Some(t) = o
                .get_mut("spec")
                .and_then(|s| s.get_mut("template"))
                .and_then(Value::as_object_mut)
            {
                default_pod_template(t);
            }
        }
        "services" => {
            default_service(child(o, "spec"));
            let lb = o
                .get("spec")
                .and_then(|sp| sp.get("type"))
                .and_then(Value::as_str)
                == Some("LoadBalancer");
            if let (true, Some(Value::Array(ingress))) = (
                lb,
                o.get_mut("status")
                    .and_then(|st| st.pointer_mut("/loadBalancer/ingress")),
            ) {
                for ing in ingress.iter_mut().filter_map(Value::as_object_mut) {
                    if ing
                        .get("ip")
                        .and_then(Value::as_str)
                        .is_some_and(|ip| !ip.is_empty())
                    {
                        set(ing, "ipMode", json!("VIP"));
                    }
                }
            }
        }
        "deployments" => {
            let spec = child(o, "spec");
            set(spec, "replicas", json!(1));
            let strategy = child(spec, "strategy");
            set(strategy, "type", json!("RollingUpdate"));
            if strategy.get("type").and_then(Value::as_str) == Some("RollingUpdate") {
                let ru = child(strategy, "rollingUpdate");
                set(ru, "maxUnavailable", json!("25%"));
                set(ru, "maxSurge", json!("25%"));
            }
            set(spec, "revisionHistoryLimit", json!(10));
            set(spec, "progressDeadlineSeconds", json!(600));
            default_template_in(spec);
        }
        "replicasets" => {
            let spec = child(o, "spec");
            set(spec, "replicas", json!(1));
            default_template_in(spec);
        }
        "statefulsets" => {
            let spec = child(o, "spec");
            set(spec, "replicas", json!(1));
            set(spec, "podManagementPolicy", json!("OrderedReady"));
            let us = child(spec, "updateStrategy");
            // An explicit RollingUpdate without parameters stays without.
            if us.get("type").is_none_or(Value::is_null) {
                us.insert("type".to_string(), json!("RollingUpdate"));
                child(us, "rollingUpdate");
            }
            if us.get("type").and_then(Value::as_str) == Some("RollingUpdate") {
                if let Some(ru) = us.get_mut("rollingUpdate").and_then(Value::as_object_mut) {
                    set(ru, "partition", json!(0));
                }
            }
            set(spec, "revisionHistoryLimit", json!(10));
            let retention = child(spec, "persistentVolumeClaimRetentionPolicy");
            set(retention, "whenDeleted", json!("Retain"));
            set(retention, "whenScaled", json!("Retain"));
            if let Some(Value::Array(claims)) = spec.get_mut("volumeClaimTemplates") {
                for c in claims.iter_mut().filter_map(Value::as_object_mut) {
                    default_pvc_spec(child(c, "spec"));
                    set(child(c, "status"), "phase", json!("Pending"));
                }
            }
            default_template_in(spec);
        }
        "daemonsets" => {
            let spec = child(o, "spec");
            let us = child(spec, "updateStrategy");
            set(us, "type", json!("RollingUpdate"));
            if us.get("type").and_then(Value::as_str) == Some("RollingUpdate") {
                let ru = child(us, "rollingUpdate");
                set(ru, "maxUnavailable", json!(1));
                set(ru, "maxSurge", json!(0));
            }
            set(spec, "revisionHistoryLimit", json!(10));
            default_template_in(spec);
        }
        "jobs" => {
            default_job_spec(child(o, "spec"));
            // SetDefaults_Job: the job takes its template's labels.
            let labels = o
                .get("spec")
                .and_then(|sp| sp.pointer("/template/metadata/labels"))
                .filter(|l| l.is_object())
                .cloned();
            if let Some(labels) = labels {
                let meta = child(o, "metadata");
                if meta
                    .get("labels")
                    .and_then(Value::as_object)
                    .is_none_or(Map::is_empty)
                {
                    meta.insert("labels".to_string(), labels);
                }
            }
        }
        "cronjobs" => {
            let spec = child(o, "spec");
            set(spec, "concurrencyPolicy", json!("Allow"));
            set(spec, "suspend", json!(false));
            set(spec, "successfulJobsHistoryLimit", json!(3));
            set(spec, "failedJobsHistoryLimit", json!(1));
            if let Some(js) = spec
                .get_mut("jobTemplate")
                .and_then(|t| t.get_mut("spec"))
                .and_then(Value::as_object_mut)
            {
                default_template_in(js);
            }
        }
        "namespaces" => {
            // SetDefaults_Namespace: the immutable name label.
            let name = o
                .get("metadata")
                .and_then(|m| m.get("name"))
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string();
            if !name.is_empty() {
                let labels = child(child(o, "metadata"), "labels");
                labels.insert("kubernetes.io/metadata.name".to_string(), json!(name));
            }
            set(child(o, "status"), "phase", json!("Active"));
            set(child(o, "spec"), "finalizers", json!(["kubernetes"]));
        }
        "secrets" => set(o, "type", json!("Opaque")),
        "persistentvolumeclaims" => {
            default_pvc_spec(child(o, "spec"));
            set(child(o, "status"), "phase", json!("Pending"));
        }
        "persistentvolumes" => {
            let spec = child(o, "spec");
            set(spec, "persistentVolumeReclaimPolicy", json!("Retain"));
            set(spec, "volumeMode", json!("Filesystem"));
            set(child(o, "status"), "phase", json!("Pending"));
        }
        "nodes" => {
            // SetDefaults_NodeStatus: allocatable defaults to capacity.
            if let Some(status) = o.get_mut("status").and_then(Value::as_object_mut) {
                if let Some(cap) = status.get("capacity").cloned() {
                    set(status, "allocatable", cap);
                }
            }
        }
        "endpoints" => {
            if let Some(Value::Array(subsets)) = o.get_mut("subsets") {
                for ss in subsets.iter_mut().filter_map(Value::as_object_mut) {
                    default_ports_protocol(ss.get_mut("ports"));
                }
            }
        }
        "endpointslices" => default_ports_protocol(o.get_mut("ports")),
        _ => {}
    }
}

/// Sets `key` to `value` when absent or `null`.
fn set(m: &mut Map<String, Value>, key: &str, value: Value) {
    match m.get(key) {
        Some(v) if !v.is_null() => {}
        _ => {
            m.insert(key.to_string(), value);
        }
    }
}

/// The object at `key`, created empty when absent or not an object.
fn child<'a>(m: &'a mut Map<String, Value>, key: &str) -> &'a mut Map<String, Value> {
    if !m.get(key).is_some_and(Value::is_object) {
        m.insert(key.to_string(), Value::Object(Map::new()));
    }
    match m.get_mut(key) {
        Some(Value::Object(o)) => o,
        _ => unreachable!("just inserted an object"),
    }
}

fn default_ports_protocol(ports: Option<&mut Value>) {
    if let Some(Value::Array(ports)) = ports {
        for p in ports.iter_mut().filter_map(Value::as_object_mut) {
            set(p, "protocol", json!("TCP"));
        }
    }
}

/// `spec.template` of a workload, when present.
fn default_template_in(spec: &mut Map<String, Value>) {
    if let Some(t) = spec.get_mut("template").and_then(Value::as_object_mut) {
        default_pod_template(t);
    }
}

fn default_pod_template(t: &mut Map<String, Value>) {
    default_pod_spec(child(t, "spec"));
}

/// `SetDefaults_PodSpec` plus the container, volume and probe defaults.
fn default_pod_spec(spec: &mut Map<String, Value>) {
    set(spec, "restartPolicy", json!("Always"));
    set(spec, "dnsPolicy", json!("ClusterFirst"));
    set(spec, "schedulerName", json!("default-scheduler"));
    set(spec, "terminationGracePeriodSeconds", json!(30));
    set(spec, "securityContext", json!({}));
    for list in ["initContainers", "containers", "ephemeralContainers"] {
        if let Some(Value::Array(cs)) = spec.get_mut(list) {
            for c in cs.iter_mut().filter_map(Value::as_object_mut) {
                default_container(c);
            }
        }
    }
    if let Some(Value::Array(vols)) = spec.get_mut("volumes") {
        for v in vols.iter_mut().filter_map(Value::as_object_mut) {
            default_volume(v);
        }
    }
}

/// `SetDefaults_Pod` (pods only, not templates): container requests default
/// to limits, and with `hostNetwork` container ports default `hostPort`.
fn default_pod_only(spec: &mut Map<String, Value>) {
    let host_network = spec.get("hostNetwork").and_then(Value::as_bool) == Some(true);
    for list in ["containers", "initContainers"] {
        let Some(Value::Array(cs)) = spec.get_mut(list) else {
            continue;
        };
        for c in cs.iter_mut().filter_map(Value::as_object_mut) {
            if let Some(Value::Object(res)) = c.get_mut("resources") {
                if let Some(Value::Object(limits)) = res.get("limits").cloned() {
                    let requests = child(res, "requests");
                    for (k, v) in limits {
                        set(requests, &k, v);
                    }
                }
            }
            if host_network {
                if let Some(Value::Array(ports)) = c.get_mut("ports") {
                    for p in ports.iter_mut().filter_map(Value::as_object_mut) {
                        let unset = p.get("hostPort").is_none_or(|h| h.is_null() || h == 0);
                        if let (true, Some(cp)) = (unset, p.get("containerPort").cloned()) {
                            p.insert("hostPort".to_string(), cp);
                        }
                    }
                }
            }
        }
    }
}

/// `Always` for `:latest` or untagged images, `IfNotPresent` otherwise
/// (images pinned by digest included), as upstream's `SetDefaults_Container`.
pub fn default_image_pull_policy(image: &str) -> &'static str {
    if image.contains('@') {
        return "IfNotPresent";
    }
    // The tag follows the last ':' after the last '/' (a registry host may
    // carry a port).
    let last = image.rsplit('/').next().unwrap_or(image);
    match last.rsplit_once(':') {
        Some((_, "latest")) | None => "Always",
        Some(_) => "IfNotPresent",
    }
}

fn default_container(c: &mut Map<String, Value>) {
    let image = c
        .get("image")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    set(
        c,
        "imagePullPolicy",
        json!(default_image_pull_policy(&image)),
    );
    set(c, "terminationMessagePath", json!("/dev/termination-log"));
    set(c, "terminationMessagePolicy", json!("File"));
    set(c, "resources", json!({}));
    default_ports_protocol(c.get_mut("ports"));
    if let Some(Value::Array(env)) = c.get_mut("env") {
        for e in env.iter_mut().filter_map(Value::as_object_mut) {
            if let Some(fr) = e
                .get_mut("valueFrom")
                .and_then(|v| v.get_mut("fieldRef"))
                .and_then(Value::as_object_mut)
            {
                set(fr, "apiVersion", json!("v1"));
            }
        }
    }
    for probe in ["livenessProbe", "readinessProbe", "startupProbe"] {
        if let Some(p) = c.get_mut(probe).and_then(Value::as_object_mut) {
            set(p, "timeoutSeconds", json!(1));
            set(p, "periodSeconds", json!(10));
            set(p, "successThreshold", json!(1));
            set(p, "failureThreshold", json!(3));
            if let Some(h) = p.get_mut("httpGet").and_then(Value::as_object_mut) {
                set(h, "path", json!("/"));
                set(h, "scheme", json!("HTTP"));
            }
        }
    }
}

const VOLUME_SOURCES: &[&str] = &[
    "hostPath",
    "emptyDir",
    "gcePersistentDisk",
    "awsElasticBlockStore",
    "gitRepo",
    "secret",
    "nfs",
    "iscsi",
    "glusterfs",
    "persistentVolumeClaim",
    "rbd",
    "flexVolume",
    "cinder",
    "cephfs",
    "flocker",
    "downwardAPI",
    "fc",
    "azureFile",
    "configMap",
    "vsphereVolume",
    "quobyte",
    "azureDisk",
    "photonPersistentDisk",
    "projected",
    "portworxVolume",
    "scaleIO",
    "storageos",
    "csi",
    "ephemeral",
    "image",
];

fn default_volume(v: &mut Map<String, Value>) {
    if !VOLUME_SOURCES
        .iter()
        .any(|k| v.get(*k).is_some_and(|x| !x.is_null()))
    {
        v.insert("emptyDir".to_string(), json!({}));
    }
    for src in ["secret", "configMap", "downwardAPI", "projected"] {
        if let Some(s) = v.get_mut(src).and_then(Value::as_object_mut) {
            set(s, "defaultMode", json!(420));
        }
    }
    if let Some(Value::Array(sources)) = v.get_mut("projected").and_then(|p| p.get_mut("sources")) {
        for src in sources.iter_mut() {
            if let Some(t) = src
                .get_mut("serviceAccountToken")
                .and_then(Value::as_object_mut)
            {
                set(t, "expirationSeconds", json!(3600));
            }
        }
    }
    if let Some(h) = v.get_mut("hostPath").and_then(Value::as_object_mut) {
        set(h, "type", json!(""));
    }
}

/// The DefaultTolerationSeconds admission plugin: tolerate `not-ready` and
/// `unreachable` NoExecute taints for 300 s unless the pod already does.
fn default_tolerations(spec: &mut Map<String, Value>) {
    let tols = match spec.get_mut("tolerations") {
        Some(Value::Array(a)) => a,
        _ => {
            spec.insert("tolerations".to_string(), json!([]));
            match spec.get_mut("tolerations") {
                Some(Value::Array(a)) => a,
                _ => unreachable!("just inserted an array"),
            }
        }
    };
    for key in [
        "node.kubernetes.io/not-ready",
        "node.kubernetes.io/unreachable",
    ] {
        let covered = tols.iter().any(|t| {
            let k = t.get("key").and_then(Value::as_str).unwrap_or("");
            let effect = t.get("effect").and_then(Value::as_str).unwrap_or("");
            (k == key
                || (k.is_empty() && t.get("operator").and_then(Value::as_str) == Some("Exists")))
                && (effect.is_empty() || effect == "NoExecute")
        });
        if !covered {
            tols.push(json!({
                "key": key,
                "operator": "Exists",
                "effect": "NoExecute",
                "tolerationSeconds": 300
            }));
        }
    }
}

fn default_service(spec: &mut Map<String, Value>) {
    set(spec, "type", json!("ClusterIP"));
    set(spec, "sessionAffinity", json!("None"));
    if spec.get("sessionAffinity").and_then(Value::as_str) == Some("None") {
        spec.remove("sessionAffinityConfig");
    }
    if spec.get("sessionAffinity").and_then(Value::as_str) == Some("ClientIP") {
        let cfg = child(spec, "sessionAffinityConfig");
        set(child(cfg, "clientIP"), "timeoutSeconds", json!(10800));
    }
    let ty = spec
        .get("type")
        .and_then(Value::as_str)
        .unwrap_or("ClusterIP")
        .to_string();
    if let Some(Value::Array(ports)) = spec.get_mut("ports") {
        for p in ports.iter_mut().filter_map(Value::as_object_mut) {
            set(p, "protocol", json!("TCP"));
            let unset = match p.get("targetPort") {
                None | Some(Value::Null) => true,
                Some(Value::Number(n)) => n.as_i64() == Some(0),
                Some(Value::String(s)) => s.is_empty(),
                _ => false,
            };
            if unset {
                if let Some(port) = p.get("port").cloned() {
                    p.insert("targetPort".to_string(), port);
                }
            }
        }
    }
    if ty != "ExternalName" {
        set(spec, "internalTrafficPolicy", json!("Cluster"));
        set(spec, "ipFamilyPolicy", json!("SingleStack"));
    }
    let has_external_ips = spec
        .get("externalIPs")
        .and_then(Value::as_array)
        .is_some_and(|a| !a.is_empty());
    if ty == "NodePort" || ty == "LoadBalancer" || (ty == "ClusterIP" && has_external_ips) {
        set(spec, "externalTrafficPolicy", json!("Cluster"));
    }
    if ty == "LoadBalancer" {
        set(spec, "allocateLoadBalancerNodePorts", json!(true));
    }
}

fn default_job_spec(spec: &mut Map<String, Value>) {
    let absent = |m: &Map<String, Value>, k: &str| m.get(k).is_none_or(Value::is_null);
    if absent(spec, "completions") && absent(spec, "parallelism") {
        spec.insert("completions".to_string(), json!(1));
    }
    set(spec, "parallelism", json!(1));
    if absent(spec, "backoffLimitPerIndex") {
        set(spec, "backoffLimit", json!(6));
    } else {
        set(spec, "backoffLimit", json!(i32::MAX));
    }
    set(spec, "completionMode", json!("NonIndexed"));
    set(spec, "suspend", json!(false));
    let policy = if absent(spec, "podFailurePolicy") {
        "TerminatingOrFailed"
    } else {
        "Failed"
    };
    set(spec, "podReplacementPolicy", json!(policy));
    default_template_in(spec);
}

fn default_pvc_spec(spec: &mut Map<String, Value>) {
    set(spec, "volumeMode", json!("Filesystem"));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn defaulted(resource: &str, obj: Value) -> Value {
        let mut o = obj;
        apply_defaults(resource, &mut o);
        o
    }

    #[test]
    fn image_pull_policy_table() {
        let cases = [
            ("nginx", "Always"),
            ("nginx:latest", "Always"),
            ("nginx:1.25", "IfNotPresent"),
            ("registry:5000/nginx", "Always"),
            ("registry:5000/nginx:1.0", "IfNotPresent"),
            ("nginx@sha256:abc", "IfNotPresent"),
            ("", "Always"),
        ];
        for (image, want) in cases {
            assert_eq!(default_image_pull_policy(image), want, "{image}");
        }
    }

    #[test]
    fn pod_defaults() {
        let pod = defaulted(
            "pods",
            json!({"metadata": {"name": "p"}, "spec": {
                "containers": [{"name": "c", "image": "nginx:1.25", "ports": [{"containerPort": 80}],
                    "resources": {"limits": {"cpu": "1"}},
                    "readinessProbe": {"httpGet": {"port": 80}}}],
                "initContainers": [{"name": "i", "image": "busybox"}],
                "volumes": [{"name": "v"}, {"name": "s", "secret": {"secretName": "x"}},
                    {"name": "t", "projected": {"sources": [{"serviceAccountToken": {"path": "token"}}]}}]
            }}),
        );
        let spec = &pod["spec"];
        assert_eq!(spec["restartPolicy"], "Always");
        assert_eq!(spec["dnsPolicy"], "ClusterFirst");
        assert_eq!(spec["schedulerName"], "default-scheduler");
        assert_eq!(spec["terminationGracePeriodSeconds"], 30);
        assert_eq!(spec["securityContext"], json!({}));
        assert_eq!(spec["enableServiceLinks"], true);
        assert_eq!(spec["priority"], 0);
        assert_eq!(spec["tolerations"].as_array().unwrap().len(), 2);
        assert_eq!(spec["tolerations"][0]["tolerationSeconds"], 300);
        let c = &spec["containers"][0];
        assert_eq!(c["imagePullPolicy"], "IfNotPresent");
        assert_eq!(c["terminationMessagePath"], "/dev/termination-log");
        assert_eq!(c["terminationMessagePolicy"], "File");
        assert_eq!(c["ports"][0]["protocol"], "TCP");
        assert_eq!(c["resources"]["requests"]["cpu"], "1");
        assert_eq!(c["readinessProbe"]["timeoutSeconds"], 1);
        assert_eq!(c["readinessProbe"]["httpGet"]["scheme"], "HTTP");
        assert_eq!(spec["initContainers"][0]["imagePullPolicy"], "Always");
        assert_eq!(spec["initContainers"][0]["resources"], json!({}));
        assert_eq!(spec["volumes"][0]["emptyDir"], json!({}));
        assert_eq!(spec["volumes"][1]["secret"]["defaultMode"], 420);
        assert_eq!(
            spec["volumes"][2]["projected"]["sources"][0]["serviceAccountToken"]
                ["expirationSeconds"],
            3600
        );
        assert!(spec["volumes"][1].get("emptyDir").is_none());
    }

    #[test]
    fn explicit_values_are_kept() {
        let pod = defaulted(
            "pods",
            json!({"spec": {"restartPolicy": "Never", "terminationGracePeriodSeconds": 0,
                "tolerations": [{"operator": "Exists"}],
                "containers": [{"name": "c", "image": "nginx", "imagePullPolicy": "Never"}]}}),
        );
        assert_eq!(pod["spec"]["restartPolicy"], "Never");
        assert_eq!(pod["spec"]["terminationGracePeriodSeconds"], 0);
        assert_eq!(pod["spec"]["containers"][0]["imagePullPolicy"], "Never");
        assert_eq!(pod["spec"]["tolerations"], json!([{"operator": "Exists"}]));
        // Defaulting is idempotent.
        let again = defaulted("pods", pod.clone());
        assert_eq!(again, pod);
    }

    #[test]
    fn host_network_ports() {
        let pod = defaulted(
            "pods",
            json!({"spec": {"hostNetwork": true, "containers": [{"name": "c", "image": "x", "ports": [{"containerPort": 8080}]}]}}),
        );
        assert_eq!(pod["spec"]["containers"][0]["ports"][0]["hostPort"], 8080);
        // Pod-only defaults stay out of templates, as upstream's SetDefaults_Pod.
        let d = defaulted(
            "deployments",
            json!({"spec": {"template": {"spec": {"hostNetwork": true, "containers": [{"name": "c", "image": "x",
                "ports": [{"containerPort": 8080}], "resources": {"limits": {"cpu": "1"}}}]}}}}),
        );
        let c = &d["spec"]["template"]["spec"]["containers"][0];
        assert!(c["ports"][0].get("hostPort").is_none());
        assert!(c["resources"].get("requests").is_none());
        assert!(d["spec"]["template"]["spec"]
            .get("enableServiceLinks")
            .is_none());
    }

    #[test]
    fn service_defaults() {
        let svc = defaulted(
            "services",
            json!({"spec": {"ports": [{"port": 80}, {"port": 443, "targetPort": "https"}]}}),
        );
        let spec = &svc["spec"];
        assert_eq!(spec["type"], "ClusterIP");
        assert_eq!(spec["sessionAffinity"], "None");
        assert_eq!(spec["ports"][0]["protocol"], "TCP");
        assert_eq!(spec["ports"][0]["targetPort"], 80);
        assert_eq!(spec["ports"][1]["targetPort"], "https");
        assert_eq!(spec["ipFamilyPolicy"], "SingleStack");
        assert_eq!(spec["internalTrafficPolicy"], "Cluster");
        assert!(spec.get("externalTrafficPolicy").is_none());
        let lb = defaulted(
            "services",
            json!({"spec": {"type": "LoadBalancer", "sessionAffinity": "ClientIP", "ports": [{"port": 80}]}}),
        );
        assert_eq!(lb["spec"]["externalTrafficPolicy"], "Cluster");
        assert_eq!(lb["spec"]["allocateLoadBalancerNodePorts"], true);
        let lb_status = defaulted(
            "services",
            json!({"spec": {"type": "LoadBalancer"}, "status": {"loadBalancer": {"ingress": [{"ip": "1.2.3.4"}, {"hostname": "lb"}]}}}),
        );
        assert_eq!(
            lb_status["status"]["loadBalancer"]["ingress"][0]["ipMode"],
            "VIP"
        );
        assert!(lb_status["status"]["loadBalancer"]["ingress"][1]
            .get("ipMode")
            .is_none());
        assert_eq!(
            lb["spec"]["sessionAffinityConfig"]["clientIP"]["timeoutSeconds"],
            10800
        );
        let ext = defaulted(
            "services",
            json!({"spec": {"externalIPs": ["1.2.3.4"], "ports": [{"port": 80}]}}),
        );
        assert_eq!(ext["spec"]["externalTrafficPolicy"], "Cluster");
        let en = defaulted(
            "services",
            json!({"spec": {"type": "ExternalName", "externalName": "x.com"}}),
        );
        assert!(en["spec"].get("ipFamilyPolicy").is_none());
    }

    fn template() -> Value {
        json!({"metadata": {"labels": {"app": "a"}}, "spec": {"containers": [{"name": "c", "image": "nginx"}]}})
    }

    #[test]
    fn workload_defaults() {
        let d = defaulted("deployments", json!({"spec": {"template": template()}}));
        let want = json!({"replicas": 1, "revisionHistoryLimit": 10, "progressDeadlineSeconds": 600,
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"}}});
        for (k, v) in want.as_object().unwrap() {
            assert_eq!(&d["spec"][k], v, "deployment {k}");
        }
        assert_eq!(d["spec"]["template"]["spec"]["restartPolicy"], "Always");
        assert_eq!(
            d["spec"]["template"]["spec"]["containers"][0]["imagePullPolicy"],
            "Always"
        );
        assert!(d["spec"]["template"]["spec"].get("priority").is_none());
        let recreate = defaulted(
            "deployments",
            json!({"spec": {"strategy": {"type": "Recreate"}}}),
        );
        assert!(recreate["spec"]["strategy"].get("rollingUpdate").is_none());

        let rs = defaulted("replicasets", json!({"spec": {"template": template()}}));
        assert_eq!(rs["spec"]["replicas"], 1);
        let sts = defaulted(
            "statefulsets",
            json!({"spec": {"template": template(), "volumeClaimTemplates": [{"metadata": {"name": "d"}, "spec": {}}]}}),
        );
        assert_eq!(sts["spec"]["replicas"], 1);
        assert_eq!(sts["spec"]["podManagementPolicy"], "OrderedReady");
        assert_eq!(
            sts["spec"]["updateStrategy"],
            json!({"type": "RollingUpdate", "rollingUpdate": {"partition": 0}})
        );
        assert_eq!(sts["spec"]["revisionHistoryLimit"], 10);
        assert_eq!(
            sts["spec"]["volumeClaimTemplates"][0]["spec"]["volumeMode"],
            "Filesystem"
        );
        let ds = defaulted("daemonsets", json!({"spec": {"template": template()}}));
        assert_eq!(
            ds["spec"]["updateStrategy"],
            json!({"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1, "maxSurge": 0}})
        );
        assert_eq!(ds["spec"]["revisionHistoryLimit"], 10);
        let rc = defaulted(
            "replicationcontrollers",
            json!({"spec": {"template": template()}}),
        );
        assert_eq!(rc["spec"]["selector"], json!({"app": "a"}));
        assert_eq!(rc["metadata"]["labels"], json!({"app": "a"}));
    }

    #[test]
    fn job_defaults() {
        let j = defaulted("jobs", json!({"spec": {"template": template()}}));
        let want = json!({"parallelism": 1, "completions": 1, "backoffLimit": 6, "completionMode": "NonIndexed",
            "suspend": false, "podReplacementPolicy": "TerminatingOrFailed"});
        for (k, v) in want.as_object().unwrap() {
            assert_eq!(&j["spec"][k], v, "job {k}");
        }
        assert_eq!(j["metadata"]["labels"], json!({"app": "a"}));
        let sts = defaulted(
            "statefulsets",
            json!({"spec": {"updateStrategy": {"type": "RollingUpdate"}}}),
        );
        assert_eq!(
            sts["spec"]["updateStrategy"],
            json!({"type": "RollingUpdate"})
        );
        let p = defaulted("jobs", json!({"spec": {"parallelism": 3}}));
        assert!(
            p["spec"].get("completions").is_none(),
            "completions stay nil when parallelism is set"
        );
        let cj = defaulted(
            "cronjobs",
            json!({"spec": {"schedule": "* * * * *", "jobTemplate": {"spec": {"template": template()}}}}),
        );
        let want = json!({"concurrencyPolicy": "Allow", "suspend": false, "successfulJobsHistoryLimit": 3, "failedJobsHistoryLimit": 1});
        for (k, v) in want.as_object().unwrap() {
            assert_eq!(&cj["spec"][k], v, "cronjob {k}");
        }
        assert_eq!(
            cj["spec"]["jobTemplate"]["spec"]["template"]["spec"]["dnsPolicy"],
            "ClusterFirst"
        );
    }

    #[test]
    fn other_kinds() {
        let ns = defaulted("namespaces", json!({"metadata": {"name": "x"}}));
        assert_eq!(ns["status"]["phase"], "Active");
        assert_eq!(ns["spec"]["finalizers"], json!(["kubernetes"]));
        assert_eq!(ns["metadata"]["labels"]["kubernetes.io/metadata.name"], "x");
        assert_eq!(defaulted("secrets", json!({}))["type"], "Opaque");
        assert_eq!(
            defaulted("secrets", json!({"type": "kubernetes.io/tls"}))["type"],
            "kubernetes.io/tls"
        );
        assert_eq!(
            defaulted("persistentvolumeclaims", json!({"spec": {}}))["spec"]["volumeMode"],
            "Filesystem"
        );
        let node = defaulted("nodes", json!({"status": {"capacity": {"cpu": "4"}}}));
        assert_eq!(node["status"]["allocatable"], json!({"cpu": "4"}));
        assert_eq!(
            defaulted("nodes", json!({"metadata": {"name": "n"}})),
            json!({"metadata": {"name": "n"}})
        );
        assert_eq!(
            defaulted("configmaps", json!({"data": {}})),
            json!({"data": {}})
        );
        assert_eq!(
            defaulted("widgets", json!({"spec": {}})),
            json!({"spec": {}})
        );
    }
}
