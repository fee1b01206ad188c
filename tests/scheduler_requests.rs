//! The `Scheduler` needs nothing but a `kube::Client`: here, one of the real API server in
//! process with every request recorded on the way, so the tests check what the scheduler
//! wrote — the `pods/binding` body, the `PodScheduled` condition, the event, the preemption
//! delete and nomination.

mod common;

use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::core::v1::{Node, Pod};
use kernel::sched::testing::{node, pod};
use kernel::sched::Scheduler;

use common::{populate, recording_api, recording_api_delaying, until_recorded, Recorded};

/// A recording client of a fresh API server holding `nodes` and `pods` (namespace `default`).
async fn cluster(recorded: &Recorded, nodes: Vec<Node>, pods: Vec<Pod>) -> kube::Client {
    let client = recording_api(recorded.clone()).await;
    populate(&client, nodes, pods).await;
    client
}

#[tokio::test]
async fn binds_fitting_pods_and_reports_unschedulable_ones() {
    let recorded: Recorded = Arc::default();
    let pods = vec![
        pod("web").req("1", "1Gi").obj(),
        pod("huge").req("64", "1Gi").obj(),
        pod("other").scheduler_name("someone-else").obj(),
    ];
    let scheduler = Scheduler::new(
        cluster(
            &recorded,
            vec![node("n1").cpu("4").memory("8Gi").obj()],
            pods,
        )
        .await,
    );
    let metrics = scheduler.metrics();
    let run = tokio::spawn(scheduler.run());

    let find = |pred: &dyn Fn(&(String, String, String)) -> bool| {
        recorded.lock().unwrap().iter().find(|r| pred(r)).cloned()
    };
    let [binding, status] = &until_recorded(
        &recorded,
        &[
            &|r| r.0 == "POST" && r.1.ends_with("/pods/web/binding"),
            &|r| r.0 == "PATCH" && r.1.ends_with("/pods/huge/status"),
        ],
    )
    .await[..] else {
        unreachable!("one request per predicate")
    };

    // pods/binding with a core/v1 Binding targeting the only node.
    let b: serde_json::Value = serde_json::from_str(&binding.2).unwrap();
    assert_eq!(binding.1, "/api/v1/namespaces/default/pods/web/binding");
    assert_eq!(b["kind"], "Binding");
    assert_eq!(b["target"]["kind"], "Node");
    assert_eq!(b["target"]["name"], "n1");

    // PodScheduled=False, reason Unschedulable, upstream's message.
    let s: serde_json::Value = serde_json::from_str(&status.2).unwrap();
    let cond = &s["status"]["conditions"][0];
    assert_eq!(cond["type"], "PodScheduled");
    assert_eq!(cond["status"], "False");
    assert_eq!(cond["reason"], "Unschedulable");
    assert_eq!(
        cond["message"],
        "0/1 nodes are available: 1 Insufficient cpu. preemption: 0/1 nodes are available: 1 Preemption is not helpful for scheduling.."
    );

    // A FailedScheduling event was recorded for the unschedulable pod.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let ev =
            find(&|r| r.0 == "POST" && r.1.contains("/events") && r.2.contains("FailedScheduling"));
        if let Some(ev) = ev {
            let v: serde_json::Value = serde_json::from_str(&ev.2).unwrap();
            assert_eq!(v["regarding"]["name"], "huge");
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no FailedScheduling event"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    // The pod for another scheduler was left alone.
    assert!(find(&|r| r.1.contains("/pods/other/")).is_none());
    let text = metrics.render();
    assert!(text.contains("result=\"scheduled\"} 1"), "{text}");
    assert!(text.contains("result=\"unschedulable\"} 1"), "{text}");
    // Scheduling waited for the node and pod watches' first lists (upstream WaitForCacheSync):
    // no attempt failed for want of nodes.
    assert!(text.contains("result=\"error\"} 0"), "{text}");
    run.abort();
}

#[tokio::test]
async fn preemption_deletes_victims_and_nominates_the_node() {
    let recorded: Recorded = Arc::default();
    let pods = vec![
        pod("low").node("n1").priority(1).req("4", "1Gi").obj(),
        pod("high").priority(1000).req("2", "1Gi").obj(),
    ];
    let scheduler = Scheduler::new(
        cluster(
            &recorded,
            vec![node("n1").cpu("4").memory("8Gi").obj()],
            pods,
        )
        .await,
    );
    let run = tokio::spawn(scheduler.run());
    let [delete, status] = &until_recorded(
        &recorded,
        &[&|r| r.0 == "DELETE" && r.1.ends_with("/pods/low"), &|r| {
            r.0 == "PATCH" && r.1.ends_with("/pods/high/status")
        }],
    )
    .await[..] else {
        unreachable!("one request per predicate")
    };
    assert_eq!(delete.1, "/api/v1/namespaces/default/pods/low");
    let s: serde_json::Value = serde_json::from_str(&status.2).unwrap();
    assert_eq!(s["status"]["nominatedNodeName"], "n1");
    assert_eq!(
        s["status"]["conditions"][0]["message"],
        "0/1 nodes are available: 1 Insufficient cpu."
    );
    run.abort();
}

/// Upstream waits for its informers' first lists before scheduling (`WaitForCacheSync`): with
/// the node list slow, a pending pod must not be tried against an empty node cache (which
/// would fail it with "no nodes available" and send it to backoff).
#[tokio::test]
async fn scheduling_waits_for_the_first_node_list() {
    let recorded: Recorded = Arc::default();
    let client = recording_api_delaying(
        recorded.clone(),
        "/api/v1/nodes",
        Duration::from_millis(300),
    )
    .await;
    populate(
        &client,
        vec![node("n1").cpu("4").memory("8Gi").obj()],
        vec![pod("web").req("1", "1Gi").obj()],
    )
    .await;
    let scheduler = Scheduler::new(client);
    let metrics = scheduler.metrics();
    let synced = scheduler.synced();
    let run = tokio::spawn(scheduler.run());
    tokio::time::timeout(Duration::from_secs(10), synced)
        .await
        .expect("the scheduler reports its first lists done");
    until_recorded(
        &recorded,
        &[&|r| r.0 == "POST" && r.1.ends_with("/pods/web/binding")],
    )
    .await;
    let text = metrics.render();
    assert!(text.contains("result=\"error\"} 0"), "{text}");
    assert!(text.contains("result=\"scheduled\"} 1"), "{text}");
    run.abort();
}
