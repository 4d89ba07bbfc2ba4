//! A step-driven cluster of any `Process`, for interaction tests: nothing happens
//! unless a test says so. It delivers, drops or duplicates the i-th message in flight,
//! makes a node's persists durable up to a sync, ticks, crashes and restarts nodes, and
//! answers each step with the effects it caused, one line each (the core's `Display`
//! for messages and effects), so a golden file reads as the story of the run.
//! Sends wait in the node's `Outbox` until their persist is durable, as in the world.
//! After every step the sim's `SafetyChecker` checks the node that moved (the Raft
//! Figure 3 properties), so no story can break Raft safety unnoticed: a violation
//! panics with what broke. A test may also hand a node a message it built, restart a
//! node from durable state it chose (`load`), show what a process did inside besides
//! its effects (`set_notes`), cut links, let persists complete on their own
//! (`set_auto_persist`), run rounds of ticks and deliveries, and, in a benchmark, stop
//! the descriptions (`set_quiet`).

use crate::safety::SafetyChecker;
use crate::world::{NodeFactory, NodeSetup};
use detcd_core::outbox::Outbox;
use detcd_core::process::{Effect, Process};
use detcd_core::raft::Role;
use detcd_core::raft::{Message, Status};
use detcd_core::types::{DurableState, NodeId, PersistOp, RequestId, SyncId};
use std::collections::BTreeSet;

/// Ticks `tick_until_role_change` gives a node before it reports that nothing changed.
pub const ELECTION_TICKS_MAX: u32 = 1_000;
/// Messages `deliver_all` delivers before it stops (a livelock would otherwise hang).
pub const DELIVERIES_MAX: usize = 10_000;

/// One member: its process (None while crashed), its disk and its held sends.
struct Member<P> {
    process: Option<P>,
    incarnation: u64,
    durable: DurableState,
    /// Added by `add_host`: it joins a running cluster knowing no configuration.
    joining: bool,
    /// Persist requests written but not yet durable, oldest first.
    pending: Vec<PersistOp>,
    outbox: Outbox,
}

/// A cluster of nodes `1..=n` that moves one step at a time.
pub struct StepCluster<P: Process> {
    members: Vec<Member<P>>,
    /// The initial cluster is `1..=initial`; later members were added by `add_host`.
    initial: u64,
    factory: NodeFactory<P>,
    /// Messages in flight, in the order they were put on the network.
    in_flight: Vec<Message>,
    next_request: RequestId,
    safety: SafetyChecker,
    /// Steps taken: the checker's clock.
    steps: u64,
    /// Cut links (from, to): a message on one is dropped when delivered.
    cut: BTreeSet<(NodeId, NodeId)>,
    /// Make every persist durable as soon as a node asks for it.
    auto_persist: bool,
    /// Describe nothing that goes well (benchmarks: no formatting in the measured loop).
    quiet: bool,
    /// Every response, in order: (node, request, response).
    responses: Vec<(NodeId, RequestId, P::Response)>,
    /// Lines a test wants shown after each node's effects (what it did inside).
    notes: Option<Notes<P>>,
}

/// What a process did inside that is not an effect, one line each (`set_notes`).
type Notes<P> = Box<dyn FnMut(&mut P) -> Vec<String>>;

impl<P: Process> StepCluster<P> {
    /// Nodes `1..=n`, started fresh. Node seeds are fixed per (id, incarnation), so a
    /// test's story is the same on every run.
    pub fn new(n: u64, factory: impl Fn(&NodeSetup) -> P::Config + 'static) -> Self {
        let members = (1..=n)
            .map(|_| Member {
                process: None,
                incarnation: 0,
                durable: DurableState::default(),
                joining: false,
                pending: Vec::new(),
                outbox: Outbox::new(),
            })
            .collect();
        let mut c = StepCluster {
            members,
            initial: n,
            factory: Box::new(factory),
            in_flight: Vec::new(),
            next_request: 1,
            safety: SafetyChecker::default(),
            steps: 0,
            cut: BTreeSet::new(),
            auto_persist: false,
            quiet: false,
            responses: Vec::new(),
            notes: None,
        };
        for id in 1..=n {
            c.start(id);
        }
        c
    }

    fn member(&mut self, id: NodeId) -> &mut Member<P> {
        let i = id.checked_sub(1).expect("node ids start at 1") as usize;
        assert!(i < self.members.len(), "no node {id}");
        &mut self.members[i]
    }

    fn start(&mut self, id: NodeId) -> Vec<String> {
        let n = self.initial;
        let m = self.member(id);
        let setup = NodeSetup {
            id,
            voters: (1..=n).collect(),
            joining: m.joining,
            seed: id * 1_000 + m.incarnation,
            incarnation: m.incarnation,
        };
        let config = (self.factory)(&setup);
        let m = self.member(id);
        m.process = Some(P::restore_own(config, m.durable.clone()));
        self.pump(id)
    }

    /// Carries out what node `id` has pending; one line per effect.
    fn pump(&mut self, id: NodeId) -> Vec<String> {
        let mut effects = Vec::new();
        let m = self.member(id);
        let Some(p) = m.process.as_mut() else { return Vec::new() };
        p.drain(&mut effects);
        let mut lines = Vec::new();
        let say = !self.quiet;
        for effect in effects {
            let m = self.member(id);
            match effect {
                Effect::Send { msg, after } => {
                    let text = say.then(|| msg.to_string());
                    match (m.outbox.send(msg, after), after) {
                        (Some(msg), _) => {
                            lines.extend(text.map(|t| format!("n{id}: Send {t}")));
                            self.in_flight.push(msg);
                        }
                        (None, Some(s)) => {
                            lines.extend(text.map(|t| format!("n{id}: Send {t} (held until s{s})")))
                        }
                        (None, None) => unreachable!("a send without a persist to wait for leaves"),
                    }
                }
                Effect::Persist(op) => {
                    if say {
                        lines.push(format!("n{id}: {op}"));
                    }
                    m.pending.push(op);
                }
                e @ Effect::Respond { .. } => {
                    if say {
                        lines.push(format!("n{id}: {e}"));
                    }
                    if let Effect::Respond { id: rid, response } = e {
                        self.responses.push((id, rid, response));
                    }
                }
            }
        }
        let i = id as usize - 1;
        if let (Some(notes), Some(p)) = (self.notes.as_mut(), self.members[i].process.as_mut()) {
            lines.extend(notes(p).into_iter().map(|n| format!("n{id}: {n}")));
        }
        self.check(id);
        if self.auto_persist && !self.member(id).pending.is_empty() {
            lines.extend(self.persist(id, None));
        }
        lines
    }

    /// Runs the safety checker over node `id` after a step.
    fn check(&mut self, id: NodeId) {
        self.steps += 1;
        let i = (id as usize).wrapping_sub(1);
        let Some(p) = self.members.get(i).and_then(|m| m.process.as_ref()) else { return };
        if let Err(v) = self.safety.observe(p, self.steps, true) {
            panic!("Raft safety broken at step {}: {v}", self.steps);
        }
        if let Some((request, why)) = p.stranded_request() {
            panic!("node {id} stranded request {request} at step {}: {why}", self.steps);
        }
    }

    /// After each node's effects, shows the lines `notes` returns for it (a test kit's
    /// view of what a process did inside: applies, role changes, read results).
    pub fn set_notes(&mut self, notes: impl FnMut(&mut P) -> Vec<String> + 'static) {
        self.notes = Some(Box::new(notes));
    }

    /// Makes persists durable as soon as they are asked for (on) or only on `persist`
    /// (off, the default: golden files show each persist).
    pub fn set_auto_persist(&mut self, on: bool) {
        self.auto_persist = on;
    }

    /// Stops describing sends, persists and deliveries (on), so a benchmark measures
    /// the nodes rather than the formatting; what goes wrong is still described.
    pub fn set_quiet(&mut self, on: bool) {
        self.quiet = on;
    }

    /// Cuts both links between node `a` and node `b`.
    pub fn cut(&mut self, a: NodeId, b: NodeId) {
        self.cut_one_way(a, b);
        self.cut_one_way(b, a);
    }

    /// Cuts the link from `from` to `to` only: messages the other way still arrive.
    pub fn cut_one_way(&mut self, from: NodeId, to: NodeId) {
        self.cut.insert((from, to));
    }

    /// Whether the link from `from` to `to` is cut.
    pub fn is_cut(&self, from: NodeId, to: NodeId) -> bool {
        self.cut.contains(&(from, to))
    }

    /// What node `id` has made durable (kept across its crashes).
    pub fn durable(&self, id: NodeId) -> Option<&DurableState> {
        self.members.get((id as usize).wrapping_sub(1)).map(|m| &m.durable)
    }

    /// How many nodes the cluster has.
    pub fn len(&self) -> u64 {
        self.members.len() as u64
    }

    /// Whether the cluster has no nodes (never: `new` makes at least one).
    pub fn is_empty(&self) -> bool {
        self.members.is_empty()
    }

    /// The sync id of node `id`'s oldest persist not yet durable.
    pub fn oldest_pending(&self, id: NodeId) -> Option<SyncId> {
        self.members.get((id as usize).wrapping_sub(1))?.pending.first().map(|op| op.sync)
    }

    /// Cuts node `id` off from every other node.
    pub fn isolate(&mut self, id: NodeId) {
        for other in 1..=self.members.len() as u64 {
            if other != id {
                self.cut(id, other);
            }
        }
    }

    /// Restores every link.
    pub fn heal(&mut self) {
        self.cut.clear();
    }

    /// Keeps only the messages in flight that `keep` accepts (a test losing messages).
    pub fn retain_in_flight(&mut self, keep: impl FnMut(&Message) -> bool) {
        self.in_flight.retain(keep);
    }

    /// Lets a test act on node `id`'s process directly (campaign, transfer), then
    /// carries out what that caused.
    pub fn with<R>(&mut self, id: NodeId, act: impl FnOnce(&mut P) -> R) -> (R, Vec<String>) {
        let p = self.member(id).process.as_mut().unwrap_or_else(|| panic!("n{id} is down"));
        let r = act(p);
        (r, self.pump(id))
    }

    /// Sends `request` to node `id` and returns its request id.
    pub fn submit(&mut self, id: NodeId, request: P::Request) -> RequestId {
        let rid = self.next_request;
        self.request(id, request);
        rid
    }

    /// Every response so far: (node, request, response).
    pub fn responses(&self) -> &[(NodeId, RequestId, P::Response)] {
        &self.responses
    }

    /// The answer to request `rid`, if there is one.
    pub fn response(&self, rid: RequestId) -> Option<&P::Response> {
        self.responses.iter().find(|(_, r, _)| *r == rid).map(|(_, _, resp)| resp)
    }

    /// Ticks every running node once, in id order.
    pub fn tick_all(&mut self) -> Vec<String> {
        let mut lines = Vec::new();
        for id in 1..=self.members.len() as u64 {
            if self.is_up(id) {
                lines.extend(self.tick(id));
            }
        }
        lines
    }

    /// `rounds` times: tick every node, then deliver until nothing is in flight.
    pub fn run(&mut self, rounds: usize) -> Vec<String> {
        let mut lines = Vec::new();
        for _ in 0..rounds {
            lines.extend(self.tick_all());
            lines.extend(self.deliver_all());
        }
        lines
    }

    /// The running leader of the highest term, if any.
    pub fn leader(&self) -> Option<NodeId> {
        (1..=self.members.len() as u64)
            .filter_map(|id| self.status(id))
            .filter(|s| s.role == Role::Leader)
            .max_by_key(|s| s.term)
            .map(|s| s.id)
    }

    /// Whether node `id` runs.
    pub fn is_up(&self, id: NodeId) -> bool {
        self.members.get((id as usize).wrapping_sub(1)).is_some_and(|m| m.process.is_some())
    }

    pub fn status(&self, id: NodeId) -> Option<Status> {
        self.members.get((id as usize).wrapping_sub(1))?.process.as_ref().map(|p| p.status())
    }

    pub fn process(&self, id: NodeId) -> Option<&P> {
        self.members.get((id as usize).wrapping_sub(1))?.process.as_ref()
    }

    /// The messages in flight, in order; `deliver(i)` names them by this position.
    pub fn in_flight(&self) -> &[Message] {
        &self.in_flight
    }

    /// One tick of node `id`.
    pub fn tick(&mut self, id: NodeId) -> Vec<String> {
        let Some(p) = self.member(id).process.as_mut() else {
            return vec![format!("n{id} is down")];
        };
        p.tick();
        self.pump(id)
    }

    /// Ticks node `id` until its role changes (at most `ELECTION_TICKS_MAX` ticks):
    /// everything those ticks caused, then the new role and how many ticks it took.
    pub fn tick_until_role_change(&mut self, id: NodeId) -> Vec<String> {
        let Some(before) = self.status(id).map(|s| s.role) else {
            return vec![format!("n{id} is down")];
        };
        let mut lines = Vec::new();
        for ticks in 1..=ELECTION_TICKS_MAX {
            lines.extend(self.tick(id));
            let Some(st) = self.status(id).filter(|s| s.role != before) else { continue };
            lines.push(format!(
                "n{id}: {:?} after {ticks} tick(s) ({})",
                st.role,
                st.role_reason.words()
            ));
            return lines;
        }
        lines.push(format!("n{id}: no role change in {ELECTION_TICKS_MAX} ticks"));
        lines
    }

    /// A client request to node `id`; its id is the cluster's next.
    pub fn request(&mut self, id: NodeId, request: P::Request) -> Vec<String> {
        let rid = self.next_request;
        self.next_request += 1;
        let Some(p) = self.member(id).process.as_mut() else {
            return vec![format!("n{id} is down")];
        };
        p.request(rid, request);
        self.pump(id)
    }

    /// Delivers the `i`-th message in flight to its receiver (dropped if it is down).
    pub fn deliver(&mut self, i: usize) -> Vec<String> {
        let Some(msg) = (i < self.in_flight.len()).then(|| self.in_flight.remove(i)) else {
            return vec![format!("no message {i} in flight")];
        };
        let mut lines = Vec::new();
        if !self.quiet {
            lines.push(format!("deliver {msg}"));
        }
        lines.extend(self.receive(msg.to, msg));
        lines
    }

    /// Hands `msg` to node `to` as if the network had delivered it there (a test's
    /// hand-built message, possibly addressed to someone else); cut links and down
    /// nodes drop it.
    pub fn receive(&mut self, to: NodeId, msg: Message) -> Vec<String> {
        let mut lines = Vec::new();
        if to == 0 || to > self.len() {
            lines.push(format!("no host n{to}: dropped"));
            return lines;
        }
        if self.cut.contains(&(msg.from, to)) {
            lines.push(format!("link {}->{to} is cut: dropped", msg.from));
            return lines;
        }
        match self.member(to).process.as_mut() {
            Some(p) => p.receive(msg),
            None => {
                lines.push(format!("n{to} is down: dropped"));
                return lines;
            }
        }
        lines.extend(self.pump(to));
        lines
    }

    /// Delivers messages, oldest first, until none is in flight (at most
    /// `DELIVERIES_MAX`).
    pub fn deliver_all(&mut self) -> Vec<String> {
        let mut lines = Vec::new();
        for _ in 0..DELIVERIES_MAX {
            if self.in_flight.is_empty() {
                return lines;
            }
            lines.extend(self.deliver(0));
        }
        lines.push(format!("still in flight after {DELIVERIES_MAX} deliveries"));
        lines
    }

    /// Loses the `i`-th message in flight.
    pub fn drop_message(&mut self, i: usize) -> Vec<String> {
        if i >= self.in_flight.len() {
            return vec![format!("no message {i} in flight")];
        }
        vec![format!("drop {}", self.in_flight.remove(i))]
    }

    /// Puts a copy of the `i`-th message in flight at the end of the queue.
    pub fn duplicate(&mut self, i: usize) -> Vec<String> {
        let Some(msg) = self.in_flight.get(i).cloned() else {
            return vec![format!("no message {i} in flight")];
        };
        let line = format!("duplicate {msg}");
        self.in_flight.push(msg);
        vec![line]
    }

    /// Makes node `id`'s persists durable up to `upto` (all pending if `None`), tells
    /// the node, and releases the sends that waited for them.
    pub fn persist(&mut self, id: NodeId, upto: Option<SyncId>) -> Vec<String> {
        let m = self.member(id);
        if m.process.is_none() {
            return vec![format!("n{id} is down")];
        }
        let upto = upto.unwrap_or_else(|| m.pending.last().map_or(0, |op| op.sync));
        let done = m.pending.iter().take_while(|op| op.sync <= upto).count();
        if done == 0 {
            return vec![format!("n{id}: nothing to persist up to s{upto}")];
        }
        let ops: Vec<PersistOp> = m.pending.drain(..done).collect();
        for op in &ops {
            m.durable.apply(op);
        }
        let sync = ops.last().map_or(upto, |op| op.sync);
        let mut released = Vec::new();
        m.outbox.persisted(sync, &mut released);
        m.process.as_mut().expect("checked up").persisted(sync);
        let mut lines = Vec::new();
        if !self.quiet {
            lines.push(format!("n{id}: durable up to s{sync}"));
            lines.extend(released.iter().map(|msg| format!("n{id}: release {msg}")));
        }
        self.in_flight.append(&mut released);
        lines.extend(self.pump(id));
        lines
    }

    /// Crashes node `id`: its process, its writes not yet durable and its held sends
    /// are lost; what is durable stays.
    pub fn crash(&mut self, id: NodeId) -> Vec<String> {
        let m = self.member(id);
        if m.process.take().is_none() {
            return vec![format!("n{id} is already down")];
        }
        let lost = m.pending.len();
        m.pending.clear();
        m.outbox.crash();
        m.incarnation += 1;
        vec![format!("n{id}: crashed, {lost} persist(s) lost")]
    }

    /// Node `id` restarts from `durable` instead of what it wrote (crashing first if it
    /// runs): how a test sets up a member's term and log before a case.
    pub fn load(&mut self, id: NodeId, durable: DurableState) -> Vec<String> {
        let mut lines = if self.is_up(id) { self.crash(id) } else { Vec::new() };
        self.member(id).durable = durable;
        lines.extend(self.restart(id));
        lines
    }

    /// Restarts node `id` from what it made durable.
    pub fn restart(&mut self, id: NodeId) -> Vec<String> {
        if self.is_up(id) {
            return vec![format!("n{id} is already up")];
        }
        self.safety.restarted(id);
        let mut lines = vec![format!("n{id}: restarted")];
        lines.extend(self.start(id));
        lines
    }

    /// Adds host `len() + 1` and starts it empty, as a member joining a running cluster
    /// (it knows no configuration until the leader's log or snapshot reaches it): what a
    /// membership change adds, for the membership golden files.
    pub fn add_host(&mut self) -> Vec<String> {
        self.members.push(Member {
            process: None,
            incarnation: 0,
            durable: DurableState::default(),
            joining: true,
            pending: Vec::new(),
            outbox: Outbox::new(),
        });
        let id = self.len();
        let mut lines = vec![format!("n{id}: added, empty")];
        lines.extend(self.start(id));
        lines
    }

    /// One line per node: role, term, vote, leader, commit, applied, last index.
    pub fn describe(&self) -> Vec<String> {
        (1..=self.members.len() as u64)
            .map(|id| match self.status(id) {
                None => format!("n{id}: down"),
                Some(s) => format!(
                    "n{id}: {:?} t{} vote={} leader={} commit={} applied={} last={}",
                    s.role,
                    s.term,
                    s.vote.map_or("-".to_string(), |v| v.to_string()),
                    s.leader.map_or("-".to_string(), |v| v.to_string()),
                    s.commit,
                    s.applied,
                    s.last_index
                ),
            })
            .collect()
    }
}
