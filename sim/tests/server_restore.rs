//! Restoring a member from durable state it cannot use: a disk can hand back anything,
//! so each kind of damage is refused with a typed `RestoreError`, never a panic.

mod server_net;

use bytes::Bytes;
use detcd_core::process::{Process, RestoreError};
use detcd_core::server::{Config, EtcdNode};
use detcd_core::types::{DurableState, EntryKind};
use server_net::{config, Cluster};

const SNAPSHOT_ENTRIES: u64 = 8;

fn small_snapshots(id: u64) -> Config {
    let mut c = config(id, 3);
    c.snapshot_entries = SNAPSHOT_ENTRIES;
    c
}

/// A follower's disk after enough writes for a snapshot and a log after it.
fn durable() -> (Config, DurableState) {
    let mut c = Cluster::with_configs((1..=3).map(small_snapshots).collect());
    let l = c.elect();
    for i in 0..SNAPSHOT_ENTRIES + 5 {
        c.put(l, &format!("k{i}"), "v");
    }
    c.converge();
    let f = c.followers()[0];
    let d = c.durable(f).clone();
    let snap = d.snapshot.as_ref().expect("a snapshot was taken").meta.index;
    assert!(d.entries.iter().any(|e| e.index > snap && e.kind == EntryKind::Normal));
    (small_snapshots(f), d)
}

fn refusal(cfg: Config, d: DurableState) -> RestoreError {
    match EtcdNode::restore(cfg, d) {
        Ok(_) => panic!("damaged durable state restored"),
        Err(e) => e,
    }
}

#[test]
fn an_undamaged_disk_restores() {
    let (cfg, d) = durable();
    let commit = d.hard_state.commit;
    let node = EtcdNode::restore(cfg, d).expect("restores");
    assert_eq!(node.status().applied, commit);
}

#[test]
fn a_snapshot_image_of_garbage_is_refused() {
    let (cfg, mut d) = durable();
    let snap = d.snapshot.as_mut().expect("snapshot");
    snap.data = Bytes::from_static(b"\xff\x00 not an image").into();
    let index = snap.meta.index;
    match refusal(cfg, d) {
        RestoreError::SnapshotImage { index: i, reason } => {
            assert_eq!(i, index);
            assert!(!reason.is_empty());
        }
        e => panic!("wrong refusal: {e}"),
    }
}

#[test]
fn a_log_entry_of_garbage_is_refused_with_its_index() {
    let (cfg, mut d) = durable();
    let snap = d.snapshot.as_ref().expect("snapshot").meta.index;
    let e = d.entries.iter_mut().find(|e| e.index > snap && e.kind == EntryKind::Normal);
    let e = e.expect("a normal entry after the snapshot");
    e.data = Bytes::from_static(b"\xff\xfe\xfd");
    let index = e.index;
    let err = refusal(cfg, d);
    assert!(matches!(err, RestoreError::EntryPayload { index: i, .. } if i == index), "{err}");
    assert!(err.to_string().contains(&format!("log entry {index}")), "{err}");
}

#[test]
fn a_gap_in_the_log_is_refused() {
    let (cfg, mut d) = durable();
    let snap = d.snapshot.as_ref().expect("snapshot").meta.index;
    let k = d.entries.iter().position(|e| e.index == snap + 2).expect("entry");
    d.entries.remove(k);
    let err = refusal(cfg, d);
    assert_eq!(err, RestoreError::LogGap { expected: snap + 2, found: snap + 3 });
}

#[test]
fn a_log_not_following_the_snapshot_is_refused() {
    let (cfg, mut d) = durable();
    let snap = d.snapshot.as_ref().expect("snapshot").meta.index;
    d.entries.retain(|e| e.index != snap + 1);
    let err = refusal(cfg, d);
    assert_eq!(err, RestoreError::LogGap { expected: snap + 1, found: snap + 2 });
}

#[test]
fn decreasing_terms_are_refused() {
    let (cfg, mut d) = durable();
    let n = d.entries.len();
    let previous = d.entries[n - 2].term;
    let last = &mut d.entries[n - 1];
    let index = last.index;
    last.term = 0;
    let err = refusal(cfg, d);
    assert_eq!(err, RestoreError::LogTermDecreases { index, term: 0, previous });
}

#[test]
fn a_commit_index_beyond_the_log_is_refused() {
    let (cfg, mut d) = durable();
    let last_index = d.last_index();
    d.hard_state.commit = last_index + 3;
    let err = refusal(cfg, d);
    assert_eq!(err, RestoreError::CommitBeyondLog { commit: last_index + 3, last_index });
    let _: &dyn std::error::Error = &err;
}

/// A peer can send an InstallSnapshot whose image does not decode (a bug or a hostile
/// peer): the member drops it and keeps its own state instead of panicking.
#[test]
fn a_peers_snapshot_of_garbage_is_dropped() {
    use detcd_core::raft::{Message, MessageBody};
    use detcd_core::types::{Snapshot, SnapshotMeta};
    let (cfg, d) = durable();
    let commit = d.hard_state.commit;
    let term = d.hard_state.term;
    let me = cfg.member_id();
    let mut node = EtcdNode::restore(cfg, d).expect("restores");
    let from = if me == 1 { 2 } else { 1 };
    let snapshot = Snapshot {
        meta: SnapshotMeta { index: commit + 100, term: term + 1, ..SnapshotMeta::default() },
        data: Bytes::from_static(b"\xff\x00 not an image").into(),
    };
    node.receive(Message {
        from,
        to: me,
        term: term + 1,
        body: MessageBody::InstallSnapshot { snapshot },
    });
    assert_eq!(node.status().applied, commit, "the member kept its own state");
}
