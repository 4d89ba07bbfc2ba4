//! The generated protobuf and gRPC code: etcd's v3 API (same packages, messages and
//! field numbers as etcd, so etcd's clients work unchanged), grpc health, and detcd's
//! own peer protocol.

#![allow(clippy::all, clippy::pedantic, missing_docs, unused_qualifications)]

pub mod mvccpb {
    tonic::include_proto!("mvccpb");
}

pub mod authpb {
    tonic::include_proto!("authpb");
}

pub mod etcdserverpb {
    tonic::include_proto!("etcdserverpb");
}

pub mod v3lockpb {
    tonic::include_proto!("v3lockpb");
}

pub mod v3electionpb {
    tonic::include_proto!("v3electionpb");
}

pub mod health {
    tonic::include_proto!("grpc.health.v1");
}

pub mod peer {
    tonic::include_proto!("detcd.peer");
}
