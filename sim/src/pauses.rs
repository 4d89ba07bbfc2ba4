//! Client pauses: a client process stopped the world for a while (a long garbage
//! collection, a VM migration, SIGSTOP). The world only keeps the books — who is paused
//! until when, and which client a workload says holds a lock — because clients live in
//! the workload: a paused client's workload must neither send, nor act on answers, nor
//! fire its timers until the pause ends. The members keep running, so a lease the client
//! should have kept alive may expire meanwhile.

use crate::types_ext::ClientId;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Which client a pause hits, resolved when the pause starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClientTarget {
    /// This client.
    Client(ClientId),
    /// The client the workload last named as the lock holder (none: no pause).
    LockHolder,
}

/// The pause books of one world.
#[derive(Clone, Debug, Default)]
pub struct ClientPauses {
    /// client → true time its current pause ends.
    until: BTreeMap<ClientId, u64>,
    holder: Option<ClientId>,
}

impl ClientPauses {
    /// The client `target` names now, if any.
    pub fn resolve(&self, target: ClientTarget) -> Option<ClientId> {
        match target {
            ClientTarget::Client(c) => Some(c),
            ClientTarget::LockHolder => self.holder,
        }
    }

    /// Pauses `client` from `now_us` for `duration_us`; a pause already running is
    /// extended, never shortened.
    pub fn pause(&mut self, client: ClientId, now_us: u64, duration_us: u64) {
        let end = now_us + duration_us;
        let until = self.until.entry(client).or_insert(end);
        *until = (*until).max(end);
    }

    /// When `client`'s pause ends, if it is paused at `now_us`.
    pub fn paused_until(&self, client: ClientId, now_us: u64) -> Option<u64> {
        self.until.get(&client).copied().filter(|&end| end > now_us)
    }

    pub fn set_holder(&mut self, holder: Option<ClientId>) {
        self.holder = holder;
    }

    pub fn holder(&self) -> Option<ClientId> {
        self.holder
    }
}
