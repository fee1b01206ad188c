//! TaintToleration: `NoSchedule`/`NoExecute` taints must be tolerated (Filter); nodes with
//! fewer untolerated `PreferNoSchedule` taints score higher (Score, reversed normalization).

use std::sync::Arc;

use k8s_openapi::api::core::v1::Toleration;
use kernel_core::scheduling::{
    find_matching_untolerated_taint, tolerations_tolerate_taint, TAINT_EFFECT_PREFER_NO_SCHEDULE,
};

use crate::framework::{
    default_normalize_score, CycleState, FilterPlugin, NodeScore, Plugin, PreFilterPlugin,
    PreFilterResult, PreScorePlugin, ScorePlugin, Status, MAX_NODE_SCORE,
};
use crate::snapshot::Snapshot;
use crate::types::{NodeInfo, PodInfo};

/// The plugin name.
pub const NAME: &str = "TaintToleration";

/// Checks taints against tolerations.
#[derive(Clone, Copy, Debug, Default)]
pub struct TaintToleration;

impl Plugin for TaintToleration {
    fn name(&self) -> &'static str {
        NAME
    }
    fn as_pre_filter(self: Arc<Self>) -> Option<Arc<dyn PreFilterPlugin>> {
        Some(self)
    }
    fn as_filter(self: Arc<Self>) -> Option<Arc<dyn FilterPlugin>> {
        Some(self)
    }
    fn as_pre_score(self: Arc<Self>) -> Option<Arc<dyn PreScorePlugin>> {
        Some(self)
    }
    fn as_score(self: Arc<Self>) -> Option<Arc<dyn ScorePlugin>> {
        Some(self)
    }
}

fn tolerations(pod: &PodInfo) -> &[Toleration] {
    pod.pod
        .spec
        .as_ref()
        .and_then(|s| s.tolerations.as_deref())
        .unwrap_or(&[])
}

/// PreFilter only tells the framework when Filter cannot reject any node, so it is skipped.
impl PreFilterPlugin for TaintToleration {
    fn pre_filter(
        &self,
        _: &mut CycleState,
        pod: &PodInfo,
        snapshot: &Snapshot,
    ) -> (Option<PreFilterResult>, Status) {
        let _ = pod;
        if !snapshot.has_hard_tainted_nodes() {
            (None, Status::skip())
        } else {
            (None, Status::success())
        }
    }
}

impl FilterPlugin for TaintToleration {
    fn filter(&self, _: &CycleState, pod: &PodInfo, node: &NodeInfo) -> Status {
        // `hard_taints` holds exactly the NoSchedule/NoExecute taints (upstream's
        // DoNotScheduleTaintsFilterFunc).
        match find_matching_untolerated_taint(&node.hard_taints, tolerations(pod), |_| true) {
            Some(taint) => Status::unresolvable(format!(
                "node(s) had untolerated taint {{{}: {}}}",
                taint.key,
                taint.value.as_deref().unwrap_or("")
            )),
            None => Status::success(),
        }
    }
}

/// Tolerations with effect `PreferNoSchedule` or empty, computed in PreScore.
#[derive(Clone, Debug)]
struct PreScoreState {
    tolerations: Vec<Toleration>,
}

impl PreScorePlugin for TaintToleration {
    fn pre_score(
        &self,
        state: &mut CycleState,
        pod: &PodInfo,
        nodes: &[&NodeInfo],
        snapshot: &Snapshot,
    ) -> Status {
        if !snapshot.has_soft_tainted_nodes() || nodes.iter().all(|n| n.soft_taints.is_empty()) {
            // Every node scores the same: nothing to do.
            return Status::skip();
        }
        let tolerations = tolerations(pod)
            .iter()
            .filter(|t| {
                matches!(
                    t.effect.as_deref(),
                    None | Some("") | Some(TAINT_EFFECT_PREFER_NO_SCHEDULE)
                )
            })
            .cloned()
            .collect();
        state.write(PreScoreState { tolerations });
        Status::success()
    }
}

impl ScorePlugin for TaintToleration {
    fn score(&self, state: &CycleState, _pod: &PodInfo, node: &NodeInfo) -> Result<i64, Status> {
        let s = state
            .read::<PreScoreState>()
            .ok_or_else(|| Status::error("TaintToleration: no PreScore state"))?;
        Ok(node
            .soft_taints
            .iter()
            .filter(|taint| !tolerations_tolerate_taint(&s.tolerations, taint))
            .count() as i64)
    }

    fn normalize_score(&self, _: &CycleState, _: &PodInfo, scores: &mut [NodeScore]) -> Status {
        default_normalize_score(MAX_NODE_SCORE, true, scores);
        Status::success()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::framework::Code;
    use crate::plugins::test_util::{filter, reasons, score};
    use crate::testing::{node, pod};

    #[test]
    fn filter_requires_tolerating_hard_taints() {
        let n = || node("n").taint("dedicated", "gpu", "NoSchedule").obj();
        // (toleration key, op, value, effect) -> expected code
        let cases = [
            (None, Code::UnschedulableAndUnresolvable),
            (
                Some(("dedicated", "Equal", "gpu", "NoSchedule")),
                Code::Success,
            ),
            (
                Some(("dedicated", "Equal", "cpu", "NoSchedule")),
                Code::UnschedulableAndUnresolvable,
            ),
            (Some(("dedicated", "Exists", "", "")), Code::Success),
            (Some(("", "Exists", "", "")), Code::Success),
            (
                Some(("dedicated", "Equal", "gpu", "NoExecute")),
                Code::UnschedulableAndUnresolvable,
            ),
        ];
        for (tol, code) in cases {
            let mut p = pod("p");
            if let Some((k, op, v, e)) = tol {
                p = p.toleration(k, op, v, e);
            }
            let s = filter(Arc::new(TaintToleration), p.obj(), vec![n()], vec![]);
            assert_eq!(s[0].code(), code, "{tol:?}");
            if code != Code::Success {
                assert_eq!(
                    reasons(&s[0]),
                    vec!["node(s) had untolerated taint {dedicated: gpu}"]
                );
            }
        }
        // PreferNoSchedule never filters.
        let s = filter(
            Arc::new(TaintToleration),
            pod("p").obj(),
            vec![node("n").taint("a", "b", "PreferNoSchedule").obj()],
            vec![],
        );
        assert!(s[0].is_success());
    }

    #[test]
    fn score_prefers_fewer_untolerated_prefer_no_schedule_taints() {
        let nodes = vec![
            node("clean").obj(),
            node("one").taint("a", "1", "PreferNoSchedule").obj(),
            node("two")
                .taint("a", "1", "PreferNoSchedule")
                .taint("b", "2", "PreferNoSchedule")
                .obj(),
        ];
        assert_eq!(
            score(
                Arc::new(TaintToleration),
                pod("p").obj(),
                nodes.clone(),
                vec![]
            ),
            vec![100, 50, 0]
        );
        let tolerant = pod("p")
            .toleration("a", "Equal", "1", "PreferNoSchedule")
            .obj();
        assert_eq!(
            score(Arc::new(TaintToleration), tolerant, nodes, vec![]),
            vec![100, 100, 0]
        );
    }
}
