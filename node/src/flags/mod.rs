//! `detcd serve`'s configuration: etcd 3.4's own flag names, defaults and `ETCD_*`
//! environment variables ([`ServeArgs`]), checked into a typed [`ServeConfig`] before
//! anything touches the disk or the network, and the member and cluster ids etcd derives
//! from them.
//!
//! A flag given on the command line wins over its environment variable, which wins over
//! the default, as in etcd. Values clap can check alone (numbers, one-of choices, unknown
//! flags) are refused by clap with exit code 2; everything that needs several flags read
//! together is a [`FlagError`] from [`ServeArgs::validate`].

mod compaction;
mod error;
mod identity;
mod tls;
mod url;

pub(crate) use compaction::parse_go_duration;
pub use compaction::{AutoCompaction, CompactionMode};
pub use error::FlagError;
pub use tls::{Port, TlsFiles};
pub use url::{Host, Scheme, Url, UrlError};

use clap::{Args, FromArgMatches};
use std::ffi::OsString;
use std::path::PathBuf;
use std::time::Duration;

/// etcd's `maxElectionMs`.
const ELECTION_TIMEOUT_MS_MAX: u64 = 50_000;
/// What `--quota-backend-bytes 0` means (etcd's `DefaultQuotaBytes`).
pub const QUOTA_BACKEND_BYTES_DEFAULT: u64 = 2 * 1024 * 1024 * 1024;

/// Go's flag package lets a later `--flag` replace an earlier one, and scripts rely on it
/// (a common prefix of flags, then per-member ones).
#[derive(Args, Debug, Clone, PartialEq, Eq)]
#[command(args_override_self = true)]
pub struct ServeArgs {
    /// Human-readable name for this member.
    #[arg(long, env = "ETCD_NAME", default_value = "default", value_name = "NAME")]
    pub name: String,

    /// Path to the data directory [default: <name>.detcd].
    #[arg(long, env = "ETCD_DATA_DIR", value_name = "DIR")]
    pub data_dir: Option<PathBuf>,

    /// List of URLs to listen on for client traffic.
    #[arg(
        long,
        env = "ETCD_LISTEN_CLIENT_URLS",
        default_value = "http://localhost:2379",
        value_name = "URLS"
    )]
    pub listen_client_urls: String,

    /// List of this member's client URLs to advertise to the public.
    #[arg(
        long,
        env = "ETCD_ADVERTISE_CLIENT_URLS",
        default_value = "http://localhost:2379",
        value_name = "URLS"
    )]
    pub advertise_client_urls: String,

    /// List of URLs to listen on for peer traffic.
    #[arg(
        long,
        env = "ETCD_LISTEN_PEER_URLS",
        default_value = "http://localhost:2380",
        value_name = "URLS"
    )]
    pub listen_peer_urls: String,

    /// List of this member's peer URLs to advertise to the rest of the cluster.
    #[arg(
        long,
        env = "ETCD_INITIAL_ADVERTISE_PEER_URLS",
        default_value = "http://localhost:2380",
        value_name = "URLS"
    )]
    pub initial_advertise_peer_urls: String,

    /// Initial cluster configuration for bootstrapping, name=url,... (a name repeated
    /// gives that member several URLs) [default: <name>=<initial-advertise-peer-urls>].
    #[arg(long, env = "ETCD_INITIAL_CLUSTER", value_name = "NAME=URL,...")]
    pub initial_cluster: Option<String>,

    /// Initial cluster state.
    #[arg(
        long,
        env = "ETCD_INITIAL_CLUSTER_STATE",
        value_enum,
        default_value_t = ClusterState::New,
        value_name = "STATE"
    )]
    pub initial_cluster_state: ClusterState,

    /// Initial cluster token for the cluster during bootstrap; part of every member id.
    #[arg(
        long,
        env = "ETCD_INITIAL_CLUSTER_TOKEN",
        default_value = "etcd-cluster",
        value_name = "TOKEN"
    )]
    pub initial_cluster_token: String,

    /// Time (in milliseconds) of a heartbeat interval; one tick of the node.
    #[arg(long, env = "ETCD_HEARTBEAT_INTERVAL", default_value_t = 100, value_name = "MS")]
    pub heartbeat_interval: u64,

    /// Time (in milliseconds) for an election to timeout.
    #[arg(long, env = "ETCD_ELECTION_TIMEOUT", default_value_t = 1000, value_name = "MS")]
    pub election_timeout: u64,

    /// Number of committed transactions to trigger a snapshot to disk.
    #[arg(long, env = "ETCD_SNAPSHOT_COUNT", default_value_t = 100_000, value_name = "N")]
    pub snapshot_count: u64,

    /// Raise alarms when backend size exceeds the given quota (0 defaults to 2 GiB).
    #[arg(long, env = "ETCD_QUOTA_BACKEND_BYTES", default_value_t = 0, value_name = "BYTES")]
    pub quota_backend_bytes: u64,

    /// Maximum client request size in bytes the server will accept.
    #[arg(long, env = "ETCD_MAX_REQUEST_BYTES", default_value_t = 1_572_864, value_name = "BYTES")]
    pub max_request_bytes: u64,

    /// Maximum number of operations permitted in a transaction.
    #[arg(long, env = "ETCD_MAX_TXN_OPS", default_value_t = 128, value_name = "N")]
    pub max_txn_ops: u64,

    /// Specify a v3 authentication token type and its options ('simple' only).
    #[arg(long, env = "ETCD_AUTH_TOKEN", default_value = "simple", value_name = "TYPE")]
    pub auth_token: String,

    /// Time (in seconds) a simple token may stay unused before it expires.
    #[arg(long, env = "ETCD_AUTH_TOKEN_TTL", default_value_t = 300, value_name = "SECONDS")]
    pub auth_token_ttl: u64,

    /// Threads that run the member's tasks (client connections, peer streams, the
    /// driver). 1 runs them all on one thread; 0 picks from the cores: one thread per
    /// two cores, at most 4 (see `server::worker_threads_default`).
    #[arg(long, env = "ETCD_WORKER_THREADS", default_value_t = 0, value_name = "N",
          value_parser = clap::value_parser!(u16).range(0..=256))]
    pub worker_threads: u16,

    /// Test only (for `detcd chaos`'s clock faults): this member's clock runs at this
    /// percentage of real time, so its ticks (heartbeats, election and lease timers)
    /// come that much faster or slower than --heartbeat-interval says. 100: real time.
    #[arg(long, default_value_t = 100, value_name = "PERCENT",
          value_parser = clap::value_parser!(u32).range(10..=1000))]
    pub test_clock_percent: u32,

    /// Test only (for `detcd chaos`'s disk faults): every write-ahead-log fsync takes
    /// this many milliseconds longer, as on a slow disk. 0: no delay.
    #[arg(long, default_value_t = 0, value_name = "MS",
          value_parser = clap::value_parser!(u64).range(0..=10_000))]
    pub test_fsync_delay_ms: u64,

    /// Test only (for `detcd chaos`'s kill-unsynced fault, in place of etcd's LazyFS):
    /// write-ahead-log bytes stay in this process until their fsync, so kill -9 loses
    /// everything not yet fsynced, as a power cut would.
    #[arg(long)]
    pub test_unsynced_writes_lost_on_kill: bool,

    /// Test only, UNSAFE (a negative control for `detcd chaos`): acknowledge
    /// write-ahead-log records before they are written or fsynced; they go to disk only
    /// once 1 MiB is held back. With --test-unsynced-writes-lost-on-kill, a kill loses
    /// acknowledged writes.
    #[arg(long, requires = "test_unsynced_writes_lost_on_kill")]
    pub test_unsafe_ack_before_fsync: bool,

    /// Interpret --auto-compaction-retention as a time span or a count of revisions.
    #[arg(
        long,
        env = "ETCD_AUTO_COMPACTION_MODE",
        value_enum,
        default_value_t = CompactionMode::Periodic,
        value_name = "MODE"
    )]
    pub auto_compaction_mode: CompactionMode,

    /// Auto compaction retention length; 0 disables. Periodic: hours, or a duration such
    /// as 30m; revision: a number of revisions.
    #[arg(long, env = "ETCD_AUTO_COMPACTION_RETENTION", default_value = "0", value_name = "N")]
    pub auto_compaction_retention: String,

    /// Log level.
    #[arg(
        long,
        env = "ETCD_LOG_LEVEL",
        value_enum,
        default_value_t = LogLevel::Info,
        value_name = "LEVEL"
    )]
    pub log_level: LogLevel,

    /// Accepted for etcd command lines; detcd has one logger, so the choice is ignored.
    #[arg(
        long,
        env = "ETCD_LOGGER",
        value_enum,
        default_value_t = Logger::Capnslog,
        value_name = "LOGGER"
    )]
    pub logger: Logger,

    /// Where logs go: comma-separated default, stderr, stdout or file paths.
    #[arg(long, env = "ETCD_LOG_OUTPUTS", default_value = "default", value_name = "OUTPUTS")]
    pub log_outputs: String,

    /// Accepted for etcd command lines (etcd's own Procfile passes it); detcd has no Go
    /// profiler to enable, so it is ignored.
    #[arg(
        long,
        env = "ETCD_ENABLE_PPROF",
        num_args = 0..=1,
        require_equals = true,
        default_value_t = false,
        default_missing_value = "true",
        value_parser = clap::builder::BoolishValueParser::new(),
        value_name = "BOOL"
    )]
    pub enable_pprof: bool,

    /// Path to the client server TLS cert file.
    #[arg(long, env = "ETCD_CERT_FILE", value_name = "FILE", value_parser = clap::value_parser!(OsString))]
    pub cert_file: Option<OsString>,

    /// Path to the client server TLS key file.
    #[arg(long, env = "ETCD_KEY_FILE", value_name = "FILE", value_parser = clap::value_parser!(OsString))]
    pub key_file: Option<OsString>,

    /// Path to the client server TLS trusted CA cert file.
    #[arg(long, env = "ETCD_TRUSTED_CA_FILE", value_name = "FILE", value_parser = clap::value_parser!(OsString))]
    pub trusted_ca_file: Option<OsString>,

    /// Enable client cert authentication.
    #[arg(
        long,
        env = "ETCD_CLIENT_CERT_AUTH",
        num_args = 0..=1,
        require_equals = true,
        default_value_t = false,
        default_missing_value = "true",
        value_parser = clap::builder::BoolishValueParser::new(),
        value_name = "BOOL"
    )]
    pub client_cert_auth: bool,

    /// Path to the peer server TLS cert file.
    #[arg(long, env = "ETCD_PEER_CERT_FILE", value_name = "FILE", value_parser = clap::value_parser!(OsString))]
    pub peer_cert_file: Option<OsString>,

    /// Path to the peer server TLS key file.
    #[arg(long, env = "ETCD_PEER_KEY_FILE", value_name = "FILE", value_parser = clap::value_parser!(OsString))]
    pub peer_key_file: Option<OsString>,

    /// Path to the peer server TLS trusted CA file.
    #[arg(long, env = "ETCD_PEER_TRUSTED_CA_FILE", value_name = "FILE", value_parser = clap::value_parser!(OsString))]
    pub peer_trusted_ca_file: Option<OsString>,

    /// Enable peer client cert authentication.
    #[arg(
        long,
        env = "ETCD_PEER_CLIENT_CERT_AUTH",
        num_args = 0..=1,
        require_equals = true,
        default_value_t = false,
        default_missing_value = "true",
        value_parser = clap::builder::BoolishValueParser::new(),
        value_name = "BOOL"
    )]
    pub peer_client_cert_auth: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum ClusterState {
    /// Bootstrap a new cluster from --initial-cluster.
    New,
    /// Join a cluster that already runs and has had this member added.
    Existing,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, clap::ValueEnum)]
pub enum LogLevel {
    Debug,
    Info,
    Warn,
    /// etcd also takes `panic` and `fatal`, meaning "only the worst"; detcd's worst level
    /// is error.
    #[value(alias = "panic", alias = "fatal")]
    Error,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Logger {
    Zap,
    Capnslog,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LogOutput {
    /// Also what etcd's `default` means outside systemd (detcd has no journald writer).
    Stderr,
    Stdout,
    File(PathBuf),
}

/// One member of the initial cluster, with the id etcd would give it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Member {
    pub id: u64,
    pub name: String,
    /// Sorted as strings, the order etcd stores and reports them in.
    pub peer_urls: Vec<Url>,
}

/// Checked, typed configuration of one node; built only by [`ServeArgs::validate`], so
/// its fields are public to read and every combination in it has been checked.
// The private field, not `#[non_exhaustive]`, because the node that consumes this lives
// in the same crate, where `#[non_exhaustive]` would not stop it building an unchecked one.
#[allow(clippy::manual_non_exhaustive)]
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServeConfig {
    pub name: String,
    pub data_dir: PathBuf,
    pub listen_client_urls: Vec<Url>,
    pub advertise_client_urls: Vec<Url>,
    pub listen_peer_urls: Vec<Url>,
    pub initial_advertise_peer_urls: Vec<Url>,
    /// Members in the order first named; each member's URLs sorted. Contains `name`.
    pub initial_cluster: Vec<(String, Vec<Url>)>,
    pub initial_cluster_state: ClusterState,
    pub initial_cluster_token: String,
    pub heartbeat_interval: Duration,
    pub election_timeout: Duration,
    pub snapshot_count: u64,
    /// Already resolved: never 0.
    pub quota_backend_bytes: u64,
    pub request_bytes_max: u64,
    pub txn_ops_max: u64,
    /// Idle time after which a simple token expires.
    pub auth_token_ttl: Duration,
    pub auto_compaction: AutoCompaction,
    pub log_level: LogLevel,
    pub log_outputs: Vec<LogOutput>,
    /// See `ServeArgs::worker_threads`; 0 leaves the choice to the member.
    pub worker_threads: u16,
    /// See `ServeArgs::test_clock_percent`; 100 outside clock-fault tests.
    pub test_clock_percent: u32,
    /// See `ServeArgs::test_fsync_delay_ms`; zero outside disk-fault tests.
    pub test_fsync_delay: Duration,
    /// TLS of the client port; checked against `listen_client_urls`.
    pub client_tls: TlsFiles,
    /// TLS of the peer port, also used to dial peers; checked against `listen_peer_urls`.
    pub peer_tls: TlsFiles,
    /// See `ServeArgs::test_unsynced_writes_lost_on_kill`; false outside chaos tests.
    pub test_unsynced_lost_on_kill: bool,
    /// See `ServeArgs::test_unsafe_ack_before_fsync`; false outside negative controls.
    pub test_ack_before_fsync: bool,
    _checked: (),
}

impl ServeArgs {
    /// Parses `serve`'s flags alone (the first item is the program name, as for clap's
    /// `Parser::try_parse_from`), reading `ETCD_*` variables for the flags not given.
    pub fn try_parse_from<I, T>(args: I) -> Result<ServeArgs, clap::Error>
    where
        I: IntoIterator<Item = T>,
        T: Into<std::ffi::OsString> + Clone,
    {
        let command = ServeArgs::augment_args(clap::Command::new("serve"));
        ServeArgs::from_arg_matches(&command.try_get_matches_from(args)?)
    }

    /// Checks every flag and every relation between flags; pure, so a refused
    /// configuration has touched nothing.
    pub fn validate(&self) -> Result<ServeConfig, FlagError> {
        let name = &self.name;
        if name.is_empty() || name.contains(['=', ',']) {
            return Err(FlagError::Name { name: name.clone() });
        }
        let listen_client_urls = parse_listen_urls("listen-client-urls", &self.listen_client_urls)?;
        let advertise_client_urls =
            parse_urls("advertise-client-urls", &self.advertise_client_urls)?;
        let listen_peer_urls = parse_listen_urls("listen-peer-urls", &self.listen_peer_urls)?;
        let initial_advertise_peer_urls =
            parse_urls("initial-advertise-peer-urls", &self.initial_advertise_peer_urls)?;

        // etcd 3.4 derives the default from the *default* advertise URL, so changing
        // --initial-advertise-peer-urls alone makes etcd refuse to start; deriving it from
        // the URLs actually advertised accepts that command line too and changes nothing
        // for any command line etcd accepts.
        let initial_cluster = match self.initial_cluster.as_deref() {
            Some(text) if !text.is_empty() => parse_initial_cluster(text)?,
            _ => vec![(name.clone(), sorted(initial_advertise_peer_urls.clone()))],
        };
        check_initial_cluster(
            name,
            &initial_cluster,
            &initial_advertise_peer_urls,
            self.initial_cluster_state,
        )?;

        if self.heartbeat_interval == 0 {
            return Err(FlagError::HeartbeatZero);
        }
        if self.election_timeout < 5 * self.heartbeat_interval {
            return Err(FlagError::ElectionTooShort {
                election_ms: self.election_timeout,
                heartbeat_ms: self.heartbeat_interval,
            });
        }
        if self.election_timeout > ELECTION_TIMEOUT_MS_MAX {
            return Err(FlagError::ElectionTooLong {
                election_ms: self.election_timeout,
                election_ms_max: ELECTION_TIMEOUT_MS_MAX,
            });
        }

        let auto_compaction =
            AutoCompaction::parse(self.auto_compaction_mode, &self.auto_compaction_retention)
                .map_err(|reason| FlagError::Retention {
                    value: self.auto_compaction_retention.clone(),
                    reason,
                })?;
        let log_outputs = parse_log_outputs(&self.log_outputs)?;
        // etcd takes `simple` (its options, if any, change nothing for simple tokens)
        // or `jwt,...`, which detcd does not provide.
        if self.auth_token.split(',').next() != Some("simple") {
            return Err(FlagError::AuthToken { value: self.auth_token.clone() });
        }
        let client_tls = TlsFiles {
            cert_file: non_empty(&self.cert_file),
            key_file: non_empty(&self.key_file),
            trusted_ca_file: non_empty(&self.trusted_ca_file),
            client_cert_auth: self.client_cert_auth,
        };
        client_tls.check(Port::Client, &listen_client_urls)?;
        let peer_tls = TlsFiles {
            cert_file: non_empty(&self.peer_cert_file),
            key_file: non_empty(&self.peer_key_file),
            trusted_ca_file: non_empty(&self.peer_trusted_ca_file),
            client_cert_auth: self.peer_client_cert_auth,
        };
        peer_tls.check(Port::Peer, &listen_peer_urls)?;
        let https_peer =
            initial_cluster.iter().flat_map(|(_, urls)| urls).find(|u| u.scheme() == Scheme::Https);
        if let (Some(url), None) = (https_peer, &peer_tls.trusted_ca_file) {
            return Err(FlagError::TlsPeerWithoutCa { url: url.to_string() });
        }

        let data_dir = match &self.data_dir {
            Some(dir) if !dir.as_os_str().is_empty() => dir.clone(),
            _ => PathBuf::from(format!("{name}.detcd")),
        };
        let quota_backend_bytes = match self.quota_backend_bytes {
            0 => QUOTA_BACKEND_BYTES_DEFAULT,
            bytes => bytes,
        };
        Ok(ServeConfig {
            name: name.clone(),
            data_dir,
            listen_client_urls,
            advertise_client_urls,
            listen_peer_urls,
            initial_advertise_peer_urls,
            initial_cluster,
            initial_cluster_state: self.initial_cluster_state,
            initial_cluster_token: self.initial_cluster_token.clone(),
            heartbeat_interval: Duration::from_millis(self.heartbeat_interval),
            election_timeout: Duration::from_millis(self.election_timeout),
            snapshot_count: self.snapshot_count,
            quota_backend_bytes,
            request_bytes_max: self.max_request_bytes,
            txn_ops_max: self.max_txn_ops,
            auth_token_ttl: Duration::from_secs(self.auth_token_ttl),
            auto_compaction,
            log_level: self.log_level,
            log_outputs,
            worker_threads: self.worker_threads,
            test_clock_percent: self.test_clock_percent,
            test_fsync_delay: Duration::from_millis(self.test_fsync_delay_ms),
            client_tls,
            peer_tls,
            test_unsynced_lost_on_kill: self.test_unsynced_writes_lost_on_kill,
            test_ack_before_fsync: self.test_unsafe_ack_before_fsync,
            _checked: (),
        })
    }
}

impl ServeConfig {
    /// This member's id as etcd computes it when bootstrapping a new cluster. With
    /// `--initial-cluster-state existing` the running cluster assigned the id at
    /// `member add` (etcd mixes in the time then), and it must be learned from a peer.
    pub fn member_id(&self) -> u64 {
        identity::member_id(self.local_peer_urls(), &self.initial_cluster_token)
    }

    /// The cluster id of a new cluster bootstrapped from `--initial-cluster`.
    pub fn cluster_id(&self) -> u64 {
        let ids: Vec<u64> = self.members().iter().map(|m| m.id).collect();
        identity::cluster_id(&ids)
    }

    /// The initial members, in ascending id order as `etcdctl member list` shows them.
    pub fn members(&self) -> Vec<Member> {
        let mut members: Vec<Member> = self
            .initial_cluster
            .iter()
            .map(|(name, urls)| Member {
                id: identity::member_id(urls, &self.initial_cluster_token),
                name: name.clone(),
                peer_urls: urls.clone(),
            })
            .collect();
        members.sort_by_key(|m| m.id);
        members
    }

    /// One tick of the core is one heartbeat interval, as in etcd (scaled by the
    /// test-only clock rate, which is why every timer of the member follows it).
    pub fn tick_interval(&self) -> Duration {
        self.heartbeat_interval * 100 / self.test_clock_percent
    }

    /// Not a whole number when the heartbeat does not divide a second (etcd allows
    /// 300 ms); convert a span to ticks with [`ServeConfig::ticks_in`] rather than by
    /// multiplying with this.
    pub fn ticks_per_second(&self) -> f64 {
        1.0 / self.heartbeat_interval.as_secs_f64()
    }

    /// Whole ticks in `span`, rounded down.
    pub fn ticks_in(&self, span: Duration) -> u64 {
        let ticks = span.as_nanos() / self.heartbeat_interval.as_nanos();
        u64::try_from(ticks).unwrap_or(u64::MAX)
    }

    /// `election_timeout / heartbeat_interval` rounded down, as etcd does; at least 5.
    pub fn election_ticks(&self) -> u32 {
        let ticks = self.ticks_in(self.election_timeout);
        u32::try_from(ticks).expect("election timeout is at most 50 s of ticks of at least 1 ms")
    }

    /// A leader heartbeats every tick.
    pub fn heartbeat_ticks(&self) -> u32 {
        1
    }

    /// This member's peer URLs as `--initial-cluster` lists them.
    pub fn local_peer_urls(&self) -> &[Url] {
        let local = self.initial_cluster.iter().find(|(name, _)| *name == self.name);
        &local.expect("validate checked that --initial-cluster names this member").1
    }
}

fn parse_urls(flag: &'static str, text: &str) -> Result<Vec<Url>, FlagError> {
    let mut urls: Vec<Url> = Vec::new();
    for item in text.split(',').filter(|s| !s.is_empty()) {
        let url = Url::parse(item).map_err(|reason| FlagError::Url {
            flag,
            url: item.to_owned(),
            reason,
        })?;
        if urls.contains(&url) {
            return Err(FlagError::DuplicateUrl { flag, url: url.to_string() });
        }
        urls.push(url);
    }
    if urls.is_empty() {
        return Err(FlagError::NoUrls { flag });
    }
    Ok(urls)
}

fn parse_listen_urls(flag: &'static str, text: &str) -> Result<Vec<Url>, FlagError> {
    let urls = parse_urls(flag, text)?;
    if let Some(url) = urls.iter().find(|u| !u.is_bindable()) {
        return Err(FlagError::ListenHostNotIp { flag, url: url.to_string() });
    }
    Ok(urls)
}

/// etcd's `types.NewURLsMap`: comma-separated `name=url`, empty items skipped, a name
/// given again adds a URL to that member.
fn parse_initial_cluster(text: &str) -> Result<Vec<(String, Vec<Url>)>, FlagError> {
    let mut members: Vec<(String, Vec<Url>)> = Vec::new();
    for entry in text.split(',').filter(|s| !s.is_empty()) {
        let (name, url_text) = match entry.split_once('=') {
            Some((name, url)) if !name.is_empty() => (name, url),
            _ => return Err(FlagError::InitialClusterEntry { entry: entry.to_owned() }),
        };
        let url = Url::parse(url_text).map_err(|reason| FlagError::Url {
            flag: "initial-cluster",
            url: url_text.to_owned(),
            reason,
        })?;
        match members.iter_mut().find(|(n, _)| n == name) {
            Some((_, urls)) => urls.push(url),
            None => members.push((name.to_owned(), vec![url])),
        }
    }
    for (_, urls) in &mut members {
        urls.sort();
    }
    Ok(members)
}

/// etcd's `VerifyBootstrap` (new) and `VerifyJoinExisting` (existing), in etcd's order.
fn check_initial_cluster(
    name: &str,
    cluster: &[(String, Vec<Url>)],
    advertised: &[Url],
    state: ClusterState,
) -> Result<(), FlagError> {
    let Some((_, local)) = cluster.iter().find(|(n, _)| n == name) else {
        return Err(FlagError::LocalMemberMissing { name: name.to_owned() });
    };
    if state == ClusterState::New {
        // Compared as written: etcd would also resolve host names and accept
        // `localhost` for `127.0.0.1`; detcd asks no DNS before it starts.
        let pair = |url: &Url| format!("{name}={url}");
        let not_advertised: Vec<String> =
            local.iter().filter(|u| !advertised.contains(u)).map(pair).collect();
        if !not_advertised.is_empty() {
            let advertised: Vec<String> =
                sorted(advertised.to_vec()).iter().map(Url::to_string).collect();
            return Err(FlagError::InitialClusterNotAdvertised {
                missing: not_advertised.join(","),
                advertised: advertised.join(","),
            });
        }
        let not_listed: Vec<String> = sorted(advertised.to_vec())
            .iter()
            .filter(|u| !local.contains(u))
            .map(Url::to_string)
            .collect();
        if !not_listed.is_empty() {
            return Err(FlagError::AdvertisedNotInInitialCluster {
                missing: not_listed.join(","),
                local_entry: local.iter().map(pair).collect::<Vec<_>>().join(","),
            });
        }
    }
    let mut seen: Vec<&Url> = Vec::new();
    for url in cluster.iter().flat_map(|(_, urls)| urls) {
        if seen.contains(&url) {
            return Err(FlagError::InitialClusterDuplicateUrl {
                cluster: describe_cluster(cluster),
                url: url.to_string(),
            });
        }
        seen.push(url);
    }
    Ok(())
}

/// etcd's `URLsMap.String()`: every `name=url` pair, sorted.
fn describe_cluster(cluster: &[(String, Vec<Url>)]) -> String {
    let mut pairs: Vec<String> = cluster
        .iter()
        .flat_map(|(name, urls)| urls.iter().map(move |url| format!("{name}={url}")))
        .collect();
    pairs.sort();
    pairs.join(",")
}

fn parse_log_outputs(text: &str) -> Result<Vec<LogOutput>, FlagError> {
    let outputs: Vec<LogOutput> = text
        .split(',')
        .filter(|s| !s.is_empty())
        .map(|item| match item {
            "default" | "stderr" => LogOutput::Stderr,
            "stdout" => LogOutput::Stdout,
            path => LogOutput::File(PathBuf::from(path)),
        })
        .collect();
    if outputs.is_empty() {
        return Err(FlagError::LogOutputs { value: text.to_owned() });
    }
    Ok(outputs)
}

/// An empty path (`--cert-file ''`, or an empty `ETCD_*` variable) means not given, as
/// in etcd. (Read as OsString: clap's path parser refuses an empty value.)
fn non_empty(path: &Option<OsString>) -> Option<PathBuf> {
    path.clone().filter(|p| !p.is_empty()).map(PathBuf::from)
}

fn sorted(mut urls: Vec<Url>) -> Vec<Url> {
    urls.sort();
    urls
}

#[cfg(test)]
pub(crate) mod tests;
