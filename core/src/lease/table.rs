//! The replicated part of the lease state: what a snapshot carries.

use crate::api::LeaseId;
use bytes::Bytes;
use im::{OrdMap, OrdSet};
use serde::{Deserialize, Serialize};

/// One granted lease.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lease {
    pub id: LeaseId,
    /// Granted TTL, seconds.
    pub ttl: i64,
    /// Remaining ticks at the last checkpoint; 0 = never checkpointed.
    pub remaining_ticks: u64,
    /// Keys attached to the lease.
    pub keys: OrdSet<Bytes>,
    /// Log index of the grant or of the last keep-alive that renewed it (0 in images
    /// written before it was kept). An expiry or checkpoint the leader decided at an
    /// earlier applied index is older than this renewal and does not apply to it.
    #[serde(default)]
    pub refreshed_index: u64,
}

/// Every granted lease, by id. Persistent maps make cloning for a snapshot O(1).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "TableImage")]
pub struct LeaseTable {
    pub leases: OrdMap<LeaseId, Lease>,
}

/// The serialized form, checked on the way in: a snapshot from a peer or a disk is not
/// trusted.
#[derive(Deserialize)]
struct TableImage {
    leases: OrdMap<LeaseId, Lease>,
}

impl TryFrom<TableImage> for LeaseTable {
    type Error = String;

    fn try_from(img: TableImage) -> Result<LeaseTable, String> {
        for (id, l) in img.leases.iter() {
            if *id != l.id || *id == 0 || l.ttl <= 0 {
                return Err(format!("lease snapshot: bad lease {id}: {l:?}"));
            }
        }
        Ok(LeaseTable { leases: img.leases })
    }
}
