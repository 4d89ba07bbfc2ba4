//! The lock workload: clients take a lock with etcd's recipe and write a shared
//! resource while they hold it (`driver`), the etcd requests of the recipe
//! (`requests`), and the resource with its mutual-exclusion check (`resource`); and
//! the election workload on the same recipe with its check (`election`).
//! `lock-unfenced` shows that a client paused past its lease TTL keeps writing while
//! another holds the lock; `lock-fenced` shows that a Txn comparing the lock key's
//! create revision (the fencing token) keeps the resource safe anyway.

mod driver;
pub mod election;
pub mod requests;
pub mod resource;

use crate::report::CheckResult;
use detcd_core::api::EventType;
use detcd_core::server::EtcdNode;
use detcd_scenarios::{LockSpec, Recipe, Scenario};
use detcd_sim::rng::{stream, Component};
use detcd_sim::{SimError, World};
use driver::LockDriver;
use election::{check_election, Claim, KeyEvent, LeaderFold, Leadership};
use resource::{check_exclusion, decode, ResourceWrite};

/// What the lock workload leaves for the run's report.
pub struct LockOutcome {
    pub world: World<EtcdNode>,
    pub safety: Result<(), SimError>,
    pub requests_sent: u64,
    /// The writes an unfenced resource took (a fenced one lives in the store).
    unfenced_writes: Vec<ResourceWrite>,
    fenced: bool,
    recipe: Recipe,
    claims: Vec<Claim>,
    /// What each election observer saw lead, in order.
    observed: Vec<Vec<Leadership>>,
}

/// Runs the lock clients of `spec` through the safety phase of `scenario`.
pub fn safety_phase(
    scenario: &Scenario,
    spec: &LockSpec,
    seed: u64,
    world: World<EtcdNode>,
) -> LockOutcome {
    let mut driver = LockDriver::new(
        world,
        spec,
        stream(seed, Component::Workload),
        scenario.cluster.size,
        scenario.phases.safety_ms * 1_000,
        scenario.workload.request_timeout_ms * 1_000,
    );
    let safety = driver.safety_phase();
    let observed = driver
        .observers
        .iter()
        .map(|o| o.fold.leaderships().into_iter().cloned().collect())
        .collect();
    LockOutcome {
        recipe: spec.recipe,
        claims: std::mem::take(&mut driver.claims),
        observed,
        requests_sent: driver.requests_sent,
        unfenced_writes: std::mem::take(&mut driver.writes),
        world: driver.world,
        safety,
        fenced: spec.fenced,
    }
}

impl LockOutcome {
    /// Mutual exclusion as the resource saw it: an unfenced resource in true-time
    /// order, a fenced one in the order of the store revisions that wrote it (read
    /// from the member furthest ahead once the run is over).
    pub fn check(&self) -> CheckResult {
        if self.recipe == Recipe::Election {
            return self.check_election();
        }
        if !self.fenced {
            return check_exclusion(&self.unfenced_writes, "s");
        }
        let mut writes = Vec::new();
        if let Some(p) = self.ahead() {
            let store = p.store();
            for (rev, events) in
                store.events(store.compact_revision() + 1, store.current_revision())
            {
                for e in events.iter() {
                    if e.r#type == EventType::Put && e.kv.key == requests::RESOURCE_KEY.as_bytes() {
                        writes.extend(decode(&e.kv.value, rev as u64));
                    }
                }
            }
        }
        check_exclusion(&writes, "revision")
    }
}

impl LockOutcome {
    /// The member furthest ahead, whose store holds the run's whole history.
    fn ahead(&self) -> Option<&EtcdNode> {
        let world = &self.world;
        world
            .node_ids()
            .into_iter()
            .filter_map(|id| world.process(id))
            .max_by_key(|p| p.store().current_revision())
    }

    /// One leader per term and observers in order, against the store's history of
    /// the election prefix.
    fn check_election(&self) -> CheckResult {
        let mut truth = LeaderFold::default();
        if let Some(p) = self.ahead() {
            let store = p.store();
            let prefix = requests::ELECTION_PREFIX.as_bytes();
            for (rev, events) in
                store.events(store.compact_revision() + 1, store.current_revision())
            {
                let batch: Vec<KeyEvent> = events
                    .iter()
                    .filter(|e| e.kv.key.starts_with(prefix))
                    .map(|e| KeyEvent {
                        key: e.kv.key.clone(),
                        create_revision: e.kv.create_revision,
                        value: e.kv.value.clone(),
                        delete: e.r#type == EventType::Delete,
                    })
                    .collect();
                if !batch.is_empty() {
                    truth.apply(rev, &batch);
                }
            }
        }
        check_election(&truth, &self.claims, &self.observed)
    }
}
