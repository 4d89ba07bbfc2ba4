//! Faults: the schedule, carrying out each fault (partitions, crashes, restarts, clock
//! skew and jumps, network rates, leader transfers, client pauses), healing them all,
//! and the nemesis randomness that resolves random and leader targets.

use super::events::SimEvent;
use super::stepping::{small, Event};
use super::World;
use crate::clock::Clock;
use crate::nemesis::{FaultAction, FaultSchedule, PartitionShape, Target};
use crate::network::resolve_shape;
use crate::rng::{stream, Component};
use crate::types_ext::{ClientId, NodeId};
use detcd_core::process::Process;
use rand::Rng;
use rand_chacha::ChaCha8Rng;

impl<P: Process> World<P> {
    /// Schedules every fault of `schedule` (times are true time from the run's start).
    pub fn schedule(&mut self, schedule: &FaultSchedule) {
        for f in &schedule.faults {
            self.faults.push(Some(f.action.clone()));
            let index = self.faults.len() - 1;
            self.queue
                .push_far(f.at_us.max(self.now_us), Event::Fault { index: small(index as u64) });
        }
        self.banner.faults_scheduled += schedule.faults.len();
    }

    /// Carries out one fault now.
    pub fn apply_fault(&mut self, action: &FaultAction) {
        let now = self.now_us;
        // A membership or transfer request is judged by how long the cluster was quiet
        // before it; it disturbs the cluster itself once made.
        if !matches!(action, FaultAction::Membership { .. } | FaultAction::TransferLeader { .. }) {
            self.operator.disturbed(now);
        }
        match action {
            FaultAction::Partition { shape: PartitionShape::LeaderQuorum } => {
                let shape = self.leader_quorum();
                self.apply_fault(&FaultAction::Partition { shape });
            }
            FaultAction::Partition { shape } => {
                let nodes = self.node_ids();
                let leader = self.leader();
                let mut rng =
                    std::mem::replace(&mut self.rng_nemesis, stream(0, Component::Nemesis));
                let links = {
                    let this = &*self;
                    resolve_shape(shape, &nodes, leader, |t, r| this.resolve_target(t, r), &mut rng)
                };
                self.rng_nemesis = rng;
                self.network.set_cut(&links);
                self.note_links();
                let cut = self.network.cut_links() as u64;
                self.emit(SimEvent::Partition { cut_links: cut, shape: shape.clone() });
            }
            FaultAction::Heal => self.heal_network(),
            FaultAction::Crash { node } => {
                if let Some(i) = self.target_index(node) {
                    self.crash(i);
                }
            }
            FaultAction::Restart { node } => {
                if let Some(i) = self.target_index(node) {
                    self.restart(i);
                }
            }
            FaultAction::RestartAll => {
                for i in 0..self.nodes.len() {
                    self.restart(i);
                }
            }
            FaultAction::ClockSkew { node, rate_permille } => {
                if let Some(i) = self.target_index(node) {
                    self.set_clock_rate(i, *rate_permille);
                }
            }
            FaultAction::ClockJump { node, ticks } => {
                if let Some(i) = self.target_index(node) {
                    self.clock_jump(i, *ticks);
                }
            }
            FaultAction::ClockReset => {
                for i in 0..self.nodes.len() {
                    if self.nodes[i].clock.rate_permille != Clock::RATE_TRUE {
                        self.set_clock_rate(i, Clock::RATE_TRUE);
                    }
                }
            }
            FaultAction::Network { drop_rate, duplicate_rate, reorder_rate, latency } => {
                let o = &mut self.network.options;
                o.drop_rate = *drop_rate;
                o.duplicate_rate = *duplicate_rate;
                o.reorder_rate = *reorder_rate;
                if let Some(l) = latency {
                    o.latency = *l;
                }
                let (drop_rate, duplicate_rate, reorder_rate) =
                    (*drop_rate, *duplicate_rate, *reorder_rate);
                self.emit(SimEvent::NetworkRates { drop_rate, duplicate_rate, reorder_rate });
            }
            FaultAction::TransferLeader { to } => {
                let quiet_us = self.operator.quiet_us(now);
                self.operator.disturbed(now);
                if let Some(request) = self.transfer_request {
                    let (Some(leader), Some(i)) = (self.leader(), self.target_index(to)) else {
                        return;
                    };
                    let target = self.nodes[i].id;
                    let req = (request.build)(target);
                    let target_ready = self.transfer_ready(leader, target);
                    let id = self.submit(super::OPERATOR_CLIENT, leader, req, request.timeout_us);
                    let record = super::TransferRecord {
                        at_us: now,
                        request: id,
                        leader,
                        target,
                        quiet_us,
                        target_ready,
                    };
                    self.operator.transfer(record);
                    return;
                }
                let (Some(hook), Some(leader)) = (self.transfer, self.leader()) else { return };
                let Some(to) = self.target_index(to).map(|i| self.nodes[i].id) else { return };
                let li = self.slot_index(leader).expect("leader is a member");
                let accepted = hook(self.nodes[li].process.as_mut().expect("leader runs"), to);
                self.emit(SimEvent::TransferLeader { leader, to, accepted });
                self.pump(li);
                self.check(li);
            }
            FaultAction::Membership { change } => self.change_membership(change),
            FaultAction::SlowLinks { from, extra_us } => {
                if *extra_us == 0 {
                    self.network.clear_slow();
                    self.emit(SimEvent::SlowLinks { from: 0, extra_us: 0 });
                } else if let Some(i) = self.target_index(from) {
                    let from = self.nodes[i].id;
                    self.network.set_slow(from, *extra_us);
                    self.emit(SimEvent::SlowLinks { from, extra_us: *extra_us });
                }
            }
            FaultAction::DiskLatency { node, fsync } => {
                if let Some(i) = self.target_index(node) {
                    self.nodes[i].fsync = *fsync;
                    // Turning slow stalls the fsyncs already in flight too.
                    self.nodes[i].stall_until_us = match fsync {
                        Some(f) => now + f.sample(&mut self.rng_disk),
                        None => 0,
                    };
                    let node = self.nodes[i].id;
                    let fsync_max_us = fsync.map_or(0, |f| f.tail_max_us.max(f.max_us));
                    self.emit(SimEvent::SlowDisk { node, fsync_max_us });
                }
            }
            FaultAction::Arm { moment, for_us, then } => self.arm(*moment, *for_us, then),
            FaultAction::PauseClient { client, duration_us } => {
                let Some(client) = self.pauses.resolve(*client) else { return };
                self.pauses.pause(client, now, *duration_us);
                self.emit(SimEvent::ClientPause { client, duration_us: *duration_us });
            }
        }
    }

    /// Names the client that holds a lock now, as the workload sees it: the one a
    /// `ClientTarget::LockHolder` pause hits.
    pub fn set_lock_holder(&mut self, client: Option<ClientId>) {
        self.pauses.set_holder(client);
    }

    /// When `client`'s stop-the-world pause ends, if it is paused now.
    pub fn paused_until(&self, client: ClientId) -> Option<u64> {
        self.pauses.paused_until(client, self.now_us)
    }

    pub(super) fn resolve_target(&self, target: &Target, rng: &mut ChaCha8Rng) -> Option<NodeId> {
        match target {
            Target::Node(id) => self.slot_index(*id).map(|i| self.nodes[i].id),
            Target::Leader => self.leader(),
            // Bound to a node when an armed fault fires; unbound it names no one.
            Target::Subject => None,
            Target::Random => {
                let ids = self.node_ids();
                Some(ids[rng.gen_range(1..=ids.len()) - 1])
            }
        }
    }

    pub(super) fn target_index(&mut self, target: &Target) -> Option<usize> {
        let mut rng = std::mem::replace(&mut self.rng_nemesis, stream(0, Component::Nemesis));
        let id = self.resolve_target(target, &mut rng);
        self.rng_nemesis = rng;
        id.and_then(|id| self.slot_index(id))
    }

    /// `LeaderQuorum` as groups: the leader and, drawn from the nodes it reaches now,
    /// followers until a bare majority; every other node alone. No leader: no cut.
    fn leader_quorum(&mut self) -> PartitionShape {
        let nodes = self.node_ids();
        let Some(leader) = self.leader() else { return PartitionShape::Links { blocked: vec![] } };
        let mut reach: Vec<NodeId> = nodes
            .iter()
            .copied()
            .filter(|&n| n != leader && !self.network.is_cut(leader, n))
            .collect();
        let mut group = vec![leader];
        let majority = nodes.len() / 2 + 1;
        while group.len() < majority && !reach.is_empty() {
            let k = self.rng_nemesis.gen_range(0..reach.len());
            group.push(reach.remove(k));
        }
        group.sort_unstable();
        PartitionShape::Groups { groups: vec![group] }
    }

    pub(super) fn heal_network(&mut self) {
        self.network.heal();
        self.note_links();
        self.emit(SimEvent::Heal);
    }

    /// Cancels every scheduled fault that has not happened yet.
    pub fn cancel_faults(&mut self) {
        let cancelled = self.faults.iter_mut().filter_map(Option::take).count() as u64;
        self.emit(SimEvent::FaultsCancelled { cancelled });
    }

    /// Ends every fault: scheduled ones cancelled, partitions healed, network rates zero,
    /// latency back to the run's configured distribution (no delay spike), clocks true,
    /// every crashed node restarted, slow links and slow disks back to normal, nothing
    /// armed. The run's disk settings stay.
    pub fn heal_all(&mut self) {
        self.cancel_faults();
        self.armed.clear();
        self.heal_network();
        if self.network.has_slow() {
            self.apply_fault(&FaultAction::SlowLinks { from: Target::Leader, extra_us: 0 });
        }
        for i in 0..self.nodes.len() {
            if self.nodes[i].fsync.is_some() {
                let node = Target::Node(self.nodes[i].id);
                self.apply_fault(&FaultAction::DiskLatency { node, fsync: None });
            }
        }
        let action = FaultAction::Network {
            drop_rate: 0.0,
            duplicate_rate: 0.0,
            reorder_rate: 0.0,
            latency: Some(self.options.network.latency),
        };
        self.apply_fault(&action);
        self.apply_fault(&FaultAction::ClockReset);
        self.apply_fault(&FaultAction::RestartAll);
    }
}
