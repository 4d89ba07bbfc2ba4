//! The `validation` check: a request whose answer etcd fixes (a refusal for an invalid
//! request, the exact fields of a boundary request's answer) gets exactly that answer,
//! and validation requests change nothing: no key under their prefix is ever written.
//! A request with no answer, or one the cluster could not serve (no leader, a timeout)
//! where etcd too could answer that, teaches nothing and is let go. The other way
//! round, no request of the ordinary workload, all well formed, may be refused as
//! malformed.
//!
//! A refusal etcd makes before it looks for a leader is also judged by when it came:
//! the member answers in the step the request reaches it, so the simulator records it
//! at the instant of the call. The same error after time passed came back from the
//! log: the request was proposed, and only the store's own copy of the rule refused
//! it (a missed request check that a fault-free cluster would hide).

use crate::history::WriteLog;
use crate::report::{check_names, CheckResult};
use crate::workload::{OpKind, OpOutcome, OpRecord};
use crate::workload_validation::{short, Expected, VALIDATION_END, VALIDATION_PREFIX};
use detcd_core::api::EtcdError;
use detcd_core::server::Response;

/// What a request got back.
#[derive(Clone, Copy, Debug)]
pub enum Answer<'a> {
    /// No answer: timed out, or the member refused the connection.
    None,
    Err(EtcdError),
    Served(&'a Response),
}

impl<'a> Answer<'a> {
    /// The answer an operation of the KV workload got.
    pub fn of(outcome: &'a OpOutcome) -> Self {
        match outcome {
            OpOutcome::Ok(Response::Err(e)) => Answer::Err(*e),
            OpOutcome::Ok(r) => Answer::Served(r),
            OpOutcome::Failed(e) | OpOutcome::Unknown(Some(e)) => Answer::Err(*e),
            OpOutcome::Refused | OpOutcome::Unknown(None) => Answer::None,
        }
    }
}

/// Errors that say the cluster could not serve the request now, not what the request
/// is.
fn unavailable(e: EtcdError) -> bool {
    matches!(
        e,
        EtcdError::NoLeader
            | EtcdError::NotLeader
            | EtcdError::LeaderChanged
            | EtcdError::Timeout
            | EtcdError::TooManyRequests
    )
}

/// Errors that say the request itself is malformed or over a limit: what no request of
/// the ordinary workload may get, since it sends only well-formed ones. A member that
/// gives one, at once or once the request reached the store, holds a rule wrong.
fn malformed(e: EtcdError) -> bool {
    matches!(
        e,
        EtcdError::EmptyKey
            | EtcdError::ValueProvided
            | EtcdError::LeaseProvided
            | EtcdError::TooManyOps
            | EtcdError::DuplicateKey
            | EtcdError::RequestTooLarge
            | EtcdError::LeaseTtlTooLarge
            | EtcdError::MemberBadUrls
    )
}

/// Judges one answer against etcd's: `Ok(true)` it is etcd's, `Ok(false)` it teaches
/// nothing (no answer, or the cluster unavailable where etcd could be too), `Err` what
/// is wrong. `judge` decides a served answer when etcd serves the request.
pub fn judge_answer(
    expected: Expected,
    answer: Answer<'_>,
    judge: impl Fn(&Response) -> Result<(), String>,
) -> Result<bool, String> {
    let msg = |e: EtcdError| format!("\"{}\"", e.message());
    match (expected, answer) {
        (_, Answer::None) => Ok(false),
        (Expected::Refused(want), Answer::Err(got)) if got == want => Ok(true),
        (Expected::Refused(want), Answer::Err(got)) => Err(format!(
            "etcd refuses it with {} before anything else, got {}",
            msg(want),
            msg(got)
        )),
        (Expected::RefusedWhenApplied(want), Answer::Err(got)) if got == want => Ok(true),
        (Expected::RefusedWhenApplied(_) | Expected::Served, Answer::Err(got))
            if unavailable(got) =>
        {
            Ok(false)
        }
        (Expected::RefusedWhenApplied(want), Answer::Err(got)) => {
            Err(format!("etcd refuses it with {}, got {}", msg(want), msg(got)))
        }
        (Expected::Refused(want) | Expected::RefusedWhenApplied(want), Answer::Served(r)) => {
            Err(format!("etcd refuses it with {}, got {}", msg(want), short(r)))
        }
        (Expected::Served, Answer::Err(got)) => Err(format!("etcd serves it, got {}", msg(got))),
        (Expected::Served, Answer::Served(r)) => judge(r).map(|()| true),
    }
}

/// Whether `answer` is a refusal etcd makes before anything else.
fn refused_at_once(expected: Expected, answer: Answer<'_>) -> bool {
    matches!((expected, answer), (Expected::Refused(want), Answer::Err(got)) if want == got)
}

/// One answer that is not etcd's, in words.
pub struct WrongAnswer {
    pub what: String,
    pub client: u64,
    pub node: u64,
    pub complete_us: u64,
    pub why: String,
}

impl std::fmt::Display for WrongAnswer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} (client {}, member {}, answered at {} ms): {}",
            self.what,
            self.client,
            self.node,
            self.complete_us / 1_000,
            self.why
        )
    }
}

/// Every validation request of `records` against etcd's answer, `others` (answers
/// judged elsewhere: `(answers judged, wrong ones)`) added in, and, when the run's
/// write history is whole (`log`), no write under the validation prefix.
pub fn check_validation(
    records: &[OpRecord],
    log: Option<&WriteLog>,
    others: (usize, Vec<WrongAnswer>),
) -> CheckResult {
    let name = check_names::VALIDATION;
    let (mut judged, mut wrong) = others;
    let mut sent = 0;
    for r in records {
        let OpKind::Validate(v) = &r.kind else {
            if let Answer::Err(e) = Answer::of(&r.outcome) {
                if malformed(e) {
                    wrong.push(WrongAnswer {
                        what: r.kind.describe(),
                        client: r.client,
                        node: r.node,
                        complete_us: r.complete_us,
                        why: format!(
                            "the workload's requests are well formed, yet it was refused as \"{}\"",
                            e.message()
                        ),
                    });
                }
            }
            continue;
        };
        sent += 1;
        let answer = Answer::of(&r.outcome);
        match judge_answer(v.expected(), answer, |resp| v.judge(resp)) {
            Ok(true) if r.complete_us > r.invoke_us && refused_at_once(v.expected(), answer) => {
                wrong.push(WrongAnswer {
                    what: v.describe(),
                    client: r.client,
                    node: r.node,
                    complete_us: r.complete_us,
                    why: format!(
                        "etcd refuses it before it proposes it, so at once, but the refusal came {} µs after the call: the request went through the log",
                        r.complete_us - r.invoke_us
                    ),
                })
            }
            Ok(learned) => judged += usize::from(learned),
            Err(why) => wrong.push(WrongAnswer {
                what: v.describe(),
                client: r.client,
                node: r.node,
                complete_us: r.complete_us,
                why,
            }),
        }
    }
    if let Some((key, revision)) =
        log.and_then(|l| l.first_change_in(VALIDATION_PREFIX, VALIDATION_END))
    {
        let shown: String = key.chars().take(40).collect();
        return CheckResult::fail(
            name,
            format!("a validation request changed the store: {shown} was written at revision {revision}, though every validation request must change nothing"),
        );
    }
    if let Some(first) = wrong.first() {
        let more = wrong.len() - 1;
        let more = if more > 0 { format!(" (and {more} more)") } else { String::new() };
        return CheckResult::fail(name, format!("{first}{more}"));
    }
    CheckResult::pass(
        name,
        format!("{judged} answer(s) to boundary and invalid requests were etcd's ({sent} validation request(s) sent); none changed the store"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::Verdict;
    use crate::workload_validation::{
        Case, Validation, COMPARE_FRAMING_BYTES, SIZED_COMPARES, TXN_OPS_MAX,
    };
    use detcd_core::api::{LeaseGrantResponse, LeaseTimeToLiveResponse, PutResponse};
    use detcd_core::server::{LEASE_TTL_MAX_SECS, REQUEST_BYTES_MAX_DEFAULT};

    fn v(case: Case, lease: i64) -> Validation {
        Validation { case, lease, tag: "t".into() }
    }

    fn record(v: Validation, outcome: OpOutcome) -> OpRecord {
        OpRecord {
            client: 1,
            node: 2,
            incarnation: 0,
            kind: OpKind::Validate(v),
            invoke_us: 1_000,
            complete_us: 1_000,
            outcome,
        }
    }

    fn verdict(records: &[OpRecord]) -> (Verdict, String) {
        let c = check_validation(records, None, (0, Vec::new()));
        (c.verdict, c.evidence)
    }

    /// An ordinary lease put refused as malformed fails the check; refused for a
    /// reason about the cluster or the lease, it does not.
    #[test]
    fn a_well_formed_request_refused_as_malformed_fails() {
        let lease_put = |outcome| OpRecord {
            kind: OpKind::LeasePut {
                lease: 7,
                key: "k".into(),
                value: "v".into(),
                ignore_lease: false,
            },
            ..record(v(Case::MemberAddNoUrls, 0), outcome)
        };
        let (got, why) = verdict(&[lease_put(OpOutcome::Failed(EtcdError::LeaseProvided))]);
        assert_eq!(got, Verdict::Fail);
        assert!(why.contains("refused as \"etcdserver: lease is provided\""), "{why}");
        for fine in [EtcdError::LeaseNotFound, EtcdError::NoLeader] {
            assert_eq!(verdict(&[lease_put(OpOutcome::Failed(fine))]).0, Verdict::Pass);
        }
    }

    fn grant(id: i64, ttl: i64) -> OpOutcome {
        OpOutcome::Ok(Response::LeaseGrant(LeaseGrantResponse { id, ttl, ..Default::default() }))
    }

    #[test]
    fn a_grant_of_the_maximum_ttl_must_be_served() {
        let max = v(Case::LeaseGrantTtlMax, 7);
        assert_eq!(verdict(&[record(max.clone(), grant(7, LEASE_TTL_MAX_SECS))]).0, Verdict::Pass);
        // The boundary refused (a `>=` for a `>`).
        let refused = OpOutcome::Failed(EtcdError::LeaseTtlTooLarge);
        let (got, why) = verdict(&[record(max.clone(), refused)]);
        assert_eq!(got, Verdict::Fail);
        assert!(why.contains("too large lease TTL"), "{why}");
        // Another id or TTL in the answer.
        assert_eq!(verdict(&[record(max.clone(), grant(8, LEASE_TTL_MAX_SECS))]).0, Verdict::Fail);
        assert_eq!(verdict(&[record(max, grant(7, 1))]).0, Verdict::Fail);
    }

    #[test]
    fn an_invalid_request_must_get_its_error_before_any_other() {
        let over = v(Case::LeaseGrantTtlOverMax, 7);
        let right = OpOutcome::Failed(EtcdError::LeaseTtlTooLarge);
        assert_eq!(verdict(&[record(over.clone(), right)]).0, Verdict::Pass);
        // Even "no leader" is wrong: etcd checks the request first.
        let no_leader = OpOutcome::Failed(EtcdError::NoLeader);
        assert_eq!(verdict(&[record(over.clone(), no_leader)]).0, Verdict::Fail);
        assert_eq!(verdict(&[record(over, grant(7, LEASE_TTL_MAX_SECS))]).0, Verdict::Fail);
        // An empty key accepted, or refused for another reason.
        let empty = v(Case::PutEmptyKey, 0);
        let put = OpOutcome::Ok(Response::Put(PutResponse::default()));
        assert_eq!(verdict(&[record(empty.clone(), put)]).0, Verdict::Fail);
        let other = OpOutcome::Failed(EtcdError::KeyNotFound);
        assert_eq!(verdict(&[record(empty.clone(), other)]).0, Verdict::Fail);
        // No answer teaches nothing.
        assert_eq!(verdict(&[record(empty, OpOutcome::Unknown(None))]).0, Verdict::Pass);
    }

    #[test]
    fn refusals_when_applied_may_wait_behind_an_unavailable_cluster() {
        let absent = v(Case::PutIgnoreValueAbsent, 0);
        let cases = [
            (OpOutcome::Failed(EtcdError::KeyNotFound), Verdict::Pass),
            (OpOutcome::Unknown(Some(EtcdError::Timeout)), Verdict::Pass),
            (OpOutcome::Failed(EtcdError::ValueProvided), Verdict::Fail),
            (OpOutcome::Ok(Response::Put(PutResponse::default())), Verdict::Fail),
        ];
        for (outcome, want) in cases {
            assert_eq!(verdict(&[record(absent.clone(), outcome.clone())]).0, want, "{outcome:?}");
        }
    }

    #[test]
    fn time_to_live_answers_must_carry_the_lease() {
        let ttl = |id, ttl, granted_ttl| {
            OpOutcome::Ok(Response::LeaseTimeToLive(LeaseTimeToLiveResponse {
                id,
                ttl,
                granted_ttl,
                ..Default::default()
            }))
        };
        let missing = v(Case::LeaseTimeToLiveMissing, 9);
        assert_eq!(verdict(&[record(missing.clone(), ttl(9, -1, 0))]).0, Verdict::Pass);
        assert_eq!(verdict(&[record(missing.clone(), ttl(0, -1, 0))]).0, Verdict::Fail);
        assert_eq!(verdict(&[record(missing, ttl(9, 0, 0))]).0, Verdict::Fail);
        let granted = v(Case::LeaseTimeToLiveGranted, 9);
        let max = LEASE_TTL_MAX_SECS;
        assert_eq!(verdict(&[record(granted.clone(), ttl(9, max - 3, max))]).0, Verdict::Pass);
        assert_eq!(verdict(&[record(granted.clone(), ttl(0, max - 3, max))]).0, Verdict::Fail);
        assert_eq!(verdict(&[record(granted.clone(), ttl(9, 0, max))]).0, Verdict::Fail);
        assert_eq!(verdict(&[record(granted.clone(), ttl(9, max - 3, 0))]).0, Verdict::Fail);
        assert_eq!(verdict(&[record(granted, ttl(9, max + 1, max))]).0, Verdict::Fail);
    }

    #[test]
    fn a_write_under_the_validation_prefix_fails() {
        let mut log = WriteLog::default();
        let mut store = detcd_core::mvcc::Store::new();
        let put = detcd_core::api::PutRequest {
            key: bytes::Bytes::from_static(b"v/c1-1/iv"),
            value: bytes::Bytes::from_static(b"v"),
            ..Default::default()
        };
        store.put(&put, &|_| false).expect("a valid put");
        log.absorb(&store);
        let c = check_validation(&[], Some(&log), (0, Vec::new()));
        assert_eq!(c.verdict, Verdict::Fail, "{}", c.evidence);
        assert!(c.evidence.contains("v/c1-1/iv"), "{}", c.evidence);
        assert_eq!(
            check_validation(&[], Some(&WriteLog::default()), (0, Vec::new())).verdict,
            Verdict::Pass
        );
    }

    /// The auth workload's login while auth is off: only "not enabled" is etcd's.
    #[test]
    fn a_login_while_auth_is_off_is_refused() {
        use detcd_core::api::{AuthBody, AuthResponse};
        let expected = Expected::RefusedWhenApplied(EtcdError::AuthNotEnabled);
        let never = |_: &Response| Err("served".to_string());
        let refused = Answer::Err(EtcdError::AuthNotEnabled);
        assert_eq!(judge_answer(expected, refused, never), Ok(true));
        assert_eq!(judge_answer(expected, Answer::Err(EtcdError::NoLeader), never), Ok(false));
        assert!(judge_answer(expected, Answer::Err(EtcdError::AuthFailed), never).is_err());
        let hash = Response::Auth(AuthResponse {
            body: AuthBody::PasswordHash(Some("h".into())),
            ..Default::default()
        });
        assert!(judge_answer(expected, Answer::Served(&hash), never).is_err());
    }

    /// A put inside a range its branch deletes, flat or across a nested txn, is
    /// refused before anything else; a put and a delete of one key in the two
    /// branches are not.
    #[test]
    fn a_put_inside_a_deleted_range_is_a_duplicate_key() {
        use detcd_core::api::{DeleteRangeResponse, ResponseOp, TxnResponse};
        let duplicate = OpOutcome::Failed(EtcdError::DuplicateKey);
        let accepted =
            OpOutcome::Ok(Response::Txn(TxnResponse { succeeded: true, ..Default::default() }));
        for case in
            [Case::TxnPutInDeletedRange, Case::TxnNestedPutInDeleted, Case::TxnPutInNestedDelete]
        {
            assert_eq!(verdict(&[record(v(case, 0), duplicate.clone())]).0, Verdict::Pass);
            let (got, why) = verdict(&[record(v(case, 0), accepted.clone())]);
            assert_eq!(got, Verdict::Fail, "{case:?}");
            assert!(why.contains("duplicate key given in txn request"), "{why}");
            let no_leader = OpOutcome::Failed(EtcdError::NoLeader);
            assert_eq!(verdict(&[record(v(case, 0), no_leader)]).0, Verdict::Fail, "{case:?}");
        }
        let apart = v(Case::TxnPutDeleteApart, 0);
        let served = |succeeded, deleted| {
            OpOutcome::Ok(Response::Txn(TxnResponse {
                succeeded,
                responses: vec![ResponseOp::DeleteRange(DeleteRangeResponse {
                    deleted,
                    ..Default::default()
                })],
                ..Default::default()
            }))
        };
        assert_eq!(verdict(&[record(apart.clone(), served(false, 0))]).0, Verdict::Pass);
        assert_eq!(verdict(&[record(apart.clone(), served(true, 0))]).0, Verdict::Fail);
        assert_eq!(verdict(&[record(apart.clone(), served(false, 1))]).0, Verdict::Fail);
        assert_eq!(verdict(&[record(apart, duplicate)]).0, Verdict::Fail);
    }

    /// A member add with malformed peer URLs is refused with etcd's error at any
    /// member, before it looks for a leader; accepted, it fails on the answer alone.
    #[test]
    fn a_member_add_with_bad_peer_urls_is_refused() {
        use detcd_core::server::MembersResponse;
        let bad_urls = OpOutcome::Failed(EtcdError::MemberBadUrls);
        let accepted = OpOutcome::Ok(Response::Members(MembersResponse::default()));
        for case in [
            Case::MemberAddNoScheme,
            Case::MemberAddBadPort,
            Case::MemberAddNoUrls,
            Case::MemberAddOneBadUrl,
        ] {
            assert_eq!(verdict(&[record(v(case, 0), bad_urls.clone())]).0, Verdict::Pass);
            let (got, why) = verdict(&[record(v(case, 0), accepted.clone())]);
            assert_eq!(got, Verdict::Fail, "{case:?}");
            assert!(why.contains("given member URLs are invalid"), "{why}");
            let not_leader = OpOutcome::Failed(EtcdError::NotLeader);
            assert_eq!(verdict(&[record(v(case, 0), not_leader)]).0, Verdict::Fail, "{case:?}");
            let busy = OpOutcome::Failed(EtcdError::Unhealthy);
            assert_eq!(verdict(&[record(v(case, 0), busy)]).0, Verdict::Fail, "{case:?}");
        }
    }

    /// The auth workload's delete of the root role while auth is on.
    #[test]
    fn deleting_the_root_role_is_invalid_auth_management() {
        use detcd_core::api::{AuthBody, AuthResponse};
        let expected = Expected::RefusedWhenApplied(EtcdError::InvalidAuthMgmt);
        let never = |_: &Response| Err("served".to_string());
        let refused = Answer::Err(EtcdError::InvalidAuthMgmt);
        assert_eq!(judge_answer(expected, refused, never), Ok(true));
        assert_eq!(judge_answer(expected, Answer::Err(EtcdError::Timeout), never), Ok(false));
        let denied = Answer::Err(EtcdError::PermissionDenied);
        assert!(judge_answer(expected, denied, never).is_err());
        let done = Response::Auth(AuthResponse { body: AuthBody::Done, ..Default::default() });
        assert!(judge_answer(expected, Answer::Served(&done), never).is_err());
    }

    /// The right refusal, but only after a trip through the log: the request check
    /// let it through.
    #[test]
    fn a_refusal_before_proposal_comes_at_once() {
        let dup = v(Case::TxnPutInDeletedRange, 0);
        let mut late = record(dup.clone(), OpOutcome::Failed(EtcdError::DuplicateKey));
        late.complete_us += 4_000;
        let (got, why) = verdict(std::slice::from_ref(&late));
        assert_eq!(got, Verdict::Fail);
        assert!(why.contains("went through the log"), "{why}");
        late.complete_us = late.invoke_us;
        assert_eq!(verdict(&[late]).0, Verdict::Pass);
        // A refusal etcd makes once the request applies takes its time.
        let mut absent =
            record(v(Case::PutIgnoreValueAbsent, 0), OpOutcome::Failed(EtcdError::KeyNotFound));
        absent.complete_us += 4_000;
        assert_eq!(verdict(&[absent]).0, Verdict::Pass);
    }

    #[test]
    fn wrong_answers_judged_elsewhere_fail_the_check() {
        let other = WrongAnswer {
            what: "password hash".into(),
            client: 2,
            node: 1,
            complete_us: 5_000,
            why: "x".into(),
        };
        let c = check_validation(&[], None, (1, vec![other]));
        assert_eq!(c.verdict, Verdict::Fail);
        assert!(c.evidence.contains("password hash"), "{}", c.evidence);
    }

    /// The sized cases sit on the side of the limit they claim, with room for framing
    /// (for the txns of many compares, the framing of each compare too).
    #[test]
    fn sized_cases_straddle_the_limit() {
        let size = |case| detcd_core::server::wire_bytes(&v(case, 0).request());
        let limit = REQUEST_BYTES_MAX_DEFAULT;
        let room = |case| match case {
            Case::TxnComparesUnderLimit | Case::TxnComparesOverLimit => {
                1_024 + SIZED_COMPARES * COMPARE_FRAMING_BYTES
            }
            Case::TxnDeletesOverLimit => 1_024 + TXN_OPS_MAX * 20,
            _ => 1_024,
        };
        for case in [Case::DeleteUnderLimit, Case::TxnUnderLimit, Case::TxnComparesUnderLimit] {
            assert!(
                size(case) < limit && size(case) > limit - room(case),
                "{case:?}: {}",
                size(case)
            );
        }
        let over = [
            Case::DeleteOverLimit,
            Case::PutOverLimit,
            Case::TxnOverLimit,
            Case::TxnComparesOverLimit,
            Case::TxnDeletesOverLimit,
        ];
        for case in over {
            assert!(
                size(case) > limit && size(case) < limit + room(case),
                "{case:?}: {}",
                size(case)
            );
        }
    }
}
