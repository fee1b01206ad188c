//! Per-kind behaviour: one [`Strategy`] implementation per kind, in `strategy/<kind>.rs`, as
//! upstream's `pkg/registry/<group>/<kind>/strategy.go`.
//!
//! The generic registry does everything that is the same for every kind (system metadata,
//! resource versions, managedFields, storage); a strategy adds what differs: defaulting,
//! `PrepareForCreate` / `PrepareForUpdate`, validation, how a delete proceeds, the printer
//! columns of `kubectl get` and the fields a `fieldSelector` may name. Every method has a
//! default, so a kind only writes what it changes; a kind without a file gets the defaults
//! (a generic strategy).
//!
//! [`ResourceDef::new`](crate::ResourceDef::new) picks the built-in strategy of the kind when
//! kube-apiserver serves that kind (by group and kind), otherwise the defaults;
//! [`ResourceDef::of`](crate::ResourceDef::of) and CustomResourceDefinitions get the custom
//! resource strategy, and [`ResourceDef::strategy`](crate::ResourceDef::strategy) sets any
//! other. Serving a new built-in kind is one file here plus one line in this module's table of
//! built-in strategies (and its `ResourceDef` in
//! [`resources::builtin`](crate::resources::builtin)).
//!
//! ```
//! use kernel_api::{ApiServer, ResourceDef, Strategy};
//! use kube::api::{Api, ApiResource, DynamicObject, GroupVersionKind, PostParams};
//! use serde_json::{json, Value};
//!
//! /// Widgets are one in size unless they say otherwise.
//! #[derive(Debug)]
//! struct Widgets;
//!
//! impl Strategy for Widgets {
//!     fn defaults(&self, obj: &mut Value) {
//!         if obj["spec"]["size"].is_null() {
//!             obj["spec"]["size"] = json!(1);
//!         }
//!     }
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let widgets = ResourceDef::new("example.com/v1", "Widget", "widgets", true).strategy(Widgets);
//! let server = ApiServer::builder().resource(widgets).build().await?;
//!
//! let gvk = GroupVersionKind::gvk("example.com", "v1", "Widget");
//! let resource = ApiResource::from_gvk_with_plural(&gvk, "widgets");
//! let api: Api<DynamicObject> =
//!     Api::namespaced_with(kube::Client::new(server, "default"), "default", &resource);
//! let widget = DynamicObject::new("w", &resource).data(json!({ "spec": {} }));
//! let created = api.create(&PostParams::default(), &widget).await?;
//! assert_eq!(created.data["spec"]["size"], 1);
//! # Ok(())
//! # }
//! ```

use std::fmt;
use std::sync::Arc;

use k8s_openapi::jiff::Timestamp;
use serde_json::{json, Value};

use crate::json::str_at;
pub use crate::table::Column;
use crate::table::AGE_DESC;
use crate::validation::FieldError;

pub(crate) mod api_service;
pub(crate) mod certificate_signing_request;
pub(crate) mod cluster_role;
pub(crate) mod cluster_role_binding;
pub(crate) mod config_map;
pub(crate) mod controller_revision;
pub(crate) mod cron_job;
pub(crate) mod custom_resource;
pub(crate) mod custom_resource_definition;
pub(crate) mod daemon_set;
pub(crate) mod deployment;
pub(crate) mod endpoint_slice;
pub(crate) mod endpoints;
pub(crate) mod event;
pub(crate) mod generic;
pub(crate) mod horizontal_pod_autoscaler;
pub(crate) mod ingress;
pub(crate) mod ingress_class;
pub(crate) mod job;
pub(crate) mod lease;
pub(crate) mod mutating_webhook_configuration;
pub(crate) mod namespace;
pub(crate) mod network_policy;
pub(crate) mod node;
pub(crate) mod persistent_volume;
pub(crate) mod persistent_volume_claim;
pub(crate) mod pod;
pub(crate) mod pod_disruption_budget;
pub(crate) mod pod_template;
pub(crate) mod priority_class;
pub(crate) mod replica_set;
pub(crate) mod replication_controller;
pub(crate) mod resource_quota;
pub(crate) mod role;
pub(crate) mod role_binding;
pub(crate) mod runtime_class;
pub(crate) mod secret;
pub(crate) mod service;
pub(crate) mod service_account;
pub(crate) mod stateful_set;
pub(crate) mod storage_class;
pub(crate) mod validating_webhook_configuration;

/// Per-kind behaviour of the generic registry (upstream's `RESTCreateStrategy`,
/// `RESTUpdateStrategy`, `RESTGracefulDeleteStrategy`, `TableConvertor` and the selectable
/// field functions), for objects as JSON values.
///
/// A write runs the methods in upstream's order: [`defaults`](Self::defaults) (while decoding),
/// then, after mutating admission, [`prepare_for_create`](Self::prepare_for_create) or
/// [`prepare_for_update`](Self::prepare_for_update), then validation
/// ([`validate_name`](Self::validate_name), [`validate`](Self::validate) and, on updates,
/// [`validate_update`](Self::validate_update)), then validating admission and the store.
///
/// Every method has a default that is right for a kind without special behaviour. An
/// implementation must be cheap to call (it runs on every request) and must not block.
pub trait Strategy: Send + Sync + fmt::Debug + 'static {
    /// Fills in the fields upstream defaults (its `SetDefaults_*` functions), on creates and on
    /// updates of the main resource. Only absent (or `null`) fields are set. Default: nothing.
    fn defaults(&self, obj: &mut Value) {
        let _ = obj;
    }

    /// `PrepareForCreate`: resets what a create may not set, after the system metadata (`uid`,
    /// `creationTimestamp`, `generation`) is filled in; `status_subresource` tells whether the
    /// resource serves `…/status`. Default: a resource with a status subresource starts with an
    /// empty `status`.
    fn prepare_for_create(&self, obj: &mut Value, status_subresource: bool) {
        if status_subresource {
            obj["status"] = json!({});
        }
    }

    /// `PrepareForUpdate` of the main resource (not `…/status`), after the system metadata is
    /// carried over from `old`. Default: a resource with a status subresource keeps its status.
    fn prepare_for_update(&self, new: &mut Value, old: &Value, status_subresource: bool) {
        if status_subresource {
            match old.get("status") {
                Some(s) => new["status"] = s.clone(),
                None => {
                    if let Some(m) = new.as_object_mut() {
                        m.remove("status");
                    }
                }
            }
        }
    }

    /// Whether an update changes what `metadata.generation` counts (for resources that
    /// maintain it, [`ResourceDef::generation`](crate::ResourceDef::generation)). Default:
    /// anything but `metadata`, `status`, `apiVersion` and `kind` changed.
    fn generation_changed(&self, new: &Value, old: &Value) -> bool {
        spec_changed(new, old)
    }

    /// The problems with `name` as this kind's `metadata.name` (also called with a
    /// `generateName` prefix, its trailing `-` masked). Default: a DNS-1123 subdomain, as
    /// upstream requires of most kinds and of custom resources.
    fn validate_name(&self, name: &str) -> Vec<String> {
        kernel_core::names::is_dns1123_subdomain(name)
    }

    /// The kind's validation rules (upstream's `Validate`), after the object metadata rules.
    /// Runs on creates and again on updates, with `old` the stored object. Default: none.
    fn validate(&self, obj: &Value, old: Option<&Value>) -> Vec<FieldError> {
        let _ = (obj, old);
        Vec::new()
    }

    /// The kind's update-only rules (upstream's `ValidateUpdate`: immutable fields), after
    /// [`validate`](Self::validate) and the metadata update rules. Default: none.
    fn validate_update(&self, new: &Value, old: &Value) -> Vec<FieldError> {
        let _ = (new, old);
        Vec::new()
    }

    /// How deleting `obj` proceeds, given the request's `gracePeriodSeconds`
    /// (upstream's `CheckGracefulDelete`). Default: [`Deletion::Immediate`].
    fn deletion(&self, obj: &Value, grace_period: Option<i64>) -> Deletion {
        let _ = (obj, grace_period);
        Deletion::Immediate
    }

    /// Whether the collection can be deleted in one request (`DELETE` on the collection; upstream's
    /// storage implements `rest.CollectionDeleter`). Default: yes.
    fn serves_delete_collection(&self) -> bool {
        true
    }

    /// Changes an object that a delete marks for [`Deletion::Finalized`] (after
    /// `deletionTimestamp` is set). Default: nothing.
    fn prepare_for_delete(&self, obj: &mut Value) {
        let _ = obj;
    }

    /// The printer columns of the server-side `Table` (`kubectl get`; columns with priority 1
    /// are the ones `-o wide` adds). Default: upstream's default convertor, `Name` and
    /// `Created At`.
    fn columns(&self) -> Vec<Column> {
        vec![
            Column::name(),
            Column::new("Created At", "date", 0, AGE_DESC),
        ]
    }

    /// The cells of `obj`'s row, one per [`column`](Self::columns), with ages computed against
    /// `now`.
    fn cells(&self, obj: &Value, now: Timestamp) -> Vec<Value> {
        let _ = now;
        vec![
            json!(str_at(obj, "/metadata/name")),
            json!(str_at(obj, "/metadata/creationTimestamp")),
        ]
    }

    /// The `conditions` of `obj`'s row, if any (pods mark completed rows). Default: none.
    fn row_conditions(&self, obj: &Value) -> Option<Value> {
        let _ = obj;
        None
    }

    /// The fields a `fieldSelector` may name besides `metadata.name` and `metadata.namespace`
    /// (upstream's `*ToSelectableFields`). Default: none.
    fn selectable_fields(&self) -> &'static [&'static str] {
        &[]
    }

    /// The value of a selectable `field` of `obj` (one of
    /// [`selectable_fields`](Self::selectable_fields)), formatted as upstream does: booleans
    /// `true`/`false`, integers in decimal, a missing string `""`. Default: the string at the
    /// field's path.
    fn field_value(&self, obj: &Value, field: &str) -> String {
        crate::json::field_at(obj, field)
    }
}

/// How a delete proceeds (see [`Strategy::deletion`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Deletion {
    /// The object goes once no finalizer holds it (most kinds); the answer is a `Status`.
    Immediate,
    /// Graceful deletion with this many seconds of grace (pods): with a grace above 0 the
    /// object is marked (`deletionTimestamp` that far ahead) and stays until a delete with
    /// grace 0; the answer is the object.
    Graceful(i64),
    /// The object is marked for deletion and a controller empties and removes it (namespaces,
    /// CustomResourceDefinitions); `propagationPolicy` adds no finalizer.
    Finalized,
}

/// Whether anything but `metadata`, `status`, `apiVersion` and `kind` differs.
pub(crate) fn spec_changed(new: &Value, old: &Value) -> bool {
    let strip = |v: &Value| {
        let mut v = v.clone();
        if let Some(m) = v.as_object_mut() {
            for field in ["metadata", "status", "apiVersion", "kind"] {
                m.remove(field);
            }
        }
        v
    };
    strip(new) != strip(old)
}

/// Renders `objects` (all of `strategy`'s kind) as a `meta.k8s.io/v1` `Table`, every column
/// included (as upstream's server; kubectl hides `priority: 1` columns unless `-o wide`).
pub(crate) fn to_table(strategy: &dyn Strategy, objects: &[Value], wide: bool) -> Value {
    to_table_at(strategy, objects, wide, crate::table::now())
}

/// Like [`to_table`] with an explicit "now" (for deterministic ages).
pub(crate) fn to_table_at(
    strategy: &dyn Strategy,
    objects: &[Value],
    wide: bool,
    now: Timestamp,
) -> Value {
    crate::table::render(&strategy.columns(), objects, wide, |obj| {
        (strategy.cells(obj, now), strategy.row_conditions(obj))
    })
}

/// Whether a `fieldSelector` may name `field` for objects of `strategy`'s kind: `metadata.name`,
/// `metadata.namespace` and the kind's [`Strategy::selectable_fields`].
pub(crate) fn selectable(strategy: &dyn Strategy, field: &str) -> bool {
    matches!(field, "metadata.name" | "metadata.namespace")
        || strategy.selectable_fields().contains(&field)
}

/// The value of a selectable `field` of `obj` (see [`Strategy::field_value`]); `None` when
/// the kind does not support the field.
pub(crate) fn field_value(strategy: &dyn Strategy, obj: &Value, field: &str) -> Option<String> {
    if !selectable(strategy, field) {
        return None;
    }
    Some(match field {
        "metadata.name" => str_at(obj, "/metadata/name"),
        "metadata.namespace" => str_at(obj, "/metadata/namespace"),
        _ => strategy.field_value(obj, field),
    })
}

/// The strategy of a built-in kind, by API group and kind; the defaults for any other.
pub(crate) fn builtin(group: &str, kind: &str) -> Arc<dyn Strategy> {
    let strategy: Arc<dyn Strategy> = match (group, kind) {
        ("", "Pod") => Arc::new(pod::Pod),
        ("", "Node") => Arc::new(node::Node),
        ("", "Namespace") => Arc::new(namespace::Namespace),
        ("", "Service") => Arc::new(service::Service),
        ("", "Endpoints") => Arc::new(endpoints::Endpoints),
        ("", "ConfigMap") => Arc::new(config_map::ConfigMap),
        ("", "Secret") => Arc::new(secret::Secret),
        ("", "ServiceAccount") => Arc::new(service_account::ServiceAccount),
        ("", "Event") | ("events.k8s.io", "Event") => Arc::new(event::Event),
        ("", "PersistentVolume") => Arc::new(persistent_volume::PersistentVolume),
        ("", "PersistentVolumeClaim") => Arc::new(persistent_volume_claim::PersistentVolumeClaim),
        ("", "PodTemplate") => Arc::new(pod_template::PodTemplate),
        ("", "ReplicationController") => Arc::new(replication_controller::ReplicationController),
        ("", "ResourceQuota") => Arc::new(resource_quota::ResourceQuota),
        ("apps", "Deployment") => Arc::new(deployment::Deployment),
        ("apps", "ReplicaSet") => Arc::new(replica_set::ReplicaSet),
        ("apps", "DaemonSet") => Arc::new(daemon_set::DaemonSet),
        ("apps", "StatefulSet") => Arc::new(stateful_set::StatefulSet),
        ("apps", "ControllerRevision") => Arc::new(controller_revision::ControllerRevision),
        ("batch", "Job") => Arc::new(job::Job),
        ("batch", "CronJob") => Arc::new(cron_job::CronJob),
        ("autoscaling", "HorizontalPodAutoscaler") => {
            Arc::new(horizontal_pod_autoscaler::HorizontalPodAutoscaler)
        }
        ("discovery.k8s.io", "EndpointSlice") => Arc::new(endpoint_slice::EndpointSlice),
        ("networking.k8s.io", "Ingress") => Arc::new(ingress::Ingress),
        ("networking.k8s.io", "IngressClass") => Arc::new(ingress_class::IngressClass),
        ("networking.k8s.io", "NetworkPolicy") => Arc::new(network_policy::NetworkPolicy),
        ("coordination.k8s.io", "Lease") => Arc::new(lease::Lease),
        ("rbac.authorization.k8s.io", "Role") => Arc::new(role::Role),
        ("rbac.authorization.k8s.io", "ClusterRole") => Arc::new(cluster_role::ClusterRole),
        ("rbac.authorization.k8s.io", "RoleBinding") => Arc::new(role_binding::RoleBinding),
        ("rbac.authorization.k8s.io", "ClusterRoleBinding") => {
            Arc::new(cluster_role_binding::ClusterRoleBinding)
        }
        ("scheduling.k8s.io", "PriorityClass") => Arc::new(priority_class::PriorityClass),
        ("storage.k8s.io", "StorageClass") => Arc::new(storage_class::StorageClass),
        ("policy", "PodDisruptionBudget") => Arc::new(pod_disruption_budget::PodDisruptionBudget),
        ("apiextensions.k8s.io", "CustomResourceDefinition") => {
            Arc::new(custom_resource_definition::CustomResourceDefinition)
        }
        // Kinds this server does not serve by default, for a `ResourceDef::new` that adds them.
        ("node.k8s.io", "RuntimeClass") => Arc::new(runtime_class::RuntimeClass),
        ("admissionregistration.k8s.io", "ValidatingWebhookConfiguration") => {
            Arc::new(validating_webhook_configuration::ValidatingWebhookConfiguration)
        }
        ("admissionregistration.k8s.io", "MutatingWebhookConfiguration") => {
            Arc::new(mutating_webhook_configuration::MutatingWebhookConfiguration)
        }
        ("apiregistration.k8s.io", "APIService") => Arc::new(api_service::ApiService),
        ("certificates.k8s.io", "CertificateSigningRequest") => {
            Arc::new(certificate_signing_request::CertificateSigningRequest)
        }
        _ => return generic(),
    };
    strategy
}

/// The defaults: a kind without behaviour of its own.
pub(crate) fn generic() -> Arc<dyn Strategy> {
    Arc::new(generic::Generic)
}

/// The strategy of custom resources (CustomResourceDefinitions and `ResourceDef::of`).
pub(crate) fn custom_resource() -> Arc<dyn Strategy> {
    Arc::new(custom_resource::CustomResource)
}

#[cfg(test)]
mod tests {
    use super::*;
    use kernel_core::fields::Selector as FieldSelector;

    #[test]
    fn field_selector_matching_table() {
        let pod = json!({
            "metadata": {"name": "p1", "namespace": "default"},
            "spec": {"nodeName": "n1", "restartPolicy": "Always", "hostNetwork": true},
            "status": {"phase": "Running", "podIPs": [{"ip": "10.0.0.1"}]}
        });
        let cases: &[(&str, bool)] = &[
            ("", true),
            ("metadata.name=p1", true),
            ("metadata.name=p2", false),
            ("metadata.namespace=default,spec.nodeName=n1", true),
            ("spec.nodeName!=n1", false),
            ("spec.schedulerName=", true),
            ("spec.schedulerName!=", false),
            ("spec.hostNetwork=true", true),
            ("status.podIP=10.0.0.1", true),
            ("status.phase!=Pending", true),
        ];
        let pods = crate::resources::strategy_for_plural("pods");
        for (s, want) in cases {
            let sel = FieldSelector::parse(s).unwrap();
            let got = sel.matches_with(|f| field_value(&*pods, &pod, f).unwrap_or_default());
            assert_eq!(got, *want, "{s}");
        }
    }

    #[test]
    fn field_support_and_values() {
        let supported =
            |res: &str, f: &str| selectable(&*crate::resources::strategy_for_plural(res), f);
        assert!(supported("configmaps", "metadata.name"));
        assert!(!supported("configmaps", "data.x"));
        assert!(supported("pods", "spec.nodeName"));
        assert!(!supported("services", "spec.nodeName"));
        let pods = |f: &str| supported("pods", f);
        let unsupported = |s: &str| {
            let sel = FieldSelector::parse(s).unwrap();
            sel.terms()
                .iter()
                .find(|t| !pods(&t.field))
                .map(|t| t.field.clone())
        };
        assert_eq!(
            unsupported("metadata.name=a,spec.foo=b").as_deref(),
            Some("spec.foo")
        );
        assert_eq!(unsupported("spec.nodeName=a"), None);

        let cases: Vec<(&str, Value, &str, Option<&str>)> = vec![
            (
                "nodes",
                json!({"spec": {}}),
                "spec.unschedulable",
                Some("false"),
            ),
            (
                "nodes",
                json!({"spec": {"unschedulable": true}}),
                "spec.unschedulable",
                Some("true"),
            ),
            ("secrets", json!({"type": "Opaque"}), "type", Some("Opaque")),
            (
                "events",
                json!({"source": {"component": "kubelet"}}),
                "source",
                Some("kubelet"),
            ),
            (
                "events",
                json!({"involvedObject": {"kind": "Pod"}}),
                "involvedObject.kind",
                Some("Pod"),
            ),
            (
                "replicasets",
                json!({"status": {"replicas": 3}}),
                "status.replicas",
                Some("3"),
            ),
            (
                "replicationcontrollers",
                json!({}),
                "status.replicas",
                Some("0"),
            ),
            (
                "jobs",
                json!({"status": {"succeeded": 2}}),
                "status.successful",
                Some("2"),
            ),
            (
                "namespaces",
                json!({"status": {"phase": "Active"}}),
                "status.phase",
                Some("Active"),
            ),
            (
                "certificatesigningrequests",
                json!({"spec": {"signerName": "x/y"}}),
                "spec.signerName",
                Some("x/y"),
            ),
            (
                "events",
                json!({"regarding": {"kind": "Node", "name": "n1"}, "deprecatedSource": {"component": "kubelet"}}),
                "involvedObject.name",
                Some("n1"),
            ),
            (
                "events",
                json!({"regarding": {"kind": "Node"}, "deprecatedSource": {"component": "kubelet"}}),
                "source",
                Some("kubelet"),
            ),
            ("pods", json!({}), "spec.nodeName", Some("")),
            ("pods", json!({}), "spec.bogus", None),
        ];
        for (res, obj, field, want) in cases {
            assert_eq!(
                field_value(&*crate::resources::strategy_for_plural(res), &obj, field).as_deref(),
                want,
                "{res} {field}"
            );
        }
    }
}
