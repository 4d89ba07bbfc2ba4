//! `etcdserverpb.Auth`: users, roles, permissions, enabling auth and Authenticate,
//! each replicated through the core's log. Passwords are hashed (bcrypt, etcd's
//! default cost) and checked here, before anything is proposed, as etcd does: the
//! work is CPU-heavy and its salt random, neither of which belongs in the core.
//! Also: who a request comes from ([`credential`]), by its `token` metadata or, with
//! `--client-cert-auth`, its certificate's common name.

use super::{answer, unary, Api};
use crate::convert;
use crate::pb::{
    authpb,
    etcdserverpb::{self as pb, auth_server::Auth},
};
use detcd_core::api::{AuthBody, AuthRequest as A, AuthResponse, EtcdError, PermType, Permission};
use detcd_core::server::{Credential, Request};
use std::sync::Arc;
use tonic::{Request as Req, Response as Resp, Status};

pub struct AuthService(pub Arc<Api>);

const SERVICE: &str = "etcdserverpb.Auth";
/// etcd's default `--bcrypt-cost`.
const BCRYPT_COST: u32 = 10;
/// Random bytes in a simple token (etcd: 16 letters).
const TOKEN_BYTES: usize = 12;

/// Who sends `req`: the `token` metadata etcd's clients attach after Authenticate, or
/// else the common name of the verified client certificate.
pub fn credential<T>(req: &Req<T>) -> Option<Credential> {
    if let Some(token) = req.metadata().get("token").and_then(|v| v.to_str().ok()) {
        return Some(Credential::Token(token.to_owned()));
    }
    cert_user(req).map(Credential::CertUser)
}

#[cfg(not(madsim))]
fn cert_user<T>(req: &Req<T>) -> Option<String> {
    let certs = req.peer_certs()?;
    let (_, cert) = x509_parser::parse_x509_certificate(certs.first()?.as_ref()).ok()?;
    let cn = cert.subject().iter_common_name().next()?.as_str().ok()?.to_owned();
    Some(cn)
}

#[cfg(madsim)]
fn cert_user<T>(_: &Req<T>) -> Option<String> {
    None
}

/// `request` as sent by whoever `req` names.
pub fn as_sender<T>(req: &Req<T>, request: Request) -> Request {
    sent_by(credential(req), request)
}

/// `request` on behalf of `credential`, when there is one.
pub fn sent_by(credential: Option<Credential>, request: Request) -> Request {
    match credential {
        Some(credential) => Request::As { credential, request: Box::new(request) },
        None => request,
    }
}

/// Who sent `req`, and its message taken out of it (not copied).
pub fn split<T>(req: Req<T>) -> (Option<Credential>, T) {
    (credential(&req), req.into_inner())
}

impl AuthService {
    async fn call<T>(&self, req: &Req<T>, auth: A) -> Result<AuthResponse, Status> {
        answer!(self.0.handle.call(as_sender(req, Request::Auth(auth))).await?, Auth)
    }

    async fn done<T>(&self, req: &Req<T>, auth: A) -> Result<Option<pb::ResponseHeader>, Status> {
        Ok(convert::header(self.call(req, auth).await?.header))
    }
}

fn hash(password: &str) -> Result<String, Status> {
    bcrypt::hash(password, BCRYPT_COST)
        .map_err(|e| Status::internal(format!("detcd: cannot hash the password: {e}")))
}

fn token() -> Result<String, Status> {
    let mut bytes = [0u8; TOKEN_BYTES];
    getrandom::fill(&mut bytes)
        .map_err(|e| Status::internal(format!("detcd: no randomness for a token: {e}")))?;
    // Letters only, as etcd's simple tokens.
    Ok(bytes.iter().flat_map(|b| [b'a' + (b >> 4), b'a' + (b & 0xf)]).map(char::from).collect())
}

fn perm_type(t: i32) -> PermType {
    match authpb::permission::Type::try_from(t) {
        Ok(authpb::permission::Type::Write) => PermType::Write,
        Ok(authpb::permission::Type::Readwrite) => PermType::ReadWrite,
        _ => PermType::Read,
    }
}

fn wire_perm(p: Permission) -> authpb::Permission {
    let t = match p.perm_type {
        PermType::Read => authpb::permission::Type::Read,
        PermType::Write => authpb::permission::Type::Write,
        PermType::ReadWrite => authpb::permission::Type::Readwrite,
    };
    authpb::Permission { perm_type: t as i32, key: p.key, range_end: p.range_end }
}

fn names(body: AuthBody) -> Vec<String> {
    match body {
        AuthBody::Names(n) | AuthBody::Roles(n) => n,
        _ => Vec::new(),
    }
}

#[tonic::async_trait]
impl Auth for AuthService {
    async fn auth_enable(
        &self,
        req: Req<pb::AuthEnableRequest>,
    ) -> Result<Resp<pb::AuthEnableResponse>, Status> {
        unary(&self.0, SERVICE, "AuthEnable", async {
            Ok(pb::AuthEnableResponse { header: self.done(&req, A::Enable).await? })
        })
        .await
    }

    async fn auth_disable(
        &self,
        req: Req<pb::AuthDisableRequest>,
    ) -> Result<Resp<pb::AuthDisableResponse>, Status> {
        unary(&self.0, SERVICE, "AuthDisable", async {
            Ok(pb::AuthDisableResponse { header: self.done(&req, A::Disable).await? })
        })
        .await
    }

    async fn auth_status(
        &self,
        req: Req<pb::AuthStatusRequest>,
    ) -> Result<Resp<pb::AuthStatusResponse>, Status> {
        unary(&self.0, SERVICE, "AuthStatus", async {
            let r = self.call(&req, A::Status).await?;
            let AuthBody::Status { enabled, revision } = r.body else {
                return Err(super::unexpected(detcd_core::server::Response::Auth(r)));
            };
            Ok(pb::AuthStatusResponse {
                header: convert::header(r.header),
                enabled,
                auth_revision: revision,
            })
        })
        .await
    }

    async fn authenticate(
        &self,
        req: Req<pb::AuthenticateRequest>,
    ) -> Result<Resp<pb::AuthenticateResponse>, Status> {
        unary(&self.0, SERVICE, "Authenticate", async {
            let r = req.get_ref();
            let stored = self.call(&req, A::UserPasswordHash { name: r.name.clone() }).await?;
            let AuthBody::PasswordHash(Some(password_hash)) = stored.body else {
                return Err(convert::status(EtcdError::AuthFailed));
            };
            if !bcrypt::verify(&r.password, &password_hash).unwrap_or(false) {
                return Err(convert::status(EtcdError::AuthFailed));
            }
            let auth = A::Authenticate { name: r.name.clone(), token: token()?, password_hash };
            let done = self.call(&req, auth).await?;
            let AuthBody::Token(token) = done.body else {
                return Err(super::unexpected(detcd_core::server::Response::Auth(done)));
            };
            Ok(pb::AuthenticateResponse { header: convert::header(done.header), token })
        })
        .await
    }

    async fn user_add(
        &self,
        req: Req<pb::AuthUserAddRequest>,
    ) -> Result<Resp<pb::AuthUserAddResponse>, Status> {
        unary(&self.0, SERVICE, "UserAdd", async {
            let r = req.get_ref();
            let no_password = r.options.as_ref().is_some_and(|o| o.no_password);
            let password_hash = if no_password {
                None
            } else if !r.hashed_password.is_empty() {
                Some(r.hashed_password.clone())
            } else {
                Some(hash(&r.password)?)
            };
            let add = A::UserAdd { name: r.name.clone(), password_hash };
            Ok(pb::AuthUserAddResponse { header: self.done(&req, add).await? })
        })
        .await
    }

    async fn user_get(
        &self,
        req: Req<pb::AuthUserGetRequest>,
    ) -> Result<Resp<pb::AuthUserGetResponse>, Status> {
        unary(&self.0, SERVICE, "UserGet", async {
            let r = self.call(&req, A::UserGet { name: req.get_ref().name.clone() }).await?;
            Ok(pb::AuthUserGetResponse { header: convert::header(r.header), roles: names(r.body) })
        })
        .await
    }

    async fn user_list(
        &self,
        req: Req<pb::AuthUserListRequest>,
    ) -> Result<Resp<pb::AuthUserListResponse>, Status> {
        unary(&self.0, SERVICE, "UserList", async {
            let r = self.call(&req, A::UserList).await?;
            Ok(pb::AuthUserListResponse { header: convert::header(r.header), users: names(r.body) })
        })
        .await
    }

    async fn user_delete(
        &self,
        req: Req<pb::AuthUserDeleteRequest>,
    ) -> Result<Resp<pb::AuthUserDeleteResponse>, Status> {
        unary(&self.0, SERVICE, "UserDelete", async {
            let delete = A::UserDelete { name: req.get_ref().name.clone() };
            Ok(pb::AuthUserDeleteResponse { header: self.done(&req, delete).await? })
        })
        .await
    }

    async fn user_change_password(
        &self,
        req: Req<pb::AuthUserChangePasswordRequest>,
    ) -> Result<Resp<pb::AuthUserChangePasswordResponse>, Status> {
        unary(&self.0, SERVICE, "UserChangePassword", async {
            let r = req.get_ref();
            let password_hash = if r.hashed_password.is_empty() {
                hash(&r.password)?
            } else {
                r.hashed_password.clone()
            };
            let change = A::UserChangePassword { name: r.name.clone(), password_hash };
            Ok(pb::AuthUserChangePasswordResponse { header: self.done(&req, change).await? })
        })
        .await
    }

    async fn user_grant_role(
        &self,
        req: Req<pb::AuthUserGrantRoleRequest>,
    ) -> Result<Resp<pb::AuthUserGrantRoleResponse>, Status> {
        unary(&self.0, SERVICE, "UserGrantRole", async {
            let r = req.get_ref();
            let grant = A::UserGrantRole { user: r.user.clone(), role: r.role.clone() };
            Ok(pb::AuthUserGrantRoleResponse { header: self.done(&req, grant).await? })
        })
        .await
    }

    async fn user_revoke_role(
        &self,
        req: Req<pb::AuthUserRevokeRoleRequest>,
    ) -> Result<Resp<pb::AuthUserRevokeRoleResponse>, Status> {
        unary(&self.0, SERVICE, "UserRevokeRole", async {
            let r = req.get_ref();
            let revoke = A::UserRevokeRole { name: r.name.clone(), role: r.role.clone() };
            Ok(pb::AuthUserRevokeRoleResponse { header: self.done(&req, revoke).await? })
        })
        .await
    }

    async fn role_add(
        &self,
        req: Req<pb::AuthRoleAddRequest>,
    ) -> Result<Resp<pb::AuthRoleAddResponse>, Status> {
        unary(&self.0, SERVICE, "RoleAdd", async {
            let add = A::RoleAdd { name: req.get_ref().name.clone() };
            Ok(pb::AuthRoleAddResponse { header: self.done(&req, add).await? })
        })
        .await
    }

    async fn role_get(
        &self,
        req: Req<pb::AuthRoleGetRequest>,
    ) -> Result<Resp<pb::AuthRoleGetResponse>, Status> {
        unary(&self.0, SERVICE, "RoleGet", async {
            let r = self.call(&req, A::RoleGet { role: req.get_ref().role.clone() }).await?;
            let perm = match r.body {
                AuthBody::Perms(perms) => perms.into_iter().map(wire_perm).collect(),
                _ => Vec::new(),
            };
            Ok(pb::AuthRoleGetResponse { header: convert::header(r.header), perm })
        })
        .await
    }

    async fn role_list(
        &self,
        req: Req<pb::AuthRoleListRequest>,
    ) -> Result<Resp<pb::AuthRoleListResponse>, Status> {
        unary(&self.0, SERVICE, "RoleList", async {
            let r = self.call(&req, A::RoleList).await?;
            Ok(pb::AuthRoleListResponse { header: convert::header(r.header), roles: names(r.body) })
        })
        .await
    }

    async fn role_delete(
        &self,
        req: Req<pb::AuthRoleDeleteRequest>,
    ) -> Result<Resp<pb::AuthRoleDeleteResponse>, Status> {
        unary(&self.0, SERVICE, "RoleDelete", async {
            let delete = A::RoleDelete { role: req.get_ref().role.clone() };
            Ok(pb::AuthRoleDeleteResponse { header: self.done(&req, delete).await? })
        })
        .await
    }

    async fn role_grant_permission(
        &self,
        req: Req<pb::AuthRoleGrantPermissionRequest>,
    ) -> Result<Resp<pb::AuthRoleGrantPermissionResponse>, Status> {
        unary(&self.0, SERVICE, "RoleGrantPermission", async {
            let r = req.get_ref();
            // etcd: a grant without a permission is refused before anything is proposed.
            let Some(p) = r.perm.clone() else {
                return Err(Status::invalid_argument("etcdserver: permission not given"));
            };
            let perm = Permission {
                perm_type: perm_type(p.perm_type),
                key: p.key,
                range_end: p.range_end,
            };
            let grant = A::RoleGrantPermission { name: r.name.clone(), perm };
            Ok(pb::AuthRoleGrantPermissionResponse { header: self.done(&req, grant).await? })
        })
        .await
    }

    async fn role_revoke_permission(
        &self,
        req: Req<pb::AuthRoleRevokePermissionRequest>,
    ) -> Result<Resp<pb::AuthRoleRevokePermissionResponse>, Status> {
        unary(&self.0, SERVICE, "RoleRevokePermission", async {
            let r = req.get_ref();
            let revoke = A::RoleRevokePermission {
                role: r.role.clone(),
                key: r.key.clone(),
                range_end: r.range_end.clone(),
            };
            Ok(pb::AuthRoleRevokePermissionResponse { header: self.done(&req, revoke).await? })
        })
        .await
    }
}
