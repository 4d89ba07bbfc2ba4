//! The auth store: users, roles and their key-range permissions, whether auth is
//! enabled, the auth revision and the simple tokens handed out — part of the
//! replicated state (changed only by applying committed [`AuthRequest`]s, carried in
//! snapshots). It also answers the checks every request goes through once auth is
//! enabled: who a token or certificate names, whether that user may read or write a
//! key range, and whether the auth state changed since the request was checked
//! (`revision of auth store is old`), so that nothing is served under a permission
//! revoked before it applied.

mod ops;
mod ranges;
#[cfg(test)]
mod tests;
mod ttl;

pub use ttl::TokenClock;

use crate::api::{AuthBody, AuthInfo, AuthRequest, EtcdError, Permission};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The user and role etcd treats as administrator.
pub const ROOT: &str = "root";
/// Simple tokens kept at once; the oldest is forgotten first (its holder
/// authenticates again on `invalid auth token`).
pub const TOKENS_MAX: usize = 16_384;

/// What a request presents to say who sends it.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Credential {
    /// A token from Authenticate.
    Token(String),
    /// The common name of a verified client certificate (`--client-cert-auth`).
    CertUser(String),
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
struct User {
    /// None: no password (certificate only); Authenticate always fails.
    password_hash: Option<String>,
    /// Sorted, no duplicates.
    roles: Vec<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthStore {
    enabled: bool,
    /// Bumped by every change to users, roles or permissions.
    revision: u64,
    users: BTreeMap<String, User>,
    /// Role name → its permissions, sorted by (key, range_end).
    roles: BTreeMap<String, Vec<Permission>>,
    /// Token → (user, log index it was issued at).
    tokens: BTreeMap<String, (String, u64)>,
    /// Log index → token, to forget the oldest first.
    token_order: BTreeMap<u64, String>,
}

impl AuthStore {
    pub fn enabled(&self) -> bool {
        self.enabled
    }

    pub fn revision(&self) -> u64 {
        self.revision
    }

    /// Whether nothing was ever stored (snapshots and hashes of a cluster that never
    /// used auth stay as they were).
    pub fn is_empty(&self) -> bool {
        *self == AuthStore::default()
    }

    /// Whether `token` was issued and not forgotten since.
    pub fn knows_token(&self, token: &str) -> bool {
        self.tokens.contains_key(token)
    }

    /// Who `credential` names, at the current auth revision. None when auth is off
    /// (everyone may do everything, and tokens are not looked at).
    pub fn resolve(&self, credential: Option<&Credential>) -> Result<Option<AuthInfo>, EtcdError> {
        if !self.enabled {
            return Ok(None);
        }
        match credential {
            None => Ok(None),
            Some(Credential::Token(token)) => match self.tokens.get(token) {
                Some((user, _)) => {
                    Ok(Some(AuthInfo { user: user.clone(), revision: self.revision }))
                }
                None => Err(EtcdError::InvalidAuthToken),
            },
            Some(Credential::CertUser(user)) => {
                Ok(Some(AuthInfo { user: user.clone(), revision: self.revision }))
            }
        }
    }

    /// The checks every permission test starts with: a user is named, and the auth
    /// state has not changed since it was resolved.
    fn user_of<'a>(&'a self, info: Option<&'a AuthInfo>) -> Result<&'a User, EtcdError> {
        let Some(info) = info else { return Err(EtcdError::UserEmpty) };
        if info.user.is_empty() {
            return Err(EtcdError::UserEmpty);
        }
        if info.revision < self.revision {
            return Err(EtcdError::AuthOldRevision);
        }
        self.users.get(&info.user).ok_or(EtcdError::PermissionDenied)
    }

    fn is_root(user: &User) -> bool {
        user.roles.iter().any(|r| r == ROOT)
    }

    /// Whether the caller may administer auth (has the root role). Always true with
    /// auth off.
    ///
    /// As etcd, this looks at the auth state as it is now, not at the revision the
    /// caller was resolved at: it runs where the request applies (or, for
    /// Maintenance calls, where it is served), so a revoked root role already counts.
    pub fn check_admin(&self, info: Option<&AuthInfo>) -> Result<(), EtcdError> {
        if !self.enabled {
            return Ok(());
        }
        let name = info.map_or("", |i| i.user.as_str());
        if name.is_empty() {
            return Err(EtcdError::UserEmpty);
        }
        let Some(user) = self.users.get(name) else { return Err(EtcdError::UserNotFound) };
        if Self::is_root(user) {
            Ok(())
        } else {
            Err(EtcdError::PermissionDenied)
        }
    }

    /// Whether the caller may read (`write == false`) or write every key of
    /// `[key, range_end)` (etcd's range encoding). Always true with auth off.
    pub fn check_range(
        &self,
        info: Option<&AuthInfo>,
        key: &[u8],
        range_end: &[u8],
        write: bool,
    ) -> Result<(), EtcdError> {
        if !self.enabled {
            return Ok(());
        }
        let user = self.user_of(info)?;
        if Self::is_root(user) {
            return Ok(());
        }
        let granted = user.roles.iter().filter_map(|r| self.roles.get(r)).flatten().filter(|p| {
            if write {
                p.perm_type.allows_write()
            } else {
                p.perm_type.allows_read()
            }
        });
        if ranges::covered(granted, key, range_end) {
            Ok(())
        } else {
            Err(EtcdError::PermissionDenied)
        }
    }

    /// Applies one Auth request committed at log `index`, sent by `caller`.
    pub fn apply(
        &mut self,
        request: &AuthRequest,
        caller: Option<&AuthInfo>,
        index: u64,
    ) -> Result<AuthBody, EtcdError> {
        if request.needs_admin() {
            self.check_admin(caller)?;
        }
        match request {
            AuthRequest::Enable => self.enable(),
            AuthRequest::Disable => {
                self.enabled = false;
                self.tokens.clear();
                self.token_order.clear();
                Ok(AuthBody::Done)
            }
            AuthRequest::Status => {
                Ok(AuthBody::Status { enabled: self.enabled, revision: self.revision })
            }
            AuthRequest::Authenticate { name, token, password_hash } => {
                self.authenticate(name, token, password_hash, index)
            }
            AuthRequest::UserPasswordHash { name } => match self.users.get(name) {
                _ if !self.enabled => Err(EtcdError::AuthNotEnabled),
                Some(u) => Ok(AuthBody::PasswordHash(u.password_hash.clone())),
                None => Err(EtcdError::AuthFailed),
            },
            AuthRequest::UserAdd { name, password_hash } => {
                if name.is_empty() {
                    return Err(EtcdError::UserEmpty);
                }
                if self.users.contains_key(name) {
                    return Err(EtcdError::UserAlreadyExist);
                }
                let user = User { password_hash: password_hash.clone(), roles: Vec::new() };
                self.users.insert(name.clone(), user);
                self.bump()
            }
            AuthRequest::UserGet { name } => {
                // A user may read itself without the root role.
                let own = caller.map_or("", |c| c.user.as_str()) == name;
                if !own {
                    self.check_admin(caller)?;
                }
                self.user_get(name)
            }
            AuthRequest::RoleGet { role } => {
                // A user may read the roles it has without the root role.
                if let Err(e) = self.check_admin(caller) {
                    let has = caller
                        .and_then(|c| self.users.get(&c.user))
                        .is_some_and(|u| u.roles.iter().any(|r| r == role));
                    if !has {
                        return Err(e);
                    }
                }
                match self.roles.get(role) {
                    Some(perms) => Ok(AuthBody::Perms(perms.clone())),
                    None => Err(EtcdError::RoleNotFound),
                }
            }
            AuthRequest::UserList => Ok(AuthBody::Names(self.users.keys().cloned().collect())),
            AuthRequest::UserDelete { name } => {
                if self.enabled && name == ROOT {
                    return Err(EtcdError::InvalidAuthMgmt);
                }
                if self.users.remove(name).is_none() {
                    return Err(EtcdError::UserNotFound);
                }
                self.forget_tokens_of(name);
                self.bump()
            }
            AuthRequest::UserChangePassword { name, password_hash } => {
                let Some(user) = self.users.get_mut(name) else {
                    return Err(EtcdError::UserNotFound);
                };
                user.password_hash = Some(password_hash.clone());
                self.forget_tokens_of(name);
                self.bump()
            }
            AuthRequest::UserGrantRole { user, role } => {
                if role != ROOT && !self.roles.contains_key(role) {
                    // Checked after the user, as etcd does.
                    if !self.users.contains_key(user) {
                        return Err(EtcdError::UserNotFound);
                    }
                    return Err(EtcdError::RoleNotFound);
                }
                let Some(u) = self.users.get_mut(user) else {
                    return Err(EtcdError::UserNotFound);
                };
                match u.roles.binary_search(role) {
                    // Granting a role twice changes nothing.
                    Ok(_) => Ok(AuthBody::Done),
                    Err(at) => {
                        u.roles.insert(at, role.clone());
                        self.bump()
                    }
                }
            }
            AuthRequest::UserRevokeRole { name, role } => {
                if self.enabled && name == ROOT && role == ROOT {
                    return Err(EtcdError::InvalidAuthMgmt);
                }
                let Some(u) = self.users.get_mut(name) else {
                    return Err(EtcdError::UserNotFound);
                };
                let Ok(at) = u.roles.binary_search(role) else {
                    return Err(EtcdError::RoleNotGranted);
                };
                u.roles.remove(at);
                self.bump()
            }
            AuthRequest::RoleAdd { name } => {
                if name.is_empty() {
                    return Err(EtcdError::RoleEmpty);
                }
                if self.roles.contains_key(name) {
                    return Err(EtcdError::RoleAlreadyExist);
                }
                self.roles.insert(name.clone(), Vec::new());
                self.bump()
            }
            AuthRequest::RoleList => Ok(AuthBody::Names(self.roles.keys().cloned().collect())),
            AuthRequest::RoleDelete { role } => {
                if self.enabled && role == ROOT {
                    return Err(EtcdError::InvalidAuthMgmt);
                }
                if self.roles.remove(role).is_none() {
                    return Err(EtcdError::RoleNotFound);
                }
                for user in self.users.values_mut() {
                    user.roles.retain(|r| r != role);
                }
                self.bump()
            }
            AuthRequest::RoleGrantPermission { name, perm } => {
                let Some(perms) = self.roles.get_mut(name) else {
                    return Err(EtcdError::RoleNotFound);
                };
                let place = perms.binary_search_by(|p| {
                    (&p.key, &p.range_end).cmp(&(&perm.key, &perm.range_end))
                });
                match place {
                    // The same range granted again: its type is replaced.
                    Ok(at) => perms[at].perm_type = perm.perm_type,
                    Err(at) => perms.insert(at, perm.clone()),
                }
                self.bump()
            }
            AuthRequest::RoleRevokePermission { role, key, range_end } => {
                let Some(perms) = self.roles.get_mut(role) else {
                    return Err(EtcdError::RoleNotFound);
                };
                let before = perms.len();
                perms.retain(|p| !(p.key == *key && p.range_end == *range_end));
                if perms.len() == before {
                    return Err(EtcdError::PermissionNotGranted);
                }
                self.bump()
            }
        }
    }

    fn user_get(&self, name: &str) -> Result<AuthBody, EtcdError> {
        match self.users.get(name) {
            Some(u) => Ok(AuthBody::Roles(u.roles.clone())),
            None => Err(EtcdError::UserNotFound),
        }
    }

    fn enable(&mut self) -> Result<AuthBody, EtcdError> {
        if self.enabled {
            return Ok(AuthBody::Done);
        }
        let Some(root) = self.users.get(ROOT) else {
            return Err(EtcdError::RootUserNotExist);
        };
        if !Self::is_root(root) {
            return Err(EtcdError::RootRoleNotExist);
        }
        self.enabled = true;
        Ok(AuthBody::Done)
    }

    fn authenticate(
        &mut self,
        name: &str,
        token: &str,
        checked_hash: &str,
        index: u64,
    ) -> Result<AuthBody, EtcdError> {
        if !self.enabled {
            return Err(EtcdError::AuthNotEnabled);
        }
        let Some(user) = self.users.get(name) else { return Err(EtcdError::AuthFailed) };
        // The password was checked against this hash; a change since then refuses it.
        if user.password_hash.as_deref() != Some(checked_hash) {
            return Err(EtcdError::AuthFailed);
        }
        // The index makes the token unique even if two proposers drew the same part.
        let token = format!("{token}.{index}");
        while self.tokens.len() >= TOKENS_MAX {
            let Some((_, oldest)) = self.token_order.pop_first() else { break };
            self.tokens.remove(&oldest);
        }
        self.tokens.insert(token.clone(), (name.to_owned(), index));
        self.token_order.insert(index, token.clone());
        Ok(AuthBody::Token(token))
    }

    fn forget_tokens_of(&mut self, name: &str) {
        let gone: Vec<(String, u64)> = self
            .tokens
            .iter()
            .filter(|(_, (user, _))| user == name)
            .map(|(t, (_, index))| (t.clone(), *index))
            .collect();
        for (token, index) in gone {
            self.tokens.remove(&token);
            self.token_order.remove(&index);
        }
    }

    fn bump(&mut self) -> Result<AuthBody, EtcdError> {
        self.revision += 1;
        Ok(AuthBody::Done)
    }

    /// Folds everything replicated into `h` (users, roles, permissions, tokens).
    pub fn hash_into(&self, mut int: impl FnMut(i64), mut bytes: impl FnMut(&[u8])) {
        int(i64::from(self.enabled));
        int(self.revision as i64);
        for (name, user) in &self.users {
            bytes(name.as_bytes());
            bytes(user.password_hash.as_deref().unwrap_or("").as_bytes());
            for r in &user.roles {
                bytes(r.as_bytes());
            }
        }
        for (name, perms) in &self.roles {
            bytes(name.as_bytes());
            for p in perms {
                int(p.perm_type as i64);
                bytes(&p.key);
                bytes(&p.range_end);
            }
        }
        for (token, (user, index)) in &self.tokens {
            bytes(token.as_bytes());
            bytes(user.as_bytes());
            int(*index as i64);
        }
    }
}
