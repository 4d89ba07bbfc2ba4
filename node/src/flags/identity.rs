//! Member and cluster ids, derived from the bootstrap flags exactly as etcd derives them,
//! so that `etcdctl member list` shows a detcd cluster the same ids an etcd cluster
//! started with the same flags would have (etcd `membership.NewMember`, `genID`).

use super::url::Url;
use sha1::{Digest, Sha1};

/// SHA-1 over the member's peer URLs sorted as strings and concatenated without a
/// separator, then the cluster token; the id is the first 8 bytes, big-endian. The name
/// takes no part, so renaming a member keeps its id.
pub fn member_id(peer_urls: &[Url], cluster_token: &str) -> u64 {
    let mut urls: Vec<&str> = peer_urls.iter().map(Url::as_str).collect();
    urls.sort_unstable();
    let mut hash = Sha1::new();
    for url in urls {
        hash.update(url.as_bytes());
    }
    hash.update(cluster_token.as_bytes());
    first_8_bytes(&hash.finalize())
}

/// SHA-1 over every member id as 8 big-endian bytes, ids in ascending order.
pub fn cluster_id(member_ids: &[u64]) -> u64 {
    let mut ids = member_ids.to_vec();
    ids.sort_unstable();
    let mut hash = Sha1::new();
    for id in ids {
        hash.update(id.to_be_bytes());
    }
    first_8_bytes(&hash.finalize())
}

fn first_8_bytes(digest: &[u8]) -> u64 {
    let mut id = [0u8; 8];
    id.copy_from_slice(&digest[..8]);
    u64::from_be_bytes(id)
}
