//! The member's metrics, under etcd's names so that dashboards and `etcdctl check
//! datascale` read them unchanged. The values are plain atomics updated by the driver
//! and the gRPC handlers; `/metrics` renders them in Prometheus text.

use detcd_core::server::Response;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;
use std::sync::atomic::AtomicU64;
use std::time::Duration;

/// Labels of the gRPC counters, as go-grpc-prometheus names them.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct GrpcLabels {
    pub grpc_type: &'static str,
    pub grpc_service: &'static str,
    pub grpc_method: &'static str,
    pub grpc_code: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct StartedLabels {
    pub grpc_type: &'static str,
    pub grpc_service: &'static str,
    pub grpc_method: &'static str,
}

/// A peer label as etcd writes it: `To="<id in hex>"` (capitalised, hence not derived).
type PeerLabels = Vec<(&'static str, String)>;

fn rtt_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.0001, 2.0, 16))
}

pub struct Metrics {
    registry: Registry,
    has_leader: Gauge,
    is_leader: Gauge,
    leader_changes: Counter,
    proposals_committed: Gauge,
    proposals_applied: Gauge,
    proposals_pending: Gauge,
    proposals_failed: Counter,
    wal_fsync: Histogram,
    db_total_size: Gauge,
    quota_bytes: Gauge<i64, std::sync::atomic::AtomicI64>,
    grpc_started: Family<StartedLabels, Counter>,
    grpc_handled: Family<GrpcLabels, Counter>,
    peer_sent_bytes: Counter<u64, AtomicU64>,
    peer_received_bytes: Counter<u64, AtomicU64>,
    peer_rtt: Family<PeerLabels, Histogram, fn() -> Histogram>,
}

impl Metrics {
    pub fn new(quota_bytes: u64) -> Metrics {
        let mut registry = Registry::default();
        let m = Metrics {
            has_leader: Gauge::default(),
            is_leader: Gauge::default(),
            leader_changes: Counter::default(),
            proposals_committed: Gauge::default(),
            proposals_applied: Gauge::default(),
            proposals_pending: Gauge::default(),
            proposals_failed: Counter::default(),
            wal_fsync: Histogram::new(exponential_buckets(0.001, 2.0, 14)),
            db_total_size: Gauge::default(),
            quota_bytes: Gauge::default(),
            grpc_started: Family::default(),
            grpc_handled: Family::default(),
            peer_sent_bytes: Counter::default(),
            peer_received_bytes: Counter::default(),
            peer_rtt: Family::new_with_constructor(rtt_histogram),
            registry: Registry::default(),
        };
        m.quota_bytes.set(i64::try_from(quota_bytes).unwrap_or(i64::MAX));
        let r = &mut registry;
        r.register(
            "etcd_server_has_leader",
            "Whether a leader exists: 1 yes, 0 no",
            m.has_leader.clone(),
        );
        r.register(
            "etcd_server_is_leader",
            "Whether this member is the leader",
            m.is_leader.clone(),
        );
        r.register(
            "etcd_server_leader_changes_seen",
            "Leader changes seen",
            m.leader_changes.clone(),
        );
        r.register(
            "etcd_server_proposals_committed_total",
            "Committed index",
            m.proposals_committed.clone(),
        );
        r.register(
            "etcd_server_proposals_applied_total",
            "Applied index",
            m.proposals_applied.clone(),
        );
        r.register(
            "etcd_server_proposals_pending",
            "Requests waiting",
            m.proposals_pending.clone(),
        );
        r.register("etcd_server_proposals_failed", "Failed proposals", m.proposals_failed.clone());
        r.register(
            "etcd_disk_wal_fsync_duration_seconds",
            "Latency of the write-ahead log's fsyncs",
            m.wal_fsync.clone(),
        );
        r.register("etcd_mvcc_db_total_size_in_bytes", "Bytes of storage", m.db_total_size.clone());
        r.register("etcd_server_quota_backend_bytes", "The storage quota", m.quota_bytes.clone());
        r.register("grpc_server_started", "RPCs started", m.grpc_started.clone());
        r.register("grpc_server_handled", "RPCs completed, by code", m.grpc_handled.clone());
        r.register(
            "etcd_network_peer_sent_bytes",
            "Bytes sent to peers",
            m.peer_sent_bytes.clone(),
        );
        r.register(
            "etcd_network_peer_received_bytes",
            "Bytes received from peers",
            m.peer_received_bytes.clone(),
        );
        r.register(
            "etcd_network_peer_round_trip_time_seconds",
            "Round trip time of a request to each peer over the peer port",
            m.peer_rtt.clone(),
        );
        Metrics { registry, ..m }
    }

    /// Prometheus text of every metric (process metrics are added by the caller).
    pub fn encode(&self) -> String {
        let mut out = String::new();
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }

    pub fn answered(&self, response: &Response) {
        if let Response::Err(e) = response {
            use detcd_core::api::EtcdError::*;
            if matches!(e, LeaderChanged | Timeout | NoLeader | TooManyRequests) {
                self.proposals_failed.inc();
            }
        }
    }

    /// A WAL batch is durable: its fdatasync's duration, or None when it made none
    /// (etcd observes `wal_fsync_duration_seconds` once per real fsync).
    pub fn wal_written(&self, synced: Option<Duration>) {
        if let Some(took) = synced {
            self.wal_fsync.observe(took.as_secs_f64());
        }
    }

    pub fn db_size(&self, bytes: u64) {
        self.db_total_size.set(i64::try_from(bytes).unwrap_or(i64::MAX));
    }

    pub fn leader_changed(&self) {
        self.leader_changes.inc();
    }

    pub fn leadership(&self, has_leader: bool, is_leader: bool) {
        self.has_leader.set(i64::from(has_leader));
        self.is_leader.set(i64::from(is_leader));
    }

    pub fn pending(&self, n: usize) {
        self.proposals_pending.set(i64::try_from(n).unwrap_or(i64::MAX));
    }

    pub fn indexes(&self, commit: u64, applied: u64) {
        self.proposals_committed.set(i64::try_from(commit).unwrap_or(i64::MAX));
        self.proposals_applied.set(i64::try_from(applied).unwrap_or(i64::MAX));
    }

    pub fn grpc(
        &self,
        kind: &'static str,
        service: &'static str,
        method: &'static str,
        code: tonic::Code,
    ) {
        let started = StartedLabels { grpc_type: kind, grpc_service: service, grpc_method: method };
        self.grpc_started.get_or_create(&started).inc();
        let labels = GrpcLabels {
            grpc_type: kind,
            grpc_service: service,
            grpc_method: method,
            grpc_code: code_name(code),
        };
        self.grpc_handled.get_or_create(&labels).inc();
    }

    pub fn peer_sent(&self, bytes: usize) {
        self.peer_sent_bytes.inc_by(bytes as u64);
    }

    pub fn peer_rtt(&self, to: u64, took: Duration) {
        let labels = vec![("To", format!("{to:x}"))];
        self.peer_rtt.get_or_create(&labels).observe(took.as_secs_f64());
    }

    pub fn peer_received(&self, bytes: usize) {
        self.peer_received_bytes.inc_by(bytes as u64);
    }
}

/// gRPC's names for status codes, as Prometheus labels carry them.
fn code_name(code: tonic::Code) -> &'static str {
    use tonic::Code::*;
    match code {
        Ok => "OK",
        Cancelled => "Canceled",
        Unknown => "Unknown",
        InvalidArgument => "InvalidArgument",
        DeadlineExceeded => "DeadlineExceeded",
        NotFound => "NotFound",
        AlreadyExists => "AlreadyExists",
        PermissionDenied => "PermissionDenied",
        ResourceExhausted => "ResourceExhausted",
        FailedPrecondition => "FailedPrecondition",
        Aborted => "Aborted",
        OutOfRange => "OutOfRange",
        Unimplemented => "Unimplemented",
        Internal => "Internal",
        Unavailable => "Unavailable",
        DataLoss => "DataLoss",
        Unauthenticated => "Unauthenticated",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fsyncs_counted(m: &Metrics) -> String {
        let text = m.encode();
        let line =
            text.lines().find(|l| l.starts_with("etcd_disk_wal_fsync_duration_seconds_count"));
        line.expect("the fsync histogram is rendered").to_string()
    }

    #[test]
    fn only_a_batch_that_synced_counts_as_an_fsync() {
        let m = Metrics::new(1 << 30);
        m.wal_written(None);
        assert!(fsyncs_counted(&m).ends_with(" 0"), "{}", fsyncs_counted(&m));
        m.wal_written(Some(Duration::from_millis(3)));
        m.wal_written(None);
        assert!(fsyncs_counted(&m).ends_with(" 1"), "{}", fsyncs_counted(&m));
    }
}
