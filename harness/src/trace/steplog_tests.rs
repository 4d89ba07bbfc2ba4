//! Tests of the step log over hand-made typed events.

use super::*;
use crate::workload::{OpKind, OpOutcome, OpRecord};
use detcd_core::raft::RoleReason;
use detcd_sim::MsgHead;

fn at(t: u64, event: SimEvent) -> Stamped {
    Stamped { at_us: t, event }
}

fn role(t: u64, node: u64, role: Role, term: u64) -> Stamped {
    let reason = match role {
        Role::Leader => RoleReason::ElectionWon,
        _ => RoleReason::ElectionTimeout,
    };
    at(t, SimEvent::RoleChange { node, role, term, leader: None, reason })
}

fn commit(t: u64, node: u64, index: u64, term: u64) -> Stamped {
    at(t, SimEvent::Commit { node, index, term })
}

fn all() -> StepLogOptions {
    StepLogOptions::default()
}

#[test]
fn lines_are_stamped_and_readable() {
    let events = vec![
        role(1_234_567, 2, Role::Leader, 3),
        at(1_300_000, SimEvent::Heal),
        at(
            2_000_000,
            SimEvent::Crash {
                node: 1,
                lost_ops: 2,
                acknowledged_lost: 0,
                survived_ops: 5,
                torn_entries: 0,
            },
        ),
        at(2_000_000, SimEvent::Send { msg: MsgHead::new(1, 2, 4, "vote", None) }),
        role(2_000_000, 1, Role::Candidate, 4),
    ];
    let lines = step_log(&events, &[], &all());
    assert_eq!(lines.len(), 5, "{lines:?}");
    assert_eq!(lines[0], "   1.234567s n2   became leader of term 3 — election won");
    assert!(lines[2].contains("CRASHED: 2 unsynced write(s) lost"), "{lines:?}");
    assert!(
        lines[3].ends_with("became candidate in term 4: asks for votes — election timeout"),
        "{lines:?}"
    );
    assert!(lines[4].ends_with("asks n2 for its vote in term 4"), "{lines:?}");
}

#[test]
fn every_leader_commit_advance_is_shown_and_no_follower_commit() {
    let events = vec![
        commit(100, 1, 1, 1),
        role(1000, 2, Role::Leader, 2),
        commit(2000, 2, 3, 2),
        commit(2100, 1, 3, 2),
        commit(2200, 2, 4, 2),
        at(
            120_000,
            SimEvent::Crash {
                node: 2,
                lost_ops: 0,
                acknowledged_lost: 0,
                survived_ops: 0,
                torn_entries: 0,
            },
        ),
        commit(130_000, 2, 7, 2),
        role(140_000, 3, Role::Leader, 3),
        commit(141_000, 3, 8, 3),
    ];
    let lines: Vec<String> =
        step_log(&events, &[], &all()).into_iter().filter(|l| l.contains("committed")).collect();
    assert_eq!(
        lines,
        [
            "   0.002000s n2   committed up to index 3 (term 2)",
            "   0.002200s n2   committed up to index 4 (term 2)",
            "   0.141000s n3   committed up to index 8 (term 3)",
        ]
    );
}

#[test]
fn vote_answers_say_granted_or_rejected() {
    let answer = |kind: &'static str, detail: Option<&'static str>| {
        at(10, SimEvent::Deliver { msg: MsgHead::new(3, 1, 2, kind, detail) })
    };
    let events = vec![
        answer("vote_response", Some("granted")),
        answer("vote_response", Some("rejected")),
        answer("pre_vote_response", Some("granted")),
        answer("pre_vote_response", Some("rejected")),
        answer("vote_response", None),
        answer("append_response", Some("ok")),
    ];
    let lines = step_log(&events, &[], &all());
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

fn op(client: u64, node: u64, t: u64, outcome: OpOutcome) -> OpRecord {
    let kind = OpKind::Get { key: "k1".into() };
    OpRecord { client, node, incarnation: 0, kind, invoke_us: t, complete_us: t + 10, outcome }
}

#[test]
fn a_run_of_refusals_collapses_into_one_line_with_a_count() {
    let ops = vec![
        op(1, 2, 100, OpOutcome::Refused),
        op(3, 2, 150, OpOutcome::Refused),
        op(1, 3, 200, OpOutcome::Refused),
        op(1, 2, 300, OpOutcome::Refused),
        op(1, 2, 400, OpOutcome::Unknown(None)),
        op(1, 2, 500, OpOutcome::Refused),
    ];
    let lines = step_log(&[], &ops, &all());
    assert_eq!(lines.len(), 4, "{lines:?}");
    assert!(
        lines[0].contains("c1 ") && lines[0].ends_with("and 2 more like it, the last at 0.000310s")
    );
    assert!(lines[1].contains("c3 ") && !lines[1].contains("more like it"), "{lines:?}");
    assert!(lines[2].contains(": unknown outcome"), "{lines:?}");
    assert!(!lines[3].contains("more like it"), "{lines:?}");
}

#[test]
fn only_keeps_the_chosen_topics_and_always_violations() {
    let events = vec![
        role(10, 1, Role::Leader, 1),
        commit(20, 1, 1, 1),
        at(30, SimEvent::Heal),
        at(40, SimEvent::ClientNote { client: 2, text: "takes the lock".into() }),
    ];
    let ops = vec![op(1, 1, 50, OpOutcome::Unknown(None))];
    let only = |topics: &[Topic]| StepLogOptions { only: Some(topics.iter().copied().collect()) };
    let count = |o: &StepLogOptions| step_log(&events, &ops, o).len();
    assert_eq!(count(&all()), 5);
    assert_eq!(count(&only(&[Topic::Elections])), 1);
    assert_eq!(count(&only(&[Topic::Commits])), 1);
    assert_eq!(count(&only(&[Topic::Faults])), 1);
    assert_eq!(count(&only(&[Topic::Clients])), 2);
    assert_eq!(count(&only(&[Topic::Elections, Topic::Faults])), 2);
}

#[test]
fn topics_parse_and_unknown_ones_are_named() {
    assert_eq!("commits".parse::<Topic>(), Ok(Topic::Commits));
    let err = "votes".parse::<Topic>().unwrap_err().to_string();
    assert!(
        err.contains("\"votes\"") && err.contains("elections, faults, commits, clients"),
        "{err}"
    );
}

/// Thesis §4.3: a member entering the joint configuration and leaving it reads as two
/// steps; a change seen without a joint phase (a snapshot) is just the new one.
#[test]
fn the_joint_phase_is_entered_then_left() {
    let conf =
        |t, node, conf: &str, joint| at(t, SimEvent::ConfChange { node, conf: conf.into(), joint });
    let events = vec![
        conf(100, 1, "voters=(1 2 4)&&(1 2 3)", true),
        conf(200, 1, "voters=(1 2 4)", false),
        conf(300, 2, "voters=(1 2 4)", false),
    ];
    let lines = step_log(&events, &[], &all());
    assert_eq!(lines.len(), 3, "{lines:?}");
    assert!(
        lines[0].ends_with(
            "configuration now JOINT (C_new && C_old), both halves must agree: voters=(1 2 4)&&(1 2 3)"
        ),
        "{lines:?}"
    );
    assert!(lines[1].ends_with("left the joint configuration: now voters=(1 2 4)"), "{lines:?}");
    assert!(lines[2].ends_with("configuration now voters=(1 2 4)"), "{lines:?}");
}
