//! `etcdserverpb.Cluster`: the member list and its changes, backed by the replicated
//! list in the core. A change asked of a follower is refused there with `not leader`
//! (only the leader knows who is started and caught up) and forwarded to the leader
//! over the peer port, as etcd's followers forward proposals. Names and client URLs
//! are each member's own word, asked over the peer port and remembered; a member that
//! never answered shows what the list holds (nothing for one added and not started,
//! as etcd).

use super::{counted, Api};
use crate::convert;
use crate::pb::etcdserverpb::{self as pb, cluster_server::Cluster};
use crate::pb::peer::{AttributesRequest, MemberCall};
use crate::roster::Roster;
use crate::tls::PeerDialer;
use detcd_core::api::EtcdError;
use detcd_core::server::{Member, MembersResponse, Request, Response};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tonic::{Request as Req, Response as Resp, Status};

/// How long MemberList waits for a peer's attributes.
const ATTRIBUTES_TIMEOUT: Duration = Duration::from_millis(500);
/// How long a follower waits for the leader's answer to a forwarded change: etcd's
/// request timeout (5 s plus two election timeouts) with room to spare.
const FORWARD_TIMEOUT: Duration = Duration::from_secs(10);

/// What the Cluster service knows besides the core's list: this member's own
/// attributes, the ones learnt from peers, and how to reach them.
pub struct Directory {
    me: u64,
    my_name: String,
    my_client_urls: Vec<String>,
    roster: Arc<Roster>,
    learnt: Mutex<BTreeMap<u64, (String, Vec<String>)>>,
    /// Reaches peers as the peer transport does (over TLS for https peer URLs).
    dialer: PeerDialer,
}

impl Directory {
    pub fn new(
        me: u64,
        my_name: String,
        my_client_urls: Vec<String>,
        roster: Arc<Roster>,
        dialer: PeerDialer,
    ) -> Directory {
        Directory {
            me,
            my_name,
            my_client_urls,
            roster,
            learnt: Mutex::new(BTreeMap::new()),
            dialer,
        }
    }

    /// Name and client URLs of `m`: its own word, asked once and remembered.
    async fn attributes(&self, m: &Member) -> (String, Vec<String>) {
        if m.id == self.me {
            return (self.my_name.clone(), self.my_client_urls.clone());
        }
        if let Some(known) = self.learnt.lock().expect("not poisoned").get(&m.id) {
            return known.clone();
        }
        let listed = (m.name.clone(), m.client_urls.clone());
        let Some(url) = m.peer_urls.first() else { return listed };
        let asked = tokio::time::timeout(ATTRIBUTES_TIMEOUT, async {
            let mut client = self.dialer.connect(url.clone()).await.ok()?;
            client.attributes(AttributesRequest {}).await.ok().map(|r| r.into_inner())
        })
        .await;
        match asked {
            Ok(Some(a)) => {
                let known = (a.name, a.client_urls);
                self.learnt.lock().expect("not poisoned").insert(m.id, known.clone());
                known
            }
            _ => listed,
        }
    }

    /// The members in etcd's wire shape, learners marked.
    pub async fn describe(&self, members: &[Member]) -> Vec<pb::Member> {
        let mut out = Vec::with_capacity(members.len());
        for m in members {
            out.push(self.describe_one(m).await);
        }
        out
    }

    async fn describe_one(&self, m: &Member) -> pb::Member {
        let (name, client_urls) = self.attributes(m).await;
        pb::Member {
            id: m.id,
            name,
            peer_ur_ls: m.peer_urls.clone(),
            client_ur_ls: client_urls,
            is_learner: m.is_learner,
        }
    }

    /// Hands a membership request this member refused with `not leader` to the
    /// leader over the peer port and returns the leader's answer.
    async fn forward(&self, leader: u64, request: &Request) -> Result<Response, Status> {
        let Some(url) = (leader != 0).then(|| self.roster.peer_url(leader)).flatten() else {
            return Err(convert::status(EtcdError::NoLeader));
        };
        let call = MemberCall { request: crate::peer::cbor(request).into() };
        let answered = tokio::time::timeout(FORWARD_TIMEOUT, async {
            let mut client = self.dialer.connect(url).await.map_err(|e| {
                Status::unavailable(format!("detcd: cannot reach the leader to forward: {e}"))
            })?;
            client.member(call).await
        })
        .await
        .map_err(|_| convert::status(EtcdError::Timeout))??;
        ciborium::from_reader(&answered.get_ref().response[..]).map_err(|e| {
            Status::internal(format!("detcd: the leader's answer does not decode: {e}"))
        })
    }
}

pub struct ClusterService(pub Arc<Api>);

const SERVICE: &str = "etcdserverpb.Cluster";

impl ClusterService {
    /// Runs a membership request here, or at the leader when this member does not lead.
    async fn change(&self, request: Request) -> Result<MembersResponse, Status> {
        let answer = match self.0.handle.ask(request.clone()).await? {
            Response::Err(EtcdError::NotLeader) => {
                let leader = self.0.handle.info().await?.leader;
                self.0.members.forward(leader, &request).await?
            }
            answer => answer,
        };
        match answer {
            Response::Members(r) => Ok(r),
            Response::Err(e) => Err(convert::status(e)),
            other => Err(super::unexpected(other)),
        }
    }

    /// etcd answers membership calls from its membership store, outside the MVCC
    /// store: the header carries no revision, and names the member that answered.
    fn header(&self, r: &MembersResponse) -> Option<pb::ResponseHeader> {
        let header = detcd_core::api::ResponseHeader {
            revision: 0,
            member_id: self.0.members.me,
            ..r.header
        };
        convert::header(header)
    }
}

#[tonic::async_trait]
impl Cluster for ClusterService {
    async fn member_add(
        &self,
        req: Req<pb::MemberAddRequest>,
    ) -> Result<Resp<pb::MemberAddResponse>, Status> {
        let result = async {
            let add = Request::MemberAdd {
                peer_urls: req.get_ref().peer_ur_ls.clone(),
                is_learner: req.get_ref().is_learner,
                id: None,
            };
            let r = self.change(super::auth::as_sender(&req, add)).await?;
            let member = match &r.member {
                Some(m) => Some(self.0.members.describe_one(m).await),
                None => None,
            };
            let members = self.0.members.describe(&r.members).await;
            Ok(pb::MemberAddResponse { header: self.header(&r), member, members })
        }
        .await;
        counted(&self.0, SERVICE, "MemberAdd", result)
    }

    async fn member_remove(
        &self,
        req: Req<pb::MemberRemoveRequest>,
    ) -> Result<Resp<pb::MemberRemoveResponse>, Status> {
        let result = async {
            let remove = Request::MemberRemove { id: req.get_ref().id };
            let r = self.change(super::auth::as_sender(&req, remove)).await?;
            let members = self.0.members.describe(&r.members).await;
            Ok(pb::MemberRemoveResponse { header: self.header(&r), members })
        }
        .await;
        counted(&self.0, SERVICE, "MemberRemove", result)
    }

    async fn member_update(
        &self,
        req: Req<pb::MemberUpdateRequest>,
    ) -> Result<Resp<pb::MemberUpdateResponse>, Status> {
        let result = async {
            let update = Request::MemberUpdate {
                id: req.get_ref().id,
                peer_urls: req.get_ref().peer_ur_ls.clone(),
            };
            let r = self.change(super::auth::as_sender(&req, update)).await?;
            let members = self.0.members.describe(&r.members).await;
            Ok(pb::MemberUpdateResponse { header: self.header(&r), members })
        }
        .await;
        counted(&self.0, SERVICE, "MemberUpdate", result)
    }

    async fn member_list(
        &self,
        _: Req<pb::MemberListRequest>,
    ) -> Result<Resp<pb::MemberListResponse>, Status> {
        let result = async {
            // As etcd 3.4, any client may list the members.
            let r = super::answer!(self.0.handle.call(Request::MemberList).await?, Members)?;
            let members = self.0.members.describe(&r.members).await;
            Ok(pb::MemberListResponse { header: self.header(&r), members })
        }
        .await;
        counted(&self.0, SERVICE, "MemberList", result)
    }

    async fn member_promote(
        &self,
        req: Req<pb::MemberPromoteRequest>,
    ) -> Result<Resp<pb::MemberPromoteResponse>, Status> {
        let result = async {
            let promote = Request::MemberPromote { id: req.get_ref().id };
            let r = self.change(super::auth::as_sender(&req, promote)).await?;
            let members = self.0.members.describe(&r.members).await;
            Ok(pb::MemberPromoteResponse { header: self.header(&r), members })
        }
        .await;
        counted(&self.0, SERVICE, "MemberPromote", result)
    }
}
