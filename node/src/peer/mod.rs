//! The member-to-member transport: one long-lived gRPC stream to each peer
//! (`detcd.peer.Peer/Stream`), reconnected with backoff, fed from a bounded queue.
//!
//! Raft tolerates loss, so the transport may drop: when a peer is down or slow its
//! queue fills and further messages to it are dropped, which bounds the memory a dead
//! peer can cost. The messages waiting in a peer's queue go out together, as one batch
//! in the [`wire`] encoding (one gRPC message, one write, instead of one per Raft
//! message); a batch larger than a frame (a snapshot) is cut into chunks that the
//! receiver joins, up to a bound.

pub mod wire;

use crate::driver::Handle;
use crate::metrics::Metrics;
use crate::pb::peer::peer_client::PeerClient;
use crate::pb::peer::peer_server::Peer;
use crate::pb::peer::{
    Attributes, AttributesRequest, Closed, ClusterInfo, ClusterRequest, Frame, MemberAnswer,
    MemberCall,
};
use crate::roster::Roster;
use crate::tls::PeerDialer;
use bytes::Bytes;
use detcd_core::raft::Message;
use detcd_core::server::{Member, Request as CoreRequest, Response as CoreResponse};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, watch};
use tonic::{Request, Response, Status, Streaming};
use tracing::{debug, info, warn};

/// Messages queued for one peer before new ones are dropped.
pub const PEER_QUEUE_MAX: usize = 1024;
/// Largest chunk of an encoded batch in one frame.
pub const FRAME_BYTES_MAX: usize = 1 << 20;
/// A batch takes no further messages once it is this large (a message is never split
/// between batches, so one batch can be larger: a snapshot is one message).
pub const BATCH_BYTES_MAX: usize = 256 << 10;
/// How a member refuses a removed member's stream.
const REMOVED_REFUSAL: &str = "was removed from the cluster";
/// How long a broken stream's call is given to report why it ended.
const REFUSAL_WAIT: Duration = Duration::from_millis(200);
/// Reconnect backoff bounds.
const BACKOFF_MIN: Duration = Duration::from_millis(50);
const BACKOFF_MAX: Duration = Duration::from_secs(2);

/// The sending half: a queue per peer, each drained by its own connection task. The
/// set of peers follows the member list ([`Peers::update`]).
pub struct Peers {
    me: u64,
    cluster_id: u64,
    metrics: Arc<Metrics>,
    dialer: PeerDialer,
    roster: Arc<Roster>,
    links: BTreeMap<u64, LinkHandle>,
}

/// What the node holds of one connection task: dropping it ends the task.
struct LinkHandle {
    queue: mpsc::Sender<Message>,
    url: watch::Sender<String>,
}

impl Peers {
    /// Starts a connection task for every peer (id → peer URL).
    pub fn start(
        me: u64,
        cluster_id: u64,
        peers: &[(u64, String)],
        metrics: Arc<Metrics>,
        dialer: PeerDialer,
        roster: Arc<Roster>,
    ) -> Peers {
        let mut p = Peers { me, cluster_id, metrics, dialer, roster, links: BTreeMap::new() };
        p.update(peers);
        p
    }

    /// Follows a new member list: a new member's connection starts, a member whose
    /// URL changed is redialled at the new one, a removed member is no longer dialled
    /// (its queued messages are dropped).
    pub fn update(&mut self, peers: &[(u64, String)]) {
        let me = self.me;
        self.links.retain(|id, _| peers.iter().any(|(p, _)| p == id));
        for (id, url) in peers {
            if *id == me {
                continue;
            }
            if let Some(link) = self.links.get(id) {
                if *link.url.borrow() != *url {
                    info!(to = format_args!("{id:x}"), url = %url, "peer URL changed");
                    let _ = link.url.send(url.clone());
                }
                continue;
            }
            let (tx, rx) = mpsc::channel(PEER_QUEUE_MAX);
            let (url_tx, url_rx) = watch::channel(url.clone());
            let link = Link {
                me,
                cluster_id: self.cluster_id,
                to: *id,
                metrics: self.metrics.clone(),
                dialer: self.dialer.clone(),
                roster: self.roster.clone(),
            };
            tokio::spawn(probe(*id, url_rx.clone(), self.metrics.clone(), self.dialer.clone()));
            tokio::spawn(link.run(rx, url_rx));
            self.links.insert(*id, LinkHandle { queue: tx, url: url_tx });
        }
    }

    /// Queues `msg` for its destination; dropped if that peer's queue is full.
    pub fn send(&self, msg: Message) {
        match self.links.get(&msg.to) {
            Some(link) => {
                if link.queue.try_send(msg).is_err() {
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
/// `etcd_network_peer_round_trip_time_seconds`. Ends when the peer is no longer a
/// member (its URL's sender is dropped) or the member stops (the runtime drops it).
async fn probe(
    to: u64,
    mut url: watch::Receiver<String>,
    metrics: Arc<Metrics>,
    dialer: PeerDialer,
) {
    let mut client: Option<PeerClient<tonic::transport::Channel>> = None;
    let mut every = tokio::time::interval(PROBE_INTERVAL);
    loop {
        every.tick().await;
        match url.has_changed() {
            Err(_) => return,
            Ok(true) => client = None,
            Ok(false) => {}
        }
        if client.is_none() {
            let target = url.borrow_and_update().clone();
            client = dialer.connect(target).await.ok();
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

/// One connection to one peer, at the URL its watch holds now.
struct Link {
    me: u64,
    cluster_id: u64,
    to: u64,
    metrics: Arc<Metrics>,
    dialer: PeerDialer,
    /// Told when the peer refuses this member as removed from the cluster.
    roster: Arc<Roster>,
}

impl Link {
    /// Ends when the peer leaves the member list (the queue closes or the URL's
    /// sender is dropped).
    async fn run(self, mut queue: mpsc::Receiver<Message>, mut url: watch::Receiver<String>) {
        let mut backoff = BACKOFF_MIN;
        loop {
            let target = url.borrow_and_update().clone();
            let client = match self.dialer.connect(target.clone()).await {
                Ok(c) => c,
                Err(e) => {
                    debug!(to = format_args!("{:x}", self.to), error = %e, "peer unreachable");
                    tokio::select! {
                        _ = tokio::time::sleep(backoff) => {}
                        changed = url.changed() => if changed.is_err() { return },
                    }
                    backoff = (backoff * 2).min(BACKOFF_MAX);
                    // Queued messages wait in the bounded queue for the connection: a
                    // peer still starting would otherwise lose the first forwarded
                    // proposal, whose client then waits out its whole timeout. Old
                    // messages are harmless to Raft; a full queue drops new ones.
                    continue;
                }
            };
            info!(to = format_args!("{:x}", self.to), url = %target, "connected to peer");
            backoff = BACKOFF_MIN;
            if !self.stream(client, &mut queue, &mut url).await {
                return;
            }
            tokio::time::sleep(backoff).await;
        }
    }

    /// Feeds one stream until it breaks or the peer's URL changes. False when the
    /// member is shutting down or the peer left the member list.
    async fn stream(
        &self,
        mut client: PeerClient<tonic::transport::Channel>,
        queue: &mut mpsc::Receiver<Message>,
        url: &mut watch::Receiver<String>,
    ) -> bool {
        let (frames, rx) = mpsc::channel::<Frame>(64);
        let call = tokio::spawn(async move {
            client.stream(tokio_stream::wrappers::ReceiverStream::new(rx)).await
        });
        let mut batch = wire::Batch::new();
        loop {
            let next = tokio::select! {
                msg = queue.recv() => msg,
                changed = url.changed() => {
                    call.abort();
                    return changed.is_ok();
                }
            };
            let Some(msg) = next else {
                call.abort();
                return false;
            };
            // Whatever else is queued for this peer joins the batch: under load the
            // driver queues appends, heartbeats and read answers in one turn.
            batch.push(&msg);
            while batch.len() < wire::BATCH_MESSAGES_MAX && batch.bytes() < BATCH_BYTES_MAX {
                match queue.try_recv() {
                    Ok(more) => batch.push(&more),
                    Err(_) => break,
                }
            }
            let bytes = batch.finish();
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
                    // The peer ended the call: if it refused this member as removed,
                    // this member missed its own removal (as etcd's members learn it
                    // from a peer's refusal).
                    if let Ok(Ok(Err(status))) = tokio::time::timeout(REFUSAL_WAIT, call).await {
                        if status.code() == tonic::Code::PermissionDenied
                            && status.message().contains(REMOVED_REFUSAL)
                        {
                            self.roster.set_me_removed();
                        }
                    }
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

/// The receiving half: the gRPC service peers stream into, and the membership calls
/// between members (a follower forwarding a change to the leader, a member joining).
pub struct PeerService {
    pub me: u64,
    pub cluster_id: u64,
    /// Who is a member: a removed member's messages are refused.
    pub roster: Arc<Roster>,
    /// The initial cluster, which a joining member applies the log from.
    pub initial_members: Vec<Member>,
    pub handle: Handle,
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
        let mut lost = StreamEnd { handle: &self.handle, from: None };
        while let Some(frame) = frames.message().await? {
            lost.from = Some(frame.from);
            if frame.cluster_id != self.cluster_id {
                return Err(Status::failed_precondition("detcd: peer belongs to another cluster"));
            }
            if self.roster.is_removed(frame.from) {
                return Err(Status::permission_denied(format!(
                    "detcd: peer {:x} {REMOVED_REFUSAL}",
                    frame.from
                )));
            }
            if joined.len() + frame.chunk.len() > self.message_bytes_max {
                return Err(Status::resource_exhausted("detcd: peer message too large"));
            }
            // A batch in one frame (the usual case) is decoded where it lies; only a
            // chunked one is joined.
            let batch = match (frame.more, joined.is_empty()) {
                (true, _) => {
                    joined.extend_from_slice(&frame.chunk);
                    continue;
                }
                (false, true) => frame.chunk,
                (false, false) => {
                    joined.extend_from_slice(&frame.chunk);
                    Bytes::from(std::mem::take(&mut joined))
                }
            };
            self.metrics.peer_received(batch.len());
            let msgs = wire::decode(batch)
                .map_err(|e| Status::invalid_argument(format!("detcd: bad peer message: {e}")))?;
            for msg in msgs {
                if msg.to != self.me || msg.from != frame.from {
                    warn!(from = msg.from, to = msg.to, "misaddressed peer message dropped");
                    continue;
                }
                if self.to_driver.send(msg).await.is_err() {
                    return Ok(Response::new(Closed {}));
                }
            }
        }
        Ok(Response::new(Closed {}))
    }

    async fn attributes(
        &self,
        _: Request<AttributesRequest>,
    ) -> Result<Response<Attributes>, Status> {
        Ok(Response::new(self.attributes.clone()))
    }
    async fn member(&self, call: Request<MemberCall>) -> Result<Response<MemberAnswer>, Status> {
        let request: CoreRequest = ciborium::from_reader(&call.get_ref().request[..])
            .map_err(|e| Status::invalid_argument(format!("detcd: bad member call: {e}")))?;
        if !request.kind().starts_with("member_") {
            return Err(Status::invalid_argument("detcd: only membership requests are forwarded"));
        }
        let answer = self.handle.ask(request).await?;
        Ok(Response::new(MemberAnswer { response: cbor(&answer).into() }))
    }

    async fn cluster(&self, _: Request<ClusterRequest>) -> Result<Response<ClusterInfo>, Status> {
        let members = match self.handle.call(CoreRequest::MemberList).await? {
            CoreResponse::Members(r) => r.members,
            other => return Err(crate::service::unexpected(other)),
        };
        Ok(Response::new(ClusterInfo {
            cluster_id: self.cluster_id,
            members: cbor(&members).into(),
            initial_members: cbor(&self.initial_members).into(),
        }))
    }
}

/// Tells the driver, however a peer's stream ended (its process died, its link
/// redialled, a refusal), which peer it came from: a follower whose leader's stream
/// broke campaigns without waiting out a whole election timeout
/// (`RaftNode::leader_unreachable`).
struct StreamEnd<'a> {
    handle: &'a Handle,
    from: Option<u64>,
}

impl Drop for StreamEnd<'_> {
    fn drop(&mut self) {
        if let Some(from) = self.from {
            self.handle.peer_lost(from);
        }
    }
}

/// CBOR of a core value that always serializes.
pub fn cbor<T: serde::Serialize>(value: &T) -> Vec<u8> {
    let mut buf = Vec::new();
    ciborium::into_writer(value, &mut buf).expect("core values always serialize");
    buf
}
