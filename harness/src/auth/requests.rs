//! The etcd requests of the auth churn workload: the administrator's setup and
//! changes, a client's login, and its reads and writes as a user. User `i` is `u<i>`
//! with role `r<i>`, read-write on the prefix `auth/<i>/`, and on the area `perm/<i>/`
//! through overlapping grants (`extra`): two that share a key, two that share a range
//! end, a single key inside a wider grant, a bridge between two. Revoking one of them
//! must leave the others, and a key or range inside their union stays granted.
//! Each user also holds a second role `s<i>`, read-write on the prefix `side/<i>/`,
//! which the administrator deletes and adds back: deleting it must leave the user's
//! other role, and the role added back holds nothing until it is granted again.
//! Passwords never reach the core (the proposer hashes them), so the simulated ones
//! are just distinct hashes.

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

/// User `i`'s second role, the one the administrator deletes and adds back.
pub fn side_role(i: u32) -> String {
    format!("s{i}")
}

/// The prefix user `i` reaches only through its second role.
pub const SIDE_PREFIX: &str = "side/";

pub fn side_key(i: u32, k: u32) -> Bytes {
    Bytes::from(format!("{SIDE_PREFIX}{i}/k{k}"))
}

/// `[side/<i>/, side/<i>0)`: what the second role of user `i` grants.
pub fn side_grant(i: u32) -> Permission {
    Permission {
        perm_type: PermType::ReadWrite,
        key: Bytes::from(format!("{SIDE_PREFIX}{i}/")),
        range_end: Bytes::from(format!("{SIDE_PREFIX}{i}0")),
    }
}

/// The prefix of the areas user `i` reaches only through the overlapping grants.
pub const AREA_PREFIX: &str = "perm/";

/// Keys `k0`..`k3` of user `i`'s area.
pub fn area_key(i: u32, k: u32) -> Bytes {
    Bytes::from(format!("{AREA_PREFIX}{i}/k{k}"))
}

/// `[perm/<i>/, perm/<i>0)`: the whole area of user `i`.
pub fn area_range(i: u32) -> (Bytes, Bytes) {
    (Bytes::from(format!("{AREA_PREFIX}{i}/")), Bytes::from(format!("{AREA_PREFIX}{i}0")))
}

/// How many overlapping grants each role's area has.
pub const EXTRAS: usize = 6;

/// Which overlapping grants the setup makes: all but the bridge, so that a range over
/// the area is covered only by the union of grants, one of which (the single key)
/// lies inside another.
pub const EXTRAS_AT_SETUP: [bool; EXTRAS] = [true, true, true, true, true, false];

/// Overlapping grant `j` of role `i`, over its area `perm/<i>/`:
/// 0 `[/, k2)`, 1 `[/, k1)` (the same key as 0), 2 `[k2, end)`, 3 `[k3, end)` (the
/// same range end as 2), 4 the key `k1` alone (inside 0), 5 `[k1, k3)` (a bridge).
pub fn extra(i: u32, j: usize) -> Permission {
    let (start, end) = area_range(i);
    let (key, range_end) = match j {
        0 => (start, area_key(i, 2)),
        1 => (start, area_key(i, 1)),
        2 => (area_key(i, 2), end),
        3 => (area_key(i, 3), end),
        4 => (area_key(i, 1), Bytes::new()),
        5 => (area_key(i, 1), area_key(i, 3)),
        _ => panic!("role {i} has {EXTRAS} overlapping grants, not grant {j}"),
    };
    Permission { perm_type: PermType::ReadWrite, key, range_end }
}

/// `[auth/<i>/, auth/<i>0)`: every key of user `i`'s prefix.
pub fn grant(i: u32) -> Permission {
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

/// The setup, in order: root, then each user with its role and grants and its second
/// role, then enable.
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
        for j in (0..EXTRAS).filter(|&j| EXTRAS_AT_SETUP[j]) {
            steps.push(AuthRequest::RoleGrantPermission { name: role(i), perm: extra(i, j) });
        }
        steps.push(AuthRequest::UserGrantRole { user: user(i), role: role(i) });
        steps.push(AuthRequest::RoleAdd { name: side_role(i) });
        steps.push(AuthRequest::RoleGrantPermission { name: side_role(i), perm: side_grant(i) });
        steps.push(AuthRequest::UserGrantRole { user: user(i), role: side_role(i) });
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
        Change::GrantExtra(j) => {
            AuthRequest::RoleGrantPermission { name: role(i), perm: extra(i, j.into()) }
        }
        Change::RevokeExtra(j) => {
            let g = extra(i, j.into());
            AuthRequest::RoleRevokePermission { role: role(i), key: g.key, range_end: g.range_end }
        }
        Change::ChangePassword => AuthRequest::UserChangePassword {
            name: user(i),
            password_hash: password_hash(i, generation),
        },
        Change::DeleteSideRole => AuthRequest::RoleDelete { role: side_role(i) },
        Change::AddSideRole => AuthRequest::RoleAdd { name: side_role(i) },
        Change::GrantSideRole => AuthRequest::UserGrantRole { user: user(i), role: side_role(i) },
        Change::GrantSidePermission => {
            AuthRequest::RoleGrantPermission { name: side_role(i), perm: side_grant(i) }
        }
    }
}

/// A read (a linearizable range: one key when `range_end` is empty) or a write of
/// `key`, sent with `credential`.
pub fn access(
    credential: Credential,
    key: Bytes,
    range_end: Bytes,
    write: bool,
    value: u64,
) -> Request {
    let request = if write {
        Request::Put(PutRequest {
            key,
            value: Bytes::from(value.to_string()),
            ..PutRequest::default()
        })
    } else {
        Request::Range(RangeRequest { key, range_end, ..RangeRequest::default() })
    };
    Request::As { credential, request: Box::new(request) }
}
