//! `Pinger`: a small but honest `Process` for testing the world's mechanics without
//! Raft. Every tick it appends an entry to its own log, persists it, and sends every
//! peer a heartbeat that may only leave once that entry is durable. Client requests
//! append an entry too and are answered (with the entry's index) once it is durable.
//! It records everything it receives, so tests can see drops, duplicates, reordering
//! and partitions from the receiving side.

use bytes::Bytes;
use detcd_core::process::{Effect, Process, RestoreError};
use detcd_core::raft::{Message, MessageBody, Role, RoleReason, Status};
use detcd_core::types::{
    DurableState, Entry, EntryKind, Index, NodeId, PersistOp, RequestId, SyncId,
};
use detcd_sim::NodeSetup;

#[derive(Clone, Debug)]
pub struct PingerConfig {
    pub id: NodeId,
    pub peers: Vec<NodeId>,
}

impl PingerConfig {
    pub fn from_setup(s: &NodeSetup) -> Self {
        PingerConfig { id: s.id, peers: s.voters.iter().copied().filter(|&p| p != s.id).collect() }
    }
}

pub struct Pinger {
    pub id: NodeId,
    pub peers: Vec<NodeId>,
    /// Every entry written, durable or not.
    pub log: Vec<Entry>,
    /// Entries the driver acknowledged durable.
    pub durable_index: Index,
    /// How many entries came from durable state at restore.
    pub restored_len: usize,
    pub ticks: u64,
    /// Heartbeats sent by this incarnation.
    pub seq: u64,
    /// (sender, sender's seq) of every heartbeat received, in arrival order.
    pub received: Vec<(NodeId, u64)>,
    next_sync: SyncId,
    syncs: Vec<(SyncId, Index)>,
    waiting: Vec<(Index, RequestId)>,
    out: Vec<Effect<Index>>,
}

impl Pinger {
    fn append(&mut self, data: u64) -> SyncId {
        let index = self.log.len() as Index + 1;
        let entry = Entry {
            term: 1,
            index,
            kind: EntryKind::Normal,
            data: Bytes::copy_from_slice(&data.to_le_bytes()),
        };
        self.log.push(entry.clone());
        self.next_sync += 1;
        let sync = self.next_sync;
        self.syncs.push((sync, index));
        self.out.push(Effect::Persist(PersistOp {
            sync,
            hard_state: None,
            snapshot: None,
            entries: vec![entry],
        }));
        sync
    }

    /// Heartbeats received from `from`, in arrival order.
    pub fn heard_from(&self, from: NodeId) -> Vec<u64> {
        self.received.iter().filter(|(f, _)| *f == from).map(|(_, s)| *s).collect()
    }
}

impl Process for Pinger {
    type Config = PingerConfig;
    type Request = u64;
    type Response = Index;

    fn restore(config: PingerConfig, durable: DurableState) -> Result<Self, RestoreError> {
        let log = durable.entries;
        Ok(Pinger {
            id: config.id,
            peers: config.peers,
            durable_index: log.len() as Index,
            restored_len: log.len(),
            log,
            ticks: 0,
            seq: 0,
            received: Vec::new(),
            next_sync: 0,
            syncs: Vec::new(),
            waiting: Vec::new(),
            out: Vec::new(),
        })
    }

    fn tick(&mut self) {
        self.ticks += 1;
        let sync = self.append(self.ticks);
        self.seq += 1;
        for &to in &self.peers {
            let body = MessageBody::Heartbeat { commit: 0, ctx: self.seq };
            let msg = Message { from: self.id, to, term: 1, body };
            self.out.push(Effect::Send { msg, after: Some(sync) });
        }
    }

    fn receive(&mut self, msg: Message) {
        if let MessageBody::Heartbeat { ctx, .. } = msg.body {
            self.received.push((msg.from, ctx));
        }
    }

    fn request(&mut self, id: RequestId, request: u64) {
        self.append(request);
        self.waiting.push((self.log.len() as Index, id));
    }

    fn persisted(&mut self, sync: SyncId) {
        if let Some(&(_, index)) = self.syncs.iter().rev().find(|(s, _)| *s <= sync) {
            self.durable_index = self.durable_index.max(index);
        }
        self.syncs.retain(|(s, _)| *s > sync);
        let durable = self.durable_index;
        let out = &mut self.out;
        self.waiting.retain(|&(index, id)| {
            let done = index <= durable;
            if done {
                out.push(Effect::Respond { id, response: index });
            }
            !done
        });
    }

    fn drain(&mut self, out: &mut Vec<Effect<Index>>) {
        out.append(&mut self.out);
    }

    fn status(&self) -> Status {
        Status {
            id: self.id,
            role: Role::Follower,
            role_reason: RoleReason::Started,
            term: 1,
            vote: None,
            leader: None,
            commit: self.durable_index,
            applied: self.durable_index,
            last_index: self.log.len() as Index,
            snapshot_index: 0,
        }
    }

    fn entry(&self, index: Index) -> Option<&Entry> {
        index.checked_sub(1).and_then(|i| self.log.get(i as usize))
    }

    fn state_hash(&self) -> u64 {
        self.durable_index
    }
}
