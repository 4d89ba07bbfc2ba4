//! Auth in the replicated state machine on a 3-member cluster: users, roles and
//! permissions changed through the log; tokens issued on one member honoured on every
//! member; reads, writes, txns and watches checked; a revocation refusing every later
//! request on every member and every request checked before it applied; auth state
//! surviving restarts from snapshots.

mod server_net;

use bytes::Bytes;
use detcd_core::api::{
    AuthBody, AuthRequest as A, EtcdError, PermType, Permission, RangeRequest, RequestOp,
    TxnRequest, WatchCreateRequest,
};
use detcd_core::server::{Credential, Request, Response};
use detcd_core::types::NodeId;
use server_net::{put, Cluster};

fn s(v: &str) -> String {
    v.to_owned()
}

fn auth(c: &mut Cluster, node: NodeId, who: Option<&Credential>, req: A) -> Response {
    c.call(node, with(who, Request::Auth(req)))
}

fn with(who: Option<&Credential>, request: Request) -> Request {
    match who {
        Some(credential) => {
            Request::As { credential: credential.clone(), request: Box::new(request) }
        }
        None => request,
    }
}

fn ok(r: Response) -> AuthBody {
    match r {
        Response::Auth(a) => a.body,
        other => panic!("{other:?}"),
    }
}

fn get(key: &str, serializable: bool) -> Request {
    Request::Range(RangeRequest { key: Bytes::from(s(key)), serializable, ..Default::default() })
}

/// root with the root role, alice with role `reader` (read on /a/ prefix, write on /a/w),
/// auth enabled; returns alice's token.
fn set_up(c: &mut Cluster, l: NodeId) -> Credential {
    let root = Some(s("hash-root"));
    ok(auth(c, l, None, A::UserAdd { name: s("root"), password_hash: root }));
    ok(auth(c, l, None, A::RoleAdd { name: s("root") }));
    ok(auth(c, l, None, A::UserGrantRole { user: s("root"), role: s("root") }));
    ok(auth(c, l, None, A::UserAdd { name: s("alice"), password_hash: Some(s("hash-a")) }));
    ok(auth(c, l, None, A::RoleAdd { name: s("reader") }));
    let read = Permission {
        perm_type: PermType::Read,
        key: Bytes::from_static(b"/a/"),
        range_end: Bytes::from_static(b"/a0"),
    };
    ok(auth(c, l, None, A::RoleGrantPermission { name: s("reader"), perm: read }));
    let write = Permission {
        perm_type: PermType::Write,
        key: Bytes::from_static(b"/a/w"),
        range_end: Bytes::new(),
    };
    ok(auth(c, l, None, A::RoleGrantPermission { name: s("reader"), perm: write }));
    ok(auth(c, l, None, A::UserGrantRole { user: s("alice"), role: s("reader") }));
    ok(auth(c, l, None, A::Enable));
    let token = ok(auth(
        c,
        l,
        None,
        A::Authenticate { name: s("alice"), token: s("rnd"), password_hash: s("hash-a") },
    ));
    let AuthBody::Token(token) = token else { panic!("{token:?}") };
    Credential::Token(token)
}

#[test]
fn tokens_and_permissions_hold_on_every_member() {
    let mut c = Cluster::new(3);
    let l = c.elect();
    let alice = set_up(&mut c, l);
    let f = c.followers()[0];
    let root = Credential::CertUser(s("root"));
    assert!(matches!(
        c.call(l, with(Some(&root), Request::Put(put("/a/x", "1")))),
        Response::Put(_)
    ));
    for m in c.ids() {
        for serializable in [false, true] {
            let r = c.call(m, with(Some(&alice), get("/a/x", serializable)));
            assert!(matches!(r, Response::Range(_)), "member {m}: {r:?}");
        }
        let r = c.call(m, with(Some(&alice), get("/b", false)));
        assert_eq!(r, Response::Err(EtcdError::PermissionDenied));
        assert_eq!(c.call(m, get("/a/x", false)), Response::Err(EtcdError::UserEmpty));
        let bogus = Credential::Token(s("nope.1"));
        assert_eq!(
            c.call(m, with(Some(&bogus), get("/a/x", false))),
            Response::Err(EtcdError::InvalidAuthToken)
        );
    }
    assert!(matches!(
        c.call(f, with(Some(&alice), Request::Put(put("/a/w", "v")))),
        Response::Put(_)
    ));
    let r = c.call(f, with(Some(&alice), Request::Put(put("/a/x", "v"))));
    assert_eq!(r, Response::Err(EtcdError::PermissionDenied));
    // A txn is checked in every compare and op, nested ones too.
    let nested = TxnRequest {
        success: vec![RequestOp::Txn(TxnRequest {
            success: vec![RequestOp::Put(put("/b", "x"))],
            ..Default::default()
        })],
        ..Default::default()
    };
    let r = c.call(f, with(Some(&alice), Request::Txn(nested)));
    assert_eq!(r, Response::Err(EtcdError::PermissionDenied));
    // Watches are checked when created.
    let watch = |key: &str| Request::WatchCreate {
        stream: 1,
        create: WatchCreateRequest { key: Bytes::from(s(key)), ..Default::default() },
    };
    let r = c.call(f, with(Some(&alice), watch("/b")));
    assert_eq!(r, Response::Err(EtcdError::PermissionDenied));
    // Only root manages auth.
    assert_eq!(
        auth(&mut c, f, Some(&alice), A::UserList),
        Response::Err(EtcdError::PermissionDenied)
    );
    assert_eq!(
        ok(auth(&mut c, f, Some(&root), A::UserList)),
        AuthBody::Names(vec![s("alice"), s("root")])
    );
    c.converge();
}

#[test]
fn a_revocation_refuses_later_requests_and_those_checked_before_it_applied() {
    let mut c = Cluster::new(3);
    let l = c.elect();
    let alice = set_up(&mut c, l);
    let root = Credential::CertUser(s("root"));
    let f = c.followers()[0];
    let revoke = A::RoleRevokePermission {
        role: s("reader"),
        key: Bytes::from_static(b"/a/w"),
        range_end: Bytes::new(),
    };
    // The revocation reaches the log first; alice's write was checked on the follower
    // at the old auth revision and applies after it: refused as old.
    let revoking = c.submit(l, with(Some(&root), Request::Auth(revoke)));
    let writing = c.submit(f, with(Some(&alice), Request::Put(put("/a/w", "late"))));
    c.deliver();
    assert!(matches!(c.wait(revoking), Response::Auth(_)));
    assert_eq!(c.wait(writing), Response::Err(EtcdError::AuthOldRevision));
    for m in c.ids() {
        let r = c.call(m, with(Some(&alice), Request::Put(put("/a/w", "after"))));
        assert_eq!(r, Response::Err(EtcdError::PermissionDenied), "member {m}");
    }
    // Deleting the user ends her token everywhere.
    ok(auth(&mut c, l, Some(&root), A::UserDelete { name: s("alice") }));
    for m in c.ids() {
        let r = c.call(m, with(Some(&alice), get("/a/x", true)));
        assert_eq!(r, Response::Err(EtcdError::InvalidAuthToken), "member {m}");
    }
    c.converge();
}

#[test]
fn auth_state_survives_a_restart_from_a_snapshot() {
    let mut configs: Vec<_> = (1..=3).map(|id| server_net::config(id, 3)).collect();
    for cfg in &mut configs {
        cfg.snapshot_entries = 4;
    }
    let mut c = Cluster::with_configs(configs);
    let l = c.elect();
    let alice = set_up(&mut c, l);
    let f = c.followers()[0];
    c.crash(f);
    c.restart(f);
    c.converge();
    let r = c.call(f, with(Some(&alice), get("/a/x", true)));
    assert!(matches!(r, Response::Range(_)), "{r:?}");
    let r = c.call(f, with(Some(&alice), get("/b", true)));
    assert_eq!(r, Response::Err(EtcdError::PermissionDenied));
    // Every member's auth state is the same (the state hash covers it).
    c.run(50);
    assert_eq!(
        ok(auth(&mut c, f, None, A::Status)),
        AuthBody::Status { enabled: true, revision: 8 }
    );
    c.converge();
}
