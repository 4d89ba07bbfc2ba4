//! `detcd check` end to end: exit codes 0/1/2/3, `--json` and `--html`.

use std::path::PathBuf;
use std::process::{Command, Output};

fn temp_file(name: &str, content: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("detcd-check-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("create temp dir");
    let path = dir.join(name);
    std::fs::write(&path, content).expect("write temp file");
    path
}

fn detcd(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_detcd")).args(args).output().expect("run detcd")
}

fn code(out: &Output) -> i32 {
    out.status.code().expect("exited normally")
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

const GOOD: &str = r#"{"model": "cas-register", "operations": [
  {"client": 0, "call": 0, "return": 2, "input": {"op": "write", "value": 1}, "output": "written"},
  {"client": 1, "call": 1, "return": 3, "input": {"op": "read"}, "output": {"read": 1}},
  {"client": 2, "call": 4, "return": 5, "input": {"op": "cas", "expected": 1, "new": 2}, "output": {"cas": true}}
]}"#;

/// A stale read: the write of 1 completed before the read began, yet it saw nothing.
const STALE: &str = r#"{"model": "register", "operations": [
  {"client": 0, "call": 0, "return": 1, "input": {"op": "write", "value": 1}, "output": "written"},
  {"client": 1, "call": 2, "return": 3, "input": {"op": "read"}, "output": {"read": null}}
]}"#;

/// Twelve concurrent writes and a read of a value nobody wrote: not linearizable, but
/// only after trying every subset of the writes (tens of thousands of steps).
fn hard_log() -> String {
    let mut log = String::new();
    for p in 0..12 {
        log.push_str(&format!("INFO jepsen.util - {p} :invoke :write {p}\n"));
    }
    log.push_str("INFO jepsen.util - 12 :invoke :read nil\n");
    for p in 0..12 {
        log.push_str(&format!("INFO jepsen.util - {p} :ok :write {p}\n"));
    }
    log.push_str("INFO jepsen.util - 12 :ok :read 99\n");
    log
}

#[test]
fn linearizable_exits_0() {
    let path = temp_file("good.json", GOOD);
    let out = detcd(&["check", path.to_str().unwrap()]);
    assert_eq!(code(&out), 0, "{}{}", stdout(&out), stderr(&out));
    assert!(stdout(&out).contains("linearizable"), "{}", stdout(&out));
}

#[test]
fn not_linearizable_exits_1_and_explains() {
    let path = temp_file("stale.json", STALE);
    let out = detcd(&["check", path.to_str().unwrap()]);
    assert_eq!(code(&out), 1, "{}{}", stdout(&out), stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("NOT linearizable"), "{text}");
    assert!(text.contains("read() -> nil"), "the failure names the stale read: {text}");
}

#[test]
fn unreadable_input_exits_2_with_the_line() {
    let path = temp_file(
        "bad.log",
        "INFO jepsen.util - 1 :invoke :write 1\nINFO jepsen.util - 1 :ok :frobnicate 1\n",
    );
    let out = detcd(&["check", path.to_str().unwrap()]);
    assert_eq!(code(&out), 2);
    let err = stderr(&out);
    assert!(err.contains("line 2") && err.contains("expected"), "{err}");

    let out = detcd(&["check", "/nonexistent/history.json"]);
    assert_eq!(code(&out), 2);
    let out = detcd(&["check", path.to_str().unwrap(), "--model", "nonsense"]);
    assert_eq!(code(&out), 2, "bad flags exit 2");
    let good = temp_file("good2.json", GOOD);
    let out = detcd(&["check", good.to_str().unwrap(), "--format", "porcupine-kv"]);
    assert_eq!(code(&out), 2, "a JSON file read as Porcupine EDN is unreadable");
}

#[test]
fn timeout_exits_3_and_no_timeout_decides() {
    let path = temp_file("hard.log", &hard_log());
    let out = detcd(&["check", path.to_str().unwrap(), "--timeout", "0.000001"]);
    assert_eq!(code(&out), 3, "{}{}", stdout(&out), stderr(&out));
    assert!(stdout(&out).contains("unknown"), "{}", stdout(&out));
    let out = detcd(&["check", path.to_str().unwrap()]);
    assert_eq!(code(&out), 1, "{}", stdout(&out));
}

#[test]
fn json_and_html_reports() {
    let path = temp_file("stale2.json", STALE);
    let html = path.with_extension("html");
    let out = detcd(&["check", path.to_str().unwrap(), "--json", "--html", html.to_str().unwrap()]);
    assert_eq!(code(&out), 1);
    let report: serde_json::Value =
        serde_json::from_str(&stdout(&out)).expect("--json prints JSON");
    assert_eq!(report["verdict"], "not-linearizable");
    assert_eq!(report["parts"][0]["blocked"], 1);
    let page = std::fs::read_to_string(&html).expect("--html writes the report");
    assert!(page.starts_with("<!DOCTYPE html>"));
    assert!(page.contains("read() -> nil"));
    for remote in ["http://", "https://", "<link", " src="] {
        assert!(!page.contains(remote), "the page must be self-contained, found {remote}");
    }
}

#[test]
fn parallel_mode_agrees() {
    let mut kv = String::new();
    for k in 0..4 {
        kv.push_str(&format!(
            "{{:process {k}, :type :invoke, :f :put, :key \"{k}\", :value \"v\"}}\n"
        ));
        kv.push_str(&format!("{{:process {k}, :type :ok, :f :put, :key \"{k}\", :value \"v\"}}\n"));
        kv.push_str(&format!(
            "{{:process {k}, :type :invoke, :f :get, :key \"{k}\", :value nil}}\n"
        ));
        let seen = if k == 2 { "stale" } else { "v" };
        kv.push_str(&format!(
            "{{:process {k}, :type :ok, :f :get, :key \"{k}\", :value \"{seen}\"}}\n"
        ));
    }
    let path = temp_file("kv.txt", &kv);
    let out = detcd(&["check", path.to_str().unwrap(), "--parallel"]);
    assert_eq!(code(&out), 1, "{}", stdout(&out));
    let ok = temp_file("kv-ok.txt", &kv.replace("stale", "v"));
    let out = detcd(&["check", ok.to_str().unwrap(), "--parallel"]);
    assert_eq!(code(&out), 0, "{}", stdout(&out));
}
