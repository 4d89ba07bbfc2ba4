//! `etcdserverpb.Cluster`: MemberList from the configuration Raft holds, with each
//! member's name and client URLs (asked of the member itself over the peer port and
//! remembered). Membership changes come with the membership issue; until then they
//! are refused.

use super::{counted, Api};
use crate::convert;
use crate::pb::etcdserverpb::{self as pb, cluster_server::Cluster};
use crate::pb::peer::AttributesRequest;
use crate::tls::PeerDialer;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tonic::{Request as Req, Response as Resp, Status};

/// How long MemberList waits for a peer's attributes.
const ATTRIBUTES_TIMEOUT: Duration = Duration::from_millis(500);

/// One member as the cluster was configured.
#[derive(Clone, Debug)]
pub struct MemberEntry {
    pub id: u64,
    pub name: String,
    pub peer_urls: Vec<String>,
}

/// Every configured member, and the client URLs learnt from them.
pub struct Directory {
    pub me: u64,
    pub members: Vec<MemberEntry>,
    pub my_client_urls: Vec<String>,
    learnt: Mutex<BTreeMap<u64, (String, Vec<String>)>>,
    /// Reaches peers as the peer transport does (over TLS for https peer URLs).
    dialer: PeerDialer,
}

impl Directory {
    pub fn new(
        me: u64,
        members: Vec<MemberEntry>,
        my_client_urls: Vec<String>,
        dialer: PeerDialer,
    ) -> Directory {
        Directory { me, members, my_client_urls, learnt: Mutex::new(BTreeMap::new()), dialer }
    }

    /// Name and client URLs of `m`: its own word, asked once and remembered. A member
    /// that never answered shows as etcd shows an unstarted one: no name, no URLs.
    async fn attributes(&self, m: &MemberEntry) -> (String, Vec<String>) {
        if m.id == self.me {
            return (m.name.clone(), self.my_client_urls.clone());
        }
        if let Some(known) = self.learnt.lock().expect("not poisoned").get(&m.id) {
            return known.clone();
        }
        let Some(url) = m.peer_urls.first() else { return (String::new(), Vec::new()) };
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
            _ => (String::new(), Vec::new()),
        }
    }

    /// The members in etcd's MemberList shape; `learners` marks who only learns.
    pub async fn list(&self, voters: &[u64], learners: &[u64]) -> Vec<pb::Member> {
        let mut out = Vec::new();
        for m in &self.members {
            let is_learner = learners.contains(&m.id);
            if !is_learner && !voters.contains(&m.id) {
                continue;
            }
            let (name, client_urls) = self.attributes(m).await;
            out.push(pb::Member {
                id: m.id,
                name,
                peer_ur_ls: m.peer_urls.clone(),
                client_ur_ls: client_urls,
                is_learner,
            });
        }
        out
    }
}

pub struct ClusterService(pub Arc<Api>);

const SERVICE: &str = "etcdserverpb.Cluster";

fn not_yet() -> Status {
    Status::unimplemented("detcd: membership changes are not supported yet")
}

#[tonic::async_trait]
impl Cluster for ClusterService {
    async fn member_add(
        &self,
        _: Req<pb::MemberAddRequest>,
    ) -> Result<Resp<pb::MemberAddResponse>, Status> {
        counted(&self.0, SERVICE, "MemberAdd", Err(not_yet()))
    }

    async fn member_remove(
        &self,
        _: Req<pb::MemberRemoveRequest>,
    ) -> Result<Resp<pb::MemberRemoveResponse>, Status> {
        counted(&self.0, SERVICE, "MemberRemove", Err(not_yet()))
    }

    async fn member_update(
        &self,
        _: Req<pb::MemberUpdateRequest>,
    ) -> Result<Resp<pb::MemberUpdateResponse>, Status> {
        counted(&self.0, SERVICE, "MemberUpdate", Err(not_yet()))
    }

    async fn member_list(
        &self,
        _: Req<pb::MemberListRequest>,
    ) -> Result<Resp<pb::MemberListResponse>, Status> {
        let result = async {
            let info = self.0.handle.info().await?;
            let members = self.0.members.list(&info.voters, &info.learners).await;
            // etcd answers MemberList from its membership store, outside the MVCC
            // store: its header carries no revision.
            let header = detcd_core::api::ResponseHeader { revision: 0, ..info.header };
            Ok(pb::MemberListResponse { header: convert::header(header), members })
        }
        .await;
        counted(&self.0, SERVICE, "MemberList", result)
    }

    async fn member_promote(
        &self,
        _: Req<pb::MemberPromoteRequest>,
    ) -> Result<Resp<pb::MemberPromoteResponse>, Status> {
        counted(&self.0, SERVICE, "MemberPromote", Err(not_yet()))
    }
}
