//! etcd's gRPC API from a test: a runtime, lazily connecting channels to members, the
//! few maintenance calls the tests need, and wire responses turned into the core's API
//! values so the harness's history code can take them.

use detcd_core::api;
use detcd_node::pb::etcdserverpb as pb;
use detcd_node::pb::etcdserverpb::kv_client::KvClient;
use detcd_node::pb::etcdserverpb::maintenance_client::MaintenanceClient;
use detcd_node::pb::etcdserverpb::watch_client::WatchClient;
use futures::StreamExt;
use std::time::Duration;
use tonic::transport::{Channel, Endpoint};

/// The limit on one request, as a client's per-request timeout.
pub const REQUEST_LIMIT: Duration = Duration::from_secs(2);
const CONNECT_LIMIT: Duration = Duration::from_secs(1);

/// A runtime for the clients; two workers, as the machine is shared.
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime")
}

/// A channel to `endpoint` (`127.0.0.1:port`) that connects on first use and again
/// after the member restarts. Must be called inside the runtime.
pub fn channel(endpoint: &str) -> Channel {
    Endpoint::from_shared(format!("http://{endpoint}"))
        .expect("endpoint URL")
        .connect_timeout(CONNECT_LIMIT)
        .timeout(REQUEST_LIMIT)
        .connect_lazy()
}

/// `future` with the client's per-request limit; `None` when it ran out.
pub async fn bounded<T>(future: impl std::future::Future<Output = T>) -> Option<T> {
    tokio::time::timeout(REQUEST_LIMIT, future).await.ok()
}

/// Maintenance.Status of one member: (its member id, the leader it knows, 0 if none).
pub async fn status(channel: &Channel) -> Option<(u64, u64)> {
    let mut m = MaintenanceClient::new(channel.clone());
    let r = bounded(m.status(pb::StatusRequest {})).await?.ok()?.into_inner();
    Some((r.header?.member_id, r.leader))
}

/// The first answer on a new watch stream with one create request (a watch on `key`),
/// or the status the stream failed with; `None` when neither came within the limit.
pub async fn first_watch_answer(
    channel: &Channel,
    key: &str,
) -> Option<Result<pb::WatchResponse, tonic::Status>> {
    let create =
        pb::WatchCreateRequest { key: key.as_bytes().to_vec().into(), ..Default::default() };
    let request = pb::WatchRequest {
        request_union: Some(pb::watch_request::RequestUnion::CreateRequest(create)),
    };
    // The request stream stays open: closing it would end the watch.
    let requests = futures::stream::iter([request]).chain(futures::stream::pending());
    let mut w = WatchClient::new(channel.clone());
    bounded(async {
        let mut stream = w.watch(requests).await?.into_inner();
        match stream.message().await? {
            Some(r) => Ok(r),
            None => Err(tonic::Status::unknown("the watch stream ended with no answer")),
        }
    })
    .await
}

/// Maintenance.HashKV of one member at its current revision: (revision, hash).
pub async fn hash_kv(channel: &Channel) -> Option<(i64, u32)> {
    let mut m = MaintenanceClient::new(channel.clone());
    let r = bounded(m.hash_kv(pb::HashKvRequest { revision: 0 })).await?.ok()?.into_inner();
    Some((r.header?.revision, r.hash))
}

/// Every event of revisions `2..=through`, from a watch on the whole key space started
/// at revision 1. Panics if they do not all arrive within `limit`.
pub async fn events_through(channel: &Channel, through: i64, limit: Duration) -> Vec<api::Event> {
    let create = pb::WatchCreateRequest {
        key: vec![0].into(),
        range_end: vec![0].into(),
        start_revision: 1,
        ..Default::default()
    };
    let request = pb::WatchRequest {
        request_union: Some(pb::watch_request::RequestUnion::CreateRequest(create)),
    };
    // The request stream stays open: closing it would end the watch.
    let requests = futures::stream::iter([request]).chain(futures::stream::pending());
    let mut w = WatchClient::new(channel.clone());
    let collect = async {
        let mut stream = w.watch(requests).await.expect("watch").into_inner();
        let mut events = Vec::new();
        let mut last = 1;
        while last < through {
            let r = stream.message().await.expect("watch stream").expect("watch stream open");
            assert!(!r.canceled, "watch canceled: {}", r.cancel_reason);
            for e in r.events {
                last = last.max(e.kv.as_ref().map_or(0, |kv| kv.mod_revision));
                events.push(event(e));
            }
        }
        events
    };
    tokio::time::timeout(limit, collect)
        .await
        .unwrap_or_else(|_| panic!("watch did not reach revision {through} in {limit:?}"))
}

// Each test binary uses some of these (see the module's dead_code allowance).
#[allow(unused_imports)]
pub use detcd_node::from_wire::{
    delete_response, event, header, kv, put_response, range_response, txn_response,
};

/// Puts `key`=`value`; the revision it took effect at.
pub async fn put(channel: &Channel, key: &str, value: &[u8]) -> Result<i64, tonic::Status> {
    let mut kv = KvClient::new(channel.clone());
    let req = pb::PutRequest {
        key: key.as_bytes().to_vec().into(),
        value: value.to_vec().into(),
        ..Default::default()
    };
    let r = bounded(kv.put(req)).await.ok_or_else(|| tonic::Status::deadline_exceeded("put"))??;
    Ok(header(r.into_inner().header).revision)
}

/// A linearizable get of `key`: its value, if it exists.
pub async fn get(channel: &Channel, key: &str) -> Result<Option<Vec<u8>>, tonic::Status> {
    let mut kv = KvClient::new(channel.clone());
    let req = pb::RangeRequest { key: key.as_bytes().to_vec().into(), ..Default::default() };
    let r =
        bounded(kv.range(req)).await.ok_or_else(|| tonic::Status::deadline_exceeded("get"))??;
    Ok(r.into_inner().kvs.into_iter().next().map(|kv| kv.value.to_vec()))
}
