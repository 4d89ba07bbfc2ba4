//! The cluster's member list as replicated state (etcd's `membership.RaftCluster`):
//! each member's id, name, peer and client URLs and whether it is a learner, the
//! operations that change it, and etcd's checks on a membership request.
//!
//! Until the first change applies, the list is the initial cluster from the member's
//! configuration (every member of a cluster is started with the same one, as etcd's
//! `--initial-cluster`); from then on it is replicated state carried in snapshots.
//! Adding, removing and promoting travel in Raft configuration entries (the operation
//! is the entry's context), so the list and Raft's configuration change at the same
//! log index; updating peer URLs changes no configuration and is a normal entry.

use crate::api::{EtcdError, ResponseHeader};
use crate::types::{Index, NodeId};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// etcd's limit on learners in a cluster (`--max-learners` default).
pub const LEARNERS_MAX: usize = 1;
/// A learner may be promoted once its log holds at least this share (per mille) of the
/// leader's, as etcd (90%).
pub const LEARNER_READY_PER_MILLE: u64 = 900;

/// Whether a learner whose matched index is `matched` may be promoted by a leader whose
/// last index is `leader_last` (etcd's in-sync rule, `LEARNER_READY_PER_MILLE`).
pub fn learner_in_sync(matched: Index, leader_last: Index) -> bool {
    u128::from(matched) * 1000 >= u128::from(leader_last) * u128::from(LEARNER_READY_PER_MILLE)
}

/// One member of the cluster.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Member {
    pub id: NodeId,
    /// Empty until the member started and published it.
    pub name: String,
    pub peer_urls: Vec<String>,
    pub client_urls: Vec<String>,
    pub is_learner: bool,
}

/// A change of the member list, applied by every replica in log order.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum MemberOp {
    Add(Member),
    Remove(NodeId),
    Update { id: NodeId, peer_urls: Vec<String> },
    Promote(NodeId),
}

/// The answer to every member request: the member concerned (for an add) and the
/// list after the change, as etcd's Member*Response carry.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MembersResponse {
    pub header: ResponseHeader,
    pub member: Option<Member>,
    pub members: Vec<Member>,
}

/// The member list. `None` in `table` means "still the initial cluster".
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Members {
    table: Option<BTreeMap<NodeId, Member>>,
}

impl Members {
    /// Whether no change ever applied (snapshot images then leave the list out).
    pub fn is_initial(&self) -> bool {
        self.table.is_none()
    }

    /// The members, in id order; `initial` is the configured initial cluster.
    pub fn list(&self, initial: &[Member]) -> Vec<Member> {
        match &self.table {
            Some(t) => t.values().cloned().collect(),
            None => {
                let mut v = initial.to_vec();
                v.sort_by_key(|m| m.id);
                v
            }
        }
    }

    /// Applies `op`; the answer lists the members afterwards. An operation that no
    /// longer fits (checked when proposed, but another change may have applied in
    /// between) is refused alike on every replica.
    pub fn apply(
        &mut self,
        initial: &[Member],
        op: &MemberOp,
    ) -> Result<MembersResponse, EtcdError> {
        let mut t: BTreeMap<NodeId, Member> = match self.table.take() {
            Some(t) => t,
            None => initial.iter().map(|m| (m.id, m.clone())).collect(),
        };
        let r = apply_to(&mut t, op);
        self.table = Some(t);
        let member = r?;
        Ok(MembersResponse {
            header: ResponseHeader::default(),
            member,
            members: self.list(initial),
        })
    }
}

fn apply_to(t: &mut BTreeMap<NodeId, Member>, op: &MemberOp) -> Result<Option<Member>, EtcdError> {
    match op {
        MemberOp::Add(m) => {
            if t.contains_key(&m.id) {
                return Err(EtcdError::MemberExist);
            }
            t.insert(m.id, m.clone());
            Ok(Some(m.clone()))
        }
        MemberOp::Remove(id) => t.remove(id).map(|_| None).ok_or(EtcdError::MemberNotFound),
        MemberOp::Update { id, peer_urls } => {
            let m = t.get_mut(id).ok_or(EtcdError::MemberNotFound)?;
            m.peer_urls = peer_urls.clone();
            Ok(None)
        }
        MemberOp::Promote(id) => {
            let m = t.get_mut(id).ok_or(EtcdError::MemberNotFound)?;
            if !m.is_learner {
                return Err(EtcdError::MemberNotLearner);
            }
            m.is_learner = false;
            Ok(None)
        }
    }
}

/// A member id from its peer URLs, the cluster and a value unique to the request (etcd
/// mixes in the wall clock; here the caller passes something deterministic, e.g. the
/// proposal id). FNV-1a, never 0.
pub fn derive_member_id(peer_urls: &[String], cluster_id: u64, unique: u64) -> NodeId {
    let mut sorted: Vec<&String> = peer_urls.iter().collect();
    sorted.sort();
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let mut eat = |bytes: &[u8]| {
        for &b in bytes {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
    };
    for u in sorted {
        eat(u.as_bytes());
        eat(&[0]);
    }
    eat(&cluster_id.to_le_bytes());
    eat(&unique.to_le_bytes());
    h.max(1)
}

/// What the leader knows of the cluster's health, for etcd's reconfiguration checks.
pub struct ClusterView<'a> {
    /// Voters heard from within the last election timeout (the leader included).
    pub active: &'a dyn Fn(NodeId) -> bool,
    /// The leader's last index and a member's matched index.
    pub leader_last: Index,
    pub matched: &'a dyn Fn(NodeId) -> Option<Index>,
}

/// Whether a quorum of `voters` would be started (active) members: etcd's
/// `--strict-reconfig-check`, refusing a change that would leave the cluster unable
/// to commit.
fn enough_started(voters: usize, started: usize) -> bool {
    started > voters / 2
}

/// etcd's checks of a membership request against the list and the leader's view.
pub fn check(op: &MemberOp, members: &[Member], view: &ClusterView<'_>) -> Result<(), EtcdError> {
    let voters = members.iter().filter(|m| !m.is_learner).count();
    let started = members.iter().filter(|m| !m.is_learner && (view.active)(m.id)).count();
    let find = |id: NodeId| members.iter().find(|m| m.id == id);
    let urls_taken = |urls: &[String], except: Option<NodeId>| {
        members.iter().any(|m| Some(m.id) != except && m.peer_urls.iter().any(|u| urls.contains(u)))
    };
    match op {
        MemberOp::Add(m) => {
            check_peer_urls(&m.peer_urls)?;
            if find(m.id).is_some() {
                return Err(EtcdError::MemberExist);
            }
            if urls_taken(&m.peer_urls, None) {
                return Err(EtcdError::PeerUrlExist);
            }
            if m.is_learner {
                if members.iter().filter(|m| m.is_learner).count() >= LEARNERS_MAX {
                    return Err(EtcdError::TooManyLearners);
                }
            } else if !enough_started(voters + 1, started) {
                return Err(EtcdError::MemberNotEnoughStarted);
            }
        }
        MemberOp::Remove(id) => {
            let m = find(*id).ok_or(EtcdError::MemberNotFound)?;
            if !m.is_learner {
                let still = started - usize::from((view.active)(*id));
                if !enough_started(voters - 1, still) {
                    return Err(EtcdError::MemberNotEnoughStarted);
                }
            }
        }
        MemberOp::Update { id, peer_urls } => {
            find(*id).ok_or(EtcdError::MemberNotFound)?;
            check_peer_urls(peer_urls)?;
            if urls_taken(peer_urls, Some(*id)) {
                return Err(EtcdError::PeerUrlExist);
            }
        }
        MemberOp::Promote(id) => {
            let m = find(*id).ok_or(EtcdError::MemberNotFound)?;
            if !m.is_learner {
                return Err(EtcdError::MemberNotLearner);
            }
            if !learner_in_sync((view.matched)(*id).unwrap_or(0), view.leader_last) {
                return Err(EtcdError::LearnerNotReady);
            }
            if !enough_started(voters + 1, started) {
                return Err(EtcdError::MemberNotEnoughStarted);
            }
        }
    }
    Ok(())
}

/// The peer URLs of a member add: at least one, each well formed. etcd checks a
/// MemberAdd's URLs where the request arrives, before it looks for a leader (its
/// handler parses them first), so `validate` calls this too; an update's URLs etcd
/// does not check at all, detcd checks them here on the leader.
pub fn check_peer_urls(urls: &[String]) -> Result<(), EtcdError> {
    if urls.is_empty() || urls.iter().any(|u| !valid_url(u)) {
        return Err(EtcdError::MemberBadUrls);
    }
    Ok(())
}

/// A peer URL as etcd accepts it: `http://` or `https://` with a host and a port.
fn valid_url(u: &str) -> bool {
    let rest = u.strip_prefix("http://").or_else(|| u.strip_prefix("https://"));
    rest.and_then(|r| r.rsplit_once(':')).is_some_and(|(host, port)| {
        !host.is_empty() && !port.is_empty() && port.parse::<u16>().is_ok()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(id: NodeId, url: &str, learner: bool) -> Member {
        Member { id, peer_urls: vec![url.into()], is_learner: learner, ..Member::default() }
    }

    fn initial() -> Vec<Member> {
        vec![
            m(1, "http://127.0.0.1:2380", false),
            m(2, "http://127.0.0.2:2380", false),
            m(3, "http://127.0.0.3:2380", false),
        ]
    }

    fn check_with(
        op: &MemberOp,
        members: &[Member],
        active: &dyn Fn(NodeId) -> bool,
        matched: &dyn Fn(NodeId) -> Option<Index>,
    ) -> Result<(), EtcdError> {
        check(op, members, &ClusterView { active, leader_last: 100, matched })
    }

    #[test]
    fn etcd_refusals() {
        let all = |_| true;
        let none = |_| None;
        let ms = initial();
        let add = |id, url: &str, l| MemberOp::Add(m(id, url, l));
        assert_eq!(
            check_with(&add(4, "http://127.0.0.1:2380", false), &ms, &all, &none),
            Err(EtcdError::PeerUrlExist)
        );
        assert_eq!(
            check_with(&add(2, "http://127.0.0.9:2380", false), &ms, &all, &none),
            Err(EtcdError::MemberExist)
        );
        assert_eq!(
            check_with(&add(4, "ftp://x", false), &ms, &all, &none),
            Err(EtcdError::MemberBadUrls)
        );
        assert_eq!(check_with(&add(4, "http://127.0.0.4:2380", true), &ms, &all, &none), Ok(()));
        let mut with_learner = ms.clone();
        with_learner.push(m(4, "http://127.0.0.4:2380", true));
        assert_eq!(
            check_with(&add(5, "http://127.0.0.5:2380", true), &with_learner, &all, &none),
            Err(EtcdError::TooManyLearners)
        );
        // Two of three started: adding a fourth voter needs three.
        let two = |id| id != 3;
        assert_eq!(
            check_with(&add(4, "http://127.0.0.4:2380", false), &ms, &two, &none),
            Err(EtcdError::MemberNotEnoughStarted)
        );
        // Removing a started voter of three with one down leaves one of two.
        assert_eq!(
            check_with(&MemberOp::Remove(2), &ms, &two, &none),
            Err(EtcdError::MemberNotEnoughStarted)
        );
        assert_eq!(check_with(&MemberOp::Remove(3), &ms, &two, &none), Ok(()));
        assert_eq!(
            check_with(&MemberOp::Remove(9), &ms, &all, &none),
            Err(EtcdError::MemberNotFound)
        );
        assert_eq!(
            check_with(&MemberOp::Promote(2), &ms, &all, &none),
            Err(EtcdError::MemberNotLearner)
        );
        assert_eq!(
            check_with(&MemberOp::Promote(4), &with_learner, &all, &|_| Some(89)),
            Err(EtcdError::LearnerNotReady)
        );
        assert_eq!(check_with(&MemberOp::Promote(4), &with_learner, &all, &|_| Some(90)), Ok(()));
    }

    #[test]
    fn apply_changes_the_list() {
        let init = initial();
        let mut t = Members::default();
        assert!(t.is_initial());
        let r = t.apply(&init, &MemberOp::Add(m(9, "http://127.0.0.9:2380", true))).expect("added");
        assert_eq!(r.member.map(|m| m.id), Some(9));
        assert_eq!(r.members.len(), 4);
        t.apply(&init, &MemberOp::Promote(9)).expect("promoted");
        assert!(!t.list(&init).iter().any(|m| m.is_learner));
        t.apply(&init, &MemberOp::Remove(1)).expect("removed");
        assert_eq!(t.apply(&init, &MemberOp::Remove(1)), Err(EtcdError::MemberNotFound));
        assert_eq!(t.list(&init).iter().map(|m| m.id).collect::<Vec<_>>(), vec![2, 3, 9]);
    }

    #[test]
    fn ids_are_deterministic_and_differ() {
        let u = vec!["http://127.0.0.4:2380".to_string()];
        assert_eq!(derive_member_id(&u, 7, 1), derive_member_id(&u, 7, 1));
        assert_ne!(derive_member_id(&u, 7, 1), derive_member_id(&u, 7, 2));
        assert_ne!(derive_member_id(&u, 7, 1), 0);
    }
}
