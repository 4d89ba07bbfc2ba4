//! The `[lock]` table: instead of the KV workload, clients run etcd's lock recipe
//! against the cluster and touch a shared resource while they believe they hold the
//! lock — or its election recipe: campaign, proclaim values while leading, resign,
//! with observers watching who leads.
//!
//! ```toml
//! [lock]
//! recipe = "lock"          # or "election"
//! fenced = false           # the resource checks the lock key's create revision
//! clients = 3
//! lease_ttl_s = 1
//! keepalive_ms = 300       # how often a client keeps its lease alive
//! hold_ms = [300, 800]     # work between the two resource writes of one critical section
//! think_ms = [0, 50]       # pause between releasing and trying again
//! proclaims = 3            # election: values a leader proclaims, hold_ms apart
//! observers = 2            # election: clients that only watch who leads
//! ```

use serde::{Deserialize, Serialize};

/// Which recipe the clients run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Recipe {
    /// etcd's `concurrency.Mutex`: a key per waiter, the lowest create revision owns.
    #[default]
    Lock,
    /// etcd's `concurrency.Election`: campaign, proclaim, resign; observers watch.
    Election,
}

/// The lock (or election) workload.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LockSpec {
    pub recipe: Recipe,
    /// Resource writes go through a Txn that compares the lock key's create revision
    /// (the fencing token); unfenced, the resource takes any write.
    pub fenced: bool,
    pub clients: u32,
    /// TTL of each client's lease, seconds.
    pub lease_ttl_s: i64,
    /// How often a client that is not paused sends a keep-alive, milliseconds.
    pub keepalive_ms: u64,
    /// Time a holder works between its two resource writes, milliseconds.
    pub hold_ms: [u64; 2],
    /// Time between releasing and trying to acquire again, milliseconds.
    pub think_ms: [u64; 2],
    /// Election: how many values a leader proclaims (`hold_ms` apart) before resigning.
    pub proclaims: u32,
    /// Election: clients that only observe the leader, by watching the prefix.
    pub observers: u32,
}

impl Default for LockSpec {
    fn default() -> Self {
        LockSpec {
            recipe: Recipe::Lock,
            fenced: false,
            clients: 3,
            lease_ttl_s: 1,
            keepalive_ms: 300,
            hold_ms: [300, 800],
            think_ms: [0, 50],
            proclaims: 3,
            observers: 2,
        }
    }
}

impl LockSpec {
    /// What is wrong with these settings, if anything.
    pub fn problem(&self) -> Option<String> {
        if self.clients == 0 {
            return Some("lock.clients must be positive".into());
        }
        if self.lease_ttl_s <= 0 {
            return Some("lock.lease_ttl_s must be positive".into());
        }
        if self.keepalive_ms == 0 || self.keepalive_ms >= self.lease_ttl_s as u64 * 1_000 {
            return Some(
                "lock.keepalive_ms must be positive and shorter than the lease TTL".into(),
            );
        }
        for (name, [lo, hi]) in [("hold_ms", self.hold_ms), ("think_ms", self.think_ms)] {
            if lo > hi {
                return Some(format!("lock.{name} = [{lo}, {hi}] has its bounds reversed"));
            }
        }
        None
    }
}
