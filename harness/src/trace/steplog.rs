//! The human step log of one run (`detcd replay -v`), read from the world's typed
//! events: elections (role changes with their reason, votes and their answers), every
//! advance of a leader's commit index, faults, crashes, restarts, clock faults and
//! client operations, one line each, stamped with simulated time:
//! `  1.234567s n2   became leader of term 3`.
//! A reader can keep some topics only (`--only elections,faults`), and a client's run of
//! refused or failed requests collapses into one line with a count. Heartbeats,
//! appends, followers' commits and disk traffic are left out; the JSON-lines trace has
//! them.

use crate::workload::{OpOutcome, OpRecord};
use detcd_core::raft::Role;
use detcd_sim::{SimEvent, Stamped};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::str::FromStr;

/// What a line is about; `--only` keeps some of these.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Topic {
    /// Role changes, votes and pre-votes, leader transfers.
    Elections,
    /// Partitions, heals, network rates, crashes, restarts, clock faults.
    Faults,
    /// Leaders' commit advances and snapshots sent.
    Commits,
    /// Client operations, client pauses and the lock workload's story.
    Clients,
}

impl Topic {
    pub const ALL: [Topic; 4] = [Topic::Elections, Topic::Faults, Topic::Commits, Topic::Clients];

    pub fn word(self) -> &'static str {
        match self {
            Topic::Elections => "elections",
            Topic::Faults => "faults",
            Topic::Commits => "commits",
            Topic::Clients => "clients",
        }
    }
}

impl fmt::Display for Topic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.word())
    }
}

/// A topic name that is not one of `Topic::ALL`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnknownTopic(pub String);

impl fmt::Display for UnknownTopic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let words: Vec<&str> = Topic::ALL.iter().map(|t| t.word()).collect();
        write!(f, "unknown step-log topic {:?} (expected one of: {})", self.0, words.join(", "))
    }
}

impl std::error::Error for UnknownTopic {}

impl FromStr for Topic {
    type Err = UnknownTopic;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Topic::ALL
            .into_iter()
            .find(|t| t.word() == s.trim())
            .ok_or_else(|| UnknownTopic(s.to_string()))
    }
}

/// Which lines a step log shows.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StepLogOptions {
    /// Only these topics; `None` shows all. Safety violations always show.
    pub only: Option<BTreeSet<Topic>>,
}

impl StepLogOptions {
    fn shows(&self, topic: Option<Topic>) -> bool {
        match (topic, &self.only) {
            (None, _) | (_, None) => true,
            (Some(t), Some(only)) => only.contains(&t),
        }
    }
}

/// Whose commit events count: a leader's only (followers learn the same advance later).
#[derive(Default)]
struct Leaders {
    /// node → whether it leads, as of its last role change (crash and restart: no).
    leading: BTreeMap<u64, bool>,
}

impl Leaders {
    fn observe(&mut self, e: &SimEvent) {
        match e {
            SimEvent::RoleChange { node, role, .. } => {
                self.leading.insert(*node, *role == Role::Leader);
            }
            SimEvent::Crash { node, .. } | SimEvent::Restart { node } => {
                self.leading.insert(*node, false);
            }
            _ => {}
        }
    }

    fn leads(&self, node: u64) -> bool {
        self.leading.get(&node).copied().unwrap_or(false)
    }
}

/// How a vote or pre-vote answer went.
fn answer(detail: Option<&str>, peer: u64, what: &str, term: u64) -> String {
    match detail {
        Some("granted") => format!("hears n{peer} grant its {what} (term {term})"),
        Some("rejected") => format!("hears n{peer} reject its {what} request (term {term})"),
        _ => format!("hears n{peer}'s {what} answer (term {term})"),
    }
}

fn time(t_us: u64) -> String {
    format!("{}.{:06}s", t_us / 1_000_000, t_us % 1_000_000)
}

fn stamp(t_us: u64, who: &str, text: &str) -> String {
    format!("{:>12} {who:<4} {text}", time(t_us))
}

fn node_label(n: Option<u64>) -> String {
    n.map_or_else(|| "--".to_string(), |n| format!("n{n}"))
}

fn role_line(role: Role, term: u64, leader: Option<u64>) -> String {
    match role {
        Role::Leader => format!("became leader of term {term}"),
        Role::Candidate => format!("became candidate in term {term}: asks for votes"),
        Role::PreCandidate => format!("became pre-candidate (term {term}): asks for pre-votes"),
        Role::Follower => match leader {
            Some(l) => format!("became follower in term {term} (leader n{l})"),
            None => format!("became follower in term {term} (no leader known)"),
        },
    }
}

/// The topic and text of an event worth a person's attention, or `None`. The topic is
/// `None` for lines every filter keeps (safety violations).
fn describe(e: &SimEvent) -> Option<(Option<Topic>, String)> {
    use Topic::*;
    let (topic, text) = match e {
        SimEvent::RoleChange { role, term, leader, reason, .. } => {
            (Elections, format!("{} — {}", role_line(*role, *term, *leader), reason.words()))
        }
        SimEvent::Send { msg } => match msg.kind {
            "vote" => (Elections, format!("asks n{} for its vote in term {}", msg.to, msg.term)),
            "pre_vote" => {
                (Elections, format!("asks n{} for a pre-vote for term {}", msg.to, msg.term))
            }
            "timeout_now" => {
                (Elections, format!("tells n{} to campaign now (leader transfer)", msg.to))
            }
            "install_snapshot" => (Commits, format!("sends a snapshot to n{}", msg.to)),
            _ => return None,
        },
        SimEvent::Deliver { msg } => match msg.kind {
            "vote_response" => (Elections, answer(msg.detail, msg.from, "vote", msg.term)),
            "pre_vote_response" => (Elections, answer(msg.detail, msg.from, "pre-vote", msg.term)),
            _ => return None,
        },
        SimEvent::Commit { index, term, .. } => {
            (Commits, format!("committed up to index {index} (term {term})"))
        }
        SimEvent::Partition { cut_links, shape } => {
            (Faults, format!("partition: {shape} ({cut_links} links cut)"))
        }
        SimEvent::Heal => (Faults, "network healed".to_string()),
        SimEvent::NetworkRates { drop_rate, duplicate_rate, reorder_rate } => (
            Faults,
            format!(
                "network: drop {drop_rate:?} duplicate {duplicate_rate:?} reorder {reorder_rate:?}"
            ),
        ),
        SimEvent::Crash { lost_ops, acknowledged_lost, survived_ops, torn_entries, .. } => (
            Faults,
            if *acknowledged_lost > 0 {
                format!(
                    "CRASHED, and fsync lied: {acknowledged_lost} write(s) the disk had acknowledged as durable are lost ({survived_ops} survived, {torn_entries} torn)"
                )
            } else {
                format!(
                    "CRASHED: {lost_ops} unsynced write(s) lost, {survived_ops} survived, {torn_entries} torn"
                )
            },
        ),
        SimEvent::Restart { .. } => (Faults, "restarted from its durable state".to_string()),
        SimEvent::ClockSkew { rate_permille, .. } => (
            Faults,
            format!("clock now runs at {:.3}x true time", f64::from(*rate_permille) / 1000.0),
        ),
        SimEvent::ClockJump { ticks, .. } => (Faults, format!("clock jumps {ticks} tick(s) ahead")),
        SimEvent::TransferLeader { to, accepted, .. } => {
            (Elections, format!("asked to hand leadership to n{to} (accepted: {accepted})"))
        }
        SimEvent::Membership { change, refused: None, .. } => {
            (Faults, format!("membership: asked to {change}; proposed as a joint change"))
        }
        SimEvent::Membership { change, refused: Some(why), .. } => {
            (Faults, format!("membership: asked to {change}; refused ({why})"))
        }
        SimEvent::HostAdded { .. } => {
            (Faults, "host started empty, joining the running cluster".to_string())
        }
        SimEvent::HostRemoved { .. } => {
            (Faults, "host stopped for good: removed from the cluster".to_string())
        }
        SimEvent::ConfChange { conf, joint: true, .. } => (
            Commits,
            format!("configuration now JOINT (C_new && C_old), both halves must agree: {conf}"),
        ),
        SimEvent::ConfChange { conf, joint: false, .. } => {
            (Commits, format!("configuration now {conf}"))
        }
        SimEvent::FaultsCancelled { cancelled } => (
            Faults,
            format!("liveness phase: faults healed, {cancelled} scheduled fault(s) cancelled"),
        ),
        SimEvent::Violation(v) => {
            return Some((None, format!("SAFETY VIOLATION, node {}: {}", v.node, v.kind)))
        }
        _ => return None,
    };
    Some((Some(topic), text))
}

/// Lines about a client process rather than a member: its pauses, and the lock
/// workload's story.
fn describe_client(e: &Stamped) -> Option<String> {
    let (client, text) = match &e.event {
        SimEvent::ClientPause { client, duration_us } => (
            *client,
            format!(
                "PAUSED for {} ms (stop-the-world): sends nothing, keeps no lease alive, does no work",
                duration_us / 1_000
            ),
        ),
        SimEvent::ClientNote { client, text } => (*client, text.clone()),
        _ => return None,
    };
    Some(stamp(e.at_us, &format!("c{client}"), &text))
}

fn outcome_text(o: &OpOutcome) -> String {
    match o {
        OpOutcome::Ok(_) => "ok".to_string(),
        OpOutcome::Failed(e) => format!("failed ({e})"),
        OpOutcome::Refused => "refused (member down)".to_string(),
        OpOutcome::Unknown(None) => "unknown outcome (no answer)".to_string(),
        OpOutcome::Unknown(Some(e)) => format!("unknown outcome ({e})"),
    }
}

fn describe_op(o: &OpRecord) -> String {
    let text = format!(
        "c{} {}: {} (sent at {})",
        o.client,
        o.kind.describe(),
        outcome_text(&o.outcome),
        time(o.invoke_us)
    );
    stamp(o.complete_us, &node_label((o.node != 0).then_some(o.node)), &text)
}

/// A refusal that may collapse with the client's next ones: (client, outcome). A
/// client retrying goes from member to member, so the member is not part of it.
type RefusalKey = (u64, String);

fn refusal_key(o: &OpRecord) -> Option<RefusalKey> {
    matches!(o.outcome, OpOutcome::Refused | OpOutcome::Failed(_))
        .then(|| (o.client, outcome_text(&o.outcome)))
}

/// One line of the log being built.
struct Line {
    t_us: Option<u64>,
    node: Option<u64>,
    send: bool,
    text: String,
    /// For a refusal: how many more like it followed, and when the last one came.
    more: Option<(u64, u64)>,
}

/// Builds the step log line by line; refusals of one client with one outcome collapse
/// while only other refusals come between them.
#[derive(Default)]
struct Builder {
    lines: Vec<Line>,
    /// Refusal groups still open: key → index of their line.
    open: BTreeMap<RefusalKey, usize>,
}

impl Builder {
    fn push(&mut self, line: Line) {
        self.open.clear();
        self.lines.push(line);
    }

    /// A role change is recorded after the messages its step sent, so it goes before
    /// them: "became candidate" reads better before "asks for votes".
    fn push_role_change(&mut self, line: Line) {
        self.open.clear();
        let mut at = self.lines.len();
        while at > 0 {
            let prev = &self.lines[at - 1];
            if !(prev.send && prev.t_us == line.t_us && prev.node == line.node) {
                break;
            }
            at -= 1;
        }
        self.lines.insert(at, line);
    }

    fn push_op(&mut self, o: &OpRecord) {
        let Some(key) = refusal_key(o) else {
            return self.push(Line {
                t_us: None,
                node: None,
                send: false,
                text: describe_op(o),
                more: None,
            });
        };
        if let Some(&i) = self.open.get(&key) {
            let more = self.lines[i].more.get_or_insert((0, 0));
            *more = (more.0 + 1, o.complete_us);
            return;
        }
        self.lines.push(Line {
            t_us: None,
            node: None,
            send: false,
            text: describe_op(o),
            more: None,
        });
        self.open.insert(key, self.lines.len() - 1);
    }

    fn finish(self) -> Vec<String> {
        self.lines
            .into_iter()
            .map(|l| match l.more {
                Some((n, last)) => {
                    format!("{} — and {n} more like it, the last at {}", l.text, time(last))
                }
                None => l.text,
            })
            .collect()
    }
}

/// The step log: events in the order they happened, client operations at the time
/// they completed, shown as `options` asks.
pub fn step_log(events: &[Stamped], ops: &[OpRecord], options: &StepLogOptions) -> Vec<String> {
    let show_clients = options.shows(Some(Topic::Clients));
    let mut leaders = Leaders::default();
    // Members whose last configuration seen was joint.
    let mut joint_now: std::collections::BTreeSet<u64> = Default::default();
    let mut ops: Vec<&OpRecord> = ops.iter().collect();
    ops.sort_by_key(|o| o.complete_us);
    let mut ops = ops.into_iter().peekable();
    let mut out = Builder::default();
    for e in events {
        while let Some(o) = ops.next_if(|o| o.complete_us < e.at_us) {
            if show_clients {
                out.push_op(o);
            }
        }
        leaders.observe(&e.event);
        if let Some(text) = describe_client(e) {
            if show_clients {
                out.push(Line { t_us: Some(e.at_us), node: None, send: false, text, more: None });
            }
            continue;
        }
        if let SimEvent::Commit { node, .. } = &e.event {
            if !leaders.leads(*node) {
                continue;
            }
        }
        let Some((topic, mut text)) = describe(&e.event) else { continue };
        if let SimEvent::ConfChange { node, joint, conf } = &e.event {
            // Thesis §4.3: the second step of a change, said as such.
            let was_joint = if *joint { !joint_now.insert(*node) } else { joint_now.remove(node) };
            if was_joint && !*joint {
                text = format!("left the joint configuration: now {conf}");
            }
        }
        if !options.shows(topic) {
            continue;
        }
        let node = e.event.node();
        let line = Line {
            t_us: Some(e.at_us),
            node,
            send: matches!(e.event, SimEvent::Send { .. }),
            text: stamp(e.at_us, &node_label(node), &text),
            more: None,
        };
        if matches!(e.event, SimEvent::RoleChange { .. }) {
            out.push_role_change(line);
        } else {
            out.push(line);
        }
    }
    if show_clients {
        for o in ops {
            out.push_op(o);
        }
    }
    out.finish()
}

#[cfg(test)]
#[path = "steplog_tests.rs"]
mod tests;
