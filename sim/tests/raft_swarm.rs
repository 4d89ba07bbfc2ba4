//! Raft clusters under swarm faults: safety checked after every event, then the
//! liveness phase must converge. Plus the negative control: a lying fsync with crashes
//! must be caught.

use detcd_sim::kv_run::{run, KvRunOptions};
use detcd_sim::SimError;

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

/// In debug builds a smaller sweep keeps `cargo test` quick; release runs all 1,000.
fn seed_count() -> u64 {
    if cfg!(debug_assertions) {
        100
    } else {
        1_000
    }
}

#[test]
fn three_nodes_survive_swarm_seeds() {
    sweep(3, 0..seed_count());
}

#[test]
fn five_nodes_survive_swarm_seeds() {
    sweep(5, 10_000..10_000 + seed_count());
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

#[test]
fn lying_fsync_with_crashes_is_caught() {
    let mut caught = None;
    for seed in 0..300 {
        let mut o = KvRunOptions::new(seed, 3);
        o.lying_fsync = true;
        o.ops = 200;
        let report = run(&o);
        if let Err(SimError::Safety(v)) = report.result {
            caught = Some((seed, v));
            break;
        }
    }
    let (seed, v) = caught.expect("a lying fsync must break safety for some seed");
    eprintln!("caught at seed {seed}: {v}");
}
