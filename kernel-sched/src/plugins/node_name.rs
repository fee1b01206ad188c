//! NodeName: a pod with `spec.nodeName` fits only that node.

use std::sync::Arc;

use crate::framework::{
    CycleState, ExtensionPoints, FilterPlugin, Plugin, PreFilterPlugin, PreFilterResult, Status,
};
use crate::snapshot::Snapshot;
use crate::types::{NodeInfo, PodInfo};

/// The plugin name.
pub const NAME: &str = "NodeName";
/// Upstream's failure reason.
pub const ERR_REASON: &str = "node(s) didn't match the requested node name";

/// Checks `spec.nodeName`.
#[derive(Clone, Copy, Debug, Default)]
pub struct NodeName;

impl Plugin for NodeName {
    fn name(&self) -> &'static str {
        NAME
    }
    fn extension_points(self: Arc<Self>) -> ExtensionPoints {
        ExtensionPoints::of(self).pre_filter().filter().into()
    }
}

/// PreFilter only tells the framework when Filter cannot reject any node, so it is skipped.
impl PreFilterPlugin for NodeName {
    fn pre_filter(
        &self,
        _: &mut CycleState,
        pod: &PodInfo,
        _snapshot: &Snapshot,
    ) -> (Option<PreFilterResult>, Status) {
        let _ = pod;
        if pod
            .pod
            .spec
            .as_ref()
            .and_then(|s| s.node_name.as_deref())
            .is_none_or(str::is_empty)
        {
            (None, Status::skip())
        } else {
            (None, Status::success())
        }
    }
}

impl FilterPlugin for NodeName {
    fn filter(&self, _: &CycleState, pod: &PodInfo, node: &NodeInfo) -> Status {
        match pod.pod.spec.as_ref().and_then(|s| s.node_name.as_deref()) {
            Some(n) if !n.is_empty() && n != node.name => Status::unresolvable(ERR_REASON),
            _ => Status::success(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::framework::Code;
    use crate::plugins::test_util::filter;
    use crate::testing::{node, pod};

    #[test]
    fn only_the_named_node_fits() {
        // (pod nodeName, node, expected)
        let cases = [
            (None, "n1", Code::Success),
            (Some("n1"), "n1", Code::Success),
            (Some("n2"), "n1", Code::UnschedulableAndUnresolvable),
        ];
        for (want, n, code) in cases {
            let mut p = pod("p");
            if let Some(w) = want {
                p = p.node(w);
            }
            let s = filter(Arc::new(NodeName), p.obj(), vec![node(n).obj()], vec![]);
            assert_eq!(s[0].code(), code, "{want:?} on {n}");
        }
    }
}
