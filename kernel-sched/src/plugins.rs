//! The in-tree plugins and the [`Registry`] that builds them by name.
//!
//! | plugin | extension points |
//! |---|---|
//! | [`PrioritySort`](queue_sort::PrioritySort) | QueueSort |
//! | [`NodeUnschedulable`](node_unschedulable::NodeUnschedulable) | Filter |
//! | [`NodeName`](node_name::NodeName) | Filter |
//! | [`TaintToleration`](taint_toleration::TaintToleration) | Filter, PreScore, Score |
//! | [`NodeAffinity`](node_affinity::NodeAffinity) | PreFilter, Filter, PreScore, Score |
//! | [`NodePorts`](node_ports::NodePorts) | PreFilter, Filter |
//! | [`NodeResourcesFit`](node_resources_fit::NodeResourcesFit) | PreFilter, Filter, PreScore, Score |
//! | [`VolumeBinding`](volume_binding::VolumeBinding) | PreFilter, Filter, Reserve, PreBind |
//! | [`PodTopologySpread`](pod_topology_spread::PodTopologySpread) | PreFilter, Filter, PreScore, Score |
//! | [`InterPodAffinity`](inter_pod_affinity::InterPodAffinity) | PreFilter, Filter, PreScore, Score |
//! | [`DefaultPreemption`](default_preemption::DefaultPreemption) | PostFilter |
//! | [`NodeResourcesBalancedAllocation`](node_resources_balanced_allocation::BalancedAllocation) | PreScore, Score |
//! | [`ImageLocality`](image_locality::ImageLocality) | Score |
//! | [`DefaultBinder`](default_binder::DefaultBinder) | Bind |

use std::collections::HashMap;
use std::sync::Arc;

use crate::framework::{Framework, Plugin, PluginEntry, WaitingPods};
use crate::Error;

pub mod default_binder;
pub mod default_preemption;
pub mod image_locality;
pub mod inter_pod_affinity;
pub mod node_affinity;
pub mod node_name;
pub mod node_ports;
pub mod node_resources_balanced_allocation;
pub mod node_resources_fit;
pub mod node_unschedulable;
pub mod pod_topology_spread;
pub mod queue_sort;
pub mod taint_toleration;
pub mod volume_binding;

pub use kernel_core::well_known::{LABEL_HOSTNAME, LABEL_TOPOLOGY_ZONE as LABEL_ZONE};

/// What a plugin factory may use: the API client, when running against a cluster, and the
/// pods held at Permit (shared with the frameworks built from this handle).
#[derive(Clone, Default)]
pub struct Handle {
    /// The client (absent for the pure algorithm).
    pub client: Option<kube::Client>,
    /// The pods held at Permit (upstream `Handle.GetWaitingPod`/`IterateOverWaitingPods`/
    /// `RejectWaitingPod`): a plugin keeps a clone to allow or reject waiting pods later.
    pub waiting_pods: WaitingPods,
}

impl Handle {
    /// The pods held at Permit.
    pub fn waiting_pods(&self) -> &WaitingPods {
        &self.waiting_pods
    }
}

impl std::fmt::Debug for Handle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Handle")
            .field("client", &self.client.is_some())
            .field("waiting_pods", &self.waiting_pods.len())
            .finish()
    }
}

/// Builds a plugin from its (optional) JSON args.
pub type PluginFactory = Arc<
    dyn Fn(Option<&serde_json::Value>, &Handle) -> Result<Arc<dyn Plugin>, Error> + Send + Sync,
>;

/// Plugin factories by name (upstream `runtime.Registry`).
#[derive(Clone, Default)]
pub struct Registry {
    factories: HashMap<String, PluginFactory>,
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut names: Vec<_> = self.factories.keys().collect();
        names.sort();
        f.debug_struct("Registry").field("plugins", &names).finish()
    }
}

fn args<T: serde::de::DeserializeOwned + Default>(
    v: Option<&serde_json::Value>,
    plugin: &str,
) -> Result<T, Error> {
    match v {
        None => Ok(T::default()),
        Some(v) => serde_json::from_value(v.clone())
            .map_err(|e| Error::Config(format!("{plugin} args: {e}"))),
    }
}

impl Registry {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    /// The in-tree plugins.
    pub fn in_tree() -> Self {
        let mut r = Registry::new();
        r.register(queue_sort::NAME, |_, _| {
            Ok(Arc::new(queue_sort::PrioritySort))
        });
        r.register(node_unschedulable::NAME, |_, _| {
            Ok(Arc::new(node_unschedulable::NodeUnschedulable))
        });
        r.register(node_name::NAME, |_, _| Ok(Arc::new(node_name::NodeName)));
        r.register(taint_toleration::NAME, |_, _| {
            Ok(Arc::new(taint_toleration::TaintToleration))
        });
        r.register(node_affinity::NAME, |a, _| {
            Ok(Arc::new(node_affinity::NodeAffinity::new(args(
                a,
                node_affinity::NAME,
            )?)?))
        });
        r.register(node_ports::NAME, |_, _| Ok(Arc::new(node_ports::NodePorts)));
        r.register(node_resources_fit::NAME, |a, _| {
            Ok(Arc::new(node_resources_fit::NodeResourcesFit::new(args(
                a,
                node_resources_fit::NAME,
            )?)?))
        });
        r.register(volume_binding::NAME, |a, h| {
            Ok(Arc::new(volume_binding::VolumeBinding::new(
                args(a, volume_binding::NAME)?,
                h.client.clone(),
            )?))
        });
        r.register(pod_topology_spread::NAME, |a, _| {
            Ok(Arc::new(pod_topology_spread::PodTopologySpread::new(
                args(a, pod_topology_spread::NAME)?,
            )?))
        });
        r.register(inter_pod_affinity::NAME, |a, _| {
            Ok(Arc::new(inter_pod_affinity::InterPodAffinity::new(args(
                a,
                inter_pod_affinity::NAME,
            )?)))
        });
        r.register(default_preemption::NAME, |a, _| {
            Ok(Arc::new(default_preemption::DefaultPreemption::new(args(
                a,
                default_preemption::NAME,
            )?)))
        });
        r.register(node_resources_balanced_allocation::NAME, |a, _| {
            Ok(Arc::new(
                node_resources_balanced_allocation::BalancedAllocation::new(args(
                    a,
                    node_resources_balanced_allocation::NAME,
                )?),
            ))
        });
        r.register(image_locality::NAME, |_, _| {
            Ok(Arc::new(image_locality::ImageLocality))
        });
        r.register(default_binder::NAME, |_, h| {
            Ok(Arc::new(default_binder::DefaultBinder::new(
                h.client.clone(),
            )))
        });
        r
    }

    /// Registers (or replaces) a factory.
    pub fn register(
        &mut self,
        name: &str,
        factory: impl Fn(Option<&serde_json::Value>, &Handle) -> Result<Arc<dyn Plugin>, Error>
            + Send
            + Sync
            + 'static,
    ) {
        self.factories.insert(name.to_string(), Arc::new(factory));
    }

    /// Builds a plugin.
    pub fn build(
        &self,
        name: &str,
        args: Option<&serde_json::Value>,
        handle: &Handle,
    ) -> Result<Arc<dyn Plugin>, Error> {
        let f = self
            .factories
            .get(name)
            .ok_or_else(|| Error::Config(format!("plugin {name:?} does not exist")))?;
        f(args, handle)
    }
}

/// The default plugin set with upstream's default score weights, in upstream order
/// (`getDefaultPlugins` for `kubescheduler.config.k8s.io/v1`).
pub const DEFAULT_PLUGINS: &[(&str, i64)] = &[
    (queue_sort::NAME, 0),
    (node_unschedulable::NAME, 0),
    (node_name::NAME, 0),
    (taint_toleration::NAME, 3),
    (node_affinity::NAME, 2),
    (node_ports::NAME, 0),
    (node_resources_fit::NAME, 1),
    (volume_binding::NAME, 0),
    (pod_topology_spread::NAME, 2),
    (inter_pod_affinity::NAME, 2),
    (default_preemption::NAME, 0),
    (node_resources_balanced_allocation::NAME, 1),
    (image_locality::NAME, 1),
    (default_binder::NAME, 0),
];

/// The `default-scheduler` profile with the default plugins.
pub fn default_framework(handle: &Handle) -> Framework {
    let registry = Registry::in_tree();
    let entries = DEFAULT_PLUGINS
        .iter()
        .map(|(name, weight)| PluginEntry {
            plugin: registry
                .build(name, None, handle)
                .expect("in-tree plugins build with default args"),
            weight: *weight,
        })
        .collect();
    Framework::new(crate::DEFAULT_SCHEDULER_NAME, entries)
        .with_waiting_pods(handle.waiting_pods.clone())
}

#[cfg(test)]
pub(crate) mod test_util {
    use std::sync::Arc;

    use k8s_openapi::api::core::v1::{Node, Pod};

    use crate::framework::{CycleState, Framework, Plugin, PluginEntry, Status};
    use crate::snapshot::Snapshot;
    use crate::types::PodInfo;

    /// Runs PreFilter + Filter of a one-plugin framework for `pod` on each node; returns the
    /// status per node (PreFilter rejection repeated for every node).
    pub fn filter(
        plugin: Arc<dyn Plugin>,
        pod: Pod,
        nodes: Vec<Node>,
        pods: Vec<Pod>,
    ) -> Vec<Status> {
        let fwk = Framework::new("test", vec![PluginEntry { plugin, weight: 1 }]);
        let snap = Snapshot::new(nodes, pods);
        let pi = PodInfo::new(pod);
        let mut state = CycleState::new();
        let (_, s) = fwk.run_pre_filter_plugins(&mut state, &pi, &snap);
        if !s.is_success() {
            return vec![s; snap.num_nodes()];
        }
        snap.node_infos()
            .iter()
            .map(|n| fwk.run_filter_plugins(&state, &pi, n))
            .collect()
    }

    /// Runs PreScore + Score + NormalizeScore of a one-plugin framework on all nodes.
    pub fn score(plugin: Arc<dyn Plugin>, pod: Pod, nodes: Vec<Node>, pods: Vec<Pod>) -> Vec<i64> {
        let fwk = Framework::new("test", vec![PluginEntry { plugin, weight: 1 }]);
        let snap = Snapshot::new(nodes, pods);
        let pi = PodInfo::new(pod);
        let mut state = CycleState::new();
        let (_, s) = fwk.run_pre_filter_plugins(&mut state, &pi, &snap);
        assert!(s.is_success() || s.is_skip(), "prefilter: {s}");
        let infos: Vec<_> = snap.node_infos().iter().collect();
        fwk.run_score_plugins(&mut state, &pi, &infos, &snap)
            .expect("score")
    }

    /// The reasons of a status, as strings.
    pub fn reasons(s: &Status) -> Vec<String> {
        s.reasons().iter().map(|r| r.to_string()).collect()
    }
}
