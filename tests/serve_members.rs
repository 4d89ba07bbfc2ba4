//! Membership changes on a loopback `detcd serve` cluster with etcdctl 3.4.23, as an
//! operator makes them: list the members, add a learner and start it with exactly
//! what `member add` printed, promote it once it caught up, remove a voter and then the
//! leader (each removed process stops by itself), update a member's peer URLs, and
//! etcd's refusals; the cluster serves a put and a get throughout.

mod support;

use std::process::Output;
use std::time::{Duration, Instant};
use support::cluster::{error_line, free_port, Cluster};
use support::grpc;
use support::tools::Target;

/// How long a removed member may take to notice and stop.
const EXIT_LIMIT: Duration = Duration::from_secs(15);
/// How long a learner may take to catch up before `member promote` is accepted.
const PROMOTE_LIMIT: Duration = Duration::from_secs(20);

/// One line of `etcdctl member list`: id, status, name, peer URLs, client URLs, learner.
#[derive(Debug)]
struct Listed {
    id: String,
    status: String,
    name: String,
    peer_urls: String,
    client_urls: String,
    learner: bool,
}

fn member_list(c: &Cluster, endpoints: &str) -> Vec<Listed> {
    let out = c.etcdctl_at(endpoints, &["member", "list"], None);
    let text = c.expect_ok(&["member", "list"], &out);
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let f: Vec<&str> = l.split(", ").collect();
            assert_eq!(f.len(), 6, "member list line {l:?}");
            Listed {
                id: f[0].to_string(),
                status: f[1].to_string(),
                name: f[2].to_string(),
                peer_urls: f[3].to_string(),
                client_urls: f[4].to_string(),
                learner: f[5] == "true",
            }
        })
        .collect()
}

/// The `KEY="value"` lines `etcdctl member add` prints for the new member.
fn printed_env(stdout: &str) -> Vec<(String, String)> {
    stdout
        .lines()
        .filter_map(|l| l.split_once('='))
        .filter(|(k, _)| k.starts_with("ETCD_"))
        .map(|(k, v)| (k.to_string(), v.trim_matches('"').to_string()))
        .collect()
}

/// Client endpoints of the members still running.
fn running(c: &Cluster) -> String {
    let up: Vec<String> =
        (0..c.size()).filter(|&i| c.is_running(i)).map(|i| c.endpoint(i)).collect();
    up.join(",")
}

fn fails_at(c: &Cluster, endpoints: &str, args: &[&str]) -> String {
    let out: Output = c.etcdctl_at(endpoints, args, None);
    assert!(
        !out.status.success(),
        "etcdctl {args:?} should fail\nstdout:\n{}",
        String::from_utf8_lossy(&out.stdout)
    );
    error_line(&String::from_utf8_lossy(&out.stderr))
}

fn ok_at(c: &Cluster, endpoints: &str, args: &[&str]) -> String {
    let out = c.etcdctl_at(endpoints, args, None);
    c.expect_ok(args, &out)
}

/// A put then a get of the same key through `endpoints`, retried while a removed
/// leader's term ends (etcdctl does not retry a write that timed out).
fn put_get(c: &Cluster, endpoints: &str, key: &str, value: &str) {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let out = c.etcdctl_at(endpoints, &["put", key, value], None);
        if out.status.success() || Instant::now() > deadline {
            c.expect_ok(&["put", key, value], &out);
            break;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    let got = ok_at(c, endpoints, &["get", key, "--print-value-only"]);
    assert_eq!(got.trim(), value, "get {key}");
}

/// The id (hex) of the member that leads, as `endpoint status` on `endpoints` says.
fn leader_id(c: &Cluster, endpoints: &str) -> String {
    let status = ok_at(c, endpoints, &["endpoint", "status"]);
    let line = status.lines().find(|l| l.split(", ").nth(4) == Some("true"));
    let line = line.unwrap_or_else(|| panic!("no leader in\n{status}"));
    line.split(", ").nth(1).expect("id column").to_string()
}

fn index_of(c: &Cluster, listed: &[Listed], id: &str) -> usize {
    let name = &listed.iter().find(|m| m.id == id).expect("listed").name;
    (0..c.size()).find(|&i| c.member(i).name == *name).expect("a member of the test")
}

/// Once the member at `at` knows itself a learner (its Status says so), it serves
/// serializable reads and refuses writes (before validating them) and watch streams as
/// etcd 3.4 does: Unavailable, "etcdserver: rpc not supported for learner".
fn learner_serves_only_what_etcd_lets_it(c: &Cluster, at: &str) {
    let deadline = Instant::now() + PROMOTE_LIMIT;
    loop {
        let status = ok_at(c, at, &["endpoint", "status"]);
        if status.split(", ").nth(5) == Some("true") {
            break;
        }
        assert!(Instant::now() < deadline, "never a learner: {status}\n{}", c.logs());
        std::thread::sleep(Duration::from_millis(100));
    }
    const REFUSAL: &str = "etcdserver: rpc not supported for learner";
    assert_eq!(fails_at(c, at, &["put", "k", "x"]), format!("Error: {REFUSAL}"));
    // etcd's interceptor refuses before the handler validates: a TTL over etcd's
    // maximum, "too large lease TTL" on a voter, is refused as on a learner here.
    let too_long = &["lease", "grant", "9000000001"];
    let refused = format!("Error: failed to grant lease ({REFUSAL})");
    assert_eq!(fails_at(c, at, too_long), refused);
    ok_at(c, at, &["get", "k", "--consistency=s"]);
    let rt = grpc::runtime();
    let answer = rt.block_on(async { grpc::first_watch_answer(&grpc::channel(at), "k").await });
    match answer {
        Some(Err(s)) => {
            assert_eq!((s.code(), s.message()), (tonic::Code::Unavailable, REFUSAL), "{s:?}")
        }
        other => panic!("a watch stream on a learner must be refused, got {other:?}"),
    }
}

#[test]
fn etcdctl_membership_changes() {
    let mut c = Cluster::start(Target::Detcd, 3);
    let all = c.endpoints();

    let listed = member_list(&c, &all);
    assert_eq!(listed.len(), 3, "{listed:?}");
    for (i, m) in (0..3).map(|i| (i, c.member(i))) {
        let l = listed.iter().find(|l| l.name == m.name).unwrap_or_else(|| panic!("m{i} listed"));
        assert_eq!(l.status, "started");
        assert_eq!(l.peer_urls, format!("http://127.0.0.1:{}", m.peer_port));
        assert_eq!(l.client_urls, format!("http://127.0.0.1:{}", m.client_port));
        assert!(!l.learner);
    }
    put_get(&c, &all, "k", "v0");

    // etcd's refusals.
    assert_eq!(
        fails_at(&c, &all, &["member", "remove", "1234"]),
        "Error: etcdserver: member not found"
    );
    let taken = format!("--peer-urls=http://127.0.0.1:{}", c.member(0).peer_port);
    assert_eq!(
        fails_at(&c, &all, &["member", "add", "dup", &taken]),
        "Error: etcdserver: Peer URLs already exists"
    );

    // A learner, added through every endpoint (followers forward to the leader).
    let (client_port, peer_port) = (free_port(), free_port());
    let peer_url = format!("http://127.0.0.1:{peer_port}");
    let added =
        ok_at(&c, &all, &["member", "add", "m3", "--learner", &format!("--peer-urls={peer_url}")]);
    let env = printed_env(&added);
    let get = |k: &str| env.iter().find(|(key, _)| key == k).map(|(_, v)| v.clone());
    assert_eq!(get("ETCD_NAME").as_deref(), Some("m3"), "{added}");
    assert_eq!(get("ETCD_INITIAL_CLUSTER_STATE").as_deref(), Some("existing"), "{added}");
    assert_eq!(get("ETCD_INITIAL_ADVERTISE_PEER_URLS"), Some(peer_url.clone()), "{added}");
    let initial = get("ETCD_INITIAL_CLUSTER").expect("ETCD_INITIAL_CLUSTER printed");
    assert_eq!(initial.split(',').count(), 4, "{initial}");
    let listed = member_list(&c, &all);
    let learner = listed.iter().find(|m| m.peer_urls == peer_url).expect("the learner listed");
    assert!(learner.learner);
    // Added, not started: no name and no client URLs, as etcd shows it.
    assert_eq!((learner.status.as_str(), learner.name.as_str()), ("unstarted", ""));
    let learner_id = learner.id.clone();

    let other = format!("--peer-urls=http://127.0.0.1:{}", free_port());
    assert_eq!(
        fails_at(&c, &all, &["member", "add", "m9", "--learner", &other]),
        "Error: etcdserver: too many learner members in cluster"
    );
    assert_eq!(
        fails_at(&c, &all, &["member", "promote", &learner_id]),
        "Error: etcdserver: can only promote a learner member which is in sync with leader"
    );

    // Started with exactly what `member add` printed, on an empty data dir.
    let m3 = c.join(client_port, peer_port, &env);
    assert!(c.log(m3).contains("joining the running cluster"), "{}", c.log(m3));
    learner_serves_only_what_etcd_lets_it(&c, &c.endpoint(m3));
    let deadline = Instant::now() + PROMOTE_LIMIT;
    loop {
        let out = c.etcdctl_at(&all, &["member", "promote", &learner_id], None);
        if out.status.success() {
            let text = String::from_utf8_lossy(&out.stdout);
            assert!(text.contains(&format!("{learner_id} promoted")), "{text}");
            break;
        }
        let err = error_line(&String::from_utf8_lossy(&out.stderr));
        assert!(err.contains("in sync with leader"), "{err}");
        assert!(Instant::now() < deadline, "the learner did not catch up\n{}", c.logs());
        std::thread::sleep(Duration::from_millis(200));
    }
    let listed = member_list(&c, &all);
    let promoted = listed.iter().find(|m| m.id == learner_id).expect("listed");
    assert_eq!((promoted.name.as_str(), promoted.learner), ("m3", false));
    assert_eq!(promoted.client_urls, format!("http://127.0.0.1:{client_port}"));
    put_get(&c, &c.endpoint(m3), "k", "v1");

    // Remove a voter that does not lead: its process stops by itself.
    let all = running(&c);
    let leader = leader_id(&c, &all);
    let follower = listed.iter().find(|m| m.id != leader && m.id != learner_id).expect("one");
    let f = index_of(&c, &listed, &follower.id);
    let removed = ok_at(&c, &all, &["member", "remove", &follower.id]);
    assert!(removed.contains(&format!("{} removed", follower.id)), "{removed}");
    let status = c.wait_exit(f, EXIT_LIMIT);
    assert!(status.is_some(), "the removed member still runs\n{}", c.logs());
    assert!(c.log(f).contains("permanently removed from the cluster"), "{}", c.log(f));
    let all = running(&c);
    put_get(&c, &all, "k", "v2");
    assert_eq!(member_list(&c, &all).len(), 3);

    // Remove the leader: it sees the change through, steps down and stops.
    let leader = leader_id(&c, &all);
    let l = index_of(&c, &member_list(&c, &all), &leader);
    ok_at(&c, &all, &["member", "remove", &leader]);
    assert!(c.wait_exit(l, EXIT_LIMIT).is_some(), "the removed leader still runs\n{}", c.logs());
    assert!(c.log(l).contains("permanently removed from the cluster"), "{}", c.log(l));
    let all = running(&c);
    put_get(&c, &all, "k", "v3");
    let listed = member_list(&c, &all);
    assert_eq!(listed.len(), 2, "{listed:?}");
    assert!(!listed.iter().any(|m| m.id == leader));
    assert_ne!(leader_id(&c, &all), leader);

    // Update a member's peer URLs (its own URL stays first, so peers still reach it).
    let target = &listed[0];
    let urls = format!("{},http://127.0.0.1:{}", target.peer_urls, free_port());
    let updated =
        ok_at(&c, &all, &["member", "update", &target.id, &format!("--peer-urls={urls}")]);
    assert!(updated.contains(&format!("{} updated", target.id)), "{updated}");
    let after = member_list(&c, &all);
    let now = after.iter().find(|m| m.id == target.id).expect("still listed");
    assert_eq!(now.peer_urls, urls);
    put_get(&c, &all, "k", "v4");
}
