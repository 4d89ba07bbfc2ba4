//! `detcd serve` with TLS, driven by etcdctl 3.4: a three-member loopback cluster with
//! TLS on the client and peer ports and client certificates required on both, with
//! certificates the test makes; what a TLS port refuses (plaintext, no certificate, a
//! certificate from another CA); and the start-up errors for missing or bad files.

mod support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::Command;
use std::time::Duration;
use support::cluster::{error_line, etcdctl_command, Cluster, ETCDCTL_LIMIT};
use support::pki::{Authority, ClusterTls};
use support::process::run_bounded;
use support::tools::{installed_for, Target};

fn stderr_of(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn tls_cluster_serves_etcdctl_with_client_certificates() {
    let target = Target::from_env();
    if !installed_for(target) {
        return;
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let ca = Authority::new(dir.path(), "good");
    let c = Cluster::start_tls(target, 3, ClusterTls::new(&ca, "root"));

    // A write through one member is read on each of the others: Raft travelled over the
    // peers' TLS connections.
    assert_eq!(c.ok_at(0, &["put", "/tls/a", "1"]), "OK\n");
    for i in 0..3 {
        let out = c.etcdctl_at(&c.endpoint(i), &["get", "/tls/a", "--print-value-only"], None);
        assert_eq!(c.expect_ok(&["get"], &out), "1\n", "member {i}");
    }
    let members = c.ok(&["member", "list"]);
    assert_eq!(members.matches("https://127.0.0.1:").count(), 6, "{members}");
    // `--cluster` dials every advertised https client URL.
    let out = c.etcdctl(&["endpoint", "health", "--cluster"]);
    c.expect_ok(&["endpoint", "health"], &out);
    let health = stderr_of(&out);
    assert_eq!(health.matches("https://127.0.0.1:").count(), 3, "{health}");
    assert_eq!(health.matches(" is healthy").count(), 3, "{health}");
    let status = c.ok(&["endpoint", "status", "--cluster", "-w", "simple"]);
    assert_eq!(status.lines().count(), 3, "{status}");
    assert!(status.lines().all(|l| l.starts_with("https://127.0.0.1:")), "{status}");

    let plain = format!("http://127.0.0.1:{}", c.member(0).client_port);
    let https = c.endpoint(0);
    let other_ca = Authority::new(dir.path(), "other");
    let other_client = other_ca.client("root");
    let p = |p: &std::path::PathBuf| p.display().to_string();
    let cases: Vec<(&str, String, Vec<String>)> = vec![
        ("plaintext on the TLS port", plain, vec![]),
        ("no client certificate", https.clone(), vec![format!("--cacert={}", p(&ca.ca_file))]),
        (
            "a client certificate from another CA",
            https.clone(),
            vec![
                format!("--cacert={}", p(&ca.ca_file)),
                format!("--cert={}", p(&other_client.cert)),
                format!("--key={}", p(&other_client.key)),
            ],
        ),
    ];
    for (what, endpoint, flags) in cases {
        let cmd = etcdctl_command(&endpoint, &flags, &["--command-timeout=3s", "get", "/tls/a"]);
        let out = run_bounded(cmd, None, ETCDCTL_LIMIT);
        assert!(!out.status.success(), "{what}: served\n{}", String::from_utf8_lossy(&out.stdout));
        let line = error_line(&stderr_of(&out));
        assert!(line.contains("context deadline exceeded"), "{what}: {line}");
    }

    // The peer port: etcdctl's certificate is from the right CA, so the handshake
    // passes and the peer port answers that it has no KV service; from another CA the
    // connection is refused before any gRPC. (detcd only: etcd's peer port speaks
    // HTTP/1, not gRPC.)
    if target == Target::Detcd {
        let peer = format!("https://127.0.0.1:{}", c.member(1).peer_port);
        let tls = ClusterTls::new(&ca, "root").etcdctl_flags();
        let out = run_bounded(etcdctl_command(&peer, &tls, &["get", "x"]), None, ETCDCTL_LIMIT);
        let line = error_line(&stderr_of(&out));
        assert!(line.contains("code = Unimplemented"), "peer port with a good cert: {line}");
        let refused = vec![
            format!("--cacert={}", p(&ca.ca_file)),
            format!("--cert={}", p(&other_client.cert)),
            format!("--key={}", p(&other_client.key)),
        ];
        let cmd = etcdctl_command(&peer, &refused, &["--command-timeout=3s", "get", "x"]);
        let line = error_line(&stderr_of(&run_bounded(cmd, None, ETCDCTL_LIMIT)));
        assert!(line.contains("context deadline exceeded"), "peer port, other CA: {line}");
    }
    assert_plaintext_refused(c.member(1).peer_port);
    assert_plaintext_refused(c.member(2).client_port);

    // Still serving after all the refusals.
    assert_eq!(c.ok(&["put", "/tls/b", "2"]), "OK\n");

    // With auth enabled the certificate's common name is the user: etcdctl's
    // certificate names root; one naming alice (no such user) is refused.
    c.ok(&["user", "add", "root:rootpw"]);
    c.ok(&["auth", "enable"]);
    assert_eq!(c.ok(&["get", "/tls/a", "--print-value-only"]), "1\n");
    let alice = ca.client("alice");
    let flags = vec![
        format!("--cacert={}", p(&ca.ca_file)),
        format!("--cert={}", p(&alice.cert)),
        format!("--key={}", p(&alice.key)),
    ];
    let out = run_bounded(etcdctl_command(&https, &flags, &["get", "/tls/a"]), None, ETCDCTL_LIMIT);
    assert_eq!(error_line(&stderr_of(&out)), "Error: etcdserver: permission denied");
}

/// An HTTP/2 client preface sent in the clear gets no HTTP/2 answer: the TLS server
/// answers with an alert (or nothing) and closes.
fn assert_plaintext_refused(port: u16) {
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(10))).expect("timeout");
    s.write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x00\x04\x00\x00\x00\x00\x00")
        .expect("write");
    let mut got = Vec::new();
    let _ = s.read_to_end(&mut got);
    // A TLS alert record is content type 21; an HTTP/2 server would answer with a
    // SETTINGS frame (type 4 at byte 3).
    assert!(got.is_empty() || got[0] == 21, "plaintext answered on port {port}: {got:?}");
}

fn serve_fails(args: &[String]) -> String {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_detcd"));
    cmd.arg("serve").args(args);
    let out = run_bounded(cmd, None, Duration::from_secs(20));
    assert!(!out.status.success(), "started with {args:?}");
    stderr_of(&out)
}

#[test]
fn bad_or_missing_tls_files_stop_the_start() {
    let dir = tempfile::tempdir().expect("temp dir");
    let ca = Authority::new(dir.path(), "good");
    let member = ca.member("member");
    let other = ca.member("other");
    let data = dir.path().join("data");
    let port = support::cluster::free_port();
    let url = format!("https://127.0.0.1:{port}");
    let base = |extra: &[String]| {
        let mut args = vec![
            format!("--data-dir={}", data.display()),
            format!("--listen-client-urls={url}"),
            format!("--advertise-client-urls={url}"),
        ];
        args.extend_from_slice(extra);
        args
    };
    let p = |p: &std::path::PathBuf| p.display().to_string();

    let err = serve_fails(&base(&[]));
    assert!(
        err.contains(&format!(
            "TLS key/cert (--cert-file, --key-file) must be provided for client url {url} with HTTPS scheme"
        )),
        "{err}"
    );
    let missing = dir.path().join("missing.pem");
    let err = serve_fails(&base(&[
        format!("--cert-file={}", p(&missing)),
        format!("--key-file={}", p(&member.key)),
    ]));
    assert!(err.contains(&format!("--cert-file {}: No such file", p(&missing))), "{err}");
    let err = serve_fails(&base(&[
        format!("--cert-file={}", p(&member.key)),
        format!("--key-file={}", p(&member.key)),
    ]));
    assert!(err.contains("--cert-file") && err.contains("no PEM certificate"), "{err}");
    let err = serve_fails(&base(&[
        format!("--cert-file={}", p(&member.cert)),
        format!("--key-file={}", p(&other.key)),
    ]));
    assert!(err.contains("--key-file") && err.contains("cannot be used with"), "{err}");
    let err = serve_fails(&base(&[
        format!("--cert-file={}", p(&member.cert)),
        format!("--key-file={}", p(&member.key)),
        "--client-cert-auth".to_owned(),
    ]));
    assert!(err.contains("--client-cert-auth needs --trusted-ca-file"), "{err}");
    let err = serve_fails(&base(&[
        format!("--cert-file={}", p(&member.cert)),
        format!("--key-file={}", p(&member.key)),
        format!("--trusted-ca-file={}", p(&member.key)),
    ]));
    assert!(err.contains("--trusted-ca-file") && err.contains("no PEM certificate"), "{err}");
    assert!(!data.exists(), "a refused start touches no data dir");
}
