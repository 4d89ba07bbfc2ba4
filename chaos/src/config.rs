//! What one chaos run is asked to do: the target system, the cluster size, how long,
//! which faults, the seed; and the typed errors for arguments that make no sense.

use serde::Serialize;
use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

/// The system under test.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Target {
    /// `detcd serve`, this same binary.
    Detcd,
    /// `etcd` from PATH.
    Etcd,
}

impl Target {
    pub fn name(self) -> &'static str {
        match self {
            Target::Detcd => "detcd",
            Target::Etcd => "etcd",
        }
    }
}

/// A kind of fault the nemesis may inject.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Fault {
    /// kill -9 a member (sometimes the leader), a majority or every member; restart
    /// them on their data dirs later.
    Kill,
    /// SIGSTOP a member for longer than the election timeout and the lease TTL.
    Pause,
    /// Cut peer links: isolate a member (or the leader), split majority/minority, or
    /// cut one direction of some links.
    Partition,
    /// Delay every byte on some peer links.
    Delay,
    /// `--network netns` only: drop a share of the packets on some peer links.
    Loss,
    /// `--network netns` only: reorder the packets on some peer links.
    Reorder,
    /// Run a detcd member's clock fast or slow (`detcd serve --test-clock-percent`).
    Clock,
    /// Make a detcd member's WAL fsyncs slow (`detcd serve --test-fsync-delay-ms`).
    Fsync,
    /// detcd only: restart members with `detcd serve --test-unsynced-writes-lost-on-kill`
    /// (WAL bytes stay in the process until fsynced, in place of etcd's LazyFS) and slow
    /// fsyncs, let them take writes, then kill -9 them: what was not fsynced is lost.
    #[serde(rename = "kill-unsynced")]
    KillUnsynced,
    /// Negative control, never drawn unless named: kill every member and delete every
    /// data dir before the restart, so acknowledged writes are lost and the checks
    /// must say so.
    #[serde(rename = "wipe-all")]
    WipeAll,
    /// Negative control, detcd only, never drawn unless named: every member restarts
    /// with `--test-unsafe-ack-before-fsync` (acknowledging WAL records it has not
    /// written) and is then killed, so acknowledged writes are lost.
    #[serde(rename = "ack-before-fsync")]
    AckBeforeFsync,
}

impl Fault {
    pub const ALL: [Fault; 11] = [
        Fault::Kill,
        Fault::Pause,
        Fault::Partition,
        Fault::Delay,
        Fault::Loss,
        Fault::Reorder,
        Fault::Clock,
        Fault::Fsync,
        Fault::KillUnsynced,
        Fault::WipeAll,
        Fault::AckBeforeFsync,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Fault::Kill => "kill",
            Fault::Pause => "pause",
            Fault::Partition => "partition",
            Fault::Delay => "delay",
            Fault::Loss => "loss",
            Fault::Reorder => "reorder",
            Fault::Clock => "clock",
            Fault::Fsync => "fsync",
            Fault::KillUnsynced => "kill-unsynced",
            Fault::WipeAll => "wipe-all",
            Fault::AckBeforeFsync => "ack-before-fsync",
        }
    }

    /// Needs a detcd test-only flag, so cannot be applied to etcd.
    pub fn detcd_only(self) -> bool {
        matches!(self, Fault::Clock | Fault::Fsync | Fault::KillUnsynced | Fault::AckBeforeFsync)
    }

    /// Needs packets, which only the namespaced network has (the proxies see streams).
    pub fn needs_netns(self) -> bool {
        matches!(self, Fault::Loss | Fault::Reorder)
    }

    fn parse(s: &str) -> Result<Fault, ConfigError> {
        Fault::ALL
            .into_iter()
            .find(|f| f.name() == s)
            .ok_or_else(|| ConfigError::UnknownFault(s.to_string()))
    }
}

/// How the members' peer links are made, and so how link faults are injected.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum NetworkMode {
    /// Members on 127.0.0.1, each peer port behind a TCP proxy of this process.
    Proxy,
    /// Each member in its own network namespace on a bridge; faults by nftables and tc.
    Netns,
}

impl NetworkMode {
    pub fn name(self) -> &'static str {
        match self {
            NetworkMode::Proxy => "proxy",
            NetworkMode::Netns => "netns",
        }
    }
}

/// A parsed, checked run configuration.
#[derive(Clone, Debug)]
pub struct ChaosConfig {
    pub target: Target,
    pub members: usize,
    /// How long the workload runs under faults (healing and checks come after).
    pub duration: Duration,
    pub faults: Vec<Fault>,
    pub seed: u64,
    /// Concurrent clients.
    pub clients: u32,
    /// Where the history, member logs and report go.
    pub out: PathBuf,
    /// The `detcd` binary (for `--target detcd`) or `etcd` (for `--target etcd`).
    pub server: PathBuf,
    pub network: NetworkMode,
}

pub const MEMBERS_MAX: usize = 7;
pub const DURATION_MAX: Duration = Duration::from_secs(3600);
pub const DURATION_MIN: Duration = Duration::from_secs(5);
pub const CLIENTS_MAX: u32 = 64;

#[derive(Debug, PartialEq, Eq)]
pub enum ConfigError {
    UnknownFault(String),
    NoFaults,
    Members(usize),
    Duration(String),
    Clients(u32),
    ServerMissing(String),
    Network(String),
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigError::UnknownFault(s) => write!(
                f,
                "unknown fault {s:?}: expected a comma-separated list of {}",
                Fault::ALL.map(Fault::name).join(", ")
            ),
            ConfigError::NoFaults => write!(f, "--faults is empty: name at least one fault"),
            ConfigError::Members(n) => {
                write!(f, "--members {n}: a cluster needs 1 to {MEMBERS_MAX} members")
            }
            ConfigError::Duration(s) => write!(
                f,
                "--duration {s}: expected a duration like 30s, 2m or 1500ms between {}s and {}s",
                DURATION_MIN.as_secs(),
                DURATION_MAX.as_secs()
            ),
            ConfigError::Clients(n) => {
                write!(f, "--clients {n}: expected 1 to {CLIENTS_MAX} clients")
            }
            ConfigError::ServerMissing(s) => write!(f, "{s}"),
            ConfigError::Network(s) => write!(f, "{s}"),
        }
    }
}

impl std::error::Error for ConfigError {}

/// `--faults kill,pause`: each named once, in a fixed order.
pub fn parse_faults(s: &str) -> Result<Vec<Fault>, ConfigError> {
    let mut faults = Vec::new();
    for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let f = Fault::parse(part)?;
        if !faults.contains(&f) {
            faults.push(f);
        }
    }
    if faults.is_empty() {
        return Err(ConfigError::NoFaults);
    }
    faults.sort();
    Ok(faults)
}

/// `30s`, `2m`, `1500ms`, or plain seconds.
pub fn parse_duration(s: &str) -> Result<Duration, ConfigError> {
    let bad = || ConfigError::Duration(s.to_string());
    let t = s.trim();
    let (num, unit_ms) = if let Some(n) = t.strip_suffix("ms") {
        (n, 1)
    } else if let Some(n) = t.strip_suffix('s') {
        (n, 1_000)
    } else if let Some(n) = t.strip_suffix('m') {
        (n, 60_000)
    } else {
        (t, 1_000)
    };
    let n: u64 = num.parse().map_err(|_| bad())?;
    let d = Duration::from_millis(n.checked_mul(unit_ms).ok_or_else(bad)?);
    if d < DURATION_MIN || d > DURATION_MAX {
        return Err(bad());
    }
    Ok(d)
}

pub fn check_members(n: usize) -> Result<usize, ConfigError> {
    if (1..=MEMBERS_MAX).contains(&n) {
        Ok(n)
    } else {
        Err(ConfigError::Members(n))
    }
}

pub fn check_clients(n: u32) -> Result<u32, ConfigError> {
    if (1..=CLIENTS_MAX).contains(&n) {
        Ok(n)
    } else {
        Err(ConfigError::Clients(n))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn faults_parse_in_a_fixed_order_once_each() {
        assert_eq!(
            parse_faults("partition,kill,kill").unwrap(),
            vec![Fault::Kill, Fault::Partition]
        );
        assert_eq!(parse_faults(""), Err(ConfigError::NoFaults));
        assert_eq!(parse_faults("kill,fire"), Err(ConfigError::UnknownFault("fire".into())));
    }

    #[test]
    fn every_fault_parses_by_its_name() {
        for f in Fault::ALL {
            assert_eq!(parse_faults(f.name()).unwrap(), vec![f]);
        }
    }

    #[test]
    fn only_the_faults_that_need_detcd_flags_are_detcd_only() {
        let only: Vec<&str> =
            Fault::ALL.into_iter().filter(|f| f.detcd_only()).map(Fault::name).collect();
        assert_eq!(only, ["clock", "fsync", "kill-unsynced", "ack-before-fsync"]);
    }

    #[test]
    fn durations_have_units_and_bounds() {
        assert_eq!(parse_duration("30s").unwrap(), Duration::from_secs(30));
        assert_eq!(parse_duration("2m").unwrap(), Duration::from_secs(120));
        assert_eq!(parse_duration("7500ms").unwrap(), Duration::from_millis(7500));
        assert_eq!(parse_duration("10").unwrap(), Duration::from_secs(10));
        assert!(parse_duration("1s").is_err());
        assert!(parse_duration("5h").is_err());
        assert!(parse_duration("x").is_err());
    }
}
