//! Clients of the simulated cluster, speaking the generated gRPC stubs as any etcd
//! client would, and recording what they saw in the harness's own forms: `OpRecord`s
//! for the etcd model, `WatchStreamRecord`s for the watch guarantees.

use super::cluster::Cluster;
use bytes::Bytes;
use detcd_core::api;
use detcd_core::server::Response;
use detcd_harness::checks::watch::{WatchEventRecord, WatchStreamRecord};
use detcd_harness::workload::{
    OpKind, OpOutcome, OpRecord, KEYS_END, KEY_PREFIX, LEASE_KEY_PREFIX,
};
use detcd_node::pb::etcdserverpb as pb;
use detcd_node::pb::etcdserverpb::{
    kv_client::KvClient, lease_client::LeaseClient, maintenance_client::MaintenanceClient,
    watch_client::WatchClient,
};
use detcd_node::pb::mvccpb;
use madsim::rand::{thread_rng, Rng};
use madsim::time::{sleep, timeout, Instant};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tonic::transport::{Channel, Endpoint};

/// How long a client waits for an answer before calling the outcome unknown.
const OP_TIMEOUT: Duration = Duration::from_secs(3);
const CONNECT_TIMEOUT: Duration = Duration::from_millis(500);
/// Keys the workload touches (few, so operations contend).
const KEYS: u64 = 4;
/// The share of a client's turns that run a lease's life instead of one operation.
const LEASE_FLOW_PERCENT: u32 = 5;
const LEASE_TTL_SECS: i64 = 3;

/// Every finished operation, timed from the start of the run.
pub struct Recorder {
    epoch: Instant,
    records: Vec<OpRecord>,
    /// Keys written with a lease, for the final reads.
    lease_keys: Vec<String>,
}

impl Recorder {
    pub fn new() -> Recorder {
        Recorder { epoch: Instant::now(), records: Vec::new(), lease_keys: Vec::new() }
    }
    fn us(&self, t: Instant) -> u64 {
        t.duration_since(self.epoch).as_micros() as u64
    }
    pub fn records(&self) -> &[OpRecord] {
        &self.records
    }
}

pub type Streams = Arc<Mutex<Vec<WatchStreamRecord>>>;

async fn connect(url: String) -> Option<Channel> {
    let endpoint = Endpoint::new(url).ok()?;
    timeout(CONNECT_TIMEOUT, endpoint.connect()).await.ok()?.ok()
}

use detcd_node::from_wire::{header, kv, range_response as range, txn_response as txn};

/// Errors that say the request was never proposed.
fn refused(status: &tonic::Status) -> bool {
    let m = status.message();
    m.contains("no leader") || m.contains("not leader") || m.contains("too many requests")
}

/// Sends `kind` to `url` and classifies the answer as the harness does.
async fn call(url: String, kind: &OpKind) -> OpOutcome {
    let Some(channel) = connect(url).await else { return OpOutcome::Refused };
    let kv_channel = channel.clone();
    let mut kv_client = KvClient::new(channel);
    let key = |k: &str| Bytes::from(k.to_string());
    let answer: Result<Response, tonic::Status> = match kind.clone() {
        OpKind::Put { key: k, value } | OpKind::LeasePut { key: k, value, .. } => {
            let lease = match kind {
                OpKind::LeasePut { lease, .. } => *lease,
                _ => 0,
            };
            let req =
                pb::PutRequest { key: key(&k), value: key(&value), lease, ..Default::default() };
            match timeout(OP_TIMEOUT, kv_client.put(req)).await {
                Err(_) => return OpOutcome::Unknown(None),
                Ok(r) => r.map(|r| {
                    let p = r.into_inner();
                    Response::Put(api::PutResponse {
                        header: header(p.header),
                        prev_kv: p.prev_kv.map(kv),
                    })
                }),
            }
        }
        OpKind::Get { key: k } => {
            let req = pb::RangeRequest { key: key(&k), ..Default::default() };
            match timeout(OP_TIMEOUT, kv_client.range(req)).await {
                Err(_) => return OpOutcome::Unknown(None),
                Ok(r) => r.map(|r| Response::Range(range(r.into_inner()))),
            }
        }
        OpKind::Range => {
            let req = pb::RangeRequest {
                key: key(KEY_PREFIX),
                range_end: key(KEYS_END),
                ..Default::default()
            };
            match timeout(OP_TIMEOUT, kv_client.range(req)).await {
                Err(_) => return OpOutcome::Unknown(None),
                Ok(r) => r.map(|r| Response::Range(range(r.into_inner()))),
            }
        }
        OpKind::Delete { key: k } => {
            let req = pb::DeleteRangeRequest { key: key(&k), ..Default::default() };
            match timeout(OP_TIMEOUT, kv_client.delete_range(req)).await {
                Err(_) => return OpOutcome::Unknown(None),
                Ok(r) => r.map(|r| {
                    let d = r.into_inner();
                    Response::DeleteRange(api::DeleteRangeResponse {
                        header: header(d.header),
                        deleted: d.deleted,
                        prev_kvs: d.prev_kvs.into_iter().map(kv).collect(),
                    })
                }),
            }
        }
        OpKind::Cas { key: k, expected_mod, value } => {
            use pb::compare::{CompareResult, CompareTarget, TargetUnion};
            use pb::request_op::Request as Op;
            let req = pb::TxnRequest {
                compare: vec![pb::Compare {
                    result: CompareResult::Equal as i32,
                    target: CompareTarget::Mod as i32,
                    key: key(&k),
                    target_union: Some(TargetUnion::ModRevision(expected_mod)),
                    ..Default::default()
                }],
                success: vec![pb::RequestOp {
                    request: Some(Op::RequestPut(pb::PutRequest {
                        key: key(&k),
                        value: key(&value),
                        ..Default::default()
                    })),
                }],
                failure: vec![pb::RequestOp {
                    request: Some(Op::RequestRange(pb::RangeRequest {
                        key: key(&k),
                        ..Default::default()
                    })),
                }],
            };
            match timeout(OP_TIMEOUT, kv_client.txn(req)).await {
                Err(_) => return OpOutcome::Unknown(None),
                Ok(r) => r.map(|r| Response::Txn(txn(r.into_inner()))),
            }
        }
        OpKind::LeaseGrant => {
            let req = pb::LeaseGrantRequest { ttl: LEASE_TTL_SECS, id: 0 };
            match timeout(OP_TIMEOUT, LeaseClient::new(kv_channel).lease_grant(req)).await {
                Err(_) => return OpOutcome::Unknown(None),
                Ok(r) => r.map(|r| {
                    let g = r.into_inner();
                    Response::LeaseGrant(api::LeaseGrantResponse {
                        header: header(g.header),
                        id: g.id,
                        ttl: g.ttl,
                        error: g.error,
                    })
                }),
            }
        }
        OpKind::LeaseRevoke { lease, .. } => {
            let req = pb::LeaseRevokeRequest { id: lease };
            match timeout(OP_TIMEOUT, LeaseClient::new(kv_channel).lease_revoke(req)).await {
                Err(_) => return OpOutcome::Unknown(None),
                Ok(r) => r.map(|r| {
                    Response::LeaseRevoke(api::LeaseRevokeResponse {
                        header: header(r.into_inner().header),
                    })
                }),
            }
        }
        other => unreachable!("the simulated clients do not issue {other:?}"),
    };
    match answer {
        Ok(response) => OpOutcome::Ok(response),
        Err(status) if refused(&status) => OpOutcome::Refused,
        Err(_) if kind.is_write() => OpOutcome::Unknown(None),
        Err(_) => OpOutcome::Refused,
    }
}

fn record(
    history: &Mutex<Recorder>,
    client: u64,
    node: usize,
    kind: OpKind,
    invoked: Instant,
    outcome: OpOutcome,
) {
    let mut h = history.lock().unwrap();
    let (invoke_us, complete_us) = (h.us(invoked), h.us(Instant::now()));
    h.records.push(OpRecord {
        client,
        node: node as u64,
        incarnation: 0,
        kind,
        invoke_us,
        complete_us,
        outcome,
    });
}

pub struct Client {
    id: u64,
    cluster: Arc<Cluster>,
    history: Arc<Mutex<Recorder>>,
    streams: Streams,
    seq: u64,
    /// The mod revision this client last saw for each key (0: absent).
    last_mod: BTreeMap<String, i64>,
}

impl Client {
    pub fn new(
        id: u64,
        cluster: Arc<Cluster>,
        history: Arc<Mutex<Recorder>>,
        streams: Streams,
    ) -> Client {
        Client { id, cluster, history, streams, seq: 0, last_mod: BTreeMap::new() }
    }

    fn next_op(&mut self) -> OpKind {
        let mut rng = thread_rng();
        let key = format!("{KEY_PREFIX}{}", rng.gen_range(0..KEYS));
        self.seq += 1;
        let value = format!("c{}-{}", self.id, self.seq);
        match rng.gen_range(0..100) {
            0..=39 => OpKind::Put { key, value },
            40..=64 => OpKind::Get { key },
            65..=69 => OpKind::Range,
            70..=79 => OpKind::Delete { key },
            _ => {
                let expected_mod = self.last_mod.get(&key).copied().unwrap_or(0);
                OpKind::Cas { key, expected_mod, value }
            }
        }
    }

    fn learn(&mut self, kind: &OpKind, outcome: &OpOutcome) {
        let OpOutcome::Ok(response) = outcome else { return };
        match (kind, response) {
            (OpKind::Put { key, .. }, Response::Put(p)) => {
                self.last_mod.insert(key.clone(), p.header.revision);
            }
            (OpKind::Get { key }, Response::Range(r)) => {
                self.last_mod.insert(key.clone(), r.kvs.first().map_or(0, |kv| kv.mod_revision));
            }
            (OpKind::Delete { key }, Response::DeleteRange(_)) => {
                self.last_mod.insert(key.clone(), 0);
            }
            (OpKind::Cas { key, .. }, Response::Txn(t)) => {
                let m = if t.succeeded {
                    t.header.revision
                } else {
                    match t.responses.first() {
                        Some(api::ResponseOp::Range(r)) => {
                            r.kvs.first().map_or(0, |kv| kv.mod_revision)
                        }
                        _ => return,
                    }
                };
                self.last_mod.insert(key.clone(), m);
            }
            _ => {}
        }
    }

    /// Issues operations one after another until `deadline`, and keeps one logical
    /// watch stream open beside them.
    pub async fn run(mut self, deadline: Instant) {
        let watcher = madsim::task::spawn(watch_stream(
            self.id,
            self.cluster.clone(),
            self.streams.clone(),
            deadline,
        ));
        let n = self.cluster.members.len();
        while Instant::now() < deadline {
            if thread_rng().gen_range(0..100) < LEASE_FLOW_PERCENT {
                self.lease_flow().await;
                continue;
            }
            let member = thread_rng().gen_range(0..n);
            let kind = self.next_op();
            let invoked = Instant::now();
            let outcome = call(self.cluster.client_url(member), &kind).await;
            self.learn(&kind, &outcome);
            let refused = matches!(outcome, OpOutcome::Refused);
            record(&self.history, self.id, member, kind, invoked, outcome);
            let think = if refused { 100 } else { thread_rng().gen_range(0..50) };
            sleep(Duration::from_millis(think)).await;
        }
        let _ = watcher.await;
    }
}

impl Client {
    /// Sends `kind` to a random member and records it.
    async fn op(&mut self, kind: OpKind) -> OpOutcome {
        let member = thread_rng().gen_range(0..self.cluster.members.len());
        let invoked = Instant::now();
        let outcome = call(self.cluster.client_url(member), &kind).await;
        record(&self.history, self.id, member, kind, invoked, outcome.clone());
        outcome
    }

    /// A lease's life: grant, put one key with it, keep it alive over a keep-alive
    /// stream for a while, then revoke it or let it expire.
    async fn lease_flow(&mut self) {
        let OpOutcome::Ok(Response::LeaseGrant(g)) = self.op(OpKind::LeaseGrant).await else {
            return;
        };
        let lease = g.id;
        self.seq += 1;
        let key = format!("{LEASE_KEY_PREFIX}c{}-{}", self.id, self.seq);
        self.history.lock().unwrap().lease_keys.push(key.clone());
        let value = format!("c{}-{}", self.id, self.seq);
        let put =
            self.op(OpKind::LeasePut { lease, key: key.clone(), value, ignore_lease: false }).await;
        if matches!(put, OpOutcome::Refused) {
            return;
        }
        let member = thread_rng().gen_range(0..self.cluster.members.len());
        if let Some(channel) = connect(self.cluster.client_url(member)).await {
            let (tx, rx) = tokio::sync::mpsc::channel(4);
            let mut l = LeaseClient::new(channel);
            let opened = timeout(
                OP_TIMEOUT,
                l.lease_keep_alive(tokio_stream::wrappers::ReceiverStream::new(rx)),
            )
            .await;
            if let Ok(Ok(stream)) = opened {
                let mut stream = stream.into_inner();
                for _ in 0..thread_rng().gen_range(1..5) {
                    if tx.send(pb::LeaseKeepAliveRequest { id: lease }).await.is_err() {
                        break;
                    }
                    match timeout(OP_TIMEOUT, stream.message()).await {
                        Ok(Ok(Some(answer))) => assert!(
                            answer.id == lease || answer.id == 0,
                            "a keep-alive for lease {lease:x} was answered for lease {:x}",
                            answer.id
                        ),
                        _ => break,
                    }
                    sleep(Duration::from_millis(thread_rng().gen_range(200..1500))).await;
                }
            }
        }
        if thread_rng().gen_bool(0.5) {
            self.op(OpKind::LeaseRevoke { lease, key }).await;
        }
    }
}

fn event(e: mvccpb::Event) -> Option<WatchEventRecord> {
    let kv = e.kv?;
    Some(WatchEventRecord {
        revision: kv.mod_revision,
        key: kv.key,
        delete: e.r#type == mvccpb::event::EventType::Delete as i32,
        value: kv.value,
        prev: e.prev_kv.map(|p| (p.mod_revision, p.value)),
    })
}

/// One logical watch over the workload's keys: opened on a random member, dropped
/// after a while (or when it breaks) and resumed on another from the revision after
/// the last one it saw, as etcd's clients do.
async fn watch_stream(client: u64, cluster: Arc<Cluster>, streams: Streams, deadline: Instant) {
    let n = cluster.members.len();
    let mut rec = WatchStreamRecord {
        client,
        key: Bytes::from(KEY_PREFIX),
        range_end: Bytes::from(KEYS_END),
        ..Default::default()
    };
    // 0: from now (the first stream); later the revision after the last one seen.
    let mut next: i64 = 0;
    while Instant::now() < deadline {
        let member = thread_rng().gen_range(0..n);
        let Some(channel) = connect(cluster.client_url(member)).await else {
            sleep(Duration::from_millis(100)).await;
            continue;
        };
        let (tx, rx) = tokio::sync::mpsc::channel(4);
        let create = pb::WatchRequest {
            request_union: Some(pb::watch_request::RequestUnion::CreateRequest(
                pb::WatchCreateRequest {
                    key: rec.key.clone(),
                    range_end: rec.range_end.clone(),
                    start_revision: next,
                    ..Default::default()
                },
            )),
        };
        let _ = tx.send(create).await;
        let mut w = WatchClient::new(channel);
        let opened =
            timeout(OP_TIMEOUT, w.watch(tokio_stream::wrappers::ReceiverStream::new(rx))).await;
        let Ok(Ok(response)) = opened else {
            sleep(Duration::from_millis(100)).await;
            continue;
        };
        let mut stream = response.into_inner();
        let hold_until = Instant::now() + Duration::from_millis(thread_rng().gen_range(300..3000));
        loop {
            let left = hold_until.saturating_duration_since(Instant::now());
            let Ok(Ok(Some(msg))) = timeout(left, stream.message()).await else { break };
            if msg.created && next == 0 && rec.start_revision == 0 {
                rec.start_revision = msg.header.as_ref().map_or(0, |h| h.revision) + 1;
                next = rec.start_revision;
            }
            if msg.canceled {
                break;
            }
            let events: Vec<WatchEventRecord> = msg.events.into_iter().filter_map(event).collect();
            if let Some(last) = events.last() {
                next = last.revision + 1;
            }
            if !events.is_empty() {
                rec.responses.push(events);
            }
        }
        drop(tx);
    }
    if rec.start_revision > 0 {
        streams.lock().unwrap().push(rec);
    }
}

/// The member that leads, as the members say (asked one by one, so a down member only
/// costs its timeout).
pub async fn leader(cluster: &Cluster) -> Option<usize> {
    for i in 0..cluster.members.len() {
        if cluster.is_down(i) {
            continue;
        }
        let Some(channel) = connect(cluster.client_url(i)).await else { continue };
        let mut m = MaintenanceClient::new(channel);
        let Ok(Ok(s)) = timeout(Duration::from_millis(500), m.status(pb::StatusRequest {})).await
        else {
            continue;
        };
        let s = s.into_inner();
        if s.leader != 0 && s.header.is_some_and(|h| h.member_id == s.leader) {
            return Some(i);
        }
    }
    None
}

/// After healing: every member must answer a linearizable read of every key and the
/// whole range (retried until it does), and one member's full watch history from
/// revision 1 is read back as the reference for the watch check. The reads enter
/// the history, after every other operation.
pub async fn final_reads(
    client: u64,
    cluster: Arc<Cluster>,
    history: Arc<Mutex<Recorder>>,
) -> Option<Reference> {
    let n = cluster.members.len();
    let mut top = 0;
    for member in 0..n {
        let mut kinds: Vec<OpKind> =
            (0..KEYS).map(|k| OpKind::Get { key: format!("{KEY_PREFIX}{k}") }).collect();
        kinds.push(OpKind::Range);
        for kind in kinds {
            loop {
                let invoked = Instant::now();
                let outcome = call(cluster.client_url(member), &kind).await;
                if let OpOutcome::Ok(Response::Range(r)) = &outcome {
                    top = top.max(r.header.revision);
                    record(&history, client, member, kind.clone(), invoked, outcome);
                    break;
                }
                sleep(Duration::from_millis(200)).await;
            }
        }
    }
    loop {
        if let Some(r) = reference(&cluster, top).await {
            return Some(r);
        }
        sleep(Duration::from_millis(200)).await;
    }
}

/// Every event from revision 1 through `through`.
pub type Reference = BTreeMap<i64, Vec<WatchEventRecord>>;

async fn reference(cluster: &Cluster, through: i64) -> Option<Reference> {
    let channel = connect(cluster.client_url(0)).await?;
    let (tx, rx) = tokio::sync::mpsc::channel(4);
    let create = pb::WatchRequest {
        request_union: Some(pb::watch_request::RequestUnion::CreateRequest(
            pb::WatchCreateRequest {
                // Every key, so that every revision shows up: some are lease keys'.
                key: Bytes::from_static(b"\0"),
                range_end: Bytes::from_static(b"\0"),
                start_revision: 1,
                ..Default::default()
            },
        )),
    };
    tx.send(create).await.ok()?;
    let mut w = WatchClient::new(channel);
    let mut stream = timeout(OP_TIMEOUT, w.watch(tokio_stream::wrappers::ReceiverStream::new(rx)))
        .await
        .ok()?
        .ok()?
        .into_inner();
    let mut history = Reference::new();
    let mut seen = 1;
    while seen < through {
        let msg = timeout(OP_TIMEOUT, stream.message()).await.ok()?.ok()??;
        for e in msg.events.into_iter().filter_map(event) {
            seen = seen.max(e.revision);
            history.entry(e.revision).or_default().push(e);
        }
        if msg.canceled {
            return None;
        }
    }
    Some(history)
}
