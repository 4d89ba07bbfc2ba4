//! `etcdserverpb.KV`: Range, Put, DeleteRange, Txn, Compact.

use super::auth;
use super::{answer, unary, Api};
use crate::convert;
use crate::pb::etcdserverpb::{self as pb, kv_server::Kv};
use detcd_core::server::Request;
use std::sync::Arc;
use tonic::{Request as Req, Response as Resp, Status};

pub struct KvService(pub Arc<Api>);

const SERVICE: &str = "etcdserverpb.KV";

#[tonic::async_trait]
impl Kv for KvService {
    async fn range(&self, req: Req<pb::RangeRequest>) -> Result<Resp<pb::RangeResponse>, Status> {
        unary(&self.0, SERVICE, "Range", async move {
            let (sender, range) = auth::split(req);
            let r = auth::sent_by(sender, Request::Range(convert::range_request(range)?));
            let r = answer!(self.0.handle.call(r).await?, Range)?;
            Ok(convert::range_response(r))
        })
        .await
    }

    type RangeStreamStream = std::pin::Pin<
        Box<dyn futures::Stream<Item = Result<pb::RangeStreamResponse, Status>> + Send>,
    >;

    async fn range_stream(
        &self,
        _req: Req<pb::RangeRequest>,
    ) -> Result<Resp<Self::RangeStreamStream>, Status> {
        // Not part of etcd 3.4/3.5/3.6's API; clients of those versions never call it.
        Err(Status::unimplemented("etcdserver: RangeStream is not supported"))
    }

    async fn put(&self, req: Req<pb::PutRequest>) -> Result<Resp<pb::PutResponse>, Status> {
        unary(&self.0, SERVICE, "Put", async move {
            let (sender, put) = auth::split(req);
            let p = auth::sent_by(sender, Request::Put(convert::put_request(put)));
            let r = answer!(self.0.handle.call(p).await?, Put)?;
            Ok(convert::put_response(r))
        })
        .await
    }

    async fn delete_range(
        &self,
        req: Req<pb::DeleteRangeRequest>,
    ) -> Result<Resp<pb::DeleteRangeResponse>, Status> {
        unary(&self.0, SERVICE, "DeleteRange", async move {
            let (sender, delete) = auth::split(req);
            let d = auth::sent_by(sender, Request::DeleteRange(convert::delete_request(delete)));
            let r = answer!(self.0.handle.call(d).await?, DeleteRange)?;
            Ok(convert::delete_response(r))
        })
        .await
    }

    async fn txn(&self, req: Req<pb::TxnRequest>) -> Result<Resp<pb::TxnResponse>, Status> {
        unary(&self.0, SERVICE, "Txn", async move {
            let (sender, txn) = auth::split(req);
            let t = auth::sent_by(sender, Request::Txn(convert::txn_request(txn)?));
            let r = answer!(self.0.handle.call(t).await?, Txn)?;
            Ok(convert::txn_response(r))
        })
        .await
    }

    async fn compact(
        &self,
        req: Req<pb::CompactionRequest>,
    ) -> Result<Resp<pb::CompactionResponse>, Status> {
        unary(&self.0, SERVICE, "Compact", async {
            let c = req.get_ref();
            let c =
                detcd_core::api::CompactionRequest { revision: c.revision, physical: c.physical };
            let c = super::auth::as_sender(&req, Request::Compact(c));
            let r = answer!(self.0.handle.call(c).await?, Compact)?;
            Ok(pb::CompactionResponse { header: convert::header(r.header) })
        })
        .await
    }
}
