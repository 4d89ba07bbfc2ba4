//! Golden interaction tests: each `testdata/*.txt` file drives a step cluster of the
//! bare-Raft test application command by command and compares what every command
//! caused with the expected text below it. `REWRITE=1 cargo test -p detcd-sim --test
//! interaction` rewrites the files with what the code does now (then read the diff).
//!
//! A file is blocks of
//! ```text
//! command arg1 arg2
//! ----
//! expected output, one line per effect
//! ```
//! separated by blank lines; `#` lines are comments. The first command is
//! `cluster N`, which may come again to start the next case afresh; `golden/mod.rs`
//! lists the commands. The `paper_*.txt` files hold the Raft paper's (and thesis's)
//! cases, each headed by a `# Reference: section ...` comment.

mod golden;

use golden::run;
use std::path::Path;

/// Commands a file may hold: a bound on the loop that reads one.
const COMMANDS_MAX: usize = 10_000;

struct Block {
    /// Comment lines before the command, kept when rewriting.
    comments: Vec<String>,
    command: String,
    expected: Vec<String>,
}

fn parse(text: &str) -> Vec<Block> {
    let mut blocks = Vec::new();
    let mut lines = text.lines().peekable();
    for _ in 0..COMMANDS_MAX {
        let mut comments = Vec::new();
        while let Some(l) = lines.next_if(|l| l.trim().is_empty() || l.starts_with('#')) {
            // A blank line between comments stays: it separates a file's header from
            // its first case.
            if l.starts_with('#') || !comments.is_empty() {
                comments.push(l.trim().to_string());
            }
        }
        while comments.last().is_some_and(|c| c.is_empty()) {
            comments.pop();
        }
        let Some(command) = lines.next() else { return blocks };
        assert_eq!(lines.next(), Some("----"), "`----` must follow command {command:?}");
        let mut expected = Vec::new();
        while let Some(l) = lines.next_if(|l| !l.trim().is_empty()) {
            expected.push(l.to_string());
        }
        blocks.push(Block { comments, command: command.to_string(), expected });
    }
    panic!("more than {COMMANDS_MAX} commands in one file");
}

fn check_file(path: &Path, rewrite: bool) -> Result<(), String> {
    let text = std::fs::read_to_string(path).expect("readable test file");
    let mut cluster = None;
    let mut out = String::new();
    let mut mismatches = Vec::new();
    for b in parse(&text) {
        let mut actual = run(&mut cluster, &b.command);
        if actual.is_empty() {
            actual.push("ok".to_string());
        }
        if actual != b.expected {
            mismatches.push(format!(
                "{}: `{}`\n  expected:\n    {}\n  got:\n    {}",
                path.display(),
                b.command,
                b.expected.join("\n    "),
                actual.join("\n    ")
            ));
        }
        for c in &b.comments {
            out.push_str(c);
            out.push('\n');
        }
        out.push_str(&format!("{}\n----\n{}\n\n", b.command, actual.join("\n")));
    }
    if rewrite {
        std::fs::write(path, out.trim_end().to_string() + "\n").expect("writable test file");
        return Ok(());
    }
    if mismatches.is_empty() {
        Ok(())
    } else {
        Err(mismatches.join("\n\n"))
    }
}

#[test]
fn golden_interactions() {
    let rewrite = std::env::var_os("REWRITE").is_some();
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/testdata");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("tests/testdata exists")
        .map(|e| e.expect("directory entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "txt"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no golden files in {}", dir.display());
    let failures: Vec<String> = files.iter().filter_map(|f| check_file(f, rewrite).err()).collect();
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn a_changed_expectation_is_caught() {
    let dir = std::env::temp_dir().join(format!("detcd-golden-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join("wrong.txt");
    std::fs::write(&path, "cluster 3\n----\n3 nodes\n\nstatus\n----\nn1: Leader t9\n").unwrap();
    let err = check_file(&path, false).expect_err("a wrong expectation fails");
    assert!(err.contains("n1: Follower t0"), "{err}");
    std::fs::remove_dir_all(&dir).expect("temp dir removed");
}
