//! `etcdserverpb.Maintenance`: Status, Alarm, Hash, HashKV, Defragment, Snapshot (with
//! etcd's sha256 trailer), MoveLeader. With auth enabled, etcd 3.4 keeps Defragment,
//! Snapshot, Hash and HashKV for the root role; Status, Alarm and MoveLeader are open.

use super::{counted, unexpected, Api};
use crate::convert;
use crate::driver::{Local, NOSPACE_ALARM};
use crate::pb::etcdserverpb::{self as pb, maintenance_server::Maintenance};
use bytes::Bytes;
use detcd_core::server::{Request, Response};
use sha2::{Digest, Sha256};
use std::sync::Arc;
use tokio::sync::mpsc;
use tonic::{Request as Req, Response as Resp, Status};

pub struct MaintenanceService(pub Arc<Api>);

const SERVICE: &str = "etcdserverpb.Maintenance";
/// The version Status reports. Clients (Kubernetes among them) gate features on it, so
/// it reads as the etcd release whose API detcd serves.
pub const SERVER_VERSION: &str = "3.5.0";
/// etcd streams snapshots in 32 KiB chunks.
const SNAPSHOT_CHUNK_BYTES: usize = 32 * 1024;

impl MaintenanceService {
    /// The root role, when auth is enabled. etcd 3.4 returns the auth store's error
    /// untranslated here: code Unknown, `auth: ...` (e.g. `auth: permission denied`).
    async fn admin<T>(&self, req: &Req<T>) -> Result<(), Status> {
        self.0.handle.check_admin(super::auth::credential(req)).await.map_err(|s| {
            if s.code() == tonic::Code::Unavailable {
                return s;
            }
            let reason = s.message().strip_prefix("etcdserver: ").unwrap_or(s.message());
            Status::unknown(format!("auth: {reason}"))
        })
    }
}

#[tonic::async_trait]
impl Maintenance for MaintenanceService {
    async fn alarm(&self, req: Req<pb::AlarmRequest>) -> Result<Resp<pb::AlarmResponse>, Status> {
        use pb::alarm_request::AlarmAction;
        let result = async {
            let req = req.into_inner();
            let action = AlarmAction::try_from(req.action);
            let info = match action {
                Ok(AlarmAction::Deactivate) if req.alarm == NOSPACE_ALARM || req.alarm == 0 => {
                    self.0.handle.local(|reply| Local::Disarm { reply }).await?
                }
                _ => self.0.handle.info().await?,
            };
            // etcd answers a GET from memory with no header at all.
            let header = match action {
                Ok(AlarmAction::Get) => None,
                _ => convert::header(info.header),
            };
            let alarms = info
                .alarms
                .iter()
                .map(|&(member_id, alarm)| pb::AlarmMember { member_id, alarm })
                .collect();
            Ok(pb::AlarmResponse { header, alarms })
        }
        .await;
        counted(&self.0, SERVICE, "Alarm", result)
    }

    async fn status(&self, _: Req<pb::StatusRequest>) -> Result<Resp<pb::StatusResponse>, Status> {
        let result = async {
            let info = self.0.handle.info().await?;
            let errors = if info.alarms.is_empty() {
                Vec::new()
            } else {
                vec![
                    "memberID:".to_string()
                        + &info.header.member_id.to_string()
                        + " alarm:NOSPACE ",
                ]
            };
            Ok(pb::StatusResponse {
                header: convert::header(info.header),
                version: SERVER_VERSION.to_string(),
                db_size: info.db_size_bytes,
                leader: info.leader,
                raft_index: info.raft_index,
                raft_term: info.raft_term,
                raft_applied_index: info.raft_applied_index,
                errors,
                db_size_in_use: info.db_size_in_use_bytes,
                is_learner: info.is_learner,
                ..Default::default()
            })
        }
        .await;
        counted(&self.0, SERVICE, "Status", result)
    }

    async fn defragment(
        &self,
        req: Req<pb::DefragmentRequest>,
    ) -> Result<Resp<pb::DefragmentResponse>, Status> {
        // detcd's storage is a log cleaned by snapshots: defragmenting takes a snapshot
        // now, so the log behind it and the history a compaction removed are dropped.
        let result = async {
            self.admin(&req).await?;
            let info = self.0.handle.local(|reply| Local::Defragment { reply }).await?;
            Ok(pb::DefragmentResponse { header: convert::header(info.header) })
        }
        .await;
        counted(&self.0, SERVICE, "Defragment", result)
    }

    async fn hash(&self, req: Req<pb::HashRequest>) -> Result<Resp<pb::HashResponse>, Status> {
        let result = async {
            self.admin(&req).await?;
            let (hash, header) = self.0.handle.local(|reply| Local::Hash { reply }).await?;
            Ok(pb::HashResponse { header: convert::header(header), hash })
        }
        .await;
        counted(&self.0, SERVICE, "Hash", result)
    }

    async fn hash_kv(
        &self,
        req: Req<pb::HashKvRequest>,
    ) -> Result<Resp<pb::HashKvResponse>, Status> {
        let result = async {
            self.admin(&req).await?;
            let revision = req.into_inner().revision;
            let r = self
                .0
                .handle
                .local(|reply| Local::HashKv { revision, reply })
                .await?
                .map_err(convert::status)?;
            Ok(pb::HashKvResponse {
                header: convert::header(r.header),
                hash: r.hash,
                compact_revision: r.compact_revision,
                hash_revision: r.header.revision,
            })
        }
        .await;
        counted(&self.0, SERVICE, "HashKV", result)
    }

    type SnapshotStream =
        tokio_stream::wrappers::ReceiverStream<Result<pb::SnapshotResponse, Status>>;

    async fn snapshot(
        &self,
        req: Req<pb::SnapshotRequest>,
    ) -> Result<Resp<Self::SnapshotStream>, Status> {
        if let Err(e) = self.admin(&req).await {
            self.0.metrics.grpc("server_stream", SERVICE, "Snapshot", e.code());
            return Err(e);
        }
        let (image, header) = self.0.handle.local(|reply| Local::Snapshot { reply }).await?;
        self.0.metrics.grpc("server_stream", SERVICE, "Snapshot", tonic::Code::Ok);
        let blob = snapshot_blob(&image);
        let (tx, rx) = mpsc::channel(4);
        tokio::spawn(async move {
            let total = blob.len();
            let mut sent = 0;
            while sent < total {
                let end = (sent + SNAPSHOT_CHUNK_BYTES).min(total);
                let chunk = pb::SnapshotResponse {
                    header: convert::header(header),
                    remaining_bytes: (total - end) as u64,
                    blob: blob.slice(sent..end),
                    version: SERVER_VERSION.to_string(),
                };
                if tx.send(Ok(chunk)).await.is_err() {
                    return;
                }
                sent = end;
            }
        });
        Ok(Resp::new(tokio_stream::wrappers::ReceiverStream::new(rx)))
    }

    async fn move_leader(
        &self,
        req: Req<pb::MoveLeaderRequest>,
    ) -> Result<Resp<pb::MoveLeaderResponse>, Status> {
        let result = async {
            let target = req.into_inner().target_id;
            match self.0.handle.call(Request::MoveLeader { target }).await? {
                Response::MoveLeader(r) => {
                    Ok(pb::MoveLeaderResponse { header: convert::header(r.header) })
                }
                other => Err(unexpected(other)),
            }
        }
        .await;
        counted(&self.0, SERVICE, "MoveLeader", result)
    }

    async fn downgrade(
        &self,
        _: Req<pb::DowngradeRequest>,
    ) -> Result<Resp<pb::DowngradeResponse>, Status> {
        counted(
            &self.0,
            SERVICE,
            "Downgrade",
            Err(Status::unimplemented("detcd: downgrade is not supported")),
        )
    }
}

/// The snapshot as etcd streams it: the image padded with zeros to a multiple of 512
/// bytes, then the SHA-256 of what precedes (etcdctl checks `size % 512 == 32` and the
/// hash before it accepts the file).
pub fn snapshot_blob(image: &[u8]) -> Bytes {
    let padded = image.len().div_ceil(512) * 512;
    let mut blob = Vec::with_capacity(padded + 32);
    blob.extend_from_slice(image);
    blob.resize(padded, 0);
    let digest = Sha256::digest(&blob);
    blob.extend_from_slice(&digest);
    Bytes::from(blob)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snapshot_blob_has_etcds_shape() {
        for len in [0usize, 1, 511, 512, 513, 40_000] {
            let image = vec![7u8; len];
            let blob = snapshot_blob(&image);
            assert_eq!(blob.len() % 512, 32, "len {len}");
            let (body, sum) = blob.split_at(blob.len() - 32);
            assert_eq!(Sha256::digest(body).as_slice(), sum);
            assert_eq!(&body[..len], &image[..]);
        }
    }
}
