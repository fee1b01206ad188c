//! Server-side printing: objects rendered as a `meta.k8s.io/v1` `Table`, the
//! answer to `Accept: application/json;as=Table;g=meta.k8s.io;v=v1` that
//! `kubectl get` asks for.
//!
//! Columns and cell contents mirror `pkg/printers/internalversion/printers.go`
//! (`printPod`, `printNode`, `printService`, `printDeployment`, …), ages
//! mirror `k8s.io/apimachinery/pkg/util/duration.HumanDuration`, and kinds
//! without a printer get upstream's default convertor columns (`Name`,
//! `Created At`).
//!
//! Upstream's server always generates the wide form and lets the client hide
//! `priority: 1` columns; pass `wide = true` for that behaviour.

use std::collections::BTreeMap;

use k8s_openapi::jiff::{SignedDuration, Timestamp};
use serde_json::{json, Map, Value};

/// Renders `objects` (all of plural `resource`, e.g. "pods") as a
/// `meta.k8s.io/v1` `Table`, with ages computed against the current time.
/// With `wide = false` the `priority: 1` columns (those `kubectl -o wide`
/// adds) are left out of both the definitions and the cells.
pub fn to_table(resource: &str, objects: &[Value], wide: bool) -> Value {
    to_table_at(resource, objects, wide, now())
}

/// The current time (jiff's own `Timestamp::now` needs its `std` feature).
fn now() -> Timestamp {
    let d = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    Timestamp::new(d.as_secs() as i64, d.subsec_nanos() as i32).unwrap_or(Timestamp::UNIX_EPOCH)
}

/// Like [`to_table`] with an explicit "now" (for deterministic ages).
pub fn to_table_at(resource: &str, objects: &[Value], wide: bool, now: Timestamp) -> Value {
    let cols = columns(resource);
    let column_definitions: Vec<Value> = cols
        .iter()
        .filter(|c| wide || c.priority == 0)
        .map(|c| {
            json!({
                "name": c.name,
                "type": c.ty,
                "format": c.format,
                "description": c.description,
                "priority": c.priority,
            })
        })
        .collect();
    let rows: Vec<Value> = objects
        .iter()
        .map(|obj| {
            let all = cells(resource, obj, now);
            let cells: Vec<Value> = all
                .into_iter()
                .zip(cols.iter())
                .filter(|(_, c)| wide || c.priority == 0)
                .map(|(v, _)| v)
                .collect();
            let mut row = Map::new();
            row.insert("cells".into(), Value::Array(cells));
            if resource == "pods" {
                let phase = s(obj, "/status/phase");
                if phase == "Succeeded" || phase == "Failed" {
                    row.insert(
                        "conditions".into(),
                        json!([{"type": "Completed", "status": "True", "reason": phase, "message": "The pod has completed successfully."}]),
                    );
                }
            }
            row.insert(
                "object".into(),
                json!({
                    "kind": "PartialObjectMetadata",
                    "apiVersion": "meta.k8s.io/v1",
                    "metadata": obj.get("metadata").cloned().unwrap_or_else(|| json!({})),
                }),
            );
            Value::Object(row)
        })
        .collect();
    json!({
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": {},
        "columnDefinitions": column_definitions,
        "rows": rows,
    })
}

/// Upstream `duration.HumanDuration`: "5s", "3m20s", "15m", "5h3m", "2d",
/// "3y20d", with up to one second of clock skew shown as "0s".
pub fn human_duration(d: SignedDuration) -> String {
    let secs = d.as_secs();
    if secs < -1 {
        return "<invalid>".to_string();
    } else if secs < 0 {
        return "0s".to_string();
    } else if secs < 120 {
        return format!("{secs}s");
    }
    let minutes = secs / 60;
    if minutes < 10 {
        let s = secs % 60;
        return if s == 0 {
            format!("{minutes}m")
        } else {
            format!("{minutes}m{s}s")
        };
    } else if minutes < 180 {
        return format!("{minutes}m");
    }
    let hours = secs / 3600;
    if hours < 8 {
        let m = minutes % 60;
        return if m == 0 {
            format!("{hours}h")
        } else {
            format!("{hours}h{m}m")
        };
    } else if hours < 48 {
        return format!("{hours}h");
    } else if hours < 24 * 8 {
        let h = hours % 24;
        return if h == 0 {
            format!("{}d", hours / 24)
        } else {
            format!("{}d{}h", hours / 24, h)
        };
    } else if hours < 24 * 365 * 2 {
        return format!("{}d", hours / 24);
    } else if hours < 24 * 365 * 8 {
        let dy = (hours / 24) % 365;
        return if dy == 0 {
            format!("{}y", hours / 24 / 365)
        } else {
            format!("{}y{}d", hours / 24 / 365, dy)
        };
    }
    format!("{}y", hours / 24 / 365)
}

/// Upstream `translateTimestampSince`: the age of an RFC 3339 timestamp, or
/// `<unknown>` when missing or unparsable.
pub fn translate_timestamp_since(ts: Option<&str>, now: Timestamp) -> String {
    match ts.and_then(|t| t.parse::<Timestamp>().ok()) {
        Some(t) => human_duration(now.duration_since(t)),
        None => "<unknown>".to_string(),
    }
}

struct Col {
    name: &'static str,
    ty: &'static str,
    format: &'static str,
    description: &'static str,
    priority: u8,
}

const NAME_DESC: &str = "Name must be unique within a namespace. More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/names#names";
const AGE_DESC: &str = "CreationTimestamp is a timestamp representing the server time when this object was created. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata";

fn c(name: &'static str, ty: &'static str, priority: u8, description: &'static str) -> Col {
    Col {
        name,
        ty,
        format: "",
        description,
        priority,
    }
}

fn name_col() -> Col {
    Col {
        name: "Name",
        ty: "string",
        format: "name",
        description: NAME_DESC,
        priority: 0,
    }
}

fn age_col() -> Col {
    c("Age", "string", 0, AGE_DESC)
}

fn columns(resource: &str) -> Vec<Col> {
    let containers = || {
        [
            c(
                "Containers",
                "string",
                1,
                "Names of each container in the template.",
            ),
            c(
                "Images",
                "string",
                1,
                "Images referenced by each container in the template.",
            ),
        ]
    };
    let selector = || c("Selector", "string", 1, "Label selector of the pods.");
    let mut v = match resource {
        "pods" => vec![
            name_col(),
            c("Ready", "string", 0, "The aggregate readiness state of this pod for accepting traffic."),
            c("Status", "string", 0, "The aggregate status of the containers in this pod."),
            c("Restarts", "string", 0, "The number of times the containers in this pod have been restarted and when the last container in this pod has restarted."),
            age_col(),
            c("IP", "string", 1, "IP address allocated to the pod."),
            c("Node", "string", 1, "Name of the node the pod is scheduled onto."),
            c("Nominated Node", "string", 1, "Name of the node the pod is nominated onto for preemption."),
            c("Readiness Gates", "string", 1, "Pod readiness gates that are true out of all gates."),
        ],
        "nodes" => vec![
            name_col(),
            c("Status", "string", 0, "The status of the node"),
            c("Roles", "string", 0, "The roles of the node"),
            age_col(),
            c("Version", "string", 0, "Kubelet Version reported by the node."),
            c("Internal-IP", "string", 1, "List of addresses reachable to the node."),
            c("External-IP", "string", 1, "List of addresses reachable to the node."),
            c("OS-Image", "string", 1, "OS Image reported by the node from /etc/os-release."),
            c("Kernel-Version", "string", 1, "Kernel Version reported by the node from 'uname -r'."),
            c("Container-Runtime", "string", 1, "Container runtime version reported by the node."),
        ],
        "namespaces" => vec![
            name_col(),
            c("Status", "string", 0, "The status of the namespace"),
            age_col(),
        ],
        "services" => vec![
            name_col(),
            c("Type", "string", 0, "type determines how the Service is exposed."),
            c("Cluster-IP", "string", 0, "clusterIP is the IP address of the service."),
            c("External-IP", "string", 0, "List of IP addresses for which nodes in the cluster will also accept traffic for this service."),
            c("Port(s)", "string", 0, "The list of ports that are exposed by this service."),
            age_col(),
            c("Selector", "string", 1, "Route service traffic to pods with label keys and values matching this selector."),
        ],
        "deployments" => {
            let mut v = vec![
                name_col(),
                c("Ready", "string", 0, "Number of the pod with ready state"),
                c("Up-to-date", "integer", 0, "Total number of non-terminated pods targeted by this deployment that have the desired template spec."),
                c("Available", "integer", 0, "Total number of available pods (ready for at least minReadySeconds) targeted by this deployment."),
                age_col(),
            ];
            v.extend(containers());
            v.push(selector());
            v
        }
        "replicasets" | "replicationcontrollers" => {
            let mut v = vec![
                name_col(),
                c("Desired", "integer", 0, "Replicas is the number of desired replicas."),
                c("Current", "integer", 0, "Replicas is the most recently observed number of replicas."),
                c("Ready", "integer", 0, "The number of ready replicas for this replica set."),
                age_col(),
            ];
            v.extend(containers());
            v.push(selector());
            v
        }
        "daemonsets" => {
            let mut v = vec![
                name_col(),
                c("Desired", "integer", 0, "The total number of nodes that should be running the daemon pod."),
                c("Current", "integer", 0, "The number of nodes that are running at least 1 daemon pod and are supposed to run the daemon pod."),
                c("Ready", "integer", 0, "The number of nodes that should be running the daemon pod and have one or more of the daemon pod running and ready."),
                c("Up-to-date", "integer", 0, "The total number of nodes that are running updated daemon pod"),
                c("Available", "integer", 0, "The number of nodes that should be running the daemon pod and have one or more of the daemon pod running and available."),
                c("Node Selector", "string", 0, "NodeSelector is a selector which must be true for the pod to fit on a node."),
                age_col(),
            ];
            v.extend(containers());
            v.push(selector());
            v
        }
        "statefulsets" => {
            let mut v = vec![
                name_col(),
                c("Ready", "string", 0, "Number of the pod with ready state"),
                age_col(),
            ];
            v.extend(containers());
            v
        }
        "jobs" => {
            let mut v = vec![
                name_col(),
                c("Status", "string", 0, "Status of the job."),
                c("Completions", "string", 0, "The desired number of successfully finished pods the job should be run with."),
                c("Duration", "string", 0, "Time required to complete the job."),
                age_col(),
            ];
            v.extend(containers());
            v.push(selector());
            v
        }
        "cronjobs" => {
            let mut v = vec![
                name_col(),
                c("Schedule", "string", 0, "The schedule in Cron format, see https://en.wikipedia.org/wiki/Cron."),
                c("Timezone", "string", 0, "The time zone name for the given schedule."),
                c("Suspend", "boolean", 0, "This flag tells the controller to suspend subsequent executions."),
                c("Active", "integer", 0, "A list of pointers to currently running jobs."),
                c("Last Schedule", "string", 0, "Information when was the last time the job was successfully scheduled."),
                age_col(),
            ];
            v.extend(containers());
            v.push(selector());
            v
        }
        "configmaps" => vec![
            name_col(),
            c("Data", "string", 0, "Data contains the configuration data."),
            age_col(),
        ],
        "secrets" => vec![
            name_col(),
            c("Type", "string", 0, "Used to facilitate programmatic handling of secret data."),
            c("Data", "string", 0, "Data contains the secret data."),
            age_col(),
        ],
        "serviceaccounts" => vec![
            name_col(),
            c("Secrets", "string", 0, "Secrets is a list of the secrets in the same namespace that pods running using this ServiceAccount are allowed to use."),
            age_col(),
        ],
        "events" => vec![
            c("Last Seen", "string", 0, "The time at which the most recent occurrence of this event was recorded."),
            c("Type", "string", 0, "Type of this event (Normal, Warning), new types could be added in the future"),
            c("Reason", "string", 0, "This should be a short, machine understandable string that gives the reason for the transition into the object's current status."),
            c("Object", "string", 0, "The object that this event is about."),
            c("Subobject", "string", 1, "The field path of the object this event is about."),
            c("Source", "string", 1, "The component reporting this event."),
            c("Message", "string", 0, "A human-readable description of the status of this operation."),
            c("First Seen", "string", 1, "The time at which the event was first recorded."),
            c("Count", "string", 1, "The number of times this event has occurred."),
            Col { priority: 1, ..name_col() },
        ],
        "endpoints" => vec![
            name_col(),
            c("Endpoints", "string", 0, "Endpoints is the list of endpoints in the current Endpoints object."),
            age_col(),
        ],
        "endpointslices" => vec![
            name_col(),
            c("AddressType", "string", 0, "addressType specifies the type of address carried by this EndpointSlice."),
            c("Ports", "string", 0, "ports specifies the list of network ports exposed by each endpoint in this slice."),
            c("Endpoints", "string", 0, "endpoints is a list of unique endpoints in this slice."),
            age_col(),
        ],
        "ingresses" => vec![
            name_col(),
            c("Class", "string", 0, "The name of the IngressClass resource this ingress uses."),
            c("Hosts", "string", 0, "Hosts that incoming requests are matched against before the ingress rule"),
            c("Address", "string", 0, "Address is a list containing ingress points for the load-balancer"),
            c("Ports", "string", 0, "Ports of TLS configurations that open"),
            age_col(),
        ],
        "leases" => vec![
            name_col(),
            c("Holder", "string", 0, "The holder of the lease."),
            age_col(),
        ],
        "persistentvolumes" => vec![
            name_col(),
            c("Capacity", "string", 0, "capacity is the description of the persistent volume's resources and capacity."),
            c("Access Modes", "string", 0, "accessModes contains all ways the volume can be mounted."),
            c("Reclaim Policy", "string", 0, "persistentVolumeReclaimPolicy defines what happens to a persistent volume when released from its claim."),
            c("Status", "string", 0, "phase indicates if a volume is available, bound to a claim, or released by a claim."),
            c("Claim", "string", 0, "claimRef is part of a bi-directional binding between PersistentVolume and PersistentVolumeClaim."),
            c("StorageClass", "string", 0, "storageClassName is the name of StorageClass to which this persistent volume belongs."),
            c("VolumeAttributesClass", "string", 0, "Name of VolumeAttributesClass to which this persistent volume belongs."),
            c("Reason", "string", 0, "reason is a brief CamelCase string that describes any failure."),
            age_col(),
            c("VolumeMode", "string", 1, "volumeMode defines if a volume is intended to be used with a formatted filesystem or to remain in raw block state."),
        ],
        "persistentvolumeclaims" => vec![
            name_col(),
            c("Status", "string", 0, "phase represents the current phase of PersistentVolumeClaim."),
            c("Volume", "string", 0, "volumeName is the binding reference to the PersistentVolume backing this claim."),
            c("Capacity", "string", 0, "capacity represents the actual resources of the underlying volume."),
            c("Access Modes", "string", 0, "accessModes contains the desired access modes the volume should have."),
            c("StorageClass", "string", 0, "storageClassName is the name of the StorageClass required by the claim."),
            c("VolumeAttributesClass", "string", 0, "volumeAttributesClassName may be used to set the VolumeAttributesClass used by this claim."),
            age_col(),
            c("VolumeMode", "string", 1, "volumeMode defines what type of volume is required by the claim."),
        ],
        "storageclasses" => vec![
            name_col(),
            c("Provisioner", "string", 0, "provisioner indicates the type of the provisioner."),
            c("ReclaimPolicy", "string", 0, "reclaimPolicy controls the reclaimPolicy for dynamically provisioned PersistentVolumes of this storage class."),
            c("VolumeBindingMode", "string", 0, "volumeBindingMode indicates how PersistentVolumeClaims should be provisioned and bound."),
            c("AllowVolumeExpansion", "string", 0, "allowVolumeExpansion shows whether the storage class allow volume expand."),
            age_col(),
        ],
        "priorityclasses" => vec![
            name_col(),
            c("Value", "integer", 0, "value represents the integer value of this priority class."),
            c("Global-Default", "boolean", 0, "globalDefault specifies whether this PriorityClass should be considered as the default priority for pods that do not have any priority class."),
            c("Preemption Policy", "string", 0, "preemptionPolicy is the Policy for preempting pods with lower priority."),
            age_col(),
        ],
        "poddisruptionbudgets" => vec![
            name_col(),
            c("Min Available", "string", 0, "The minimum number of pods that must be available."),
            c("Max Unavailable", "string", 0, "The maximum number of pods that may be unavailable."),
            c("Allowed Disruptions", "integer", 0, "Calculated number of pods that may be disrupted at this time."),
            age_col(),
        ],
        "horizontalpodautoscalers" => vec![
            name_col(),
            c("Reference", "string", 0, "reference to scaled resource; horizontal pod autoscaler will learn the current resource consumption and will set the desired number of pods by using its Scale subresource."),
            c("Targets", "string", 0, "metrics contains the specifications for which to use to calculate the desired replica count."),
            c("MinPods", "string", 0, "minReplicas is the lower limit for the number of replicas to which the autoscaler can scale down."),
            c("MaxPods", "integer", 0, "maxReplicas is the upper limit for the number of pods that can be set by the autoscaler."),
            c("Replicas", "integer", 0, "currentReplicas is current number of replicas of pods managed by this autoscaler."),
            age_col(),
        ],
        "ingressclasses" => vec![
            name_col(),
            c("Controller", "string", 0, "controller refers to the name of the controller that should handle this class."),
            c("Parameters", "string", 0, "parameters is a link to a custom resource containing additional configuration for the controller."),
            age_col(),
        ],
        "networkpolicies" => vec![
            name_col(),
            c("Pod-Selector", "string", 0, "podSelector selects the pods to which this NetworkPolicy object applies."),
            age_col(),
        ],
        "runtimeclasses" => vec![
            name_col(),
            c("Handler", "string", 0, "handler specifies the underlying runtime and configuration that the CRI implementation will use to handle pods of this class."),
            age_col(),
        ],
        "validatingwebhookconfigurations" | "mutatingwebhookconfigurations" => vec![
            name_col(),
            c("Webhooks", "integer", 0, "Webhooks is a list of webhooks and the affected resources and operations."),
            age_col(),
        ],
        "apiservices" => vec![
            name_col(),
            c("Service", "string", 0, "The reference to the service that hosts this API endpoint."),
            c("Available", "string", 0, "Whether this service is available."),
            age_col(),
        ],
        "certificatesigningrequests" => vec![
            name_col(),
            age_col(),
            c("SignerName", "string", 0, "Name of the signer that the request is for."),
            c("Requestor", "string", 0, "Name of the user that created the request."),
            c("RequestedDuration", "string", 0, "The requested duration of validity of the certificate."),
            c("Condition", "string", 0, "Conditions applied to the request."),
        ],
        "resourcequotas" => vec![
            name_col(),
            age_col(),
            c("Request", "string", 0, "Request represents a minimum amount of cpu/memory that a container may consume."),
            c("Limit", "string", 0, "Limits control the maximum amount of cpu/memory that a container may use independent of contention on the node."),
        ],
        "podtemplates" => vec![
            Col { name: "Template", ..name_col() },
            c("Containers", "string", 0, "Names of each container in the template."),
            c("Images", "string", 0, "Images referenced by each container in the template."),
            c("Pod Labels", "string", 0, "The labels for the pod template."),
        ],
        "controllerrevisions" => vec![
            name_col(),
            c("Controller", "string", 0, "Controller of the object"),
            c("Revision", "integer", 0, "Revision indicates the revision of the state represented by Data."),
            age_col(),
        ],
        "rolebindings" | "clusterrolebindings" => vec![
            name_col(),
            c("Role", "string", 0, "RoleRef references a Role in the current namespace or a ClusterRole in the global namespace."),
            age_col(),
            c("Users", "string", 1, "Users in the roleBinding"),
            c("Groups", "string", 1, "Groups in the roleBinding"),
            c("ServiceAccounts", "string", 1, "ServiceAccounts in the roleBinding"),
        ],
        _ => vec![
            name_col(),
            c("Created At", "date", 0, AGE_DESC),
        ],
    };
    v.shrink_to_fit();
    v
}

// --- small JSON accessors ----------------------------------------------------

fn s<'a>(obj: &'a Value, ptr: &str) -> &'a str {
    obj.pointer(ptr).and_then(Value::as_str).unwrap_or("")
}

fn i(obj: &Value, ptr: &str) -> i64 {
    obj.pointer(ptr).and_then(Value::as_i64).unwrap_or(0)
}

fn arr<'a>(obj: &'a Value, ptr: &str) -> &'a [Value] {
    obj.pointer(ptr)
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or(&[])
}

fn or_none(v: &str) -> String {
    if v.is_empty() {
        "<none>".to_string()
    } else {
        v.to_string()
    }
}

fn string_map(obj: &Value, ptr: &str) -> BTreeMap<String, String> {
    obj.pointer(ptr)
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
                .collect()
        })
        .unwrap_or_default()
}

/// Upstream `labels.FormatLabels`: `k=v,k2=v2`, or `<none>`.
fn format_labels(m: &BTreeMap<String, String>) -> String {
    if m.is_empty() {
        return "<none>".to_string();
    }
    m.iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(",")
}

/// A `metav1.LabelSelector` in string form, `<none>` when absent.
fn format_selector(obj: &Value, ptr: &str) -> String {
    let Some(sel) = obj.pointer(ptr).filter(|v| !v.is_null()) else {
        return "<none>".to_string();
    };
    match crate::selector::LabelSelector::from_meta_json(sel) {
        Ok(sel) => sel.to_string(),
        Err(e) => e,
    }
}

fn layout_containers(obj: &Value, ptr: &str) -> (String, String) {
    let cs = arr(obj, ptr);
    let names: Vec<&str> = cs.iter().map(|c| s(c, "/name")).collect();
    let images: Vec<&str> = cs.iter().map(|c| s(c, "/image")).collect();
    (names.join(","), images.join(","))
}

fn age(obj: &Value, now: Timestamp) -> Value {
    Value::String(translate_timestamp_since(
        obj.pointer("/metadata/creationTimestamp")
            .and_then(Value::as_str),
        now,
    ))
}

fn name(obj: &Value) -> Value {
    Value::String(s(obj, "/metadata/name").to_string())
}

fn condition<'a>(obj: &'a Value, ptr: &str, ty: &str) -> Option<&'a Value> {
    arr(obj, ptr).iter().find(|c| s(c, "/type") == ty)
}

fn condition_true(obj: &Value, ptr: &str, ty: &str) -> bool {
    condition(obj, ptr, ty).is_some_and(|c| s(c, "/status") == "True")
}

/// Up to three items, then " + N more...", as upstream's endpoint printers.
fn first_three(items: &[String], empty: &str) -> String {
    if items.is_empty() {
        return empty.to_string();
    }
    let mut out = items.iter().take(3).cloned().collect::<Vec<_>>().join(",");
    if items.len() > 3 {
        out.push_str(&format!(" + {} more...", items.len() - 3));
    }
    out
}

fn load_balancer_status(obj: &Value, ptr: &str, wide: bool) -> String {
    let ips: Vec<&str> = arr(obj, ptr)
        .iter()
        .filter_map(|i| {
            let ip = s(i, "/ip");
            let host = s(i, "/hostname");
            if !ip.is_empty() {
                Some(ip)
            } else if !host.is_empty() {
                Some(host)
            } else {
                None
            }
        })
        .collect();
    let r = ips.join(",");
    if !wide && r.chars().count() > 16 {
        format!("{}...", r.chars().take(13).collect::<String>())
    } else {
        r
    }
}

// --- per-resource cells ------------------------------------------------------

fn cells(resource: &str, obj: &Value, now: Timestamp) -> Vec<Value> {
    let since =
        |ptr: &str| translate_timestamp_since(obj.pointer(ptr).and_then(Value::as_str), now);
    match resource {
        "pods" => pod_cells(obj, now),
        "nodes" => node_cells(obj, now),
        "namespaces" => vec![name(obj), json!(s(obj, "/status/phase")), age(obj, now)],
        "services" => service_cells(obj, now),
        "deployments" => {
            let (cn, im) = layout_containers(obj, "/spec/template/spec/containers");
            vec![
                name(obj),
                json!(format!(
                    "{}/{}",
                    i(obj, "/status/readyReplicas"),
                    i(obj, "/spec/replicas")
                )),
                json!(i(obj, "/status/updatedReplicas")),
                json!(i(obj, "/status/availableReplicas")),
                age(obj, now),
                json!(cn),
                json!(im),
                json!(format_selector(obj, "/spec/selector")),
            ]
        }
        "replicasets" | "replicationcontrollers" => {
            let (cn, im) = layout_containers(obj, "/spec/template/spec/containers");
            let sel = if resource == "replicasets" {
                format_selector(obj, "/spec/selector")
            } else {
                format_labels(&string_map(obj, "/spec/selector"))
            };
            vec![
                name(obj),
                json!(i(obj, "/spec/replicas")),
                json!(i(obj, "/status/replicas")),
                json!(i(obj, "/status/readyReplicas")),
                age(obj, now),
                json!(cn),
                json!(im),
                json!(sel),
            ]
        }
        "daemonsets" => {
            let (cn, im) = layout_containers(obj, "/spec/template/spec/containers");
            vec![
                name(obj),
                json!(i(obj, "/status/desiredNumberScheduled")),
                json!(i(obj, "/status/currentNumberScheduled")),
                json!(i(obj, "/status/numberReady")),
                json!(i(obj, "/status/updatedNumberScheduled")),
                json!(i(obj, "/status/numberAvailable")),
                json!(format_labels(&string_map(
                    obj,
                    "/spec/template/spec/nodeSelector"
                ))),
                age(obj, now),
                json!(cn),
                json!(im),
                json!(format_selector(obj, "/spec/selector")),
            ]
        }
        "statefulsets" => {
            let (cn, im) = layout_containers(obj, "/spec/template/spec/containers");
            vec![
                name(obj),
                json!(format!(
                    "{}/{}",
                    i(obj, "/status/readyReplicas"),
                    i(obj, "/spec/replicas")
                )),
                age(obj, now),
                json!(cn),
                json!(im),
            ]
        }
        "jobs" => job_cells(obj, now),
        "cronjobs" => {
            let (cn, im) =
                layout_containers(obj, "/spec/jobTemplate/spec/template/spec/containers");
            let suspend = obj.pointer("/spec/suspend").and_then(Value::as_bool);
            let last = if obj.pointer("/status/lastScheduleTime").is_some() {
                since("/status/lastScheduleTime")
            } else {
                "<none>".to_string()
            };
            vec![
                name(obj),
                json!(s(obj, "/spec/schedule")),
                json!(or_none(s(obj, "/spec/timeZone"))),
                json!(suspend.unwrap_or(false)),
                json!(arr(obj, "/status/active").len()),
                json!(last),
                age(obj, now),
                json!(cn),
                json!(im),
                json!(format_selector(obj, "/spec/jobTemplate/spec/selector")),
            ]
        }
        "configmaps" => {
            let n = obj
                .get("data")
                .and_then(Value::as_object)
                .map_or(0, Map::len)
                + obj
                    .get("binaryData")
                    .and_then(Value::as_object)
                    .map_or(0, Map::len);
            vec![name(obj), json!(n), age(obj, now)]
        }
        "secrets" => {
            let n = obj
                .get("data")
                .and_then(Value::as_object)
                .map_or(0, Map::len);
            vec![name(obj), json!(s(obj, "/type")), json!(n), age(obj, now)]
        }
        "serviceaccounts" => vec![name(obj), json!(arr(obj, "/secrets").len()), age(obj, now)],
        "events" => event_cells(obj, now),
        "endpoints" => {
            let mut eps = Vec::new();
            for ss in arr(obj, "/subsets") {
                let ports = arr(ss, "/ports");
                for a in arr(ss, "/addresses") {
                    if ports.is_empty() {
                        eps.push(s(a, "/ip").to_string());
                    }
                    for p in ports {
                        eps.push(format!("{}:{}", s(a, "/ip"), i(p, "/port")));
                    }
                }
            }
            vec![name(obj), json!(first_three(&eps, "<none>")), age(obj, now)]
        }
        "endpointslices" => {
            let ports: Vec<String> = arr(obj, "/ports")
                .iter()
                .map(|p| match p.get("port").and_then(Value::as_i64) {
                    Some(n) => n.to_string(),
                    None => "<unset>".to_string(),
                })
                .collect();
            let addrs: Vec<String> = arr(obj, "/endpoints")
                .iter()
                .flat_map(|e| arr(e, "/addresses").iter().filter_map(Value::as_str))
                .map(str::to_string)
                .collect();
            vec![
                name(obj),
                json!(s(obj, "/addressType")),
                json!(if ports.is_empty() {
                    "<unset>".to_string()
                } else {
                    ports.join(",")
                }),
                json!(first_three(&addrs, "<unset>")),
                age(obj, now),
            ]
        }
        "ingresses" => {
            let hosts: Vec<String> = arr(obj, "/spec/rules")
                .iter()
                .map(|r| {
                    let h = s(r, "/host");
                    if h.is_empty() {
                        "*".to_string()
                    } else {
                        h.to_string()
                    }
                })
                .collect();
            let ports = if arr(obj, "/spec/tls").is_empty() {
                "80"
            } else {
                "80, 443"
            };
            vec![
                name(obj),
                json!(or_none(s(obj, "/spec/ingressClassName"))),
                json!(first_three(&hosts, "*")),
                json!(load_balancer_status(
                    obj,
                    "/status/loadBalancer/ingress",
                    true
                )),
                json!(ports),
                age(obj, now),
            ]
        }
        "leases" => vec![
            name(obj),
            json!(s(obj, "/spec/holderIdentity")),
            age(obj, now),
        ],
        "persistentvolumes" => {
            let claim = match obj.pointer("/spec/claimRef") {
                Some(r) => format!("{}/{}", s(r, "/namespace"), s(r, "/name")),
                None => String::new(),
            };
            vec![
                name(obj),
                json!(s(obj, "/spec/capacity/storage")),
                json!(access_modes(arr(obj, "/spec/accessModes"))),
                json!(s(obj, "/spec/persistentVolumeReclaimPolicy")),
                json!(s(obj, "/status/phase")),
                json!(claim),
                json!(s(obj, "/spec/storageClassName")),
                json!(unset(s(obj, "/spec/volumeAttributesClassName"))),
                json!(s(obj, "/status/reason")),
                age(obj, now),
                json!(unset(s(obj, "/spec/volumeMode"))),
            ]
        }
        "persistentvolumeclaims" => {
            let bound = s(obj, "/spec/volumeName");
            let (capacity, modes) = if bound.is_empty() {
                (String::new(), String::new())
            } else {
                (
                    s(obj, "/status/capacity/storage").to_string(),
                    access_modes(arr(obj, "/status/accessModes")),
                )
            };
            let phase = if obj.pointer("/metadata/deletionTimestamp").is_some() {
                "Terminating"
            } else {
                s(obj, "/status/phase")
            };
            vec![
                name(obj),
                json!(phase),
                json!(bound),
                json!(capacity),
                json!(modes),
                json!(s(obj, "/spec/storageClassName")),
                json!(unset(s(obj, "/spec/volumeAttributesClassName"))),
                age(obj, now),
                json!(unset(s(obj, "/spec/volumeMode"))),
            ]
        }
        "storageclasses" => {
            let mut n = s(obj, "/metadata/name").to_string();
            let ann = string_map(obj, "/metadata/annotations");
            if ann
                .get("storageclass.kubernetes.io/is-default-class")
                .map(String::as_str)
                == Some("true")
                || ann
                    .get("storageclass.beta.kubernetes.io/is-default-class")
                    .map(String::as_str)
                    == Some("true")
            {
                n.push_str(" (default)");
            }
            let reclaim = match s(obj, "/reclaimPolicy") {
                "" => "Delete",
                p => p,
            };
            let binding = match s(obj, "/volumeBindingMode") {
                "" => "Immediate",
                m => m,
            };
            let expand = obj
                .get("allowVolumeExpansion")
                .and_then(Value::as_bool)
                .unwrap_or(false);
            vec![
                json!(n),
                json!(s(obj, "/provisioner")),
                json!(reclaim),
                json!(binding),
                json!(expand.to_string()),
                age(obj, now),
            ]
        }
        "priorityclasses" => vec![
            name(obj),
            json!(i(obj, "/value")),
            json!(obj
                .get("globalDefault")
                .and_then(Value::as_bool)
                .unwrap_or(false)),
            json!(match s(obj, "/preemptionPolicy") {
                "" => "PreemptLowerPriority",
                p => p,
            }),
            age(obj, now),
        ],
        "poddisruptionbudgets" => {
            let int_or_string = |p: &str| match obj.pointer(p) {
                Some(Value::String(v)) => v.clone(),
                Some(Value::Number(n)) => n.to_string(),
                _ => "N/A".to_string(),
            };
            vec![
                name(obj),
                json!(int_or_string("/spec/minAvailable")),
                json!(int_or_string("/spec/maxUnavailable")),
                json!(i(obj, "/status/disruptionsAllowed")),
                age(obj, now),
            ]
        }
        "horizontalpodautoscalers" => {
            let min = match obj.pointer("/spec/minReplicas").and_then(Value::as_i64) {
                Some(n) => n.to_string(),
                None => "<unset>".to_string(),
            };
            vec![
                name(obj),
                json!(format!(
                    "{}/{}",
                    s(obj, "/spec/scaleTargetRef/kind"),
                    s(obj, "/spec/scaleTargetRef/name")
                )),
                json!(hpa_targets(obj)),
                json!(min),
                json!(i(obj, "/spec/maxReplicas")),
                json!(i(obj, "/status/currentReplicas")),
                age(obj, now),
            ]
        }
        "ingressclasses" => {
            let params = match obj.pointer("/spec/parameters") {
                Some(p) if p.is_object() => {
                    let group = s(p, "/apiGroup");
                    if group.is_empty() {
                        format!("{}/{}", s(p, "/kind"), s(p, "/name"))
                    } else {
                        format!("{}/{}/{}", group, s(p, "/kind"), s(p, "/name"))
                    }
                }
                _ => "<none>".to_string(),
            };
            vec![
                name(obj),
                json!(s(obj, "/spec/controller")),
                json!(params),
                age(obj, now),
            ]
        }
        "networkpolicies" => {
            let sel = format_selector(obj, "/spec/podSelector");
            vec![name(obj), json!(or_none(&sel)), age(obj, now)]
        }
        "runtimeclasses" => vec![name(obj), json!(s(obj, "/handler")), age(obj, now)],
        "validatingwebhookconfigurations" | "mutatingwebhookconfigurations" => {
            vec![name(obj), json!(arr(obj, "/webhooks").len()), age(obj, now)]
        }
        "apiservices" => {
            let service = match obj.pointer("/spec/service") {
                Some(sv) if sv.is_object() => {
                    format!("{}/{}", s(sv, "/namespace"), s(sv, "/name"))
                }
                _ => "Local".to_string(),
            };
            let available = match condition(obj, "/status/conditions", "Available") {
                None => "Unknown".to_string(),
                Some(c) if s(c, "/status") == "True" => "True".to_string(),
                Some(c) => format!("{} ({})", s(c, "/status"), s(c, "/reason")),
            };
            vec![name(obj), json!(service), json!(available), age(obj, now)]
        }
        "certificatesigningrequests" => {
            let mut conds: Vec<&str> = arr(obj, "/status/conditions")
                .iter()
                .map(|c| s(c, "/type"))
                .collect();
            if conds.is_empty() {
                conds.push("Pending");
            }
            let duration = match obj
                .pointer("/spec/expirationSeconds")
                .and_then(Value::as_i64)
            {
                Some(secs) => human_duration(SignedDuration::from_secs(secs)),
                None => "<none>".to_string(),
            };
            vec![
                name(obj),
                age(obj, now),
                json!(s(obj, "/spec/signerName")),
                json!(s(obj, "/spec/username")),
                json!(duration),
                json!(conds.join(",")),
            ]
        }
        "resourcequotas" => {
            let mut names: Vec<String> = obj_keys(obj, "/spec/hard");
            names.sort();
            let (mut req, mut lim) = (Vec::new(), Vec::new());
            for r in names {
                let used = quantity_text(obj, &format!("/status/used/{}", r.replace('/', "~1")));
                let hard = quantity_text(obj, &format!("/status/hard/{}", r.replace('/', "~1")));
                let cell = format!("{r}: {used}/{hard}");
                if r.split('.').next() == Some("limits") && r.contains('.') {
                    lim.push(cell);
                } else {
                    req.push(cell);
                }
            }
            vec![
                name(obj),
                age(obj, now),
                json!(req.join(", ")),
                json!(lim.join(", ")),
            ]
        }
        "podtemplates" => {
            let (cn, im) = layout_containers(obj, "/template/spec/containers");
            vec![
                name(obj),
                json!(cn),
                json!(im),
                json!(format_labels(&string_map(obj, "/template/metadata/labels"))),
            ]
        }
        "controllerrevisions" => {
            let controller = arr(obj, "/metadata/ownerReferences")
                .iter()
                .find(|r| r.get("controller").and_then(Value::as_bool) == Some(true))
                .map(|r| {
                    let group = s(r, "/apiVersion")
                        .rsplit_once('/')
                        .map(|(g, _)| g)
                        .unwrap_or("");
                    let kind = if group.is_empty() {
                        s(r, "/kind").to_string()
                    } else {
                        format!("{}.{}", s(r, "/kind"), group)
                    };
                    format!("{}/{}", kind.to_lowercase(), s(r, "/name"))
                })
                .unwrap_or_else(|| "<none>".to_string());
            vec![
                name(obj),
                json!(controller),
                json!(i(obj, "/revision")),
                age(obj, now),
            ]
        }
        "rolebindings" | "clusterrolebindings" => {
            let mut users = Vec::new();
            let mut groups = Vec::new();
            let mut sas = Vec::new();
            for sub in arr(obj, "/subjects") {
                match s(sub, "/kind") {
                    "User" => users.push(s(sub, "/name").to_string()),
                    "Group" => groups.push(s(sub, "/name").to_string()),
                    "ServiceAccount" => {
                        sas.push(format!("{}:{}", s(sub, "/namespace"), s(sub, "/name")))
                    }
                    _ => {}
                }
            }
            vec![
                name(obj),
                json!(format!(
                    "{}/{}",
                    s(obj, "/roleRef/kind"),
                    s(obj, "/roleRef/name")
                )),
                age(obj, now),
                json!(users.join(", ")),
                json!(groups.join(", ")),
                json!(sas.join(", ")),
            ]
        }
        _ => vec![name(obj), json!(s(obj, "/metadata/creationTimestamp"))],
    }
}

/// The HPA `Targets` cell: `cpu: 40%/80%` per resource metric (current
/// `<unknown>` until reported), at most two then ` + N more...`.
fn hpa_targets(obj: &Value) -> String {
    let metrics = arr(obj, "/spec/metrics");
    if metrics.is_empty() {
        return "<none>".to_string();
    }
    let current = arr(obj, "/status/currentMetrics");
    let mut out: Vec<String> = Vec::new();
    for m in metrics {
        let ty = s(m, "/type");
        let key = match ty {
            "Resource" => "/resource",
            "ContainerResource" => "/containerResource",
            "Pods" => "/pods",
            "Object" => "/object",
            "External" => "/external",
            _ => "",
        };
        let spec = m.pointer(key).unwrap_or(&Value::Null);
        let target = spec.get("target").unwrap_or(&Value::Null);
        let cur = current
            .iter()
            .find(|c| s(c, "/type") == ty && c.pointer(&format!("{key}/name")) == spec.get("name"))
            .and_then(|c| c.pointer(&format!("{key}/current")));
        let (cur_s, tgt_s) = if let Some(u) = target.get("averageUtilization") {
            (
                cur.and_then(|c| c.get("averageUtilization"))
                    .map(|v| format!("{v}%"))
                    .unwrap_or_else(|| "<unknown>".to_string()),
                format!("{u}%"),
            )
        } else {
            let field = if target.get("averageValue").is_some() {
                "averageValue"
            } else {
                "value"
            };
            (
                cur.and_then(|c| c.get(field))
                    .and_then(Value::as_str)
                    .unwrap_or("<unknown>")
                    .to_string(),
                target
                    .get(field)
                    .and_then(Value::as_str)
                    .unwrap_or("<unknown>")
                    .to_string(),
            )
        };
        let label = spec.get("name").and_then(Value::as_str).unwrap_or(ty);
        out.push(format!("{label}: {cur_s}/{tgt_s}"));
    }
    let n = out.len();
    if n > 2 {
        out.truncate(2);
        format!("{} + {} more...", out.join(", "), n - 2)
    } else {
        out.join(", ")
    }
}

fn obj_keys(obj: &Value, ptr: &str) -> Vec<String> {
    obj.pointer(ptr)
        .and_then(Value::as_object)
        .map(|m| m.keys().cloned().collect())
        .unwrap_or_default()
}

/// A quantity as text; absent is "0" as upstream's zero `Quantity`.
fn quantity_text(obj: &Value, ptr: &str) -> String {
    match obj.pointer(ptr) {
        Some(Value::String(q)) => q.clone(),
        Some(Value::Number(n)) => n.to_string(),
        _ => "0".to_string(),
    }
}

fn unset(v: &str) -> String {
    if v.is_empty() {
        "<unset>".to_string()
    } else {
        v.to_string()
    }
}

/// Upstream `GetAccessModesAsString`: RWO, ROX, RWX, RWOP joined by ",".
fn access_modes(modes: &[Value]) -> String {
    let mut out = Vec::new();
    for (long, short) in [
        ("ReadWriteOnce", "RWO"),
        ("ReadOnlyMany", "ROX"),
        ("ReadWriteMany", "RWX"),
        ("ReadWriteOncePod", "RWOP"),
    ] {
        if modes.iter().any(|m| m.as_str() == Some(long)) {
            out.push(short);
        }
    }
    out.join(",")
}

fn pod_cells(pod: &Value, now: Timestamp) -> Vec<Value> {
    let init_specs = arr(pod, "/spec/initContainers");
    let is_sidecar = |name: &str| {
        init_specs
            .iter()
            .any(|c| s(c, "/name") == name && s(c, "/restartPolicy") == "Always")
    };
    let total = arr(pod, "/spec/containers").len()
        + init_specs
            .iter()
            .filter(|c| s(c, "/restartPolicy") == "Always")
            .count();
    let mut ready = 0;
    let mut restarts = 0i64;
    let mut sidecar_restarts = 0i64;
    let mut last_restart: Option<Timestamp> = None;
    let mut last_sidecar_restart: Option<Timestamp> = None;
    let phase = s(pod, "/status/phase");
    let mut reason = phase.to_string();
    if !s(pod, "/status/reason").is_empty() {
        reason = s(pod, "/status/reason").to_string();
    }
    if arr(pod, "/status/conditions")
        .iter()
        .any(|c| s(c, "/type") == "PodScheduled" && s(c, "/reason") == "SchedulingGated")
    {
        reason = "SchedulingGated".to_string();
    }
    let finished_at = |c: &Value| {
        c.pointer("/lastState/terminated/finishedAt")
            .and_then(Value::as_str)
            .and_then(|t| t.parse::<Timestamp>().ok())
    };
    let later = |a: Option<Timestamp>, b: Option<Timestamp>| match (a, b) {
        (Some(a), Some(b)) => Some(a.max(b)),
        (a, b) => a.or(b),
    };

    let mut initializing = false;
    let init_statuses = arr(pod, "/status/initContainerStatuses");
    for (idx, cs) in init_statuses.iter().enumerate() {
        restarts += i(cs, "/restartCount");
        last_restart = later(last_restart, finished_at(cs));
        let sidecar = is_sidecar(s(cs, "/name"));
        if sidecar {
            sidecar_restarts += i(cs, "/restartCount");
            last_sidecar_restart = later(last_sidecar_restart, finished_at(cs));
        }
        let terminated = cs.pointer("/state/terminated");
        let waiting_reason = s(cs, "/state/waiting/reason");
        if terminated.is_some_and(|t| i(t, "/exitCode") == 0) {
            continue;
        }
        if sidecar && cs.get("started").and_then(Value::as_bool) == Some(true) {
            if cs.get("ready").and_then(Value::as_bool) == Some(true) {
                ready += 1;
            }
            continue;
        }
        if let Some(t) = terminated {
            let r = s(t, "/reason");
            reason = if !r.is_empty() {
                format!("Init:{r}")
            } else if i(t, "/signal") != 0 {
                format!("Init:Signal:{}", i(t, "/signal"))
            } else {
                format!("Init:ExitCode:{}", i(t, "/exitCode"))
            };
        } else if !waiting_reason.is_empty() && waiting_reason != "PodInitializing" {
            reason = format!("Init:{waiting_reason}");
        } else {
            reason = format!("Init:{}/{}", idx, init_specs.len());
        }
        initializing = true;
        break;
    }

    if !initializing || condition_true(pod, "/status/conditions", "Initialized") {
        restarts = sidecar_restarts;
        last_restart = last_sidecar_restart;
        let mut has_running = false;
        for cs in arr(pod, "/status/containerStatuses").iter().rev() {
            restarts += i(cs, "/restartCount");
            last_restart = later(last_restart, finished_at(cs));
            let waiting = s(cs, "/state/waiting/reason");
            let terminated = cs.pointer("/state/terminated");
            if !waiting.is_empty() {
                reason = waiting.to_string();
            } else if let Some(t) = terminated {
                let r = s(t, "/reason");
                reason = if !r.is_empty() {
                    r.to_string()
                } else if i(t, "/signal") != 0 {
                    format!("Signal:{}", i(t, "/signal"))
                } else {
                    format!("ExitCode:{}", i(t, "/exitCode"))
                };
            } else if cs.get("ready").and_then(Value::as_bool) == Some(true)
                && cs.pointer("/state/running").is_some()
            {
                has_running = true;
                ready += 1;
            }
        }
        if reason == "Completed" && has_running {
            reason = if condition_true(pod, "/status/conditions", "Ready") {
                "Running".to_string()
            } else {
                "NotReady".to_string()
            };
        }
    }

    if pod.pointer("/metadata/deletionTimestamp").is_some() {
        if s(pod, "/status/reason") == "NodeLost" {
            reason = "Unknown".to_string();
        } else if phase != "Succeeded" && phase != "Failed" {
            reason = "Terminating".to_string();
        }
    }

    let restarts_str = match last_restart {
        Some(t) if restarts != 0 => {
            format!(
                "{} ({} ago)",
                restarts,
                human_duration(now.duration_since(t))
            )
        }
        _ => restarts.to_string(),
    };

    let ip = arr(pod, "/status/podIPs")
        .first()
        .map(|p| s(p, "/ip"))
        .filter(|ip| !ip.is_empty())
        .unwrap_or_else(|| s(pod, "/status/podIP"));
    let gates = arr(pod, "/spec/readinessGates");
    let gates_str = if gates.is_empty() {
        "<none>".to_string()
    } else {
        let t = gates
            .iter()
            .filter(|g| condition_true(pod, "/status/conditions", s(g, "/conditionType")))
            .count();
        format!("{}/{}", t, gates.len())
    };
    vec![
        name(pod),
        json!(format!("{ready}/{total}")),
        json!(reason),
        json!(restarts_str),
        age(pod, now),
        json!(or_none(ip)),
        json!(or_none(s(pod, "/spec/nodeName"))),
        json!(or_none(s(pod, "/status/nominatedNodeName"))),
        json!(gates_str),
    ]
}

fn node_cells(node: &Value, now: Timestamp) -> Vec<Value> {
    let mut status = Vec::new();
    if let Some(c) = condition(node, "/status/conditions", "Ready") {
        status.push(if s(c, "/status") == "True" {
            "Ready"
        } else {
            "NotReady"
        });
    }
    if status.is_empty() {
        status.push("Unknown");
    }
    if node.pointer("/spec/unschedulable").and_then(Value::as_bool) == Some(true) {
        status.push("SchedulingDisabled");
    }
    let mut roles = std::collections::BTreeSet::new();
    for (k, v) in string_map(node, "/metadata/labels") {
        if let Some(r) = k.strip_prefix("node-role.kubernetes.io/") {
            if !r.is_empty() {
                roles.insert(r.to_string());
            }
        } else if k == "kubernetes.io/role" && !v.is_empty() {
            roles.insert(v);
        }
    }
    let roles = roles.into_iter().collect::<Vec<_>>().join(",");
    let addr = |ty: &str| {
        arr(node, "/status/addresses")
            .iter()
            .find(|a| s(a, "/type") == ty)
            .map(|a| s(a, "/address").to_string())
            .unwrap_or_else(|| "<none>".to_string())
    };
    let unknown = |v: &str| {
        if v.is_empty() {
            "<unknown>".to_string()
        } else {
            v.to_string()
        }
    };
    vec![
        name(node),
        json!(status.join(",")),
        json!(or_none(&roles)),
        age(node, now),
        json!(s(node, "/status/nodeInfo/kubeletVersion")),
        json!(addr("InternalIP")),
        json!(addr("ExternalIP")),
        json!(unknown(s(node, "/status/nodeInfo/osImage"))),
        json!(unknown(s(node, "/status/nodeInfo/kernelVersion"))),
        json!(unknown(s(node, "/status/nodeInfo/containerRuntimeVersion"))),
    ]
}

fn service_cells(svc: &Value, now: Timestamp) -> Vec<Value> {
    let ty = match s(svc, "/spec/type") {
        "" => "ClusterIP",
        t => t,
    };
    let cluster_ip = arr(svc, "/spec/clusterIPs")
        .first()
        .and_then(Value::as_str)
        .unwrap_or_else(|| s(svc, "/spec/clusterIP"));
    let external_ips: Vec<String> = arr(svc, "/spec/externalIPs")
        .iter()
        .filter_map(Value::as_str)
        .map(str::to_string)
        .collect();
    let external = match ty {
        "ClusterIP" | "NodePort" => or_none(&external_ips.join(",")),
        "LoadBalancer" => {
            let lb = load_balancer_status(svc, "/status/loadBalancer/ingress", true);
            let mut all: Vec<String> = if lb.is_empty() {
                Vec::new()
            } else {
                lb.split(',').map(str::to_string).collect()
            };
            all.extend(external_ips);
            if all.is_empty() {
                "<pending>".to_string()
            } else {
                all.join(",")
            }
        }
        "ExternalName" => s(svc, "/spec/externalName").to_string(),
        _ => "<unknown>".to_string(),
    };
    let ports: Vec<String> = arr(svc, "/spec/ports")
        .iter()
        .map(|p| {
            let proto = match s(p, "/protocol") {
                "" => "TCP",
                x => x,
            };
            let node_port = i(p, "/nodePort");
            if node_port > 0 {
                format!("{}:{}/{}", i(p, "/port"), node_port, proto)
            } else {
                format!("{}/{}", i(p, "/port"), proto)
            }
        })
        .collect();
    vec![
        name(svc),
        json!(ty),
        json!(or_none(cluster_ip)),
        json!(external),
        json!(or_none(&ports.join(","))),
        age(svc, now),
        json!(format_labels(&string_map(svc, "/spec/selector"))),
    ]
}

fn job_cells(job: &Value, now: Timestamp) -> Vec<Value> {
    let conds = "/status/conditions";
    let status = if condition_true(job, conds, "Complete") {
        "Complete"
    } else if condition_true(job, conds, "Failed") {
        "Failed"
    } else if job.pointer("/metadata/deletionTimestamp").is_some() {
        "Terminating"
    } else if condition_true(job, conds, "Suspended") {
        "Suspended"
    } else if condition_true(job, conds, "FailureTarget") {
        "FailureTarget"
    } else if condition_true(job, conds, "SuccessCriteriaMet") {
        "SuccessCriteriaMet"
    } else {
        "Running"
    };
    let succeeded = i(job, "/status/succeeded");
    let completions = match job.pointer("/spec/completions").and_then(Value::as_i64) {
        Some(c) => format!("{succeeded}/{c}"),
        None => {
            let p = job
                .pointer("/spec/parallelism")
                .and_then(Value::as_i64)
                .unwrap_or(0);
            if p > 1 {
                format!("{succeeded}/1 of {p}")
            } else {
                format!("{succeeded}/1")
            }
        }
    };
    let ts = |p: &str| {
        job.pointer(p)
            .and_then(Value::as_str)
            .and_then(|t| t.parse::<Timestamp>().ok())
    };
    let duration = match (ts("/status/startTime"), ts("/status/completionTime")) {
        (Some(start), Some(end)) => human_duration(end.duration_since(start)),
        (Some(start), None) => human_duration(now.duration_since(start)),
        _ => String::new(),
    };
    let (cn, im) = layout_containers(job, "/spec/template/spec/containers");
    vec![
        name(job),
        json!(status),
        json!(completions),
        json!(duration),
        age(job, now),
        json!(cn),
        json!(im),
        json!(format_selector(job, "/spec/selector")),
    ]
}

fn event_cells(ev: &Value, now: Timestamp) -> Vec<Value> {
    if let Some(core) = crate::selector::core_event_view(ev) {
        return event_cells(&core, now);
    }
    let first = ev
        .pointer("/firstTimestamp")
        .and_then(Value::as_str)
        .or_else(|| ev.pointer("/eventTime").and_then(Value::as_str));
    let last = ev
        .pointer("/lastTimestamp")
        .and_then(Value::as_str)
        .or_else(|| {
            ev.pointer("/series/lastObservedTime")
                .and_then(Value::as_str)
        })
        .or(first);
    let mut source = s(ev, "/source/component").to_string();
    if source.is_empty() {
        source = s(ev, "/reportingComponent").to_string();
    }
    let host = s(ev, "/source/host");
    if !host.is_empty() {
        source = format!("{source}, {host}");
    }
    let count = ev
        .pointer("/series/count")
        .and_then(Value::as_i64)
        .unwrap_or_else(|| i(ev, "/count"));
    vec![
        json!(translate_timestamp_since(last, now)),
        json!(s(ev, "/type")),
        json!(s(ev, "/reason")),
        json!(format!(
            "{}/{}",
            s(ev, "/involvedObject/kind").to_lowercase(),
            s(ev, "/involvedObject/name")
        )),
        json!(s(ev, "/involvedObject/fieldPath")),
        json!(source),
        json!(s(ev, "/message").trim()),
        json!(translate_timestamp_since(first, now)),
        json!(count.to_string()),
        name(ev),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> Timestamp {
        "2024-01-10T12:00:00Z".parse().unwrap()
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
        let cj = json!({"metadata": {"name": "c"}, "spec": {"schedule": "*/1 * * * *", "suspend": false}});
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
        let sts = json!({"metadata": {"name": "s"}, "spec": {"replicas": 2}, "status": {"readyReplicas": 1}});
        assert_eq!(row_cells("statefulsets", sts, false)[1], "1/2");
    }

    #[test]
    fn simple_kinds() {
        let cm = json!({"metadata": {"name": "cm"}, "data": {"a": "1", "b": "2"}, "binaryData": {"c": ""}});
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
        let np = json!({"metadata": {"name": "n"}, "spec": {"podSelector": {"matchLabels": {"app": "a"}}}});
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
}
