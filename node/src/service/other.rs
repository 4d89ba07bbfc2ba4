//! `etcdserverpb.Auth` as an etcd with authentication disabled answers it: AuthStatus
//! says disabled, Authenticate says auth is not enabled (clients then go on without a
//! token). Users, roles and enabling auth come with the security issue and are refused
//! with a clear message until then.

use super::{counted, Api};
use crate::convert;
use crate::pb::etcdserverpb::{self as pb, auth_server::Auth};
use std::sync::Arc;
use tonic::{Request as Req, Response as Resp, Status};

pub struct AuthService(pub Arc<Api>);

const SERVICE: &str = "etcdserverpb.Auth";

fn not_yet() -> Status {
    Status::unimplemented("detcd: authentication and RBAC are not supported yet")
}

/// The Auth impl: AuthStatus and Authenticate answered, every other method refused.
/// (A macro that writes the whole impl, because `async_trait` rewrites the methods it
/// sees before inner macros expand.)
macro_rules! auth_impl {
    ($($method:ident, $name:literal, $req:ident, $resp:ident;)*) => {
        #[tonic::async_trait]
        impl Auth for AuthService {
            async fn auth_status(
                &self,
                _: Req<pb::AuthStatusRequest>,
            ) -> Result<Resp<pb::AuthStatusResponse>, Status> {
                let result = async {
                    let info = self.0.handle.info().await?;
                    Ok(pb::AuthStatusResponse {
                        header: convert::header(info.header),
                        enabled: false,
                        auth_revision: 0,
                    })
                }
                .await;
                counted(&self.0, SERVICE, "AuthStatus", result)
            }

            async fn authenticate(
                &self,
                _: Req<pb::AuthenticateRequest>,
            ) -> Result<Resp<pb::AuthenticateResponse>, Status> {
                let refusal = Status::failed_precondition("etcdserver: authentication is not enabled");
                counted(&self.0, SERVICE, "Authenticate", Err(refusal))
            }

            $(
                async fn $method(&self, _: Req<pb::$req>) -> Result<Resp<pb::$resp>, Status> {
                    counted(&self.0, SERVICE, $name, Err(not_yet()))
                }
            )*
        }
    };
}

auth_impl! {
    auth_enable, "AuthEnable", AuthEnableRequest, AuthEnableResponse;
    auth_disable, "AuthDisable", AuthDisableRequest, AuthDisableResponse;
    user_add, "UserAdd", AuthUserAddRequest, AuthUserAddResponse;
    user_get, "UserGet", AuthUserGetRequest, AuthUserGetResponse;
    user_list, "UserList", AuthUserListRequest, AuthUserListResponse;
    user_delete, "UserDelete", AuthUserDeleteRequest, AuthUserDeleteResponse;
    user_change_password, "UserChangePassword", AuthUserChangePasswordRequest, AuthUserChangePasswordResponse;
    user_grant_role, "UserGrantRole", AuthUserGrantRoleRequest, AuthUserGrantRoleResponse;
    user_revoke_role, "UserRevokeRole", AuthUserRevokeRoleRequest, AuthUserRevokeRoleResponse;
    role_add, "RoleAdd", AuthRoleAddRequest, AuthRoleAddResponse;
    role_get, "RoleGet", AuthRoleGetRequest, AuthRoleGetResponse;
    role_list, "RoleList", AuthRoleListRequest, AuthRoleListResponse;
    role_delete, "RoleDelete", AuthRoleDeleteRequest, AuthRoleDeleteResponse;
    role_grant_permission, "RoleGrantPermission", AuthRoleGrantPermissionRequest, AuthRoleGrantPermissionResponse;
    role_revoke_permission, "RoleRevokePermission", AuthRoleRevokePermissionRequest, AuthRoleRevokePermissionResponse;
}
