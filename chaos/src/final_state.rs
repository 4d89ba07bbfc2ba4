//! After the faults heal: every member must answer linearizable reads of every key
//! again (the time that takes is the recovery time, and the reads enter the history,
//! so an acknowledged write the cluster lost fails the etcd model); then each member's
//! whole history is read back through a watch from revision 1, and its HashKV taken at
//! one revision, for the convergence checks.

use crate::client::{event, open_watch, Shared};
use bytes::Bytes;
use detcd_core::server::Response;
use detcd_harness::checks::watch::WatchEventRecord;
use detcd_harness::workload::{OpKind, OpOutcome, KEY_PREFIX};
use detcd_node::pb::etcdserverpb as pb;
use detcd_node::pb::etcdserverpb::maintenance_client::MaintenanceClient;
use std::collections::BTreeMap;
use std::time::Duration;
use tokio::time::{sleep, timeout, Instant};

/// Every event of revisions 2..=through, by revision, as one member serves them.
pub type Events = BTreeMap<i64, Vec<WatchEventRecord>>;

/// What the end of the run read back.
pub struct FinalState {
    /// From the heal until every member answered, if they all did in time.
    pub recovery: Option<Duration>,
    /// Members that had not answered by the limit.
    pub unresponsive: Vec<usize>,
    /// The highest revision the final reads saw.
    pub top: i64,
    /// Each member's history through `top` (None: it could not be read).
    pub histories: Vec<Option<Events>>,
    /// Each member's HashKV at `top`: (its answer's revision, hash).
    pub hashes: Vec<Option<(i64, u32)>>,
}

const RETRY: Duration = Duration::from_millis(200);
const READ_LIMIT: Duration = Duration::from_secs(20);

/// Reads every member back; `keys` is the workload's key count, `limit` the bound on
/// recovery, `client` the id the final reads are recorded under.
pub async fn read(shared: &Shared, keys: u32, client: u64, limit: Duration) -> FinalState {
    let healed = Instant::now();
    let deadline = healed + limit;
    let n = shared.channels.len();
    let mut top = 1;
    let mut unresponsive = Vec::new();
    for member in 0..n {
        let mut kinds: Vec<OpKind> =
            (0..keys).map(|k| OpKind::Get { key: format!("{KEY_PREFIX}{k}") }).collect();
        kinds.push(OpKind::Range);
        'kinds: for kind in kinds {
            loop {
                if Instant::now() > deadline {
                    unresponsive.push(member);
                    break 'kinds;
                }
                let invoked = Instant::now();
                let outcome = crate::wire::call(shared.channels[member].clone(), &kind, 0).await;
                if let OpOutcome::Ok(Response::Range(r)) = &outcome {
                    top = top.max(r.header.revision);
                    shared.record(client, member, kind.clone(), invoked, outcome);
                    break;
                }
                sleep(RETRY).await;
            }
        }
    }
    let recovery = unresponsive.is_empty().then(|| healed.elapsed());
    let mut histories = Vec::new();
    let mut hashes = Vec::new();
    for member in 0..n {
        let channel = shared.channels[member].clone();
        histories.push(timeout(READ_LIMIT, history(channel.clone(), top)).await.ok().flatten());
        hashes.push(hash_at(channel, top).await);
    }
    FinalState { recovery, unresponsive, top, histories, hashes }
}

/// A member's events from revision 1 through `through` over every key, so every
/// revision shows up (some belong to lease keys).
async fn history(channel: tonic::transport::Channel, through: i64) -> Option<Events> {
    let all = Bytes::from_static(b"\0");
    let (_tx, mut stream) = open_watch(channel, all.clone(), all, 1).await?;
    let mut events = Events::new();
    let mut seen = 1;
    while seen < through {
        let msg = stream.message().await.ok()??;
        if msg.canceled {
            return None;
        }
        for e in msg.events.into_iter().filter_map(event) {
            seen = seen.max(e.revision);
            if e.revision <= through {
                events.entry(e.revision).or_default().push(e);
            }
        }
    }
    Some(events)
}

/// HashKV at `revision`, retried while the member has not applied that far.
async fn hash_at(channel: tonic::transport::Channel, revision: i64) -> Option<(i64, u32)> {
    let deadline = Instant::now() + READ_LIMIT;
    while Instant::now() < deadline {
        let mut m = MaintenanceClient::new(channel.clone());
        if let Ok(Ok(r)) = timeout(RETRY * 10, m.hash_kv(pb::HashKvRequest { revision })).await {
            let r = r.into_inner();
            return Some((r.header.map_or(0, |h| h.revision), r.hash));
        }
        sleep(RETRY).await;
    }
    None
}
