//! Hosts: each member's process, disk and clock. Starting, crashing and restarting a
//! member, its ticks and clock faults, and pumping its effects through the core's
//! outbox (persists to its disk, sends held until their persist is durable).

use super::events::SimEvent;
use super::stepping::{small, Event};
use super::{NodeSetup, World};
use crate::clock::Clock;
use crate::disk::Disk;
use crate::rng::{stream, Component};
use crate::types_ext::{Index, NodeId, SyncId};
use detcd_core::outbox::Outbox;
use detcd_core::process::{Effect, Process};
use rand::Rng;

/// One member: its process (None while crashed), disk and clock.
pub(super) struct Slot<P> {
    pub(super) id: NodeId,
    /// A spare not yet added, or a member removed: runs nothing, never restarts.
    pub(super) absent: bool,
    /// Started by a membership change (joins a running cluster).
    pub(super) joining: bool,
    /// The configuration last seen here, to record changes.
    pub(super) conf_seen: Option<detcd_core::types::ConfState>,
    pub(super) process: Option<P>,
    pub(super) incarnation: u64,
    pub(super) disk: Disk,
    pub(super) clock: Clock,
    /// Sends waiting for their persist, and what this incarnation acknowledged.
    pub(super) outbox: Outbox,
    /// The commit index last seen in this incarnation's status, so a `commit` event
    /// marks only an advance.
    pub(super) commit_seen: Index,
    /// This member's own fsync latency while a slow-disk fault lasts.
    pub(super) fsync: Option<crate::options::LatencyDist>,
    /// A disk that turns slow stalls: no fsync completes before this time, not even one
    /// already in flight when it turned slow.
    pub(super) stall_until_us: u64,
    /// The leader this member believed in when last observed (operator log).
    pub(super) leader_seen: Option<NodeId>,
}

/// The seed of one node incarnation: independent of the order nodes restart in.
pub(super) fn node_seed(run_seed: u64, id: NodeId, incarnation: u64) -> u64 {
    let mut rng = stream(run_seed, Component::NodeSeeds);
    rng.set_word_pos(u128::from(id) << 40 | u128::from(incarnation) << 8);
    rng.gen()
}

impl<P: Process> World<P> {
    /// How many times `node` has restarted (0 before its first crash).
    pub fn incarnation(&self, node: NodeId) -> u64 {
        self.slot_index(node).map_or(0, |i| self.nodes[i].incarnation)
    }

    pub(super) fn crash(&mut self, i: usize) {
        let torn = self.options.disk.torn_writes;
        let slot = &mut self.nodes[i];
        if slot.process.take().is_none() {
            return;
        }
        slot.incarnation += 1;
        slot.clock.generation += 1;
        slot.outbox.crash();
        let loss = slot.disk.crash(&mut self.rng_disk, torn);
        let id = slot.id;
        if loss.torn_entries > 0 {
            self.safety.promises.torn(id);
        }
        self.stats.crashes += 1;
        self.operator.disturbed(self.now_us);
        self.operator.down(id, self.now_us);
        // A lying disk acknowledged every write it then lost.
        let acknowledged_lost = if self.options.disk.lying_fsync { loss.lost_ops } else { 0 };
        self.emit(SimEvent::Crash {
            node: id,
            lost_ops: loss.lost_ops,
            acknowledged_lost,
            survived_ops: loss.survived_ops,
            torn_entries: loss.torn_entries,
        });
        self.break_streams(id);
    }

    pub(super) fn restart(&mut self, i: usize) {
        if self.nodes[i].process.is_some() || self.nodes[i].absent {
            return;
        }
        self.stats.restarts += 1;
        self.emit(SimEvent::Restart { node: self.nodes[i].id });
        self.start(i);
    }

    /// Builds the process of slot `i` from its durable state and starts its clock.
    pub(super) fn start(&mut self, i: usize) {
        let voters: Vec<NodeId> = (1..=self.options.nodes).collect();
        let slot = &mut self.nodes[i];
        let setup = NodeSetup {
            id: slot.id,
            voters,
            joining: slot.joining,
            seed: node_seed(self.options.seed, slot.id, slot.incarnation),
            incarnation: slot.incarnation,
        };
        let config = (self.factory)(&setup);
        // The simulated disk is ours: what it holds restores, or there is a bug.
        let process = P::restore_own(config, slot.disk.durable.clone());
        // What the node recovers from its disk was committed before: not news.
        slot.commit_seen = process.status().commit;
        slot.process = Some(process);
        self.safety.restarted(slot.id);
        let phase = self.rng_clocks.gen_range(0..slot.clock.period_us(self.options.clock.tick_us));
        let generation = slot.clock.generation;
        self.queue.push(
            self.now_us + phase + 1,
            Event::Tick { node: small(i as u64), generation: small(generation) },
        );
        self.operator.disturbed(self.now_us);
        self.operator.up(self.nodes[i].id);
        self.pump(i);
        self.check(i);
    }

    pub(super) fn set_clock_rate(&mut self, i: usize, rate_permille: u32) {
        let slot = &mut self.nodes[i];
        slot.clock.set_rate(rate_permille);
        let rate_permille = slot.clock.rate_permille;
        let node = slot.id;
        self.emit(SimEvent::ClockSkew { node, rate_permille });
        let slot = &self.nodes[i];
        if slot.process.is_some() {
            let period = slot.clock.period_us(self.options.clock.tick_us);
            let generation = slot.clock.generation;
            self.queue.push(
                self.now_us + period,
                Event::Tick { node: small(i as u64), generation: small(generation) },
            );
        }
    }

    pub(super) fn clock_jump(&mut self, i: usize, ticks: u32) {
        let id = self.nodes[i].id;
        self.emit(SimEvent::ClockJump { node: id, ticks });
        for _ in 0..ticks {
            let slot = &mut self.nodes[i];
            let Some(p) = slot.process.as_mut() else { return };
            slot.clock.ticks += 1;
            p.tick();
            self.pump(i);
            self.check(i);
        }
    }

    pub(super) fn on_tick(&mut self, i: usize, generation: u64) {
        let tick_us = self.options.clock.tick_us;
        let now = self.now_us;
        let slot = &mut self.nodes[i];
        if slot.clock.generation != generation {
            return;
        }
        if slot.process.is_none() {
            return;
        }
        slot.clock.ticks += 1;
        self.stats.ticks += 1;
        let id = slot.id;
        let next = now + slot.clock.period_us(tick_us);
        self.queue.push(next, Event::Tick { node: small(i as u64), generation: small(generation) });
        self.emit(SimEvent::Tick { node: id });
        self.nodes[i].process.as_mut().expect("checked running").tick();
        self.pump(i);
        self.check(i);
    }

    pub(super) fn on_fsync(&mut self, i: usize, incarnation: u64, sync: SyncId, ack: bool) {
        let slot = &mut self.nodes[i];
        if slot.incarnation != incarnation || slot.process.is_none() {
            return;
        }
        if slot.stall_until_us > self.now_us {
            // Fsyncs complete in request order: each waits out the stall in turn.
            let (node, incarnation) = (small(i as u64), small(incarnation));
            let at = slot.stall_until_us;
            self.queue.push(at, Event::Fsync { node, incarnation, sync, ack });
            return;
        }
        slot.disk.fsync_done(sync);
        let id = slot.id;
        if self.options.check_raft_safety {
            if let Some(kind) = self.safety.promises.persisted(id, &slot.disk.durable) {
                self.flag(id, kind);
            }
        }
        self.emit(SimEvent::Persisted { node: id, sync });
        if ack {
            self.acknowledge(i, sync);
        }
    }

    /// Tells the process `sync` is durable and releases the sends waiting for it.
    pub(super) fn acknowledge(&mut self, i: usize, sync: SyncId) {
        let slot = &mut self.nodes[i];
        let mut released = std::mem::take(&mut self.released);
        slot.outbox.persisted(sync, &mut released);
        slot.process.as_mut().expect("running").persisted(sync);
        let any = !released.is_empty();
        for msg in released.drain(..) {
            self.send(msg);
        }
        self.released = released;
        self.pump(i);
        self.check(i);
        if any {
            let id = self.nodes[i].id;
            self.moment(crate::nemesis::Moment::Released, id);
        }
    }

    /// Carries out the effects the process of slot `i` has pending, in order.
    pub(super) fn pump(&mut self, i: usize) {
        let mut effects = std::mem::take(&mut self.effects);
        let Some(p) = self.nodes[i].process.as_mut() else { return };
        p.drain(&mut effects);
        for effect in effects.drain(..) {
            match effect {
                Effect::Send { msg, after } => {
                    if self.options.check_raft_safety {
                        self.check_pre_vote(i, &msg);
                    }
                    if let Some(msg) = self.nodes[i].outbox.send(msg, after) {
                        self.send(msg);
                    }
                }
                Effect::Persist(op) => self.persist(i, op),
                Effect::Respond { id, response } => self.respond(i, id, response),
            }
        }
        self.effects = effects;
    }

    /// A pre-vote grant promises the granter's vote (`crate::pre_vote`): checked as it
    /// leaves the member, against the state it was decided in, before the outbox could
    /// hold it behind a persist.
    fn check_pre_vote(&mut self, i: usize, msg: &detcd_core::raft::Message) {
        if !matches!(msg.body, detcd_core::raft::MessageBody::PreVoteResponse { reject: false }) {
            return;
        }
        let Some(p) = self.nodes[i].process.as_ref() else { return };
        if let Some(kind) = crate::pre_vote::granted(msg, &p.status()) {
            self.flag(msg.from, kind);
        }
    }

    pub(super) fn persist(&mut self, i: usize, op: detcd_core::types::PersistOp) {
        let now = self.now_us;
        let fsync = self.nodes[i].fsync.unwrap_or(self.options.disk.fsync);
        let latency = fsync.sample(&mut self.rng_disk);
        let lying = self.options.disk.lying_fsync;
        let slot = &mut self.nodes[i];
        let (sync, entries) = (op.sync, op.entries.len() as u64);
        let overwrites = !self.armed.is_empty() && slot.disk.overwrites(&op);
        let done_us = slot.disk.write(op, now, latency);
        let incarnation = slot.incarnation;
        self.stats.persists += 1;
        let node = slot.id;
        self.emit(SimEvent::Persist { node, sync, entries });
        if lying {
            self.queue.push(
                now,
                Event::Ack { node: small(i as u64), incarnation: small(incarnation), sync },
            );
        }
        self.queue.push(
            done_us,
            Event::Fsync {
                node: small(i as u64),
                incarnation: small(incarnation),
                sync,
                ack: !lying,
            },
        );
        if overwrites {
            self.moment(crate::nemesis::Moment::Truncated, node);
        }
    }
}
