//! Conversions from etcd's wire answers (`pb`) back to the core's API values, for
//! detcd's own gRPC clients: the end-to-end tests and the madsim suite read real
//! members' answers into the values the harness's checks take.

use crate::pb::{etcdserverpb as pb, mvccpb};
use detcd_core::api;

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
