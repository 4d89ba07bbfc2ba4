//! Reference: thesis section 6.4 (ReadIndex). Reads asked between two flushes share
//! one ReadIndex round: one heartbeat to each peer on the leader, one request to the
//! leader on a follower; and each read is still released only once a quorum
//! confirmed the leadership.

use detcd_core::raft::{Config, Message, MessageBody, RaftNode, RaftOutput, Role};
use detcd_core::types::DurableState;
use std::collections::VecDeque;

/// Three nodes, their queued messages, and what each output outside messages.
struct Net {
    nodes: Vec<RaftNode>,
    wire: VecDeque<Message>,
    ready: Vec<(u64, u64)>,
}

impl Net {
    fn new() -> Net {
        let nodes = (1..=3)
            .map(|id| RaftNode::new(Config::new(id, vec![1, 2, 3], id), DurableState::default()))
            .collect();
        Net { nodes, wire: VecDeque::new(), ready: Vec::new() }
    }

    fn node(&mut self, id: u64) -> &mut RaftNode {
        &mut self.nodes[(id - 1) as usize]
    }

    /// Carries out `outputs` of node `id`: persists at once, queues messages.
    fn carry_out(&mut self, id: u64, outputs: Vec<RaftOutput>) {
        for o in outputs {
            match o {
                RaftOutput::Send { msg, .. } => self.wire.push_back(msg),
                RaftOutput::Persist(op) => self.node(id).persisted(op.sync),
                RaftOutput::ReadReady { ctx, .. } => self.ready.push((id, ctx)),
                RaftOutput::ReadFailed { ctx, error } => panic!("read {ctx} failed: {error:?}"),
                _ => {}
            }
        }
    }

    fn drain(&mut self, id: u64) {
        let mut out = Vec::new();
        self.node(id).drain(&mut out);
        self.carry_out(id, out);
    }

    fn drain_holding_reads(&mut self, id: u64) {
        let mut out = Vec::new();
        self.node(id).drain_holding_reads(&mut out);
        self.carry_out(id, out);
    }

    /// Delivers every queued message (and what it causes), up to a bound.
    fn settle(&mut self) {
        for _ in 0..10_000 {
            for id in 1..=3 {
                self.drain(id);
            }
            let Some(msg) = self.wire.pop_front() else { return };
            let to = msg.to;
            self.node(to).step(msg);
        }
        panic!("the cluster did not settle");
    }

    fn elect_1(&mut self) {
        self.node(1).campaign();
        self.settle();
        assert_eq!(self.node(1).status().role, Role::Leader);
        // The leader's first entry commits and every follower learns it.
        self.node(1).tick();
        self.settle();
        self.ready.clear();
    }

    /// Queued messages of `kind`, without delivering them.
    fn queued(&self, kind: &str) -> usize {
        self.wire.iter().filter(|m| m.kind() == kind).count()
    }
}

#[test]
fn reads_on_the_leader_between_flushes_share_one_heartbeat_round() {
    let mut net = Net::new();
    net.elect_1();
    for ctx in 1..=5 {
        net.node(1).read_index(ctx).expect("leader takes reads");
        net.drain_holding_reads(1);
    }
    assert_eq!(net.queued("heartbeat"), 0, "no round before the flush");
    net.node(1).flush_reads();
    net.drain_holding_reads(1);
    assert_eq!(net.queued("heartbeat"), 2, "one heartbeat to each follower");
    assert!(net.ready.is_empty(), "no read before a quorum confirmed");
    net.settle();
    assert_eq!(net.ready, (1..=5).map(|ctx| (1, ctx)).collect::<Vec<_>>());
}

/// Negative control of the test above: draining after every read (as a driver that
/// does not batch) costs a round per read, so the count above is the batching's.
#[test]
fn draining_after_every_read_costs_a_round_each() {
    let mut net = Net::new();
    net.elect_1();
    for ctx in 1..=5 {
        net.node(1).read_index(ctx).expect("leader takes reads");
        net.drain(1);
    }
    assert_eq!(net.queued("heartbeat"), 10);
    net.settle();
    assert_eq!(net.ready.len(), 5);
}

#[test]
fn reads_on_a_follower_between_flushes_go_to_the_leader_as_one_request() {
    let mut net = Net::new();
    net.elect_1();
    for ctx in 11..=14 {
        net.node(2).read_index(ctx).expect("a follower with a leader takes reads");
        net.drain_holding_reads(2);
    }
    assert_eq!(net.queued("read_index"), 0);
    net.node(2).flush_reads();
    net.drain_holding_reads(2);
    assert_eq!(net.queued("read_index"), 1, "one request for the whole batch");
    assert!((11..=14).all(|ctx| net.node(2).read_waiting(ctx)), "forwarded reads still wait");
    net.settle();
    assert_eq!(net.ready, (11..=14).map(|ctx| (2, ctx)).collect::<Vec<_>>());
    assert!(!(11..=14).any(|ctx| net.node(2).read_waiting(ctx)), "answered reads wait no more");
}

#[test]
fn a_batch_waits_for_a_quorum_and_fails_with_the_leadership() {
    let mut net = Net::new();
    net.elect_1();
    for ctx in 1..=3 {
        net.node(1).read_index(ctx).expect("leader takes reads");
    }
    net.node(1).flush_reads();
    net.drain_holding_reads(1);
    assert!((1..=3).all(|ctx| net.node(1).read_waiting(ctx)));
    // Only this node's own reads: node 2 never asked for ctx 1.
    assert!(!net.node(2).read_waiting(1));
    // The heartbeats are lost; a newer term deposes the leader before any answer.
    net.wire.clear();
    let depose =
        Message { from: 2, to: 1, term: 9, body: MessageBody::HeartbeatResponse { ctx: 0 } };
    net.node(1).step(depose);
    let mut out = Vec::new();
    net.node(1).drain(&mut out);
    let failed = out.iter().filter(|o| matches!(o, RaftOutput::ReadFailed { .. })).count();
    assert_eq!(failed, 3, "every read of the batch fails: {out:?}");
    assert!(!(1..=3).any(|ctx| net.node(1).read_waiting(ctx)), "failed reads wait no more");
    assert!(!out.iter().any(|o| matches!(o, RaftOutput::ReadReady { .. })));
}
