//! The node's file storage against the meaning of persist ops: whatever sequence of ops
//! was persisted, a reopen loads what `DurableState::apply` says, torn tails are cut
//! away, and any other damage refuses to load without touching the files.

use bytes::Bytes;
use detcd_core::types::{
    ConfState, DurableState, Entry, EntryKind, HardState, PersistOp, Snapshot, SnapshotMeta,
};
use detcd_node::disk::{DiskError, FileStorage, FileStorageOptions, Storage};
use proptest::prelude::*;
use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

fn entries(first: u64, term: u64, n: u64) -> Vec<Entry> {
    (first..first + n)
        .map(|index| Entry {
            term,
            index,
            kind: if index % 5 == 0 { EntryKind::Noop } else { EntryKind::Normal },
            data: Bytes::from(format!("value-{index}-{term}")),
        })
        .collect()
}

fn hs(term: u64, vote: Option<u64>, commit: u64) -> HardState {
    HardState { term, vote, commit }
}

fn snapshot(index: u64, term: u64) -> Snapshot {
    Snapshot {
        meta: SnapshotMeta { index, term, conf: ConfState::with_voters([1, 2, 3]) },
        data: Bytes::from(format!("image at {index}")).into(),
    }
}

fn op(hard_state: Option<HardState>, snapshot: Option<Snapshot>, entries: Vec<Entry>) -> PersistOp {
    PersistOp { sync: 0, hard_state, snapshot, entries }
}

fn small(segment_bytes_max: u64) -> FileStorageOptions {
    FileStorageOptions { segment_bytes_max, ..FileStorageOptions::default() }
}

fn open(dir: &Path, options: FileStorageOptions) -> (FileStorage, DurableState) {
    let mut s = FileStorage::open_with(dir, options).expect("open");
    let state = s.load().expect("load");
    (s, state)
}

fn load_err(dir: &Path) -> DiskError {
    let mut s = FileStorage::open(dir).expect("open");
    s.load().expect_err("load should fail")
}

fn applied(ops: &[PersistOp]) -> DurableState {
    let mut state = DurableState::default();
    ops.iter().for_each(|o| state.apply(o));
    state
}

fn wal_dir(dir: &Path) -> PathBuf {
    dir.join("member").join("wal")
}

fn files_in(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<_> = fs::read_dir(dir).expect("ls").map(|e| e.expect("entry").path()).collect();
    v.sort();
    v
}

fn segments(dir: &Path) -> Vec<PathBuf> {
    files_in(&wal_dir(dir))
}

/// Every file under `dir` with its contents, to prove a failed load changed nothing.
fn snapshot_of_tree(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut out = BTreeMap::new();
    for sub in ["wal", "snap"] {
        for path in files_in(&dir.join("member").join(sub)) {
            let bytes = fs::read(&path).expect("read");
            out.insert(path, bytes);
        }
    }
    out
}

fn copy_tree(from: &Path, to: &Path) {
    for sub in ["wal", "snap"] {
        let target = to.join("member").join(sub);
        fs::create_dir_all(&target).expect("mkdir");
        for path in files_in(&from.join("member").join(sub)) {
            fs::copy(&path, target.join(path.file_name().expect("name"))).expect("copy");
        }
    }
}

fn flip_byte(path: &Path, offset: u64) {
    let mut bytes = fs::read(path).expect("read");
    bytes[offset as usize] ^= 0x5a;
    fs::write(path, bytes).expect("write");
}

fn assert_corrupt(err: DiskError, file: &Path, offset: Option<u64>) {
    let text = err.to_string();
    match err {
        DiskError::Corrupt { path, offset: at, .. } => {
            assert_eq!(path, file, "{text}");
            if let Some(offset) = offset {
                assert_eq!(at, offset, "{text}");
                assert!(text.contains(&format!("offset {offset}")), "{text}");
            }
            assert!(text.contains(&file.display().to_string()), "{text}");
        }
        other => panic!("expected Corrupt, got {other}"),
    }
}

/// A history touching every kind of op: hard states alone, appends, a suffix replaced
/// by a new leader's entries, snapshots that keep and that drop the log.
fn history() -> Vec<PersistOp> {
    vec![
        op(Some(hs(1, Some(1), 0)), None, vec![]),
        op(Some(hs(1, Some(1), 0)), None, entries(1, 1, 10)),
        op(Some(hs(1, Some(1), 8)), None, entries(11, 1, 10)),
        op(Some(hs(2, None, 8)), None, vec![]),
        op(Some(hs(2, Some(3), 12)), None, entries(15, 2, 8)),
        op(None, Some(snapshot(12, 1)), vec![]),
        op(Some(hs(2, Some(3), 20)), None, entries(23, 2, 10)),
        op(Some(hs(3, Some(2), 20)), Some(snapshot(40, 3)), entries(41, 3, 3)),
        op(Some(hs(3, Some(2), 43)), None, entries(44, 3, 6)),
    ]
}

#[test]
fn reopen_after_every_op_gives_the_applied_state() {
    for segment_bytes_max in [1, 300, 64 << 20] {
        let dir = tempfile::tempdir().expect("tempdir");
        let ops = history();
        for n in 0..=ops.len() {
            let (mut s, state) = open(dir.path(), small(segment_bytes_max));
            assert_eq!(state, applied(&ops[..n]), "after {n} ops, segments of {segment_bytes_max}");
            if n < ops.len() {
                s.persist(&ops[n..n + 1]).expect("persist");
            }
        }
    }
}

#[test]
fn a_batch_is_the_same_as_its_ops_one_by_one() {
    let dir = tempfile::tempdir().expect("tempdir");
    let ops = history();
    let (mut s, _) = open(dir.path(), small(400));
    s.persist(&ops).expect("persist");
    assert!(s.size_bytes() > 0);
    drop(s);
    let (_, state) = open(dir.path(), small(400));
    assert_eq!(state, applied(&ops));
}

#[test]
fn small_segments_are_cut() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (mut s, _) = open(dir.path(), small(256));
    let mut ops = Vec::new();
    for i in 0..20 {
        let o = op(Some(hs(1, Some(1), i)), None, entries(i * 2 + 1, 1, 2));
        s.persist(std::slice::from_ref(&o)).expect("persist");
        ops.push(o);
    }
    let segs = segments(dir.path());
    assert!(segs.len() > 3, "{segs:?}");
    assert!(segs.iter().all(|p| p.extension().is_some_and(|e| e == "wal")), "{segs:?}");
    drop(s);
    assert_eq!(open(dir.path(), small(256)).1, applied(&ops));
}

#[test]
fn a_torn_last_record_is_cut_away_at_every_offset() {
    let template = tempfile::tempdir().expect("tempdir");
    let ops = &history()[..5];
    let (mut s, _) = open(template.path(), small(64 << 20));
    s.persist(&ops[..4]).expect("persist");
    let seg = segments(template.path()).pop().expect("a segment");
    let start = fs::metadata(&seg).expect("stat").len();
    s.persist(&ops[4..]).expect("persist");
    let end = fs::metadata(&seg).expect("stat").len();
    drop(s);
    let full = fs::read(&seg).expect("read");
    let more = op(Some(hs(2, Some(3), 14)), None, entries(15, 2, 3));
    for cut in start..end {
        for trailing_zeros in [0, 24] {
            if trailing_zeros > 0 && full[cut as usize..].iter().all(|&b| b == 0) {
                continue; // only padding was cut: zeros put the record back whole
            }
            let dir = tempfile::tempdir().expect("tempdir");
            copy_tree(template.path(), dir.path());
            let target = wal_dir(dir.path()).join(seg.file_name().expect("name"));
            let mut bytes = full[..cut as usize].to_vec();
            bytes.resize(bytes.len() + trailing_zeros, 0);
            fs::write(&target, bytes).expect("write");
            let (mut s, state) = open(dir.path(), small(64 << 20));
            assert_eq!(state, applied(&ops[..4]), "cut at {cut}");
            assert_eq!(fs::metadata(&target).expect("stat").len(), start, "cut at {cut}");
            s.persist(std::slice::from_ref(&more)).expect("append after repair");
            drop(s);
            let mut expect = ops[..4].to_vec();
            expect.push(more.clone());
            assert_eq!(open(dir.path(), small(64 << 20)).1, applied(&expect), "cut at {cut}");
        }
    }
}

#[test]
fn trailing_zeros_after_a_whole_log_are_not_an_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let ops = history();
    let (mut s, _) = open(dir.path(), small(64 << 20));
    s.persist(&ops).expect("persist");
    drop(s);
    let seg = segments(dir.path()).pop().expect("segment");
    let mut bytes = fs::read(&seg).expect("read");
    bytes.extend_from_slice(&[0; 4096]);
    fs::write(&seg, bytes).expect("write");
    assert_eq!(open(dir.path(), small(64 << 20)).1, applied(&ops));
}

/// Persists `ops` one at a time into `dir`, returning each op's (segment, offset).
fn persist_tracking(
    dir: &Path,
    ops: &[PersistOp],
    options: FileStorageOptions,
) -> Vec<(PathBuf, u64, u64)> {
    let (mut s, _) = open(dir, options);
    let mut at = Vec::new();
    for o in ops {
        let before: Vec<_> = segments(dir);
        let last = before.last().expect("segment").clone();
        let start = fs::metadata(&last).expect("stat").len();
        s.persist(std::slice::from_ref(o)).expect("persist");
        let end = fs::metadata(&last).expect("stat").len();
        at.push((last, start, end));
    }
    at
}

#[test]
fn a_flipped_byte_before_the_tail_is_corruption_and_changes_nothing() {
    let ops = history();
    for (options, victim) in [(small(64 << 20), 3), (small(1), 8)] {
        let dir = tempfile::tempdir().expect("tempdir");
        let at = persist_tracking(dir.path(), &ops, options);
        let (seg, start, end) = &at[victim];
        flip_byte(seg, (start + end) / 2);
        let before = snapshot_of_tree(dir.path());
        assert_corrupt(load_err(dir.path()), seg, Some(*start));
        assert_eq!(snapshot_of_tree(dir.path()), before, "a failed load changed files");
    }
}

#[test]
fn a_missing_middle_segment_is_corruption() {
    let dir = tempfile::tempdir().expect("tempdir");
    persist_tracking(dir.path(), &history()[..4], small(1));
    let segs = segments(dir.path());
    fs::remove_file(&segs[1]).expect("rm");
    assert_corrupt(load_err(dir.path()), &segs[2], Some(0));
}

#[test]
fn a_flipped_byte_in_a_snapshot_file_is_corruption_naming_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let ops = history();
    let (mut s, _) = open(dir.path(), small(64 << 20));
    s.persist(&ops).expect("persist");
    drop(s);
    let snap = dir.path().join("member/snap").join(format!("{:016x}-{:016x}.snap", 3, 40));
    let len = fs::metadata(&snap).expect("the snapshot file").len();
    flip_byte(&snap, len - 3);
    let before = snapshot_of_tree(dir.path());
    assert_corrupt(load_err(dir.path()), &snap, None);
    assert_eq!(snapshot_of_tree(dir.path()), before);
}

#[test]
fn a_temp_file_left_by_a_crash_is_ignored_and_removed() {
    let dir = tempfile::tempdir().expect("tempdir");
    let ops = history();
    let (mut s, _) = open(dir.path(), small(64 << 20));
    s.persist(&ops).expect("persist");
    drop(s);
    let snap_tmp = dir.path().join("member/snap/0000000000000009-0000000000000063.snap.tmp");
    let wal_tmp = wal_dir(dir.path()).join("0000000000000001-0000000000000031.wal.tmp");
    fs::write(&snap_tmp, b"half a snap").expect("write");
    fs::write(&wal_tmp, b"half a segment").expect("write");
    assert_eq!(open(dir.path(), small(64 << 20)).1, applied(&ops));
    assert!(!snap_tmp.exists() && !wal_tmp.exists());
}

#[test]
fn a_second_open_of_the_same_dir_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let first = FileStorage::open(dir.path()).expect("open");
    let err = FileStorage::open(dir.path()).err().expect("second open must fail");
    assert!(matches!(err, DiskError::Locked { .. }), "{err}");
    assert!(err.to_string().contains("is in use by another process"), "{err}");
    drop(first);
    FileStorage::open(dir.path()).expect("open after the first closed");
}

#[test]
fn segments_below_a_durable_snapshot_are_removed() {
    let dir = tempfile::tempdir().expect("tempdir");
    let options = small(1);
    let (mut s, _) = open(dir.path(), options);
    let mut ops = Vec::new();
    for i in 0..10 {
        ops.push(op(Some(hs(1, Some(1), i * 3)), None, entries(i * 3 + 1, 1, 3)));
    }
    // A snapshot keeping the log above it: the entry at 20 sits in a removed segment.
    ops.push(op(None, Some(snapshot(20, 1)), vec![]));
    ops.push(op(Some(hs(1, Some(1), 30)), None, entries(31, 1, 2)));
    for o in &ops {
        s.persist(std::slice::from_ref(o)).expect("persist");
    }
    let segs = segments(dir.path());
    let first = segs[0].file_name().expect("name").to_string_lossy().into_owned();
    assert!(!first.starts_with("0000000000000000-"), "nothing removed: {segs:?}");
    assert!(segs.len() < 10, "{segs:?}");
    drop(s);
    let (mut s, state) = open(dir.path(), options);
    assert_eq!(state, applied(&ops));
    assert_eq!(state.entries.first().map(|e| e.index), Some(21));
    let more = op(Some(hs(2, None, 32)), Some(snapshot(32, 1)), vec![]);
    s.persist(std::slice::from_ref(&more)).expect("persist");
    ops.push(more);
    drop(s);
    assert_eq!(open(dir.path(), options).1, applied(&ops));
    let snaps = files_in(&dir.path().join("member/snap"));
    assert_eq!(snaps.len(), 2, "keeps the current snapshot and the one before: {snaps:?}");
}

/// An older snapshot replayed after the segment holding its entry is gone must still
/// keep the log it kept when it was persisted.
#[test]
fn an_old_snapshot_marker_replays_after_its_entry_is_removed() {
    let dir = tempfile::tempdir().expect("tempdir");
    let options = small(1);
    let ops = vec![
        op(Some(hs(1, Some(1), 10)), None, entries(1, 1, 10)),
        op(Some(hs(1, Some(1), 20)), None, entries(11, 1, 10)),
        op(None, Some(snapshot(5, 1)), vec![]),
        op(None, Some(snapshot(15, 1)), vec![]),
    ];
    persist_tracking(dir.path(), &ops, options);
    let (_, state) = open(dir.path(), options);
    assert_eq!(state, applied(&ops));
    assert_eq!(state.entries.len(), 5);
}

#[derive(Clone, Debug)]
enum Step {
    Vote(u64),
    Append { back: u64, n: u64, new_term: bool },
    Snap { below: u64, consistent: bool },
    Reopen,
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        (1u64..4).prop_map(Step::Vote),
        (0u64..4, 0u64..5, any::<bool>()).prop_map(|(back, n, new_term)| Step::Append {
            back,
            n,
            new_term
        }),
        (0u64..6, any::<bool>()).prop_map(|(below, consistent)| Step::Snap { below, consistent }),
        Just(Step::Reopen),
    ]
}

/// Turns a step into an op that a Raft node could ask for given the current state.
fn to_op(state: &DurableState, step: &Step) -> Option<PersistOp> {
    let hard = state.hard_state;
    let last = state.last_index();
    let last_term =
        state.entries.last().map(|e| e.term).or(state.snapshot.as_ref().map(|s| s.meta.term));
    let base = state.snapshot.as_ref().map_or(0, |s| s.meta.index);
    match *step {
        Step::Vote(voter) => {
            Some(op(Some(hs(hard.term + 1, Some(voter), hard.commit)), None, vec![]))
        }
        Step::Append { back, n, new_term } => {
            let term = hard.term.max(last_term.unwrap_or(0)) + u64::from(new_term);
            let first = last.saturating_sub(back).max(base) + 1;
            let hs = hs(term, hard.vote, hard.commit.min(first - 1));
            Some(op(Some(hs), None, entries(first, term, n)))
        }
        Step::Snap { below, consistent } => {
            let index = last.saturating_sub(below).max(base);
            let term = match state.entries.iter().find(|e| e.index == index) {
                Some(e) if consistent => e.term,
                _ => hard.term.max(1) + 1,
            };
            let hs = hs(hard.term.max(term), hard.vote, index.max(hard.commit));
            Some(op(Some(hs), Some(snapshot(index, term)), vec![]))
        }
        Step::Reopen => None,
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn any_history_reloads_as_applied(
        steps in prop::collection::vec(step(), 1..40),
        segment_bytes_max in prop_oneof![Just(1u64), 200u64..2000, Just(64u64 << 20)],
        batch in 1usize..4,
    ) {
        let dir = tempfile::tempdir().expect("tempdir");
        let options = small(segment_bytes_max);
        let (mut s, _) = open(dir.path(), options);
        let mut model = DurableState::default();
        let mut pending = Vec::new();
        for st in &steps {
            match to_op(&model, st) {
                Some(o) => {
                    model.apply(&o);
                    pending.push(o);
                    if pending.len() >= batch {
                        s.persist(&pending).expect("persist");
                        pending.clear();
                    }
                }
                None => {
                    s.persist(&pending).expect("persist");
                    pending.clear();
                    drop(s);
                    let (again, state) = open(dir.path(), options);
                    prop_assert_eq!(&state, &model);
                    s = again;
                }
            }
        }
        s.persist(&pending).expect("persist");
        drop(s);
        prop_assert_eq!(open(dir.path(), options).1, model);
    }
}

/// Not a test: how many single-entry persists per second this disk takes (each one
/// fdatasynced). Run by hand:
/// `cargo test -p detcd-node --release --test disk -- --ignored --nocapture persist_rate`
/// (set DETCD_BENCH_DIR to measure a disk other than the temp dir's).
#[test]
#[ignore]
fn persist_rate() {
    let base = std::env::var_os("DETCD_BENCH_DIR").map(PathBuf::from);
    let dir = match &base {
        Some(b) => tempfile::tempdir_in(b).expect("tempdir"),
        None => tempfile::tempdir().expect("tempdir"),
    };
    let (mut s, _) = open(dir.path(), FileStorageOptions::default());
    let n = 2000u64;
    let started = std::time::Instant::now();
    for i in 1..=n {
        let e =
            Entry { term: 1, index: i, kind: EntryKind::Normal, data: Bytes::from(vec![7u8; 256]) };
        s.persist(&[op(Some(hs(1, Some(1), i - 1)), None, vec![e])]).expect("persist");
    }
    let secs = started.elapsed().as_secs_f64();
    println!(
        "{n} persists of one 256-byte entry in {secs:.3} s: {:.0} persists/s ({:.1} us each) in {}",
        n as f64 / secs,
        secs * 1e6 / n as f64,
        dir.path().display()
    );
}

/// What a kill -9 leaves of a live storage's dir: its files as they are now (the test
/// process still holds whatever the storage kept in memory).
fn killed_copy(from: &Path) -> tempfile::TempDir {
    let to = tempfile::tempdir().expect("tempdir");
    copy_tree(from, to.path());
    to
}

#[test]
fn holding_unsynced_writes_loses_nothing_that_persist_returned() {
    let dir = tempfile::tempdir().expect("tempdir");
    let held = FileStorageOptions { hold_unsynced: true, ..small(300) };
    let ops = history();
    let (mut s, _) = open(dir.path(), held);
    for n in 0..ops.len() {
        s.persist(&ops[n..n + 1]).expect("persist");
        let copy = killed_copy(dir.path());
        let (_, state) = open(copy.path(), FileStorageOptions::default());
        assert_eq!(state, applied(&ops[..=n]), "after {} ops", n + 1);
    }
}

#[test]
fn acking_before_fsync_loses_acknowledged_records_on_kill_but_not_on_close() {
    let dir = tempfile::tempdir().expect("tempdir");
    let unsafe_disk =
        FileStorageOptions { hold_unsynced: true, ack_before_fsync: true, ..small(64 << 20) };
    // No snapshots: only the WAL's held-back tail is at stake.
    let ops: Vec<PersistOp> = history().into_iter().take(5).collect();
    let (mut s, _) = open(dir.path(), unsafe_disk);
    s.persist(&ops).expect("persist");
    let copy = killed_copy(dir.path());
    let (_, after_kill) = open(copy.path(), FileStorageOptions::default());
    assert_eq!(after_kill, DurableState::default(), "the kill kept held-back records");
    drop(s);
    let (_, after_close) = open(dir.path(), FileStorageOptions::default());
    assert_eq!(after_close, applied(&ops));
}

#[test]
fn a_commit_only_batch_waits_for_the_next_fsync_and_nothing_else_does() {
    let dir = tempfile::tempdir().expect("tempdir");
    // Held-back bytes model the page cache: a kill loses exactly what was not fsynced.
    let held = FileStorageOptions { hold_unsynced: true, ..small(64 << 20) };
    let ops = history();
    let (mut s, _) = open(dir.path(), held);
    s.persist(&ops[..3]).expect("persist");
    let synced = applied(&ops[..3]);
    assert_eq!(synced.hard_state, hs(1, Some(1), 8));

    let commit_only = op(Some(hs(1, Some(1), 20)), None, vec![]);
    s.persist(std::slice::from_ref(&commit_only)).expect("persist");
    let copy = killed_copy(dir.path());
    let (_, after_kill) = open(copy.path(), FileStorageOptions::default());
    assert_eq!(after_kill, synced, "a commit-only batch was fsynced");

    // A new vote is never left behind, even with an unchanged commit.
    let vote = op(Some(hs(2, Some(2), 20)), None, vec![]);
    s.persist(std::slice::from_ref(&vote)).expect("persist");
    let copy = killed_copy(dir.path());
    let (_, after_kill) = open(copy.path(), FileStorageOptions::default());
    let mut all = ops[..3].to_vec();
    all.extend([commit_only, vote]);
    assert_eq!(after_kill, applied(&all), "the vote's fsync left the earlier commit behind");
}

#[test]
fn a_batch_reports_its_fsync_and_a_commit_only_batch_reports_none() {
    let dir = tempfile::tempdir().expect("tempdir");
    let ops = history();
    let (mut s, _) = open(dir.path(), FileStorageOptions::default());
    s.persist(&ops[..3]).expect("persist");
    assert!(s.last_sync().is_some(), "a batch with entries reported no fsync");
    s.persist(&[op(Some(hs(1, Some(1), 20)), None, vec![])]).expect("persist");
    assert_eq!(s.last_sync(), None, "a commit-only batch reported an fsync");
    s.persist(&[op(Some(hs(2, Some(2), 20)), None, vec![])]).expect("persist");
    assert!(s.last_sync().is_some(), "a new vote reported no fsync");
}

/// Snapshot files present in a data dir.
fn snap_files(dir: &Path) -> Vec<PathBuf> {
    files_in(&dir.join("member/snap"))
}

/// A snapshot this member took is left out of the WAL until its image is durable; a
/// kill at any point before, while or after the image is written restarts to a state
/// replay agrees with, and the WAL's segments stay until the snapshot's record is in.
#[test]
fn a_snapshot_taken_here_waits_for_its_image_and_a_crash_at_any_point_restarts() {
    let dir = tempfile::tempdir().expect("tempdir");
    let options = small(1);
    let (mut s, _) = open(dir.path(), options);
    let mut log = Vec::new();
    for i in 0..8 {
        log.push(op(Some(hs(1, Some(1), i * 3)), None, entries(i * 3 + 1, 1, 3)));
    }
    for o in &log {
        s.persist_deferring(std::slice::from_ref(o)).expect("persist");
    }
    let segs_before = segments(dir.path());
    // The snapshot at 20 (taken here: entry 20 is in the log) and more entries.
    let own = op(Some(hs(1, Some(1), 24)), Some(snapshot(20, 1)), entries(25, 1, 2));
    let deferred = s.persist_deferring(std::slice::from_ref(&own)).expect("persist");
    assert_eq!(deferred.as_ref().map(|d| &d.meta), Some(&snapshot(20, 1).meta));
    let without_snapshot = op(own.hard_state, None, own.entries.clone());
    let mut before = log.clone();
    before.push(without_snapshot);
    assert!(snap_files(dir.path()).is_empty(), "the image was written with the batch");
    assert!(segments(dir.path()).len() > segs_before.len(), "segments were released early");

    // Killed before the image: the entries replay, no snapshot.
    let copy = killed_copy(dir.path());
    assert_eq!(open(copy.path(), options).1, applied(&before));

    // Killed while it is written: a temp file, removed on load.
    let copy = killed_copy(dir.path());
    let tmp = copy.path().join("member/snap/0000000000000001-0000000000000014.snap.tmp");
    fs::write(&tmp, b"a partial image").expect("write");
    assert_eq!(open(copy.path(), options).1, applied(&before));
    assert!(!tmp.exists());

    // Killed after the image is durable but before its record: the file is ignored
    // (and removed), the entries replay.
    let image = s.image_writer().expect("a file storage writes images");
    image.write(deferred.as_ref().expect("deferred")).expect("write image");
    assert_eq!(snap_files(dir.path()).len(), 1);
    let copy = killed_copy(dir.path());
    assert_eq!(open(copy.path(), options).1, applied(&before));
    assert!(snap_files(copy.path()).is_empty(), "an image without its record stays");

    // Recorded: a restart starts from the snapshot, and the segments below it are gone.
    s.adopt_snapshot(&snapshot(20, 1).meta).expect("adopt");
    let mut after = before.clone();
    after.push(op(None, Some(snapshot(20, 1)), vec![]));
    assert!(segments(dir.path()).len() < segs_before.len(), "nothing released");
    let copy = killed_copy(dir.path());
    let (_, state) = open(copy.path(), options);
    assert_eq!(state, applied(&after));
    assert_eq!(state.snapshot.as_ref().map(|s| s.data.clone()), Some(snapshot(20, 1).data));
    assert_eq!(state.entries.first().map(|e| e.index), Some(21));
}

/// A snapshot installed from a leader (its entry is not in this log) is written with
/// its batch: its entries exist nowhere else here.
#[test]
fn an_installed_snapshot_is_never_deferred() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (mut s, _) = open(dir.path(), small(64 << 20));
    let ops = vec![
        op(Some(hs(1, Some(1), 5)), None, entries(1, 1, 5)),
        op(Some(hs(2, None, 40)), Some(snapshot(40, 2)), vec![]),
    ];
    for o in &ops {
        let deferred = s.persist_deferring(std::slice::from_ref(o)).expect("persist");
        assert!(deferred.is_none(), "deferred {:?}", deferred.map(|d| d.meta));
    }
    assert_eq!(snap_files(dir.path()).len(), 1);
    let copy = killed_copy(dir.path());
    assert_eq!(open(copy.path(), small(64 << 20)).1, applied(&ops));
}

/// An image finished after a newer snapshot was installed is not recorded: its record
/// would replay over the newer snapshot and drop the log above it.
#[test]
fn an_image_overtaken_by_an_installed_snapshot_is_not_recorded() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (mut s, _) = open(dir.path(), small(64 << 20));
    let mut ops = vec![op(Some(hs(1, Some(1), 10)), None, entries(1, 1, 10))];
    s.persist_deferring(&ops).expect("persist");
    let own = op(None, Some(snapshot(8, 1)), vec![]);
    let deferred = s.persist_deferring(std::slice::from_ref(&own)).expect("persist");
    let deferred = deferred.expect("a snapshot taken here is deferred");
    let installed = op(Some(hs(2, None, 30)), Some(snapshot(30, 2)), entries(31, 2, 2));
    assert!(s.persist_deferring(std::slice::from_ref(&installed)).expect("persist").is_none());
    ops.push(installed);
    s.image_writer().expect("image writer").write(&deferred).expect("write image");
    s.adopt_snapshot(&deferred.meta).expect("adopt is a no-op");
    drop(s);
    assert_eq!(open(dir.path(), small(64 << 20)).1, applied(&ops));
}
