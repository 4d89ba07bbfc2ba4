//! Auth service values (users, roles, permissions; authpb and the Auth RPCs) as plain
//! Rust. Passwords never reach the core: the proposer hashes them (bcrypt, CPU-heavy
//! and salted with randomness the core must not draw) and checks them, so requests
//! carry only hashes and a token the proposer chose.

use super::ResponseHeader;
use bytes::Bytes;
use serde::{Deserialize, Serialize};

/// authpb.Permission.Type.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
pub enum PermType {
    #[default]
    Read,
    Write,
    ReadWrite,
}

impl PermType {
    pub fn allows_read(self) -> bool {
        matches!(self, PermType::Read | PermType::ReadWrite)
    }

    pub fn allows_write(self) -> bool {
        matches!(self, PermType::Write | PermType::ReadWrite)
    }
}

/// authpb.Permission: `perm_type` on `key` (empty `range_end`), `[key, range_end)`, or
/// every key from `key` (`range_end` = "\0").
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Permission {
    pub perm_type: PermType,
    pub key: Bytes,
    pub range_end: Bytes,
}

/// Who sent a request when auth is enabled, and the auth revision their token (or
/// certificate) was checked against.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct AuthInfo {
    pub user: String,
    pub revision: u64,
}

/// One Auth RPC. Every one of them is replicated through the log, as in etcd, so each
/// answer reflects every auth change before it.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum AuthRequest {
    Enable,
    Disable,
    Status,
    /// The proposer has checked the password against `password_hash`, the answer of
    /// [`AuthRequest::UserPasswordHash`]; refused if the hash changed since. `token` is
    /// the proposer's fresh random part, made unique with the entry's index.
    Authenticate {
        name: String,
        token: String,
        password_hash: String,
    },
    /// `password_hash` is None for a user added with `no_password` (certificate only).
    UserAdd {
        name: String,
        password_hash: Option<String>,
    },
    UserGet {
        name: String,
    },
    UserList,
    UserDelete {
        name: String,
    },
    UserChangePassword {
        name: String,
        password_hash: String,
    },
    UserGrantRole {
        user: String,
        role: String,
    },
    UserRevokeRole {
        name: String,
        role: String,
    },
    RoleAdd {
        name: String,
    },
    RoleGet {
        role: String,
    },
    RoleList,
    RoleDelete {
        role: String,
    },
    RoleGrantPermission {
        name: String,
        perm: Permission,
    },
    RoleRevokePermission {
        role: String,
        key: Bytes,
        range_end: Bytes,
    },
    /// The stored password hash of `name`, for the proposer to check a password
    /// against before it proposes `Authenticate` (not an etcd RPC).
    UserPasswordHash {
        name: String,
    },
}

impl AuthRequest {
    /// Whether only a user with the root role may send it once auth is enabled.
    /// UserGet and RoleGet check for themselves: a user may read itself and its
    /// own roles.
    pub fn needs_admin(&self) -> bool {
        !matches!(
            self,
            AuthRequest::Authenticate { .. }
                | AuthRequest::Status
                | AuthRequest::UserPasswordHash { .. }
                | AuthRequest::UserGet { .. }
                | AuthRequest::RoleGet { .. }
        )
    }
}

/// What an Auth RPC answers besides its header.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum AuthBody {
    #[default]
    Done,
    Status {
        enabled: bool,
        revision: u64,
    },
    Token(String),
    /// UserGet: the user's roles, sorted.
    Roles(Vec<String>),
    /// UserList / RoleList: names, sorted.
    Names(Vec<String>),
    /// RoleGet: the role's permissions, sorted by key.
    Perms(Vec<Permission>),
    /// UserPasswordHash: None when the user has no password.
    PasswordHash(Option<String>),
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct AuthResponse {
    pub header: ResponseHeader,
    pub body: AuthBody,
}
