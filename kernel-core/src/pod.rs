//! Pod resource arithmetic: effective requests and limits (`k8s.io/component-helpers/resource`
//! `PodRequests`/`PodLimits`), the QoS class (`qos.GetPodQOS`), resource-name predicates
//! (`pkg/apis/core/v1/helper`) and the pod's priority.
//!
//! ```
//! use k8s_openapi::api::core::v1::{Container, Pod, PodSpec, ResourceRequirements};
//! use k8s_openapi::apimachinery::pkg::api::resource::Quantity as WireQuantity;
//! use kernel_core::pod::{pod_qos, pod_requests, PodResourcesOptions, QosClass, RESOURCE_CPU};
//!
//! let container = |cpu: &str| Container {
//!     name: "c".into(),
//!     resources: Some(ResourceRequirements {
//!         requests: Some([(RESOURCE_CPU.to_string(), WireQuantity(cpu.into()))].into()),
//!         ..Default::default()
//!     }),
//!     ..Default::default()
//! };
//! let pod = Pod {
//!     spec: Some(PodSpec { containers: vec![container("100m"), container("0.25")], ..Default::default() }),
//!     ..Default::default()
//! };
//! let reqs = pod_requests(&pod, &PodResourcesOptions::default());
//! assert_eq!(reqs[RESOURCE_CPU].milli_value(), 350);
//! assert_eq!(pod_qos(&pod), QosClass::Burstable);
//! ```

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{Container, Pod};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity as WireQuantity;

use crate::names::{
    matches_dns1123_label, matches_qualified_name, DNS1123_LABEL_MAX_LENGTH,
    DNS1123_SUBDOMAIN_MAX_LENGTH,
};
use crate::quantity::{Format, Quantity};

/// `cpu`, in cores (`250m` is a quarter core).
pub const RESOURCE_CPU: &str = "cpu";
/// `memory`, in bytes.
pub const RESOURCE_MEMORY: &str = "memory";
/// `ephemeral-storage`, in bytes.
pub const RESOURCE_EPHEMERAL_STORAGE: &str = "ephemeral-storage";
/// `storage` (volume claims), in bytes.
pub const RESOURCE_STORAGE: &str = "storage";
/// `pods`: how many pods a node accepts.
pub const RESOURCE_PODS: &str = "pods";
/// The prefix of huge page resources (`hugepages-2Mi`).
pub const RESOURCE_HUGE_PAGES_PREFIX: &str = "hugepages-";
/// The prefix of attachable-volume limits (`attachable-volumes-csi-...`).
pub const RESOURCE_ATTACHABLE_VOLUMES_PREFIX: &str = "attachable-volumes-";
/// The domain of Kubernetes-native resource names (`kubernetes.io/...`).
pub const RESOURCE_DEFAULT_NAMESPACE_PREFIX: &str = "kubernetes.io/";
/// The prefix quota gives requests (`requests.cpu`); never an extended resource.
pub const DEFAULT_RESOURCE_REQUESTS_PREFIX: &str = "requests.";

/// CPU assumed for a container that requests none, for scoring: 100m (upstream
/// `DefaultMilliCPURequest`).
pub const DEFAULT_MILLI_CPU_REQUEST: i64 = 100;
/// Memory assumed for a container that requests none, for scoring: 200Mi (upstream
/// `DefaultMemoryRequest`).
pub const DEFAULT_MEMORY_REQUEST: i64 = 200 * 1024 * 1024;

/// Resource amounts by name (upstream `v1.ResourceList`), parsed.
pub type ResourceList = BTreeMap<String, Quantity>;

/// Whether `name` is in the `kubernetes.io/` domain (upstream `IsPrefixedNativeResource`).
pub fn is_prefixed_native_resource(name: &str) -> bool {
    name.contains(RESOURCE_DEFAULT_NAMESPACE_PREFIX)
}

/// Whether `name` is native: unqualified (`cpu`) or in the `kubernetes.io/` domain (upstream
/// `IsNativeResource`).
pub fn is_native_resource(name: &str) -> bool {
    !name.contains('/') || is_prefixed_native_resource(name)
}

/// Whether `name` is an extended resource (`example.com/gpu`): not native, not `requests.*`,
/// and a valid qualified name once quota prefixes it with `requests.` (upstream
/// `IsExtendedResourceName`).
pub fn is_extended_resource_name(name: &str) -> bool {
    if is_native_resource(name) || name.starts_with(DEFAULT_RESOURCE_REQUESTS_PREFIX) {
        return false;
    }
    // `requests.<domain>/<name>` must be a qualified name; checked in place, without building
    // the string (this runs on the scheduler's fit path).
    let Some((domain, n)) = name.split_once('/') else {
        return false;
    };
    DEFAULT_RESOURCE_REQUESTS_PREFIX.len() + domain.len() <= DNS1123_SUBDOMAIN_MAX_LENGTH
        && domain.split('.').all(matches_dns1123_label)
        && !n.contains('/')
        && n.len() <= DNS1123_LABEL_MAX_LENGTH
        && matches_qualified_name(n)
}

/// Whether `name` is a huge page resource (upstream `IsHugePageResourceName`).
pub fn is_huge_page_resource_name(name: &str) -> bool {
    name.starts_with(RESOURCE_HUGE_PAGES_PREFIX)
}

/// Whether `name` is an attachable-volume limit (upstream `IsAttachableVolumeResourceName`).
pub fn is_attachable_volume_resource_name(name: &str) -> bool {
    name.starts_with(RESOURCE_ATTACHABLE_VOLUMES_PREFIX)
}

/// Whether the scheduler tracks `name` as a scalar resource: extended, huge pages, prefixed
/// native or attachable volumes (upstream `IsScalarResourceName`).
pub fn is_scalar_resource_name(name: &str) -> bool {
    is_extended_resource_name(name)
        || is_huge_page_resource_name(name)
        || is_prefixed_native_resource(name)
        || is_attachable_volume_resource_name(name)
}

/// Parses a wire `ResourceList` (container requests, node allocatable). An amount that does
/// not parse counts as zero; the API server rejects such objects, so only hand-built ones have
/// them.
pub fn resource_list(list: &BTreeMap<String, WireQuantity>) -> ResourceList {
    list.iter()
        .map(|(k, v)| (k.clone(), Quantity::from_wire(v).unwrap_or_default()))
        .collect()
}

/// Options of [`pod_requests`] and [`pod_limits`] (upstream `PodResourcesOptions`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PodResourcesOptions {
    /// Leave `spec.overhead` out.
    pub exclude_overhead: bool,
    /// Amounts assumed for each container that does not request a resource at all (upstream
    /// `NonMissingContainerRequests`); see [`PodResourcesOptions::non_zero`].
    pub non_missing_container_requests: ResourceList,
}

impl PodResourcesOptions {
    /// The scheduler's scoring options: a container without a CPU or memory request counts as
    /// 100m / 200Mi, so best-effort pods do not all pile onto one node.
    pub fn non_zero() -> PodResourcesOptions {
        PodResourcesOptions {
            exclude_overhead: false,
            non_missing_container_requests: [
                (
                    RESOURCE_CPU.to_string(),
                    Quantity::new_milli(DEFAULT_MILLI_CPU_REQUEST, Format::DecimalSI),
                ),
                (
                    RESOURCE_MEMORY.to_string(),
                    Quantity::new(DEFAULT_MEMORY_REQUEST, Format::DecimalSI),
                ),
            ]
            .into(),
        }
    }
}

fn add_into(dst: &mut ResourceList, src: &ResourceList) {
    for (k, v) in src {
        match dst.get_mut(k) {
            Some(d) => *d += *v,
            None => {
                dst.insert(k.clone(), *v);
            }
        }
    }
}

/// Upstream `maxResourceList`: each resource of `src` raises `dst` to at least its amount.
fn max_into(dst: &mut ResourceList, src: &ResourceList) {
    for (k, v) in src {
        match dst.get_mut(k) {
            Some(d) => {
                if *v > *d {
                    *d = *v;
                }
            }
            None => {
                dst.insert(k.clone(), *v);
            }
        }
    }
}

fn is_restartable(c: &Container) -> bool {
    c.restart_policy.as_deref() == Some("Always")
}

fn container_list(
    c: &Container,
    pick: fn(
        &k8s_openapi::api::core::v1::ResourceRequirements,
    ) -> Option<&BTreeMap<String, WireQuantity>>,
    defaults: &ResourceList,
) -> ResourceList {
    let mut list = c
        .resources
        .as_ref()
        .and_then(pick)
        .map(resource_list)
        .unwrap_or_default();
    for (k, v) in defaults {
        list.entry(k.clone()).or_insert(*v);
    }
    list
}

/// Sums containers and restartable init containers, and takes the maximum with each regular
/// init container plus the sidecars started before it (upstream
/// `AggregateContainerRequests`/`AggregateContainerLimits`).
fn aggregate(pod: &Pod, lists: impl Fn(&Container) -> ResourceList) -> ResourceList {
    let Some(spec) = pod.spec.as_ref() else {
        return ResourceList::new();
    };
    let mut total = ResourceList::new();
    for c in &spec.containers {
        add_into(&mut total, &lists(c));
    }
    let mut sidecars = ResourceList::new();
    let mut init_max = ResourceList::new();
    for c in spec.init_containers.iter().flatten() {
        let list = lists(c);
        if is_restartable(c) {
            add_into(&mut total, &list);
            add_into(&mut sidecars, &list);
            max_into(&mut init_max, &sidecars);
        } else {
            let mut during = list;
            add_into(&mut during, &sidecars);
            max_into(&mut init_max, &during);
        }
    }
    max_into(&mut total, &init_max);
    total
}

/// The pod's effective requests (upstream `resourcehelper.PodRequests`): the sum over its
/// containers and restartable init containers (sidecars), raised to at least what any regular
/// init container needs while it runs (itself plus the sidecars started before it), plus
/// `spec.overhead`.
pub fn pod_requests(pod: &Pod, opts: &PodResourcesOptions) -> ResourceList {
    let defaults = &opts.non_missing_container_requests;
    let mut reqs = aggregate(pod, |c| {
        container_list(c, |r| r.requests.as_ref(), defaults)
    });
    if !opts.exclude_overhead {
        if let Some(overhead) = pod.spec.as_ref().and_then(|s| s.overhead.as_ref()) {
            add_into(&mut reqs, &resource_list(overhead));
        }
    }
    reqs
}

/// The pod's effective limits (upstream `resourcehelper.PodLimits`): aggregated like
/// [`pod_requests`]; `spec.overhead` is added only to resources that have a limit.
pub fn pod_limits(pod: &Pod, opts: &PodResourcesOptions) -> ResourceList {
    let none = ResourceList::new();
    let mut limits = aggregate(pod, |c| container_list(c, |r| r.limits.as_ref(), &none));
    if !opts.exclude_overhead {
        if let Some(overhead) = pod.spec.as_ref().and_then(|s| s.overhead.as_ref()) {
            for (k, v) in resource_list(overhead) {
                if let Some(l) = limits.get_mut(&k) {
                    *l += v;
                }
            }
        }
    }
    limits
}

/// A pod's quality-of-service class (`v1.PodQOSClass`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum QosClass {
    /// Every container has CPU and memory limits, and requests equal to them.
    Guaranteed,
    /// Some request or limit is set, but the pod is not Guaranteed.
    Burstable,
    /// No container requests or limits CPU or memory.
    BestEffort,
}

impl QosClass {
    /// The API spelling (`Guaranteed`, `Burstable`, `BestEffort`).
    pub fn as_str(&self) -> &'static str {
        match self {
            QosClass::Guaranteed => "Guaranteed",
            QosClass::Burstable => "Burstable",
            QosClass::BestEffort => "BestEffort",
        }
    }

    /// Parses the API spelling.
    pub fn parse(s: &str) -> Option<QosClass> {
        Some(match s {
            "Guaranteed" => QosClass::Guaranteed,
            "Burstable" => QosClass::Burstable,
            "BestEffort" => QosClass::BestEffort,
            _ => return None,
        })
    }
}

/// The pod's QoS class (upstream `qos.GetPodQOS`): `status.qosClass` when set, computed
/// otherwise.
pub fn pod_qos(pod: &Pod) -> QosClass {
    pod.status
        .as_ref()
        .and_then(|s| s.qos_class.as_deref())
        .and_then(QosClass::parse)
        .unwrap_or_else(|| compute_pod_qos(pod))
}

/// Computes the QoS class from the containers and init containers (upstream
/// `qos.ComputePodQOS`): only CPU and memory count, and only positive amounts. BestEffort when
/// there are none; Guaranteed when every container limits both CPU and memory and the summed
/// requests equal the summed limits; Burstable otherwise.
pub fn compute_pod_qos(pod: &Pod) -> QosClass {
    let Some(spec) = pod.spec.as_ref() else {
        return QosClass::BestEffort;
    };
    let supported = |n: &str| n == RESOURCE_CPU || n == RESOURCE_MEMORY;
    let mut requests = ResourceList::new();
    let mut limits = ResourceList::new();
    let mut guaranteed = true;
    for c in spec
        .containers
        .iter()
        .chain(spec.init_containers.iter().flatten())
    {
        let res = c.resources.as_ref();
        for (name, q) in res.and_then(|r| r.requests.as_ref()).into_iter().flatten() {
            let q = Quantity::from_wire(q).unwrap_or_default();
            if supported(name) && q.sign() > 0 {
                *requests.entry(name.clone()).or_default() += q;
            }
        }
        let mut found = 0;
        for (name, q) in res.and_then(|r| r.limits.as_ref()).into_iter().flatten() {
            let q = Quantity::from_wire(q).unwrap_or_default();
            if supported(name) && q.sign() > 0 {
                found += 1;
                *limits.entry(name.clone()).or_default() += q;
            }
        }
        if found < 2 {
            guaranteed = false;
        }
    }
    if requests.is_empty() && limits.is_empty() {
        return QosClass::BestEffort;
    }
    if guaranteed
        && requests.iter().all(|(n, r)| limits.get(n) == Some(r))
        && requests.len() == limits.len()
    {
        QosClass::Guaranteed
    } else {
        QosClass::Burstable
    }
}

/// The pod's priority: `spec.priority`, or 0 when unset (upstream `corev1.PodPriority`).
pub fn pod_priority(pod: &Pod) -> i32 {
    pod.spec.as_ref().and_then(|s| s.priority).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::{PodSpec, PodStatus, ResourceRequirements};

    fn wire(pairs: &[(&str, &str)]) -> BTreeMap<String, WireQuantity> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), WireQuantity(v.to_string())))
            .collect()
    }

    fn container(
        requests: &[(&str, &str)],
        limits: &[(&str, &str)],
        restart: Option<&str>,
    ) -> Container {
        Container {
            name: "c".into(),
            restart_policy: restart.map(String::from),
            resources: Some(ResourceRequirements {
                requests: (!requests.is_empty()).then(|| wire(requests)),
                limits: (!limits.is_empty()).then(|| wire(limits)),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    fn pod(containers: Vec<Container>, init: Vec<Container>) -> Pod {
        Pod {
            spec: Some(PodSpec {
                containers,
                init_containers: (!init.is_empty()).then_some(init),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    fn show(list: &ResourceList) -> Vec<(String, String)> {
        list.iter()
            .map(|(k, v)| (k.clone(), v.to_string()))
            .collect()
    }

    fn pairs(p: &[(&str, &str)]) -> Vec<(String, String)> {
        p.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn requests_table() {
        // Modelled on upstream TestPodRequestsAndLimits / TestPodResourceRequests.
        type Case<'a> = (&'a str, Pod, &'a [(&'a str, &'a str)]);
        let cases: Vec<Case> = vec![
            ("no containers", pod(vec![], vec![]), &[]),
            (
                "containers sum",
                pod(
                    vec![
                        container(&[("cpu", "100m"), ("memory", "1Gi")], &[], None),
                        container(&[("cpu", "200m")], &[], None),
                    ],
                    vec![],
                ),
                &[("cpu", "300m"), ("memory", "1Gi")],
            ),
            (
                "a bigger init container wins",
                pod(
                    vec![container(&[("cpu", "100m")], &[], None)],
                    vec![container(&[("cpu", "2")], &[], None)],
                ),
                &[("cpu", "2")],
            ),
            (
                "init containers are maxed, not summed",
                pod(
                    vec![container(&[("cpu", "100m")], &[], None)],
                    vec![
                        container(&[("cpu", "500m")], &[], None),
                        container(&[("cpu", "700m")], &[], None),
                    ],
                ),
                &[("cpu", "700m")],
            ),
            (
                "sidecars add to containers and to later init containers",
                pod(
                    vec![container(&[("cpu", "100m")], &[], None)],
                    vec![
                        container(&[("cpu", "50m")], &[], Some("Always")),
                        container(&[("cpu", "1")], &[], None),
                        container(&[("cpu", "10m")], &[], Some("Always")),
                    ],
                ),
                // containers 100m + sidecars 60m = 160m; init 1 + 50m (earlier sidecar) wins.
                &[("cpu", "1050m")],
            ),
            (
                "an init container before the sidecar does not count it",
                pod(
                    vec![container(&[("cpu", "100m")], &[], None)],
                    vec![
                        container(&[("cpu", "300m")], &[], None),
                        container(&[("cpu", "250m")], &[], Some("Always")),
                    ],
                ),
                &[("cpu", "350m")],
            ),
            (
                "resources only some containers name",
                pod(
                    vec![
                        container(&[("example.com/gpu", "1")], &[], None),
                        container(&[("memory", "100Mi")], &[], None),
                    ],
                    vec![container(&[("example.com/gpu", "2")], &[], None)],
                ),
                &[("example.com/gpu", "2"), ("memory", "100Mi")],
            ),
        ];
        for (name, p, want) in cases {
            assert_eq!(
                show(&pod_requests(&p, &PodResourcesOptions::default())),
                pairs(want),
                "{name}"
            );
        }
    }

    #[test]
    fn overhead_and_non_zero_defaults() {
        let mut p = pod(
            vec![
                container(&[("cpu", "100m")], &[("cpu", "1")], None),
                container(&[], &[], None),
            ],
            vec![],
        );
        p.spec.as_mut().unwrap().overhead = Some(wire(&[("cpu", "10m"), ("memory", "5Mi")]));
        let r = pod_requests(&p, &PodResourcesOptions::default());
        assert_eq!(show(&r), pairs(&[("cpu", "110m"), ("memory", "5Mi")]));
        let r = pod_requests(
            &p,
            &PodResourcesOptions {
                exclude_overhead: true,
                ..Default::default()
            },
        );
        assert_eq!(show(&r), pairs(&[("cpu", "100m")]));
        // Non-zero: each container missing a request gets 100m / 200Mi; a present request,
        // even zero, is kept.
        let mut z = p.clone();
        z.spec
            .as_mut()
            .unwrap()
            .containers
            .push(container(&[("cpu", "0")], &[], None));
        let r = pod_requests(&z, &PodResourcesOptions::non_zero());
        assert_eq!(r["cpu"].milli_value(), 100 + 100 + 10);
        assert_eq!(
            r["memory"].value(),
            3 * DEFAULT_MEMORY_REQUEST + 5 * 1024 * 1024
        );
        // Limits: overhead only where a limit exists.
        let l = pod_limits(&p, &PodResourcesOptions::default());
        assert_eq!(show(&l), pairs(&[("cpu", "1010m")]));
    }

    #[test]
    fn limits_aggregate_like_requests() {
        let p = pod(
            vec![container(&[], &[("cpu", "1"), ("memory", "1Gi")], None)],
            vec![
                container(&[], &[("cpu", "500m")], Some("Always")),
                container(&[], &[("memory", "2Gi")], None),
            ],
        );
        let l = pod_limits(&p, &PodResourcesOptions::default());
        assert_eq!(show(&l), pairs(&[("cpu", "1500m"), ("memory", "2Gi")]));
    }

    #[test]
    fn requests_are_exact_sums_not_sums_of_rounded_values() {
        // Two 0.5m containers need 1m (upstream sums Quantities, then rounds once).
        let p = pod(
            vec![
                container(&[("cpu", "0.5m")], &[], None),
                container(&[("cpu", "0.5m")], &[], None),
            ],
            vec![],
        );
        assert_eq!(
            pod_requests(&p, &PodResourcesOptions::default())["cpu"].milli_value(),
            1
        );
        let big = pod(
            vec![container(
                &[("example.com/x", "9007199254740993")],
                &[],
                None,
            )],
            vec![],
        );
        assert_eq!(
            pod_requests(&big, &PodResourcesOptions::default())["example.com/x"].value(),
            9_007_199_254_740_993
        );
    }

    #[test]
    fn qos_table() {
        // Modelled on upstream TestComputePodQOS.
        let g = |cpu: &str, mem: &str| {
            container(
                &[("cpu", cpu), ("memory", mem)],
                &[("cpu", cpu), ("memory", mem)],
                None,
            )
        };
        let cases: Vec<(&str, Pod, QosClass)> = vec![
            (
                "no resources",
                pod(vec![container(&[], &[], None)], vec![]),
                QosClass::BestEffort,
            ),
            (
                "zero amounts do not count",
                pod(
                    vec![container(&[("cpu", "0")], &[("memory", "0")], None)],
                    vec![],
                ),
                QosClass::BestEffort,
            ),
            (
                "only extended resources",
                pod(
                    vec![container(
                        &[("example.com/gpu", "1")],
                        &[("example.com/gpu", "1")],
                        None,
                    )],
                    vec![],
                ),
                QosClass::BestEffort,
            ),
            (
                "requests equal limits",
                pod(vec![g("100m", "1Gi"), g("1", "2Gi")], vec![]),
                QosClass::Guaranteed,
            ),
            (
                "equal values, other spellings",
                pod(
                    vec![container(
                        &[("cpu", "1"), ("memory", "1Gi")],
                        &[("cpu", "1000m"), ("memory", "1024Mi")],
                        None,
                    )],
                    vec![],
                ),
                QosClass::Guaranteed,
            ),
            (
                "init containers too",
                pod(vec![g("100m", "1Gi")], vec![g("200m", "1Gi")]),
                QosClass::Guaranteed,
            ),
            (
                "one container best effort",
                pod(vec![g("100m", "1Gi"), container(&[], &[], None)], vec![]),
                QosClass::Burstable,
            ),
            (
                "requests below limits",
                pod(
                    vec![container(
                        &[("cpu", "100m"), ("memory", "1Gi")],
                        &[("cpu", "200m"), ("memory", "1Gi")],
                        None,
                    )],
                    vec![],
                ),
                QosClass::Burstable,
            ),
            (
                "memory limit missing",
                pod(
                    vec![container(&[("cpu", "1")], &[("cpu", "1")], None)],
                    vec![],
                ),
                QosClass::Burstable,
            ),
            (
                "limits only (not defaulted)",
                pod(
                    vec![container(&[], &[("cpu", "1"), ("memory", "1Gi")], None)],
                    vec![],
                ),
                QosClass::Burstable,
            ),
            (
                "requests only",
                pod(vec![container(&[("memory", "1Gi")], &[], None)], vec![]),
                QosClass::Burstable,
            ),
        ];
        for (name, p, want) in cases {
            assert_eq!(compute_pod_qos(&p), want, "{name}");
            assert_eq!(pod_qos(&p), want, "{name}");
        }
        let mut p = pod(vec![container(&[], &[], None)], vec![]);
        p.status = Some(PodStatus {
            qos_class: Some("Guaranteed".into()),
            ..Default::default()
        });
        assert_eq!(pod_qos(&p), QosClass::Guaranteed, "status wins");
        assert_eq!(compute_pod_qos(&p), QosClass::BestEffort);
        assert_eq!(
            QosClass::parse(QosClass::Burstable.as_str()),
            Some(QosClass::Burstable)
        );
    }

    #[test]
    fn resource_names() {
        // Modelled on upstream TestIsExtendedResourceName / TestIsScalarResourceName.
        for (name, extended, scalar) in [
            ("cpu", false, false),
            ("memory", false, false),
            ("pods", false, false),
            ("example.com/gpu", true, true),
            ("example.com/dongle", true, true),
            ("kubernetes.io/gpu", false, true),
            ("foo.kubernetes.io/bar", false, true),
            ("requests.example.com/gpu", false, false),
            ("hugepages-2Mi", false, true),
            ("attachable-volumes-csi-x", false, true),
            ("a/b/c", false, false),
            ("-bad.com/x", false, false),
        ] {
            assert_eq!(is_extended_resource_name(name), extended, "extended {name}");
            assert_eq!(is_scalar_resource_name(name), scalar, "scalar {name}");
        }
        for name in [
            "example.com/gpu",
            "a.b/c_d.E",
            "-x.com/y",
            "x.com/",
            ".com/x",
            "a/b/c",
            &format!("{}/x", "a".repeat(245)),
        ] {
            assert_eq!(
                is_extended_resource_name(name),
                crate::names::is_qualified_name(&format!("requests.{name}")).is_empty(),
                "{name}"
            );
        }
        assert!(is_native_resource("cpu"));
        assert!(is_native_resource("kubernetes.io/x"));
        assert!(!is_native_resource("example.com/x"));
    }

    #[test]
    fn priority_and_bad_quantities() {
        let mut p = pod(vec![container(&[("cpu", "lots")], &[], None)], vec![]);
        assert_eq!(pod_priority(&p), 0);
        p.spec.as_mut().unwrap().priority = Some(7);
        assert_eq!(pod_priority(&p), 7);
        let r = pod_requests(&p, &PodResourcesOptions::non_zero());
        // Present but unparseable: zero, and not replaced by the default.
        assert!(r["cpu"].is_zero());
    }
}
