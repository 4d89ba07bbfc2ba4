//! A client's view of a step cluster of `EtcdNode`s for the server tests: request
//! ids and a logical clock of when each was sent and answered, watch streams, which
//! requests a crash left with an unknown outcome, and seeded message loss. The
//! cluster itself (wire, disks, held sends, crashes, Raft safety checks) is the sim's
//! `StepCluster`. It asserts the driver contract as it goes: no request is answered
//! twice (watch streams excepted).
#![allow(dead_code)]

use detcd_core::api::{EtcdError, PutRequest, RangeRequest, WatchResponse};
use detcd_core::process::Process;
use detcd_core::raft;
use detcd_core::server::{Config, EtcdNode, Request, Response};
use detcd_core::types::{DurableState, NodeId, RequestId};
use detcd_sim::StepCluster;
use std::collections::{BTreeMap, BTreeSet};

pub const CLUSTER_ID: u64 = 0xC1;

/// Deliveries `deliver` makes before it reports that the wire never empties.
const DELIVERIES_MAX: usize = 100_000;

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

pub struct Cluster {
    step: StepCluster<EtcdNode>,
    /// Responses of `step` already taken into `answers` and `watch`.
    seen: usize,
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
}

impl Cluster {
    pub fn new(n: u64) -> Cluster {
        Cluster::with_configs((1..=n).map(|id| config(id, n)).collect())
    }

    /// Members `1..=configs.len()`, `configs[i]` for member `i + 1`.
    pub fn with_configs(configs: Vec<Config>) -> Cluster {
        for (i, cfg) in configs.iter().enumerate() {
            assert_eq!(cfg.member_id(), i as u64 + 1, "configs go in member id order");
        }
        let n = configs.len() as u64;
        let mut step = StepCluster::new(n, move |setup| {
            let mut cfg: Config = configs[setup.id as usize - 1].clone();
            cfg.incarnation = setup.incarnation;
            cfg
        });
        step.set_auto_persist(true);
        let mut c = Cluster {
            step,
            seen: 0,
            answers: BTreeMap::new(),
            watch: BTreeMap::new(),
            clock: 0,
            sent_at: BTreeMap::new(),
            answered_at: BTreeMap::new(),
            sent_to: BTreeMap::new(),
            lost: BTreeSet::new(),
            drop_per_mille: 0,
            drop_seed: 1,
        };
        c.take_answers();
        c
    }

    /// Records the answers the cluster gave since the last call.
    fn take_answers(&mut self) {
        let fresh = &self.step.responses()[self.seen..];
        self.seen += fresh.len();
        for (node, rid, response) in fresh {
            match response {
                Response::Watch(w) => self.watch.entry(*rid).or_default().push(w.clone()),
                response => {
                    self.clock += 1;
                    self.answered_at.insert(*rid, self.clock);
                    let prev = self.answers.insert(*rid, (*node, response.clone()));
                    assert!(
                        prev.is_none(),
                        "request {rid} answered twice: {prev:?} then {response:?}"
                    );
                }
            }
        }
    }

    pub fn ids(&self) -> Vec<NodeId> {
        (1..=self.step.len()).collect()
    }

    pub fn node(&self, id: NodeId) -> &EtcdNode {
        self.step.process(id).expect("node is up")
    }

    pub fn is_up(&self, id: NodeId) -> bool {
        self.step.is_up(id)
    }

    /// What node `id` has made durable.
    pub fn durable(&self, id: NodeId) -> &DurableState {
        self.step.durable(id).expect("a member")
    }

    /// Make writes durable as soon as a node asks (on, the default) or only on `persist`.
    pub fn set_auto_persist(&mut self, on: bool) {
        self.step.set_auto_persist(on);
    }

    /// Makes every pending write of `id` durable and carries out what follows.
    pub fn persist(&mut self, id: NodeId) {
        self.step.persist(id, None);
        self.take_answers();
    }

    /// Delivers messages until the wire is empty (bounded).
    pub fn deliver(&mut self) {
        for _ in 0..DELIVERIES_MAX {
            let Some(msg) = self.step.in_flight().first() else { return };
            let (from, to) = (msg.from, msg.to);
            if !self.step.is_cut(from, to) && self.is_up(to) && self.dropped() {
                self.step.drop_message(0);
            } else {
                self.step.deliver(0);
            }
            self.take_answers();
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
        self.step.tick_all();
        self.take_answers();
        self.deliver();
    }

    pub fn run(&mut self, ticks: u64) {
        for _ in 0..ticks {
            self.tick();
        }
    }

    /// The leader of the highest term among live nodes.
    pub fn leader(&self) -> Option<NodeId> {
        self.step.leader()
    }

    /// Ticks until a leader exists and every live node it can reach knows it.
    pub fn elect(&mut self) -> NodeId {
        for _ in 0..500 {
            self.tick();
            if let Some(l) = self.leader() {
                let agreed = self
                    .ids()
                    .into_iter()
                    .filter_map(|id| self.step.status(id))
                    .filter(|s| !self.step.is_cut(l, s.id))
                    .all(|s| s.leader == Some(l));
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
        assert!(self.is_up(node), "node {node} is down");
        self.clock += 1;
        let id = self.step.submit(node, req);
        self.sent_at.insert(id, self.clock);
        self.sent_to.insert(id, node);
        self.take_answers();
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
        self.step.isolate(id);
    }

    /// Cuts the link from `from` to `to` only.
    pub fn cut_one_way(&mut self, from: NodeId, to: NodeId) {
        self.step.cut_one_way(from, to);
    }

    pub fn heal(&mut self) {
        self.step.heal();
    }

    /// Crashes a node: it loses memory and every write not yet durable; the requests
    /// it had not answered have an unknown outcome.
    pub fn crash(&mut self, id: NodeId) {
        let open: Vec<RequestId> = self
            .sent_to
            .iter()
            .filter(|(rid, to)| **to == id && !self.answers.contains_key(rid))
            .map(|(rid, _)| *rid)
            .collect();
        self.lost.extend(open);
        self.step.crash(id);
    }

    /// Restarts a crashed node from its disk, as a new incarnation.
    pub fn restart(&mut self, id: NodeId) {
        assert!(!self.is_up(id), "restart of a live node");
        self.step.restart(id);
        self.take_answers();
    }

    /// Every live node's (applied index, state hash).
    pub fn hashes(&self) -> BTreeMap<NodeId, (u64, u64)> {
        self.ids()
            .into_iter()
            .filter_map(|id| self.step.process(id))
            .map(|n| (n.status().id, (n.status().applied, n.state_hash())))
            .collect()
    }

    /// Ticks until every live node applied the same index, then checks their hashes.
    pub fn converge(&mut self) -> u64 {
        for _ in 0..300 {
            let h = self.hashes();
            let applied: BTreeSet<u64> = h.values().map(|(a, _)| *a).collect();
            let commit = self
                .ids()
                .into_iter()
                .filter_map(|id| self.step.status(id))
                .map(|s| s.commit)
                .max();
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
