//! A step-driven cluster of any `Process`, for interaction tests: nothing happens
//! unless a test says so. It delivers, drops or duplicates the i-th message in flight,
//! makes a node's persists durable up to a sync, ticks, crashes and restarts nodes, and
//! answers each step with the effects it caused, one line each (the core's `Display`
//! for messages and effects), so a golden file reads as the story of the run.
//! Sends wait in the node's `Outbox` until their persist is durable, as in the world.

use crate::world::{NodeFactory, NodeSetup};
use detcd_core::outbox::Outbox;
use detcd_core::process::{Effect, Process};
use detcd_core::raft::{Message, Status};
use detcd_core::types::{DurableState, NodeId, PersistOp, RequestId, SyncId};

/// Ticks `tick_until_role_change` gives a node before it reports that nothing changed.
pub const ELECTION_TICKS_MAX: u32 = 1_000;
/// Messages `deliver_all` delivers before it stops (a livelock would otherwise hang).
pub const DELIVERIES_MAX: usize = 10_000;

/// One member: its process (None while crashed), its disk and its held sends.
struct Member<P> {
    process: Option<P>,
    incarnation: u64,
    durable: DurableState,
    /// Persist requests written but not yet durable, oldest first.
    pending: Vec<PersistOp>,
    outbox: Outbox,
}

/// A cluster of nodes `1..=n` that moves one step at a time.
pub struct StepCluster<P: Process> {
    members: Vec<Member<P>>,
    factory: NodeFactory<P>,
    /// Messages in flight, in the order they were put on the network.
    in_flight: Vec<Message>,
    next_request: RequestId,
}

impl<P: Process> StepCluster<P> {
    /// Nodes `1..=n`, started fresh. Node seeds are fixed per (id, incarnation), so a
    /// test's story is the same on every run.
    pub fn new(n: u64, factory: impl Fn(&NodeSetup) -> P::Config + 'static) -> Self {
        let members = (1..=n)
            .map(|_| Member {
                process: None,
                incarnation: 0,
                durable: DurableState::default(),
                pending: Vec::new(),
                outbox: Outbox::new(),
            })
            .collect();
        let mut c = StepCluster {
            members,
            factory: Box::new(factory),
            in_flight: Vec::new(),
            next_request: 1,
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
        let n = self.members.len() as u64;
        let m = self.member(id);
        let setup = NodeSetup {
            id,
            voters: (1..=n).collect(),
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
        for effect in effects {
            let m = self.member(id);
            match effect {
                Effect::Send { msg, after } => {
                    let text = msg.to_string();
                    match (m.outbox.send(msg, after), after) {
                        (Some(msg), _) => {
                            lines.push(format!("n{id}: Send {text}"));
                            self.in_flight.push(msg);
                        }
                        (None, Some(s)) => {
                            lines.push(format!("n{id}: Send {text} (held until s{s})"))
                        }
                        (None, None) => unreachable!("a send without a persist to wait for leaves"),
                    }
                }
                Effect::Persist(op) => {
                    lines.push(format!("n{id}: {op}"));
                    m.pending.push(op);
                }
                e @ Effect::Respond { .. } => lines.push(format!("n{id}: {e}")),
            }
        }
        lines
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
        let to = msg.to;
        let mut lines = vec![format!("deliver {msg}")];
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
        let mut lines = vec![format!("n{id}: durable up to s{sync}")];
        for msg in released {
            lines.push(format!("n{id}: release {msg}"));
            self.in_flight.push(msg);
        }
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

    /// Restarts node `id` from what it made durable.
    pub fn restart(&mut self, id: NodeId) -> Vec<String> {
        if self.is_up(id) {
            return vec![format!("n{id} is already up")];
        }
        let mut lines = vec![format!("n{id}: restarted")];
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
