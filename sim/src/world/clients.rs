//! Clients and streams: requests submitted at a time with a timeout, watch streams
//! that end when their member crashes, the responses members give, and the finished
//! results a workload drains.

use super::events::SimEvent;
use super::stepping::Event;
use super::World;
use crate::client::{ClientResult, Outcome, Record, RequestState};
use crate::safety::ViolationKind;
use crate::types_ext::{ClientId, NodeId, RequestId};
use detcd_core::process::Process;

impl<P: Process> World<P> {
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
            learner: None,
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
            learner: None,
        });
        let id = self.records.len() as RequestId;
        self.queue.push(now, Event::Invoke { id });
        id
    }

    /// Ends every open request and stream of the member at `node`, which crashed: their
    /// clients see the connection reset and cannot know whether they took effect.
    pub(super) fn break_streams(&mut self, node: NodeId) {
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

    pub(super) fn record(&mut self, id: RequestId) -> Option<&mut Record<P::Request>> {
        id.checked_sub(1).and_then(|i| self.records.get_mut(i as usize))
    }

    pub(super) fn finish(&mut self, id: RequestId, outcome: Outcome<P::Response>) {
        let now = self.now_us;
        let r = &self.records[(id - 1) as usize];
        let incarnation = self.incarnation(r.node);
        self.results.push_back(ClientResult {
            id,
            client: r.client,
            node: r.node,
            request: r.request.clone(),
            invoke_us: r.invoke_us,
            complete_us: now,
            incarnation,
            learner: r.learner,
            outcome,
        });
    }

    pub(super) fn on_invoke(&mut self, id: RequestId) {
        let now = self.now_us;
        let r = self.record(id).expect("scheduled request exists");
        if r.state != RequestState::Scheduled {
            return;
        }
        r.state = RequestState::Pending;
        r.invoke_us = now;
        let (node, client) = (r.node, r.client);
        let request = r.request.clone();
        self.emit(SimEvent::ClientInvoke { request: id, client, node });
        let Some(i) = self.slot_index(node) else { return };
        if self.nodes[i].process.is_none() {
            if let Some(r) = self.record(id) {
                r.state = RequestState::TimedOut;
            }
            self.finish(id, Outcome::Refused);
            return;
        }
        let Some(p) = self.nodes[i].process.as_mut() else { return };
        let learner = p.membership().map(|(conf, _)| conf.learners.contains(&p.id()));
        p.request(id, request);
        if let Some(r) = self.record(id) {
            r.learner = learner;
        }
        self.pump(i);
        self.check(i);
    }

    pub(super) fn on_timeout(&mut self, id: RequestId) {
        let r = self.record(id).expect("scheduled request exists");
        if !matches!(r.state, RequestState::Scheduled | RequestState::Pending) {
            return;
        }
        r.state = RequestState::TimedOut;
        let (node, client) = (r.node, r.client);
        self.emit(SimEvent::ClientTimeout { request: id, client, node });
        self.finish(id, Outcome::Timeout);
    }

    pub(super) fn respond(&mut self, i: usize, id: RequestId, response: P::Response) {
        let node = self.nodes[i].id;
        if self.options.check_raft_safety {
            if let Some(p) = self.nodes[i].process.as_ref() {
                let applied = p.status().applied;
                let term = p.entry(applied).map(|e| e.term);
                // Counted among the configuration the entry was committed under, not the
                // member's own (which may be joint, pending or newer).
                let decided = self.safety.decided_under(applied);
                let disk = |id: NodeId| self.slot_index(id).map(|i| &self.nodes[i].disk.durable);
                let all = self.nodes.iter().map(|s| &s.disk.durable);
                if let Some(kind) =
                    crate::promises::PromiseChecker::answered(applied, term, decided, disk, all)
                {
                    self.flag(node, kind);
                }
            }
        }
        let Some(r) = self.record(id) else {
            self.flag(node, ViolationKind::BadResponse { request: id, why: "never sent to it" });
            return;
        };
        match r.state {
            RequestState::Pending if r.stream => {
                let client = r.client;
                self.emit(SimEvent::ClientComplete { request: id, client, node, stream: true });
                self.finish(id, Outcome::Ok(response));
            }
            RequestState::Pending => {
                r.state = RequestState::Done;
                let client = r.client;
                self.emit(SimEvent::ClientComplete { request: id, client, node, stream: false });
                self.finish(id, Outcome::Ok(response));
            }
            RequestState::TimedOut => {
                self.emit(SimEvent::ClientLateResponse { request: id, node });
            }
            RequestState::Done => {
                self.flag(node, ViolationKind::BadResponse { request: id, why: "answered already" })
            }
            RequestState::Scheduled => {
                self.flag(node, ViolationKind::BadResponse { request: id, why: "not sent yet" })
            }
        }
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
}
