//! PrioritySort: higher `spec.priority` first, then earlier arrival.

use std::sync::Arc;

use crate::framework::{Plugin, QueueSortPlugin, QueuedPodInfo};

/// The plugin name.
pub const NAME: &str = "PrioritySort";

/// Orders pods by priority (descending), then by queue timestamp (ascending).
#[derive(Clone, Copy, Debug, Default)]
pub struct PrioritySort;

impl Plugin for PrioritySort {
    fn name(&self) -> &'static str {
        NAME
    }
    fn as_queue_sort(self: Arc<Self>) -> Option<Arc<dyn QueueSortPlugin>> {
        Some(self)
    }
}

impl QueueSortPlugin for PrioritySort {
    fn less(&self, a: &QueuedPodInfo, b: &QueuedPodInfo) -> bool {
        let (pa, pb) = (a.pod_info.priority, b.pod_info.priority);
        pa > pb || (pa == pb && a.timestamp < b.timestamp)
    }
}
