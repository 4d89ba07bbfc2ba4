//! `detcd bench` from the outside: its argument errors (exit 2, a message naming the
//! flag), an unreachable endpoint (exit 1), and a short run of every load against a real
//! three-member cluster, read back from `--json`.

mod support;

use serde_json::Value;
use std::process::{Command, Output};
use std::time::Duration;
use support::cluster::{free_port, Cluster};
use support::process::run_bounded;
use support::tools::{installed, Target, ETCD};

const BENCH_LIMIT: Duration = Duration::from_secs(60);

fn bench(args: &[&str]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_detcd"));
    cmd.arg("bench").args(args);
    run_bounded(cmd, None, BENCH_LIMIT)
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn bad_arguments_exit_2_naming_the_flag() {
    for (args, says) in [
        (&["put", "--clients", "0"][..], "--clients must be between 1 and 10000"),
        (&["txn-put", "--txn-ops", "2"], "--txn-ops 2 needs a --key-space-size of at least 2"),
        (&["watch", "--val-size", "8"], "--val-size must be at least 16 for watch"),
        (&["lease-keepalive", "--ttl", "0"], "--ttl must be between 1 and 86400"),
        (
            &["range", "--endpoints", "https://127.0.0.1:2379"],
            "endpoint https://127.0.0.1:2379: TLS is not supported",
        ),
        (&["put", "--total", "0"], "--total must be at least 1"),
    ] {
        let out = bench(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
        let err = stderr(&out);
        assert!(err.starts_with("detcd bench: ") && err.contains(says), "{args:?}: {err}");
    }
    // clap's own refusals (an unknown operation or flag) also exit 2.
    for args in [&["scan"][..], &["put", "--consistency", "s"], &["watch", "--txn-ops", "2"]] {
        assert_eq!(bench(args).status.code(), Some(2), "{args:?}");
    }
}

#[test]
fn an_unreachable_endpoint_fails_with_exit_1() {
    // A port just seen free: nothing listens there.
    let endpoint = format!("127.0.0.1:{}", free_port());
    let out = bench(&["put", "--endpoints", &endpoint, "--total", "1"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains(&format!("cannot connect to {endpoint}")), "{}", stderr(&out));
}

/// Runs a load with `--json` and checks what every summary must hold: the requested
/// count answered without error, percentiles in order, and histogram rows adding up.
fn run_json(cluster: &Cluster, args: &[&str], answers: u64) -> Value {
    let endpoints = cluster.endpoints();
    let mut all = args.to_vec();
    all.extend(["--endpoints", &endpoints, "--json"]);
    let out = bench(&all);
    assert!(out.status.success(), "{all:?}: {}", stderr(&out));
    let summary: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{all:?}: not JSON ({e}): {:?}", out.stdout));
    assert_eq!(summary["errors"], 0, "{all:?}: {summary}");
    assert_eq!(summary["ok"], answers, "{all:?}: {summary}");
    let l = &summary["latency_ms"];
    let ms = |name: &str| l[name].as_f64().unwrap_or_else(|| panic!("no {name} in {summary}"));
    assert!(ms("min") > 0.0, "{summary}");
    for pair in [["min", "p50"], ["p50", "p90"], ["p90", "p99"], ["p99", "p99.9"], ["p99.9", "max"]]
    {
        assert!(ms(pair[0]) <= ms(pair[1]), "{pair:?} out of order in {summary}");
    }
    let rows = summary["histogram"].as_array().expect("histogram rows");
    let counted: u64 = rows.iter().map(|r| r["count"].as_u64().expect("a count")).sum();
    assert_eq!(counted, answers, "{summary}");
    assert!(summary["requests_per_sec"].as_f64().is_some_and(|r| r > 0.0), "{summary}");
    summary
}

#[test]
fn every_load_runs_against_a_cluster() {
    let t = Target::from_env();
    if t == Target::Etcd && !installed(&[ETCD]) {
        return;
    }
    let c = Cluster::start(t, 3);
    let s = run_json(
        &c,
        &["put", "--target-leader", "--clients", "8", "--conns", "2", "--total", "400"],
        400,
    );
    assert_eq!(s["op"], "put");
    assert_eq!(s["endpoints"].as_array().map(Vec::len), Some(1), "--target-leader: {s}");
    let s = run_json(
        &c,
        &["range", "--clients", "4", "--conns", "3", "--total", "300", "--consistency", "s"],
        300,
    );
    assert_eq!(s["endpoints"].as_array().map(Vec::len), Some(3), "all members: {s}");
    run_json(&c, &["range", "--clients", "4", "--total", "200", "00000000"], 200);
    let s = run_json(
        &c,
        &[
            "txn-put",
            "--clients",
            "4",
            "--total",
            "100",
            "--txn-ops",
            "3",
            "--key-space-size",
            "50",
        ],
        100,
    );
    assert_eq!(s["op"], "txn-put");
    // Every one of 100 puts reaches each of 3 watchers.
    let s = run_json(
        &c,
        &[
            "watch",
            "--clients",
            "3",
            "--put-clients",
            "2",
            "--total",
            "100",
            "--key-space-size",
            "10",
        ],
        300,
    );
    assert_eq!(s["op"], "watch");
    run_json(&c, &["lease-keepalive", "--clients", "4", "--conns", "2", "--total", "200"], 200);
    // --duration alone bounds a run by time.
    let endpoints = c.endpoints();
    let out = bench(&["put", "--endpoints", &endpoints, "--duration", "1s", "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let s: Value = serde_json::from_slice(&out.stdout).expect("JSON");
    let secs = s["duration_secs"].as_f64().expect("duration");
    assert!((0.9..5.0).contains(&secs), "a 1s run took {secs}s: {s}");
    assert!(s["ok"].as_u64().is_some_and(|n| n > 0), "{s}");
    // --rate spaces the requests: 100 puts at 200/s take 0.5 s less one interval,
    // however many clients share them; unpaced they take a few milliseconds each.
    let s = run_json(&c, &["put", "--clients", "8", "--total", "100", "--rate", "200"], 100);
    let secs = s["duration_secs"].as_f64().expect("duration");
    assert!(secs >= 0.49, "100 puts at --rate 200 took {secs}s: {s}");
    assert!(s["requests_per_sec"].as_f64().is_some_and(|r| r <= 205.0), "{s}");
    // A run whose --duration ends before a slot stops at its end instead of waiting.
    let out = bench(&[
        "put",
        "--endpoints",
        &endpoints,
        "--duration",
        "1s",
        "--rate",
        "1",
        "--clients",
        "4",
        "--json",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let s: Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(s["ok"], 1, "one slot in a second at --rate 1: {s}");
    let secs = s["duration_secs"].as_f64().expect("duration");
    assert!(secs < 2.0, "a 1s run at --rate 1 took {secs}s: {s}");
}
