//! Watches: streams of MVCC events from a start revision, filtered per watcher.
//!
//! The [`WatchHub`] holds every watcher of every client stream. Driver contract:
//! - [`WatchHub::handle`] a client's create / cancel / progress request;
//! - after applying entries to the store, call [`WatchHub::sync`] with the store: each
//!   watcher reads the store's event log from its next revision to the current one;
//! - [`WatchHub::drain`] a stream's responses and send them in order.
//!
//! Because every watcher reads the revision-ordered log from exactly where it stopped,
//! events arrive in revision order, each once, with no gaps; a response holds whole
//! revisions only. A watcher that falls behind the compaction revision is canceled with
//! `compact_revision` set, and may resume from a newer revision.

use crate::api::{
    EtcdError, Event, EventType, FilterType, ResponseHeader, WatchCreateRequest, WatchError,
    WatchId, WatchRequest, WatchResponse, INVALID_WATCH_ID,
};
use crate::mvcc::{KeyRange, Store};
use std::collections::{BTreeMap, VecDeque};

/// The driver's name for one client watch stream.
pub type StreamId = u64;

/// One watcher.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Watcher {
    range: KeyRange,
    /// The first revision not yet delivered.
    next_rev: i64,
    no_put: bool,
    no_delete: bool,
    prev_kv: bool,
    progress_notify: bool,
}

impl Watcher {
    fn wants(&self, e: &Event) -> bool {
        let filtered = match e.r#type {
            EventType::Put => self.no_put,
            EventType::Delete => self.no_delete,
        };
        !filtered && self.range.contains(&e.kv.key)
    }
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct StreamState {
    next_id: WatchId,
    progress_pending: bool,
    out: VecDeque<WatchResponse>,
}

/// Every watcher of every stream. See the module docs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WatchHub {
    watchers: BTreeMap<(StreamId, WatchId), Watcher>,
    streams: BTreeMap<StreamId, StreamState>,
    /// A response is closed once it holds this many events (at a revision boundary).
    events_per_response_max: usize,
}

impl Default for WatchHub {
    fn default() -> Self {
        WatchHub::new(1000)
    }
}

impl WatchHub {
    pub fn new(events_per_response_max: usize) -> WatchHub {
        assert!(events_per_response_max > 0, "events_per_response_max must be positive");
        WatchHub { watchers: BTreeMap::new(), streams: BTreeMap::new(), events_per_response_max }
    }

    /// Number of live watchers on all streams.
    pub fn len(&self) -> usize {
        self.watchers.len()
    }

    pub fn is_empty(&self) -> bool {
        self.watchers.is_empty()
    }

    /// Handles one client request on `stream`; its answers are queued for [`drain`].
    ///
    /// [`drain`]: WatchHub::drain
    pub fn handle(&mut self, stream: StreamId, req: &WatchRequest, store: &Store) {
        match req {
            WatchRequest::Create(c) => {
                // A refusal is already queued as a created-and-canceled response.
                let _ = self.create(stream, c, store);
            }
            WatchRequest::Cancel(c) => {
                self.cancel(stream, c.watch_id, store);
            }
            WatchRequest::Progress(_) => self.request_progress(stream, store),
        }
    }

    /// Creates a watcher; returns its id, or the reason it was refused (the refusal is
    /// also queued as a created-and-canceled response, as etcd sends it).
    pub fn create(
        &mut self,
        stream: StreamId,
        req: &WatchCreateRequest,
        store: &Store,
    ) -> Result<WatchId, WatchError> {
        let header = ResponseHeader::at(store.current_revision());
        let range = KeyRange::new(&req.key, &req.range_end);
        let state = self.streams.entry(stream).or_default();
        let id = if range.is_empty() {
            Err(WatchError::EmptyRange)
        } else if req.watch_id != 0 {
            if self.watchers.contains_key(&(stream, req.watch_id)) {
                Err(WatchError::DuplicateId)
            } else {
                Ok(req.watch_id)
            }
        } else {
            while self.watchers.contains_key(&(stream, state.next_id)) {
                state.next_id += 1;
            }
            state.next_id += 1;
            Ok(state.next_id - 1)
        };
        let id = match id {
            Err(e) => {
                state.out.push_back(WatchResponse {
                    header,
                    watch_id: INVALID_WATCH_ID,
                    created: true,
                    canceled: true,
                    cancel_reason: e.message().to_string(),
                    ..WatchResponse::default()
                });
                return Err(e);
            }
            Ok(id) => id,
        };
        state.out.push_back(WatchResponse {
            header,
            watch_id: id,
            created: true,
            ..WatchResponse::default()
        });
        let next_rev =
            if req.start_revision > 0 { req.start_revision } else { store.current_revision() + 1 };
        #[cfg(feature = "mutants")]
        let next_rev = match req.start_revision {
            s if s > 0 && crate::mutants::active(crate::mutants::Mutant::WatchStartOffByOne) => {
                s + 1
            }
            _ => next_rev,
        };
        let w = Watcher {
            range,
            next_rev,
            no_put: req.filters.contains(&FilterType::NoPut),
            no_delete: req.filters.contains(&FilterType::NoDelete),
            prev_kv: req.prev_kv,
            progress_notify: req.progress_notify,
        };
        self.watchers.insert((stream, id), w);
        self.catch_up(stream, id, store);
        Ok(id)
    }

    /// Cancels a watcher; false if the stream has no such watcher (nothing is sent then).
    pub fn cancel(&mut self, stream: StreamId, id: WatchId, store: &Store) -> bool {
        if self.watchers.remove(&(stream, id)).is_none() {
            return false;
        }
        self.push(
            stream,
            WatchResponse {
                header: ResponseHeader::at(store.current_revision()),
                watch_id: id,
                canceled: true,
                ..WatchResponse::default()
            },
        );
        true
    }

    /// A progress request: answered (watch id -1, header at the current revision) once
    /// every watcher of the stream has been sent everything up to that revision.
    pub fn request_progress(&mut self, stream: StreamId, store: &Store) {
        self.streams.entry(stream).or_default().progress_pending = true;
        self.answer_progress(stream, store);
    }

    /// Forgets a stream and its watchers (the client went away).
    pub fn close_stream(&mut self, stream: StreamId) {
        self.streams.remove(&stream);
        let ids: Vec<_> = self
            .watchers
            .range((stream, WatchId::MIN)..=(stream, WatchId::MAX))
            .map(|(k, _)| *k)
            .collect();
        for k in ids {
            self.watchers.remove(&k);
        }
    }

    /// Brings every watcher up to the store's current revision.
    pub fn sync(&mut self, store: &Store) {
        let keys: Vec<_> = self.watchers.keys().copied().collect();
        for (stream, id) in keys {
            self.catch_up(stream, id, store);
        }
        let streams: Vec<_> = self.streams.keys().copied().collect();
        for stream in streams {
            self.answer_progress(stream, store);
        }
    }

    /// For watchers that asked for progress notifications and are up to date: an empty
    /// response carrying the current revision. The driver calls this on its timer.
    pub fn notify_progress(&mut self, store: &Store) {
        let header = ResponseHeader::at(store.current_revision());
        let due: Vec<_> = self
            .watchers
            .iter()
            .filter(|(_, w)| w.progress_notify && w.next_rev > store.current_revision())
            .map(|(k, _)| *k)
            .collect();
        for (stream, id) in due {
            self.push(stream, WatchResponse { header, watch_id: id, ..WatchResponse::default() });
        }
    }

    /// The responses queued for `stream`, oldest first.
    pub fn drain(&mut self, stream: StreamId) -> Vec<WatchResponse> {
        self.streams.get_mut(&stream).map(|s| s.out.drain(..).collect()).unwrap_or_default()
    }

    fn push(&mut self, stream: StreamId, resp: WatchResponse) {
        self.streams.entry(stream).or_default().out.push_back(resp);
    }

    fn answer_progress(&mut self, stream: StreamId, store: &Store) {
        let cur = store.current_revision();
        let behind = self
            .watchers
            .range((stream, WatchId::MIN)..=(stream, WatchId::MAX))
            .any(|(_, w)| w.next_rev <= cur);
        let Some(state) = self.streams.get_mut(&stream) else { return };
        if state.progress_pending && !behind {
            state.progress_pending = false;
            state.out.push_back(WatchResponse {
                header: ResponseHeader::at(cur),
                watch_id: INVALID_WATCH_ID,
                ..WatchResponse::default()
            });
        }
    }

    /// Delivers one watcher's events from its next revision to the current one, or
    /// cancels it if those events were compacted away.
    fn catch_up(&mut self, stream: StreamId, id: WatchId, store: &Store) {
        let Some(w) = self.watchers.get(&(stream, id)) else { return };
        let cur = store.current_revision();
        let header = ResponseHeader::at(cur);
        if w.next_rev < store.compact_revision() {
            self.watchers.remove(&(stream, id));
            self.push(
                stream,
                WatchResponse {
                    header,
                    watch_id: id,
                    canceled: true,
                    compact_revision: store.compact_revision(),
                    cancel_reason: EtcdError::Compacted.message().to_string(),
                    ..WatchResponse::default()
                },
            );
            return;
        }
        if w.next_rev > cur {
            return;
        }
        let mut batches: Vec<Vec<Event>> = Vec::new();
        let mut batch: Vec<Event> = Vec::new();
        for (_, events) in store.events(w.next_rev, cur) {
            for e in events.iter().filter(|e| w.wants(e)) {
                let mut e = e.clone();
                if !w.prev_kv {
                    e.prev_kv = None;
                }
                batch.push(e);
            }
            // Close a response only between revisions, never inside one.
            if batch.len() >= self.events_per_response_max {
                batches.push(std::mem::take(&mut batch));
            }
        }
        if !batch.is_empty() {
            batches.push(batch);
        }
        self.watchers.get_mut(&(stream, id)).expect("watcher vanished").next_rev = cur + 1;
        for events in batches {
            self.push(
                stream,
                WatchResponse { header, watch_id: id, events, ..WatchResponse::default() },
            );
        }
    }
}
