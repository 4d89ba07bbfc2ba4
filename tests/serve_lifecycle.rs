//! `detcd serve`'s lifecycle as an operator meets it: the NOSPACE alarm past
//! `--quota-backend-bytes` until compaction, defragment and `alarm disarm`; a graceful
//! SIGTERM in which the leader hands leadership over first; and the HTTP endpoints
//! (`/health`, `/version`, `/metrics`) on the client port.

mod support;

use serde_json::Value;
use std::io::Write;
use std::net::TcpStream;
use std::time::{Duration, Instant};
use support::cluster::{error_line, Cluster};
use support::http::http_get;
use support::tools::{installed_for, Target};

fn json(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

/// detcd only: these are detcd's own behaviours (etcd's quota counts bbolt pages).
fn detcd() -> bool {
    installed_for(Target::Detcd)
}

#[test]
fn nospace_alarm_until_compaction_defragment_and_disarm() {
    if !detcd() {
        return;
    }
    let c = Cluster::start_with(Target::Detcd, 1, &["--quota-backend-bytes", "200000"]);
    let value = "x".repeat(2000);
    let mut refused = None;
    for i in 0..400 {
        let out = c.etcdctl(&["put", &format!("k{}", i % 5), &value]);
        if !out.status.success() {
            refused = Some(error_line(&String::from_utf8_lossy(&out.stderr)));
            break;
        }
    }
    assert_eq!(
        refused.as_deref(),
        Some("Error: etcdserver: mvcc: database space exceeded"),
        "writes past the quota are refused with etcd's error"
    );
    let alarms = c.ok(&["alarm", "list"]);
    assert!(alarms.contains("alarm:NOSPACE"), "{alarms}");
    // Reads and deletes still work under the alarm.
    assert!(c.ok(&["get", "k1", "--print-value-only"]).starts_with("xx"));
    assert!(c.fails(&["put", "new", "v"]).contains("database space exceeded"));

    let rev =
        json(&c.ok(&["get", "k1", "-w", "json"]))["header"]["revision"].as_i64().expect("rev");
    c.ok(&["compaction", &rev.to_string()]);
    c.ok(&["defrag"]);
    let disarmed = c.ok(&["alarm", "disarm"]);
    assert!(disarmed.contains("alarm:NOSPACE"), "disarm names what it deactivated: {disarmed}");
    assert_eq!(c.ok(&["alarm", "list"]), "");
    assert_eq!(c.ok(&["put", "after", "ok"]), "OK\n");
}

#[test]
fn sigterm_on_the_leader_hands_leadership_over() {
    if !detcd() {
        return;
    }
    let mut c = Cluster::start(Target::Detcd, 3);
    c.ok(&["put", "a", "1"]);
    let status = json(&c.ok(&["endpoint", "status", "-w", "json"]));
    let leader_id = status[0]["Status"]["leader"].as_u64().expect("leader");
    let leader = (0..3)
        .find(|&i| {
            let s = json(&c.ok_at(i, &["endpoint", "status", "-w", "json"]));
            s[0]["Status"]["header"]["member_id"].as_u64() == Some(leader_id)
        })
        .expect("the leader is a member");
    let started = Instant::now();
    c.stop(leader);
    let stopped_in = started.elapsed();
    let log = c.log(leader);
    assert!(log.contains("stopping: handing leadership over"), "{log}");
    assert!(log.contains("stopped"), "{log}");
    assert!(stopped_in < Duration::from_secs(3), "graceful stop took {stopped_in:?}");
    // The others have a leader at once: no election timeout to sit out.
    let others: Vec<usize> = (0..3).filter(|&i| i != leader).collect();
    let endpoints = others.iter().map(|&i| c.endpoint(i)).collect::<Vec<_>>().join(",");
    let put = Instant::now();
    let out = c.etcdctl_at(&endpoints, &["put", "b", "2"], None);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(
        put.elapsed() < Duration::from_secs(2),
        "first put after handover took {:?}",
        put.elapsed()
    );
    assert_eq!(c.ok_at(others[0], &["get", "a", "--print-value-only"]), "1\n");
}

#[test]
fn health_version_and_metrics_over_http() {
    if !detcd() {
        return;
    }
    let c = Cluster::start(Target::Detcd, 3);
    c.ok_at(0, &["put", "a", "1"]);
    let port = c.member(0).client_port;
    let (code, body) = http_get(port, "/health");
    assert_eq!(code, 200);
    assert!(body.contains("{\"health\":\"true\"}"), "{body}");
    let (code, body) = http_get(port, "/version");
    assert_eq!(code, 200);
    assert!(body.contains("\"etcdserver\":\"3.5.0\""), "{body}");
    let (code, body) = http_get(port, "/metrics");
    assert_eq!(code, 200);
    for name in [
        "etcd_server_has_leader 1",
        "etcd_server_is_leader",
        "etcd_server_leader_changes_seen_total",
        "etcd_server_proposals_committed_total",
        "etcd_server_proposals_applied_total",
        "etcd_server_proposals_pending",
        "etcd_server_proposals_failed_total",
        "etcd_disk_wal_fsync_duration_seconds_bucket",
        "etcd_mvcc_db_total_size_in_bytes",
        "grpc_server_handled_total{",
        "process_resident_memory_bytes",
    ] {
        assert!(body.contains(name), "/metrics lacks {name}:\n{body}");
    }
}

/// Clients that hang up while the member is still writing to them (etcdctl does, at
/// the end of every command) must cost the member that connection alone: a broken pipe
/// is an error on the socket, never a signal that ends the process.
#[test]
fn clients_hanging_up_mid_answer_do_not_stop_the_member() {
    if !detcd() {
        return;
    }
    let c = Cluster::start(Target::Detcd, 1);
    let value = "v".repeat(100_000);
    for i in 0..60 {
        c.ok(&["put", &format!("big/{i:03}"), &value]);
    }
    let port = c.member(0).client_port;
    for _ in 0..200 {
        // Ask for a large answer, then close without reading it.
        let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
        let _ = write!(s, "GET /metrics HTTP/1.0\r\n\r\n");
        drop(s);
        let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
        let _ = s.write_all(b"GET /health HTTP/1.0\r\n\r\n");
        drop(s);
    }
    for ms in (0..20).map(|i| 20 + 15 * i) {
        // etcdctl reading 6 MB of values, killed before it has read them all: its
        // socket closes with unread data, so the member's next write meets a reset.
        let mut reader = c.etcdctl_spawn(&["get", "big/", "--prefix"]);
        std::thread::sleep(Duration::from_millis(ms));
        reader.kill();
    }
    assert_eq!(c.ok(&["get", "big/000", "--print-value-only"]).len(), value.len() + 1);
}
