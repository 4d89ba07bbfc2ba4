//! `v3lockpb.Lock`: Lock waits until the caller's key (owned by its lease) is the
//! oldest under the lock's name; the key and header revision it returns serve as a
//! fencing token. Unlock deletes the key.

use super::{counted, recipes, Api};
use crate::convert;
use crate::pb::v3lockpb::{self as pb, lock_server::Lock};
use bytes::Bytes;
use std::sync::Arc;
use tonic::{Request as Req, Response as Resp, Status};

pub struct LockService(pub Arc<Api>);

const SERVICE: &str = "v3lockpb.Lock";

#[tonic::async_trait]
impl Lock for LockService {
    async fn lock(&self, req: Req<pb::LockRequest>) -> Result<Resp<pb::LockResponse>, Status> {
        let result = async {
            let req = req.into_inner();
            let h = &self.0.handle;
            let mut prefix = req.name.to_vec();
            prefix.push(b'/');
            let key = recipes::owned_key(&req.name, req.lease);
            let (my_rev, _, _) = recipes::create_owned(h, &key, Bytes::new(), req.lease).await?;
            let header = recipes::wait_deletes(h, &prefix, my_rev).await?;
            Ok(pb::LockResponse { header: convert::header(header), key })
        }
        .await;
        counted(&self.0, SERVICE, "Lock", result)
    }

    async fn unlock(
        &self,
        req: Req<pb::UnlockRequest>,
    ) -> Result<Resp<pb::UnlockResponse>, Status> {
        let result = async {
            let header = recipes::delete(&self.0.handle, req.into_inner().key).await?;
            Ok(pb::UnlockResponse { header: convert::header(header) })
        }
        .await;
        counted(&self.0, SERVICE, "Unlock", result)
    }
}
