//! Driving the auth churn workload through a simulated cluster. The administrator
//! (client 1) first sets up root, the users, their roles and grants and enables auth,
//! retrying each step until it is done; then it changes one user at a time: while a
//! user's access is whole it revokes something (permission, role, the user itself),
//! deletes the user's second role or changes its password, otherwise it gives back
//! what it believes is missing (a deleted second role is added back, given to the user,
//! then granted its permission, one change at a time). The
//! other clients act as users, half with tokens from Authenticate, half as
//! certificate users, and read and write keys of their own prefix (now and then
//! another user's, which must always be refused), keys of their side prefix, which
//! only the second role grants, or keys and ranges of their own area, which
//! overlapping grants cover (`requests::extra`); the administrator also
//! revokes and restores those grants one at a time. Every answer is recorded for the
//! `auth-revocation` check: what was served, and what a certificate user was denied.
//!
//! Before auth is on, once root exists, each client that logs in with a token asks for
//! its password hash once: etcd refuses a login while auth is off ("authentication is
//! not enabled"), and the `validation` check holds the answers to that. Once auth is
//! on, the administrator asks once to delete the root role and once to take the root
//! role from the root user, which etcd refuses while auth is enabled ("invalid auth
//! management"); the `validation` check holds those answers too.
//!
//! A client the world says is paused does nothing until its pause ends.

use super::requests::{self as req, as_root};
use super::setup::SetupProgress;
use crate::checks::auth::{Change, ChangeOutcome, ChangeRecord, DeniedRecord, ServedRecord, Zone};
use crate::checks::validation::{judge_answer, Answer, WrongAnswer};
use crate::workload::is_unknown_outcome;
use crate::workload_validation::Expected;
use bytes::Bytes;
use detcd_core::api::{AuthBody, AuthRequest, EtcdError};
use detcd_core::server::{Credential, EtcdNode, Request, Response, ROOT};
use detcd_core::types::RequestId;
use detcd_scenarios::AuthSpec;
use detcd_sim::{ClientResult, Outcome, SimError, World};
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use std::collections::BTreeMap;

/// Keys per user prefix.
const KEYS_PER_PREFIX: u32 = 4;
/// Out of 100 accesses, how many go to another user's prefix.
const FOREIGN_PERCENT: u32 = 10;
/// Out of 100 accesses to its own keys, how many go to the user's side prefix.
const SIDE_PERCENT: u32 = 25;
/// Out of 100 other accesses to its own keys, how many go to the user's area.
const AREA_PERCENT: u32 = 50;
/// Out of 100 accesses to the area, how many read a range of it.
const AREA_RANGE_PERCENT: u32 = 30;
/// The administrator's client id.
const ADMIN: u64 = 1;
/// The pause before a setup step that failed is sent again, as a client's retry
/// backoff: short, so that a lost or refused answer costs a round trip and not one of
/// the administrator's pauses between changes (`admin_think_ms`, up to seconds), yet
/// long enough that retrying against a member that is down lets time pass.
const SETUP_RETRY_MS: [u64; 2] = [20, 50];

/// What the administrator believes of one user's access.
#[derive(Clone, Copy, Debug)]
struct Belief {
    user: bool,
    role: bool,
    grant: bool,
    /// Which of the role's overlapping grants it holds.
    extras: [bool; req::EXTRAS],
    /// Whether the second role exists, the user holds it, and it holds its grant.
    side_role: bool,
    side_held: bool,
    side_grant: bool,
    /// The password generation the next add or change sets.
    generation: u32,
}

/// A user client's login.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Login {
    /// A certificate user: always logged in.
    Certificate,
    /// Needs a token: asks for the password hash, then authenticates.
    LoggedOut,
    /// A token, and when the Authenticate that issued it answered.
    Token { token: String, issued_us: u64 },
}

struct UserClient {
    id: u64,
    user: u32,
    login: Login,
}

/// What a request was for.
#[derive(Clone, Debug)]
enum Purpose {
    Setup {
        step: usize,
    },
    Change {
        record: usize,
    },
    PasswordHash,
    /// A login asked for while auth is still off.
    PasswordHashBeforeEnable,
    /// A delete of the root role while auth is on.
    DeleteRootRole,
    /// Taking the root role from the root user while auth is on.
    RevokeRootRole,
    Authenticate,
    Access {
        prefix: u32,
        zone: Zone,
        write: bool,
        token_issued_us: Option<u64>,
        /// What it asked for: `[key, range_end)`, one key when `range_end` is empty.
        key: Bytes,
        range_end: Bytes,
    },
}

/// The auth workload side of one run.
pub(super) struct AuthDriver {
    pub world: World<EtcdNode>,
    spec: AuthSpec,
    nodes: u64,
    rng: ChaCha8Rng,
    setup_steps: Vec<AuthRequest>,
    /// How far the setup got; done once auth is enabled with everything set up.
    pub setup: SetupProgress,
    /// The setup step to retry when the administrator wakes before setup is done.
    setup_step: usize,
    beliefs: Vec<Belief>,
    clients: Vec<UserClient>,
    /// (time, sequence) → client index (`None`: the administrator).
    wakes: BTreeMap<(u64, u64), Option<usize>>,
    wake_seq: u64,
    open: BTreeMap<RequestId, (Option<usize>, Purpose)>,
    safety_end_us: u64,
    timeout_us: u64,
    pub requests_sent: u64,
    pub changes: Vec<ChangeRecord>,
    pub served: Vec<ServedRecord>,
    /// Accesses refused with an auth error (denied, bad token, old auth revision).
    pub refused: u64,
    /// Accesses of certificate users to their own keys refused as permission denied.
    pub denied: Vec<DeniedRecord>,
    /// When the administrator first sent the request that enables auth.
    enable_sent_us: Option<u64>,
    /// Answers whose error etcd fixes (logins asked for before auth was on, the root
    /// role's delete): how many were judged, and the ones that were not etcd's.
    pub validation_judged: usize,
    pub validation_wrong: Vec<WrongAnswer>,
}

impl AuthDriver {
    pub fn new(
        world: World<EtcdNode>,
        spec: &AuthSpec,
        rng: ChaCha8Rng,
        nodes: u64,
        safety_end_us: u64,
        timeout_us: u64,
    ) -> Self {
        let mut clients = Vec::new();
        for user in 1..=spec.users {
            for k in 0..spec.clients_per_user {
                let login = if k % 2 == 0 { Login::LoggedOut } else { Login::Certificate };
                clients.push(UserClient { id: ADMIN + 1 + clients.len() as u64, user, login });
            }
        }
        let belief = Belief {
            user: true,
            role: true,
            grant: true,
            extras: req::EXTRAS_AT_SETUP,
            side_role: true,
            side_held: true,
            side_grant: true,
            generation: 1,
        };
        let setup_steps = req::setup(spec.users);
        AuthDriver {
            world,
            spec: spec.clone(),
            nodes,
            rng,
            setup: SetupProgress { steps: setup_steps.len(), ..SetupProgress::default() },
            setup_steps,
            setup_step: 0,
            beliefs: vec![belief; spec.users as usize],
            clients,
            wakes: BTreeMap::new(),
            wake_seq: 0,
            open: BTreeMap::new(),
            safety_end_us,
            timeout_us,
            requests_sent: 0,
            changes: Vec::new(),
            served: Vec::new(),
            refused: 0,
            denied: Vec::new(),
            enable_sent_us: None,
            validation_judged: 0,
            validation_wrong: Vec::new(),
        }
    }

    /// Runs the administrator and the clients until the safety phase ends, then lets
    /// the open requests finish (each has a deadline).
    pub fn safety_phase(&mut self) -> Result<(), SimError> {
        self.send_setup(0);
        crate::side_driver::run_until(self, self.safety_end_us)?;
        // Clients issue nothing more; what is open answers or times out.
        let drain_end_us = self.safety_end_us + self.timeout_us;
        while !self.open.is_empty() && self.now() < drain_end_us {
            self.world.run_until_result(drain_end_us)?;
            let results: Vec<_> = self.world.drain_results().collect();
            if results.is_empty() {
                break;
            }
            for r in results {
                self.route(r);
            }
        }
        Ok(())
    }

    fn now(&self) -> u64 {
        self.world.now_us()
    }

    fn client_id(&self, who: Option<usize>) -> u64 {
        who.map_or(ADMIN, |c| self.clients[c].id)
    }

    fn later(&mut self, who: Option<usize>) {
        let [lo, hi] = if who.is_some() { self.spec.think_ms } else { self.spec.admin_think_ms };
        let at = self.now() + self.rng.gen_range(lo * 1_000..=hi * 1_000);
        self.wake_seq += 1;
        self.wakes.insert((at, self.wake_seq), who);
    }

    fn send(&mut self, who: Option<usize>, purpose: Purpose, request: Request) {
        let node = self.rng.gen_range(1..=self.nodes);
        let client = self.client_id(who);
        self.requests_sent += 1;
        let id = self.world.submit(client, node, request, self.timeout_us);
        self.open.insert(id, (who, purpose));
    }

    fn send_setup(&mut self, step: usize) {
        if self.setup_steps[step] == AuthRequest::Enable && self.enable_sent_us.is_none() {
            self.enable_sent_us = Some(self.now());
        }
        let request = as_root(self.setup_steps[step].clone());
        self.send(None, Purpose::Setup { step }, request);
    }

    /// Acts for `who`, unless it is paused or the safety phase is over.
    fn wake(&mut self, who: Option<usize>) {
        if self.now() >= self.safety_end_us {
            return;
        }
        if let Some(end) = self.world.paused_until(self.client_id(who)) {
            self.wake_seq += 1;
            self.wakes.insert((end, self.wake_seq), who);
            return;
        }
        match who {
            None if !self.setup.done => self.send_setup(self.setup_step),
            None => self.admin_change(),
            Some(c) => self.act(c),
        }
    }

    fn route(&mut self, r: ClientResult<Request, Response>) {
        let Some((who, purpose)) = self.open.remove(&r.id) else { return };
        let answer = match r.outcome {
            Outcome::Ok(Response::Err(e)) => Err(Some(e)),
            Outcome::Ok(response) => Ok(response),
            Outcome::Timeout | Outcome::Refused => Err(None),
        };
        match purpose {
            Purpose::Setup { step } => self.setup_answer(step, answer),
            Purpose::Change { record } => {
                self.judge_change_refusal(record, (r.node, r.complete_us), &answer);
                self.change_answer(record, r.complete_us, answer)
            }
            Purpose::PasswordHash => {
                let c = who.expect("only user clients log in");
                match answer {
                    Ok(Response::Auth(a)) => match a.body {
                        AuthBody::PasswordHash(Some(hash)) => {
                            let token = format!("{:016x}", self.rng.gen::<u64>());
                            let name = req::user(self.clients[c].user);
                            let request =
                                AuthRequest::Authenticate { name, token, password_hash: hash };
                            self.send(who, Purpose::Authenticate, Request::Auth(request))
                        }
                        _ => self.later(who),
                    },
                    _ => self.later(who),
                }
            }
            Purpose::PasswordHashBeforeEnable => {
                // Answered before the enable was even sent: auth was off throughout.
                if self.enable_sent_us.is_none_or(|at| r.complete_us < at) {
                    let what = "password hash (a login) while auth is off";
                    self.judge(
                        who,
                        (r.node, r.complete_us),
                        &answer,
                        EtcdError::AuthNotEnabled,
                        what,
                    );
                }
            }
            Purpose::DeleteRootRole | Purpose::RevokeRootRole => {
                // A member that had not applied the enable when the request came took
                // it as no one's, and applied it as that: etcd too answers "user name
                // is empty" then, which says nothing of the root role.
                if !matches!(answer, Err(Some(EtcdError::UserEmpty))) {
                    let what = if matches!(purpose, Purpose::DeleteRootRole) {
                        "delete of the root role while auth is on"
                    } else {
                        "revoke of the root role from the root user while auth is on"
                    };
                    let at = (r.node, r.complete_us);
                    self.judge(who, at, &answer, EtcdError::InvalidAuthMgmt, what);
                }
            }
            Purpose::Authenticate => {
                let c = who.expect("only user clients log in");
                if let Ok(Response::Auth(a)) = answer {
                    if let AuthBody::Token(token) = a.body {
                        self.clients[c].login = Login::Token { token, issued_us: r.complete_us };
                    }
                }
                self.later(who);
            }
            Purpose::Access { prefix, zone, write, token_issued_us, key, range_end } => {
                let c = who.expect("only user clients access keys");
                let (client, user) = (self.clients[c].id, self.clients[c].user);
                match answer {
                    Ok(Response::Put(_) | Response::Range(_)) => self.served.push(ServedRecord {
                        client,
                        user,
                        prefix,
                        zone,
                        write,
                        token_issued_us,
                        invoke_us: r.invoke_us,
                        complete_us: r.complete_us,
                    }),
                    Err(Some(e)) => {
                        if e == EtcdError::PermissionDenied
                            && prefix == user
                            && self.clients[c].login == Login::Certificate
                        {
                            self.denied.push(DeniedRecord {
                                client,
                                user,
                                key,
                                range_end,
                                write,
                                invoke_us: r.invoke_us,
                                complete_us: r.complete_us,
                            });
                        }
                        if matches!(
                            e,
                            EtcdError::PermissionDenied
                                | EtcdError::InvalidAuthToken
                                | EtcdError::AuthOldRevision
                                | EtcdError::UserEmpty
                        ) {
                            self.refused += 1;
                        }
                        if e == EtcdError::InvalidAuthToken
                            && self.clients[c].login != Login::Certificate
                        {
                            self.clients[c].login = Login::LoggedOut;
                        }
                    }
                    _ => {}
                }
                self.later(who);
            }
        }
    }

    /// Holds `answer` to `refusal`, which etcd answers once the request applies.
    fn judge(
        &mut self,
        who: Option<usize>,
        (node, complete_us): (u64, u64),
        answer: &Result<Response, Option<EtcdError>>,
        refusal: EtcdError,
        what: &str,
    ) {
        let got = match answer {
            Ok(response) => Answer::Served(response),
            Err(Some(e)) => Answer::Err(*e),
            Err(None) => Answer::None,
        };
        let expected = Expected::RefusedWhenApplied(refusal);
        match judge_answer(expected, got, |_| Err("unreachable".into())) {
            Ok(learned) => self.validation_judged += usize::from(learned),
            Err(why) => self.validation_wrong.push(WrongAnswer {
                what: what.into(),
                client: self.client_id(who),
                node,
                complete_us,
                why,
            }),
        }
    }

    fn setup_answer(&mut self, step: usize, answer: Result<Response, Option<EtcdError>>) {
        let done = matches!(
            answer,
            Ok(_) | Err(Some(EtcdError::UserAlreadyExist | EtcdError::RoleAlreadyExist))
        );
        if let (false, Err(error)) = (done, &answer) {
            self.setup.failed(step, *error);
        }
        if !done {
            // Retried after a short pause, at a member drawn again: one that is down
            // refuses at once, and an immediate retry would spin without time passing.
            self.setup_step = step;
            return self.retry_setup_later();
        }
        if step == 0 {
            self.ask_before_enable();
        }
        self.setup.steps_done = step + 1;
        if step + 1 < self.setup_steps.len() {
            return self.send_setup(step + 1);
        }
        self.setup.done = true;
        self.world.note(ADMIN, "auth is enabled: users, roles and grants are set up".into());
        // Beside the administrator's changes: refused, it changes nothing.
        let request = as_root(AuthRequest::RoleDelete { role: ROOT.to_string() });
        self.send(None, Purpose::DeleteRootRole, request);
        let request =
            as_root(AuthRequest::UserRevokeRole { name: ROOT.to_string(), role: ROOT.to_string() });
        self.send(None, Purpose::RevokeRootRole, request);
        self.later(None);
        for c in 0..self.clients.len() {
            self.later(Some(c));
        }
    }

    fn retry_setup_later(&mut self) {
        let [lo, hi] = SETUP_RETRY_MS;
        let at = self.now() + self.rng.gen_range(lo * 1_000..=hi * 1_000);
        self.wake_seq += 1;
        self.wakes.insert((at, self.wake_seq), None);
    }

    /// Each client that logs in with a token asks for its password hash while auth is
    /// still off.
    fn ask_before_enable(&mut self) {
        for c in 0..self.clients.len() {
            if self.clients[c].login == Login::LoggedOut {
                let name = req::user(self.clients[c].user);
                let request = Request::Auth(AuthRequest::UserPasswordHash { name });
                self.send(Some(c), Purpose::PasswordHashBeforeEnable, request);
            }
        }
    }

    /// The administrator's next change: take something away from a user whose
    /// access is whole, else give back what it lacks.
    fn admin_change(&mut self) {
        let i = self.rng.gen_range(1..=self.spec.users);
        let b = self.beliefs[i as usize - 1];
        let change = if !b.user {
            Change::AddUser
        } else if !b.role {
            Change::GrantRole
        } else if !b.grant {
            Change::GrantPermission
        } else if !b.side_role {
            Change::AddSideRole
        } else if !b.side_held {
            Change::GrantSideRole
        } else if !b.side_grant {
            Change::GrantSidePermission
        } else {
            match self.rng.gen_range(0..100) {
                0..=14 => Change::RevokePermission,
                15..=26 => Change::RevokeRole,
                27..=34 => Change::DeleteUser,
                35..=44 => Change::ChangePassword,
                45..=64 => Change::DeleteSideRole,
                _ => {
                    // One overlapping grant: taken away if held, else given back.
                    let j = self.rng.gen_range(0..req::EXTRAS);
                    let j8 = u8::try_from(j).expect("a handful of grants");
                    if b.extras[j] {
                        Change::RevokeExtra(j8)
                    } else {
                        Change::GrantExtra(j8)
                    }
                }
            }
        };
        let b = &mut self.beliefs[i as usize - 1];
        let generation = b.generation;
        match change {
            Change::AddUser => b.user = true,
            Change::DeleteUser => (b.user, b.role, b.side_held) = (false, false, false),
            Change::GrantRole => b.role = true,
            Change::RevokeRole => b.role = false,
            Change::GrantPermission => b.grant = true,
            Change::RevokePermission => b.grant = false,
            Change::GrantExtra(j) => b.extras[usize::from(j)] = true,
            Change::RevokeExtra(j) => b.extras[usize::from(j)] = false,
            Change::ChangePassword => {}
            Change::DeleteSideRole => {
                (b.side_role, b.side_held, b.side_grant) = (false, false, false)
            }
            Change::AddSideRole => b.side_role = true,
            Change::GrantSideRole => b.side_held = true,
            Change::GrantSidePermission => b.side_grant = true,
        }
        if matches!(change, Change::AddUser | Change::ChangePassword) {
            b.generation += 1;
        }
        self.world.note(ADMIN, format!("changes auth: {change:?} of u{i}"));
        let record = self.changes.len();
        self.changes.push(ChangeRecord {
            user: i,
            change,
            invoke_us: self.now(),
            outcome: ChangeOutcome::Unknown,
        });
        let request = as_root(req::change(change, i, generation));
        self.send(None, Purpose::Change { record }, request);
    }

    /// etcd refuses as "invalid auth management" only changes to the root user or the
    /// root role (deleting either, taking root's role away) while auth is on. The
    /// churn's changes touch `u<i>`, `r<i>` and `s<i>` alone, so that refusal is wrong
    /// whatever state the member was in.
    fn judge_change_refusal(
        &mut self,
        record: usize,
        (node, complete_us): (u64, u64),
        answer: &Result<Response, Option<EtcdError>>,
    ) {
        if matches!(answer, Err(Some(EtcdError::InvalidAuthMgmt))) {
            let r = &self.changes[record];
            self.validation_wrong.push(WrongAnswer {
                what: format!("`{}`", r.change.describe(r.user)),
                client: ADMIN,
                node,
                complete_us,
                why: "refused as invalid auth management, which etcd answers only to changes of the root user or role".into(),
            });
        }
    }

    fn change_answer(
        &mut self,
        record: usize,
        complete_us: u64,
        answer: Result<Response, Option<EtcdError>>,
    ) {
        let r = &mut self.changes[record];
        let b = &mut self.beliefs[r.user as usize - 1];
        r.outcome = match &answer {
            Ok(_) => ChangeOutcome::Done { complete_us },
            Err(Some(e)) if !is_unknown_outcome(e) => {
                // The refusal says what the state is; the belief follows it.
                match e {
                    EtcdError::UserNotFound => {
                        (b.user, b.role, b.side_held) = (false, false, false)
                    }
                    EtcdError::UserAlreadyExist => b.user = true,
                    EtcdError::RoleNotGranted => b.role = false,
                    // Only the second role is ever deleted: a delete, a grant of it or
                    // to it found it gone.
                    EtcdError::RoleNotFound => {
                        (b.side_role, b.side_held, b.side_grant) = (false, false, false)
                    }
                    EtcdError::RoleAlreadyExist => b.side_role = true,
                    EtcdError::PermissionNotGranted => match r.change {
                        Change::RevokeExtra(j) => b.extras[usize::from(j)] = false,
                        _ => b.grant = false,
                    },
                    _ => {}
                }
                ChangeOutcome::Refused
            }
            Err(_) => ChangeOutcome::Unknown,
        };
        self.later(None);
    }

    /// A user client's next step: log in if it has no token, else read or write.
    fn act(&mut self, c: usize) {
        let client = &self.clients[c];
        let user = client.user;
        let (credential, token_issued_us) = match &client.login {
            Login::LoggedOut => {
                let request =
                    Request::Auth(AuthRequest::UserPasswordHash { name: req::user(user) });
                return self.send(Some(c), Purpose::PasswordHash, request);
            }
            Login::Certificate => (Credential::CertUser(req::user(user)), None),
            Login::Token { token, issued_us } => {
                (Credential::Token(token.clone()), Some(*issued_us))
            }
        };
        let users = self.spec.users;
        let prefix = if users > 1 && self.rng.gen_range(0..100) < FOREIGN_PERCENT {
            user % users + 1
        } else {
            user
        };
        let zone = if prefix != user {
            Zone::Prefix
        } else if self.rng.gen_range(0..100) < SIDE_PERCENT {
            Zone::Side
        } else if self.rng.gen_range(0..100) < AREA_PERCENT {
            Zone::Area
        } else {
            Zone::Prefix
        };
        let k = self.rng.gen_range(0..KEYS_PER_PREFIX);
        let (key, range_end, write) = if zone == Zone::Prefix {
            (req::key(prefix, k), Bytes::new(), self.rng.gen_bool(0.5))
        } else if zone == Zone::Side {
            (req::side_key(user, k), Bytes::new(), self.rng.gen_bool(0.5))
        } else if self.rng.gen_range(0..100) < AREA_RANGE_PERCENT {
            // The whole area, or from its first key up to its last.
            let (start, end) = req::area_range(user);
            match self.rng.gen_bool(0.5) {
                true => (start, end, false),
                false => (req::area_key(user, 0), req::area_key(user, KEYS_PER_PREFIX - 1), false),
            }
        } else {
            (req::area_key(user, k), Bytes::new(), self.rng.gen_bool(0.5))
        };
        let value = self.requests_sent;
        let request = req::access(credential, key.clone(), range_end.clone(), write, value);
        let purpose = Purpose::Access { prefix, zone, write, token_issued_us, key, range_end };
        self.send(Some(c), purpose, request);
    }
}

impl crate::side_driver::SideDriver for AuthDriver {
    type Wake = Option<usize>;
    fn world(&mut self) -> &mut World<EtcdNode> {
        &mut self.world
    }
    fn wakes(&mut self) -> &mut BTreeMap<(u64, u64), Option<usize>> {
        &mut self.wakes
    }
    fn route(&mut self, r: ClientResult<Request, Response>) {
        AuthDriver::route(self, r)
    }
    fn wake(&mut self, who: Option<usize>) {
        AuthDriver::wake(self, who)
    }
}
