//! The `auth-revocation` check: no request is served under a permission, a user or a
//! token that was revoked before the request began (issue 13: "a permission revoked
//! or a user deleted takes effect for every later request on every member").
//!
//! "Before" is real time, read off the history: a change whose answer (success)
//! returned before a request was invoked is in effect for that request — unless a
//! change that could restore what it removed might have taken effect in between.
//! Access of user `u` to its own prefix needs three things, each removed and restored
//! by its own changes, and each judged on its own (so the check stays sound when
//! changes interleave); access to its side prefix `side/<u>/` needs the user and two
//! things of its second role `s<u>`:
//!
//! | part              | removed by                       | restored by                 |
//! |-------------------|----------------------------------|-----------------------------|
//! | the user          | delete user                      | add user                    |
//! | its role          | revoke role, delete user         | grant role                  |
//! | the grant         | revoke permission                | grant permission            |
//! | holding `s<u>`    | delete role `s<u>`, delete user  | grant role `s<u>`           |
//! | the grant of `s<u>` | delete role `s<u>`             | grant `s<u>` its permission |
//!
//! Adding `s<u>` back restores neither: a role added again starts empty and held by
//! no one.
//!
//! A token dies with a password change or the deletion of its user: a request with a
//! token issued before such a change began, invoked after it returned, must fail.
//! Access to another user's prefix is never granted, so it must never be served.
//! Only requests definitely served count (a timeout proves nothing); a restoring
//! change counts unless it definitely failed.
//!
//! The other half: access still granted is served. A certificate user's request
//! refused with "permission denied" fails the check when the role held it, by the
//! check's own model of users, roles and grants: the setup, then every change that
//! succeeded before the request was sent, in the order the administrator made them
//! (one at a time, so the order the cluster applied them). Such a refusal is judged
//! only when no change that takes something away could have acted while the request
//! was in flight: none answered after the request was sent or left unknown. Grants of
//! unknown outcome are left out of the model; they could only have given more.
//! Access to the area `perm/<u>/` is granted by overlapping permissions (`extra`),
//! covered by their union, so a revocation of one of them that takes others with it,
//! or a coverage test that loses track of the union, refuses granted access; and a
//! role delete that takes the user's other role with it refuses access to its prefix.

use crate::auth::requests::{extra, grant, side_grant, EXTRAS, EXTRAS_AT_SETUP};
use crate::report::{check_names, CheckResult};
use bytes::Bytes;
use detcd_core::api::Permission;

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
    /// Grants or revokes one of the role's overlapping grants on its area
    /// (`requests::extra`).
    GrantExtra(u8),
    RevokeExtra(u8),
    /// Deletes the user's second role `s<u>` (RoleDelete), which takes it from every
    /// user and drops its grant.
    DeleteSideRole,
    /// Adds `s<u>` back, empty.
    AddSideRole,
    GrantSideRole,
    GrantSidePermission,
}

/// The things access needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Part {
    User,
    Role,
    Grant,
    SideHeld,
    SideGrant,
}

/// Where a request of user `u` went.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Zone {
    /// `auth/<p>/`: user `p`'s prefix, granted to `r<p>`.
    Prefix,
    /// `perm/<u>/`, granted to `r<u>` by the overlapping grants.
    Area,
    /// `side/<u>/`, granted to the second role `s<u>`.
    Side,
}

impl Zone {
    /// Whether access here needs `part` (the overlapping grants of the area are left
    /// to the other half of the check).
    fn needs(self, part: Part) -> bool {
        match self {
            Zone::Prefix => matches!(part, Part::User | Part::Role | Part::Grant),
            Zone::Area => matches!(part, Part::User | Part::Role),
            Zone::Side => matches!(part, Part::User | Part::SideHeld | Part::SideGrant),
        }
    }

    fn describe(self, prefix: u32) -> String {
        match self {
            Zone::Prefix => format!("auth/{prefix}/"),
            Zone::Area => format!("perm/{prefix}/"),
            Zone::Side => format!("side/{prefix}/"),
        }
    }
}

impl Change {
    /// What the change removes (a deletion takes the user and its roles).
    fn removes(self) -> &'static [Part] {
        match self {
            Change::DeleteUser => &[Part::User, Part::Role, Part::SideHeld],
            Change::RevokeRole => &[Part::Role],
            Change::RevokePermission => &[Part::Grant],
            Change::DeleteSideRole => &[Part::SideHeld, Part::SideGrant],
            _ => &[],
        }
    }

    fn restores(self) -> Option<Part> {
        match self {
            Change::AddUser => Some(Part::User),
            Change::GrantRole => Some(Part::Role),
            Change::GrantPermission => Some(Part::Grant),
            Change::GrantSideRole => Some(Part::SideHeld),
            Change::GrantSidePermission => Some(Part::SideGrant),
            _ => None,
        }
    }

    /// Whether it may take access away (a refusal while it may act is not judged).
    fn takes_away(self) -> bool {
        matches!(
            self,
            Change::DeleteUser
                | Change::RevokeRole
                | Change::RevokePermission
                | Change::RevokeExtra(_)
                | Change::DeleteSideRole
        )
    }

    fn kills_tokens(self) -> bool {
        matches!(self, Change::DeleteUser | Change::ChangePassword)
    }

    pub(crate) fn describe(self, user: u32) -> String {
        match self {
            Change::AddUser => format!("add user u{user}"),
            Change::DeleteUser => format!("delete user u{user}"),
            Change::GrantRole => format!("grant role r{user} to u{user}"),
            Change::RevokeRole => format!("revoke role r{user} from u{user}"),
            Change::GrantPermission => format!("grant r{user} readwrite on auth/{user}/"),
            Change::RevokePermission => format!("revoke r{user}'s permission on auth/{user}/"),
            Change::ChangePassword => format!("change the password of u{user}"),
            Change::GrantExtra(j) => {
                format!("grant r{user} {}", describe_perm(&extra(user, j.into())))
            }
            Change::RevokeExtra(j) => {
                format!("revoke r{user}'s {}", describe_perm(&extra(user, j.into())))
            }
            Change::DeleteSideRole => format!("delete role s{user}"),
            Change::AddSideRole => format!("add role s{user}"),
            Change::GrantSideRole => format!("grant role s{user} to u{user}"),
            Change::GrantSidePermission => format!("grant s{user} readwrite on side/{user}/"),
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

fn describe_perm(p: &Permission) -> String {
    let text = |b: &Bytes| String::from_utf8_lossy(b).into_owned();
    if p.range_end.is_empty() {
        format!("readwrite on {}", text(&p.key))
    } else {
        format!("readwrite on [{}, {})", text(&p.key), text(&p.range_end))
    }
}

/// One read or write a client made as user `user` on the prefix of user `prefix`,
/// and served (a successful answer).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServedRecord {
    pub client: u64,
    pub user: u32,
    pub prefix: u32,
    pub zone: Zone,
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
            "client {} ({} u{}) got its {what} of {} served, invoked at {} and answered at {}",
            self.client,
            credential,
            self.user,
            self.zone.describe(self.prefix),
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
            if !r.zone.needs(part) {
                continue;
            }
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

/// A request of a certificate user `user` on its own prefix or area, for the range
/// `[key, range_end)` (one key when `range_end` is empty), refused with "permission
/// denied".
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeniedRecord {
    pub client: u64,
    pub user: u32,
    pub key: Bytes,
    pub range_end: Bytes,
    pub write: bool,
    pub invoke_us: u64,
    pub complete_us: u64,
}

/// What user `u` and its roles hold, by the model.
#[derive(Clone, Copy, Debug)]
struct Held {
    user: bool,
    role: bool,
    prefix: bool,
    extras: [bool; EXTRAS],
    /// Whether the user holds `s<u>`, and `s<u>` its grant. A grant of either that
    /// succeeded after the role's last delete found the role added back.
    side_held: bool,
    side_grant: bool,
}

impl Held {
    fn after_setup() -> Self {
        Held {
            user: true,
            role: true,
            prefix: true,
            extras: EXTRAS_AT_SETUP,
            side_held: true,
            side_grant: true,
        }
    }

    fn apply(&mut self, change: Change) {
        match change {
            Change::AddUser => self.user = true,
            Change::DeleteUser => (self.user, self.role, self.side_held) = (false, false, false),
            Change::GrantRole => self.role = true,
            Change::RevokeRole => self.role = false,
            Change::GrantPermission => self.prefix = true,
            Change::RevokePermission => self.prefix = false,
            Change::GrantExtra(j) => self.extras[usize::from(j)] = true,
            Change::RevokeExtra(j) => self.extras[usize::from(j)] = false,
            Change::ChangePassword => {}
            Change::DeleteSideRole => (self.side_held, self.side_grant) = (false, false),
            Change::AddSideRole => {}
            Change::GrantSideRole => self.side_held = true,
            Change::GrantSidePermission => self.side_grant = true,
        }
    }

    /// The permissions user `u` holds: those of `r<u>` and of `s<u>`, each when the
    /// user holds that role.
    fn grants(&self, u: u32) -> Vec<Permission> {
        if !self.user {
            return Vec::new();
        }
        let mut held = Vec::new();
        if self.role {
            held.extend(self.prefix.then(|| grant(u)));
            held.extend((0..EXTRAS).filter(|&j| self.extras[j]).map(|j| extra(u, j)));
        }
        if self.side_held && self.side_grant {
            held.push(side_grant(u));
        }
        held
    }
}

/// A half-open key interval; `None` as its end is unbounded. etcd's encoding: an empty
/// range end is the one key, "\0" every key from the start on.
fn interval(key: &[u8], range_end: &[u8]) -> (Vec<u8>, Option<Vec<u8>>) {
    match range_end {
        [] => (key.to_vec(), Some([key, &[0]].concat())),
        [0] => (key.to_vec(), None),
        end => (key.to_vec(), Some(end.to_vec())),
    }
}

/// Whether the union of `grants` covers `[key, range_end)`. Decided without a sweep:
/// the first key of the range not covered, if any, is its start or the end of some
/// grant, so it is enough that each of those inside the range lies in some grant.
fn union_covers(grants: &[Permission], key: &[u8], range_end: &[u8]) -> bool {
    let (start, end) = interval(key, range_end);
    let have: Vec<_> = grants.iter().map(|p| interval(&p.key, &p.range_end)).collect();
    let inside = |x: &Vec<u8>| *x >= start && end.as_ref().is_none_or(|e| x < e);
    let held = |x: &Vec<u8>| have.iter().any(|(s, e)| s <= x && e.as_ref().is_none_or(|e| x < e));
    std::iter::once(&start)
        .chain(have.iter().filter_map(|(_, e)| e.as_ref()))
        .filter(|x| inside(x))
        .all(held)
}

/// Why refusing `d` was wrong, if it was.
fn denial_violation(changes: &[ChangeRecord], d: &DeniedRecord) -> Option<String> {
    let of_user = || changes.iter().filter(|c| c.user == d.user);
    let in_flight = of_user().any(|c| {
        c.change.takes_away()
            && c.invoke_us < d.complete_us
            && match c.outcome {
                ChangeOutcome::Done { complete_us } => complete_us >= d.invoke_us,
                ChangeOutcome::Refused => false,
                ChangeOutcome::Unknown => true,
            }
    });
    if in_flight {
        return None;
    }
    let mut held = Held::after_setup();
    let mut last = None;
    for c in of_user() {
        if c.done_us().is_some_and(|done| done < d.invoke_us) {
            held.apply(c.change);
            last = Some(c);
        }
    }
    let grants = held.grants(d.user);
    if !union_covers(&grants, &d.key, &d.range_end) {
        return None;
    }
    let text = |b: &Bytes| String::from_utf8_lossy(b).into_owned();
    let what = if d.range_end.is_empty() {
        text(&d.key)
    } else {
        format!("[{}, {})", text(&d.key), text(&d.range_end))
    };
    let held_now: Vec<String> = grants.iter().map(describe_perm).collect();
    Some(format!(
        "client {} (certificate u{}) had its {} of {what} refused as permission denied (invoked at {}, answered at {}), although u{}'s roles held {} after `{}` and nothing that takes access away was in flight",
        d.client,
        d.user,
        if d.write { "write" } else { "read" },
        secs(d.invoke_us),
        secs(d.complete_us),
        d.user,
        held_now.join(", "),
        last.map_or("the setup".to_string(), |c| c.change.describe(d.user)),
    ))
}

/// The check over a whole run. The number of requests refused is reported to show
/// the changes had teeth.
pub fn check_revocation(
    changes: &[ChangeRecord],
    served: &[ServedRecord],
    denied: &[DeniedRecord],
    refused: u64,
) -> CheckResult {
    let name = check_names::AUTH_REVOCATION;
    let mut bad = served
        .iter()
        .filter_map(|r| violation(changes, r))
        .chain(denied.iter().filter_map(|d| denial_violation(changes, d)));
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
                    "{} served requests were all allowed when they began, against {done} auth changes ({refused} requests refused by auth, {} of certificate users as permission denied, none while the model held access)",
                    served.len(),
                    denied.len()
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
            zone: Zone::Prefix,
            write: false,
            token_issued_us: None,
            invoke_us,
            complete_us,
        }
    }

    fn verdict(changes: &[ChangeRecord], served: &[ServedRecord]) -> Verdict {
        check_revocation(changes, served, &[], 0).verdict
    }

    #[test]
    fn a_read_after_a_revocation_returned_is_a_violation() {
        let changes = [change(Change::RevokePermission, 100, 200)];
        assert_eq!(verdict(&changes, &[served(201, 250)]), Verdict::Fail);
        let evidence = check_revocation(&changes, &[served(201, 250)], &[], 0).evidence;
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

    fn denied(key: &str, range_end: &str, invoke_us: u64, complete_us: u64) -> DeniedRecord {
        DeniedRecord {
            client: 3,
            user: 1,
            key: Bytes::from(key.to_string()),
            range_end: Bytes::from(range_end.to_string()),
            write: false,
            invoke_us,
            complete_us,
        }
    }

    fn judge(changes: &[ChangeRecord], denied: &[DeniedRecord]) -> Verdict {
        check_revocation(changes, &[], denied, 0).verdict
    }

    #[test]
    fn the_union_of_grants_covers_what_no_one_grant_does() {
        let p = |key: &str, end: &str| Permission {
            perm_type: detcd_core::api::PermType::ReadWrite,
            key: Bytes::from(key.to_string()),
            range_end: Bytes::from(end.to_string()),
        };
        // A wide grant, a key inside it, then one that starts where the wide one ends.
        let grants = [p("a", "d"), p("b", ""), p("d", "f")];
        assert!(union_covers(&grants, b"a", b"f"));
        assert!(union_covers(&grants, b"c", b""));
        assert!(!union_covers(&grants, b"a", b"g"));
        assert!(!union_covers(&grants[..2], b"a", b"e"));
        assert!(!union_covers(&[p("a", "b"), p("c", "d")], b"a", b"d"), "a gap at b");
        assert!(union_covers(&[p("a", "\0")], b"z", b"\0"));
        assert!(!union_covers(&[], b"a", b""));
    }

    #[test]
    fn access_still_granted_must_be_served() {
        // The setup grants the whole area by the union of its overlapping grants.
        assert_eq!(judge(&[], &[denied("perm/1/", "perm/10", 10, 20)]), Verdict::Fail);
        assert_eq!(judge(&[], &[denied("perm/1/k2", "", 10, 20)]), Verdict::Fail);
        // Revoking `[k3, end)` leaves `[k2, end)`, which shares its range end.
        let revoke = [change(Change::RevokeExtra(3), 100, 200)];
        assert_eq!(judge(&revoke, &[denied("perm/1/k3", "", 300, 400)]), Verdict::Fail);
        // Revoking `[k2, end)` and `[k3, end)` leaves k3 ungranted.
        let both = [revoke[0].clone(), change(Change::RevokeExtra(2), 210, 250)];
        assert_eq!(judge(&both, &[denied("perm/1/k3", "", 300, 400)]), Verdict::Pass);
        assert_eq!(judge(&both, &[denied("perm/1/k0", "", 300, 400)]), Verdict::Fail);
        // The prefix: granted until its grant is revoked.
        let prefix = [change(Change::RevokePermission, 100, 200)];
        assert_eq!(judge(&[], &[denied("auth/1/k0", "", 10, 20)]), Verdict::Fail);
        assert_eq!(judge(&prefix, &[denied("auth/1/k0", "", 300, 400)]), Verdict::Pass);
        // Without the role nothing is granted.
        let role = [change(Change::RevokeRole, 100, 200)];
        assert_eq!(judge(&role, &[denied("perm/1/k0", "", 300, 400)]), Verdict::Pass);
        // Another user's changes change nothing for user 1.
        let mut other = role[0].clone();
        other.user = 2;
        assert_eq!(judge(&[other], &[denied("perm/1/k0", "", 300, 400)]), Verdict::Fail);
    }

    fn served_side(invoke_us: u64, complete_us: u64) -> ServedRecord {
        ServedRecord { zone: Zone::Side, ..served(invoke_us, complete_us) }
    }

    #[test]
    fn deleting_the_second_role_leaves_the_first() {
        let delete = [change(Change::DeleteSideRole, 100, 200)];
        // The prefix and the area come through r1, which the delete must leave.
        assert_eq!(judge(&delete, &[denied("auth/1/k0", "", 300, 400)]), Verdict::Fail);
        assert_eq!(judge(&delete, &[denied("perm/1/k0", "", 300, 400)]), Verdict::Fail);
        let evidence = check_revocation(&delete, &[], &[denied("auth/1/k0", "", 300, 400)], 0);
        assert!(evidence.evidence.contains("after `delete role s1`"), "{}", evidence.evidence);
        // What only s1 granted is gone.
        assert_eq!(judge(&delete, &[denied("side/1/k0", "", 300, 400)]), Verdict::Pass);
        // Before the delete, s1 grants its prefix.
        assert_eq!(judge(&[], &[denied("side/1/k0", "", 10, 20)]), Verdict::Fail);
        // While the delete is in flight, nothing is judged.
        assert_eq!(judge(&delete, &[denied("auth/1/k0", "", 150, 250)]), Verdict::Pass);
    }

    #[test]
    fn a_role_added_back_holds_nothing_until_granted() {
        let mut changes = vec![change(Change::DeleteSideRole, 100, 200)];
        assert_eq!(verdict(&changes, &[served_side(300, 400)]), Verdict::Fail);
        // Concurrent with the delete: may be served.
        assert_eq!(verdict(&changes, &[served_side(150, 400)]), Verdict::Pass);
        // Added back and held again, but without its grant.
        changes.push(change(Change::AddSideRole, 210, 220));
        changes.push(change(Change::GrantSideRole, 230, 240));
        assert_eq!(verdict(&changes, &[served_side(300, 400)]), Verdict::Fail);
        let denied_side = [denied("side/1/k0", "", 300, 400)];
        assert_eq!(judge(&changes, &denied_side), Verdict::Pass);
        // Granted again: served, and a refusal is wrong.
        changes.push(change(Change::GrantSidePermission, 250, 260));
        assert_eq!(verdict(&changes, &[served_side(300, 400)]), Verdict::Pass);
        assert_eq!(judge(&changes, &denied_side), Verdict::Fail);
        // The prefix never needed s1.
        assert_eq!(verdict(&changes[..1], &[served(300, 400)]), Verdict::Pass);
    }

    #[test]
    fn deleting_a_user_takes_its_second_role_too() {
        let changes = [
            change(Change::DeleteUser, 100, 200),
            change(Change::AddUser, 210, 220),
            change(Change::GrantRole, 230, 240),
        ];
        assert_eq!(verdict(&changes, &[served(300, 400)]), Verdict::Pass);
        assert_eq!(verdict(&changes, &[served_side(300, 400)]), Verdict::Fail);
        assert_eq!(judge(&changes, &[denied("side/1/k0", "", 300, 400)]), Verdict::Pass);
        let regrant =
            [changes[0].clone(), changes[1].clone(), change(Change::GrantSideRole, 230, 240)];
        assert_eq!(verdict(&regrant, &[served_side(300, 400)]), Verdict::Pass);
        assert_eq!(judge(&regrant, &[denied("side/1/k0", "", 300, 400)]), Verdict::Fail);
    }

    #[test]
    fn a_refusal_while_something_may_be_taken_away_is_not_judged() {
        // The revocation answered while the request was in flight.
        let revoke = [change(Change::RevokeExtra(0), 100, 350)];
        assert_eq!(judge(&revoke, &[denied("perm/1/k0", "", 300, 400)]), Verdict::Pass);
        // Or its outcome is unknown: it may act at any time.
        let mut unknown = revoke.clone();
        unknown[0].outcome = ChangeOutcome::Unknown;
        assert_eq!(judge(&unknown, &[denied("perm/1/k0", "", 900, 950)]), Verdict::Pass);
        // A revocation that definitely failed took nothing.
        unknown[0].outcome = ChangeOutcome::Refused;
        assert_eq!(judge(&unknown, &[denied("perm/1/k0", "", 300, 400)]), Verdict::Fail);
        // A grant in flight is left out: the model holds less, never more.
        let regrant = [
            change(Change::RevokeExtra(0), 100, 200),
            change(Change::RevokeExtra(1), 210, 250),
            change(Change::GrantExtra(1), 260, 500),
        ];
        assert_eq!(judge(&regrant, &[denied("perm/1/k0", "", 300, 400)]), Verdict::Pass);
        assert_eq!(judge(&regrant, &[denied("perm/1/k0", "", 600, 700)]), Verdict::Fail);
    }
}
