//! The resource declarations: one [`ResourceDef`] per served resource.
//!
//! Routing, discovery, storage keys and strategies are all derived from this table, so serving a
//! new resource is one entry in [`builtin`] (or, at run time, [`Resources::insert`], which is how
//! CustomResourceDefinitions would be served).

use std::sync::{Arc, RwLock};

use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::strategy::Strategy;

/// A subresource a resource serves, besides the main resource.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Subresource {
    /// `…/status`: get, update and patch the status only.
    Status,
    /// `…/scale`: an `autoscaling/v1` `Scale` view of `spec.replicas`.
    Scale,
    /// `pods/binding`: assigns a pod to a node.
    Binding,
    /// `pods/eviction`: deletes a pod (policy/v1 `Eviction`).
    Eviction,
    /// `namespaces/finalize`: updates `spec.finalizers`.
    Finalize,
    /// `serviceaccounts/token`: issues a token for the service account (TokenRequest).
    Token,
    /// `pods/attach`: attaches to a container through its kubelet (an upgrade).
    Attach,
    /// `pods/exec`: runs a command in a container through its kubelet (an upgrade).
    Exec,
    /// `pods/log`: a container's log, streamed from its kubelet.
    Log,
    /// `pods/portforward`: forwards ports of a pod through its kubelet (an upgrade).
    PortForward,
    /// `nodes/proxy`: any request to the node's kubelet.
    Proxy,
}

impl Subresource {
    /// The path segment (`status`, `scale`, …).
    pub fn name(self) -> &'static str {
        match self {
            Subresource::Status => "status",
            Subresource::Scale => "scale",
            Subresource::Binding => "binding",
            Subresource::Eviction => "eviction",
            Subresource::Finalize => "finalize",
            Subresource::Token => "token",
            Subresource::Attach => "attach",
            Subresource::Exec => "exec",
            Subresource::Log => "log",
            Subresource::PortForward => "portforward",
            Subresource::Proxy => "proxy",
        }
    }

    /// Parses a path segment.
    pub fn parse(segment: &str) -> Option<Self> {
        Some(match segment {
            "status" => Subresource::Status,
            "scale" => Subresource::Scale,
            "binding" => Subresource::Binding,
            "eviction" => Subresource::Eviction,
            "finalize" => Subresource::Finalize,
            "token" => Subresource::Token,
            "attach" => Subresource::Attach,
            "exec" => Subresource::Exec,
            "log" => Subresource::Log,
            "portforward" => Subresource::PortForward,
            "proxy" => Subresource::Proxy,
            _ => return None,
        })
    }
}

/// A check that an object decodes as its typed Kubernetes struct (malformed objects get 400).
/// Returns the paths of the fields the type does not know (each a list of segments), found while
/// decoding, without encoding the object again.
pub type TypedCheck = fn(&Value) -> Result<Vec<Vec<PathSegment>>, String>;

/// Produces a kind's schema in a generator (usually a `$ref` into its definitions); the OpenAPI
/// documents are built from these.
pub type SchemaFn = fn(&mut schemars::SchemaGenerator) -> schemars::Schema;

/// The [`SchemaFn`] of a k8s-openapi (or any `JsonSchema`) type.
pub fn schema_of<K: schemars::JsonSchema>(
    generator: &mut schemars::SchemaGenerator,
) -> schemars::Schema {
    generator.subschema_for::<K>()
}

/// One step of a path into a JSON object.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PathSegment {
    /// A field of an object.
    Field(String),
    /// An element of an array.
    Index(usize),
}

/// The generic registry's settings for one resource (what upstream sets on its
/// `genericregistry.Store`); per-kind behaviour is the [`Strategy`].
#[derive(Clone, Copy, Debug, Default)]
pub struct Flags {
    /// Maintain `metadata.generation`: 1 on create, +1 when anything but metadata and status changes.
    pub generation: bool,
    /// Decode check against the k8s-openapi type, when one exists.
    pub typed_check: Option<TypedCheck>,
    /// The OpenAPI schema of the kind, when one is known (served at `/openapi/v2` and `/openapi/v3`).
    pub schema: Option<SchemaFn>,
    /// Served for a CustomResourceDefinition: its versions share one stored object (read back
    /// with the version's `apiVersion`) and the CRD loop removes it with its CRD.
    pub custom: bool,
    /// Conversion to and from the stored form, when this API version shares storage with another
    /// (events.k8s.io/v1 Events are stored as core v1 Events).
    pub conversion: Option<crate::conversion::Conversion>,
    /// Create-only, never stored (reviews such as SelfSubjectAccessReview: the answer is
    /// computed from the request, see `handlers/review.rs`).
    pub create_only: bool,
    /// Objects expire this long after their last write (Events: one hour, upstream's
    /// `--event-ttl`), through a store lease.
    pub ttl: Option<std::time::Duration>,
}

/// One served resource: everything routing, discovery and storage need to know.
#[derive(Clone, Debug)]
pub struct ResourceDef {
    /// API group, `""` for core.
    pub group: String,
    /// API version (`v1`).
    pub version: String,
    /// Kind (`Pod`).
    pub kind: String,
    /// Plural resource name, the path segment (`pods`).
    pub plural: String,
    /// Singular name (`pod`).
    pub singular: String,
    /// Short names (`po`).
    pub short_names: Vec<String>,
    /// Categories (`all`).
    pub categories: Vec<String>,
    /// Namespaced or cluster-scoped.
    pub namespaced: bool,
    /// Served subresources.
    pub subresources: Vec<Subresource>,
    /// Per-kind behaviour (defaulting, prepare, validation, printing, selectable fields).
    pub strategy: Arc<dyn Strategy>,
    /// Settings of the generic registry.
    pub flags: Flags,
    /// Key segment under the store prefix (`pods`, or `<group>/<plural>` for custom resources).
    pub storage: String,
    /// The `openAPIV3Schema` of a custom resource version (structural validation, pruning and
    /// defaulting when the object is written).
    pub custom_schema: Option<std::sync::Arc<Value>>,
}

fn typed<K: DeserializeOwned>(value: &Value) -> Result<Vec<Vec<PathSegment>>, String> {
    let mut unknown = Vec::new();
    let _: K = serde_ignored::deserialize(value, |path| {
        let mut segments = Vec::new();
        push_segments(&path, &mut segments);
        unknown.push(segments);
    })
    .map_err(|e| e.to_string())?;
    Ok(unknown)
}

/// Appends the segments of `path` (root first) to `out`.
fn push_segments(path: &serde_ignored::Path<'_>, out: &mut Vec<PathSegment>) {
    use serde_ignored::Path;
    match path {
        Path::Root => {}
        Path::Seq { parent, index } => {
            push_segments(parent, out);
            out.push(PathSegment::Index(*index));
        }
        Path::Map { parent, key } => {
            push_segments(parent, out);
            out.push(PathSegment::Field(key.clone()));
        }
        Path::Some { parent }
        | Path::NewtypeStruct { parent }
        | Path::NewtypeVariant { parent } => push_segments(parent, out),
    }
}

impl ResourceDef {
    /// A resource in `group_version` (`"v1"` or `"apps/v1"`) with defaults: no short names or
    /// categories, no subresources, and the [`Strategy`] of the kind if kube-apiserver serves
    /// it (by group and kind), else every strategy default.
    pub fn new(group_version: &str, kind: &str, plural: &str, namespaced: bool) -> Self {
        let (group, version) = match group_version.split_once('/') {
            Some((g, v)) => (g, v),
            None => ("", group_version),
        };
        ResourceDef {
            group: group.into(),
            version: version.into(),
            kind: kind.into(),
            plural: plural.into(),
            singular: kind.to_ascii_lowercase(),
            short_names: Vec::new(),
            categories: Vec::new(),
            namespaced,
            subresources: Vec::new(),
            strategy: crate::strategy::builtin(group, kind),
            flags: Flags::default(),
            storage: plural.into(),
            custom_schema: None,
        }
    }

    /// Sets short names.
    pub fn short(mut self, names: &[&str]) -> Self {
        self.short_names = names.iter().map(|s| s.to_string()).collect();
        self
    }

    /// Sets categories.
    pub fn categories(mut self, names: &[&str]) -> Self {
        self.categories = names.iter().map(|s| s.to_string()).collect();
        self
    }

    /// Adds subresources.
    pub fn with(mut self, subresources: &[Subresource]) -> Self {
        self.subresources.extend_from_slice(subresources);
        self
    }

    /// Maintains `metadata.generation`.
    pub fn generation(mut self) -> Self {
        self.flags.generation = true;
        self
    }

    /// A custom resource served from a Rust type, registered when the server is built
    /// (`ApiServer::builder().resource(ResourceDef::of::<Widget>())`): group, version, kind,
    /// plural and scope come from its `kube::Resource` impl (e.g. `#[derive(CustomResource)]`),
    /// objects are checked by decoding them as `K`, its schema is served in OpenAPI, and
    /// `status` given on create is dropped as for any custom resource. Add subresources with
    /// [`with`](Self::with).
    pub fn of<K>() -> Self
    where
        K: kube::Resource<DynamicType = ()>
            + DeserializeOwned
            + serde::Serialize
            + schemars::JsonSchema
            + 'static,
        K::Scope: 'static,
    {
        let namespaced = std::any::TypeId::of::<K::Scope>()
            == std::any::TypeId::of::<k8s_openapi::NamespaceResourceScope>();
        let mut def = ResourceDef::new(
            &K::api_version(&()),
            &K::kind(&()),
            &K::plural(&()),
            namespaced,
        )
        .typed::<K>();
        def.strategy = crate::strategy::custom_resource();
        def
    }

    /// Replaces the per-kind behaviour.
    pub fn strategy(mut self, strategy: impl Strategy) -> Self {
        self.strategy = Arc::new(strategy);
        self
    }

    /// Checks objects by decoding them as `K`.
    pub fn typed<K: DeserializeOwned + serde::Serialize + schemars::JsonSchema>(mut self) -> Self {
        self.flags.typed_check = Some(typed::<K>);
        self.flags.schema = Some(schema_of::<K>);
        self
    }

    /// Serves only `create`, computing the answer instead of storing the object.
    pub fn create_only(mut self) -> Self {
        self.flags.create_only = true;
        self
    }

    /// The verbs served on the main resource.
    pub fn verbs(&self) -> &'static [&'static str] {
        const ALL: [&str; 8] = [
            "create",
            "delete",
            "deletecollection",
            "get",
            "list",
            "patch",
            "update",
            "watch",
        ];
        const NO_DELETECOLLECTION: [&str; 7] = [
            "create", "delete", "get", "list", "patch", "update", "watch",
        ];
        if self.flags.create_only {
            &["create"]
        } else if self.strategy.serves_delete_collection() {
            &ALL
        } else {
            &NO_DELETECOLLECTION
        }
    }

    /// Lets objects expire `ttl` after their last write.
    pub fn ttl(mut self, ttl: std::time::Duration) -> Self {
        self.flags.ttl = Some(ttl);
        self
    }

    /// Stores objects in another shape (see [`Conversion`](crate::Conversion)).
    pub fn conversion(mut self, conversion: crate::conversion::Conversion) -> Self {
        self.flags.conversion = Some(conversion);
        self
    }

    /// Sets the storage key segment.
    pub fn storage(mut self, storage: &str) -> Self {
        self.storage = storage.into();
        self
    }

    /// `apps/v1` or `v1`.
    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.clone()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }

    /// `deployments.apps` or `pods`, as used in error messages.
    pub fn qualified(&self) -> String {
        if self.group.is_empty() {
            self.plural.clone()
        } else {
            format!("{}.{}", self.plural, self.group)
        }
    }

    /// True if `sub` is served.
    pub fn has(&self, sub: Subresource) -> bool {
        self.subresources.contains(&sub)
    }

    /// The `List` kind (`PodList`).
    pub fn list_kind(&self) -> String {
        format!("{}List", self.kind)
    }
}

/// How long Events live after their last write (upstream's `--event-ttl` default).
pub const EVENT_TTL: std::time::Duration = std::time::Duration::from_secs(3600);

/// The built-in resources, as kube-apiserver v1.33 serves them.
pub fn builtin() -> Vec<ResourceDef> {
    use k8s_openapi::api::{
        apps::v1 as apps, autoscaling::v2 as autoscaling, batch::v1 as batch,
        coordination::v1 as coordination, core::v1 as core, discovery::v1 as discovery,
        events::v1 as events, networking::v1 as networking, policy::v1 as policy, rbac::v1 as rbac,
        scheduling::v1 as scheduling, storage::v1 as storage,
    };
    use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1 as apiext;
    use Subresource::*;
    vec![
        // core/v1
        ResourceDef::new("v1", "Pod", "pods", true)
            .short(&["po"])
            .categories(&["all"])
            .with(&[Attach, Binding, Eviction, Exec, Log, PortForward, Status])
            .generation()
            .typed::<core::Pod>(),
        ResourceDef::new("v1", "Node", "nodes", false)
            .short(&["no"])
            .with(&[Proxy, Status])
            .typed::<core::Node>(),
        ResourceDef::new("v1", "Namespace", "namespaces", false)
            .short(&["ns"])
            .with(&[Status, Finalize])
            .typed::<core::Namespace>(),
        ResourceDef::new("v1", "Service", "services", true)
            .short(&["svc"])
            .categories(&["all"])
            .with(&[Status])
            .typed::<core::Service>(),
        ResourceDef::new("v1", "Endpoints", "endpoints", true)
            .short(&["ep"])
            .typed::<core::Endpoints>(),
        ResourceDef::new("v1", "ConfigMap", "configmaps", true)
            .short(&["cm"])
            .typed::<core::ConfigMap>(),
        ResourceDef::new("v1", "Secret", "secrets", true).typed::<core::Secret>(),
        ResourceDef::new("v1", "ServiceAccount", "serviceaccounts", true)
            .short(&["sa"])
            .with(&[Token])
            .typed::<core::ServiceAccount>(),
        ResourceDef::new("v1", "Event", "events", true)
            .short(&["ev"])
            .ttl(EVENT_TTL)
            .typed::<core::Event>(),
        ResourceDef::new("v1", "PersistentVolume", "persistentvolumes", false)
            .short(&["pv"])
            .with(&[Status])
            .typed::<core::PersistentVolume>(),
        ResourceDef::new(
            "v1",
            "PersistentVolumeClaim",
            "persistentvolumeclaims",
            true,
        )
        .short(&["pvc"])
        .with(&[Status])
        .typed::<core::PersistentVolumeClaim>(),
        ResourceDef::new("v1", "PodTemplate", "podtemplates", true).typed::<core::PodTemplate>(),
        ResourceDef::new(
            "v1",
            "ReplicationController",
            "replicationcontrollers",
            true,
        )
        .short(&["rc"])
        .categories(&["all"])
        .with(&[Status, Scale])
        .generation()
        .typed::<core::ReplicationController>(),
        ResourceDef::new("v1", "ResourceQuota", "resourcequotas", true)
            .short(&["quota"])
            .with(&[Status])
            .typed::<core::ResourceQuota>(),
        ResourceDef::new("v1", "LimitRange", "limitranges", true)
            .short(&["limits"])
            .typed::<core::LimitRange>(),
        // apps/v1
        ResourceDef::new("apps/v1", "Deployment", "deployments", true)
            .short(&["deploy"])
            .categories(&["all"])
            .with(&[Status, Scale])
            .generation()
            .typed::<apps::Deployment>(),
        ResourceDef::new("apps/v1", "ReplicaSet", "replicasets", true)
            .short(&["rs"])
            .categories(&["all"])
            .with(&[Status, Scale])
            .generation()
            .typed::<apps::ReplicaSet>(),
        ResourceDef::new("apps/v1", "DaemonSet", "daemonsets", true)
            .short(&["ds"])
            .categories(&["all"])
            .with(&[Status])
            .generation()
            .typed::<apps::DaemonSet>(),
        ResourceDef::new("apps/v1", "StatefulSet", "statefulsets", true)
            .short(&["sts"])
            .categories(&["all"])
            .with(&[Status, Scale])
            .generation()
            .typed::<apps::StatefulSet>(),
        ResourceDef::new("apps/v1", "ControllerRevision", "controllerrevisions", true)
            .typed::<apps::ControllerRevision>(),
        // batch/v1
        ResourceDef::new("batch/v1", "Job", "jobs", true)
            .categories(&["all"])
            .with(&[Status])
            .generation()
            .typed::<batch::Job>(),
        ResourceDef::new("batch/v1", "CronJob", "cronjobs", true)
            .short(&["cj"])
            .categories(&["all"])
            .with(&[Status])
            .generation()
            .typed::<batch::CronJob>(),
        // autoscaling/v2
        ResourceDef::new(
            "autoscaling/v2",
            "HorizontalPodAutoscaler",
            "horizontalpodautoscalers",
            true,
        )
        .short(&["hpa"])
        .categories(&["all"])
        .with(&[Status])
        .typed::<autoscaling::HorizontalPodAutoscaler>(),
        // discovery.k8s.io/v1
        ResourceDef::new(
            "discovery.k8s.io/v1",
            "EndpointSlice",
            "endpointslices",
            true,
        )
        .typed::<discovery::EndpointSlice>(),
        // networking.k8s.io/v1
        ResourceDef::new("networking.k8s.io/v1", "Ingress", "ingresses", true)
            .short(&["ing"])
            .with(&[Status])
            .generation()
            .typed::<networking::Ingress>(),
        ResourceDef::new(
            "networking.k8s.io/v1",
            "IngressClass",
            "ingressclasses",
            false,
        )
        .typed::<networking::IngressClass>(),
        ResourceDef::new(
            "networking.k8s.io/v1",
            "NetworkPolicy",
            "networkpolicies",
            true,
        )
        .short(&["netpol"])
        .generation()
        .typed::<networking::NetworkPolicy>(),
        // coordination.k8s.io/v1
        ResourceDef::new("coordination.k8s.io/v1", "Lease", "leases", true)
            .typed::<coordination::Lease>(),
        // rbac.authorization.k8s.io/v1
        ResourceDef::new("rbac.authorization.k8s.io/v1", "Role", "roles", true)
            .typed::<rbac::Role>(),
        ResourceDef::new(
            "rbac.authorization.k8s.io/v1",
            "ClusterRole",
            "clusterroles",
            false,
        )
        .typed::<rbac::ClusterRole>(),
        ResourceDef::new(
            "rbac.authorization.k8s.io/v1",
            "RoleBinding",
            "rolebindings",
            true,
        )
        .typed::<rbac::RoleBinding>(),
        ResourceDef::new(
            "rbac.authorization.k8s.io/v1",
            "ClusterRoleBinding",
            "clusterrolebindings",
            false,
        )
        .typed::<rbac::ClusterRoleBinding>(),
        // scheduling.k8s.io/v1
        ResourceDef::new(
            "scheduling.k8s.io/v1",
            "PriorityClass",
            "priorityclasses",
            false,
        )
        .short(&["pc"])
        .typed::<scheduling::PriorityClass>(),
        // storage.k8s.io/v1
        ResourceDef::new("storage.k8s.io/v1", "StorageClass", "storageclasses", false)
            .short(&["sc"])
            .typed::<storage::StorageClass>(),
        // apiextensions.k8s.io/v1
        ResourceDef::new(
            "apiextensions.k8s.io/v1",
            "CustomResourceDefinition",
            "customresourcedefinitions",
            false,
        )
        .short(&["crd", "crds"])
        .categories(&["api-extensions"])
        .with(&[Status])
        .generation()
        .storage("apiextensions.k8s.io/customresourcedefinitions")
        .typed::<apiext::CustomResourceDefinition>(),
        // events.k8s.io/v1: the same objects as core v1 Events, converted on the way in and out
        ResourceDef::new("events.k8s.io/v1", "Event", "events", true)
            .short(&["ev"])
            .storage("events")
            .conversion(crate::conversion::EVENTS)
            .ttl(EVENT_TTL)
            .typed::<events::Event>(),
        // authorization.k8s.io/v1 and authentication.k8s.io/v1 reviews (create-only, not stored)
        ResourceDef::new(
            "authorization.k8s.io/v1",
            "SelfSubjectAccessReview",
            "selfsubjectaccessreviews",
            false,
        )
        .create_only()
        .typed::<k8s_openapi::api::authorization::v1::SelfSubjectAccessReview>(),
        ResourceDef::new(
            "authorization.k8s.io/v1",
            "SubjectAccessReview",
            "subjectaccessreviews",
            false,
        )
        .create_only()
        .typed::<k8s_openapi::api::authorization::v1::SubjectAccessReview>(),
        ResourceDef::new(
            "authorization.k8s.io/v1",
            "LocalSubjectAccessReview",
            "localsubjectaccessreviews",
            true,
        )
        .create_only()
        .typed::<k8s_openapi::api::authorization::v1::LocalSubjectAccessReview>(),
        ResourceDef::new(
            "authentication.k8s.io/v1",
            "SelfSubjectReview",
            "selfsubjectreviews",
            false,
        )
        .create_only()
        .typed::<k8s_openapi::api::authentication::v1::SelfSubjectReview>(),
        ResourceDef::new(
            "authentication.k8s.io/v1",
            "TokenReview",
            "tokenreviews",
            false,
        )
        .create_only()
        .typed::<k8s_openapi::api::authentication::v1::TokenReview>(),
        // policy/v1
        ResourceDef::new(
            "policy/v1",
            "PodDisruptionBudget",
            "poddisruptionbudgets",
            true,
        )
        .short(&["pdb"])
        .with(&[Status])
        .generation()
        .typed::<policy::PodDisruptionBudget>(),
    ]
}

/// The strategy of a built-in resource by its plural (tests name kinds by resource).
#[cfg(test)]
pub(crate) fn strategy_for_plural(plural: &str) -> Arc<dyn Strategy> {
    let kind = match plural {
        "runtimeclasses" => ("node.k8s.io", "RuntimeClass"),
        "validatingwebhookconfigurations" => (
            "admissionregistration.k8s.io",
            "ValidatingWebhookConfiguration",
        ),
        "mutatingwebhookconfigurations" => (
            "admissionregistration.k8s.io",
            "MutatingWebhookConfiguration",
        ),
        "apiservices" => ("apiregistration.k8s.io", "APIService"),
        "certificatesigningrequests" => ("certificates.k8s.io", "CertificateSigningRequest"),
        _ => {
            return builtin()
                .into_iter()
                .find(|d| d.plural == plural)
                .map(|d| d.strategy)
                .unwrap_or_else(crate::strategy::generic)
        }
    };
    crate::strategy::builtin(kind.0, kind.1)
}

/// The set of served resources; shared, and extensible at run time.
#[derive(Debug, Default)]
pub struct Resources {
    defs: RwLock<Vec<Arc<ResourceDef>>>,
}

impl Resources {
    /// The built-in resources.
    pub fn builtin() -> Self {
        Resources {
            defs: RwLock::new(builtin().into_iter().map(Arc::new).collect()),
        }
    }

    /// Adds (or replaces, by group/version/plural) a resource.
    pub fn insert(&self, def: ResourceDef) {
        let mut defs = self.defs.write().unwrap_or_else(|e| e.into_inner());
        defs.retain(|d| {
            !(d.group == def.group && d.version == def.version && d.plural == def.plural)
        });
        defs.push(Arc::new(def));
    }

    /// Removes every resource for which `remove` returns true.
    pub fn remove_where(&self, remove: impl Fn(&ResourceDef) -> bool) {
        let mut defs = self.defs.write().unwrap_or_else(|e| e.into_inner());
        defs.retain(|d| !remove(d));
    }

    /// Looks a resource up by group, version and plural.
    pub fn get(&self, group: &str, version: &str, plural: &str) -> Option<Arc<ResourceDef>> {
        self.find(|d| d.group == group && d.version == version && d.plural == plural)
    }

    /// The resource of a kind in a group (any version).
    pub fn by_kind(&self, group: &str, kind: &str) -> Option<Arc<ResourceDef>> {
        self.find(|d| d.group == group && d.kind == kind)
    }

    /// The first served resource matching `matches`, looked up in place (every request does
    /// this: no copy of the list).
    fn find(&self, matches: impl Fn(&ResourceDef) -> bool) -> Option<Arc<ResourceDef>> {
        self.defs
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .find(|d| matches(d))
            .cloned()
    }

    /// Every served resource.
    pub fn all(&self) -> Vec<Arc<ResourceDef>> {
        self.defs.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Served groups in order of first appearance, each with its versions.
    pub fn groups(&self) -> Vec<(String, Vec<String>)> {
        let mut out: Vec<(String, Vec<String>)> = Vec::new();
        for d in self.all() {
            match out.iter_mut().find(|(g, _)| *g == d.group) {
                Some((_, versions)) => {
                    if !versions.contains(&d.version) {
                        versions.push(d.version.clone());
                    }
                }
                None => out.push((d.group.clone(), vec![d.version.clone()])),
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_is_consistent() {
        let resources = Resources::builtin();
        let pods = resources.get("", "v1", "pods").unwrap();
        assert_eq!(pods.short_names, vec!["po"]);
        assert!(pods.has(Subresource::Binding));
        let deploy = resources.get("apps", "v1", "deployments").unwrap();
        assert_eq!(deploy.qualified(), "deployments.apps");
        let annotated = serde_json::json!({"metadata": {"annotations": {"a": "b"}}});
        assert!(deploy
            .strategy
            .generation_changed(&annotated, &serde_json::json!({})));
        assert!(resources.groups().iter().any(|(g, _)| g == "policy"));
    }
}
