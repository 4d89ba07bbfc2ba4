//! The member-to-member transport: one long-lived gRPC stream to each peer
//! (`detcd.peer.Peer/Stream`), reconnected with backoff, fed from a bounded queue.
//!
//! Raft tolerates loss, so the transport may drop: when a peer is down or slow its
//! queue fills and further messages to it are dropped, which bounds the memory a dead
//! peer can cost. Messages are encoded by the core's serde types; one larger than a
//! frame (a snapshot) is cut into chunks that the receiver joins, up to a bound.

use crate::metrics::Metrics;
use crate::pb::peer::peer_client::PeerClient;
use crate::pb::peer::peer_server::Peer;
use crate::pb::peer::{Attributes, AttributesRequest, Closed, Frame};
use crate::tls::PeerDialer;
use bytes::Bytes;
use detcd_core::raft::Message;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;
use tonic::{Request, Response, Status, Streaming};
use tracing::{debug, info, warn};

/// Messages queued for one peer before new ones are dropped.
pub const PEER_QUEUE_MAX: usize = 1024;
/// Largest chunk of an encoded message in one frame.
pub const FRAME_BYTES_MAX: usize = 1 << 20;
/// Reconnect backoff bounds.
const BACKOFF_MIN: Duration = Duration::from_millis(50);
const BACKOFF_MAX: Duration = Duration::from_secs(2);

/// The sending half: a queue per peer, each drained by its own connection task.
pub struct Peers {
    queues: BTreeMap<u64, mpsc::Sender<Message>>,
}

impl Peers {
    /// Starts a connection task for every peer (id → peer URL).
    pub fn start(
        me: u64,
        cluster_id: u64,
        peers: &[(u64, String)],
        metrics: Arc<Metrics>,
        dialer: PeerDialer,
    ) -> Peers {
        let mut queues = BTreeMap::new();
        for (id, url) in peers {
            if *id == me {
                continue;
            }
            let (tx, rx) = mpsc::channel(PEER_QUEUE_MAX);
            queues.insert(*id, tx);
            let link = Link {
                me,
                cluster_id,
                to: *id,
                url: url.clone(),
                metrics: metrics.clone(),
                dialer: dialer.clone(),
            };
            tokio::spawn(probe(*id, url.clone(), metrics.clone(), dialer.clone()));
            tokio::spawn(link.run(rx));
        }
        Peers { queues }
    }

    /// Queues `msg` for its destination; dropped if that peer's queue is full.
    pub fn send(&self, msg: Message) {
        match self.queues.get(&msg.to) {
            Some(q) => {
                if q.try_send(msg).is_err() {
                    debug!("peer queue full: message dropped");
                }
            }
            None => debug!(to = msg.to, "message to an unknown member dropped"),
        }
    }
}

/// How often the round trip to each peer is measured.
const PROBE_INTERVAL: Duration = Duration::from_secs(5);

/// Measures the round trip of a small request to a peer, every `PROBE_INTERVAL`, for
/// `etcd_network_peer_round_trip_time_seconds`. Ends when the member stops (the
/// runtime drops it).
async fn probe(to: u64, url: String, metrics: Arc<Metrics>, dialer: PeerDialer) {
    let mut client: Option<PeerClient<tonic::transport::Channel>> = None;
    let mut every = tokio::time::interval(PROBE_INTERVAL);
    loop {
        every.tick().await;
        if client.is_none() {
            client = dialer.connect(url.clone()).await.ok();
        }
        let Some(c) = client.as_mut() else { continue };
        let started = tokio::time::Instant::now();
        let asked = tokio::time::timeout(PROBE_INTERVAL, c.attributes(AttributesRequest {})).await;
        match asked {
            Ok(Ok(_)) => metrics.peer_rtt(to, started.elapsed()),
            _ => client = None,
        }
    }
}

/// Encodes a Raft message for the wire.
pub fn encode(msg: &Message) -> Vec<u8> {
    let mut buf = Vec::new();
    ciborium::into_writer(msg, &mut buf).expect("a Raft message always serializes");
    buf
}

/// Decodes a Raft message from a peer; a malformed one is an error, never a panic.
pub fn decode(bytes: &[u8]) -> Result<Message, String> {
    ciborium::from_reader(bytes).map_err(|e| e.to_string())
}

/// One connection to one peer.
struct Link {
    me: u64,
    cluster_id: u64,
    to: u64,
    url: String,
    metrics: Arc<Metrics>,
    dialer: PeerDialer,
}

impl Link {
    async fn run(self, mut queue: mpsc::Receiver<Message>) {
        let mut backoff = BACKOFF_MIN;
        loop {
            let client = match self.dialer.connect(self.url.clone()).await {
                Ok(c) => c,
                Err(e) => {
                    debug!(to = format_args!("{:x}", self.to), error = %e, "peer unreachable");
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(BACKOFF_MAX);
                    // Queued messages wait in the bounded queue for the connection: a
                    // peer still starting would otherwise lose the first forwarded
                    // proposal, whose client then waits out its whole timeout. Old
                    // messages are harmless to Raft; a full queue drops new ones.
                    continue;
                }
            };
            info!(to = format_args!("{:x}", self.to), url = %self.url, "connected to peer");
            backoff = BACKOFF_MIN;
            if !self.stream(client, &mut queue).await {
                return;
            }
            tokio::time::sleep(backoff).await;
        }
    }

    /// Feeds one stream until it breaks. False when the member is shutting down.
    async fn stream(
        &self,
        mut client: PeerClient<tonic::transport::Channel>,
        queue: &mut mpsc::Receiver<Message>,
    ) -> bool {
        let (frames, rx) = mpsc::channel::<Frame>(64);
        let call = tokio::spawn(async move {
            client.stream(tokio_stream::wrappers::ReceiverStream::new(rx)).await
        });
        loop {
            let Some(msg) = queue.recv().await else {
                call.abort();
                return false;
            };
            let bytes = Bytes::from(encode(&msg));
            self.metrics.peer_sent(bytes.len());
            let mut offset = 0;
            loop {
                let end = (offset + FRAME_BYTES_MAX).min(bytes.len());
                let frame = Frame {
                    from: self.me,
                    cluster_id: self.cluster_id,
                    chunk: bytes.slice(offset..end),
                    more: end < bytes.len(),
                };
                if frames.send(frame).await.is_err() {
                    warn!(to = format_args!("{:x}", self.to), "peer stream broke; reconnecting");
                    call.abort();
                    return true;
                }
                offset = end;
                if offset >= bytes.len() {
                    break;
                }
            }
        }
    }
}

/// The receiving half: the gRPC service peers stream into.
pub struct PeerService {
    pub me: u64,
    pub cluster_id: u64,
    pub members: Vec<u64>,
    pub to_driver: mpsc::Sender<Message>,
    pub metrics: Arc<Metrics>,
    /// The largest message (joined chunks) accepted from a peer.
    pub message_bytes_max: usize,
    /// This member's own attributes, as its peers' MemberList shows them.
    pub attributes: Attributes,
}

#[tonic::async_trait]
impl Peer for PeerService {
    async fn stream(&self, request: Request<Streaming<Frame>>) -> Result<Response<Closed>, Status> {
        let mut frames = request.into_inner();
        let mut joined: Vec<u8> = Vec::new();
        while let Some(frame) = frames.message().await? {
            if frame.cluster_id != self.cluster_id {
                return Err(Status::failed_precondition("detcd: peer belongs to another cluster"));
            }
            if !self.members.contains(&frame.from) {
                return Err(Status::permission_denied("detcd: peer is not a member"));
            }
            if joined.len() + frame.chunk.len() > self.message_bytes_max {
                return Err(Status::resource_exhausted("detcd: peer message too large"));
            }
            joined.extend_from_slice(&frame.chunk);
            if frame.more {
                continue;
            }
            self.metrics.peer_received(joined.len());
            match decode(&joined) {
                Ok(msg) if msg.to == self.me && msg.from == frame.from => {
                    if self.to_driver.send(msg).await.is_err() {
                        return Ok(Response::new(Closed {}));
                    }
                }
                Ok(msg) => warn!(from = msg.from, to = msg.to, "misaddressed peer message dropped"),
                Err(e) => {
                    return Err(Status::invalid_argument(format!("detcd: bad peer message: {e}")))
                }
            }
            joined.clear();
        }
        Ok(Response::new(Closed {}))
    }

    async fn attributes(
        &self,
        _: Request<AttributesRequest>,
    ) -> Result<Response<Attributes>, Status> {
        Ok(Response::new(self.attributes.clone()))
    }
}
