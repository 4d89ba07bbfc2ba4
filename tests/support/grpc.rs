//! etcd's gRPC API from a test: a runtime, lazily connecting channels to members, the
//! few maintenance calls the tests need, and wire responses turned into the core's API
//! values so the harness's history code can take them.

use detcd_core::api;
use detcd_node::pb::etcdserverpb as pb;
use detcd_node::pb::etcdserverpb::kv_client::KvClient;
use detcd_node::pb::etcdserverpb::maintenance_client::MaintenanceClient;
use detcd_node::pb::etcdserverpb::watch_client::WatchClient;
use detcd_node::pb::mvccpb;
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

pub fn header(h: Option<pb::ResponseHeader>) -> api::ResponseHeader {
    let h = h.unwrap_or_default();
    api::ResponseHeader {
        cluster_id: h.cluster_id,
        member_id: h.member_id,
        revision: h.revision,
        raft_term: h.raft_term,
    }
}

pub fn kv(k: mvccpb::KeyValue) -> api::KeyValue {
    api::KeyValue {
        key: k.key,
        create_revision: k.create_revision,
        mod_revision: k.mod_revision,
        version: k.version,
        value: k.value,
        lease: k.lease,
    }
}

pub fn event(e: mvccpb::Event) -> api::Event {
    let r#type = if e.r#type == mvccpb::event::EventType::Delete as i32 {
        api::EventType::Delete
    } else {
        api::EventType::Put
    };
    api::Event { r#type, kv: kv(e.kv.unwrap_or_default()), prev_kv: e.prev_kv.map(kv) }
}

pub fn range_response(r: pb::RangeResponse) -> api::RangeResponse {
    api::RangeResponse {
        header: header(r.header),
        kvs: r.kvs.into_iter().map(kv).collect(),
        more: r.more,
        count: r.count,
    }
}

pub fn put_response(r: pb::PutResponse) -> api::PutResponse {
    api::PutResponse { header: header(r.header), prev_kv: r.prev_kv.map(kv) }
}

pub fn delete_response(r: pb::DeleteRangeResponse) -> api::DeleteRangeResponse {
    api::DeleteRangeResponse {
        header: header(r.header),
        deleted: r.deleted,
        prev_kvs: r.prev_kvs.into_iter().map(kv).collect(),
    }
}

pub fn txn_response(r: pb::TxnResponse) -> api::TxnResponse {
    api::TxnResponse {
        header: header(r.header),
        succeeded: r.succeeded,
        responses: r.responses.into_iter().filter_map(response_op).collect(),
    }
}

fn response_op(op: pb::ResponseOp) -> Option<api::ResponseOp> {
    use pb::response_op::Response as R;
    Some(match op.response? {
        R::ResponseRange(r) => api::ResponseOp::Range(range_response(r)),
        R::ResponsePut(r) => api::ResponseOp::Put(put_response(r)),
        R::ResponseDeleteRange(r) => api::ResponseOp::DeleteRange(delete_response(r)),
        R::ResponseTxn(r) => api::ResponseOp::Txn(txn_response(r)),
    })
}

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
