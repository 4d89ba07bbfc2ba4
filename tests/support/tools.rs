//! Which server the suite drives, and whether the etcd tools it needs are installed.

use std::path::Path;

pub const ETCD: &str = "/usr/bin/etcd";
pub const ETCDCTL: &str = "/usr/bin/etcdctl";

/// The server a test starts. `DETCD_E2E_TARGET=etcd` switches the suite to a real etcd,
/// to check the tests themselves; the default is detcd.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target {
    Detcd,
    Etcd,
}

impl Target {
    pub fn from_env() -> Target {
        match std::env::var("DETCD_E2E_TARGET").as_deref() {
            Ok("etcd") => Target::Etcd,
            Ok("detcd") | Err(_) => Target::Detcd,
            Ok(other) => panic!("DETCD_E2E_TARGET={other}: expected `etcd` or `detcd`"),
        }
    }
}

/// True when every tool in `paths` exists. Otherwise prints a loud SKIPPED line and
/// returns false, so `cargo test` passes on a machine without etcd; with
/// `DETCD_REQUIRE_ETCD=1` (set by CI) a missing tool is a failure instead.
pub fn installed(paths: &[&str]) -> bool {
    let missing: Vec<&str> = paths.iter().copied().filter(|p| !Path::new(p).exists()).collect();
    if missing.is_empty() {
        return true;
    }
    let what = missing.join(", ");
    if std::env::var("DETCD_REQUIRE_ETCD").as_deref() == Ok("1") {
        panic!("{what} not installed and DETCD_REQUIRE_ETCD=1 (.ci/run installs it)");
    }
    eprintln!("SKIPPED: {what} not installed (.ci/run installs it)");
    false
}

/// The tools a test against `target` needs: etcdctl always, etcd when it is the server.
pub fn installed_for(target: Target) -> bool {
    match target {
        Target::Detcd => installed(&[ETCDCTL]),
        Target::Etcd => installed(&[ETCDCTL, ETCD]),
    }
}
