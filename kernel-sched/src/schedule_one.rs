//! One scheduling cycle's algorithm (upstream `schedule_one.go`): PreFilter, Filter over a
//! round-robin sample of nodes, PostFilter when nothing fits, Score, and a random pick among
//! the best nodes.

use std::sync::OnceLock;

use k8s_openapi::api::core::v1::Pod;

use crate::diagnosis::Diagnosis;
use crate::framework::{Code, CycleState, Framework};
use crate::plugins::{default_framework, Handle};
use crate::snapshot::Snapshot;
use crate::types::{NodeInfo, PodInfo};

/// A node name.
pub type NodeName = String;

/// Below this many nodes, all are evaluated (upstream `minFeasibleNodesToFind`).
pub const MIN_FEASIBLE_NODES_TO_FIND: usize = 100;
/// The adaptive percentage never drops below this (upstream `minFeasibleNodesPercentageToFind`).
pub const MIN_FEASIBLE_NODES_PERCENTAGE_TO_FIND: i64 = 5;

/// State carried between cycles: where the last node search stopped, and the tie-break RNG.
#[derive(Clone, Debug)]
pub struct ScheduleState {
    /// Index in the snapshot's node list where the next search starts.
    pub next_start_node_index: usize,
    /// Global `percentageOfNodesToScore` (0 = adaptive); a profile's own value wins.
    pub percentage_of_nodes_to_score: i32,
    rng: u64,
}

impl Default for ScheduleState {
    fn default() -> Self {
        ScheduleState {
            next_start_node_index: 0,
            percentage_of_nodes_to_score: 0,
            rng: rand::random::<u64>() | 1,
        }
    }
}

impl ScheduleState {
    /// A state with a fixed tie-break seed (for reproducible runs).
    pub fn with_seed(seed: u64) -> Self {
        ScheduleState {
            rng: seed | 1,
            ..Default::default()
        }
    }

    fn next_u64(&mut self) -> u64 {
        // xorshift64*
        let mut x = self.rng;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.rng = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
}

/// A successful placement.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScheduleResult {
    /// The chosen node.
    pub suggested_host: NodeName,
    /// How many nodes Filter looked at.
    pub evaluated_nodes: usize,
    /// How many of those fit.
    pub feasible_nodes: usize,
}

/// How many feasible nodes to look for among `num_all_nodes` (upstream
/// `numFeasibleNodesToFind`): all below 100 nodes; otherwise `percentage` of them, where 0
/// means adaptive `50 - nodes/125` (at least 5%), and never fewer than 100.
pub fn num_feasible_nodes_to_find(percentage: i32, num_all_nodes: usize) -> usize {
    if num_all_nodes < MIN_FEASIBLE_NODES_TO_FIND {
        return num_all_nodes;
    }
    let mut pct = i64::from(percentage);
    if pct <= 0 {
        pct = (50 - num_all_nodes as i64 / 125).max(MIN_FEASIBLE_NODES_PERCENTAGE_TO_FIND);
    }
    if pct >= 100 {
        return num_all_nodes;
    }
    let n = (num_all_nodes as i64 * pct / 100) as usize;
    n.max(MIN_FEASIBLE_NODES_TO_FIND)
}

/// Schedules `pod` onto one of the snapshot's nodes with the default plugins, without any API
/// server. On failure the [`Diagnosis`] says why (and what preemption proposes).
///
/// ```
/// use kernel_sched::{schedule, Snapshot};
/// use kernel_sched::testing::{node, pod};
///
/// let snapshot = Snapshot::new(
///     vec![node("small").cpu("1").obj(), node("big").cpu("8").obj()],
///     vec![],
/// );
/// let placed = schedule(&pod("web").req("2", "1Gi").obj(), &snapshot).unwrap();
/// assert_eq!(placed, "big");
///
/// let err = schedule(&pod("huge").req("16", "1Gi").obj(), &snapshot).unwrap_err();
/// assert!(err.to_string().starts_with("0/2 nodes are available: 2 Insufficient cpu."));
/// ```
pub fn schedule(pod: &Pod, snapshot: &Snapshot) -> Result<NodeName, Diagnosis> {
    static FWK: OnceLock<Framework> = OnceLock::new();
    let fwk = FWK.get_or_init(|| default_framework(&Handle::default()));
    schedule_with(
        fwk,
        &PodInfo::new(pod.clone()),
        snapshot,
        &mut ScheduleState::default(),
    )
}

/// Schedules with a given framework and cross-cycle state.
pub fn schedule_with(
    fwk: &Framework,
    pod: &PodInfo,
    snapshot: &Snapshot,
    st: &mut ScheduleState,
) -> Result<NodeName, Diagnosis> {
    let mut state = CycleState::new();
    schedule_pod(fwk, &mut state, pod, snapshot, st).map(|r| r.suggested_host)
}

fn run_post_filter(
    fwk: &Framework,
    state: &CycleState,
    pod: &PodInfo,
    snapshot: &Snapshot,
    d: &mut Diagnosis,
) {
    if fwk.post_filter.is_empty() {
        return;
    }
    let (result, status) = fwk.run_post_filter_plugins(state, pod, snapshot, &d.node_to_status);
    if status.code() == Code::Error {
        d.error = Some(status.message());
        return;
    }
    if !status.is_success() {
        let msg = status.message();
        d.post_filter_msg = (!msg.is_empty()).then_some(msg);
    }
    if status.is_success() {
        d.post_filter_result = result;
    }
}

/// Runs the filters on `node`; if pods of at least the same priority are nominated to it
/// (waiting for their victims to leave), the pod must also fit with them in place (upstream
/// `RunFilterPluginsWithNominatedPods`).
#[inline]
fn filter_with_nominated(
    fwk: &Framework,
    active: &[usize],
    state: &CycleState,
    pod: &PodInfo,
    node: &NodeInfo,
    snapshot: &Snapshot,
) -> crate::framework::Status {
    let nominated = snapshot.nominated_pods(&node.name);
    if nominated
        .iter()
        .any(|n| n.priority >= pod.priority && !n.same_pod(pod))
    {
        let mut info = node.clone();
        let mut st = state.clone();
        for n in nominated
            .iter()
            .filter(|n| n.priority >= pod.priority && !n.same_pod(pod))
        {
            info.add_pod(n.clone());
            fwk.run_pre_filter_add_pod(&mut st, pod, n, &info, snapshot);
        }
        let s = fwk.run_active_filter_plugins(active, &st, pod, &info);
        if !s.is_success() {
            return s;
        }
    }
    fwk.run_active_filter_plugins(active, state, pod, node)
}

/// How many nodes the filter pass checks per run (see [`schedule_pod`]).
const FILTER_RUN: usize = 64;

/// Runs one scheduling cycle (without Reserve/Permit/Bind).
pub fn schedule_pod(
    fwk: &Framework,
    state: &mut CycleState,
    pod: &PodInfo,
    snapshot: &Snapshot,
    st: &mut ScheduleState,
) -> Result<ScheduleResult, Diagnosis> {
    let all = snapshot.node_infos();
    if all.is_empty() {
        return Err(Diagnosis::from_error("no nodes available to schedule pods"));
    }
    let mut d = Diagnosis {
        num_all_nodes: all.len(),
        ..Default::default()
    };

    let (pre, status) = fwk.run_pre_filter_plugins(state, pod, snapshot);
    if !status.is_success() {
        if status.code() == Code::Error {
            return Err(Diagnosis::from_error(status.message()));
        }
        d.pre_filter_msg = Some(status.message());
        d.unschedulable_plugins.insert(status.plugin());
        d.node_to_status.absent = Some(status);
        run_post_filter(fwk, state, pod, snapshot, &mut d);
        return Err(d);
    }

    // The nodes to search: all, or those a PreFilter plugin narrowed to.
    let restricted: Option<Vec<usize>> = pre
        .and_then(|r| r.node_names)
        .map(|names| names.iter().filter_map(|n| snapshot.position(n)).collect());
    let candidate_count = restricted.as_ref().map_or(all.len(), Vec::len);
    let pct = fwk
        .percentage_of_nodes_to_score
        .filter(|p| *p > 0)
        .unwrap_or(st.percentage_of_nodes_to_score);
    let to_find = num_feasible_nodes_to_find(pct, candidate_count);

    let active = fwk.active_filters(state);

    // A pod nominated by an earlier preemption tries its nominated node first.
    if let Some(nominated) = crate::snapshot::nominated_node(&pod.pod) {
        if let Some(node) = snapshot.get(&nominated) {
            let allowed = restricted.as_ref().is_none_or(|idx| {
                snapshot
                    .position(&nominated)
                    .is_some_and(|p| idx.contains(&p))
            });
            if allowed
                && filter_with_nominated(fwk, &active, state, pod, node, snapshot).is_success()
            {
                return Ok(ScheduleResult {
                    suggested_host: nominated,
                    evaluated_nodes: 1,
                    feasible_nodes: 1,
                });
            }
        }
    }

    let mut feasible: Vec<&NodeInfo> = Vec::with_capacity(to_find.min(candidate_count));
    let mut processed = 0;
    if candidate_count > 0 {
        let start = if restricted.is_some() {
            0
        } else {
            st.next_start_node_index % candidate_count
        };
        let node_at = |k: usize| -> &NodeInfo {
            match &restricted {
                Some(idx) => &all[idx[k]],
                None => &all[k],
            }
        };
        // Without nominated pods, nodes are filtered a run at a time (one dynamic call per
        // plugin and run); a run never reaches past the feasible nodes still wanted, so the
        // search stops exactly where the node-by-node one would.
        let batched = snapshot.nominated.is_empty();
        let mut run: Vec<&NodeInfo> = Vec::with_capacity(FILTER_RUN);
        let mut failed = Vec::new();
        let mut k = start;
        let mut i = 0;
        'search: while i < candidate_count {
            let n = if batched {
                FILTER_RUN
                    .min(candidate_count - i)
                    .min(to_find - feasible.len())
            } else {
                1
            };
            run.clear();
            for _ in 0..n {
                run.push(node_at(k));
                k += 1;
                if k == candidate_count {
                    k = 0;
                }
            }
            let open = if batched {
                fwk.run_active_filter_plugins_on(&active, state, pod, &run, &mut failed)
            } else {
                failed.clear();
                let s = filter_with_nominated(fwk, &active, state, pod, run[0], snapshot);
                if s.is_success() {
                    1
                } else {
                    failed.push((0, s));
                    0
                }
            };
            let mut failures = failed.drain(..);
            for (j, node) in run.iter().enumerate() {
                i += 1;
                processed = i;
                if open & (1 << j) != 0 {
                    feasible.push(node);
                    if feasible.len() >= to_find {
                        break 'search;
                    }
                    continue;
                }
                let Some((_, s)) = failures.next() else {
                    continue;
                };
                if s.code() == Code::Error {
                    return Err(Diagnosis::from_error(s.message()));
                }
                d.unschedulable_plugins.insert(s.plugin());
                d.node_to_status.map.insert(node.name.clone(), s);
            }
        }
        if restricted.is_none() {
            st.next_start_node_index = (start + processed) % candidate_count;
        }
    }
    if let Some(idx) = &restricted {
        // Nodes excluded by PreFilter are unresolvable for this pod.
        let allowed: std::collections::HashSet<usize> = idx.iter().copied().collect();
        for (i, n) in all.iter().enumerate() {
            if !allowed.contains(&i) {
                d.node_to_status.map.insert(
                    n.name.clone(),
                    crate::framework::Status::unresolvable(
                        "node(s) didn't satisfy plugin(s) [NodeAffinity]",
                    ),
                );
            }
        }
    }

    if feasible.is_empty() {
        run_post_filter(fwk, state, pod, snapshot, &mut d);
        return Err(d);
    }
    if feasible.len() == 1 {
        return Ok(ScheduleResult {
            suggested_host: feasible[0].name.clone(),
            evaluated_nodes: processed,
            feasible_nodes: 1,
        });
    }

    let totals = fwk
        .run_score_plugins(state, pod, &feasible, snapshot)
        .map_err(|s| Diagnosis::from_error(s.message()))?;
    // Ties among the top scores are broken uniformly at random, as upstream's reservoir
    // sampling does, with one random draw: count the top nodes, then take the r-th.
    let top = totals.iter().copied().max().unwrap_or_default();
    let ties = totals.iter().filter(|t| **t == top).count() as u64;
    // Uniform in 0..ties by multiply-shift (no division).
    let r = ((u128::from(st.next_u64()) * u128::from(ties)) >> 64) as usize;
    let best = totals
        .iter()
        .enumerate()
        .filter(|(_, t)| **t == top)
        .nth(r)
        .map_or(0, |(i, _)| i);
    Ok(ScheduleResult {
        suggested_host: feasible[best].name.clone(),
        evaluated_nodes: processed,
        feasible_nodes: feasible.len(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{node, pod};

    #[test]
    fn adaptive_percentage_of_nodes_to_score() {
        // (percentage, nodes, expected)
        let cases = [
            (0, 10, 10),
            (0, 99, 99),
            (0, 100, 100),
            (0, 1000, 420),  // 50 - 8 = 42%
            (0, 5000, 500),  // 50 - 40 = 10%
            (0, 6000, 300),  // 50 - 48 = 2% → clamped to 5%
            (0, 15000, 750), // 50 - 120 < 5 → 5%
            (30, 1000, 300),
            (1, 1000, 100), // never fewer than 100
            (100, 1000, 1000),
        ];
        for (pct, n, want) in cases {
            assert_eq!(num_feasible_nodes_to_find(pct, n), want, "{pct}% of {n}");
        }
    }

    #[test]
    fn search_resumes_round_robin_where_it_stopped() {
        let nodes: Vec<_> = (0..200).map(|i| node(&format!("n{i:03}")).obj()).collect();
        let snap = Snapshot::new(nodes, vec![]);
        let fwk = default_framework(&Handle::default());
        let mut st = ScheduleState::with_seed(7);
        st.percentage_of_nodes_to_score = 50;
        let pi = PodInfo::new(pod("p").obj());
        let r = schedule_pod(&fwk, &mut CycleState::new(), &pi, &snap, &mut st).unwrap();
        assert_eq!((r.evaluated_nodes, r.feasible_nodes), (100, 100));
        assert_eq!(st.next_start_node_index, 100);
        schedule_pod(&fwk, &mut CycleState::new(), &pi, &snap, &mut st).unwrap();
        assert_eq!(st.next_start_node_index, 0, "wrapped around");
    }

    #[test]
    fn nominated_pods_reserve_room_and_get_their_node_first() {
        let mut preemptor = pod("pre").uid("p1").req("3", "0").priority(100).obj();
        preemptor.status = Some(k8s_openapi::api::core::v1::PodStatus {
            nominated_node_name: Some("b".into()),
            ..Default::default()
        });
        let nodes = vec![node("a").cpu("4").obj(), node("b").cpu("4").obj()];
        let snap = Snapshot::new(nodes.clone(), vec![preemptor.clone()]);
        // A lower-priority pod does not take the room reserved on b: it goes to a.
        for _ in 0..20 {
            assert_eq!(
                schedule(&pod("low").req("2", "0").priority(1).obj(), &snap).unwrap(),
                "a"
            );
        }
        // The preemptor itself goes straight to its nominated node.
        let snap = Snapshot::new(nodes, vec![]);
        for _ in 0..20 {
            assert_eq!(schedule(&preemptor, &snap).unwrap(), "b");
        }
    }

    #[test]
    fn ties_are_broken_at_random() {
        let nodes: Vec<_> = (0..4).map(|i| node(&format!("n{i}")).obj()).collect();
        let snap = Snapshot::new(nodes, vec![]);
        let fwk = default_framework(&Handle::default());
        let mut st = ScheduleState::with_seed(42);
        let pi = PodInfo::new(pod("p").obj());
        let mut seen = std::collections::BTreeSet::new();
        for _ in 0..64 {
            seen.insert(schedule_with(&fwk, &pi, &snap, &mut st).unwrap());
        }
        assert_eq!(
            seen.len(),
            4,
            "identical nodes are all chosen sometimes: {seen:?}"
        );
    }

    /// The filter pass works in runs of nodes; where it stops, what it counts and which
    /// rejections it records must be those of a node-by-node search.
    #[test]
    fn filtering_in_runs_stops_where_a_node_by_node_search_would() {
        // Every third node is too small for the pod, and some fail a second plugin too.
        let nodes: Vec<_> = (0..200)
            .map(|i| {
                let n = node(&format!("n{i:03}"));
                let n = if i % 3 == 0 {
                    n.cpu("100m")
                } else {
                    n.cpu("4")
                };
                if i % 7 == 0 {
                    n.taint("t", "x", "NoSchedule").obj()
                } else {
                    n.obj()
                }
            })
            .collect();
        let fits = |i: usize| !i.is_multiple_of(3) && !i.is_multiple_of(7);
        let snap = Snapshot::new(nodes, vec![]);
        let fwk = default_framework(&Handle::default());
        let pi = PodInfo::new(pod("p").req("1", "1Gi").obj());
        for start in [0, 37, 190] {
            let mut st = ScheduleState::with_seed(7);
            st.percentage_of_nodes_to_score = 30; // never fewer than 100 feasible nodes wanted
            st.next_start_node_index = start;
            let r = schedule_pod(&fwk, &mut CycleState::new(), &pi, &snap, &mut st).unwrap();
            let (mut found, mut visited) = (0, 0);
            while found < 100 {
                if fits((start + visited) % 200) {
                    found += 1;
                }
                visited += 1;
            }
            assert_eq!(
                (r.evaluated_nodes, r.feasible_nodes),
                (visited, 100),
                "from {start}"
            );
            assert_eq!(st.next_start_node_index, (start + visited) % 200);
        }
        // Nothing fits: each node counts under its first failing plugin (TaintToleration runs
        // before NodeResourcesFit, as upstream).
        let big = PodInfo::new(pod("big").req("64", "1Gi").obj());
        let mut st = ScheduleState::with_seed(7);
        let d = schedule_pod(&fwk, &mut CycleState::new(), &big, &snap, &mut st).unwrap_err();
        assert_eq!(d.node_to_status.map.len(), 200);
        let message = d.to_string();
        assert!(
            message.starts_with("0/200 nodes are available: 171 Insufficient cpu, 29 node(s) had untolerated taint {t: x}."),
            "{message}"
        );
    }

    #[test]
    fn default_scoring_spreads_and_filters_combine() {
        let snap = Snapshot::new(
            vec![
                node("busy").cpu("4").memory("8Gi").obj(),
                node("idle").cpu("4").memory("8Gi").obj(),
                node("tainted")
                    .cpu("64")
                    .memory("256Gi")
                    .taint("gpu", "true", "NoSchedule")
                    .obj(),
            ],
            vec![pod("x").node("busy").req("3", "6Gi").obj()],
        );
        assert_eq!(
            schedule(&pod("p").req("500m", "1Gi").obj(), &snap).unwrap(),
            "idle"
        );
        let d = schedule(&pod("p").req("5", "1Gi").obj(), &snap).unwrap_err();
        assert_eq!(
            d.to_string(),
            "0/3 nodes are available: 1 node(s) had untolerated taint {gpu: true}, 2 Insufficient cpu. \
             preemption: 0/3 nodes are available: 3 Preemption is not helpful for scheduling.."
        );
    }
}
