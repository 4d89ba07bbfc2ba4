//! The world: virtual time, the event loop, and the nodes it drives through the
//! `Process` contract (inputs in, effects carried out in order: persists to the node's
//! disk, sends held until their persist is durable then put on the network, responses
//! to the client that asked). This module owns the `World` itself, its construction and
//! its read-only views; every loop under it is bounded. One concern per file:
//!
//! - `stepping`: the event queue's events, `step`, the `run_*` loops and dispatch;
//! - `hosts`: each member's process, disk and clock; start, crash, restart, ticks and
//!   pumping effects through the core's outbox;
//! - `messages`: messages in flight, sending and delivering;
//! - `clients`: requests, streams and their results;
//! - `faults`: the fault schedule and carrying out each fault (owns the nemesis rng);
//! - `triggers`: faults armed to fire at a moment (a new leader, a released promise, an
//!   overwritten log suffix);
//! - `events`: what gets recorded after each step (trace hash, `tracing`, safety);
//! - `liveness`: the end-of-run phase that must converge within a bound;
//! - `operator`: what the world saw of membership and transfer requests, for checks.

mod clients;
mod events;
mod faults;
mod hosts;
mod liveness;
mod membership;
pub use membership::MembershipHook;
mod messages;
mod operator;
pub use operator::{MembershipRecord, OperatorLog, RoleRecord, TransferRecord, OPERATOR_LOG_MAX};
mod stepping;
mod triggers;

pub use events::{DropReason, MsgHead, SimEvent, Stamped};
pub use liveness::{LivenessFailure, LivenessReport};

use crate::client::{ClientResult, Record};
use crate::clock::Clock;
use crate::disk::Disk;
use crate::nemesis::FaultAction;
use crate::network::Network;
use crate::options::{Banner, WorldOptions};
use crate::pauses::ClientPauses;
use crate::queue::EventQueue;
use crate::rng::{stream, Component};
use crate::safety::{SafetyChecker, Violation};
use crate::trace::TraceHash;
use crate::types_ext::{ClientId, NodeId};
use detcd_core::outbox::Outbox;
use detcd_core::process::{Effect, Process};
use detcd_core::raft::{Message, Role, Status};
use hosts::Slot;
use messages::Slab;
use rand_chacha::ChaCha8Rng;
use std::collections::VecDeque;
use std::fmt;
use stepping::Event;
use tracing::info;

const TARGET: &str = "detcd_sim";

/// What the world tells the node factory when it (re)builds a node.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeSetup {
    pub id: NodeId,
    /// Every member of the initial cluster (the initial voters).
    pub voters: Vec<NodeId>,
    /// A host added by a membership change: it joins a running cluster, so it starts
    /// knowing no configuration (`voters` still names the initial cluster).
    pub joining: bool,
    /// A seed for this node and incarnation, derived from the run's seed.
    pub seed: u64,
    /// 0 for the first start, then one more per restart.
    pub incarnation: u64,
}

/// Why a run stopped early.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SimError {
    /// A Raft safety property broke.
    Safety(Violation),
    /// The run reached `events_max`.
    EventLimit { events: u64 },
    /// More than `pending_events_max` events were waiting at once (a message storm):
    /// the memory bound of the event queue.
    QueueLimit { pending: u64 },
    /// The liveness phase did not converge within its bound.
    Liveness(LivenessFailure),
}

impl fmt::Display for SimError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SimError::Safety(v) => write!(f, "{v}"),
            SimError::EventLimit { events } => {
                write!(f, "event limit reached after {events} events")
            }
            SimError::QueueLimit { pending } => {
                write!(f, "event queue limit reached: {pending} events pending at once")
            }
            SimError::Liveness(l) => write!(f, "liveness failure: {l}"),
        }
    }
}

/// Counters for reports and benchmarks.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    pub events: u64,
    pub sent: u64,
    pub delivered: u64,
    pub dropped: u64,
    pub duplicated: u64,
    pub ticks: u64,
    pub persists: u64,
    pub crashes: u64,
    pub restarts: u64,
}

/// Builds a node's configuration for a setup.
pub type NodeFactory<P> = Box<dyn Fn(&NodeSetup) -> <P as Process>::Config>;
/// Asks a process to hand leadership to a node; false when it cannot.
pub type TransferHook<P> = fn(&mut P, NodeId) -> bool;

/// Builds the client request that asks the leader to hand leadership to a node, and
/// how long its client waits for the answer (microseconds).
pub struct TransferRequest<P: Process> {
    pub build: fn(NodeId) -> P::Request,
    pub timeout_us: u64,
}

impl<P: Process> Clone for TransferRequest<P> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<P: Process> Copy for TransferRequest<P> {}

/// The client id leader-transfer requests are submitted as (`set_transfer_request`).
pub const OPERATOR_CLIENT: ClientId = u64::MAX - 1;

/// The simulated world running one cluster of `P`.
pub struct World<P: Process> {
    options: WorldOptions,
    banner: Banner,
    now_us: u64,
    queue: EventQueue<Event>,
    nodes: Vec<Slot<P>>,
    network: Network,
    msgs: Slab,
    rng_network: ChaCha8Rng,
    rng_disk: ChaCha8Rng,
    rng_clocks: ChaCha8Rng,
    rng_nemesis: ChaCha8Rng,
    /// Scheduled faults by index; `None` once cancelled.
    faults: Vec<Option<FaultAction>>,
    /// Faults waiting for a moment (at most `triggers::ARMED_MAX`).
    armed: Vec<triggers::Armed>,
    records: Vec<Record<P::Request>>,
    results: VecDeque<ClientResult<P::Request, P::Response>>,
    safety: SafetyChecker,
    violation: Option<Violation>,
    /// Go on after a violation instead of stopping (see `set_keep_going`).
    keep_going: bool,
    later_violations: u64,
    trace: TraceHash,
    factory: NodeFactory<P>,
    transfer: Option<TransferHook<P>>,
    /// When set, a `TransferLeader` fault is a client request built by this (answered
    /// like any other) instead of a call of `transfer`.
    transfer_request: Option<TransferRequest<P>>,
    operator: operator::OperatorLog,
    membership: Option<membership::MembershipHook<P>>,
    /// Members whose removal was proposed; stopped once it commits.
    removing: std::collections::BTreeSet<NodeId>,
    /// Hosts started for an add that has not committed yet; stopped for good if the
    /// leader's configuration shows the add lost (truncated with its leader's term).
    adding: std::collections::BTreeSet<NodeId>,
    pauses: ClientPauses,
    effects: Vec<Effect<P::Response>>,
    /// Scratch for the sends an acknowledgement releases.
    released: Vec<Message>,
    stats: Stats,
    /// The event log, when `options.event_log_max` asks for one.
    events: Vec<Stamped>,
}

/// The client id the liveness phase submits its probes as.
pub const LIVENESS_CLIENT: ClientId = u64::MAX;

impl<P: Process> World<P> {
    /// A world with nodes `1..=options.nodes`, all started fresh (empty durable state).
    /// Its first event is the banner.
    pub fn new(options: WorldOptions, factory: impl Fn(&NodeSetup) -> P::Config + 'static) -> Self {
        Self::build(options, None, factory)
    }

    /// Like `new`, for a swarm run: the banner names the fault profile too.
    pub fn new_swarm(
        options: WorldOptions,
        profile: crate::swarm::SwarmProfile,
        factory: impl Fn(&NodeSetup) -> P::Config + 'static,
    ) -> Self {
        Self::build(options, Some(profile), factory)
    }

    pub(super) fn build(
        options: WorldOptions,
        swarm: Option<crate::swarm::SwarmProfile>,
        factory: impl Fn(&NodeSetup) -> P::Config + 'static,
    ) -> Self {
        assert!(options.nodes >= 1, "a cluster needs at least one node");
        let seed = options.seed;
        let network = Network::new(options.nodes + options.spares, options.network);
        let nodes = (1..=options.nodes + options.spares)
            .map(|id| Slot {
                id,
                absent: id > options.nodes,
                joining: false,
                conf_seen: None,
                process: None,
                incarnation: 0,
                disk: Disk::default(),
                clock: Clock::new(),
                outbox: Outbox::new(),
                commit_seen: 0,
                fsync: None,
                stall_until_us: 0,
                leader_seen: None,
            })
            .collect();
        let banner = Banner { options: options.clone(), swarm, faults_scheduled: 0 };
        let mut world = World {
            options,
            banner,
            now_us: 0,
            queue: EventQueue::default(),
            nodes,
            network,
            msgs: Slab::default(),
            rng_network: stream(seed, Component::Network),
            rng_disk: stream(seed, Component::Disk),
            rng_clocks: stream(seed, Component::Clocks),
            rng_nemesis: stream(seed, Component::Nemesis),
            faults: Vec::new(),
            armed: Vec::new(),
            records: Vec::new(),
            results: VecDeque::new(),
            safety: SafetyChecker::default(),
            violation: None,
            keep_going: false,
            later_violations: 0,
            trace: TraceHash::default(),
            factory: Box::new(factory),
            transfer: None,
            transfer_request: None,
            operator: operator::OperatorLog::default(),
            membership: None,
            removing: std::collections::BTreeSet::new(),
            adding: std::collections::BTreeSet::new(),
            pauses: ClientPauses::default(),
            effects: Vec::new(),
            released: Vec::new(),
            stats: Stats::default(),
            events: Vec::new(),
        };
        world.announce();
        for i in 0..world.nodes.len() {
            if !world.nodes[i].absent {
                world.start(i);
            }
        }
        world
    }

    /// Records the swarm profile in the banner (`new_swarm` does it before the banner
    /// goes out; after this, `announce` again to emit it).
    pub fn set_swarm_profile(&mut self, profile: crate::swarm::SwarmProfile) {
        self.banner.swarm = Some(profile);
    }

    /// Lets `TransferLeader` faults reach the node type.
    pub fn set_transfer_hook(&mut self, hook: TransferHook<P>) {
        self.transfer = Some(hook);
    }

    /// Makes `TransferLeader` faults client requests to the leader (from
    /// `OPERATOR_CLIENT`), whose answers come back as results like any other; each is
    /// in the operator log.
    pub fn set_transfer_request(&mut self, request: TransferRequest<P>) {
        self.transfer_request = Some(request);
    }

    /// The banner: seed and every option, also emitted as a `banner` tracing event.
    /// Construction emits it first thing; call again to repeat it (say, once faults are
    /// scheduled).
    pub fn announce(&self) -> &Banner {
        let b = &self.banner;
        info!(target: TARGET, seed = b.options.seed, nodes = b.options.nodes, options = ?b, "banner");
        b
    }

    pub fn banner(&self) -> &Banner {
        &self.banner
    }

    pub fn options(&self) -> &WorldOptions {
        &self.options
    }

    /// True time, microseconds since the start of the run.
    pub fn now_us(&self) -> u64 {
        self.now_us
    }

    /// The running trace hash.
    pub fn trace_hash(&self) -> u64 {
        self.trace.value()
    }

    pub fn stats(&self) -> Stats {
        self.stats
    }

    /// The first safety violation, if any.
    pub fn violation(&self) -> Option<&Violation> {
        self.violation.as_ref()
    }

    /// Whether the run goes on after a safety violation (`keep_going`) instead of
    /// stopping at it. Off by default; a run that goes on is still a failed run, and
    /// `violation()` keeps the first one.
    pub fn set_keep_going(&mut self, keep_going: bool) {
        self.keep_going = keep_going;
    }

    /// How many violations came after the first (only when going on after one).
    pub fn later_violations(&self) -> u64 {
        self.later_violations
    }

    /// The hosts present: the initial cluster and the ones membership changes added,
    /// less the ones they removed (crashed members are present).
    pub fn node_ids(&self) -> Vec<NodeId> {
        self.nodes.iter().filter(|s| !s.absent).map(|s| s.id).collect()
    }

    /// The running process of `id` (None while crashed or for an unknown id).
    pub fn process(&self, id: NodeId) -> Option<&P> {
        self.slot_index(id).and_then(|i| self.nodes[i].process.as_ref())
    }

    /// What `id` has made durable.
    pub fn durable(&self, id: NodeId) -> Option<&detcd_core::types::DurableState> {
        self.slot_index(id).map(|i| &self.nodes[i].disk.durable)
    }

    /// Ticks node `id` has received over the whole run.
    pub fn ticks(&self, id: NodeId) -> u64 {
        self.slot_index(id).map_or(0, |i| self.nodes[i].clock.ticks)
    }

    pub fn status(&self, id: NodeId) -> Option<Status> {
        self.process(id).map(|p| p.status())
    }

    /// The running leader of the highest term, if any.
    pub fn leader(&self) -> Option<NodeId> {
        self.nodes
            .iter()
            .filter_map(|s| s.process.as_ref().map(|p| p.status()))
            .filter(|st| st.role == Role::Leader)
            .max_by_key(|st| st.term)
            .map(|st| st.id)
    }

    fn slot_index(&self, id: NodeId) -> Option<usize> {
        let i = id.checked_sub(1)? as usize;
        (i < self.nodes.len()).then_some(i)
    }

    pub(crate) fn tick_us(&self) -> u64 {
        self.options.clock.tick_us
    }
}
