//! `KubeSchedulerConfiguration` (`kubescheduler.config.k8s.io/v1`) files → [`Profile`]s.
//!
//! Supported: `percentageOfNodesToScore` (global and per profile), `podInitialBackoffSeconds`,
//! `podMaxBackoffSeconds`, and per profile `schedulerName`, `plugins` (`multiPoint` and every
//! extension point, `enabled`/`disabled` with `"*"`, score `weight`) and `pluginConfig` args.
//!
//! ```
//! use kernel_sched::KubeSchedulerConfiguration;
//! let cfg = KubeSchedulerConfiguration::from_yaml(r#"
//! apiVersion: kubescheduler.config.k8s.io/v1
//! kind: KubeSchedulerConfiguration
//! percentageOfNodesToScore: 30
//! profiles:
//! - schedulerName: bin-packing
//!   plugins:
//!     score:
//!       disabled: [{name: NodeResourcesBalancedAllocation}]
//!   pluginConfig:
//!   - name: NodeResourcesFit
//!     args: {scoringStrategy: {type: MostAllocated}}
//! "#).unwrap();
//! let profiles = cfg.build_profiles(&Default::default()).unwrap();
//! assert_eq!(profiles[0].scheduler_name, "bin-packing");
//! assert!(!profiles[0].framework.score_plugin_weights().iter().any(|(n, _)| *n == "NodeResourcesBalancedAllocation"));
//! ```

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;

use crate::framework::{ExtensionPoints, Framework};
use crate::plugins::{Handle, Registry, DEFAULT_PLUGINS};
use crate::Error;

/// The configuration file.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct KubeSchedulerConfiguration {
    /// `kubescheduler.config.k8s.io/v1`.
    #[serde(default)]
    pub api_version: Option<String>,
    /// `KubeSchedulerConfiguration`.
    #[serde(default)]
    pub kind: Option<String>,
    /// Global share of nodes to find feasible (0: adaptive).
    #[serde(default)]
    pub percentage_of_nodes_to_score: Option<i32>,
    /// Initial backoff in seconds (default 1).
    #[serde(default)]
    pub pod_initial_backoff_seconds: Option<u64>,
    /// Maximum backoff in seconds (default 10).
    #[serde(default)]
    pub pod_max_backoff_seconds: Option<u64>,
    /// Profiles; none means one `default-scheduler` profile.
    #[serde(default)]
    pub profiles: Vec<ProfileConfig>,
}

/// One profile.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProfileConfig {
    /// The `spec.schedulerName` it serves.
    #[serde(default)]
    pub scheduler_name: Option<String>,
    /// Per-profile share of nodes to score.
    #[serde(default)]
    pub percentage_of_nodes_to_score: Option<i32>,
    /// Plugin sets per extension point.
    #[serde(default)]
    pub plugins: Option<Plugins>,
    /// Plugin args.
    #[serde(default)]
    pub plugin_config: Vec<PluginConfig>,
}

/// `plugins`: enabled/disabled sets per extension point.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
#[allow(missing_docs)]
pub struct Plugins {
    #[serde(default)]
    pub multi_point: PluginSet,
    #[serde(default)]
    pub queue_sort: PluginSet,
    #[serde(default)]
    pub pre_filter: PluginSet,
    #[serde(default)]
    pub filter: PluginSet,
    #[serde(default)]
    pub post_filter: PluginSet,
    #[serde(default)]
    pub pre_score: PluginSet,
    #[serde(default)]
    pub score: PluginSet,
    #[serde(default)]
    pub reserve: PluginSet,
    #[serde(default)]
    pub permit: PluginSet,
    #[serde(default)]
    pub pre_bind: PluginSet,
    #[serde(default)]
    pub bind: PluginSet,
    #[serde(default)]
    pub post_bind: PluginSet,
}

/// Enabled and disabled plugins of one extension point.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct PluginSet {
    /// Enabled, in order.
    #[serde(default)]
    pub enabled: Vec<PluginRef>,
    /// Disabled (`*` for all defaults).
    #[serde(default)]
    pub disabled: Vec<PluginRef>,
}

/// A plugin name with an optional score weight.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct PluginRef {
    /// Plugin name.
    pub name: String,
    /// Score weight.
    #[serde(default)]
    pub weight: Option<i64>,
}

/// Args of one plugin.
#[derive(Clone, Debug, Deserialize)]
pub struct PluginConfig {
    /// Plugin name.
    pub name: String,
    /// Its args (plugin-specific).
    #[serde(default)]
    pub args: Option<serde_json::Value>,
}

/// A built profile: the scheduler name and its framework.
#[derive(Clone, Debug)]
pub struct Profile {
    /// `spec.schedulerName` served.
    pub scheduler_name: String,
    /// The plugins.
    pub framework: Arc<Framework>,
}

impl KubeSchedulerConfiguration {
    /// Parses YAML (or JSON).
    pub fn from_yaml(s: &str) -> Result<Self, Error> {
        let cfg: KubeSchedulerConfiguration = serde_saphyr::from_str(s)?;
        if let Some(kind) = cfg.kind.as_deref() {
            if kind != "KubeSchedulerConfiguration" {
                return Err(Error::Config(format!("unexpected kind {kind:?}")));
            }
        }
        if let Some(v) = cfg.api_version.as_deref() {
            if !v.starts_with("kubescheduler.config.k8s.io/") {
                return Err(Error::Config(format!("unexpected apiVersion {v:?}")));
            }
        }
        if cfg
            .percentage_of_nodes_to_score
            .is_some_and(|p| !(0..=100).contains(&p))
        {
            return Err(Error::Config(
                "percentageOfNodesToScore must be in 0..=100".into(),
            ));
        }
        Ok(cfg)
    }

    /// Reads and parses a file.
    pub fn from_file(path: impl AsRef<std::path::Path>) -> Result<Self, Error> {
        let s = std::fs::read_to_string(path.as_ref())
            .map_err(|e| Error::Config(format!("{}: {e}", path.as_ref().display())))?;
        Self::from_yaml(&s)
    }

    /// Initial backoff.
    pub fn initial_backoff(&self) -> Duration {
        Duration::from_secs(self.pod_initial_backoff_seconds.unwrap_or(1))
    }

    /// Maximum backoff.
    pub fn max_backoff(&self) -> Duration {
        Duration::from_secs(self.pod_max_backoff_seconds.unwrap_or(10))
    }

    /// Builds the profiles with the in-tree registry.
    pub fn build_profiles(&self, handle: &Handle) -> Result<Vec<Profile>, Error> {
        self.build_profiles_with(&Registry::in_tree(), handle)
    }

    /// Builds the profiles with a custom registry (out-of-tree plugins).
    pub fn build_profiles_with(
        &self,
        registry: &Registry,
        handle: &Handle,
    ) -> Result<Vec<Profile>, Error> {
        let default = [ProfileConfig::default()];
        let profiles = if self.profiles.is_empty() {
            &default[..]
        } else {
            &self.profiles[..]
        };
        let mut out: Vec<Profile> = Vec::new();
        for p in profiles {
            let name = p
                .scheduler_name
                .clone()
                .unwrap_or_else(|| crate::DEFAULT_SCHEDULER_NAME.to_string());
            if out.iter().any(|o| o.scheduler_name == name) {
                return Err(Error::Config(format!("duplicate profile {name:?}")));
            }
            let fwk = build_framework(&name, p, registry, handle)?
                .with_percentage_of_nodes_to_score(
                    p.percentage_of_nodes_to_score
                        .or(self.percentage_of_nodes_to_score),
                );
            out.push(Profile {
                scheduler_name: name,
                framework: Arc::new(fwk),
            });
        }
        Ok(out)
    }
}

fn disabled_all(set: &PluginSet) -> bool {
    set.disabled.iter().any(|d| d.name == "*")
}

fn build_framework(
    name: &str,
    p: &ProfileConfig,
    registry: &Registry,
    handle: &Handle,
) -> Result<Framework, Error> {
    let plugins = p.plugins.clone().unwrap_or_default();
    // multiPoint: defaults minus disabled, plus enabled (weights overridable).
    let mut multi: Vec<(String, i64)> = if disabled_all(&plugins.multi_point) {
        Vec::new()
    } else {
        DEFAULT_PLUGINS
            .iter()
            .filter(|(n, _)| !plugins.multi_point.disabled.iter().any(|d| d.name == *n))
            .map(|(n, w)| (n.to_string(), *w))
            .collect()
    };
    for e in &plugins.multi_point.enabled {
        match multi.iter_mut().find(|(n, _)| *n == e.name) {
            Some(slot) => slot.1 = e.weight.unwrap_or(slot.1),
            None => multi.push((e.name.clone(), e.weight.unwrap_or(0))),
        }
    }
    let args: HashMap<&str, &serde_json::Value> = p
        .plugin_config
        .iter()
        .filter_map(|c| c.args.as_ref().map(|a| (c.name.as_str(), a)))
        .collect();
    // One instance per plugin, serving every point it is enabled at.
    let mut instances: HashMap<String, ExtensionPoints> = HashMap::new();
    let mut instance = |n: &str| -> Result<ExtensionPoints, Error> {
        if let Some(i) = instances.get(n) {
            return Ok(i.clone());
        }
        let i = registry
            .build(n, args.get(n).copied(), handle)?
            .extension_points();
        instances.insert(n.to_string(), i.clone());
        Ok(i)
    };
    let mut fwk = Framework::new(name, Vec::new()).with_waiting_pods(handle.waiting_pods.clone());

    // For each extension point: explicitly enabled first, then multiPoint plugins that
    // implement it, minus the point's disabled set.
    macro_rules! point {
        ($set:ident) => {{
            let set = &plugins.$set;
            let mut names: Vec<(String, i64)> = set
                .enabled
                .iter()
                .map(|e| (e.name.clone(), e.weight.unwrap_or(-1)))
                .collect();
            if !disabled_all(set) {
                for (n, w) in &multi {
                    if !set.disabled.iter().any(|d| d.name == *n)
                        && !names.iter().any(|(x, _)| x == n)
                    {
                        names.push((n.clone(), *w));
                    }
                }
            }
            let mut out = Vec::new();
            for (n, w) in names {
                let points = instance(&n)?;
                let explicit = set.enabled.iter().any(|e| e.name == n);
                match points.$set {
                    Some(p) => out.push((p, w)),
                    None if explicit => {
                        return Err(Error::Config(format!(
                            "plugin {n:?} does not extend {}",
                            stringify!($set)
                        )));
                    }
                    None => {}
                }
            }
            out
        }};
    }
    let qs = point!(queue_sort);
    if qs.len() > 1 {
        return Err(Error::Config(
            "only one queueSort plugin can be enabled".into(),
        ));
    }
    fwk.queue_sort = qs.into_iter().next().map(|(p, _)| p);
    fwk.pre_filter = point!(pre_filter).into_iter().map(|(p, _)| p).collect();
    fwk.filter = point!(filter).into_iter().map(|(p, _)| p).collect();
    fwk.post_filter = point!(post_filter).into_iter().map(|(p, _)| p).collect();
    fwk.pre_score = point!(pre_score).into_iter().map(|(p, _)| p).collect();
    let score = point!(score);
    fwk.score = score
        .into_iter()
        .map(|(p, w)| {
            let w = if w > 0 {
                w
            } else {
                multi
                    .iter()
                    .find(|(n, _)| n == p.name())
                    .map_or(1, |(_, w)| (*w).max(1))
            };
            (p, w)
        })
        .collect();
    fwk.reserve = point!(reserve).into_iter().map(|(p, _)| p).collect();
    fwk.permit = point!(permit).into_iter().map(|(p, _)| p).collect();
    fwk.pre_bind = point!(pre_bind).into_iter().map(|(p, _)| p).collect();
    fwk.bind = point!(bind).into_iter().map(|(p, _)| p).collect();
    fwk.post_bind = point!(post_bind).into_iter().map(|(p, _)| p).collect();
    if fwk.queue_sort.is_none() {
        return Err(Error::Config(format!(
            "profile {name:?}: no queueSort plugin"
        )));
    }
    if fwk.bind.is_empty() {
        return Err(Error::Config(format!("profile {name:?}: no bind plugin")));
    }
    if fwk.score.len() > 64 || fwk.filter.len() > 64 {
        return Err(Error::Config(
            "at most 64 filter and 64 score plugins per profile".into(),
        ));
    }
    Ok(fwk)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_config_gives_the_default_profile_with_upstream_weights() {
        let cfg = KubeSchedulerConfiguration::from_yaml(
            "apiVersion: kubescheduler.config.k8s.io/v1\nkind: KubeSchedulerConfiguration\n",
        )
        .unwrap();
        let p = cfg.build_profiles(&Handle::default()).unwrap();
        assert_eq!(p.len(), 1);
        assert_eq!(p[0].scheduler_name, "default-scheduler");
        let w = p[0].framework.score_plugin_weights();
        assert_eq!(
            w,
            vec![
                ("TaintToleration", 3),
                ("NodeAffinity", 2),
                ("NodeResourcesFit", 1),
                ("PodTopologySpread", 2),
                ("InterPodAffinity", 2),
                ("NodeResourcesBalancedAllocation", 1),
                ("ImageLocality", 1),
            ]
        );
        assert_eq!(
            p[0].framework.filter_plugin_names(),
            vec![
                "NodeUnschedulable",
                "NodeName",
                "TaintToleration",
                "NodeAffinity",
                "NodePorts",
                "NodeResourcesFit",
                "VolumeBinding",
                "PodTopologySpread",
                "InterPodAffinity"
            ]
        );
    }

    #[test]
    fn enable_disable_weights_and_args() {
        let cfg = KubeSchedulerConfiguration::from_yaml(
            r#"
apiVersion: kubescheduler.config.k8s.io/v1
kind: KubeSchedulerConfiguration
percentageOfNodesToScore: 20
profiles:
- schedulerName: a
  percentageOfNodesToScore: 70
  plugins:
    filter:
      disabled: [{name: "*"}]
      enabled: [{name: NodeResourcesFit}]
    score:
      enabled: [{name: ImageLocality, weight: 7}]
      disabled: [{name: TaintToleration}]
  pluginConfig:
  - name: NodeResourcesFit
    args:
      scoringStrategy:
        type: RequestedToCapacityRatio
        resources: [{name: cpu, weight: 2}]
        requestedToCapacityRatio: {shape: [{utilization: 0, score: 10}, {utilization: 100, score: 0}]}
- schedulerName: b
"#,
        )
        .unwrap();
        let p = cfg.build_profiles(&Handle::default()).unwrap();
        let a = &p[0].framework;
        assert_eq!(a.filter_plugin_names(), vec!["NodeResourcesFit"]);
        let w = a.score_plugin_weights();
        assert_eq!(
            w[0],
            ("ImageLocality", 7),
            "explicit first, with its weight"
        );
        assert!(!w.iter().any(|(n, _)| *n == "TaintToleration"));
        assert_eq!(a.percentage_of_nodes_to_score(), Some(70));
        assert_eq!(p[1].framework.percentage_of_nodes_to_score(), Some(20));
        assert_eq!(p[1].scheduler_name, "b");
    }

    #[test]
    fn invalid_configs_are_rejected() {
        let bad = [
            "kind: Foo\n",
            "percentageOfNodesToScore: 101\n",
            "profiles: [{schedulerName: x}, {schedulerName: x}]\n",
            "profiles: [{plugins: {filter: {enabled: [{name: NoSuchPlugin}]}}}]\n",
            "profiles: [{plugins: {filter: {enabled: [{name: ImageLocality}]}}}]\n",
            "profiles: [{pluginConfig: [{name: NodeResourcesFit, args: {scoringStrategy: {type: Nope}}}]}]\n",
        ];
        for y in bad {
            let r = KubeSchedulerConfiguration::from_yaml(y)
                .and_then(|c| c.build_profiles(&Handle::default()));
            assert!(r.is_err(), "{y}");
        }
    }
}
