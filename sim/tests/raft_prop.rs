//! Property test: random interleavings of deliveries, drops, duplicates, ticks,
//! proposals, persistence, compaction, crashes and restarts on 3 and 5 nodes of the
//! step cluster keep the Raft safety properties (its checker runs after every step),
//! reads stay linearizable, and once faults stop the cluster elects a leader and
//! commits.

use detcd_core::types::{Index, NodeId, RequestId};
use detcd_sim::raft_process::{KvRequest, KvResponse, RaftProcess, RaftProcessConfig};
use detcd_sim::world::NodeSetup;
use detcd_sim::StepCluster;
use proptest::prelude::*;
use std::collections::BTreeMap;

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
    Crash(u64),
    Restart(u64),
    Isolate(u64),
    /// A one-way cut: messages from the first to the second are lost.
    CutOneWay(u64, u64),
    Heal,
    Campaign(u64),
    /// The first's host lost its link to the second (a broken stream): if that one
    /// leads it, it stops waiting for it.
    LeaderUnreachable(u64, u64),
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
        1 => (1..=n).prop_map(Action::Crash),
        2 => (1..=n).prop_map(Action::Restart),
        1 => (1..=n).prop_map(Action::Isolate),
        1 => Just(Action::Heal),
        1 => ((1..=n), (1..=n)).prop_map(|(a, b)| Action::CutOneWay(a, b)),
        1 => (1..=n).prop_map(Action::Campaign),
        1 => ((1..=n), (1..=n)).prop_map(|(a, b)| Action::LeaderUnreachable(a, b)),
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

/// Linearizable reads: each read's index must cover every write committed anywhere
/// before it was asked.
#[derive(Default)]
struct Reads {
    /// Request -> the highest commit index any node knew when it was asked.
    bounds: BTreeMap<RequestId, Index>,
    /// Responses already checked.
    seen: usize,
}

impl Reads {
    fn ask(&mut self, c: &mut StepCluster<RaftProcess>, n: u64, id: NodeId) -> RequestId {
        let committed = (1..=n).filter_map(|i| c.status(i)).map(|s| s.commit).max();
        let rid = c.submit(id, KvRequest::Get { key: 0 });
        self.bounds.insert(rid, committed.unwrap_or(0));
        rid
    }

    fn check(&mut self, c: &StepCluster<RaftProcess>) {
        for (node, rid, r) in &c.responses()[self.seen..] {
            if let (KvResponse::Get { index, .. }, Some(bound)) = (r, self.bounds.get(rid)) {
                assert!(
                    index >= bound,
                    "stale read: n{node} served request {rid} at {index} but {bound} was committed before"
                );
            }
        }
        self.seen = c.responses().len();
    }
}

fn run(n: u64, knobs: Knobs, actions: Vec<Action>) {
    let (pre_vote, check_quorum, inflight, batch) = knobs;
    let lease_reads = std::env::var("RAFT_PROP_LEASE").is_ok();
    let mut c: StepCluster<RaftProcess> = StepCluster::new(n, move |setup: &NodeSetup| {
        let mut config = RaftProcessConfig::for_setup(setup);
        config.raft.election_ticks = 4;
        config.raft.heartbeat_ticks = 1;
        config.raft.pre_vote = pre_vote;
        config.raft.check_quorum = check_quorum;
        config.raft.inflight_appends_max = inflight;
        config.raft.append_entries_max = batch;
        config.raft.lease_reads = lease_reads;
        // Compaction happens on its own, often, so snapshots get sent and installed.
        config.compact_every_entries = 4;
        config
    });
    let mut reads = Reads::default();
    for a in actions {
        let len = c.in_flight().len().max(1);
        match a {
            Action::Deliver(k) => drop(c.deliver(k % len)),
            Action::Drop(k) => drop(c.drop_message(k % len)),
            Action::Duplicate(k) => drop(c.duplicate(k % len)),
            Action::Tick(id) => drop(c.tick(id)),
            Action::TickAll => drop(c.tick_all()),
            Action::Propose(id, b) => {
                if c.is_up(id) {
                    c.request(id, KvRequest::Put { key: u64::from(b) % 4, value: u64::from(b) });
                }
            }
            Action::Persist(id) => drop(c.persist(id, None)),
            Action::PersistOne(id) => {
                if let Some(sync) = c.oldest_pending(id) {
                    c.persist(id, Some(sync));
                }
            }
            Action::Crash(id) => drop(c.crash(id)),
            Action::Restart(id) => drop(c.restart(id)),
            Action::Isolate(id) => c.isolate(id),
            Action::Heal => c.heal(),
            Action::CutOneWay(a, b) => c.cut_one_way(a, b),
            Action::Read(id) => {
                if c.is_up(id) {
                    reads.ask(&mut c, n, id);
                }
            }
            Action::Transfer(id, to) => {
                if c.is_up(id) {
                    c.with(id, |p| RaftProcess::transfer_hook(p, to));
                }
            }
            Action::Settle => {
                for _ in 0..4 {
                    for id in 1..=n {
                        c.persist(id, None);
                    }
                    for _ in 0..c.in_flight().len() {
                        c.deliver(0);
                    }
                }
            }
            Action::Campaign(id) => {
                if c.is_up(id) {
                    c.with(id, |p| p.raft_mut().campaign());
                }
            }
            Action::LeaderUnreachable(id, peer) => {
                if c.is_up(id) {
                    c.with(id, |p| p.raft_mut().leader_unreachable(peer));
                }
            }
        }
        reads.check(&c);
    }
    // Liveness phase: faults heal, disks keep up, the cluster must make progress.
    c.heal();
    for id in 1..=n {
        c.restart(id);
    }
    c.set_auto_persist(true);
    for id in 1..=n {
        c.persist(id, None);
    }
    c.run(80);
    let leader = c.leader().expect("a leader after faults heal");
    let before = c.status(leader).expect("up").commit;
    c.request(leader, KvRequest::Put { key: 9, value: 9 });
    let rid = reads.ask(&mut c, n, leader);
    c.run(10);
    reads.check(&c);
    assert!(
        matches!(c.response(rid), Some(KvResponse::Get { .. })),
        "the read after healing is served: {:?}",
        c.response(rid)
    );
    let after = c.status(leader).expect("up").commit;
    assert!(after > before, "the cluster commits after faults heal");
    for id in 1..=n {
        assert_eq!(c.status(id).expect("up").commit, after, "node {id} caught up");
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

/// A case proptest once shrank to (a read on an isolated node after elections), kept
/// as a plain test since the strategy's encoding has changed since.
#[test]
fn read_on_an_isolated_node_after_elections() {
    use Action::*;
    let actions = vec![
        TickAll,
        Tick(2),
        Tick(2),
        TickAll,
        TickAll,
        Settle,
        Isolate(2),
        TickAll,
        TickAll,
        TickAll,
        TickAll,
        Settle,
        Settle,
        Read(2),
    ];
    for knobs in [(false, false, 1, 1), (true, true, 3, 3)] {
        run(3, knobs, actions.clone());
    }
}
