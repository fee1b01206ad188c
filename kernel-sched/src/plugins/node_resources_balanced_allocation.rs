//! NodeResourcesBalancedAllocation: prefers nodes where, after placing the pod, the used
//! fractions of the scored resources are close to each other: `(1 - stddev) × 100`.

use std::sync::Arc;

use serde::Deserialize;

use crate::framework::{
    CycleState, ExtensionPoints, NodeScore, Plugin, PreScorePlugin, ScorePlugin, Status,
    MAX_NODE_SCORE,
};
use crate::plugins::node_resources_fit::{
    allocatable_and_requested, default_resources, pod_request_list, ResourceKind, ResourceSpec,
};
use crate::snapshot::Snapshot;
use crate::types::{NodeInfo, PodInfo};

/// The plugin name.
pub const NAME: &str = "NodeResourcesBalancedAllocation";

/// `NodeResourcesBalancedAllocationArgs`.
#[derive(Clone, Debug, Deserialize)]
pub struct BalancedAllocationArgs {
    /// Resources to balance (default cpu and memory).
    #[serde(default = "default_resources")]
    pub resources: Vec<ResourceSpec>,
}

impl Default for BalancedAllocationArgs {
    fn default() -> Self {
        BalancedAllocationArgs {
            resources: default_resources(),
        }
    }
}

/// Balanced resource usage.
#[derive(Clone, Debug, Default)]
pub struct BalancedAllocation {
    resources: Vec<ResourceSpec>,
    kinds: Vec<ResourceKind>,
}

impl BalancedAllocation {
    /// Builds the plugin.
    pub fn new(args: BalancedAllocationArgs) -> Self {
        BalancedAllocation {
            kinds: args
                .resources
                .iter()
                .map(|r| ResourceKind::of(&r.name))
                .collect(),
            resources: args.resources,
        }
    }
}

impl Plugin for BalancedAllocation {
    fn name(&self) -> &'static str {
        NAME
    }
    fn extension_points(self: Arc<Self>) -> ExtensionPoints {
        ExtensionPoints::of(self).pre_score().score().into()
    }
}

#[derive(Clone, Debug)]
struct PreScoreState {
    pod_requests: Vec<i64>,
}

impl PreScorePlugin for BalancedAllocation {
    fn pre_score(
        &self,
        state: &mut CycleState,
        pod: &PodInfo,
        _: &[&NodeInfo],
        _: &Snapshot,
    ) -> Status {
        state.write(PreScoreState {
            pod_requests: pod_request_list(pod, &self.resources, false),
        });
        Status::success()
    }
}

impl BalancedAllocation {
    #[inline]
    fn score_one(&self, reqs: &[i64], node: &NodeInfo) -> i64 {
        let fraction = |i: usize| -> Option<f64> {
            let (alloc, req) = allocatable_and_requested(node, &self.kinds[i], reqs[i], true);
            (alloc != 0).then(|| (req as f64 / alloc as f64).min(1.0))
        };
        let (mut n, mut sum) = (0usize, 0.0f64);
        let (mut first, mut second) = (0.0, 0.0);
        for i in 0..self.kinds.len() {
            if let Some(f) = fraction(i) {
                match n {
                    0 => first = f,
                    1 => second = f,
                    _ => {}
                }
                n += 1;
                sum += f;
            }
        }
        // Two resources (the default): std = |f1 - f2| / 2; more: the usual formula.
        let std = match n {
            0 | 1 => 0.0,
            2 => ((first - second) / 2.0).abs(),
            _ => {
                let mean = sum / n as f64;
                let var: f64 = (0..self.kinds.len())
                    .filter_map(fraction)
                    .map(|f| (f - mean) * (f - mean))
                    .sum();
                (var / n as f64).sqrt()
            }
        };
        ((1.0 - std) * MAX_NODE_SCORE as f64) as i64
    }

    fn requests<'a>(
        &self,
        state: &'a CycleState,
        pod: &PodInfo,
        fresh: &'a mut Vec<i64>,
    ) -> &'a [i64] {
        match state.read::<PreScoreState>() {
            Some(s) => &s.pod_requests,
            None => {
                *fresh = pod_request_list(pod, &self.resources, false);
                fresh
            }
        }
    }
}

impl ScorePlugin for BalancedAllocation {
    fn score(&self, state: &CycleState, pod: &PodInfo, node: &NodeInfo) -> Result<i64, Status> {
        let mut fresh = Vec::new();
        Ok(self.score_one(self.requests(state, pod, &mut fresh), node))
    }

    fn score_nodes(
        &self,
        state: &CycleState,
        pod: &PodInfo,
        nodes: &[&NodeInfo],
        out: &mut Vec<NodeScore>,
    ) -> Result<(), Status> {
        let mut fresh = Vec::new();
        let reqs = self.requests(state, pod, &mut fresh);
        if let [ResourceKind::Cpu, ResourceKind::Memory] = self.kinds.as_slice() {
            // The default (cpu, memory): std = |f_cpu - f_mem| / 2, same as `score_one`.
            let (pc, pm) = (reqs[0], reqs[1]);
            out.extend(nodes.iter().enumerate().map(|(i, n)| {
                let (ac, am) = (n.allocatable.milli_cpu, n.allocatable.memory);
                let fc =
                    (ac != 0).then(|| ((n.requested.milli_cpu + pc) as f64 / ac as f64).min(1.0));
                let fm = (am != 0).then(|| ((n.requested.memory + pm) as f64 / am as f64).min(1.0));
                let std = match (fc, fm) {
                    (Some(c), Some(m)) => ((c - m) / 2.0).abs(),
                    _ => 0.0,
                };
                NodeScore {
                    index: i,
                    score: ((1.0 - std) * MAX_NODE_SCORE as f64) as i64,
                }
            }));
            return Ok(());
        }
        out.extend(nodes.iter().enumerate().map(|(i, n)| NodeScore {
            index: i,
            score: self.score_one(reqs, n),
        }));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plugins::test_util::score;
    use crate::testing::{node, pod};

    #[test]
    fn prefers_balanced_usage() {
        // Upstream balanced_allocation_test "resources requested, pods scheduled with resources,
        // differently sized nodes": pod 3000m/5000; node1 4000m/10000 → |0.75-0.5|/2 = .125 → 87;
        // node2 6000m/10000 → |0.5-0.5| = 0 → 100.
        let nodes = vec![
            node("n1").cpu("4").memory("10000").obj(),
            node("n2").cpu("6").memory("10000").obj(),
        ];
        let p = pod("p").req("3", "5000").obj();
        assert_eq!(
            score(
                Arc::new(BalancedAllocation::new(Default::default())),
                p,
                nodes,
                vec![]
            ),
            vec![87, 100]
        );
    }

    #[test]
    fn fractions_are_capped_at_one_and_count_existing_pods() {
        let nodes = vec![node("n1").cpu("4").memory("10000").obj()];
        let existing = vec![pod("e").node("n1").req("4", "0").obj()];
        // cpu fraction (4000+1000)/4000 capped to 1, memory 0.5 → std .25 → 75.
        let p = pod("p").req("1", "5000").obj();
        assert_eq!(
            score(
                Arc::new(BalancedAllocation::new(Default::default())),
                p,
                nodes,
                existing
            ),
            vec![75]
        );
    }
}
