//! What `detcd replay` tells a student is in plain words: no Rust type or variant names
//! (`LeaderMissingCommitted { index: 12, term: 1 }`, `IsolateLeader`, `LatencyDist`),
//! times in seconds, and a Raft safety violation that names the client write it lost.

use std::process::Command;

fn replay(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_detcd"))
        .arg("replay")
        .args(args)
        .output()
        .expect("detcd runs");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.code().is_some_and(|c| c <= 1), "{text}");
    text
}

/// Rust names that once leaked into user-facing output.
const RUST_NAMES: [&str; 9] = [
    "LeaderMissingCommitted",
    "CommittedEntryChanged",
    "IsolateLeader",
    "NetworkOptions",
    "DiskOptions",
    "LatencyDist",
    "NoCommit",
    "NotConverged",
    "b\"",
];

#[test]
fn a_broken_promise_is_told_in_words() {
    let text = replay(&["lying-fsync", "--seed", "1", "-v"]);
    for name in RUST_NAMES {
        assert!(!text.contains(name), "{name} in:\n{text}");
    }
    // The promise checks catch a lying disk at the first promise it breaks, long
    // before the lost write it leads to (that explanation is unit-tested in
    // harness/src/run/lost_write.rs).
    assert!(
        text.contains("raft-safety: safety violation at 0.119336s on node 2: it granted node 3 its vote in term 1 before that vote was durable (its disk held term 0, vote none)"),
        "{text}"
    );
    assert!(text.contains("disk: fsync takes 0.005s-0.03s"), "{text}");
    assert!(!text.contains("us on node"), "one time unit: {text}");
}

#[test]
fn partitions_are_told_in_words() {
    let text = replay(&["leader-isolation", "--seed", "1", "-v"]);
    for name in RUST_NAMES {
        assert!(!text.contains(name), "{name} in:\n{text}");
    }
    assert!(text.contains("the leader cut off from the others"), "{text}");
}
