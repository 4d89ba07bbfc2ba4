//! `detcd sim` as CI runs it: random and derived first seeds, shards that cover a sweep
//! exactly once and merge back, JUnit and JSON with the failing checks and trace
//! hashes, fail-fast, time budgets, interrupts, colour, refused numbers, and the
//! scenario-discovery commands. Only cheap scenarios at few seeds.

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

mod cli_support;
use cli_support::{detcd, scratch, stderr, stdout};
use std::time::{Duration, Instant};

fn arg(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

fn json_file(p: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(p).expect("JSON written")).expect("valid JSON")
}

fn seeds_of(doc: &serde_json::Value) -> Vec<u64> {
    doc["scenarios"][0]["seeds"]
        .as_array()
        .expect("seeds")
        .iter()
        .map(|s| s.as_u64().expect("a seed"))
        .collect()
}

/// A scenario file that fails linearizability at every seed: the lease-read negative
/// control with its expectation turned around.
fn always_failing(dir: &Path) -> PathBuf {
    let mut scenario = detcd_scenarios::builtin("lease-read-clock-skew").expect("built-in");
    scenario.name = "stale-lease-reads".into();
    scenario.expect = detcd_scenarios::Expect::Pass;
    let file = dir.join("stale.toml");
    std::fs::write(&file, scenario.to_toml()).expect("write");
    file
}

#[test]
fn shards_cover_every_seed_once_and_merge_joins_them() {
    let dir = scratch("shards");
    let mut all = Vec::new();
    let mut files = Vec::new();
    for k in 1..=3 {
        let file = dir.join(format!("shard-{k}.json"));
        let shard = format!("{k}/3");
        let out = detcd(&[
            "sim",
            "happy-path",
            "--first-seed",
            "10",
            "--seeds",
            "7",
            "--shard",
            &shard,
            "--jobs",
            "2",
            "--json-out",
            arg(&file),
        ]);
        assert_eq!(out.status.code(), Some(0), "{}{}", stdout(&out), stderr(&out));
        let doc = json_file(&file);
        assert_eq!(doc["shard"], shard);
        all.extend(seeds_of(&doc));
        files.push(file);
    }
    all.sort_unstable();
    assert_eq!(all, (10..17).collect::<Vec<u64>>(), "each seed exactly once");

    let junit = dir.join("junit.xml");
    let mut args = vec!["sim", "--merge", "--json", "--junit", arg(&junit)];
    args.extend(files.iter().map(|f| arg(f)));
    let out = detcd(&args);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let merged: serde_json::Value = serde_json::from_str(&stdout(&out)).expect("JSON");
    assert_eq!(merged["shard"], "merged");
    assert_eq!(merged["scenarios"][0]["runs"], 7);
    assert_eq!(merged["scenarios"][0]["passed"], 7);
    assert_eq!(seeds_of(&merged), (10..17).collect::<Vec<u64>>());
    let xml = std::fs::read_to_string(&junit).expect("junit written");
    let doc = roxmltree::Document::parse(&xml).expect("valid XML");
    assert_eq!(doc.descendants().filter(|n| n.has_tag_name("testcase")).count(), 1);

    // The table form, and a file merged twice is noticed.
    let twice = detcd(&["sim", "--merge", arg(&files[0]), arg(&files[0])]);
    assert!(stderr(&twice).contains("more than one file"), "{}", stderr(&twice));
    let bad = detcd(&["sim", "--merge", arg(&junit)]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(stderr(&bad).contains("is not the JSON"), "{}", stderr(&bad));
}

#[test]
fn random_first_seed_is_in_the_banner_and_the_json() {
    let out = detcd(&["sim", "happy-path", "--random-seeds", "--seeds", "2", "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let doc: serde_json::Value = serde_json::from_str(&stdout(&out)).expect("JSON alone");
    let first = doc["first_seed"].as_u64().expect("first seed");
    assert_eq!(doc["seed_source"], "random");
    assert_eq!(seeds_of(&doc), vec![first, first + 1]);
    let banner = stderr(&out);
    assert!(banner.starts_with(&format!("detcd sim: first seed {first} (random)")), "{banner}");
    assert!(banner.contains(&format!("--first-seed {first} --seeds 2")), "{banner}");

    let from = |v: &str| {
        let out = detcd(&["sim", "happy-path", "--seed-from", v, "--seeds", "1", "--json"]);
        let doc: serde_json::Value = serde_json::from_str(&stdout(&out)).expect("JSON");
        doc["first_seed"].as_u64().expect("first seed")
    };
    assert_eq!(from("run-77"), from("run-77"));
    assert_ne!(from("run-77"), from("run-78"));
}

#[test]
fn failures_reach_json_and_junit_with_replay_commands_and_the_report_cap_is_noticed() {
    let dir = scratch("junit");
    let file = always_failing(&dir);
    let (junit, json, out_dir) = (dir.join("junit.xml"), dir.join("sim.json"), dir.join("out"));
    let out = detcd(&[
        "sim",
        arg(&file),
        "happy-path",
        "--seeds",
        "12",
        "--jobs",
        "2",
        "--junit",
        arg(&junit),
        "--json-out",
        arg(&json),
        "--out",
        arg(&out_dir),
        "--color",
        "never",
    ]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{text}{}", stderr(&out));
    assert!(
        text.contains("note: 2 more failing seed(s) of stale-lease-reads have no HTML report"),
        "{text}"
    );
    assert!(!text.contains('\x1b'), "--color never: {text}");

    let doc = json_file(&json);
    let failing = &doc["scenarios"][0]["failing"];
    assert_eq!(failing.as_array().expect("failing").len(), 12);
    assert_eq!(doc["scenarios"][0]["reports_skipped"], 2);
    let first = &failing[0];
    assert_eq!(first["checks"], serde_json::json!(["linearizability"]));
    let seed = first["seed"].as_u64().expect("seed");
    let scenario = detcd_scenarios::Scenario::from_toml(
        &std::fs::read_to_string(&file).expect("read"),
        "stale",
    )
    .expect("scenario");
    let (report, _) = detcd_harness::run::run(&scenario, seed);
    assert_eq!(first["trace_hash"], format!("{:016x}", report.trace_hash));

    let xml = std::fs::read_to_string(&junit).expect("junit written");
    let doc = roxmltree::Document::parse(&xml).expect("valid XML");
    let cases: Vec<_> = doc.descendants().filter(|n| n.has_tag_name("testcase")).collect();
    assert_eq!(cases.len(), 2, "one test case per scenario");
    let failed: Vec<_> =
        cases.iter().filter(|c| c.children().any(|n| n.has_tag_name("failure"))).collect();
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0].attribute("name"), Some("stale-lease-reads"));
    let failure = failed[0].children().find(|n| n.has_tag_name("failure")).expect("failure");
    let body = failure.text().expect("failure text");
    assert!(body.contains(&format!("detcd replay {} --seed {seed} --html", arg(&file))), "{body}");
    assert_eq!(body.matches("replay: ").count(), 12, "{body}");

    let coloured =
        detcd(&["sim", arg(&file), "--seed", "1", "--color", "always", "--out", arg(&out_dir)]);
    assert!(stdout(&coloured).contains("\x1b[1;31mFAILED"), "{}", stdout(&coloured));
}

#[test]
fn fail_fast_stops_at_the_first_failing_seed() {
    let dir = scratch("failfast");
    let file = always_failing(&dir);
    let out = detcd(&[
        "sim",
        arg(&file),
        "happy-path",
        "--seeds",
        "50",
        "--jobs",
        "1",
        "--fail-fast",
        "--json",
        "--out",
        arg(&dir.join("out")),
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let doc: serde_json::Value = serde_json::from_str(&stdout(&out)).expect("JSON");
    assert_eq!(doc["scenarios"].as_array().expect("scenarios").len(), 1, "happy-path not run");
    assert_eq!(doc["scenarios"][0]["runs"], 1);
    assert!(doc["stopped"].as_str().expect("stopped").contains("--fail-fast"), "{doc}");
}

#[test]
fn a_time_budget_ends_an_open_ended_sweep_with_progress_lines() {
    let started = Instant::now();
    let out = detcd(&[
        "sim",
        "happy-path",
        "--time-budget",
        "2s",
        "--jobs",
        "1",
        "--json",
        "--progress-secs",
        "1",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(started.elapsed() < Duration::from_secs(30));
    let doc: serde_json::Value = serde_json::from_str(&stdout(&out)).expect("JSON");
    let runs = doc["scenarios"][0]["runs"].as_u64().expect("runs");
    assert!(runs >= 2, "{runs} seeds in a second");
    let err = stderr(&out);
    assert!(err.contains("time budget is spent"), "{err}");
    // Off a terminal: a plain progress line every --progress-secs.
    assert!(err.contains("progress: happy-path: ") && err.contains(" failed, "), "{err}");
}

#[test]
fn an_interrupted_sweep_prints_its_summary_and_writes_its_json() {
    let dir = scratch("sigint");
    let json = dir.join("sim.json");
    let mut child = Command::new(env!("CARGO_BIN_EXE_detcd"))
        .args(["sim", "happy-path", "--seeds", "1000000", "--jobs", "1", "--json-out", arg(&json)])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("detcd starts");
    // The banner shows once the interrupt handler is in place.
    let mut stdout = BufReader::new(child.stdout.take().expect("piped"));
    let mut banner = String::new();
    stdout.read_line(&mut banner).expect("a banner");
    assert!(banner.starts_with("detcd sim: first seed 1"), "{banner}");
    let rest = std::thread::spawn(move || {
        let mut text = String::new();
        stdout.read_to_string(&mut text).expect("stdout");
        text
    });
    std::thread::sleep(Duration::from_millis(500));
    let pid = child.id();
    // The shell's own `kill`: a kill binary is not on every machine.
    let kill =
        Command::new("sh").args(["-c", &format!("kill -INT {pid}")]).status().expect("sh runs");
    assert!(kill.success());
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("the sweep did not stop within 60 s of SIGINT");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let text = rest.join().expect("reader");
    assert_eq!(status.code(), Some(130), "{text}");
    assert!(text.contains("stopped early: interrupted during happy-path"), "{text}");
    assert!(text.lines().any(|l| l.starts_with("happy-path")), "{text}");
    let doc = json_file(&json);
    let runs = doc["scenarios"][0]["runs"].as_u64().expect("runs");
    assert!(runs < 1_000_000, "{runs}");
    assert!(doc["stopped"].as_str().expect("stopped").contains("interrupted"));
}

#[test]
fn bad_numbers_are_refused_in_words() {
    let overflow =
        detcd(&["sim", "happy-path", "--first-seed", "18446744073709551614", "--seeds", "3"]);
    assert_eq!(overflow.status.code(), Some(2));
    assert!(stderr(&overflow).contains("runs past the largest seed"), "{}", stderr(&overflow));
    let fits = detcd(&[
        "sim",
        "happy-path",
        "--first-seed",
        "18446744073709551614",
        "--seeds",
        "2",
        "--json",
    ]);
    assert_eq!(fits.status.code(), Some(0), "{}", stderr(&fits));
    let negative = detcd(&["sim", "happy-path", "--seeds", "-3"]);
    assert_eq!(negative.status.code(), Some(2));
    assert!(stderr(&negative).contains("-3 is negative"), "{}", stderr(&negative));
    let huge = detcd(&["sim", "happy-path", "--seed", "18446744073709551616"]);
    assert!(stderr(&huge).contains("larger than the largest seed"), "{}", stderr(&huge));
    let shard = detcd(&["sim", "happy-path", "--shard", "4/3"]);
    assert!(stderr(&shard).contains("1 <= K <= N"), "{}", stderr(&shard));
    let budget = detcd(&["sim", "happy-path", "--time-budget", "-5m"]);
    assert!(stderr(&budget).contains("negative"), "{}", stderr(&budget));
}

#[test]
fn mistyped_scenario_names_get_a_suggestion() {
    let out = detcd(&["sim", "leader-isolaton"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("did you mean leader-isolation?"), "{}", stderr(&out));
    let show = detcd(&["scenarios", "--show", "lying-fsnyc"]);
    assert_eq!(show.status.code(), Some(2));
    assert!(stderr(&show).contains("did you mean lying-fsync?"), "{}", stderr(&show));
}

#[test]
fn shown_scenarios_parse_back_and_the_format_is_explained() {
    for name in ["crash-restart", "lock-fenced", "swarm"] {
        let out = detcd(&["scenarios", "--show", name]);
        assert_eq!(out.status.code(), Some(0));
        let parsed = detcd_scenarios::Scenario::from_toml(&stdout(&out), name).expect("parses");
        assert_eq!(Some(parsed), detcd_scenarios::builtin(name));
    }
    let format = detcd(&["scenarios", "--format"]);
    for field in ["[workload.mix]", "request_timeout_ms", "expect", "fail:<check>", "[lock]"] {
        assert!(stdout(&format).contains(field), "{field}");
    }
}

#[test]
fn replay_writes_the_trace_to_standard_output() {
    let out = detcd(&["replay", "happy-path", "--seed", "1", "--trace", "-"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let lines = stdout(&out);
    assert!(lines.lines().count() > 100);
    for line in lines.lines() {
        serde_json::from_str::<serde_json::Value>(line).expect("only JSON lines on stdout");
    }
    assert!(stderr(&out).contains("trace hash: "), "{}", stderr(&out));
}
