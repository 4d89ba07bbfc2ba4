//! Untrusted input: any message content, from any sender, in any role, is handled
//! without a panic (and, in debug builds, without breaking an invariant).

use bytes::Bytes;
use detcd_core::raft::{Config, Message, MessageBody, RaftNode, RaftOutput};
use detcd_core::types::{
    ConfState, DurableState, Entry, EntryKind, HardState, Snapshot, SnapshotMeta,
};
use proptest::prelude::*;

fn num() -> impl Strategy<Value = u64> {
    prop_oneof![6 => 0..8u64, 1 => Just(u64::MAX), 1 => any::<u64>()]
}

fn entry() -> impl Strategy<Value = Entry> {
    (num(), num(), 0..3u8).prop_map(|(term, index, k)| Entry {
        term,
        index,
        kind: [EntryKind::Normal, EntryKind::Noop, EntryKind::ConfChange][k as usize],
        data: Bytes::from_static(b"d"),
    })
}

fn entries() -> impl Strategy<Value = Vec<Entry>> {
    prop_oneof![
        proptest::collection::vec(entry(), 0..4),
        // Well-formed runs, to get past the shape checks.
        (1..6u64, 1..4u64, 1..4usize).prop_map(|(start, term, n)| (0..n as u64)
            .map(|i| Entry { term, index: start + i, kind: EntryKind::Normal, data: Bytes::new() })
            .collect()),
    ]
}

fn body() -> impl Strategy<Value = MessageBody> {
    prop_oneof![
        (num(), num())
            .prop_map(|(last_index, last_term)| MessageBody::PreVote { last_index, last_term }),
        any::<bool>().prop_map(|reject| MessageBody::PreVoteResponse { reject }),
        (num(), num(), any::<bool>()).prop_map(|(last_index, last_term, transfer)| {
            MessageBody::Vote { last_index, last_term, transfer }
        }),
        any::<bool>().prop_map(|reject| MessageBody::VoteResponse { reject }),
        (num(), num(), entries(), num()).prop_map(|(prev_index, prev_term, entries, commit)| {
            MessageBody::Append { prev_index, prev_term, entries, commit }
        }),
        (num(), any::<bool>(), num(), num()).prop_map(|(index, reject, reject_hint, hint_term)| {
            MessageBody::AppendResponse { index, reject, reject_hint, hint_term }
        }),
        (num(), num()).prop_map(|(commit, ctx)| MessageBody::Heartbeat { commit, ctx }),
        num().prop_map(|ctx| MessageBody::HeartbeatResponse { ctx }),
        (num(), num(), 0..2u8).prop_map(|(index, term, empty)| MessageBody::InstallSnapshot {
            snapshot: Snapshot {
                meta: SnapshotMeta {
                    index,
                    term,
                    conf: if empty == 0 {
                        ConfState::default()
                    } else {
                        ConfState::with_voters([1, 2, 3])
                    },
                },
                data: Default::default(),
            }
        }),
        entries().prop_map(|entries| MessageBody::Propose { entries }),
        num().prop_map(|ctx| MessageBody::ReadIndex { ctx }),
        (num(), num()).prop_map(|(ctx, index)| MessageBody::ReadIndexResponse { ctx, index }),
        Just(MessageBody::TimeoutNow),
    ]
}

fn message() -> impl Strategy<Value = Message> {
    (0..5u64, prop_oneof![9 => Just(1u64), 1 => 0..5u64], num(), body())
        .prop_map(|(from, to, term, body)| Message { from, to, term, body })
}

#[derive(Clone, Debug)]
enum Input {
    Msg(Message),
    Tick,
    Campaign,
    PersistAll,
    Propose,
    Read(u64),
    Transfer(u64),
    LeaderUnreachable(u64),
}

fn input() -> impl Strategy<Value = Input> {
    prop_oneof![
        10 => message().prop_map(Input::Msg),
        2 => Just(Input::Tick),
        1 => Just(Input::Campaign),
        3 => Just(Input::PersistAll),
        1 => Just(Input::Propose),
        1 => num().prop_map(Input::Read),
        1 => (0..5u64).prop_map(Input::Transfer),
        1 => (0..5u64).prop_map(Input::LeaderUnreachable),
    ]
}

fn start(kind: u8) -> DurableState {
    match kind {
        0 => DurableState::default(),
        _ => DurableState {
            hard_state: HardState { term: 3, vote: Some(2), commit: 2 },
            snapshot: None,
            entries: (1..=4u64)
                .map(|i| Entry {
                    term: i.div_ceil(2),
                    index: i,
                    kind: EntryKind::Normal,
                    data: Bytes::new(),
                })
                .collect(),
        },
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn any_input_is_handled_without_panic(
        kind in 0..2u8,
        pre_vote in any::<bool>(),
        check_quorum in any::<bool>(),
        inputs in proptest::collection::vec(input(), 1..120),
    ) {
        let mut cfg = Config::new(1, vec![1, 2, 3], 7);
        cfg.pre_vote = pre_vote;
        cfg.check_quorum = check_quorum;
        cfg.election_ticks = 3;
        let mut node = RaftNode::new(cfg, start(kind));
        let mut out = Vec::new();
        let mut last_sync = 0;
        for i in inputs {
            match i {
                Input::Msg(m) => node.step(m),
                Input::Tick => node.tick(),
                Input::Campaign => node.campaign(),
                Input::PersistAll => node.persisted(last_sync),
                Input::Propose => { let _ = node.propose(Bytes::from_static(b"p")); }
                Input::Read(ctx) => { let _ = node.read_index(ctx); }
                Input::Transfer(to) => { let _ = node.transfer_leader(to); }
                Input::LeaderUnreachable(from) => node.leader_unreachable(from),
            }
            node.drain(&mut out);
            for o in out.drain(..) {
                if let RaftOutput::Persist(op) = o {
                    last_sync = op.sync;
                }
            }
        }
    }
}
