//! `etcdctl check perf --load=s` against a three-member `detcd serve` cluster: a minute of
//! writes that must meet etcd's own throughput and latency bar. In a file of its own so
//! that no other test of the suite shares the machine with it.

mod support;

use std::time::Duration;
use support::cluster::Cluster;
use support::tools::{installed_for, Target};

/// The check itself runs 60 s; the rest is cluster start, cleanup and a slow machine.
const PERF_LIMIT: Duration = Duration::from_secs(150);

#[test]
fn check_perf_small_load_passes() {
    let t = Target::from_env();
    if !installed_for(t) {
        return;
    }
    let c = Cluster::start(t, 3);
    let args = ["check", "perf", "--load=s"];
    let out = c.etcdctl_for(&args, PERF_LIMIT);
    let text = c.expect_ok(&args, &out);
    // The progress bar ends without a newline, so the first verdict shares its line.
    assert!(!text.contains("FAIL"), "{text}");
    for check in ["PASS: Throughput is ", "PASS: Slowest request took ", "PASS: Stddev is "] {
        assert!(text.contains(check), "no `{check}` in\n{text}");
    }
    // etcdctl's last progress-bar redraw may land after the verdict line, so the
    // overall verdict is a line of its own, not necessarily the last.
    assert!(text.lines().any(|l| l.trim() == "PASS"), "no overall PASS in\n{text}");
}
