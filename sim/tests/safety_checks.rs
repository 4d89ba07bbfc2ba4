//! Each safety checker fires on the violation it guards and stays quiet otherwise,
//! driven by a fake node whose Raft state the test sets directly. And the liveness
//! phase reports a typed failure rather than hanging.

mod common;

use bytes::Bytes;
use common::pinger::{Pinger, PingerConfig};
use detcd_core::process::{Effect, Process};
use detcd_core::raft::{Message, Role, RoleReason, Status};
use detcd_core::types::{DurableState, Entry, EntryKind, Index, RequestId, SyncId};
use detcd_sim::safety::SafetyChecker;
use detcd_sim::{LivenessFailure, SimError, ViolationKind, World, WorldOptions};

struct Fake {
    status: Status,
    log: Vec<Entry>,
    hash: u64,
}

impl Process for Fake {
    type Config = ();
    type Request = ();
    type Response = ();
    fn restore(_: (), _: DurableState) -> Result<Self, detcd_core::process::RestoreError> {
        unreachable!("built directly")
    }
    fn tick(&mut self) {}
    fn receive(&mut self, _: Message) {}
    fn request(&mut self, _: RequestId, _: ()) {}
    fn persisted(&mut self, _: SyncId) {}
    fn drain(&mut self, _: &mut Vec<Effect<()>>) {}
    fn status(&self) -> Status {
        self.status
    }
    fn entry(&self, index: Index) -> Option<&Entry> {
        index.checked_sub(1).and_then(|i| self.log.get(i as usize))
    }
    fn state_hash(&self) -> u64 {
        self.hash
    }
}

fn fake(id: u64, role: Role, term: u64, terms: &[u64], commit: Index) -> Fake {
    let log = terms
        .iter()
        .enumerate()
        .map(|(i, &t)| Entry {
            term: t,
            index: i as u64 + 1,
            kind: EntryKind::Normal,
            data: Bytes::from(vec![t as u8]),
        })
        .collect();
    let status = Status {
        id,
        role,
        role_reason: RoleReason::Started,
        term,
        vote: None,
        leader: None,
        commit,
        applied: commit,
        last_index: terms.len() as u64,
        snapshot_index: 0,
    };
    Fake { status, log, hash: commit }
}

#[test]
fn two_leaders_in_one_term_are_caught() {
    let mut c = SafetyChecker::default();
    c.observe(&fake(1, Role::Leader, 2, &[1], 0), 10, true).unwrap();
    c.observe(&fake(2, Role::Leader, 3, &[1], 0), 20, true).unwrap();
    let v = c.observe(&fake(3, Role::Leader, 2, &[1], 0), 30, true).unwrap_err();
    assert_eq!(v.kind, ViolationKind::TwoLeaders { term: 2, first: 1, second: 3 });
    assert_eq!((v.at_us, v.node), (30, 3));
}

#[test]
fn a_changed_committed_entry_is_caught_even_after_a_restart() {
    let mut c = SafetyChecker::default();
    c.observe(&fake(1, Role::Leader, 1, &[1, 1, 1], 3), 10, true).unwrap();
    c.observe(&fake(2, Role::Follower, 1, &[1, 1], 2), 20, true).unwrap();
    c.restarted(2);
    let v = c.observe(&fake(2, Role::Follower, 2, &[1, 2], 2), 30, true).unwrap_err();
    assert_eq!(
        v.kind,
        ViolationKind::CommittedEntryChanged { index: 2, expected_term: 1, found_term: 2 }
    );
}

#[test]
fn a_leader_without_earlier_committed_entries_is_caught() {
    let mut c = SafetyChecker::default();
    c.observe(&fake(1, Role::Leader, 1, &[1, 1], 2), 10, true).unwrap();
    // A stale candidate winning term 1 again would be legal; a leader of term 2 is not.
    let v = c.observe(&fake(2, Role::Leader, 2, &[1], 0), 20, true).unwrap_err();
    assert_eq!(v.kind, ViolationKind::LeaderMissingCommitted { index: 2, term: 1 });
    let lost = v.lost_entry.as_ref().expect("the lost entry is carried");
    assert_eq!((lost.index, lost.term), (2, 1));
    assert_eq!(
        v.to_string(),
        "safety violation at 0.000020s on node 2: it became leader without the entry committed at log index 2 (written in term 1): a committed write was lost"
    );
    // Going on after it: the node's state is taken as it is, and not reported again.
    c.accept(&fake(2, Role::Leader, 2, &[1], 0));
    c.observe(&fake(2, Role::Leader, 2, &[1], 0), 30, true).expect("reported once");
}

#[test]
fn diverged_state_at_the_same_applied_index_is_caught() {
    let mut c = SafetyChecker::default();
    c.observe(&fake(1, Role::Follower, 1, &[1, 1], 2), 10, true).unwrap();
    let mut other = fake(2, Role::Follower, 1, &[1, 1], 2);
    other.hash = 99;
    let v = c.observe(&other, 20, true).unwrap_err();
    assert_eq!(
        v.kind,
        ViolationKind::StateDiverged { applied: 2, expected_hash: 2, found_hash: 99 }
    );
}

#[test]
fn a_healthy_history_passes() {
    let mut c = SafetyChecker::default();
    c.observe(&fake(1, Role::Leader, 1, &[1, 1], 1), 10, true).unwrap();
    c.observe(&fake(1, Role::Leader, 1, &[1, 1], 2), 20, true).unwrap();
    c.observe(&fake(2, Role::Follower, 1, &[1, 1, 2], 2), 30, true).unwrap();
    c.observe(&fake(2, Role::Leader, 2, &[1, 1, 2], 3), 40, true).unwrap();
    assert_eq!(c.committed_len(), 3);
}

#[test]
fn liveness_without_a_leader_is_a_typed_failure() {
    let mut o = WorldOptions::new(1, 3);
    o.check_raft_safety = false;
    let mut w: World<Pinger> = World::new(o, PingerConfig::from_setup);
    w.run_until(100_000).unwrap();
    let err = w.liveness(1_000_000, |n| n, |_| true).unwrap_err();
    assert_eq!(err, SimError::Liveness(LivenessFailure::NoLeader { at_us: 1_100_000 }));
}

#[test]
fn the_event_limit_stops_a_run() {
    let mut o = WorldOptions::new(1, 3);
    o.check_raft_safety = false;
    o.events_max = 500;
    let mut w: World<Pinger> = World::new(o, PingerConfig::from_setup);
    assert_eq!(w.run_until(10_000_000), Err(SimError::EventLimit { events: 500 }));
}
