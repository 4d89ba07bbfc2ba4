//! detcd-node: the tokio adapter that makes the sans-IO core a real etcd v3 member —
//! the gRPC API on the client port, the peer transport, the write-ahead log and
//! snapshots on disk, and metrics.
//!
//! [`server::run`] starts a member from etcd's own flags ([`flags`]). One driver task
//! ([`driver`]) owns the core's `EtcdNode`, its outbox and its storage ([`disk`]); gRPC
//! handlers ([`service`]) reach it through a bounded channel, peers through
//! [`peer`]. In the real build each client-port connection is read through
//! `h2_authority`, which turns etcdctl's URL-shaped `:authority` into `host:port`.
//!
//! The same source builds with `RUSTFLAGS="--cfg madsim"`, where madsim simulates tokio
//! and tonic: [`server::run_on`] then runs on a [`disk::SimDisk`], and [`listen`] is
//! the one place the two worlds differ (besides the HTTP endpoints and the real disk).
//! `node/tests/madsim.rs` runs whole clusters that way (`scripts/madsim-test`).
//!
//! [`bench`] is the other side of the same API: a load generator for any etcd v3
//! endpoints, sharing the generated gRPC stubs.

pub mod bench;
pub mod client_port;
pub mod convert;
pub mod disk;
pub mod driver;
pub mod flags;
pub mod from_wire;
#[cfg(not(madsim))]
pub mod h2_authority;
pub mod join;
pub mod listen;
pub mod metrics;
pub mod pb;
pub mod peer;
pub mod roster;
pub mod server;
pub mod service;
pub mod tls;
