use super::*;
use crate::api::{AuthRequest as R, PermType};
use bytes::Bytes;

fn ok(s: &mut AuthStore, r: R, caller: Option<&AuthInfo>) -> AuthBody {
    s.apply(&r, caller, 1).unwrap_or_else(|e| panic!("{r:?}: {e}"))
}

fn err(s: &mut AuthStore, r: R, caller: Option<&AuthInfo>) -> EtcdError {
    s.apply(&r, caller, 1).expect_err("refused")
}

fn name(n: &str) -> String {
    n.to_owned()
}

fn perm(t: PermType, key: &str, end: &str) -> Permission {
    Permission {
        perm_type: t,
        key: Bytes::copy_from_slice(key.as_bytes()),
        range_end: Bytes::copy_from_slice(end.as_bytes()),
    }
}

/// root (root role) and alice (role `r` reading /a/ and writing /a/w).
fn enabled_store() -> AuthStore {
    let mut s = AuthStore::default();
    assert_eq!(err(&mut s, R::Enable, None), EtcdError::RootUserNotExist);
    ok(&mut s, R::UserAdd { name: name(ROOT), password_hash: Some(name("h")) }, None);
    assert_eq!(err(&mut s, R::Enable, None), EtcdError::RootRoleNotExist);
    ok(&mut s, R::RoleAdd { name: name(ROOT) }, None);
    ok(&mut s, R::UserGrantRole { user: name(ROOT), role: name(ROOT) }, None);
    ok(&mut s, R::UserAdd { name: name("alice"), password_hash: Some(name("h")) }, None);
    ok(&mut s, R::RoleAdd { name: name("r") }, None);
    ok(
        &mut s,
        R::RoleGrantPermission { name: name("r"), perm: perm(PermType::Read, "/a/", "/a0") },
        None,
    );
    ok(
        &mut s,
        R::RoleGrantPermission { name: name("r"), perm: perm(PermType::Write, "/a/w", "") },
        None,
    );
    ok(&mut s, R::UserGrantRole { user: name("alice"), role: name("r") }, None);
    ok(&mut s, R::Enable, None);
    assert!(s.enabled());
    s
}

fn token(s: &mut AuthStore, user: &str, index: u64) -> String {
    let auth = R::Authenticate { name: name(user), token: name("t"), password_hash: name("h") };
    match s.apply(&auth, None, index) {
        Ok(AuthBody::Token(t)) => t,
        other => panic!("{other:?}"),
    }
}

#[test]
fn permissions_follow_roles_and_ranges() {
    let mut s = enabled_store();
    let t = token(&mut s, "alice", 7);
    assert_eq!(t, "t.7");
    let alice = s.resolve(Some(&Credential::Token(t))).unwrap();
    let alice = alice.as_ref();
    assert_eq!(s.check_range(alice, b"/a/x", b"", false), Ok(()));
    assert_eq!(s.check_range(alice, b"/a/", b"/a0", false), Ok(()));
    assert_eq!(s.check_range(alice, b"/a/x", b"", true), Err(EtcdError::PermissionDenied));
    assert_eq!(s.check_range(alice, b"/a/w", b"", true), Ok(()));
    assert_eq!(s.check_range(alice, b"/b", b"", false), Err(EtcdError::PermissionDenied));
    assert_eq!(s.check_admin(alice), Err(EtcdError::PermissionDenied));
    assert_eq!(s.check_range(None, b"/a/x", b"", false), Err(EtcdError::UserEmpty));
    assert_eq!(
        s.resolve(Some(&Credential::Token(name("bogus")))),
        Err(EtcdError::InvalidAuthToken)
    );
    // Non-admins may not manage auth.
    assert_eq!(err(&mut s, R::UserList, alice), EtcdError::PermissionDenied);
    assert_eq!(err(&mut s, R::UserList, None), EtcdError::UserEmpty);
}

#[test]
fn a_change_after_a_check_makes_the_check_old() {
    let mut s = enabled_store();
    let root = s.resolve(Some(&Credential::CertUser(name(ROOT)))).unwrap();
    let alice = s.resolve(Some(&Credential::CertUser(name("alice")))).unwrap();
    let revoke = R::RoleRevokePermission {
        role: name("r"),
        key: Bytes::from_static(b"/a/"),
        range_end: Bytes::from_static(b"/a0"),
    };
    ok(&mut s, revoke.clone(), root.as_ref());
    // Resolved before the revocation applied: refused as old, never served.
    assert_eq!(s.check_range(alice.as_ref(), b"/a/x", b"", false), Err(EtcdError::AuthOldRevision));
    let alice = s.resolve(Some(&Credential::CertUser(name("alice")))).unwrap();
    assert_eq!(
        s.check_range(alice.as_ref(), b"/a/x", b"", false),
        Err(EtcdError::PermissionDenied)
    );
    let root = s.resolve(Some(&Credential::CertUser(name(ROOT)))).unwrap();
    assert_eq!(err(&mut s, revoke, root.as_ref()), EtcdError::PermissionNotGranted);
}

#[test]
fn management_errors_are_etcds() {
    let mut s = enabled_store();
    let root = s.resolve(Some(&Credential::CertUser(name(ROOT)))).unwrap();
    let root = root.as_ref();
    assert_eq!(
        err(&mut s, R::UserAdd { name: name(""), password_hash: None }, root),
        EtcdError::UserEmpty
    );
    assert_eq!(
        err(&mut s, R::UserAdd { name: name("alice"), password_hash: None }, root),
        EtcdError::UserAlreadyExist
    );
    assert_eq!(err(&mut s, R::UserGet { name: name("nobody") }, root), EtcdError::UserNotFound);
    assert_eq!(err(&mut s, R::RoleAdd { name: name(ROOT) }, root), EtcdError::RoleAlreadyExist);
    assert_eq!(err(&mut s, R::RoleAdd { name: name("") }, root), EtcdError::RoleEmpty);
    assert_eq!(err(&mut s, R::RoleGet { role: name("none") }, root), EtcdError::RoleNotFound);
    assert_eq!(err(&mut s, R::UserDelete { name: name(ROOT) }, root), EtcdError::InvalidAuthMgmt);
    assert_eq!(err(&mut s, R::RoleDelete { role: name(ROOT) }, root), EtcdError::InvalidAuthMgmt);
    let revoke_root = R::UserRevokeRole { name: name(ROOT), role: name(ROOT) };
    assert_eq!(err(&mut s, revoke_root, root), EtcdError::InvalidAuthMgmt);
    let revoke = R::UserRevokeRole { name: name("alice"), role: name("x") };
    assert_eq!(err(&mut s, revoke, root), EtcdError::RoleNotGranted);
    assert_eq!(ok(&mut s, R::UserList, root), AuthBody::Names(vec![name("alice"), name(ROOT)]));
    assert_eq!(ok(&mut s, R::RoleList, root), AuthBody::Names(vec![name("r"), name(ROOT)]));
    assert_eq!(
        ok(&mut s, R::RoleGet { role: name("r") }, root),
        AuthBody::Perms(vec![
            perm(PermType::Read, "/a/", "/a0"),
            perm(PermType::Write, "/a/w", "")
        ])
    );
    // Deleting a role takes it from its users.
    ok(&mut s, R::RoleDelete { role: name("r") }, root);
    let root = s.resolve(Some(&Credential::CertUser(name(ROOT)))).unwrap();
    assert_eq!(
        ok(&mut s, R::UserGet { name: name("alice") }, root.as_ref()),
        AuthBody::Roles(vec![])
    );
}

#[test]
fn tokens_end_with_password_changes_deletion_and_disable() {
    let mut s = enabled_store();
    let t1 = token(&mut s, "alice", 10);
    let t2 = token(&mut s, ROOT, 11);
    let root = s.resolve(Some(&Credential::Token(t2.clone()))).unwrap();
    let change = R::UserChangePassword { name: name("alice"), password_hash: name("h2") };
    ok(&mut s, change, root.as_ref());
    assert_eq!(s.resolve(Some(&Credential::Token(t1))), Err(EtcdError::InvalidAuthToken));
    assert!(s.resolve(Some(&Credential::Token(t2.clone()))).is_ok());
    let auth = |user: &str, hash: &str| R::Authenticate {
        name: name(user),
        token: name("t"),
        password_hash: name(hash),
    };
    assert_eq!(s.apply(&auth("nobody", "h"), None, 12), Err(EtcdError::AuthFailed));
    // Checked against the old password: refused once it changed.
    assert_eq!(s.apply(&auth("alice", "h"), None, 12), Err(EtcdError::AuthFailed));
    assert!(s.apply(&auth("alice", "h2"), None, 12).is_ok());
    let root = s.resolve(Some(&Credential::Token(t2.clone()))).unwrap();
    ok(&mut s, R::Disable, root.as_ref());
    assert!(!s.enabled());
    // With auth off nothing is checked and no token is kept.
    assert_eq!(s.resolve(Some(&Credential::Token(t2))), Ok(None));
    assert_eq!(s.check_range(None, b"/z", b"", true), Ok(()));
    assert_eq!(s.apply(&auth("alice", "h2"), None, 13), Err(EtcdError::AuthNotEnabled));
}

#[test]
fn tokens_are_bounded() {
    let mut s = enabled_store();
    for i in 0..(TOKENS_MAX as u64 + 5) {
        token(&mut s, "alice", 100 + i);
    }
    assert_eq!(s.tokens.len(), TOKENS_MAX);
    assert_eq!(
        s.resolve(Some(&Credential::Token(name("t.100")))),
        Err(EtcdError::InvalidAuthToken)
    );
}

#[test]
fn users_read_themselves_and_their_roles_without_root() {
    let mut s = enabled_store();
    let alice = s.resolve(Some(&Credential::CertUser(name("alice")))).unwrap();
    let alice = alice.as_ref();
    assert_eq!(
        ok(&mut s, R::UserGet { name: name("alice") }, alice),
        AuthBody::Roles(vec![name("r")])
    );
    assert_eq!(err(&mut s, R::UserGet { name: name(ROOT) }, alice), EtcdError::PermissionDenied);
    assert!(matches!(ok(&mut s, R::RoleGet { role: name("r") }, alice), AuthBody::Perms(_)));
    assert_eq!(err(&mut s, R::RoleGet { role: name(ROOT) }, alice), EtcdError::PermissionDenied);
    assert_eq!(err(&mut s, R::RoleGet { role: name("r") }, None), EtcdError::UserEmpty);
    // As etcd's admin check: an unknown user is named as such, and the auth revision
    // it was resolved at does not matter (the check looks at the state it runs on).
    let ghost = AuthInfo { user: name("ghost"), revision: s.revision() };
    assert_eq!(s.check_admin(Some(&ghost)), Err(EtcdError::UserNotFound));
    let old_root = AuthInfo { user: name(ROOT), revision: 0 };
    assert_eq!(s.check_admin(Some(&old_root)), Ok(()));
}
