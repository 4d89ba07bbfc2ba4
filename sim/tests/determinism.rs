//! A run is a pure function of (build, seed, options): the same seed twice gives the
//! same trace hash; different seeds give different ones.

mod common;

use common::pinger::{Pinger, PingerConfig};
use detcd_sim::{swarm, World};

/// A swarm run of the test-only process with some client traffic; its trace hash.
fn run(seed: u64) -> (u64, u64) {
    let (mut options, schedule, profile) = swarm::generate(seed, 5, 2_000_000);
    options.check_raft_safety = false;
    let mut w: World<Pinger> = World::new_swarm(options, profile, PingerConfig::from_setup);
    w.schedule(&schedule);
    for k in 0..50u64 {
        w.submit_at(k * 40_000, k % 3, 1 + k % 5, k, 100_000);
    }
    w.run_until(2_500_000).unwrap();
    assert_eq!(w.drain_results().count(), 50, "every request answers or times out");
    (w.trace_hash(), w.stats().events)
}

#[test]
fn same_seed_same_trace() {
    for seed in [0, 1, 42, 0xdead_beef] {
        let (a, events) = run(seed);
        let (b, _) = run(seed);
        assert_eq!(a, b, "seed {seed}");
        assert!(events > 1_000, "the run did something: {events} events");
    }
}

#[test]
fn different_seeds_different_traces() {
    let hashes: std::collections::BTreeSet<u64> = (100..120).map(|s| run(s).0).collect();
    assert_eq!(hashes.len(), 20);
}

#[test]
fn the_banner_names_the_seed_and_every_option() {
    let (options, schedule, profile) = swarm::generate(77, 3, 1_000_000);
    let mut w: World<Pinger> =
        World::new_swarm(options.clone(), profile.clone(), PingerConfig::from_setup);
    w.schedule(&schedule);
    let text = w.announce().to_string();
    assert!(text.contains("seed=77"), "{text}");
    assert!(text.contains(&options.network.to_string()), "{text}");
    assert!(text.contains(&profile.to_string()), "{text}");
    assert!(!text.contains("Options {") && !text.contains("Profile {"), "no Rust names: {text}");
    assert_eq!(w.banner().faults_scheduled, schedule.faults.len());
}
