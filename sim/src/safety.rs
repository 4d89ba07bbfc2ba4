//! Raft safety, checked by the world after every event from what the nodes expose
//! (`Process::status`, `entry`, `state_hash`). Each check names the property it guards.
//!
//! - Election safety (Raft §5.2, Figure 3): at most one leader per term, over the whole
//!   run (`leaders` remembers term → leader across crashes).
//! - Log matching / leader completeness (§5.3, §5.4): once any node reports an index
//!   committed, the entry there is fixed forever: every node that later reports that
//!   index committed holds the same (term, kind, data), including after crashes and
//!   restarts, and every new leader holds every entry committed so far.
//! - State machine safety (§5.4.3): nodes that have applied the same index have the same
//!   state hash.
//! - Promises (Figure 2, §5.2, §5.3): votes, append acknowledgements and client answers
//!   are backed by the disks when released; see [`crate::promises`]. Pre-vote grants
//!   are backed by the granter's state (thesis §9.6); see [`crate::pre_vote`].
//!
//! Quorums are counted by the configuration each entry was decided under (thesis
//! §4.3): the one the leader held when its commit index first passed the entry — a
//! configuration takes effect when appended, so that is the leader's configuration
//! just before the event that advanced its commit (the event may append the leave
//! entry of a joint phase after deciding). While joint it needs a majority of both
//! halves. [`SafetyChecker::decided_under`] answers it per index.

use crate::trace::fnv_bytes;
use crate::types_ext::{Index, NodeId, Term};
use detcd_core::process::Process;
use detcd_core::raft::{Role, Status};
use detcd_core::types::{ConfState, Entry};
use std::collections::BTreeMap;
use std::fmt;

/// Which property broke.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ViolationKind {
    /// Two leaders in one term.
    TwoLeaders { term: Term, first: NodeId, second: NodeId },
    /// A committed index holds a different entry than the one first seen committed there.
    CommittedEntryChanged { index: Index, expected_term: Term, found_term: Term },
    /// A new leader lacks an entry committed before its term.
    LeaderMissingCommitted { index: Index, term: Term },
    /// Two nodes applied the same index to different states.
    StateDiverged { applied: Index, expected_hash: u64, found_hash: u64 },
    /// A node's commit index went backwards within one incarnation.
    CommitRegressed { from: Index, to: Index },
    /// The process answered a request it never got, or answered one twice.
    BadResponse { request: u64, why: &'static str },
    /// A vote grant left before the voter's disk held that term and vote (§5.2, Fig. 2).
    VoteNotDurable {
        term: Term,
        candidate: NodeId,
        durable_term: Term,
        durable_vote: Option<NodeId>,
    },
    /// A member granted two candidates its vote in one term (§5.2), across crashes.
    TwoVotes { term: Term, first: NodeId, second: NodeId },
    /// An append acknowledgement left before the acknowledged entries were durable (§5.3,
    /// Figure 2).
    AckNotDurable { term: Term, index: Index, durable_last: Index },
    /// An acknowledged entry left the member's durable log while it was still in the
    /// term of the acknowledgement (§5.3).
    AckedEntryLost { term: Term, index: Index, durable_last: Index },
    /// A client was answered while the member's applied entry was durable on fewer than a
    /// quorum of the disks of the configuration it was decided under (§5.3, §4.3, §8).
    AnswerNotDurable { index: Index, durable_on: usize, members: usize, config: String },
    /// A member applied an entry its own disk does not hold (`durable_term`: the term of
    /// the entry the disk holds at that index instead, if any).
    AppliedNotDurable { index: Index, term: Term, durable_term: Option<Term> },
    /// A member holds a client request that nothing but its deadline will answer
    /// (`Process::stranded_request`): it lost track of it.
    RequestStranded { request: u64, why: &'static str },
    /// A member granted a pre-vote it would not back with its vote (thesis §9.6). Boxed:
    /// every run's result carries a violation's size.
    PreVoteNotBacked(Box<crate::pre_vote::Grant>),
}

impl fmt::Display for ViolationKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ViolationKind::TwoLeaders { term, first, second } => {
                write!(f, "two leaders in term {term}: node {first} and node {second}")
            }
            ViolationKind::CommittedEntryChanged { index, expected_term, found_term } => write!(
                f,
                "the entry committed at log index {index} (written in term {expected_term}) was replaced by one from term {found_term}: a committed write was lost"
            ),
            ViolationKind::LeaderMissingCommitted { index, term } => write!(
                f,
                "it became leader without the entry committed at log index {index} (written in term {term}): a committed write was lost"
            ),
            ViolationKind::StateDiverged { applied, expected_hash, found_hash } => write!(
                f,
                "its store after applying log index {applied} differs from another member's at that index (hash {found_hash:016x}, expected {expected_hash:016x})"
            ),
            ViolationKind::CommitRegressed { from, to } => write!(
                f,
                "its commit index went back from {from} to {to} without a restart"
            ),
            ViolationKind::BadResponse { request, why } => {
                write!(f, "it answered client request {request}, which was {why}")
            }
            ViolationKind::VoteNotDurable { term, candidate, durable_term, durable_vote } => {
                let vote = durable_vote.map_or("none".to_string(), |v| format!("node {v}"));
                write!(
                    f,
                    "it granted node {candidate} its vote in term {term} before that vote was durable (its disk held term {durable_term}, vote {vote})"
                )
            }
            ViolationKind::TwoVotes { term, first, second } => write!(
                f,
                "it voted twice in term {term}: for node {first}, then for node {second}"
            ),
            ViolationKind::AckNotDurable { term, index, durable_last } => write!(
                f,
                "it acknowledged log index {index} in term {term} before it was durable (its disk held up to index {durable_last})"
            ),
            ViolationKind::AckedEntryLost { term, index, durable_last } => write!(
                f,
                "log index {index}, acknowledged in term {term}, left its durable log (now up to index {durable_last}) within that term"
            ),
            ViolationKind::AnswerNotDurable { index, durable_on, members, config } => write!(
                f,
                "it answered a client having applied log index {index}, which only {durable_on} of {members} disks held: not durable on a quorum of {config}, the configuration it was committed under"
            ),
            ViolationKind::AppliedNotDurable { index, term, durable_term: Some(t) } => write!(
                f,
                "it applied log index {index} (term {term}) while its disk held another entry there (term {t}): applied before its own log was durable"
            ),
            ViolationKind::AppliedNotDurable { index, term, durable_term: None } => write!(
                f,
                "it applied log index {index} (term {term}) before its disk held it"
            ),
            ViolationKind::RequestStranded { request, why } => write!(
                f,
                "it holds client request {request}, {why}: nothing but the request's deadline answers it, where it should be answered at once"
            ),
            ViolationKind::PreVoteNotBacked(grant) => write!(f, "{grant}"),
        }
    }
}

/// A safety violation: what, where, when.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Violation {
    pub at_us: u64,
    pub node: NodeId,
    pub kind: ViolationKind,
    /// The committed entry that was lost or replaced, as first seen committed: lets a
    /// driver name the client write it carried.
    pub lost_entry: Option<Entry>,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let secs = self.at_us / 1_000_000;
        let micros = self.at_us % 1_000_000;
        write!(f, "safety violation at {secs}.{micros:06}s on node {}: {}", self.node, self.kind)
    }
}

/// What the checker keeps per committed index.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Committed {
    term: Term,
    digest: u64,
    /// The term of the node that first reported it committed: an upper bound of the
    /// term it was committed in (the leader that commits it reports it first, unless
    /// the checker first sees it on a node that already moved to a later term).
    seen_in: Term,
    /// The entry itself (its payload shares the log's buffer), to name a lost write.
    entry: Entry,
}

fn digest(e: &Entry) -> u64 {
    fnv_bytes(&e.data) ^ (e.kind as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15)
}

/// The configuration an index was decided under.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DecidedUnder {
    /// A process type without membership changes: every host votes.
    AllHosts,
    /// This configuration (joint: a majority of both halves).
    Conf(ConfState),
    /// No leader was seen deciding it (a member first reported it committed having
    /// learned it otherwise): not checked.
    Unknown,
}

impl fmt::Display for DecidedUnder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DecidedUnder::AllHosts => f.write_str("all hosts"),
            DecidedUnder::Conf(c) => write!(f, "{c}"),
            DecidedUnder::Unknown => f.write_str("an unknown configuration"),
        }
    }
}

/// Per node: what was checked already, so each event costs only what changed.
#[derive(Clone, Copy, Debug, Default)]
struct NodeView {
    role: Option<Role>,
    term: Term,
    commit_checked: Index,
    applied_checked: Index,
}

/// The record of a whole run.
#[derive(Default)]
pub struct SafetyChecker {
    leaders: BTreeMap<Term, NodeId>,
    /// Every index some node reported committed while it still held the entry. May have
    /// gaps (a node that only ever held a snapshot over some indices).
    committed: BTreeMap<Index, Committed>,
    applied_hashes: BTreeMap<Index, u64>,
    /// views[id - 1]; grown on demand.
    views: Vec<NodeView>,
    /// Votes and acknowledgements released, checked against the disks.
    pub(crate) promises: crate::promises::PromiseChecker,
    /// confs[id - 1]: each node's configuration at its last observation, i.e. before the
    /// event being observed. Grown on demand.
    confs: Vec<Option<ConfState>>,
    /// Run-length map: the configuration every index from the key on (up to the next
    /// key) was decided under, for indices up to `decided_to`.
    decided: BTreeMap<Index, DecidedUnder>,
    /// The highest index whose deciding configuration is recorded.
    decided_to: Index,
}

/// What changed on a node since the last check, for the world's traces.
#[derive(Clone, Copy, Debug)]
pub struct Observed {
    pub role_changed: bool,
    pub status: Status,
}

impl SafetyChecker {
    /// The node restarted: re-check its whole committed log and applied state.
    pub fn restarted(&mut self, node: NodeId) {
        *self.view(node) = NodeView::default();
        *self.conf_slot(node) = None;
    }

    fn conf_slot(&mut self, node: NodeId) -> &mut Option<ConfState> {
        let i = node.checked_sub(1).expect("node ids start at 1") as usize;
        if i >= self.confs.len() {
            self.confs.resize(i + 1, None);
        }
        &mut self.confs[i]
    }

    /// The configuration under which `index` was first committed; `Unknown` for an
    /// index not known committed.
    pub fn decided_under(&self, index: Index) -> &DecidedUnder {
        if index > self.decided_to {
            return &DecidedUnder::Unknown;
        }
        self.decided.range(..=index).next_back().map_or(&DecidedUnder::Unknown, |(_, d)| d)
    }

    /// Records what `p`'s commit index newly decides, and remembers its configuration
    /// for the next event. A leader decides under the configuration it held before this
    /// event; a member that reports indices committed that no leader was seen deciding
    /// records them unknown.
    fn record_decisions<P: Process>(&mut self, p: &P, st: &Status) {
        let now = p.membership().map(|(c, _)| c);
        if st.commit > self.decided_to {
            let before = self.confs.get(st.id as usize - 1).and_then(Option::as_ref);
            let d = match (st.role, now) {
                (_, None) => DecidedUnder::AllHosts,
                (Role::Leader, Some(now)) => DecidedUnder::Conf(before.unwrap_or(now).clone()),
                (_, Some(_)) => DecidedUnder::Unknown,
            };
            let same = self.decided.values().next_back() == Some(&d);
            if !same {
                self.decided.insert(self.decided_to + 1, d);
            }
            self.decided_to = st.commit;
        }
        let slot = self.conf_slot(st.id);
        if slot.as_ref() != now {
            *slot = now.cloned();
        }
    }

    fn view(&mut self, node: NodeId) -> &mut NodeView {
        let i = node.checked_sub(1).expect("node ids start at 1") as usize;
        if i >= self.views.len() {
            self.views.resize(i + 1, NodeView::default());
        }
        &mut self.views[i]
    }

    /// How many committed indices the checker has recorded.
    pub fn committed_len(&self) -> Index {
        self.committed.len() as Index
    }

    /// After a violation on `p`'s node, when the run goes on (`--keep-going`): take the
    /// node's state as it is now, so the same breakage is not reported at every event.
    pub fn accept<P: Process>(&mut self, p: &P) -> Observed {
        let st = p.status();
        self.record_decisions(p, &st);
        let view = self.view(st.id);
        let role_changed = view.role != Some(st.role) || view.term != st.term;
        *view = NodeView {
            role: Some(st.role),
            term: st.term,
            commit_checked: st.commit,
            applied_checked: st.applied,
        };
        Observed { role_changed, status: st }
    }

    /// Checks one node after an event. `check` off: only observe role changes.
    pub fn observe<P: Process>(
        &mut self,
        p: &P,
        now_us: u64,
        check: bool,
    ) -> Result<Observed, Violation> {
        let st = p.status();
        self.record_decisions(p, &st);
        let view = self.view(st.id);
        let role_changed = view.role != Some(st.role) || view.term != st.term;
        let fail = |kind, lost_entry| Violation { at_us: now_us, node: st.id, kind, lost_entry };
        if !check {
            view.role = Some(st.role);
            view.term = st.term;
            return Ok(Observed { role_changed, status: st });
        }
        let became_leader = role_changed && st.role == Role::Leader;
        let mut view_copy = *view;
        view_copy.role = Some(st.role);
        view_copy.term = st.term;

        if st.role == Role::Leader {
            match self.leaders.get(&st.term) {
                Some(&other) if other != st.id => {
                    return Err(fail(
                        ViolationKind::TwoLeaders { term: st.term, first: other, second: st.id },
                        None,
                    ))
                }
                Some(_) => {}
                None => {
                    self.leaders.insert(st.term, st.id);
                }
            }
        }

        if st.commit < view_copy.commit_checked {
            // A restart re-reads commit from durable state; views are reset then, so a
            // regression within an incarnation is a bug.
            return Err(fail(
                ViolationKind::CommitRegressed { from: view_copy.commit_checked, to: st.commit },
                None,
            ));
        }
        let from = view_copy.commit_checked.max(st.snapshot_index) + 1;
        for index in from..=st.commit {
            let Some(e) = p.entry(index) else { continue };
            let seen = digest(e);
            match self.committed.get(&index) {
                Some(c) if (c.term, c.digest) != (e.term, seen) => {
                    return Err(fail(
                        ViolationKind::CommittedEntryChanged {
                            index,
                            expected_term: c.term,
                            found_term: e.term,
                        },
                        Some(c.entry.clone()),
                    ))
                }
                Some(_) => {}
                None => {
                    let c = Committed {
                        term: e.term,
                        digest: seen,
                        seen_in: st.term,
                        entry: e.clone(),
                    };
                    self.committed.insert(index, c);
                }
            }
        }
        view_copy.commit_checked = st.commit;

        if became_leader {
            // Leader completeness binds leaders of later terms only: a stale candidate
            // can still win an older term from delayed vote grants after a newer leader
            // committed more, and that is no violation (it can commit nothing).
            let first = st.snapshot_index + 1;
            for (&index, c) in self.committed.range(first..) {
                if c.seen_in >= st.term {
                    continue;
                }
                match p.entry(index) {
                    Some(e) if e.term == c.term && digest(e) == c.digest => {}
                    _ => {
                        return Err(fail(
                            ViolationKind::LeaderMissingCommitted { index, term: c.term },
                            Some(c.entry.clone()),
                        ))
                    }
                }
            }
        }

        if st.applied != view_copy.applied_checked && st.applied > 0 {
            let h = p.state_hash();
            match self.applied_hashes.get(&st.applied) {
                Some(&expected) if expected != h => {
                    return Err(fail(
                        ViolationKind::StateDiverged {
                            applied: st.applied,
                            expected_hash: expected,
                            found_hash: h,
                        },
                        None,
                    ))
                }
                Some(_) => {}
                None => {
                    self.applied_hashes.insert(st.applied, h);
                }
            }
        }
        view_copy.applied_checked = st.applied;
        *self.view(st.id) = view_copy;
        Ok(Observed { role_changed, status: st })
    }
}
