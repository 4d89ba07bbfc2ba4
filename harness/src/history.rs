//! From recorded client operations to the checker's etcd-model history.
//!
//! - Linearizable reads, puts, deletes and compare-and-swap txns go in with their
//!   header revisions, values, create/mod revisions and versions.
//! - A write whose outcome is unknown goes in as unknown (it may have taken effect at
//!   any point after its call, or never); a read with no answer constrains nothing and
//!   is left out, and so is every definite failure.
//! - Serializable reads are not linearizable by design; they have their own check. So
//!   are txns with both branches empty, which etcd serves as serializable.
//! - Each key attached to a lease is written once, so its removal, by the client's
//!   revoke or by the lease expiring on the leader, is exactly "delete that key": it
//!   goes in as one delete with an unknown outcome from the moment the key was put.
//! - Compaction changes no key and no revision, so it is left out.
//!
//! Unknown outcomes are resolved where the cluster's own history can tell: every put
//! writes a value no other put writes, so if a converged member's history holds that
//! value, the put took effect at that revision; if the history covers every revision
//! after the call and does not hold it, the put never took effect. A resolved write
//! enters the history as completing at the end of the run with its known revision, so
//! it can still take effect anywhere after its call but the search knows its place
//! among the writes. This is what makes histories with many timeouts checkable; a
//! history the cluster disagrees with itself about still fails (convergence is checked
//! separately, and every known outcome is checked as observed).

use crate::workload::{OpKind, OpOutcome, OpRecord};
use detcd_checker::history::{History, Operation};
use detcd_checker::models::etcd::{
    Compare, CompareResult, CompareTarget, KeyRange, KeyValue, Request, Response, ResponseBody,
};
use detcd_core::api;
use detcd_core::server::Response as ServerResponse;
use std::collections::BTreeMap;

/// A key or value as text for messages (invalid UTF-8 replaced, not refused).
pub(crate) fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn kv(kv: &api::KeyValue) -> KeyValue {
    KeyValue {
        key: text(&kv.key),
        value: text(&kv.value),
        create_revision: kv.create_revision,
        mod_revision: kv.mod_revision,
        version: kv.version,
    }
}

fn body(op: &api::ResponseOp) -> ResponseBody {
    match op {
        api::ResponseOp::Range(r) => ResponseBody::Range { kvs: r.kvs.iter().map(kv).collect() },
        api::ResponseOp::Put(p) => ResponseBody::Put { prev_kv: p.prev_kv.as_ref().map(kv) },
        api::ResponseOp::DeleteRange(d) => ResponseBody::DeleteRange {
            deleted: d.deleted,
            prev_kvs: d.prev_kvs.iter().map(kv).collect(),
        },
        api::ResponseOp::Txn(t) => ResponseBody::Txn {
            succeeded: t.succeeded,
            responses: t.responses.iter().map(body).collect(),
        },
    }
}

/// The model's form of a txn response's body.
pub fn txn_body(t: &api::TxnResponse) -> ResponseBody {
    ResponseBody::Txn { succeeded: t.succeeded, responses: t.responses.iter().map(body).collect() }
}

/// The model's form of a server response, when it is one the model checks.
fn response(r: &ServerResponse) -> Option<Response> {
    Some(match r {
        ServerResponse::Range(r) => Response {
            revision: r.header.revision,
            body: ResponseBody::Range { kvs: r.kvs.iter().map(kv).collect() },
        },
        ServerResponse::Put(p) => Response {
            revision: p.header.revision,
            body: ResponseBody::Put { prev_kv: p.prev_kv.as_ref().map(kv) },
        },
        ServerResponse::DeleteRange(d) => Response {
            revision: d.header.revision,
            body: ResponseBody::DeleteRange {
                deleted: d.deleted,
                prev_kvs: d.prev_kvs.iter().map(kv).collect(),
            },
        },
        ServerResponse::Txn(t) => Response { revision: t.header.revision, body: txn_body(t) },
        _ => return None,
    })
}

/// The model's form of an operation's input, when the model covers it.
fn input(kind: &OpKind) -> Option<Request> {
    use crate::workload::{KEYS_END, KEY_PREFIX};
    Some(match kind {
        OpKind::Put { key, value } | OpKind::LeasePut { key, value, .. } => {
            Request::Put { key: key.clone(), value: value.clone(), prev_kv: false }
        }
        OpKind::Get { key } => Request::Range { range: KeyRange::Key(key.clone()) },
        OpKind::Range => Request::Range {
            range: KeyRange::Span { start: KEY_PREFIX.to_string(), end: KEYS_END.to_string() },
        },
        OpKind::Delete { key } => {
            Request::DeleteRange { range: KeyRange::Key(key.clone()), prev_kv: false }
        }
        OpKind::DeletePrefix { prefix } => {
            Request::DeleteRange { range: KeyRange::Prefix(prefix.clone()), prev_kv: false }
        }
        OpKind::Cas { key, expected_mod, value } => Request::Txn {
            compare: vec![Compare {
                key: key.clone(),
                target: CompareTarget::ModRevision(*expected_mod),
                result: CompareResult::Equal,
            }],
            success: vec![Request::Put { key: key.clone(), value: value.clone(), prev_kv: false }],
            failure: vec![Request::Range { range: KeyRange::Key(key.clone()) }],
        },
        // etcd serves a txn whose branches hold only serializable ranges from the
        // member's local state (3.4's `isTxnSerializable`), and a txn with both branches
        // empty counts as one: its compare result may be stale, like a serializable get.
        OpKind::Txn { request: Request::Txn { success, failure, .. } }
            if success.is_empty() && failure.is_empty() =>
        {
            return None
        }
        OpKind::Txn { request } => request.clone(),
        OpKind::SerializableGet { .. }
        | OpKind::LeaseGrant
        | OpKind::LeaseRevoke { .. }
        | OpKind::Compact { .. }
        | OpKind::WatchCreate { .. }
        // Reads at a given revision, pages and counts are checked against the write
        // log (checks::revision_reads); keep-alives by the lease check.
        | OpKind::RangeAt { .. }
        | OpKind::ListPage { .. }
        | OpKind::Count
        | OpKind::LeaseKeepAlive { .. }
        | OpKind::LeaseTimeToLive { .. }
        | OpKind::Validate(_)
        // Never recorded as operations: the driver sends them beside the client's.
        | OpKind::Status
        | OpKind::WatchProgress { .. } => return None,
    })
}

/// The liveness phase's probe writes use keys under this prefix, one per probe.
pub const PROBE_KEY_PREFIX: &str = "probe/";
/// The client id probe writes appear under in the history.
pub const PROBE_CLIENT: u64 = u64::MAX;

/// What the cluster wrote, revision by revision, read from members' stores as the run
/// goes (every member's applied history is a prefix of the one committed history, so
/// any member will do). Compaction can remove revisions before they are read: those
/// are remembered as missed.
#[derive(Clone, Debug)]
pub struct WriteLog {
    /// Every revision at or below this one may be missing from the log.
    missed_through: i64,
    /// The highest revision read.
    last: i64,
    /// The revision at which each (key, value) was put.
    puts: BTreeMap<(String, String), i64>,
    /// The revisions at which each key was deleted.
    deletes: BTreeMap<String, Vec<i64>>,
    /// Every key's changes by revision: its value, or `None` for a deletion.
    timeline: BTreeMap<String, BTreeMap<i64, Option<String>>>,
    /// (highest revision read, when): each revision was applied by the first time
    /// whose highest revision reaches it. Only absorbs that tell the time add here.
    read_at: Vec<(i64, u64)>,
    /// The order of the events of each revision that has more than one (a multi-write
    /// txn), as read from a store's event log: the order the write made them.
    order: crate::checks::watch_order::WriteOrder,
}

/// A key as the committed history holds it at some revision.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyAt {
    pub value: String,
    pub create_revision: i64,
    pub mod_revision: i64,
    pub version: i64,
}

impl Default for WriteLog {
    fn default() -> Self {
        // Revision 1 is the empty store: nothing before it to miss.
        WriteLog {
            missed_through: 1,
            last: 1,
            puts: BTreeMap::new(),
            deletes: BTreeMap::new(),
            timeline: BTreeMap::new(),
            read_at: Vec::new(),
            order: BTreeMap::new(),
        }
    }
}

impl WriteLog {
    /// Reads the revisions of `store` this log does not have yet.
    pub fn absorb(&mut self, store: &detcd_core::mvcc::Store) {
        let current = store.current_revision();
        if current <= self.last {
            return;
        }
        // The store keeps the events of its compaction revision and everything after.
        let available_from = store.compact_revision().max(1);
        let from = self.last + 1;
        if from < available_from {
            self.missed_through = self.missed_through.max(available_from - 1);
        }
        for (rev, events) in store.events(from.max(available_from), current) {
            if events.len() > 1 {
                let order =
                    events.iter().map(|e| (e.kv.key.clone(), e.r#type == api::EventType::Delete));
                self.order.insert(rev, order.collect());
            }
            self.record(rev, events.iter());
        }
        self.last = current;
    }

    /// Reads a history that does not come from a core store: `events` are every event
    /// of the revisions after the highest one read, up to and including `current`, each
    /// carrying its revision as its mod revision (a real member's watch from the next
    /// revision on). Events at or below the highest revision read are ignored.
    pub fn absorb_events<'a>(
        &mut self,
        current: i64,
        events: impl IntoIterator<Item = &'a api::Event>,
    ) {
        for e in events {
            if e.kv.mod_revision > self.last && e.kv.mod_revision <= current {
                self.record(e.kv.mod_revision, std::iter::once(e));
            }
        }
        self.last = self.last.max(current);
    }

    /// Like `absorb`, noting that every revision read was applied by `now_us`.
    pub fn absorb_at(&mut self, store: &detcd_core::mvcc::Store, now_us: u64) {
        let before = self.last;
        self.absorb(store);
        if self.last > before {
            self.note_applied_by(self.last, now_us);
        }
    }

    /// Notes that every revision through `revision` had been applied by `at_us`.
    pub fn note_applied_by(&mut self, revision: i64, at_us: u64) {
        if self.read_at.last().is_none_or(|&(r, t)| revision > r && at_us >= t) {
            self.read_at.push((revision, at_us));
        }
    }

    /// The revision of the first put of `key`, if the log holds one.
    pub fn put_revision_of_key(&self, key: &str) -> Option<i64> {
        let changes = self.timeline.get(key)?;
        changes.iter().find(|(_, v)| v.is_some()).map(|(r, _)| *r)
    }

    /// Whether the log holds every revision from the first on (no compaction ran
    /// ahead of it), through `revision`.
    pub fn complete_through(&self, revision: i64) -> bool {
        self.missed_through <= 1 && revision <= self.last
    }

    /// The order of the events of each multi-event revision read from a store.
    pub fn write_order(&self) -> &crate::checks::watch_order::WriteOrder {
        &self.order
    }

    /// The highest revision read.
    pub fn last_revision(&self) -> i64 {
        self.last
    }

    /// By when `revision` had been applied, if a timed absorb read it.
    pub fn applied_by_us(&self, revision: i64) -> Option<u64> {
        let i = self.read_at.partition_point(|(rev, _)| *rev < revision);
        self.read_at.get(i).map(|(_, at)| *at)
    }

    /// The revisions at which `key` was deleted.
    pub fn deletions(&self, key: &str) -> &[i64] {
        self.deletes.get(key).map_or(&[], Vec::as_slice)
    }

    /// The first key in `[start, end)` the log saw change, with the first revision that
    /// changed it.
    pub fn first_change_in(&self, start: &str, end: &str) -> Option<(String, i64)> {
        if start >= end {
            return None;
        }
        let (key, changes) = self.timeline.range(start.to_string()..end.to_string()).next()?;
        Some((key.clone(), *changes.keys().next()?))
    }

    /// The keys in `[start, end)` as they were at `revision`, by key. Meaningful only
    /// where `complete_through(revision)`.
    pub fn keys_at(&self, start: &str, end: &str, revision: i64) -> Vec<(String, KeyAt)> {
        let mut out = Vec::new();
        if start >= end {
            return out;
        }
        for (key, changes) in self.timeline.range(start.to_string()..end.to_string()) {
            let mut at: Option<KeyAt> = None;
            for (&rev, change) in changes.range(..=revision) {
                at = change.as_ref().map(|value| match &at {
                    Some(prev) => KeyAt {
                        value: value.clone(),
                        create_revision: prev.create_revision,
                        mod_revision: rev,
                        version: prev.version + 1,
                    },
                    None => KeyAt {
                        value: value.clone(),
                        create_revision: rev,
                        mod_revision: rev,
                        version: 1,
                    },
                });
            }
            if let Some(at) = at {
                out.push((key.clone(), at));
            }
        }
        out
    }

    /// The revision at which `key` was set to `value`, if the log holds it.
    pub fn put_revision(&self, key: &str, value: &str) -> Option<i64> {
        self.puts.get(&(key.to_string(), value.to_string())).copied()
    }

    fn record<'a>(&mut self, rev: i64, events: impl Iterator<Item = &'a api::Event>) {
        for e in events {
            let key = text(&e.kv.key);
            if e.r#type == api::EventType::Delete {
                self.timeline.entry(key.clone()).or_default().insert(rev, None);
                self.deletes.entry(key).or_default().push(rev);
            } else {
                let value = text(&e.kv.value);
                self.timeline.entry(key.clone()).or_default().insert(rev, Some(value.clone()));
                self.puts.insert((key, value), rev);
            }
        }
    }
}

impl WriteLog {
    /// The log of a cluster observed from outside, as a watch from revision 1 on every
    /// key sees it (`events` by revision, nothing compacted, through the last revision
    /// it holds): what the madsim suite of real members has instead of a store.
    pub fn from_events(
        events: &BTreeMap<i64, Vec<crate::checks::watch::WatchEventRecord>>,
    ) -> Self {
        let mut log = WriteLog::default();
        for (&rev, evs) in events {
            for e in evs {
                let key = text(&e.key);
                if e.delete {
                    log.timeline.entry(key.clone()).or_default().insert(rev, None);
                    log.deletes.entry(key).or_default().push(rev);
                } else {
                    let value = text(&e.value);
                    log.timeline.entry(key.clone()).or_default().insert(rev, Some(value.clone()));
                    log.puts.insert((key, value), rev);
                }
            }
            log.last = log.last.max(rev);
        }
        log
    }
}

/// How an unknown write was resolved.
enum Resolved {
    /// It took effect with this output.
    Effect(Response),
    /// It certainly never took effect.
    Never,
    /// The log cannot tell.
    Open,
}

/// For a call time, the highest revision observed by any operation that returned at
/// or before it: a write called then can only take effect above that revision.
struct RevisionFloor {
    seen: Vec<(u64, i64)>,
}

impl RevisionFloor {
    fn new(records: &[OpRecord]) -> Self {
        let mut seen: Vec<(u64, i64)> = records
            .iter()
            .filter_map(|r| match &r.outcome {
                OpOutcome::Ok(resp) => {
                    crate::workload::header_revision(resp).map(|v| (r.complete_us, v))
                }
                _ => None,
            })
            .collect();
        seen.sort_unstable();
        let mut best = 1;
        for entry in seen.iter_mut() {
            best = best.max(entry.1);
            entry.1 = best;
        }
        RevisionFloor { seen }
    }

    fn at(&self, call_us: u64) -> i64 {
        let i = self.seen.partition_point(|(t, _)| *t <= call_us);
        if i == 0 {
            1
        } else {
            self.seen[i - 1].1
        }
    }

    /// Whether `log` holds every revision a write called at `call_us` could take.
    fn covered(&self, log: &WriteLog, call_us: u64) -> bool {
        self.at(call_us) >= log.missed_through
    }
}

fn resolve(kind: &OpKind, call_us: u64, log: &WriteLog, floor: &RevisionFloor) -> Resolved {
    let covered = floor.covered(log, call_us);
    let put_at = |key: &str, value: &str| log.puts.get(&(key.to_string(), value.to_string()));
    let (key, value, body) = match kind {
        OpKind::Put { key, value } | OpKind::LeasePut { key, value, .. } => {
            (key, value, ResponseBody::Put { prev_kv: None })
        }
        // A CAS that did not put changed nothing: whether it ran does not matter.
        OpKind::Cas { key, value, .. } => (
            key,
            value,
            ResponseBody::Txn {
                succeeded: true,
                responses: vec![ResponseBody::Put { prev_kv: None }],
            },
        ),
        _ => return Resolved::Open,
    };
    match put_at(key, value) {
        Some(&revision) => Resolved::Effect(Response { revision, body }),
        None if covered => Resolved::Never,
        None => Resolved::Open,
    }
}

/// The history the etcd model checks, from every recorded operation. `log`, the
/// cluster's history, resolves unknown outcomes where it can; `end_us` is when the run
/// ended (resolved writes complete then). The liveness phase, from `liveness_start_us`,
/// wrote probes through the harness itself: they enter with the revision the log gives
/// them, so every revision of the run is accounted for.
pub fn etcd_history(
    records: &[OpRecord],
    log: Option<&WriteLog>,
    liveness_start_us: u64,
    end_us: u64,
) -> History<Request, Response> {
    let mut history = History::new();
    let mut push = |op: Operation<Request, Response>| {
        history.push(op).expect("recorded operations return after their call");
    };
    for ((key, value), revision) in log.iter().flat_map(|l| l.puts.iter()) {
        if key.starts_with(PROBE_KEY_PREFIX) {
            push(Operation {
                client: PROBE_CLIENT,
                call: liveness_start_us,
                ret: Some(end_us.max(liveness_start_us)),
                input: Request::Put { key: key.clone(), value: value.clone(), prev_kv: false },
                output: Some(Response {
                    revision: *revision,
                    body: ResponseBody::Put { prev_kv: None },
                }),
            });
        }
    }
    let floor = RevisionFloor::new(records);
    for r in records {
        // The removal of a lease's key, by revoke or expiry. The key is created once,
        // by the put with its lease (a later put with `ignore_lease` only overwrites
        // it), so a delete event for it in the log is this removal.
        if let OpKind::LeasePut { key, ignore_lease: false, .. } = &r.kind {
            if !matches!(r.outcome, OpOutcome::Failed(_) | OpOutcome::Refused) {
                let input =
                    Request::DeleteRange { range: KeyRange::Key(key.clone()), prev_kv: false };
                let deleted_at = log.and_then(|l| l.deletes.get(key)).and_then(|d| d.first());
                let covered = log.is_some_and(|l| floor.covered(l, r.invoke_us));
                let (ret, output) = match deleted_at {
                    Some(&revision) => (
                        Some(end_us.max(r.invoke_us)),
                        Some(Response {
                            revision,
                            body: ResponseBody::DeleteRange { deleted: 1, prev_kvs: vec![] },
                        }),
                    ),
                    None => (None, None),
                };
                if output.is_some() || !covered {
                    push(Operation { client: r.client, call: r.invoke_us, ret, input, output });
                }
            }
        }
        let Some(input) = input(&r.kind) else { continue };
        if let (OpOutcome::Unknown(_), Some(log)) = (&r.outcome, log) {
            match resolve(&r.kind, r.invoke_us, log, &floor) {
                Resolved::Effect(output) => {
                    push(Operation {
                        client: r.client,
                        call: r.invoke_us,
                        ret: Some(end_us.max(r.invoke_us)),
                        input,
                        output: Some(output),
                    });
                    continue;
                }
                Resolved::Never => continue,
                Resolved::Open => {}
            }
        }
        match &r.outcome {
            OpOutcome::Ok(resp) => {
                let Some(output) = response(resp) else { continue };
                push(Operation {
                    client: r.client,
                    call: r.invoke_us,
                    ret: Some(r.complete_us),
                    input,
                    output: Some(output),
                });
            }
            OpOutcome::Unknown(_) if r.kind.is_write() => push(Operation {
                client: r.client,
                call: r.invoke_us,
                ret: None,
                input,
                output: None,
            }),
            OpOutcome::Unknown(_) | OpOutcome::Failed(_) | OpOutcome::Refused => {}
        }
    }
    history
}
