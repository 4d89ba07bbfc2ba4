//! One workload operation as an etcd v3 gRPC call, and its answer in the harness's
//! terms. Any error on a write leaves its outcome unknown (the request may have been
//! applied before the answer was lost), except the refusals that say it never was.

use bytes::Bytes;
use detcd_core::api;
use detcd_core::server::Response;
use detcd_harness::workload::{OpKind, OpOutcome, KEYS_END, KEY_PREFIX};
use detcd_node::from_wire::{header, kv, range_response, txn_response};
use detcd_node::pb::etcdserverpb as pb;
use detcd_node::pb::etcdserverpb::{kv_client::KvClient, lease_client::LeaseClient};
use std::time::Duration;
use tonic::transport::{Channel, Endpoint};

/// How long a client waits for an answer before calling the outcome unknown.
pub const OP_TIMEOUT: Duration = Duration::from_secs(2);
const CONNECT_TIMEOUT: Duration = Duration::from_millis(500);

/// A channel to a member that connects on first use and again after it restarts.
pub fn channel(url: &str) -> Channel {
    Endpoint::from_shared(url.to_string())
        .expect("a http://127.0.0.1:port URL")
        .connect_timeout(CONNECT_TIMEOUT)
        .timeout(OP_TIMEOUT)
        .tcp_nodelay(true)
        .connect_lazy()
}

/// Errors that say the request was never proposed.
fn refused(status: &tonic::Status) -> bool {
    let m = status.message();
    m.contains("too many requests")
        || m.contains("Connection refused")
        || m.contains("tcp connect error")
}

fn b(s: &str) -> Bytes {
    Bytes::copy_from_slice(s.as_bytes())
}

fn get(key: &str, serializable: bool) -> pb::RangeRequest {
    pb::RangeRequest { key: b(key), serializable, ..Default::default() }
}

fn cas(key: &str, expected_mod: i64, value: &str) -> pb::TxnRequest {
    use pb::compare::{CompareResult, CompareTarget, TargetUnion};
    use pb::request_op::Request as Op;
    pb::TxnRequest {
        compare: vec![pb::Compare {
            result: CompareResult::Equal as i32,
            target: CompareTarget::Mod as i32,
            key: b(key),
            target_union: Some(TargetUnion::ModRevision(expected_mod)),
            ..Default::default()
        }],
        success: vec![pb::RequestOp {
            request: Some(Op::RequestPut(pb::PutRequest {
                key: b(key),
                value: b(value),
                ..Default::default()
            })),
        }],
        failure: vec![pb::RequestOp { request: Some(Op::RequestRange(get(key, false))) }],
    }
}

async fn answer(
    channel: Channel,
    kind: &OpKind,
    lease_ttl_secs: i64,
) -> Result<Response, tonic::Status> {
    let mut kv_client = KvClient::new(channel.clone());
    let mut lease_client = LeaseClient::new(channel);
    Ok(match kind {
        OpKind::Put { key, value } => {
            let req = pb::PutRequest { key: b(key), value: b(value), ..Default::default() };
            let p = kv_client.put(req).await?.into_inner();
            Response::Put(api::PutResponse { header: header(p.header), prev_kv: p.prev_kv.map(kv) })
        }
        OpKind::LeasePut { key, value, lease, ignore_lease } => {
            // etcd refuses a lease beside `ignore_lease`: the key keeps the one it has.
            let req = pb::PutRequest {
                key: b(key),
                value: b(value),
                lease: if *ignore_lease { 0 } else { *lease },
                ignore_lease: *ignore_lease,
                ..Default::default()
            };
            let p = kv_client.put(req).await?.into_inner();
            Response::Put(api::PutResponse { header: header(p.header), prev_kv: p.prev_kv.map(kv) })
        }
        OpKind::Get { key } => {
            Response::Range(range_response(kv_client.range(get(key, false)).await?.into_inner()))
        }
        OpKind::SerializableGet { key } => {
            Response::Range(range_response(kv_client.range(get(key, true)).await?.into_inner()))
        }
        OpKind::Range => {
            let req = pb::RangeRequest {
                key: b(KEY_PREFIX),
                range_end: b(KEYS_END),
                ..Default::default()
            };
            Response::Range(range_response(kv_client.range(req).await?.into_inner()))
        }
        OpKind::Delete { key } => {
            let req = pb::DeleteRangeRequest { key: b(key), ..Default::default() };
            let d = kv_client.delete_range(req).await?.into_inner();
            Response::DeleteRange(api::DeleteRangeResponse {
                header: header(d.header),
                deleted: d.deleted,
                prev_kvs: d.prev_kvs.into_iter().map(kv).collect(),
            })
        }
        OpKind::Cas { key, expected_mod, value } => Response::Txn(txn_response(
            kv_client.txn(cas(key, *expected_mod, value)).await?.into_inner(),
        )),
        OpKind::LeaseGrant => {
            let g = lease_client
                .lease_grant(pb::LeaseGrantRequest { ttl: lease_ttl_secs, id: 0 })
                .await?
                .into_inner();
            Response::LeaseGrant(api::LeaseGrantResponse {
                header: header(g.header),
                id: g.id,
                ttl: g.ttl,
                error: g.error,
            })
        }
        OpKind::LeaseRevoke { lease, .. } => {
            let r = lease_client
                .lease_revoke(pb::LeaseRevokeRequest { id: *lease })
                .await?
                .into_inner();
            Response::LeaseRevoke(api::LeaseRevokeResponse { header: header(r.header) })
        }
        OpKind::Compact { .. }
        | OpKind::WatchCreate { .. }
        | OpKind::Txn { .. }
        | OpKind::RangeAt { .. }
        | OpKind::ListPage { .. }
        | OpKind::Count
        | OpKind::LeaseKeepAlive { .. }
        | OpKind::LeaseTimeToLive { .. }
        | OpKind::Validate(_)
        | OpKind::DeletePrefix { .. }
        | OpKind::Status
        | OpKind::WatchProgress { .. } => {
            unreachable!("the chaos workload issues no {kind:?} (its mix leaves them out)")
        }
    })
}

/// Sends `kind` over `channel` and classifies the answer.
pub async fn call(channel: Channel, kind: &OpKind, lease_ttl_secs: i64) -> OpOutcome {
    match tokio::time::timeout(OP_TIMEOUT, answer(channel, kind, lease_ttl_secs)).await {
        Err(_) => OpOutcome::Unknown(None),
        Ok(Ok(response)) => OpOutcome::Ok(response),
        Ok(Err(status)) if refused(&status) => OpOutcome::Refused,
        Ok(Err(_)) if kind.is_write() => OpOutcome::Unknown(None),
        // A read that failed constrains nothing.
        Ok(Err(_)) => OpOutcome::Refused,
    }
}
