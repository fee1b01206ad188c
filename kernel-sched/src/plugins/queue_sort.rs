//! PrioritySort: higher `spec.priority` first, then earlier arrival.

use std::sync::Arc;

use crate::framework::{ExtensionPoints, Plugin, QueueSortPlugin, QueuedPodInfo};

/// The plugin name.
pub const NAME: &str = "PrioritySort";

/// Orders pods by priority (descending), then by queue timestamp (ascending).
#[derive(Clone, Copy, Debug, Default)]
pub struct PrioritySort;

impl Plugin for PrioritySort {
    fn name(&self) -> &'static str {
        NAME
    }
    fn extension_points(self: Arc<Self>) -> ExtensionPoints {
        ExtensionPoints::of(self).queue_sort().into()
    }
}

impl QueueSortPlugin for PrioritySort {
    fn less(&self, a: &QueuedPodInfo, b: &QueuedPodInfo) -> bool {
        let (pa, pb) = (a.pod_info.priority, b.pod_info.priority);
        pa > pb || (pa == pb && a.timestamp < b.timestamp)
    }
}
