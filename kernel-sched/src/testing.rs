//! Builders for nodes and pods, for tests, benchmarks and examples.
//!
//! ```
//! use kernel_sched::testing::{node, pod};
//! let n = node("n1").cpu("4").memory("8Gi").zone("z1").obj();
//! let p = pod("web-0").req("500m", "1Gi").label("app", "web").obj();
//! assert_eq!(n.metadata.name.as_deref(), Some("n1"));
//! assert_eq!(p.metadata.namespace.as_deref(), Some("default"));
//! ```

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{
    Affinity, Container, ContainerImage, ContainerPort, Node, NodeSpec, NodeStatus, Pod, PodSpec,
    ResourceRequirements, Taint, Toleration,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use crate::plugins::{LABEL_HOSTNAME, LABEL_ZONE};

/// Starts a node builder with 32 CPUs, 64Gi memory, 110 pods and the hostname label set.
pub fn node(name: &str) -> NodeBuilder {
    let mut b = NodeBuilder(Node {
        metadata: ObjectMeta {
            name: Some(name.into()),
            ..Default::default()
        },
        spec: Some(NodeSpec::default()),
        status: Some(NodeStatus {
            allocatable: Some(BTreeMap::new()),
            ..Default::default()
        }),
    });
    b = b
        .cpu("32")
        .memory("64Gi")
        .pods(110)
        .label(LABEL_HOSTNAME, name);
    b
}

/// Builds a [`Node`].
#[derive(Clone, Debug)]
pub struct NodeBuilder(pub Node);

impl NodeBuilder {
    fn alloc(mut self, name: &str, q: &str) -> Self {
        let status = self.0.status.get_or_insert_with(Default::default);
        status
            .allocatable
            .get_or_insert_with(Default::default)
            .insert(name.into(), Quantity(q.into()));
        self
    }
    /// Allocatable CPU.
    pub fn cpu(self, q: &str) -> Self {
        self.alloc("cpu", q)
    }
    /// Allocatable memory.
    pub fn memory(self, q: &str) -> Self {
        self.alloc("memory", q)
    }
    /// Allocatable ephemeral storage.
    pub fn ephemeral(self, q: &str) -> Self {
        self.alloc("ephemeral-storage", q)
    }
    /// Allocatable pod count.
    pub fn pods(self, n: i64) -> Self {
        self.alloc("pods", &n.to_string())
    }
    /// Any allocatable resource.
    pub fn resource(self, name: &str, q: &str) -> Self {
        self.alloc(name, q)
    }
    /// A label.
    pub fn label(mut self, k: &str, v: &str) -> Self {
        self.0
            .metadata
            .labels
            .get_or_insert_with(Default::default)
            .insert(k.into(), v.into());
        self
    }
    /// The zone label.
    pub fn zone(self, z: &str) -> Self {
        self.label(LABEL_ZONE, z)
    }
    /// A taint.
    pub fn taint(mut self, key: &str, value: &str, effect: &str) -> Self {
        let spec = self.0.spec.get_or_insert_with(Default::default);
        spec.taints.get_or_insert_with(Vec::new).push(Taint {
            key: key.into(),
            value: (!value.is_empty()).then(|| value.into()),
            effect: effect.into(),
            time_added: None,
        });
        self
    }
    /// Marks the node unschedulable (cordoned).
    pub fn unschedulable(mut self) -> Self {
        self.0
            .spec
            .get_or_insert_with(Default::default)
            .unschedulable = Some(true);
        self
    }
    /// An image present on the node.
    pub fn image(mut self, name: &str, size: i64) -> Self {
        let status = self.0.status.get_or_insert_with(Default::default);
        status
            .images
            .get_or_insert_with(Vec::new)
            .push(ContainerImage {
                names: Some(vec![name.into()]),
                size_bytes: Some(size),
            });
        self
    }
    /// The node.
    pub fn obj(self) -> Node {
        self.0
    }
}

/// Starts a pod builder: namespace `default`, one container `c` without requests.
pub fn pod(name: &str) -> PodBuilder {
    PodBuilder(Pod {
        metadata: ObjectMeta {
            name: Some(name.into()),
            namespace: Some("default".into()),
            ..Default::default()
        },
        spec: Some(PodSpec {
            containers: vec![Container {
                name: "c".into(),
                image: Some("pause".into()),
                ..Default::default()
            }],
            ..Default::default()
        }),
        status: None,
    })
}

/// Builds a [`Pod`].
#[derive(Clone, Debug)]
pub struct PodBuilder(pub Pod);

impl PodBuilder {
    fn spec(&mut self) -> &mut PodSpec {
        self.0.spec.get_or_insert_with(Default::default)
    }
    /// Namespace.
    pub fn namespace(mut self, ns: &str) -> Self {
        self.0.metadata.namespace = Some(ns.into());
        self
    }
    /// UID.
    pub fn uid(mut self, uid: &str) -> Self {
        self.0.metadata.uid = Some(uid.into());
        self
    }
    /// CPU and memory requests of the first container (`"0"` for none).
    pub fn req(mut self, cpu: &str, mem: &str) -> Self {
        let mut r = BTreeMap::new();
        if cpu != "0" {
            r.insert("cpu".to_string(), Quantity(cpu.into()));
        }
        if mem != "0" {
            r.insert("memory".to_string(), Quantity(mem.into()));
        }
        let c = &mut self.spec().containers[0];
        let res = c
            .resources
            .get_or_insert_with(ResourceRequirements::default);
        res.requests.get_or_insert_with(Default::default).extend(r);
        self
    }
    /// A request of any resource on the first container.
    pub fn request(mut self, name: &str, q: &str) -> Self {
        let c = &mut self.spec().containers[0];
        let res = c
            .resources
            .get_or_insert_with(ResourceRequirements::default);
        res.requests
            .get_or_insert_with(Default::default)
            .insert(name.into(), Quantity(q.into()));
        self
    }
    /// A label.
    pub fn label(mut self, k: &str, v: &str) -> Self {
        self.0
            .metadata
            .labels
            .get_or_insert_with(Default::default)
            .insert(k.into(), v.into());
        self
    }
    /// `spec.priority`.
    pub fn priority(mut self, p: i32) -> Self {
        self.spec().priority = Some(p);
        self
    }
    /// `spec.nodeName`.
    pub fn node(mut self, n: &str) -> Self {
        self.spec().node_name = Some(n.into());
        self
    }
    /// `spec.schedulerName`.
    pub fn scheduler_name(mut self, n: &str) -> Self {
        self.spec().scheduler_name = Some(n.into());
        self
    }
    /// A `spec.nodeSelector` entry.
    pub fn node_selector(mut self, k: &str, v: &str) -> Self {
        self.spec()
            .node_selector
            .get_or_insert_with(Default::default)
            .insert(k.into(), v.into());
        self
    }
    /// A toleration (`operator` `Equal` or `Exists`).
    pub fn toleration(mut self, key: &str, op: &str, value: &str, effect: &str) -> Self {
        self.spec()
            .tolerations
            .get_or_insert_with(Vec::new)
            .push(Toleration {
                key: (!key.is_empty()).then(|| key.into()),
                operator: Some(op.into()),
                value: (!value.is_empty()).then(|| value.into()),
                effect: (!effect.is_empty()).then(|| effect.into()),
                toleration_seconds: None,
            });
        self
    }
    /// A host port on the first container.
    pub fn host_port(mut self, port: i32, protocol: &str, ip: &str) -> Self {
        let c = &mut self.spec().containers[0];
        c.ports.get_or_insert_with(Vec::new).push(ContainerPort {
            container_port: port,
            host_port: Some(port),
            protocol: Some(protocol.into()),
            host_ip: (!ip.is_empty()).then(|| ip.into()),
            name: None,
        });
        self
    }
    /// The image of the first container.
    pub fn image(mut self, image: &str) -> Self {
        self.spec().containers[0].image = Some(image.into());
        self
    }
    /// `spec.affinity`.
    pub fn affinity(mut self, a: Affinity) -> Self {
        self.spec().affinity = Some(a);
        self
    }
    /// Gives direct access to the spec.
    pub fn with_spec(mut self, f: impl FnOnce(&mut PodSpec)) -> Self {
        f(self.spec());
        self
    }
    /// The pod.
    pub fn obj(self) -> Pod {
        self.0
    }
}
