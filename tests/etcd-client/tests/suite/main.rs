//! etcd's Rust client, `etcd-client` 0.21, end to end against a 3-member `detcd serve`
//! cluster (the binary in `DETCD_BIN`): KV and txn, watch, lease, the Lock and Election
//! services, maintenance. Each test starts its own cluster and has a time limit.

mod election;
mod kv;
mod lease;
mod lock;
mod maintenance;
mod watch;

use etcd_client::{Client, GetOptions};

/// The current value of `key`, or None.
async fn value(client: &mut Client, key: &str) -> Option<String> {
    let resp = client.get(key, None).await.expect("get");
    resp.kvs().first().map(|kv| kv.value_str().expect("utf-8 value").to_string())
}

/// The keys under `prefix`, in key order.
async fn keys(client: &mut Client, prefix: &str) -> Vec<String> {
    let resp = client.get(prefix, Some(GetOptions::new().with_prefix())).await.expect("get");
    resp.kvs().iter().map(|kv| kv.key_str().expect("utf-8 key").to_string()).collect()
}

/// The store's revision after a put of `key`.
async fn put(client: &mut Client, key: &str, value: &str) -> i64 {
    let resp = client.put(key, value, None).await.expect("put");
    resp.header().expect("put header").revision()
}
