//! Negative controls: the bare-Raft test application with one deliberate bug, so a
//! test can show that the world's or the step cluster's checker catches what it leads
//! to. A `Bug` changes what the process restores from or the state hash it reports;
//! everything else is `RaftProcess` unchanged.

use detcd_core::process::{Effect, Process, RestoreError};
use detcd_core::raft::{Message, Status};
use detcd_core::types::{DurableState, Entry, Index, RequestId, SyncId};
use detcd_sim::raft_process::{KvRequest, KvResponse, RaftProcess, RaftProcessConfig};
use std::marker::PhantomData;

/// One deliberate bug.
pub trait Bug {
    /// What the buggy node makes of its durable state on restart.
    fn restore(_durable: &mut DurableState) {}
    /// The state hash the buggy node reports, given the true one.
    fn state_hash(_p: &RaftProcess, hash: u64) -> u64 {
        hash
    }
}

/// `RaftProcess` with bug `B`.
pub struct Faulty<B>(pub RaftProcess, PhantomData<B>);

impl<B: Bug> Process for Faulty<B> {
    type Config = RaftProcessConfig;
    type Request = KvRequest;
    type Response = KvResponse;
    fn restore(config: RaftProcessConfig, mut durable: DurableState) -> Result<Self, RestoreError> {
        B::restore(&mut durable);
        RaftProcess::restore(config, durable).map(|p| Faulty(p, PhantomData))
    }
    fn tick(&mut self) {
        self.0.tick()
    }
    fn receive(&mut self, msg: Message) {
        self.0.receive(msg)
    }
    fn request(&mut self, id: RequestId, request: KvRequest) {
        self.0.request(id, request)
    }
    fn persisted(&mut self, sync: SyncId) {
        self.0.persisted(sync)
    }
    fn drain(&mut self, out: &mut Vec<Effect<KvResponse>>) {
        self.0.drain(out)
    }
    fn status(&self) -> Status {
        self.0.status()
    }
    fn entry(&self, index: Index) -> Option<&Entry> {
        self.0.entry(index)
    }
    fn state_hash(&self) -> u64 {
        B::state_hash(&self.0, self.0.state_hash())
    }
}

/// Forgets its vote when it restarts: the bug §5.2's durable vote guards against.
pub struct ForgetsVote;

impl Bug for ForgetsVote {
    fn restore(durable: &mut DurableState) {
        durable.hard_state.vote = None;
    }
}

/// Node 2's state machine goes wrong after index 5.
pub struct DivergesOnNode2;

impl Bug for DivergesOnNode2 {
    fn state_hash(p: &RaftProcess, hash: u64) -> u64 {
        let wrong = p.status().id == 2 && p.status().applied > 5;
        hash ^ u64::from(wrong)
    }
}
