//! From a run's typed events and client operations to the marks of its time line:
//! role bands from role changes, arrows from paired send/deliver events, lost messages
//! from drops, down intervals from crashes and restarts, faults (client pauses too), and
//! client operations.

use super::timeline::{Mark, Timeline};
use crate::workload::OpRecord;
use detcd_sim::{SimEvent, Stamped};
use std::collections::{BTreeMap, VecDeque};

/// A message in flight: who sent what, waiting for its delivery or drop.
type LinkKey = (u64, u64, &'static str);

/// Pairs sends with deliveries and drops. Messages on one link of one kind are matched
/// first in, first out; a reordered message can therefore be drawn against its
/// neighbour's send time, which moves an arrow's tail by at most one message gap.
fn messages(events: &[Stamped], marks: &mut Vec<Mark>) {
    let mut pending: BTreeMap<LinkKey, VecDeque<u64>> = BTreeMap::new();
    for e in events {
        let t = e.at_us;
        match &e.event {
            // A duplicate's copy is a second delivery of the send just recorded.
            SimEvent::Send { msg } | SimEvent::Duplicate { msg, .. } => {
                pending.entry((msg.from, msg.to, msg.kind)).or_default().push_back(t)
            }
            SimEvent::Deliver { msg } => {
                if let Some(sent) =
                    pending.get_mut(&(msg.from, msg.to, msg.kind)).and_then(VecDeque::pop_front)
                {
                    marks.push(Mark::Message {
                        from: msg.from,
                        to: msg.to,
                        sent_us: sent,
                        delivered_us: Some(t),
                        kind: msg.kind.to_string(),
                    });
                }
            }
            SimEvent::Drop { msg, reason } => {
                let queue = pending.get_mut(&(msg.from, msg.to, msg.kind));
                // Dropped at the sender: the send just recorded; in flight: the oldest.
                let sent = if reason.at_send() {
                    queue.and_then(VecDeque::pop_back)
                } else {
                    queue.and_then(VecDeque::pop_front)
                };
                marks.push(Mark::Message {
                    from: msg.from,
                    to: msg.to,
                    sent_us: sent.unwrap_or(t),
                    delivered_us: None,
                    kind: format!("{} ({})", msg.kind, reason.word()),
                });
            }
            _ => {}
        }
    }
}

/// A crash as the time line needs it: when, which member, writes lost, and how many of
/// those the disk had acknowledged as durable (a lying fsync).
struct Crashed {
    at_us: u64,
    node: u64,
    lost: usize,
    acknowledged_lost: usize,
}

/// One fault mark for the crashes at one instant: a power loss when every member went
/// down at once, saying whether the disks had lied about their fsyncs.
fn crash_fault(crashes: &[Crashed], nodes: u64) -> Mark {
    let at_us = crashes.first().map_or(0, |c| c.at_us);
    let lost: usize = crashes.iter().map(|c| c.lost).sum();
    let acknowledged: usize = crashes.iter().map(|c| c.acknowledged_lost).sum();
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
    let names: Vec<String> = crashes.iter().map(|c| format!("node {}", c.node)).collect();
    let node = if crashes.len() == 1 { Some(crashes[0].node) } else { None };
    let what = format!("{} crashed; {lost}", names.join(", "));
    Mark::Fault { at_us, node, what }
}

/// The time line of one run over members `1..=nodes`.
pub fn timeline(
    events: &[Stamped],
    ops: &[OpRecord],
    nodes: u64,
    title: String,
    subtitle: String,
) -> Timeline {
    let mut marks = Vec::new();
    let mut end_us = 0;
    let mut down_since: BTreeMap<u64, u64> = BTreeMap::new();
    // Members in a joint configuration: since when, and which.
    let mut joint_since: BTreeMap<u64, (u64, String)> = BTreeMap::new();
    // Crashes at one instant are gathered: every member at once is one power loss.
    let mut crashes: Vec<Crashed> = Vec::new();
    for e in events {
        let t = e.at_us;
        if crashes.first().is_some_and(|c| c.at_us != t) {
            marks.push(crash_fault(&crashes, nodes));
            crashes.clear();
        }
        end_us = end_us.max(t);
        let fault = |what: String, node: Option<u64>| Mark::Fault { at_us: t, node, what };
        match &e.event {
            SimEvent::RoleChange { node, role, term, .. } => marks.push(Mark::Role {
                node: *node,
                at_us: t,
                role: format!("{role:?}"),
                term: *term,
            }),
            SimEvent::Crash { node, lost_ops, acknowledged_lost, .. } => {
                down_since.insert(*node, t);
                crashes.push(Crashed {
                    at_us: t,
                    node: *node,
                    lost: *lost_ops,
                    acknowledged_lost: *acknowledged_lost,
                });
            }
            SimEvent::Restart { node } => {
                if let Some(from_us) = down_since.remove(node) {
                    marks.push(Mark::Down { node: *node, from_us, until_us: Some(t) });
                }
                // The restarted member begins again as a follower.
                marks.push(Mark::Role { node: *node, at_us: t, role: "Follower".into(), term: 0 });
            }
            SimEvent::Partition { shape, .. } => {
                marks.push(fault(format!("partition: {shape}"), None))
            }
            SimEvent::Heal => marks.push(fault("network healed".into(), None)),
            SimEvent::NetworkRates { drop_rate, duplicate_rate, reorder_rate } => {
                marks.push(fault(
                    format!(
                    "network: drop {drop_rate} duplicate {duplicate_rate} reorder {reorder_rate}"
                ),
                    None,
                ))
            }
            SimEvent::ClockSkew { node, rate_permille } => marks.push(fault(
                format!("clock runs at {:.3}x", f64::from(*rate_permille) / 1000.0),
                Some(*node),
            )),
            SimEvent::ClockJump { node, ticks } => {
                marks.push(fault(format!("clock jumps {ticks} ticks"), Some(*node)))
            }
            SimEvent::TransferLeader { leader, to, .. } => {
                marks.push(fault(format!("leadership handed to node {to}"), Some(*leader)))
            }
            SimEvent::Membership { leader, change, refused } => {
                let what = match refused {
                    None => format!("membership: {change}"),
                    Some(why) => format!("membership: {change} refused ({why})"),
                };
                marks.push(fault(what, (*leader != 0).then_some(*leader)))
            }
            SimEvent::ClientPause { client, duration_us } => marks.push(fault(
                format!("client {client} paused for {:.3}s", *duration_us as f64 / 1e6),
                None,
            )),
            SimEvent::FaultsCancelled { .. } => {
                marks.push(fault("faults end: the liveness phase begins".into(), None))
            }
            SimEvent::Violation(v) => {
                marks.push(Mark::Violation { at_us: t, node: v.node, what: v.to_string() })
            }
            SimEvent::ConfChange { node, conf, joint } => {
                // A member's joint phase ends at its next configuration, whatever it is.
                if let Some((from_us, conf)) = joint_since.remove(node) {
                    marks.push(Mark::Joint { node: *node, from_us, until_us: Some(t), conf });
                }
                if *joint {
                    joint_since.insert(*node, (t, conf.clone()));
                }
            }
            _ => {}
        }
    }
    if !crashes.is_empty() {
        marks.push(crash_fault(&crashes, nodes));
    }
    for (node, from_us) in down_since {
        marks.push(Mark::Down { node, from_us, until_us: None });
    }
    for (node, (from_us, conf)) in joint_since {
        marks.push(Mark::Joint { node, from_us, until_us: None, conf });
    }
    messages(events, &mut marks);
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
    use detcd_core::raft::{Role, RoleReason};
    use detcd_sim::{DropReason, MsgHead};

    fn at(t: u64, event: SimEvent) -> Stamped {
        Stamped { at_us: t, event }
    }

    #[test]
    fn pairs_sends_with_deliveries_and_drops() {
        let vote = |from, to| MsgHead::new(from, to, 2, "vote", None);
        let events = vec![
            at(10, SimEvent::Send { msg: vote(1, 2) }),
            at(20, SimEvent::Send { msg: vote(1, 3) }),
            at(20, SimEvent::Drop { msg: vote(1, 3), reason: DropReason::CutAtSend }),
            at(30, SimEvent::Deliver { msg: vote(1, 2) }),
            at(
                40,
                SimEvent::Crash {
                    node: 3,
                    lost_ops: 0,
                    acknowledged_lost: 0,
                    survived_ops: 0,
                    torn_entries: 0,
                },
            ),
            at(
                50,
                SimEvent::RoleChange {
                    node: 1,
                    role: Role::Leader,
                    term: 2,
                    leader: Some(1),
                    reason: RoleReason::ElectionWon,
                },
            ),
        ];
        let t = timeline(&events, &[], 3, "t".into(), "s".into());
        assert!(t.marks.contains(&Mark::Message {
            from: 1,
            to: 2,
            sent_us: 10,
            delivered_us: Some(30),
            kind: "vote".into()
        }));
        assert!(t.marks.contains(&Mark::Message {
            from: 1,
            to: 3,
            sent_us: 20,
            delivered_us: None,
            kind: "vote (partitioned)".into()
        }));
        assert!(t.marks.contains(&Mark::Down { node: 3, from_us: 40, until_us: None }));
        assert!(t.marks.iter().any(|m| matches!(m, Mark::Role { node: 1, term: 2, .. })));
        assert_eq!(t.end_us, 50);
    }

    #[test]
    fn an_in_flight_drop_pairs_with_the_oldest_send() {
        let append = MsgHead::new(1, 2, 1, "append", None);
        let events = vec![
            at(10, SimEvent::Send { msg: append }),
            at(15, SimEvent::Send { msg: append }),
            at(30, SimEvent::Drop { msg: append, reason: DropReason::ReceiverDown }),
            at(31, SimEvent::Deliver { msg: append }),
        ];
        let t = timeline(&events, &[], 2, "t".into(), "s".into());
        let arrows: Vec<(u64, Option<u64>)> = t
            .marks
            .iter()
            .filter_map(|m| match m {
                Mark::Message { sent_us, delivered_us, .. } => Some((*sent_us, *delivered_us)),
                _ => None,
            })
            .collect();
        assert_eq!(arrows, [(10, None), (15, Some(31))]);
    }

    #[test]
    fn a_power_loss_is_one_fault_that_says_fsync_lied() {
        let crash = |node, acknowledged_lost| SimEvent::Crash {
            node,
            lost_ops: 2,
            acknowledged_lost,
            survived_ops: 0,
            torn_entries: 0,
        };
        let violation = detcd_sim::Violation {
            at_us: 600,
            node: 3,
            kind: detcd_sim::ViolationKind::CommitRegressed { from: 5, to: 4 },
            lost_entry: None,
        };
        let events = vec![
            at(100, crash(1, 2)),
            at(100, crash(2, 2)),
            at(100, crash(3, 2)),
            at(500, crash(2, 0)),
            at(600, SimEvent::Violation(violation.clone())),
        ];
        let t = timeline(&events, &[], 3, "t".into(), "s".into());
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
        assert!(t.marks.contains(&Mark::Violation {
            at_us: 600,
            node: 3,
            what: violation.to_string()
        }));
    }

    /// Thesis §4.3: each member's joint phase is one band, from the joint configuration
    /// to the next one; a member still joint at the end has an open band.
    #[test]
    fn a_joint_phase_is_a_band_per_member() {
        let conf =
            |node, conf: &str, joint| SimEvent::ConfChange { node, conf: conf.into(), joint };
        let j = "voters=(1 2 4)&&(1 2 3)";
        let events = vec![
            at(100, conf(1, j, true)),
            at(150, conf(2, j, true)),
            at(300, conf(1, "voters=(1 2 4)", false)),
            at(400, conf(3, "voters=(1 2 3) learners=(4)", false)),
        ];
        let t = timeline(&events, &[], 4, "t".into(), "s".into());
        let joints: Vec<&Mark> =
            t.marks.iter().filter(|m| matches!(m, Mark::Joint { .. })).collect();
        assert_eq!(
            joints,
            [
                &Mark::Joint { node: 1, from_us: 100, until_us: Some(300), conf: j.into() },
                &Mark::Joint { node: 2, from_us: 150, until_us: None, conf: j.into() },
            ]
        );
    }
}
