//! From a run's captured events and client operations to the marks of its time line:
//! role bands from role changes, arrows from paired send/deliver events, lost messages
//! from drops, down intervals from crashes and restarts, faults (client pauses too), and
//! client operations.

use super::capture::TraceRecord;
use super::timeline::{Mark, Timeline};
use crate::workload::OpRecord;
use std::collections::{BTreeMap, VecDeque};

/// A message in flight: who sent what, waiting for its delivery or drop.
type LinkKey = (u64, u64, String);

/// Pairs sends with deliveries and drops. Messages on one link of one kind are matched
/// first in, first out; a reordered message can therefore be drawn against its
/// neighbour's send time, which moves an arrow's tail by at most one message gap.
fn messages(records: &[TraceRecord], marks: &mut Vec<Mark>) {
    let mut pending: BTreeMap<LinkKey, VecDeque<u64>> = BTreeMap::new();
    let mut previous: Option<&TraceRecord> = None;
    for r in records {
        let (Some(t), Some(node), Some(peer)) =
            (r.u64_field("t_us"), r.u64_field("node"), r.u64_field("peer"))
        else {
            previous = Some(r);
            continue;
        };
        let kind = r.field("kind").unwrap_or("").to_string();
        match r.name() {
            "send" => pending.entry((node, peer, kind)).or_default().push_back(t),
            "duplicate" => {
                // The copy is a second delivery of the send just recorded.
                pending.entry((node, peer, kind)).or_default().push_back(t);
            }
            "deliver" => {
                // A delivery names the receiver as `node` and the sender as `peer`.
                if let Some(sent) =
                    pending.get_mut(&(peer, node, kind.clone())).and_then(VecDeque::pop_front)
                {
                    marks.push(Mark::Message {
                        from: peer,
                        to: node,
                        sent_us: sent,
                        delivered_us: Some(t),
                        kind,
                    });
                }
            }
            "drop" => {
                let at_send = previous.is_some_and(|p| {
                    p.name() == "send"
                        && p.u64_field("t_us") == Some(t)
                        && p.u64_field("node") == Some(node)
                        && p.u64_field("peer") == Some(peer)
                        && p.field("kind") == r.field("kind")
                });
                let queue = pending.get_mut(&(node, peer, kind.clone()));
                let sent = if at_send {
                    queue.and_then(VecDeque::pop_back)
                } else {
                    queue.and_then(VecDeque::pop_front)
                };
                let why = r.field("reason").unwrap_or("lost");
                marks.push(Mark::Message {
                    from: node,
                    to: peer,
                    sent_us: sent.unwrap_or(t),
                    delivered_us: None,
                    kind: format!("{kind} ({why})"),
                });
            }
            _ => {}
        }
        previous = Some(r);
    }
}

/// One fault mark for the crashes at one instant: a power loss when every member went
/// down at once, saying whether the disks had lied about their fsyncs.
fn crash_fault(crashes: &[&TraceRecord], nodes: u64) -> Mark {
    let at_us = crashes.first().and_then(|c| c.u64_field("t_us")).unwrap_or(0);
    let sum = |field: &str| crashes.iter().filter_map(|c| c.u64_field(field)).sum::<u64>();
    let (lost, acknowledged) = (sum("lost_ops"), sum("acknowledged_lost"));
    let lost = if acknowledged > 0 {
        format!(
            "fsync lied: {acknowledged} write(s) the disks had acknowledged as durable are gone"
        )
    } else {
        format!("{lost} unsynced write(s) lost")
    };
    if crashes.len() as u64 == nodes && nodes > 1 {
        let what = format!("power loss, every node crashes; {lost}");
        return Mark::Fault { at_us, node: None, what };
    }
    let names: Vec<String> =
        crashes.iter().map(|c| format!("node {}", c.field("node").unwrap_or("?"))).collect();
    let node = if crashes.len() == 1 { crashes[0].u64_field("node") } else { None };
    let what = format!("{} crashed; {lost}", names.join(", "));
    Mark::Fault { at_us, node, what }
}

/// The time line of one run over members `1..=nodes`.
pub fn timeline(
    records: &[TraceRecord],
    ops: &[OpRecord],
    nodes: u64,
    title: String,
    subtitle: String,
) -> Timeline {
    let mut marks = Vec::new();
    let mut end_us = 0;
    let mut down_since: BTreeMap<u64, u64> = BTreeMap::new();
    // Crashes at one instant are gathered: every member at once is one power loss.
    let mut crashes: Vec<&TraceRecord> = Vec::new();
    for r in records {
        let Some(t) = r.u64_field("t_us") else { continue };
        if crashes.first().is_some_and(|c| c.u64_field("t_us") != Some(t)) {
            marks.push(crash_fault(&crashes, nodes));
            crashes.clear();
        }
        end_us = end_us.max(t);
        let node = r.u64_field("node");
        let fault = |what: String, node: Option<u64>| Mark::Fault { at_us: t, node, what };
        match r.name() {
            "role_change" => marks.push(Mark::Role {
                node: node.unwrap_or(0),
                at_us: t,
                role: r.field("role").unwrap_or("").to_string(),
                term: r.u64_field("term").unwrap_or(0),
            }),
            "crash" => {
                let n = node.unwrap_or(0);
                down_since.insert(n, t);
                crashes.push(r);
            }
            "restart" => {
                let n = node.unwrap_or(0);
                if let Some(from_us) = down_since.remove(&n) {
                    marks.push(Mark::Down { node: n, from_us, until_us: Some(t) });
                }
                // The restarted member begins again as a follower.
                marks.push(Mark::Role { node: n, at_us: t, role: "Follower".into(), term: 0 });
            }
            "partition" => marks.push(fault(
                format!("partition: {}", r.field("shape").unwrap_or("links cut")),
                None,
            )),
            "heal" => marks.push(fault("network healed".into(), None)),
            "network_rates" => marks.push(fault(
                format!(
                    "network: drop {} duplicate {} reorder {}",
                    r.field("drop_rate").unwrap_or("?"),
                    r.field("duplicate_rate").unwrap_or("?"),
                    r.field("reorder_rate").unwrap_or("?")
                ),
                None,
            )),
            "clock_skew" => marks.push(fault(
                format!(
                    "clock runs at {:.3}x",
                    r.u64_field("rate_permille").unwrap_or(1000) as f64 / 1000.0
                ),
                node,
            )),
            "clock_jump" => marks.push(fault(
                format!("clock jumps {} ticks", r.field("ticks").unwrap_or("?")),
                node,
            )),
            "transfer_leader" => marks.push(fault(
                format!("leadership handed to node {}", r.field("peer").unwrap_or("?")),
                node,
            )),
            "client_pause" => marks.push(fault(
                format!(
                    "client {} paused for {:.3}s",
                    r.field("client").unwrap_or("?"),
                    r.u64_field("duration_us").unwrap_or(0) as f64 / 1e6
                ),
                None,
            )),
            "faults_cancelled" => {
                marks.push(fault("faults end: the liveness phase begins".into(), None))
            }
            "violation" => marks.push(Mark::Violation {
                at_us: t,
                node: node.unwrap_or(0),
                what: r.field("violation").unwrap_or("").to_string(),
            }),
            _ => {}
        }
    }
    if !crashes.is_empty() {
        marks.push(crash_fault(&crashes, nodes));
    }
    for (node, from_us) in down_since {
        marks.push(Mark::Down { node, from_us, until_us: None });
    }
    messages(records, &mut marks);
    let mut clients: Vec<u64> = ops.iter().map(|o| o.client).collect();
    clients.sort_unstable();
    clients.dedup();
    for o in ops {
        end_us = end_us.max(o.complete_us);
        marks.push(Mark::Op {
            client: o.client,
            node: o.node,
            invoke_us: o.invoke_us,
            complete_us: o.complete_us,
            label: o.kind.describe(),
            outcome: o.outcome.label().to_string(),
        });
    }
    Timeline { title, subtitle, nodes: (1..=nodes).collect(), clients, end_us, marks }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(name: &str, fields: &[(&str, &str)]) -> TraceRecord {
        TraceRecord::sim_event(name, fields)
    }

    #[test]
    fn pairs_sends_with_deliveries_and_drops() {
        let records = vec![
            rec("send", &[("t_us", "10"), ("node", "1"), ("peer", "2"), ("kind", "vote")]),
            rec("send", &[("t_us", "20"), ("node", "1"), ("peer", "3"), ("kind", "vote")]),
            rec("drop", &[("t_us", "20"), ("node", "1"), ("peer", "3"), ("kind", "vote")]),
            rec("deliver", &[("t_us", "30"), ("node", "2"), ("peer", "1"), ("kind", "vote")]),
            rec("crash", &[("t_us", "40"), ("node", "3")]),
            rec("role_change", &[("t_us", "50"), ("node", "1"), ("role", "Leader"), ("term", "2")]),
        ];
        let t = timeline(&records, &[], 3, "t".into(), "s".into());
        assert!(t.marks.contains(&Mark::Message {
            from: 1,
            to: 2,
            sent_us: 10,
            delivered_us: Some(30),
            kind: "vote".into()
        }));
        assert!(t.marks.iter().any(|m| matches!(
            m,
            Mark::Message { from: 1, to: 3, sent_us: 20, delivered_us: None, .. }
        )));
        assert!(t.marks.contains(&Mark::Down { node: 3, from_us: 40, until_us: None }));
        assert!(t.marks.iter().any(|m| matches!(m, Mark::Role { node: 1, term: 2, .. })));
        assert_eq!(t.end_us, 50);
    }

    #[test]
    fn a_power_loss_is_one_fault_that_says_fsync_lied() {
        let crash = |t: &str, n: &str, acked: &str| {
            rec(
                "crash",
                &[("t_us", t), ("node", n), ("lost_ops", "2"), ("acknowledged_lost", acked)],
            )
        };
        let records = vec![
            crash("100", "1", "2"),
            crash("100", "2", "2"),
            crash("100", "3", "2"),
            crash("500", "2", "0"),
            rec("violation", &[("t_us", "600"), ("node", "3"), ("violation", "lost it")]),
        ];
        let t = timeline(&records, &[], 3, "t".into(), "s".into());
        let faults: Vec<&Mark> =
            t.marks.iter().filter(|m| matches!(m, Mark::Fault { .. })).collect();
        assert_eq!(faults.len(), 2, "{faults:?}");
        assert_eq!(
            faults[0],
            &Mark::Fault {
                at_us: 100,
                node: None,
                what: "power loss, every node crashes; fsync lied: 6 write(s) the disks had acknowledged as durable are gone".into()
            }
        );
        assert_eq!(
            faults[1],
            &Mark::Fault {
                at_us: 500,
                node: Some(2),
                what: "node 2 crashed; 2 unsynced write(s) lost".into()
            }
        );
        assert!(t.marks.contains(&Mark::Violation { at_us: 600, node: 3, what: "lost it".into() }));
    }
}
