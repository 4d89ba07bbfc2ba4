//! The membership commands of the golden files (`membership_*.txt`), a block of their
//! own on top of the step cluster:
//!
//! - `add-host` adds host `N+1`, started empty as a member joining a running cluster.
//! - `conf-change NODE OP ID [OP ID ...]` asks node NODE (the leader) for one change,
//!   every step in one joint phase; OP is `add-learner`, `add-voter`, `promote` or
//!   `remove`.
//! - `promote NODE ID` is etcd's MemberPromote: refused unless learner ID is in sync
//!   with leader NODE (the server's rule, `learner_in_sync`), else `conf-change NODE
//!   promote ID`.
//! - `conf NODE` shows the configuration NODE holds and whether a change is under way.
//! - `settle ROUNDS` runs ROUNDS rounds (every node ticks, then every message in flight
//!   is delivered), each persist durable at once, showing only what the nodes did
//!   inside: applies, role changes and `ConfChanged` lines (joint ones read
//!   `voters=(1 2 4)&&(1 2 3)`).

use super::parse::num;
use bytes::Bytes;
use detcd_core::api::EtcdError;
use detcd_core::raft::ConfChangeOp;
use detcd_core::server::learner_in_sync;
use detcd_sim::raft_process::RaftProcess;
use detcd_sim::StepCluster;

/// Most rounds one `settle` runs.
const ROUNDS_MAX: u64 = 1_000;

/// Runs `verb args` if it is a membership command; `None` if it is not one.
pub fn run(
    c: &mut StepCluster<RaftProcess>,
    verb: &str,
    args: &[&str],
    command: &str,
) -> Option<Vec<String>> {
    let n =
        |i: usize| num(args.get(i).unwrap_or_else(|| panic!("{command:?}: too short")), command);
    Some(match verb {
        "add-host" => c.add_host(),
        "conf-change" => {
            let ops: Vec<ConfChangeOp> = args[1..].chunks(2).map(|w| op(w, command)).collect();
            propose(c, n(0), &ops)
        }
        "promote" => {
            let (leader, learner) = (n(0), n(1));
            let p = c.process(leader).unwrap_or_else(|| panic!("{command:?}: n{leader} is down"));
            let matched = p.raft().matched(learner).unwrap_or(0);
            let last = p.raft().status().last_index;
            if !learner_in_sync(matched, last) {
                let why = EtcdError::LearnerNotReady.to_string();
                return Some(vec![format!("refused: {why} (matched {matched} of {last})")]);
            }
            propose(c, leader, &[ConfChangeOp::Promote(learner)])
        }
        "conf" => {
            let id = n(0);
            let p = c.process(id).unwrap_or_else(|| panic!("{command:?}: n{id} is down"));
            let pending = if p.raft().conf_change_pending() { " (change under way)" } else { "" };
            vec![format!("n{id}: {}{pending}", p.raft().conf())]
        }
        "settle" => {
            let rounds = n(0);
            assert!(rounds <= ROUNDS_MAX, "{command:?}: at most {ROUNDS_MAX} rounds");
            c.set_quiet(true);
            c.set_auto_persist(true);
            let lines = c.run(rounds as usize);
            c.set_quiet(false);
            c.set_auto_persist(false);
            lines
        }
        _ => return None,
    })
}

fn propose(c: &mut StepCluster<RaftProcess>, leader: u64, ops: &[ConfChangeOp]) -> Vec<String> {
    let (r, mut lines) = c.with(leader, |p| p.raft_mut().propose_conf_change(ops, Bytes::new()));
    if let Err(e) = r {
        lines.insert(0, format!("refused: {e}"));
    }
    lines
}

fn op(words: &[&str], command: &str) -> ConfChangeOp {
    let [kind, id] = words else { panic!("{command:?}: OP ID pairs") };
    let id = num(id, command);
    match *kind {
        "add-learner" => ConfChangeOp::AddLearner(id),
        "add-voter" => ConfChangeOp::AddVoter(id),
        "promote" => ConfChangeOp::Promote(id),
        "remove" => ConfChangeOp::Remove(id),
        _ => panic!("{command:?}: unknown step {kind:?}"),
    }
}
