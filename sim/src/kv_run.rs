//! A complete simulated run of `RaftProcess` clusters: a swarm fault schedule, closed-loop
//! clients doing puts and linearizable gets, the safety phase, then the liveness phase.
//! Tests and benchmarks use it; the harness builds richer workloads on `World` directly.

use crate::client::Outcome;
use crate::nemesis::FaultSchedule;
use crate::options::{Banner, LatencyDist};
use crate::raft_process::{KvRequest, KvResponse, RaftProcess, RaftProcessConfig};
use crate::rng::{stream, Component};
use crate::swarm;
use crate::world::{LivenessReport, SimError, Stats, World};
use rand::Rng;

/// How long a client waits after a refusal or timeout before its next request.
const BACKOFF_US: u64 = 20_000;

/// What to run.
#[derive(Clone, Debug, PartialEq)]
pub struct KvRunOptions {
    pub seed: u64,
    pub nodes: u64,
    /// Client operations to complete (answered, refused or timed out).
    pub ops: u64,
    pub clients: u64,
    pub keys: u64,
    /// Faults are drawn over this much true time from the start.
    pub fault_window_us: u64,
    /// The safety phase ends when every operation finished or after this much time.
    pub safety_us_max: u64,
    pub liveness_bound_us: u64,
    pub request_timeout_us: u64,
    /// A client waits this long after an answer before its next request (spreads the
    /// operations over the fault window).
    pub think_us: u64,
    /// UNSAFE negative control: acknowledge persists before they are durable.
    pub lying_fsync: bool,
    /// Replaces the swarm's fault schedule (the swarm profile still sets the rest).
    pub schedule: Option<FaultSchedule>,
    /// Replaces the swarm's fsync latency.
    pub fsync: Option<LatencyDist>,
}

impl KvRunOptions {
    pub fn new(seed: u64, nodes: u64) -> Self {
        KvRunOptions {
            seed,
            nodes,
            ops: 100,
            clients: 3,
            keys: 4,
            fault_window_us: 2_000_000,
            safety_us_max: 5_000_000,
            liveness_bound_us: 10_000_000,
            request_timeout_us: 300_000,
            think_us: 30_000,
            lying_fsync: false,
            schedule: None,
            fsync: None,
        }
    }
}

/// What happened.
#[derive(Clone, Debug)]
pub struct KvRunReport {
    pub banner: Banner,
    pub trace_hash: u64,
    pub stats: Stats,
    pub ops_ok: u64,
    pub ops_refused: u64,
    pub ops_timed_out: u64,
    /// True time at the end of the run.
    pub end_us: u64,
    /// The liveness report, or why the run failed (safety, liveness, event limit).
    pub result: Result<LivenessReport, SimError>,
}

/// Runs one seed.
pub fn run(o: &KvRunOptions) -> KvRunReport {
    let (mut options, schedule, profile) = swarm::generate(o.seed, o.nodes, o.fault_window_us);
    options.disk.lying_fsync = o.lying_fsync;
    if let Some(fsync) = o.fsync {
        options.disk.fsync = fsync;
    }
    let schedule = o.schedule.clone().unwrap_or(schedule);
    let mut w: World<RaftProcess> =
        World::new_swarm(options, profile, RaftProcessConfig::for_setup);
    w.set_transfer_hook(RaftProcess::transfer_hook);
    w.schedule(&schedule);
    let mut rng = stream(o.seed, Component::Workload);
    let mut submitted = 0u64;
    let mut value = 0u64;
    let (mut ok, mut refused, mut timed_out) = (0, 0, 0);
    let mut next =
        |w: &mut World<RaftProcess>, client: u64, rng: &mut rand_chacha::ChaCha8Rng, at_us: u64| {
            let node = rng.gen_range(1..=o.nodes);
            let key = rng.gen_range(0..o.keys);
            let request = if rng.gen_range(0..10) < 7 {
                value += 1;
                KvRequest::Put { key, value }
            } else {
                KvRequest::Get { key }
            };
            w.submit_at(at_us, client, node, request, o.request_timeout_us);
        };
    let mut result = (|| {
        for client in 0..o.clients.min(o.ops) {
            next(&mut w, client, &mut rng, 0);
            submitted += 1;
        }
        let mut finished = 0;
        // Bounded by `safety_us_max`: each turn runs to a result or to that deadline.
        while finished < o.ops && w.now_us() < o.safety_us_max {
            w.run_until_result(o.safety_us_max)?;
            let results: Vec<_> = w.drain_results().collect();
            for r in results {
                finished += 1;
                // A refused or timed-out client backs off before its next request.
                let backoff_us = match r.outcome {
                    Outcome::Ok(KvResponse::Failed(_)) => {
                        refused += 1;
                        BACKOFF_US
                    }
                    Outcome::Ok(_) => {
                        ok += 1;
                        o.think_us
                    }
                    Outcome::Timeout | Outcome::Refused => {
                        timed_out += 1;
                        BACKOFF_US
                    }
                };
                if submitted < o.ops {
                    let at_us = w.now_us() + backoff_us;
                    next(&mut w, r.client, &mut rng, at_us);
                    submitted += 1;
                }
            }
        }
        // The faults of the window all happen, even when the clients finished early.
        w.run_until(o.fault_window_us.min(o.safety_us_max))?;
        let probe = |n: u64| KvRequest::Put { key: u64::MAX, value: n };
        w.liveness(o.liveness_bound_us, probe, |r| matches!(r, KvResponse::Put { .. }))
    })();
    if let (Ok(_), Some(v)) = (&result, w.violation()) {
        result = Err(SimError::Safety(v.clone()));
    }
    KvRunReport {
        banner: w.banner().clone(),
        trace_hash: w.trace_hash(),
        stats: w.stats(),
        ops_ok: ok,
        ops_refused: refused,
        ops_timed_out: timed_out,
        end_us: w.now_us(),
        result,
    }
}
