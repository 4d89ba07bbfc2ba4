//! Conversions between etcd's wire messages (`pb`) and the core's API values
//! (`detcd_core::api`), and from the core's errors to gRPC statuses.
//!
//! Wire input is untrusted: an enum value the core does not know is an
//! `InvalidArgument`, never a panic.

use crate::pb::{etcdserverpb as pb, mvccpb};
use detcd_core::api;
use tonic::{Code, Status};

/// The gRPC status etcd answers for `e`: same code, same message (clients match on it).
pub fn status(e: api::EtcdError) -> Status {
    Status::new(Code::from_i32(e.code().grpc_code()), e.message())
}

fn bad_enum(what: &str, v: i32) -> Status {
    Status::invalid_argument(format!("etcdserver: unknown {what} {v}"))
}

pub fn header(h: api::ResponseHeader) -> Option<pb::ResponseHeader> {
    Some(pb::ResponseHeader {
        cluster_id: h.cluster_id,
        member_id: h.member_id,
        revision: h.revision,
        raft_term: h.raft_term,
    })
}

pub fn kv(k: api::KeyValue) -> mvccpb::KeyValue {
    mvccpb::KeyValue {
        key: k.key,
        create_revision: k.create_revision,
        mod_revision: k.mod_revision,
        version: k.version,
        value: k.value,
        lease: k.lease,
    }
}

pub fn event(e: api::Event) -> mvccpb::Event {
    let r#type = match e.r#type {
        api::EventType::Put => mvccpb::event::EventType::Put,
        api::EventType::Delete => mvccpb::event::EventType::Delete,
    };
    mvccpb::Event { r#type: r#type as i32, kv: Some(kv(e.kv)), prev_kv: e.prev_kv.map(kv) }
}

// ---- KV requests ----

pub fn range_request(r: pb::RangeRequest) -> Result<api::RangeRequest, Status> {
    use pb::range_request::{SortOrder, SortTarget};
    let sort_order = match SortOrder::try_from(r.sort_order) {
        Ok(SortOrder::None) => api::SortOrder::None,
        Ok(SortOrder::Ascend) => api::SortOrder::Ascend,
        Ok(SortOrder::Descend) => api::SortOrder::Descend,
        Err(_) => return Err(bad_enum("sort order", r.sort_order)),
    };
    let sort_target = match SortTarget::try_from(r.sort_target) {
        Ok(SortTarget::Key) => api::SortTarget::Key,
        Ok(SortTarget::Version) => api::SortTarget::Version,
        Ok(SortTarget::Create) => api::SortTarget::Create,
        Ok(SortTarget::Mod) => api::SortTarget::Mod,
        Ok(SortTarget::Value) => api::SortTarget::Value,
        Err(_) => return Err(bad_enum("sort target", r.sort_target)),
    };
    Ok(api::RangeRequest {
        key: r.key,
        range_end: r.range_end,
        limit: r.limit,
        revision: r.revision,
        sort_order,
        sort_target,
        serializable: r.serializable,
        keys_only: r.keys_only,
        count_only: r.count_only,
        min_mod_revision: r.min_mod_revision,
        max_mod_revision: r.max_mod_revision,
        min_create_revision: r.min_create_revision,
        max_create_revision: r.max_create_revision,
    })
}

pub fn put_request(p: pb::PutRequest) -> api::PutRequest {
    api::PutRequest {
        key: p.key,
        value: p.value,
        lease: p.lease,
        prev_kv: p.prev_kv,
        ignore_value: p.ignore_value,
        ignore_lease: p.ignore_lease,
    }
}

pub fn delete_request(d: pb::DeleteRangeRequest) -> api::DeleteRangeRequest {
    api::DeleteRangeRequest { key: d.key, range_end: d.range_end, prev_kv: d.prev_kv }
}

fn compare(c: pb::Compare) -> Result<api::Compare, Status> {
    use pb::compare::{CompareResult, CompareTarget, TargetUnion};
    let result = match CompareResult::try_from(c.result) {
        Ok(CompareResult::Equal) => api::CompareResult::Equal,
        Ok(CompareResult::Greater) => api::CompareResult::Greater,
        Ok(CompareResult::Less) => api::CompareResult::Less,
        Ok(CompareResult::NotEqual) => api::CompareResult::NotEqual,
        Err(_) => return Err(bad_enum("compare result", c.result)),
    };
    let target = match CompareTarget::try_from(c.target) {
        Ok(CompareTarget::Version) => api::CompareTarget::Version,
        Ok(CompareTarget::Create) => api::CompareTarget::Create,
        Ok(CompareTarget::Mod) => api::CompareTarget::Mod,
        Ok(CompareTarget::Value) => api::CompareTarget::Value,
        Ok(CompareTarget::Lease) => api::CompareTarget::Lease,
        Err(_) => return Err(bad_enum("compare target", c.target)),
    };
    // etcd reads the union member that matches the target; an absent union compares
    // against the zero value of the target's type.
    let target_union = match (target, c.target_union) {
        (_, Some(TargetUnion::Version(v))) if target == api::CompareTarget::Version => {
            api::TargetUnion::Version(v)
        }
        (_, Some(TargetUnion::CreateRevision(v))) if target == api::CompareTarget::Create => {
            api::TargetUnion::CreateRevision(v)
        }
        (_, Some(TargetUnion::ModRevision(v))) if target == api::CompareTarget::Mod => {
            api::TargetUnion::ModRevision(v)
        }
        (_, Some(TargetUnion::Value(v))) if target == api::CompareTarget::Value => {
            api::TargetUnion::Value(v)
        }
        (_, Some(TargetUnion::Lease(v))) if target == api::CompareTarget::Lease => {
            api::TargetUnion::Lease(v)
        }
        (api::CompareTarget::Version, _) => api::TargetUnion::Version(0),
        (api::CompareTarget::Create, _) => api::TargetUnion::CreateRevision(0),
        (api::CompareTarget::Mod, _) => api::TargetUnion::ModRevision(0),
        (api::CompareTarget::Value, _) => api::TargetUnion::Value(Default::default()),
        (api::CompareTarget::Lease, _) => api::TargetUnion::Lease(0),
    };
    Ok(api::Compare { result, target, key: c.key, target_union, range_end: c.range_end })
}

fn request_op(op: pb::RequestOp) -> Result<api::RequestOp, Status> {
    use pb::request_op::Request as R;
    Ok(match op.request {
        Some(R::RequestRange(r)) => api::RequestOp::Range(range_request(r)?),
        Some(R::RequestPut(p)) => api::RequestOp::Put(put_request(p)),
        Some(R::RequestDeleteRange(d)) => api::RequestOp::DeleteRange(delete_request(d)),
        Some(R::RequestTxn(t)) => api::RequestOp::Txn(txn_request(t)?),
        None => return Err(status(api::EtcdError::KeyNotFound)),
    })
}

pub fn txn_request(t: pb::TxnRequest) -> Result<api::TxnRequest, Status> {
    Ok(api::TxnRequest {
        compare: t.compare.into_iter().map(compare).collect::<Result<_, _>>()?,
        success: t.success.into_iter().map(request_op).collect::<Result<_, _>>()?,
        failure: t.failure.into_iter().map(request_op).collect::<Result<_, _>>()?,
    })
}

// ---- KV responses ----

pub fn range_response(r: api::RangeResponse) -> pb::RangeResponse {
    pb::RangeResponse {
        header: header(r.header),
        kvs: r.kvs.into_iter().map(kv).collect(),
        more: r.more,
        count: r.count,
    }
}

pub fn put_response(r: api::PutResponse) -> pb::PutResponse {
    pb::PutResponse { header: header(r.header), prev_kv: r.prev_kv.map(kv) }
}

pub fn delete_response(r: api::DeleteRangeResponse) -> pb::DeleteRangeResponse {
    pb::DeleteRangeResponse {
        header: header(r.header),
        deleted: r.deleted,
        prev_kvs: r.prev_kvs.into_iter().map(kv).collect(),
    }
}

fn response_op(op: api::ResponseOp) -> pb::ResponseOp {
    use pb::response_op::Response as R;
    let response = match op {
        api::ResponseOp::Range(r) => R::ResponseRange(range_response(r)),
        api::ResponseOp::Put(r) => R::ResponsePut(put_response(r)),
        api::ResponseOp::DeleteRange(r) => R::ResponseDeleteRange(delete_response(r)),
        api::ResponseOp::Txn(r) => R::ResponseTxn(txn_response(r)),
    };
    pb::ResponseOp { response: Some(response) }
}

pub fn txn_response(r: api::TxnResponse) -> pb::TxnResponse {
    pb::TxnResponse {
        header: header(r.header),
        succeeded: r.succeeded,
        responses: r.responses.into_iter().map(response_op).collect(),
    }
}

// ---- watch ----

pub fn watch_create(c: pb::WatchCreateRequest) -> Result<api::WatchCreateRequest, Status> {
    use pb::watch_create_request::FilterType;
    let filters = c
        .filters
        .iter()
        .map(|&f| match FilterType::try_from(f) {
            Ok(FilterType::Noput) => Ok(api::FilterType::NoPut),
            Ok(FilterType::Nodelete) => Ok(api::FilterType::NoDelete),
            Err(_) => Err(bad_enum("watch filter", f)),
        })
        .collect::<Result<_, _>>()?;
    Ok(api::WatchCreateRequest {
        key: c.key,
        range_end: c.range_end,
        start_revision: c.start_revision,
        progress_notify: c.progress_notify,
        filters,
        prev_kv: c.prev_kv,
        watch_id: c.watch_id,
        fragment: c.fragment,
    })
}

pub fn watch_response(w: api::WatchResponse) -> pb::WatchResponse {
    pb::WatchResponse {
        header: header(w.header),
        watch_id: w.watch_id,
        created: w.created,
        canceled: w.canceled,
        compact_revision: w.compact_revision,
        cancel_reason: w.cancel_reason,
        fragment: w.fragment,
        events: w.events.into_iter().map(event).collect(),
    }
}

// ---- leases ----

pub fn lease_grant_response(r: api::LeaseGrantResponse) -> pb::LeaseGrantResponse {
    pb::LeaseGrantResponse { header: header(r.header), id: r.id, ttl: r.ttl, error: r.error }
}

pub fn lease_keep_alive_response(r: api::LeaseKeepAliveResponse) -> pb::LeaseKeepAliveResponse {
    pb::LeaseKeepAliveResponse { header: header(r.header), id: r.id, ttl: r.ttl }
}

pub fn lease_ttl_response(r: api::LeaseTimeToLiveResponse) -> pb::LeaseTimeToLiveResponse {
    pb::LeaseTimeToLiveResponse {
        header: header(r.header),
        id: r.id,
        ttl: r.ttl,
        granted_ttl: r.granted_ttl,
        keys: r.keys,
    }
}

pub fn lease_leases_response(r: api::LeaseLeasesResponse) -> pb::LeaseLeasesResponse {
    pb::LeaseLeasesResponse {
        header: header(r.header),
        leases: r.leases.into_iter().map(|l| pb::LeaseStatus { id: l.id }).collect(),
    }
}
