//! Compiles etcd's v3 API protos (and detcd's peer protocol) with `protox`, a pure-Rust
//! protobuf compiler, so that building detcd needs no system `protoc`. The descriptor
//! set is then handed to madsim-tonic-build, which writes the real tonic code and, in
//! `OUT_DIR/sim`, the code used under `--cfg madsim`.

use std::path::PathBuf;

const PROTOS: &[&str] = &[
    "proto/etcd/api/mvccpb/kv.proto",
    "proto/etcd/api/authpb/auth.proto",
    "proto/etcd/api/etcdserverpb/rpc.proto",
    "proto/etcd/server/etcdserver/api/v3lock/v3lockpb/v3lock.proto",
    "proto/etcd/server/etcdserver/api/v3election/v3electionpb/v3election.proto",
    "proto/grpc/health/v1/health.proto",
    "proto/detcd/peer.proto",
];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("cargo:rerun-if-changed=proto");
    let out = PathBuf::from(std::env::var("OUT_DIR")?);
    let descriptors = protox::compile(PROTOS, ["proto"])?;
    let set_path = out.join("descriptors.bin");
    std::fs::write(&set_path, prost::Message::encode_to_vec(&descriptors))?;
    tonic_build::configure()
        .file_descriptor_set_path(&set_path)
        .skip_protoc_run()
        .bytes(["."])
        .compile_protos(PROTOS, &["proto"])?;
    Ok(())
}
