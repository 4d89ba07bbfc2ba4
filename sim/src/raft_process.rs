//! `RaftProcess`: the bare Raft node behind the `Process` contract, with a tiny
//! deterministic state machine on top: the test kit's application, so the world's Raft
//! safety checks, liveness phase and golden interaction files run on real consensus
//! without the etcd server's weight. With `record_outputs` it keeps what it handled
//! itself (applies, role changes, read results) for a golden file to show.
//!
//! The state machine is a map of u64 keys to u64 values plus a hash chain over every
//! applied entry (index, term, kind, data): two replicas at the same applied index have
//! the same chain value exactly when they applied the same log prefix. Puts are
//! proposed and answered by the node that proposed them once it applies them; gets go
//! through ReadIndex (Raft thesis §6.4) and are answered once the read index is applied.
//! Every `compact_every_entries` applied entries the node snapshots (map + chain) and
//! compacts its log, so snapshots and InstallSnapshot are exercised too.

use crate::trace::fnv_bytes;
use bytes::Bytes;
use detcd_core::process::{Effect, Process, RestoreError};
use detcd_core::raft::{Config, ProposeError, RaftNode, RaftOutput, Status};
use detcd_core::types::{
    ConfState, DurableState, Entry, EntryKind, Index, NodeId, RequestId, Snapshot, SnapshotMeta,
    SyncId, Term,
};
use std::collections::BTreeMap;

/// A client request to the key-value state machine.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KvRequest {
    Put {
        key: u64,
        value: u64,
    },
    /// A linearizable read (ReadIndex).
    Get {
        key: u64,
    },
}

/// The answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KvResponse {
    /// The put was applied at `index`.
    Put { index: Index },
    /// The value at a read index of `index` or later.
    Get { index: Index, value: Option<u64> },
    /// Refused (no leader, transfer, read failed): the request did not take effect.
    Failed(ProposeError),
}

/// How a `RaftProcess` is set up.
#[derive(Clone, Debug)]
pub struct RaftProcessConfig {
    pub raft: Config,
    /// Snapshot and compact once this many entries are applied past the last snapshot.
    pub compact_every_entries: u64,
    /// Keep the Raft outputs the process consumes itself (applies, role changes, read
    /// results, snapshot restores) for `take_outputs`, so a golden test can show them.
    /// Off in the world, where nobody takes them.
    pub record_outputs: bool,
}

impl RaftProcessConfig {
    /// The configuration the simulator's Raft tests use for node `setup.id`.
    /// A joining host starts knowing no configuration.
    pub fn for_setup(setup: &crate::world::NodeSetup) -> Self {
        let voters = if setup.joining { Vec::new() } else { setup.voters.clone() };
        let mut raft = Config::new(setup.id, voters, setup.seed);
        raft.election_ticks = 10;
        raft.heartbeat_ticks = 2;
        RaftProcessConfig { raft, compact_every_entries: 64, record_outputs: false }
    }
}

/// The applied state: the map and the hash chain.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct Kv {
    map: BTreeMap<u64, u64>,
    chain: u64,
    applied: Index,
}

impl Kv {
    fn encode(&self) -> Bytes {
        let mut out = Vec::with_capacity(16 + self.map.len() * 16);
        out.extend_from_slice(&self.chain.to_le_bytes());
        out.extend_from_slice(&(self.map.len() as u64).to_le_bytes());
        for (k, v) in &self.map {
            out.extend_from_slice(&k.to_le_bytes());
            out.extend_from_slice(&v.to_le_bytes());
        }
        Bytes::from(out)
    }

    /// Rebuilds the state from a snapshot this module encoded, or says why `data` is
    /// not one.
    fn decode(index: Index, data: &[u8]) -> Result<Kv, String> {
        let word = |i: usize| -> Result<u64, String> {
            let bytes = data.get(i * 8..i * 8 + 8).ok_or("shorter than its header says")?;
            Ok(u64::from_le_bytes(bytes.try_into().expect("8 bytes")))
        };
        let chain = word(0)?;
        let n = word(1)?;
        if data.len() as u64 != 16 + n.saturating_mul(16) {
            return Err(format!("{} bytes for {n} pairs", data.len()));
        }
        let map = (0..n as usize)
            .map(|i| Ok((word(2 + 2 * i)?, word(3 + 2 * i)?)))
            .collect::<Result<_, String>>()?;
        Ok(Kv { map, chain, applied: index })
    }

    fn apply(&mut self, e: &Entry) -> Option<Proposal> {
        assert_eq!(e.index, self.applied + 1, "entries are applied in order without gaps");
        let mut h = self.chain ^ e.index.wrapping_mul(0x9E37_79B9_7F4A_7C15);
        h = h.rotate_left(17) ^ e.term ^ ((e.kind as u64) << 56);
        self.chain = h.wrapping_mul(0x0000_0100_0000_01b3) ^ fnv_bytes(&e.data);
        self.applied = e.index;
        if e.kind != EntryKind::Normal {
            return None;
        }
        let p = Proposal::decode(&e.data)?;
        self.map.insert(p.key, p.value);
        Some(p)
    }
}

/// What a put entry carries: who proposed it for which request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Proposal {
    origin: NodeId,
    request: RequestId,
    key: u64,
    value: u64,
}

impl Proposal {
    fn encode(&self) -> Bytes {
        let mut out = Vec::with_capacity(32);
        for w in [self.origin, self.request, self.key, self.value] {
            out.extend_from_slice(&w.to_le_bytes());
        }
        Bytes::from(out)
    }

    fn decode(data: &[u8]) -> Option<Proposal> {
        if data.len() != 32 {
            return None;
        }
        let w = |i: usize| u64::from_le_bytes(data[i * 8..i * 8 + 8].try_into().expect("8 bytes"));
        Some(Proposal { origin: w(0), request: w(1), key: w(2), value: w(3) })
    }
}

/// A put entry written by nobody (origin 0): key `index`, value `term`. Golden tests
/// build logs and append messages from these, so a restart accepts them.
pub fn test_entry(index: Index, term: Term) -> Entry {
    let data = Proposal { origin: 0, request: 0, key: index, value: term }.encode();
    Entry { term, index, kind: EntryKind::Normal, data }
}

/// A snapshot at `index`/`term` of an empty store, as golden tests hand-build them.
pub fn empty_snapshot(index: Index, term: Term, conf: ConfState) -> Snapshot {
    Snapshot { meta: SnapshotMeta { index, term, conf }, data: Kv::default().encode().into() }
}

/// A Raft node with the key-value state machine, driven through `Process`.
pub struct RaftProcess {
    node: RaftNode,
    kv: Kv,
    config: RaftProcessConfig,
    /// Puts this incarnation proposed, awaiting their apply.
    puts: BTreeMap<RequestId, ()>,
    /// Gets waiting for their read index: request -> key.
    gets: BTreeMap<RequestId, u64>,
    /// Gets whose read index is known, waiting for the apply to reach it.
    ready: Vec<(Index, RequestId, u64)>,
    /// The state at the previous tick, once a snapshot is due.
    kv_at_last_tick: Option<Kv>,
    raft_out: Vec<RaftOutput>,
    out: Vec<Effect<KvResponse>>,
    /// With `record_outputs`: the outputs handled here since the last `take_outputs`.
    recorded: Vec<RaftOutput>,
}

/// Most rounds of (drain, apply, advance) one `drain` call makes; applying cannot feed
/// itself forever, so reaching this is a bug.
const DRAIN_ROUNDS_MAX: usize = 64;

impl RaftProcess {
    /// The Raft node inside.
    pub fn raft(&self) -> &RaftNode {
        &self.node
    }

    /// The Raft node inside, for step tests that drive it directly (campaign, transfer).
    pub fn raft_mut(&mut self) -> &mut RaftNode {
        &mut self.node
    }

    /// The applied value of `key`.
    pub fn value(&self, key: u64) -> Option<u64> {
        self.kv.map.get(&key).copied()
    }

    /// For `World::set_transfer_hook`.
    pub fn transfer_hook(p: &mut RaftProcess, to: NodeId) -> bool {
        p.node.transfer_leader(to).is_ok()
    }

    /// The Raft outputs this process handled itself (not sends or persists) since the
    /// last call, in order; empty unless `record_outputs` is on.
    pub fn take_outputs(&mut self) -> Vec<RaftOutput> {
        std::mem::take(&mut self.recorded)
    }

    fn handle(&mut self, o: RaftOutput) {
        let keep = !matches!(o, RaftOutput::Send { .. } | RaftOutput::Persist(_));
        if self.config.record_outputs && keep {
            self.recorded.push(o.clone());
        }
        match o {
            RaftOutput::Send { msg, after } => self.out.push(Effect::Send { msg, after }),
            RaftOutput::Persist(op) => self.out.push(Effect::Persist(op)),
            RaftOutput::Apply(entries) => {
                let mut last = None;
                for e in &entries {
                    if let Some(p) = self.kv.apply(e) {
                        if p.origin == self.node.id() && self.puts.remove(&p.request).is_some() {
                            let response = KvResponse::Put { index: e.index };
                            self.out.push(Effect::Respond { id: p.request, response });
                        }
                    }
                    last = Some(e.index);
                }
                if let Some(last) = last {
                    self.node.advance_applied(last);
                }
                self.serve_ready();
            }
            RaftOutput::RestoreSnapshot(s) => {
                // Checked in `restore` when from our disk; otherwise a peer running this
                // code made it, so a malformed one is a bug.
                self.kv = Kv::decode(s.meta.index, &s.data.to_bytes()).unwrap_or_else(|e| {
                    panic!("snapshot at {} does not decode: {e}", s.meta.index)
                });
                self.serve_ready();
            }
            RaftOutput::ReadReady { ctx, index } => {
                if let Some(key) = self.gets.remove(&ctx) {
                    self.ready.push((index, ctx, key));
                    self.serve_ready();
                }
            }
            RaftOutput::ReadFailed { ctx, error } => {
                if self.gets.remove(&ctx).is_some() {
                    self.out.push(Effect::Respond { id: ctx, response: KvResponse::Failed(error) });
                }
            }
            RaftOutput::RoleChanged { .. } | RaftOutput::ConfChanged { .. } => {}
        }
    }

    fn serve_ready(&mut self) {
        let applied = self.kv.applied;
        let (kv, out) = (&self.kv, &mut self.out);
        self.ready.retain(|&(index, id, key)| {
            if index > applied {
                return true;
            }
            let response = KvResponse::Get { index, value: kv.map.get(&key).copied() };
            out.push(Effect::Respond { id, response });
            false
        });
    }

    /// Compacts to the state as of the previous tick, never the current one: every entry
    /// dropped was applied (hence committed and seen by the world's checkers) at an
    /// earlier event.
    fn maybe_compact(&mut self) {
        let due = self.node.status().snapshot_index + self.config.compact_every_entries;
        if let Some(prev) = self.kv_at_last_tick.take() {
            if prev.applied >= due {
                let meta =
                    SnapshotMeta { index: prev.applied, term: 0, conf: self.node.conf().clone() };
                self.node.compact(Snapshot { meta, data: prev.encode().into() });
            }
        }
        if self.kv.applied >= due {
            self.kv_at_last_tick = Some(self.kv.clone());
        }
    }
}

impl Process for RaftProcess {
    type Config = RaftProcessConfig;
    type Request = KvRequest;
    type Response = KvResponse;

    fn restore(config: RaftProcessConfig, durable: DurableState) -> Result<Self, RestoreError> {
        durable.check()?;
        let snap_index = durable.snapshot.as_ref().map_or(0, |s| s.meta.index);
        if let Some(s) = &durable.snapshot {
            Kv::decode(snap_index, &s.data.to_bytes())
                .map_err(|reason| RestoreError::SnapshotImage { index: snap_index, reason })?;
        }
        let normal = durable.entries.iter().filter(|e| e.kind == EntryKind::Normal);
        if let Some(e) = normal.filter(|e| e.index > snap_index).find(|e| e.data.len() != 32) {
            let reason = format!("{} bytes, a put is 32", e.data.len());
            return Err(RestoreError::EntryPayload { index: e.index, reason });
        }
        let node = RaftNode::new(config.raft.clone(), durable);
        Ok(RaftProcess {
            node,
            kv: Kv { applied: snap_index, ..Kv::default() },
            config,
            puts: BTreeMap::new(),
            gets: BTreeMap::new(),
            ready: Vec::new(),
            kv_at_last_tick: None,
            raft_out: Vec::new(),
            out: Vec::new(),
            recorded: Vec::new(),
        })
    }

    fn tick(&mut self) {
        self.node.tick();
        self.maybe_compact();
    }

    fn receive(&mut self, msg: detcd_core::raft::Message) {
        self.node.step(msg);
    }

    fn request(&mut self, id: RequestId, request: KvRequest) {
        match request {
            KvRequest::Put { key, value } => {
                let p = Proposal { origin: self.node.id(), request: id, key, value };
                match self.node.propose(p.encode()) {
                    Ok(()) => {
                        self.puts.insert(id, ());
                    }
                    Err(e) => {
                        self.out.push(Effect::Respond { id, response: KvResponse::Failed(e) })
                    }
                }
            }
            KvRequest::Get { key } => match self.node.read_index(id) {
                Ok(()) => {
                    self.gets.insert(id, key);
                }
                Err(e) => self.out.push(Effect::Respond { id, response: KvResponse::Failed(e) }),
            },
        }
    }

    fn persisted(&mut self, sync: SyncId) {
        self.node.persisted(sync);
    }

    fn drain(&mut self, out: &mut Vec<Effect<KvResponse>>) {
        let mut buf = std::mem::take(&mut self.raft_out);
        for round in 0.. {
            assert!(round < DRAIN_ROUNDS_MAX, "raft kept producing outputs while applying");
            self.node.drain(&mut buf);
            if buf.is_empty() {
                break;
            }
            for o in buf.drain(..) {
                self.handle(o);
            }
        }
        self.raft_out = buf;
        out.append(&mut self.out);
    }

    fn status(&self) -> Status {
        self.node.status()
    }

    fn entry(&self, index: Index) -> Option<&Entry> {
        self.node.entry(index)
    }

    fn state_hash(&self) -> u64 {
        self.kv.chain
    }
}
