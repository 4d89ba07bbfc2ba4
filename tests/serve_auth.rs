//! An etcdctl 3.4 auth session — users, roles, prefix permissions, enabling auth,
//! allowed and denied reads and writes, a user reading itself and its roles, a wrong
//! password, a revocation, a password change, disabling — run against `detcd serve` and against a real etcd 3.4, with the
//! same output line for line (etcdctl's retry log lines aside).

mod support;

use support::cluster::Cluster;
use support::tools::{installed, installed_for, Target, ETCD, ETCDCTL};

/// Each step: etcdctl's arguments, and stdin for `user passwd`.
const SESSION: &[(&[&str], Option<&str>)] = &[
    (&["user", "add", "root:rootpw"], None),
    (&["auth", "enable"], None),
    (&["--user", "root:rootpw", "user", "add", "alice:pw"], None),
    (&["--user", "root:rootpw", "role", "add", "reader"], None),
    (
        &["--user", "root:rootpw", "role", "grant-permission", "reader", "--prefix", "read", "/a/"],
        None,
    ),
    (&["--user", "root:rootpw", "role", "grant-permission", "reader", "readwrite", "/a/w"], None),
    (&["--user", "root:rootpw", "user", "grant-role", "alice", "reader"], None),
    (&["--user", "root:rootpw", "put", "/a/x", "1"], None),
    (&["--user", "root:rootpw", "put", "/b", "2"], None),
    (&["--user", "alice:pw", "get", "/a/x"], None),
    (&["--user", "alice:pw", "put", "/a/w", "3"], None),
    (&["--user", "alice:pw", "put", "/a/x", "4"], None),
    (&["--user", "alice:pw", "get", "/b"], None),
    (&["--user", "alice:wrong", "get", "/a/x"], None),
    (&["get", "/a/x"], None),
    (&["--user", "alice:pw", "user", "list"], None),
    (&["--user", "root:rootpw", "role", "get", "reader"], None),
    (&["--user", "root:rootpw", "user", "get", "alice"], None),
    (&["--user", "root:rootpw", "user", "list"], None),
    (&["--user", "root:rootpw", "role", "list"], None),
    // A user reads itself and its own roles without the root role, nothing else.
    (&["--user", "alice:pw", "user", "get", "alice"], None),
    (&["--user", "alice:pw", "user", "get", "root"], None),
    (&["--user", "alice:pw", "role", "get", "reader"], None),
    (&["--user", "alice:pw", "role", "get", "root"], None),
    // Alarms are open to all; the root-only Maintenance calls are in serve_auth_grpc.rs.
    (&["--user", "alice:pw", "alarm", "list"], None),
    (&["--user", "root:rootpw", "role", "revoke-permission", "reader", "/a/", "--prefix"], None),
    (&["--user", "alice:pw", "get", "/a/x"], None),
    (&["--user", "root:rootpw", "role", "revoke-permission", "reader", "/a/", "--prefix"], None),
    (&["--user", "root:rootpw", "user", "revoke-role", "alice", "nope"], None),
    (&["--user", "root:rootpw", "user", "add", "alice:x"], None),
    (&["--user", "root:rootpw", "user", "get", "nobody"], None),
    (&["--user", "root:rootpw", "role", "add", "root"], None),
    (&["--user", "root:rootpw", "user", "delete", "root"], None),
    (&["--user", "root:rootpw", "user", "passwd", "alice", "--interactive=false"], Some("new\n")),
    (&["--user", "alice:pw", "get", "/a/w"], None),
    (&["--user", "alice:new", "get", "/a/w", "--print-value-only"], None),
    (&["--user", "root:rootpw", "user", "delete", "alice"], None),
    (&["--user", "alice:new", "get", "/a/w"], None),
    (&["--user", "root:rootpw", "auth", "disable"], None),
    (&["get", "/b", "--print-value-only"], None),
];

/// What each step printed: stdout, or the `Error:` line.
fn run(target: Target) -> Vec<String> {
    let c = Cluster::start(target, 1);
    SESSION
        .iter()
        .map(|(args, stdin)| {
            let out = c.etcdctl_at(&c.endpoint(0), args, *stdin);
            let text = if out.status.success() {
                String::from_utf8_lossy(&out.stdout).into_owned()
            } else {
                let err = String::from_utf8_lossy(&out.stderr).into_owned();
                err.lines().filter(|l| l.starts_with("Error:")).collect::<Vec<_>>().join("\n")
            };
            format!("$ etcdctl {}\n{text}", args.join(" "))
        })
        .collect()
}

#[test]
fn auth_session_matches_etcd() {
    if !installed_for(Target::Detcd) {
        return;
    }
    let detcd = run(Target::Detcd);
    let joined = detcd.join("\n");
    // The session says what it should whether or not etcd is there to compare with.
    for expected in [
        "Authentication Enabled",
        "Error: etcdserver: permission denied",
        "Error: etcdserver: authentication failed, invalid user ID or password",
        "Error: etcdserver: user name is empty",
        "Error: etcdserver: permission is not granted to the role",
        "Error: etcdserver: role is not granted to the user",
        "Error: etcdserver: user name already exists",
        "Error: etcdserver: user name not found",
        "Error: etcdserver: role name already exists",
        "Error: etcdserver: invalid auth management",
        "Authentication Disabled",
    ] {
        assert!(joined.contains(expected), "missing {expected:?} in\n{joined}");
    }
    if !installed(&[ETCD, ETCDCTL]) {
        return;
    }
    let etcd = run(Target::Etcd);
    for (d, e) in detcd.iter().zip(&etcd) {
        assert_eq!(d, e, "detcd and etcd differ");
    }
}
