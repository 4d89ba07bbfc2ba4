//! `etcdserverpb.KV`: Range, Put, DeleteRange, Txn, Compact.

use super::{counted, unexpected, Api};
use crate::convert;
use crate::pb::etcdserverpb::{self as pb, kv_server::Kv};
use detcd_core::server::{Request, Response};
use std::sync::Arc;
use tonic::{Request as Req, Response as Resp, Status};

pub struct KvService(pub Arc<Api>);

const SERVICE: &str = "etcdserverpb.KV";

#[tonic::async_trait]
impl Kv for KvService {
    async fn range(&self, req: Req<pb::RangeRequest>) -> Result<Resp<pb::RangeResponse>, Status> {
        let result = async {
            let r = convert::range_request(req.into_inner())?;
            match self.0.handle.call(Request::Range(r)).await? {
                Response::Range(r) => Ok(convert::range_response(r)),
                other => Err(unexpected(other)),
            }
        }
        .await;
        counted(&self.0, SERVICE, "Range", result)
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
        let result = async {
            let p = convert::put_request(req.into_inner());
            match self.0.handle.call(Request::Put(p)).await? {
                Response::Put(r) => Ok(convert::put_response(r)),
                other => Err(unexpected(other)),
            }
        }
        .await;
        counted(&self.0, SERVICE, "Put", result)
    }

    async fn delete_range(
        &self,
        req: Req<pb::DeleteRangeRequest>,
    ) -> Result<Resp<pb::DeleteRangeResponse>, Status> {
        let result = async {
            let d = convert::delete_request(req.into_inner());
            match self.0.handle.call(Request::DeleteRange(d)).await? {
                Response::DeleteRange(r) => Ok(convert::delete_response(r)),
                other => Err(unexpected(other)),
            }
        }
        .await;
        counted(&self.0, SERVICE, "DeleteRange", result)
    }

    async fn txn(&self, req: Req<pb::TxnRequest>) -> Result<Resp<pb::TxnResponse>, Status> {
        let result = async {
            let t = convert::txn_request(req.into_inner())?;
            match self.0.handle.call(Request::Txn(t)).await? {
                Response::Txn(r) => Ok(convert::txn_response(r)),
                other => Err(unexpected(other)),
            }
        }
        .await;
        counted(&self.0, SERVICE, "Txn", result)
    }

    async fn compact(
        &self,
        req: Req<pb::CompactionRequest>,
    ) -> Result<Resp<pb::CompactionResponse>, Status> {
        let result = async {
            let c = req.into_inner();
            let c =
                detcd_core::api::CompactionRequest { revision: c.revision, physical: c.physical };
            match self.0.handle.call(Request::Compact(c)).await? {
                Response::Compact(r) => {
                    Ok(pb::CompactionResponse { header: convert::header(r.header) })
                }
                other => Err(unexpected(other)),
            }
        }
        .await;
        counted(&self.0, SERVICE, "Compact", result)
    }
}
