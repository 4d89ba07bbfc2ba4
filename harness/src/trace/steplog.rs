//! The human step log of one run (`detcd replay -v`): elections, votes, role changes,
//! faults, crashes, restarts, clock faults and client operations, one line each,
//! stamped with simulated time: `  1.234567s n2   became leader of term 3`.
//! Heartbeats, appends and disk traffic are left out; the JSON-lines trace has them.

use super::capture::TraceRecord;
use crate::workload::{OpOutcome, OpRecord};

fn stamp(t_us: u64, who: &str, text: &str) -> String {
    format!("{:>4}.{:06}s {who:<4} {text}", t_us / 1_000_000, t_us % 1_000_000)
}

fn node_label(n: Option<u64>) -> String {
    n.map_or_else(|| "--".to_string(), |n| format!("n{n}"))
}

/// One line for an event worth a person's attention, or `None`.
fn describe(r: &TraceRecord) -> Option<String> {
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
        ("deliver", "vote_response") => format!("hears n{peer}'s vote answer (term {term})"),
        ("deliver", "pre_vote_response") => {
            format!("hears n{peer}'s pre-vote answer (term {term})")
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
pub fn step_log(records: &[TraceRecord], ops: &[OpRecord]) -> Vec<String> {
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
    use std::collections::BTreeMap;

    fn rec(name: &str, fields: &[(&str, &str)]) -> TraceRecord {
        let mut map: BTreeMap<String, String> =
            fields.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        map.insert("message".into(), name.into());
        TraceRecord { level: "INFO".into(), target: "detcd_sim".into(), fields: map }
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
}
