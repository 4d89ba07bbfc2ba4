//! The world: virtual time, the event loop, and the nodes it drives through the
//! `Process` contract (inputs in, effects carried out in order: persists to the node's
//! disk, sends held until their persist is durable then put on the network, responses
//! to the client that asked). Faults, clients, safety checks and the liveness phase
//! hang off this loop; every loop here is bounded.

use crate::client::{ClientResult, Outcome, Record, RequestState};
use crate::clock::Clock;
use crate::disk::Disk;
use crate::nemesis::{FaultAction, FaultSchedule, Target};
use crate::network::{resolve_shape, Fate, Network};
use crate::options::{Banner, WorldOptions};
use crate::pauses::ClientPauses;
use crate::queue::EventQueue;
use crate::rng::{stream, Component};
use crate::safety::{SafetyChecker, Violation, ViolationKind};
use crate::trace::{EventKind, TraceHash};
use crate::types_ext::{ClientId, Index, NodeId, RequestId, SyncId, Term};
use detcd_core::outbox::Outbox;
use detcd_core::process::{Effect, Process};
use detcd_core::raft::{Message, MessageBody, Role, Status};
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use std::collections::VecDeque;
use std::fmt;
use tracing::{debug, info, trace, warn};

const TARGET: &str = "detcd_sim";

/// What the world tells the node factory when it (re)builds a node.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeSetup {
    pub id: NodeId,
    /// Every member of the cluster (the initial voters).
    pub voters: Vec<NodeId>,
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
            SimError::Liveness(l) => write!(f, "liveness failure: {l}"),
        }
    }
}

/// How far the liveness phase got before its bound ran out.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LivenessFailure {
    /// No leader was elected.
    NoLeader { at_us: u64 },
    /// A leader existed but no probe write was acknowledged.
    NoCommit { at_us: u64, leader: Option<NodeId> },
    /// Writes committed but the nodes did not reach the same applied index and state.
    NotConverged { at_us: u64, applied: Vec<(NodeId, Index, u64)> },
}

fn secs(us: u64) -> String {
    format!("{}.{:06}s", us / 1_000_000, us % 1_000_000)
}

/// In plain words, for check evidence.
impl fmt::Display for LivenessFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LivenessFailure::NoLeader { at_us } => {
                write!(f, "no leader elected by {} after the faults healed", secs(*at_us))
            }
            LivenessFailure::NoCommit { at_us, leader } => {
                let who = leader.map_or("a leader".to_string(), |l| format!("node {l} led"));
                write!(f, "{who}, but no probe write was acknowledged by {}", secs(*at_us))
            }
            LivenessFailure::NotConverged { at_us, applied } => {
                let members: Vec<String> = applied
                    .iter()
                    .map(|(id, index, hash)| {
                        format!("node {id} at index {index} (store hash {hash:016x})")
                    })
                    .collect();
                write!(
                    f,
                    "the members did not reach one applied index and store by {}: {}",
                    secs(*at_us),
                    members.join(", ")
                )
            }
        }
    }
}

/// A converged cluster.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LivenessReport {
    pub leader: NodeId,
    pub term: Term,
    pub applied: Index,
    pub state_hash: u64,
    /// True time the liveness phase took.
    pub elapsed_us: u64,
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

/// Kept small (node indices and incarnations as u32): the heap moves these around.
enum Event {
    Tick {
        node: u32,
        generation: u32,
    },
    Deliver {
        slot: u32,
    },
    /// The fsync of `sync` finished; `ack` false when the ack was already given (lying).
    Fsync {
        node: u32,
        incarnation: u32,
        sync: SyncId,
        ack: bool,
    },
    /// A lying disk acknowledges at once.
    Ack {
        node: u32,
        incarnation: u32,
        sync: SyncId,
    },
    Invoke {
        id: RequestId,
    },
    Timeout {
        id: RequestId,
    },
    Fault {
        index: u32,
    },
}

fn small(n: u64) -> u32 {
    u32::try_from(n).expect("fits the event encoding")
}

/// One member: its process (None while crashed), disk and clock.
struct Slot<P> {
    id: NodeId,
    process: Option<P>,
    incarnation: u64,
    disk: Disk,
    clock: Clock,
    /// Sends waiting for their persist, and what this incarnation acknowledged.
    outbox: Outbox,
    /// The commit index last seen in this incarnation's status, so a `commit` event
    /// marks only an advance.
    commit_seen: Index,
}

/// Messages in flight live here; events name them by slot so the heap stays small.
#[derive(Default)]
struct Slab {
    items: Vec<Option<Message>>,
    free: Vec<usize>,
}

impl Slab {
    fn insert(&mut self, msg: Message) -> usize {
        match self.free.pop() {
            Some(i) => {
                self.items[i] = Some(msg);
                i
            }
            None => {
                self.items.push(Some(msg));
                self.items.len() - 1
            }
        }
    }

    fn take(&mut self, i: usize) -> Message {
        let msg = self.items[i].take().expect("message slot in use");
        self.free.push(i);
        msg
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

/// How a response went, for traces: vote and pre-vote answers are "granted" or
/// "rejected", append answers "ok" or "rejected"; other messages have none.
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

/// The seed of one node incarnation: independent of the order nodes restart in.
fn node_seed(run_seed: u64, id: NodeId, incarnation: u64) -> u64 {
    let mut rng = stream(run_seed, Component::NodeSeeds);
    rng.set_word_pos(u128::from(id) << 40 | u128::from(incarnation) << 8);
    rng.gen()
}

/// Builds a node's configuration for a setup.
pub type NodeFactory<P> = Box<dyn Fn(&NodeSetup) -> <P as Process>::Config>;
/// Asks a process to hand leadership to a node; false when it cannot.
pub type TransferHook<P> = fn(&mut P, NodeId) -> bool;

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
    pauses: ClientPauses,
    effects: Vec<Effect<P::Response>>,
    /// Scratch for the sends an acknowledgement releases.
    released: Vec<Message>,
    stats: Stats,
}

/// Most violations after the first that a run going on after one traces.
const LATER_VIOLATIONS_TRACED_MAX: u64 = 20;

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

    fn build(
        options: WorldOptions,
        swarm: Option<crate::swarm::SwarmProfile>,
        factory: impl Fn(&NodeSetup) -> P::Config + 'static,
    ) -> Self {
        assert!(options.nodes >= 1, "a cluster needs at least one node");
        let seed = options.seed;
        let network = Network::new(options.nodes, options.network);
        let nodes = (1..=options.nodes)
            .map(|id| Slot {
                id,
                process: None,
                incarnation: 0,
                disk: Disk::default(),
                clock: Clock::new(),
                outbox: Outbox::new(),
                commit_seen: 0,
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
            records: Vec::new(),
            results: VecDeque::new(),
            safety: SafetyChecker::default(),
            violation: None,
            keep_going: false,
            later_violations: 0,
            trace: TraceHash::default(),
            factory: Box::new(factory),
            transfer: None,
            pauses: ClientPauses::default(),
            effects: Vec::new(),
            released: Vec::new(),
            stats: Stats::default(),
        };
        world.announce();
        for i in 0..world.nodes.len() {
            world.start(i);
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

    pub fn node_ids(&self) -> Vec<NodeId> {
        self.nodes.iter().map(|s| s.id).collect()
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

    // ---------------------------------------------------------------- clients

    /// Submits `request` from `client` to `node` now; it times out after `timeout_us`.
    pub fn submit(
        &mut self,
        client: ClientId,
        node: NodeId,
        request: P::Request,
        timeout_us: u64,
    ) -> RequestId {
        self.submit_at(self.now_us, client, node, request, timeout_us)
    }

    /// Submits `request` at true time `at_us` (not before now).
    pub fn submit_at(
        &mut self,
        at_us: u64,
        client: ClientId,
        node: NodeId,
        request: P::Request,
        timeout_us: u64,
    ) -> RequestId {
        let at_us = at_us.max(self.now_us);
        self.records.push(Record {
            client,
            node,
            request,
            invoke_us: at_us,
            state: RequestState::Scheduled,
            stream: false,
        });
        let id = self.records.len() as RequestId;
        self.queue.push(at_us, Event::Invoke { id });
        self.queue.push_far(at_us + timeout_us, Event::Timeout { id });
        id
    }

    /// Opens a stream (a watch) from `client` on `node` now. Every answer the node
    /// gives on it becomes a result with `Outcome::Ok`; it has no timeout, and when its
    /// node crashes it ends with one `Outcome::Timeout` (`Outcome::Refused` if the node
    /// is down when it opens).
    pub fn submit_stream(
        &mut self,
        client: ClientId,
        node: NodeId,
        request: P::Request,
    ) -> RequestId {
        let now = self.now_us;
        self.records.push(Record {
            client,
            node,
            request,
            invoke_us: now,
            state: RequestState::Scheduled,
            stream: true,
        });
        let id = self.records.len() as RequestId;
        self.queue.push(now, Event::Invoke { id });
        id
    }

    /// How many times `node` has restarted (0 before its first crash).
    pub fn incarnation(&self, node: NodeId) -> u64 {
        self.slot_index(node).map_or(0, |i| self.nodes[i].incarnation)
    }

    /// Ends every open request and stream of the member at `node`, which crashed: their
    /// clients see the connection reset and cannot know whether they took effect.
    fn break_streams(&mut self, node: NodeId) {
        let ids: Vec<RequestId> = self
            .records
            .iter()
            .enumerate()
            .filter(|(_, r)| r.node == node && r.state == RequestState::Pending)
            .map(|(i, _)| i as RequestId + 1)
            .collect();
        for id in ids {
            if let Some(r) = self.record(id) {
                r.state = RequestState::TimedOut;
            }
            self.finish(id, Outcome::Timeout);
        }
    }

    /// Finished requests (answered or timed out), oldest first.
    pub fn drain_results(
        &mut self,
    ) -> impl Iterator<Item = ClientResult<P::Request, P::Response>> + '_ {
        self.results.drain(..)
    }

    /// Whether finished requests are waiting to be drained.
    pub fn has_results(&self) -> bool {
        !self.results.is_empty()
    }

    /// Requests submitted but not finished.
    pub fn requests_open(&self) -> usize {
        self.records
            .iter()
            .filter(|r| matches!(r.state, RequestState::Scheduled | RequestState::Pending))
            .count()
    }

    fn record(&mut self, id: RequestId) -> Option<&mut Record<P::Request>> {
        id.checked_sub(1).and_then(|i| self.records.get_mut(i as usize))
    }

    fn finish(&mut self, id: RequestId, outcome: Outcome<P::Response>) {
        let now = self.now_us;
        let r = &self.records[(id - 1) as usize];
        self.results.push_back(ClientResult {
            id,
            client: r.client,
            node: r.node,
            request: r.request.clone(),
            invoke_us: r.invoke_us,
            complete_us: now,
            outcome,
        });
    }

    // ---------------------------------------------------------------- faults

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
        match action {
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
                let cut = self.network.cut_links() as u64;
                self.trace.record(now, EventKind::Partition, &[cut]);
                info!(target: TARGET, t_us = now, cut_links = cut, shape = %shape, "partition");
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
                let bits = [drop_rate.to_bits(), duplicate_rate.to_bits(), reorder_rate.to_bits()];
                self.trace.record(now, EventKind::NetworkRates, &bits);
                info!(target: TARGET, t_us = now, drop_rate, duplicate_rate, reorder_rate, "network_rates");
            }
            FaultAction::TransferLeader { to } => {
                let (Some(hook), Some(leader)) = (self.transfer, self.leader()) else { return };
                let Some(to) = self.target_index(to).map(|i| self.nodes[i].id) else { return };
                let li = self.slot_index(leader).expect("leader is a member");
                let accepted = hook(self.nodes[li].process.as_mut().expect("leader runs"), to);
                self.trace.record(
                    now,
                    EventKind::TransferLeader,
                    &[leader, to, u64::from(accepted)],
                );
                info!(target: TARGET, t_us = now, node = leader, peer = to, accepted, "transfer_leader");
                self.pump(li);
                self.check(li);
            }
            FaultAction::PauseClient { client, duration_us } => {
                let Some(client) = self.pauses.resolve(*client) else { return };
                self.pauses.pause(client, now, *duration_us);
                self.trace.record(now, EventKind::ClientPause, &[client, *duration_us]);
                info!(target: TARGET, t_us = now, client, duration_us, "client_pause");
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

    fn resolve_target(&self, target: &Target, rng: &mut ChaCha8Rng) -> Option<NodeId> {
        match target {
            Target::Node(id) => self.slot_index(*id).map(|i| self.nodes[i].id),
            Target::Leader => self.leader(),
            Target::Random => Some(rng.gen_range(1..=self.nodes.len() as NodeId)),
        }
    }

    fn target_index(&mut self, target: &Target) -> Option<usize> {
        let mut rng = std::mem::replace(&mut self.rng_nemesis, stream(0, Component::Nemesis));
        let id = self.resolve_target(target, &mut rng);
        self.rng_nemesis = rng;
        id.and_then(|id| self.slot_index(id))
    }

    fn heal_network(&mut self) {
        self.network.heal();
        self.trace.record(self.now_us, EventKind::Heal, &[]);
        info!(target: TARGET, t_us = self.now_us, "heal");
    }

    fn crash(&mut self, i: usize) {
        let now = self.now_us;
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
        self.stats.crashes += 1;
        let fields = [id, loss.lost_ops as u64, loss.survived_ops as u64, loss.torn_entries as u64];
        self.trace.record(now, EventKind::Crash, &fields);
        // A lying disk acknowledged every write it then lost.
        let acknowledged_lost = if self.options.disk.lying_fsync { loss.lost_ops } else { 0 };
        info!(
            target: TARGET,
            t_us = now,
            node = id,
            lost_ops = loss.lost_ops,
            acknowledged_lost,
            survived_ops = loss.survived_ops,
            torn_entries = loss.torn_entries,
            "crash"
        );
        self.break_streams(id);
    }

    fn restart(&mut self, i: usize) {
        if self.nodes[i].process.is_some() {
            return;
        }
        self.stats.restarts += 1;
        self.trace.record(self.now_us, EventKind::Restart, &[self.nodes[i].id]);
        info!(target: TARGET, t_us = self.now_us, node = self.nodes[i].id, "restart");
        self.start(i);
    }

    /// Builds the process of slot `i` from its durable state and starts its clock.
    fn start(&mut self, i: usize) {
        let voters = self.node_ids();
        let slot = &mut self.nodes[i];
        let setup = NodeSetup {
            id: slot.id,
            voters,
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
        self.pump(i);
        self.check(i);
    }

    fn set_clock_rate(&mut self, i: usize, rate_permille: u32) {
        let slot = &mut self.nodes[i];
        slot.clock.set_rate(rate_permille);
        let rate = slot.clock.rate_permille;
        let id = slot.id;
        self.trace.record(self.now_us, EventKind::ClockSkew, &[id, u64::from(rate)]);
        info!(target: TARGET, t_us = self.now_us, node = id, rate_permille = rate, "clock_skew");
        if slot.process.is_some() {
            let period = slot.clock.period_us(self.options.clock.tick_us);
            let generation = slot.clock.generation;
            self.queue.push(
                self.now_us + period,
                Event::Tick { node: small(i as u64), generation: small(generation) },
            );
        }
    }

    fn clock_jump(&mut self, i: usize, ticks: u32) {
        let id = self.nodes[i].id;
        self.trace.record(self.now_us, EventKind::ClockJump, &[id, u64::from(ticks)]);
        info!(target: TARGET, t_us = self.now_us, node = id, ticks, "clock_jump");
        for _ in 0..ticks {
            let slot = &mut self.nodes[i];
            let Some(p) = slot.process.as_mut() else { return };
            slot.clock.ticks += 1;
            p.tick();
            self.pump(i);
            self.check(i);
        }
    }

    /// Cancels every scheduled fault that has not happened yet.
    pub fn cancel_faults(&mut self) {
        let cancelled = self.faults.iter_mut().filter_map(Option::take).count() as u64;
        self.trace.record(self.now_us, EventKind::FaultsCancelled, &[cancelled]);
        info!(target: TARGET, t_us = self.now_us, cancelled, "faults_cancelled");
    }

    /// Ends every fault: scheduled ones cancelled, partitions healed, network rates zero,
    /// latency back to the run's configured distribution (no delay spike), clocks true,
    /// every crashed node restarted. Disk settings stay.
    pub fn heal_all(&mut self) {
        self.cancel_faults();
        self.heal_network();
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

    // ---------------------------------------------------------------- the loop

    /// Runs one event. `Ok(false)` when nothing is left to run.
    pub fn step(&mut self) -> Result<bool, SimError> {
        if let Some(v) = self.violation.as_ref().filter(|_| !self.keep_going) {
            return Err(SimError::Safety(v.clone()));
        }
        if self.stats.events >= self.options.events_max {
            return Err(SimError::EventLimit { events: self.stats.events });
        }
        let Some((time_us, event)) = self.queue.pop() else { return Ok(false) };
        debug_assert!(time_us >= self.now_us, "time never goes back");
        self.now_us = time_us;
        self.stats.events += 1;
        self.dispatch(event);
        match &self.violation {
            Some(v) if !self.keep_going => Err(SimError::Safety(v.clone())),
            _ => Ok(true),
        }
    }

    /// Runs every event up to and including true time `until_us`, then sets the clock
    /// there.
    pub fn run_until(&mut self, until_us: u64) -> Result<(), SimError> {
        while self.queue.peek_time().is_some_and(|t| t <= until_us) {
            self.step()?;
        }
        self.now_us = self.now_us.max(until_us);
        Ok(())
    }

    /// Runs for `duration_us` of true time.
    pub fn run_for(&mut self, duration_us: u64) -> Result<(), SimError> {
        self.run_until(self.now_us + duration_us)
    }

    /// Runs until a client result is ready or `deadline_us` passes; true if one is ready.
    pub fn run_until_result(&mut self, deadline_us: u64) -> Result<bool, SimError> {
        while self.results.is_empty() && self.queue.peek_time().is_some_and(|t| t <= deadline_us) {
            self.step()?;
        }
        if self.results.is_empty() {
            self.now_us = self.now_us.max(deadline_us);
        }
        Ok(!self.results.is_empty())
    }

    /// Runs events until `done(world)` holds (checked after every event) or the next
    /// event lies past `deadline_us`; true if `done` held. Lets a workload react to what
    /// happens (a completion, a leader, an applied index) without polling by time.
    pub fn run_until_with(
        &mut self,
        deadline_us: u64,
        mut done: impl FnMut(&Self) -> bool,
    ) -> Result<bool, SimError> {
        loop {
            if done(self) {
                return Ok(true);
            }
            if self.queue.peek_time().is_none_or(|t| t > deadline_us) {
                self.now_us = self.now_us.max(deadline_us);
                return Ok(false);
            }
            self.step()?;
        }
    }

    fn dispatch(&mut self, event: Event) {
        match event {
            Event::Tick { node, generation } => self.on_tick(node as usize, u64::from(generation)),
            Event::Deliver { slot } => self.on_deliver(slot as usize),
            Event::Fsync { node, incarnation, sync, ack } => {
                let (node, incarnation) = (node as usize, u64::from(incarnation));
                self.on_fsync(node, incarnation, sync, ack)
            }
            Event::Ack { node, incarnation, sync } => {
                let (node, incarnation) = (node as usize, u64::from(incarnation));
                if self.nodes[node].incarnation == incarnation && self.nodes[node].process.is_some()
                {
                    self.acknowledge(node, sync);
                }
            }
            Event::Invoke { id } => self.on_invoke(id),
            Event::Timeout { id } => self.on_timeout(id),
            Event::Fault { index } => {
                if let Some(action) = self.faults[index as usize].take() {
                    self.apply_fault(&action);
                }
            }
        }
    }

    fn on_tick(&mut self, i: usize, generation: u64) {
        let tick_us = self.options.clock.tick_us;
        let now = self.now_us;
        let slot = &mut self.nodes[i];
        if slot.clock.generation != generation {
            return;
        }
        let Some(p) = slot.process.as_mut() else { return };
        slot.clock.ticks += 1;
        self.stats.ticks += 1;
        let id = slot.id;
        let next = now + slot.clock.period_us(tick_us);
        self.queue.push(next, Event::Tick { node: small(i as u64), generation: small(generation) });
        self.trace.record(now, EventKind::Tick, &[id]);
        trace!(target: TARGET, t_us = now, node = id, "tick");
        p.tick();
        self.pump(i);
        self.check(i);
    }

    fn on_deliver(&mut self, slot_id: usize) {
        let now = self.now_us;
        let msg = self.msgs.take(slot_id);
        let (from, to, code) = (msg.from, msg.to, msg_code(&msg));
        let Some(i) = self.slot_index(to) else { return };
        let reason = if self.nodes[i].process.is_none() {
            Some("crashed")
        } else if self.network.is_cut(from, to) {
            Some("partitioned")
        } else {
            None
        };
        if let Some(reason) = reason {
            self.stats.dropped += 1;
            self.trace.record(now, EventKind::Drop, &[from, to, code, 1]);
            debug!(target: TARGET, t_us = now, node = from, peer = to, kind = msg.kind(), reason, "drop");
            return;
        }
        self.stats.delivered += 1;
        self.trace.record(now, EventKind::Deliver, &[from, to, code, msg.term]);
        debug!(
            target: TARGET,
            t_us = now,
            node = to,
            peer = from,
            kind = msg.kind(),
            term = msg.term,
            detail = msg_detail(&msg),
            "deliver"
        );
        self.nodes[i].process.as_mut().expect("checked running").receive(msg);
        self.pump(i);
        self.check(i);
    }

    fn on_fsync(&mut self, i: usize, incarnation: u64, sync: SyncId, ack: bool) {
        let slot = &mut self.nodes[i];
        if slot.incarnation != incarnation || slot.process.is_none() {
            return;
        }
        slot.disk.fsync_done(sync);
        let id = slot.id;
        self.trace.record(self.now_us, EventKind::Persisted, &[id, sync]);
        debug!(target: TARGET, t_us = self.now_us, node = id, sync, "persisted");
        if ack {
            self.acknowledge(i, sync);
        }
    }

    /// Tells the process `sync` is durable and releases the sends waiting for it.
    fn acknowledge(&mut self, i: usize, sync: SyncId) {
        let slot = &mut self.nodes[i];
        let mut released = std::mem::take(&mut self.released);
        slot.outbox.persisted(sync, &mut released);
        slot.process.as_mut().expect("running").persisted(sync);
        for msg in released.drain(..) {
            self.send(msg);
        }
        self.released = released;
        self.pump(i);
        self.check(i);
    }

    fn on_invoke(&mut self, id: RequestId) {
        let now = self.now_us;
        let r = self.record(id).expect("scheduled request exists");
        if r.state != RequestState::Scheduled {
            return;
        }
        r.state = RequestState::Pending;
        r.invoke_us = now;
        let (node, client) = (r.node, r.client);
        let request = r.request.clone();
        self.trace.record(now, EventKind::ClientInvoke, &[id, client, node]);
        debug!(target: TARGET, t_us = now, node, client, request = id, "client_invoke");
        let Some(i) = self.slot_index(node) else { return };
        if self.nodes[i].process.is_none() {
            if let Some(r) = self.record(id) {
                r.state = RequestState::TimedOut;
            }
            self.finish(id, Outcome::Refused);
            return;
        }
        let Some(p) = self.nodes[i].process.as_mut() else { return };
        p.request(id, request);
        self.pump(i);
        self.check(i);
    }

    fn on_timeout(&mut self, id: RequestId) {
        let now = self.now_us;
        let r = self.record(id).expect("scheduled request exists");
        if !matches!(r.state, RequestState::Scheduled | RequestState::Pending) {
            return;
        }
        r.state = RequestState::TimedOut;
        let (node, client) = (r.node, r.client);
        self.trace.record(now, EventKind::ClientTimeout, &[id, client, node]);
        debug!(target: TARGET, t_us = now, node, client, request = id, "client_timeout");
        self.finish(id, Outcome::Timeout);
    }

    /// Carries out the effects the process of slot `i` has pending, in order.
    fn pump(&mut self, i: usize) {
        let mut effects = std::mem::take(&mut self.effects);
        let Some(p) = self.nodes[i].process.as_mut() else { return };
        p.drain(&mut effects);
        for effect in effects.drain(..) {
            match effect {
                Effect::Send { msg, after } => {
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

    fn persist(&mut self, i: usize, op: detcd_core::types::PersistOp) {
        let now = self.now_us;
        let latency = self.options.disk.fsync.sample(&mut self.rng_disk);
        let lying = self.options.disk.lying_fsync;
        let slot = &mut self.nodes[i];
        let (sync, entries) = (op.sync, op.entries.len() as u64);
        let done_us = slot.disk.write(op, now, latency);
        let incarnation = slot.incarnation;
        self.stats.persists += 1;
        self.trace.record(now, EventKind::Persist, &[slot.id, sync, entries]);
        debug!(target: TARGET, t_us = now, node = slot.id, sync, entries, "persist");
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
    }

    fn respond(&mut self, i: usize, id: RequestId, response: P::Response) {
        let now = self.now_us;
        let node = self.nodes[i].id;
        let Some(r) = self.record(id) else {
            self.flag(node, ViolationKind::BadResponse { request: id, why: "never sent to it" });
            return;
        };
        match r.state {
            RequestState::Pending if r.stream => {
                let client = r.client;
                self.trace.record(now, EventKind::ClientComplete, &[id, client, node]);
                debug!(target: TARGET, t_us = now, node, client, request = id, "stream_response");
                self.finish(id, Outcome::Ok(response));
            }
            RequestState::Pending => {
                r.state = RequestState::Done;
                let client = r.client;
                self.trace.record(now, EventKind::ClientComplete, &[id, client, node]);
                debug!(target: TARGET, t_us = now, node, client, request = id, "client_complete");
                self.finish(id, Outcome::Ok(response));
            }
            RequestState::TimedOut => {
                debug!(target: TARGET, t_us = now, node, request = id, "client_late_response");
            }
            RequestState::Done => {
                self.flag(node, ViolationKind::BadResponse { request: id, why: "answered already" })
            }
            RequestState::Scheduled => {
                self.flag(node, ViolationKind::BadResponse { request: id, why: "not sent yet" })
            }
        }
    }

    fn flag(&mut self, node: NodeId, kind: ViolationKind) {
        if self.violation.is_none() {
            let v = Violation { at_us: self.now_us, node, kind, lost_entry: None };
            warn!(target: TARGET, t_us = self.now_us, node, violation = %v, "violation");
            self.violation = Some(v);
        } else if self.keep_going {
            let v = Violation { at_us: self.now_us, node, kind, lost_entry: None };
            self.later_violation(v);
        }
    }

    /// Puts a message on the network.
    fn send(&mut self, msg: Message) {
        let now = self.now_us;
        let (from, to, code) = (msg.from, msg.to, msg_code(&msg));
        self.stats.sent += 1;
        self.trace.record(now, EventKind::Send, &[from, to, code, msg.term]);
        debug!(
            target: TARGET,
            t_us = now,
            node = from,
            peer = to,
            kind = msg.kind(),
            term = msg.term,
            detail = msg_detail(&msg),
            "send"
        );
        match self.network.route(&mut self.rng_network, from, to) {
            fate @ (Fate::Partitioned | Fate::Dropped) => {
                let (reason, why) = match fate {
                    Fate::Partitioned => ("partitioned", 0),
                    _ => ("random", 2),
                };
                self.stats.dropped += 1;
                self.trace.record(now, EventKind::Drop, &[from, to, code, why]);
                debug!(target: TARGET, t_us = now, node = from, peer = to, kind = msg.kind(), reason, "drop");
            }
            Fate::Deliver { delay_us, duplicate_us, reordered } => {
                if reordered {
                    self.trace.record(now, EventKind::Reorder, &[from, to, code, delay_us]);
                    debug!(target: TARGET, t_us = now, node = from, peer = to, delay_us, "reorder");
                }
                if let Some(d) = duplicate_us {
                    self.stats.duplicated += 1;
                    self.trace.record(now, EventKind::Duplicate, &[from, to, code, d]);
                    debug!(target: TARGET, t_us = now, node = from, peer = to, kind = msg.kind(), "duplicate");
                    let copy = self.msgs.insert(msg.clone());
                    self.queue.push(now + d, Event::Deliver { slot: small(copy as u64) });
                }
                let m = self.msgs.insert(msg);
                self.queue.push(now + delay_us, Event::Deliver { slot: small(m as u64) });
            }
        }
    }

    /// Observes node `i` after an event: safety checks, role-change and commit traces.
    fn check(&mut self, i: usize) {
        let Some(p) = self.nodes[i].process.as_ref() else { return };
        let observed = match self.safety.observe(p, self.now_us, self.options.check_raft_safety) {
            Err(v) if self.keep_going => {
                // Going on after a violation: report it, then carry on from the node's
                // state as it is now, tracing its role and commits as usual.
                let obs = self.safety.accept(p);
                if self.violation.is_none() {
                    warn!(target: TARGET, t_us = self.now_us, node = v.node, violation = %v, "violation");
                    self.violation = Some(v);
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
                    let leader = st.leader.unwrap_or(0);
                    let fields = [st.id, st.role as u64, st.term, leader];
                    self.trace.record(self.now_us, EventKind::RoleChange, &fields);
                    info!(
                        target: TARGET,
                        t_us = self.now_us,
                        node = st.id,
                        role = ?st.role,
                        term = st.term,
                        leader,
                        "role_change"
                    );
                }
                let slot = &mut self.nodes[i];
                if st.commit > slot.commit_seen {
                    slot.commit_seen = st.commit;
                    self.trace.record(self.now_us, EventKind::Commit, &[st.id, st.commit, st.term]);
                    // `term` is the node's current term, not the entry's.
                    debug!(
                        target: TARGET,
                        t_us = self.now_us,
                        node = st.id,
                        index = st.commit,
                        term = st.term,
                        "commit"
                    );
                }
            }
            Err(v) => {
                if self.violation.is_none() {
                    warn!(target: TARGET, t_us = self.now_us, node = v.node, violation = %v, "violation");
                    self.violation = Some(v);
                }
            }
        }
    }

    /// A violation after the first, in a run that goes on after one: traced (a few of
    /// them), counted, never the run's verdict.
    fn later_violation(&mut self, v: Violation) {
        self.later_violations += 1;
        if self.later_violations <= LATER_VIOLATIONS_TRACED_MAX {
            warn!(target: TARGET, t_us = self.now_us, node = v.node, violation = %v, "violation");
        }
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

    /// A message still in flight, for tests that inspect the network.
    pub fn in_flight(&self) -> usize {
        self.msgs.items.iter().filter(|m| m.is_some()).count()
    }

    /// Removes and returns the finished requests of one client, leaving the others.
    pub(crate) fn take_results_of(
        &mut self,
        client: ClientId,
    ) -> Vec<ClientResult<P::Request, P::Response>> {
        let (mine, rest): (Vec<_>, Vec<_>) =
            self.results.drain(..).partition(|r| r.client == client);
        self.results = rest.into();
        mine
    }

    pub(crate) fn tick_us(&self) -> u64 {
        self.options.clock.tick_us
    }
}
