//! The etcd requests of the lock and election recipes, as etcd's `concurrency` package
//! sends them.

use bytes::Bytes;
use detcd_core::api::{
    Compare, CompareResult, CompareTarget, KeyValue, LeaseGrantRequest, LeaseKeepAliveRequest,
    LeaseRevokeRequest, PutRequest, RangeRequest, RequestOp, ResponseOp, TargetUnion, TxnRequest,
    WatchCreateRequest,
};
use detcd_core::server::{Request, Response};

/// The prefix under which every lock waiter puts its key.
pub const LOCK_PREFIX: &str = "lock/";
/// The prefix under which every election candidate puts its key.
pub const ELECTION_PREFIX: &str = "election/";
/// The key a fenced resource lives in.
pub const RESOURCE_KEY: &str = "resource";

fn b(s: &str) -> Bytes {
    Bytes::copy_from_slice(s.as_bytes())
}

/// The waiter key of a lease: etcd names it `<prefix><lease id in hex>`.
pub fn lock_key(prefix: &str, lease: i64) -> String {
    format!("{prefix}{lease:x}")
}

/// The end of the range of keys under `prefix` (which ends in '/').
fn prefix_end(prefix: &str) -> String {
    let mut end = prefix.to_string();
    end.pop();
    end.push('0');
    end
}

pub fn grant(ttl_s: i64) -> Request {
    Request::LeaseGrant(LeaseGrantRequest { ttl: ttl_s, id: 0 })
}

pub fn keep_alive(lease: i64) -> Request {
    Request::LeaseKeepAlive(LeaseKeepAliveRequest { id: lease })
}

pub fn revoke(lease: i64) -> Request {
    Request::LeaseRevoke(LeaseRevokeRequest { id: lease })
}

fn prefix_range(prefix: &str) -> RangeRequest {
    RangeRequest { key: b(prefix), range_end: b(&prefix_end(prefix)), ..RangeRequest::default() }
}

/// Every waiter key, as a linearizable range.
pub fn waiters(prefix: &str) -> Request {
    Request::Range(prefix_range(prefix))
}

fn compare_create(key: &str, revision: i64) -> Compare {
    Compare {
        result: CompareResult::Equal,
        target: CompareTarget::Create,
        key: b(key),
        range_end: Bytes::new(),
        target_union: TargetUnion::CreateRevision(revision),
    }
}

/// etcd's `Mutex.tryAcquire`: if the key does not exist yet, put it with the lease;
/// either way read every waiter.
pub fn create_key(prefix: &str, key: &str, lease: i64, client: u64) -> Request {
    Request::Txn(TxnRequest {
        compare: vec![compare_create(key, 0)],
        success: vec![
            RequestOp::Put(PutRequest {
                key: b(key),
                value: b(&format!("c{client}")),
                lease,
                ..PutRequest::default()
            }),
            RequestOp::Range(prefix_range(prefix)),
        ],
        failure: vec![RequestOp::Range(prefix_range(prefix))],
    })
}

/// Watches `key` from `revision` for its deletion.
pub fn watch_key(stream: u64, key: &Bytes, revision: i64) -> Request {
    Request::WatchCreate {
        stream,
        create: WatchCreateRequest {
            key: key.clone(),
            start_revision: revision,
            ..WatchCreateRequest::default()
        },
    }
}

/// Every change under `prefix` from `revision` on (an election observer).
pub fn watch_prefix(stream: u64, prefix: &str, revision: i64) -> Request {
    Request::WatchCreate {
        stream,
        create: WatchCreateRequest {
            key: b(prefix),
            range_end: b(&prefix_end(prefix)),
            start_revision: revision,
            ..WatchCreateRequest::default()
        },
    }
}

/// etcd's `Election.Proclaim`: a new value on the leader's key, only while the key
/// still has the create revision its campaign won with.
pub fn proclaim(key: &str, term: i64, lease: i64, value: &str) -> Request {
    Request::Txn(TxnRequest {
        compare: vec![compare_create(key, term)],
        success: vec![RequestOp::Put(PutRequest {
            key: b(key),
            value: b(value),
            lease,
            ..PutRequest::default()
        })],
        failure: vec![],
    })
}

/// The fenced resource write: put `value` only while the lock key still exists with
/// the create revision the holder acquired it at (the fencing token).
pub fn fenced_write(key: &str, token: i64, value: &str) -> Request {
    Request::Txn(TxnRequest {
        compare: vec![compare_create(key, token)],
        success: vec![RequestOp::Put(PutRequest {
            key: b(RESOURCE_KEY),
            value: b(value),
            ..PutRequest::default()
        })],
        failure: vec![],
    })
}

/// From the answer to `create_key`: the header revision, whether the key was created,
/// and every waiter key.
pub fn created(response: &Response) -> Option<(i64, bool, Vec<KeyValue>)> {
    let Response::Txn(t) = response else { return None };
    let kvs = t.responses.iter().find_map(|r| match r {
        ResponseOp::Range(r) => Some(r.kvs.clone()),
        _ => None,
    })?;
    Some((t.header.revision, t.succeeded, kvs))
}
