//! Leases: grant, revoke, keep-alive, time-to-live and expiry decided by the leader.
