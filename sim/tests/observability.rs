//! Every event kind reaches `tracing` as structured JSON, with plain-word names, and a
//! subscriber does not change the run. Fault schedules round-trip through TOML.

mod common;

use common::json_trace;
use detcd_sim::kv_run::{run, KvRunOptions};
use detcd_sim::nemesis::{FaultAction, FaultSchedule, PartitionShape, Target};
use detcd_sim::LatencyDist;
use std::collections::BTreeSet;

/// A run that exercises every fault kind.
fn busy_run() -> KvRunOptions {
    let mut s = FaultSchedule::default();
    s.push(
        0,
        FaultAction::Network {
            drop_rate: 0.1,
            duplicate_rate: 0.1,
            reorder_rate: 0.1,
            latency: None,
        },
    );
    s.push(100_000, FaultAction::ClockSkew { node: Target::Node(2), rate_permille: 1200 });
    s.push(200_000, FaultAction::ClockJump { node: Target::Node(3), ticks: 5 });
    s.push(300_000, FaultAction::Partition { shape: PartitionShape::IsolateLeader });
    s.push(500_000, FaultAction::Heal);
    s.push(600_000, FaultAction::Crash { node: Target::Leader });
    s.push(700_000, FaultAction::RestartAll);
    s.push(800_000, FaultAction::TransferLeader { to: Target::Node(1) });
    let mut o = KvRunOptions::new(3, 3);
    o.schedule = Some(s);
    o.request_timeout_us = 50_000;
    o
}

#[test]
fn events_are_structured_json_with_plain_names() {
    let (traced, text) = json_trace::capture(tracing::Level::TRACE, || run(&busy_run()));
    let untraced = run(&busy_run());
    assert_eq!(traced.trace_hash, untraced.trace_hash, "a subscriber does not change the run");
    assert!(traced.result.is_ok(), "{:?}", traced.result);

    let mut names = BTreeSet::new();
    let first: serde_json::Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
    assert_eq!(first["fields"]["message"], "banner", "a run starts with its banner");
    assert_eq!(first["fields"]["seed"], 3);
    for line in text.lines() {
        let v: serde_json::Value = serde_json::from_str(line).expect("one JSON object per line");
        assert_eq!(v["target"], "detcd_sim");
        let fields = &v["fields"];
        let name = fields["message"].as_str().expect("every event has a name").to_string();
        if name != "banner" {
            assert!(fields["t_us"].is_u64(), "{line}");
        }
        names.insert(name);
    }
    for expected in [
        "banner",
        "send",
        "deliver",
        "drop",
        "duplicate",
        "reorder",
        "tick",
        "role_change",
        "commit",
        "persist",
        "persisted",
        "crash",
        "restart",
        "partition",
        "heal",
        "clock_skew",
        "clock_jump",
        "network_rates",
        "transfer_leader",
        "faults_cancelled",
        "client_invoke",
        "client_complete",
        "client_timeout",
    ] {
        assert!(names.contains(expected), "no `{expected}` event; saw {names:?}");
    }
}

#[test]
fn fault_schedules_round_trip_through_toml() {
    let mut s = FaultSchedule::default();
    s.push(
        10,
        FaultAction::Partition { shape: PartitionShape::OneWay { from: vec![1], to: vec![2, 3] } },
    );
    s.push(20, FaultAction::Partition { shape: PartitionShape::IsolateLeader });
    s.push(30, FaultAction::Crash { node: Target::Random });
    s.push(40, FaultAction::Restart { node: Target::Node(2) });
    s.push(
        50,
        FaultAction::Network {
            drop_rate: 0.5,
            duplicate_rate: 0.0,
            reorder_rate: 0.25,
            latency: Some(LatencyDist::uniform(10, 20)),
        },
    );
    s.push(60, FaultAction::ClockSkew { node: Target::Leader, rate_permille: 700 });
    s.push(70, FaultAction::Heal);
    let text = toml::to_string(&s).expect("serializes");
    let back: FaultSchedule = toml::from_str(&text).expect("parses");
    assert_eq!(back, s, "{text}");
    let (_, swarm, _) = detcd_sim::swarm::generate(9, 5, 2_000_000);
    let text = toml::to_string(&swarm).expect("serializes");
    assert_eq!(toml::from_str::<FaultSchedule>(&text).unwrap(), swarm);
}
