//! A deterministic in-test network of Raft nodes with disks that lose unacknowledged
//! writes on crash, and checkers for the Raft safety properties (Figure 3): election
//! safety, log matching, leader completeness and state machine safety.
//!
//! Shared by the integration tests and the benchmark (`#[path]`-included there).
#![allow(dead_code)]

use bytes::Bytes;
use detcd_core::outbox::Outbox;
use detcd_core::raft::{Config, Message, RaftNode, RaftOutput, Role};
use detcd_core::types::{DurableState, Entry, Index, NodeId, PersistOp, SyncId, Term};
use std::collections::{BTreeMap, BTreeSet, VecDeque};

/// What a node's disk holds: the durable state and the writes not yet on it.
#[derive(Default)]
pub struct Disk {
    pub durable: DurableState,
    pub pending: VecDeque<PersistOp>,
}

pub struct Net {
    pub configs: BTreeMap<NodeId, Config>,
    /// `None` while crashed.
    pub nodes: BTreeMap<NodeId, Option<RaftNode>>,
    pub disks: BTreeMap<NodeId, Disk>,
    /// Messages on the wire, in send order.
    pub wire: VecDeque<Message>,
    /// Each node's messages held until it acknowledges the sync id they wait for.
    pub outboxes: BTreeMap<NodeId, Outbox>,
    /// Cut links (from, to).
    pub cut: BTreeSet<(NodeId, NodeId)>,
    /// Persist writes and deliver held messages as soon as a node drains.
    pub auto_persist: bool,
    /// What each node's application applied in this incarnation: the last index.
    pub app_index: BTreeMap<NodeId, Index>,
    /// Every entry any node applied, by index: must agree (state machine safety).
    pub applied: BTreeMap<Index, Entry>,
    /// For each applied index, the highest term any node had when it was first
    /// applied: a leader of a higher term must hold that entry (leader completeness).
    pub applied_bound: BTreeMap<Index, Term>,
    /// The leader seen for each term (election safety).
    pub leaders: BTreeMap<Term, NodeId>,
    pub reads: Vec<(NodeId, RaftOutput)>,
    /// Outstanding reads: ctx -> the highest index known committed when it was asked.
    pub read_bounds: BTreeMap<u64, Index>,
    next_read: u64,
    /// The highest commit index any node has known.
    pub committed_max: Index,
    /// FNV-1a over every output of every node, in order: equal runs, equal hashes.
    pub trace_hash: u64,
    out: Vec<RaftOutput>,
}

pub fn config(id: NodeId, n: u64) -> Config {
    let mut c = Config::new(id, (1..=n).collect(), 1000 + id);
    c.election_ticks = 10;
    c.heartbeat_ticks = 2;
    c
}

impl Net {
    pub fn new(n: u64) -> Net {
        Net::with_configs((1..=n).map(|id| config(id, n)).collect())
    }

    pub fn with_configs(configs: Vec<Config>) -> Net {
        let mut net = Net {
            configs: BTreeMap::new(),
            nodes: BTreeMap::new(),
            disks: BTreeMap::new(),
            wire: VecDeque::new(),
            outboxes: BTreeMap::new(),
            cut: BTreeSet::new(),
            auto_persist: true,
            app_index: BTreeMap::new(),
            applied: BTreeMap::new(),
            applied_bound: BTreeMap::new(),
            leaders: BTreeMap::new(),
            reads: Vec::new(),
            read_bounds: BTreeMap::new(),
            next_read: 0,
            committed_max: 0,
            trace_hash: 0xcbf2_9ce4_8422_2325,
            out: Vec::new(),
        };
        for c in configs {
            let id = c.id;
            net.configs.insert(id, c.clone());
            net.disks.insert(id, Disk::default());
            net.outboxes.insert(id, Outbox::new());
            net.nodes.insert(id, Some(RaftNode::new(c, DurableState::default())));
            net.app_index.insert(id, 0);
            net.drain(id);
        }
        net
    }

    pub fn ids(&self) -> Vec<NodeId> {
        self.configs.keys().copied().collect()
    }

    pub fn node(&self, id: NodeId) -> &RaftNode {
        self.nodes[&id].as_ref().expect("node is up")
    }

    pub fn node_mut(&mut self, id: NodeId) -> &mut RaftNode {
        self.nodes.get_mut(&id).and_then(|n| n.as_mut()).expect("node is up")
    }

    pub fn is_up(&self, id: NodeId) -> bool {
        self.nodes[&id].is_some()
    }

    /// Drains a node's outputs and carries them out.
    pub fn drain(&mut self, id: NodeId) {
        let mut out = std::mem::take(&mut self.out);
        if let Some(Some(node)) = self.nodes.get_mut(&id) {
            node.drain(&mut out);
        }
        for o in out.drain(..) {
            for b in format!("{id}:{o:?}").bytes() {
                self.trace_hash = (self.trace_hash ^ u64::from(b)).wrapping_mul(0x100_0000_01b3);
            }
            match o {
                RaftOutput::Send { msg, after } => {
                    if let Some(msg) = self.outboxes.get_mut(&id).expect("outbox").send(msg, after)
                    {
                        self.wire.push_back(msg);
                    }
                }
                RaftOutput::Persist(op) => {
                    self.disks.get_mut(&id).expect("disk").pending.push_back(op)
                }
                RaftOutput::Apply(entries) => self.apply(id, entries),
                RaftOutput::RestoreSnapshot(s) => {
                    for i in 1..=s.meta.index {
                        if let Some(e) = self.applied.get(&i) {
                            assert!(e.index == i, "bad record");
                        }
                    }
                    self.app_index.insert(id, s.meta.index);
                }
                RaftOutput::RoleChanged { role, term, .. } => {
                    if role == Role::Leader {
                        if let Some(&other) = self.leaders.get(&term) {
                            assert_eq!(other, id, "election safety: two leaders in term {term}");
                        }
                        self.leaders.insert(term, id);
                    }
                }
                RaftOutput::ReadReady { ctx, index } => {
                    // Linearizable reads: the read index covers every write committed
                    // before the read was asked.
                    if let Some(bound) = self.read_bounds.remove(&ctx) {
                        assert!(
                            index >= bound,
                            "stale read: ctx {ctx} at {index} but {bound} was committed before"
                        );
                    }
                    self.reads.push((id, RaftOutput::ReadReady { ctx, index }))
                }
                r @ RaftOutput::ReadFailed { .. } => self.reads.push((id, r)),
            }
        }
        self.out = out;
        if self.auto_persist {
            self.persist(id);
        }
    }

    fn apply(&mut self, id: NodeId, entries: Vec<Entry>) {
        let max_term = self.max_term();
        let app = self.app_index.get_mut(&id).expect("app");
        for e in entries {
            assert_eq!(e.index, *app + 1, "node {id}: apply out of order");
            *app = e.index;
            match self.applied.get(&e.index) {
                Some(prev) => assert_eq!(
                    prev, &e,
                    "state machine safety: node {id} applied a different entry at {}",
                    e.index
                ),
                None => {
                    self.applied.insert(e.index, e.clone());
                    self.applied_bound.insert(e.index, max_term);
                }
            }
        }
    }

    /// The highest term any node holds in memory or on disk.
    pub fn max_term(&self) -> Term {
        let live = self.nodes.values().flatten().map(|n| n.status().term);
        let disk = self.disks.values().map(|d| d.durable.hard_state.term);
        live.chain(disk).max().unwrap_or(0)
    }

    /// Makes every pending write of `id` durable and releases what waited for it.
    pub fn persist(&mut self, id: NodeId) {
        let disk = self.disks.get_mut(&id).expect("disk");
        let mut last = None;
        while let Some(op) = disk.pending.pop_front() {
            disk.durable.apply(&op);
            last = Some(op.sync);
        }
        if let Some(sync) = last {
            self.persist_upto(id, sync);
        }
    }

    /// Makes writes of `id` durable up to `sync` only.
    pub fn persist_upto(&mut self, id: NodeId, sync: SyncId) {
        let disk = self.disks.get_mut(&id).expect("disk");
        while disk.pending.front().is_some_and(|op| op.sync <= sync) {
            let op = disk.pending.pop_front().expect("op");
            disk.durable.apply(&op);
        }
        if let Some(Some(node)) = self.nodes.get_mut(&id) {
            // A crashed node's outbox stays empty and unacknowledged for its next
            // incarnation, which numbers its persist requests afresh.
            let mut released = Vec::new();
            self.outboxes.get_mut(&id).expect("outbox").persisted(sync, &mut released);
            self.wire.extend(released);
            node.persisted(sync);
            self.drain(id);
        }
    }

    /// Delivers one message from the wire (dropping it on a cut link or a down node).
    pub fn deliver_one(&mut self) -> bool {
        let Some(msg) = self.wire.pop_front() else { return false };
        let to = msg.to;
        if self.cut.contains(&(msg.from, to)) || !self.nodes.get(&to).is_some_and(|n| n.is_some()) {
            return true;
        }
        self.node_mut(to).step(msg);
        self.drain(to);
        true
    }

    /// Delivers the message at position `k` (modulo the wire's length).
    pub fn deliver_at(&mut self, k: usize) {
        if self.wire.is_empty() {
            return;
        }
        let k = k % self.wire.len();
        if let Some(m) = self.wire.remove(k) {
            self.wire.push_front(m);
            self.deliver_one();
        }
    }

    /// Loses the message at position `k`.
    pub fn drop_at(&mut self, k: usize) {
        if !self.wire.is_empty() {
            let k = k % self.wire.len();
            self.wire.remove(k);
        }
    }

    /// Duplicates the message at position `k` (the copy goes to the end).
    pub fn duplicate_at(&mut self, k: usize) {
        if !self.wire.is_empty() {
            let k = k % self.wire.len();
            let m = self.wire[k].clone();
            self.wire.push_back(m);
        }
    }

    /// Lets the application of `id` take a snapshot at its applied index.
    pub fn compact(&mut self, id: NodeId) {
        if !self.is_up(id) {
            return;
        }
        let s = self.node(id).status();
        if s.applied > s.snapshot_index {
            let mut snap = detcd_core::types::Snapshot::default();
            snap.meta.index = s.applied;
            snap.data = Bytes::from(s.applied.to_be_bytes().to_vec());
            self.node_mut(id).compact(snap);
            self.drain(id);
        }
    }

    /// Delivers until the wire is empty (bounded).
    pub fn deliver_all(&mut self) {
        for _ in 0..1_000_000 {
            if !self.deliver_one() {
                return;
            }
        }
        panic!("network did not quiesce");
    }

    pub fn tick(&mut self, id: NodeId) {
        if self.is_up(id) {
            self.node_mut(id).tick();
            self.drain(id);
        }
    }

    pub fn tick_all(&mut self) {
        for id in self.ids() {
            self.tick(id);
        }
    }

    /// Ticks everyone and delivers, `n` times.
    pub fn run(&mut self, n: usize) {
        for _ in 0..n {
            self.tick_all();
            self.deliver_all();
            self.check();
        }
    }

    pub fn campaign(&mut self, id: NodeId) {
        self.node_mut(id).campaign();
        self.drain(id);
        self.deliver_all();
    }

    pub fn propose(&mut self, id: NodeId, data: &[u8]) {
        self.node_mut(id).propose(Bytes::copy_from_slice(data)).expect("propose");
        self.drain(id);
    }

    /// Asks node `id` for a read index; returns the ctx if the node took the request.
    pub fn read(&mut self, id: NodeId) -> Option<u64> {
        if !self.is_up(id) {
            return None;
        }
        self.note_commits();
        self.next_read += 1;
        let ctx = self.next_read;
        self.read_bounds.insert(ctx, self.committed_max);
        let r = self.node_mut(id).read_index(ctx);
        self.drain(id);
        r.ok().map(|_| ctx)
    }

    fn note_commits(&mut self) {
        let live = self.nodes.values().flatten().map(|n| n.status().commit);
        self.committed_max = live.fold(self.committed_max, Index::max);
    }

    /// Loses everything not yet durable: memory, pending writes, held messages.
    pub fn crash(&mut self, id: NodeId) {
        self.nodes.insert(id, None);
        self.disks.get_mut(&id).expect("disk").pending.clear();
        self.outboxes.get_mut(&id).expect("outbox").crash();
    }

    pub fn restart(&mut self, id: NodeId) {
        let durable = self.disks[&id].durable.clone();
        self.app_index.insert(id, 0);
        self.nodes.insert(id, Some(RaftNode::new(self.configs[&id].clone(), durable)));
        self.drain(id);
    }

    pub fn isolate(&mut self, id: NodeId) {
        for other in self.ids() {
            if other != id {
                self.cut.insert((id, other));
                self.cut.insert((other, id));
            }
        }
    }

    pub fn heal(&mut self) {
        self.cut.clear();
    }

    pub fn leader(&self) -> Option<NodeId> {
        let mut best: Option<(Term, NodeId)> = None;
        for n in self.nodes.values().flatten() {
            let s = n.status();
            if s.role == Role::Leader && best.is_none_or(|(t, _)| s.term > t) {
                best = Some((s.term, s.id));
            }
        }
        best.map(|(_, id)| id)
    }

    /// Checks the Figure 3 properties over the live nodes.
    pub fn check(&mut self) {
        self.note_commits();
        let live: Vec<&RaftNode> = self.nodes.values().flatten().collect();
        // Election safety: at most one leader per term (also checked on every change).
        let mut by_term = BTreeMap::new();
        for n in &live {
            let s = n.status();
            if s.role == Role::Leader {
                if let Some(other) = by_term.insert(s.term, s.id) {
                    panic!("election safety: {other} and {} lead term {}", s.id, s.term);
                }
            }
        }
        // Log matching: same index and term -> identical logs up to there.
        for (i, a) in live.iter().enumerate() {
            for b in &live[i + 1..] {
                check_log_matching(a, b);
            }
        }
        // Leader completeness: a leader elected after an entry was applied holds it.
        for n in &live {
            let s = n.status();
            if s.role != Role::Leader {
                continue;
            }
            for (&index, e) in &self.applied {
                if self.applied_bound[&index] < s.term && index > s.snapshot_index {
                    assert_eq!(
                        n.entry(index),
                        Some(e),
                        "leader completeness: leader {} of term {} lacks committed {index}",
                        s.id,
                        s.term
                    );
                }
            }
        }
    }
}

fn check_log_matching(a: &RaftNode, b: &RaftNode) {
    let (sa, sb) = (a.status(), b.status());
    let lo = sa.snapshot_index.max(sb.snapshot_index) + 1;
    let hi = sa.last_index.min(sb.last_index);
    let mut i = hi;
    while i >= lo {
        let (ea, eb) = (a.entry(i), b.entry(i));
        if let (Some(ea), Some(eb)) = (ea, eb) {
            if ea.term == eb.term {
                for j in lo..=i {
                    assert_eq!(
                        a.entry(j),
                        b.entry(j),
                        "log matching: nodes {} and {} agree at {i} but differ at {j}",
                        sa.id,
                        sb.id
                    );
                }
                return;
            }
        }
        i -= 1;
    }
}
