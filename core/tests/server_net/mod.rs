//! A small deterministic driver for clusters of `EtcdNode`s: a FIFO wire with cut links,
//! disks that make writes durable as soon as a node drains (and lose what is pending
//! on a crash), ticking, and client calls. It asserts the driver contract as it goes:
//! no request is answered twice (watch streams excepted) and sends held for a persist
//! go out only after it.
#![allow(dead_code)]

use detcd_core::api::{EtcdError, PutRequest, RangeRequest, WatchResponse};
use detcd_core::outbox::Outbox;
use detcd_core::process::{Effect, Process};
use detcd_core::raft::{self, Message, Role};
use detcd_core::server::{Config, EtcdNode, Request, Response};
use detcd_core::types::{DurableState, NodeId, PersistOp, RequestId};
use std::collections::{BTreeMap, BTreeSet, VecDeque};

pub const CLUSTER_ID: u64 = 0xC1;

/// A test configuration: 10 ticks per second, election in 10-20 ticks, fast lease
/// checkpoints.
pub fn config(id: NodeId, n: u64) -> Config {
    let mut r = raft::Config::new(id, (1..=n).collect(), 7000 + id);
    r.election_ticks = 10;
    r.heartbeat_ticks = 2;
    let mut c = Config::new(r, CLUSTER_ID);
    c.lease_checkpoint_ticks = 5;
    c.lease_promote_grace_ticks = 3;
    c.request_timeout_ticks = 50;
    c
}

#[derive(Default)]
pub struct Disk {
    pub durable: DurableState,
    pub pending: VecDeque<PersistOp>,
}

pub struct Cluster {
    pub configs: BTreeMap<NodeId, Config>,
    pub nodes: BTreeMap<NodeId, Option<EtcdNode>>,
    pub disks: BTreeMap<NodeId, Disk>,
    pub wire: VecDeque<Message>,
    /// Each node's sends waiting for their persist.
    pub outboxes: BTreeMap<NodeId, Outbox>,
    pub cut: BTreeSet<(NodeId, NodeId)>,
    /// Make writes durable as soon as a node drains.
    pub auto_persist: bool,
    /// The one answer of each finished request.
    pub answers: BTreeMap<RequestId, (NodeId, Response)>,
    /// Watch stream responses, by create request id, in order.
    pub watch: BTreeMap<RequestId, Vec<WatchResponse>>,
    /// A logical clock advanced by every request sent and every answer received.
    pub clock: u64,
    /// When each request was sent and answered, on `clock`.
    pub sent_at: BTreeMap<RequestId, u64>,
    pub answered_at: BTreeMap<RequestId, u64>,
    /// The member each request went to.
    pub sent_to: BTreeMap<RequestId, NodeId>,
    /// Requests whose member crashed before answering: their outcome is unknown.
    pub lost: BTreeSet<RequestId>,
    /// Drop every message with this probability (out of 1000), decided by `drop_seed`.
    pub drop_per_mille: u64,
    pub drop_seed: u64,
    next_id: RequestId,
}

impl Cluster {
    pub fn new(n: u64) -> Cluster {
        Cluster::with_configs((1..=n).map(|id| config(id, n)).collect())
    }

    pub fn with_configs(configs: Vec<Config>) -> Cluster {
        let mut c = Cluster {
            configs: BTreeMap::new(),
            nodes: BTreeMap::new(),
            disks: BTreeMap::new(),
            wire: VecDeque::new(),
            outboxes: BTreeMap::new(),
            cut: BTreeSet::new(),
            auto_persist: true,
            answers: BTreeMap::new(),
            watch: BTreeMap::new(),
            clock: 0,
            sent_at: BTreeMap::new(),
            answered_at: BTreeMap::new(),
            sent_to: BTreeMap::new(),
            lost: BTreeSet::new(),
            drop_per_mille: 0,
            drop_seed: 1,
            next_id: 0,
        };
        for cfg in configs {
            let id = cfg.member_id();
            c.disks.insert(id, Disk::default());
            c.outboxes.insert(id, Outbox::new());
            c.nodes.insert(id, Some(EtcdNode::restore_own(cfg.clone(), DurableState::default())));
            c.configs.insert(id, cfg);
            c.drain(id);
        }
        c
    }

    pub fn ids(&self) -> Vec<NodeId> {
        self.configs.keys().copied().collect()
    }

    pub fn node(&self, id: NodeId) -> &EtcdNode {
        self.nodes[&id].as_ref().expect("node is up")
    }

    pub fn node_mut(&mut self, id: NodeId) -> &mut EtcdNode {
        self.nodes.get_mut(&id).and_then(|n| n.as_mut()).expect("node is up")
    }

    pub fn is_up(&self, id: NodeId) -> bool {
        self.nodes[&id].is_some()
    }

    /// Carries out a node's effects until it has none left.
    pub fn drain(&mut self, id: NodeId) {
        for _ in 0..1000 {
            let mut effects = Vec::new();
            match self.nodes.get_mut(&id) {
                Some(Some(node)) => node.drain(&mut effects),
                _ => return,
            }
            if effects.is_empty() {
                return;
            }
            for e in effects {
                match e {
                    Effect::Send { msg, after } => {
                        let outbox = self.outboxes.get_mut(&id).expect("outbox");
                        if let Some(msg) = outbox.send(msg, after) {
                            self.wire.push_back(msg);
                        }
                    }
                    Effect::Persist(op) => {
                        self.disks.get_mut(&id).expect("disk").pending.push_back(op)
                    }
                    Effect::Respond { id: rid, response: Response::Watch(w) } => {
                        self.watch.entry(rid).or_default().push(w);
                    }
                    Effect::Respond { id: rid, response } => {
                        self.clock += 1;
                        self.answered_at.insert(rid, self.clock);
                        let prev = self.answers.insert(rid, (id, response.clone()));
                        assert!(
                            prev.is_none(),
                            "request {rid} answered twice: {prev:?} then {response:?}"
                        );
                    }
                }
            }
            if self.auto_persist {
                self.persist(id);
            }
        }
        panic!("node {id} never stopped producing effects");
    }

    /// Makes every pending write of `id` durable and tells the node.
    pub fn persist(&mut self, id: NodeId) {
        let disk = self.disks.get_mut(&id).expect("disk");
        let mut last = None;
        while let Some(op) = disk.pending.pop_front() {
            disk.durable.apply(&op);
            last = Some(op.sync);
        }
        let Some(sync) = last else { return };
        if let Some(Some(node)) = self.nodes.get_mut(&id) {
            let mut released = Vec::new();
            self.outboxes.get_mut(&id).expect("outbox").persisted(sync, &mut released);
            self.wire.extend(released);
            node.persisted(sync);
        }
    }

    /// Delivers messages until the wire is empty (bounded).
    pub fn deliver(&mut self) {
        for _ in 0..100_000 {
            let Some(msg) = self.wire.pop_front() else { return };
            let to = msg.to;
            if self.cut.contains(&(msg.from, to)) || !self.is_up(to) || self.dropped() {
                continue;
            }
            self.node_mut(to).receive(msg);
            self.drain(to);
        }
        panic!("the wire never emptied");
    }

    /// A deterministic coin for message loss (xorshift on `drop_seed`).
    fn dropped(&mut self) -> bool {
        if self.drop_per_mille == 0 {
            return false;
        }
        let mut x = self.drop_seed;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.drop_seed = x;
        x % 1000 < self.drop_per_mille
    }

    pub fn tick(&mut self) {
        for id in self.ids() {
            if self.is_up(id) {
                self.node_mut(id).tick();
                self.drain(id);
            }
        }
        self.deliver();
    }

    pub fn run(&mut self, ticks: u64) {
        for _ in 0..ticks {
            self.tick();
        }
    }

    /// The leader of the highest term among live nodes.
    pub fn leader(&self) -> Option<NodeId> {
        self.nodes
            .values()
            .flatten()
            .map(|n| n.status())
            .filter(|s| s.role == Role::Leader)
            .max_by_key(|s| s.term)
            .map(|s| s.id)
    }

    /// Ticks until a leader exists and every live node knows it.
    pub fn elect(&mut self) -> NodeId {
        for _ in 0..500 {
            self.tick();
            if let Some(l) = self.leader() {
                let agreed = self
                    .nodes
                    .values()
                    .flatten()
                    .filter(|n| !self.cut.contains(&(l, n.status().id)))
                    .all(|n| n.status().leader == Some(l));
                if agreed {
                    return l;
                }
            }
        }
        panic!("no leader elected");
    }

    pub fn followers(&self) -> Vec<NodeId> {
        let l = self.leader();
        self.ids().into_iter().filter(|id| Some(*id) != l && self.is_up(*id)).collect()
    }

    /// Hands a request to `node` without delivering anything; returns its id.
    pub fn submit(&mut self, node: NodeId, req: Request) -> RequestId {
        self.next_id += 1;
        let id = self.next_id;
        self.clock += 1;
        self.sent_at.insert(id, self.clock);
        self.sent_to.insert(id, node);
        self.node_mut(node).request(id, req);
        self.drain(node);
        id
    }

    /// Sends a request to `node` and delivers what follows; returns its id.
    pub fn send(&mut self, node: NodeId, req: Request) -> RequestId {
        let id = self.submit(node, req);
        self.deliver();
        id
    }

    /// Ticks until request `id` is answered (bounded).
    pub fn wait(&mut self, id: RequestId) -> Response {
        for _ in 0..200 {
            if let Some((_, r)) = self.answers.get(&id) {
                return r.clone();
            }
            self.tick();
        }
        panic!("request {id} unanswered after 200 ticks");
    }

    pub fn call(&mut self, node: NodeId, req: Request) -> Response {
        let id = self.send(node, req);
        self.wait(id)
    }

    pub fn put(&mut self, node: NodeId, key: &str, value: &str) -> Response {
        self.call(node, Request::Put(put(key, value)))
    }

    pub fn get(&mut self, node: NodeId, key: &str, serializable: bool) -> Response {
        let r = RangeRequest {
            key: key.as_bytes().to_vec().into(),
            serializable,
            ..RangeRequest::default()
        };
        self.call(node, Request::Range(r))
    }

    /// Cuts every link between `id` and the others, both ways.
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

    /// Crashes a node: it loses memory and every write not yet durable.
    pub fn crash(&mut self, id: NodeId) {
        self.nodes.insert(id, None);
        let open: Vec<RequestId> = self
            .sent_to
            .iter()
            .filter(|(rid, to)| **to == id && !self.answers.contains_key(rid))
            .map(|(rid, _)| *rid)
            .collect();
        self.lost.extend(open);
        let disk = self.disks.get_mut(&id).expect("disk");
        disk.pending.clear();
        self.outboxes.get_mut(&id).expect("outbox").crash();
    }

    /// Restarts a crashed node from its disk, as a new incarnation.
    pub fn restart(&mut self, id: NodeId) {
        assert!(!self.is_up(id), "restart of a live node");
        let cfg = self.configs.get_mut(&id).expect("config");
        cfg.incarnation += 1;
        let cfg = cfg.clone();
        let durable = self.disks[&id].durable.clone();
        self.nodes.insert(id, Some(EtcdNode::restore_own(cfg, durable)));
        self.drain(id);
    }

    /// Every live node's (applied index, state hash).
    pub fn hashes(&self) -> BTreeMap<NodeId, (u64, u64)> {
        self.nodes
            .values()
            .flatten()
            .map(|n| (n.status().id, (n.status().applied, n.state_hash())))
            .collect()
    }

    /// Ticks until every live node applied the same index, then checks their hashes.
    pub fn converge(&mut self) -> u64 {
        for _ in 0..300 {
            let h = self.hashes();
            let applied: BTreeSet<u64> = h.values().map(|(a, _)| *a).collect();
            let commit = self.nodes.values().flatten().map(|n| n.status().commit).max();
            if applied.len() == 1 && applied.first().copied() == commit {
                let hashes: BTreeSet<u64> = h.values().map(|(_, x)| *x).collect();
                assert_eq!(hashes.len(), 1, "replicas diverged at equal applied index: {h:?}");
                return *hashes.first().expect("a hash");
            }
            self.tick();
        }
        panic!("replicas never converged: {:?}", self.hashes());
    }
}

pub fn put(key: &str, value: &str) -> PutRequest {
    PutRequest {
        key: key.as_bytes().to_vec().into(),
        value: value.as_bytes().to_vec().into(),
        ..PutRequest::default()
    }
}

pub fn range(key: &str) -> RangeRequest {
    RangeRequest { key: key.as_bytes().to_vec().into(), ..RangeRequest::default() }
}

/// The values of a range answer, as strings.
pub fn values(r: &Response) -> Vec<String> {
    match r {
        Response::Range(r) => {
            r.kvs.iter().map(|kv| String::from_utf8_lossy(&kv.value).into_owned()).collect()
        }
        other => panic!("not a range answer: {other:?}"),
    }
}

pub fn err(r: &Response) -> EtcdError {
    r.err().unwrap_or_else(|| panic!("expected an error, got {r:?}"))
}
