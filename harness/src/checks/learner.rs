//! The `learner-requests` check: a member answers a request by the role it had when the
//! request reached it. A learner serves what etcd 3.4 lets it serve from its local
//! state (serializable Range, Status) and refuses everything else (writes, linearizable
//! reads, txns, watches, compaction, lease and auth requests) with etcd's
//! "etcdserver: rpc not supported for learner"; a voter never gives that refusal.
//!
//! The role is the member's own configuration at the moment the request reached it,
//! which the simulator records: that is when the member decides, so a learner promoted
//! while its answer was still on the way is judged as the learner it was.

use super::secs;
use crate::report::{check_names::LEARNER_REQUESTS, CheckResult};
use detcd_core::api::EtcdError;
use detcd_core::server::{Request, Response};

/// One answer from a member, with its role when the request reached it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LearnerAnswer {
    pub member: u64,
    pub complete_us: u64,
    /// The request, described.
    pub what: String,
    /// A learner may serve it.
    pub local: bool,
    /// The member was a learner when the request reached it.
    pub learner: bool,
    /// The answer was the learner refusal.
    pub refused: bool,
    /// The answer, described.
    pub answer: String,
}

impl LearnerAnswer {
    /// The record of `response` to `request` from `member`, when the check judges it:
    /// every answer a learner gave, and a learner refusal from any member.
    pub fn of(
        member: u64,
        complete_us: u64,
        request: &Request,
        learner: bool,
        response: &Response,
    ) -> Option<Self> {
        let refused = matches!(response, Response::Err(EtcdError::NotSupportedForLearner));
        if !learner && !refused {
            return None;
        }
        let answer = match response {
            Response::Err(e) => format!("\"{}\"", e.message()),
            _ => "an answer".to_string(),
        };
        Some(LearnerAnswer {
            member,
            complete_us,
            what: describe(request),
            local: learner_may_serve(request),
            learner,
            refused,
            answer,
        })
    }
}

/// Whether a learner serves `request`: etcd's `isRPCSupportedForLearner` (Status and
/// serializable ranges). Its stream interceptor refuses watch streams on a learner.
/// Closing a stream is the simulator's bookkeeping, not a request etcd could refuse.
pub fn learner_may_serve(request: &Request) -> bool {
    match request {
        Request::As { request, .. } => learner_may_serve(request),
        Request::Range(r) => r.serializable,
        Request::Status | Request::WatchClose { .. } => true,
        _ => false,
    }
}

fn describe(request: &Request) -> String {
    match request {
        Request::As { request, .. } => describe(request),
        Request::Range(r) if r.serializable => "a serializable range".to_string(),
        Request::Range(_) => "a linearizable range".to_string(),
        other => format!("a {} request", other.kind()),
    }
}

fn wrong(a: &LearnerAnswer) -> Option<String> {
    let who = format!("member {} at {}", a.member, secs(a.complete_us));
    match (a.learner, a.local, a.refused) {
        (true, true, true) => Some(format!(
            "{who}, a learner, refused {} as not supported for a learner, though a learner \
             serves it",
            a.what
        )),
        (true, false, false) => Some(format!(
            "{who}, a learner, gave {} to {}, which a learner must refuse as not supported \
             for a learner",
            a.answer, a.what
        )),
        (false, _, true) => Some(format!(
            "{who}, a voter when the request reached it, refused {} as not supported for a \
             learner",
            a.what
        )),
        _ => None,
    }
}

pub fn check_learner_requests(answers: &[LearnerAnswer]) -> CheckResult {
    if let Some(why) = answers.iter().find_map(wrong) {
        return CheckResult::fail(LEARNER_REQUESTS, why);
    }
    let served = answers.iter().filter(|a| a.learner && a.local).count();
    let refused = answers.iter().filter(|a| a.learner && !a.local).count();
    CheckResult::pass(
        LEARNER_REQUESTS,
        format!(
            "{served} answer(s) from learners to requests a learner serves, {refused} \
             refusal(s) of requests it must refuse; no voter refused as a learner"
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::Verdict;
    use detcd_core::api::{PutRequest, RangeRequest, RangeResponse};

    fn range(serializable: bool) -> Request {
        Request::Range(RangeRequest { serializable, ..RangeRequest::default() })
    }

    fn put() -> Request {
        Request::Put(PutRequest::default())
    }

    fn served() -> Response {
        Response::Range(RangeResponse::default())
    }

    fn refusal() -> Response {
        Response::Err(EtcdError::NotSupportedForLearner)
    }

    fn judge(request: Request, learner: bool, response: Response) -> CheckResult {
        let answers: Vec<LearnerAnswer> =
            LearnerAnswer::of(2, 1_500_000, &request, learner, &response).into_iter().collect();
        check_learner_requests(&answers)
    }

    #[test]
    fn a_learner_that_serves_local_requests_and_refuses_the_rest_passes() {
        assert_eq!(judge(range(true), true, served()).verdict, Verdict::Pass);
        assert_eq!(judge(Request::Status, true, served()).verdict, Verdict::Pass);
        assert_eq!(judge(range(false), true, refusal()).verdict, Verdict::Pass);
        assert_eq!(judge(put(), true, refusal()).verdict, Verdict::Pass);
        // A voter answers anything else as it likes: the check does not judge it.
        assert_eq!(judge(put(), false, served()).verdict, Verdict::Pass);
        assert!(LearnerAnswer::of(1, 0, &put(), false, &served()).is_none());
        let c = check_learner_requests(&[
            LearnerAnswer::of(4, 0, &range(true), true, &served()).expect("judged"),
            LearnerAnswer::of(4, 0, &put(), true, &refusal()).expect("judged"),
        ]);
        assert_eq!(c.verdict, Verdict::Pass);
        assert!(c.evidence.starts_with("1 answer(s) from learners"), "{}", c.evidence);
    }

    #[test]
    fn a_learner_that_refuses_a_serializable_read_fails() {
        let c = judge(range(true), true, refusal());
        assert_eq!(c.verdict, Verdict::Fail);
        assert!(c.evidence.contains("refused a serializable range"), "{}", c.evidence);
        let c = judge(Request::Status, true, refusal());
        assert_eq!(c.verdict, Verdict::Fail);
    }

    #[test]
    fn a_learner_that_serves_a_write_or_a_linearizable_read_fails() {
        let c = judge(put(), true, Response::Err(EtcdError::NoLeader));
        assert_eq!(c.verdict, Verdict::Fail);
        assert!(
            c.evidence.contains("gave \"etcdserver: no leader\" to a put request"),
            "{}",
            c.evidence
        );
        assert_eq!(judge(range(false), true, served()).verdict, Verdict::Fail);
    }

    #[test]
    fn a_voter_that_refuses_as_a_learner_fails() {
        for request in [range(true), put()] {
            let c = judge(request, false, refusal());
            assert_eq!(c.verdict, Verdict::Fail);
            assert!(c.evidence.contains("a voter when the request reached it"), "{}", c.evidence);
        }
    }

    #[test]
    fn what_a_learner_may_serve() {
        assert!(learner_may_serve(&range(true)));
        assert!(!learner_may_serve(&range(false)));
        assert!(learner_may_serve(&Request::Status));
        assert!(!learner_may_serve(&Request::WatchProgress { stream: 1 }), "no watch streams");
        assert!(!learner_may_serve(&put()));
    }
}
