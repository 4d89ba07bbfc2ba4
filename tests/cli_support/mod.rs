//! What the command-line tests share: running the built `detcd`, reading its output,
//! and a scratch directory per test process.

use std::path::PathBuf;
use std::process::{Command, Output};

pub fn detcd(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_detcd")).args(args).output().expect("detcd runs")
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// A fresh directory for one test; the process id keeps parallel test binaries apart.
pub fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("detcd-cli-test-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}
