//! Events: the one typed record of everything the world does (`SimEvent`), written
//! once by `World::emit` to its three readers: the trace hash, `tracing` (target
//! `detcd_sim`), and, when `WorldOptions::event_log_max` asks for it, the world's event
//! log that the harness's step log and time line read. Also safety observation of a
//! member after each step, which yields its role-change and commit events.

use super::{World, TARGET};
use crate::nemesis::PartitionShape;
use crate::safety::{Violation, ViolationKind};
use crate::trace::EventKind;
use crate::types_ext::{ClientId, Index, NodeId, RequestId, SyncId, Term};
use detcd_core::process::Process;
use detcd_core::raft::{Message, MessageBody, Role, RoleReason};
use std::fmt;
use tracing::{debug, info, trace, warn};

/// Most violations after the first that a run going on after one logs.
const LATER_VIOLATIONS_LOGGED_MAX: u64 = 20;

/// What the world needs of a message to describe it: who, what kind, which term, and
/// how an answer went.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MsgHead {
    pub from: NodeId,
    pub to: NodeId,
    pub term: Term,
    /// The message kind's name, e.g. `vote_response` (see `Message::kind`).
    pub kind: &'static str,
    /// Vote and pre-vote answers are `granted` or `rejected`, append answers `ok` or
    /// `rejected`; other messages have none.
    pub detail: Option<&'static str>,
    /// A small number per kind, mixed into the trace hash.
    code: u64,
}

impl MsgHead {
    /// A head by parts, for tests and tools; `kind` is a `Message::kind` name.
    pub fn new(
        from: NodeId,
        to: NodeId,
        term: Term,
        kind: &'static str,
        detail: Option<&'static str>,
    ) -> Self {
        const KINDS: [&str; 13] = [
            "pre_vote",
            "pre_vote_response",
            "vote",
            "vote_response",
            "append",
            "append_response",
            "heartbeat",
            "heartbeat_response",
            "install_snapshot",
            "propose",
            "read_index",
            "read_index_response",
            "timeout_now",
        ];
        let code = KINDS.iter().position(|k| *k == kind).map_or(0, |i| i as u64 + 1);
        MsgHead { from, to, term, kind, detail, code }
    }

    pub fn of(msg: &Message) -> Self {
        MsgHead {
            from: msg.from,
            to: msg.to,
            term: msg.term,
            kind: msg.kind(),
            detail: msg_detail(msg),
            code: msg_code(msg),
        }
    }
}

/// Why a message never arrived.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DropReason {
    /// The link was cut when the message was sent.
    CutAtSend,
    /// The network lost it at random when it was sent.
    Random,
    /// The link was cut while the message was in flight.
    CutInFlight,
    /// The receiver was down when the message arrived.
    ReceiverDown,
}

impl DropReason {
    /// Dropped at the sender, before any delivery was scheduled.
    pub fn at_send(self) -> bool {
        matches!(self, DropReason::CutAtSend | DropReason::Random)
    }

    pub fn word(self) -> &'static str {
        match self {
            DropReason::CutAtSend | DropReason::CutInFlight => "partitioned",
            DropReason::Random => "random",
            DropReason::ReceiverDown => "crashed",
        }
    }

    /// The word mixed into the trace hash (in-flight drops share one).
    fn code(self) -> u64 {
        match self {
            DropReason::CutAtSend => 0,
            DropReason::CutInFlight | DropReason::ReceiverDown => 1,
            DropReason::Random => 2,
        }
    }
}

/// One thing that happened in the world. Every event goes through `World::emit`.
#[derive(Clone, Debug, PartialEq)]
pub enum SimEvent {
    Tick {
        node: NodeId,
    },
    Send {
        msg: MsgHead,
    },
    Deliver {
        msg: MsgHead,
    },
    Drop {
        msg: MsgHead,
        reason: DropReason,
    },
    /// A second copy of the message just sent will arrive after `delay_us`.
    Duplicate {
        msg: MsgHead,
        delay_us: u64,
    },
    /// The message just sent is held back `delay_us`, so later ones overtake it.
    Reorder {
        msg: MsgHead,
        delay_us: u64,
    },
    /// `reason` says why (not hashed: it explains, the role itself is what happened).
    RoleChange {
        node: NodeId,
        role: Role,
        term: Term,
        leader: Option<NodeId>,
        reason: RoleReason,
    },
    /// The member's commit index advanced to `index`; `term` is its current term.
    Commit {
        node: NodeId,
        index: Index,
        term: Term,
    },
    Persist {
        node: NodeId,
        sync: SyncId,
        entries: u64,
    },
    Persisted {
        node: NodeId,
        sync: SyncId,
    },
    Crash {
        node: NodeId,
        lost_ops: usize,
        /// Of the lost writes, those the disk had acknowledged as durable: all of them
        /// on a disk whose fsync lies, none otherwise.
        acknowledged_lost: usize,
        survived_ops: usize,
        torn_entries: usize,
    },
    Restart {
        node: NodeId,
    },
    Partition {
        cut_links: u64,
        shape: PartitionShape,
    },
    Heal,
    NetworkRates {
        drop_rate: f64,
        duplicate_rate: f64,
        reorder_rate: f64,
    },
    ClockSkew {
        node: NodeId,
        rate_permille: u32,
    },
    ClockJump {
        node: NodeId,
        ticks: u32,
    },
    TransferLeader {
        leader: NodeId,
        to: NodeId,
        accepted: bool,
    },
    /// The membership nemesis asked `leader` for `change` (0: there was no leader);
    /// `refused` says why it was not proposed.
    Membership {
        leader: NodeId,
        change: String,
        refused: Option<String>,
    },
    /// A spare host started as a joining member.
    HostAdded {
        node: NodeId,
    },
    /// A removed member's host stopped for good.
    HostRemoved {
        node: NodeId,
    },
    /// `node` runs with a new configuration (`joint` while C_old,new is in force).
    ConfChange {
        node: NodeId,
        conf: String,
        joint: bool,
    },
    FaultsCancelled {
        cancelled: u64,
    },
    ClientPause {
        client: ClientId,
        duration_us: u64,
    },
    /// Messages `from` sends are held `extra_us` longer (0: every slow link ends).
    SlowLinks {
        from: NodeId,
        extra_us: u64,
    },
    /// `node`'s fsyncs take up to `fsync_max_us` (0: back to the run's disk).
    SlowDisk {
        node: NodeId,
        fsync_max_us: u64,
    },
    /// A fault was armed to wait up to `for_us` for `moment` (`accepted` false: too many
    /// were armed already, this one was dropped).
    Armed {
        moment: crate::nemesis::Moment,
        for_us: u64,
        accepted: bool,
    },
    /// An armed fault fired at `node`: `faults` faults scheduled from now.
    Fired {
        moment: crate::nemesis::Moment,
        node: NodeId,
        faults: u64,
    },
    ClientInvoke {
        request: RequestId,
        client: ClientId,
        node: NodeId,
    },
    /// An answer to a request, or one more answer on a stream.
    ClientComplete {
        request: RequestId,
        client: ClientId,
        node: NodeId,
        stream: bool,
    },
    ClientTimeout {
        request: RequestId,
        client: ClientId,
        node: NodeId,
    },
    /// An answer that came after its request had timed out (nobody hears it).
    ClientLateResponse {
        request: RequestId,
        node: NodeId,
    },
    /// A sentence a workload tells about one of its clients (the lock story).
    ClientNote {
        client: ClientId,
        text: String,
    },
    Violation(Violation),
}

/// An event and the true time it happened at.
#[derive(Clone, Debug, PartialEq)]
pub struct Stamped {
    pub at_us: u64,
    pub event: SimEvent,
}

impl SimEvent {
    /// The event's name, as its `tracing` message.
    pub fn name(&self) -> &'static str {
        match self {
            SimEvent::Tick { .. } => "tick",
            SimEvent::Send { .. } => "send",
            SimEvent::Deliver { .. } => "deliver",
            SimEvent::Drop { .. } => "drop",
            SimEvent::Duplicate { .. } => "duplicate",
            SimEvent::Reorder { .. } => "reorder",
            SimEvent::RoleChange { .. } => "role_change",
            SimEvent::Commit { .. } => "commit",
            SimEvent::Persist { .. } => "persist",
            SimEvent::Persisted { .. } => "persisted",
            SimEvent::Crash { .. } => "crash",
            SimEvent::Restart { .. } => "restart",
            SimEvent::Partition { .. } => "partition",
            SimEvent::Heal => "heal",
            SimEvent::NetworkRates { .. } => "network_rates",
            SimEvent::ClockSkew { .. } => "clock_skew",
            SimEvent::ClockJump { .. } => "clock_jump",
            SimEvent::TransferLeader { .. } => "transfer_leader",
            SimEvent::Membership { .. } => "membership",
            SimEvent::HostAdded { .. } => "host_added",
            SimEvent::HostRemoved { .. } => "host_removed",
            SimEvent::ConfChange { .. } => "conf_change",
            SimEvent::FaultsCancelled { .. } => "faults_cancelled",
            SimEvent::ClientPause { .. } => "client_pause",
            SimEvent::SlowLinks { .. } => "slow_links",
            SimEvent::SlowDisk { .. } => "slow_disk",
            SimEvent::Armed { .. } => "armed",
            SimEvent::Fired { .. } => "fired",
            SimEvent::ClientInvoke { .. } => "client_invoke",
            SimEvent::ClientComplete { stream: false, .. } => "client_complete",
            SimEvent::ClientComplete { stream: true, .. } => "stream_response",
            SimEvent::ClientTimeout { .. } => "client_timeout",
            SimEvent::ClientLateResponse { .. } => "client_late_response",
            SimEvent::ClientNote { .. } => "lock",
            SimEvent::Violation(_) => "violation",
        }
    }

    /// The member the event happens at, if one: a message's sender (its receiver for a
    /// delivery), a fault's target, a client request's member.
    pub fn node(&self) -> Option<NodeId> {
        match self {
            SimEvent::Send { msg }
            | SimEvent::Drop { msg, .. }
            | SimEvent::Duplicate { msg, .. }
            | SimEvent::Reorder { msg, .. } => Some(msg.from),
            SimEvent::Deliver { msg } => Some(msg.to),
            SimEvent::Tick { node }
            | SimEvent::RoleChange { node, .. }
            | SimEvent::Commit { node, .. }
            | SimEvent::Persist { node, .. }
            | SimEvent::Persisted { node, .. }
            | SimEvent::Crash { node, .. }
            | SimEvent::Restart { node }
            | SimEvent::ClockSkew { node, .. }
            | SimEvent::ClockJump { node, .. }
            | SimEvent::ClientInvoke { node, .. }
            | SimEvent::ClientComplete { node, .. }
            | SimEvent::ClientTimeout { node, .. }
            | SimEvent::ClientLateResponse { node, .. }
            | SimEvent::SlowDisk { node, .. }
            | SimEvent::Fired { node, .. } => Some(*node),
            SimEvent::SlowLinks { from, .. } => Some(*from),
            SimEvent::TransferLeader { leader, .. } | SimEvent::Membership { leader, .. } => {
                Some(*leader)
            }
            SimEvent::HostAdded { node }
            | SimEvent::HostRemoved { node }
            | SimEvent::ConfChange { node, .. } => Some(*node),
            SimEvent::Violation(v) => Some(v.node),
            SimEvent::Partition { .. }
            | SimEvent::Heal
            | SimEvent::NetworkRates { .. }
            | SimEvent::FaultsCancelled { .. }
            | SimEvent::ClientPause { .. }
            | SimEvent::Armed { .. }
            | SimEvent::ClientNote { .. } => None,
        }
    }

    /// What the trace hash mixes for this event: its kind and up to four words. Events
    /// no one can observe in the cluster (late answers, notes, violations) are not
    /// hashed.
    fn hash_words(&self) -> Option<(EventKind, [u64; 4], usize)> {
        let w = |kind, words: &[u64]| {
            let mut out = [0; 4];
            out[..words.len()].copy_from_slice(words);
            Some((kind, out, words.len()))
        };
        let msg4 = |m: &MsgHead, last: u64| [m.from, m.to, m.code, last];
        match self {
            SimEvent::Tick { node } => w(EventKind::Tick, &[*node]),
            SimEvent::Send { msg } => w(EventKind::Send, &msg4(msg, msg.term)),
            SimEvent::Deliver { msg } => w(EventKind::Deliver, &msg4(msg, msg.term)),
            SimEvent::Drop { msg, reason } => w(EventKind::Drop, &msg4(msg, reason.code())),
            SimEvent::Duplicate { msg, delay_us } => w(EventKind::Duplicate, &msg4(msg, *delay_us)),
            SimEvent::Reorder { msg, delay_us } => w(EventKind::Reorder, &msg4(msg, *delay_us)),
            SimEvent::RoleChange { node, role, term, leader, .. } => {
                w(EventKind::RoleChange, &[*node, *role as u64, *term, leader.unwrap_or(0)])
            }
            SimEvent::Commit { node, index, term } => w(EventKind::Commit, &[*node, *index, *term]),
            SimEvent::Persist { node, sync, entries } => {
                w(EventKind::Persist, &[*node, *sync, *entries])
            }
            SimEvent::Persisted { node, sync } => w(EventKind::Persisted, &[*node, *sync]),
            SimEvent::Crash { node, lost_ops, survived_ops, torn_entries, .. } => w(
                EventKind::Crash,
                &[*node, *lost_ops as u64, *survived_ops as u64, *torn_entries as u64],
            ),
            SimEvent::Restart { node } => w(EventKind::Restart, &[*node]),
            SimEvent::Partition { cut_links, .. } => w(EventKind::Partition, &[*cut_links]),
            SimEvent::Heal => w(EventKind::Heal, &[]),
            SimEvent::NetworkRates { drop_rate, duplicate_rate, reorder_rate } => w(
                EventKind::NetworkRates,
                &[drop_rate.to_bits(), duplicate_rate.to_bits(), reorder_rate.to_bits()],
            ),
            SimEvent::ClockSkew { node, rate_permille } => {
                w(EventKind::ClockSkew, &[*node, u64::from(*rate_permille)])
            }
            SimEvent::ClockJump { node, ticks } => {
                w(EventKind::ClockJump, &[*node, u64::from(*ticks)])
            }
            SimEvent::TransferLeader { leader, to, accepted } => {
                w(EventKind::TransferLeader, &[*leader, *to, u64::from(*accepted)])
            }
            SimEvent::Membership { leader, refused, .. } => {
                w(EventKind::Membership, &[*leader, u64::from(refused.is_some())])
            }
            SimEvent::HostAdded { node } => w(EventKind::HostAdded, &[*node]),
            SimEvent::HostRemoved { node } => w(EventKind::HostRemoved, &[*node]),
            SimEvent::ConfChange { node, joint, .. } => {
                w(EventKind::ConfChange, &[*node, u64::from(*joint)])
            }
            SimEvent::FaultsCancelled { cancelled } => w(EventKind::FaultsCancelled, &[*cancelled]),
            SimEvent::ClientPause { client, duration_us } => {
                w(EventKind::ClientPause, &[*client, *duration_us])
            }
            SimEvent::SlowLinks { from, extra_us } => w(EventKind::SlowLinks, &[*from, *extra_us]),
            SimEvent::SlowDisk { node, fsync_max_us } => {
                w(EventKind::SlowDisk, &[*node, *fsync_max_us])
            }
            SimEvent::Armed { moment, for_us, accepted } => {
                w(EventKind::Armed, &[*moment as u64, *for_us, u64::from(*accepted)])
            }
            SimEvent::Fired { moment, node, faults } => {
                w(EventKind::Fired, &[*moment as u64, *node, *faults])
            }
            SimEvent::ClientInvoke { request, client, node } => {
                w(EventKind::ClientInvoke, &[*request, *client, *node])
            }
            SimEvent::ClientComplete { request, client, node, .. } => {
                w(EventKind::ClientComplete, &[*request, *client, *node])
            }
            SimEvent::ClientTimeout { request, client, node } => {
                w(EventKind::ClientTimeout, &[*request, *client, *node])
            }
            SimEvent::ClientLateResponse { .. }
            | SimEvent::ClientNote { .. }
            | SimEvent::Violation(_) => None,
        }
    }

    /// Writes the event to `tracing` with structured fields (`t_us`, `node`, `peer`,
    /// `kind`, `term`, ...): faults and role changes at INFO, ticks at TRACE, the rest
    /// at DEBUG.
    fn trace(&self, t_us: u64) {
        let name = self.name();
        match self {
            SimEvent::Tick { node } => trace!(target: TARGET, t_us, node, "tick"),
            SimEvent::Send { msg } | SimEvent::Deliver { msg } => {
                // A delivery is told from the receiver's side.
                let (node, peer) =
                    if name == "send" { (msg.from, msg.to) } else { (msg.to, msg.from) };
                debug!(
                    target: TARGET,
                    t_us,
                    node,
                    peer,
                    kind = msg.kind,
                    term = msg.term,
                    detail = msg.detail,
                    "{name}"
                )
            }
            SimEvent::Drop { msg, reason } => debug!(
                target: TARGET,
                t_us,
                node = msg.from,
                peer = msg.to,
                kind = msg.kind,
                reason = reason.word(),
                "drop"
            ),
            SimEvent::Duplicate { msg, .. } => {
                debug!(target: TARGET, t_us, node = msg.from, peer = msg.to, kind = msg.kind, "duplicate")
            }
            SimEvent::Reorder { msg, delay_us } => {
                debug!(target: TARGET, t_us, node = msg.from, peer = msg.to, delay_us, "reorder")
            }
            SimEvent::RoleChange { node, role, term, leader, reason } => {
                let (leader, reason) = (leader.unwrap_or(0), reason.words());
                info!(target: TARGET, t_us, node, role = ?role, term, leader, reason, "role_change")
            }
            SimEvent::Commit { node, index, term } => {
                debug!(target: TARGET, t_us, node, index, term, "commit")
            }
            SimEvent::Persist { node, sync, entries } => {
                debug!(target: TARGET, t_us, node, sync, entries, "persist")
            }
            SimEvent::Persisted { node, sync } => {
                debug!(target: TARGET, t_us, node, sync, "persisted")
            }
            SimEvent::Crash { node, lost_ops, acknowledged_lost, survived_ops, torn_entries } => {
                info!(
                    target: TARGET,
                    t_us,
                    node,
                    lost_ops,
                    acknowledged_lost,
                    survived_ops,
                    torn_entries,
                    "crash"
                )
            }
            SimEvent::Restart { node } => info!(target: TARGET, t_us, node, "restart"),
            SimEvent::Partition { cut_links, shape } => {
                info!(target: TARGET, t_us, cut_links, shape = %shape, "partition")
            }
            SimEvent::Heal => info!(target: TARGET, t_us, "heal"),
            SimEvent::NetworkRates { drop_rate, duplicate_rate, reorder_rate } => info!(
                target: TARGET,
                t_us,
                drop_rate,
                duplicate_rate,
                reorder_rate,
                "network_rates"
            ),
            SimEvent::ClockSkew { node, rate_permille } => {
                info!(target: TARGET, t_us, node, rate_permille, "clock_skew")
            }
            SimEvent::ClockJump { node, ticks } => {
                info!(target: TARGET, t_us, node, ticks, "clock_jump")
            }
            SimEvent::TransferLeader { leader, to, accepted } => {
                info!(target: TARGET, t_us, node = leader, peer = to, accepted, "transfer_leader")
            }
            SimEvent::Membership { leader, change, refused } => {
                info!(target: TARGET, t_us, node = leader, change, refused, "membership")
            }
            SimEvent::HostAdded { node } => info!(target: TARGET, t_us, node, "host_added"),
            SimEvent::HostRemoved { node } => info!(target: TARGET, t_us, node, "host_removed"),
            SimEvent::ConfChange { node, conf, joint } => {
                info!(target: TARGET, t_us, node, conf, joint, "conf_change")
            }
            SimEvent::FaultsCancelled { cancelled } => {
                info!(target: TARGET, t_us, cancelled, "faults_cancelled")
            }
            SimEvent::ClientPause { client, duration_us } => {
                info!(target: TARGET, t_us, client, duration_us, "client_pause")
            }
            SimEvent::SlowLinks { from, extra_us } => {
                info!(target: TARGET, t_us, node = from, extra_us, "slow_links")
            }
            SimEvent::SlowDisk { node, fsync_max_us } => {
                info!(target: TARGET, t_us, node, fsync_max_us, "slow_disk")
            }
            SimEvent::Armed { moment, for_us, accepted } => {
                info!(target: TARGET, t_us, moment = %moment, for_us, accepted, "armed")
            }
            SimEvent::Fired { moment, node, faults } => {
                info!(target: TARGET, t_us, moment = %moment, node, faults, "fired")
            }
            SimEvent::ClientInvoke { request, client, node }
            | SimEvent::ClientComplete { request, client, node, .. }
            | SimEvent::ClientTimeout { request, client, node } => {
                debug!(target: TARGET, t_us, node, client, request, "{name}")
            }
            SimEvent::ClientLateResponse { request, node } => {
                debug!(target: TARGET, t_us, node, request, "client_late_response")
            }
            SimEvent::ClientNote { client, text } => {
                info!(target: "detcd_lock", t_us, client, text, "lock")
            }
            SimEvent::Violation(v) => {
                warn!(target: TARGET, t_us, node = v.node, violation = %v, "violation")
            }
        }
    }
}

impl fmt::Display for MsgHead {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}->{} {} t{}", self.from, self.to, self.kind, self.term)?;
        match self.detail {
            Some(d) => write!(f, " {d}"),
            None => Ok(()),
        }
    }
}

/// A small number per message kind, for the trace hash.
fn msg_code(msg: &Message) -> u64 {
    match msg.body {
        MessageBody::PreVote { .. } => 1,
        MessageBody::PreVoteResponse { .. } => 2,
        MessageBody::Vote { .. } => 3,
        MessageBody::VoteResponse { .. } => 4,
        MessageBody::Append { .. } => 5,
        MessageBody::AppendResponse { .. } => 6,
        MessageBody::Heartbeat { .. } => 7,
        MessageBody::HeartbeatResponse { .. } => 8,
        MessageBody::InstallSnapshot { .. } => 9,
        MessageBody::Propose { .. } => 10,
        MessageBody::ReadIndex { .. } => 11,
        MessageBody::ReadIndexResponse { .. } => 12,
        MessageBody::TimeoutNow => 13,
    }
}

/// How a response went: vote and pre-vote answers are "granted" or "rejected", append
/// answers "ok" or "rejected"; other messages have none.
fn msg_detail(msg: &Message) -> Option<&'static str> {
    let reject = match msg.body {
        MessageBody::VoteResponse { reject } | MessageBody::PreVoteResponse { reject } => {
            return Some(if reject { "rejected" } else { "granted" })
        }
        MessageBody::AppendResponse { reject, .. } => reject,
        _ => return None,
    };
    Some(if reject { "rejected" } else { "ok" })
}

impl<P: Process> World<P> {
    /// Records one event now: into the trace hash, to `tracing`, and into the event log
    /// while it is on and below its bound.
    pub(super) fn emit(&mut self, event: SimEvent) {
        let now = self.now_us;
        if let Some((kind, words, len)) = event.hash_words() {
            self.trace.record(now, kind, &words[..len]);
        }
        event.trace(now);
        // Ticks are most of a run's events and tell a reader nothing the others do not.
        let worth_keeping = !matches!(event, SimEvent::Tick { .. });
        if worth_keeping && self.events.len() < self.options.event_log_max {
            self.events.push(Stamped { at_us: now, event });
        }
    }

    /// Lets a workload tell a sentence about one of its clients, in order with the
    /// world's own events (not hashed: it changes nothing in the cluster).
    pub fn note(&mut self, client: ClientId, text: String) {
        self.emit(SimEvent::ClientNote { client, text });
    }

    /// The event log so far, every event but ticks (empty unless
    /// `WorldOptions::event_log_max` is set; it stops growing at that many events).
    pub fn events(&self) -> &[Stamped] {
        &self.events
    }

    /// Takes the event log, leaving it empty.
    pub fn take_events(&mut self) -> Vec<Stamped> {
        std::mem::take(&mut self.events)
    }

    pub(super) fn flag(&mut self, node: NodeId, kind: ViolationKind) {
        let v = Violation { at_us: self.now_us, node, kind, lost_entry: None };
        if self.violation.is_none() {
            self.set_violation(v);
        } else if self.keep_going {
            self.later_violation(v);
        }
    }

    fn set_violation(&mut self, v: Violation) {
        self.emit(SimEvent::Violation(v.clone()));
        self.violation = Some(v);
    }

    /// A violation after the first, in a run that goes on after one: logged (a few of
    /// them), counted, never the run's verdict.
    fn later_violation(&mut self, v: Violation) {
        self.later_violations += 1;
        if self.later_violations <= LATER_VIOLATIONS_LOGGED_MAX {
            self.emit(SimEvent::Violation(v));
        }
    }

    /// Observes node `i` after an event: safety checks, role-change and commit events.
    pub(super) fn check(&mut self, i: usize) {
        self.observe_conf(i);
        self.reap_removed();
        let Some(p) = self.nodes[i].process.as_ref() else { return };
        let observed = match self.safety.observe(p, self.now_us, self.options.check_raft_safety) {
            Err(v) if self.keep_going => {
                // Going on after a violation: report it, then carry on from the node's
                // state as it is now, with its role and commit events as usual.
                let obs = self.safety.accept(p);
                if self.violation.is_none() {
                    self.set_violation(v);
                } else {
                    self.later_violation(v);
                }
                Ok(obs)
            }
            other => other,
        };
        match observed {
            Ok(obs) => {
                let st = obs.status;
                if obs.role_changed {
                    let (node, role, term, leader) = (st.id, st.role, st.term, st.leader);
                    let reason = st.role_reason;
                    self.emit(SimEvent::RoleChange { node, role, term, leader, reason });
                    if role == Role::Leader {
                        self.moment(crate::nemesis::Moment::NewLeader, node);
                    }
                }
                let slot = &mut self.nodes[i];
                // A follower learning who leads its term is no role change, yet a
                // transfer's answer waits for exactly that: the operator log has both.
                if obs.role_changed || slot.leader_seen != st.leader {
                    slot.leader_seen = st.leader;
                    let (at_us, node, role, term, leader) =
                        (self.now_us, st.id, st.role, st.term, st.leader);
                    self.operator.role(super::RoleRecord { at_us, node, role, term, leader });
                }
                if self.options.check_raft_safety {
                    let entry = self.nodes[i].process.as_ref().and_then(|p| p.entry(st.applied));
                    let term = entry.map(|e| e.term);
                    let disk = &self.nodes[i].disk.durable;
                    if let Some(kind) =
                        crate::promises::PromiseChecker::applied(st.applied, term, disk)
                    {
                        self.flag(st.id, kind);
                    }
                    let stranded =
                        self.nodes[i].process.as_ref().and_then(|p| p.stranded_request());
                    if let Some((request, why)) = stranded {
                        self.flag(st.id, ViolationKind::RequestStranded { request, why });
                    }
                }
                let slot = &mut self.nodes[i];
                if st.commit > slot.commit_seen {
                    slot.commit_seen = st.commit;
                    // `term` is the node's current term, not the entry's.
                    self.emit(SimEvent::Commit { node: st.id, index: st.commit, term: st.term });
                }
            }
            Err(v) => {
                if self.violation.is_none() {
                    self.set_violation(v);
                }
            }
        }
    }
}
