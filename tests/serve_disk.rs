//! Disk faults through the `detcd serve` binary: a torn WAL tail is cut away with a
//! warning; damage anywhere else (the middle of a WAL segment, a snapshot) stops the
//! member before it changes anything; a data dir in use and bad flags are refused.

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};
use support::cluster::Cluster;
use support::grpc;
use support::process::run_bounded;
use support::tools::Target;

/// How long a refused start may take.
const REFUSE_LIMIT: Duration = Duration::from_secs(10);
const KEYS: usize = 20;

fn key(i: usize) -> String {
    format!("disk/{i:03}")
}

fn value(i: usize) -> Vec<u8> {
    format!("value-{i}").into_bytes()
}

/// Puts `KEYS` keys through member 0, each acknowledged.
fn write_keys(c: &Cluster, rt: &tokio::runtime::Runtime) {
    rt.block_on(async {
        let ch = grpc::channel(&c.endpoint(0));
        for i in 0..KEYS {
            grpc::put(&ch, &key(i), &value(i)).await.unwrap_or_else(|s| panic!("put {i}: {s:?}"));
        }
    });
}

/// The value of each of the `KEYS` keys member 0 serves.
fn read_keys(c: &Cluster, rt: &tokio::runtime::Runtime) -> Vec<Option<Vec<u8>>> {
    rt.block_on(async {
        let ch = grpc::channel(&c.endpoint(0));
        let mut values = Vec::new();
        for i in 0..KEYS {
            values.push(grpc::get(&ch, &key(i)).await.unwrap_or_else(|s| panic!("get {i}: {s:?}")));
        }
        values
    })
}

/// Files under `dir` whose names end in `ext`, sorted by name.
fn files(dir: &Path, ext: &str) -> Vec<PathBuf> {
    let mut found: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("read {}: {e}", dir.display()))
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == ext))
        .collect();
    found.sort();
    found
}

fn wal_dir(c: &Cluster) -> PathBuf {
    c.data_dir(0).join("member").join("wal")
}

fn snap_dir(c: &Cluster) -> PathBuf {
    c.data_dir(0).join("member").join("snap")
}

/// Every file under `dir` with its bytes.
fn contents(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut all = BTreeMap::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for entry in std::fs::read_dir(&d).unwrap_or_else(|e| panic!("read {}: {e}", d.display())) {
            let path = entry.expect("dir entry").path();
            if path.is_dir() {
                todo.push(path);
            } else {
                let bytes = std::fs::read(&path).expect("read file");
                all.insert(path, bytes);
            }
        }
    }
    all
}

/// Flips every bit of the 8 bytes at the middle of `path`.
fn flip_middle(path: &Path) {
    let mut bytes = std::fs::read(path).expect("read");
    let mid = bytes.len() / 2;
    for b in &mut bytes[mid..mid + 8] {
        *b = !*b;
    }
    std::fs::write(path, bytes).expect("write");
}

fn stderr(out: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&out.stderr), String::from_utf8_lossy(&out.stdout))
}

/// Starts member 0 again by itself, expecting it to refuse; its output.
fn refused_start(c: &Cluster) -> String {
    let started = Instant::now();
    let out = run_bounded(c.serve_command(0), None, REFUSE_LIMIT);
    let text = stderr(&out);
    assert!(!out.status.success(), "member started on a damaged data dir:\n{text}");
    println!("refused in {:?} ({}): {}", started.elapsed(), out.status, text.trim_end());
    text
}

/// Asserts that `dir` holds exactly `before`, naming the files that changed.
fn unchanged(dir: &Path, before: &BTreeMap<PathBuf, Vec<u8>>) {
    let after = contents(dir);
    let changed: BTreeSet<String> = before
        .keys()
        .chain(after.keys())
        .filter(|p| before.get(*p) != after.get(*p))
        .map(|p| p.display().to_string())
        .collect();
    assert!(changed.is_empty(), "a refused start changed the data dir: {changed:?}");
}

fn file_name(path: &Path) -> String {
    path.file_name().expect("file name").to_string_lossy().into_owned()
}

/// Keys written, member killed, the last WAL segment's end damaged as a write cut
/// short leaves it; the member starts, says it cut the tail, and serves every key.
fn torn_tail(damage: impl Fn(&Path), what: &str) {
    let rt = grpc::runtime();
    let mut c = Cluster::start(Target::Detcd, 1);
    write_keys(&c, &rt);
    c.kill(0);
    let last = files(&wal_dir(&c), "wal").pop().expect("a WAL segment");
    damage(&last);
    c.restart(0);
    let log = c.log(0);
    let name = file_name(&last);
    assert!(
        log.lines().any(|l| l.contains("WARN") && l.contains("torn") && l.contains(&name)),
        "{what}: no warning naming {name}:\n{log}"
    );
    let values = read_keys(&c, &rt);
    for (i, v) in values.iter().enumerate() {
        // Every put was acknowledged; the last one's record may be the one cut away.
        if i + 1 < KEYS || v.is_some() {
            assert_eq!(v.as_deref(), Some(value(i).as_slice()), "{what}: key {i} after restart");
        }
    }
    // And it still takes writes.
    rt.block_on(async { grpc::put(&grpc::channel(&c.endpoint(0)), "after", b"x").await })
        .unwrap_or_else(|s| panic!("{what}: put after restart: {s:?}"));
}

#[test]
fn torn_tail_of_garbage_is_cut_away() {
    torn_tail(
        |path| {
            // The start of a frame announcing 64 bytes, of which only 20 arrived.
            let mut bytes = std::fs::read(path).expect("read");
            let field = 64u64 | (0x80u64 << 56);
            bytes.extend_from_slice(&field.to_le_bytes());
            bytes.extend_from_slice(&[0xab; 20]);
            std::fs::write(path, bytes).expect("write");
        },
        "garbage appended",
    );
}

#[test]
fn truncated_last_record_is_cut_away() {
    torn_tail(
        |path| {
            let len = std::fs::metadata(path).expect("metadata").len();
            let file = std::fs::OpenOptions::new().write(true).open(path).expect("open");
            file.set_len(len - 3).expect("truncate");
        },
        "3 bytes truncated",
    );
}

#[test]
fn flipped_bytes_inside_the_wal_are_refused() {
    let rt = grpc::runtime();
    let mut c = Cluster::start(Target::Detcd, 1);
    write_keys(&c, &rt);
    c.kill(0);
    let segment = files(&wal_dir(&c), "wal").pop().expect("a WAL segment");
    flip_middle(&segment);
    let before = contents(c.data_dir(0));
    let text = refused_start(&c);
    let name = file_name(&segment);
    assert!(text.contains(&name) && text.contains("offset"), "no file and offset in:\n{text}");
    unchanged(c.data_dir(0), &before);
}

#[test]
fn flipped_bytes_in_a_snapshot_are_refused() {
    let rt = grpc::runtime();
    let mut c = Cluster::start_with(Target::Detcd, 1, &["--snapshot-count", "10"]);
    write_keys(&c, &rt);
    let deadline = Instant::now() + Duration::from_secs(10);
    while files(&snap_dir(&c), "snap").is_empty() {
        assert!(Instant::now() < deadline, "no snapshot after {KEYS} writes\n{}", c.logs());
        std::thread::sleep(Duration::from_millis(50));
    }
    // A snapshot the member took itself is recorded in the WAL only once its file is
    // durable, and a file without its record is never read; a clean stop waits for the
    // image in flight and records it. Every file is damaged, so the recorded one is.
    c.stop(0);
    let snaps = files(&snap_dir(&c), "snap");
    assert!(!snaps.is_empty(), "the snapshot files are gone after a clean stop");
    for snap in &snaps {
        flip_middle(snap);
    }
    let before = contents(c.data_dir(0));
    let text = refused_start(&c);
    assert!(
        snaps.iter().any(|snap| text.contains(&file_name(snap))),
        "no snapshot file named in:\n{text}"
    );
    unchanged(c.data_dir(0), &before);
}

#[test]
fn second_member_on_a_data_dir_in_use_is_refused() {
    let c = Cluster::start(Target::Detcd, 1);
    let text = refused_start(&c);
    assert!(text.contains("in use"), "no 'in use' in:\n{text}");
    // The first one is unharmed.
    let rt = grpc::runtime();
    rt.block_on(async { grpc::put(&grpc::channel(&c.endpoint(0)), "still", b"here").await })
        .unwrap_or_else(|s| panic!("put after the refused start: {s:?}"));
}

/// Runs `detcd serve` with `args`, expecting exit code 2 and nothing on disk.
fn bad_flags(args: &[&str]) -> String {
    let dir = tempfile::tempdir().expect("temp dir");
    let data_dir = dir.path().join("never.etcd");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_detcd"));
    cmd.arg("serve").arg("--data-dir").arg(&data_dir).args(args);
    let out = run_bounded(cmd, None, REFUSE_LIMIT);
    let text = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{args:?}: expected exit code 2:\n{text}");
    assert!(!data_dir.exists(), "{args:?}: created {}", data_dir.display());
    text
}

#[test]
fn bad_flags_exit_2_and_create_nothing() {
    let text = bad_flags(&["--no-such-flag"]);
    assert!(text.contains("--no-such-flag"), "unknown flag not named:\n{text}");

    // The member's name is not in --initial-cluster.
    let peer = format!("http://127.0.0.1:{}", support::cluster::free_port());
    let client = format!("http://127.0.0.1:{}", support::cluster::free_port());
    let text = bad_flags(&[
        "--name",
        "m0",
        "--initial-cluster",
        &format!("other={peer}"),
        "--initial-advertise-peer-urls",
        &peer,
        "--listen-peer-urls",
        &peer,
        "--listen-client-urls",
        &client,
        "--advertise-client-urls",
        &client,
    ]);
    assert!(text.contains("m0") && text.contains("initial-cluster"), "unclear message:\n{text}");

    // The advertised peer URL is not the one --initial-cluster gives this member.
    let other = format!("http://127.0.0.1:{}", support::cluster::free_port());
    let text = bad_flags(&[
        "--name",
        "m0",
        "--initial-cluster",
        &format!("m0={other}"),
        "--initial-advertise-peer-urls",
        &peer,
        "--listen-peer-urls",
        &peer,
        "--listen-client-urls",
        &client,
        "--advertise-client-urls",
        &client,
    ]);
    assert!(text.contains("initial-cluster"), "unclear message:\n{text}");
}
