//! Whole-cluster Raft behaviour on the step cluster: elections, replication,
//! partitions, lost messages and restarts. The cluster's safety checker checks the
//! Figure 3 properties after every step; these tests check liveness and the outcomes.

mod common;

use common::faulty::{Faulty, ForgetsVote};
use detcd_core::raft::Role;
use detcd_core::types::NodeId;
use detcd_sim::raft_process::{KvRequest, KvResponse, RaftProcess, RaftProcessConfig};
use detcd_sim::world::NodeSetup;
use detcd_sim::StepCluster;

type Cluster = StepCluster<RaftProcess>;

/// A cluster of `n` whose persists complete at once, as most of these stories want.
fn cluster(n: u64) -> Cluster {
    cluster_with(n, |_| {})
}

fn cluster_with(n: u64, tune: impl Fn(&mut RaftProcessConfig) + 'static) -> Cluster {
    let mut c = StepCluster::new(n, move |setup: &NodeSetup| {
        let mut config = RaftProcessConfig::for_setup(setup);
        tune(&mut config);
        config
    });
    c.set_auto_persist(true);
    c
}

fn campaign(c: &mut Cluster, id: NodeId) {
    c.with(id, |p| p.raft_mut().campaign());
    c.deliver_all();
}

fn put(c: &mut Cluster, id: NodeId, key: u64, value: u64) {
    c.request(id, KvRequest::Put { key, value });
}

fn status(c: &Cluster, id: NodeId) -> detcd_core::raft::Status {
    c.status(id).unwrap_or_else(|| panic!("n{id} is down"))
}

fn value(c: &Cluster, id: NodeId, key: u64) -> Option<u64> {
    c.process(id).unwrap_or_else(|| panic!("n{id} is down")).value(key)
}

#[test]
fn three_nodes_elect_and_replicate() {
    let mut c = cluster(3);
    campaign(&mut c, 1);
    assert_eq!(c.leader(), Some(1));
    for i in 0..20 {
        put(&mut c, 1, i, i + 100);
    }
    c.deliver_all();
    c.run(3);
    for id in 1..=3 {
        let s = status(&c, id);
        assert_eq!(s.commit, 21, "node {id}");
        assert_eq!(s.applied, 21, "node {id}");
        assert_eq!(value(&c, id, 19), Some(119), "node {id}");
    }
}

#[test]
fn elections_happen_on_timeout() {
    let mut c = cluster(5);
    c.run(40);
    let leader = c.leader().expect("a leader");
    assert_eq!(status(&c, leader).role, Role::Leader);
}

#[test]
fn leader_isolated_new_leader_elected_and_old_catches_up() {
    let mut c = cluster(3);
    campaign(&mut c, 1);
    put(&mut c, 1, 1, 1);
    c.deliver_all();
    c.isolate(1);
    put(&mut c, 1, 2, 666);
    c.run(60);
    let l2 = c.leader().expect("leader");
    assert_ne!(l2, 1);
    put(&mut c, l2, 3, 3);
    c.run(5);
    c.heal();
    c.run(30);
    let l = c.leader().expect("leader");
    let commit = status(&c, l).commit;
    for id in 1..=3 {
        assert_eq!(status(&c, id).commit, commit, "node {id}");
        assert_eq!(value(&c, id, 2), None, "node {id} applied the lost put");
        assert_eq!(value(&c, id, 3), Some(3), "node {id}");
    }
}

#[test]
fn restart_from_durable_state() {
    let mut c = cluster(3);
    campaign(&mut c, 1);
    for i in 0..5 {
        put(&mut c, 1, i, i);
    }
    c.deliver_all();
    c.run(2);
    for id in 1..=3 {
        c.crash(id);
    }
    for id in 1..=3 {
        c.restart(id);
    }
    c.run(60);
    let l = c.leader().expect("leader");
    assert!(status(&c, l).commit >= 6);
    for id in 1..=3 {
        assert!(status(&c, id).applied >= 6, "node {id} re-applied");
        assert_eq!(value(&c, id, 4), Some(4), "node {id}");
    }
}

/// Lease reads trust the leader's own clock. Here the old leader's clock stands still
/// while the others' run: they elect a new leader and commit a write, and the old
/// leader still serves a read from its lease that misses that write. This documents
/// that `lease_reads` is unsafe under clock skew; ReadIndex (below) is not.
/// Returns the cluster and the answer the old leader gave to a read of key 1, if any.
fn skewed_partition(lease_reads: bool) -> (Cluster, Option<KvResponse>) {
    let mut c = cluster_with(3, move |config| config.raft.lease_reads = lease_reads);
    campaign(&mut c, 1);
    put(&mut c, 1, 1, 1);
    c.deliver_all();
    c.run(2);
    c.isolate(1);
    for _ in 0..40 {
        c.tick(2);
        c.tick(3);
        c.deliver_all();
    }
    let new_leader = [2, 3].into_iter().find(|&id| status(&c, id).role == Role::Leader);
    let new_leader = new_leader.expect("the majority elected a leader");
    put(&mut c, new_leader, 1, 2);
    for _ in 0..4 {
        c.tick(2);
        c.tick(3);
        c.deliver_all();
    }
    assert_eq!(value(&c, new_leader, 1), Some(2), "the new leader applied the write");
    assert_eq!(status(&c, 1).role, Role::Leader, "old leader's clock stood still");
    let rid = c.submit(1, KvRequest::Get { key: 1 });
    c.deliver_all();
    let answer = c.response(rid).cloned();
    (c, answer)
}

#[test]
fn lease_reads_are_stale_under_clock_skew() {
    let (_, answer) = skewed_partition(true);
    match answer {
        Some(KvResponse::Get { value, .. }) => {
            assert_eq!(value, Some(1), "the lease read misses the newer write")
        }
        other => panic!("the lease read is served at once, got {other:?}"),
    }
}

#[test]
fn read_index_is_not_served_by_a_deposed_leader() {
    let (_, answer) = skewed_partition(false);
    assert!(
        !matches!(answer, Some(KvResponse::Get { .. })),
        "a leader that cannot reach a quorum serves no read: {answer:?}"
    );
}

#[test]
fn single_node_cluster_commits_alone() {
    let mut c = cluster(1);
    campaign(&mut c, 1);
    assert_eq!(c.leader(), Some(1));
    put(&mut c, 1, 7, 70);
    c.deliver_all();
    assert_eq!(status(&c, 1).commit, 2);
    let rid = c.submit(1, KvRequest::Get { key: 7 });
    assert_eq!(c.response(rid), Some(&KvResponse::Get { index: 2, value: Some(70) }));
}

#[test]
fn lagging_follower_catches_up_from_snapshot() {
    let mut c = cluster_with(3, |config| config.compact_every_entries = 8);
    campaign(&mut c, 1);
    c.crash(3);
    for i in 0..30 {
        put(&mut c, 1, i, i);
        c.deliver_all();
    }
    c.run(2);
    assert!(status(&c, 1).snapshot_index >= 24, "the leader compacted");
    c.restart(3);
    c.run(20);
    let (s1, s3) = (status(&c, 1), status(&c, 3));
    assert!(s3.snapshot_index >= 24, "n3 installed a snapshot: {s3:?}");
    assert_eq!(s3.commit, s1.commit);
    put(&mut c, 1, 99, 99);
    c.run(3);
    assert_eq!(status(&c, 3).applied, status(&c, 1).applied);
    assert_eq!(value(&c, 3, 0), Some(0), "the snapshot carried the early writes");
    assert_eq!(value(&c, 3, 99), Some(99));
}

#[test]
fn leader_transfer_hands_over_in_a_cluster() {
    let mut c = cluster(5);
    campaign(&mut c, 1);
    put(&mut c, 1, 1, 1);
    c.deliver_all();
    let (ok, _) = c.with(1, |p| RaftProcess::transfer_hook(p, 4));
    assert!(ok, "transfer accepted");
    c.deliver_all();
    assert_eq!(c.leader(), Some(4));
    put(&mut c, 4, 2, 2);
    c.run(3);
    for id in 1..=5 {
        assert_eq!(status(&c, id).leader, Some(4), "node {id}");
        assert_eq!(value(&c, id, 2), Some(2), "node {id}");
    }
}

#[test]
fn lost_messages_are_repaired_by_heartbeats() {
    let mut c = cluster(3);
    campaign(&mut c, 1);
    for round in 0..20 {
        put(&mut c, 1, round, round);
        // Lose every message to node 3 in two rounds of three.
        c.retain_in_flight(|m| m.to != 3 || round % 3 == 0);
        c.deliver_all();
        c.run(1);
    }
    c.run(10);
    assert_eq!(status(&c, 3).commit, status(&c, 1).commit);
    assert_eq!(status(&c, 1).commit, 21);
}

#[test]
fn crash_loses_unacknowledged_writes_only() {
    let mut c = cluster(3);
    campaign(&mut c, 1);
    c.set_auto_persist(false);
    put(&mut c, 1, 1, 1);
    // Node 2 receives the append but its disk never confirms it.
    c.deliver_all();
    c.crash(2);
    c.restart(2);
    c.set_auto_persist(true);
    for id in 1..=3 {
        c.persist(id, None);
    }
    c.run(20);
    let l = c.leader().expect("leader");
    assert_eq!(status(&c, l).commit, status(&c, 2).commit);
    assert_eq!(value(&c, 2, 1), Some(1));
}

/// §5.2 with crashes: a candidate that counted its own vote before making it durable
/// could win, crash, forget the vote, and vote for a rival in the same term, giving
/// the term two leaders (the cluster's checker would panic). The node counts its own
/// vote only once it is durable.
#[test]
fn s5_2_own_vote_must_be_durable_before_it_counts() {
    let mut c = cluster_with(3, |config| config.raft.pre_vote = false);
    c.set_auto_persist(false);
    c.with(1, |p| p.raft_mut().campaign());
    c.retain_in_flight(|m| m.to == 2);
    c.deliver_all();
    c.persist(2, None);
    c.deliver_all();
    assert_eq!(status(&c, 1).role, Role::Candidate, "own vote not durable yet");
    c.crash(1);
    c.restart(1);
    c.with(3, |p| p.raft_mut().campaign());
    for _ in 0..3 {
        for id in 1..=3 {
            c.persist(id, None);
        }
        c.deliver_all();
    }
    assert_eq!(c.leader(), Some(3));
    assert_eq!(status(&c, 3).term, 1, "n3 won term 1, the term n1 campaigned in");
}

#[test]
fn five_nodes_split_minority_leader_cannot_commit() {
    let mut c = cluster(5);
    campaign(&mut c, 1);
    put(&mut c, 1, 1, 1);
    c.deliver_all();
    c.run(2);
    let base = status(&c, 1).commit;
    // {1, 2} | {3, 4, 5}
    for a in [1, 2] {
        for b in [3, 4, 5] {
            c.cut(a, b);
        }
    }
    put(&mut c, 1, 2, 666);
    for _ in 0..60 {
        c.tick_all();
        c.deliver_all();
        if status(&c, 1).role == Role::Leader {
            put(&mut c, 1, 2, 666);
        }
    }
    assert_eq!(status(&c, 1).commit, base, "the minority side commits nothing");
    let majority_leader = [3, 4, 5]
        .into_iter()
        .find(|&id| status(&c, id).role == Role::Leader)
        .expect("the majority side elects a leader");
    put(&mut c, majority_leader, 3, 3);
    c.run(3);
    c.heal();
    c.run(40);
    let l = c.leader().expect("leader");
    let commit = status(&c, l).commit;
    for id in 1..=5 {
        assert_eq!(status(&c, id).commit, commit, "node {id} converged");
        assert_eq!(value(&c, id, 3), Some(3), "node {id} has the majority's write");
        assert_eq!(value(&c, id, 2), None, "node {id} applied a minority write");
    }
}

/// The same inputs give the same story, line for line: nothing in the node depends
/// on hash order, addresses or time.
#[test]
fn runs_are_deterministic() {
    fn scenario() -> Vec<String> {
        let mut c = cluster(5);
        let mut story = c.run(30);
        for i in 0..10 {
            if let Some(l) = c.leader() {
                story.extend(c.request(l, KvRequest::Put { key: i, value: i }));
            }
            story.extend(c.run(2));
            if i == 4 {
                c.isolate(c.leader().unwrap_or(1));
            }
        }
        c.heal();
        story.extend(c.run(30));
        story
    }
    let story = scenario();
    assert!(story.len() > 100, "the story is short: {}", story.len());
    assert_eq!(story, scenario());
}

/// A node that forgets its vote when it restarts.
type Amnesiac = Faulty<ForgetsVote>;

#[test]
#[should_panic(expected = "two leaders in term 1: node 1 and node 3")]
fn a_forgotten_vote_gives_two_leaders_and_the_checker_panics() {
    let mut c: StepCluster<Amnesiac> = StepCluster::new(3, |setup: &NodeSetup| {
        let mut config = RaftProcessConfig::for_setup(setup);
        config.raft.pre_vote = false;
        config
    });
    c.set_auto_persist(true);
    // n1 wins term 1 with n2's vote; n3 never hears of it, n2 gets no entry.
    c.with(1, |p| p.0.raft_mut().campaign());
    deliver_first_to(&mut c, 2);
    deliver_first_to(&mut c, 1);
    assert_eq!(c.status(1).map(|s| s.role), Some(Role::Leader));
    c.retain_in_flight(|_| false);
    // n2 restarts without its vote and gives it to n3 in the same term.
    c.crash(2);
    c.restart(2);
    c.with(3, |p| p.0.raft_mut().campaign());
    deliver_first_to(&mut c, 2);
    deliver_first_to(&mut c, 3);
}

/// Drops every message in flight not for `to` and delivers the first one that is.
fn deliver_first_to<P: detcd_core::process::Process>(c: &mut StepCluster<P>, to: NodeId) {
    c.retain_in_flight(|m| m.to == to);
    c.deliver(0);
}
