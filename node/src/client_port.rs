//! The client port: every etcd gRPC service, and — as etcd does on the same port —
//! HTTP/1 `/metrics` (Prometheus text), `/health` and `/version` in the real build.
//! madsim's tonic has no HTTP routes, so under `--cfg madsim` the port is gRPC only.

use crate::driver::Observed;
use crate::listen::Listener;
use crate::pb::etcdserverpb::{
    auth_server::AuthServer, cluster_server::ClusterServer, kv_server::KvServer,
    lease_server::LeaseServer, maintenance_server::MaintenanceServer, watch_server::WatchServer,
};
use crate::pb::health::health_server::HealthServer;
use crate::pb::v3electionpb::election_server::ElectionServer;
use crate::pb::v3lockpb::lock_server::LockServer;
use crate::service::{
    auth::AuthService, cluster::ClusterService, election::ElectionService, health::HealthService,
    kv::KvService, lease::LeaseService, lock::LockService, maintenance::MaintenanceService,
    watch::WatchService, Api,
};
use std::sync::Arc;
use tokio::sync::watch;

/// Adds every service of the client port to `$builder` (tonic's `RoutesBuilder` in the
/// real build, madsim's `Server` under simulation); one list serves both worlds.
macro_rules! client_services {
    ($builder:expr, $api:expr, $decode_max:expr) => {
        $builder
            .add_service(
                KvServer::new(KvService($api.clone())).max_decoding_message_size($decode_max),
            )
            .add_service(
                WatchServer::new(WatchService($api.clone())).max_decoding_message_size($decode_max),
            )
            .add_service(
                LeaseServer::new(LeaseService($api.clone())).max_decoding_message_size($decode_max),
            )
            .add_service(ClusterServer::new(ClusterService($api.clone())))
            .add_service(MaintenanceServer::new(MaintenanceService($api.clone())))
            .add_service(AuthServer::new(AuthService($api.clone())))
            .add_service(LockServer::new(LockService($api.clone())))
            .add_service(ElectionServer::new(ElectionService($api.clone())))
            .add_service(HealthServer::new(HealthService))
    };
}

/// Serves the client port on `listener` (over TLS only when `tls` is given) until
/// `signal` resolves; requests larger than `decode_max` bytes are refused by gRPC itself.
#[cfg(not(madsim))]
pub async fn serve(
    listener: Listener,
    tls: Option<crate::tls::ServerTls>,
    api: Arc<Api>,
    decode_max: usize,
    observed: watch::Receiver<Observed>,
    signal: impl std::future::Future<Output = ()>,
) -> Result<(), tonic::transport::Error> {
    let mut b = tonic::service::Routes::builder();
    client_services!(b, api, decode_max);
    let routes = http::with_http(b.routes(), api, observed);
    // etcdctl's `--endpoints http://…` and `--cluster` send a URL as `:authority`,
    // which h2 refuses; each connection is read through the rewrite (after TLS, which
    // it cannot see into).
    let server = tonic::transport::Server::builder().accept_http1(true).add_routes(routes);
    match tls {
        Some(tls) => {
            let incoming = futures::TryStreamExt::map_ok(
                crate::tls::accept(listener, tls),
                crate::h2_authority::AuthorityRewrite::new,
            );
            server.serve_with_incoming_shutdown(incoming, signal).await
        }
        None => {
            let incoming = futures::TryStreamExt::map_ok(
                crate::listen::accept_nodelay(listener),
                crate::h2_authority::AuthorityRewrite::new,
            );
            server.serve_with_incoming_shutdown(incoming, signal).await
        }
    }
}

#[cfg(madsim)]
pub async fn serve(
    listener: Listener,
    tls: Option<crate::tls::ServerTls>,
    api: Arc<Api>,
    decode_max: usize,
    observed: watch::Receiver<Observed>,
    signal: impl std::future::Future<Output = ()>,
) -> Result<(), tonic::transport::Error> {
    drop((observed, tls));
    client_services!(tonic::transport::Server::builder(), api, decode_max)
        .serve_with_shutdown(listener, signal)
        .await
}

#[cfg(not(madsim))]
mod http {
    //! The HTTP endpoints etcd serves beside gRPC.
    use super::*;
    use crate::service::maintenance::SERVER_VERSION;
    use axum::http::StatusCode;
    use axum::routing::get;
    use tonic::service::Routes;

    pub fn with_http(routes: Routes, api: Arc<Api>, observed: watch::Receiver<Observed>) -> Routes {
        let metrics_api = api.clone();
        let router = routes
            .into_axum_router()
            .route(
                "/metrics",
                get(move || {
                    let api = metrics_api.clone();
                    async move {
                        let mut text = api.metrics.encode();
                        text.push_str(&process_metrics());
                        ([("content-type", "text/plain; version=0.0.4")], text)
                    }
                }),
            )
            .route(
                "/health",
                get(move || {
                    let api = api.clone();
                    let observed = observed.clone();
                    async move {
                        let leader = observed.borrow().leader.is_some();
                        let alarms = api.handle.info().await.map(|i| i.alarms.is_empty()).unwrap_or(false);
                        // etcd 3.4: an alarm or no leader is unhealthy; no leader is a 503.
                        if leader && alarms {
                            (StatusCode::OK, "{\"health\":\"true\"}")
                        } else if !leader {
                            (StatusCode::SERVICE_UNAVAILABLE, "{\"health\":\"false\"}")
                        } else {
                            (StatusCode::OK, "{\"health\":\"false\"}")
                        }
                    }
                }),
            )
            .route(
                "/version",
                get(|| async {
                    format!("{{\"etcdserver\":\"{SERVER_VERSION}\",\"etcdcluster\":\"{SERVER_VERSION}\"}}")
                }),
            )
            .layer(axum::middleware::map_response(grpc_limit_status));
        Routes::from(router)
    }

    /// A request over the gRPC size limit is refused by tonic's decoder as OutOfRange
    /// ("Error, decoded message length too large: found X bytes, the limit is: Y
    /// bytes"); etcd's clients expect grpc-go's ResourceExhausted "grpc: received
    /// message larger than max (X vs. Y)". Such refusals are trailers-only responses, so
    /// their status is in the headers and is rewritten there.
    async fn grpc_limit_status(mut resp: axum::response::Response) -> axum::response::Response {
        const OUT_OF_RANGE: &str = "11";
        const RESOURCE_EXHAUSTED: &str = "8";
        let headers = resp.headers_mut();
        if headers.get("grpc-status").and_then(|v| v.to_str().ok()) != Some(OUT_OF_RANGE) {
            return resp;
        }
        let Some(message) = headers.get("grpc-message").and_then(|v| v.to_str().ok()) else {
            return resp;
        };
        let message = percent_decode(message);
        let Some(sizes) = decode_limit_sizes(&message) else { return resp };
        let rewritten =
            format!("grpc: received message larger than max ({} vs. {})", sizes.0, sizes.1);
        if let Ok(v) = axum::http::HeaderValue::from_str(&rewritten) {
            headers.insert("grpc-status", axum::http::HeaderValue::from_static(RESOURCE_EXHAUSTED));
            headers.insert("grpc-message", v);
        }
        resp
    }

    /// The found and limit sizes of tonic's decode-limit message, if it is one.
    pub(super) fn decode_limit_sizes(message: &str) -> Option<(u64, u64)> {
        let rest = message.strip_prefix("Error, decoded message length too large: found ")?;
        let (found, rest) = rest.split_once(" bytes, the limit is: ")?;
        let limit = rest.strip_suffix(" bytes")?;
        Some((found.parse().ok()?, limit.parse().ok()?))
    }

    /// gRPC percent-encodes its message header.
    fn percent_decode(s: &str) -> String {
        let bytes = s.as_bytes();
        let mut out = Vec::with_capacity(bytes.len());
        let mut i = 0;
        while i < bytes.len() {
            let hex = bytes.get(i + 1..i + 3).and_then(|h| std::str::from_utf8(h).ok());
            match (bytes[i], hex.and_then(|h| u8::from_str_radix(h, 16).ok())) {
                (b'%', Some(b)) => {
                    out.push(b);
                    i += 3;
                }
                (b, _) => {
                    out.push(b);
                    i += 1;
                }
            }
        }
        String::from_utf8_lossy(&out).into_owned()
    }

    /// `process_resident_memory_bytes` and friends, read from /proc as the Go client
    /// library does (`etcdctl check datascale` reads the first).
    fn process_metrics() -> String {
        let page = 4096u64;
        let rss = std::fs::read_to_string("/proc/self/statm")
            .ok()
            .and_then(|s| s.split_whitespace().nth(1).and_then(|v| v.parse::<u64>().ok()))
            .map_or(0, |pages| pages * page);
        format!(
            "# HELP process_resident_memory_bytes Resident memory size in bytes.\n\
             # TYPE process_resident_memory_bytes gauge\n\
             process_resident_memory_bytes {rss}\n"
        )
    }
}

#[cfg(all(test, not(madsim)))]
mod tests {
    #[test]
    fn reads_tonics_decode_limit_message() {
        let m = "Error, decoded message length too large: found 526346 bytes, the limit is: 525312 bytes";
        assert_eq!(super::http::decode_limit_sizes(m), Some((526346, 525312)));
        assert_eq!(super::http::decode_limit_sizes("etcdserver: request is too large"), None);
    }
}
