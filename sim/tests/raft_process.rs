//! `RaftProcess` behind the world: puts answered by the proposing node once applied,
//! linearizable gets through ReadIndex, snapshots catching up a node that was down,
//! and leader transfer as a fault.

mod common;

use common::faulty::{DivergesOnNode2, Faulty};
use detcd_sim::nemesis::{FaultAction, Target};
use detcd_sim::raft_process::{KvRequest, KvResponse, RaftProcess, RaftProcessConfig};
use detcd_sim::{Outcome, World, WorldOptions};

fn cluster(seed: u64, nodes: u64) -> World<RaftProcess> {
    let mut w = World::new(WorldOptions::new(seed, nodes), RaftProcessConfig::for_setup);
    w.set_transfer_hook(RaftProcess::transfer_hook);
    let settled = |w: &World<RaftProcess>| {
        let leader = w.leader();
        leader.is_some() && (1..=nodes).all(|n| w.status(n).is_some_and(|s| s.leader == leader))
    };
    assert!(w.run_until_with(2_000_000, settled).unwrap(), "everyone knows a leader within 2 s");
    w
}

fn ask(w: &mut World<RaftProcess>, node: u64, request: KvRequest) -> KvResponse {
    w.submit(1, node, request, 1_000_000);
    let deadline = w.now_us() + 2_000_000;
    assert!(w.run_until_result(deadline).unwrap(), "an answer");
    let r = w.drain_results().next().unwrap();
    match r.outcome {
        Outcome::Ok(response) => response,
        Outcome::Timeout => panic!("timed out: {r:?}"),
        Outcome::Refused => panic!("refused: {r:?}"),
    }
}

#[test]
fn puts_and_gets_through_any_node() {
    let mut w = cluster(1, 3);
    let leader = w.leader().unwrap();
    let follower = (1..=3).find(|&n| n != leader).unwrap();
    let other = (1..=3).find(|&n| n != leader && n != follower).unwrap();
    let KvResponse::Put { index } = ask(&mut w, follower, KvRequest::Put { key: 1, value: 5 })
    else {
        panic!("put refused")
    };
    assert!(index > 0);
    let got = ask(&mut w, other, KvRequest::Get { key: 1 });
    assert!(matches!(got, KvResponse::Get { value: Some(5), index: i } if i >= index), "{got:?}");
    let got = ask(&mut w, leader, KvRequest::Get { key: 2 });
    assert!(matches!(got, KvResponse::Get { value: None, .. }), "{got:?}");
}

#[test]
fn a_node_that_was_down_catches_up_from_a_snapshot() {
    let mut w = cluster(2, 3);
    let leader = w.leader().unwrap();
    let down = (1..=3).find(|&n| n != leader).unwrap();
    w.apply_fault(&FaultAction::Crash { node: Target::Node(down) });
    for v in 0..300 {
        assert!(matches!(
            ask(&mut w, leader, KvRequest::Put { key: v % 7, value: v }),
            KvResponse::Put { .. }
        ));
    }
    w.run_for(100_000).unwrap();
    let leader_snapshot = w.status(leader).unwrap().snapshot_index;
    assert!(leader_snapshot > 64, "the leader compacted: {leader_snapshot}");
    w.apply_fault(&FaultAction::Restart { node: Target::Node(down) });
    let caught_up = w
        .run_until_with(w.now_us() + 2_000_000, |w| {
            w.status(down).map(|s| s.applied) == w.status(leader).map(|s| s.applied)
        })
        .unwrap();
    assert!(caught_up);
    let p = w.process(down).unwrap();
    assert!(p.raft().status().snapshot_index > 0, "installed a snapshot");
    for k in 0..7 {
        assert_eq!(p.value(k), w.process(leader).unwrap().value(k));
    }
    assert_eq!(w.violation(), None);
}

#[test]
fn leader_transfer_fault_moves_leadership() {
    let mut w = cluster(3, 5);
    let old = w.leader().unwrap();
    let to = if old == 5 { 4 } else { 5 };
    w.apply_fault(&FaultAction::TransferLeader { to: Target::Node(to) });
    let moved = w.run_until_with(w.now_us() + 1_000_000, |w| w.leader() == Some(to)).unwrap();
    assert!(moved, "leader is {:?}", w.leader());
}

/// A replica whose state machine goes wrong on node 2 after index 5: the world's state
/// machine safety check must notice in a real run.
type Diverging = Faulty<DivergesOnNode2>;

#[test]
fn a_diverging_state_machine_is_caught() {
    use detcd_sim::{SimError, ViolationKind};
    let mut w: World<Diverging> = World::new(WorldOptions::new(4, 3), RaftProcessConfig::for_setup);
    let mut caught = None;
    for v in 0..20 {
        w.submit(1, 1 + v % 3, KvRequest::Put { key: 1, value: v }, 500_000);
        if let Err(e) = w.run_for(100_000) {
            caught = Some(e);
            break;
        }
    }
    match caught {
        Some(SimError::Safety(v)) => {
            assert!(matches!(v.kind, ViolationKind::StateDiverged { .. }), "{v}");
        }
        other => panic!("expected a state divergence, got {other:?}"),
    }
}

#[test]
fn a_world_that_keeps_going_runs_past_a_violation_and_keeps_the_first() {
    use detcd_sim::ViolationKind;
    let mut w: World<Diverging> = World::new(WorldOptions::new(4, 3), RaftProcessConfig::for_setup);
    w.set_keep_going(true);
    for v in 0..20 {
        w.submit(1, 1 + v % 3, KvRequest::Put { key: 1, value: v }, 500_000);
        w.run_for(100_000).expect("a world that keeps going does not stop at a violation");
    }
    let first = w.violation().expect("the divergence is still recorded").clone();
    assert!(matches!(first.kind, ViolationKind::StateDiverged { .. }), "{first}");
    assert!(w.now_us() >= 2_000_000, "the run went on to its end");
    assert!(w.later_violations() > 0, "node 2 keeps diverging at every new index");
    assert!(first.to_string().contains("differs from another member's"), "plain words: {first}");
}

#[test]
fn damaged_durable_state_is_refused_not_a_panic() {
    use detcd_core::process::{Process, RestoreError};
    use detcd_core::types::{
        ConfState, DurableState, Entry, EntryKind, HardState, Snapshot, SnapshotMeta,
    };
    let config = || RaftProcessConfig {
        raft: detcd_core::raft::Config::new(1, vec![1], 1),
        compact_every_entries: 64,
        record_outputs: false,
    };
    let meta = SnapshotMeta { index: 3, term: 1, conf: ConfState::with_voters([1]) };
    let mut d = DurableState {
        hard_state: HardState { term: 1, vote: Some(1), commit: 3 },
        snapshot: Some(Snapshot { meta, data: bytes::Bytes::from_static(b"short").into() }),
        entries: Vec::new(),
    };
    let err = RaftProcess::restore(config(), d.clone()).err().expect("refused");
    assert!(matches!(err, RestoreError::SnapshotImage { index: 3, .. }), "{err}");
    d.snapshot = None;
    d.entries = (1..=3)
        .map(|index| Entry { term: 1, index, kind: EntryKind::Normal, data: vec![0; 32].into() })
        .collect();
    assert!(RaftProcess::restore(config(), d.clone()).is_ok());
    d.entries[1].data = bytes::Bytes::from_static(b"garbage");
    let err = RaftProcess::restore(config(), d).err().expect("refused");
    assert!(matches!(err, RestoreError::EntryPayload { index: 2, .. }), "{err}");
}

/// A request scheduled ahead reaches the node only when its time comes: if the node
/// crashed and restarted meanwhile, the answer is the new incarnation's, and says so.
#[test]
fn an_answer_names_the_incarnation_that_gave_it() {
    let mut w = cluster(3, 3);
    let leader = w.leader().unwrap();
    let node = (1..=3).find(|&n| n != leader).unwrap();
    let before = w.incarnation(node);
    w.submit_at(w.now_us() + 300_000, 1, node, KvRequest::Get { key: 1 }, 1_000_000);
    w.apply_fault(&FaultAction::Crash { node: Target::Node(node) });
    w.run_for(100_000).unwrap();
    w.apply_fault(&FaultAction::Restart { node: Target::Node(node) });
    let deadline = w.now_us() + 2_000_000;
    assert!(w.run_until_result(deadline).unwrap(), "an answer");
    let r = w.drain_results().next().unwrap();
    assert!(matches!(r.outcome, Outcome::Ok(_)), "{r:?}");
    assert!(before < w.incarnation(node), "restarted");
    assert_eq!(r.incarnation, w.incarnation(node), "answered by the running incarnation");
}
