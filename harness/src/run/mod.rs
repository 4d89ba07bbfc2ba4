//! One run of one scenario at one seed, against a cluster of full etcd server nodes in
//! the simulator: build the world from the scenario, drive the workload through the
//! safety phase with its faults (`driver`), heal and demand liveness, then check
//! everything (`verdicts`). A run is a pure function of (build, scenario, seed); only
//! `wall_us` varies.

mod budget;
mod driver;
pub mod lost_write;
mod verdicts;

pub use budget::RunBudget;

use crate::auth;
use crate::checks::learner::check_learner_requests;
use crate::checks::lease::{check_leases, LeaseTiming};
use crate::checks::revision_reads::check_revision_reads;
use crate::checks::validation::check_validation;
use crate::checks::watch::WatchStreamRecord;
use crate::history::PROBE_KEY_PREFIX;
use crate::lock;
use crate::nemesis;
use crate::report::{check_names, CheckResult, RunReport};
use crate::workload::{OpRecord, Workload, LEASE_KEYS_END, LEASE_KEY_PREFIX};
use bytes::Bytes;
use detcd_core::api::{PutRequest, RangeRequest};
use detcd_core::raft;
use detcd_core::server::{self, EtcdNode, Request, Response};
use detcd_scenarios::{AuthSpec, LockSpec, Scenario};
use detcd_sim::rng::{stream, Component};
use detcd_sim::{
    FaultAction, FaultSchedule, LivenessReport, MemberChange, NodeSetup, SimError, Stamped, Target,
    TransferRequest, World, WorldOptions,
};
use driver::Driver;

/// The cluster id every simulated member reports.
pub const CLUSTER_ID: u64 = 0xdec0_de00_0000_0001;
/// How long a healed cluster's watch streams get to deliver what their members applied.
const STREAM_SETTLE_US: u64 = 300_000;
/// How many election timeouts a leader leads undisturbed before every member of the
/// cluster must name it in a Status answer.
const QUIET_ELECTIONS: u64 = 2;
/// Simulated members send periodic progress notices this often, in ticks (etcd's
/// `--experimental-watch-progress-notify-interval`, 10 minutes by default): short, so
/// that a run sees many.
const WATCH_PROGRESS_TICKS: u64 = 5;
/// A settled stream that asked for progress notices gets one within this many
/// intervals of its last events (true time: the healed cluster's clocks keep it).
const WATCH_PROGRESS_DUE_INTERVALS: u64 = 3;
/// How long a quiet member's Status answer gets to arrive.
const STATUS_ANSWER_US: u64 = 100_000;
/// TTL of the leases the workload grants, in seconds.
const LEASE_TTL_SECS: i64 = 2;

/// Everything a run leaves behind besides its report: what a replay writes out.
pub struct RunArtifacts {
    pub records: Vec<OpRecord>,
    pub watch_streams: Vec<WatchStreamRecord>,
    pub banner: String,
    /// The checker's report of the history, when it was not linearizable.
    pub linearizability_report: Option<detcd_checker::report::Report>,
    /// The world's events but ticks, in order (empty unless the run was `run_logged`).
    pub events: Vec<Stamped>,
    /// The first Raft safety violation in words, the client write it lost named.
    pub violation: Option<String>,
}

/// How to run, beyond the scenario and seed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RunOptions {
    /// Go on after a Raft safety violation instead of stopping at it, so that the
    /// clients' checks (linearizability above all) show what it did to them. The run
    /// still fails on the violation. Changes the run (and its trace hash) only when a
    /// violation happens.
    pub keep_going: bool,
    /// Keep up to this many of the world's events (0: none), for a step log or time
    /// line.
    pub event_log_max: usize,
    /// The limits past which the run ends with the verdict `budget`.
    pub budget: RunBudget,
}

/// The violation of a finished world in words, if it had one.
fn violation_text(world: &World<EtcdNode>, records: &[OpRecord]) -> Option<String> {
    world.violation().map(|v| lost_write::describe(v, records))
}

/// The most events a logged run keeps: far more than any scenario's safety and
/// liveness phases make without ticks, yet a bound on memory.
pub const EVENT_LOG_MAX: usize = 5_000_000;

/// The world options a scenario implies for `seed`.
pub fn world_options(scenario: &Scenario, seed: u64) -> WorldOptions {
    let c = &scenario.cluster;
    let mut options = if scenario.faults.swarm {
        detcd_sim::swarm::generate(seed, c.size, scenario.phases.safety_ms * 1_000).0
    } else {
        let mut o = WorldOptions::new(seed, c.size);
        let n = &scenario.network;
        o.network.latency = detcd_sim::LatencyDist::uniform(n.latency_us[0], n.latency_us[1]);
        o.network.drop_rate = n.drop;
        o.network.duplicate_rate = n.duplicate;
        o.network.reorder_rate = n.reorder;
        o.disk.fsync = detcd_sim::LatencyDist::uniform(c.fsync_us[0], c.fsync_us[1]);
        o
    };
    options.clock.tick_us = c.tick_us;
    options.spares = c.spares;
    options.disk.lying_fsync = c.lying_fsync;
    options.network.storm_copies = scenario.network.storm_copies;
    options
}

/// One election timeout (before randomization) in true time.
fn election_us(scenario: &Scenario) -> u64 {
    u64::from(scenario.cluster.election_ticks) * scenario.cluster.tick_us
}

/// The server configuration of one member for a scenario.
pub fn node_config(scenario: &Scenario, setup: &NodeSetup) -> server::Config {
    let c = &scenario.cluster;
    // A host that joins a running cluster knows no configuration: it learns it from
    // the leader. The member list of the initial cluster is the same for everyone.
    let voters = if setup.joining { Vec::new() } else { setup.voters.clone() };
    let mut r = raft::Config::new(setup.id, voters, setup.seed);
    r.unsafe_single_step_conf_change = c.unsafe_single_step_membership;
    r.election_ticks = c.election_ticks;
    r.heartbeat_ticks = c.heartbeat_ticks;
    r.pre_vote = c.pre_vote;
    r.check_quorum = c.check_quorum;
    r.lease_reads = c.lease_reads;
    let mut cfg = server::Config::new(r, CLUSTER_ID);
    cfg.incarnation = setup.incarnation;
    cfg.ticks_per_second = (1_000_000 / c.tick_us).max(1);
    let timeout_ticks = scenario.workload.request_timeout_ms * 1_000 / c.tick_us;
    cfg.request_timeout_ticks = timeout_ticks.max(2 * u64::from(c.election_ticks));
    cfg.snapshot_entries = c.snapshot_entries;
    cfg.watch_progress_ticks = WATCH_PROGRESS_TICKS;
    if c.apply_slice_keys > 0 {
        cfg.apply_slice_keys = c.apply_slice_keys;
    }
    cfg.initial_members = setup.voters.iter().map(|&id| sim_member(id, false)).collect();
    cfg.unsafe_auth_check_reads_on_receipt =
        scenario.auth.as_ref().is_some_and(|a| a.unsafe_check_reads_on_receipt);
    cfg
}

/// A simulated member's record: its id names its loopback peer URL.
fn sim_member(id: u64, is_learner: bool) -> server::Member {
    server::Member {
        id,
        name: format!("node{id}"),
        peer_urls: vec![format!("http://127.0.0.{id}:2380")],
        client_urls: vec![format!("http://127.0.0.{id}:2379")],
        is_learner,
    }
}

fn move_leader(target: u64) -> Request {
    Request::MoveLeader { target }
}

fn transfer(node: &mut EtcdNode, to: u64) -> bool {
    node.transfer_leader(to)
}

/// The membership nemesis' way into a member: the change as an operator's request.
fn change_membership(node: &mut EtcdNode, change: &MemberChange) -> Result<(), String> {
    let (op, steps) = member_ops(change)?;
    node.change_membership(op, &steps).map_err(|e| e.message().to_string())
}

/// What an operator's membership change asks of a member: the member-table operation
/// it carries and the Raft configuration steps, proposed as one change. A change with
/// several steps (a joint replace, several voters at once) carries one table
/// operation: the steps etcd's API could not express change Raft's configuration only.
pub(crate) fn member_ops(
    change: &MemberChange,
) -> Result<(server::MemberOp, Vec<raft::ConfChangeOp>), String> {
    use raft::ConfChangeOp as C;
    Ok(match change {
        MemberChange::AddLearner { node } => {
            (server::MemberOp::Add(sim_member(*node, true)), vec![C::AddLearner(*node)])
        }
        MemberChange::AddVoter { node } => {
            (server::MemberOp::Add(sim_member(*node, false)), vec![C::AddVoter(*node)])
        }
        MemberChange::AddVoters { nodes } => {
            let first = *nodes.first().ok_or("no voter to add")?;
            let steps = nodes.iter().map(|&n| C::AddVoter(n)).collect();
            (server::MemberOp::Add(sim_member(first, false)), steps)
        }
        MemberChange::Promote { node } => {
            (server::MemberOp::Promote(*node), vec![C::Promote(*node)])
        }
        MemberChange::Remove { node: Target::Node(id) } => {
            (server::MemberOp::Remove(*id), vec![C::Remove(*id)])
        }
        MemberChange::Replace { remove: Target::Node(id), add } => {
            (server::MemberOp::Remove(*id), vec![C::Remove(*id), C::AddVoter(*add)])
        }
        other => return Err(format!("unresolved target in {other}")),
    })
}

/// The liveness phase: faults healed, the cluster must elect a leader and commit a
/// probe write within the scenario's bound.
fn liveness(world: &mut World<EtcdNode>, scenario: &Scenario) -> Result<LivenessReport, SimError> {
    world.liveness(
        scenario.phases.liveness_ms * 1_000,
        |n| {
            let put = Request::Put(PutRequest {
                key: Bytes::from(format!("{PROBE_KEY_PREFIX}{n}")),
                value: Bytes::from(format!("probe-{n}")),
                ..PutRequest::default()
            });
            // With auth enabled, the probe writes as root.
            match scenario.auth {
                Some(_) => Request::As {
                    credential: server::Credential::CertUser(server::ROOT.to_string()),
                    request: Box::new(put),
                },
                None => put,
            }
        },
        |resp| matches!(resp, Response::Put(_)),
    )
}

/// A run of the lock workload instead of the KV one: Raft safety, liveness and
/// convergence as always, then mutual exclusion at the resource.
fn run_lock(
    scenario: &Scenario,
    spec: &LockSpec,
    seed: u64,
    world: World<EtcdNode>,
    banner: String,
    wall: std::time::Instant,
) -> (RunReport, RunArtifacts) {
    let mut outcome = lock::safety_phase(scenario, spec, seed, world);
    let safety = std::mem::replace(&mut outcome.safety, Ok(()));
    let live = side_liveness(&mut outcome.world, safety, scenario);
    // After the liveness phase: a fenced resource is read from the store.
    let check = outcome.check();
    let side = SideRun { live, sent: outcome.requests_sent, checks: vec![check], banner, wall };
    side.report(scenario, seed, &mut outcome.world)
}

/// A run of the auth churn workload instead of the KV one: Raft safety, liveness and
/// convergence as always, then no request served under a revoked permission.
fn run_auth(
    scenario: &Scenario,
    spec: &AuthSpec,
    seed: u64,
    world: World<EtcdNode>,
    banner: String,
    wall: std::time::Instant,
) -> (RunReport, RunArtifacts) {
    let mut outcome = auth::safety_phase(scenario, spec, seed, world);
    let safety = std::mem::replace(&mut outcome.safety, Ok(()));
    let live = side_liveness(&mut outcome.world, safety, scenario);
    let checks = vec![outcome.check(), outcome.validation()];
    let side = SideRun { live, sent: outcome.requests_sent, checks, banner, wall };
    side.report(scenario, seed, &mut outcome.world)
}

/// The liveness phase of a side workload's run, unless its safety phase failed.
fn side_liveness(
    world: &mut World<EtcdNode>,
    safety: Result<(), SimError>,
    scenario: &Scenario,
) -> Result<LivenessReport, SimError> {
    safety.and_then(|()| liveness(world, scenario))
}

/// What a workload other than the KV one (locks, auth) has once its run is over.
struct SideRun {
    live: Result<LivenessReport, SimError>,
    sent: u64,
    /// The workload's own checks.
    checks: Vec<CheckResult>,
    banner: String,
    wall: std::time::Instant,
}

impl SideRun {
    /// The report: the simulator's checks as for any run, then the workload's own.
    fn report(
        self,
        scenario: &Scenario,
        seed: u64,
        world: &mut World<EtcdNode>,
    ) -> (RunReport, RunArtifacts) {
        let events = world.take_events();
        let went_on = world.violation().map(|v| (v, world.later_violations()));
        let mut checks = verdicts::simulation(&self.live, went_on, &[]);
        checks.extend(self.checks);
        checks.extend(verdicts::operator(world, scenario, &[]));
        checks.push(verdicts::log_compaction(world, scenario));
        let report = RunReport {
            scenario: scenario.name.clone(),
            seed,
            expect: scenario.expect.to_string(),
            checks,
            operations: self.sent,
            operations_checked: 0,
            sim_time_us: world.now_us(),
            events: world.stats().events,
            trace_hash: world.trace_hash(),
            wall_us: self.wall.elapsed().as_micros() as u64,
        };
        let artifacts = RunArtifacts {
            records: Vec::new(),
            watch_streams: Vec::new(),
            banner: self.banner,
            linearizability_report: None,
            events,
            violation: violation_text(world, &[]),
        };
        (report, artifacts)
    }
}

/// Whether a clock of the run is skewed or jumps: lease lifetimes in true time are
/// then not what the leader's clock promised.
fn has_clock_faults(scenario: &Scenario, seed: u64, schedule: &FaultSchedule) -> bool {
    let scheduled = schedule
        .faults
        .iter()
        .any(|f| matches!(f.action, FaultAction::ClockSkew { .. } | FaultAction::ClockJump { .. }));
    let swarm = scenario.faults.swarm && {
        let p = detcd_sim::swarm::profile(seed);
        p.clock_skew || p.clock_jumps
    };
    scheduled || swarm
}

/// A healed cluster must expire every workload lease left to expire: when one of
/// their keys is still there, runs on for a TTL and the settle time so the lease check
/// can judge it. The timing the lease check assumes.
fn settle_leases(
    driver: &mut Driver,
    scenario: &Scenario,
    healed_us: u64,
    clock_faults: bool,
    fault_free: bool,
) -> Option<LeaseTiming> {
    let c = &scenario.cluster;
    let election_us = u64::from(c.election_ticks) * c.tick_us;
    // Two randomized election timeouts (up to twice the base each) to elect a leader,
    // the promotion grace (one election timeout), and half a second to commit.
    let settle_us = 4 * election_us + election_us + 500_000;
    let left = driver.world.leader().and_then(|l| driver.world.process(l)).is_some_and(|p| {
        let lease_keys = RangeRequest {
            key: Bytes::from_static(LEASE_KEY_PREFIX.as_bytes()),
            range_end: Bytes::from_static(LEASE_KEYS_END.as_bytes()),
            count_only: true,
            ..RangeRequest::default()
        };
        p.store().range(&lease_keys).is_ok_and(|r| r.count > 0)
    });
    if left {
        let ttl_us = LEASE_TTL_SECS as u64 * 1_000_000;
        driver.world.run_for(ttl_us + settle_us).ok()?;
        driver.absorb_writes();
    }
    Some(LeaseTiming {
        clock_faults,
        tick_us: c.tick_us,
        healed_us,
        settle_us,
        end_us: driver.world.now_us(),
        fault_free,
        // The members' `lease_promote_grace_ticks`: one election timeout.
        promote_grace_us: election_us,
    })
}

/// Runs `scenario` at `seed` and checks it.
pub fn run(scenario: &Scenario, seed: u64) -> (RunReport, RunArtifacts) {
    run_with(scenario, seed, RunOptions::default())
}

/// The very run `run` makes, keeping the world's events (up to `EVENT_LOG_MAX`) in its
/// artifacts for a step log or time line.
pub fn run_logged(scenario: &Scenario, seed: u64) -> (RunReport, RunArtifacts) {
    run_with(scenario, seed, RunOptions { event_log_max: EVENT_LOG_MAX, ..RunOptions::default() })
}

/// Runs `scenario` at `seed` with `run_options` and checks it. A panic inside the run
/// (a broken invariant of the core, or any bug the build has) fails this run alone,
/// under the `panic` check with the panic's message, so a sweep goes on and names the
/// seed to replay instead of dying with the first one.
pub fn run_with(
    scenario: &Scenario,
    seed: u64,
    run_options: RunOptions,
) -> (RunReport, RunArtifacts) {
    let wall = std::time::Instant::now();
    let run = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        run_unguarded(scenario, seed, run_options, wall)
    }));
    run.unwrap_or_else(|payload| panicked(scenario, seed, &*payload, wall))
}

/// The report of a run that panicked: the `panic` check failed with the message.
fn panicked(
    scenario: &Scenario,
    seed: u64,
    payload: &(dyn std::any::Any + Send),
    wall: std::time::Instant,
) -> (RunReport, RunArtifacts) {
    let message = payload
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| payload.downcast_ref::<&str>().copied())
        .unwrap_or("a panic with no message");
    let report = RunReport {
        scenario: scenario.name.clone(),
        seed,
        expect: scenario.expect.to_string(),
        checks: vec![CheckResult::fail(check_names::PANIC, format!("the run panicked: {message}"))],
        operations: 0,
        operations_checked: 0,
        sim_time_us: 0,
        events: 0,
        trace_hash: 0,
        wall_us: wall.elapsed().as_micros() as u64,
    };
    let artifacts = RunArtifacts {
        records: Vec::new(),
        watch_streams: Vec::new(),
        banner: String::new(),
        linearizability_report: None,
        events: Vec::new(),
        violation: None,
    };
    (report, artifacts)
}

fn run_unguarded(
    scenario: &Scenario,
    seed: u64,
    run_options: RunOptions,
    wall: std::time::Instant,
) -> (RunReport, RunArtifacts) {
    let mut options = world_options(scenario, seed);
    options.event_log_max = run_options.event_log_max;
    options.events_max = run_options.budget.events_max;
    options.pending_events_max = run_options.budget.pending_events_max;
    let sc = scenario.clone();
    let mut world: World<EtcdNode> = World::new(options, move |setup| node_config(&sc, setup));
    world.set_transfer_hook(transfer);
    if scenario.lock.is_none() && scenario.auth.is_none() {
        // Transfers go as MoveLeader requests whose answers the KV driver keeps; the
        // client waits past the member's own deadline, so the member answers first.
        let timeout_us = 2 * scenario.workload.request_timeout_ms * 1_000;
        world.set_transfer_request(TransferRequest { build: move_leader, timeout_us });
    }
    world.set_membership_hook(change_membership);
    world.set_keep_going(run_options.keep_going);
    if scenario.faults.swarm {
        world.set_swarm_profile(detcd_sim::swarm::profile(seed));
    }
    let schedule = nemesis::schedule(scenario, seed);
    let clock_faults = has_clock_faults(scenario, seed, &schedule);
    let fault_free = schedule.faults.is_empty()
        && scenario.faults.random.is_none()
        && !scenario.faults.swarm
        && scenario.network.drop == 0.0;
    world.schedule(&schedule);
    let banner = world.announce().to_string();
    if let Some(spec) = &scenario.lock {
        return run_lock(scenario, spec, seed, world, banner, wall);
    }
    if let Some(spec) = &scenario.auth {
        return run_auth(scenario, spec, seed, world, banner, wall);
    }

    let workload =
        Workload::new(&scenario.workload, stream(seed, Component::Workload), LEASE_TTL_SECS);
    let mut driver = Driver::new(
        world,
        workload,
        scenario.cluster.size,
        scenario.phases.safety_ms * 1_000,
        scenario.workload.request_timeout_ms * 1_000,
        run_options.budget.history_ops_max,
    );
    let safety = driver.safety_phase();

    let liveness_start_us = driver.world.now_us();
    let liveness = match safety {
        Err(e) => Err(e),
        Ok(()) => liveness(&mut driver.world, scenario),
    };
    driver.collect_late_stream_results();
    driver.absorb_writes();
    let lease_timing = if liveness.is_ok() {
        let timing =
            settle_leases(&mut driver, scenario, liveness_start_us, clock_faults, fault_free);
        // Every member is asked for its Status once the healed cluster's leader has
        // had time to settle, while the streams settle.
        let quiet_us = QUIET_ELECTIONS * election_us(scenario);
        driver.ask_status_of_all(quiet_us);
        driver.settle_streams(STREAM_SETTLE_US.max(quiet_us + STATUS_ANSWER_US));
        timing
    } else {
        None
    };

    let world = &driver.world;
    let went_on = world.violation().map(|v| (v, world.later_violations()));
    let mut checks = verdicts::simulation(&liveness, went_on, &driver.records);
    if let Some(fail) = verdicts::refusals_without_faults(&driver.records, fault_free) {
        checks.retain(|c| c.name != check_names::LIVENESS);
        checks.push(fail);
    }
    if let Some(c) = driver.history_over_budget() {
        checks.push(c);
    }
    // The write history settles unknown outcomes only once the cluster has converged.
    let log = liveness.is_ok().then_some(&driver.write_log);
    let end_us = driver.world.now_us();
    let lin = verdicts::linearizability(
        &driver.records,
        log,
        liveness_start_us,
        end_us,
        &run_options.budget,
    );
    checks.push(lin.check);
    let watch_streams = driver.watch_streams();
    // Due within a few intervals, and the longest latency a healed network has.
    let notice_due_us =
        WATCH_PROGRESS_DUE_INTERVALS * WATCH_PROGRESS_TICKS * scenario.cluster.tick_us
            + STATUS_ANSWER_US;
    checks.extend(verdicts::watches(
        &driver.world,
        &watch_streams,
        driver.write_log.write_order(),
        notice_due_us,
    ));
    checks.push(verdicts::serializable_reads(&driver.records));
    checks.extend(verdicts::operator(&driver.world, scenario, &driver.transfer_answers));
    let stable_us = QUIET_ELECTIONS * election_us(scenario);
    checks.push(verdicts::status(&driver.world, &driver.status_answers, stable_us));
    checks.push(check_learner_requests(&driver.learner_answers));
    checks.push(verdicts::member_list(&driver.world, scenario, &driver.member_list_answers));
    checks.push(verdicts::log_compaction(&driver.world, scenario));
    let log = liveness.is_ok().then_some(&driver.write_log);
    checks.push(check_revision_reads(&driver.records, log));
    checks.push(check_validation(&driver.records, log, (0, Vec::new())));
    if let Some(timing) = lease_timing {
        checks.push(check_leases(&driver.records, &driver.write_log, timing));
    }

    let events = driver.world.take_events();
    let world = &driver.world;
    let report = RunReport {
        scenario: scenario.name.clone(),
        seed,
        expect: scenario.expect.to_string(),
        checks,
        operations: driver.records.len() as u64,
        operations_checked: lin.operations_checked,
        sim_time_us: world.now_us(),
        events: world.stats().events,
        trace_hash: world.trace_hash(),
        wall_us: wall.elapsed().as_micros() as u64,
    };
    let violation = violation_text(world, &driver.records);
    let artifacts = RunArtifacts {
        records: driver.records,
        watch_streams,
        banner,
        violation,
        linearizability_report: lin.report,
        events,
    };
    (report, artifacts)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::Verdict;

    /// A panic fails the run it happened in, under `panic`, with its message, whether
    /// the message was formatted (`String`) or a literal (`&str`).
    #[test]
    fn a_panicking_run_fails_alone_with_its_message() {
        let scenario = detcd_scenarios::builtin("happy-path").expect("built-in");
        let wall = std::time::Instant::now();
        let formatted: Box<dyn std::any::Any + Send> = Box::new(format!("node {} broke", 3));
        let (report, _) = panicked(&scenario, 7, &*formatted, wall);
        assert_eq!(report.seed, 7);
        let failed: Vec<_> = report.failures().collect();
        assert_eq!(failed.len(), 1);
        assert_eq!((failed[0].name, &failed[0].verdict), (check_names::PANIC, &Verdict::Fail));
        assert!(failed[0].evidence.contains("node 3 broke"), "{}", failed[0].evidence);
        assert!(!report.passed(&scenario.expect));
        let literal: Box<dyn std::any::Any + Send> = Box::new("index out of bounds");
        let (report, _) = panicked(&scenario, 7, &*literal, wall);
        assert!(report.checks[0].evidence.contains("index out of bounds"));
    }
}
