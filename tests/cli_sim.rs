//! The `detcd sim`, `replay` and `shrink` commands as a user runs them: exit codes,
//! the summary table, JSON output, replay equal to the sweep's run, and written files.
//! Only cheap scenarios at few seeds: these run in CI's simulation budget.

mod cli_support;
use cli_support::{detcd, scratch, stderr, stdout};

/// The hex trace hash `replay` prints.
fn printed_hash(text: &str) -> String {
    text.lines()
        .find_map(|l| l.strip_prefix("trace hash: "))
        .unwrap_or_else(|| panic!("no trace hash in {text}"))
        .trim()
        .to_string()
}

#[test]
fn sim_passes_with_a_summary_table() {
    let out = detcd(&["sim", "happy-path", "--seeds", "2", "--jobs", "2"]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{text}{}", stderr(&out));
    let mut lines = text.lines();
    let banner = lines.next().expect("a banner");
    assert!(banner.starts_with("detcd sim: first seed 1 (given)"), "{banner}");
    let header = lines.next().expect("a table");
    for column in ["scenario", "seeds", "passed", "failed", "ops checked", "sim time", "seeds/min"]
    {
        assert!(header.contains(column), "{header}");
    }
    let row: Vec<&str> = text
        .lines()
        .find(|l| l.starts_with("happy-path"))
        .expect("a row")
        .split_whitespace()
        .collect();
    assert_eq!(&row[1..4], ["2", "2", "0"], "{text}");
}

#[test]
fn json_output_parses() {
    let out = detcd(&["sim", "leader-transfer", "--seed", "5", "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let doc: serde_json::Value = serde_json::from_str(&stdout(&out)).expect("one JSON document");
    assert_eq!(doc["passed"], true);
    let s = &doc["scenarios"][0];
    assert_eq!(s["name"], "leader-transfer");
    assert_eq!(s["seeds"], serde_json::json!([5]));
    assert_eq!(s["passed"], 1);
    assert!(s["operations_checked"].as_u64().expect("a count") > 0);
}

#[test]
fn bad_input_exits_2_with_a_reason() {
    let missing = detcd(&["sim", "/nonexistent/dir/scenario.toml"]);
    assert_eq!(missing.status.code(), Some(2));
    assert!(stderr(&missing).contains("cannot read scenario file"), "{}", stderr(&missing));

    let dir = scratch("bad");
    let bad = dir.join("bad.toml");
    std::fs::write(&bad, "name = \"x\"\ndescription = \"d\"\n[cluster]\nsize = 0\n")
        .expect("write");
    let invalid = detcd(&["sim", bad.to_str().expect("utf-8 path")]);
    assert_eq!(invalid.status.code(), Some(2));
    assert!(stderr(&invalid).contains("cluster.size"), "{}", stderr(&invalid));

    let unknown = detcd(&["sim", "no-such-scenario"]);
    assert_eq!(unknown.status.code(), Some(2));
    assert!(stderr(&unknown).contains("detcd scenarios"), "{}", stderr(&unknown));

    let flag = detcd(&["sim", "--no-such-flag"]);
    assert_eq!(flag.status.code(), Some(2));
    assert!(stderr(&flag).contains("--no-such-flag"), "{}", stderr(&flag));
}

#[test]
fn replay_is_the_sweeps_run_and_writes_its_files() {
    // The sweep's hash for this seed, through the library the sweep uses.
    let scenario = detcd_scenarios::builtin("clock-skew").expect("built-in");
    let (report, _) = detcd_harness::run::run(&scenario, 2);

    let dir = scratch("replay");
    let (html, trace) = (dir.join("run.html"), dir.join("run.jsonl"));
    let out = detcd(&[
        "replay",
        "clock-skew",
        "--seed",
        "2",
        "-v",
        "--html",
        html.to_str().expect("utf-8"),
        "--trace",
        trace.to_str().expect("utf-8"),
    ]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{text}{}", stderr(&out));
    assert_eq!(printed_hash(&text), format!("{:016x}", report.trace_hash));
    assert!(text.contains("became leader of term"), "step log: {text}");
    assert!(text.contains("PASS    linearizability"), "{text}");

    let page = std::fs::read_to_string(&html).expect("html written");
    assert!(page.contains("<svg") && page.contains("clock-skew at seed 2"));
    let lines = std::fs::read_to_string(&trace).expect("trace written");
    assert!(lines.lines().count() > 100);
    for line in lines.lines().take(20) {
        serde_json::from_str::<serde_json::Value>(line).expect("each line is JSON");
    }
}

#[test]
fn shrink_writes_a_scenario_that_sim_reproduces() {
    let dir = scratch("shrink");
    let file = dir.join("small.toml");
    let file_arg = file.to_str().expect("utf-8");
    let scenario = detcd_scenarios::builtin("lease-read-clock-skew").expect("built-in");
    let seed = (1..=4u64)
        .find(|&s| detcd_harness::run::run(&scenario, s).0.passed(&scenario.expect))
        .expect("the negative control is caught at one of seeds 1 to 4")
        .to_string();
    let out = detcd(&[
        "shrink",
        "lease-read-clock-skew",
        "--seed",
        &seed,
        "--attempts",
        "12",
        "--out",
        file_arg,
    ]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{text}{}", stderr(&out));
    assert!(text.contains("removed:"), "{text}");
    assert!(text.contains(&format!("detcd sim {file_arg} --seed {seed}")), "{text}");

    let again = detcd(&["sim", file_arg, "--seed", &seed]);
    assert_eq!(again.status.code(), Some(0), "{}{}", stdout(&again), stderr(&again));
    assert!(stdout(&again).contains("1 caught"), "{}", stdout(&again));
}

#[test]
fn a_failing_seed_exits_1_with_its_replay_command_and_reports() {
    // The lease-read negative control with its expectation turned around: a scenario
    // file whose run fails linearizability at a seed where the control is caught.
    let mut scenario = detcd_scenarios::builtin("lease-read-clock-skew").expect("built-in");
    let seed = (1..=4u64)
        .find(|&s| detcd_harness::run::run(&scenario, s).0.passed(&scenario.expect))
        .expect("the negative control is caught at one of seeds 1 to 4");
    scenario.name = "stale-lease-reads".into();
    scenario.expect = detcd_scenarios::Expect::Pass;
    let dir = scratch("failing");
    let file = dir.join("stale.toml");
    std::fs::write(&file, scenario.to_toml()).expect("write");
    let out_dir = dir.join("out");
    let file_arg = file.to_str().expect("utf-8");
    let seed_arg = seed.to_string();
    let out =
        detcd(&["sim", file_arg, "--seed", &seed_arg, "--out", out_dir.to_str().expect("utf-8")]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{text}{}", stderr(&out));
    assert!(
        text.contains(&format!("FAILED stale-lease-reads seed {seed}: linearizability")),
        "{text}"
    );
    assert!(text.contains(&format!("detcd replay {file_arg} --seed {seed} --html")), "{text}");
    let timeline = out_dir.join(format!("stale-lease-reads-seed-{seed}.html"));
    let checker = out_dir.join(format!("stale-lease-reads-seed-{seed}-linearizability.html"));
    assert!(std::fs::metadata(&timeline).expect("time line written").len() > 0);
    assert!(std::fs::metadata(&checker).expect("checker report written").len() > 0);
}

#[test]
fn replay_tells_the_unfenced_lock_story() {
    let out = detcd(&["replay", "lock-unfenced", "--seed", "2", "-v"]);
    let text = stdout(&out);
    for line in [
        "PAUSED for",
        "its LEASE EXPIRED DURING ITS PAUSE",
        "ACQUIRES the lock",
        "RESUMES after its pause, still believing it holds the lock",
        "WRITES ANYWAY",
        "FAIL    lock-exclusion: two lock holders at once",
    ] {
        assert!(text.contains(line), "no {line:?} in {text}");
    }
    let again = detcd(&["replay", "lock-unfenced", "--seed", "2"]);
    assert_eq!(printed_hash(&text), printed_hash(&stdout(&again)));
}

#[test]
fn replay_only_keeps_the_chosen_topics_and_says_why_roles_change() {
    let out = detcd(&["replay", "leader-isolation", "--seed", "7", "--only", "elections,faults"]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{text}{}", stderr(&out));
    assert!(text.contains("partition: the leader cut off from the others"), "{text}");
    assert!(text.contains("became leader of term"), "{text}");
    assert!(text.contains("— CheckQuorum lost"), "the isolated leader steps down: {text}");
    assert!(!text.contains("committed up to"), "commits are not asked for: {text}");

    let out = detcd(&["replay", "lying-fsync", "--seed", "3", "--only", "clients"]);
    let text = stdout(&out);
    assert!(text.contains("more like it"), "refusals collapse: {text}");
    // Election lines ("became leader of term 3"), not the safety violation's words
    // ("it became leader without the entry committed at ...").
    assert!(!text.contains("became leader of term"), "elections are not asked for: {text}");
    assert!(!text.contains("became follower"), "elections are not asked for: {text}");

    let out = detcd(&["replay", "lying-fsync", "--seed", "3", "--only", "votes"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("unknown step-log topic \"votes\""), "{}", stderr(&out));
}

/// A pathological configuration (the UNSAFE message storm) cannot run away: every run
/// ends on its budget, the scenario stops after a handful of them, the exit status is
/// 4, the JSON says `budget` with the replay command, and the whole sweep runs under a
/// 2 GB address-space limit.
#[test]
fn runs_over_budget_exit_4_and_stay_bounded() {
    let mut scenario = detcd_scenarios::builtin("happy-path").expect("built-in");
    scenario.name = "storm".into();
    scenario.cluster.size = 5;
    scenario.network.storm_copies = 8;
    let dir = scratch("storm");
    let file = dir.join("storm.toml");
    std::fs::write(&file, scenario.to_toml()).expect("write");
    let out = std::process::Command::new("prlimit")
        .arg(format!("--as={}", 2u64 << 30))
        .arg(env!("CARGO_BIN_EXE_detcd"))
        .args(["sim", file.to_str().expect("utf-8"), "--seeds", "40", "--jobs", "2", "--json"])
        .output()
        .expect("prlimit (util-linux) runs");
    assert_eq!(out.status.code(), Some(4), "{}", stderr(&out));
    let doc: serde_json::Value = serde_json::from_str(&stdout(&out)).expect("one JSON document");
    let s = &doc["scenarios"][0];
    let runs = s["runs"].as_u64().expect("a count");
    assert!((6..=7).contains(&runs), "stops after 6 runs over budget (+1 in flight): {runs}");
    assert_eq!(s["over_budget"], s["failed"]);
    let f = &s["failing"][0];
    assert_eq!(f["verdict"], "budget", "{f}");
    assert!(f["summary"].as_str().expect("text").contains("over budget"), "{f}");
    assert!(f["replay"].as_str().expect("text").starts_with("detcd replay "), "{f}");
}
