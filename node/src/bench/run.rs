//! One benchmark run: open the connections, start the clients, stop them at --total or
//! at --duration, and gather what they measured into a [`Summary`].

use super::args::{BenchConfig, Consistency, KeySpace, Op};
use super::summary::{self, Summary};
use crate::pb::etcdserverpb::kv_client::KvClient;
use crate::pb::etcdserverpb::maintenance_client::MaintenanceClient;
use crate::pb::etcdserverpb::{PutRequest, RangeRequest, StatusRequest};
use bytes::Bytes;
use hdrhistogram::Histogram;
use std::collections::BTreeMap;
use std::fmt;
use std::io::IsTerminal;
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
const PROGRESS_EVERY: Duration = Duration::from_millis(500);

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

/// What every request of the run looks like, but its key.
enum Template {
    Put { value: Bytes },
    Range { serializable: bool, fixed: Option<(Bytes, Bytes)> },
}

struct Shared {
    template: Template,
    keys: KeySpace,
    total: Option<u64>,
    deadline: Option<Instant>,
    request_timeout: Duration,
    /// Requests claimed so far; a client claims one before sending it, so --total is
    /// exact however many clients race.
    issued: AtomicU64,
    finished: AtomicU64,
    shards: Vec<Mutex<Histogram<u64>>>,
    errors: Mutex<BTreeMap<String, u64>>,
}

/// splitmix64: keys only need spreading over the key space, not unpredictability, and a
/// fixed seed per client makes two runs ask for the same keys.
struct KeyRng(u64);

impl KeyRng {
    fn next(&mut self) -> u64 {
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
    key: Bytes,
) -> Result<(), tonic::Status> {
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
    }
    Ok(())
}

async fn client(shared: Arc<Shared>, mut kv: KvClient<Channel>, id: usize) {
    let shard = &shared.shards[id % SHARDS];
    let mut rng = KeyRng(id as u64);
    loop {
        if shared.deadline.is_some_and(|d| Instant::now() >= d) {
            return;
        }
        let n = shared.issued.fetch_add(1, Ordering::Relaxed);
        if shared.total.is_some_and(|total| n >= total) {
            return;
        }
        let key_no = if shared.keys.sequential { n } else { rng.next() };
        let key = Bytes::from(shared.keys.key(key_no));
        let started = Instant::now();
        let outcome =
            tokio::time::timeout(shared.request_timeout, send(&mut kv, &shared.template, key))
                .await;
        let latency = started.elapsed();
        let error = match outcome {
            Ok(Ok(())) => None,
            Ok(Err(s)) => Some(format!("{:?}: {}", s.code(), s.message())),
            Err(_) => Some(format!("timed out after {:?}", shared.request_timeout)),
        };
        match error {
            None => summary::record(&mut shard.lock().unwrap_or_else(|p| p.into_inner()), latency),
            Some(msg) => {
                *shared.errors.lock().unwrap_or_else(|p| p.into_inner()).entry(msg).or_default() +=
                    1
            }
        }
        shared.finished.fetch_add(1, Ordering::Relaxed);
    }
}

/// One line on stderr, rewritten in place, while the run lasts.
async fn progress(shared: Arc<Shared>, started: Instant) {
    loop {
        tokio::time::sleep(PROGRESS_EVERY).await;
        let done = shared.finished.load(Ordering::Relaxed);
        let secs = started.elapsed().as_secs_f64();
        let of = shared.total.map(|t| format!(" / {t}")).unwrap_or_default();
        eprint!("\r{done}{of} requests, {:.0}/s, {secs:.0}s ", done as f64 / secs.max(1e-9));
    }
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
    let template = match &cfg.op {
        Op::Put { val_size } => {
            let mut rng = KeyRng(u64::MAX);
            // Printable bytes, so a value read back with etcdctl is legible.
            let value: Vec<u8> = (0..*val_size).map(|_| b'a' + (rng.next() % 26) as u8).collect();
            Template::Put { value: Bytes::from(value) }
        }
        Op::Range { consistency, fixed } => Template::Range {
            serializable: *consistency == Consistency::Serializable,
            fixed: fixed.as_ref().map(|(k, e)| (Bytes::from(k.clone()), Bytes::from(e.clone()))),
        },
    };
    let started = Instant::now();
    let shared = Arc::new(Shared {
        template,
        keys: cfg.keys,
        total: cfg.total,
        deadline: cfg.duration.map(|d| started + d),
        request_timeout: cfg.request_timeout,
        issued: AtomicU64::new(0),
        finished: AtomicU64::new(0),
        shards: (0..SHARDS.min(cfg.clients))
            .map(|_| Mutex::new(summary::new_histogram()))
            .collect(),
        errors: Mutex::new(BTreeMap::new()),
    });
    let clients: Vec<_> = (0..cfg.clients)
        .map(|id| {
            let kv = KvClient::new(channels[id % channels.len()].clone());
            tokio::spawn(client(shared.clone(), kv, id))
        })
        .collect();
    let ticker = (!cfg.json && std::io::stderr().is_terminal())
        .then(|| tokio::spawn(progress(shared.clone(), started)));
    let mut failed = None;
    for c in clients {
        if let Err(e) = c.await {
            failed.get_or_insert(e.to_string());
        }
    }
    let elapsed = started.elapsed();
    if let Some(t) = ticker {
        t.abort();
        eprint!("\r\x1b[2K");
    }
    if let Some(why) = failed {
        return Err(BenchError::Client(why));
    }
    let mut hist = summary::new_histogram();
    for shard in &shared.shards {
        // Same bounds everywhere, so adding cannot fail.
        let _ = hist.add(&*shard.lock().unwrap_or_else(|p| p.into_inner()));
    }
    let errors = std::mem::take(&mut *shared.errors.lock().unwrap_or_else(|p| p.into_inner()));
    Ok(Summary::new(cfg.op.name(), targets, cfg.conns, cfg.clients, &hist, errors, elapsed))
}
