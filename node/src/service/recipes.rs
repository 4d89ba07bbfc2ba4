//! The concurrency recipes etcd's Lock and Election services run on the server: keys
//! under a name prefix owned by the caller's lease, ordered by create revision; a
//! waiter watches the key just before its own until that key is deleted.

use super::unexpected;
use crate::driver::{Handle, WatchSink};
use bytes::Bytes;
use detcd_core::api::{
    Compare, CompareResult, CompareTarget, DeleteRangeRequest, EventType, KeyValue, PutRequest,
    RangeRequest, RequestOp, ResponseHeader, ResponseOp, SortOrder, SortTarget, TargetUnion,
    TxnRequest, TxnResponse, WatchCreateRequest,
};
use detcd_core::server::{Request, Response};
use std::sync::Arc;
use tokio::sync::{mpsc, Notify};
use tonic::Status;

/// The end of the range of every key with `prefix`.
pub fn prefix_end(prefix: &[u8]) -> Bytes {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < 0xff {
            end.push(last + 1);
            return Bytes::from(end);
        }
    }
    Bytes::from_static(b"\0")
}

/// `name/` followed by the lease id in hex: the key a session owns under `name`.
pub fn owned_key(name: &[u8], lease: i64) -> Bytes {
    let mut key = name.to_vec();
    key.push(b'/');
    key.extend_from_slice(format!("{lease:x}").as_bytes());
    Bytes::from(key)
}

pub async fn txn(h: &Handle, t: TxnRequest) -> Result<TxnResponse, Status> {
    match h.call(Request::Txn(t)).await? {
        Response::Txn(r) => Ok(r),
        other => Err(unexpected(other)),
    }
}

pub async fn range(h: &Handle, r: RangeRequest) -> Result<(ResponseHeader, Vec<KeyValue>), Status> {
    match h.call(Request::Range(r)).await? {
        Response::Range(r) => Ok((r.header, r.kvs)),
        other => Err(unexpected(other)),
    }
}

pub async fn delete(h: &Handle, key: Bytes) -> Result<ResponseHeader, Status> {
    let d = DeleteRangeRequest { key, ..Default::default() };
    match h.call(Request::DeleteRange(d)).await? {
        Response::DeleteRange(r) => Ok(r.header),
        other => Err(unexpected(other)),
    }
}

/// Creates `key` with `value` on `lease` unless it exists. Returns the key's create
/// revision and the header.
pub async fn create_owned(
    h: &Handle,
    key: &Bytes,
    value: Bytes,
    lease: i64,
) -> Result<(i64, ResponseHeader, Option<KeyValue>), Status> {
    let absent = Compare {
        result: CompareResult::Equal,
        target: CompareTarget::Create,
        key: key.clone(),
        target_union: TargetUnion::CreateRevision(0),
        range_end: Bytes::new(),
    };
    let put = RequestOp::Put(PutRequest { key: key.clone(), value, lease, ..Default::default() });
    let get = RequestOp::Range(RangeRequest { key: key.clone(), ..Default::default() });
    let r = txn(h, TxnRequest { compare: vec![absent], success: vec![put], failure: vec![get] })
        .await?;
    if r.succeeded {
        return Ok((r.header.revision, r.header, None));
    }
    match r.responses.into_iter().next() {
        Some(ResponseOp::Range(rr)) => match rr.kvs.into_iter().next() {
            Some(kv) => Ok((kv.create_revision, r.header, Some(kv))),
            None => Err(Status::internal("detcd: owned key vanished")),
        },
        _ => Err(Status::internal("detcd: unexpected txn answer")),
    }
}

/// The owner under `prefix`: the key with the lowest create revision.
pub async fn first_owner(
    h: &Handle,
    prefix: &[u8],
) -> Result<(ResponseHeader, Option<KeyValue>), Status> {
    let r = RangeRequest {
        key: Bytes::copy_from_slice(prefix),
        range_end: prefix_end(prefix),
        limit: 1,
        sort_order: SortOrder::Ascend,
        sort_target: SortTarget::Create,
        ..Default::default()
    };
    let (header, kvs) = range(h, r).await?;
    Ok((header, kvs.into_iter().next()))
}

/// Waits until no key under `prefix` has a create revision below `rev`: each turn
/// watches the newest such key until it is deleted.
pub async fn wait_deletes(h: &Handle, prefix: &[u8], rev: i64) -> Result<ResponseHeader, Status> {
    loop {
        let r = RangeRequest {
            key: Bytes::copy_from_slice(prefix),
            range_end: prefix_end(prefix),
            limit: 1,
            sort_order: SortOrder::Descend,
            sort_target: SortTarget::Create,
            max_create_revision: rev - 1,
            ..Default::default()
        };
        let (header, kvs) = range(h, r).await?;
        let Some(kv) = kvs.into_iter().next() else { return Ok(header) };
        wait_delete(h, kv.key, header.revision).await?;
    }
}

/// Waits for `key` to be deleted after revision `rev`.
pub async fn wait_delete(h: &Handle, key: Bytes, rev: i64) -> Result<(), Status> {
    let create = WatchCreateRequest { key, start_revision: rev + 1, ..Default::default() };
    let mut events = WatchEvents::open(h, create)?;
    while let Some(resp) = events.next().await? {
        if resp.iter().any(|e| e.r#type == EventType::Delete) {
            events.close().await;
            return Ok(());
        }
    }
    Err(Status::unavailable("detcd: watch ended while waiting"))
}

/// A watch opened from inside the server.
pub struct WatchEvents {
    handle: Handle,
    stream: u64,
    rx: mpsc::Receiver<Response>,
    overflow: Arc<Notify>,
    closed: bool,
}

impl WatchEvents {
    pub fn open(h: &Handle, create: WatchCreateRequest) -> Result<WatchEvents, Status> {
        let stream = h.new_stream();
        let (tx, rx) = mpsc::channel(1024);
        let overflow = Arc::new(Notify::new());
        let sink = WatchSink { tx, overflow: overflow.clone() };
        h.watch(Request::WatchCreate { stream, create }, Some(sink))?;
        Ok(WatchEvents { handle: h.clone(), stream, rx, overflow, closed: false })
    }

    /// The next batch of events (empty for created/progress notices); None when the
    /// watch was canceled.
    pub async fn next(&mut self) -> Result<Option<Vec<detcd_core::api::Event>>, Status> {
        tokio::select! {
            resp = self.rx.recv() => match resp {
                Some(Response::Watch(w)) if w.canceled => {
                    self.closed = true;
                    Ok(None)
                }
                Some(Response::Watch(w)) => Ok(Some(w.events)),
                Some(other) => Err(unexpected(other)),
                None => Ok(None),
            },
            _ = self.overflow.notified() => Err(Status::unavailable("detcd: internal watch fell behind")),
        }
    }

    pub async fn close(&mut self) {
        if !self.closed {
            self.closed = true;
            self.handle.close_stream(self.stream).await;
        }
    }
}

impl Drop for WatchEvents {
    fn drop(&mut self) {
        if !self.closed {
            let handle = self.handle.clone();
            let stream = self.stream;
            tokio::spawn(async move { handle.close_stream(stream).await });
        }
    }
}
