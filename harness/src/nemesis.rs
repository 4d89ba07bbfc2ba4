//! From a scenario's fault section to the simulator's fault schedule: scheduled faults
//! are translated one for one; random faults are drawn from the run's seed as episodes
//! (a fault, then its undoing) until the safety phase ends; swarm mode takes the
//! simulator's per-seed fault profile.

use detcd_scenarios::{FaultAction as Fault, FaultKind, RandomFaults, Scenario};
use detcd_sim::rng::{stream, Component};
use detcd_sim::{ClientTarget, FaultAction, FaultSchedule, MemberChange, PartitionShape, Target};
use rand::Rng;
use rand_chacha::ChaCha8Rng;

/// Where in the workload stream the random nemesis draws from, so that changing the
/// workload never moves the faults and the other way round.
const NEMESIS_WORD_POS: u128 = 1 << 40;

fn rate_permille(rate: f64) -> u32 {
    (rate * 1000.0).round().clamp(1.0, 10_000.0) as u32
}

/// The simulator's form of one scenario fault.
pub fn translate(fault: &Fault, nodes: u64) -> Vec<FaultAction> {
    let partition = |shape| vec![FaultAction::Partition { shape }];
    let member = |change| vec![FaultAction::Membership { change }];
    match fault {
        Fault::IsolateNode { node } => {
            partition(PartitionShape::Isolate { node: Target::Node(*node) })
        }
        Fault::IsolateLeader => partition(PartitionShape::IsolateLeader),
        Fault::SplitMajority => partition(PartitionShape::MajorityMinority),
        Fault::Bridge => partition(PartitionShape::Bridge),
        Fault::Ring => partition(PartitionShape::Ring),
        Fault::Partition { groups } => partition(PartitionShape::Groups { groups: groups.clone() }),
        Fault::OneWay { from, to } => {
            partition(PartitionShape::OneWay { from: vec![*from], to: vec![*to] })
        }
        Fault::OneWayLeaderDeaf => partition(PartitionShape::LeaderDeaf),
        Fault::Heal => vec![FaultAction::Heal],
        Fault::Crash { node } => vec![FaultAction::Crash { node: Target::Node(*node) }],
        Fault::CrashLeader => vec![FaultAction::Crash { node: Target::Leader }],
        Fault::PowerLoss => {
            (1..=nodes).map(|n| FaultAction::Crash { node: Target::Node(n) }).collect()
        }
        Fault::Restart { node } => vec![FaultAction::Restart { node: Target::Node(*node) }],
        Fault::RestartAll => vec![FaultAction::RestartAll],
        Fault::ClockSkew { node, rate } => vec![FaultAction::ClockSkew {
            node: Target::Node(*node),
            rate_permille: rate_permille(*rate),
        }],
        Fault::ClockSkewLeader { rate } => {
            vec![FaultAction::ClockSkew {
                node: Target::Leader,
                rate_permille: rate_permille(*rate),
            }]
        }
        Fault::ClockJump { node, ticks } => {
            vec![FaultAction::ClockJump { node: Target::Node(*node), ticks: *ticks }]
        }
        Fault::ClockReset => vec![FaultAction::ClockReset],
        Fault::Network { drop, duplicate, reorder } => vec![FaultAction::Network {
            drop_rate: *drop,
            duplicate_rate: *duplicate,
            reorder_rate: *reorder,
            latency: None,
        }],
        Fault::TransferLeader { to } => {
            let target = if *to == 0 || *to > nodes { Target::Random } else { Target::Node(*to) };
            vec![FaultAction::TransferLeader { to: target }]
        }
        Fault::PauseClient { client, ms } => vec![FaultAction::PauseClient {
            client: ClientTarget::Client(*client),
            duration_us: ms * 1_000,
        }],
        Fault::PauseLockHolder { ms } => vec![FaultAction::PauseClient {
            client: ClientTarget::LockHolder,
            duration_us: ms * 1_000,
        }],
        Fault::AddLearner { node } => member(MemberChange::AddLearner { node: *node }),
        Fault::AddVoter { node } => member(MemberChange::AddVoter { node: *node }),
        Fault::AddVoters { nodes } => member(MemberChange::AddVoters { nodes: nodes.clone() }),
        Fault::Promote { node } => member(MemberChange::Promote { node: *node }),
        Fault::RemoveMember { node } => member(MemberChange::Remove { node: Target::Node(*node) }),
        Fault::RemoveLeader => member(MemberChange::Remove { node: Target::Leader }),
        Fault::ReplaceMember { remove, add } => {
            let remove = if *remove == 0 { Target::Leader } else { Target::Node(*remove) };
            member(MemberChange::Replace { remove, add: *add })
        }
    }
}

/// The whole fault schedule of one run of `scenario` at `seed`, over the safety phase.
pub fn schedule(scenario: &Scenario, seed: u64) -> FaultSchedule {
    let nodes = scenario.cluster.size;
    let mut out = FaultSchedule::default();
    for f in &scenario.faults.schedule {
        for action in translate(&f.action, nodes) {
            out.push(f.at_ms * 1_000, action);
        }
    }
    let safety_us = scenario.phases.safety_ms * 1_000;
    if let Some(random) = &scenario.faults.random {
        let mut rng = stream(seed, Component::Workload);
        rng.set_word_pos(NEMESIS_WORD_POS);
        random_episodes(random, scenario, safety_us, &mut rng, &mut out);
    }
    if scenario.faults.swarm {
        let profile = detcd_sim::swarm::profile(seed);
        let swarm = detcd_sim::swarm::schedule(seed, nodes, safety_us, &profile);
        out.faults.extend(swarm.faults);
    }
    out.faults.sort_by_key(|f| f.at_us);
    out
}

fn draw(rng: &mut ChaCha8Rng, range_ms: [u64; 2]) -> u64 {
    rng.gen_range(range_ms[0]..=range_ms[1]) * 1_000
}

fn random_episodes(
    spec: &RandomFaults,
    scenario: &Scenario,
    safety_us: u64,
    rng: &mut ChaCha8Rng,
    out: &mut FaultSchedule,
) {
    let nodes = scenario.cluster.size;
    let base = &scenario.network;
    let mut at = draw(rng, spec.gap_ms);
    // Each episode moves time forward by at least one millisecond, so this ends.
    while at < safety_us {
        let kind = spec.kinds[rng.gen_range(0..spec.kinds.len())];
        let duration = draw(rng, spec.duration_ms).max(1_000);
        let node = rng.gen_range(1..=nodes);
        let (start, end): (Vec<FaultAction>, Vec<FaultAction>) = match kind {
            FaultKind::Partition => {
                let shape = match rng.gen_range(0..4) {
                    0 => PartitionShape::Isolate { node: Target::Node(node) },
                    1 => PartitionShape::MajorityMinority,
                    2 => PartitionShape::Bridge,
                    _ => PartitionShape::Ring,
                };
                (vec![FaultAction::Partition { shape }], vec![FaultAction::Heal])
            }
            FaultKind::OneWay => {
                let mut to = rng.gen_range(1..=nodes);
                if to == node {
                    to = to % nodes + 1;
                }
                let shape = if rng.gen_bool(0.3) {
                    PartitionShape::LeaderDeaf
                } else {
                    PartitionShape::OneWay { from: vec![node], to: vec![to] }
                };
                (vec![FaultAction::Partition { shape }], vec![FaultAction::Heal])
            }
            FaultKind::IsolateLeader => (
                vec![FaultAction::Partition { shape: PartitionShape::IsolateLeader }],
                vec![FaultAction::Heal],
            ),
            FaultKind::Crash => {
                let target = if rng.gen_bool(0.3) { Target::Leader } else { Target::Node(node) };
                (vec![FaultAction::Crash { node: target }], vec![FaultAction::RestartAll])
            }
            FaultKind::ClockSkew => {
                let rate = rng.gen_range(500..=1_500);
                (
                    vec![FaultAction::ClockSkew { node: Target::Node(node), rate_permille: rate }],
                    vec![FaultAction::ClockReset],
                )
            }
            FaultKind::ClockJump => {
                let ticks = rng.gen_range(1..=30);
                (vec![FaultAction::ClockJump { node: Target::Node(node), ticks }], vec![])
            }
            FaultKind::Lossy => (
                vec![FaultAction::Network {
                    drop_rate: f64::from(rng.gen_range(20..=300u32)) / 1000.0,
                    duplicate_rate: f64::from(rng.gen_range(0..=200u32)) / 1000.0,
                    reorder_rate: f64::from(rng.gen_range(0..=300u32)) / 1000.0,
                    latency: None,
                }],
                vec![FaultAction::Network {
                    drop_rate: base.drop,
                    duplicate_rate: base.duplicate,
                    reorder_rate: base.reorder,
                    latency: None,
                }],
            ),
            FaultKind::TransferLeader => {
                (vec![FaultAction::TransferLeader { to: Target::Random }], vec![])
            }
            FaultKind::PowerLoss => (
                (1..=nodes).map(|n| FaultAction::Crash { node: Target::Node(n) }).collect(),
                vec![FaultAction::RestartAll],
            ),
            // A pause ends by itself: it has no undoing action.
            FaultKind::ClientPause => {
                let clients = match (&scenario.lock, &scenario.auth) {
                    (Some(l), _) => l.clients,
                    // The administrator is client 1, the user clients follow.
                    (None, Some(a)) => a.clients() + 1,
                    (None, None) => scenario.workload.clients,
                };
                let client = ClientTarget::Client(rng.gen_range(1..=u64::from(clients.max(1))));
                (vec![FaultAction::PauseClient { client, duration_us: duration }], vec![])
            }
            FaultKind::LockHolderPause => (
                vec![FaultAction::PauseClient {
                    client: ClientTarget::LockHolder,
                    duration_us: duration,
                }],
                vec![],
            ),
        };
        for action in start {
            out.push(at, action);
        }
        let end_at = (at + duration).min(safety_us);
        for action in end {
            out.push(end_at, action);
        }
        at = end_at + draw(rng, spec.gap_ms).max(1_000);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scenario(name: &str) -> Scenario {
        detcd_scenarios::builtin(name).expect("built-in")
    }

    #[test]
    fn scheduled_faults_keep_their_times() {
        let s = schedule(&scenario("leader-isolation"), 1);
        let times: Vec<u64> = s.faults.iter().map(|f| f.at_us).collect();
        assert_eq!(times, vec![800_000, 2_200_000, 2_800_000, 4_200_000]);
    }

    #[test]
    fn random_faults_depend_on_the_seed_only() {
        let sc = scenario("random-partitions");
        assert_eq!(schedule(&sc, 5), schedule(&sc, 5));
        assert_ne!(schedule(&sc, 5), schedule(&sc, 6));
        let s = schedule(&sc, 5);
        assert!(s.faults.len() >= 4, "{s:?}");
        assert!(s.faults.iter().all(|f| f.at_us <= sc.phases.safety_ms * 1_000));
    }
}
