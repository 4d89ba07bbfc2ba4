//! Lease lifetimes, checked against the committed write log: each workload lease has
//! one key (`l/<id>`), so the key's deletion is the lease's end.
//!
//! - Kept alive means alive: a lease granted or kept alive at time t (the request's
//!   call) with TTL s was refreshed no earlier than t, so its key cannot be deleted
//!   before t + s unless the client revoked it, less `SLACK_TICKS`: the lessor counts
//!   in ticks, and each leader change hands the remaining TTL over (a checkpoint)
//!   to a member whose ticks run up to one tick out of phase, so a lease may end a
//!   tick early per handover. The slack covers several handovers and stays far below
//!   a keep-alive interval (a third of the TTL), which is what a lease expired on the
//!   wrong clock loses. Only without clock faults: a leader whose clock runs fast or
//!   jumps expires leases early in true time, as etcd's do.
//! - Expired means gone: a lease neither revoked nor kept alive is expired by the
//!   leader within its TTL after its last refresh. etcd documents one grace on top:
//!   a new leader extends every lease by an election timeout when it takes over (etcd
//!   3.4's lessor `Promote(extend)`; detcd's `lease_promote_grace_ticks`). So after the
//!   faults heal, the key must be gone by the later of (last refresh + TTL) and (heal
//!   + the time to elect a leader + the grace), plus the time to commit the expiry.
//! - Revoked means gone: a revoke answered as done removed the key with the lease.
//! - TimeToLive answers agree with all of the above (`lease_probe`).

use super::lease_probe::{self, Conditions, Facts, Probe};
use crate::history::WriteLog;
use crate::report::{check_names::LEASES, CheckResult};
use crate::workload::{OpKind, OpOutcome, OpRecord};
use detcd_core::server::Response;
use std::collections::BTreeMap;

/// Ticks a lease may end early by tick granularity across leader changes.
const SLACK_TICKS: u64 = 10;

/// What the run's timing lets the check assume.
#[derive(Clone, Copy, Debug)]
pub struct LeaseTiming {
    /// A clock ran at a skewed rate or jumped: the keep-alive rule does not apply.
    pub clock_faults: bool,
    /// True time of one tick.
    pub tick_us: u64,
    /// When the faults healed (the liveness phase began).
    pub healed_us: u64,
    /// Time to elect a leader and commit the expiry after healing, grace included.
    pub settle_us: u64,
    /// When the run ended: keys whose deadline is later are not judged.
    pub end_us: u64,
    /// No faults of any kind in the run (`lease_probe`'s TTL bound applies).
    pub fault_free: bool,
    /// A new leader's grace for every lease, true time.
    pub promote_grace_us: u64,
}

/// One lease of the workload, from the records.
#[derive(Debug, Default)]
struct LeaseLife {
    key: Option<String>,
    /// (call, TTL granted or renewed in seconds) of each grant or keep-alive answered.
    refreshed: Vec<(u64, i64)>,
    /// The latest moment any grant, put or keep-alive could have refreshed it.
    last_touch_us: u64,
    ttl_secs: i64,
    /// The first revoke that may have taken effect, by its call.
    revoked_from_us: Option<u64>,
    /// A revoke answered as done, by its answer.
    revoke_answered_us: Option<u64>,
    /// When the put that attached the key was first answered.
    put_answered_us: Option<u64>,
    /// The last answer to a grant or keep-alive that renewed it.
    refresh_answered_us: u64,
    /// A keep-alive with an unknown outcome.
    refresh_open: bool,
    probes: Vec<Probe>,
}

/// Checks every lease of `records` against `log`, the converged cluster's history.
pub fn check_leases(records: &[OpRecord], log: &WriteLog, timing: LeaseTiming) -> CheckResult {
    let mut leases: BTreeMap<i64, LeaseLife> = BTreeMap::new();
    for r in records {
        let definite_no = matches!(r.outcome, OpOutcome::Failed(_) | OpOutcome::Refused);
        match (&r.kind, &r.outcome) {
            (OpKind::LeaseGrant, OpOutcome::Ok(Response::LeaseGrant(g))) if g.id != 0 => {
                let l = leases.entry(g.id).or_default();
                l.refreshed.push((r.invoke_us, g.ttl));
                l.ttl_secs = g.ttl;
                l.last_touch_us = l.last_touch_us.max(r.complete_us);
                l.refresh_answered_us = l.refresh_answered_us.max(r.complete_us);
            }
            (OpKind::LeasePut { lease, key, ignore_lease, .. }, outcome) if !definite_no => {
                let l = leases.entry(*lease).or_default();
                l.key = Some(key.clone());
                l.last_touch_us = l.last_touch_us.max(r.complete_us);
                if !ignore_lease && matches!(outcome, OpOutcome::Ok(_)) {
                    l.put_answered_us = l.put_answered_us.or(Some(r.complete_us));
                }
            }
            (OpKind::LeaseKeepAlive { lease, .. }, outcome) if !definite_no => {
                let l = leases.entry(*lease).or_default();
                match outcome {
                    OpOutcome::Ok(Response::LeaseKeepAlive(k)) if k.ttl > 0 => {
                        l.refreshed.push((r.invoke_us, k.ttl));
                        l.refresh_answered_us = l.refresh_answered_us.max(r.complete_us);
                    }
                    OpOutcome::Ok(_) => {}
                    _ => l.refresh_open = true,
                }
                l.last_touch_us = l.last_touch_us.max(r.complete_us);
            }
            (OpKind::LeaseRevoke { lease, .. }, _) if !definite_no => {
                let l = leases.entry(*lease).or_default();
                let from = l.revoked_from_us.map_or(r.invoke_us, |t| t.min(r.invoke_us));
                l.revoked_from_us = Some(from);
                if matches!(r.outcome, OpOutcome::Ok(Response::LeaseRevoke(_))) {
                    l.revoke_answered_us = l.revoke_answered_us.or(Some(r.complete_us));
                }
            }
            _ => {
                if let Some((lease, probe)) = Probe::of(r) {
                    leases.entry(lease).or_default().probes.push(probe);
                }
            }
        }
    }
    let (mut kept_checked, mut expiry_checked, mut probes) = (0u64, 0u64, 0usize);
    let conditions = Conditions {
        clock_faults: timing.clock_faults,
        fault_free: timing.fault_free,
        promote_grace_us: timing.promote_grace_us,
        slack_us: SLACK_TICKS * timing.tick_us,
    };
    for (id, l) in &leases {
        let Some(key) = &l.key else { continue };
        if log.put_revision_of_key(key).is_none() {
            // The put never took effect: no key to watch over.
            continue;
        }
        let deleted = log.deletions(key).first().copied();
        let deleted_by = deleted.and_then(|d| log.applied_by_us(d));
        let who = format!("lease {id:x} (key {key})");
        let facts = Facts {
            key,
            put_answered_us: l.put_answered_us,
            ttl_secs: l.ttl_secs,
            refreshed: &l.refreshed,
            refresh_answered_us: l.refresh_answered_us,
            refresh_open: l.refresh_open,
            revoked_from_us: l.revoked_from_us,
        };
        if let Some(evidence) = lease_probe::judge(*id, &facts, &l.probes, &conditions) {
            return CheckResult::fail(LEASES, evidence);
        }
        probes += l.probes.len();
        if let (Some(revoked), None) = (l.revoke_answered_us, deleted) {
            return CheckResult::fail(
                LEASES,
                format!(
                    "{who}: a revoke answered by {} ms removed the lease, yet its key was never deleted",
                    revoked / 1_000
                ),
            );
        }
        if !timing.clock_faults {
            if let Some(by) = deleted_by {
                let revoked_before = l.revoked_from_us.is_some_and(|t| t <= by);
                let promised = lease_probe::promise_past(&l.refreshed, by, conditions.slack_us);
                if let (false, Some((call, until))) = (revoked_before, promised) {
                    return CheckResult::fail(
                        LEASES,
                        format!(
                            "{who}: its key was deleted at revision {} by {} ms, though a grant or keep-alive sent at {} ms promised it until at least {} ms and no revoke was sent",
                            deleted.unwrap_or(0),
                            by / 1_000,
                            call / 1_000,
                            until / 1_000
                        ),
                    );
                }
                kept_checked += 1;
            }
        }
        if deleted.is_none() && l.revoked_from_us.is_none() && l.ttl_secs > 0 {
            let ttl_us = l.ttl_secs as u64 * 1_000_000;
            let deadline = (l.last_touch_us + ttl_us).max(timing.healed_us) + timing.settle_us;
            if deadline <= timing.end_us && log.last_revision() > 0 {
                return CheckResult::fail(
                    LEASES,
                    format!(
                        "{who}: not revoked, last refreshed by {} ms with a TTL of {} s, yet its key still exists at {} ms (it had to be gone by {} ms: TTL, plus the election and promotion grace after the faults healed at {} ms)",
                        l.last_touch_us / 1_000,
                        l.ttl_secs,
                        timing.end_us / 1_000,
                        deadline / 1_000,
                        timing.healed_us / 1_000
                    ),
                );
            }
            expiry_checked += 1;
        }
    }
    CheckResult::pass(
        LEASES,
        format!(
            "{} lease(s): {kept_checked} deleted key(s) outlived every grant and keep-alive{}, {expiry_checked} expired in time, {probes} TimeToLive answer(s) agreed",
            leases.len(),
            if timing.clock_faults { " (not judged: clock faults)" } else { "" }
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checks::watch::WatchEventRecord;
    use crate::report::Verdict;
    use bytes::Bytes;
    use detcd_core::api::{
        LeaseGrantResponse, LeaseKeepAliveResponse, LeaseRevokeResponse, PutResponse,
        ResponseHeader,
    };

    const S: u64 = 1_000_000;

    fn op(kind: OpKind, at: u64, outcome: OpOutcome) -> OpRecord {
        OpRecord {
            client: 1,
            node: 1,
            incarnation: 0,
            kind,
            invoke_us: at,
            complete_us: at + 10_000,
            outcome,
        }
    }

    fn header() -> ResponseHeader {
        ResponseHeader::default()
    }

    /// A lease granted at 0 (TTL 2 s), its key put at 0.1 s, kept alive at 1, 2 and 3 s.
    fn kept_alive() -> Vec<OpRecord> {
        let grant = LeaseGrantResponse { header: header(), id: 7, ttl: 2, error: String::new() };
        let mut records = vec![
            op(OpKind::LeaseGrant, 0, OpOutcome::Ok(Response::LeaseGrant(grant))),
            op(
                OpKind::LeasePut {
                    lease: 7,
                    key: "l/7".into(),
                    value: "v".into(),
                    ignore_lease: false,
                },
                S / 10,
                OpOutcome::Ok(Response::Put(PutResponse { header: header(), prev_kv: None })),
            ),
        ];
        for t in 1..=3 {
            let k = LeaseKeepAliveResponse { header: header(), id: 7, ttl: 2 };
            records.push(op(
                OpKind::LeaseKeepAlive { lease: 7, key: "l/7".into() },
                t * S,
                OpOutcome::Ok(Response::LeaseKeepAlive(k)),
            ));
        }
        records
    }

    /// The key put at revision 2 and, when `deleted_at_us`, deleted at revision 3 by then.
    fn log(deleted_at_us: Option<u64>) -> WriteLog {
        let ev = |revision, delete| WatchEventRecord {
            revision,
            key: Bytes::from_static(b"l/7"),
            delete,
            value: Bytes::from_static(b"v"),
            prev: None,
        };
        let mut events = BTreeMap::from([(2, vec![ev(2, false)])]);
        if deleted_at_us.is_some() {
            events.insert(3, vec![ev(3, true)]);
        }
        let mut log = WriteLog::from_events(&events);
        log.note_applied_by(3, deleted_at_us.unwrap_or(0));
        log
    }

    fn timing(clock_faults: bool, end_us: u64) -> LeaseTiming {
        LeaseTiming {
            clock_faults,
            tick_us: 10_000,
            healed_us: 6 * S,
            settle_us: 3 * S,
            end_us,
            fault_free: true,
            promote_grace_us: 100_000,
        }
    }

    #[test]
    fn a_lease_expiring_after_its_last_keep_alive_passes() {
        let r = check_leases(&kept_alive(), &log(Some(5_100_000)), timing(false, 12 * S));
        assert_eq!(r.verdict, Verdict::Pass, "{}", r.evidence);
    }

    /// What lease-expiry-on-follower does: the key goes one TTL after the grant,
    /// though keep-alives kept the lease alive.
    #[test]
    fn a_kept_alive_key_deleted_fails() {
        let r = check_leases(&kept_alive(), &log(Some(2_200_000)), timing(false, 12 * S));
        assert_eq!(r.verdict, Verdict::Fail, "{}", r.evidence);
        assert!(r.evidence.contains("promised it until at least 4900 ms"), "{}", r.evidence);
        // Under clock faults early expiry is what etcd does too.
        let r = check_leases(&kept_alive(), &log(Some(2_200_000)), timing(true, 12 * S));
        assert_eq!(r.verdict, Verdict::Pass, "{}", r.evidence);
    }

    #[test]
    fn a_revoked_lease_may_go_at_once() {
        let mut records = kept_alive();
        records.push(op(
            OpKind::LeaseRevoke { lease: 7, key: "l/7".into() },
            2 * S,
            OpOutcome::Unknown(None),
        ));
        let r = check_leases(&records, &log(Some(2_200_000)), timing(false, 12 * S));
        assert_eq!(r.verdict, Verdict::Pass, "{}", r.evidence);
    }

    /// What a put whose `ignore_lease` was lost does: the key leaves its lease, and
    /// the revoke that ends the lease leaves it behind.
    #[test]
    fn a_revoked_lease_whose_key_stays_fails() {
        let mut records = kept_alive();
        let revoked = LeaseRevokeResponse { header: header() };
        records.push(op(
            OpKind::LeaseRevoke { lease: 7, key: "l/7".into() },
            4 * S,
            OpOutcome::Ok(Response::LeaseRevoke(revoked)),
        ));
        let r = check_leases(&records, &log(None), timing(false, 5 * S));
        assert_eq!(r.verdict, Verdict::Fail, "{}", r.evidence);
        assert!(r.evidence.contains("yet its key was never deleted"), "{}", r.evidence);
        let r = check_leases(&records, &log(Some(4_005_000)), timing(false, 5 * S));
        assert_eq!(r.verdict, Verdict::Pass, "{}", r.evidence);
    }

    #[test]
    fn a_lease_never_expiring_fails_once_its_deadline_passed() {
        // Last touched at 3.01 s, TTL 2 s, healed at 6 s, 3 s to settle: due by 9 s.
        let r = check_leases(&kept_alive(), &log(None), timing(false, 12 * S));
        assert_eq!(r.verdict, Verdict::Fail, "{}", r.evidence);
        assert!(r.evidence.contains("had to be gone by 9000 ms"), "{}", r.evidence);
        let r = check_leases(&kept_alive(), &log(None), timing(false, 8 * S));
        assert_eq!(r.verdict, Verdict::Pass, "{}", r.evidence);
    }
}
