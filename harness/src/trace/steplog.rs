//! The human step log of one run (`detcd replay -v`): elections, votes and their
//! answers, role changes, the leader's commits, faults, crashes, restarts, clock faults
//! and client operations, one line each, stamped with simulated time:
//! `  1.234567s n2   became leader of term 3`.
//! Heartbeats, appends, followers' commits and disk traffic are left out; the
//! JSON-lines trace has them.

use super::capture::TraceRecord;
use crate::workload::{OpOutcome, OpRecord};
use std::collections::BTreeMap;

/// A leader's commit line is skipped when the previous one printed for that node, in
/// the same term, is younger than this (simulated time): a busy leader commits every
/// few milliseconds, and one line per advance would bury everything else.
const COMMIT_COALESCE_US: u64 = 100_000;

/// Which commit events become lines: only a leader's, and at most one per node per
/// `COMMIT_COALESCE_US` within a term.
#[derive(Default)]
struct CommitFilter {
    /// node → whether it leads, as of its last role change (crash and restart: no).
    leading: BTreeMap<u64, bool>,
    /// node → (time, term) of the last commit line printed for it.
    printed: BTreeMap<u64, (u64, u64)>,
}

impl CommitFilter {
    /// Follows role changes and restarts, which decide whose commits count.
    fn observe(&mut self, r: &TraceRecord) {
        let Some(node) = r.u64_field("node") else { return };
        match r.name() {
            "role_change" => {
                self.leading.insert(node, r.field("role") == Some("Leader"));
            }
            "crash" | "restart" => {
                self.leading.insert(node, false);
            }
            _ => {}
        }
    }

    /// Whether this commit event deserves a line; records it if so.
    fn keep(&mut self, r: &TraceRecord) -> bool {
        let (Some(node), Some(t), Some(term)) =
            (r.u64_field("node"), r.u64_field("t_us"), r.u64_field("term"))
        else {
            return false;
        };
        if !self.leading.get(&node).copied().unwrap_or(false) {
            return false;
        }
        if let Some(&(last_t, last_term)) = self.printed.get(&node) {
            if last_term == term && t.saturating_sub(last_t) < COMMIT_COALESCE_US {
                return false;
            }
        }
        self.printed.insert(node, (t, term));
        true
    }
}

/// How a vote or pre-vote answer went, from the world's `detail` field.
fn answer(r: &TraceRecord, peer: &str, what: &str, term: &str) -> String {
    match r.field("detail") {
        Some("granted") => format!("hears n{peer} grant its {what} (term {term})"),
        Some("rejected") => format!("hears n{peer} reject its {what} request (term {term})"),
        _ => format!("hears n{peer}'s {what} answer (term {term})"),
    }
}

fn stamp(t_us: u64, who: &str, text: &str) -> String {
    format!("{:>4}.{:06}s {who:<4} {text}", t_us / 1_000_000, t_us % 1_000_000)
}

fn node_label(n: Option<u64>) -> String {
    n.map_or_else(|| "--".to_string(), |n| format!("n{n}"))
}

/// One line for an event worth a person's attention, or `None`.
fn describe(r: &TraceRecord) -> Option<String> {
    if let Some(line) = describe_client(r) {
        return Some(line);
    }
    let node = r.u64_field("node");
    let peer = r.field("peer").unwrap_or("?");
    let term = r.field("term").unwrap_or("?");
    let kind = r.field("kind").unwrap_or("");
    let text = match (r.name(), kind) {
        ("role_change", _) => {
            let term = r.u64_field("term").unwrap_or(0);
            match r.field("role").unwrap_or("") {
                "Leader" => format!("became leader of term {term}"),
                "Candidate" => format!("became candidate in term {term}: asks for votes"),
                "PreCandidate" => format!("became pre-candidate (term {term}): asks for pre-votes"),
                _ => match r.u64_field("leader") {
                    Some(l) if l != 0 => format!("became follower in term {term} (leader n{l})"),
                    _ => format!("became follower in term {term} (no leader known)"),
                },
            }
        }
        ("send", "vote") => format!("asks n{peer} for its vote in term {term}"),
        ("send", "pre_vote") => format!("asks n{peer} for a pre-vote for term {term}"),
        ("deliver", "vote_response") => answer(r, peer, "vote", term),
        ("deliver", "pre_vote_response") => answer(r, peer, "pre-vote", term),
        ("commit", _) => {
            format!("committed up to index {} (term {term})", r.field("index").unwrap_or("?"))
        }
        ("send", "timeout_now") => format!("tells n{peer} to campaign now (leader transfer)"),
        ("send", "install_snapshot") => format!("sends a snapshot to n{peer}"),
        ("partition", _) => format!(
            "partition {} ({} links cut)",
            r.field("shape").unwrap_or(""),
            r.field("cut_links").unwrap_or("?")
        ),
        ("heal", _) => "network healed".to_string(),
        ("network_rates", _) => format!(
            "network: drop {} duplicate {} reorder {}",
            r.field("drop_rate").unwrap_or("?"),
            r.field("duplicate_rate").unwrap_or("?"),
            r.field("reorder_rate").unwrap_or("?")
        ),
        ("crash", _) => format!(
            "CRASHED: {} unsynced write(s) lost, {} survived, {} torn",
            r.field("lost_ops").unwrap_or("?"),
            r.field("survived_ops").unwrap_or("?"),
            r.field("torn_entries").unwrap_or("?")
        ),
        ("restart", _) => "restarted from its durable state".to_string(),
        ("clock_skew", _) => format!(
            "clock now runs at {:.3}x true time",
            r.u64_field("rate_permille").unwrap_or(1000) as f64 / 1000.0
        ),
        ("clock_jump", _) => {
            format!("clock jumps {} tick(s) ahead", r.field("ticks").unwrap_or("?"))
        }
        ("transfer_leader", _) => format!(
            "asked to hand leadership to n{peer} (accepted: {})",
            r.field("accepted").unwrap_or("?")
        ),
        ("faults_cancelled", _) => format!(
            "liveness phase: faults healed, {} scheduled fault(s) cancelled",
            r.field("cancelled").unwrap_or("0")
        ),
        ("violation", _) => format!("SAFETY VIOLATION: {}", r.field("violation").unwrap_or("")),
        _ => return None,
    };
    Some(stamp(r.u64_field("t_us")?, &node_label(node), &text))
}

/// Lines about a client process rather than a member: its pauses, and the lock
/// workload's story (its events carry the sentence in `text`).
fn describe_client(r: &TraceRecord) -> Option<String> {
    let text = match r.name() {
        "client_pause" => format!(
            "PAUSED for {} ms (stop-the-world): sends nothing, keeps no lease alive, does no work",
            r.u64_field("duration_us")? / 1_000
        ),
        "lock" => r.field("text")?.to_string(),
        _ => return None,
    };
    Some(stamp(r.u64_field("t_us")?, &format!("c{}", r.u64_field("client")?), &text))
}

fn describe_op(o: &OpRecord) -> String {
    let outcome = match &o.outcome {
        OpOutcome::Ok(_) => "ok".to_string(),
        OpOutcome::Failed(e) => format!("failed ({e})"),
        OpOutcome::Refused => "refused (member down)".to_string(),
        OpOutcome::Unknown(None) => "unknown outcome (no answer)".to_string(),
        OpOutcome::Unknown(Some(e)) => format!("unknown outcome ({e})"),
    };
    let text = format!(
        "c{} {}: {outcome} (sent at {}.{:06}s)",
        o.client,
        o.kind.describe(),
        o.invoke_us / 1_000_000,
        o.invoke_us % 1_000_000
    );
    stamp(o.complete_us, &node_label((o.node != 0).then_some(o.node)), &text)
}

/// The step log: events in the order they happened, client operations at the time
/// they completed. A role change is traced after the messages the same step sent, so
/// it is moved before them: "became candidate" reads better before "asks for votes".
/// Commits are shown for leaders only, coalesced (see `COMMIT_COALESCE_US`).
pub fn step_log(records: &[TraceRecord], ops: &[OpRecord]) -> Vec<String> {
    let mut commits = CommitFilter::default();
    let mut ops: Vec<&OpRecord> = ops.iter().collect();
    ops.sort_by_key(|o| o.complete_us);
    let mut ops = ops.into_iter().peekable();
    // (time, node, was a send, line)
    let mut lines: Vec<(Option<u64>, Option<u64>, bool, String)> = Vec::new();
    for r in records {
        let t = r.u64_field("t_us");
        if let Some(t) = t {
            while let Some(o) = ops.next_if(|o| o.complete_us < t) {
                lines.push((None, None, false, describe_op(o)));
            }
        }
        commits.observe(r);
        if r.name() == "commit" && !commits.keep(r) {
            continue;
        }
        let Some(line) = describe(r) else { continue };
        let node = r.u64_field("node");
        let mut at = lines.len();
        if r.name() == "role_change" {
            while at > 0 && lines[at - 1].2 && lines[at - 1].0 == t && lines[at - 1].1 == node {
                at -= 1;
            }
        }
        lines.insert(at, (t, node, r.name() == "send", line));
    }
    let mut out: Vec<String> = lines.into_iter().map(|l| l.3).collect();
    out.extend(ops.map(describe_op));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(name: &str, fields: &[(&str, &str)]) -> TraceRecord {
        TraceRecord::sim_event(name, fields)
    }

    #[test]
    fn lines_are_stamped_and_readable() {
        let records = vec![
            rec(
                "role_change",
                &[("t_us", "1234567"), ("node", "2"), ("role", "Leader"), ("term", "3")],
            ),
            rec("tick", &[("t_us", "1300000"), ("node", "1")]),
            rec(
                "crash",
                &[
                    ("t_us", "2000000"),
                    ("node", "1"),
                    ("lost_ops", "2"),
                    ("survived_ops", "5"),
                    ("torn_entries", "0"),
                ],
            ),
            rec(
                "send",
                &[
                    ("t_us", "2000000"),
                    ("node", "1"),
                    ("peer", "2"),
                    ("kind", "vote"),
                    ("term", "4"),
                ],
            ),
            rec(
                "role_change",
                &[("t_us", "2000000"), ("node", "1"), ("role", "Candidate"), ("term", "4")],
            ),
        ];
        let lines = step_log(&records, &[]);
        assert_eq!(lines.len(), 4, "{lines:?}");
        assert_eq!(lines[0], "   1.234567s n2   became leader of term 3");
        assert!(lines[1].contains("CRASHED: 2 unsynced write(s) lost"), "{lines:?}");
        assert!(lines[2].ends_with("became candidate in term 4: asks for votes"), "{lines:?}");
        assert!(lines[3].ends_with("asks n2 for its vote in term 4"), "{lines:?}");
    }

    fn commit(t: &str, node: &str, index: &str, term: &str) -> TraceRecord {
        rec("commit", &[("t_us", t), ("node", node), ("index", index), ("term", term)])
    }

    fn role(t: &str, node: &str, role: &str, term: &str) -> TraceRecord {
        rec("role_change", &[("t_us", t), ("node", node), ("role", role), ("term", term)])
    }

    #[test]
    fn only_leader_commits_are_shown_and_coalesced() {
        let records = vec![
            commit("100", "1", "1", "1"),
            role("1000", "2", "Leader", "2"),
            commit("2000", "2", "3", "2"),
            commit("2100", "1", "3", "2"),
            commit("50000", "2", "4", "2"),
            commit("102000", "2", "5", "2"),
            commit("110000", "2", "6", "2"),
            rec("crash", &[("t_us", "120000"), ("node", "2")]),
            commit("130000", "2", "7", "2"),
            role("140000", "3", "Leader", "3"),
            commit("141000", "3", "8", "3"),
            role("150000", "3", "Follower", "4"),
            role("150000", "3", "Leader", "4"),
            commit("151000", "3", "9", "4"),
        ];
        let lines: Vec<String> =
            step_log(&records, &[]).into_iter().filter(|l| l.contains("committed")).collect();
        assert_eq!(
            lines,
            [
                "   0.002000s n2   committed up to index 3 (term 2)",
                "   0.102000s n2   committed up to index 5 (term 2)",
                "   0.141000s n3   committed up to index 8 (term 3)",
                "   0.151000s n3   committed up to index 9 (term 4)",
            ]
        );
    }

    #[test]
    fn vote_answers_say_granted_or_rejected() {
        let answer = |kind: &str, detail: Option<&str>| {
            let mut f =
                vec![("t_us", "10"), ("node", "1"), ("peer", "3"), ("kind", kind), ("term", "2")];
            if let Some(d) = detail {
                f.push(("detail", d));
            }
            rec("deliver", &f)
        };
        let records = vec![
            answer("vote_response", Some("granted")),
            answer("vote_response", Some("rejected")),
            answer("pre_vote_response", Some("granted")),
            answer("pre_vote_response", Some("rejected")),
            answer("vote_response", None),
            answer("append_response", Some("ok")),
        ];
        let lines = step_log(&records, &[]);
        let texts: Vec<&str> = lines.iter().map(|l| l.split_at(17).1.trim_start()).collect();
        assert_eq!(
            texts,
            [
                "hears n3 grant its vote (term 2)",
                "hears n3 reject its vote request (term 2)",
                "hears n3 grant its pre-vote (term 2)",
                "hears n3 reject its pre-vote request (term 2)",
                "hears n3's vote answer (term 2)",
            ]
        );
    }
}
