//! NodeUnschedulable: cordoned nodes (`spec.unschedulable`) take only pods that tolerate the
//! `node.kubernetes.io/unschedulable:NoSchedule` taint.

use std::sync::Arc;

use k8s_openapi::api::core::v1::Taint;
use kernel_core::scheduling::{tolerations_tolerate_taint, TAINT_EFFECT_NO_SCHEDULE};

use crate::framework::{
    CycleState, FilterPlugin, Plugin, PreFilterPlugin, PreFilterResult, Status,
};
use crate::snapshot::Snapshot;
use crate::types::{NodeInfo, PodInfo};

/// The plugin name.
pub const NAME: &str = "NodeUnschedulable";
/// Upstream's failure reason.
pub const ERR_REASON: &str = "node(s) were unschedulable";
pub use kernel_core::well_known::TAINT_NODE_UNSCHEDULABLE;

/// Rejects cordoned nodes.
#[derive(Clone, Copy, Debug, Default)]
pub struct NodeUnschedulable;

impl Plugin for NodeUnschedulable {
    fn name(&self) -> &'static str {
        NAME
    }
    fn as_pre_filter(self: Arc<Self>) -> Option<Arc<dyn PreFilterPlugin>> {
        Some(self)
    }
    fn as_filter(self: Arc<Self>) -> Option<Arc<dyn FilterPlugin>> {
        Some(self)
    }
}

/// PreFilter only tells the framework when Filter cannot reject any node, so it is skipped.
impl PreFilterPlugin for NodeUnschedulable {
    fn pre_filter(
        &self,
        _: &mut CycleState,
        pod: &PodInfo,
        snapshot: &Snapshot,
    ) -> (Option<PreFilterResult>, Status) {
        let _ = pod;
        if !snapshot.has_unschedulable_nodes() {
            (None, Status::skip())
        } else {
            (None, Status::success())
        }
    }
}

impl FilterPlugin for NodeUnschedulable {
    fn filter(&self, _: &CycleState, pod: &PodInfo, node: &NodeInfo) -> Status {
        if !node.unschedulable {
            return Status::success();
        }
        let taint = Taint {
            key: TAINT_NODE_UNSCHEDULABLE.into(),
            effect: TAINT_EFFECT_NO_SCHEDULE.into(),
            value: None,
            time_added: None,
        };
        let tolerations = pod
            .pod
            .spec
            .as_ref()
            .and_then(|s| s.tolerations.as_deref())
            .unwrap_or(&[]);
        if tolerations_tolerate_taint(tolerations, &taint) {
            Status::success()
        } else {
            Status::unresolvable(ERR_REASON)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::framework::Code;
    use crate::plugins::test_util::{filter, reasons};
    use crate::testing::{node, pod};

    #[test]
    fn cordoned_nodes_reject_unless_tolerated() {
        let s = filter(
            Arc::new(NodeUnschedulable),
            pod("p").obj(),
            vec![node("a").obj(), node("b").unschedulable().obj()],
            vec![],
        );
        assert_eq!(s[0].code(), Code::Success);
        assert_eq!(s[1].code(), Code::UnschedulableAndUnresolvable);
        assert_eq!(reasons(&s[1]), vec![ERR_REASON]);
        let tolerant = pod("p")
            .toleration(TAINT_NODE_UNSCHEDULABLE, "Exists", "", "NoSchedule")
            .obj();
        let s = filter(
            Arc::new(NodeUnschedulable),
            tolerant,
            vec![node("b").unschedulable().obj()],
            vec![],
        );
        assert_eq!(s[0].code(), Code::Success);
    }
}
