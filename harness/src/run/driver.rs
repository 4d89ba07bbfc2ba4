//! Driving the workload through a simulated cluster: clients issue operations until the
//! safety phase ends, every answer is recorded, watch streams are kept open across
//! member crashes, and the cluster's write history is read as it grows. Status and
//! watch progress requests go beside a client's operations, and their answers are
//! kept for the status and watch checks. Every answer a learner gave, and every
//! learner refusal, is kept for the learner check.

use crate::checks::learner::LearnerAnswer;
use crate::checks::member_list::MemberListAnswer;
use crate::checks::status::StatusAnswer;
use crate::checks::transfer::TransferAnswer;
use crate::checks::watch::{WatchEventRecord, WatchStreamRecord};
use crate::checks::watch_answers::WatchAnswerRecord;
use crate::checks::watch_notify::{NotifyWindow, Unasked};
use crate::checks::watch_progress::{ProgressHeld, ProgressNotice};
use crate::history::WriteLog;
use crate::report::{check_names, CheckResult};
use crate::workload::{
    asks_progress_notify, classify, is_definite_refusal, OpKind, OpOutcome, OpRecord, Workload,
    KEYS_END, KEY_PREFIX,
};
use bytes::Bytes;
use detcd_core::api::{EventType, WatchCreateRequest};
use detcd_core::server::{EtcdNode, Request, Response};
use detcd_sim::{ClientResult, Outcome, SimError, World, OPERATOR_CLIENT};
use std::collections::BTreeMap;

/// A stream that keeps breaking is resumed at most this often.
const STREAM_RESUMPTIONS_MAX: u32 = 64;
/// A client draws at most this many requests that do not occupy it (a watch, a
/// Status, a progress request) before its operation; then it reads a key.
const SIDE_DRAWS_MAX: usize = 16;

/// A request sent beside the client's operations.
enum Side {
    Status,
    Members,
    /// A progress request about `stream`, sent while `carrier` carried it.
    Progress {
        stream: u64,
        carrier: u64,
        member: u64,
    },
}

/// A watch stream the workload keeps open, possibly across resumptions.
struct OpenStream {
    record: WatchStreamRecord,
    /// The request currently carrying the stream, and the member it is on.
    request: Option<(u64, u64)>,
    /// Revision to resume from: one past the last event seen.
    next_revision: i64,
    /// The revision the current request asked to start from.
    carrier_start: i64,
    resumptions: u32,
    /// When the current carrier last delivered events, and each periodic notice it
    /// delivered.
    last_events_us: Option<u64>,
    notices_us: Vec<u64>,
}

/// An operation waiting for its answer.
struct OpenOp {
    client: usize,
    kind: OpKind,
    /// The incarnation of the member it was sent to.
    incarnation: u64,
    /// When it was sent: an operation never answered is recorded as called then.
    invoke_us: u64,
    /// When its client gives up on it.
    deadline_us: u64,
}

/// The workload side of one run.
pub(super) struct Driver {
    pub world: World<EtcdNode>,
    workload: Workload,
    nodes: u64,
    safety_end_us: u64,
    timeout_us: u64,
    /// Past this many recorded operations clients stop issuing: the run is over budget.
    history_ops_max: u64,
    history_cut: bool,
    open: BTreeMap<u64, OpenOp>,
    streams: BTreeMap<u64, OpenStream>,
    pub records: Vec<OpRecord>,
    pub write_log: WriteLog,
    /// The answers to the world's leader-transfer requests (`OPERATOR_CLIENT`).
    pub transfer_answers: Vec<TransferAnswer>,
    side: BTreeMap<u64, Side>,
    pub status_answers: Vec<StatusAnswer>,
    pub learner_answers: Vec<LearnerAnswer>,
    pub member_list_answers: Vec<MemberListAnswer>,
}

impl Driver {
    pub fn new(
        world: World<EtcdNode>,
        workload: Workload,
        nodes: u64,
        safety_end_us: u64,
        timeout_us: u64,
        history_ops_max: u64,
    ) -> Self {
        Driver {
            world,
            workload,
            nodes,
            safety_end_us,
            timeout_us,
            history_ops_max,
            history_cut: false,
            open: BTreeMap::new(),
            streams: BTreeMap::new(),
            records: Vec::new(),
            write_log: WriteLog::default(),
            transfer_answers: Vec::new(),
            side: BTreeMap::new(),
            status_answers: Vec::new(),
            learner_answers: Vec::new(),
            member_list_answers: Vec::new(),
        }
    }

    /// The safety phase, then the drain: clients stop issuing and every open request
    /// finishes or times out. Requests that never answered are recorded as unknown.
    pub fn safety_phase(&mut self) -> Result<(), SimError> {
        for c in 0..self.workload.clients.len() {
            let at = self.workload.think_us();
            self.submit(c, at, None);
        }
        let outcome = loop {
            // The drain lasts until every open request is answered or timed out; one sent
            // just before the safety phase ended may time out after a full timeout.
            let last_deadline = self.open.values().map(|op| op.deadline_us).max();
            let drain_end_us =
                last_deadline.unwrap_or(0).max(self.safety_end_us + self.timeout_us) + 1;
            let issuing = self.issuing();
            let deadline = if issuing { self.safety_end_us } else { drain_end_us };
            match self.world.run_until_result(deadline) {
                Err(e) => break Err(e),
                Ok(false) if self.world.now_us() >= drain_end_us => break Ok(()),
                Ok(false) if issuing => continue,
                Ok(false) => break Ok(()),
                Ok(true) => {}
            }
            self.absorb_writes();
            let results: Vec<_> = self.world.drain_results().collect();
            for r in results {
                self.answer(r);
            }
        };
        let end_us = self.world.now_us();
        for (_, op) in std::mem::take(&mut self.open) {
            self.records.push(OpRecord {
                client: self.workload.clients[op.client].id,
                node: 0,
                incarnation: op.incarnation,
                kind: op.kind,
                invoke_us: op.invoke_us.min(end_us),
                complete_us: end_us,
                outcome: OpOutcome::Unknown(None),
            });
        }
        outcome
    }

    /// Takes the watch events that arrived after the safety phase.
    pub fn collect_late_stream_results(&mut self) {
        let results: Vec<_> = self.world.drain_results().collect();
        for r in results {
            self.note_learner_answer(&r);
            if r.client == OPERATOR_CLIENT {
                self.transfer_answer(r);
            } else if let Some(key) = self.stream_of(r.id) {
                self.stream_result(key, r.outcome, r.complete_us);
            } else if let Some(side) = self.side.remove(&r.id) {
                self.side_answer(side, r);
            }
        }
    }

    /// Asks every member for its Status and its member list `after_us` from now, as the
    /// first client; the answers come in with the streams' late results.
    pub fn ask_status_of_all(&mut self, after_us: u64) {
        let at_us = self.world.now_us() + after_us;
        for node in self.world.node_ids() {
            self.ask_status(0, node, at_us);
        }
    }

    /// Lets every open stream catch up once the cluster has healed: notes the revision
    /// each stream's member has applied, runs `settle_us` more and takes what arrived.
    /// A stream still on the same request then must have delivered through that
    /// revision (the watch check's liveness rule).
    pub fn settle_streams(&mut self, settle_us: u64) {
        let world = &self.world;
        let marks: Vec<(u64, u64, i64)> = self
            .streams
            .iter()
            .filter_map(|(k, s)| {
                let (id, node) = s.request?;
                let revision = world.process(node)?.store().current_revision();
                Some((*k, id, revision))
            })
            .collect();
        let from_us = self.world.now_us();
        if self.world.run_for(settle_us).is_err() {
            return;
        }
        self.collect_late_stream_results();
        let to_us = self.world.now_us();
        for (key, id, revision) in marks {
            let Some(s) = self.streams.get_mut(&key) else { continue };
            let Some((_, member)) = s.request.filter(|&(now, _)| now == id) else { continue };
            s.record.must_reach = Some(revision);
            if s.record.progress_notify {
                s.record.notify_window = Some(NotifyWindow {
                    member,
                    from_us,
                    to_us,
                    last_events_us: s.last_events_us.filter(|&at| at >= from_us),
                    notices_us: s.notices_us.iter().copied().filter(|&at| at >= from_us).collect(),
                });
            }
        }
    }

    /// Every watch stream as recorded.
    pub fn watch_streams(&mut self) -> Vec<WatchStreamRecord> {
        std::mem::take(&mut self.streams).into_values().map(|s| s.record).collect()
    }

    /// Reads new revisions from the member furthest ahead, before a compaction removes
    /// them.
    pub fn absorb_writes(&mut self) {
        let world = &self.world;
        let ahead = world
            .node_ids()
            .into_iter()
            .filter_map(|id| world.process(id))
            .max_by_key(|p| p.store().current_revision());
        if let Some(p) = ahead {
            self.write_log.absorb_at(p.store(), world.now_us());
        }
    }

    fn issuing(&mut self) -> bool {
        let wants = self.workload.wants_more() && self.world.now_us() < self.safety_end_us;
        if wants && self.records.len() as u64 >= self.history_ops_max {
            self.history_cut = true;
            return false;
        }
        wants
    }

    /// The budget verdict, when clients stopped early because the history reached its
    /// bound.
    pub fn history_over_budget(&self) -> Option<CheckResult> {
        self.history_cut.then(|| {
            CheckResult::over_budget(
                check_names::BUDGET,
                format!(
                    "over budget: the history reached {} operations and clients stopped issuing",
                    self.history_ops_max
                ),
            )
        })
    }

    /// The answer to a leader-transfer request the world made as the operator.
    fn transfer_answer(&mut self, r: ClientResult<Request, Response>) {
        let (ok, what) = match &r.outcome {
            Outcome::Ok(Response::MoveLeader(_)) => (true, "ok".to_string()),
            Outcome::Ok(Response::Err(e)) => (false, e.message().to_string()),
            Outcome::Ok(other) => (false, format!("{other:?}")),
            Outcome::Timeout => (false, "no answer before the client's timeout".to_string()),
            Outcome::Refused => (false, "connection refused".to_string()),
        };
        let complete_us = r.complete_us;
        self.transfer_answers.push(TransferAnswer { request: r.id, complete_us, ok, what });
    }

    /// Keeps an answer the learner check judges.
    fn note_learner_answer(&mut self, r: &ClientResult<Request, Response>) {
        let (Outcome::Ok(response), Some(learner)) = (&r.outcome, r.learner) else { return };
        if let Some(a) = LearnerAnswer::of(r.node, r.complete_us, &r.request, learner, response) {
            self.learner_answers.push(a);
        }
    }

    /// A member for client requests, other than `avoid` when there is a choice; now
    /// and then a learner while there is one.
    fn pick_target(&mut self, avoid: Option<u64>) -> u64 {
        let learners = self.world.learners();
        self.workload.pick_target(self.nodes, &learners, avoid)
    }

    fn stream_of(&self, request: u64) -> Option<u64> {
        self.streams
            .iter()
            .find(|(_, s)| s.request.is_some_and(|(id, _)| id == request))
            .map(|(k, _)| *k)
    }

    /// One finished request: record it, let its client learn from it, and send the
    /// client's next operation.
    fn answer(&mut self, r: ClientResult<Request, Response>) {
        self.note_learner_answer(&r);
        if r.client == OPERATOR_CLIENT {
            self.transfer_answer(r);
            return;
        }
        if let Some(key) = self.stream_of(r.id) {
            self.stream_result(key, r.outcome, r.complete_us);
            return;
        }
        if let Some(side) = self.side.remove(&r.id) {
            self.side_answer(side, r);
            return;
        }
        let Some(op) = self.open.remove(&r.id) else { return };
        let outcome = match r.outcome {
            Outcome::Ok(resp) => classify(&op.kind, Some(resp)),
            Outcome::Timeout => classify(&op.kind, None),
            Outcome::Refused => OpOutcome::Refused,
        };
        self.workload.complete(op.client, &op.kind, &outcome);
        let retry_elsewhere = match &outcome {
            OpOutcome::Failed(e) => is_definite_refusal(e),
            OpOutcome::Refused => true,
            _ => false,
        };
        self.records.push(OpRecord {
            client: r.client,
            node: r.node,
            incarnation: r.incarnation,
            kind: op.kind,
            invoke_us: r.invoke_us,
            complete_us: r.complete_us,
            outcome,
        });
        if self.issuing() {
            let at = self.world.now_us() + self.workload.think_us();
            self.submit(op.client, at, retry_elsewhere.then_some(r.node));
        }
    }

    /// Sends client `c`'s next operation at `at_us` to a member other than `avoid`,
    /// after the requests drawn before it that do not occupy the client.
    fn submit(&mut self, c: usize, at_us: u64, mut avoid: Option<u64>) {
        for _ in 0..SIDE_DRAWS_MAX {
            let kind = self.workload.next_op_at(c, Some(at_us));
            match kind {
                OpKind::WatchCreate { stream } => {
                    let node = self.pick_target(avoid);
                    self.open_stream(c, stream, node);
                }
                OpKind::Status => {
                    let node = self.pick_target(avoid);
                    self.ask_status(c, node, at_us);
                }
                OpKind::WatchProgress { stream } => self.ask_progress(c, stream, at_us),
                kind => {
                    let node = self.pick_target(avoid);
                    return self.send(c, kind, node, at_us);
                }
            }
            avoid = None;
        }
        let read = self.workload.read();
        let node = self.pick_target(None);
        self.send(c, read, node, at_us);
    }

    /// What `etcdctl endpoint status` and `etcdctl member list` ask `node`, as client
    /// `c`: its Status and its member list, side by side.
    fn ask_status(&mut self, c: usize, node: u64, at_us: u64) {
        let id = self.side_request(c, Request::Status, node, at_us);
        self.side.insert(id, Side::Status);
        let id = self.side_request(c, Request::MemberList, node, at_us);
        self.side.insert(id, Side::Members);
    }

    fn side_request(&mut self, c: usize, request: Request, node: u64, at_us: u64) -> u64 {
        let client = self.workload.clients[c].id;
        self.world.submit_at(at_us, client, node, request, self.timeout_us)
    }

    /// A progress request about `stream`, to the member carrying it now.
    fn ask_progress(&mut self, c: usize, stream: u64, at_us: u64) {
        let Some((carrier, member)) = self.streams.get(&stream).and_then(|s| s.request) else {
            return;
        };
        let id = self.side_request(c, Request::WatchProgress { stream }, member, at_us);
        self.side.insert(id, Side::Progress { stream, carrier, member });
    }

    fn side_answer(&mut self, side: Side, r: ClientResult<Request, Response>) {
        match (side, r.outcome) {
            (Side::Status, Outcome::Ok(Response::Status(s))) => {
                self.status_answers.push(StatusAnswer {
                    member: r.node,
                    invoke_us: r.invoke_us,
                    complete_us: r.complete_us,
                    leader: s.leader,
                    raft_term: s.raft_term,
                    raft_index: s.raft_index,
                    raft_applied_index: s.raft_applied_index,
                })
            }
            (Side::Members, Outcome::Ok(Response::Members(m))) => {
                self.member_list_answers.push(MemberListAnswer {
                    member: r.node,
                    complete_us: r.complete_us,
                    listed: m.members.iter().map(|m| (m.id, m.is_learner)).collect(),
                })
            }
            (Side::Progress { stream, carrier, member }, outcome) => {
                let Some(s) = self.streams.get_mut(&stream) else { return };
                match outcome {
                    Outcome::Ok(Response::Watch(w))
                        if w.watch_id == -1
                            && !w.canceled
                            && s.request.is_some_and(|(id, _)| id == carrier) =>
                    {
                        s.record.progress.notices.push(ProgressNotice {
                            after_responses: s.record.responses.len(),
                            after_answers: s.record.answers.len(),
                            carrier: s.resumptions,
                            revision: w.header.revision,
                            member,
                            complete_us: r.complete_us,
                        });
                    }
                    // A crash ends the request early; only a full timeout was held.
                    Outcome::Timeout if r.complete_us >= r.invoke_us + self.timeout_us => {
                        s.record.progress.held.push(ProgressHeld {
                            member,
                            invoke_us: r.invoke_us,
                            complete_us: r.complete_us,
                        });
                    }
                    _ => {}
                }
            }
            _ => {}
        }
    }

    fn send(&mut self, c: usize, kind: OpKind, node: u64, at_us: u64) {
        let client = self.workload.clients[c].id;
        let request = self.workload.request(&kind);
        let id = self.world.submit_at(at_us, client, node, request, self.timeout_us);
        let incarnation = self.world.incarnation(node);
        let (invoke_us, deadline_us) = (at_us, at_us + self.timeout_us);
        self.open.insert(id, OpenOp { client: c, kind, incarnation, invoke_us, deadline_us });
    }

    /// Opens client `c`'s watch over the workload's keys from the revision after the
    /// newest it has seen.
    fn open_stream(&mut self, c: usize, stream: u64, node: u64) {
        let client = self.workload.clients[c].id;
        self.workload.clients[c].has_watch = true;
        let start = self.workload.clients[c].last_revision + 1;
        let mut request = self.workload.request(&OpKind::WatchCreate { stream });
        if let Request::WatchCreate { create, .. } = &mut request {
            create.start_revision = start;
        }
        let id = self.world.submit_stream(client, node, request);
        self.streams.insert(
            stream,
            OpenStream {
                record: WatchStreamRecord {
                    client,
                    key: Bytes::from_static(KEY_PREFIX.as_bytes()),
                    range_end: Bytes::from_static(KEYS_END.as_bytes()),
                    start_revision: start,
                    progress_notify: asks_progress_notify(stream),
                    prev_kv: true,
                    ..WatchStreamRecord::default()
                },
                request: Some((id, node)),
                next_revision: start,
                carrier_start: start,
                resumptions: 0,
                last_events_us: None,
                notices_us: Vec::new(),
            },
        );
    }

    /// One answer on a watch stream: events are recorded; a broken or cancelled stream
    /// is resumed on another member from one past the last revision seen.
    fn stream_result(&mut self, key: u64, outcome: Outcome<Response>, at_us: u64) {
        let s = self.streams.get_mut(&key).expect("stream exists");
        let mut resume = false;
        match outcome {
            Outcome::Ok(Response::Watch(w)) => {
                s.record.answers.push(WatchAnswerRecord {
                    carrier: s.resumptions,
                    member: s.request.map_or(0, |(_, node)| node),
                    start_revision: s.carrier_start,
                    header_revision: w.header.revision,
                    header_member: w.header.member_id,
                    watch_id: w.watch_id,
                    created: w.created,
                    canceled: w.canceled,
                    compact_revision: w.compact_revision,
                    cancel_reason: w.cancel_reason.clone(),
                    last_event_revision: w.events.last().map(|e| e.kv.mod_revision),
                });
                let member = s.request.map_or(0, |(_, node)| node);
                if w.events.is_empty() && !w.created && !w.canceled {
                    // A periodic progress notice: the promise of a progress answer.
                    s.notices_us.push(at_us);
                    let revision = w.header.revision;
                    if s.record.progress_notify {
                        s.record.progress.notices.push(ProgressNotice {
                            after_responses: s.record.responses.len(),
                            after_answers: s.record.answers.len(),
                            carrier: s.resumptions,
                            revision,
                            member,
                            complete_us: at_us,
                        });
                    } else {
                        s.record.unasked.push(Unasked { member, at_us, revision });
                    }
                }
                if !w.events.is_empty() {
                    s.last_events_us = Some(at_us);
                    let events: Vec<WatchEventRecord> = w.events.iter().map(watch_event).collect();
                    s.next_revision = events.last().map_or(s.next_revision, |e| e.revision + 1);
                    s.record.responses.push(events);
                }
                if w.canceled {
                    if w.compact_revision > 0 {
                        s.record.compacted_at = Some(w.compact_revision);
                        s.next_revision = s.next_revision.max(w.compact_revision);
                    }
                    resume = true;
                }
            }
            Outcome::Ok(_) | Outcome::Timeout | Outcome::Refused => resume = true,
        }
        if resume && s.resumptions >= STREAM_RESUMPTIONS_MAX {
            // Given up: the stream is closed, so the watch check's liveness rule (for
            // streams open at the end) must not hold the ended request to account.
            s.request = None;
        } else if resume {
            let (_, old_node) = s.request.take().unwrap_or((0, 0));
            s.resumptions += 1;
            // Deterministic choice of the next member: the next one round the ring.
            let node = old_node % self.nodes + 1;
            let request = Request::WatchCreate {
                stream: key,
                create: WatchCreateRequest {
                    key: s.record.key.clone(),
                    range_end: s.record.range_end.clone(),
                    start_revision: s.next_revision,
                    progress_notify: s.record.progress_notify,
                    prev_kv: s.record.prev_kv,
                    ..Default::default()
                },
            };
            let id = self.world.submit_stream(s.record.client, node, request);
            s.request = Some((id, node));
            s.carrier_start = s.next_revision;
            s.last_events_us = None;
            s.notices_us.clear();
        }
    }
}

/// An MVCC event as the watch checks see it.
pub(super) fn watch_event(e: &detcd_core::api::Event) -> WatchEventRecord {
    WatchEventRecord {
        revision: e.kv.mod_revision,
        key: e.kv.key.clone(),
        delete: e.r#type == EventType::Delete,
        value: e.kv.value.clone(),
        prev: e.prev_kv.as_ref().map(|p| (p.mod_revision, p.value.clone())),
    }
}
