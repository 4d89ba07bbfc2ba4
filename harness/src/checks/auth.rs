//! The `auth-revocation` check: no request is served under a permission, a user or a
//! token that was revoked before the request began (issue 13: "a permission revoked
//! or a user deleted takes effect for every later request on every member").
//!
//! "Before" is real time, read off the history: a change whose answer (success)
//! returned before a request was invoked is in effect for that request — unless a
//! change that could restore what it removed might have taken effect in between.
//! Access of user `u` to its own prefix needs three things, each removed and restored
//! by its own changes, and each judged on its own (so the check stays sound when
//! changes interleave):
//!
//! | part         | removed by                     | restored by        |
//! |--------------|--------------------------------|--------------------|
//! | the user     | delete user                    | add user           |
//! | its role     | revoke role, delete user       | grant role         |
//! | the grant    | revoke permission              | grant permission   |
//!
//! A token dies with a password change or the deletion of its user: a request with a
//! token issued before such a change began, invoked after it returned, must fail.
//! Access to another user's prefix is never granted, so it must never be served.
//! Only requests definitely served count (a timeout proves nothing); a restoring
//! change counts unless it definitely failed.

use crate::report::{check_names, CheckResult};

/// One change the administrator made to user `user`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Change {
    AddUser,
    DeleteUser,
    GrantRole,
    RevokeRole,
    GrantPermission,
    RevokePermission,
    ChangePassword,
}

/// The three things access needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Part {
    User,
    Role,
    Grant,
}

impl Change {
    /// What the change removes (a deletion takes the user and its roles).
    fn removes(self) -> &'static [Part] {
        match self {
            Change::DeleteUser => &[Part::User, Part::Role],
            Change::RevokeRole => &[Part::Role],
            Change::RevokePermission => &[Part::Grant],
            _ => &[],
        }
    }

    fn restores(self) -> Option<Part> {
        match self {
            Change::AddUser => Some(Part::User),
            Change::GrantRole => Some(Part::Role),
            Change::GrantPermission => Some(Part::Grant),
            _ => None,
        }
    }

    fn kills_tokens(self) -> bool {
        matches!(self, Change::DeleteUser | Change::ChangePassword)
    }

    fn describe(self, user: u32) -> String {
        match self {
            Change::AddUser => format!("add user u{user}"),
            Change::DeleteUser => format!("delete user u{user}"),
            Change::GrantRole => format!("grant role r{user} to u{user}"),
            Change::RevokeRole => format!("revoke role r{user} from u{user}"),
            Change::GrantPermission => format!("grant r{user} readwrite on auth/{user}/"),
            Change::RevokePermission => format!("revoke r{user}'s permission on auth/{user}/"),
            Change::ChangePassword => format!("change the password of u{user}"),
        }
    }
}

/// How a change ended, as its client saw it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChangeOutcome {
    /// Answered with success at `complete_us`.
    Done { complete_us: u64 },
    /// Refused with an error that proves it had no effect.
    Refused,
    /// Timed out, or an error that leaves it open: it may take effect at any time
    /// after its invocation.
    Unknown,
}

/// One change of the administrator.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChangeRecord {
    pub user: u32,
    pub change: Change,
    pub invoke_us: u64,
    pub outcome: ChangeOutcome,
}

impl ChangeRecord {
    /// When its success was known, if it succeeded.
    fn done_us(&self) -> Option<u64> {
        match self.outcome {
            ChangeOutcome::Done { complete_us } => Some(complete_us),
            _ => None,
        }
    }

    /// Whether it may have taken effect after `t_us`.
    fn may_act_after(&self, t_us: u64) -> bool {
        match self.outcome {
            ChangeOutcome::Done { complete_us } => complete_us > t_us,
            ChangeOutcome::Refused => false,
            ChangeOutcome::Unknown => true,
        }
    }
}

/// One read or write a client made as user `user` on the prefix of user `prefix`,
/// and served (a successful answer).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServedRecord {
    pub client: u64,
    pub user: u32,
    pub prefix: u32,
    pub write: bool,
    /// When the Authenticate that issued its token answered; None for a certificate
    /// user.
    pub token_issued_us: Option<u64>,
    pub invoke_us: u64,
    pub complete_us: u64,
}

impl ServedRecord {
    fn describe(&self) -> String {
        let (what, credential) = (
            if self.write { "write" } else { "read" },
            if self.token_issued_us.is_some() { "token" } else { "certificate" },
        );
        format!(
            "client {} ({} u{}) got its {what} of auth/{}/ served, invoked at {} and answered at {}",
            self.client,
            credential,
            self.user,
            self.prefix,
            secs(self.invoke_us),
            secs(self.complete_us)
        )
    }
}

fn secs(us: u64) -> String {
    format!("{}.{:06} s", us / 1_000_000, us % 1_000_000)
}

/// Why `r` should have been refused, if it should.
fn violation(changes: &[ChangeRecord], r: &ServedRecord) -> Option<String> {
    if r.prefix != r.user {
        return Some(format!(
            "{}, although u{} was never granted anything there",
            r.describe(),
            r.user
        ));
    }
    let of_user = || changes.iter().filter(|c| c.user == r.user);
    for v in of_user() {
        let Some(v_done) = v.done_us() else { continue };
        if v_done >= r.invoke_us {
            continue;
        }
        if let Some(issued) = r.token_issued_us {
            // A token whose Authenticate answered before the change began was
            // certainly issued before the change applied.
            if v.change.kills_tokens() && issued < v.invoke_us {
                return Some(format!(
                    "{}, with a token from an Authenticate answered at {}, although `{}` (invoked at {}) returned at {}: the token was dead",
                    r.describe(),
                    secs(issued),
                    v.change.describe(r.user),
                    secs(v.invoke_us),
                    secs(v_done),
                ));
            }
        }
        for &part in v.change.removes() {
            let restored = of_user().any(|g| {
                g.change.restores() == Some(part)
                    && g.invoke_us < r.complete_us
                    && g.may_act_after(v.invoke_us)
            });
            if !restored {
                return Some(format!(
                    "{}, although `{}` (invoked at {}) returned at {} and nothing that could give it back began before the request ended",
                    r.describe(),
                    v.change.describe(r.user),
                    secs(v.invoke_us),
                    secs(v_done),
                ));
            }
        }
    }
    None
}

/// The check over a whole run. The number of requests refused is reported to show
/// the changes had teeth.
pub fn check_revocation(
    changes: &[ChangeRecord],
    served: &[ServedRecord],
    refused: u64,
) -> CheckResult {
    let name = check_names::AUTH_REVOCATION;
    let mut bad = served.iter().filter_map(|r| violation(changes, r));
    match bad.next() {
        Some(first) => {
            let more = bad.count();
            CheckResult::fail(
                name,
                format!(
                    "{first}{}",
                    if more > 0 { format!(" (and {more} more)") } else { String::new() }
                ),
            )
        }
        None => {
            let done = changes.iter().filter(|c| c.done_us().is_some()).count();
            CheckResult::pass(
                name,
                format!(
                    "{} served requests were all allowed when they began, against {done} auth changes ({refused} requests refused by auth)",
                    served.len()
                ),
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::Verdict;

    fn change(change: Change, invoke_us: u64, complete_us: u64) -> ChangeRecord {
        ChangeRecord { user: 1, change, invoke_us, outcome: ChangeOutcome::Done { complete_us } }
    }

    fn served(invoke_us: u64, complete_us: u64) -> ServedRecord {
        ServedRecord {
            client: 2,
            user: 1,
            prefix: 1,
            write: false,
            token_issued_us: None,
            invoke_us,
            complete_us,
        }
    }

    fn verdict(changes: &[ChangeRecord], served: &[ServedRecord]) -> Verdict {
        check_revocation(changes, served, 0).verdict
    }

    #[test]
    fn a_read_after_a_revocation_returned_is_a_violation() {
        let changes = [change(Change::RevokePermission, 100, 200)];
        assert_eq!(verdict(&changes, &[served(201, 250)]), Verdict::Fail);
        let evidence = check_revocation(&changes, &[served(201, 250)], 0).evidence;
        assert!(evidence.contains("revoke r1's permission"), "{evidence}");
    }

    #[test]
    fn a_read_concurrent_with_the_revocation_may_be_served() {
        let changes = [change(Change::RevokePermission, 100, 200)];
        assert_eq!(verdict(&changes, &[served(150, 250)]), Verdict::Pass);
        assert_eq!(verdict(&changes, &[served(200, 250)]), Verdict::Pass);
    }

    #[test]
    fn a_grant_that_may_act_in_between_excuses_it() {
        let mut changes =
            vec![change(Change::RevokeRole, 100, 200), change(Change::GrantRole, 300, 400)];
        assert_eq!(verdict(&changes, &[served(250, 350)]), Verdict::Pass);
        assert_eq!(verdict(&changes, &[served(250, 290)]), Verdict::Fail);
        // A grant of another part does not give the role back.
        changes[1].change = Change::GrantPermission;
        assert_eq!(verdict(&changes, &[served(250, 350)]), Verdict::Fail);
        // A grant that definitely failed gives nothing back; an unknown one may.
        changes[1].change = Change::GrantRole;
        changes[1].outcome = ChangeOutcome::Refused;
        assert_eq!(verdict(&changes, &[served(250, 350)]), Verdict::Fail);
        changes[1].outcome = ChangeOutcome::Unknown;
        assert_eq!(verdict(&changes, &[served(250, 350)]), Verdict::Pass);
    }

    #[test]
    fn deleting_a_user_removes_its_roles_too() {
        let changes = [change(Change::DeleteUser, 100, 200), change(Change::AddUser, 300, 400)];
        // The user is back, but without its role.
        assert_eq!(verdict(&changes, &[served(500, 600)]), Verdict::Fail);
    }

    #[test]
    fn tokens_die_with_a_password_change() {
        let changes = [change(Change::ChangePassword, 100, 200)];
        let mut r = served(300, 400);
        r.token_issued_us = Some(50);
        assert_eq!(verdict(&changes, std::slice::from_ref(&r)), Verdict::Fail);
        // A token from an Authenticate that answered after the change began may be
        // new.
        r.token_issued_us = Some(150);
        assert_eq!(verdict(&changes, std::slice::from_ref(&r)), Verdict::Pass);
        // Certificate users have no token to lose.
        r.token_issued_us = None;
        assert_eq!(verdict(&changes, &[r]), Verdict::Pass);
    }

    #[test]
    fn another_users_prefix_is_never_served() {
        let mut r = served(10, 20);
        r.prefix = 2;
        assert_eq!(verdict(&[], &[r]), Verdict::Fail);
        assert_eq!(verdict(&[], &[served(10, 20)]), Verdict::Pass);
    }
}
