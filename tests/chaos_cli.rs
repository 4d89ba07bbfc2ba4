//! `detcd chaos` end to end: argument errors exit 2 with a clear message, and a short
//! run with kills, pauses and partitions against a real detcd cluster (and a real etcd
//! one, when installed) passes every check and leaves no member behind; the negative
//! controls (lost data dirs, a WAL that acknowledges before fsync) fail the checks.

mod support;

use std::process::Command;
use std::time::Duration;
use support::process::run_bounded;
use support::tools::{installed, ETCD};

const RUN_LIMIT: Duration = Duration::from_secs(240);

fn chaos(args: &[&str]) -> std::process::Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_detcd"));
    cmd.arg("chaos").args(args);
    run_bounded(cmd, None, RUN_LIMIT)
}

#[test]
fn bad_arguments_exit_2_saying_what_is_wrong() {
    let cases: [(&[&str], &str); 5] = [
        (&["--members", "0"], "a cluster needs 1 to 7 members"),
        (&["--faults", "kill,fire"], "unknown fault \"fire\""),
        (&["--faults", ","], "--faults is empty"),
        (&["--duration", "1s"], "--duration 1s"),
        (&["--clients", "0"], "--clients 0"),
    ];
    for (args, expected) in cases {
        let out = chaos(args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(expected), "{args:?}: expected {expected:?} in {stderr}");
    }
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_detcd"));
    cmd.args(["chaos", "--target", "etcd"]).env("PATH", "/nonexistent");
    let out = run_bounded(cmd, None, RUN_LIMIT);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no `etcd` on PATH"));
}

fn members_left(dir: &str) -> Vec<String> {
    let Ok(procs) = std::fs::read_dir("/proc") else { return Vec::new() };
    procs
        .flatten()
        .filter_map(|p| std::fs::read(p.path().join("cmdline")).ok())
        .map(|c| String::from_utf8_lossy(&c).replace('\0', " "))
        .filter(|c| c.contains(dir))
        .collect()
}

fn short_run(target: &str) {
    let out_dir = tempfile::Builder::new().prefix("detcd-chaos-test-").tempdir().unwrap();
    let out_path = out_dir.path().to_str().unwrap().to_string();
    let html = out_dir.path().join("report.html");
    let out = chaos(&[
        "--target",
        target,
        "--members",
        "3",
        "--duration",
        "10s",
        "--faults",
        "kill,pause,partition",
        "--json",
        "--out",
        &out_path,
        "--html",
        html.to_str().unwrap(),
    ]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{target}: {stdout}\n{stderr}");
    let report: serde_json::Value = serde_json::from_str(&stdout).expect("one JSON document");
    assert_eq!(report["target"], target);
    assert!(report["operations"].as_u64().unwrap() > 50, "{stdout}");
    assert!(report["acknowledged_writes"].as_u64().unwrap() > 10, "{stdout}");
    let checks: Vec<&str> =
        report["checks"].as_array().unwrap().iter().map(|c| c["name"].as_str().unwrap()).collect();
    for name in ["linearizability", "watch", "acknowledged-writes", "revisions", "convergence"] {
        assert!(checks.contains(&name), "{name} not checked: {checks:?}");
    }
    assert!(out_dir.path().join("history.json").exists());
    assert!(std::fs::read_to_string(&html).unwrap().contains("Verdicts"));
    // The members ran with their logs in the out dir; none may outlive the run.
    let left = members_left(&out_path);
    assert!(left.is_empty(), "members left running: {left:?}");
}

#[test]
fn a_short_run_against_detcd_passes_and_cleans_up() {
    short_run("detcd");
}

#[test]
fn a_short_run_against_etcd_passes_and_cleans_up() {
    if installed(&[ETCD]) {
        short_run("etcd");
    }
}

/// Runs a negative control alone: the run must fail on lost acknowledged writes and
/// a non-linearizable history, keep the data dirs and leave no member running.
fn negative_control_is_caught(fault: &str) {
    let out_dir = tempfile::Builder::new().prefix("detcd-chaos-test-").tempdir().unwrap();
    let out_path = out_dir.path().to_str().unwrap().to_string();
    let out = chaos(&["--duration", "10s", "--faults", fault, "--json", "--out", &out_path]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    let report: serde_json::Value = serde_json::from_str(&stdout).expect("one JSON document");
    let failed: Vec<&str> = report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["verdict"] == "fail")
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert!(failed.contains(&"acknowledged-writes"), "{fault}: {failed:?}\n{stdout}");
    assert!(failed.contains(&"linearizability"), "{fault}: {failed:?}");
    // A failing run keeps the members' data dirs as evidence.
    assert!(out_dir.path().join("data").exists());
    assert!(members_left(&out_path).is_empty());
}

/// Losing every data dir in a whole-cluster crash loses acknowledged writes.
#[test]
fn losing_every_data_dir_is_caught() {
    negative_control_is_caught("wipe-all");
}

/// A WAL that acknowledges records before fsyncing them (`detcd serve
/// --test-unsafe-ack-before-fsync`, with unsynced bytes lost on kill) loses
/// acknowledged writes when the whole cluster is killed.
#[test]
fn acknowledging_before_fsync_is_caught() {
    negative_control_is_caught("ack-before-fsync");
}
