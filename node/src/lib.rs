//! detcd-node: the tokio adapter that makes the sans-IO core a real etcd v3 member —
//! the gRPC API on the client port, the peer transport, the write-ahead log and
//! snapshots on disk, and metrics.

pub mod pb;
