//! `etcdserverpb.Lease`: Grant, Revoke, the KeepAlive stream, TimeToLive, Leases.

use super::{answer, unary, unexpected, Api};
use crate::convert;
use crate::pb::etcdserverpb::{self as pb, lease_server::Lease};
use detcd_core::api::{self, EtcdError};
use detcd_core::server::{Request, Response};
use std::sync::Arc;
use tokio::sync::mpsc;
use tonic::{Request as Req, Response as Resp, Status, Streaming};

pub struct LeaseService(pub Arc<Api>);

const SERVICE: &str = "etcdserverpb.Lease";
/// Keep-alive answers buffered for a client before its stream waits.
const KEEPALIVE_BUFFER: usize = 64;

#[tonic::async_trait]
impl Lease for LeaseService {
    async fn lease_grant(
        &self,
        req: Req<pb::LeaseGrantRequest>,
    ) -> Result<Resp<pb::LeaseGrantResponse>, Status> {
        unary(&self.0, SERVICE, "LeaseGrant", async {
            let g = req.into_inner();
            let g = api::LeaseGrantRequest { ttl: g.ttl, id: g.id };
            let r = answer!(self.0.handle.call(Request::LeaseGrant(g)).await?, LeaseGrant)?;
            Ok(convert::lease_grant_response(r))
        })
        .await
    }

    async fn lease_revoke(
        &self,
        req: Req<pb::LeaseRevokeRequest>,
    ) -> Result<Resp<pb::LeaseRevokeResponse>, Status> {
        unary(&self.0, SERVICE, "LeaseRevoke", async {
            let r = api::LeaseRevokeRequest { id: req.get_ref().id };
            let r = super::auth::as_sender(&req, Request::LeaseRevoke(r));
            let r = answer!(self.0.handle.call(r).await?, LeaseRevoke)?;
            Ok(pb::LeaseRevokeResponse { header: convert::header(r.header) })
        })
        .await
    }

    type LeaseKeepAliveStream =
        tokio_stream::wrappers::ReceiverStream<Result<pb::LeaseKeepAliveResponse, Status>>;

    async fn lease_keep_alive(
        &self,
        req: Req<Streaming<pb::LeaseKeepAliveRequest>>,
    ) -> Result<Resp<Self::LeaseKeepAliveStream>, Status> {
        let mut input = req.into_inner();
        let (tx, rx) = mpsc::channel(KEEPALIVE_BUFFER);
        let api = self.0.clone();
        tokio::spawn(async move {
            while let Ok(Some(k)) = input.message().await {
                let answer = match api
                    .handle
                    .call(Request::LeaseKeepAlive(api::LeaseKeepAliveRequest { id: k.id }))
                    .await
                {
                    Ok(Response::LeaseKeepAlive(r)) => Ok(convert::lease_keep_alive_response(r)),
                    // etcd keeps the stream open and answers TTL 0 for a lease it does
                    // not know (expired or revoked).
                    Err(s) if s.message() == EtcdError::LeaseNotFound.message() => {
                        let info = api.handle.info().await.unwrap_or_default();
                        Ok(pb::LeaseKeepAliveResponse {
                            header: convert::header(info.header),
                            id: k.id,
                            ttl: 0,
                        })
                    }
                    Ok(other) => Err(unexpected(other)),
                    Err(s) => Err(s),
                };
                let failed = answer.is_err();
                if tx.send(answer).await.is_err() || failed {
                    break;
                }
            }
        });
        Ok(Resp::new(tokio_stream::wrappers::ReceiverStream::new(rx)))
    }

    async fn lease_time_to_live(
        &self,
        req: Req<pb::LeaseTimeToLiveRequest>,
    ) -> Result<Resp<pb::LeaseTimeToLiveResponse>, Status> {
        unary(&self.0, SERVICE, "LeaseTimeToLive", async {
            let t = req.into_inner();
            let t = api::LeaseTimeToLiveRequest { id: t.id, keys: t.keys };
            let r =
                answer!(self.0.handle.call(Request::LeaseTimeToLive(t)).await?, LeaseTimeToLive)?;
            Ok(convert::lease_ttl_response(r))
        })
        .await
    }

    async fn lease_leases(
        &self,
        _req: Req<pb::LeaseLeasesRequest>,
    ) -> Result<Resp<pb::LeaseLeasesResponse>, Status> {
        unary(&self.0, SERVICE, "LeaseLeases", async {
            let request = Request::LeaseLeases(api::LeaseLeasesRequest {});
            let r = answer!(self.0.handle.call(request).await?, LeaseLeases)?;
            Ok(convert::lease_leases_response(r))
        })
        .await
    }
}
