//! The auth churn workload: an administrator revokes and restores permissions, roles
//! and users and changes passwords while clients read and write as those users
//! (`driver`, with the etcd requests in `requests`); the `auth-revocation` check
//! (`crate::checks::auth`) then judges every request that was served.

mod driver;
pub mod requests;
mod setup;

use crate::checks::auth::{check_revocation, ChangeRecord, DeniedRecord, ServedRecord};
use crate::checks::validation::{check_validation, WrongAnswer};
use crate::report::CheckResult;
use detcd_core::server::EtcdNode;
use detcd_scenarios::{AuthSpec, Scenario};
use detcd_sim::rng::{stream, Component};
use detcd_sim::{SimError, World};
use driver::AuthDriver;
use setup::SetupProgress;

/// What the auth workload leaves for the run's report.
pub struct AuthOutcome {
    pub world: World<EtcdNode>,
    pub safety: Result<(), SimError>,
    pub requests_sent: u64,
    setup: SetupProgress,
    changes: Vec<ChangeRecord>,
    served: Vec<ServedRecord>,
    denied: Vec<DeniedRecord>,
    refused: u64,
    validation_judged: usize,
    validation_wrong: Vec<WrongAnswer>,
}

/// Runs the administrator and the user clients of `spec` through the safety phase of
/// `scenario`.
pub fn safety_phase(
    scenario: &Scenario,
    spec: &AuthSpec,
    seed: u64,
    world: World<EtcdNode>,
) -> AuthOutcome {
    let mut driver = AuthDriver::new(
        world,
        spec,
        stream(seed, Component::Workload),
        scenario.cluster.size,
        scenario.phases.safety_ms * 1_000,
        scenario.workload.request_timeout_ms * 1_000,
    );
    let safety = driver.safety_phase();
    AuthOutcome {
        requests_sent: driver.requests_sent,
        setup: std::mem::take(&mut driver.setup),
        changes: std::mem::take(&mut driver.changes),
        served: std::mem::take(&mut driver.served),
        denied: std::mem::take(&mut driver.denied),
        refused: driver.refused,
        validation_judged: driver.validation_judged,
        validation_wrong: std::mem::take(&mut driver.validation_wrong),
        world: driver.world,
        safety,
    }
}

impl AuthOutcome {
    /// The `auth-revocation` check. A run whose setup never finished (auth never
    /// enabled) checked nothing, and says why (`SetupProgress::unfinished`).
    pub fn check(&self) -> CheckResult {
        if let Some(unfinished) = self.setup.unfinished() {
            return unfinished;
        }
        check_revocation(&self.changes, &self.served, &self.denied, self.refused)
    }

    /// The `validation` check: logins asked for while auth was off, and the delete of
    /// the root role and its revoke from root while it was on, were refused as etcd
    /// refuses them.
    pub fn validation(&mut self) -> CheckResult {
        let wrong = std::mem::take(&mut self.validation_wrong);
        check_validation(&[], None, (self.validation_judged, wrong))
    }
}
