//! Swarm testing: per seed, draw which fault kinds are on and how hard they hit, then
//! a timed fault schedule for the safety phase. Different seeds explore different mixes
//! (a run with only clock jumps finds other bugs than one drowning in partitions).
//! Everything is drawn from the `Swarm` stream, so the rest of the run is unaffected.

use crate::nemesis::{FaultAction, FaultSchedule, Moment, PartitionShape, Target, TimedFault};
use crate::options::{LatencyDist, WorldOptions};
use crate::rng::{chance, stream, Component};
use crate::types_ext::NodeId;
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

/// The fault profile drawn for one seed.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SwarmProfile {
    pub partitions: bool,
    pub one_way_partitions: bool,
    pub crashes: bool,
    pub clock_skew: bool,
    pub clock_jumps: bool,
    pub drops: bool,
    pub duplicates: bool,
    pub reorders: bool,
    pub transfer_leader: bool,
    /// Faults start this far apart (uniform between min and max).
    pub fault_gap_min_us: u64,
    pub fault_gap_max_us: u64,
    /// Longest a partition or a crash lasts before its heal or restart.
    pub episode_max_us: u64,
    pub drop_rate: f64,
    pub duplicate_rate: f64,
    pub reorder_rate: f64,
    /// Clock rates are drawn within 1000 ± this (per mille).
    pub skew_permille_max: u32,
    pub jump_ticks_max: u32,
    pub latency: LatencyDist,
    pub fsync: LatencyDist,
    pub torn_writes: bool,
    /// Episodes where message latency is multiplied by `spike_factor`.
    pub delay_spikes: bool,
    pub spike_factor: u64,
    /// Episodes where a member's messages are held `slow_link_us` (longer than an
    /// election timeout) and then delivered: stale messages of an old term arrive late.
    #[serde(default)]
    pub slow_links: bool,
    #[serde(default)]
    pub slow_link_us: u64,
    /// Faults armed for the next new leader: cut off, crashed or given a slow disk
    /// right after its election (short terms, more elections per run).
    #[serde(default)]
    pub short_terms: bool,
    /// Crashes armed for the moment a member releases messages that waited for a sync,
    /// sometimes with other members crashing together.
    #[serde(default)]
    pub crash_on_release: bool,
    /// Raft's Figure 8 (§5.4.2): a leader appends to a minority only, the next leader is
    /// cut off at once, the one after gets a slow disk and a bare majority and is
    /// crashed, then everything heals.
    #[serde(default)]
    pub figure8: bool,
    /// A slow disk's fsync latency (fault episodes above).
    #[serde(default)]
    pub slow_fsync: LatencyDist,
    /// Faults armed for the moment a member overwrites entries it had written (an
    /// append replaced a conflicting suffix): its disk turns slow, so the overwrite stays
    /// in flight, and it crashes before the sync, losing it. The window makes the
    /// overwrite: it cuts the leader off with a minority and heals once the majority
    /// has a new leader.
    #[serde(default)]
    pub crash_on_truncate: bool,
}

/// The profile in words, for the banner: which faults are on, then their settings.
impl std::fmt::Display for SwarmProfile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        use crate::options::secs;
        let kinds = [
            (self.partitions, "partitions"),
            (self.one_way_partitions, "one-way partitions"),
            (self.crashes, "crashes"),
            (self.clock_skew, "clock skew"),
            (self.clock_jumps, "clock jumps"),
            (self.drops, "drops"),
            (self.duplicates, "duplicates"),
            (self.reorders, "reorders"),
            (self.transfer_leader, "leader transfers"),
            (self.delay_spikes, "delay spikes"),
            (self.slow_links, "slow links"),
            (self.short_terms, "short terms"),
            (self.crash_on_release, "crashes on release"),
            (self.figure8, "figure 8"),
            (self.crash_on_truncate, "crashes on truncation"),
        ];
        let on: Vec<&str> = kinds.iter().filter(|(on, _)| *on).map(|(_, name)| *name).collect();
        let on = if on.is_empty() { "none".to_string() } else { on.join(", ") };
        write!(
            f,
            "faults: {on}; a fault every {}-{}, episodes up to {}; drop rate {}, duplicate rate {}, reorder rate {}; clock skew up to {} per mille, jumps up to {} ticks; latency {}, fsync {}, torn writes {}, delay spikes x{}, slow links hold {}, slow disk fsync {}",
            secs(self.fault_gap_min_us),
            secs(self.fault_gap_max_us),
            secs(self.episode_max_us),
            self.drop_rate,
            self.duplicate_rate,
            self.reorder_rate,
            self.skew_permille_max,
            self.jump_ticks_max,
            self.latency,
            self.fsync,
            self.torn_writes,
            self.spike_factor,
            secs(self.slow_link_us),
            self.slow_fsync
        )
    }
}

#[derive(Clone, Copy)]
enum Kind {
    Partition,
    OneWay,
    Crash,
    Skew,
    Jump,
    Storm,
    Transfer,
    Spike,
}

fn rate(rng: &mut ChaCha8Rng, on: bool, max_permille: u32) -> f64 {
    let r = rng.gen_range(1..=max_permille);
    if on {
        f64::from(r) / 1000.0
    } else {
        0.0
    }
}

/// Draws the profile for `seed`.
pub fn profile(seed: u64) -> SwarmProfile {
    let mut rng = stream(seed, Component::Swarm);
    let rng = &mut rng;
    let mut on = || chance(rng, 0.5);
    let (partitions, one_way_partitions, crashes) = (on(), on(), on());
    let (clock_skew, clock_jumps, drops, duplicates, reorders, transfer_leader) =
        (on(), on(), on(), on(), on(), on());
    let fault_gap_min_us = rng.gen_range(10_000..=100_000);
    let fault_gap_max_us = fault_gap_min_us + rng.gen_range(0..=400_000);
    let episode_max_us = rng.gen_range(50_000..=1_000_000);
    let drop_rate = rate(rng, drops, 200);
    let duplicate_rate = rate(rng, duplicates, 150);
    let reorder_rate = rate(rng, reorders, 200);
    let skew_permille_max = rng.gen_range(50..=400);
    let jump_ticks_max = rng.gen_range(1..=40);
    let lat_min = rng.gen_range(50..=1_000);
    let lat_max = lat_min + rng.gen_range(0..=8_000);
    let latency = LatencyDist {
        min_us: lat_min,
        max_us: lat_max,
        tail_rate: f64::from(rng.gen_range(0..=50u32)) / 1000.0,
        tail_max_us: lat_max + rng.gen_range(0..=50_000),
    };
    let fs_min = rng.gen_range(20..=500);
    let fsync = LatencyDist::uniform(fs_min, fs_min + rng.gen_range(0..=5_000));
    let torn_writes = chance(rng, 0.5);
    // Drawn last so that adding them left every earlier draw where it was.
    let delay_spikes = chance(rng, 0.5);
    let spike_factor = rng.gen_range(2..=20);
    // The schedules that reach into short windows, drawn after everything above.
    let (slow_links, short_terms) = (chance(rng, 0.4), chance(rng, 0.4));
    let (crash_on_release, figure8) = (chance(rng, 0.4), chance(rng, 0.4));
    // Elections time out after 100-200 ms (10-20 ticks of 10 ms): hold for longer.
    let slow_link_us = rng.gen_range(200_000..=500_000);
    let slow_min = rng.gen_range(100_000..=200_000);
    let slow_fsync = LatencyDist {
        min_us: slow_min,
        max_us: slow_min + rng.gen_range(0..=200_000),
        tail_rate: 0.1,
        tail_max_us: slow_min + 600_000,
    };
    // Disk latency as a distribution with a tail, so writes are in flight when
    // crashes land.
    let fsync = if crash_on_release {
        LatencyDist { tail_rate: 0.05, tail_max_us: fsync.max_us * 20, ..fsync }
    } else {
        fsync
    };
    // Drawn after everything above, so a seed keeps every earlier draw.
    let crash_on_truncate = chance(rng, 0.4);
    SwarmProfile {
        partitions,
        one_way_partitions,
        crashes,
        clock_skew,
        clock_jumps,
        drops,
        duplicates,
        reorders,
        transfer_leader,
        fault_gap_min_us,
        fault_gap_max_us,
        episode_max_us,
        drop_rate,
        duplicate_rate,
        reorder_rate,
        skew_permille_max,
        jump_ticks_max,
        latency,
        fsync,
        torn_writes,
        delay_spikes,
        spike_factor,
        slow_links,
        slow_link_us,
        short_terms,
        crash_on_release,
        figure8,
        slow_fsync,
        crash_on_truncate,
    }
}

/// A swarm run for `seed` on `nodes` nodes: options, the fault schedule over the first
/// `safety_us` of true time, and the profile they came from.
pub fn generate(
    seed: u64,
    nodes: u64,
    safety_us: u64,
) -> (WorldOptions, FaultSchedule, SwarmProfile) {
    let p = profile(seed);
    let mut options = WorldOptions::new(seed, nodes);
    options.network.latency = p.latency;
    options.disk.fsync = p.fsync;
    options.disk.torn_writes = p.torn_writes;
    let schedule = schedule(seed, nodes, safety_us, &p);
    (options, schedule, p)
}

/// The fault schedule for a profile: episodes (a fault and, where it has one, its end)
/// at random gaps until `safety_us`.
pub fn schedule(seed: u64, nodes: u64, safety_us: u64, p: &SwarmProfile) -> FaultSchedule {
    let mut rng = stream(seed, Component::Swarm);
    // Skip past the profile's draws: the schedule has its own region of the stream.
    rng.set_word_pos(1 << 32);
    let rng = &mut rng;
    let mut s = FaultSchedule::default();
    let storm = p.drops || p.duplicates || p.reorders;
    if storm {
        s.push(0, network(p, true));
    }
    if p.clock_skew {
        // Real clocks all drift a little from the start.
        for n in 1..=nodes {
            let d = rng.gen_range(0..=p.skew_permille_max / 4);
            let rate_permille = if chance(rng, 0.5) { 1000 + d } else { 1000 - d };
            s.push(0, FaultAction::ClockSkew { node: Target::Node(n), rate_permille });
        }
    }
    let kinds: Vec<Kind> = [
        (p.partitions, Kind::Partition),
        (p.one_way_partitions, Kind::OneWay),
        (p.crashes, Kind::Crash),
        (p.clock_skew, Kind::Skew),
        (p.clock_jumps, Kind::Jump),
        (storm, Kind::Storm),
        (p.transfer_leader, Kind::Transfer),
        (p.delay_spikes, Kind::Spike),
    ]
    .into_iter()
    .filter_map(|(on, k)| on.then_some(k))
    .collect();
    if kinds.is_empty() {
        return s;
    }
    let node = |rng: &mut ChaCha8Rng| -> NodeId { rng.gen_range(1..=nodes) };
    let mut t = rng.gen_range(p.fault_gap_min_us..=p.fault_gap_max_us);
    // Bounded: each turn moves `t` forward by at least `fault_gap_min_us` (> 0).
    while t < safety_us {
        let episode_us = rng.gen_range(1..=p.episode_max_us);
        match kinds[rng.gen_range(0..kinds.len())] {
            Kind::Partition => {
                let shape = match rng.gen_range(0..5) {
                    0 => PartitionShape::Isolate { node: Target::Node(node(rng)) },
                    1 => PartitionShape::IsolateLeader,
                    2 => PartitionShape::MajorityMinority,
                    3 => PartitionShape::Bridge,
                    _ => PartitionShape::Ring,
                };
                s.push(t, FaultAction::Partition { shape });
                s.push(t + episode_us, FaultAction::Heal);
            }
            Kind::OneWay => {
                let (a, b) = (node(rng), node(rng));
                let to: Vec<NodeId> = (1..=nodes).filter(|&n| n != a).collect();
                let shape = if chance(rng, 0.5) {
                    PartitionShape::OneWay { from: vec![a], to }
                } else {
                    PartitionShape::OneWay { from: to, to: vec![b] }
                };
                s.push(t, FaultAction::Partition { shape });
                s.push(t + episode_us, FaultAction::Heal);
            }
            Kind::Crash => {
                if chance(rng, 0.3) {
                    s.push(t, FaultAction::Crash { node: Target::Leader });
                    s.push(t + episode_us, FaultAction::RestartAll);
                } else {
                    let n = node(rng);
                    s.push(t, FaultAction::Crash { node: Target::Node(n) });
                    s.push(t + episode_us, FaultAction::Restart { node: Target::Node(n) });
                }
            }
            Kind::Skew => {
                let d = rng.gen_range(0..=p.skew_permille_max);
                let rate_permille = if chance(rng, 0.5) { 1000 + d } else { 1000 - d.min(900) };
                s.push(t, FaultAction::ClockSkew { node: Target::Node(node(rng)), rate_permille });
            }
            Kind::Jump => {
                let ticks = rng.gen_range(1..=p.jump_ticks_max);
                s.push(t, FaultAction::ClockJump { node: Target::Node(node(rng)), ticks });
            }
            Kind::Storm => {
                s.push(t, network(p, false));
                s.push(t + episode_us, network(p, true));
            }
            Kind::Spike => {
                let l = p.latency;
                let k = p.spike_factor;
                let spike = LatencyDist {
                    min_us: l.min_us * k,
                    max_us: l.max_us * k,
                    tail_rate: l.tail_rate,
                    tail_max_us: l.tail_max_us * k,
                };
                s.push(t, with_latency(network(p, true), spike));
                s.push(t + episode_us, with_latency(network(p, true), l));
            }
            Kind::Transfer => {
                s.push(t, FaultAction::TransferLeader { to: Target::Node(node(rng)) });
            }
        }
        t += rng.gen_range(p.fault_gap_min_us..=p.fault_gap_max_us);
    }
    windows(seed, nodes, safety_us, p, &mut s);
    s.faults.sort_by_key(|f| f.at_us);
    s
}

/// The longest a window of `windows` lasts from its start (Figure 8's).
pub const WINDOW_MAX_US: u64 = 2_000_000;

/// How long after the heal the crash on truncation stays armed: the new leader's
/// appends reach the members that were cut off within a few heartbeats.
const TRUNCATE_AFTER_HEAL_US: u64 = 400_000;

#[derive(Clone, Copy)]
enum Window {
    SlowLinks,
    ShortTerm,
    CrashOnRelease,
    Figure8,
    CrashOnTruncate,
}

fn after(at_us: u64, action: FaultAction) -> TimedFault {
    TimedFault { at_us, action }
}

/// Episodes of the schedules that aim at short windows (slow links, short terms,
/// crashes on release, Figure 8, crashes on truncation), from their own region of the
/// stream: a profile without them keeps the schedule it had.
fn windows(seed: u64, nodes: u64, safety_us: u64, p: &SwarmProfile, s: &mut FaultSchedule) {
    let kinds: Vec<Window> = [
        (p.slow_links, Window::SlowLinks),
        (p.short_terms, Window::ShortTerm),
        (p.crash_on_release, Window::CrashOnRelease),
        (p.figure8, Window::Figure8),
        (p.crash_on_truncate, Window::CrashOnTruncate),
    ]
    .into_iter()
    .filter_map(|(on, k)| on.then_some(k))
    .collect();
    if kinds.is_empty() {
        return;
    }
    let mut rng = stream(seed, Component::Swarm);
    rng.set_word_pos(1 << 33);
    let rng = &mut rng;
    let slow_disk = |on: bool| FaultAction::DiskLatency {
        node: Target::Subject,
        fsync: on.then_some(p.slow_fsync),
    };
    // The ordinary episodes come first in `s`; the windows' own faults after them.
    let planned = s.faults.len();
    let mut quiet: Vec<(u64, u64)> = Vec::new();
    let mut t = rng.gen_range(100_000..=600_000);
    // Bounded: each turn moves `t` forward by at least 300 ms.
    while t < safety_us {
        let episode_us = rng.gen_range(100_000..=p.episode_max_us.max(300_000));
        match kinds[rng.gen_range(0..kinds.len())] {
            Window::SlowLinks => {
                let end = t + p.slow_link_us + 400_000;
                if chance(rng, 0.3) {
                    let from = Target::Node(rng.gen_range(1..=nodes));
                    s.push(t, FaultAction::SlowLinks { from, extra_us: p.slow_link_us });
                } else {
                    // A stale leader: what it sends now arrives after the next leader is
                    // elected, acknowledged and cut off (before its followers learn that
                    // its entries committed), in the term of that next leader.
                    let d = rng.gen_range(1_000..=12_000);
                    let hold_us = rng.gen_range(100_000..=400_000);
                    let then = vec![
                        after(
                            d,
                            FaultAction::Partition {
                                shape: PartitionShape::Isolate { node: Target::Subject },
                            },
                        ),
                        after(d + hold_us, FaultAction::Heal),
                    ];
                    s.push(
                        t,
                        FaultAction::SlowLinks { from: Target::Leader, extra_us: p.slow_link_us },
                    );
                    s.push(
                        t,
                        FaultAction::Arm { moment: Moment::NewLeader, for_us: 600_000, then },
                    );
                    quiet.push((t, end));
                }
                s.push(end, FaultAction::SlowLinks { from: Target::Leader, extra_us: 0 });
            }
            Window::ShortTerm => {
                let hold_us = rng.gen_range(20_000..=300_000);
                let d = rng.gen_range(0..=30_000);
                let then = match rng.gen_range(0..3) {
                    0 => vec![
                        after(
                            d,
                            FaultAction::Partition {
                                shape: PartitionShape::Isolate { node: Target::Subject },
                            },
                        ),
                        after(d + hold_us, FaultAction::Heal),
                    ],
                    1 => vec![
                        after(d, FaultAction::Crash { node: Target::Subject }),
                        after(d + hold_us, FaultAction::Restart { node: Target::Subject }),
                    ],
                    _ => vec![after(0, slow_disk(true)), after(hold_us * 3, slow_disk(false))],
                };
                s.push(t, FaultAction::Arm { moment: Moment::NewLeader, for_us: episode_us, then });
            }
            Window::CrashOnRelease => {
                let down_us = rng.gen_range(10_000..=300_000);
                let mut then = vec![after(0, FaultAction::Crash { node: Target::Subject })];
                // Sometimes several members go down together (a power cut of a rack).
                for _ in 0..rng.gen_range(0..=2) {
                    then.push(after(0, FaultAction::Crash { node: Target::Random }));
                }
                then.push(after(down_us, FaultAction::RestartAll));
                s.push(t, FaultAction::Arm { moment: Moment::Released, for_us: episode_us, then });
            }
            Window::CrashOnTruncate => {
                // Slow the disk at once (the fsyncs in flight wait too), crash inside the
                // sync, restart with what the disk held.
                let d = rng.gen_range(1_000..=p.slow_fsync.min_us / 2);
                let down_us = rng.gen_range(10_000..=300_000);
                let then = vec![
                    after(0, slow_disk(true)),
                    after(d, FaultAction::Crash { node: Target::Subject }),
                    after(d + down_us, FaultAction::Restart { node: Target::Subject }),
                    after(d + down_us, slow_disk(false)),
                ];
                // What truncates a log: the leader is cut off with a minority, to which
                // it still appends client writes that cannot commit, until CheckQuorum
                // makes it step down; the majority elects a leader (elections take
                // 100-200 ms) that writes at those indexes; at the heal its appends
                // replace the cut-off entries on the old leader and its minority.
                let cut_us = rng.gen_range(300_000..=700_000);
                let armed_us = cut_us + TRUNCATE_AFTER_HEAL_US;
                s.push(t, FaultAction::Partition { shape: PartitionShape::LeaderMinority });
                s.push(t, FaultAction::Arm { moment: Moment::Truncated, for_us: armed_us, then });
                s.push(t + cut_us, FaultAction::Heal);
                quiet.push((t, t + armed_us));
            }
            Window::Figure8 => {
                let d = rng.gen_range(5_000..=p.slow_fsync.min_us / 2);
                let r = rng.gen_range(0..=100_000);
                // The third leader: a slow disk (its own entries stay volatile), a bare
                // majority to count replicas on, then a crash that loses its entries
                // while the cut-off second leader comes back.
                let third = vec![
                    after(0, slow_disk(true)),
                    after(0, FaultAction::Partition { shape: PartitionShape::LeaderQuorum }),
                    after(d, FaultAction::Crash { node: Target::Subject }),
                    after(d, FaultAction::Heal),
                    after(d + r, FaultAction::Restart { node: Target::Subject }),
                    after(d + r, slow_disk(false)),
                ];
                // The second leader is cut off as soon as it is elected: its entries stay
                // on its own log.
                let second = vec![
                    after(
                        0,
                        FaultAction::Partition {
                            shape: PartitionShape::Isolate { node: Target::Subject },
                        },
                    ),
                    after(
                        0,
                        FaultAction::Arm {
                            moment: Moment::NewLeader,
                            for_us: 1_500_000,
                            then: third,
                        },
                    ),
                ];
                s.push(t, FaultAction::Partition { shape: PartitionShape::LeaderMinority });
                s.push(
                    t,
                    FaultAction::Arm { moment: Moment::NewLeader, for_us: 1_000_000, then: second },
                );
                s.push(t + WINDOW_MAX_US, FaultAction::Heal);
                s.push(t + WINDOW_MAX_US, FaultAction::RestartAll);
                quiet.push((t, t + WINDOW_MAX_US));
            }
        }
        // Windows never overlap: the next starts after the last one's quiet time.
        let busy_until = quiet.last().map_or(0, |q| q.1);
        t += episode_us.max(300_000) + rng.gen_range(p.fault_gap_min_us..=p.fault_gap_max_us);
        t = t.max(busy_until + 1);
    }
    // The other episodes' partitions, crashes and transfers would undo these shapes
    // halfway: they keep out of the windows.
    let mut k = 0;
    s.faults.retain(|f| {
        k += 1;
        k > planned
            || !disturbs(&f.action)
            || !quiet.iter().any(|&(a, b)| (a..=b).contains(&f.at_us))
    });
}

/// Whether a fault of the ordinary episodes would break a window's shape.
fn disturbs(action: &FaultAction) -> bool {
    matches!(
        action,
        FaultAction::Partition { .. }
            | FaultAction::Heal
            | FaultAction::Crash { .. }
            | FaultAction::Restart { .. }
            | FaultAction::RestartAll
            | FaultAction::TransferLeader { .. }
    )
}

/// The profile's network rates (`on`) or a calm network.
fn network(p: &SwarmProfile, on: bool) -> FaultAction {
    let k = if on { 1.0 } else { 0.0 };
    FaultAction::Network {
        drop_rate: p.drop_rate * k,
        duplicate_rate: p.duplicate_rate * k,
        reorder_rate: p.reorder_rate * k,
        latency: None,
    }
}

fn with_latency(action: FaultAction, l: LatencyDist) -> FaultAction {
    match action {
        FaultAction::Network { drop_rate, duplicate_rate, reorder_rate, .. } => {
            FaultAction::Network { drop_rate, duplicate_rate, reorder_rate, latency: Some(l) }
        }
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn profiles_vary_with_the_seed_and_repeat_for_the_same_seed() {
        assert_eq!(profile(7), profile(7));
        let distinct: std::collections::BTreeSet<String> =
            (0..50).map(|s| format!("{:?}", profile(s))).collect();
        assert_eq!(distinct.len(), 50);
        let crashes = (0..200).filter(|&s| profile(s).crashes).count();
        assert!((50..150).contains(&crashes), "crashes on in {crashes}/200");
    }

    #[test]
    fn schedules_stay_within_the_safety_phase_and_are_sorted() {
        for seed in 0..100 {
            let (_, s, p) = generate(seed, 5, 2_000_000);
            assert!(s.faults.windows(2).all(|w| w[0].at_us <= w[1].at_us));
            // A window (Figure 8 the longest) started in the safety phase ends within
            // WINDOW_MAX_US; the liveness phase cancels whatever is left.
            let end = 2_000_000 + p.episode_max_us.max(WINDOW_MAX_US + 1);
            assert!(s.faults.iter().all(|f| f.at_us < end), "seed {seed}: {s:?}");
        }
    }
}
