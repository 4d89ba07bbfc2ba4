//! Bad input on the wire: each request etcd refuses gets etcd's gRPC code and exact
//! message from `detcd serve` (clients match on both), and the member goes on serving.
//! `DETCD_E2E_TARGET=etcd` runs the same checks against a real etcd.

mod support;

use detcd_node::pb::etcdserverpb as pb;
use detcd_node::pb::etcdserverpb::kv_client::KvClient;
use support::cluster::Cluster;
use support::grpc;
use support::tools::Target;
use tonic::transport::Channel;
use tonic::Code;

const REQUEST_BYTES_MAX: usize = 1024;
/// etcd lets gRPC take this much more than `--max-request-bytes`.
const GRPC_OVERHEAD_BYTES: usize = 512 * 1024;

fn put(key: &str, value: Vec<u8>, lease: i64) -> pb::PutRequest {
    pb::PutRequest {
        key: key.as_bytes().to_vec().into(),
        value: value.into(),
        lease,
        ..Default::default()
    }
}

fn range_at(key: &str, revision: i64) -> pb::RangeRequest {
    pb::RangeRequest { key: key.as_bytes().to_vec().into(), revision, ..Default::default() }
}

/// Asserts that `result` is the error etcd gives: `code` and, when given, `message`.
fn refused<T: std::fmt::Debug>(
    what: &str,
    result: Result<T, tonic::Status>,
    code: Code,
    message: Option<&str>,
) {
    let status = match result {
        Ok(r) => panic!("{what}: accepted: {r:?}"),
        Err(s) => s,
    };
    assert_eq!(status.code(), code, "{what}: {status:?}");
    if let Some(m) = message {
        assert_eq!(status.message(), m, "{what}: {status:?}");
    }
    println!("{what}: {:?} {:?}", status.code(), status.message());
}

async fn checks(ch: Channel) {
    let mut kv = KvClient::new(ch.clone());

    let r = kv.put(put("big", vec![b'x'; 2000], 0)).await;
    refused(
        "put over --max-request-bytes",
        r,
        Code::InvalidArgument,
        Some("etcdserver: request is too large"),
    );

    let ops = (0..129)
        .map(|_| pb::RequestOp {
            request: Some(pb::request_op::Request::RequestRange(range_at("a", 0))),
        })
        .collect();
    let r = kv.txn(pb::TxnRequest { compare: vec![], success: ops, failure: vec![] }).await;
    refused(
        "txn with 129 ops",
        r,
        Code::InvalidArgument,
        Some("etcdserver: too many operations in txn request"),
    );

    let r = kv.put(put("", b"v".to_vec(), 0)).await;
    refused(
        "put of an empty key",
        r,
        Code::InvalidArgument,
        Some("etcdserver: key is not provided"),
    );

    let mut revision = 0;
    for i in 0..5 {
        revision = grpc::put(&ch, "c", format!("{i}").as_bytes()).await.expect("put c");
    }
    kv.compact(pb::CompactionRequest { revision: revision - 1, physical: true })
        .await
        .expect("compact");
    let r = kv.range(range_at("c", revision - 2)).await;
    refused(
        "range at a compacted revision",
        r,
        Code::OutOfRange,
        Some("etcdserver: mvcc: required revision has been compacted"),
    );
    let r = kv.range(range_at("c", revision + 100)).await;
    refused(
        "range at a future revision",
        r,
        Code::OutOfRange,
        Some("etcdserver: mvcc: required revision is a future revision"),
    );

    let r = kv.put(put("leased", b"v".to_vec(), 0x7e57_1ea5e)).await;
    refused(
        "put with an unknown lease",
        r,
        Code::NotFound,
        Some("etcdserver: requested lease not found"),
    );

    still_serving(&ch).await;
    let v = grpc::get(&ch, "c").await.expect("get c");
    assert_eq!(v.as_deref(), Some(b"4".as_slice()));
}

/// A message far over gRPC's own limit is refused by gRPC, before etcd's size check:
/// grpc-go answers ResourceExhausted ("grpc: received message larger than max").
async fn oversized(ch: Channel) {
    let mut kv = KvClient::new(ch.clone());
    let huge = vec![b'x'; REQUEST_BYTES_MAX + GRPC_OVERHEAD_BYTES + 1024];
    let r = kv.put(put("huge", huge, 0)).await;
    refused("put over the gRPC message limit", r, Code::ResourceExhausted, None);
    still_serving(&ch).await;
}

async fn still_serving(ch: &Channel) {
    grpc::put(ch, "after", b"fine").await.expect("put after the bad requests");
    let v = grpc::get(ch, "after").await.expect("get after the bad requests");
    assert_eq!(v.as_deref(), Some(b"fine".as_slice()));
}

/// Runs `checks` against a fresh one-member cluster with a small `--max-request-bytes`.
fn against_member<F: std::future::Future<Output = ()>>(checks: impl FnOnce(Channel) -> F) {
    let c = Cluster::start_with(
        Target::from_env(),
        1,
        &["--max-request-bytes", &REQUEST_BYTES_MAX.to_string()],
    );
    let rt = grpc::runtime();
    let endpoint = c.endpoint(0);
    rt.block_on(async move {
        let ch = grpc::channel(&endpoint);
        tokio::time::timeout(std::time::Duration::from_secs(30), checks(ch))
            .await
            .expect("the checks finish in 30 s");
    });
}

#[test]
fn bad_requests_get_etcds_code_and_message() {
    against_member(checks);
}

#[test]
fn message_over_the_grpc_limit_is_resource_exhausted() {
    against_member(oversized);
}
