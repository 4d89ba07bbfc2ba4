//! TimeToLive answers about the workload's leases, judged as part of the leases check:
//! what a member says of a lease must agree with what the clients did to it.
//!
//! - **Its key is listed.** A lease that still exists (TTL 0 or more) lists the key put
//!   with it once that put was answered. A later put of the key with `ignore_lease`
//!   keeps the key on the lease, so the key stays listed after it too.
//! - **Not gone before its promise.** A lease that a grant or keep-alive promised until
//!   t (less the keep-alive rule's slack) is not reported unknown (TTL -1) before t
//!   unless a revoke was sent. Only without clock faults, as the keep-alive rule.
//! - **No more than is left.** In a run without faults, a member answers at most what
//!   the lease's last refresh left, counted from when that refresh was answered, plus
//!   `LAG_US`; or, if a leader took over just then, the promotion grace from the
//!   answer. A member that counts from the granted TTL instead of the last checkpoint
//!   of the remainder answers more, and a lease whose owner is gone then outlives its
//!   TTL on every leader change. Faulty runs are left out: a member that applies a
//!   checkpoint late (a restart replays the log; a candidate with the entries learns
//!   they are committed only once elected) counts the remainder from then, as etcd's
//!   checkpoints do.

use crate::workload::{OpKind, OpOutcome, OpRecord};
use detcd_core::api::LeaseTimeToLiveResponse;
use detcd_core::server::Response;

/// How far a member's view of a lease's end may run past the leader's: the
/// checkpoint interval (the remainder is recomputed that often) and the time to commit
/// and apply a checkpoint in a healthy cluster, with room to spare.
const LAG_US: u64 = 300_000;

/// One TimeToLive asked of a lease and answered.
#[derive(Clone, Debug)]
pub(super) struct Probe {
    pub invoke_us: u64,
    pub complete_us: u64,
    pub answer: LeaseTimeToLiveResponse,
}

impl Probe {
    /// The probe `r` is, when it is a TimeToLive of a workload lease that was answered.
    pub fn of(r: &OpRecord) -> Option<(i64, Probe)> {
        match (&r.kind, &r.outcome) {
            (
                OpKind::LeaseTimeToLive { lease, .. },
                OpOutcome::Ok(Response::LeaseTimeToLive(t)),
            ) => {
                let probe =
                    Probe { invoke_us: r.invoke_us, complete_us: r.complete_us, answer: t.clone() };
                Some((*lease, probe))
            }
            _ => None,
        }
    }
}

/// What the clients did to one lease that its probes are judged by.
pub(super) struct Facts<'a> {
    pub key: &'a str,
    /// When the put that attached the key was first answered.
    pub put_answered_us: Option<u64>,
    /// The granted TTL, seconds.
    pub ttl_secs: i64,
    /// (call, TTL) of each grant or keep-alive answered with a TTL.
    pub refreshed: &'a [(u64, i64)],
    /// The last answer to a grant or keep-alive that renewed it.
    pub refresh_answered_us: u64,
    /// A keep-alive whose outcome is unknown: it may have renewed it at any time.
    pub refresh_open: bool,
    pub revoked_from_us: Option<u64>,
}

/// The run's conditions the probe rules depend on.
pub(super) struct Conditions {
    pub clock_faults: bool,
    /// No fault of any kind: no scheduled or random faults, no swarm, no dropped
    /// messages.
    pub fault_free: bool,
    /// A new leader's grace for every lease (one election timeout), true time.
    pub promote_grace_us: u64,
    /// The keep-alive rule's slack, true time.
    pub slack_us: u64,
}

/// The latest promise among `refreshed` ((call, TTL) of each grant or keep-alive
/// answered) that still held at `at_us`: (its call, until when), less `slack_us`.
pub(super) fn promise_past(
    refreshed: &[(u64, i64)],
    at_us: u64,
    slack_us: u64,
) -> Option<(u64, u64)> {
    refreshed
        .iter()
        .map(|&(call, ttl)| (call, (call + ttl.max(0) as u64 * 1_000_000).saturating_sub(slack_us)))
        .filter(|&(_, until)| until > at_us)
        .max_by_key(|&(_, until)| until)
}

/// The first probe of lease `id` that breaks a rule, as evidence.
pub(super) fn judge(id: i64, facts: &Facts, probes: &[Probe], at: &Conditions) -> Option<String> {
    let who = format!("lease {id:x} (key {})", facts.key);
    for p in probes {
        let t = &p.answer;
        let (call, done) = (p.invoke_us / 1_000, p.complete_us / 1_000);
        if t.ttl >= 0 {
            if let Some(put) = facts.put_answered_us.filter(|&put| put <= p.invoke_us) {
                if !t.keys.iter().any(|k| k.as_ref() == facts.key.as_bytes()) {
                    let keys: Vec<_> = t.keys.iter().map(|k| String::from_utf8_lossy(k)).collect();
                    return Some(format!(
                        "{who}: TimeToLive sent at {call} ms answered TTL {} with keys {keys:?}, without {}, which the put with the lease answered at {} ms attached to it",
                        t.ttl,
                        facts.key,
                        put / 1_000
                    ));
                }
            }
        }
        if t.ttl == -1 && !at.clock_faults {
            let revoked = facts.revoked_from_us.is_some_and(|r| r <= p.complete_us);
            let promised = promise_past(facts.refreshed, p.complete_us, at.slack_us);
            if let (false, Some((c, until))) = (revoked, promised) {
                return Some(format!(
                    "{who}: TimeToLive answered by {done} ms that the lease is gone (TTL -1), though a grant or keep-alive sent at {} ms promised it until at least {} ms and no revoke was sent",
                    c / 1_000,
                    until / 1_000
                ));
            }
        }
        let judged = at.fault_free
            && !at.clock_faults
            && !facts.refresh_open
            && facts.refresh_answered_us > 0
            && facts.refresh_answered_us <= p.invoke_us;
        if judged && t.ttl > 0 {
            let ttl_us = facts.ttl_secs.max(0) as u64 * 1_000_000;
            let end_us = (facts.refresh_answered_us + ttl_us + LAG_US)
                .max(p.complete_us + at.promote_grace_us);
            let limit = (end_us - p.invoke_us).div_ceil(1_000_000) as i64;
            if t.ttl > limit {
                return Some(format!(
                    "{who}: TimeToLive sent at {call} ms answered TTL {} s, though its last grant or keep-alive was answered at {} ms with a TTL of {} s: at most {limit} s could be left",
                    t.ttl,
                    facts.refresh_answered_us / 1_000,
                    facts.ttl_secs
                ));
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    const S: u64 = 1_000_000;

    /// Granted at 0 with TTL 2 s, answered at 0.05 s; its key put and answered at 0.1 s.
    fn facts(refreshed: &[(u64, i64)]) -> Facts<'_> {
        Facts {
            key: "l/7",
            put_answered_us: Some(S / 10),
            ttl_secs: 2,
            refreshed,
            refresh_answered_us: S / 20,
            refresh_open: false,
            revoked_from_us: None,
        }
    }

    fn conditions(fault_free: bool) -> Conditions {
        Conditions { clock_faults: false, fault_free, promote_grace_us: S / 10, slack_us: S / 10 }
    }

    /// A TimeToLive sent at `at_us`, answered 10 ms later.
    fn probe(at_us: u64, ttl: i64, keys: &[&'static str]) -> Probe {
        let answer = LeaseTimeToLiveResponse {
            id: 7,
            ttl,
            granted_ttl: 2,
            keys: keys.iter().map(|k| Bytes::from_static(k.as_bytes())).collect(),
            ..LeaseTimeToLiveResponse::default()
        };
        Probe { invoke_us: at_us, complete_us: at_us + 10_000, answer }
    }

    #[test]
    fn an_answer_that_agrees_passes() {
        let grant = [(0, 2)];
        let probes =
            [probe(S / 2, 2, &["l/7"]), probe(3 * S / 2, 1, &["l/7"]), probe(3 * S, -1, &[])];
        assert_eq!(judge(7, &facts(&grant), &probes, &conditions(true)), None);
    }

    /// What a put whose `ignore_lease` was lost in the log does: the key leaves the lease.
    #[test]
    fn a_live_lease_without_its_key_fails() {
        let grant = [(0, 2)];
        let evidence = judge(7, &facts(&grant), &[probe(S, 1, &[])], &conditions(false));
        assert!(evidence.is_some_and(|e| e.contains("without l/7")));
        // Asked before the put was answered, the key may not be there yet.
        let early = judge(7, &facts(&grant), &[probe(S / 20, 2, &[])], &conditions(false));
        assert_eq!(early, None);
    }

    #[test]
    fn a_lease_gone_before_its_promise_fails_unless_revoked() {
        let grant = [(0, 2)];
        let evidence = judge(7, &facts(&grant), &[probe(S, -1, &[])], &conditions(false));
        assert!(evidence.is_some_and(|e| e.contains("promised it until at least 1900 ms")));
        let mut revoked = facts(&grant);
        revoked.revoked_from_us = Some(S / 2);
        assert_eq!(judge(7, &revoked, &[probe(S, -1, &[])], &conditions(false)), None);
    }

    /// What a member that counts from the granted TTL instead of the checkpointed
    /// remainder answers late in the lease's life.
    #[test]
    fn more_than_is_left_fails_in_a_fault_free_run_only() {
        let grant = [(0, 2)];
        // Sent at 1.6 s: at most 0.05 + 2 + 0.3 - 1.6 = 0.75 s, so 1 s, could be left.
        let late = [probe(8 * S / 5, 2, &["l/7"])];
        let evidence = judge(7, &facts(&grant), &late, &conditions(true));
        assert!(evidence.is_some_and(|e| e.contains("at most 1 s could be left")));
        assert_eq!(judge(7, &facts(&grant), &late, &conditions(false)), None);
        // A keep-alive of unknown outcome may have renewed it at any time.
        let mut open = facts(&grant);
        open.refresh_open = true;
        assert_eq!(judge(7, &open, &late, &conditions(true)), None);
    }
}
