//! Resource quantities and the numeric [`Resource`] vector the scheduler keeps per pod and node.
//!
//! Kubernetes writes amounts as `Quantity` strings (`"250m"`, `"1.5Gi"`, `"2e3"`). The scheduler
//! never looks at those strings in a hot path: [`parse_quantity`] turns them into exact values
//! once, and [`Resource`] keeps CPU in millicores and everything else in base units (bytes,
//! counts), like upstream's `framework.Resource`.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{Container, Pod};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;

use crate::Error;

/// `cpu`.
pub const CPU: &str = "cpu";
/// `memory`.
pub const MEMORY: &str = "memory";
/// `ephemeral-storage`.
pub const EPHEMERAL_STORAGE: &str = "ephemeral-storage";
/// `pods`: the number of pods a node accepts.
pub const PODS: &str = "pods";

/// CPU assumed for a container that requests none, when scoring (upstream `DefaultMilliCPURequest`).
pub const DEFAULT_MILLI_CPU_REQUEST: i64 = 100;
/// Memory assumed for a container that requests none, when scoring (upstream `DefaultMemoryRequest`: 200Mi).
pub const DEFAULT_MEMORY_REQUEST: i64 = 200 * 1024 * 1024;

/// A parsed quantity: `mantissa × 10^exp10`, exact.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ParsedQuantity {
    mantissa: i128,
    exp10: i32,
}

impl ParsedQuantity {
    /// The value in base units, rounded up (away from zero) as upstream `Quantity.Value()`.
    pub fn value(&self) -> i64 {
        self.scaled(0)
    }

    /// The value in thousandths, rounded up as upstream `Quantity.MilliValue()`.
    pub fn milli_value(&self) -> i64 {
        self.scaled(-3)
    }

    /// The value expressed in units of `10^scale`, rounded away from zero, saturating at `i64`.
    fn scaled(&self, scale: i32) -> i64 {
        let shift = self.exp10 - scale;
        let v: i128 = if shift >= 0 {
            let mut v = self.mantissa;
            for _ in 0..shift {
                v = match v.checked_mul(10) {
                    Some(v) => v,
                    None => {
                        return if self.mantissa < 0 {
                            i64::MIN
                        } else {
                            i64::MAX
                        }
                    }
                };
            }
            v
        } else {
            let mut div: i128 = 1;
            for _ in 0..(-shift) {
                div = match div.checked_mul(10) {
                    Some(d) => d,
                    None => {
                        return if self.mantissa == 0 {
                            0
                        } else {
                            self.mantissa.signum() as i64
                        }
                    }
                };
            }
            let q = self.mantissa / div;
            if self.mantissa % div != 0 {
                q + self.mantissa.signum()
            } else {
                q
            }
        };
        v.clamp(i64::MIN as i128, i64::MAX as i128) as i64
    }
}

/// Parses a Kubernetes quantity string: a signed decimal number followed by a binary-SI suffix
/// (`Ki`, `Mi`, `Gi`, `Ti`, `Pi`, `Ei`), a decimal-SI suffix (`n`, `u`, `m`, `k`, `M`, `G`, `T`,
/// `P`, `E`) or a decimal exponent (`e3`, `E-2`).
///
/// ```
/// use kernel_sched::resources::parse_quantity;
/// assert_eq!(parse_quantity("250m").unwrap().milli_value(), 250);
/// assert_eq!(parse_quantity("1.5Gi").unwrap().value(), 1536 * 1024 * 1024);
/// assert_eq!(parse_quantity("2e3").unwrap().value(), 2000);
/// ```
pub fn parse_quantity(s: &str) -> Result<ParsedQuantity, Error> {
    let bad = || Error::InvalidQuantity(s.to_string());
    let t = s.trim();
    let bytes = t.as_bytes();
    let mut i = 0;
    let mut negative = false;
    if i < bytes.len() && (bytes[i] == b'+' || bytes[i] == b'-') {
        negative = bytes[i] == b'-';
        i += 1;
    }
    let mut mantissa: i128 = 0;
    let mut exp10: i32 = 0;
    let mut digits = 0;
    let mut seen_dot = false;
    while i < bytes.len() {
        let c = bytes[i];
        if c.is_ascii_digit() {
            digits += 1;
            if mantissa < 10i128.pow(36) {
                mantissa = mantissa * 10 + i128::from(c - b'0');
                if seen_dot {
                    exp10 -= 1;
                }
            } else if !seen_dot {
                // Too many significant digits: keep the magnitude, drop precision.
                exp10 += 1;
            }
        } else if c == b'.' && !seen_dot {
            seen_dot = true;
        } else {
            break;
        }
        i += 1;
    }
    if digits == 0 {
        return Err(bad());
    }
    let suffix = &t[i..];
    match suffix {
        "" => {}
        "Ki" | "Mi" | "Gi" | "Ti" | "Pi" | "Ei" => {
            let power = match suffix {
                "Ki" => 1,
                "Mi" => 2,
                "Gi" => 3,
                "Ti" => 4,
                "Pi" => 5,
                _ => 6,
            };
            mantissa = mantissa
                .checked_mul(1i128 << (10 * power))
                .ok_or_else(bad)?;
        }
        "n" => exp10 -= 9,
        "u" => exp10 -= 6,
        "m" => exp10 -= 3,
        "k" => exp10 += 3,
        "M" => exp10 += 6,
        "G" => exp10 += 9,
        "T" => exp10 += 12,
        "P" => exp10 += 15,
        "E" => exp10 += 18,
        _ if suffix.starts_with(['e', 'E']) => {
            let e: i32 = suffix[1..].parse().map_err(|_| bad())?;
            if !(-1000..=1000).contains(&e) {
                return Err(bad());
            }
            exp10 += e;
        }
        _ => return Err(bad()),
    }
    if negative {
        mantissa = -mantissa;
    }
    Ok(ParsedQuantity { mantissa, exp10 })
}

/// Whether `name` is a scalar resource (extended resources such as `example.com/gpu`,
/// `hugepages-*`, `attachable-volumes-*`), kept by [`Resource`] in its `scalar` list.
pub fn is_scalar_resource_name(name: &str) -> bool {
    name.starts_with("hugepages-")
        || name.starts_with("attachable-volumes-")
        || is_extended_resource_name(name)
}

/// Whether `name` is an extended resource: a domain-qualified name outside `kubernetes.io/`,
/// not prefixed `requests.`.
pub fn is_extended_resource_name(name: &str) -> bool {
    if name.starts_with("requests.") {
        return false;
    }
    match name.split_once('/') {
        Some((domain, _)) => !(domain == "kubernetes.io" || domain.ends_with(".kubernetes.io")),
        None => false,
    }
}

/// A vector of resource amounts, as upstream `framework.Resource`: CPU in millicores, memory
/// and ephemeral storage in bytes, pods as a count, scalar (extended) resources by name.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[repr(C)]
pub struct Resource {
    /// CPU in millicores.
    pub milli_cpu: i64,
    /// Memory in bytes.
    pub memory: i64,
    /// Ephemeral storage in bytes.
    pub ephemeral_storage: i64,
    /// Number of pods (only meaningful for allocatable).
    pub allowed_pod_number: i64,
    /// Scalar resources (extended resources, hugepages), sorted by name.
    pub scalar: Vec<(String, i64)>,
}

impl Resource {
    /// Builds a resource vector from a `ResourceList` (container requests, node allocatable).
    /// Unparseable quantities count as zero.
    pub fn from_list(list: &BTreeMap<String, Quantity>) -> Self {
        let mut r = Resource::default();
        for (name, q) in list {
            let Ok(p) = parse_quantity(&q.0) else {
                continue;
            };
            r.set(name, p);
        }
        r
    }

    fn set(&mut self, name: &str, q: ParsedQuantity) {
        match name {
            CPU => self.milli_cpu = q.milli_value(),
            MEMORY => self.memory = q.value(),
            EPHEMERAL_STORAGE => self.ephemeral_storage = q.value(),
            PODS => self.allowed_pod_number = q.value(),
            _ if is_scalar_resource_name(name) => self.set_scalar(name, q.value()),
            _ => {}
        }
    }

    /// The amount of a scalar resource (0 when absent).
    pub fn scalar(&self, name: &str) -> i64 {
        self.scalar
            .iter()
            .find(|(n, _)| n == name)
            .map_or(0, |(_, v)| *v)
    }

    /// Sets a scalar resource.
    pub fn set_scalar(&mut self, name: &str, value: i64) {
        match self.scalar.binary_search_by(|(n, _)| n.as_str().cmp(name)) {
            Ok(i) => self.scalar[i].1 = value,
            Err(i) => self.scalar.insert(i, (name.to_string(), value)),
        }
    }

    /// Adds `other` to `self`.
    pub fn add(&mut self, other: &Resource) {
        self.milli_cpu += other.milli_cpu;
        self.memory += other.memory;
        self.ephemeral_storage += other.ephemeral_storage;
        self.allowed_pod_number += other.allowed_pod_number;
        for (n, v) in &other.scalar {
            let cur = self.scalar(n);
            self.set_scalar(n, cur + v);
        }
    }

    /// Subtracts `other` from `self`.
    pub fn sub(&mut self, other: &Resource) {
        self.milli_cpu -= other.milli_cpu;
        self.memory -= other.memory;
        self.ephemeral_storage -= other.ephemeral_storage;
        self.allowed_pod_number -= other.allowed_pod_number;
        for (n, v) in &other.scalar {
            let cur = self.scalar(n);
            self.set_scalar(n, cur - v);
        }
    }

    /// Sets each amount to the maximum of `self` and `other`.
    pub fn set_max(&mut self, other: &Resource) {
        self.milli_cpu = self.milli_cpu.max(other.milli_cpu);
        self.memory = self.memory.max(other.memory);
        self.ephemeral_storage = self.ephemeral_storage.max(other.ephemeral_storage);
        self.allowed_pod_number = self.allowed_pod_number.max(other.allowed_pod_number);
        for (n, v) in &other.scalar {
            let cur = self.scalar(n);
            self.set_scalar(n, cur.max(*v));
        }
    }

    /// The amount of the named resource (`cpu` in millicores).
    pub fn get(&self, name: &str) -> i64 {
        match name {
            CPU => self.milli_cpu,
            MEMORY => self.memory,
            EPHEMERAL_STORAGE => self.ephemeral_storage,
            PODS => self.allowed_pod_number,
            _ => self.scalar(name),
        }
    }

    /// Whether every amount is zero.
    pub fn is_zero(&self) -> bool {
        self.milli_cpu == 0
            && self.memory == 0
            && self.ephemeral_storage == 0
            && self.scalar.iter().all(|(_, v)| *v == 0)
    }
}

fn container_requests(c: &Container, non_zero: bool) -> Resource {
    let mut r = c
        .resources
        .as_ref()
        .and_then(|r| r.requests.as_ref())
        .map(Resource::from_list)
        .unwrap_or_default();
    if non_zero {
        let has = |name: &str| {
            c.resources
                .as_ref()
                .and_then(|r| r.requests.as_ref())
                .is_some_and(|l| l.contains_key(name))
        };
        if !has(CPU) {
            r.milli_cpu = DEFAULT_MILLI_CPU_REQUEST;
        }
        if !has(MEMORY) {
            r.memory = DEFAULT_MEMORY_REQUEST;
        }
    }
    r
}

/// The effective requests of a pod, as upstream `resourcehelper.PodRequests`: the sum over
/// containers plus restartable (sidecar) init containers, at least the largest regular init
/// container (plus the sidecars started before it), plus the pod overhead.
///
/// With `non_zero`, containers that request no CPU or memory count as 100m / 200Mi — the
/// values upstream uses for scoring so best-effort pods do not all pile onto one node.
pub fn pod_requests(pod: &Pod, non_zero: bool) -> Resource {
    let Some(spec) = pod.spec.as_ref() else {
        return Resource::default();
    };
    let mut reqs = Resource::default();
    for c in &spec.containers {
        reqs.add(&container_requests(c, non_zero));
    }
    let mut sidecars = Resource::default();
    let mut init_max = Resource::default();
    for c in spec.init_containers.iter().flatten() {
        let r = container_requests(c, non_zero);
        if c.restart_policy.as_deref() == Some("Always") {
            sidecars.add(&r);
            init_max.set_max(&sidecars);
        } else {
            let mut t = r;
            t.add(&sidecars);
            init_max.set_max(&t);
        }
    }
    reqs.add(&sidecars);
    reqs.set_max(&init_max);
    if let Some(overhead) = spec.overhead.as_ref() {
        reqs.add(&Resource::from_list(overhead));
    }
    reqs
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantities_parse_like_upstream() {
        // (input, Value(), MilliValue())
        let cases: &[(&str, i64, i64)] = &[
            ("0", 0, 0),
            ("1", 1, 1000),
            ("250m", 1, 250),
            ("1500m", 2, 1500),
            ("0.5", 1, 500),
            ("2.25", 3, 2250),
            ("100k", 100_000, 100_000_000),
            ("1M", 1_000_000, 1_000_000_000),
            ("1G", 1_000_000_000, 1_000_000_000_000),
            ("1Ki", 1024, 1_024_000),
            ("128Mi", 128 << 20, (128 << 20) * 1000),
            ("1.5Gi", 1536 << 20, (1536i64 << 20) * 1000),
            ("2Ti", 2 << 40, (2i64 << 40) * 1000),
            ("1e3", 1000, 1_000_000),
            ("1E3", 1000, 1_000_000),
            ("5e-3", 1, 5),
            ("12e-1", 2, 1200),
            ("100n", 1, 1),
            ("1u", 1, 1),
            ("-250m", -1, -250),
            ("+2", 2, 2000),
        ];
        for (s, v, m) in cases {
            let q = parse_quantity(s).unwrap();
            assert_eq!(q.value(), *v, "value of {s}");
            assert_eq!(q.milli_value(), *m, "milli of {s}");
        }
    }

    #[test]
    fn bad_quantities_are_rejected() {
        for s in ["", "m", "1x", "1.2.3", "Gi", "1e", "1ee3", "1 Gi"] {
            assert!(parse_quantity(s).is_err(), "{s} should fail");
        }
    }

    #[test]
    fn huge_quantities_saturate() {
        assert_eq!(parse_quantity("9E").unwrap().milli_value(), i64::MAX);
        assert_eq!(parse_quantity("8Ei").unwrap().value(), i64::MAX);
    }

    #[test]
    fn scalar_names() {
        assert!(is_scalar_resource_name("example.com/gpu"));
        assert!(is_scalar_resource_name("hugepages-2Mi"));
        assert!(!is_scalar_resource_name("kubernetes.io/foo"));
        assert!(!is_scalar_resource_name("cpu"));
    }

    fn container(cpu: Option<&str>, mem: Option<&str>, restart: Option<&str>) -> Container {
        let mut req = BTreeMap::new();
        if let Some(c) = cpu {
            req.insert(CPU.to_string(), Quantity(c.into()));
        }
        if let Some(m) = mem {
            req.insert(MEMORY.to_string(), Quantity(m.into()));
        }
        Container {
            name: "c".into(),
            restart_policy: restart.map(String::from),
            resources: Some(k8s_openapi::api::core::v1::ResourceRequirements {
                requests: Some(req),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    #[test]
    fn pod_requests_sum_containers_max_init_and_sidecars() {
        let pod = Pod {
            spec: Some(k8s_openapi::api::core::v1::PodSpec {
                containers: vec![
                    container(Some("100m"), Some("1Gi"), None),
                    container(Some("200m"), None, None),
                ],
                init_containers: Some(vec![
                    container(Some("50m"), None, Some("Always")),
                    container(Some("1"), Some("100Mi"), None),
                ]),
                overhead: Some([(CPU.to_string(), Quantity("10m".into()))].into()),
                ..Default::default()
            }),
            ..Default::default()
        };
        let r = pod_requests(&pod, false);
        // containers 300m + sidecar 50m = 350m; init 1000m + sidecar 50m = 1050m wins; + 10m overhead.
        assert_eq!(r.milli_cpu, 1060);
        assert_eq!(r.memory, 1 << 30);
        let nz = pod_requests(&pod, true);
        // the second container gets the 200Mi default memory when scoring.
        assert_eq!(
            nz.memory,
            (1 << 30) + DEFAULT_MEMORY_REQUEST + DEFAULT_MEMORY_REQUEST
        );
    }
}
