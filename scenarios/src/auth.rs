//! The `[auth]` table: instead of the KV workload, an administrator changes users,
//! roles and permissions (revokes and grants them back, deletes and re-adds users,
//! changes passwords) while clients read and write as those users, with tokens or as
//! certificate users. The `auth-revocation` check then demands that no request was
//! served under a permission (or a user, or a token) revoked before it began.
//!
//! ```toml
//! [auth]
//! users = 3                    # user i holds role i, read-write on prefix `auth/i/`
//! clients_per_user = 2         # half with tokens, half as certificate users
//! think_ms = [5, 40]           # a client's pause between two requests
//! admin_think_ms = [50, 300]   # the administrator's pause between two changes
//! ```

use serde::{Deserialize, Serialize};

/// The auth churn workload.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuthSpec {
    /// Users (each with its own role and key prefix).
    pub users: u32,
    /// Clients acting as each user.
    pub clients_per_user: u32,
    /// Pause between two requests of a client, milliseconds.
    pub think_ms: [u64; 2],
    /// Pause between two changes of the administrator, milliseconds.
    pub admin_think_ms: [u64; 2],
    /// UNSAFE, a negative control: members check a linearizable read's permission
    /// when it arrives instead of when it is served.
    pub unsafe_check_reads_on_receipt: bool,
}

impl Default for AuthSpec {
    fn default() -> Self {
        AuthSpec {
            users: 3,
            clients_per_user: 2,
            think_ms: [5, 40],
            admin_think_ms: [50, 300],
            unsafe_check_reads_on_receipt: false,
        }
    }
}

/// Most users an auth workload may name (each has a client set and a key prefix).
pub const AUTH_USERS_MAX: u32 = 16;

impl AuthSpec {
    /// Clients besides the administrator (client 1); they are clients 2 onwards.
    pub fn clients(&self) -> u32 {
        self.users * self.clients_per_user
    }

    /// What is wrong with these settings, if anything.
    pub fn problem(&self) -> Option<String> {
        if !(1..=AUTH_USERS_MAX).contains(&self.users) {
            return Some(format!("auth.users must be 1 to {AUTH_USERS_MAX}"));
        }
        if !(1..=8).contains(&self.clients_per_user) {
            return Some("auth.clients_per_user must be 1 to 8".into());
        }
        for (name, [lo, hi]) in
            [("think_ms", self.think_ms), ("admin_think_ms", self.admin_think_ms)]
        {
            if lo > hi || hi == 0 {
                return Some(format!("auth.{name} = [{lo}, {hi}] must be a positive range"));
            }
        }
        None
    }
}
