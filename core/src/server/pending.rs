//! The requests this member has accepted and not yet answered (etcd's "wait"
//! registry): proposals waiting for their entry to apply, reads waiting for a read
//! index, reads waiting for the store to catch up with theirs. Each has a deadline in
//! ticks, so none is left unanswered forever, and leaving the registry is the only way
//! to be answered, so none is answered twice.

use super::proposal::{Op, ProposalId};
use crate::api::{AuthInfo, LeaseTimeToLiveRequest, RangeRequest, TxnRequest};
use crate::types::{Index, NodeId, RequestId};
use std::collections::{BTreeMap, BTreeSet};

/// A request served from local state once a read index allows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Read {
    Range(RangeRequest),
    Txn(TxnRequest),
    LeaseTimeToLive(LeaseTimeToLiveRequest),
    LeaseLeases,
    /// A read by `caller` (auth was enabled when it arrived), whose permission is
    /// checked when it is served, against the auth state of that moment.
    Checked(Option<AuthInfo>, Box<Read>),
    /// UNSAFE, a negative control only (`Config::unsafe_auth_check_reads_on_receipt`):
    /// its permission was checked when it arrived and is not looked at again, so an
    /// auth change applied while it waited for its read index does not refuse it.
    Prechecked(Box<Read>),
}

#[derive(Clone, Debug)]
enum Waiting {
    /// Answered when the entry with this id applies here.
    Proposal { id: ProposalId, op: Op },
    /// Waiting for `ReadReady`/`ReadFailed` of this read-index context.
    ReadIndex { ctx: u64, read: Read },
    /// Has its read index; served once this member applied it.
    Applied { index: Index, read: Read },
    /// A leader transfer, answered when `target` is known as leader.
    Transfer { target: NodeId },
}

#[derive(Clone, Debug)]
struct Request {
    deadline_ticks: u64,
    waiting: Waiting,
}

/// Requests accepted and not yet answered.
#[derive(Clone, Debug, Default)]
pub struct Pending {
    requests: BTreeMap<RequestId, Request>,
    proposals: BTreeMap<ProposalId, RequestId>,
    reads: BTreeMap<u64, RequestId>,
    ready: BTreeSet<(Index, RequestId)>,
    deadlines: BTreeSet<(u64, RequestId)>,
    transfers: BTreeSet<(NodeId, RequestId)>,
}

impl Pending {
    pub fn len(&self) -> usize {
        self.requests.len()
    }

    pub fn contains(&self, id: RequestId) -> bool {
        self.requests.contains_key(&id)
    }

    fn insert(&mut self, id: RequestId, deadline_ticks: u64, waiting: Waiting) {
        assert!(!self.requests.contains_key(&id), "request id {id} is already pending");
        self.deadlines.insert((deadline_ticks, id));
        self.requests.insert(id, Request { deadline_ticks, waiting });
    }

    fn remove(&mut self, id: RequestId) -> Option<Waiting> {
        let req = self.requests.remove(&id)?;
        self.deadlines.remove(&(req.deadline_ticks, id));
        match &req.waiting {
            Waiting::Proposal { id: pid, .. } => {
                self.proposals.remove(pid);
            }
            Waiting::ReadIndex { ctx, .. } => {
                self.reads.remove(ctx);
            }
            Waiting::Applied { index, .. } => {
                self.ready.remove(&(*index, id));
            }
            Waiting::Transfer { target } => {
                self.transfers.remove(&(*target, id));
            }
        }
        Some(req.waiting)
    }

    /// Request `id` waits for proposal `pid` carrying `op` to apply.
    pub fn add_proposal(&mut self, id: RequestId, pid: ProposalId, op: Op, deadline_ticks: u64) {
        self.insert(id, deadline_ticks, Waiting::Proposal { id: pid, op });
        self.proposals.insert(pid, id);
    }

    /// The request waiting for proposal `pid`, if any and if it proposed exactly `op`.
    pub fn take_proposal(&mut self, pid: ProposalId, op: &Op) -> Option<RequestId> {
        let id = *self.proposals.get(&pid)?;
        match &self.requests[&id].waiting {
            Waiting::Proposal { op: mine, .. } if mine == op => {}
            _ => return None,
        }
        self.remove(id);
        Some(id)
    }

    /// Request `id` waits for the read index of `ctx`.
    pub fn add_read(&mut self, id: RequestId, ctx: u64, read: Read, deadline_ticks: u64) {
        self.insert(id, deadline_ticks, Waiting::ReadIndex { ctx, read });
        self.reads.insert(ctx, id);
    }

    /// The read index of `ctx` is `index`: the read now waits until it is applied.
    pub fn read_ready(&mut self, ctx: u64, index: Index) {
        let Some(id) = self.reads.remove(&ctx) else { return };
        let req = self.requests.get_mut(&id).expect("read index maps to a request");
        // The read moves to its new state rather than being copied; the placeholder
        // is overwritten before anyone can see it.
        let was = std::mem::replace(&mut req.waiting, Waiting::Transfer { target: 0 });
        let Waiting::ReadIndex { read, .. } = was else {
            panic!("request {id} indexed as a read is not waiting for a read index");
        };
        req.waiting = Waiting::Applied { index, read };
        self.ready.insert((index, id));
    }

    /// The reads still waiting for a read index: (ctx, request), by ctx.
    pub fn reads_waiting(&self) -> impl Iterator<Item = (u64, RequestId)> + '_ {
        self.reads.iter().map(|(&ctx, &id)| (ctx, id))
    }

    /// The read of `ctx` cannot get a read index here.
    pub fn read_failed(&mut self, ctx: u64) -> Option<RequestId> {
        let id = *self.reads.get(&ctx)?;
        self.remove(id);
        Some(id)
    }

    /// Removes and returns the reads whose index is at or below `applied`, in index order.
    pub fn take_ready(&mut self, applied: Index) -> Vec<(RequestId, Read)> {
        let mut out = Vec::new();
        while let Some(&(index, id)) = self.ready.first() {
            if index > applied {
                break;
            }
            match self.remove(id) {
                Some(Waiting::Applied { read, .. }) => out.push((id, read)),
                other => panic!("ready read {id} was {other:?}"),
            }
        }
        out
    }

    /// Request `id` waits for `target` to become leader.
    pub fn add_transfer(&mut self, id: RequestId, target: NodeId, deadline_ticks: u64) {
        self.insert(id, deadline_ticks, Waiting::Transfer { target });
        self.transfers.insert((target, id));
    }

    /// Removes and returns the transfers to `leader`, which now leads.
    pub fn take_transfers_to(&mut self, leader: NodeId) -> Vec<RequestId> {
        let ids: Vec<RequestId> = self
            .transfers
            .range((leader, RequestId::MIN)..=(leader, RequestId::MAX))
            .map(|(_, id)| *id)
            .collect();
        for id in &ids {
            self.remove(*id);
        }
        ids
    }

    /// Removes and returns the requests whose deadline has come.
    pub fn take_expired(&mut self, now_ticks: u64) -> Vec<RequestId> {
        let mut out = Vec::new();
        while let Some(&(deadline, id)) = self.deadlines.first() {
            if deadline > now_ticks {
                break;
            }
            self.remove(id);
            out.push(id);
        }
        out
    }

    /// Removes and returns every request whose fate depends on the leader of a term that
    /// just ended: proposals (they may or may not commit) and reads still waiting for a
    /// read index. Reads that hold an index stay: that index remains a valid bound.
    pub fn take_leader_dependent(&mut self) -> Vec<RequestId> {
        let ids: Vec<RequestId> =
            self.proposals.values().chain(self.reads.values()).copied().collect();
        let mut ids = ids;
        ids.sort_unstable();
        for id in &ids {
            self.remove(*id);
        }
        ids
    }
}
