//! Whole-cluster behaviour on the deterministic in-test network: elections,
//! replication, partitions, lost messages and restarts, checking the Raft safety
//! properties after every round.

mod net;

use detcd_core::raft::Role;
use net::Net;

#[test]
fn three_nodes_elect_and_replicate() {
    let mut net = Net::new(3);
    net.campaign(1);
    net.check();
    assert_eq!(net.leader(), Some(1));
    for i in 0..20u8 {
        net.propose(1, &[i]);
    }
    net.deliver_all();
    net.run(3);
    for id in net.ids() {
        let s = net.node(id).status();
        assert_eq!(s.commit, 21, "node {id}");
        assert_eq!(s.applied, 21, "node {id}");
    }
    assert_eq!(net.applied.len(), 21);
}

#[test]
fn elections_happen_on_timeout() {
    let mut net = Net::new(5);
    net.run(40);
    let leader = net.leader().expect("a leader");
    assert_eq!(net.node(leader).status().role, Role::Leader);
}

#[test]
fn leader_isolated_new_leader_elected_and_old_catches_up() {
    let mut net = Net::new(3);
    net.campaign(1);
    net.propose(1, b"a");
    net.deliver_all();
    net.isolate(1);
    net.propose(1, b"lost");
    net.run(60);
    let l2 = net.leader().expect("leader");
    assert_ne!(l2, 1);
    net.propose(l2, b"b");
    net.run(5);
    net.heal();
    net.run(30);
    let l = net.leader().expect("leader");
    let commit = net.node(l).status().commit;
    for id in net.ids() {
        assert_eq!(net.node(id).status().commit, commit);
    }
    assert!(net.applied.values().all(|e| &e.data[..] != b"lost"));
}

#[test]
fn restart_from_durable_state() {
    let mut net = Net::new(3);
    net.campaign(1);
    for i in 0..5u8 {
        net.propose(1, &[i]);
    }
    net.deliver_all();
    net.run(2);
    for id in net.ids() {
        net.crash(id);
    }
    for id in net.ids() {
        net.restart(id);
    }
    net.run(60);
    let l = net.leader().expect("leader");
    assert!(net.node(l).status().commit >= 6);
    for id in net.ids() {
        assert!(net.node(id).status().applied >= 6, "node {id} re-applied");
    }
}
