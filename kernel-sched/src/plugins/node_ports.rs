//! NodePorts: a pod's host ports must be free on the node.

use std::sync::Arc;

use crate::framework::{
    CycleState, ExtensionPoints, FilterPlugin, Plugin, PreFilterPlugin, PreFilterResult, Status,
};
use crate::snapshot::Snapshot;
use crate::types::{NodeInfo, PodInfo};

/// The plugin name.
pub const NAME: &str = "NodePorts";
/// Upstream's failure reason.
pub const ERR_REASON: &str = "node(s) didn't have free ports for the requested pod ports";

/// Host port conflicts.
#[derive(Clone, Copy, Debug, Default)]
pub struct NodePorts;

impl Plugin for NodePorts {
    fn name(&self) -> &'static str {
        NAME
    }
    fn extension_points(self: Arc<Self>) -> ExtensionPoints {
        ExtensionPoints::of(self).pre_filter().filter().into()
    }
}

impl PreFilterPlugin for NodePorts {
    fn pre_filter(
        &self,
        _: &mut CycleState,
        pod: &PodInfo,
        _: &Snapshot,
    ) -> (Option<PreFilterResult>, Status) {
        if pod.host_ports.is_empty() {
            (None, Status::skip())
        } else {
            (None, Status::success())
        }
    }
}

impl FilterPlugin for NodePorts {
    fn filter(&self, _: &CycleState, pod: &PodInfo, node: &NodeInfo) -> Status {
        let conflict = pod
            .host_ports
            .iter()
            .any(|want| node.used_ports.iter().any(|used| used.conflicts(want)));
        if conflict {
            Status::unschedulable(ERR_REASON)
        } else {
            Status::success()
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
    fn host_port_conflicts() {
        // (existing (port, proto, ip), wanted, expected)
        let cases = [
            ((8080, "TCP", ""), (8080, "TCP", ""), Code::Unschedulable),
            ((8080, "TCP", ""), (8080, "UDP", ""), Code::Success),
            ((8080, "TCP", ""), (8081, "TCP", ""), Code::Success),
            (
                (8080, "TCP", "10.0.0.1"),
                (8080, "TCP", "10.0.0.2"),
                Code::Success,
            ),
            (
                (8080, "TCP", "10.0.0.1"),
                (8080, "TCP", ""),
                Code::Unschedulable,
            ),
            (
                (8080, "TCP", ""),
                (8080, "TCP", "10.0.0.2"),
                Code::Unschedulable,
            ),
        ];
        for (have, want, code) in cases {
            let existing = pod("old").node("n").host_port(have.0, have.1, have.2).obj();
            let p = pod("new").host_port(want.0, want.1, want.2).obj();
            let s = filter(
                Arc::new(NodePorts),
                p,
                vec![node("n").obj()],
                vec![existing],
            );
            assert_eq!(s[0].code(), code, "{have:?} vs {want:?}");
        }
    }
}
