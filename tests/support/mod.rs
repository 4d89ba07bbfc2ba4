//! Shared code of the end-to-end tests that drive `detcd serve` (or a real etcd) with
//! etcdctl or etcd's gRPC API. Each test binary uses only part of it, hence the
//! `dead_code` allowance.
#![allow(dead_code)]

pub mod cluster;
pub mod grpc;
pub mod http;
pub mod pki;
pub mod process;
pub mod tools;
