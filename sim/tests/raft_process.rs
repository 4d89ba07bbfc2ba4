//! `RaftProcess` behind the world: puts answered by the proposing node once applied,
//! linearizable gets through ReadIndex, snapshots catching up a node that was down,
//! and leader transfer as a fault.

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
