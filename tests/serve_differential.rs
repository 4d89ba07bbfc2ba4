//! One scripted etcdctl session run against a fresh etcd 3.4.23 cluster and a fresh
//! `detcd serve` cluster, outputs compared line by line after masking what legitimately
//! differs. Both clusters have the same member names, ports and cluster token, so the
//! member and cluster ids etcd computes from them are compared too.
//!
//! With `DETCD_E2E_TARGET=etcd` the second cluster is etcd as well: that checks the
//! script and the normaliser, which must leave two etcd runs identical.

mod support;

use std::path::Path;
use support::cluster::Cluster;
use support::tools::{installed, Target, ETCD, ETCDCTL};

/// One etcdctl call: words split on spaces (`""` is an empty word), and its stdin.
/// `$L1`, `$L2`… stand for the hex ids of the leases granted so far, `$DIR` for a scratch
/// directory. Every call goes to member 0 only, so response headers name one member.
const SCRIPT: &[(&str, Option<&str>)] = &[
    ("put a 1", None),
    ("put b 2", None),
    ("put /p/x 10", None),
    ("put /p/y 20", None),
    ("put /p/z 30", None),
    ("put a 3", None),
    ("get a", None),
    ("get a -w json", None),
    ("get a -w fields", None),
    ("get nope", None),
    ("get nope -w json", None),
    ("get --prefix /p/", None),
    ("get --prefix /p/ -w json", None),
    ("get --from-key b", None),
    ("get /p/x /p/z", None),
    ("get --prefix --limit 2 /p/ -w json", None),
    ("get --rev 2 a -w json", None),
    ("get --prefix --order DESCEND /p/", None),
    ("get --prefix --sort-by VALUE --order DESCEND /p/", None),
    ("get --prefix --sort-by CREATE /p/ -w json", None),
    ("get --prefix --keys-only /p/", None),
    ("get --prefix --print-value-only /p/", None),
    ("get --consistency s a -w json", None),
    ("put \"\" x", None),
    ("get \"\"", None),
    ("del --prev-kv /p/x -w json", None),
    ("del --prev-kv /p/x", None),
    ("del --prev-kv /p/y", None),
    ("del --prefix /p/ -w json", None),
    ("del nope", None),
    (
        "txn",
        Some("value(\"a\") = \"3\"\nversion(\"a\") = \"2\"\ncreate(\"a\") = \"2\"\nmod(\"a\") > \"1\"\n\nput a 4\nget a\ndel nope\n\nput a never\n\n"),
    ),
    ("txn -w json", Some("value(\"a\") = \"x\"\n\nput a never\n\nput b 5\nget b\n\n")),
    ("txn", Some("version(\"absent\") = \"0\"\n\nput absent here\n\n\n")),
    ("txn", Some("\nput d 1\nput d 2\n\n\n")),
    ("txn", Some("not a comparison\n\n\n\n")),
    ("txn", Some(TOO_MANY_OPS)),
    ("get a -w json", None),
    ("compaction 4", None),
    ("get --rev 3 a", None),
    ("get --rev 4 b -w json", None),
    ("get --rev 1000 a", None),
    ("compaction 1000", None),
    ("compaction --physical 6", None),
    ("compaction 5", None),
    ("lease grant 60", None),
    ("put --lease=$L1 lk v", None),
    ("get lk -w json", None),
    ("put k v --lease=1234", None),
    ("lease timetolive $L1", None),
    ("lease timetolive --keys $L1 -w json", None),
    ("lease list", None),
    ("lease list -w json", None),
    ("lease keep-alive --once $L1", None),
    ("lease keep-alive --once $L1 -w json", None),
    ("lease revoke $L1", None),
    ("get lk", None),
    ("lease revoke $L1", None),
    ("lease timetolive 1234", None),
    ("lease timetolive 1234 -w json", None),
    ("lease keep-alive --once 1234", None),
    ("lease grant 1", None),
    ("lease list", None),
    ("member list", None),
    ("member list -w json", None),
    ("endpoint status --cluster -w json", None),
    ("endpoint hashkv --cluster -w json", None),
    ("endpoint health -w json", None),
    ("alarm list", None),
    ("alarm list -w json", None),
    ("defrag --cluster", None),
    ("snapshot save $DIR/snap.db", None),
    ("get --from-key \"\" --keys-only", None),
];

/// 129 puts in the success branch: one more than `--max-txn-ops` allows.
const TOO_MANY_OPS: &str = concat!(
    "\n",
    "put o0 v\nput o1 v\nput o2 v\nput o3 v\nput o4 v\nput o5 v\nput o6 v\nput o7 v\n",
    "put o8 v\nput o9 v\nput o10 v\nput o11 v\nput o12 v\nput o13 v\nput o14 v\nput o15 v\n",
    "put o16 v\nput o17 v\nput o18 v\nput o19 v\nput o20 v\nput o21 v\nput o22 v\nput o23 v\n",
    "put o24 v\nput o25 v\nput o26 v\nput o27 v\nput o28 v\nput o29 v\nput o30 v\nput o31 v\n",
    "put o32 v\nput o33 v\nput o34 v\nput o35 v\nput o36 v\nput o37 v\nput o38 v\nput o39 v\n",
    "put o40 v\nput o41 v\nput o42 v\nput o43 v\nput o44 v\nput o45 v\nput o46 v\nput o47 v\n",
    "put o48 v\nput o49 v\nput o50 v\nput o51 v\nput o52 v\nput o53 v\nput o54 v\nput o55 v\n",
    "put o56 v\nput o57 v\nput o58 v\nput o59 v\nput o60 v\nput o61 v\nput o62 v\nput o63 v\n",
    "put o64 v\nput o65 v\nput o66 v\nput o67 v\nput o68 v\nput o69 v\nput o70 v\nput o71 v\n",
    "put o72 v\nput o73 v\nput o74 v\nput o75 v\nput o76 v\nput o77 v\nput o78 v\nput o79 v\n",
    "put o80 v\nput o81 v\nput o82 v\nput o83 v\nput o84 v\nput o85 v\nput o86 v\nput o87 v\n",
    "put o88 v\nput o89 v\nput o90 v\nput o91 v\nput o92 v\nput o93 v\nput o94 v\nput o95 v\n",
    "put o96 v\nput o97 v\nput o98 v\nput o99 v\nput o100 v\nput o101 v\nput o102 v\n",
    "put o103 v\nput o104 v\nput o105 v\nput o106 v\nput o107 v\nput o108 v\nput o109 v\n",
    "put o110 v\nput o111 v\nput o112 v\nput o113 v\nput o114 v\nput o115 v\nput o116 v\n",
    "put o117 v\nput o118 v\nput o119 v\nput o120 v\nput o121 v\nput o122 v\nput o123 v\n",
    "put o124 v\nput o125 v\nput o126 v\nput o127 v\nput o128 v\n",
    "\n\n",
);

/// Splits a script line into words; `""` is an empty word.
fn words(line: &str) -> Vec<String> {
    line.split(' ').map(|w| if w == "\"\"" { String::new() } else { w.to_string() }).collect()
}

/// The session's transcript as run against `c`: per call, the command, its exit code,
/// its stdout and its stderr, normalised.
fn transcript(c: &Cluster) -> Vec<String> {
    let dir = c.scratch().to_str().expect("utf-8 temp dir").to_string();
    let mut leases: Vec<String> = Vec::new();
    let mut blocks = Vec::new();
    for (line, stdin) in SCRIPT {
        let mut args = words(line);
        for a in &mut args {
            for (n, id) in leases.iter().enumerate().rev() {
                *a = a.replace(&format!("$L{}", n + 1), id);
            }
            *a = a.replace("$DIR", &dir);
        }
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = c.etcdctl_at(&c.endpoint(0), &args, *stdin);
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        if let Some(id) = granted_lease(&stdout) {
            leases.push(id);
        }
        let code = out.status.code().map_or("signal".to_string(), |c| c.to_string());
        let raw = format!("$ etcdctl {line}\n[exit {code}]\n{stdout}[stderr]\n{stderr}");
        blocks.push(normalise(&raw, &leases, &dir));
    }
    blocks
}

/// The hex id in `lease <id> granted with TTL(<n>s)`.
fn granted_lease(stdout: &str) -> Option<String> {
    let rest = stdout.strip_prefix("lease ")?;
    let (id, tail) = rest.split_once(' ')?;
    let ttl = tail.strip_prefix("granted with TTL(")?.strip_suffix("s)\n")?;
    ttl.parse::<u64>().ok().map(|_| id.to_string())
}

/// Masks what two correct servers may print differently. Each mask says why.
fn normalise(text: &str, leases: &[String], dir: &str) -> String {
    // etcdctl's own client-side log lines (retries, snapshot progress) carry timestamps;
    // the result of each call is on stdout or in its `Error:` line.
    let mut out: String =
        text.lines().filter(|l| !l.starts_with("{\"level\"")).map(|l| format!("{l}\n")).collect();
    // Lease ids are made from the member id and the wall clock: named by order of grant,
    // in hex (simple output) and in decimal (JSON).
    for (n, hex) in leases.iter().enumerate() {
        let name = format!("<lease{}>", n + 1);
        out = replace_token(&out, hex, &name);
        if let Ok(id) = i64::from_str_radix(hex, 16) {
            out = replace_token(&out, &id.to_string(), &name);
        }
    }
    // The scratch directory is a fresh temp dir per cluster.
    out = out.replace(dir, "$DIR");
    // Raft terms and indexes: the first election may take more than one term, and how
    // many raft entries a server spends on membership and version is its own business.
    for field in ["raft_term", "raftTerm", "RaftTerm", "raftIndex", "raftAppliedIndex"] {
        out = mask_field(&out, field, |_| true);
    }
    // Which member wins the first election is a race.
    out = mask_field(&out, "leader", |_| true);
    // Backend sizes and hashes depend on the storage engine, health check durations on
    // the machine.
    for field in ["dbSize", "dbSizeInUse", "hash", "took"] {
        out = mask_field(&out, field, |_| true);
    }
    // The server's version string (a string; a key's `version` is a number and stays).
    out = mask_field(&out, "version", |v| v.starts_with('"'));
    // Remaining lease time counts down with the wall clock; -1 (unknown lease) stays.
    out = mask_field(&out, "ttl", |v| !v.starts_with('-'));
    mask_between(&out, "remaining(", "s)")
}

/// Replaces `token` where it stands alone (not inside a longer word or number).
fn replace_token(text: &str, token: &str, with: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(at) = rest.find(token) {
        let before = rest[..at].chars().next_back();
        let after = rest[at + token.len()..].chars().next();
        let alone = !before.is_some_and(|c| c.is_ascii_alphanumeric())
            && !after.is_some_and(|c| c.is_ascii_alphanumeric());
        out.push_str(&rest[..at]);
        out.push_str(if alone { with } else { token });
        rest = &rest[at + token.len()..];
    }
    out.push_str(rest);
    out
}

/// Replaces the value of JSON field `name` (and of a `-w fields` line `"name" : value`)
/// with `<name>`, where `when` holds for the text from the value on.
fn mask_field(text: &str, name: &str, when: impl Fn(&str) -> bool) -> String {
    let mut out = text.to_string();
    for key in [format!("\"{name}\":"), format!("\"{name}\" : ")] {
        let mut done = String::new();
        let mut rest = out.as_str();
        while let Some(at) = rest.find(&key) {
            let from = at + key.len();
            done.push_str(&rest[..from]);
            rest = &rest[from..];
            if when(rest) {
                let end = rest.find([',', '}', ']', '\n']).unwrap_or(rest.len());
                done.push_str(&format!("<{name}>"));
                rest = &rest[end..];
            }
        }
        done.push_str(rest);
        out = done;
    }
    out
}

/// Replaces whatever stands between `open` and `close` with `<n>`.
fn mask_between(text: &str, open: &str, close: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(at) = rest.find(open) {
        let from = at + open.len();
        let Some(len) = rest[from..].find(close) else { break };
        out.push_str(&rest[..from]);
        out.push_str("<n>");
        rest = &rest[from + len..];
    }
    out.push_str(rest);
    out
}

fn run(target: Target, ports: Option<&[(u16, u16)]>) -> (Vec<String>, Vec<(u16, u16)>) {
    let c = match ports {
        Some(p) => Cluster::start_on(target, p),
        None => Cluster::start(target, 3),
    };
    (transcript(&c), c.ports())
}

#[test]
fn etcdctl_session_matches_etcd() {
    if !installed(&[ETCDCTL, ETCD]) {
        return;
    }
    let target = Target::from_env();
    let (want, ports) = run(Target::Etcd, None);
    let (got, _) = run(target, Some(&ports));
    let mut report = String::new();
    for (w, g) in want.iter().zip(&got) {
        if w != g {
            report.push_str(&diff(w, g, target));
        }
    }
    let transcript_file = Path::new(env!("CARGO_TARGET_TMPDIR")).join("etcdctl-session-etcd.txt");
    std::fs::write(&transcript_file, want.concat()).expect("transcript written");
    assert!(
        report.is_empty(),
        "{target:?} differs from etcd 3.4.23 (normalised etcd transcript: {}):\n{report}",
        transcript_file.display()
    );
}

/// Both sides of one differing call, the differing lines marked.
fn diff(want: &str, got: &str, target: Target) -> String {
    let w: Vec<&str> = want.lines().collect();
    let g: Vec<&str> = got.lines().collect();
    let mut out = format!("{}\n", w[0]);
    for i in 1..w.len().max(g.len()) {
        match (w.get(i), g.get(i)) {
            (Some(a), Some(b)) if a == b => out.push_str(&format!("    {a}\n")),
            (a, b) => {
                if let Some(a) = a {
                    out.push_str(&format!("  - {a}    (etcd)\n"));
                }
                if let Some(b) = b {
                    out.push_str(&format!("  + {b}    ({target:?})\n"));
                }
            }
        }
    }
    out.push('\n');
    out
}
