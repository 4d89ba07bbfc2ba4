//! Each fault kind, shown happening from the receiving side, with the test-only
//! `Pinger` process (see `common/pinger.rs`).

mod common;

use common::pinger::{Pinger, PingerConfig};
use detcd_sim::nemesis::{FaultAction, PartitionShape, Target};
use detcd_sim::{LatencyDist, Outcome, World, WorldOptions};

fn options(seed: u64, nodes: u64) -> WorldOptions {
    let mut o = WorldOptions::new(seed, nodes);
    o.check_raft_safety = false;
    o.network.latency = LatencyDist::uniform(500, 1_500);
    o.disk.fsync = LatencyDist::fixed(5_000);
    o.disk.torn_writes = false;
    o
}

fn world(o: WorldOptions) -> World<Pinger> {
    World::new(o, PingerConfig::from_setup)
}

fn pinger(w: &World<Pinger>, id: u64) -> &Pinger {
    w.process(id).expect("node runs")
}

#[test]
fn sends_wait_for_their_persist() {
    let mut o = options(1, 2);
    o.disk.fsync = LatencyDist::fixed(50_000);
    o.network.latency = LatencyDist::fixed(1_000);
    let mut w = world(o);
    w.run_until(45_000).unwrap();
    assert!(pinger(&w, 1).ticks > 0, "ticks happened");
    assert!(pinger(&w, 2).received.is_empty(), "nothing may leave before its fsync");
    w.run_until(100_000).unwrap();
    assert!(!pinger(&w, 2).received.is_empty(), "released after the fsync");
}

#[test]
fn crash_loses_unsynced_writes_and_restart_sees_only_durable_state() {
    let mut o = options(2, 3);
    o.disk.fsync = LatencyDist::fixed(25_000);
    let mut w = world(o);
    w.run_until(500_000).unwrap();
    let before = pinger(&w, 2);
    let acked = before.durable_index;
    let written = before.log.len() as u64;
    assert!(written > acked, "some writes are still volatile: {written} vs {acked}");
    let durable = w.durable(2).unwrap().last_index();
    assert!(durable >= acked, "everything acknowledged is durable");
    assert!(durable < written);

    w.apply_fault(&FaultAction::Crash { node: Target::Node(2) });
    assert!(w.process(2).is_none());
    assert_eq!(
        w.durable(2).unwrap().last_index(),
        durable,
        "no tearing: nothing unsynced survives"
    );
    w.run_until(600_000).unwrap();
    w.apply_fault(&FaultAction::Restart { node: Target::Node(2) });
    let after = pinger(&w, 2);
    assert_eq!(after.restored_len as u64, durable);
    assert_eq!(after.log.len() as u64, durable);
    assert!(after.log.iter().enumerate().all(|(i, e)| e.index == i as u64 + 1));
    w.run_until(1_000_000).unwrap();
    assert!(pinger(&w, 2).durable_index > durable, "the restarted node makes progress");
}

#[test]
fn torn_writes_leave_a_prefix_of_what_was_written() {
    let mut torn = 0;
    for seed in 0..20 {
        let mut o = options(seed, 1);
        o.disk.fsync = LatencyDist::fixed(100_000);
        o.disk.torn_writes = true;
        let mut w = world(o);
        w.run_until(300_000).unwrap();
        let written = pinger(&w, 1).log.clone();
        let acked = pinger(&w, 1).durable_index;
        w.apply_fault(&FaultAction::Crash { node: Target::Node(1) });
        let durable = &w.durable(1).unwrap().entries;
        assert!(durable.len() as u64 >= acked);
        assert_eq!(durable[..], written[..durable.len()], "a prefix of what was written");
        torn += usize::from(durable.len() as u64 > acked);
    }
    assert!(torn > 0, "some crash kept unsynced data");
}

#[test]
fn requests_to_a_crashed_node_are_refused_or_reset_and_answers_carry_times() {
    let mut w = world(options(3, 3));
    w.run_until(100_000).unwrap();
    let ok = w.submit(7, 1, 42, 200_000);
    let open = w.submit(9, 2, 44, 200_000);
    w.run_until(100_000).unwrap();
    // Node 2 crashes with request `open` in hand: its client sees the connection reset.
    w.apply_fault(&FaultAction::Crash { node: Target::Node(2) });
    w.apply_fault(&FaultAction::Crash { node: Target::Node(3) });
    // Node 3 is down when `refused` arrives: the connection is refused.
    let refused = w.submit(8, 3, 43, 200_000);
    w.run_until(400_000).unwrap();
    let results: Vec<_> = w.drain_results().collect();
    assert_eq!(results.len(), 3);
    let r_ok = results.iter().find(|r| r.id == ok).unwrap();
    assert!(matches!(r_ok.outcome, Outcome::Ok(_)));
    assert_eq!(r_ok.invoke_us, 100_000);
    assert!(r_ok.complete_us >= 105_000, "answered after the fsync");
    let r_open = results.iter().find(|r| r.id == open).unwrap();
    assert_eq!(r_open.outcome, Outcome::Timeout, "outcome unknown");
    assert_eq!(r_open.complete_us, 100_000, "at the crash, not at the deadline");
    let r_refused = results.iter().find(|r| r.id == refused).unwrap();
    assert_eq!(r_refused.outcome, Outcome::Refused);
    assert_eq!(r_refused.complete_us, 100_000);
    assert_eq!(r_refused.client, 8);
}

#[test]
fn one_way_partition_lets_messages_flow_one_way_only() {
    let mut w = world(options(4, 3));
    w.run_until(200_000).unwrap();
    let shape = PartitionShape::OneWay { from: vec![1], to: vec![2] };
    w.apply_fault(&FaultAction::Partition { shape });
    let at_2_from_1 = pinger(&w, 2).heard_from(1).len();
    let at_1_from_2 = pinger(&w, 1).heard_from(2).len();
    let at_3_from_1 = pinger(&w, 3).heard_from(1).len();
    w.run_until(1_000_000).unwrap();
    assert_eq!(pinger(&w, 2).heard_from(1).len(), at_2_from_1, "1 -> 2 is cut, in flight too");
    assert!(pinger(&w, 1).heard_from(2).len() > at_1_from_2 + 50, "2 -> 1 still flows");
    assert!(pinger(&w, 3).heard_from(1).len() > at_3_from_1 + 50, "1 -> 3 still flows");
    w.apply_fault(&FaultAction::Heal);
    w.run_until(1_200_000).unwrap();
    assert!(pinger(&w, 2).heard_from(1).len() > at_2_from_1, "healed");
}

#[test]
fn named_partition_shapes_cut_as_named() {
    let mut w = world(options(5, 5));
    w.run_until(100_000).unwrap();
    w.apply_fault(&FaultAction::Partition {
        shape: PartitionShape::Isolate { node: Target::Node(4) },
    });
    let counts = |w: &World<Pinger>| -> Vec<usize> {
        (1..=5).map(|n| pinger(w, n).received.len()).collect()
    };
    let before = counts(&w);
    w.run_until(600_000).unwrap();
    let after = counts(&w);
    assert_eq!(after[3], before[3], "the isolated node hears nobody");
    for n in [0, 1, 2, 4] {
        assert!(pinger(&w, n as u64 + 1).heard_from(4).len() <= before[n], "nobody hears node 4");
        assert!(after[n] > before[n]);
    }
    w.apply_fault(&FaultAction::Partition { shape: PartitionShape::Ring });
    let sent_before: Vec<u64> = (1..=5).map(|n| pinger(&w, n).seq).collect();
    w.run_until(1_100_000).unwrap();
    for n in 1..=5u64 {
        let heard: Vec<u64> = (1..=5u64)
            .filter(|&p| p != n)
            .filter(|&p| {
                pinger(&w, n).heard_from(p).iter().any(|&s| s > sent_before[p as usize - 1])
            })
            .collect();
        assert_eq!(
            heard.len(),
            2,
            "in a ring node {n} hears exactly its two neighbours: {heard:?}"
        );
    }
}

#[test]
fn skewed_clocks_drift_against_true_time_and_jumps_burst() {
    let mut w = world(options(6, 3));
    w.apply_fault(&FaultAction::ClockSkew { node: Target::Node(2), rate_permille: 700 });
    w.apply_fault(&FaultAction::ClockSkew { node: Target::Node(3), rate_permille: 1300 });
    w.run_until(10_000_000).unwrap();
    let (t1, t2, t3) = (w.ticks(1), w.ticks(2), w.ticks(3));
    assert!((999..=1001).contains(&t1), "true clock: {t1}");
    assert!((699..=701).contains(&t2), "slow clock: {t2}");
    assert!((1299..=1301).contains(&t3), "fast clock: {t3}");
    w.apply_fault(&FaultAction::ClockJump { node: Target::Node(1), ticks: 50 });
    assert_eq!(w.ticks(1), t1 + 50, "a jump delivers its ticks at once");
    w.apply_fault(&FaultAction::ClockReset);
    w.run_until(11_000_000).unwrap();
    assert!((99..=101).contains(&(w.ticks(2) - t2)), "reset to true rate");
}

/// Whether a peer's heartbeats arrived out of order or more than once.
fn disorder(p: &Pinger, from: u64) -> (usize, usize) {
    let seqs = p.heard_from(from);
    let reordered = seqs.windows(2).filter(|w| w[1] < w[0]).count();
    let mut sorted = seqs.clone();
    sorted.sort_unstable();
    let dups = sorted.windows(2).filter(|w| w[0] == w[1]).count();
    (reordered, dups)
}

#[test]
fn duplicates_and_reorders_reach_the_process() {
    let mut calm = options(7, 2);
    calm.network.latency = LatencyDist::fixed(1_000);
    let mut w = world(calm.clone());
    w.run_until(2_000_000).unwrap();
    assert_eq!(disorder(pinger(&w, 2), 1), (0, 0), "a calm fixed-latency network keeps order");

    let mut w = world(calm);
    let rates = FaultAction::Network {
        drop_rate: 0.0,
        duplicate_rate: 0.2,
        reorder_rate: 0.2,
        latency: None,
    };
    w.apply_fault(&rates);
    w.run_until(2_000_000).unwrap();
    let (reordered, dups) = disorder(pinger(&w, 2), 1);
    assert!(reordered > 5, "reordered {reordered}");
    assert!(dups > 5, "duplicated {dups}");
    assert!(w.stats().duplicated as usize >= dups);
}

#[test]
fn drops_lose_messages() {
    let mut w = world(options(8, 2));
    w.apply_fault(&FaultAction::Network {
        drop_rate: 0.5,
        duplicate_rate: 0.0,
        reorder_rate: 0.0,
        latency: None,
    });
    w.run_until(2_000_000).unwrap();
    let got = pinger(&w, 2).heard_from(1).len();
    let sent = pinger(&w, 1).seq as usize;
    assert!(got * 10 > sent * 3 && got * 10 < sent * 7, "about half of {sent} arrive: {got}");
}

#[test]
fn lying_fsync_loses_acknowledged_writes_on_crash() {
    let mut o = options(9, 1);
    o.disk.lying_fsync = true;
    o.disk.fsync = LatencyDist::fixed(100_000);
    let mut w = world(o);
    w.run_until(200_000).unwrap();
    let acked = pinger(&w, 1).durable_index;
    w.apply_fault(&FaultAction::Crash { node: Target::Node(1) });
    let durable = w.durable(1).unwrap().last_index();
    assert!(durable < acked, "acknowledged {acked}, durable only {durable}");
}

#[test]
fn a_workload_can_wait_for_any_condition() {
    let mut w = world(options(10, 3));
    let reached = w.run_until_with(5_000_000, |w| w.ticks(2) >= 42).unwrap();
    assert!(reached);
    assert_eq!(w.ticks(2), 42, "stops at the first event where the condition holds");
    let never = w.run_until_with(w.now_us() + 100_000, |_| false).unwrap();
    assert!(!never);
}

#[test]
fn healing_cancels_faults_still_scheduled() {
    let mut w = world(options(11, 3));
    let mut s = detcd_sim::FaultSchedule::default();
    s.push(500_000, FaultAction::Crash { node: Target::Node(1) });
    w.schedule(&s);
    w.run_until(100_000).unwrap();
    w.heal_all();
    w.run_until(1_000_000).unwrap();
    assert!(w.process(1).is_some(), "the crash was cancelled");
    assert_eq!(w.stats().crashes, 0);
}

#[test]
fn healing_ends_a_delay_spike() {
    let mut w = world(options(12, 2));
    let spike = LatencyDist::fixed(2_000_000);
    let action = FaultAction::Network {
        drop_rate: 0.0,
        duplicate_rate: 0.0,
        reorder_rate: 0.0,
        latency: Some(spike),
    };
    w.apply_fault(&action);
    w.run_until(500_000).unwrap();
    assert!(pinger(&w, 2).received.is_empty(), "everything is still in flight");
    w.heal_all();
    let sent_at_heal = pinger(&w, 1).seq;
    w.run_until(700_000).unwrap();
    assert!(
        pinger(&w, 2).heard_from(1).iter().any(|&s| s > sent_at_heal),
        "fast again after healing"
    );
}
