//! `v3electionpb.Election`: Campaign waits until the caller's key is the oldest under
//! the election's name; Proclaim and Resign act only while the caller still leads
//! (its key's create revision unchanged); Leader reads the oldest key; Observe streams
//! every change of leader or proclaimed value.

use super::{counted, recipes, Api};
use crate::convert;
use crate::pb::v3electionpb::{self as pb, election_server::Election};
use bytes::Bytes;
use detcd_core::api::{
    Compare, CompareResult, CompareTarget, DeleteRangeRequest, PutRequest, RequestOp, TargetUnion,
    TxnRequest, WatchCreateRequest,
};
use std::sync::Arc;
use tokio::sync::mpsc;
use tonic::{Request as Req, Response as Resp, Status};

pub struct ElectionService(pub Arc<Api>);

const SERVICE: &str = "v3electionpb.Election";

fn not_leader() -> Status {
    Status::failed_precondition("election: not leader")
}

fn no_leader() -> Status {
    Status::not_found("election: no leader")
}

fn prefix_of(name: &[u8]) -> Vec<u8> {
    let mut p = name.to_vec();
    p.push(b'/');
    p
}

/// A txn that runs `op` only while `leader` still holds its key.
fn while_leading(leader: &pb::LeaderKey, op: RequestOp) -> TxnRequest {
    let holds = Compare {
        result: CompareResult::Equal,
        target: CompareTarget::Create,
        key: leader.key.clone(),
        target_union: TargetUnion::CreateRevision(leader.rev),
        range_end: Bytes::new(),
    };
    TxnRequest { compare: vec![holds], success: vec![op], failure: vec![] }
}

#[tonic::async_trait]
impl Election for ElectionService {
    async fn campaign(
        &self,
        req: Req<pb::CampaignRequest>,
    ) -> Result<Resp<pb::CampaignResponse>, Status> {
        let result = async {
            let req = req.into_inner();
            let h = &self.0.handle;
            let key = recipes::owned_key(&req.name, req.lease);
            let (rev, _, existing) =
                recipes::create_owned(h, &key, req.value.clone(), req.lease).await?;
            let leader =
                pb::LeaderKey { name: req.name.clone(), key: key.clone(), rev, lease: req.lease };
            if existing.is_some_and(|kv| kv.value != req.value) {
                let put = RequestOp::Put(PutRequest {
                    key,
                    value: req.value,
                    lease: req.lease,
                    ..Default::default()
                });
                recipes::txn(h, while_leading(&leader, put)).await?;
            }
            let header = recipes::wait_deletes(h, &prefix_of(&req.name), rev).await?;
            Ok(pb::CampaignResponse { header: convert::header(header), leader: Some(leader) })
        }
        .await;
        counted(&self.0, SERVICE, "Campaign", result)
    }

    async fn proclaim(
        &self,
        req: Req<pb::ProclaimRequest>,
    ) -> Result<Resp<pb::ProclaimResponse>, Status> {
        let result = async {
            let req = req.into_inner();
            let leader = req.leader.ok_or_else(not_leader)?;
            let put = RequestOp::Put(PutRequest {
                key: leader.key.clone(),
                value: req.value,
                lease: leader.lease,
                ..Default::default()
            });
            let r = recipes::txn(&self.0.handle, while_leading(&leader, put)).await?;
            if !r.succeeded {
                return Err(not_leader());
            }
            Ok(pb::ProclaimResponse { header: convert::header(r.header) })
        }
        .await;
        counted(&self.0, SERVICE, "Proclaim", result)
    }

    async fn leader(
        &self,
        req: Req<pb::LeaderRequest>,
    ) -> Result<Resp<pb::LeaderResponse>, Status> {
        let result = async {
            let name = req.into_inner().name;
            let (header, kv) = recipes::first_owner(&self.0.handle, &prefix_of(&name)).await?;
            let kv = kv.ok_or_else(no_leader)?;
            Ok(pb::LeaderResponse { header: convert::header(header), kv: Some(convert::kv(kv)) })
        }
        .await;
        counted(&self.0, SERVICE, "Leader", result)
    }

    type ObserveStream = tokio_stream::wrappers::ReceiverStream<Result<pb::LeaderResponse, Status>>;

    async fn observe(
        &self,
        req: Req<pb::LeaderRequest>,
    ) -> Result<Resp<Self::ObserveStream>, Status> {
        let name = req.into_inner().name;
        let (tx, rx) = mpsc::channel(16);
        let api = self.0.clone();
        self.0.metrics.grpc("server_stream", SERVICE, "Observe", tonic::Code::Ok);
        tokio::spawn(async move {
            let prefix = prefix_of(&name);
            let h = &api.handle;
            let mut last: Option<(Bytes, i64)> = None;
            loop {
                let (header, kv) = match recipes::first_owner(h, &prefix).await {
                    Ok(x) => x,
                    Err(s) => {
                        let _ = tx.send(Err(s)).await;
                        return;
                    }
                };
                if let Some(kv) = kv {
                    let seen = (kv.key.clone(), kv.mod_revision);
                    if last.as_ref() != Some(&seen) {
                        last = Some(seen);
                        let resp = pb::LeaderResponse {
                            header: convert::header(header),
                            kv: Some(convert::kv(kv)),
                        };
                        if tx.send(Ok(resp)).await.is_err() {
                            return;
                        }
                    }
                }
                // Wait for any change under the prefix after what was read.
                let create = WatchCreateRequest {
                    key: Bytes::from(prefix.clone()),
                    range_end: recipes::prefix_end(&prefix),
                    start_revision: header.revision + 1,
                    ..Default::default()
                };
                let mut events = match recipes::WatchEvents::open(h, create) {
                    Ok(e) => e,
                    Err(s) => {
                        let _ = tx.send(Err(s)).await;
                        return;
                    }
                };
                loop {
                    tokio::select! {
                        next = events.next() => match next {
                            Ok(Some(evs)) if !evs.is_empty() => break,
                            Ok(Some(_)) => continue,
                            Ok(None) => break,
                            Err(s) => {
                                let _ = tx.send(Err(s)).await;
                                return;
                            }
                        },
                        _ = tx.closed() => return,
                    }
                }
                events.close().await;
            }
        });
        Ok(Resp::new(tokio_stream::wrappers::ReceiverStream::new(rx)))
    }

    async fn resign(
        &self,
        req: Req<pb::ResignRequest>,
    ) -> Result<Resp<pb::ResignResponse>, Status> {
        let result = async {
            let leader = req.into_inner().leader.ok_or_else(not_leader)?;
            let del = RequestOp::DeleteRange(DeleteRangeRequest {
                key: leader.key.clone(),
                ..Default::default()
            });
            let r = recipes::txn(&self.0.handle, while_leading(&leader, del)).await?;
            Ok(pb::ResignResponse { header: convert::header(r.header) })
        }
        .await;
        counted(&self.0, SERVICE, "Resign", result)
    }
}
