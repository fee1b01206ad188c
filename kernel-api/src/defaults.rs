//! Defaulting: the fields the API server fills in on create and update, so that
//! objects read back look the way they do from a real cluster. Each kind's defaults are its
//! [`Strategy::defaults`](crate::strategy::Strategy::defaults) (`strategy/<kind>.rs`); this
//! module holds what several kinds share: pod specs and templates, containers, volumes, ports.
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

/// Sets `key` to `value` when absent or `null`.
pub(crate) fn set(m: &mut Map<String, Value>, key: &str, value: Value) {
    match m.get(key) {
        Some(v) if !v.is_null() => {}
        _ => {
            m.insert(key.to_string(), value);
        }
    }
}

/// The object at `key`, created empty when absent or not an object.
pub(crate) fn child<'a>(m: &'a mut Map<String, Value>, key: &str) -> &'a mut Map<String, Value> {
    if !m.get(key).is_some_and(Value::is_object) {
        m.insert(key.to_string(), Value::Object(Map::new()));
    }
    match m.get_mut(key) {
        Some(Value::Object(o)) => o,
        _ => unreachable!("just inserted an object"),
    }
}

pub(crate) fn default_ports_protocol(ports: Option<&mut Value>) {
    if let Some(Value::Array(ports)) = ports {
        for p in ports.iter_mut().filter_map(Value::as_object_mut) {
            set(p, "protocol", json!("TCP"));
        }
    }
}

/// `spec.template` of a workload, when present.
pub(crate) fn default_template_in(spec: &mut Map<String, Value>) {
    if let Some(t) = spec.get_mut("template").and_then(Value::as_object_mut) {
        default_pod_template(t);
    }
}

pub(crate) fn default_pod_template(t: &mut Map<String, Value>) {
    default_pod_spec(child(t, "spec"));
}

/// `SetDefaults_PodSpec` plus the container, volume and probe defaults.
pub(crate) fn default_pod_spec(spec: &mut Map<String, Value>) {
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

/// `Always` for `:latest` or untagged images, `IfNotPresent` otherwise
/// (images pinned by digest included), as upstream's `SetDefaults_Container`.
pub(crate) fn default_image_pull_policy(image: &str) -> &'static str {
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

pub(crate) fn default_container(c: &mut Map<String, Value>) {
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

pub(crate) fn default_volume(v: &mut Map<String, Value>) {
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

pub(crate) fn default_pvc_spec(spec: &mut Map<String, Value>) {
    set(spec, "volumeMode", json!("Filesystem"));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn defaulted(resource: &str, obj: Value) -> Value {
        let mut o = obj;
        crate::resources::strategy_for_plural(resource).defaults(&mut o);
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
