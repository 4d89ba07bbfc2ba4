//! The etcd v3 gRPC services a client port serves. Each handler converts the wire
//! request, hands it to the driver through [`Handle`], and converts the answer back;
//! no handler holds state of the store.

pub mod auth;
pub mod cluster;
pub mod election;
pub mod health;
pub mod kv;
pub mod lease;
pub mod lock;
pub mod maintenance;
pub mod recipes;
pub mod watch;

use crate::driver::Handle;
use crate::metrics::Metrics;
use detcd_core::server::Response;
use std::sync::Arc;
use tonic::Status;

/// What every service shares.
pub struct Api {
    pub handle: Handle,
    pub metrics: Arc<Metrics>,
    pub members: cluster::Directory,
}

/// An answer of the wrong kind from the driver: a bug in detcd, reported as etcd
/// reports its internal errors.
pub fn unexpected(r: Response) -> Status {
    Status::internal(format!("detcd: unexpected answer {r:?}"))
}

/// The driver's answer of the expected kind, or an internal error for any other.
macro_rules! answer {
    ($response:expr, $variant:ident) => {
        match $response {
            detcd_core::server::Response::$variant(r) => Ok(r),
            other => Err($crate::service::unexpected(other)),
        }
    };
}
pub(crate) use answer;

/// Runs a unary handler's body and counts its outcome.
pub async fn unary<T>(
    api: &Api,
    service: &'static str,
    method: &'static str,
    body: impl std::future::Future<Output = Result<T, Status>>,
) -> Result<tonic::Response<T>, Status> {
    counted(api, service, method, body.await)
}

/// Counts a unary call's outcome under etcd's gRPC metric names.
pub fn counted<T>(
    api: &Api,
    service: &'static str,
    method: &'static str,
    result: Result<T, Status>,
) -> Result<tonic::Response<T>, Status> {
    let code = result.as_ref().map_or_else(|s| s.code(), |_| tonic::Code::Ok);
    api.metrics.grpc("unary", service, method, code);
    result.map(tonic::Response::new)
}
