//! Armed faults fire at their moment, once, on the member it happened at; slow links hold
//! messages rather than lose them; the swarm's windows keep the ordinary episodes out.

mod common;

use common::json_trace;
use detcd_sim::kv_run::{run, KvRunOptions};
use detcd_sim::nemesis::{FaultAction, FaultSchedule, Moment, PartitionShape, Target, TimedFault};

/// The run's events as (name, fields), in order.
fn events(o: &KvRunOptions) -> Vec<(String, serde_json::Value)> {
    let (report, text) = json_trace::capture(tracing::Level::DEBUG, || run(o));
    assert!(report.result.is_ok(), "{:?}", report.result);
    text.lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).expect("JSON");
            let name = v["fields"]["message"].as_str().unwrap_or_default().to_string();
            (name, v["fields"].clone())
        })
        .collect()
}

fn num(v: &serde_json::Value, field: &str) -> u64 {
    match &v[field] {
        serde_json::Value::Number(n) => n.as_u64().expect("u64"),
        serde_json::Value::String(s) => s.parse().expect("a number"),
        other => panic!("{field}: {other}"),
    }
}

/// The (node, time) of the run's one armed fault that fired; fails unless exactly one did.
fn fired_once(events: &[(String, serde_json::Value)]) -> (u64, u64) {
    let fired: Vec<&serde_json::Value> =
        events.iter().filter(|(n, _)| n == "fired").map(|(_, f)| f).collect();
    assert_eq!(fired.len(), 1, "fires once: {fired:?}");
    (num(fired[0], "node"), num(fired[0], "t_us"))
}

/// Whether event `name` happened on `node` at `at_us`.
fn happened(events: &[(String, serde_json::Value)], name: &str, node: u64, at_us: u64) -> bool {
    events.iter().any(|(n, f)| n == name && num(f, "node") == node && num(f, "t_us") == at_us)
}

fn options(schedule: FaultSchedule) -> KvRunOptions {
    let mut o = KvRunOptions::new(3, 5);
    o.schedule = Some(schedule);
    o.request_timeout_us = 50_000;
    o
}

#[test]
fn a_fault_armed_for_a_new_leader_crashes_that_leader_once() {
    let mut s = FaultSchedule::default();
    let then = vec![
        TimedFault { at_us: 5_000, action: FaultAction::Crash { node: Target::Subject } },
        TimedFault { at_us: 80_000, action: FaultAction::Restart { node: Target::Subject } },
    ];
    s.push(300_000, FaultAction::Arm { moment: Moment::NewLeader, for_us: 1_000_000, then });
    s.push(300_000, FaultAction::Partition { shape: PartitionShape::IsolateLeader });
    s.push(700_000, FaultAction::Heal);
    let events = events(&options(s));
    let (node, at) = fired_once(&events);
    assert!(at > 300_000, "after the arming: {at}");
    let elected = events.iter().any(|(n, f)| {
        n == "role_change"
            && f["role"] == "Leader"
            && num(f, "node") == node
            && num(f, "t_us") == at
    });
    assert!(elected, "node {node} became leader at {at}");
    let crashed = happened(&events, "crash", node, at + 5_000);
    assert!(crashed, "the new leader {node} crashed 5 ms after its election");
}

#[test]
fn a_fault_armed_for_a_truncation_crashes_the_member_inside_its_sync() {
    // The isolated leader keeps appending the proposals it gets; after the heal the new
    // leader's appends replace them, and that overwrite is the moment.
    let mut s = FaultSchedule::default();
    let slow = detcd_sim::LatencyDist::uniform(100_000, 100_000);
    let then = vec![
        TimedFault {
            at_us: 0,
            action: FaultAction::DiskLatency { node: Target::Subject, fsync: Some(slow) },
        },
        TimedFault { at_us: 2_000, action: FaultAction::Crash { node: Target::Subject } },
        TimedFault { at_us: 50_000, action: FaultAction::Restart { node: Target::Subject } },
    ];
    s.push(300_000, FaultAction::Partition { shape: PartitionShape::IsolateLeader });
    s.push(300_000, FaultAction::Arm { moment: Moment::Truncated, for_us: 2_000_000, then });
    s.push(700_000, FaultAction::Heal);
    let events = events(&options(s));
    let (node, at) = fired_once(&events);
    assert!(at > 700_000, "after the heal: {at}");
    let wrote = happened(&events, "persist", node, at);
    assert!(wrote, "node {node} wrote at {at}");
    let synced_between = events.iter().any(|(n, f)| {
        n == "persisted" && num(f, "node") == node && (at..=at + 2_000).contains(&num(f, "t_us"))
    });
    assert!(!synced_between, "the overwrite was still in flight when node {node} crashed");
    let crashed = happened(&events, "crash", node, at + 2_000);
    assert!(crashed, "node {node} crashed 2 ms after the overwrite");
}

#[test]
fn crash_on_truncate_windows_arm_the_truncation_moment() {
    let mut armed = 0;
    for seed in 0..100 {
        let p = detcd_sim::swarm::profile(seed);
        let s = detcd_sim::swarm::schedule(seed, 5, 5_000_000, &p);
        let arms: Vec<&TimedFault> = s
            .faults
            .iter()
            .filter(|f| matches!(f.action, FaultAction::Arm { moment: Moment::Truncated, .. }))
            .collect();
        assert!(p.crash_on_truncate || arms.is_empty(), "seed {seed}: armed without the profile");
        // Each window makes its truncation: the leader cut off with a minority where it
        // is armed, and a heal while it is still armed.
        for arm in &arms {
            let FaultAction::Arm { for_us, .. } = &arm.action else { unreachable!() };
            let cut = s.faults.iter().any(|f| {
                f.at_us == arm.at_us
                    && matches!(
                        f.action,
                        FaultAction::Partition { shape: PartitionShape::LeaderMinority }
                    )
            });
            let healed = s.faults.iter().any(|f| {
                f.at_us > arm.at_us
                    && f.at_us < arm.at_us + *for_us
                    && matches!(f.action, FaultAction::Heal)
            });
            assert!(cut && healed, "seed {seed}, window at {}: {s:?}", arm.at_us);
        }
        armed += arms.len();
    }
    assert!(armed >= 20, "{armed} truncation windows in 100 seeds");
}

#[test]
fn a_slow_link_holds_messages_and_then_delivers_them() {
    let mut s = FaultSchedule::default();
    s.push(200_000, FaultAction::SlowLinks { from: Target::Node(2), extra_us: 400_000 });
    s.push(400_000, FaultAction::SlowLinks { from: Target::Leader, extra_us: 0 });
    let events = events(&options(s));
    // Messages node 2 sent while its links were slow arrive, late; none is lost.
    let sent_slow =
        |f: &serde_json::Value| (200_000..400_000).contains(&num(f, "t_us")) && num(f, "node") == 2;
    let slow_sent = events.iter().filter(|(n, f)| n == "send" && sent_slow(f)).count();
    assert!(slow_sent > 10, "{slow_sent} sends");
    let late = events
        .iter()
        .filter(|(n, f)| n == "deliver" && num(f, "peer") == 2)
        .filter(|(_, f)| (600_000..900_000).contains(&num(f, "t_us")))
        .count();
    assert!(late * 2 > slow_sent, "{late} of {slow_sent} held messages delivered late");
    let drops = events.iter().filter(|(n, f)| n == "drop" && num(f, "node") == 2).count();
    assert_eq!(drops, 0, "held, not lost");
}

#[test]
fn figure8_windows_keep_the_other_episodes_out() {
    let mut windows = 0;
    for seed in 0..200 {
        let p = detcd_sim::swarm::profile(seed);
        if !p.figure8 {
            continue;
        }
        let s = detcd_sim::swarm::schedule(seed, 5, 5_000_000, &p);
        // Figure 8 arms the next new leader where it cuts the leader off with a
        // minority; the crash-on-truncation window arms the truncation there instead.
        let arms_new_leader = |at: u64| {
            s.faults.iter().any(|f| {
                f.at_us == at
                    && matches!(f.action, FaultAction::Arm { moment: Moment::NewLeader, .. })
            })
        };
        let starts = s.faults.iter().filter(|f| {
            matches!(f.action, FaultAction::Partition { shape: PartitionShape::LeaderMinority })
                && arms_new_leader(f.at_us)
        });
        for start in starts {
            windows += 1;
            let a = start.at_us;
            let inside: Vec<&TimedFault> = s
                .faults
                .iter()
                .filter(|f| f.at_us > a && f.at_us < a + 2_000_000)
                .filter(|f| {
                    matches!(
                        f.action,
                        FaultAction::Partition { .. }
                            | FaultAction::Heal
                            | FaultAction::Crash { .. }
                            | FaultAction::RestartAll
                    )
                })
                .collect();
            assert!(inside.is_empty(), "seed {seed}, window at {a}: {inside:?}");
        }
    }
    assert!(windows >= 20, "{windows} windows in 200 seeds");
}

#[test]
fn a_disk_that_turns_slow_stalls_the_fsyncs_in_flight() {
    let mut s = FaultSchedule::default();
    let slow = detcd_sim::LatencyDist::uniform(200_000, 200_000);
    s.push(300_000, FaultAction::DiskLatency { node: Target::Node(1), fsync: Some(slow) });
    s.push(900_000, FaultAction::DiskLatency { node: Target::Node(1), fsync: None });
    let events = events(&options(s));
    let persisted = |from: u64, to: u64| {
        events
            .iter()
            .filter(|(n, f)| n == "persisted" && num(f, "node") == 1)
            .filter(|(_, f)| (from..to).contains(&num(f, "t_us")))
            .count()
    };
    assert!(persisted(0, 300_000) > 0, "node 1 persists before its disk turns slow");
    assert_eq!(persisted(300_001, 500_000), 0, "nothing completes during the stall");
    assert!(persisted(500_000, 900_000) > 0, "then its fsyncs complete, slowly");
}
