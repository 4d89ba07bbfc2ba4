//! What etcd 3.4 allows a user without the root role once auth is on, at the gRPC
//! level where etcdctl would hide the details, against `detcd serve` and a real etcd
//! 3.4 side by side, answer for answer (gRPC code and message): simple tokens that
//! expire after `--auth-token-ttl` seconds unused, unknown and empty tokens, the
//! Maintenance calls kept for root (Defragment, Snapshot, Hash, HashKV: etcd answers
//! them with its auth store's raw error, code Unknown) and those open to all (Status,
//! Alarm, MoveLeader), and lease permissions (revoking a lease,
//! or putting with one, needs write permission on every key the lease holds).

mod support;

use detcd_node::pb::etcdserverpb as pb;
use detcd_node::pb::etcdserverpb::auth_client::AuthClient;
use detcd_node::pb::etcdserverpb::kv_client::KvClient;
use detcd_node::pb::etcdserverpb::lease_client::LeaseClient;
use detcd_node::pb::etcdserverpb::maintenance_client::MaintenanceClient;
use std::time::Duration;
use support::cluster::Cluster;
use support::grpc::{channel, runtime};
use support::tools::{installed, installed_for, Target, ETCD, ETCDCTL};
use tonic::transport::Channel;

/// The TTL both servers get, seconds. etcd checks expiry once a second, so a token
/// idle for TTL + 2 s is gone on both, and one used every second lives on.
const TTL_SECS: u64 = 2;

/// `message` with the `token` metadata etcd's clients attach (none for `None`).
fn with_token<T>(message: T, token: Option<&str>) -> tonic::Request<T> {
    let mut r = tonic::Request::new(message);
    if let Some(t) = token {
        r.metadata_mut().insert("token", t.parse().expect("a token is ASCII"));
    }
    r
}

/// "ok", or the error as code and message.
fn outcome<T>(r: Result<tonic::Response<T>, tonic::Status>) -> String {
    match r {
        Ok(_) => "ok".to_string(),
        Err(s) => format!("{:?}: {}", s.code(), s.message()),
    }
}

async fn authenticate(ch: &Channel, name: &str, password: &str) -> String {
    let mut a = AuthClient::new(ch.clone());
    let r = pb::AuthenticateRequest { name: name.into(), password: password.into() };
    a.authenticate(r).await.expect("authenticate").into_inner().token
}

async fn get(ch: &Channel, key: &str, token: Option<&str>) -> String {
    let mut kv = KvClient::new(ch.clone());
    let r = pb::RangeRequest { key: key.as_bytes().to_vec().into(), ..Default::default() };
    outcome(kv.range(with_token(r, token)).await)
}

async fn put(ch: &Channel, key: &str, lease: i64, token: Option<&str>) -> String {
    let mut kv = KvClient::new(ch.clone());
    let r = pb::PutRequest {
        key: key.as_bytes().to_vec().into(),
        value: b"v".to_vec().into(),
        lease,
        ..Default::default()
    };
    outcome(kv.put(with_token(r, token)).await)
}

/// Every Maintenance call as the holder of `token`; the snapshot's first chunk only.
async fn maintenance(ch: &Channel, token: Option<&str>, member: u64) -> Vec<String> {
    let mut m = MaintenanceClient::new(ch.clone());
    let mut out = vec![
        format!("status {}", outcome(m.status(with_token(pb::StatusRequest {}, token)).await)),
        format!("alarm {}", outcome(m.alarm(with_token(pb::AlarmRequest::default(), token)).await)),
        format!("hash {}", outcome(m.hash(with_token(pb::HashRequest {}, token)).await)),
        format!(
            "hashkv {}",
            outcome(m.hash_kv(with_token(pb::HashKvRequest { revision: 0 }, token)).await)
        ),
        format!(
            "defragment {}",
            outcome(m.defragment(with_token(pb::DefragmentRequest {}, token)).await)
        ),
        format!(
            "move-leader {}",
            outcome(
                m.move_leader(with_token(pb::MoveLeaderRequest { target_id: member }, token)).await
            )
        ),
    ];
    let snapshot = match m.snapshot(with_token(pb::SnapshotRequest {}, token)).await {
        Ok(stream) => match stream.into_inner().message().await {
            Ok(_) => "ok".to_string(),
            Err(s) => format!("{:?}: {}", s.code(), s.message()),
        },
        Err(s) => format!("{:?}: {}", s.code(), s.message()),
    };
    out.push(format!("snapshot {snapshot}"));
    out
}

/// The session against one server; each line one step and what it answered.
fn run(target: Target) -> Vec<String> {
    let ttl = TTL_SECS.to_string();
    let c = Cluster::start_with(target, 1, &["--auth-token", "simple", "--auth-token-ttl", &ttl]);
    for args in [
        &["user", "add", "root:rootpw"][..],
        &["user", "add", "alice:pw"],
        &["role", "add", "a"],
        &["role", "grant-permission", "a", "--prefix", "readwrite", "/a/"],
        &["user", "grant-role", "alice", "a"],
        &["auth", "enable"],
    ] {
        c.ok_at(0, args);
    }
    let rt = runtime();
    let mut log = Vec::new();
    rt.block_on(async {
        let ch = channel(&c.endpoint(0));
        let member = {
            let mut m = MaintenanceClient::new(ch.clone());
            let s = m.status(pb::StatusRequest {}).await.expect("status").into_inner();
            s.header.expect("a header").member_id
        };
        let root = authenticate(&ch, "root", "rootpw").await;
        let alice = authenticate(&ch, "alice", "pw").await;
        let mut step = |what: &str, answer: String| log.push(format!("{what}: {answer}"));

        // Tokens: unknown and empty ones, and expiry after the TTL unused.
        step("get with an unknown token", get(&ch, "/a/x", Some("nosuchtoken.1")).await);
        step("get with an empty token", get(&ch, "/a/x", Some("")).await);
        step("get without a token", get(&ch, "/a/x", None).await);
        step("alice gets /a/x", get(&ch, "/a/x", Some(&alice)).await);
        for second in 1..=3 {
            tokio::time::sleep(Duration::from_secs(1)).await;
            step(
                &format!("alice, used every second ({second})"),
                get(&ch, "/a/x", Some(&alice)).await,
            );
        }
        tokio::time::sleep(Duration::from_secs(TTL_SECS + 2)).await;
        step("alice after idling past the TTL", get(&ch, "/a/x", Some(&alice)).await);
        step("alice again", get(&ch, "/a/x", Some(&alice)).await);
        step("root's token, idle as long", get(&ch, "/a/x", Some(&root)).await);
        let root = authenticate(&ch, "root", "rootpw").await;
        let alice = authenticate(&ch, "alice", "pw").await;

        // Maintenance: root only, but for Status and Alarm.
        for line in maintenance(&ch, Some(&alice), member).await {
            step(&format!("alice {}", line.split(' ').next().unwrap_or("")), line);
        }
        for line in maintenance(&ch, None, member).await {
            step(&format!("nobody {}", line.split(' ').next().unwrap_or("")), line);
        }
        for line in maintenance(&ch, Some(&root), member).await {
            step(&format!("root {}", line.split(' ').next().unwrap_or("")), line);
        }

        // Leases: root attaches /b (which alice may not write) to a lease.
        let mut l = LeaseClient::new(ch.clone());
        let grant = |id| with_token(pb::LeaseGrantRequest { ttl: 60, id }, Some(&root));
        step("root grants lease 1001", outcome(l.lease_grant(grant(1001)).await));
        step("root grants lease 1002", outcome(l.lease_grant(grant(1002)).await));
        let alice_grant = with_token(pb::LeaseGrantRequest { ttl: 60, id: 1003 }, Some(&alice));
        step("alice grants lease 1003", outcome(l.lease_grant(alice_grant).await));
        step("root puts /b with lease 1001", put(&ch, "/b", 1001, Some(&root)).await);
        step("alice puts /a/1 with lease 1001", put(&ch, "/a/1", 1001, Some(&alice)).await);
        step("alice puts /a/2 with lease 1002", put(&ch, "/a/2", 1002, Some(&alice)).await);
        step("alice puts /a/3 with lease 1002", put(&ch, "/a/3", 1002, Some(&alice)).await);
        let revoke = |id, token: &str| with_token(pb::LeaseRevokeRequest { id }, Some(token));
        step("alice revokes lease 1001", outcome(l.lease_revoke(revoke(1001, &alice)).await));
        step("alice revokes lease 1002", outcome(l.lease_revoke(revoke(1002, &alice)).await));
        step("root revokes lease 1001", outcome(l.lease_revoke(revoke(1001, &root)).await));
        let ttl = |id| with_token(pb::LeaseTimeToLiveRequest { id, keys: true }, Some(&alice));
        step("alice asks lease 1003's TTL", outcome(l.lease_time_to_live(ttl(1003)).await));
    });
    log
}

#[test]
fn auth_grpc_session_matches_etcd() {
    if !installed_for(Target::Detcd) {
        return;
    }
    let detcd = run(Target::Detcd);
    let joined = detcd.join("\n");
    for expected in [
        "get with an unknown token: Unauthenticated: etcdserver: invalid auth token",
        "alice, used every second (3): ok",
        "alice after idling past the TTL: Unauthenticated: etcdserver: invalid auth token",
        "alice snapshot: snapshot Unknown: auth: permission denied",
        "alice status: status ok",
        "root hashkv: hashkv ok",
        "alice revokes lease 1001: PermissionDenied: etcdserver: permission denied",
        "alice revokes lease 1002: ok",
    ] {
        assert!(joined.contains(expected), "missing {expected:?} in\n{joined}");
    }
    if !installed(&[ETCD, ETCDCTL]) {
        return;
    }
    let etcd = run(Target::Etcd);
    assert_eq!(detcd.len(), etcd.len());
    let differ: Vec<String> = detcd
        .iter()
        .zip(&etcd)
        .filter(|(d, e)| d != e)
        .map(|(d, e)| format!("detcd: {d}\n etcd: {e}"))
        .collect();
    assert!(differ.is_empty(), "detcd and etcd differ:\n{}", differ.join("\n"));
}
