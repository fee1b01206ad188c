//! DefaultPreemption: when no node fits, find a node where evicting lower-priority pods makes
//! room, evicting as few and as unimportant pods as possible and avoiding PodDisruptionBudget
//! violations (upstream `defaultpreemption` + `framework/preemption`).

use std::sync::Arc;

use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use kernel_core::labels::Selector;
use serde::Deserialize;

use crate::diagnosis::Diagnosis;
use crate::framework::{
    Code, CycleState, ExtensionPoints, Framework, NodeToStatus, Plugin, PostFilterPlugin,
    PostFilterResult, Status,
};
use crate::snapshot::Snapshot;
use crate::types::{NodeInfo, PodInfo};

/// The plugin name.
pub const NAME: &str = "DefaultPreemption";
/// Status reason for nodes where preemption cannot help.
pub const REASON_NOT_HELPFUL: &str = "Preemption is not helpful for scheduling";
/// Status reason for nodes without lower-priority pods.
pub const REASON_NO_VICTIMS: &str = "No preemption victims found for incoming pod";

/// `DefaultPreemptionArgs`.
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DefaultPreemptionArgs {
    /// Minimum share of nodes to evaluate as candidates (default 10).
    #[serde(default = "ten")]
    pub min_candidate_nodes_percentage: i64,
    /// Minimum number of candidates (default 100).
    #[serde(default = "hundred")]
    pub min_candidate_nodes_absolute: i64,
}

fn ten() -> i64 {
    10
}
fn hundred() -> i64 {
    100
}

impl Default for DefaultPreemptionArgs {
    fn default() -> Self {
        DefaultPreemptionArgs {
            min_candidate_nodes_percentage: 10,
            min_candidate_nodes_absolute: 100,
        }
    }
}

/// Priority-based preemption.
#[derive(Clone, Debug, Default)]
pub struct DefaultPreemption {
    args: DefaultPreemptionArgs,
}

impl DefaultPreemption {
    /// Builds the plugin.
    pub fn new(args: DefaultPreemptionArgs) -> Self {
        DefaultPreemption { args }
    }

    /// How many candidates with victims are enough (upstream `GetOffsetAndNumCandidates`).
    fn num_candidates(&self, num_nodes: usize) -> usize {
        let n = (num_nodes as i64 * self.args.min_candidate_nodes_percentage / 100)
            .max(self.args.min_candidate_nodes_absolute);
        (n.max(0) as usize).min(num_nodes)
    }
}

impl Plugin for DefaultPreemption {
    fn name(&self) -> &'static str {
        NAME
    }
    fn extension_points(self: Arc<Self>) -> ExtensionPoints {
        ExtensionPoints::of(self).post_filter().into()
    }
}

/// A node where preemption would work, and what it costs.
#[derive(Clone, Debug)]
struct Candidate {
    node: usize,
    victims: Vec<Arc<PodInfo>>,
    pdb_violations: usize,
}

/// Whether `a` is more important than `b`: higher priority, then earlier start.
fn more_important(a: &PodInfo, b: &PodInfo) -> bool {
    if a.priority != b.priority {
        return a.priority > b.priority;
    }
    match (a.start_time, b.start_time) {
        (Some(x), Some(y)) => x < y,
        (Some(_), None) => true,
        _ => false,
    }
}

struct Pdb {
    namespace: String,
    selector: Selector,
    allowed: i64,
    disrupted: Vec<String>,
}

fn compile_pdbs(pdbs: &[Arc<PodDisruptionBudget>]) -> Vec<Pdb> {
    pdbs.iter()
        .filter_map(|p| {
            let sel = p.spec.as_ref()?.selector.as_ref()?;
            // An invalid selector matches no pod (upstream skips the PDB); an empty one
            // matches nothing either.
            let selector = Selector::from_meta(sel).ok()?;
            if selector.is_empty() {
                return None;
            }
            Some(Pdb {
                namespace: p.metadata.namespace.clone().unwrap_or_default(),
                selector,
                allowed: p
                    .status
                    .as_ref()
                    // `disruptionsAllowed` is an `i32` up to Kubernetes 1.35 and optional
                    // since 1.36; missing counts as 0 allowed, as a missing status does.
                    .map_or(0, |s| {
                        i64::from(Option::<i32>::from(s.disruptions_allowed).unwrap_or(0))
                    }),
                disrupted: p
                    .status
                    .as_ref()
                    .and_then(|s| s.disrupted_pods.as_ref())
                    .map(|m| m.keys().cloned().collect())
                    .unwrap_or_default(),
            })
        })
        .collect()
}

/// Splits pods into (violating, non-violating) a PDB if all were evicted, in order.
fn split_by_pdb(pods: Vec<Arc<PodInfo>>, pdbs: &[Pdb]) -> (Vec<Arc<PodInfo>>, Vec<Arc<PodInfo>>) {
    let mut allowed: Vec<i64> = pdbs.iter().map(|p| p.allowed).collect();
    let (mut violating, mut ok) = (Vec::new(), Vec::new());
    for p in pods {
        let mut violates = false;
        for (i, pdb) in pdbs.iter().enumerate() {
            if pdb.namespace != p.namespace
                || !pdb.selector.matches(p.labels())
                || pdb.disrupted.contains(&p.name)
            {
                continue;
            }
            allowed[i] -= 1;
            if allowed[i] < 0 {
                violates = true;
            }
        }
        if violates {
            violating.push(p);
        } else {
            ok.push(p);
        }
    }
    (violating, ok)
}

impl DefaultPreemption {
    /// Finds the victims on one node (upstream `SelectVictimsOnNode`).
    fn select_victims(
        &self,
        fwk: &Framework,
        state: &CycleState,
        pod: &PodInfo,
        node: &NodeInfo,
        snapshot: &Snapshot,
        pdbs: &[Pdb],
    ) -> Result<(Vec<Arc<PodInfo>>, usize), Status> {
        let mut state = state.clone();
        let mut info = node.clone();
        let mut potential: Vec<Arc<PodInfo>> = node
            .pods
            .iter()
            .filter(|p| p.priority < pod.priority)
            .cloned()
            .collect();
        if potential.is_empty() {
            return Err(Status::unresolvable(REASON_NO_VICTIMS));
        }
        for v in &potential {
            info.remove_pod(v);
            fwk.run_pre_filter_remove_pod(&mut state, pod, v, &info, snapshot);
        }
        let s = fwk.run_filter_plugins(&state, pod, &info);
        if !s.is_success() {
            return Err(s);
        }
        potential.sort_by(|a, b| {
            if more_important(a, b) {
                std::cmp::Ordering::Less
            } else if more_important(b, a) {
                std::cmp::Ordering::Greater
            } else {
                std::cmp::Ordering::Equal
            }
        });
        let (violating, ok) = split_by_pdb(potential, pdbs);
        let mut victims = Vec::new();
        let mut violations = 0;
        for (group, is_violating) in [(violating, true), (ok, false)] {
            for p in group {
                info.add_pod(p.clone());
                fwk.run_pre_filter_add_pod(&mut state, pod, &p, &info, snapshot);
                if !fwk.run_filter_plugins(&state, pod, &info).is_success() {
                    info.remove_pod(&p);
                    fwk.run_pre_filter_remove_pod(&mut state, pod, &p, &info, snapshot);
                    if is_violating {
                        violations += 1;
                    }
                    victims.push(p);
                }
            }
        }
        if victims.is_empty() {
            return Err(Status::error(format!(
                "expected at least one victim pod on node {:?}",
                node.name
            )));
        }
        Ok((victims, violations))
    }
}

/// Picks the best candidate (upstream `pickOneNodeForPreemption`).
fn pick(candidates: &[Candidate]) -> usize {
    let highest = |c: &Candidate| {
        c.victims
            .iter()
            .map(|v| v.priority)
            .max()
            .unwrap_or(i32::MIN)
    };
    let sum = |c: &Candidate| {
        c.victims
            .iter()
            .map(|v| i64::from(v.priority) + i64::from(i32::MAX) + 1)
            .sum::<i64>()
    };
    let latest_start_of_highest = |c: &Candidate| {
        let h = highest(c);
        c.victims
            .iter()
            .filter(|v| v.priority == h)
            .filter_map(|v| v.start_time)
            .min()
    };
    let mut best: Vec<usize> = (0..candidates.len()).collect();
    let mut narrow = |key: &dyn Fn(&Candidate) -> i64| {
        let min = best.iter().map(|&i| key(&candidates[i])).min().unwrap_or(0);
        best.retain(|&i| key(&candidates[i]) == min);
    };
    narrow(&|c| c.pdb_violations as i64);
    narrow(&|c| i64::from(highest(c)));
    narrow(&sum);
    narrow(&|c| c.victims.len() as i64);
    // Latest start time of the highest-priority victims wins (negate to minimise).
    narrow(&|c| latest_start_of_highest(c).map_or(i64::MIN + 1, |t| -t.as_second()));
    best[0]
}

impl PostFilterPlugin for DefaultPreemption {
    fn post_filter(
        &self,
        fwk: &Framework,
        state: &CycleState,
        pod: &PodInfo,
        snapshot: &Snapshot,
        statuses: &NodeToStatus,
    ) -> (Option<PostFilterResult>, Status) {
        if pod
            .pod
            .spec
            .as_ref()
            .and_then(|s| s.preemption_policy.as_deref())
            == Some("Never")
        {
            return (
                None,
                Status::unschedulable("preemption: not eligible due to preemptionPolicy=Never."),
            );
        }
        let pdbs = compile_pdbs(&snapshot.objects().pdbs.state());
        let mut out = NodeToStatus::default();
        let mut candidates = Vec::new();
        let enough = self.num_candidates(snapshot.num_nodes());
        for (i, node) in snapshot.node_infos().iter().enumerate() {
            let st = statuses.get(&node.name);
            if st.is_some_and(|s| s.code() == Code::UnschedulableAndUnresolvable) {
                out.map
                    .insert(node.name.clone(), Status::unresolvable(REASON_NOT_HELPFUL));
                continue;
            }
            if candidates.len() >= enough {
                continue;
            }
            match self.select_victims(fwk, state, pod, node, snapshot, &pdbs) {
                Ok((victims, pdb_violations)) => candidates.push(Candidate {
                    node: i,
                    victims,
                    pdb_violations,
                }),
                Err(s) => {
                    out.map.insert(node.name.clone(), s);
                }
            }
        }
        if candidates.is_empty() {
            let d = Diagnosis {
                num_all_nodes: snapshot.num_nodes(),
                node_to_status: out,
                ..Default::default()
            };
            return (
                Some(PostFilterResult::default()),
                Status::unschedulable(format!("preemption: {}", d.fit_error_message())),
            );
        }
        let best = &candidates[pick(&candidates)];
        let result = PostFilterResult {
            nominated_node_name: Some(snapshot.node_infos()[best.node].name.clone()),
            victims: best.victims.clone(),
        };
        (Some(result), Status::success())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plugins::default_framework;
    use crate::plugins::Handle;
    use crate::snapshot::ClusterObjects;
    use crate::testing::{node, pod};
    use crate::types::PodInfo;
    use k8s_openapi::api::policy::v1::{PodDisruptionBudgetSpec, PodDisruptionBudgetStatus};
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};

    fn run(p: k8s_openapi::api::core::v1::Pod, snap: &Snapshot) -> Result<String, Diagnosis> {
        let fwk = default_framework(&Handle::default());
        crate::schedule_with(
            &fwk,
            &PodInfo::new(p),
            snap,
            &mut crate::ScheduleState::default(),
        )
    }

    #[test]
    fn evicts_the_fewest_lowest_priority_pods() {
        let nodes = vec![node("a").cpu("2").obj(), node("b").cpu("2").obj()];
        let pods = vec![
            pod("a-low")
                .uid("1")
                .node("a")
                .req("1", "0")
                .priority(1)
                .obj(),
            pod("a-mid")
                .uid("2")
                .node("a")
                .req("1", "0")
                .priority(5)
                .obj(),
            pod("b-low1")
                .uid("3")
                .node("b")
                .req("1", "0")
                .priority(1)
                .obj(),
            pod("b-low2")
                .uid("4")
                .node("b")
                .req("1", "0")
                .priority(1)
                .obj(),
        ];
        let snap = Snapshot::new(nodes, pods);
        let d = run(pod("hi").req("1", "0").priority(10).obj(), &snap).unwrap_err();
        // Node a needs one victim of priority 1 (a-mid is reprieved); node b needs one of
        // priority 1 too; a wins on lower sum... both sum equal → fewer victims equal → first.
        let r = d.post_filter_result.expect("a nomination");
        assert_eq!(r.victims.len(), 1);
        assert_eq!(r.victims[0].priority, 1);
        assert_eq!(r.nominated_node_name.as_deref(), Some("a"));
    }

    #[test]
    fn prefers_nodes_whose_victims_have_lower_priority() {
        let nodes = vec![node("a").cpu("1").obj(), node("b").cpu("1").obj()];
        let pods = vec![
            pod("a1").uid("1").node("a").req("1", "0").priority(5).obj(),
            pod("b1").uid("2").node("b").req("1", "0").priority(2).obj(),
        ];
        let d = run(
            pod("hi").req("1", "0").priority(10).obj(),
            &Snapshot::new(nodes, pods),
        )
        .unwrap_err();
        let r = d.post_filter_result.unwrap();
        assert_eq!(r.nominated_node_name.as_deref(), Some("b"));
        assert_eq!(r.victims[0].name, "b1");
    }

    #[test]
    fn avoids_pdb_violations() {
        let nodes = vec![node("a").cpu("1").obj(), node("b").cpu("1").obj()];
        let pods = vec![
            pod("guarded")
                .uid("1")
                .label("app", "db")
                .node("a")
                .req("1", "0")
                .priority(1)
                .obj(),
            pod("free")
                .uid("2")
                .node("b")
                .req("1", "0")
                .priority(3)
                .obj(),
        ];
        let pdb = PodDisruptionBudget {
            metadata: ObjectMeta {
                name: Some("db".into()),
                namespace: Some("default".into()),
                ..Default::default()
            },
            spec: Some(PodDisruptionBudgetSpec {
                selector: Some(LabelSelector {
                    match_labels: Some([("app".to_string(), "db".to_string())].into()),
                    match_expressions: None,
                }),
                ..Default::default()
            }),
            status: Some(PodDisruptionBudgetStatus {
                disruptions_allowed: 0,
                ..Default::default()
            }),
        };
        let snap = Snapshot::new(nodes, pods).with_objects(ClusterObjects::default().with([pdb]));
        let d = run(pod("hi").req("1", "0").priority(10).obj(), &snap).unwrap_err();
        // Without the PDB node a (victim priority 1) would win; the PDB makes b better.
        assert_eq!(
            d.post_filter_result.unwrap().nominated_node_name.as_deref(),
            Some("b")
        );
    }

    #[test]
    fn no_victims_and_policy_never_messages() {
        let nodes = vec![
            node("a").cpu("1").obj(),
            node("b").cpu("1").taint("k", "v", "NoSchedule").obj(),
        ];
        let pods = vec![pod("same")
            .uid("1")
            .node("a")
            .req("1", "0")
            .priority(10)
            .obj()];
        let snap = Snapshot::new(nodes, pods);
        let d = run(pod("hi").req("1", "0").priority(10).obj(), &snap).unwrap_err();
        assert_eq!(
            d.to_string(),
            "0/2 nodes are available: 1 Insufficient cpu, 1 node(s) had untolerated taint {k: v}. preemption: 0/2 nodes are available: 1 No preemption victims found for incoming pod, 1 Preemption is not helpful for scheduling.."
        );
        let never = pod("hi")
            .req("1", "0")
            .priority(100)
            .with_spec(|s| s.preemption_policy = Some("Never".into()))
            .obj();
        let d = run(never, &snap).unwrap_err();
        assert!(
            d.to_string()
                .ends_with(" preemption: not eligible due to preemptionPolicy=Never.."),
            "{d}"
        );
        assert!(d.post_filter_result.is_none());
    }
}
