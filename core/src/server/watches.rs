//! Client watch streams on this member: routes the watch hub's per-stream responses to
//! the request ids clients are waiting on.
//!
//! A watcher's responses (created, events, its final cancel) go to the request id of
//! the `WatchCreate` that made it; that id stays open until a response with `canceled`
//! set. A refused create is answered once, created-and-canceled. A progress request is
//! answered once (watch id -1). A cancel request is answered once with a `canceled`
//! response for its watch id, whether or not the watcher existed. A close ends every
//! watcher of a stream (the client went away) and is answered once.
//!
//! A progress notice (watch id -1) with no progress request of its stream waiting has
//! no request to go to: the hub answers only requests, so there is none unless the hub
//! is wrong. It is counted ([`Watches::unasked_notices`]), for a simulator to judge,
//! and dropped.

use super::request::StreamId;
use crate::api::{
    WatchCancelRequest, WatchCreateRequest, WatchId, WatchProgressRequest, WatchRequest,
    WatchResponse, INVALID_WATCH_ID,
};
use crate::mvcc::Store;
use crate::types::RequestId;
use crate::watch::WatchHub;
use std::collections::{BTreeMap, VecDeque};

/// Every open watch stream of this member's clients.
#[derive(Debug, Default)]
pub struct Watches {
    hub: WatchHub,
    /// The create request each live watcher answers on.
    watchers: BTreeMap<(StreamId, WatchId), RequestId>,
    /// Progress requests of each stream not answered yet, oldest first.
    progress: BTreeMap<StreamId, VecDeque<RequestId>>,
    /// Progress notices the hub sent with no request of their stream waiting.
    unasked: u64,
}

impl Watches {
    /// Number of live watchers.
    pub fn len(&self) -> usize {
        self.watchers.len()
    }

    /// How many progress notices the hub sent to streams that had no progress request
    /// waiting (always 0 for a correct hub).
    pub fn unasked_notices(&self) -> u64 {
        self.unasked
    }

    /// A create: answered on `id` now and later.
    pub fn create(
        &mut self,
        id: RequestId,
        stream: StreamId,
        req: &WatchCreateRequest,
        store: &Store,
        out: &mut Vec<(RequestId, WatchResponse)>,
    ) {
        match self.hub.create(stream, req, store) {
            Ok(watch_id) => {
                self.watchers.insert((stream, watch_id), id);
                self.route(stream, out);
            }
            Err(_) => {
                // The refusal is queued as the stream's newest response.
                let responses = self.hub.drain(stream);
                let (refusal, earlier) = responses.split_last().expect("a refusal is queued");
                self.route_list(stream, earlier.to_vec(), out);
                out.push((id, refusal.clone()));
            }
        }
    }

    /// A cancel: the watcher's stream gets its final response; `id` gets a copy.
    pub fn cancel(
        &mut self,
        id: RequestId,
        stream: StreamId,
        watch_id: WatchId,
        store: &Store,
        out: &mut Vec<(RequestId, WatchResponse)>,
    ) {
        let req = WatchRequest::Cancel(WatchCancelRequest { watch_id });
        self.hub.handle(stream, &req, store);
        self.route(stream, out);
        let header = crate::api::ResponseHeader::at(store.current_revision());
        out.push((
            id,
            WatchResponse { header, watch_id, canceled: true, ..WatchResponse::default() },
        ));
    }

    /// The client's stream went away: every watcher of it is canceled (each create id
    /// gets its final response), unanswered progress requests are answered canceled,
    /// and `id` gets one canceled response with watch id -1.
    pub fn close(
        &mut self,
        id: RequestId,
        stream: StreamId,
        store: &Store,
        out: &mut Vec<(RequestId, WatchResponse)>,
    ) {
        let ids: Vec<WatchId> = self
            .watchers
            .range((stream, WatchId::MIN)..=(stream, WatchId::MAX))
            .map(|((_, w), _)| *w)
            .collect();
        for watch_id in ids {
            self.hub.cancel(stream, watch_id, store);
        }
        self.route(stream, out);
        self.hub.close_stream(stream);
        let header = crate::api::ResponseHeader::at(store.current_revision());
        let closed = WatchResponse {
            header,
            watch_id: INVALID_WATCH_ID,
            canceled: true,
            ..WatchResponse::default()
        };
        for waiting in self.progress.remove(&stream).unwrap_or_default() {
            out.push((waiting, closed.clone()));
        }
        out.push((id, closed));
    }

    /// A progress request, answered on `id` once the stream's watchers are up to date.
    pub fn progress(
        &mut self,
        id: RequestId,
        stream: StreamId,
        store: &Store,
        out: &mut Vec<(RequestId, WatchResponse)>,
    ) {
        self.progress.entry(stream).or_default().push_back(id);
        let req = WatchRequest::Progress(WatchProgressRequest {});
        self.hub.handle(stream, &req, store);
        self.route(stream, out);
    }

    /// After the store changed (applied entries, a restored snapshot): every watcher
    /// reads on from where it stopped.
    pub fn sync(&mut self, store: &Store, out: &mut Vec<(RequestId, WatchResponse)>) {
        if self.watchers.is_empty() && self.progress.is_empty() {
            return;
        }
        self.hub.sync(store);
        self.route_all(out);
    }

    /// Periodic progress notices for watchers that asked for them.
    pub fn notify_progress(&mut self, store: &Store, out: &mut Vec<(RequestId, WatchResponse)>) {
        if self.watchers.is_empty() {
            return;
        }
        self.hub.notify_progress(store);
        self.route_all(out);
    }

    fn route_all(&mut self, out: &mut Vec<(RequestId, WatchResponse)>) {
        let mut streams: Vec<StreamId> = self.watchers.keys().map(|(s, _)| *s).collect();
        streams.extend(self.progress.keys().copied());
        streams.sort_unstable();
        streams.dedup();
        for stream in streams {
            self.route(stream, out);
        }
    }

    fn route(&mut self, stream: StreamId, out: &mut Vec<(RequestId, WatchResponse)>) {
        let responses = self.hub.drain(stream);
        self.route_list(stream, responses, out);
    }

    fn route_list(
        &mut self,
        stream: StreamId,
        responses: Vec<WatchResponse>,
        out: &mut Vec<(RequestId, WatchResponse)>,
    ) {
        for resp in responses {
            if resp.watch_id == INVALID_WATCH_ID {
                let queue = self.progress.get_mut(&stream);
                let Some(id) = queue.and_then(|q| q.pop_front()) else {
                    self.unasked += 1;
                    continue;
                };
                if self.progress.get(&stream).is_some_and(|q| q.is_empty()) {
                    self.progress.remove(&stream);
                }
                out.push((id, resp));
                continue;
            }
            let key = (stream, resp.watch_id);
            let Some(&id) = self.watchers.get(&key) else { continue };
            if resp.canceled {
                self.watchers.remove(&key);
            }
            out.push((id, resp));
        }
    }
}
