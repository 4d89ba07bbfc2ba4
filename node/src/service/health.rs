//! `grpc.health.v1.Health`, registered as etcd does: the empty service name is SERVING
//! while the member runs.

use crate::pb::health::{self as pb, health_server::Health};
use tonic::{Request, Response, Status};

pub struct HealthService;

fn serving() -> pb::HealthCheckResponse {
    pb::HealthCheckResponse { status: pb::health_check_response::ServingStatus::Serving as i32 }
}

#[tonic::async_trait]
impl Health for HealthService {
    async fn check(
        &self,
        req: Request<pb::HealthCheckRequest>,
    ) -> Result<Response<pb::HealthCheckResponse>, Status> {
        let service = req.into_inner().service;
        if !service.is_empty() {
            return Err(Status::not_found("unknown service"));
        }
        Ok(Response::new(serving()))
    }

    type WatchStream =
        tokio_stream::wrappers::ReceiverStream<Result<pb::HealthCheckResponse, Status>>;

    async fn watch(
        &self,
        req: Request<pb::HealthCheckRequest>,
    ) -> Result<Response<Self::WatchStream>, Status> {
        let service = req.into_inner().service;
        let (tx, rx) = tokio::sync::mpsc::channel(1);
        let answer = if service.is_empty() {
            Ok(serving())
        } else {
            Ok(pb::HealthCheckResponse {
                status: pb::health_check_response::ServingStatus::ServiceUnknown as i32,
            })
        };
        let _ = tx.send(answer).await;
        // The sender lives as long as the stream so the client sees no end.
        tokio::spawn(async move { tx.closed().await });
        Ok(Response::new(tokio_stream::wrappers::ReceiverStream::new(rx)))
    }
}
