//! The clients: each issues the harness's workload one operation at a time to a member
//! it picks, records invocation and completion times (wall clock, from the run's
//! start) and the outcome; each also keeps one logical watch stream open, resumed on
//! another member from the revision after the last event it saw when it breaks.

use crate::wire::{self, OP_TIMEOUT};
use bytes::Bytes;
use detcd_harness::checks::watch::{WatchEventRecord, WatchStreamRecord};
use detcd_harness::workload::{OpKind, OpOutcome, OpRecord, Workload, KEYS_END, KEY_PREFIX};
use detcd_node::pb::etcdserverpb as pb;
use detcd_node::pb::etcdserverpb::watch_client::WatchClient;
use detcd_node::pb::mvccpb;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::time::{sleep, timeout, Instant};
use tonic::transport::Channel;

/// The lease TTL the workload grants: longer than etcd's minimum (1.5 election
/// timeouts) and shorter than a pause, so pauses outlive leases.
pub const LEASE_TTL_SECS: i64 = 3;
/// Watch streams are held this long before a client moves them to another member.
const WATCH_HOLD_MS: std::ops::Range<u64> = 500..5000;

/// Everything the clients saw.
pub struct Recorder {
    epoch: Instant,
    pub records: Vec<OpRecord>,
    pub streams: Vec<WatchStreamRecord>,
}

impl Recorder {
    pub fn new(epoch: Instant) -> Recorder {
        Recorder { epoch, records: Vec::new(), streams: Vec::new() }
    }
    pub fn us(&self, t: Instant) -> u64 {
        t.saturating_duration_since(self.epoch).as_micros() as u64
    }
}

/// What all clients share.
pub struct Shared {
    pub channels: Vec<Channel>,
    pub workload: Mutex<Workload>,
    pub recorder: Mutex<Recorder>,
    /// Incarnation (start count) of each member, as the nemesis updates it.
    pub incarnations: Mutex<Vec<u64>>,
    /// The run's seed, from which each watcher draws its own choices.
    pub seed: u64,
}

impl Shared {
    pub fn record(
        &self,
        client: u64,
        node: usize,
        kind: OpKind,
        invoked: Instant,
        outcome: OpOutcome,
    ) {
        let incarnation = self.incarnations.lock().expect("incarnations")[node];
        let mut r = self.recorder.lock().expect("recorder");
        let (invoke_us, complete_us) = (r.us(invoked), r.us(Instant::now()));
        r.records.push(OpRecord {
            client,
            node: node as u64,
            incarnation,
            kind,
            invoke_us,
            complete_us,
            outcome,
        });
    }
}

/// Client `c` (0-based; the workload's client id is `c + 1`) issues operations until
/// `deadline`.
pub async fn run(shared: Arc<Shared>, c: usize, deadline: Instant) {
    let id = c as u64 + 1;
    let watcher = tokio::spawn(watch_stream(shared.clone(), id, deadline));
    let n = shared.channels.len() as u64;
    let mut last_node = None;
    while Instant::now() < deadline {
        let (kind, node, think_us) = {
            let mut w = shared.workload.lock().expect("workload");
            let kind = w.next_op(c);
            // A retried refusal goes to another member.
            let node = w.pick_node(n, last_node) - 1;
            (kind, node as usize, w.think_us())
        };
        let invoked = Instant::now();
        let outcome = wire::call(shared.channels[node].clone(), &kind, LEASE_TTL_SECS).await;
        shared.workload.lock().expect("workload").complete(c, &kind, &outcome);
        let refused = matches!(outcome, OpOutcome::Refused);
        last_node = refused.then_some(node as u64 + 1);
        shared.record(id, node, kind, invoked, outcome);
        let think =
            if refused { Duration::from_millis(100) } else { Duration::from_micros(think_us) };
        sleep(think).await;
    }
    let _ = watcher.await;
}

pub fn event(e: mvccpb::Event) -> Option<WatchEventRecord> {
    let kv = e.kv?;
    Some(WatchEventRecord {
        revision: kv.mod_revision,
        key: kv.key,
        delete: e.r#type == mvccpb::event::EventType::Delete as i32,
        value: kv.value,
        prev: e.prev_kv.map(|p| (p.mod_revision, p.value)),
    })
}

/// Opens a watch on `channel` over [key, range_end) from `start_revision`.
pub async fn open_watch(
    channel: Channel,
    key: Bytes,
    range_end: Bytes,
    start_revision: i64,
) -> Option<(tokio::sync::mpsc::Sender<pb::WatchRequest>, tonic::Streaming<pb::WatchResponse>)> {
    let (tx, rx) = tokio::sync::mpsc::channel(4);
    let create = pb::WatchRequest {
        request_union: Some(pb::watch_request::RequestUnion::CreateRequest(
            pb::WatchCreateRequest { key, range_end, start_revision, ..Default::default() },
        )),
    };
    tx.send(create).await.ok()?;
    let mut w = WatchClient::new(channel);
    let opened =
        timeout(OP_TIMEOUT, w.watch(tokio_stream::wrappers::ReceiverStream::new(rx))).await;
    let stream = opened.ok()?.ok()?.into_inner();
    // The sender is returned: dropping it would end the watch.
    Some((tx, stream))
}

async fn watch_stream(shared: Arc<Shared>, client: u64, deadline: Instant) {
    let n = shared.channels.len();
    let mut rec = WatchStreamRecord {
        client,
        key: Bytes::from(KEY_PREFIX),
        range_end: Bytes::from(KEYS_END),
        ..Default::default()
    };
    // 0: from now (the first stream); later the revision after the last one seen.
    let mut next: i64 = 0;
    let mut rng = ChaCha8Rng::seed_from_u64(shared.seed ^ client.rotate_left(32));
    let mut turn = client as usize;
    while Instant::now() < deadline {
        turn += 1;
        let channel = shared.channels[turn % n].clone();
        let Some((_tx, mut stream)) =
            open_watch(channel, rec.key.clone(), rec.range_end.clone(), next).await
        else {
            sleep(Duration::from_millis(100)).await;
            continue;
        };
        let hold = rng.gen_range(WATCH_HOLD_MS);
        let hold_until = (Instant::now() + Duration::from_millis(hold)).min(deadline);
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
    }
    if rec.start_revision > 0 {
        shared.recorder.lock().expect("recorder").streams.push(rec);
    }
}
