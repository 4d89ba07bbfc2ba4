//! A model of etcd's KV API with revisions, for detcd's own histories.
//!
//! The store holds keys with a value, a create revision, a mod revision and a version,
//! and one global revision: a new store is at revision 1; every request that changes
//! something (a put, a delete that deleted at least one key, a txn whose chosen branch
//! did either) advances it by exactly one, and all changes of that request carry the new
//! revision. Requests that change nothing (reads, deleting absent keys, a txn whose
//! branch writes nothing) leave it alone. Every response's header carries the revision
//! after the request, so the model checks header revisions, values, create/mod
//! revisions and versions.
//!
//! The global revision ties all keys together, so histories are not partitioned. The
//! revisions prune the search hard: a write whose response is known names its own
//! revision and can only take effect when the store is one revision below it.

mod types;

pub use types::{
    Compare, CompareResult, CompareTarget, KeyRange, KeyValue, Request, Response, ResponseBody,
};

use crate::hash::stable_hash;
use crate::model::Model;
use std::hash::{Hash, Hasher};

/// A key's stored fields (the key itself is the map key).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Stored {
    value: String,
    create_revision: i64,
    mod_revision: i64,
    version: i64,
}

/// The store: the current revision and the live keys. `digest` is the XOR of a hash of
/// every entry, kept up to date on each change so hashing a state costs O(1).
#[derive(Debug, Clone)]
pub struct EtcdState {
    revision: i64,
    kvs: im::OrdMap<String, Stored>,
    digest: u64,
}

impl PartialEq for EtcdState {
    fn eq(&self, other: &Self) -> bool {
        self.revision == other.revision && self.digest == other.digest && self.kvs == other.kvs
    }
}

impl Eq for EtcdState {}

impl Hash for EtcdState {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.revision.hash(state);
        self.digest.hash(state);
    }
}

fn entry_digest(key: &str, stored: &Stored) -> u64 {
    stable_hash(&(key, stored))
}

impl EtcdState {
    /// A new, empty store at revision 1.
    pub fn new() -> Self {
        EtcdState { revision: 1, kvs: im::OrdMap::new(), digest: 0 }
    }

    pub fn revision(&self) -> i64 {
        self.revision
    }

    fn insert(&mut self, key: &str, stored: Stored) {
        self.digest ^= entry_digest(key, &stored);
        if let Some(old) = self.kvs.insert(key.to_string(), stored) {
            self.digest ^= entry_digest(key, &old);
        }
    }

    fn remove(&mut self, key: &str) {
        if let Some(old) = self.kvs.remove(key) {
            self.digest ^= entry_digest(key, &old);
        }
    }

    fn key_value(&self, key: &str) -> Option<KeyValue> {
        self.kvs.get(key).map(|s| to_key_value(key, s))
    }

    /// Whether `body` is the Range response for `range` in this state.
    fn range_matches(&self, range: &KeyRange, body: &ResponseBody) -> bool {
        let ResponseBody::Range { kvs } = body else { return false };
        let same = |(k, s): (&String, &Stored), kv: &KeyValue| {
            *k == kv.key
                && s.value == kv.value
                && s.create_revision == kv.create_revision
                && s.mod_revision == kv.mod_revision
                && s.version == kv.version
        };
        match range {
            KeyRange::Key(k) => match (self.kvs.get(k.as_str()), kvs.as_slice()) {
                (None, []) => true,
                (Some(s), [kv]) => same((k, s), kv),
                _ => false,
            },
            KeyRange::Prefix(p) => {
                let mut found =
                    self.kvs.range(p.clone()..).take_while(|(k, _)| k.starts_with(p.as_str()));
                kvs.iter().all(|kv| found.next().is_some_and(|entry| same(entry, kv)))
                    && found.next().is_none()
            }
            KeyRange::Span { start, end } => {
                if start >= end {
                    return kvs.is_empty();
                }
                let mut found = self.kvs.range(start.clone()..end.clone());
                kvs.iter().all(|kv| found.next().is_some_and(|entry| same(entry, kv)))
                    && found.next().is_none()
            }
        }
    }

    fn in_range(&self, range: &KeyRange) -> Vec<KeyValue> {
        match range {
            KeyRange::Key(k) => self.key_value(k).into_iter().collect(),
            KeyRange::Prefix(p) => self
                .kvs
                .range(p.clone()..)
                .take_while(|(k, _)| k.starts_with(p.as_str()))
                .map(|(k, s)| to_key_value(k, s))
                .collect(),
            KeyRange::Span { start, end } => {
                if start >= end {
                    return Vec::new();
                }
                self.kvs
                    .range(start.clone()..end.clone())
                    .map(|(k, s)| to_key_value(k, s))
                    .collect()
            }
        }
    }
}

impl Default for EtcdState {
    fn default() -> Self {
        Self::new()
    }
}

fn to_key_value(key: &str, s: &Stored) -> KeyValue {
    KeyValue {
        key: key.to_string(),
        value: s.value.clone(),
        create_revision: s.create_revision,
        mod_revision: s.mod_revision,
        version: s.version,
    }
}

/// Applying one request: the store being changed and whether anything changed.
struct Apply {
    /// The store before the request: every compare of a txn, nested ones included,
    /// reads it (etcd decides the whole txn path before running any branch, so a
    /// nested compare does not see the puts before it in its branch).
    before: EtcdState,
    state: EtcdState,
    /// The revision writes of this request get.
    write_revision: i64,
    wrote: bool,
}

impl Apply {
    fn request(&mut self, request: &Request) -> ResponseBody {
        match request {
            Request::Range { range } => ResponseBody::Range { kvs: self.state.in_range(range) },
            Request::Put { key, value, prev_kv } => {
                let prev = self.state.kvs.get(key.as_str()).cloned();
                let stored = Stored {
                    value: value.clone(),
                    create_revision: prev
                        .as_ref()
                        .map_or(self.write_revision, |p| p.create_revision),
                    mod_revision: self.write_revision,
                    version: prev.as_ref().map_or(1, |p| p.version + 1),
                };
                self.state.insert(key, stored);
                self.wrote = true;
                let prev_kv = if *prev_kv { prev.map(|p| to_key_value(key, &p)) } else { None };
                ResponseBody::Put { prev_kv }
            }
            Request::DeleteRange { range, prev_kv } => {
                let gone = self.state.in_range(range);
                for kv in &gone {
                    self.state.remove(&kv.key);
                }
                self.wrote |= !gone.is_empty();
                let deleted = gone.len() as i64;
                ResponseBody::DeleteRange {
                    deleted,
                    prev_kvs: if *prev_kv { gone } else { Vec::new() },
                }
            }
            Request::Txn { compare, success, failure } => {
                let succeeded = compare.iter().all(|c| self.compare(c));
                let branch = if succeeded { success } else { failure };
                let responses = branch.iter().map(|r| self.request(r)).collect();
                ResponseBody::Txn { succeeded, responses }
            }
        }
    }

    /// etcd's compare: a missing key fails every value compare and compares as zero
    /// for versions and revisions.
    fn compare(&self, c: &Compare) -> bool {
        let stored = self.before.kvs.get(c.key.as_str());
        let ordering = match (&c.target, stored) {
            (CompareTarget::Value(_), None) => return false,
            (CompareTarget::Value(v), Some(s)) => s.value.as_str().cmp(v.as_str()),
            (CompareTarget::Version(v), s) => s.map_or(0, |s| s.version).cmp(v),
            (CompareTarget::CreateRevision(v), s) => s.map_or(0, |s| s.create_revision).cmp(v),
            (CompareTarget::ModRevision(v), s) => s.map_or(0, |s| s.mod_revision).cmp(v),
        };
        match c.result {
            CompareResult::Equal => ordering.is_eq(),
            CompareResult::NotEqual => ordering.is_ne(),
            CompareResult::Greater => ordering.is_gt(),
            CompareResult::Less => ordering.is_lt(),
        }
    }
}

/// Runs `request` on `state`: the new state and the response etcd would give.
pub fn apply(state: &EtcdState, request: &Request) -> (EtcdState, Response) {
    let write_revision = state.revision + 1;
    let mut run =
        Apply { before: state.clone(), state: state.clone(), write_revision, wrote: false };
    let body = run.request(request);
    let mut next = run.state;
    if run.wrote {
        next.revision = write_revision;
    } else {
        // Nothing changed; hand back the untouched store so equal states stay equal.
        next = state.clone();
    }
    let revision = next.revision;
    (next, Response { revision, body })
}

#[derive(Debug, Clone, Copy, Default)]
pub struct Etcd;

impl Model for Etcd {
    type State = EtcdState;
    type Input = Request;
    type Output = Response;

    fn name(&self) -> &'static str {
        "etcd"
    }

    fn init(&self) -> EtcdState {
        EtcdState::new()
    }

    fn step(
        &self,
        state: &EtcdState,
        input: &Request,
        output: Option<&Response>,
    ) -> Option<EtcdState> {
        if let Some(out) = output {
            // Prune before doing any work: a response names the revision after the
            // request, which is this one (read) or the next one (write).
            if out.revision != state.revision && out.revision != state.revision + 1 {
                return None;
            }
        }
        if let (Request::Range { range }, Some(out)) = (input, output) {
            // The common case, checked without building the expected response.
            return (out.revision == state.revision && state.range_matches(range, &out.body))
                .then(|| state.clone());
        }
        let (next, expected) = apply(state, input);
        match output {
            None => Some(next),
            Some(out) => (out == &expected).then_some(next),
        }
    }

    fn is_read_only(&self, input: &Request, output: Option<&Response>) -> bool {
        // The response shows what happened wherever the request is legal: which txn
        // branch ran and how many keys each delete removed.
        output.is_some_and(|out| !may_write(input) || !wrote(&out.body))
    }

    fn progress(&self, state: &EtcdState) -> u64 {
        state.revision.max(0) as u64
    }

    fn progress_limit(&self, _input: &Request, output: &Response) -> Option<u64> {
        // A read happens at its header revision, a write moves the store to it.
        Some(output.revision.max(0) as u64)
    }

    fn state_bytes(&self, state: &EtcdState) -> usize {
        // A change copies one path of the persistent map: nodes of up to 64 entries.
        let len = state.kvs.len().max(1);
        let depth = 1 + (usize::BITS - len.leading_zeros()) as usize / 6;
        96 + depth * len.min(64) * 96
    }

    fn describe_operation(&self, input: &Request, output: Option<&Response>) -> String {
        let call = describe_request(input);
        match output {
            None => format!("{call} -> unknown"),
            Some(out) => format!("{call} -> {} @rev {}", describe_body(&out.body), out.revision),
        }
    }

    fn describe_state(&self, state: &EtcdState) -> String {
        const SHOWN_MAX: usize = 8;
        let mut parts: Vec<String> = state
            .kvs
            .iter()
            .take(SHOWN_MAX)
            .map(|(k, s)| {
                format!(
                    "{k:?}={:?} (create {}, mod {}, v{})",
                    s.value, s.create_revision, s.mod_revision, s.version
                )
            })
            .collect();
        if state.kvs.len() > SHOWN_MAX {
            parts.push(format!("… {} more keys", state.kvs.len() - SHOWN_MAX));
        }
        format!("revision {}: {{{}}}", state.revision, parts.join(", "))
    }
}

/// Whether a request contains any put or delete, in any branch.
fn may_write(request: &Request) -> bool {
    match request {
        Request::Range { .. } => false,
        Request::Put { .. } | Request::DeleteRange { .. } => true,
        Request::Txn { success, failure, .. } => success.iter().chain(failure).any(may_write),
    }
}

/// Whether a response shows a change: a put, or a delete that removed something.
fn wrote(body: &ResponseBody) -> bool {
    match body {
        ResponseBody::Range { .. } => false,
        ResponseBody::Put { .. } => true,
        ResponseBody::DeleteRange { deleted, .. } => *deleted > 0,
        ResponseBody::Txn { responses, .. } => responses.iter().any(wrote),
    }
}

fn describe_range(range: &KeyRange) -> String {
    match range {
        KeyRange::Key(k) => format!("{k:?}"),
        KeyRange::Prefix(p) => format!("prefix {p:?}"),
        KeyRange::Span { start, end } => format!("[{start:?}, {end:?})"),
    }
}

/// A request in words, as reports show it.
pub fn describe_request(r: &Request) -> String {
    match r {
        Request::Range { range } => format!("range({})", describe_range(range)),
        Request::Put { key, value, prev_kv } => {
            format!("put({key:?}, {value:?}{})", if *prev_kv { ", prev_kv" } else { "" })
        }
        Request::DeleteRange { range, prev_kv } => {
            format!("delete({}{})", describe_range(range), if *prev_kv { ", prev_kv" } else { "" })
        }
        Request::Txn { compare, success, failure } => {
            let cmps: Vec<String> = compare.iter().map(describe_compare).collect();
            let ops =
                |rs: &[Request]| rs.iter().map(describe_request).collect::<Vec<_>>().join("; ");
            format!("txn(if {} then [{}] else [{}])", cmps.join(" && "), ops(success), ops(failure))
        }
    }
}

fn describe_compare(c: &Compare) -> String {
    let op = match c.result {
        CompareResult::Equal => "==",
        CompareResult::NotEqual => "!=",
        CompareResult::Greater => ">",
        CompareResult::Less => "<",
    };
    let (field, operand) = match &c.target {
        CompareTarget::Value(v) => ("value", format!("{v:?}")),
        CompareTarget::Version(v) => ("version", v.to_string()),
        CompareTarget::CreateRevision(v) => ("create", v.to_string()),
        CompareTarget::ModRevision(v) => ("mod", v.to_string()),
    };
    format!("{field}({:?}) {op} {operand}", c.key)
}

fn describe_kv(kv: &KeyValue) -> String {
    format!(
        "{:?}={:?}(c{} m{} v{})",
        kv.key, kv.value, kv.create_revision, kv.mod_revision, kv.version
    )
}

fn describe_body(b: &ResponseBody) -> String {
    match b {
        ResponseBody::Range { kvs } => {
            format!("[{}]", kvs.iter().map(describe_kv).collect::<Vec<_>>().join(", "))
        }
        ResponseBody::Put { prev_kv: None } => "ok".to_string(),
        ResponseBody::Put { prev_kv: Some(kv) } => format!("ok, prev {}", describe_kv(kv)),
        ResponseBody::DeleteRange { deleted, .. } => format!("deleted {deleted}"),
        ResponseBody::Txn { succeeded, responses } => format!(
            "{} [{}]",
            if *succeeded { "succeeded" } else { "failed" },
            responses.iter().map(describe_body).collect::<Vec<_>>().join("; ")
        ),
    }
}
