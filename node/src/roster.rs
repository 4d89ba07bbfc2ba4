//! [`Roster`]: the members this node dials and accepts, shared by the driver (which
//! follows the member list it applies), the peer transport and the client services.
//!
//! It is seeded with the best list known at start (the recovered list, or for a member
//! joining a running cluster the list a running member gave it) and then follows the
//! applied list. Applying old entries (a joining member catching up by log) may show
//! lists older than the seed, so a member the seed knows is only dropped once an
//! applied change removes it; as etcd, a removed id is remembered and refused for good,
//! while an id not heard of yet is accepted (it may have been added by an entry this
//! node has not applied).

use detcd_core::server::Member;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

#[derive(Default)]
struct Known {
    members: BTreeMap<u64, Member>,
    /// Gone from the applied list but still in Raft's configuration: the list changes
    /// when a joint change is entered, and the member still takes part (it must learn
    /// of its removal; a removed leader drives the change to its end).
    leaving: BTreeSet<u64>,
    removed: BTreeSet<u64>,
}

/// The shared view; see the module documentation.
#[derive(Default)]
pub struct Roster {
    known: Mutex<Known>,
    /// Set once this member applied its own removal: every client request is refused.
    me_removed: AtomicBool,
}

impl Roster {
    pub fn new(seed: &[Member]) -> Roster {
        let roster = Roster::default();
        roster.lock().members = seed.iter().map(|m| (m.id, m.clone())).collect();
        roster
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Known> {
        self.known.lock().expect("the roster lock is never held across a panic")
    }

    /// An applied list changed from `before` to `after`: members it removed are
    /// leaving (see [`Roster::settle`]); members it holds are added or updated.
    pub fn applied(&self, before: &[Member], after: &[Member]) {
        let mut k = self.lock();
        for gone in before.iter().filter(|b| !after.iter().any(|a| a.id == b.id)) {
            k.leaving.insert(gone.id);
        }
        for m in after {
            if !k.removed.contains(&m.id) {
                k.members.insert(m.id, m.clone());
            }
        }
    }

    /// Leaving members that Raft's configuration no longer holds are dropped and
    /// refused from now on. True when one was.
    pub fn settle(&self, in_conf: impl Fn(u64) -> bool) -> bool {
        let mut k = self.lock();
        let done: Vec<u64> = k.leaving.iter().copied().filter(|&id| !in_conf(id)).collect();
        for id in &done {
            k.leaving.remove(id);
            k.members.remove(id);
            k.removed.insert(*id);
        }
        !done.is_empty()
    }

    /// Every member to dial, with the peer URL to dial it at.
    pub fn peer_urls(&self) -> Vec<(u64, String)> {
        let k = self.lock();
        k.members.values().filter_map(|m| Some((m.id, m.peer_urls.first()?.clone()))).collect()
    }

    /// The peer URL of `id`, if it is known.
    pub fn peer_url(&self, id: u64) -> Option<String> {
        self.lock().members.get(&id).and_then(|m| m.peer_urls.first().cloned())
    }

    /// Whether `id` was removed from the cluster (its messages are refused).
    pub fn is_removed(&self, id: u64) -> bool {
        self.lock().removed.contains(&id)
    }

    pub fn set_me_removed(&self) {
        self.me_removed.store(true, Ordering::Relaxed);
    }

    pub fn me_removed(&self) -> bool {
        self.me_removed.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(id: u64, url: &str) -> Member {
        Member { id, peer_urls: vec![url.into()], ..Member::default() }
    }

    #[test]
    fn follows_changes_and_never_forgets_a_removal() {
        let r = Roster::new(&[m(1, "http://a"), m(2, "http://b"), m(4, "http://d")]);
        // Replaying an old list that does not know 4 yet keeps it.
        let old = [m(1, "http://a"), m(2, "http://b"), m(3, "http://c")];
        r.applied(&[m(1, "http://a"), m(2, "http://b")], &old);
        assert_eq!(r.peer_url(4).as_deref(), Some("http://d"));
        assert_eq!(r.peer_url(3).as_deref(), Some("http://c"));
        // 3 removed, 2 moved; 3 is dropped once out of Raft's configuration.
        r.applied(&old, &[m(1, "http://a"), m(2, "http://b2")]);
        assert!(!r.settle(|id| id <= 4));
        assert!(!r.is_removed(3));
        assert!(r.settle(|id| id != 3));
        assert!(r.is_removed(3));
        assert_eq!(r.peer_url(3), None);
        assert_eq!(r.peer_url(2).as_deref(), Some("http://b2"));
        // A removed member does not come back with an old list.
        r.applied(&[], &old);
        assert_eq!(r.peer_url(3), None);
        assert!(!r.is_removed(4));
        assert_eq!(r.peer_urls().len(), 3);
    }
}
