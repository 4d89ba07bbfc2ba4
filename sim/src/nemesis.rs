//! Fault schedules as data: timed fault actions the world carries out. Serializable, so
//! scenarios can state them in TOML and `shrink` can cut them down.

use crate::options::LatencyDist;
use crate::pauses::ClientTarget;
use crate::types_ext::NodeId;
use serde::{Deserialize, Serialize};

/// Which node a fault hits, resolved when the fault fires.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Target {
    /// This node.
    Node(NodeId),
    /// The node that is leader of the highest term at that moment (none: no-op).
    Leader,
    /// A node drawn from the nemesis stream.
    Random,
    /// The node an armed fault fired at (see [`FaultAction::Arm`]); outside an armed
    /// fault's actions it names no node (no-op).
    Subject,
}

/// A moment an armed fault waits for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Moment {
    /// A member has just become leader (the start of a short term).
    NewLeader,
    /// A member has just released messages that waited for a sync (a vote, an append
    /// acknowledgement): the window in which a crash tests that the promise was durable.
    Released,
    /// A member has just written entries over ones it had written before (it accepted an
    /// append that replaced a conflicting suffix of its log): until that write is synced
    /// its disk holds the old entries, the window where a durable index that still
    /// counts the replaced entries shows.
    Truncated,
}

impl std::fmt::Display for Moment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Moment::NewLeader => "a member becomes leader",
            Moment::Released => "a member releases messages that waited for a sync",
            Moment::Truncated => "a member overwrites log entries it had written",
        })
    }
}

/// The shape of a partition. Shapes name who can reach whom when the partition starts;
/// a new partition replaces the previous one.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "shape")]
pub enum PartitionShape {
    /// One node cut off from everyone, both ways.
    Isolate { node: Target },
    /// The current leader cut off from everyone, both ways.
    IsolateLeader,
    /// The current leader and the most followers that still leave it a minority (none
    /// in a cluster of three, one in five) cut off from the rest: what it appends now
    /// reaches a minority only (the start of Raft's Figure 8).
    LeaderMinority,
    /// The current leader and just enough followers it can reach now for a bare
    /// majority form one group; every other node is cut off on its own. What it commits
    /// now is held by exactly a quorum.
    LeaderQuorum,
    /// A random minority against the majority (the leader lands on either side).
    MajorityMinority,
    /// Two halves that only one bridge node can reach both of.
    Bridge,
    /// Nodes in a ring (random order): each reaches only its two neighbours.
    Ring,
    /// Symmetric groups: nodes reach only the members of their own group. Nodes not
    /// listed form a group of their own each.
    Groups { groups: Vec<Vec<NodeId>> },
    /// One-way: messages from any of `from` to any of `to` are lost; the reverse
    /// direction still works.
    OneWay { from: Vec<NodeId>, to: Vec<NodeId> },
    /// The current leader still sends but hears nothing: every message to it is lost.
    LeaderDeaf,
    /// Arbitrary directed links that lose every message: (from, to).
    Links { blocked: Vec<(NodeId, NodeId)> },
}

impl std::fmt::Display for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Target::Node(id) => write!(f, "node {id}"),
            Target::Leader => f.write_str("the leader"),
            Target::Random => f.write_str("a random node"),
            Target::Subject => f.write_str("the node it fired at"),
        }
    }
}

fn node_list(nodes: &[NodeId]) -> String {
    let names: Vec<String> = nodes.iter().map(|n| n.to_string()).collect();
    match names.len() {
        1 => format!("node {}", names[0]),
        _ => format!("nodes {}", names.join(",")),
    }
}

/// In plain words, for step logs and time lines.
impl std::fmt::Display for PartitionShape {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PartitionShape::Isolate { node } => write!(f, "{node} cut off from the others"),
            PartitionShape::IsolateLeader => f.write_str("the leader cut off from the others"),
            PartitionShape::LeaderMinority => {
                f.write_str("the leader and a minority cut off from the majority")
            }
            PartitionShape::LeaderQuorum => {
                f.write_str("the leader with a bare majority; every other node alone")
            }
            PartitionShape::MajorityMinority => f.write_str("a minority cut off from the majority"),
            PartitionShape::Bridge => f.write_str("two halves joined only through one bridge node"),
            PartitionShape::Ring => {
                f.write_str("a ring: each node reaches only its two neighbours")
            }
            PartitionShape::Groups { groups } => {
                let groups: Vec<String> =
                    groups.iter().map(|g| format!("[{}]", node_list(g))).collect();
                write!(f, "groups {} reach only their own members", groups.join(" "))
            }
            PartitionShape::OneWay { from, to } => write!(
                f,
                "one-way: messages from {} to {} are lost",
                node_list(from),
                node_list(to)
            ),
            PartitionShape::LeaderDeaf => {
                f.write_str("the leader goes deaf: it sends, but every message to it is lost")
            }
            PartitionShape::Links { blocked } => {
                let links: Vec<String> = blocked.iter().map(|(a, b)| format!("{a}→{b}")).collect();
                write!(f, "links {} lose every message", links.join(", "))
            }
        }
    }
}

/// One fault.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "action")]
pub enum FaultAction {
    Partition {
        shape: PartitionShape,
    },
    /// Remove every partition.
    Heal,
    /// Stop the node; every write not fsynced is lost (maybe torn).
    Crash {
        node: Target,
    },
    /// Restart a crashed node from its durable state (no-op on a running one).
    Restart {
        node: Target,
    },
    RestartAll,
    /// Run the node's clock at `rate_permille`/1000 of true time.
    ClockSkew {
        node: Target,
        rate_permille: u32,
    },
    /// The node's clock jumps forward: it gets `ticks` ticks at once.
    ClockJump {
        node: Target,
        ticks: u32,
    },
    /// Every clock back to rate 1.0.
    ClockReset,
    /// New network rates (probabilities per message) and latency.
    Network {
        drop_rate: f64,
        duplicate_rate: f64,
        reorder_rate: f64,
        latency: Option<LatencyDist>,
    },
    /// Ask the leader to hand over to `to` (needs a transfer hook for the node type).
    TransferLeader {
        to: Target,
    },
    /// Stop a client process for `duration_us` (a stop-the-world pause): it sends
    /// nothing, keeps no lease alive and acts on nothing until the pause ends.
    PauseClient {
        client: ClientTarget,
        duration_us: u64,
    },
    /// Ask the leader for a membership change (needs a membership hook).
    Membership {
        change: MemberChange,
    },
    /// A slow link: every message `from` sends from now on arrives `extra_us` later than
    /// it would (held, not lost). `extra_us` 0 ends every slow link; messages already held
    /// still arrive late.
    SlowLinks {
        from: Target,
        extra_us: u64,
    },
    /// The node's fsyncs take `fsync` from now on (a slow disk); `None` gives it back the
    /// run's disk.
    DiskLatency {
        node: Target,
        fsync: Option<LatencyDist>,
    },
    /// Waits up to `for_us` for `moment`, then schedules `then` (times relative to that
    /// moment; `Target::Subject` in them names the member it happened at). Fires once.
    Arm {
        moment: Moment,
        for_us: u64,
        then: Vec<TimedFault>,
    },
}

impl FaultAction {
    /// This action with `Target::Subject` bound to `node`. A nested `Arm` keeps its own
    /// subject, bound when it fires.
    pub fn bind_subject(&self, node: NodeId) -> FaultAction {
        let b = |t: &Target| if *t == Target::Subject { Target::Node(node) } else { *t };
        let mut out = self.clone();
        match &mut out {
            FaultAction::Partition { shape: PartitionShape::Isolate { node: t } }
            | FaultAction::Crash { node: t }
            | FaultAction::Restart { node: t }
            | FaultAction::ClockSkew { node: t, .. }
            | FaultAction::ClockJump { node: t, .. }
            | FaultAction::TransferLeader { to: t }
            | FaultAction::SlowLinks { from: t, .. }
            | FaultAction::DiskLatency { node: t, .. } => *t = b(t),
            _ => {}
        }
        out
    }
}

/// A membership change the membership nemesis asks the leader for. Added ids are
/// spare hosts; they start empty when the change is asked for.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "change")]
pub enum MemberChange {
    AddLearner {
        node: NodeId,
    },
    AddVoter {
        node: NodeId,
    },
    /// Several voters in one change (two at once is what a single-step change without
    /// a joint phase gets wrong).
    AddVoters {
        nodes: Vec<NodeId>,
    },
    Promote {
        node: NodeId,
    },
    Remove {
        node: Target,
    },
    /// Remove one member and add another voter in one joint change.
    Replace {
        remove: Target,
        add: NodeId,
    },
}

impl MemberChange {
    /// The first host this change adds, if any.
    pub fn added(&self) -> Option<NodeId> {
        match self {
            MemberChange::AddLearner { node } | MemberChange::AddVoter { node } => Some(*node),
            MemberChange::AddVoters { nodes } => nodes.first().copied(),
            MemberChange::Replace { add, .. } => Some(*add),
            _ => None,
        }
    }

    /// Every host this change adds.
    pub fn added_all(&self) -> Vec<NodeId> {
        match self {
            MemberChange::AddVoters { nodes } => nodes.clone(),
            other => other.added().into_iter().collect(),
        }
    }

    /// The member this change removes, once its target is resolved to a node.
    pub fn removed(&self) -> Option<NodeId> {
        match self {
            MemberChange::Remove { node: Target::Node(id) }
            | MemberChange::Replace { remove: Target::Node(id), .. } => Some(*id),
            _ => None,
        }
    }
}

impl std::fmt::Display for MemberChange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let t = |t: &Target| match t {
            Target::Node(id) => id.to_string(),
            Target::Leader => "the leader".to_string(),
            Target::Random => "a random member".to_string(),
            Target::Subject => "the member it fired at".to_string(),
        };
        match self {
            MemberChange::AddLearner { node } => write!(f, "add learner {node}"),
            MemberChange::AddVoter { node } => write!(f, "add voter {node}"),
            MemberChange::AddVoters { nodes } => write!(f, "add voters {nodes:?}"),
            MemberChange::Promote { node } => write!(f, "promote {node}"),
            MemberChange::Remove { node } => write!(f, "remove {}", t(node)),
            MemberChange::Replace { remove, add } => write!(f, "replace {} by {add}", t(remove)),
        }
    }
}

/// A fault at a point of true time (microseconds from the start of the run).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TimedFault {
    pub at_us: u64,
    #[serde(flatten)]
    pub action: FaultAction,
}

/// A whole fault schedule.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct FaultSchedule {
    pub faults: Vec<TimedFault>,
}

impl FaultSchedule {
    pub fn push(&mut self, at_us: u64, action: FaultAction) {
        self.faults.push(TimedFault { at_us, action });
    }
}
