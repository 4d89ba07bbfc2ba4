//! Raft clusters under swarm faults: safety checked after every event, then the
//! liveness phase must converge. Plus the negative control: a lying fsync with crashes
//! must be caught.

use detcd_sim::kv_run::{run, KvRunOptions};
use detcd_sim::nemesis::{FaultAction, FaultSchedule, Target};
use detcd_sim::{LatencyDist, SimError};

fn sweep(nodes: u64, seeds: std::ops::Range<u64>) {
    let mut failures = Vec::new();
    for seed in seeds {
        let report = run(&KvRunOptions::new(seed, nodes));
        match &report.result {
            Ok(l) => assert!(l.applied > 0),
            Err(e) => failures.push(format!("seed {seed}: {e}\n{}", report.banner)),
        }
    }
    assert!(failures.is_empty(), "{} failing seeds:\n{}", failures.len(), failures.join("\n"));
}

/// Seeds per cluster size (about 1 s in release, under 10 s in the test profile).
const SEEDS: u64 = 1_000;

#[test]
fn three_nodes_survive_swarm_seeds() {
    sweep(3, 0..SEEDS);
}

#[test]
fn five_nodes_survive_swarm_seeds() {
    sweep(5, 10_000..10_000 + SEEDS);
}

#[test]
fn same_seed_same_raft_trace() {
    let a = run(&KvRunOptions::new(5, 5));
    let b = run(&KvRunOptions::new(5, 5));
    assert_eq!(a.trace_hash, b.trace_hash);
    assert_eq!(a.stats, b.stats);
    let c = run(&KvRunOptions::new(6, 5));
    assert_ne!(a.trace_hash, c.trace_hash);
}

/// Crashes of random nodes every 40 ms, each down for 20 ms, over the first 2 s.
fn crash_storm() -> FaultSchedule {
    let mut s = FaultSchedule::default();
    for k in 1..50u64 {
        let t = k * 40_000;
        s.push(t, FaultAction::Crash { node: Target::Random });
        s.push(t + 20_000, FaultAction::RestartAll);
    }
    s
}

fn crash_storm_run(seed: u64, lying_fsync: bool) -> KvRunOptions {
    let mut o = KvRunOptions::new(seed, 3);
    o.lying_fsync = lying_fsync;
    o.ops = 400;
    o.think_us = 0;
    o.fault_window_us = 2_000_000;
    o.schedule = Some(crash_storm());
    o.fsync = Some(LatencyDist::fixed(60_000));
    o
}

#[test]
fn lying_fsync_with_crashes_is_caught() {
    let caught = (0..50).find_map(|seed| match run(&crash_storm_run(seed, true)).result {
        Err(SimError::Safety(v)) => Some((seed, v)),
        _ => None,
    });
    let (seed, v) = caught.expect("a lying fsync must break safety for some seed");
    eprintln!("caught at seed {seed}: {v}");
}

#[test]
fn honest_fsync_survives_the_same_crash_storm() {
    for seed in 0..10 {
        let report = run(&crash_storm_run(seed, false));
        assert!(report.result.is_ok(), "seed {seed}: {:?}", report.result);
        assert!(report.stats.crashes > 20);
    }
}
