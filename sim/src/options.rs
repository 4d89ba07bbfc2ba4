//! Everything that shapes a run besides the node type: the seed, cluster size and the
//! network, disk and clock models. A run is a pure function of (build, options), and
//! the banner prints all of it.

use crate::rng::chance;
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use std::fmt;

/// A delay in microseconds: uniform in `[min_us, max_us]`, except that with probability
/// `tail_rate` it is drawn uniform in `[max_us, tail_max_us]` (a slow outlier).
/// Integer arithmetic only, so every platform draws the same delays.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct LatencyDist {
    pub min_us: u64,
    pub max_us: u64,
    #[serde(default)]
    pub tail_rate: f64,
    #[serde(default)]
    pub tail_max_us: u64,
}

impl LatencyDist {
    pub const fn fixed(us: u64) -> Self {
        LatencyDist { min_us: us, max_us: us, tail_rate: 0.0, tail_max_us: us }
    }

    pub const fn uniform(min_us: u64, max_us: u64) -> Self {
        LatencyDist { min_us, max_us, tail_rate: 0.0, tail_max_us: max_us }
    }

    /// Draws one delay. Always consumes two values from `rng`.
    pub fn sample(&self, rng: &mut ChaCha8Rng) -> u64 {
        let tail = chance(rng, self.tail_rate);
        let r: u64 = rng.gen();
        let (lo, hi) = if tail && self.tail_max_us > self.max_us {
            (self.max_us, self.tail_max_us)
        } else {
            (self.min_us, self.max_us.max(self.min_us))
        };
        lo + r % (hi - lo + 1)
    }
}

/// The network model. Rates are probabilities per message.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct NetworkOptions {
    pub latency: LatencyDist,
    pub drop_rate: f64,
    pub duplicate_rate: f64,
    /// A reordered message is held back by up to `reorder_delay_max_us` extra, so later
    /// messages overtake it.
    pub reorder_rate: f64,
    pub reorder_delay_max_us: u64,
    /// UNSAFE, for negative controls: every delivered message arrives this many extra
    /// times (a message storm: each copy's answers are copied again). 0, the default,
    /// is a sane network; runs with it exist to prove the run budgets hold.
    #[serde(default)]
    pub storm_copies: u32,
}

impl Default for NetworkOptions {
    fn default() -> Self {
        NetworkOptions {
            latency: LatencyDist::uniform(200, 2_000),
            drop_rate: 0.0,
            duplicate_rate: 0.0,
            reorder_rate: 0.0,
            reorder_delay_max_us: 20_000,
            storm_copies: 0,
        }
    }
}

/// The disk model.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct DiskOptions {
    /// Time from a persist request to its fsync completing.
    pub fsync: LatencyDist,
    /// On a crash, the pending writes may have partly reached the platter: some whole
    /// requests and then a prefix of the next one's entries (see `disk`).
    pub torn_writes: bool,
    /// UNSAFE, for negative controls: acknowledge a persist at once while its data stays
    /// volatile until the fsync latency has passed. A crash then loses acknowledged data.
    pub lying_fsync: bool,
}

impl Default for DiskOptions {
    fn default() -> Self {
        DiskOptions {
            fsync: LatencyDist::uniform(100, 1_000),
            torn_writes: true,
            lying_fsync: false,
        }
    }
}

/// The clock model.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct ClockOptions {
    /// True time between two ticks of a node whose clock runs at rate 1.0.
    pub tick_us: u64,
}

impl Default for ClockOptions {
    fn default() -> Self {
        ClockOptions { tick_us: 10_000 }
    }
}

/// Every option of a run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct WorldOptions {
    pub seed: u64,
    /// Cluster size; node ids are `1..=nodes`.
    pub nodes: u64,
    pub network: NetworkOptions,
    pub disk: DiskOptions,
    pub clock: ClockOptions,
    /// Run the Raft safety checks after every event (turn off only for node types whose
    /// logs are not one replicated Raft log).
    pub check_raft_safety: bool,
    /// A hard limit on events in one run: a run that reaches it stops with a typed error.
    pub events_max: u64,
    /// A hard limit on events waiting in the queue at once (messages in flight, timers):
    /// the bound on the world's memory. A run that passes it stops with a typed error.
    #[serde(default = "pending_events_max_default")]
    pub pending_events_max: u64,
    /// Keep up to this many events in the world's event log (`World::events`) for a
    /// step log or time line; 0, the default, keeps none. It only observes: the run is
    /// the same with any value.
    #[serde(default)]
    pub event_log_max: usize,
    /// Spare hosts after the initial cluster (ids `nodes + 1 ..= nodes + spares`): they
    /// run nothing until a membership change adds them.
    #[serde(default)]
    pub spares: u64,
}

impl WorldOptions {
    pub fn new(seed: u64, nodes: u64) -> Self {
        WorldOptions {
            seed,
            nodes,
            network: NetworkOptions::default(),
            disk: DiskOptions::default(),
            clock: ClockOptions::default(),
            check_raft_safety: true,
            events_max: 50_000_000,
            pending_events_max: pending_events_max_default(),
            event_log_max: 0,
            spares: 0,
        }
    }
}

/// Far above any sane run (a few thousand events pending), far below memory trouble
/// (an event and its message are well under a kilobyte).
fn pending_events_max_default() -> u64 {
    1_000_000
}

/// The banner every run starts with: the seed and everything derived from it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Banner {
    pub options: WorldOptions,
    /// The fault profile swarm mode drew, if any (see `swarm`).
    pub swarm: Option<crate::swarm::SwarmProfile>,
    /// How many timed faults are scheduled.
    pub faults_scheduled: usize,
}

impl fmt::Display for Banner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let o = &self.options;
        writeln!(f, "detcd-sim seed={} nodes={}", o.seed, o.nodes)?;
        writeln!(f, "  network: {}", o.network)?;
        writeln!(f, "  disk: {}", o.disk)?;
        writeln!(f, "  clock: {}", o.clock)?;
        writeln!(
            f,
            "  check_raft_safety={} events_max={} pending_events_max={}",
            o.check_raft_safety, o.events_max, o.pending_events_max
        )?;
        if let Some(s) = &self.swarm {
            writeln!(f, "  swarm: {s}")?;
        }
        write!(f, "  faults scheduled: {}", self.faults_scheduled)
    }
}

/// Microseconds as seconds, without trailing zeros: every time in the banner in one
/// unit, as in the step log.
pub(crate) fn secs(us: u64) -> String {
    let whole = format!("{}.{:06}", us / 1_000_000, us % 1_000_000);
    format!("{}s", whole.trim_end_matches('0').trim_end_matches('.'))
}

impl fmt::Display for LatencyDist {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", secs(self.min_us), secs(self.max_us))?;
        if self.tail_rate > 0.0 && self.tail_max_us > self.max_us {
            write!(f, " (slow tail up to {} at rate {})", secs(self.tail_max_us), self.tail_rate)?;
        }
        Ok(())
    }
}

impl fmt::Display for NetworkOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "latency {}, drop rate {}, duplicate rate {}, reorder rate {} (held up to {})",
            self.latency,
            self.drop_rate,
            self.duplicate_rate,
            self.reorder_rate,
            secs(self.reorder_delay_max_us)
        )?;
        if self.storm_copies > 0 {
            write!(f, ", MESSAGE STORM ({} extra copies of every message)", self.storm_copies)?;
        }
        Ok(())
    }
}

impl fmt::Display for DiskOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "fsync takes {}, torn writes {}", self.fsync, self.torn_writes)?;
        if self.lying_fsync {
            f.write_str(", LYING FSYNC (acknowledged before durable)")?;
        }
        Ok(())
    }
}

impl fmt::Display for ClockOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "a tick every {}", secs(self.tick_us))
    }
}
