//! One benchmark run: open the connections, start the clients, stop them at --total or
//! at --duration, and gather what they measured into a [`Summary`]. The unary loads
//! (put, range, txn-put) are here; the streaming ones in [`super::streams`].

use super::args::{BenchConfig, Consistency, KeySpace, Op};
use super::pace::Pacer;
use super::progress::Progress;
use super::streams;
use super::summary::{self, Summary};
use crate::pb::etcdserverpb::kv_client::KvClient;
use crate::pb::etcdserverpb::maintenance_client::MaintenanceClient;
use crate::pb::etcdserverpb::{
    request_op, PutRequest, RangeRequest, RequestOp, StatusRequest, TxnRequest,
};
use bytes::Bytes;
use hdrhistogram::Histogram;
use std::collections::BTreeMap;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::time::Instant;
use tonic::transport::{Channel, Endpoint};

const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Clients share this many histograms (client i records into shard i mod SHARDS): one
/// per client would cost ~200 KiB each, ten thousand clients 2 GB; one for all would
/// make every client take the same lock.
const SHARDS: usize = 16;

#[derive(Debug)]
pub enum BenchError {
    Connect { endpoint: String, error: String },
    NoLeader(String),
    Client(String),
}

impl fmt::Display for BenchError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BenchError::Connect { endpoint, error } => {
                write!(f, "cannot connect to {endpoint}: {error}")
            }
            BenchError::NoLeader(why) => write!(f, "no leader among the endpoints: {why}"),
            BenchError::Client(why) => write!(f, "a client failed: {why}"),
        }
    }
}

impl std::error::Error for BenchError {}

async fn connect(hostport: &str) -> Result<Channel, BenchError> {
    let fail = |error: String| BenchError::Connect { endpoint: hostport.to_string(), error };
    // Endpoints are kept without a scheme (see `parse_endpoints`); the URI is built here
    // alone, so `a:1` and `http://a:1` make the same channel.
    Endpoint::from_shared(format!("http://{hostport}"))
        .map_err(|e| fail(e.to_string()))?
        .connect_timeout(CONNECT_TIMEOUT)
        .tcp_nodelay(true)
        .connect()
        .await
        .map_err(|e| fail(e.to_string()))
}

/// The endpoint whose member says it is the leader (Maintenance.Status), asking each
/// endpoint in turn.
async fn find_leader(endpoints: &[String], timeout: Duration) -> Result<String, BenchError> {
    let mut heard = Vec::new();
    for ep in endpoints {
        let channel = match connect(ep).await {
            Ok(c) => c,
            Err(e) => {
                heard.push(e.to_string());
                continue;
            }
        };
        let mut m = MaintenanceClient::new(channel);
        match tokio::time::timeout(timeout, m.status(StatusRequest {})).await {
            Ok(Ok(resp)) => {
                let status = resp.into_inner();
                let me = status.header.map_or(0, |h| h.member_id);
                if me != 0 && me == status.leader {
                    return Ok(ep.clone());
                }
                heard.push(format!("{ep} is member {me:x}, sees leader {:x}", status.leader));
            }
            Ok(Err(s)) => heard.push(format!("{ep}: {:?}: {}", s.code(), s.message())),
            Err(_) => heard.push(format!("{ep}: status timed out")),
        }
    }
    Err(BenchError::NoLeader(heard.join("; ")))
}

/// What every request of a unary run looks like, but its key(s).
enum Template {
    Put { value: Bytes },
    Range { serializable: bool, fixed: Option<(Bytes, Bytes)> },
    TxnPut { value: Bytes, ops: usize },
}

/// What every client of a run shares: the bounds, the counters and what was measured.
pub(super) struct Shared {
    pub keys: KeySpace,
    pub total: Option<u64>,
    pub deadline: Option<Instant>,
    /// Spaces the unary requests at --rate, when there is one.
    pacer: Option<Mutex<Pacer>>,
    pub request_timeout: Duration,
    pub started: Instant,
    /// Requests claimed so far; a client claims one before sending it, so --total is
    /// exact however many clients race.
    issued: AtomicU64,
    /// Measurements (answers, or delivered events) recorded so far, for the progress bar.
    pub finished: AtomicU64,
    shards: Vec<Mutex<Histogram<u64>>>,
    errors: Mutex<BTreeMap<String, u64>>,
}

impl Shared {
    /// Claims the next request number, or None once the run is over (--total reached or
    /// --duration passed).
    pub fn claim(&self) -> Option<u64> {
        if self.deadline.is_some_and(|d| Instant::now() >= d) {
            return None;
        }
        let n = self.issued.fetch_add(1, Ordering::Relaxed);
        self.total.is_none_or(|total| n < total).then_some(n)
    }

    /// Waits for this client's next slot under --rate (at once without one). False when
    /// the slot falls after --duration, so a low rate never holds a run past its end.
    pub async fn pace(&self) -> bool {
        let Some(pacer) = &self.pacer else { return true };
        let slot = pacer.lock().unwrap_or_else(|p| p.into_inner()).slot(Instant::now());
        if self.deadline.is_some_and(|d| slot >= d) {
            return false;
        }
        tokio::time::sleep_until(slot).await;
        true
    }

    /// The key number of request `n` for a client drawing from `rng`.
    pub fn key_no(&self, n: u64, rng: &mut KeyRng) -> u64 {
        if self.keys.sequential {
            n
        } else {
            rng.next()
        }
    }

    pub fn record(&self, client: usize, latency: Duration) {
        let shard = &self.shards[client % self.shards.len()];
        summary::record(&mut shard.lock().unwrap_or_else(|p| p.into_inner()), latency);
        self.finished.fetch_add(1, Ordering::Relaxed);
    }

    pub fn error(&self, msg: String) {
        *self.errors.lock().unwrap_or_else(|p| p.into_inner()).entry(msg).or_default() += 1;
    }

    pub fn errors(&self, msg: String, n: u64) {
        if n > 0 {
            *self.errors.lock().unwrap_or_else(|p| p.into_inner()).entry(msg).or_default() += n;
        }
    }
}

/// How a failed request is counted: its gRPC code and message.
pub(super) fn status_text(s: &tonic::Status) -> String {
    format!("{:?}: {}", s.code(), s.message())
}

/// splitmix64: keys only need spreading over the key space, not unpredictability, and a
/// fixed seed per client makes two runs ask for the same keys.
pub(super) struct KeyRng(pub u64);

impl KeyRng {
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

async fn send(
    kv: &mut KvClient<Channel>,
    template: &Template,
    keys: &KeySpace,
    key_no: u64,
) -> Result<(), tonic::Status> {
    let key = Bytes::from(keys.key(key_no));
    match template {
        Template::Put { value } => {
            kv.put(PutRequest { key, value: value.clone(), ..Default::default() }).await?;
        }
        Template::Range { serializable, fixed } => {
            let (key, range_end) = match fixed {
                Some((k, e)) => (k.clone(), e.clone()),
                None => (key, Bytes::new()),
            };
            kv.range(RangeRequest {
                key,
                range_end,
                serializable: *serializable,
                ..Default::default()
            })
            .await?;
        }
        Template::TxnPut { value, ops } => {
            // Consecutive key numbers: distinct, since --txn-ops <= --key-space-size.
            let success = (0..*ops as u64)
                .map(|j| RequestOp {
                    request: Some(request_op::Request::RequestPut(PutRequest {
                        key: Bytes::from(keys.key(key_no.wrapping_add(j))),
                        value: value.clone(),
                        ..Default::default()
                    })),
                })
                .collect();
            kv.txn(TxnRequest { success, ..Default::default() }).await?;
        }
    }
    Ok(())
}

async fn client(
    shared: Arc<Shared>,
    template: Arc<Template>,
    mut kv: KvClient<Channel>,
    id: usize,
) {
    let mut rng = KeyRng(id as u64);
    // Claimed first, so that after --total no client waits for a slot it cannot use.
    while let Some(n) = shared.claim() {
        if !shared.pace().await {
            break;
        }
        let key_no = shared.key_no(n, &mut rng);
        let started = Instant::now();
        let outcome = tokio::time::timeout(
            shared.request_timeout,
            send(&mut kv, &template, &shared.keys, key_no),
        )
        .await;
        match outcome {
            Ok(Ok(())) => shared.record(id, started.elapsed()),
            Ok(Err(s)) => shared.error(status_text(&s)),
            Err(_) => shared.error(format!("timed out after {:?}", shared.request_timeout)),
        }
    }
}

/// A value of `size` printable bytes, the same in every run.
pub(super) fn make_value(size: usize) -> Vec<u8> {
    let mut rng = KeyRng(u64::MAX);
    (0..size).map(|_| b'a' + (rng.next() % 26) as u8).collect()
}

/// Runs the benchmark `cfg` describes against its endpoints.
pub async fn run(cfg: BenchConfig) -> Result<Summary, BenchError> {
    let targets = if cfg.target_leader {
        vec![find_leader(&cfg.endpoints, cfg.request_timeout).await?]
    } else {
        cfg.endpoints.clone()
    };
    let mut channels = Vec::with_capacity(cfg.conns);
    for i in 0..cfg.conns {
        channels.push(connect(&targets[i % targets.len()]).await?);
    }
    let started = Instant::now();
    let shared = Arc::new(Shared {
        keys: cfg.keys,
        total: cfg.total,
        deadline: cfg.duration.map(|d| started + d),
        pacer: cfg.rate.map(|r| Mutex::new(Pacer::new(r))),
        request_timeout: cfg.request_timeout,
        started,
        issued: AtomicU64::new(0),
        finished: AtomicU64::new(0),
        shards: (0..SHARDS.min(cfg.clients))
            .map(|_| Mutex::new(summary::new_histogram()))
            .collect(),
        errors: Mutex::new(BTreeMap::new()),
    });
    let template = match &cfg.op {
        Op::Put { val_size } => Template::Put { value: Bytes::from(make_value(*val_size)) },
        Op::Range { consistency, fixed } => Template::Range {
            serializable: *consistency == Consistency::Serializable,
            fixed: fixed.as_ref().map(|(k, e)| (Bytes::from(k.clone()), Bytes::from(e.clone()))),
        },
        Op::TxnPut { val_size, txn_ops } => {
            Template::TxnPut { value: Bytes::from(make_value(*val_size)), ops: *txn_ops }
        }
        Op::Watch { val_size, put_clients } => {
            let watch = streams::WatchLoad { val_size: *val_size, put_clients: *put_clients };
            let progress = Progress::start(shared.clone(), expected(&cfg), !cfg.json);
            let outcome = watch.run(shared.clone(), &channels, cfg.clients).await;
            progress.finish();
            outcome?;
            return Ok(finish(&cfg, targets, &shared));
        }
        Op::LeaseKeepalive { ttl_secs } => {
            let progress = Progress::start(shared.clone(), cfg.total, !cfg.json);
            let outcome =
                streams::lease_keepalive(shared.clone(), &channels, cfg.clients, *ttl_secs).await;
            progress.finish();
            outcome?;
            return Ok(finish(&cfg, targets, &shared));
        }
    };
    let template = Arc::new(template);
    let clients: Vec<_> = (0..cfg.clients)
        .map(|id| {
            let kv = KvClient::new(channels[id % channels.len()].clone());
            tokio::spawn(client(shared.clone(), template.clone(), kv, id))
        })
        .collect();
    let progress = Progress::start(shared.clone(), cfg.total, !cfg.json);
    let mut failed = None;
    for c in clients {
        if let Err(e) = c.await {
            failed.get_or_insert(e.to_string());
        }
    }
    progress.finish();
    if let Some(why) = failed {
        return Err(BenchError::Client(why));
    }
    Ok(finish(&cfg, targets, &shared))
}

/// Measurements a run with a --total will make (a watch bench: one per event per
/// watcher), for the progress bar's length.
fn expected(cfg: &BenchConfig) -> Option<u64> {
    cfg.total.map(|t| t.saturating_mul(cfg.clients as u64))
}

/// The summary of what the clients recorded.
fn finish(cfg: &BenchConfig, targets: Vec<String>, shared: &Shared) -> Summary {
    let elapsed = shared.started.elapsed();
    let mut hist = summary::new_histogram();
    for shard in &shared.shards {
        // Same bounds everywhere, so adding cannot fail.
        let _ = hist.add(&*shard.lock().unwrap_or_else(|p| p.into_inner()));
    }
    let errors = std::mem::take(&mut *shared.errors.lock().unwrap_or_else(|p| p.into_inner()));
    Summary::new(cfg.op.name(), targets, cfg.conns, cfg.clients, &hist, errors, elapsed)
}
