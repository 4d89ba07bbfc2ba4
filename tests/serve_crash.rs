//! Crash safety of real processes: three `detcd serve` members on loopback under a
//! write/read load from concurrent gRPC clients, while members (the leader half of the
//! time) are killed with SIGKILL and restarted. Afterwards every acknowledged write must
//! be in the members' converged state or superseded by a later write, and the whole
//! client history must be linearizable under the checker's etcd model.
//!
//! The seed fixes the clients' operations and the kill choices, not the timing; set
//! `DETCD_CRASH_SEED` to reuse one.

mod support;

use bytes::Bytes;
use detcd_core::api::{self, EtcdError};
use detcd_core::server::Response;
use detcd_harness::history::{etcd_history, WriteLog};
use detcd_harness::workload::{classify, header_revision, OpKind, OpOutcome, OpRecord};
use detcd_harness::workload::{KEYS_END, KEY_PREFIX};
use detcd_node::pb::etcdserverpb as pb;
use detcd_node::pb::etcdserverpb::kv_client::KvClient;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use support::cluster::Cluster;
use support::grpc;
use support::tools::Target;
use tonic::transport::Channel;

const MEMBERS: usize = 3;
const CLIENTS: u64 = 8;
const KEYS: u64 = 4;
const KILLS: usize = 12;
/// The load and the kills stop after this long even if fewer kills were done.
const FAULT_PHASE_MAX: Duration = Duration::from_secs(60);
/// How long members get to agree once the load has stopped.
const CONVERGE_LIMIT: Duration = Duration::from_secs(15);
/// The checker's search budget; running out of it fails the test.
const CHECK_STEPS_MAX: u64 = 20_000_000;

/// splitmix64: the test's only source of choices, from the printed seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn millis(&mut self, lo: u64, hi: u64) -> Duration {
        Duration::from_millis(lo + self.below(hi - lo))
    }
}

fn seed() -> u64 {
    match std::env::var("DETCD_CRASH_SEED") {
        Ok(s) => s.parse().unwrap_or_else(|_| panic!("DETCD_CRASH_SEED={s}: not a u64")),
        Err(_) => std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(1),
    }
}

fn micros(t0: Instant) -> u64 {
    t0.elapsed().as_micros() as u64
}

fn bytes(s: &str) -> Bytes {
    Bytes::copy_from_slice(s.as_bytes())
}

/// The core's view of an error answer: an etcd error it knows, or none (a transport
/// error, a status etcd would not send) which leaves the outcome open.
fn answer_of(status: &tonic::Status) -> Option<Response> {
    EtcdError::from_message(status.message()).map(Response::Err)
}

/// Sends `kind` and waits at most the per-request limit.
async fn send(ch: &Channel, kind: &OpKind) -> Option<Response> {
    let mut kv = KvClient::new(ch.clone());
    match kind {
        OpKind::Put { key, value } => {
            let req = pb::PutRequest { key: bytes(key), value: bytes(value), ..Default::default() };
            match grpc::bounded(kv.put(req)).await? {
                Ok(r) => Some(Response::Put(grpc::put_response(r.into_inner()))),
                Err(s) => answer_of(&s),
            }
        }
        OpKind::Get { key } => {
            let req = pb::RangeRequest { key: bytes(key), ..Default::default() };
            match grpc::bounded(kv.range(req)).await? {
                Ok(r) => Some(Response::Range(grpc::range_response(r.into_inner()))),
                Err(s) => answer_of(&s),
            }
        }
        OpKind::Cas { key, expected_mod, value } => {
            use pb::compare::{CompareResult, CompareTarget, TargetUnion};
            let compare = pb::Compare {
                result: CompareResult::Equal as i32,
                target: CompareTarget::Mod as i32,
                key: bytes(key),
                target_union: Some(TargetUnion::ModRevision(*expected_mod)),
                ..Default::default()
            };
            let put = pb::PutRequest { key: bytes(key), value: bytes(value), ..Default::default() };
            let get = pb::RangeRequest { key: bytes(key), ..Default::default() };
            let req = pb::TxnRequest {
                compare: vec![compare],
                success: vec![pb::RequestOp {
                    request: Some(pb::request_op::Request::RequestPut(put)),
                }],
                failure: vec![pb::RequestOp {
                    request: Some(pb::request_op::Request::RequestRange(get)),
                }],
            };
            match grpc::bounded(kv.txn(req)).await? {
                Ok(r) => Some(Response::Txn(grpc::txn_response(r.into_inner()))),
                Err(s) => answer_of(&s),
            }
        }
        other => unreachable!("the load sends no {other:?}"),
    }
}

/// The mod revision of `key` an answer shows, to aim the client's next CAS at.
fn observed_mod(kind: &OpKind, response: &Response) -> Option<i64> {
    let first_mod = |kvs: &[api::KeyValue]| kvs.first().map_or(0, |kv| kv.mod_revision);
    match (kind, response) {
        (OpKind::Get { .. }, Response::Range(r)) => Some(first_mod(&r.kvs)),
        (OpKind::Put { .. }, Response::Put(r)) => Some(r.header.revision),
        (OpKind::Cas { .. }, Response::Txn(t)) if t.succeeded => Some(t.header.revision),
        (OpKind::Cas { .. }, Response::Txn(t)) => match t.responses.first() {
            Some(api::ResponseOp::Range(r)) => Some(first_mod(&r.kvs)),
            _ => None,
        },
        _ => None,
    }
}

/// One client: puts of values no other put writes, linearizable gets and CAS txns on
/// a few keys, one at a time, to a member it changes after every failed request.
async fn client(
    id: u64,
    endpoints: Vec<String>,
    seed: u64,
    stop: Arc<AtomicBool>,
    t0: Instant,
) -> Vec<OpRecord> {
    let mut rng = Rng(seed ^ (id + 1).wrapping_mul(0x2545_f491_4f6c_dd1d));
    let channels: Vec<Channel> = endpoints.iter().map(|e| grpc::channel(e)).collect();
    let mut node = rng.below(channels.len() as u64) as usize;
    let mut known_mod: BTreeMap<String, i64> = BTreeMap::new();
    let mut records = Vec::new();
    let mut seq = 0u64;
    while !stop.load(Ordering::SeqCst) {
        let key = format!("{KEY_PREFIX}{}", rng.below(KEYS));
        let value = format!("c{id}-{seq}");
        seq += 1;
        let kind = match rng.below(10) {
            0..=3 => OpKind::Put { key, value },
            4..=6 => OpKind::Get { key },
            _ => {
                let expected_mod = known_mod.get(&key).copied().unwrap_or(0);
                OpKind::Cas { key, expected_mod, value }
            }
        };
        let invoke_us = micros(t0);
        let answer = send(&channels[node], &kind).await;
        let complete_us = micros(t0);
        let outcome = classify(&kind, answer);
        match &outcome {
            OpOutcome::Ok(resp) => {
                if let (
                    Some(m),
                    OpKind::Get { key } | OpKind::Put { key, .. } | OpKind::Cas { key, .. },
                ) = (observed_mod(&kind, resp), &kind)
                {
                    known_mod.insert(key.clone(), m);
                }
            }
            _ => node = rng.below(channels.len() as u64) as usize,
        }
        records.push(OpRecord {
            client: id,
            node: node as u64,
            incarnation: 0,
            kind,
            invoke_us,
            complete_us,
            outcome,
        });
        tokio::time::sleep(Duration::from_millis(5 + rng.below(10))).await;
    }
    records
}

/// The index of the member the running members agree leads, if any.
async fn leader(cluster_endpoints: &[String], running: &[bool]) -> Option<usize> {
    let mut ids = Vec::new();
    let mut leader = 0;
    for (i, e) in cluster_endpoints.iter().enumerate() {
        let st = if running[i] { grpc::status(&grpc::channel(e)).await } else { None };
        if let Some((id, l)) = st {
            leader = leader.max(l);
            ids.push((i, id));
        }
    }
    ids.into_iter().find(|&(_, id)| id == leader && leader != 0).map(|(i, _)| i)
}

/// Waits until every member reports the same revision and HashKV; returns the revision.
async fn converge(endpoints: &[String]) -> i64 {
    let channels: Vec<Channel> = endpoints.iter().map(|e| grpc::channel(e)).collect();
    let deadline = Instant::now() + CONVERGE_LIMIT;
    loop {
        let mut seen = Vec::new();
        for ch in &channels {
            seen.push(grpc::hash_kv(ch).await);
        }
        if let Some(Some(first)) = seen.first() {
            if seen.iter().all(|s| s.as_ref() == Some(first)) {
                return first.0;
            }
        }
        assert!(
            Instant::now() < deadline,
            "members did not converge in {CONVERGE_LIMIT:?}: (revision, hash) per member {seen:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A linearizable range over the load's keys on one member.
async fn final_state(endpoint: &str) -> Vec<api::KeyValue> {
    let mut kv = KvClient::new(grpc::channel(endpoint));
    let req = pb::RangeRequest {
        key: bytes(KEY_PREFIX),
        range_end: bytes(KEYS_END),
        ..Default::default()
    };
    let r = grpc::bounded(kv.range(req))
        .await
        .unwrap_or_else(|| panic!("final range on {endpoint}: no answer"))
        .unwrap_or_else(|s| panic!("final range on {endpoint}: {s:?}"));
    grpc::range_response(r.into_inner()).kvs
}

/// The (key, value, revision) an acknowledged write put, if it put anything.
fn acked_put(r: &OpRecord) -> Option<(&str, &str, i64)> {
    let OpOutcome::Ok(resp) = &r.outcome else { return None };
    match (&r.kind, resp) {
        (OpKind::Put { key, value }, _) => Some((key, value, header_revision(resp)?)),
        (OpKind::Cas { key, value, .. }, Response::Txn(t)) if t.succeeded => {
            Some((key, value, t.header.revision))
        }
        _ => None,
    }
}

#[test]
fn kill_nine_under_load_loses_no_acknowledged_write() {
    let started = Instant::now();
    let seed = seed();
    println!("seed {seed} (DETCD_CRASH_SEED={seed} cargo test --test serve_crash)");
    let mut cluster = Cluster::start(Target::Detcd, MEMBERS);
    let endpoints: Vec<String> = (0..MEMBERS).map(|i| cluster.endpoint(i)).collect();
    let rt = grpc::runtime();
    let stop = Arc::new(AtomicBool::new(false));
    let t0 = Instant::now();
    let clients: Vec<_> = (0..CLIENTS)
        .map(|c| rt.spawn(client(c, endpoints.clone(), seed, Arc::clone(&stop), t0)))
        .collect();

    let mut rng = Rng(seed);
    let (mut kills, mut leader_kills) = (0, 0);
    while kills < KILLS && t0.elapsed() < FAULT_PHASE_MAX {
        std::thread::sleep(rng.millis(300, 1000));
        let running: Vec<bool> = (0..MEMBERS).map(|i| cluster.is_running(i)).collect();
        let current = rt.block_on(leader(&endpoints, &running));
        let victim = match current {
            Some(l) if rng.below(2) == 0 => l,
            _ => rng.below(MEMBERS as u64) as usize,
        };
        if Some(victim) == current {
            leader_kills += 1;
        }
        cluster.kill(victim);
        kills += 1;
        println!("{:>6} ms: kill -9 m{victim} (leader: {current:?})", t0.elapsed().as_millis());
        std::thread::sleep(rng.millis(100, 800));
        cluster.restart(victim);
    }
    // The load goes on a little after the last restart, then stops.
    std::thread::sleep(Duration::from_secs(1));
    stop.store(true, Ordering::SeqCst);
    let mut records: Vec<OpRecord> = Vec::new();
    for c in clients {
        records.extend(rt.block_on(c).expect("client task"));
    }
    let end_us = micros(t0);

    let revision = rt.block_on(converge(&endpoints));
    let events = rt.block_on(grpc::events_through(
        &rt.block_on(async { grpc::channel(&endpoints[0]) }),
        revision,
        Duration::from_secs(10),
    ));
    let mut log = WriteLog::default();
    log.absorb_events(revision, &events);
    let states: Vec<Vec<api::KeyValue>> =
        endpoints.iter().map(|e| rt.block_on(final_state(e))).collect();
    for (i, s) in states.iter().enumerate() {
        assert_eq!(s, &states[0], "m{i}'s final state differs from m0's");
    }
    let state: BTreeMap<&[u8], &api::KeyValue> =
        states[0].iter().map(|kv| (kv.key.as_ref(), kv)).collect();

    let mut acked = 0;
    for r in &records {
        let Some((key, value, rev)) = acked_put(r) else { continue };
        acked += 1;
        assert_eq!(
            log.put_revision(key, value),
            Some(rev),
            "acknowledged put {key}={value} at revision {rev} is not in the cluster's history"
        );
        let now = state.get(key.as_bytes()).unwrap_or_else(|| panic!("{key} is gone"));
        let kept = now.value.as_ref() == value.as_bytes() && now.mod_revision == rev;
        assert!(
            kept || now.mod_revision > rev,
            "acknowledged put {key}={value} at revision {rev} neither kept nor superseded: {now:?}"
        );
    }
    let count = |label: &str| records.iter().filter(|r| r.outcome.label() == label).count();
    println!(
        "{} ops: {} ok ({acked} acknowledged writes), {} unknown, {} failed; {kills} kills \
         ({leader_kills} of the leader); final revision {revision}",
        records.len(),
        count("ok"),
        count("unknown"),
        count("fail"),
    );
    assert!(kills >= 10, "only {kills} kills in {FAULT_PHASE_MAX:?}");
    assert!(acked > 0, "no write was acknowledged");

    let history = etcd_history(&records, Some(&log), end_us, end_us);
    let budget = detcd_checker::Budget {
        steps_max: Some(CHECK_STEPS_MAX),
        memory_bytes_max: 1 << 28,
        expired: None,
    };
    let check_started = Instant::now();
    let result = detcd_checker::check(&detcd_checker::models::Etcd, &history, &budget);
    println!(
        "checked {} operations in {:?}: {:?}; whole test {:?}",
        history.len(),
        check_started.elapsed(),
        result.verdict,
        started.elapsed()
    );
    if result.verdict != detcd_checker::Verdict::Linearizable {
        let report =
            detcd_checker::report::Report::new(&detcd_checker::models::Etcd, &history, &result);
        panic!("history not linearizable ({:?}):\n{}", result.verdict, report.to_text());
    }
}
