//! Unit tests of single nodes, one per property of the Raft paper (and thesis), named
//! after the section they check. Each drives one node with hand-made messages and
//! asserts the exact outputs of the step.

use bytes::Bytes;
use detcd_core::raft::{Config, Message, MessageBody, ProposeError, RaftNode, RaftOutput, Role};
use detcd_core::types::{
    ConfState, DurableState, Entry, EntryKind, HardState, PersistOp, Snapshot, SnapshotMeta,
};

fn cfg(id: u64, n: u64) -> Config {
    let mut c = Config::new(id, (1..=n).collect(), id);
    c.pre_vote = false;
    c.check_quorum = false;
    c.election_ticks = 10;
    c.heartbeat_ticks = 1;
    c
}

fn drain(n: &mut RaftNode) -> Vec<RaftOutput> {
    let mut out = Vec::new();
    n.drain(&mut out);
    out
}

fn msg(from: u64, to: u64, term: u64, body: MessageBody) -> Message {
    Message { from, to, term, body }
}

fn send(from: u64, to: u64, term: u64, body: MessageBody, after: Option<u64>) -> RaftOutput {
    RaftOutput::Send { msg: msg(from, to, term, body), after }
}

fn ent(term: u64, index: u64) -> Entry {
    Entry { term, index, kind: EntryKind::Normal, data: Bytes::from(vec![index as u8]) }
}

fn noop(term: u64, index: u64) -> Entry {
    Entry { term, index, kind: EntryKind::Noop, data: Bytes::new() }
}

fn sends(out: &[RaftOutput]) -> Vec<Message> {
    out.iter()
        .filter_map(|o| match o {
            RaftOutput::Send { msg, .. } => Some(msg.clone()),
            _ => None,
        })
        .collect()
}

fn persist_syncs(out: &[RaftOutput]) -> Vec<u64> {
    out.iter()
        .filter_map(|o| match o {
            RaftOutput::Persist(op) => Some(op.sync),
            _ => None,
        })
        .collect()
}

fn ack_all(n: &mut RaftNode, out: &[RaftOutput]) {
    if let Some(&s) = persist_syncs(out).last() {
        n.persisted(s);
    }
}

/// Node 1 of `n`, leader of term 1 with its Noop at index 1 durable.
fn leader(n: u64) -> RaftNode {
    let mut l = RaftNode::new(cfg(1, n), DurableState::default());
    l.campaign();
    let out = drain(&mut l);
    ack_all(&mut l, &out);
    l.step(msg(2, 1, 1, MessageBody::VoteResponse { reject: false }));
    let out = drain(&mut l);
    ack_all(&mut l, &out);
    assert_eq!(l.status().role, Role::Leader);
    drain(&mut l);
    l
}

/// Node `id` of 3 as a follower of leader 1 in `term` holding `entries`.
fn follower_with(id: u64, term: u64, entries: Vec<Entry>) -> RaftNode {
    let durable = DurableState {
        hard_state: HardState { term, vote: None, commit: 0 },
        snapshot: None,
        entries,
    };
    let mut f = RaftNode::new(cfg(id, 3), durable);
    drain(&mut f);
    f
}

/// Reference: Raft paper §5.1.
#[test]
fn s5_1_higher_term_turns_leader_into_follower() {
    let mut l = leader(3);
    l.step(msg(2, 1, 5, MessageBody::Heartbeat { commit: 0, ctx: 0 }));
    let out = drain(&mut l);
    assert_eq!(
        out,
        vec![
            send(1, 2, 5, MessageBody::HeartbeatResponse { ctx: 0 }, None),
            RaftOutput::RoleChanged { role: Role::Follower, term: 5, leader: Some(2) },
            RaftOutput::Persist(PersistOp {
                sync: 3,
                hard_state: Some(HardState { term: 5, vote: None, commit: 0 }),
                snapshot: None,
                entries: vec![],
            }),
        ]
    );
}

/// Reference: Raft paper §5.1.
#[test]
fn s5_1_stale_term_messages_are_ignored() {
    let mut f = follower_with(2, 3, vec![]);
    f.step(msg(
        1,
        2,
        2,
        MessageBody::Append { prev_index: 0, prev_term: 0, entries: vec![ent(2, 1)], commit: 1 },
    ));
    assert_eq!(drain(&mut f), vec![]);
    assert_eq!(f.status().last_index, 0);
    assert_eq!(f.status().term, 3);
}

/// Reference: Raft paper §5.2.
#[test]
fn s5_2_follower_times_out_and_campaigns() {
    let mut f = RaftNode::new(cfg(2, 3), DurableState::default());
    drain(&mut f);
    let mut ticks = 0;
    while f.status().role == Role::Follower {
        f.tick();
        ticks += 1;
        assert!(ticks < 20, "no election within 2 * election_ticks");
    }
    assert!(ticks >= 10, "timed out after {ticks} ticks, before election_ticks");
    let out = drain(&mut f);
    let vote = MessageBody::Vote { last_index: 0, last_term: 0, transfer: false };
    assert_eq!(
        out,
        vec![
            RaftOutput::Persist(PersistOp {
                sync: 1,
                hard_state: Some(HardState { term: 1, vote: Some(2), commit: 0 }),
                snapshot: None,
                entries: vec![],
            }),
            send(2, 1, 1, vote.clone(), None),
            send(2, 3, 1, vote, None),
            RaftOutput::RoleChanged { role: Role::Candidate, term: 1, leader: None },
        ]
    );
}

/// Reference: Raft paper §5.2.
#[test]
fn s5_2_election_timeouts_are_randomized_per_seed() {
    let mut seen = std::collections::BTreeSet::new();
    for seed in 0..32 {
        let mut c = cfg(1, 3);
        c.seed = seed;
        let mut f = RaftNode::new(c, DurableState::default());
        let mut ticks = 0;
        while f.status().role == Role::Follower {
            f.tick();
            ticks += 1;
        }
        assert!((10..20).contains(&ticks), "timeout {ticks} outside [10, 20)");
        seen.insert(ticks);
    }
    assert!(seen.len() > 3, "timeouts barely vary: {seen:?}");
}

/// Reference: Raft paper §5.2.
#[test]
fn s5_2_candidate_wins_with_majority_and_appends_noop() {
    let mut c = RaftNode::new(cfg(1, 3), DurableState::default());
    c.campaign();
    drain(&mut c);
    c.step(msg(2, 1, 1, MessageBody::VoteResponse { reject: true }));
    assert_eq!(c.status().role, Role::Candidate);
    c.step(msg(3, 1, 1, MessageBody::VoteResponse { reject: false }));
    assert_eq!(c.status().role, Role::Candidate, "own vote not durable: one grant of three");
    c.persisted(1);
    assert_eq!(c.status().role, Role::Leader);
    assert_eq!(c.entry(1), Some(&noop(1, 1)));
    // Rejections from a majority send a candidate back to following.
    let mut d = RaftNode::new(cfg(1, 3), DurableState::default());
    d.campaign();
    d.step(msg(2, 1, 1, MessageBody::VoteResponse { reject: true }));
    d.step(msg(3, 1, 1, MessageBody::VoteResponse { reject: true }));
    assert_eq!(d.status().role, Role::Follower);
}

/// Reference: Raft paper §5.2.
#[test]
fn s5_2_own_vote_counts_only_once_durable() {
    let mut c = RaftNode::new(cfg(1, 5), DurableState::default());
    c.campaign();
    let out = drain(&mut c);
    c.step(msg(2, 1, 1, MessageBody::VoteResponse { reject: false }));
    c.step(msg(3, 1, 1, MessageBody::VoteResponse { reject: false }));
    assert_eq!(c.status().role, Role::Candidate, "2 grants + undurable self vote of 5");
    ack_all(&mut c, &out);
    assert_eq!(c.status().role, Role::Leader);
    let out = drain(&mut c);
    let append = |to| {
        send(
            1,
            to,
            1,
            MessageBody::Append {
                prev_index: 0,
                prev_term: 0,
                entries: vec![noop(1, 1)],
                commit: 0,
            },
            None,
        )
    };
    assert_eq!(
        out,
        vec![
            RaftOutput::RoleChanged { role: Role::Leader, term: 1, leader: Some(1) },
            append(2),
            append(3),
            append(4),
            append(5),
            RaftOutput::Persist(PersistOp {
                sync: 2,
                hard_state: None,
                snapshot: None,
                entries: vec![noop(1, 1)],
            }),
        ]
    );
}

/// Reference: Raft paper §5.2.
#[test]
fn s5_2_at_most_one_vote_per_term_and_grant_waits_for_disk() {
    let mut f = RaftNode::new(cfg(3, 3), DurableState::default());
    drain(&mut f);
    let vote = MessageBody::Vote { last_index: 0, last_term: 0, transfer: false };
    f.step(msg(1, 3, 1, vote.clone()));
    let out = drain(&mut f);
    assert_eq!(
        out,
        vec![
            RaftOutput::Persist(PersistOp {
                sync: 1,
                hard_state: Some(HardState { term: 1, vote: Some(1), commit: 0 }),
                snapshot: None,
                entries: vec![],
            }),
            send(3, 1, 1, MessageBody::VoteResponse { reject: false }, Some(1)),
            RaftOutput::RoleChanged { role: Role::Follower, term: 1, leader: None },
        ]
    );
    f.step(msg(2, 3, 1, vote.clone()));
    assert_eq!(
        drain(&mut f),
        vec![send(3, 2, 1, MessageBody::VoteResponse { reject: true }, Some(1))]
    );
    f.persisted(1);
    // The same candidate asking again gets the same answer (duplicated request).
    f.step(msg(1, 3, 1, vote));
    assert_eq!(
        drain(&mut f),
        vec![send(3, 1, 1, MessageBody::VoteResponse { reject: false }, None)]
    );
}

/// Reference: Raft paper §5.2.
#[test]
fn s5_2_candidate_returns_to_follower_on_append_from_leader() {
    let mut c = RaftNode::new(cfg(1, 3), DurableState::default());
    c.campaign();
    drain(&mut c);
    c.step(msg(2, 1, 1, MessageBody::Heartbeat { commit: 0, ctx: 0 }));
    assert_eq!(c.status().role, Role::Follower);
    assert_eq!(c.status().leader, Some(2));
}

/// Reference: Raft paper §5.4.1.
#[test]
fn s5_4_1_voter_denies_less_up_to_date_candidate() {
    let mut f = follower_with(3, 2, vec![ent(1, 1), ent(2, 2)]);
    f.step(msg(1, 3, 3, MessageBody::Vote { last_index: 5, last_term: 1, transfer: false }));
    let out = drain(&mut f);
    assert!(sends(&out).contains(&msg(3, 1, 3, MessageBody::VoteResponse { reject: true })));
    f.step(msg(2, 3, 3, MessageBody::Vote { last_index: 2, last_term: 2, transfer: false }));
    let out = drain(&mut f);
    assert!(sends(&out).contains(&msg(3, 2, 3, MessageBody::VoteResponse { reject: false })));
}

/// Reference: Raft paper §5.3.
#[test]
fn s5_3_follower_appends_and_acks_after_persisting() {
    let mut f = follower_with(2, 1, vec![]);
    let entries = vec![ent(1, 1), ent(1, 2)];
    f.step(msg(
        1,
        2,
        1,
        MessageBody::Append { prev_index: 0, prev_term: 0, entries: entries.clone(), commit: 1 },
    ));
    let out = drain(&mut f);
    assert_eq!(
        out,
        vec![
            RaftOutput::Persist(PersistOp {
                sync: 1,
                hard_state: Some(HardState { term: 1, vote: None, commit: 1 }),
                snapshot: None,
                entries,
            }),
            send(
                2,
                1,
                1,
                MessageBody::AppendResponse {
                    index: 2,
                    reject: false,
                    reject_hint: 0,
                    hint_term: 0
                },
                Some(1)
            ),
            RaftOutput::RoleChanged { role: Role::Follower, term: 1, leader: Some(1) },
        ]
    );
    // Committed entries are applied only once durable here.
    f.persisted(1);
    assert_eq!(drain(&mut f), vec![RaftOutput::Apply(vec![ent(1, 1)])]);
}

/// Reference: Raft paper §5.3.
#[test]
fn s5_3_follower_rejects_mismatch_with_backtracking_hint() {
    let mut f = follower_with(2, 3, vec![ent(1, 1), ent(1, 2), ent(2, 3), ent(2, 4)]);
    // The leader's log has term 3 at index 4 and beyond; it probes at 6.
    f.step(msg(
        1,
        2,
        3,
        MessageBody::Append { prev_index: 6, prev_term: 3, entries: vec![], commit: 0 },
    ));
    let out = drain(&mut f);
    assert_eq!(
        sends(&out),
        vec![msg(
            2,
            1,
            3,
            MessageBody::AppendResponse { index: 6, reject: true, reject_hint: 4, hint_term: 2 }
        )]
    );
    // Probing at (4, term 3): our last entry of term <= 3 at or below 4 is 4 (term 2).
    f.step(msg(
        1,
        2,
        3,
        MessageBody::Append { prev_index: 4, prev_term: 3, entries: vec![], commit: 0 },
    ));
    let out = drain(&mut f);
    assert_eq!(
        sends(&out),
        vec![msg(
            2,
            1,
            3,
            MessageBody::AppendResponse { index: 4, reject: true, reject_hint: 4, hint_term: 2 }
        )]
    );
    // Probing at (3, term 1): skip back over all of term 2.
    f.step(msg(
        1,
        2,
        3,
        MessageBody::Append { prev_index: 3, prev_term: 1, entries: vec![], commit: 0 },
    ));
    let out = drain(&mut f);
    assert_eq!(
        sends(&out),
        vec![msg(
            2,
            1,
            3,
            MessageBody::AppendResponse { index: 3, reject: true, reject_hint: 2, hint_term: 1 }
        )]
    );
}

/// Reference: Raft paper §5.3.
#[test]
fn s5_3_follower_truncates_conflicting_suffix() {
    let mut f = follower_with(2, 3, vec![ent(1, 1), ent(2, 2), ent(2, 3)]);
    let new = vec![ent(3, 2)];
    f.step(msg(
        1,
        2,
        3,
        MessageBody::Append { prev_index: 1, prev_term: 1, entries: new.clone(), commit: 0 },
    ));
    let out = drain(&mut f);
    assert_eq!(f.status().last_index, 2);
    assert_eq!(f.entry(2), Some(&ent(3, 2)));
    assert_eq!(
        out[0],
        RaftOutput::Persist(PersistOp { sync: 1, hard_state: None, snapshot: None, entries: new })
    );
}

/// Reference: Raft paper §5.3.
#[test]
fn s5_3_leader_commits_once_majority_and_own_disk_hold_entry() {
    let mut l = leader(3);
    l.propose(Bytes::from_static(b"x")).expect("leader");
    let out = drain(&mut l);
    let syncs = persist_syncs(&out);
    l.step(msg(
        2,
        1,
        1,
        MessageBody::AppendResponse { index: 2, reject: false, reject_hint: 0, hint_term: 0 },
    ));
    assert_eq!(l.status().commit, 1, "own copy of 2 not durable yet");
    l.persisted(*syncs.last().expect("persist"));
    assert_eq!(l.status().commit, 2);
    let out = drain(&mut l);
    // The new commit index goes out to the follower in replicate state (3 is still
    // probing, its first append unanswered: it learns it from heartbeats), and the
    // entries are applied.
    let appends: Vec<_> = sends(&out)
        .into_iter()
        .filter(|m| matches!(m.body, MessageBody::Append { commit: 2, .. }))
        .map(|m| m.to)
        .collect();
    assert_eq!(appends, vec![2]);
    assert!(out.contains(&RaftOutput::Apply(vec![
        noop(1, 1),
        Entry { term: 1, index: 2, kind: EntryKind::Normal, data: Bytes::from_static(b"x") }
    ])));
}

/// Reference: Raft paper §5.4.2.
#[test]
fn s5_4_2_leader_never_commits_old_term_entries_by_counting_replicas() {
    // Figure 8: node 1 leads term 3 with an entry of term 2 at index 2 from before.
    let durable = DurableState {
        hard_state: HardState { term: 2, vote: Some(1), commit: 1 },
        snapshot: None,
        entries: vec![ent(1, 1), ent(2, 2)],
    };
    let mut l = RaftNode::new(cfg(1, 5), durable);
    l.campaign();
    let out = drain(&mut l);
    ack_all(&mut l, &out);
    for v in [2, 3] {
        l.step(msg(v, 1, 3, MessageBody::VoteResponse { reject: false }));
    }
    assert_eq!(l.status().role, Role::Leader);
    assert_eq!(l.status().last_index, 3, "noop of term 3 appended");
    // A majority holds index 2 (term 2): still not committed.
    for v in [2, 3] {
        l.step(msg(
            v,
            1,
            3,
            MessageBody::AppendResponse { index: 2, reject: false, reject_hint: 0, hint_term: 0 },
        ));
    }
    let out = drain(&mut l);
    ack_all(&mut l, &out);
    assert_eq!(l.status().commit, 1);
    // Once the term-3 noop is on a majority, both commit.
    for v in [2, 3] {
        l.step(msg(
            v,
            1,
            3,
            MessageBody::AppendResponse { index: 3, reject: false, reject_hint: 0, hint_term: 0 },
        ));
    }
    assert_eq!(l.status().commit, 3);
}

/// Reference: Raft thesis §9.6.
#[test]
fn s9_6_prevote_changes_no_term_and_respects_leader_lease() {
    let mut c = cfg(2, 3);
    c.pre_vote = true;
    c.check_quorum = true;
    let mut f = RaftNode::new(c, DurableState::default());
    drain(&mut f);
    f.step(msg(3, 2, 1, MessageBody::PreVote { last_index: 0, last_term: 0 }));
    assert_eq!(
        drain(&mut f),
        vec![send(2, 3, 1, MessageBody::PreVoteResponse { reject: false }, None)]
    );
    assert_eq!(f.status().term, 0, "a pre-vote changes no state");
    // Hearing from a leader: pre-votes and votes that would disturb it are ignored.
    f.step(msg(1, 2, 1, MessageBody::Heartbeat { commit: 0, ctx: 0 }));
    drain(&mut f);
    f.step(msg(3, 2, 2, MessageBody::PreVote { last_index: 0, last_term: 0 }));
    f.step(msg(3, 2, 2, MessageBody::Vote { last_index: 0, last_term: 0, transfer: false }));
    assert_eq!(drain(&mut f), vec![]);
    assert_eq!(f.status().term, 1);
}

/// Reference: Raft thesis §9.6.
#[test]
fn s9_6_precandidate_becomes_candidate_on_prevote_quorum() {
    let mut c = cfg(1, 3);
    c.pre_vote = true;
    let mut n = RaftNode::new(c, DurableState::default());
    n.campaign();
    let out = drain(&mut n);
    assert_eq!(n.status().role, Role::PreCandidate);
    assert_eq!(n.status().term, 0);
    assert_eq!(persist_syncs(&out), Vec::<u64>::new());
    n.step(msg(2, 1, 1, MessageBody::PreVoteResponse { reject: false }));
    assert_eq!(n.status().role, Role::Candidate);
    assert_eq!(n.status().term, 1);
}

/// Reference: Raft thesis §6.2.
#[test]
fn s6_2_check_quorum_leader_steps_down_when_cut_off() {
    let mut c = cfg(1, 3);
    c.check_quorum = true;
    let mut l = RaftNode::new(c, DurableState::default());
    l.campaign();
    let out = drain(&mut l);
    ack_all(&mut l, &out);
    l.step(msg(2, 1, 1, MessageBody::VoteResponse { reject: false }));
    assert_eq!(l.status().role, Role::Leader);
    for _ in 0..10 {
        l.tick();
    }
    assert_eq!(l.status().role, Role::Follower);
}

/// Reference: Raft thesis §6.4.
#[test]
fn s6_4_read_index_confirms_leadership_with_a_heartbeat_round() {
    let mut l = leader(3);
    assert!(l.read_index(7).is_ok());
    let out = drain(&mut l);
    assert!(
        !out.iter().any(|o| matches!(o, RaftOutput::ReadReady { .. })),
        "noop not committed: must wait"
    );
    // Commit the noop.
    l.step(msg(
        2,
        1,
        1,
        MessageBody::AppendResponse { index: 1, reject: false, reject_hint: 0, hint_term: 0 },
    ));
    let out = drain(&mut l);
    let hb: Vec<_> = sends(&out)
        .into_iter()
        .filter(|m| matches!(m.body, MessageBody::Heartbeat { ctx: 1, .. }))
        .collect();
    assert_eq!(hb.len(), 2, "a heartbeat round for the read");
    l.step(msg(3, 1, 1, MessageBody::HeartbeatResponse { ctx: 1 }));
    let out = drain(&mut l);
    assert!(out.contains(&RaftOutput::ReadReady { ctx: 7, index: 1 }));
}

/// Reference: Raft thesis §6.4.
#[test]
fn s6_4_follower_read_goes_through_leader() {
    let mut f = follower_with(2, 1, vec![]);
    assert_eq!(f.read_index(1), Err(ProposeError::NoLeader));
    f.step(msg(1, 2, 1, MessageBody::Heartbeat { commit: 0, ctx: 0 }));
    drain(&mut f);
    f.read_index(9).expect("leader known");
    assert_eq!(sends(&drain(&mut f)), vec![msg(2, 1, 1, MessageBody::ReadIndex { ctx: 9 })]);
    f.step(msg(1, 2, 1, MessageBody::ReadIndexResponse { ctx: 9, index: 4 }));
    assert_eq!(drain(&mut f), vec![RaftOutput::ReadReady { ctx: 9, index: 4 }]);
}

/// Reference: Raft thesis §6.4.
#[test]
fn s6_4_lease_read_answers_at_once_when_quorum_heard_recently() {
    let mut c = cfg(1, 3);
    c.lease_reads = true;
    c.check_quorum = true;
    let mut l = RaftNode::new(c, DurableState::default());
    l.campaign();
    let out = drain(&mut l);
    ack_all(&mut l, &out);
    l.step(msg(2, 1, 1, MessageBody::VoteResponse { reject: false }));
    let out = drain(&mut l);
    ack_all(&mut l, &out);
    l.step(msg(
        2,
        1,
        1,
        MessageBody::AppendResponse { index: 1, reject: false, reject_hint: 0, hint_term: 0 },
    ));
    drain(&mut l);
    l.read_index(3).expect("leader");
    assert!(drain(&mut l).contains(&RaftOutput::ReadReady { ctx: 3, index: 1 }));
}

/// Reference: Raft thesis §3.10.
#[test]
fn s3_10_leader_transfer_sends_timeout_now_and_blocks_proposals() {
    let mut l = leader(3);
    l.step(msg(
        2,
        1,
        1,
        MessageBody::AppendResponse { index: 1, reject: false, reject_hint: 0, hint_term: 0 },
    ));
    drain(&mut l);
    l.transfer_leader(2).expect("leader");
    assert_eq!(sends(&drain(&mut l)), vec![msg(1, 2, 1, MessageBody::TimeoutNow)]);
    assert_eq!(l.propose(Bytes::from_static(b"x")), Err(ProposeError::TransferInProgress));
    for _ in 0..10 {
        l.tick();
    }
    assert!(
        l.propose(Bytes::from_static(b"x")).is_ok(),
        "transfer aborted after an election timeout"
    );
}

/// Reference: Raft thesis §3.10.
#[test]
fn s3_10_timeout_now_starts_an_election_that_bypasses_lease() {
    let mut c = cfg(2, 3);
    c.pre_vote = true;
    c.check_quorum = true;
    let mut f = RaftNode::new(c, DurableState::default());
    f.step(msg(1, 2, 1, MessageBody::Heartbeat { commit: 0, ctx: 0 }));
    drain(&mut f);
    f.step(msg(1, 2, 1, MessageBody::TimeoutNow));
    assert_eq!(f.status().role, Role::Candidate, "no pre-vote for a transfer");
    let out = drain(&mut f);
    assert!(sends(&out).contains(&msg(
        2,
        3,
        2,
        MessageBody::Vote { last_index: 0, last_term: 0, transfer: true }
    )));
    // A follower in lease still votes for a transfer campaign.
    let mut c3 = cfg(3, 3);
    c3.check_quorum = true;
    let mut g = RaftNode::new(c3, DurableState::default());
    g.step(msg(1, 3, 1, MessageBody::Heartbeat { commit: 0, ctx: 0 }));
    drain(&mut g);
    g.step(msg(2, 3, 2, MessageBody::Vote { last_index: 0, last_term: 0, transfer: true }));
    assert!(sends(&drain(&mut g)).contains(&msg(
        3,
        2,
        2,
        MessageBody::VoteResponse { reject: false }
    )));
}

/// Reference: Raft paper §7.
#[test]
fn s7_follower_behind_the_log_gets_and_restores_snapshot() {
    let mut l = leader(3);
    for i in 0..5u8 {
        l.propose(Bytes::from(vec![i])).expect("leader");
    }
    let out = drain(&mut l);
    ack_all(&mut l, &out);
    l.step(msg(
        2,
        1,
        1,
        MessageBody::AppendResponse { index: 6, reject: false, reject_hint: 0, hint_term: 0 },
    ));
    drain(&mut l);
    assert_eq!(l.status().applied, 6);
    let snap = Snapshot {
        meta: SnapshotMeta { index: 4, term: 0, conf: ConfState::default() },
        data: Bytes::from_static(b"S"),
    };
    l.compact(snap);
    let out = drain(&mut l);
    let expected = Snapshot {
        meta: SnapshotMeta { index: 4, term: 1, conf: ConfState::with_voters([1, 2, 3]) },
        data: Bytes::from_static(b"S"),
    };
    assert!(matches!(&out[0], RaftOutput::Persist(op) if op.snapshot.as_ref() == Some(&expected)));
    // Node 3 answers a probe saying it has nothing.
    l.step(msg(
        3,
        1,
        1,
        MessageBody::AppendResponse { index: 0, reject: true, reject_hint: 0, hint_term: 0 },
    ));
    let out = drain(&mut l);
    assert_eq!(
        sends(&out),
        vec![msg(1, 3, 1, MessageBody::InstallSnapshot { snapshot: expected.clone() })]
    );
    let mut f = follower_with(3, 1, vec![]);
    f.step(msg(1, 3, 1, MessageBody::InstallSnapshot { snapshot: expected.clone() }));
    let out = drain(&mut f);
    assert_eq!(
        out,
        vec![
            RaftOutput::RestoreSnapshot(expected.clone()),
            RaftOutput::Persist(PersistOp {
                sync: 1,
                hard_state: Some(HardState { term: 1, vote: None, commit: 4 }),
                snapshot: Some(expected.clone()),
                entries: vec![],
            }),
            send(
                3,
                1,
                1,
                MessageBody::AppendResponse {
                    index: 4,
                    reject: false,
                    reject_hint: 0,
                    hint_term: 0
                },
                Some(1)
            ),
            RaftOutput::RoleChanged { role: Role::Follower, term: 1, leader: Some(1) },
        ]
    );
    assert_eq!(f.status().snapshot_index, 4);
    assert_eq!(f.status().applied, 4);
}

#[test]
fn restart_restores_snapshot_then_reapplies_committed_entries() {
    let snap = Snapshot {
        meta: SnapshotMeta { index: 2, term: 1, conf: ConfState::with_voters([1, 2, 3]) },
        data: Bytes::from_static(b"S"),
    };
    let durable = DurableState {
        hard_state: HardState { term: 2, vote: Some(1), commit: 4 },
        snapshot: Some(snap.clone()),
        entries: vec![ent(1, 3), ent(2, 4), ent(2, 5)],
    };
    let mut n = RaftNode::new(cfg(2, 3), durable);
    assert_eq!(
        drain(&mut n),
        vec![RaftOutput::RestoreSnapshot(snap), RaftOutput::Apply(vec![ent(1, 3), ent(2, 4)])]
    );
    let s = n.status();
    assert_eq!((s.term, s.vote, s.commit, s.applied, s.last_index), (2, Some(1), 4, 4, 5));
}

#[test]
fn learners_replicate_but_never_vote_or_count() {
    let mut c = cfg(1, 2);
    c.initial_voters = vec![1, 2];
    let snap = Snapshot {
        meta: SnapshotMeta {
            index: 1,
            term: 1,
            conf: ConfState { voters: [1, 2].into(), learners: [3].into(), ..Default::default() },
        },
        data: Bytes::new(),
    };
    let durable = DurableState {
        hard_state: HardState { term: 1, vote: None, commit: 1 },
        snapshot: Some(snap.clone()),
        entries: vec![],
    };
    let mut l = RaftNode::new(c, durable.clone());
    l.campaign();
    let out = drain(&mut l);
    assert_eq!(
        sends(&out).iter().map(|m| m.to).collect::<Vec<_>>(),
        vec![2],
        "no vote request to the learner"
    );
    ack_all(&mut l, &out);
    l.step(msg(3, 1, 2, MessageBody::VoteResponse { reject: false }));
    assert_eq!(l.status().role, Role::Candidate, "a learner's vote does not count");
    l.step(msg(2, 1, 2, MessageBody::VoteResponse { reject: false }));
    assert_eq!(l.status().role, Role::Leader);
    let out = drain(&mut l);
    ack_all(&mut l, &out);
    assert!(sends(&out).iter().any(|m| m.to == 3 && matches!(m.body, MessageBody::Append { .. })));
    l.step(msg(
        3,
        1,
        2,
        MessageBody::AppendResponse { index: 2, reject: false, reject_hint: 0, hint_term: 0 },
    ));
    assert_eq!(l.status().commit, 1, "a learner's copy does not count");
    // A learner never campaigns.
    let mut learner = RaftNode::new(cfg(3, 2), durable);
    for _ in 0..50 {
        learner.tick();
    }
    assert_eq!(learner.status().role, Role::Follower);
}

#[test]
fn proposals_forward_or_fail_with_a_typed_error() {
    let mut f = follower_with(2, 1, vec![]);
    assert_eq!(f.propose(Bytes::from_static(b"a")), Err(ProposeError::NoLeader));
    f.step(msg(1, 2, 1, MessageBody::Heartbeat { commit: 0, ctx: 0 }));
    drain(&mut f);
    f.propose(Bytes::from_static(b"a")).expect("forwarded");
    let out = sends(&drain(&mut f));
    assert!(
        matches!(&out[..], [Message { to: 1, body: MessageBody::Propose { entries }, .. }] if entries.len() == 1)
    );
    let mut c = cfg(3, 3);
    c.forward_proposals = false;
    let mut g = RaftNode::new(c, DurableState::default());
    g.step(msg(1, 3, 1, MessageBody::Heartbeat { commit: 0, ctx: 0 }));
    assert_eq!(
        g.propose(Bytes::from_static(b"a")),
        Err(ProposeError::NotLeader { leader: Some(1) })
    );
}

#[test]
fn messages_not_for_us_or_from_strangers_are_ignored() {
    let mut f = follower_with(2, 1, vec![]);
    f.step(msg(1, 3, 9, MessageBody::Heartbeat { commit: 0, ctx: 0 }));
    f.step(msg(9, 2, 9, MessageBody::Heartbeat { commit: 0, ctx: 0 }));
    f.step(msg(2, 2, 9, MessageBody::Heartbeat { commit: 0, ctx: 0 }));
    assert_eq!(drain(&mut f), vec![]);
    assert_eq!(f.status().term, 1);
}

fn appends_to(out: &[RaftOutput], to: u64) -> Vec<(u64, Vec<u64>)> {
    sends(out)
        .into_iter()
        .filter(|m| m.to == to)
        .filter_map(|m| match m.body {
            MessageBody::Append { prev_index, entries, .. } => {
                Some((prev_index, entries.iter().map(|e| e.index).collect()))
            }
            _ => None,
        })
        .collect()
}

/// Reference: Raft thesis §10.2.2 (batching and pipelining).
#[test]
fn s10_2_2_probe_then_pipeline_within_inflight_and_size_limits() {
    let mut c = cfg(1, 3);
    c.append_entries_max = 2;
    c.inflight_appends_max = 2;
    c.append_bytes_max = 1000;
    let mut l = RaftNode::new(c, DurableState::default());
    l.campaign();
    let out = drain(&mut l);
    ack_all(&mut l, &out);
    l.step(msg(2, 1, 1, MessageBody::VoteResponse { reject: false }));
    let out = drain(&mut l);
    assert_eq!(appends_to(&out, 2), vec![(0, vec![1])], "probe: one append");
    for i in 0..6u8 {
        l.propose(Bytes::from(vec![i])).expect("leader");
    }
    let out = drain(&mut l);
    assert_eq!(appends_to(&out, 2), vec![], "probing: wait for the answer");
    l.step(msg(
        2,
        1,
        1,
        MessageBody::AppendResponse { index: 1, reject: false, reject_hint: 0, hint_term: 0 },
    ));
    let out = drain(&mut l);
    assert_eq!(
        appends_to(&out, 2),
        vec![(1, vec![2, 3]), (3, vec![4, 5])],
        "replicate: batches of 2, at most 2 in flight"
    );
    l.step(msg(
        2,
        1,
        1,
        MessageBody::AppendResponse { index: 3, reject: false, reject_hint: 0, hint_term: 0 },
    ));
    let out = drain(&mut l);
    assert_eq!(appends_to(&out, 2), vec![(5, vec![6, 7])]);
    // A rejection falls back to probing from what matches.
    l.step(msg(
        2,
        1,
        1,
        MessageBody::AppendResponse { index: 5, reject: true, reject_hint: 3, hint_term: 1 },
    ));
    let out = drain(&mut l);
    assert_eq!(appends_to(&out, 2), vec![(3, vec![4, 5])]);
}

#[test]
fn append_bytes_max_limits_a_batch_but_always_sends_one_entry() {
    let mut c = cfg(1, 3);
    c.append_bytes_max = 100;
    let mut l = RaftNode::new(c, DurableState::default());
    l.campaign();
    let out = drain(&mut l);
    ack_all(&mut l, &out);
    l.step(msg(2, 1, 1, MessageBody::VoteResponse { reject: false }));
    drain(&mut l);
    l.step(msg(
        2,
        1,
        1,
        MessageBody::AppendResponse { index: 1, reject: false, reject_hint: 0, hint_term: 0 },
    ));
    drain(&mut l);
    l.propose(Bytes::from(vec![0u8; 500])).expect("leader");
    for _ in 0..3 {
        l.propose(Bytes::from(vec![0u8; 40])).expect("leader");
    }
    let out = drain(&mut l);
    assert_eq!(appends_to(&out, 2), vec![(1, vec![2]), (2, vec![3, 4]), (4, vec![5])]);
}

/// Reference: Raft thesis §6.4.
#[test]
fn s6_4_forwarded_reads_answer_once_and_fail_when_the_leader_changes() {
    let mut f = follower_with(2, 1, vec![]);
    f.step(msg(1, 2, 1, MessageBody::Heartbeat { commit: 0, ctx: 0 }));
    drain(&mut f);
    f.read_index(5).expect("leader known");
    f.read_index(6).expect("leader known");
    drain(&mut f);
    let answer = msg(1, 2, 1, MessageBody::ReadIndexResponse { ctx: 5, index: 3 });
    f.step(answer.clone());
    f.step(answer);
    assert_eq!(
        drain(&mut f),
        vec![RaftOutput::ReadReady { ctx: 5, index: 3 }],
        "a duplicate is ignored"
    );
    f.step(msg(3, 2, 2, MessageBody::Heartbeat { commit: 0, ctx: 0 }));
    let out = drain(&mut f);
    assert!(out.contains(&RaftOutput::ReadFailed {
        ctx: 6,
        error: ProposeError::NotLeader { leader: Some(3) }
    }));
}

/// Reference: Raft thesis §10.2.2 (batching and pipelining).
#[test]
fn s10_2_2_lost_tail_append_is_resent_after_stalled_heartbeats() {
    let mut c = cfg(1, 3);
    c.inflight_appends_max = 1;
    let mut l = RaftNode::new(c, DurableState::default());
    l.campaign();
    let out = drain(&mut l);
    ack_all(&mut l, &out);
    l.step(msg(2, 1, 1, MessageBody::VoteResponse { reject: false }));
    drain(&mut l);
    l.step(msg(
        2,
        1,
        1,
        MessageBody::AppendResponse { index: 1, reject: false, reject_hint: 0, hint_term: 0 },
    ));
    drain(&mut l);
    l.propose(Bytes::from_static(b"lost")).expect("leader");
    let out = drain(&mut l);
    assert_eq!(appends_to(&out, 2), vec![(1, vec![2])], "this append gets lost");
    l.propose(Bytes::from_static(b"queued")).expect("leader");
    assert_eq!(appends_to(&drain(&mut l), 2), vec![], "window of one is full");
    let hb = msg(2, 1, 1, MessageBody::HeartbeatResponse { ctx: 0 });
    for round in 0..3 {
        l.step(hb.clone());
        let resent = appends_to(&drain(&mut l), 2);
        if round < 2 {
            assert_eq!(resent, vec![], "round {round}: still waiting");
        } else {
            assert_eq!(resent, vec![(1, vec![2, 3])], "probing again from what matches");
        }
    }
}

#[test]
fn absurd_snapshot_index_is_ignored() {
    let mut f = follower_with(2, 1, vec![]);
    let snapshot = Snapshot {
        meta: SnapshotMeta { index: u64::MAX, term: 1, conf: ConfState::with_voters([1, 2, 3]) },
        data: Bytes::new(),
    };
    f.step(msg(1, 2, 1, MessageBody::InstallSnapshot { snapshot }));
    drain(&mut f);
    assert_eq!(f.status().snapshot_index, 0);
    // Still usable: it becomes leader and appends.
    f.campaign();
    let out = drain(&mut f);
    ack_all(&mut f, &out);
    f.step(msg(3, 2, 2, MessageBody::VoteResponse { reject: false }));
    assert_eq!(f.status().role, Role::Leader);
    f.propose(Bytes::from_static(b"x")).expect("leader");
}
