//! The checks a run makes besides the simulator's own Raft safety checks: watch
//! guarantees (events, the answers around them, the order within a revision),
//! serializable reads, reads at a revision, lease lifetimes, auth revocation,
//! membership refusals, transfer answers, log compaction, the answers to
//! validation requests, Status and MemberList answers, progress notices and periodic
//! notices, and the answers of learners here; linearizability through the checker
//! crate.

pub mod auth;
pub mod compaction;
pub mod learner;
pub mod lease;
mod lease_probe;
pub mod member_list;
pub mod membership;
pub mod revision_reads;
pub mod serializable;
pub mod status;
pub mod transfer;
pub mod validation;
pub mod watch;
pub mod watch_answers;
pub mod watch_notify;
pub mod watch_order;
pub mod watch_progress;

/// A simulated time in seconds to the millisecond, as the checks' evidence shows it.
pub(crate) fn secs(us: u64) -> String {
    format!("{}.{:03}s", us / 1_000_000, (us % 1_000_000) / 1_000)
}
