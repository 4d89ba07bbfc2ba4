//! `detcd check` end to end: exit codes 0/1/2/3, `--json` and `--html`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// A file in a directory of its own, removed with what the test wrote beside it when
/// the test is done with it.
struct TempFile {
    dir: PathBuf,
    path: PathBuf,
}

impl std::ops::Deref for TempFile {
    type Target = Path;
    fn deref(&self) -> &Path {
        &self.path
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        // Best effort: a directory left behind costs disk, never a result.
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// `content` in a file named `name`; the process id keeps parallel test binaries apart.
fn temp_file(name: &str, content: &str) -> TempFile {
    let dir = std::env::temp_dir().join(format!("detcd-check-cli-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("create temp dir");
    let path = dir.join(name);
    std::fs::write(&path, content).expect("write temp file");
    TempFile { dir, path }
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

/// The shared folder of real histories (`shared/reference/histories` in this checkout's
/// directory or one above it), or `None`, said loudly, where it is absent.
fn real_histories() -> Option<PathBuf> {
    let mut dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    loop {
        let candidate = dir.join("shared/reference/histories");
        if candidate.is_dir() {
            return Some(candidate);
        }
        if !dir.pop() {
            eprintln!("\n*** SKIPPED: no shared/reference/histories above this checkout\n");
            return None;
        }
    }
}

/// A Jepsen etcd text log rewritten as the `history.edn` Jepsen stores, one operation
/// map per line with its index and time, and the nemesis's operations mixed in.
fn log_to_history_edn(log: &str) -> String {
    log_to_keyed_edn(log, None).join("")
}

/// The same, one line per operation; with `key`, as `jepsen.independent` writes it:
/// values `[key value]` and process numbers of their own for the key.
fn log_to_keyed_edn(log: &str, key: Option<u64>) -> Vec<String> {
    let mut edn = Vec::new();
    for (index, line) in log.lines().filter(|l| !l.trim().is_empty()).enumerate() {
        let f: Vec<&str> = line.split_whitespace().collect();
        let (kind, func) = (f[4], f[5]);
        let process: u64 = f[3].parse().expect("a process number");
        let value = f[6..].join(" ");
        let (value, error) = match value.as_str() {
            ":timed-out" => ("nil".to_string(), " :error :timed-out"),
            _ => (value, ""),
        };
        let (process, value) = match key {
            Some(k) => (process + 1000 * k, format!("[{k} {value}]")),
            None => (process, value),
        };
        if index % 10 == 5 {
            edn.push("{:type :info, :f :start-partition, :value nil, :process :nemesis}\n".into());
        }
        edn.push(format!(
            "{{:type {kind}, :f {func}, :value {value}, :process {process}, :time {}, :index {index}{error}}}\n",
            index * 1000
        ));
    }
    edn
}

#[test]
fn real_jepsen_histories_as_history_edn_reach_their_verdicts() {
    let Some(dir) = real_histories() else { return };
    for (file, expected) in [("etcd_000.log", 1), ("etcd_002.log", 0), ("etcd_101.log", 0)] {
        let log = std::fs::read_to_string(dir.join("jepsen-etcd").join(file)).expect("read");
        let path = temp_file(&format!("{file}.edn"), &log_to_history_edn(&log));
        let out = detcd(&["check", path.to_str().unwrap()]);
        assert_eq!(code(&out), expected, "{file}: {}{}", stdout(&out), stderr(&out));
        let text_log = detcd(&["check", dir.join("jepsen-etcd").join(file).to_str().unwrap()]);
        assert_eq!(code(&text_log), expected, "the text log agrees");
    }
}

#[test]
fn independent_keys_in_history_edn_are_checked_key_by_key() {
    let Some(dir) = real_histories() else { return };
    let read = |f: &str| std::fs::read_to_string(dir.join("jepsen-etcd").join(f)).expect("read");
    let interleave = |a: Vec<String>, b: Vec<String>| {
        let mut out = String::new();
        for i in 0..a.len().max(b.len()) {
            out.extend(a.get(i).cloned());
            out.extend(b.get(i).cloned());
        }
        out
    };
    let good = interleave(
        log_to_keyed_edn(&read("etcd_002.log"), Some(1)),
        log_to_keyed_edn(&read("etcd_101.log"), Some(2)),
    );
    let path = temp_file("independent-good.edn", &good);
    let out = detcd(&["check", path.to_str().unwrap()]);
    assert_eq!(code(&out), 0, "{}{}", stdout(&out), stderr(&out));
    assert!(stdout(&out).contains("cas-register per key"), "{}", stdout(&out));
    let bad = interleave(
        log_to_keyed_edn(&read("etcd_002.log"), Some(1)),
        log_to_keyed_edn(&read("etcd_000.log"), Some(2)),
    );
    let path = temp_file("independent-bad.edn", &bad);
    let out = detcd(&["check", path.to_str().unwrap()]);
    assert_eq!(code(&out), 1, "{}{}", stdout(&out), stderr(&out));
    assert!(stdout(&out).contains("key 2: "), "the failing key is named: {}", stdout(&out));
}

#[test]
fn a_directory_gets_a_summary_table_and_one_exit_status() {
    let Some(dir) = real_histories() else { return };
    let out = detcd(&["check", dir.to_str().unwrap(), "--timeout", "60"]);
    let text = stdout(&out);
    assert_eq!(code(&out), 1, "some histories are not linearizable: {text}{}", stderr(&out));
    let header = text.lines().next().expect("a table");
    for column in ["file", "format", "model", "operations", "verdict"] {
        assert!(header.contains(column), "{header}");
    }
    let row = |name: &str| {
        text.lines().find(|l| l.contains(name)).unwrap_or_else(|| panic!("no {name} in {text}"))
    };
    assert!(row("etcd_000.log").ends_with("NOT linearizable"));
    assert!(row("etcd_007.log").ends_with(" linearizable"));
    assert!(row("c01-ok.txt").contains("porcupine-kv"));
    assert!(text.contains("8 file(s): 5 linearizable, 3 not linearizable"), "{text}");
}

#[test]
fn several_files_with_json_html_and_an_unreadable_one() {
    let good = temp_file("many-good.json", GOOD);
    let bad = temp_file("many-bad.log", "not a history\n");
    let html_dir = good.with_file_name("many-html");
    let out = detcd(&[
        "check",
        good.to_str().unwrap(),
        bad.to_str().unwrap(),
        "--json",
        "--html",
        html_dir.to_str().unwrap(),
    ]);
    assert_eq!(code(&out), 2, "an unreadable file and nothing worse: {}", stdout(&out));
    let rows: serde_json::Value = serde_json::from_str(&stdout(&out)).expect("a JSON array");
    assert_eq!(rows[0]["verdict"], "linearizable");
    assert!(rows[1]["error"].as_str().expect("an error").contains("line 1"), "{rows}");
    let page = rows[0]["html"].as_str().expect("a report per checked file");
    assert!(std::fs::read_to_string(page).expect("written").starts_with("<!DOCTYPE html>"));
    let stale = temp_file("many-stale.json", STALE);
    let out = detcd(&["check", good.to_str().unwrap(), stale.to_str().unwrap()]);
    assert_eq!(code(&out), 1, "{}", stdout(&out));
    assert!(stdout(&out).contains("2 file(s): 1 linearizable, 1 not linearizable"));
}
