//! The validation workload: requests at one of etcd's limits, just past it, or that
//! etcd must refuse (empty keys, `ignore_value`/`ignore_lease` misuse, lease TTLs at
//! and past the maximum, requests just under and just over the request-size limit,
//! txns with the most ops allowed and one more, duplicate keys, a put inside a range
//! its branch deletes, member adds with malformed peer URLs), each with the answer
//! etcd gives it. Every case is built so that it changes nothing: its keys live under
//! `VALIDATION_PREFIX`, which nothing else writes, the valid ones write no key (a
//! delete of an empty range, a txn whose compare fails, a lease grant), and a member
//! add is always one etcd refuses before it looks for a leader. The
//! `validation` check (`checks::validation`) holds each answer to etcd's.

use bytes::Bytes;
use detcd_core::api::{
    Compare, CompareResult, CompareTarget, DeleteRangeRequest, EtcdError, LeaseGrantRequest,
    LeaseTimeToLiveRequest, PutRequest, RangeRequest, RequestOp, TargetUnion, TxnRequest,
};
use detcd_core::server::{Request, Response, LEASE_TTL_MAX_SECS, REQUEST_BYTES_MAX_DEFAULT};

/// Every key a validation request names lies in `[VALIDATION_PREFIX, VALIDATION_END)`.
pub const VALIDATION_PREFIX: &str = "v/";
pub const VALIDATION_END: &str = "v0";
/// etcd's default `--max-txn-ops`.
pub const TXN_OPS_MAX: usize = 128;
/// How far under or over the request-size limit the sized cases are, in bytes of
/// payload: more than the framing of any request (etcd measures the marshalled raft
/// request, detcd an estimate of it), so the answer does not depend on how either
/// counts the framing.
pub const SIZE_MARGIN_BYTES: usize = 512;
/// Compares in the txns sized by their compares: enough that framing miscounted by
/// even a few bytes per compare adds up past `SIZE_MARGIN_BYTES`, within
/// `TXN_OPS_MAX`.
pub const SIZED_COMPARES: usize = 100;
/// Framing of one value compare in a txn, counted generously: its own field, result,
/// target, key and value fields take protobuf about 13 bytes at these sizes.
pub const COMPARE_FRAMING_BYTES: usize = 20;
/// The least framing protobuf gives one delete of a single key in a txn: a tag and a
/// length each for the key, the DeleteRangeRequest and the RequestOp around it.
pub const DELETE_FRAMING_MIN_BYTES: usize = 6;

/// One kind of validation request.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Case {
    /// A grant of exactly the maximum TTL, with an id of the client's choosing.
    LeaseGrantTtlMax,
    /// A grant of one second more than the maximum.
    LeaseGrantTtlOverMax,
    /// TimeToLive of a lease id nobody granted: TTL -1, not an error.
    LeaseTimeToLiveMissing,
    /// TimeToLive of the client's own maximum-TTL lease (sent only once it was granted).
    LeaseTimeToLiveGranted,
    PutEmptyKey,
    PutIgnoreValueWithValue,
    PutIgnoreLeaseWithLease,
    /// `ignore_value` on a key that does not exist: refused where it is applied.
    PutIgnoreValueAbsent,
    RangeEmptyKey,
    DeleteEmptyKey,
    TxnEmptyCompareKey,
    TxnPutEmptyKey,
    /// A read-only txn with the most ops allowed.
    TxnOpsMax,
    /// One op more than allowed.
    TxnOpsOverMax,
    /// Two puts of one key in one branch.
    TxnDuplicateKey,
    /// A put of a key inside a range the same branch deletes.
    TxnPutInDeletedRange,
    /// A nested txn puts the key its parent's branch deletes.
    TxnNestedPutInDeleted,
    /// A branch puts a key inside a range a txn nested in it deletes.
    TxnPutInNestedDelete,
    /// A put in one branch and a delete of that key in the other are allowed: a txn
    /// whose compare fails, so only the delete of the absent key runs.
    TxnPutDeleteApart,
    /// A member add whose peer URL has no scheme.
    MemberAddNoScheme,
    /// A learner add whose peer URL's port is not a number.
    MemberAddBadPort,
    /// A member add with no peer URL.
    MemberAddNoUrls,
    /// A learner add with a good peer URL and one without a port.
    MemberAddOneBadUrl,
    /// A range whose key is past the size limit: etcd checks the limit only on
    /// requests it proposes, so it serves this read.
    RangeOverLimit,
    /// A delete of an empty range whose key and range end add up to just under the
    /// limit.
    DeleteUnderLimit,
    DeleteOverLimit,
    PutOverLimit,
    /// A txn whose compare fails, with a put just under the limit in its other branch.
    TxnUnderLimit,
    TxnOverLimit,
    /// A txn of `SIZED_COMPARES` failing value compares whose keys and values add up
    /// to just under the limit with the framing of each compare counted generously, and
    /// one small put in its success branch: its size is almost all compares, so a
    /// compare counted short or long moves it across the limit.
    TxnComparesUnderLimit,
    /// The same with keys and values alone just over the limit.
    TxnComparesOverLimit,
    /// A txn whose compare fails, with `TXN_OPS_MAX` deletes of absent keys in the
    /// branch not taken, whose keys alone come to the limit less the least framing
    /// protobuf gives each delete, plus one byte: over the limit however the framing is
    /// counted, as long as each delete's is counted.
    TxnDeletesOverLimit,
}

impl Case {
    /// The cases a client draws from (`LeaseTimeToLiveGranted` follows a grant).
    pub const DRAWN: [Case; 31] = [
        Case::LeaseGrantTtlMax,
        Case::LeaseGrantTtlOverMax,
        Case::LeaseTimeToLiveMissing,
        Case::PutEmptyKey,
        Case::PutIgnoreValueWithValue,
        Case::PutIgnoreLeaseWithLease,
        Case::PutIgnoreValueAbsent,
        Case::RangeEmptyKey,
        Case::DeleteEmptyKey,
        Case::TxnEmptyCompareKey,
        Case::TxnPutEmptyKey,
        Case::TxnOpsMax,
        Case::TxnOpsOverMax,
        Case::TxnDuplicateKey,
        Case::TxnPutInDeletedRange,
        Case::TxnNestedPutInDeleted,
        Case::TxnPutInNestedDelete,
        Case::TxnPutDeleteApart,
        Case::MemberAddNoScheme,
        Case::MemberAddBadPort,
        Case::MemberAddNoUrls,
        Case::MemberAddOneBadUrl,
        Case::RangeOverLimit,
        Case::DeleteUnderLimit,
        Case::DeleteOverLimit,
        Case::PutOverLimit,
        Case::TxnUnderLimit,
        Case::TxnOverLimit,
        Case::TxnComparesUnderLimit,
        Case::TxnComparesOverLimit,
        Case::TxnDeletesOverLimit,
    ];
}

/// The answer etcd gives a case.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Expected {
    /// This error, before anything else: etcd checks a request before it looks for a
    /// leader or proposes it, so not even "no leader" may come first.
    Refused(EtcdError),
    /// This error once applied; an unavailable cluster may answer first.
    RefusedWhenApplied(EtcdError),
    /// Served, unless the cluster is unavailable; `Validation::judge` says what the
    /// answer must hold.
    Served,
}

/// One validation request: the case, the lease id it names (0: none) and a tag that
/// makes its keys its own.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Validation {
    pub case: Case,
    pub lease: i64,
    pub tag: String,
}

/// Lease ids a client grants itself: far from where detcd's own ids start (they look
/// random), one block per client.
pub fn granted_lease_id(client: u64, seq: u64) -> i64 {
    0x7611_0000_0000_0000 + ((client as i64) << 24) + seq as i64
}

/// Lease ids nobody grants.
pub fn missing_lease_id(client: u64, seq: u64) -> i64 {
    0x7622_0000_0000_0000 + ((client as i64) << 24) + seq as i64
}

fn b(s: &str) -> Bytes {
    Bytes::copy_from_slice(s.as_bytes())
}

/// `VALIDATION_PREFIX`, `tag`, `part`, then `fill` up to `len` bytes in all.
fn sized_key(tag: &str, part: &str, fill: u8, len: usize) -> Bytes {
    let mut k = format!("{VALIDATION_PREFIX}{tag}/{part}/").into_bytes();
    let head = k.len();
    k.resize(len.max(head), fill);
    Bytes::from(k)
}

fn delete(key: Bytes, range_end: Bytes) -> RequestOp {
    RequestOp::DeleteRange(DeleteRangeRequest { key, range_end, prev_kv: false })
}

/// A member add with `peer_urls`, which etcd refuses.
fn member_add(peer_urls: &[&str], is_learner: bool) -> Request {
    let peer_urls = peer_urls.iter().map(|u| u.to_string()).collect();
    Request::MemberAdd { peer_urls, is_learner, id: None }
}

fn put(key: Bytes) -> PutRequest {
    PutRequest { key, value: b("v"), ..PutRequest::default() }
}

fn range(key: Bytes) -> RangeRequest {
    RangeRequest { key, ..RangeRequest::default() }
}

/// A compare that fails: the value of a key nobody writes equals "x".
fn failing_compare(key: Bytes) -> Compare {
    Compare {
        result: CompareResult::Equal,
        target: CompareTarget::Value,
        key,
        range_end: Bytes::new(),
        target_union: TargetUnion::Value(b("x")),
    }
}

impl Validation {
    pub fn describe(&self) -> String {
        match self.case {
            Case::LeaseGrantTtlMax
            | Case::LeaseGrantTtlOverMax
            | Case::LeaseTimeToLiveMissing
            | Case::LeaseTimeToLiveGranted => {
                format!("validate {:?} (lease {:x})", self.case, self.lease)
            }
            _ => format!("validate {:?}", self.case),
        }
    }

    /// The request, sized against the members' request-size limit (the default: no
    /// scenario changes it).
    pub fn request(&self) -> Request {
        let limit = REQUEST_BYTES_MAX_DEFAULT;
        let under = limit - SIZE_MARGIN_BYTES;
        let over = limit + SIZE_MARGIN_BYTES;
        let key = |part: &str| b(&format!("{VALIDATION_PREFIX}{}/{part}", self.tag));
        let txn =
            |compare, success, failure| Request::Txn(TxnRequest { compare, success, failure });
        let nested =
            |success, failure| RequestOp::Txn(TxnRequest { compare: Vec::new(), success, failure });
        match self.case {
            Case::LeaseGrantTtlMax => {
                Request::LeaseGrant(LeaseGrantRequest { ttl: LEASE_TTL_MAX_SECS, id: self.lease })
            }
            Case::LeaseGrantTtlOverMax => Request::LeaseGrant(LeaseGrantRequest {
                ttl: LEASE_TTL_MAX_SECS + 1,
                id: self.lease,
            }),
            Case::LeaseTimeToLiveMissing | Case::LeaseTimeToLiveGranted => {
                Request::LeaseTimeToLive(LeaseTimeToLiveRequest { id: self.lease, keys: true })
            }
            Case::PutEmptyKey => Request::Put(put(Bytes::new())),
            Case::PutIgnoreValueWithValue => {
                Request::Put(PutRequest { ignore_value: true, ..put(key("iv")) })
            }
            Case::PutIgnoreLeaseWithLease => Request::Put(PutRequest {
                ignore_lease: true,
                lease: self.lease.max(1),
                ..put(key("il"))
            }),
            Case::PutIgnoreValueAbsent => Request::Put(PutRequest {
                key: key("absent"),
                ignore_value: true,
                ..PutRequest::default()
            }),
            Case::RangeEmptyKey => Request::Range(range(Bytes::new())),
            Case::DeleteEmptyKey => Request::DeleteRange(DeleteRangeRequest::default()),
            Case::TxnEmptyCompareKey => txn(vec![failing_compare(Bytes::new())], vec![], vec![]),
            Case::TxnPutEmptyKey => txn(vec![], vec![RequestOp::Put(put(Bytes::new()))], vec![]),
            Case::TxnOpsMax => {
                let reads = (0..TXN_OPS_MAX)
                    .map(|i| RequestOp::Range(range(key(&format!("r{i}")))))
                    .collect();
                txn(vec![], reads, vec![])
            }
            Case::TxnOpsOverMax => {
                let puts =
                    (0..=TXN_OPS_MAX).map(|i| RequestOp::Put(put(key(&format!("p{i}"))))).collect();
                txn(vec![], puts, vec![])
            }
            Case::TxnDuplicateKey => txn(
                vec![],
                vec![RequestOp::Put(put(key("dup"))), RequestOp::Put(put(key("dup")))],
                vec![],
            ),
            Case::TxnPutInDeletedRange => txn(
                vec![],
                vec![RequestOp::Put(put(key("dr/k"))), delete(key("dr/"), key("dr0"))],
                vec![],
            ),
            Case::TxnNestedPutInDeleted => txn(
                vec![],
                vec![
                    delete(key("nd"), Bytes::new()),
                    nested(vec![RequestOp::Put(put(key("nd")))], vec![]),
                ],
                vec![],
            ),
            Case::TxnPutInNestedDelete => txn(
                vec![],
                vec![
                    RequestOp::Put(put(key("dn/k"))),
                    nested(vec![], vec![delete(key("dn/"), key("dn0"))]),
                ],
                vec![],
            ),
            Case::TxnPutDeleteApart => txn(
                vec![failing_compare(key("nobody"))],
                vec![RequestOp::Put(put(key("ap")))],
                vec![delete(key("ap"), Bytes::new())],
            ),
            Case::MemberAddNoScheme => member_add(&["127.0.0.1:2390"], false),
            Case::MemberAddBadPort => member_add(&["http://127.0.0.1:peer"], true),
            Case::MemberAddNoUrls => member_add(&[], false),
            Case::MemberAddOneBadUrl => {
                member_add(&["http://127.0.0.1:2391", "http://127.0.0.1"], true)
            }
            Case::RangeOverLimit => Request::Range(range(sized_key(&self.tag, "r", b'r', over))),
            // Key and range end share the size, so both terms of the size count: an
            // estimate that multiplied them, or weighed one of them more, would be off.
            Case::DeleteUnderLimit | Case::DeleteOverLimit => {
                let total = if self.case == Case::DeleteUnderLimit { under } else { over };
                Request::DeleteRange(DeleteRangeRequest {
                    key: sized_key(&self.tag, "d", b'a', total / 2),
                    range_end: sized_key(&self.tag, "d", b'b', total - total / 2),
                    prev_kv: false,
                })
            }
            Case::PutOverLimit => {
                Request::Put(PutRequest { value: Bytes::from(vec![b'v'; over]), ..put(key("big")) })
            }
            Case::TxnComparesUnderLimit | Case::TxnComparesOverLimit => {
                // Payload (keys and values) of all the compares together.
                let payload = if self.case == Case::TxnComparesUnderLimit {
                    under - SIZED_COMPARES * COMPARE_FRAMING_BYTES
                } else {
                    over
                };
                let each = payload / SIZED_COMPARES;
                let compare = (0..SIZED_COMPARES)
                    .map(|i| {
                        let key = key(&format!("c{i}"));
                        let value = vec![b'x'; each - key.len()];
                        Compare {
                            target_union: TargetUnion::Value(Bytes::from(value)),
                            ..failing_compare(key)
                        }
                    })
                    .collect();
                // A put in the branch not taken: a read-only txn is never proposed, so
                // no size limit applies to it.
                txn(compare, vec![RequestOp::Put(put(key("cput")))], vec![])
            }
            Case::TxnDeletesOverLimit => {
                let payload = limit - TXN_OPS_MAX * DELETE_FRAMING_MIN_BYTES + 1;
                let each = payload / TXN_OPS_MAX;
                let deletes = (0..TXN_OPS_MAX)
                    .map(|i| {
                        // The last key takes what the division left over.
                        let len = if i + 1 == TXN_OPS_MAX { payload - each * i } else { each };
                        delete(sized_key(&self.tag, &format!("x{i}"), b'x', len), Bytes::new())
                    })
                    .collect();
                txn(vec![failing_compare(key("nobody"))], deletes, vec![])
            }
            Case::TxnUnderLimit | Case::TxnOverLimit => {
                let size = if self.case == Case::TxnUnderLimit { under } else { over };
                let big =
                    PutRequest { value: Bytes::from(vec![b'v'; size]), ..put(key("txn-big")) };
                txn(vec![failing_compare(key("nobody"))], vec![RequestOp::Put(big)], vec![])
            }
        }
    }

    /// etcd's answer.
    pub fn expected(&self) -> Expected {
        use Expected::*;
        match self.case {
            Case::LeaseGrantTtlOverMax => Refused(EtcdError::LeaseTtlTooLarge),
            Case::PutEmptyKey
            | Case::RangeEmptyKey
            | Case::DeleteEmptyKey
            | Case::TxnEmptyCompareKey
            | Case::TxnPutEmptyKey => Refused(EtcdError::EmptyKey),
            Case::PutIgnoreValueWithValue => Refused(EtcdError::ValueProvided),
            Case::PutIgnoreLeaseWithLease => Refused(EtcdError::LeaseProvided),
            Case::PutIgnoreValueAbsent => RefusedWhenApplied(EtcdError::KeyNotFound),
            Case::TxnOpsOverMax => Refused(EtcdError::TooManyOps),
            Case::TxnDuplicateKey
            | Case::TxnPutInDeletedRange
            | Case::TxnNestedPutInDeleted
            | Case::TxnPutInNestedDelete => Refused(EtcdError::DuplicateKey),
            Case::MemberAddNoScheme
            | Case::MemberAddBadPort
            | Case::MemberAddNoUrls
            | Case::MemberAddOneBadUrl => Refused(EtcdError::MemberBadUrls),
            Case::DeleteOverLimit
            | Case::PutOverLimit
            | Case::TxnOverLimit
            | Case::TxnComparesOverLimit
            | Case::TxnDeletesOverLimit => Refused(EtcdError::RequestTooLarge),
            Case::LeaseGrantTtlMax
            | Case::LeaseTimeToLiveMissing
            | Case::LeaseTimeToLiveGranted
            | Case::TxnOpsMax
            | Case::RangeOverLimit
            | Case::DeleteUnderLimit
            | Case::TxnUnderLimit
            | Case::TxnComparesUnderLimit
            | Case::TxnPutDeleteApart => Served,
        }
    }

    /// Whether `response`, a served answer, is etcd's: what it must hold in words when
    /// it is not.
    pub fn judge(&self, response: &Response) -> Result<(), String> {
        let wrong = |what: &str| Err(format!("{what}, got {}", short(response)));
        match (self.case, response) {
            (Case::LeaseGrantTtlMax, Response::LeaseGrant(g)) => {
                if g.id != self.lease || g.ttl != LEASE_TTL_MAX_SECS {
                    return wrong(&format!(
                        "a grant of lease {:x} with TTL {LEASE_TTL_MAX_SECS} (the maximum) must answer that id and TTL",
                        self.lease
                    ));
                }
                Ok(())
            }
            (Case::LeaseTimeToLiveMissing, Response::LeaseTimeToLive(t)) => {
                if t.id != self.lease || t.ttl != -1 || t.granted_ttl != 0 || !t.keys.is_empty() {
                    return wrong(&format!(
                        "TimeToLive of lease {:x}, which nobody granted, must answer that id, TTL -1, granted TTL 0 and no keys",
                        self.lease
                    ));
                }
                Ok(())
            }
            (Case::LeaseTimeToLiveGranted, Response::LeaseTimeToLive(t)) => {
                let ok = t.id == self.lease
                    && t.granted_ttl == LEASE_TTL_MAX_SECS
                    && t.ttl > 0
                    && t.ttl <= t.granted_ttl
                    && t.keys.is_empty();
                if !ok {
                    return wrong(&format!(
                        "TimeToLive of lease {:x}, granted for {LEASE_TTL_MAX_SECS} s, must answer that id and granted TTL, 0 < TTL <= granted TTL, and no keys",
                        self.lease
                    ));
                }
                Ok(())
            }
            (Case::TxnOpsMax, Response::Txn(t)) => {
                let empty = t.responses.iter().all(|r| match r {
                    detcd_core::api::ResponseOp::Range(r) => r.kvs.is_empty() && r.count == 0,
                    _ => false,
                });
                if !t.succeeded || t.responses.len() != TXN_OPS_MAX || !empty {
                    return wrong(&format!(
                        "a txn of {TXN_OPS_MAX} reads of absent keys with no compare must succeed with {TXN_OPS_MAX} empty ranges"
                    ));
                }
                Ok(())
            }
            (Case::RangeOverLimit, Response::Range(r)) => {
                if !r.kvs.is_empty() || r.count != 0 {
                    return wrong("a range of an absent key must be empty");
                }
                Ok(())
            }
            (Case::DeleteUnderLimit, Response::DeleteRange(d)) => {
                if d.deleted != 0 || !d.prev_kvs.is_empty() {
                    return wrong("a delete of an empty range must delete nothing");
                }
                Ok(())
            }
            (Case::TxnPutDeleteApart, Response::Txn(t)) => {
                let deleted_nothing = matches!(
                    t.responses.as_slice(),
                    [detcd_core::api::ResponseOp::DeleteRange(d)] if d.deleted == 0
                );
                if t.succeeded || !deleted_nothing {
                    return wrong(
                        "a txn whose compare fails, with a delete of an absent key in its else branch, must answer not succeeded and one delete of nothing",
                    );
                }
                Ok(())
            }
            (Case::TxnUnderLimit | Case::TxnComparesUnderLimit, Response::Txn(t)) => {
                if t.succeeded || !t.responses.is_empty() {
                    return wrong(
                        "a txn whose compare fails, with an empty else branch, must answer not succeeded and no responses",
                    );
                }
                Ok(())
            }
            _ => wrong(&format!("etcd answers {:?}", self.expected())),
        }
    }
}

/// A response in a few words, its header and big payloads left out.
pub fn short(response: &Response) -> String {
    match response {
        Response::Err(e) => format!("\"{}\"", e.message()),
        Response::LeaseGrant(g) => format!("lease grant id {:x} ttl {}", g.id, g.ttl),
        Response::LeaseTimeToLive(t) => format!(
            "time-to-live id {:x} ttl {} granted {} keys {}",
            t.id,
            t.ttl,
            t.granted_ttl,
            t.keys.len()
        ),
        Response::Range(r) => format!("range of {} kv(s), count {}", r.kvs.len(), r.count),
        Response::DeleteRange(d) => format!("delete of {}", d.deleted),
        Response::Put(p) => format!("put at revision {}", p.header.revision),
        Response::Txn(t) => {
            format!("txn succeeded {} with {} response(s)", t.succeeded, t.responses.len())
        }
        other => {
            let text = format!("{other:?}");
            text.chars().take(80).collect()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use detcd_core::server::{validate, Config};

    /// Each case is what it claims before it reaches a cluster: the statically
    /// refused ones fail the core's request checks with etcd's error, the others pass
    /// them.
    #[test]
    fn every_case_passes_or_fails_the_request_checks_as_etcd_does() {
        let cfg = Config::new(detcd_core::raft::Config::new(1, vec![1], 1), 1);
        let cases = Case::DRAWN.into_iter().chain([Case::LeaseTimeToLiveGranted]);
        for case in cases {
            let v = Validation { case, lease: granted_lease_id(3, 4), tag: "c3-4".into() };
            let got = validate(&v.request(), &cfg);
            match v.expected() {
                Expected::Refused(e) => assert_eq!(got, Err(e), "{case:?}"),
                Expected::RefusedWhenApplied(_) | Expected::Served => {
                    assert_eq!(got, Ok(()), "{case:?}")
                }
            }
        }
    }

    /// Validation keys stay apart from every other workload's keys, and from the
    /// probe's.
    #[test]
    fn validation_keys_are_their_own() {
        let v = Validation { case: Case::DeleteUnderLimit, lease: 0, tag: "c1-1".into() };
        let Request::DeleteRange(d) = v.request() else { panic!("a delete") };
        for k in [&d.key, &d.range_end] {
            assert!(k.as_ref() >= VALIDATION_PREFIX.as_bytes());
            assert!(k.as_ref() < VALIDATION_END.as_bytes());
        }
        let probe_end = format!("{}\u{10ffff}", crate::history::PROBE_KEY_PREFIX);
        for other in [crate::workload::KEYS_END, crate::workload::LEASE_KEYS_END, &probe_end] {
            assert!(other < VALIDATION_PREFIX, "{other}");
        }
        assert!(d.key < d.range_end, "a real range, empty of keys");
    }
}
