//! The commands of the golden interaction files: each drives the step cluster of the
//! bare-Raft test application and returns what it caused, one line each.
//!
//! - `cluster N [option=value ...]` starts nodes `1..=N` afresh. Options, for every
//!   node: `pre-vote`, `check-quorum`, `lease-reads`, `forward` (true/false);
//!   `election`, `heartbeat` (ticks); `append-entries-max`, `append-bytes-max`,
//!   `inflight-max`; `compact-every` (entries applied between snapshots).
//! - Time and the network: `tick NODE [TIMES]`, `tick-election NODE` (tick until its
//!   role changes), `deliver I` (the I-th message in flight), `deliver-all`, `drop I`,
//!   `duplicate I`, `drop-all`, `msgs`.
//! - Disks and crashes: `persist NODE [upto=SYNC]`, `crash NODE`, `restart NODE`,
//!   `load NODE term=T vote=V commit=C log=[i/t ...] [snap=i/t voters=1,2 learners=3]`
//!   (the node restarts from that durable state: how a case sets up a member).
//! - Hand-built input: `receive MESSAGE` delivers a message written as the output
//!   prints it (`receive 1->2 Heartbeat t5 commit=0 ctx=0`); `misdeliver NODE MESSAGE`
//!   hands it to NODE whatever its address says.
//! - The node's own API: `campaign NODE`, `transfer NODE TO`, `leader-unreachable NODE
//!   PEER` (its host lost the link to PEER), `put NODE KEY VALUE`,
//!   `get NODE KEY` (a ReadIndex read), `propose NODE bytes=B[,B...]` (raw entries of B bytes, proposed before the node's
//!   effects are carried out, so they may share an append).
//! - Looking: `status` (one line per node), `log NODE` (`index/term` after the
//!   snapshot, with the kind when it is not a put: `1/1:Noop`).
//!
//! - Membership: `add-host`, `conf-change`, `promote`, `conf`, `settle` (see
//!   `membership.rs`).
//!
//! Besides sends, persists and responses, every node's applies, role changes, read
//! results and snapshot restores show as they happen (`RaftProcess::take_outputs`).

mod membership;
pub mod parse;

use bytes::Bytes;
use detcd_core::types::{ConfState, DurableState, EntryKind, HardState};
use detcd_sim::raft_process::{empty_snapshot, KvRequest, RaftProcess, RaftProcessConfig};
use detcd_sim::world::NodeSetup;
use detcd_sim::StepCluster;
use parse::{num, opt, pair};

/// Most ticks one `tick NODE TIMES` gives.
const TICKS_MAX: u64 = 1_000;

/// Runs one command; `cluster` holds the step cluster the file built.
pub fn run(cluster: &mut Option<StepCluster<RaftProcess>>, command: &str) -> Vec<String> {
    let words: Vec<&str> = command.split_whitespace().collect();
    let (verb, args) = words.split_first().unwrap_or_else(|| panic!("empty command"));
    let n =
        |i: usize| num(args.get(i).unwrap_or_else(|| panic!("{command:?}: too short")), command);
    if *verb == "cluster" {
        let size = n(0);
        let options: Vec<String> = args[1..].iter().map(|w| w.to_string()).collect();
        let mut c = StepCluster::new(size, move |setup| config(setup, &options));
        c.set_notes(|p: &mut RaftProcess| p.take_outputs().iter().map(|o| o.to_string()).collect());
        *cluster = Some(c);
        return vec![format!("{size} nodes")];
    }
    let c = cluster.as_mut().expect("the first command is `cluster N`");
    let voters: Vec<u64> = (1..=c.len()).collect();
    if let Some(lines) = membership::run(c, verb, args, command) {
        return lines;
    }
    match *verb {
        "tick" => {
            let times = if args.len() > 1 { n(1) } else { 1 };
            assert!(times <= TICKS_MAX, "{command:?}: at most {TICKS_MAX} ticks");
            (0..times).flat_map(|_| c.tick(n(0))).collect()
        }
        "tick-election" => c.tick_until_role_change(n(0)),
        "deliver" => c.deliver(n(0) as usize),
        "deliver-all" => c.deliver_all(),
        "drop" => c.drop_message(n(0) as usize),
        "drop-all" => {
            let lost = c.in_flight().len();
            c.retain_in_flight(|_| false);
            vec![format!("dropped {lost} message(s)")]
        }
        "duplicate" => c.duplicate(n(0) as usize),
        "msgs" => c.in_flight().iter().enumerate().map(|(i, m)| format!("{i}: {m}")).collect(),
        "persist" => {
            let upto = args.get(1).map(|w| {
                let s = w.strip_prefix("upto=").unwrap_or_else(|| panic!("persist: {w:?}"));
                num(s, command)
            });
            c.persist(n(0), upto)
        }
        "crash" => c.crash(n(0)),
        "restart" => c.restart(n(0)),
        "load" => c.load(n(0), durable(&args[1..], command)),
        "receive" => {
            let msg = parse::message(args, &voters, command);
            c.receive(msg.to, msg)
        }
        "misdeliver" => c.receive(n(0), parse::message(&args[1..], &voters, command)),
        "campaign" => c.with(n(0), |p| p.raft_mut().campaign()).1,
        "leader-unreachable" => c.with(n(0), |p| p.raft_mut().leader_unreachable(n(1))).1,
        "transfer" => refused(c.with(n(0), |p| p.raft_mut().transfer_leader(n(1)))),
        "propose" => {
            let sizes = opt(args, "bytes").expect("propose NODE bytes=B[,B...]");
            let data: Vec<Bytes> = sizes
                .split(',')
                .map(|b| Bytes::from(vec![0u8; num(b, command) as usize]))
                .collect();
            refused(c.with(n(0), |p| data.into_iter().try_for_each(|d| p.raft_mut().propose(d))))
        }
        "put" => c.request(n(0), KvRequest::Put { key: n(1), value: n(2) }),
        "get" => c.request(n(0), KvRequest::Get { key: n(1) }),
        "status" => c.describe(),
        "log" => {
            let id = n(0);
            let p = c.process(id).unwrap_or_else(|| panic!("{command:?}: n{id} is down"));
            let s = p.raft().status();
            let log: Vec<String> = (s.snapshot_index + 1..=s.last_index)
                .map(|i| match p.raft().entry(i) {
                    None => format!("{i}/?"),
                    Some(e) if e.kind == EntryKind::Normal => format!("{i}/{}", e.term),
                    Some(e) => format!("{i}/{}:{:?}", e.term, e.kind),
                })
                .collect();
            vec![format!("n{id}: snap={} [{}]", s.snapshot_index, log.join(" "))]
        }
        _ => panic!("unknown command {command:?}"),
    }
}

/// What a call into the node caused, after its refusal if it refused.
fn refused<E: std::fmt::Display>((r, mut lines): (Result<(), E>, Vec<String>)) -> Vec<String> {
    if let Err(e) = r {
        lines.insert(0, format!("refused: {e}"));
    }
    lines
}

/// The configuration of node `setup.id` under the `cluster` options.
fn config(setup: &NodeSetup, options: &[String]) -> RaftProcessConfig {
    let mut c = RaftProcessConfig::for_setup(setup);
    c.record_outputs = true;
    for o in options {
        let (key, value) = o.split_once('=').unwrap_or_else(|| panic!("cluster: {o:?}"));
        let flag = || value.parse::<bool>().unwrap_or_else(|_| panic!("cluster: {o:?}"));
        let number = || num(value, o);
        let r = &mut c.raft;
        match key {
            "pre-vote" => r.pre_vote = flag(),
            "check-quorum" => r.check_quorum = flag(),
            "lease-reads" => r.lease_reads = flag(),
            "forward" => r.forward_proposals = flag(),
            "election" => r.election_ticks = number() as u32,
            "heartbeat" => r.heartbeat_ticks = number() as u32,
            "append-entries-max" => r.append_entries_max = number() as usize,
            "append-bytes-max" => r.append_bytes_max = number() as usize,
            "inflight-max" => r.inflight_appends_max = number() as usize,
            "compact-every" => c.compact_every_entries = number(),
            _ => panic!("cluster: unknown option {o:?}"),
        }
    }
    c
}

/// `term=T vote=V|- commit=C log=[i/t ...] [snap=i/t voters=1,2 learners=3]`.
fn durable(words: &[&str], command: &str) -> DurableState {
    let get = |key| opt(words, key).unwrap_or_else(|| panic!("{command:?}: needs {key}="));
    let vote = match get("vote") {
        "-" => None,
        v => Some(num(v, command)),
    };
    let hard_state =
        HardState { term: num(get("term"), command), vote, commit: num(get("commit"), command) };
    let at = words.iter().position(|w| w.starts_with("log=")).expect("load: log=[...]");
    let mut log: Vec<&str> = words[at..].to_vec();
    log[0] = &log[0]["log=".len()..];
    let (entries, _) = parse::entries(&log, command);
    let ids = |key| -> Vec<u64> {
        opt(words, key).map_or(Vec::new(), |v| v.split(',').map(|x| num(x, command)).collect())
    };
    let snapshot = opt(words, "snap").map(|s| {
        let (index, term) = pair(s, command);
        let conf = ConfState {
            voters: ids("voters").into_iter().collect(),
            learners: ids("learners").into_iter().collect(),
            ..Default::default()
        };
        empty_snapshot(index, term, conf)
    });
    DurableState { hard_state, snapshot, entries }
}
