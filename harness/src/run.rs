//! One run of one scenario at one seed, against a cluster of full etcd server nodes in
//! the simulator: build the world from the scenario, drive the workload through the
//! safety phase with its faults, heal and demand liveness, then check everything.
//! A run is a pure function of (build, scenario, seed); only `wall_us` varies.

use crate::checks::serializable::{check_serializable_reads, SerializableRead};
use crate::checks::watch::{check_watch_streams, WatchEventRecord, WatchStreamRecord};
use crate::history::{etcd_history, WriteLog, PROBE_KEY_PREFIX};
use crate::nemesis;
use crate::report::{check_names, CheckResult, RunReport, Verdict};
use crate::workload::{classify, OpKind, OpOutcome, OpRecord, Workload};
use bytes::Bytes;
use detcd_checker::models::etcd::Etcd;
use detcd_checker::search::Budget;
use detcd_core::api::{EventType, PutRequest};
use detcd_core::raft;
use detcd_core::server::{self, EtcdNode, Request, Response};
use detcd_scenarios::Scenario;
use detcd_sim::rng::{stream, Component};
use detcd_sim::{NodeSetup, Outcome, SimError, World, WorldOptions};
use std::collections::{BTreeMap, BTreeSet};

/// The cluster id every simulated member reports.
pub const CLUSTER_ID: u64 = 0xdec0_de00_0000_0001;
/// Most search steps the linearizability checker may take for one run.
pub const CHECK_STEPS_MAX: u64 = 20_000_000;

/// Everything a run leaves behind besides its report: what a replay writes out.
pub struct RunArtifacts {
    pub records: Vec<OpRecord>,
    pub watch_streams: Vec<WatchStreamRecord>,
    pub banner: String,
    /// The checker's report of the history, when it was not linearizable.
    pub linearizability_report: Option<detcd_checker::report::Report>,
}

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
    options.disk.lying_fsync = c.lying_fsync;
    options
}

/// The server configuration of one member for a scenario.
pub fn node_config(scenario: &Scenario, setup: &NodeSetup) -> server::Config {
    let c = &scenario.cluster;
    let mut r = raft::Config::new(setup.id, setup.voters.clone(), setup.seed);
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
    cfg
}

fn transfer(node: &mut EtcdNode, to: u64) -> bool {
    node.transfer_leader(to)
}

/// A watch stream the workload keeps open, possibly across resumptions.
struct OpenStream {
    record: WatchStreamRecord,
    /// The request currently carrying the stream, and the member it is on.
    request: Option<(u64, u64)>,
    /// Revision to resume from: one past the last event seen.
    next_revision: i64,
    resumptions: u32,
}

/// A stream that keeps breaking is resumed at most this often.
const STREAM_RESUMPTIONS_MAX: u32 = 64;

/// Runs `scenario` at `seed` and checks it.
pub fn run(scenario: &Scenario, seed: u64) -> (RunReport, RunArtifacts) {
    let wall = std::time::Instant::now();
    let options = world_options(scenario, seed);
    let sc = scenario.clone();
    let mut world: World<EtcdNode> = World::new(options, move |setup| node_config(&sc, setup));
    world.set_transfer_hook(transfer);
    if scenario.faults.swarm {
        world.set_swarm_profile(detcd_sim::swarm::profile(seed));
    }
    world.schedule(&nemesis::schedule(scenario, seed));
    let banner = world.announce().to_string();

    let nodes = scenario.cluster.size;
    let safety_end_us = scenario.phases.safety_ms * 1_000;
    let timeout_us = scenario.workload.request_timeout_ms * 1_000;
    let lease_ttl_secs = 2;
    let mut workload =
        Workload::new(&scenario.workload, stream(seed, Component::Workload), lease_ttl_secs);

    // request id -> (client index, kind, incarnation of the member)
    let mut open: BTreeMap<u64, (usize, OpKind, u64)> = BTreeMap::new();
    let mut streams: BTreeMap<u64, OpenStream> = BTreeMap::new();
    let mut records: Vec<OpRecord> = Vec::new();
    let mut sim_error: Option<SimError> = None;
    let mut write_log = WriteLog::default();

    let submit = |world: &mut World<EtcdNode>,
                  workload: &mut Workload,
                  open: &mut BTreeMap<u64, (usize, OpKind, u64)>,
                  streams: &mut BTreeMap<u64, OpenStream>,
                  c: usize,
                  at_us: u64,
                  avoid: Option<u64>| {
        let kind = workload.next_op(c);
        let node = workload.pick_node(nodes, avoid);
        let client = workload.clients[c].id;
        if let OpKind::WatchCreate { stream } = kind {
            workload.clients[c].has_watch = true;
            let start = workload.clients[c].last_revision + 1;
            let mut request = workload.request(&kind);
            if let Request::WatchCreate { create, .. } = &mut request {
                create.start_revision = start;
            }
            let id = world.submit_stream(client, node, request);
            streams.insert(
                stream,
                OpenStream {
                    record: WatchStreamRecord {
                        client,
                        key: Bytes::from_static(crate::workload::KEY_PREFIX.as_bytes()),
                        range_end: Bytes::from_static(crate::workload::KEYS_END.as_bytes()),
                        start_revision: start,
                        ..WatchStreamRecord::default()
                    },
                    request: Some((id, node)),
                    next_revision: start,
                    resumptions: 0,
                },
            );
            // A watch does not occupy the client: it issues its next operation too.
            let next = workload.next_op(c);
            let node = workload.pick_node(nodes, None);
            let request = workload.request(&next);
            let id = world.submit_at(at_us, client, node, request, timeout_us);
            open.insert(id, (c, next, world.incarnation(node)));
            return;
        }
        let request = workload.request(&kind);
        let id = world.submit_at(at_us, client, node, request, timeout_us);
        open.insert(id, (c, kind, world.incarnation(node)));
    };

    for c in 0..workload.clients.len() {
        let at = workload.think_us();
        submit(&mut world, &mut workload, &mut open, &mut streams, c, at, None);
    }

    // Safety phase, then drain: stop issuing, let every open request finish or time out.
    let drain_end_us = safety_end_us + timeout_us + 1;
    loop {
        let deadline = if workload.wants_more() && world.now_us() < safety_end_us {
            safety_end_us
        } else {
            drain_end_us
        };
        match world.run_until_result(deadline) {
            Err(e) => {
                sim_error = Some(e);
                break;
            }
            Ok(false) if world.now_us() >= drain_end_us => break,
            Ok(false) if deadline == safety_end_us => continue,
            Ok(false) => break,
            Ok(true) => {}
        }
        absorb_writes(&world, &mut write_log);
        let results: Vec<_> = world.drain_results().collect();
        for r in results {
            if let Some(stream_key) = streams
                .iter()
                .find(|(_, s)| s.request.is_some_and(|(id, _)| id == r.id))
                .map(|(k, _)| *k)
            {
                handle_stream_result(&mut world, &mut streams, stream_key, r.outcome, nodes);
                continue;
            }
            let Some((c, kind, incarnation)) = open.remove(&r.id) else { continue };
            let outcome = match r.outcome {
                Outcome::Ok(resp) => classify(&kind, Some(resp)),
                Outcome::Timeout => classify(&kind, None),
                Outcome::Refused => OpOutcome::Refused,
            };
            workload.complete(c, &kind, &outcome);
            let retry_elsewhere =
                matches!(&outcome, OpOutcome::Failed(e) if crate::workload::is_definite_refusal(e));
            records.push(OpRecord {
                client: r.client,
                node: r.node,
                incarnation,
                kind,
                invoke_us: r.invoke_us,
                complete_us: r.complete_us,
                outcome,
            });
            if workload.wants_more() && world.now_us() < safety_end_us {
                let at = world.now_us() + workload.think_us();
                let avoid = retry_elsewhere.then_some(r.node);
                submit(&mut world, &mut workload, &mut open, &mut streams, c, at, avoid);
            }
        }
    }
    // Requests still open at the end of the drain never answered: unknown outcomes.
    let end_us = world.now_us();
    for (_, (c, kind, incarnation)) in std::mem::take(&mut open) {
        records.push(OpRecord {
            client: workload.clients[c].id,
            node: 0,
            incarnation,
            kind,
            invoke_us: end_us,
            complete_us: end_us,
            outcome: OpOutcome::Unknown(None),
        });
    }

    // Liveness phase.
    let mut checks = Vec::new();
    let liveness_start_us = world.now_us();
    let liveness = match sim_error.take() {
        Some(e) => Err(e),
        None => world.liveness(
            scenario.phases.liveness_ms * 1_000,
            |n| {
                Request::Put(PutRequest {
                    key: Bytes::from(format!("{PROBE_KEY_PREFIX}{n}")),
                    value: Bytes::from(format!("probe-{n}")),
                    ..PutRequest::default()
                })
            },
            |resp| matches!(resp, Response::Put(_)),
        ),
    };
    // Watch events that arrived during the liveness phase count too.
    let results: Vec<_> = world.drain_results().collect();
    for r in results {
        if let Some(k) = streams
            .iter()
            .find(|(_, s)| s.request.is_some_and(|(id, _)| id == r.id))
            .map(|(k, _)| *k)
        {
            handle_stream_result(&mut world, &mut streams, k, r.outcome, nodes);
        }
    }

    match &liveness {
        Err(SimError::Safety(v)) => {
            checks.push(CheckResult::fail(check_names::RAFT_SAFETY, v.to_string()));
        }
        _ => checks.push(CheckResult::pass(
            check_names::RAFT_SAFETY,
            "one leader per term, log matching, committed entries durable, same state per index: checked after every event",
        )),
    }
    match &liveness {
        Ok(l) => {
            checks.push(CheckResult::pass(
                check_names::LIVENESS,
                format!(
                    "after healing: leader {} in term {}, a write committed within {} ms",
                    l.leader,
                    l.term,
                    l.elapsed_us / 1_000
                ),
            ));
            checks.push(CheckResult::pass(
                check_names::CONVERGENCE,
                format!(
                    "every member at applied index {} with store hash {:016x}",
                    l.applied, l.state_hash
                ),
            ));
        }
        Err(SimError::Liveness(f)) => {
            checks.push(CheckResult::fail(check_names::LIVENESS, format!("{f:?}")));
        }
        Err(SimError::EventLimit { events }) => checks.push(CheckResult::fail(
            check_names::LIVENESS,
            format!("the run hit the event limit ({events} events)"),
        )),
        Err(SimError::Safety(_)) => {}
    }

    // Linearizability of the KV history, unknown outcomes resolved where a converged
    // member's history can tell.
    absorb_writes(&world, &mut write_log);
    let write_log = liveness.is_ok().then_some(write_log);
    let history = etcd_history(&records, write_log.as_ref(), liveness_start_us, world.now_us());
    let operations_checked = history.len() as u64;
    let model = Etcd;
    let budget =
        Budget { steps_max: Some(CHECK_STEPS_MAX), memory_bytes_max: 1 << 28, expired: None };
    let result = detcd_checker::check(&model, &history, &budget);
    let mut linearizability_report = None;
    checks.push(match result.verdict {
        detcd_checker::Verdict::Linearizable => CheckResult::pass(
            check_names::LINEARIZABILITY,
            format!("{operations_checked} operation(s) linearizable under the etcd model (values and revisions)"),
        ),
        detcd_checker::Verdict::NotLinearizable => {
            let report = detcd_checker::report::Report::new(&model, &history, &result);
            let text = report.to_text();
            linearizability_report = Some(report);
            CheckResult::fail(check_names::LINEARIZABILITY, first_lines(&text, 12))
        }
        detcd_checker::Verdict::Unknown => CheckResult {
            name: check_names::LINEARIZABILITY,
            verdict: Verdict::Unknown,
            evidence: format!("search budget of {CHECK_STEPS_MAX} steps ran out"),
        },
    });

    // Watch guarantees against a converged member's history.
    let watch_streams: Vec<WatchStreamRecord> = streams.into_values().map(|s| s.record).collect();
    if let Some(reference) = world.leader().and_then(|l| world.process(l)) {
        let store = reference.store();
        let from = store.compact_revision() + 1;
        let mut history_events: BTreeMap<i64, Vec<WatchEventRecord>> = BTreeMap::new();
        for (rev, events) in store.events(from, store.current_revision()) {
            history_events.insert(rev, events.iter().map(watch_event).collect());
        }
        checks.push(check_watch_streams(&watch_streams, &history_events, from));
    } else if !watch_streams.is_empty() {
        checks.push(CheckResult::fail(
            check_names::WATCH,
            "no converged member to compare watch streams with",
        ));
    }

    // Serializable reads.
    let mut written = BTreeSet::new();
    let mut reads = Vec::new();
    for r in &records {
        match (&r.kind, &r.outcome) {
            (OpKind::Put { key, value } | OpKind::Cas { key, value, .. }, _)
            | (OpKind::LeasePut { key, value, .. }, _) => {
                written.insert((Bytes::from(key.clone()), Bytes::from(value.clone())));
            }
            (OpKind::SerializableGet { key }, OpOutcome::Ok(Response::Range(resp))) => {
                reads.push(SerializableRead {
                    client: r.client,
                    member: r.node,
                    incarnation: r.incarnation,
                    complete_us: r.complete_us,
                    key: Bytes::from(key.clone()),
                    header_revision: resp.header.revision,
                    value: resp.kvs.first().map(|kv| kv.value.clone()),
                });
            }
            _ => {}
        }
    }
    checks.push(check_serializable_reads(&reads, &written));

    let stats = world.stats();
    let report = RunReport {
        scenario: scenario.name.clone(),
        seed,
        expect: scenario.expect.to_string(),
        checks,
        operations: records.len() as u64,
        operations_checked,
        sim_time_us: world.now_us(),
        events: stats.events,
        trace_hash: world.trace_hash(),
        wall_us: wall.elapsed().as_micros() as u64,
    };
    let artifacts = RunArtifacts { records, watch_streams, banner, linearizability_report };
    (report, artifacts)
}

/// Reads new revisions from the member furthest ahead, before a compaction removes them.
fn absorb_writes(world: &World<EtcdNode>, log: &mut WriteLog) {
    let ahead = world
        .node_ids()
        .into_iter()
        .filter_map(|id| world.process(id))
        .max_by_key(|p| p.store().current_revision());
    if let Some(p) = ahead {
        log.absorb(p.store());
    }
}

fn first_lines(text: &str, n: usize) -> String {
    text.lines().take(n).collect::<Vec<_>>().join(" | ")
}

fn watch_event(e: &detcd_core::api::Event) -> WatchEventRecord {
    WatchEventRecord {
        revision: e.kv.mod_revision,
        key: e.kv.key.clone(),
        delete: e.r#type == EventType::Delete,
        value: e.kv.value.clone(),
    }
}

/// One answer on a watch stream: events are recorded; a broken or cancelled stream is
/// resumed on another member from one past the last revision seen.
fn handle_stream_result(
    world: &mut World<EtcdNode>,
    streams: &mut BTreeMap<u64, OpenStream>,
    key: u64,
    outcome: Outcome<Response>,
    nodes: u64,
) {
    let s = streams.get_mut(&key).expect("stream exists");
    let mut resume = false;
    match outcome {
        Outcome::Ok(Response::Watch(w)) => {
            if !w.events.is_empty() {
                let events: Vec<WatchEventRecord> = w.events.iter().map(watch_event).collect();
                s.next_revision = events.last().map_or(s.next_revision, |e| e.revision + 1);
                s.record.responses.push(events);
            }
            if w.canceled {
                if w.compact_revision > 0 {
                    s.record.compacted_at = Some(w.compact_revision);
                    s.next_revision = s.next_revision.max(w.compact_revision);
                }
                resume = true;
            }
        }
        Outcome::Ok(_) | Outcome::Timeout | Outcome::Refused => resume = true,
    }
    if resume && s.resumptions < STREAM_RESUMPTIONS_MAX {
        let (_, old_node) = s.request.take().unwrap_or((0, 0));
        s.resumptions += 1;
        // Deterministic choice of the next member: the next one round the ring.
        let node = old_node % nodes + 1;
        let request = Request::WatchCreate {
            stream: key,
            create: detcd_core::api::WatchCreateRequest {
                key: s.record.key.clone(),
                range_end: s.record.range_end.clone(),
                start_revision: s.next_revision,
                ..Default::default()
            },
        };
        let id = world.submit_stream(s.record.client, node, request);
        s.request = Some((id, node));
    }
}
