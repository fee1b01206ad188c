//! [`Diagnosis`]: why a pod could not be scheduled, rendered the way upstream's `FitError`
//! renders it (`0/5 nodes are available: 3 Insufficient cpu, 2 node(s) had untolerated taint
//! {key: value}. preemption: ...`).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use crate::framework::{NodeToStatus, PostFilterResult};

/// The outcome of a failed scheduling attempt.
#[derive(Clone, Debug, Default)]
pub struct Diagnosis {
    /// How many nodes the snapshot had.
    pub num_all_nodes: usize,
    /// Why each node was rejected.
    pub node_to_status: NodeToStatus,
    /// Plugins that rejected the pod (drives requeueing on cluster events).
    pub unschedulable_plugins: BTreeSet<&'static str>,
    /// Message of a PreFilter rejection.
    pub pre_filter_msg: Option<String>,
    /// Message of PostFilter (preemption).
    pub post_filter_msg: Option<String>,
    /// What preemption proposes: a nominated node and the victims to evict.
    pub post_filter_result: Option<PostFilterResult>,
    /// An internal error (not a scheduling failure).
    pub error: Option<String>,
}

impl Diagnosis {
    /// An internal error.
    pub fn from_error(msg: impl Into<String>) -> Self {
        Diagnosis {
            error: Some(msg.into()),
            ..Default::default()
        }
    }

    /// Whether this is an internal error rather than "does not fit".
    pub fn is_error(&self) -> bool {
        self.error.is_some()
    }

    /// The upstream `FitError` message.
    pub fn fit_error_message(&self) -> String {
        let mut msg = format!("0/{} nodes are available:", self.num_all_nodes);
        if let Some(pre) = self.pre_filter_msg.as_deref().filter(|m| !m.is_empty()) {
            msg.push_str(&format!(" {pre}."));
        } else {
            let mut hist: BTreeMap<&str, usize> = BTreeMap::new();
            for s in self.node_to_status.map.values() {
                for r in s.reasons() {
                    *hist.entry(r.as_ref()).or_default() += 1;
                }
            }
            let mut parts: Vec<String> =
                hist.into_iter().map(|(r, n)| format!("{n} {r}")).collect();
            parts.sort();
            if !parts.is_empty() {
                msg.push_str(&format!(" {}.", parts.join(", ")));
            }
        }
        if let Some(post) = self.post_filter_msg.as_deref().filter(|m| !m.is_empty()) {
            msg.push_str(&format!(" {post}."));
        }
        msg
    }
}

impl fmt::Display for Diagnosis {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.error {
            Some(e) => f.write_str(e),
            None => f.write_str(&self.fit_error_message()),
        }
    }
}

impl std::error::Error for Diagnosis {}
