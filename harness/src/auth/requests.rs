//! The etcd requests of the auth churn workload: the administrator's setup and
//! changes, a client's login, and its reads and writes as a user. User `i` is `u<i>`
//! with role `r<i>`, read-write on the prefix `auth/<i>/`. Passwords never reach the
//! core (the proposer hashes them), so the simulated ones are just distinct hashes.

use crate::checks::auth::Change;
use bytes::Bytes;
use detcd_core::api::{AuthRequest, PermType, Permission, PutRequest, RangeRequest};
use detcd_core::server::{Credential, Request, ROOT};

/// The prefix every key of the workload lives under.
pub const PREFIX: &str = "auth/";

pub fn user(i: u32) -> String {
    format!("u{i}")
}

pub fn role(i: u32) -> String {
    format!("r{i}")
}

/// The password hash of user `i` after `generation` changes.
pub fn password_hash(i: u32, generation: u32) -> String {
    format!("hash-u{i}-{generation}")
}

pub fn key(prefix: u32, k: u32) -> Bytes {
    Bytes::from(format!("{PREFIX}{prefix}/k{k}"))
}

/// `[auth/<i>/, auth/<i>0)`: every key of user `i`'s prefix.
fn grant(i: u32) -> Permission {
    Permission {
        perm_type: PermType::ReadWrite,
        key: Bytes::from(format!("{PREFIX}{i}/")),
        range_end: Bytes::from(format!("{PREFIX}{i}0")),
    }
}

/// What the administrator sends, always as the root certificate user (the credential
/// is not looked at while auth is off).
pub fn as_root(request: AuthRequest) -> Request {
    Request::As {
        credential: Credential::CertUser(ROOT.to_string()),
        request: Box::new(Request::Auth(request)),
    }
}

/// The setup, in order: root, then each user with its role and grant, then enable.
pub fn setup(users: u32) -> Vec<AuthRequest> {
    let mut steps = vec![
        AuthRequest::UserAdd {
            name: ROOT.to_string(),
            password_hash: Some("hash-root".to_string()),
        },
        AuthRequest::UserGrantRole { user: ROOT.to_string(), role: ROOT.to_string() },
    ];
    for i in 1..=users {
        steps
            .push(AuthRequest::UserAdd { name: user(i), password_hash: Some(password_hash(i, 0)) });
        steps.push(AuthRequest::RoleAdd { name: role(i) });
        steps.push(AuthRequest::RoleGrantPermission { name: role(i), perm: grant(i) });
        steps.push(AuthRequest::UserGrantRole { user: user(i), role: role(i) });
    }
    steps.push(AuthRequest::Enable);
    steps
}

/// The request that makes `change` to user `i` (`generation` names the password an
/// added user or a password change sets).
pub fn change(change: Change, i: u32, generation: u32) -> AuthRequest {
    match change {
        Change::AddUser => AuthRequest::UserAdd {
            name: user(i),
            password_hash: Some(password_hash(i, generation)),
        },
        Change::DeleteUser => AuthRequest::UserDelete { name: user(i) },
        Change::GrantRole => AuthRequest::UserGrantRole { user: user(i), role: role(i) },
        Change::RevokeRole => AuthRequest::UserRevokeRole { name: user(i), role: role(i) },
        Change::GrantPermission => {
            AuthRequest::RoleGrantPermission { name: role(i), perm: grant(i) }
        }
        Change::RevokePermission => {
            let g = grant(i);
            AuthRequest::RoleRevokePermission { role: role(i), key: g.key, range_end: g.range_end }
        }
        Change::ChangePassword => AuthRequest::UserChangePassword {
            name: user(i),
            password_hash: password_hash(i, generation),
        },
    }
}

/// A read (a linearizable get) or a write of `key`, sent with `credential`.
pub fn access(credential: Credential, key: Bytes, write: bool, value: u64) -> Request {
    let request = if write {
        Request::Put(PutRequest {
            key,
            value: Bytes::from(value.to_string()),
            ..PutRequest::default()
        })
    } else {
        Request::Range(RangeRequest { key, ..RangeRequest::default() })
    };
    Request::As { credential, request: Box::new(request) }
}
