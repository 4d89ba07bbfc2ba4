//! The streaming loads of `detcd bench`: `watch` (how long a put takes to reach every
//! watcher) and `lease-keepalive` (round trips on LeaseKeepAlive streams).
//!
//! A watch latency is measured end to end without any clock shared between tasks beyond
//! the run's start: each put's value begins with its send time (microseconds since the
//! start, [`WATCH_STAMP_BYTES`] decimal digits), and a watcher subtracts it from the time
//! the event arrives.

use super::args::WATCH_STAMP_BYTES;
use super::run::{make_value, status_text, BenchError, KeyRng, Shared};
use crate::pb::etcdserverpb::kv_client::KvClient;
use crate::pb::etcdserverpb::lease_client::LeaseClient;
use crate::pb::etcdserverpb::watch_client::WatchClient;
use crate::pb::etcdserverpb::{
    watch_request, LeaseGrantRequest, LeaseKeepAliveRequest, LeaseRevokeRequest, PutRequest,
    WatchCreateRequest, WatchRequest,
};
use bytes::Bytes;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_stream::wrappers::ReceiverStream;
use tonic::transport::Channel;

pub(super) struct WatchLoad {
    pub val_size: usize,
    pub put_clients: usize,
}

/// What the writers tell the watchers: how many puts succeeded, and that there will be
/// no more.
#[derive(Default)]
struct Written {
    ok: AtomicU64,
    done: AtomicBool,
}

impl WatchLoad {
    /// Opens `watchers` watch streams on the key space, waits until each is created,
    /// then puts with the writers, and waits (at most --request-timeout after the last
    /// put) for every watcher to see every successful put.
    pub async fn run(
        &self,
        shared: Arc<Shared>,
        channels: &[Channel],
        watchers: usize,
    ) -> Result<(), BenchError> {
        let written = Arc::new(Written::default());
        let (created_tx, mut created_rx) = mpsc::channel::<Result<(), String>>(watchers);
        let mut tasks = Vec::with_capacity(watchers + self.put_clients);
        for id in 0..watchers {
            let channel = channels[id % channels.len()].clone();
            let (shared, written, created) = (shared.clone(), written.clone(), created_tx.clone());
            tasks.push(tokio::spawn(watcher(shared, written, channel, id, created)));
        }
        drop(created_tx);
        for _ in 0..watchers {
            let created = tokio::time::timeout(shared.request_timeout, created_rx.recv()).await;
            match created {
                Ok(Some(Ok(()))) => {}
                Ok(Some(Err(why))) => return Err(BenchError::Client(why)),
                Ok(None) | Err(_) => {
                    return Err(BenchError::Client(format!(
                        "the watches were not all created within {:?}",
                        shared.request_timeout
                    )))
                }
            }
        }
        let value = Bytes::from(make_value(self.val_size));
        let writers: Vec<_> = (0..self.put_clients)
            .map(|i| {
                let kv = KvClient::new(channels[(watchers + i) % channels.len()].clone());
                tokio::spawn(writer(shared.clone(), written.clone(), kv, value.clone(), i))
            })
            .collect();
        let mut failed = None;
        for w in writers {
            if let Err(e) = w.await {
                failed.get_or_insert(e.to_string());
            }
        }
        written.done.store(true, Ordering::Release);
        for t in tasks {
            if let Err(e) = t.await {
                failed.get_or_insert(e.to_string());
            }
        }
        failed.map_or(Ok(()), |why| Err(BenchError::Client(why)))
    }
}

async fn writer(
    shared: Arc<Shared>,
    written: Arc<Written>,
    mut kv: KvClient<Channel>,
    template: Bytes,
    id: usize,
) {
    // Writers draw keys apart from the watchers' ids.
    let mut rng = KeyRng(u64::MAX - id as u64);
    while let Some(n) = shared.claim() {
        let key = Bytes::from(shared.keys.key(shared.key_no(n, &mut rng)));
        let mut value = template.to_vec();
        let stamp = format!("{:0w$}", shared.started.elapsed().as_micros(), w = WATCH_STAMP_BYTES);
        value[..WATCH_STAMP_BYTES].copy_from_slice(&stamp.as_bytes()[..WATCH_STAMP_BYTES]);
        let put = kv.put(PutRequest { key, value: value.into(), ..Default::default() });
        match tokio::time::timeout(shared.request_timeout, put).await {
            Ok(Ok(_)) => {
                written.ok.fetch_add(1, Ordering::Release);
            }
            Ok(Err(s)) => shared.error(format!("put: {}", status_text(&s))),
            Err(_) => shared.error(format!("put: timed out after {:?}", shared.request_timeout)),
        }
    }
}

/// The send time a watch bench's value carries.
fn stamp_of(value: &[u8]) -> Option<Duration> {
    let digits = std::str::from_utf8(value.get(..WATCH_STAMP_BYTES)?).ok()?;
    digits.parse::<u64>().ok().map(Duration::from_micros)
}

/// One watch stream over the whole key space: every event's delivery latency is
/// recorded; when the writers are done and this watcher has seen every successful put
/// (or --request-timeout passed since), it stops and counts what it missed.
async fn watcher(
    shared: Arc<Shared>,
    written: Arc<Written>,
    channel: Channel,
    id: usize,
    created: mpsc::Sender<Result<(), String>>,
) {
    let keys = shared.keys;
    let mut range_end = keys.key(keys.size - 1);
    // Keys are equal-length digit strings, so [key(0), key(max) + "\0") holds them all.
    range_end.push(0);
    let create = WatchCreateRequest {
        key: keys.key(0).into(),
        range_end: range_end.into(),
        ..Default::default()
    };
    let (tx, rx) = mpsc::channel(1);
    let request =
        WatchRequest { request_union: Some(watch_request::RequestUnion::CreateRequest(create)) };
    // The request stream stays open (tx lives until the end): closing it ends the watch.
    let _ = tx.send(request).await;
    let mut client = WatchClient::new(channel);
    let opened =
        tokio::time::timeout(shared.request_timeout, client.watch(ReceiverStream::new(rx))).await;
    let mut stream = match opened {
        Ok(Ok(r)) => r.into_inner(),
        Ok(Err(s)) => {
            let _ = created.send(Err(format!("watch: {}", status_text(&s)))).await;
            return;
        }
        Err(_) => {
            let _ = created.send(Err("watch: timed out opening the stream".into())).await;
            return;
        }
    };
    let mut seen: u64 = 0;
    let mut announced = false;
    let mut done_at: Option<Instant> = None;
    loop {
        if written.done.load(Ordering::Acquire) {
            let ok = written.ok.load(Ordering::Acquire);
            if seen >= ok {
                return;
            }
            let since = *done_at.get_or_insert_with(Instant::now);
            if since.elapsed() >= shared.request_timeout {
                shared.errors(
                    format!("event not delivered within {:?}", shared.request_timeout),
                    ok - seen,
                );
                return;
            }
        }
        // Wake up now and then to notice the writers finishing.
        let next = tokio::time::timeout(Duration::from_millis(50), stream.message()).await;
        let response = match next {
            Err(_) => continue,
            Ok(Ok(Some(r))) => r,
            Ok(Ok(None)) => {
                shared.error("watch stream ended".into());
                break;
            }
            Ok(Err(s)) => {
                shared.error(format!("watch: {}", status_text(&s)));
                break;
            }
        };
        if response.created && !announced {
            announced = true;
            let _ = created.send(Ok(())).await;
        }
        if response.canceled {
            shared.error(format!("watch canceled: {}", response.cancel_reason));
            break;
        }
        let now = shared.started.elapsed();
        for event in &response.events {
            seen += 1;
            match event.kv.as_ref().and_then(|kv| stamp_of(&kv.value)) {
                Some(sent) => shared.record(id, now.saturating_sub(sent)),
                None => shared.error("an event without a send time (another writer?)".into()),
            }
        }
    }
    if !announced {
        let _ = created.send(Err("watch: the stream closed before it was created".into())).await;
    }
}

/// One lease per client, renewed over its own LeaseKeepAlive stream, one keep-alive in
/// flight at a time; the leases are revoked at the end.
pub(super) async fn lease_keepalive(
    shared: Arc<Shared>,
    channels: &[Channel],
    clients: usize,
    ttl_secs: i64,
) -> Result<(), BenchError> {
    let tasks: Vec<_> = (0..clients)
        .map(|id| {
            let lease = LeaseClient::new(channels[id % channels.len()].clone());
            tokio::spawn(keepalive_client(shared.clone(), lease, id, ttl_secs))
        })
        .collect();
    let mut failed = None;
    for t in tasks {
        match t.await {
            Ok(Ok(())) => {}
            Ok(Err(why)) => {
                failed.get_or_insert(why);
            }
            Err(e) => {
                failed.get_or_insert(e.to_string());
            }
        }
    }
    failed.map_or(Ok(()), |why| Err(BenchError::Client(why)))
}

async fn keepalive_client(
    shared: Arc<Shared>,
    mut lease: LeaseClient<Channel>,
    id: usize,
    ttl_secs: i64,
) -> Result<(), String> {
    let limit = shared.request_timeout;
    let grant = lease.lease_grant(LeaseGrantRequest { ttl: ttl_secs, id: 0 });
    let lease_id = match tokio::time::timeout(limit, grant).await {
        Ok(Ok(r)) => r.into_inner().id,
        Ok(Err(s)) => return Err(format!("lease grant: {}", status_text(&s))),
        Err(_) => return Err(format!("lease grant: timed out after {limit:?}")),
    };
    let (tx, rx) = mpsc::channel(1);
    let mut rx = Some(rx);
    // etcd answers a stream's headers only with its first message, so the stream is
    // opened after the first keep-alive is queued, and that round's latency includes it.
    let mut answers = None;
    while shared.claim().is_some() {
        let started = Instant::now();
        let round = async {
            tx.send(LeaseKeepAliveRequest { id: lease_id })
                .await
                .map_err(|_| "lease keep-alive: the stream closed".to_string())?;
            if let Some(rx) = rx.take() {
                let opened = lease
                    .lease_keep_alive(ReceiverStream::new(rx))
                    .await
                    .map_err(|s| format!("lease keep-alive: {}", status_text(&s)))?;
                answers = Some(opened.into_inner());
            }
            let Some(stream) = answers.as_mut() else {
                return Err("lease keep-alive: the stream closed".to_string());
            };
            match stream.message().await {
                Ok(Some(r)) if r.ttl > 0 => Ok(()),
                Ok(Some(_)) => Err("lease keep-alive: the lease expired".to_string()),
                Ok(None) => Err("lease keep-alive: the stream ended".to_string()),
                Err(s) => Err(format!("lease keep-alive: {}", status_text(&s))),
            }
        };
        match tokio::time::timeout(limit, round).await {
            Ok(Ok(())) => shared.record(id, started.elapsed()),
            Ok(Err(why)) => {
                shared.error(why);
                // A broken stream answers nothing more; stop this client.
                break;
            }
            Err(_) => {
                shared.error(format!("lease keep-alive: timed out after {limit:?}"));
                break;
            }
        }
    }
    drop((tx, answers));
    // Best effort: a lease left behind expires by itself after its TTL.
    let revoke = lease.lease_revoke(LeaseRevokeRequest { id: lease_id });
    if let Ok(Err(s)) = tokio::time::timeout(limit, revoke).await {
        shared.error(format!("lease revoke: {}", status_text(&s)));
    }
    Ok(())
}
