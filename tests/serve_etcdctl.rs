//! etcdctl 3.4.23 end to end against `detcd serve`: one member and three, every command
//! a user reaches for, with etcd's exact output where it is stable. Set
//! `DETCD_E2E_TARGET=etcd` to run the same tests against a real etcd.

mod support;

use serde_json::Value;
use std::time::Duration;
use support::cluster::{error_line, Cluster};
use support::tools::{installed_for, Target};

const WAIT: Duration = Duration::from_secs(10);

/// The target of this run, or None (after a SKIPPED line) when etcdctl is missing.
fn target() -> Option<Target> {
    let t = Target::from_env();
    installed_for(t).then_some(t)
}

fn json(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

/// The store's current revision, from a response header.
fn revision(c: &Cluster) -> i64 {
    json(&c.ok(&["get", "-w", "json", "any"]))["header"]["revision"].as_i64().expect("revision")
}

/// The version Status reports: detcd reads as the etcd release whose API it serves.
fn server_version(t: Target) -> &'static str {
    match t {
        Target::Etcd => "3.4.23",
        Target::Detcd => "3.5.0",
    }
}

fn lines(text: &[&str]) -> String {
    text.iter().map(|l| format!("{l}\n")).collect()
}

// ---------------------------------------------------------------- keys and values

fn put_get(c: &Cluster) {
    for (k, v) in [("/k/a", "1"), ("/k/b", "22"), ("/k/c", "333"), ("/k/a", "4"), ("z", "last")] {
        assert_eq!(c.ok(&["put", k, v]), "OK\n");
    }
    assert_eq!(c.ok(&["get", "/k/a"]), lines(&["/k/a", "4"]));
    assert_eq!(c.ok(&["get", "nope"]), "");
    assert_eq!(
        c.ok(&["get", "--prefix", "/k/"]),
        lines(&["/k/a", "4", "/k/b", "22", "/k/c", "333"])
    );
    assert_eq!(c.ok(&["get", "/k/a", "/k/c"]), lines(&["/k/a", "4", "/k/b", "22"]));
    assert_eq!(
        c.ok(&["get", "--from-key", "/k/b"]),
        lines(&["/k/b", "22", "/k/c", "333", "z", "last"])
    );
    assert_eq!(
        c.ok(&["get", "--prefix", "--limit", "2", "/k/"]),
        lines(&["/k/a", "4", "/k/b", "22"])
    );
    assert_eq!(c.ok(&["get", "--rev", "2", "/k/a"]), lines(&["/k/a", "1"]));
    assert_eq!(
        c.ok(&["get", "--prefix", "--order", "DESCEND", "/k/"]),
        lines(&["/k/c", "333", "/k/b", "22", "/k/a", "4"])
    );
    assert_eq!(
        c.ok(&["get", "--prefix", "--sort-by", "MODIFY", "--order", "DESCEND", "/k/"]),
        lines(&["/k/a", "4", "/k/c", "333", "/k/b", "22"])
    );
    assert_eq!(
        c.ok(&["get", "--prefix", "--sort-by", "VALUE", "/k/"]),
        lines(&["/k/b", "22", "/k/c", "333", "/k/a", "4"])
    );
    assert_eq!(
        c.ok(&["get", "--prefix", "--keys-only", "/k/"]),
        lines(&["/k/a", "", "/k/b", "", "/k/c", ""])
    );
    assert_eq!(c.ok(&["get", "--prefix", "--print-value-only", "/k/"]), lines(&["4", "22", "333"]));
    for i in 0..c.size() {
        let out = c.etcdctl_at(&c.endpoint(i), &["get", "--consistency", "s", "/k/a"], None);
        // A serializable read on a follower may lag the leader's commit for a moment.
        let text = c.expect_ok(&["get"], &out);
        assert!(text == lines(&["/k/a", "4"]) || text.is_empty(), "{text}");
    }

    let doc = json(&c.ok(&["get", "--prefix", "/k/", "--limit", "2", "-w", "json"]));
    assert_eq!(doc["header"]["revision"], 6);
    assert_eq!(doc["count"], 3);
    assert_eq!(doc["more"], true);
    assert_eq!(
        doc["kvs"][0],
        json(
            r#"{"key":"L2svYQ==","create_revision":2,"mod_revision":5,"version":2,"value":"NA=="}"#
        )
    );
    let empty = json(&c.ok(&["get", "nope", "-w", "json"]));
    assert!(empty.get("kvs").is_none() && empty.get("count").is_none(), "{empty}");

    assert_eq!(c.fails(&["put", "", "x"]), "Error: etcdserver: key is not provided");
}

#[test]
fn put_get_on_one_member() {
    let Some(t) = target() else { return };
    put_get(&Cluster::start(t, 1));
}

#[test]
fn put_get_on_three_members() {
    let Some(t) = target() else { return };
    put_get(&Cluster::start(t, 3));
}

#[test]
fn del_with_prefix_and_prev_kv() {
    let Some(t) = target() else { return };
    let c = Cluster::start(t, 1);
    for k in ["/d/a", "/d/b", "/d/c", "/e"] {
        c.ok(&["put", k, "v"]);
    }
    assert_eq!(c.ok(&["del", "--prev-kv", "/d/b"]), lines(&["1", "/d/b", "v"]));
    assert_eq!(c.ok(&["del", "--prefix", "/d/"]), "2\n");
    assert_eq!(c.ok(&["del", "nope"]), "0\n");
    assert_eq!(c.ok(&["get", "--prefix", "/"]), lines(&["/e", "v"]));
}

#[test]
fn txn_from_stdin() {
    let Some(t) = target() else { return };
    let c = Cluster::start(t, 3);
    c.ok(&["put", "z", "last"]);
    let both = "value(\"z\") = \"last\"\nversion(\"z\") = \"1\"\ncreate(\"z\") > \"0\"\nmod(\"z\") < \"100\"\n\nput z new\nget z\ndel nope\n\nput z other\n\n";
    let out = c.etcdctl_stdin(&["txn"], both);
    assert_eq!(c.expect_ok(&["txn"], &out), lines(&["SUCCESS", "", "OK", "", "z", "new", "", "0"]));
    let fail = "value(\"z\") = \"x\"\n\nput z new\n\nput z other\nget z\n\n";
    let out = c.etcdctl_stdin(&["txn"], fail);
    assert_eq!(c.expect_ok(&["txn"], &out), lines(&["FAILURE", "", "OK", "", "z", "other"]));
    let out = c.etcdctl_stdin(&["txn", "-w", "json"], fail);
    let doc = json(&c.expect_ok(&["txn"], &out));
    assert!(doc.get("succeeded").is_none(), "false is left out: {doc}");
    assert_eq!(
        doc["responses"][1]["Response"]["ResponseRange"]["kvs"][0],
        json(
            r#"{"key":"eg==","create_revision":2,"mod_revision":5,"version":4,"value":"b3RoZXI="}"#
        )
    );
    // A compare on an absent key: its version is 0.
    let absent = "version(\"absent\") = \"0\"\n\nput absent here\n\n\n";
    let out = c.etcdctl_stdin(&["txn"], absent);
    assert_eq!(c.expect_ok(&["txn"], &out), lines(&["SUCCESS", "", "OK"]));

    let too_many: String =
        format!("\n{}\n\n", (0..129).map(|i| format!("put k{i} v\n")).collect::<String>());
    let out = c.etcdctl_stdin(&["txn"], &too_many);
    assert!(!out.status.success());
    assert_eq!(
        error_line(&String::from_utf8_lossy(&out.stderr)),
        "Error: etcdserver: too many operations in txn request"
    );
    let dup = "\nput d 1\nput d 2\n\n\n";
    let out = c.etcdctl_stdin(&["txn"], dup);
    assert_eq!(
        error_line(&String::from_utf8_lossy(&out.stderr)),
        "Error: etcdserver: duplicate key given in txn request"
    );
}

#[test]
fn compaction_and_revision_errors() {
    let Some(t) = target() else { return };
    let c = Cluster::start(t, 3);
    for v in ["1", "2", "3", "4", "5"] {
        c.ok(&["put", "c", v]);
    }
    assert_eq!(c.ok(&["compaction", "3"]), "compacted revision 3\n");
    let compacted = "Error: etcdserver: mvcc: required revision has been compacted";
    assert_eq!(c.fails(&["get", "--rev", "2", "c"]), compacted);
    assert_eq!(c.ok(&["get", "--rev", "3", "c"]), lines(&["c", "2"]));
    assert_eq!(
        c.fails(&["get", "--rev", "1000", "c"]),
        "Error: etcdserver: mvcc: required revision is a future revision"
    );
    assert_eq!(c.ok(&["compaction", "--physical", "5"]), "compacted revision 5\n");
    assert_eq!(c.fails(&["compaction", "2"]), compacted);
    assert_eq!(c.ok(&["get", "c"]), lines(&["c", "5"]));
    let hashes = json(&c.ok(&["endpoint", "hashkv", "--cluster", "-w", "json"]));
    for h in hashes.as_array().expect("one per member") {
        assert_eq!(h["HashKV"]["compact_revision"], 5, "{h}");
    }
}

// ---------------------------------------------------------------- watch

#[test]
fn watch_prefix_sees_puts_and_deletes() {
    let Some(t) = target() else { return };
    let c = Cluster::start(t, 3);
    // Starting at the next revision makes the watch see every event below, however
    // late its stream is created.
    let from = (revision(&c) + 1).to_string();
    let watch = c.etcdctl_spawn(&["watch", "--prefix", "/w", "--rev", &from]);
    c.ok(&["put", "/w/a", "1"]);
    c.ok(&["put", "/other", "x"]);
    c.ok(&["put", "/w/b", "2"]);
    c.ok(&["del", "/w/a"]);
    let want = lines(&["PUT", "/w/a", "1", "PUT", "/w/b", "2", "DELETE", "/w/a", ""]);
    let seen = watch.wait_stdout(WAIT, |s| s.len() >= want.len());
    assert_eq!(seen, want);
}

#[test]
fn watch_history_with_prev_kv() {
    let Some(t) = target() else { return };
    let c = Cluster::start(t, 1);
    c.ok(&["put", "h", "1"]);
    c.ok(&["put", "h", "2"]);
    c.ok(&["del", "h"]);
    let watch = c.etcdctl_spawn(&["watch", "--rev", "1", "--prev-kv", "h"]);
    let want = lines(&["PUT", "h", "1", "PUT", "h", "1", "h", "2", "DELETE", "h", "2", "h", ""]);
    let seen = watch.wait_stdout(WAIT, |s| s.len() >= want.len());
    assert_eq!(seen, want);

    c.ok(&["put", "h", "3"]);
    c.ok(&["compaction", "4"]);
    let mut old = c.etcdctl_spawn(&["watch", "--rev", "2", "h"]);
    old.wait(WAIT);
    assert!(
        old.stderr().contains(
            "watch was canceled (etcdserver: mvcc: required revision has been compacted)"
        ),
        "{}",
        old.stderr()
    );
}

// ---------------------------------------------------------------- leases

/// The hex id in `lease <id> granted with TTL(<n>s)`.
fn granted(text: &str) -> String {
    let words: Vec<&str> = text.split_whitespace().collect();
    assert_eq!(words.first(), Some(&"lease"), "{text}");
    words[1].to_string()
}

#[test]
fn leases() {
    let Some(t) = target() else { return };
    let c = Cluster::start(t, 3);
    let grant = c.ok(&["lease", "grant", "60"]);
    let id = granted(&grant);
    assert_eq!(grant, format!("lease {id} granted with TTL(60s)\n"));
    assert_eq!(c.ok(&["put", "--lease", &id, "lk", "v"]), "OK\n");
    assert_eq!(
        c.fails(&["put", "k", "v", "--lease=1234"]),
        "Error: etcdserver: requested lease not found"
    );

    let ttl = c.ok(&["lease", "timetolive", "--keys", &id]);
    assert!(ttl.starts_with(&format!("lease {id} granted with TTL(60s), remaining(")), "{ttl}");
    assert!(ttl.ends_with("s), attached keys([lk])\n"), "{ttl}");
    let doc = json(&c.ok(&["lease", "timetolive", "--keys", &id, "-w", "json"]));
    assert_eq!(doc["granted-ttl"], 60);
    assert_eq!(doc["keys"], json(r#"["bGs="]"#));
    assert_eq!(u64::from_str_radix(&id, 16).ok(), doc["id"].as_u64());

    assert_eq!(c.ok(&["lease", "list"]), format!("found 1 leases\n{id}\n"));
    assert_eq!(
        c.ok(&["lease", "keep-alive", "--once", &id]),
        format!("lease {id} keepalived with TTL(60)\n")
    );
    assert_eq!(c.ok(&["lease", "revoke", &id]), format!("lease {id} revoked\n"));
    assert_eq!(c.ok(&["get", "lk"]), "");
    assert_eq!(
        c.fails(&["lease", "revoke", &id]),
        "Error: failed to revoke lease (etcdserver: requested lease not found)"
    );
    assert_eq!(c.ok(&["lease", "timetolive", "1234"]), "lease 0000000000001234 already expired\n");
    assert_eq!(c.ok(&["lease", "list"]), "found 0 leases\n");
    let short = c.ok(&["lease", "grant", "1"]);
    assert!(short.ends_with(" granted with TTL(2s)\n"), "the minimum TTL is 2 s: {short}");
}

// ---------------------------------------------------------------- cluster and maintenance

fn member_ids(c: &Cluster) -> Vec<u64> {
    let doc = json(&c.ok(&["member", "list", "-w", "json"]));
    doc["members"]
        .as_array()
        .expect("members")
        .iter()
        .map(|m| m["ID"].as_u64().expect("ID"))
        .collect()
}

/// The leader's id as each member reports it, from `endpoint status`.
fn leaders(c: &Cluster) -> Vec<u64> {
    let doc = json(&c.ok(&["endpoint", "status", "--cluster", "-w", "json"]));
    doc.as_array()
        .expect("one per member")
        .iter()
        .map(|s| s["Status"]["leader"].as_u64().expect("leader"))
        .collect()
}

#[test]
fn members_endpoints_and_maintenance() {
    let Some(t) = target() else { return };
    let c = Cluster::start(t, 3);
    c.ok(&["put", "a", "1"]);

    let list = c.ok(&["member", "list"]);
    let mut rows: Vec<&str> = list.lines().collect();
    rows.sort_by_key(|r| r.split(", ").nth(2).map(str::to_owned));
    for (i, row) in rows.iter().enumerate() {
        let (client, peer) = c.ports()[i];
        let tail =
            format!(", started, m{i}, http://127.0.0.1:{peer}, http://127.0.0.1:{client}, false");
        assert!(row.ends_with(&tail), "{row} should end with {tail}");
    }
    let doc = json(&c.ok(&["member", "list", "-w", "json"]));
    let members = doc["members"].as_array().expect("members");
    assert_eq!(members.len(), 3);
    let ids = member_ids(&c);
    let mut sorted = ids.clone();
    sorted.sort_unstable();
    assert_eq!(ids, sorted, "members are listed by id");

    // etcdctl 3.4 prints the simple health lines on stderr, the JSON on stdout.
    let out = c.etcdctl(&["endpoint", "health", "--cluster"]);
    c.expect_ok(&["endpoint", "health"], &out);
    let health = String::from_utf8_lossy(&out.stderr);
    let healthy: Vec<&str> = health.lines().filter(|l| !l.starts_with('{')).collect();
    assert_eq!(healthy.len(), 3, "{health}");
    for l in healthy {
        assert!(l.contains(" is healthy: successfully committed proposal: took = "), "{l}");
    }
    let health = json(&c.ok(&["endpoint", "health", "--cluster", "-w", "json"]));
    let health = health.as_array().expect("one per member");
    assert_eq!(health.len(), 3);
    assert!(health.iter().all(|h| h["health"] == true), "{health:?}");
    let status = json(&c.ok(&["endpoint", "status", "--cluster", "-w", "json"]));
    let status = status.as_array().expect("one per member");
    assert_eq!(status.len(), 3);
    let leader = status[0]["Status"]["leader"].clone();
    for s in status {
        assert_eq!(s["Status"]["leader"], leader, "{s}");
        assert_eq!(s["Status"]["version"], server_version(t), "{s}");
        assert_eq!(s["Status"]["header"]["revision"], 2, "{s}");
    }
    let table = c.ok(&["endpoint", "status", "--cluster"]);
    assert_eq!(
        table
            .lines()
            .filter(|l| l.contains(&format!(", {}, ", server_version(t)))
                && l.contains(", true, false, "))
            .count(),
        1,
        "{table}"
    );

    let hashes = json(&c.ok(&["endpoint", "hashkv", "--cluster", "--rev", "2", "-w", "json"]));
    let hashes: Vec<&Value> =
        hashes.as_array().expect("one per member").iter().map(|h| &h["HashKV"]["hash"]).collect();
    assert!(hashes.iter().all(|h| *h == hashes[0]), "{hashes:?}");

    assert_eq!(c.ok(&["alarm", "list"]), "");
    let defrag = c.ok(&["defrag", "--cluster"]);
    assert_eq!(defrag.lines().count(), 3, "{defrag}");
    for i in 0..3 {
        let line =
            format!("Finished defragmenting etcd member[http://127.0.0.1:{}]", c.ports()[i].0);
        assert!(defrag.contains(&line), "{defrag}");
    }

    let path = c.scratch().join("snap.db");
    let path_text = path.to_str().expect("utf-8 path");
    let out = c.etcdctl_at(&c.endpoint(0), &["snapshot", "save", path_text], None);
    assert_eq!(
        c.expect_ok(&["snapshot", "save"], &out),
        format!("Snapshot saved at {path_text}\n")
    );
    let size = std::fs::metadata(&path).expect("snapshot written").len();
    assert!(size > 0 && size % 512 == 32, "a db followed by its sha256: {size} bytes");
}

#[test]
fn move_leader_to_a_follower() {
    let Some(t) = target() else { return };
    let c = Cluster::start(t, 3);
    let before = leaders(&c);
    assert!(before.iter().all(|l| *l == before[0]), "members agree on the leader: {before:?}");
    let follower = *member_ids(&c).iter().find(|id| **id != before[0]).expect("a follower");
    let out = c.ok(&["move-leader", &format!("{follower:x}")]);
    assert_eq!(out, format!("Leadership transferred from {:x} to {follower:x}\n", before[0]));
    let deadline = std::time::Instant::now() + WAIT;
    while leaders(&c) != vec![follower; 3] {
        assert!(std::time::Instant::now() < deadline, "leader still {:?}", leaders(&c));
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn data_survives_kill_and_restart() {
    let Some(t) = target() else { return };
    let mut c = Cluster::start(t, 3);
    c.ok(&["put", "r", "1"]);
    c.kill(1);
    c.ok_eventually(&["put", "r", "2"], WAIT);
    c.restart(1);
    c.stop(2);
    c.ok_eventually(&["put", "r", "3"], WAIT);
    c.restart(2);
    for i in [1, 2] {
        let deadline = std::time::Instant::now() + WAIT;
        loop {
            let out = c.etcdctl_at(&c.endpoint(i), &["get", "--consistency", "s", "r"], None);
            if c.expect_ok(&["get"], &out) == lines(&["r", "3"]) {
                break;
            }
            assert!(std::time::Instant::now() < deadline, "m{i} did not catch up\n{}", c.logs());
            std::thread::sleep(Duration::from_millis(100));
        }
    }
    assert_eq!(c.ok(&["get", "r"]), lines(&["r", "3"]));
}

// ---------------------------------------------------------------- lock and elect

#[test]
fn lock_runs_a_command_and_serialises_holders() {
    let Some(t) = target() else { return };
    let c = Cluster::start(t, 3);
    assert_eq!(c.ok(&["lock", "l1", "--", "echo", "hi"]), "hi\n");

    let file = c.scratch().join("holders");
    let script = format!("echo start >> {0}; sleep 1; echo end >> {0}", file.display());
    let mut a = c.etcdctl_spawn(&["lock", "l2", "--", "sh", "-c", &script]);
    let mut b = c.etcdctl_spawn(&["lock", "l2", "--", "sh", "-c", &script]);
    assert!(a.wait(WAIT).success(), "{}", a.stderr());
    assert!(b.wait(WAIT).success(), "{}", b.stderr());
    let order = std::fs::read_to_string(&file).expect("holders wrote");
    assert_eq!(order, lines(&["start", "end", "start", "end"]), "holders overlapped");
}

#[test]
fn elect_is_observed_and_handed_over() {
    let Some(t) = target() else { return };
    let c = Cluster::start(t, 3);
    let mut first = c.etcdctl_spawn(&["elect", "e", "p1"]);
    let won = first.wait_stdout(WAIT, |s| s.ends_with("p1\n"));
    let key = won.lines().next().expect("leader key").to_string();
    assert!(key.starts_with("e/"), "{won}");
    assert_eq!(won, format!("{key}\np1\n"));

    let observer = c.etcdctl_spawn(&["elect", "-l", "e"]);
    observer.wait_stdout(WAIT, |s| s == format!("{key}\np1\n"));
    let second = c.etcdctl_spawn(&["elect", "e", "p2"]);
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(second.stdout(), "", "p1 still leads");
    // Ctrl-C makes etcdctl resign, so p2 takes over without waiting for a lease to expire.
    first.interrupt();
    second.wait_stdout(WAIT, |s| s.ends_with("p2\n"));
    observer.wait_stdout(WAIT, |s| s.ends_with("p2\n"));
}
