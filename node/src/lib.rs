//! detcd-node: the tokio adapter that will make the sans-IO core a real etcd v3 node
//! (gRPC API, peer transport, write-ahead log and snapshots on disk, metrics).
//! Not built yet.
pub mod disk;
