//! Simulated clients: requests submitted to a chosen node at a time, answered or timed
//! out, with invoke and completion times recorded for history checkers.

use crate::types_ext::{ClientId, NodeId, RequestId};

/// How a request ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome<R> {
    /// The node answered.
    Ok(R),
    /// No answer: the deadline passed or the member crashed with the request open
    /// (a reset connection). The request may or may not have taken effect.
    Timeout,
    /// The member was down when the request arrived (connection refused): it certainly
    /// did not take effect, so a client may retry it elsewhere.
    Refused,
}

/// One finished request.
#[derive(Clone, Debug)]
pub struct ClientResult<Req, Resp> {
    pub id: RequestId,
    pub client: ClientId,
    pub node: NodeId,
    pub request: Req,
    /// True time the request was handed to the node.
    pub invoke_us: u64,
    /// True time of the answer or of the timeout.
    pub complete_us: u64,
    /// The node's incarnation then: for an answer, the one that gave it (a crash ends
    /// the requests open on the node). A request scheduled ahead may reach a later
    /// incarnation than the one running when it was submitted.
    pub incarnation: u64,
    /// Whether the member was a learner in its own configuration when the request
    /// reached it (a stream: when it opened), which is when it decides whether a
    /// learner may serve the request. None when the request reached no running member
    /// or the process type has no membership.
    pub learner: Option<bool>,
    pub outcome: Outcome<Resp>,
}

/// Where a request stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum RequestState {
    Scheduled,
    Pending,
    Done,
    TimedOut,
}

/// The world's record of one request.
pub(crate) struct Record<Req> {
    pub client: ClientId,
    pub node: NodeId,
    pub request: Req,
    pub invoke_us: u64,
    pub state: RequestState,
    /// A stream (a watch): it may be answered many times, has no timeout, and breaks
    /// (finishing with `Outcome::Timeout`) when its member crashes.
    pub stream: bool,
    /// Whether its member was a learner when the request reached it
    /// (`ClientResult::learner`).
    pub learner: Option<bool>,
}
