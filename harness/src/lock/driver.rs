//! Driving lock clients through a simulated cluster. Each client runs etcd's lock
//! recipe (`concurrency.Mutex`): grant a lease and keep it alive, create
//! `lock/<lease hex>` with the lease by a Txn comparing its create revision with 0, own
//! the lock when its key has the lowest create revision under the prefix, else watch
//! the key just ahead of it for deletion and look again. A holder writes the resource
//! twice (enter, then exit after working a while) and releases by revoking its lease.
//!
//! The election recipe is the same acquisition under another prefix: the winner
//! proclaims values (a Txn comparing its key's create revision) then resigns, while
//! observers watch the prefix and fold what they see into who leads.
//!
//! Pauses: a client the world says is paused does nothing — its timers, its answers
//! and its watch events wait until the pause ends (a stop-the-world pause), so its
//! lease is not kept alive while the cluster goes on without it.

use super::election::{Claim, KeyEvent, LeaderFold};
use super::requests::{self as req, lock_key};
use super::resource::{encode, Mark, ResourceWrite};
use bytes::Bytes;
use detcd_core::api::{EtcdError, EventType, KeyValue};
use detcd_core::server::{EtcdNode, Request, Response};
use detcd_core::types::RequestId;
use detcd_scenarios::{LockSpec, Recipe};
use detcd_sim::{ClientResult, Outcome, SimError, World};
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use std::collections::BTreeMap;

/// Where a client stands in the recipe.
#[derive(Clone, Debug, PartialEq, Eq)]
enum State {
    Idle,
    Granting,
    Creating {
        key: String,
    },
    /// Its key exists with create revision `token`; another key is ahead of it.
    Waiting {
        key: String,
        token: i64,
        watch: Option<RequestId>,
    },
    /// Holds the lock (leads the election); `done` counts its proclaims.
    Holding {
        key: String,
        token: i64,
        section: u64,
        done: u32,
    },
    Releasing,
}

/// What a request was for.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Purpose {
    Grant,
    Create,
    Waiters,
    Watch,
    KeepAlive { lease: i64 },
    Write { mark: Mark },
    Proclaim,
    Release,
    Observe { observer: usize },
}

/// Something a client has to act on, at a time.
#[derive(Debug)]
pub(crate) enum Wake {
    Start,
    KeepAlive { lease: i64 },
    WorkDone,
    Answer { purpose: Purpose, id: RequestId, outcome: Outcome<Response> },
    Resume,
}

struct Client {
    id: u64,
    state: State,
    /// The lease it keeps alive (0: none).
    lease: i64,
    /// When the Resume of its current pause is due, once one is scheduled.
    resume_at: Option<u64>,
}

/// An election observer: a watch over the prefix, folded into who leads.
pub(super) struct Observer {
    id: u64,
    next_revision: i64,
    watch: Option<RequestId>,
    reopened: u32,
    pub fold: LeaderFold,
}

/// A broken observer watch is reopened at most this often.
const OBSERVER_REOPENS_MAX: u32 = 64;

/// The lock workload side of one run.
pub(super) struct LockDriver {
    pub world: World<EtcdNode>,
    spec: LockSpec,
    nodes: u64,
    rng: ChaCha8Rng,
    clients: Vec<Client>,
    wakes: BTreeMap<(u64, u64), (usize, Wake)>,
    wake_seq: u64,
    open: BTreeMap<RequestId, (usize, Purpose)>,
    sections: u64,
    /// The client that acquired last and has not released.
    holder: Option<usize>,
    /// lock key → (owner client id, whether its end has been told).
    keys: BTreeMap<Bytes, (u64, bool)>,
    safety_end_us: u64,
    timeout_us: u64,
    /// What an unfenced resource accepted, in true-time order.
    pub writes: Vec<ResourceWrite>,
    pub requests_sent: u64,
    prefix: &'static str,
    /// Election: every client's belief that it leads a term.
    pub claims: Vec<Claim>,
    pub observers: Vec<Observer>,
}

/// Tells one step of the story, in plain words, to the world's events (and so to the
/// trace and `replay -v`).
fn tell(world: &mut World<EtcdNode>, client: u64, text: &str) {
    world.note(client, text.to_string());
}

impl LockDriver {
    pub fn new(
        world: World<EtcdNode>,
        spec: &LockSpec,
        rng: ChaCha8Rng,
        nodes: u64,
        safety_end_us: u64,
        timeout_us: u64,
    ) -> Self {
        let clients = (1..=u64::from(spec.clients))
            .map(|id| Client { id, state: State::Idle, lease: 0, resume_at: None })
            .collect();
        let election = spec.recipe == Recipe::Election;
        let observers = if election { spec.observers } else { 0 };
        let observers = (1..=u64::from(observers))
            .map(|o| Observer {
                id: u64::from(spec.clients) + o,
                next_revision: 1,
                watch: None,
                reopened: 0,
                fold: LeaderFold::default(),
            })
            .collect();
        LockDriver {
            world,
            spec: spec.clone(),
            nodes,
            rng,
            clients,
            wakes: BTreeMap::new(),
            wake_seq: 0,
            open: BTreeMap::new(),
            sections: 0,
            holder: None,
            keys: BTreeMap::new(),
            safety_end_us,
            timeout_us,
            writes: Vec::new(),
            requests_sent: 0,
            prefix: if election { req::ELECTION_PREFIX } else { req::LOCK_PREFIX },
            claims: Vec::new(),
            observers,
        }
    }

    /// Runs the clients until the safety phase ends.
    pub fn safety_phase(&mut self) -> Result<(), SimError> {
        for c in 0..self.clients.len() {
            let at = self.think_us();
            self.push_wake(at, c, Wake::Start);
        }
        for o in 0..self.observers.len() {
            self.observe(o);
        }
        crate::side_driver::run_until(self, self.safety_end_us)
    }

    fn now(&self) -> u64 {
        self.world.now_us()
    }

    fn think_us(&mut self) -> u64 {
        let [lo, hi] = self.spec.think_ms;
        self.now() + self.rng.gen_range(lo * 1_000..=hi * 1_000)
    }

    fn push_wake(&mut self, at: u64, c: usize, wake: Wake) {
        self.wake_seq += 1;
        self.wakes.insert((at, self.wake_seq), (c, wake));
    }

    fn send(&mut self, c: usize, purpose: Purpose, request: Request) -> RequestId {
        let node = self.rng.gen_range(1..=self.nodes);
        let client = match purpose {
            Purpose::Observe { observer } => self.observers[observer].id,
            _ => self.clients[c].id,
        };
        self.requests_sent += 1;
        let id = if matches!(purpose, Purpose::Watch | Purpose::Observe { .. }) {
            self.world.submit_stream(client, node, request)
        } else {
            self.world.submit(client, node, request, self.timeout_us)
        };
        self.open.insert(id, (c, purpose));
        id
    }

    fn route(&mut self, r: ClientResult<Request, Response>) {
        let Some(&(c, purpose)) = self.open.get(&r.id) else { return };
        if let Purpose::Observe { observer } = purpose {
            return self.observed(observer, r.outcome);
        }
        if !matches!(purpose, Purpose::Watch) {
            self.open.remove(&r.id);
        }
        self.wake(c, Wake::Answer { purpose, id: r.id, outcome: r.outcome });
    }

    /// Acts on `wake` for client `c`, unless the client is paused: then it waits for
    /// the pause to end.
    fn wake(&mut self, c: usize, wake: Wake) {
        if let Some(end) = self.world.paused_until(self.clients[c].id) {
            if self.clients[c].resume_at != Some(end) {
                self.clients[c].resume_at = Some(end);
                self.push_wake(end, c, Wake::Resume);
            }
            self.push_wake(end, c, wake);
            return;
        }
        match wake {
            Wake::Start => self.start(c),
            Wake::KeepAlive { lease } => {
                let client = &self.clients[c];
                if client.lease == lease && client.state != State::Releasing {
                    self.send(c, Purpose::KeepAlive { lease }, req::keep_alive(lease));
                    let at = self.now() + self.spec.keepalive_ms * 1_000;
                    self.push_wake(at, c, Wake::KeepAlive { lease });
                }
            }
            Wake::WorkDone if self.prefix == req::ELECTION_PREFIX => self.proclaim(c),
            Wake::WorkDone => self.write(c, Mark::Exit),
            Wake::Resume => self.resume(c),
            Wake::Answer { purpose, id, outcome } => self.answer(c, purpose, id, outcome),
        }
    }

    fn resume(&mut self, c: usize) {
        self.clients[c].resume_at = None;
        let text = match &self.clients[c].state {
            State::Holding { section, .. } => format!(
                "RESUMES after its pause, still believing it holds the lock (section {section}): it carries on where it stopped"
            ),
            _ => "resumes after its pause".to_string(),
        };
        tell(&mut self.world, self.clients[c].id, &text);
    }

    fn start(&mut self, c: usize) {
        if self.now() >= self.safety_end_us {
            return;
        }
        self.clients[c].state = State::Granting;
        self.send(c, Purpose::Grant, req::grant(self.spec.lease_ttl_s));
    }

    /// Gives up the current attempt: the lease is revoked (its key goes with it) and
    /// the client starts over.
    fn abandon(&mut self, c: usize, why: &str) {
        self.close_watch(c);
        tell(&mut self.world, self.clients[c].id, &format!("{why}: starts over"));
        self.release_lease(c);
    }

    fn release_lease(&mut self, c: usize) {
        let lease = std::mem::take(&mut self.clients[c].lease);
        if lease == 0 {
            self.idle(c);
            return;
        }
        if let Some(entry) = self.keys.get_mut(&Bytes::from(lock_key(self.prefix, lease))) {
            entry.1 = true;
        }
        self.clients[c].state = State::Releasing;
        self.send(c, Purpose::Release, req::revoke(lease));
    }

    fn idle(&mut self, c: usize) {
        self.clients[c].state = State::Idle;
        let at = self.think_us();
        self.push_wake(at, c, Wake::Start);
    }

    fn close_watch(&mut self, c: usize) {
        if let State::Waiting { watch: Some(id), .. } = self.clients[c].state {
            self.open.remove(&id);
        }
    }

    fn answer(&mut self, c: usize, purpose: Purpose, id: RequestId, outcome: Outcome<Response>) {
        let ok = match outcome {
            Outcome::Ok(Response::Err(e)) => Err(Some(e)),
            Outcome::Ok(r) => Ok(r),
            Outcome::Timeout | Outcome::Refused => Err(None),
        };
        match purpose {
            Purpose::Grant => match ok {
                Ok(Response::LeaseGrant(g)) if self.clients[c].state == State::Granting => {
                    self.clients[c].lease = g.id;
                    let at = self.now() + self.spec.keepalive_ms * 1_000;
                    self.push_wake(at, c, Wake::KeepAlive { lease: g.id });
                    let key = lock_key(self.prefix, g.id);
                    let client = self.clients[c].id;
                    self.keys.insert(Bytes::from(key.clone()), (client, false));
                    self.clients[c].state = State::Creating { key: key.clone() };
                    self.send(c, Purpose::Create, req::create_key(self.prefix, &key, g.id, client));
                }
                _ => self.idle(c),
            },
            Purpose::Create => {
                let State::Creating { key } = self.clients[c].state.clone() else { return };
                match ok.as_ref().ok().and_then(req::created) {
                    Some((rev, true, kvs)) => self.evaluate(c, key, rev, rev, &kvs),
                    _ => self.abandon(c, "could not create its lock key"),
                }
            }
            Purpose::Waiters => {
                let State::Waiting { key, token, .. } = self.clients[c].state.clone() else {
                    return;
                };
                match ok {
                    Ok(Response::Range(r)) => {
                        self.evaluate(c, key, token, r.header.revision, &r.kvs)
                    }
                    _ => {
                        self.send(c, Purpose::Waiters, req::waiters(self.prefix));
                    }
                }
            }
            Purpose::Watch => self.watch_answer(c, id, ok),
            Purpose::KeepAlive { lease } => {
                let gone = match ok {
                    Ok(Response::LeaseKeepAlive(k)) => k.ttl <= 0,
                    Err(Some(EtcdError::LeaseNotFound)) => true,
                    _ => false,
                };
                if gone && self.clients[c].lease == lease {
                    match self.clients[c].state {
                        State::Holding { .. } => tell(
                            &mut self.world,
                            self.clients[c].id,
                            "hears that its lease is gone (a keep-alive found no lease)",
                        ),
                        _ => self.abandon(c, "its lease is gone"),
                    }
                }
            }
            Purpose::Write { mark } => {
                let State::Holding { section, .. } = self.clients[c].state else { return };
                let client = self.clients[c].id;
                match ok {
                    Ok(Response::Txn(t)) if t.succeeded => tell(
                        &mut self.world,
                        client,
                        &format!(
                            "the resource accepted its {} write (section {section}, revision {})",
                            mark.word(),
                            t.header.revision
                        ),
                    ),
                    Ok(Response::Txn(_)) => {
                        tell(&mut self.world,
                            client,
                            &format!("the resource REFUSED its {} write (section {section}): its lock key no longer has the fencing token's create revision — it lost the lock", mark.word()),
                        );
                        return self.release(c);
                    }
                    _ => tell(
                        &mut self.world,
                        client,
                        &format!("its {} write has an unknown outcome", mark.word()),
                    ),
                }
                match mark {
                    Mark::Enter => self.work(c),
                    Mark::Exit => self.release(c),
                }
            }
            Purpose::Proclaim => self.proclaimed(c, ok),
            Purpose::Observe { .. } => {}
            Purpose::Release => {
                if self.clients[c].state == State::Releasing {
                    self.idle(c);
                }
            }
        }
    }

    fn watch_answer(&mut self, c: usize, id: RequestId, ok: Result<Response, Option<EtcdError>>) {
        let State::Waiting { watch: Some(watching), .. } = self.clients[c].state else { return };
        if watching != id {
            return;
        }
        let look_again = match ok {
            Ok(Response::Watch(w)) => {
                for e in w.events.iter().filter(|e| e.r#type == EventType::Delete) {
                    self.tell_key_end(&e.kv.key, e.kv.mod_revision);
                }
                w.canceled || w.events.iter().any(|e| e.r#type == EventType::Delete)
            }
            _ => true,
        };
        if look_again {
            self.close_watch(c);
            if let State::Waiting { watch, .. } = &mut self.clients[c].state {
                *watch = None;
            }
            self.send(c, Purpose::Waiters, req::waiters(self.prefix));
        }
    }

    /// A waiter saw `key` deleted. If its owner did not release it, its lease expired.
    fn tell_key_end(&mut self, key: &Bytes, revision: i64) {
        let Some((owner, told)) = self.keys.get_mut(key) else { return };
        if std::mem::replace(told, true) {
            return;
        }
        let owner = *owner;
        let paused = self.world.paused_until(owner).is_some();
        let text = format!(
            "its LEASE EXPIRED{}: no keep-alive reached the cluster within the TTL, so its key {} was deleted at revision {revision}",
            if paused { " DURING ITS PAUSE" } else { "" },
            String::from_utf8_lossy(key),
        );
        tell(&mut self.world, owner, &text);
    }

    /// Decides from every waiter key whether client `c` owns the lock, else watches the
    /// key just ahead of its own.
    fn evaluate(&mut self, c: usize, key: String, token: i64, revision: i64, kvs: &[KeyValue]) {
        if !kvs.iter().any(|kv| kv.key == key.as_bytes()) {
            return self.abandon(c, &format!("its lock key {key} is gone (its lease expired)"));
        }
        let ahead =
            kvs.iter().filter(|kv| kv.create_revision < token).max_by_key(|kv| kv.create_revision);
        match ahead {
            None => self.acquire(c, key, token, revision),
            Some(kv) => {
                let stream = self.clients[c].id;
                let id =
                    self.send(c, Purpose::Watch, req::watch_key(stream, &kv.key, revision + 1));
                let owner = self.keys.get(&kv.key).map_or(0, |k| k.0);
                tell(&mut self.world,
                    self.clients[c].id,
                    &format!(
                        "waits for the lock: c{owner}'s key {} (create revision {}) is ahead of its own {key} (create revision {token}); watches it for deletion",
                        String::from_utf8_lossy(&kv.key),
                        kv.create_revision
                    ),
                );
                self.clients[c].state = State::Waiting { key, token, watch: Some(id) };
            }
        }
    }

    fn acquire(&mut self, c: usize, key: String, token: i64, revision: i64) {
        self.sections += 1;
        let section = self.sections;
        let client = self.clients[c].id;
        self.holder = Some(c);
        self.world.set_lock_holder(Some(client));
        if self.prefix == req::ELECTION_PREFIX {
            tell(&mut self.world,
                client,
                &format!("WINS the election: its key {key} has the lowest create revision, {token}, which is its term"),
            );
            self.claims.push(Claim { client, term: token, revision, what: "won its campaign" });
            self.clients[c].state = State::Holding { key, token, section, done: 0 };
            return self.proclaim(c);
        }
        tell(&mut self.world,
            client,
            &format!("ACQUIRES the lock (section {section}): its key {key} has the lowest create revision, {token} (the fencing token)"),
        );
        self.clients[c].state = State::Holding { key, token, section, done: 0 };
        self.write(c, Mark::Enter);
    }

    fn work(&mut self, c: usize) {
        let [lo, hi] = self.spec.hold_ms;
        let at = self.now() + self.rng.gen_range(lo * 1_000..=hi * 1_000);
        self.push_wake(at, c, Wake::WorkDone);
    }

    /// One write of the critical section. Unfenced, the resource simply takes it;
    /// fenced, it is a Txn that only succeeds while the lock key keeps its token.
    fn write(&mut self, c: usize, mark: Mark) {
        let State::Holding { key, token, section, .. } = self.clients[c].state.clone() else {
            return;
        };
        let client = self.clients[c].id;
        if self.spec.fenced {
            let value = encode(client, section, mark);
            tell(
                &mut self.world,
                client,
                &format!(
                    "sends its {} write to the resource, fenced by token {token}",
                    mark.word()
                ),
            );
            self.send(c, Purpose::Write { mark }, req::fenced_write(&key, token, &value));
            return;
        }
        let now = self.now();
        self.writes.push(ResourceWrite { client, section, mark, at: now });
        let text = match self.holder {
            Some(h) if h != c => format!(
                "WRITES ANYWAY: its {} write (section {section}) reaches the resource while c{} holds the lock",
                mark.word(),
                self.clients[h].id
            ),
            _ => format!("writes {} to the resource (section {section})", mark.word()),
        };
        tell(&mut self.world, client, &text);
        match mark {
            Mark::Enter => self.work(c),
            Mark::Exit => self.release(c),
        }
    }

    fn release(&mut self, c: usize) {
        if self.holder == Some(c) {
            self.holder = None;
            self.world.set_lock_holder(None);
        }
        let text = if self.prefix == req::ELECTION_PREFIX {
            "resigns (revokes its lease)"
        } else {
            "releases the lock (revokes its lease)"
        };
        tell(&mut self.world, self.clients[c].id, text);
        self.release_lease(c);
    }

    /// The leader proclaims its next value, fenced by its term.
    fn proclaim(&mut self, c: usize) {
        let State::Holding { key, token, done, .. } = self.clients[c].state.clone() else {
            return;
        };
        let client = self.clients[c].id;
        let value = format!("c{client}/t{token}/v{}", done + 1);
        let request = req::proclaim(&key, token, self.clients[c].lease, &value);
        self.send(c, Purpose::Proclaim, request);
    }

    fn proclaimed(&mut self, c: usize, ok: Result<Response, Option<EtcdError>>) {
        let State::Holding { token, done, .. } = &mut self.clients[c].state else { return };
        let (term, n) = (*token, *done + 1);
        *done = n;
        let client = self.clients[c].id;
        match ok {
            Ok(Response::Txn(t)) if t.succeeded => {
                let revision = t.header.revision;
                self.claims.push(Claim { client, term, revision, what: "proclaimed" });
                tell(
                    &mut self.world,
                    client,
                    &format!("proclaims value {n} of term {term} (revision {revision})"),
                );
            }
            Ok(Response::Txn(_)) => {
                tell(&mut self.world,
                    client,
                    &format!("its proclaim was REFUSED: its key no longer has create revision {term}, so it no longer leads"),
                );
                return self.release(c);
            }
            _ => tell(&mut self.world, client, &format!("its proclaim {n} has an unknown outcome")),
        }
        if n >= self.spec.proclaims {
            self.release(c);
        } else {
            self.work(c);
        }
    }

    /// Opens (or reopens) observer `o`'s watch from the revision after the last it saw.
    fn observe(&mut self, o: usize) {
        let ob = &self.observers[o];
        let request = req::watch_prefix(ob.id, self.prefix, ob.next_revision);
        let id = self.send(0, Purpose::Observe { observer: o }, request);
        self.observers[o].watch = Some(id);
    }

    fn observed(&mut self, o: usize, outcome: Outcome<Response>) {
        let reopen = match outcome {
            Outcome::Ok(Response::Watch(w)) => {
                let ob = &mut self.observers[o];
                let mut i = 0;
                while i < w.events.len() {
                    let revision = w.events[i].kv.mod_revision;
                    let batch: Vec<KeyEvent> = w.events[i..]
                        .iter()
                        .take_while(|e| e.kv.mod_revision == revision)
                        .map(|e| KeyEvent {
                            key: e.kv.key.clone(),
                            create_revision: e.kv.create_revision,
                            value: e.kv.value.clone(),
                            delete: e.r#type == EventType::Delete,
                        })
                        .collect();
                    i += batch.len();
                    ob.fold.apply(revision, &batch);
                    ob.next_revision = revision + 1;
                }
                w.canceled
            }
            _ => true,
        };
        if reopen && self.observers[o].reopened < OBSERVER_REOPENS_MAX {
            if let Some(id) = self.observers[o].watch.take() {
                self.open.remove(&id);
            }
            self.observers[o].reopened += 1;
            self.observe(o);
        }
    }
}

impl crate::side_driver::SideDriver for LockDriver {
    type Wake = (usize, Wake);
    fn world(&mut self) -> &mut World<EtcdNode> {
        &mut self.world
    }
    fn wakes(&mut self) -> &mut BTreeMap<(u64, u64), (usize, Wake)> {
        &mut self.wakes
    }
    fn route(&mut self, r: ClientResult<Request, Response>) {
        LockDriver::route(self, r)
    }
    fn wake(&mut self, (c, wake): (usize, Wake)) {
        LockDriver::wake(self, c, wake)
    }
}
