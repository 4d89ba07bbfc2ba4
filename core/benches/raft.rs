//! Raft throughput and per-step cost.
//!
//! - `cluster_commit`: a 3-node cluster in memory, driven in one thread with disks that
//!   acknowledge at once (tagged sends wait for the ack in an `Outbox`), commits
//!   batches of 64-byte proposals (elements = entries).
//! - `follower_append_one`: a follower handles an append of one 64-byte entry
//!   (step + drain + persisted ack; compaction amortised in).

use bytes::Bytes;
use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use detcd_core::outbox::Outbox;
use detcd_core::raft::{Config, Message, MessageBody, RaftNode, RaftOutput, Role};
use detcd_core::types::{DurableState, Entry, EntryKind, Snapshot};
use std::collections::VecDeque;

struct Cluster {
    nodes: Vec<RaftNode>,
    outboxes: Vec<Outbox>,
    wire: VecDeque<Message>,
    out: Vec<RaftOutput>,
    applied: u64,
}

impl Cluster {
    fn new(n: u64) -> Cluster {
        let nodes = (1..=n)
            .map(|id| {
                let mut c = Config::new(id, (1..=n).collect(), id);
                c.inflight_appends_max = 64;
                RaftNode::new(c, DurableState::default())
            })
            .collect();
        let outboxes = (0..n).map(|_| Outbox::new()).collect();
        let mut c = Cluster { nodes, outboxes, wire: VecDeque::new(), out: Vec::new(), applied: 0 };
        c.nodes[0].campaign();
        c.pump(0);
        c.run();
        assert_eq!(c.nodes[0].status().role, Role::Leader);
        c
    }

    /// Drains node `i`, persisting at once, until it has nothing more to say.
    fn pump(&mut self, i: usize) {
        loop {
            self.nodes[i].drain(&mut self.out);
            if self.out.is_empty() {
                return;
            }
            let mut sync = None;
            for o in self.out.drain(..) {
                match o {
                    RaftOutput::Send { msg, after } => {
                        self.wire.extend(self.outboxes[i].send(msg, after));
                    }
                    RaftOutput::Persist(op) => sync = Some(op.sync),
                    RaftOutput::Apply(es) if i == 0 => self.applied += es.len() as u64,
                    _ => {}
                }
            }
            if let Some(s) = sync {
                let mut released = Vec::new();
                self.outboxes[i].persisted(s, &mut released);
                self.wire.extend(released);
                self.nodes[i].persisted(s);
            }
        }
    }

    fn run(&mut self) {
        while let Some(m) = self.wire.pop_front() {
            let i = (m.to - 1) as usize;
            self.nodes[i].step(m);
            self.pump(i);
        }
    }

    fn compact(&mut self) {
        for i in 0..self.nodes.len() {
            let s = self.nodes[i].status();
            if s.applied > s.snapshot_index + 100_000 {
                let mut snap = Snapshot::default();
                snap.meta.index = s.applied;
                self.nodes[i].compact(snap);
                self.pump(i);
            }
        }
    }
}

fn cluster_commit(c: &mut Criterion) {
    let batch = 4096u64;
    let payload = Bytes::from(vec![7u8; 64]);
    let mut g = c.benchmark_group("raft");
    g.throughput(Throughput::Elements(batch));
    let mut cluster = Cluster::new(3);
    g.bench_function("cluster_commit_3_nodes_64B_x4096", |b| {
        b.iter(|| {
            let target = cluster.applied + batch;
            for _ in 0..batch {
                cluster.nodes[0].propose(payload.clone()).expect("leader accepts");
            }
            cluster.pump(0);
            cluster.run();
            assert!(cluster.applied >= target, "batch committed");
            cluster.compact();
        })
    });
    g.finish();
}

fn follower_append_one(c: &mut Criterion) {
    let mut node = RaftNode::new(Config::new(2, vec![1, 2, 3], 2), DurableState::default());
    let mut out = Vec::new();
    let payload = Bytes::from(vec![7u8; 64]);
    let mut last = 0u64;
    let mut g = c.benchmark_group("raft");
    g.throughput(Throughput::Elements(1));
    g.bench_function("follower_append_one_64B", |b| {
        b.iter(|| {
            let entry =
                Entry { term: 1, index: last + 1, kind: EntryKind::Normal, data: payload.clone() };
            let body = MessageBody::Append {
                prev_index: last,
                prev_term: if last == 0 { 0 } else { 1 },
                entries: vec![entry],
                commit: last,
            };
            node.step(Message { from: 1, to: 2, term: 1, body });
            node.drain(&mut out);
            let mut sync = None;
            for o in out.drain(..) {
                if let RaftOutput::Persist(op) = o {
                    sync = Some(op.sync);
                }
            }
            if let Some(s) = sync {
                node.persisted(s);
            }
            last += 1;
            if last.is_multiple_of(65_536) {
                node.drain(&mut out);
                out.clear();
                let mut snap = Snapshot::default();
                snap.meta.index = node.status().applied;
                node.compact(snap);
                node.drain(&mut out);
                out.clear();
            }
            black_box(&out);
        })
    });
    g.finish();
}

criterion_group!(benches, cluster_commit, follower_append_one);
criterion_main!(benches);
