//! detcd-chaos: Jepsen-style fault tests of a real cluster on this machine, detcd's
//! (`detcd serve`) or etcd's. It starts the members as processes, on 127.0.0.1 with
//! their peer links behind proxies it controls or each in its own network namespace,
//! drives the harness's workload through the etcd v3 gRPC API while a nemesis kills,
//! pauses, partitions, delays, drops and reorders the members' traffic,
//! heals, reads every member back, and checks the history with the checker's etcd
//! model and the harness's checks. Unlike `core`, `sim` and the checker, this crate
//! lives in real time: it uses the wall clock, threads and tokio.

pub mod checks;
pub mod client;
pub mod cluster;
pub mod config;
pub mod final_state;
pub mod interrupt;
pub mod nemesis;
pub mod netns;
pub mod netns_links;
pub mod origin;
pub mod process;
pub mod proxy;
pub mod report;
pub mod wire;

use client::{Recorder, Shared};
use cluster::Cluster;
use config::ChaosConfig;
use detcd_harness::workload::{OpOutcome, Workload};
use detcd_scenarios::{OpMix, WorkloadSpec};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use report::ChaosReport;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::time::Instant;

/// The workload's distinct keys.
const KEYS: u32 = 6;
/// How long members may take to elect a first leader.
const READY_LIMIT: Duration = Duration::from_secs(30);
/// After the heal, every member must answer again within this.
pub const RECOVERY_LIMIT: Duration = Duration::from_secs(60);
/// The whole run stops by itself this long after the workload's duration.
pub const WATCHDOG_SLACK: Duration = Duration::from_secs(300);

/// Why a run could not be carried out (as opposed to what it found).
#[derive(Debug)]
pub struct ChaosError(pub String);

impl std::fmt::Display for ChaosError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ChaosError {}

impl From<cluster::ClusterError> for ChaosError {
    fn from(e: cluster::ClusterError) -> Self {
        ChaosError(e.0)
    }
}

fn io<'a>(what: &str, path: &'a Path) -> impl FnOnce(std::io::Error) -> ChaosError + 'a {
    let what = what.to_string();
    move |e| ChaosError(format!("{what} {}: {e}", path.display()))
}

fn workload_spec(clients: u32) -> WorkloadSpec {
    WorkloadSpec {
        clients,
        // The run is bounded by its duration, not by a count.
        operations: u32::MAX,
        keys: KEYS,
        think_ms: [5, 40],
        mix: OpMix {
            // Compaction would cut the histories the checks read back from revision 1;
            // each client keeps its own watch stream instead of creating more.
            compact: 0,
            watch: 0,
            ..OpMix::default()
        },
        ..WorkloadSpec::default()
    }
}

fn server_version(cfg: &ChaosConfig) -> String {
    let out = std::process::Command::new(&cfg.server).arg("--version").output();
    match out {
        Ok(o) => String::from_utf8_lossy(&o.stdout).lines().next().unwrap_or("").trim().to_string(),
        Err(e) => format!("unknown ({e})"),
    }
}

/// Kills every member, removes the network and exits if the run has not ended by
/// `limit`, whatever state it is in.
fn watchdog(limit: Duration) {
    std::thread::spawn(move || {
        std::thread::sleep(limit);
        interrupt::emergency_stop(&format!("the run did not end within {} s", limit.as_secs()));
        std::process::exit(3);
    });
}

/// Runs one chaos test; `progress` gets a line now and then.
pub fn run(cfg: &ChaosConfig, progress: &dyn Fn(&str)) -> Result<ChaosReport, ChaosError> {
    // The members' data dirs live in the run's directory: kept as evidence when a check
    // fails, removed when all pass.
    let data = cfg.out.join("data");
    if data.exists() {
        std::fs::remove_dir_all(&data).map_err(io("cannot clear", &data))?;
    }
    std::fs::create_dir_all(&data).map_err(io("cannot create", &data))?;
    // Before the runtime's threads start, so they all leave the stop signals to one.
    interrupt::install();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| ChaosError(format!("tokio runtime: {e}")))?;
    let version = server_version(cfg);
    let report = runtime.block_on(run_async(cfg, &data, version, progress));
    interrupt::clear();
    let report = report?;
    let json = cfg.out.join("report.json");
    std::fs::write(&json, report.to_json()).map_err(io("cannot write", &json))?;
    if report.passed() {
        std::fs::remove_dir_all(&data).map_err(io("cannot remove", &data))?;
    }
    Ok(report)
}

/// Why the cluster is not serving yet, if it never will: a member exited, or the
/// limit passed.
fn not_starting(cluster: &Mutex<Cluster>, deadline: Instant) -> Option<ChaosError> {
    let mut c = cluster.lock().expect("cluster lock");
    for i in 0..c.size() {
        if let Some(status) = c.exited(i) {
            return Some(ChaosError(format!(
                "member m{i} exited with {status} before serving:\n{}",
                c.log_tail(i, 30)
            )));
        }
    }
    if Instant::now() > deadline {
        let logs: Vec<String> =
            (0..c.size()).map(|i| format!("== m{i}\n{}", c.log_tail(i, 15))).collect();
        return Some(ChaosError(format!(
            "no leader within {} s of starting the cluster\n{}",
            READY_LIMIT.as_secs(),
            logs.join("\n")
        )));
    }
    None
}

async fn wait_ready(shared: &Shared, cluster: &Mutex<Cluster>) -> Result<(), ChaosError> {
    let deadline = Instant::now() + READY_LIMIT;
    loop {
        if nemesis::leader(shared).await.is_some() {
            return Ok(());
        }
        if let Some(e) = not_starting(cluster, deadline) {
            return Err(e);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn run_async(
    cfg: &ChaosConfig,
    data: &Path,
    server_version: String,
    progress: &dyn Fn(&str),
) -> Result<ChaosReport, ChaosError> {
    let mut cluster = Cluster::new(cfg, data).await?;
    interrupt::register(cluster.net.clone(), cluster.netns.as_ref().map(|n| n.names.clone()));
    watchdog(cfg.duration + WATCHDOG_SLACK);
    let network_detail = match &cluster.netns {
        Some(n) => format!(
            "netns: namespaces {}..m{} on {} (bridge {}, host {}); delay and reordering by {}",
            n.namespace(0),
            cfg.members - 1,
            n.subnet(),
            n.names.links.last().map(String::as_str).unwrap_or(""),
            n.host_ip(),
            if n.netem { "tc netem" } else { "HTB rate limits (this kernel has no sch_netem)" }
        ),
        None => "proxy: members on 127.0.0.1, peer links through TCP proxies".to_string(),
    };
    progress(&format!("network: {network_detail}"));
    // Logs go to the run's directory, data stays in the temp dir.
    for (i, m) in cluster.members.iter_mut().enumerate() {
        m.log = cfg.out.join(format!("m{i}.log"));
        let _ = std::fs::remove_file(&m.log);
    }
    cluster.start_all()?;
    let channels = (0..cluster.size()).map(|i| wire::channel(&cluster.client_url(i))).collect();
    let incarnations = cluster.members.iter().map(|m| m.starts).collect();
    let cluster = Arc::new(Mutex::new(cluster));
    let spec = workload_spec(cfg.clients);
    let rng = ChaCha8Rng::seed_from_u64(cfg.seed);
    let shared = Arc::new(Shared {
        channels,
        workload: Mutex::new(Workload::new(&spec, rng, client::LEASE_TTL_SECS)),
        recorder: Mutex::new(Recorder::new(Instant::now())),
        incarnations: Mutex::new(incarnations),
        seed: cfg.seed,
    });
    wait_ready(&shared, &cluster).await?;
    progress(&format!(
        "cluster of {} {} members up; {} clients for {} s",
        cfg.members,
        cfg.target.name(),
        cfg.clients,
        cfg.duration.as_secs()
    ));
    let epoch = Instant::now();
    *shared.recorder.lock().expect("recorder") = Recorder::new(epoch);
    let deadline = epoch + cfg.duration;
    let clients: Vec<_> = (0..cfg.clients as usize)
        .map(|c| tokio::spawn(client::run(shared.clone(), c, deadline)))
        .collect();
    let mut nemesis = nemesis::Nemesis {
        cluster: cluster.clone(),
        shared: shared.clone(),
        rng: ChaCha8Rng::seed_from_u64(cfg.seed ^ 0x006e_656d_6573_6973),
        faults: cfg.faults.clone(),
        events: Vec::new(),
        skipped: Vec::new(),
    };
    nemesis.run(deadline).await;
    for c in clients {
        let _ = c.await;
    }
    // Members that died by themselves (not by the nemesis) are findings.
    let mut exits = Vec::new();
    {
        let mut c = cluster.lock().expect("cluster lock");
        for i in 0..c.size() {
            if let Some(status) = c.exited(i) {
                exits.push(format!("m{i} exited by itself with {status}:\n{}", c.log_tail(i, 20)));
            }
        }
    }
    nemesis.heal();
    progress("faults healed; reading every member back");
    let fin = final_state::read(&shared, KEYS, cfg.clients as u64 + 1, RECOVERY_LIMIT).await;
    {
        let mut c = cluster.lock().expect("cluster lock");
        for i in 0..c.size() {
            if let Some(status) = c.exited(i) {
                exits.push(format!("m{i} exited by itself with {status}:\n{}", c.log_tail(i, 20)));
            }
        }
    }
    // The members are no longer needed: stop them before the (CPU-bound) checks.
    drop(nemesis.cluster);
    drop(cluster);

    let (records, streams) = {
        let r = shared.recorder.lock().expect("recorder");
        (r.records.clone(), r.streams.clone())
    };
    progress(&format!("checking {} operations", records.len()));
    let reference = fin.histories.iter().flatten().next();
    let lin = checks::linearizability(&records, reference);
    let mut results = vec![
        lin.result.clone(),
        checks::watch(&streams, reference),
        checks::serializable(&records),
        checks::acknowledged(&records, &fin),
        checks::revisions(&fin),
        checks::convergence(&fin),
        checks::liveness(&fin, RECOVERY_LIMIT.as_secs()),
    ];
    results.push(if exits.is_empty() {
        detcd_harness::report::CheckResult::pass(
            "processes",
            "no member exited except by the nemesis",
        )
    } else {
        detcd_harness::report::CheckResult::fail("processes", exits.join("\n"))
    });

    let history_file = cfg.out.join("history.json");
    let json = detcd_checker::import::detcd::to_json("etcd", &lin.history);
    std::fs::write(&history_file, json).map_err(io("cannot write", &history_file))?;
    if let Some(r) = &lin.report {
        let path = cfg.out.join("checker-report.html");
        std::fs::write(&path, detcd_checker::report::html::render(r))
            .map_err(io("cannot write", &path))?;
    }
    let mut fault_events = nemesis.events;
    for e in &mut fault_events {
        e.recovery_ms = records
            .iter()
            .filter(|r| r.invoke_us >= e.end_us && r.kind.is_write())
            .filter(|r| matches!(r.outcome, OpOutcome::Ok(_)))
            .map(|r| r.complete_us.saturating_sub(e.end_us) / 1000)
            .min();
    }
    let count = |f: fn(&OpOutcome) -> bool| records.iter().filter(|r| f(&r.outcome)).count();
    Ok(ChaosReport {
        target: cfg.target,
        server_version,
        members: cfg.members,
        duration_s: cfg.duration.as_secs(),
        seed: cfg.seed,
        faults: cfg.faults.clone(),
        network: cfg.network,
        network_detail,
        operations: records.len(),
        ok: count(|o| matches!(o, OpOutcome::Ok(_))),
        unknown: count(|o| matches!(o, OpOutcome::Unknown(_))),
        failed: count(|o| matches!(o, OpOutcome::Failed(_) | OpOutcome::Refused)),
        acknowledged_writes: checks::acknowledged_count(&records),
        watch_events: streams.iter().map(|s| s.responses.iter().map(Vec::len).sum::<usize>()).sum(),
        fault_events,
        skipped: nemesis.skipped,
        recovery_ms: fin.recovery.map(|d| d.as_millis() as u64),
        checks: results,
        out_dir: cfg.out.display().to_string(),
        history_file: history_file.display().to_string(),
    })
}
