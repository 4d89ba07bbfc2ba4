//! Whole clusters of real detcd members under madsim's deterministic simulation.
//!
//! Each member is `server::run_on` itself — driver, gRPC services, peer transport,
//! recovery — on a [`SimDisk`] that loses unsynced writes when the member is killed.
//! Clients speak the generated gRPC stubs and record what they saw; a nemesis clogs
//! members and links, kills and restarts members (the leader among them) and whole
//! clusters, and pauses them. After the faults heal, every member must serve again,
//! and every history is checked with the harness's own checks: the checker's etcd
//! model (values and revisions, so an acknowledged write that was lost fails it) and
//! the watch guarantees.
//!
//! Run with `scripts/madsim-test`; one seed replays with `MADSIM_TEST_SEED=S`.
#![cfg(madsim)]

mod sim;

#[madsim::test]
async fn three_members() {
    sim::run(sim::Spec { members: 3, fault_secs: 20 }).await;
}

#[madsim::test]
async fn five_members() {
    sim::run(sim::Spec { members: 5, fault_secs: 20 }).await;
}
