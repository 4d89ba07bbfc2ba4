//! Property test: random interleavings of deliveries, drops, duplicates, ticks,
//! proposals, persistence, compaction, crashes and restarts on 3 and 5 nodes keep the
//! Raft safety properties; once faults stop the cluster elects a leader and commits.

mod net;

use net::Net;
use proptest::prelude::*;

#[derive(Clone, Debug)]
enum Action {
    Deliver(usize),
    Drop(usize),
    Duplicate(usize),
    Tick(u64),
    TickAll,
    Propose(u64, u8),
    Persist(u64),
    /// The disk finishes only its oldest pending write.
    PersistOne(u64),
    Compact(u64),
    Crash(u64),
    Restart(u64),
    Isolate(u64),
    /// A one-way cut: messages from the first to the second are lost.
    CutOneWay(u64, u64),
    Heal,
    Campaign(u64),
    Read(u64),
    Transfer(u64, u64),
    /// A calm moment: disks catch up and the wire empties (a few rounds).
    Settle,
}

fn action(n: u64) -> impl Strategy<Value = Action> {
    prop_oneof![
        30 => any::<usize>().prop_map(Action::Deliver),
        3 => any::<usize>().prop_map(Action::Drop),
        2 => any::<usize>().prop_map(Action::Duplicate),
        6 => (1..=n).prop_map(Action::Tick),
        10 => Just(Action::TickAll),
        6 => ((1..=n), any::<u8>()).prop_map(|(id, b)| Action::Propose(id, b)),
        8 => (1..=n).prop_map(Action::Persist),
        6 => (1..=n).prop_map(Action::PersistOne),
        1 => (1..=n).prop_map(Action::Compact),
        1 => (1..=n).prop_map(Action::Crash),
        2 => (1..=n).prop_map(Action::Restart),
        1 => (1..=n).prop_map(Action::Isolate),
        1 => Just(Action::Heal),
        1 => ((1..=n), (1..=n)).prop_map(|(a, b)| Action::CutOneWay(a, b)),
        1 => (1..=n).prop_map(Action::Campaign),
        4 => Just(Action::Settle),
        3 => (1..=n).prop_map(Action::Read),
        1 => ((1..=n), (1..=n)).prop_map(|(a, b)| Action::Transfer(a, b)),
    ]
}

/// Per-run knobs: (pre_vote, check_quorum, inflight_appends_max, append_entries_max).
type Knobs = (bool, bool, usize, usize);

fn knobs() -> impl Strategy<Value = Knobs> {
    (any::<bool>(), any::<bool>(), 1..4usize, 1..4usize)
}

fn run(n: u64, knobs: Knobs, actions: Vec<Action>) {
    let (pre_vote, check_quorum, inflight, batch) = knobs;
    let configs = (1..=n)
        .map(|id| {
            let mut c = net::config(id, n);
            c.election_ticks = 4;
            c.heartbeat_ticks = 1;
            c.pre_vote = pre_vote;
            c.check_quorum = check_quorum;
            c.inflight_appends_max = inflight;
            c.append_entries_max = batch;
            c.lease_reads = std::env::var("RAFT_PROP_LEASE").is_ok();
            c
        })
        .collect();
    let mut net = Net::with_configs(configs);
    net.auto_persist = false;
    for a in actions {
        match a {
            Action::Deliver(k) => net.deliver_at(k),
            Action::Drop(k) => net.drop_at(k),
            Action::Duplicate(k) => net.duplicate_at(k),
            Action::Tick(id) => net.tick(id),
            Action::TickAll => net.tick_all(),
            Action::Propose(id, b) => {
                if net.is_up(id) {
                    let _ = net.node_mut(id).propose(bytes::Bytes::copy_from_slice(&[b]));
                    net.drain(id);
                }
            }
            Action::Persist(id) => net.persist(id),
            Action::PersistOne(id) => {
                if let Some(sync) = net.disks[&id].pending.front().map(|op| op.sync) {
                    net.persist_upto(id, sync);
                }
            }
            Action::Compact(id) => net.compact(id),
            Action::Crash(id) => net.crash(id),
            Action::Restart(id) => {
                if !net.is_up(id) {
                    net.restart(id)
                }
            }
            Action::Isolate(id) => net.isolate(id),
            Action::Heal => net.heal(),
            Action::CutOneWay(a, b) => {
                net.cut.insert((a, b));
            }
            Action::Read(id) => {
                net.read(id);
            }
            Action::Transfer(id, to) => {
                if net.is_up(id) {
                    let _ = net.node_mut(id).transfer_leader(to);
                    net.drain(id);
                }
            }
            Action::Settle => {
                for _ in 0..4 {
                    for id in net.ids() {
                        net.persist(id);
                    }
                    for _ in 0..net.wire.len() {
                        net.deliver_one();
                    }
                }
            }
            Action::Campaign(id) => {
                if net.is_up(id) {
                    net.node_mut(id).campaign();
                    net.drain(id);
                }
            }
        }
        net.check();
    }
    if std::env::var("RAFT_PROP_STATS").is_ok() {
        eprintln!(
            "fault phase: applied {} leaders {:?} wire {}",
            net.applied.len(),
            net.leaders,
            net.wire.len()
        );
    }
    // Liveness phase: faults heal, disks keep up, the cluster must make progress.
    net.heal();
    for id in net.ids() {
        if !net.is_up(id) {
            net.restart(id);
        }
    }
    net.auto_persist = true;
    for id in net.ids() {
        net.persist(id);
    }
    net.run(80);
    let leader = net.leader().expect("a leader after faults heal");
    let before = net.node(leader).status().commit;
    net.propose(leader, b"final");
    let ctx = net.read(leader).expect("leader takes reads");
    net.run(10);
    assert!(
        net.reads.iter().any(|(_, r)| matches!(r, detcd_core::raft::RaftOutput::ReadReady { ctx: c, .. } if *c == ctx)),
        "the read after healing is served"
    );
    let after = net.node(leader).status().commit;
    assert!(after > before, "the cluster commits after faults heal");
    for id in net.ids() {
        assert_eq!(net.node(id).status().commit, after, "node {id} caught up");
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    #[test]
    fn three_nodes_stay_safe(k in knobs(), actions in proptest::collection::vec(action(3), 1..600)) {
        run(3, k, actions);
    }

    #[test]
    fn five_nodes_stay_safe(k in knobs(), actions in proptest::collection::vec(action(5), 1..600)) {
        run(5, k, actions);
    }
}
