use super::*;
use clap::error::ErrorKind;
use std::sync::Mutex;

/// clap reads `ETCD_*` from the process environment, which all tests share.
static ENV: Mutex<()> = Mutex::new(());

fn with_env<T>(env: &[(&str, &str)], f: impl FnOnce() -> T) -> T {
    let _env = ENV.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    let inherited: Vec<String> =
        std::env::vars().map(|(k, _)| k).filter(|k| k.starts_with("ETCD_")).collect();
    for key in inherited {
        std::env::remove_var(key);
    }
    for (key, value) in env {
        std::env::set_var(key, value);
    }
    let out = f();
    for (key, _) in env {
        std::env::remove_var(key);
    }
    out
}

fn parse_with_env(env: &[(&str, &str)], args: &[&str]) -> Result<ServeArgs, clap::Error> {
    with_env(env, || {
        ServeArgs::try_parse_from(std::iter::once("serve").chain(args.iter().copied()))
    })
}

fn parse(args: &[&str]) -> Result<ServeArgs, clap::Error> {
    parse_with_env(&[], args)
}

/// A checked configuration from these flags, with no `ETCD_*` variable in effect.
pub(crate) fn config(args: &[&str]) -> ServeConfig {
    parse(args).unwrap().validate().unwrap()
}

fn error(args: &[&str]) -> FlagError {
    parse(args).unwrap().validate().unwrap_err()
}

fn url(text: &str) -> Url {
    Url::parse(text).unwrap()
}

fn urls(texts: &[&str]) -> Vec<Url> {
    texts.iter().map(|t| url(t)).collect()
}

/// Loopback-only flags for one member, as used to measure real etcd 3.4.23.
const ONE_MEMBER: &[&str] = &[
    "--name",
    "a",
    "--listen-client-urls",
    "http://127.0.0.1:23790",
    "--advertise-client-urls",
    "http://127.0.0.1:23790",
    "--listen-peer-urls",
    "http://127.0.0.1:23800",
    "--initial-advertise-peer-urls",
    "http://127.0.0.1:23800",
    "--initial-cluster",
    "a=http://127.0.0.1:23800",
];

#[test]
fn defaults_are_etcds() {
    let args = parse(&[]).unwrap();
    assert_eq!(args.name, "default");
    assert_eq!(args.data_dir, None);
    assert_eq!(args.listen_client_urls, "http://localhost:2379");
    assert_eq!(args.advertise_client_urls, "http://localhost:2379");
    assert_eq!(args.listen_peer_urls, "http://localhost:2380");
    assert_eq!(args.initial_advertise_peer_urls, "http://localhost:2380");
    assert_eq!(args.initial_cluster, None);
    assert_eq!(args.initial_cluster_state, ClusterState::New);
    assert_eq!(args.initial_cluster_token, "etcd-cluster");
    assert_eq!((args.heartbeat_interval, args.election_timeout), (100, 1000));
    assert_eq!(args.snapshot_count, 100_000);
    assert_eq!(args.quota_backend_bytes, 0);
    assert_eq!(args.max_request_bytes, 1_572_864);
    assert_eq!(args.max_txn_ops, 128);
    assert_eq!(args.auto_compaction_mode, CompactionMode::Periodic);
    assert_eq!(args.auto_compaction_retention, "0");
    assert_eq!(args.log_level, LogLevel::Info);
    assert_eq!(args.logger, Logger::Capnslog);
    assert_eq!(args.log_outputs, "default");
    assert!(!args.enable_pprof);

    let c = args.validate().unwrap();
    assert_eq!(c.name, "default");
    assert_eq!(c.data_dir, PathBuf::from("default.detcd"));
    assert_eq!(c.listen_client_urls, urls(&["http://localhost:2379"]));
    assert_eq!(c.advertise_client_urls, urls(&["http://localhost:2379"]));
    assert_eq!(c.listen_peer_urls, urls(&["http://localhost:2380"]));
    assert_eq!(c.initial_advertise_peer_urls, urls(&["http://localhost:2380"]));
    assert_eq!(c.initial_cluster, vec![("default".into(), urls(&["http://localhost:2380"]))]);
    assert_eq!(c.heartbeat_interval, Duration::from_millis(100));
    assert_eq!(c.election_timeout, Duration::from_secs(1));
    assert_eq!(c.quota_backend_bytes, 2 * 1024 * 1024 * 1024);
    assert_eq!(c.request_bytes_max, 1_572_864);
    assert_eq!(c.txn_ops_max, 128);
    assert_eq!(c.auto_compaction, AutoCompaction::Off);
    assert_eq!(c.log_outputs, vec![LogOutput::Stderr]);
    assert_eq!((c.election_ticks(), c.heartbeat_ticks()), (10, 1));
    assert_eq!(c.ticks_per_second(), 10.0);
    assert_eq!(c.tick_interval(), Duration::from_millis(100));
}

#[test]
fn defaults_follow_the_name_and_the_advertised_peer_urls() {
    let c = config(&["--name", "n1", "--initial-advertise-peer-urls", "http://10.0.0.1:2380"]);
    assert_eq!(c.data_dir, PathBuf::from("n1.detcd"));
    assert_eq!(c.initial_cluster, vec![("n1".into(), urls(&["http://10.0.0.1:2380"]))]);
    let c = config(&["--data-dir", "/var/lib/x", "--quota-backend-bytes", "1024"]);
    assert_eq!((c.data_dir, c.quota_backend_bytes), (PathBuf::from("/var/lib/x"), 1024));
}

#[test]
fn environment_variables_apply_and_flags_override_them() {
    let env = [
        ("ETCD_NAME", "envname"),
        ("ETCD_DATA_DIR", "/tmp/envdir"),
        ("ETCD_LISTEN_CLIENT_URLS", "http://127.0.0.1:3379"),
        ("ETCD_INITIAL_ADVERTISE_PEER_URLS", "http://127.0.0.1:3380"),
        ("ETCD_INITIAL_CLUSTER_STATE", "existing"),
        ("ETCD_INITIAL_CLUSTER_TOKEN", "tok"),
        ("ETCD_HEARTBEAT_INTERVAL", "50"),
        ("ETCD_ELECTION_TIMEOUT", "500"),
        ("ETCD_SNAPSHOT_COUNT", "7"),
        ("ETCD_MAX_TXN_OPS", "9"),
        ("ETCD_AUTO_COMPACTION_MODE", "revision"),
        ("ETCD_AUTO_COMPACTION_RETENTION", "1000"),
        ("ETCD_LOG_LEVEL", "debug"),
        ("ETCD_LOG_OUTPUTS", "stdout"),
        ("ETCD_ENABLE_PPROF", "true"),
    ];
    let args = parse_with_env(&env, &[]).unwrap();
    assert!(args.enable_pprof);
    let c = args.validate().unwrap();
    assert_eq!(c.name, "envname");
    assert_eq!(c.data_dir, PathBuf::from("/tmp/envdir"));
    assert_eq!(c.listen_client_urls, urls(&["http://127.0.0.1:3379"]));
    assert_eq!(c.initial_cluster, vec![("envname".into(), urls(&["http://127.0.0.1:3380"]))]);
    assert_eq!(c.initial_cluster_state, ClusterState::Existing);
    assert_eq!(c.initial_cluster_token, "tok");
    assert_eq!(c.heartbeat_interval, Duration::from_millis(50));
    assert_eq!(c.election_ticks(), 10);
    assert_eq!((c.snapshot_count, c.txn_ops_max), (7, 9));
    assert_eq!(c.auto_compaction, AutoCompaction::Revision(1000));
    assert_eq!(c.log_level, LogLevel::Debug);
    assert_eq!(c.log_outputs, vec![LogOutput::Stdout]);

    let c = parse_with_env(&env, &["--name", "flagname", "--heartbeat-interval", "100"])
        .unwrap()
        .validate()
        .unwrap();
    assert_eq!(c.name, "flagname");
    assert_eq!(c.heartbeat_interval, Duration::from_millis(100));
    assert_eq!(c.data_dir, PathBuf::from("/tmp/envdir"));
}

#[test]
fn etcds_procfile_command_line_is_accepted() {
    let line = "--name infra1 --listen-client-urls http://127.0.0.1:2379 \
        --advertise-client-urls http://127.0.0.1:2379 --listen-peer-urls http://127.0.0.1:12380 \
        --initial-advertise-peer-urls http://127.0.0.1:12380 --initial-cluster-token etcd-cluster-1 \
        --initial-cluster infra1=http://127.0.0.1:12380,infra2=http://127.0.0.1:22380,infra3=http://127.0.0.1:32380 \
        --initial-cluster-state new --enable-pprof --logger=zap --log-outputs=stderr";
    let args = parse(&line.split_whitespace().collect::<Vec<_>>()).unwrap();
    assert_eq!(args.logger, Logger::Zap);
    let c = args.validate().unwrap();
    assert_eq!(c.members().len(), 3);
    assert_eq!(c.log_outputs, vec![LogOutput::Stderr]);
}

#[test]
fn other_flag_forms() {
    let c = config(&[
        "--log-level=error",
        "--log-outputs",
        "stderr,/var/log/detcd.log",
        "--auto-compaction-retention",
        "30m",
        "--listen-client-urls",
        "http://127.0.0.1:2379,https://[::1]:2379",
        "--cert-file=c.pem",
        "--key-file=k.pem",
    ]);
    assert_eq!(
        c.log_outputs,
        vec![LogOutput::Stderr, LogOutput::File(PathBuf::from("/var/log/detcd.log"))]
    );
    assert_eq!(c.auto_compaction, AutoCompaction::Periodic(Duration::from_secs(1800)));
    assert_eq!(c.listen_client_urls, urls(&["http://127.0.0.1:2379", "https://[::1]:2379"]));
    assert_eq!(parse(&["--log-level", "fatal"]).unwrap().log_level, LogLevel::Error);
    assert!(!parse(&["--enable-pprof=false"]).unwrap().enable_pprof);
}

#[test]
fn a_repeated_name_adds_urls_to_one_member_as_in_etcd() {
    let c = config(&[
        "--initial-advertise-peer-urls",
        "http://127.0.0.1:2480,http://127.0.0.1:2380",
        "--initial-cluster",
        "default=http://127.0.0.1:2480,b=http://127.0.0.1:2381,default=http://127.0.0.1:2380",
    ]);
    assert_eq!(
        c.initial_cluster,
        vec![
            ("default".into(), urls(&["http://127.0.0.1:2380", "http://127.0.0.1:2480"])),
            ("b".into(), urls(&["http://127.0.0.1:2381"])),
        ]
    );
}

#[test]
fn clap_refuses_what_it_can_check_alone_with_exit_code_2() {
    let cases: &[(&[&str], ErrorKind)] = &[
        (&["--bogus", "1"], ErrorKind::UnknownArgument),
        (&["--initial-cluster-state", "foo"], ErrorKind::InvalidValue),
        (&["--auto-compaction-mode", "foo"], ErrorKind::InvalidValue),
        (&["--log-level", "foo"], ErrorKind::InvalidValue),
        (&["--logger", "foo"], ErrorKind::InvalidValue),
        (&["--heartbeat-interval", "abc"], ErrorKind::ValueValidation),
        (&["--quota-backend-bytes", "-1"], ErrorKind::UnknownArgument),
        (&["--enable-pprof", "true"], ErrorKind::UnknownArgument),
    ];
    for (args, kind) in cases {
        let err = parse(args).unwrap_err();
        assert_eq!(err.kind(), *kind, "{args:?}: {err}");
        assert_eq!(err.exit_code(), 2, "{args:?}");
    }
    let err = parse(&["--bogus"]).unwrap_err().to_string();
    assert!(err.contains("unexpected argument '--bogus'"), "{err}");
}

#[test]
fn each_inconsistency_is_a_typed_error_naming_the_flag() {
    let peer = |u: &str| ["--initial-advertise-peer-urls", u].map(str::to_owned);
    let cases: Vec<(Vec<String>, FlagError, &str)> = vec![
        (
            vec!["--name".into(), "a=b".into()],
            FlagError::Name { name: "a=b".into() },
            "--name \"a=b\" must be non-empty and contain neither '=' nor ','",
        ),
        (
            vec!["--listen-client-urls".into(), "ftp://127.0.0.1:1".into()],
            FlagError::Url {
                flag: "listen-client-urls",
                url: "ftp://127.0.0.1:1".into(),
                reason: UrlError::Scheme("ftp".into()),
            },
            "invalid value \"ftp://127.0.0.1:1\" for flag --listen-client-urls: URL scheme \
             must be http or https, not \"ftp\"",
        ),
        (
            vec!["--advertise-client-urls".into(), "http://127.0.0.1".into()],
            FlagError::Url {
                flag: "advertise-client-urls",
                url: "http://127.0.0.1".into(),
                reason: UrlError::NotHostPort,
            },
            "invalid value \"http://127.0.0.1\" for flag --advertise-client-urls: URL address \
             does not have the form \"host:port\"",
        ),
        (
            vec!["--listen-peer-urls".into(), ",".into()],
            FlagError::NoUrls { flag: "listen-peer-urls" },
            "--listen-peer-urls needs at least one URL",
        ),
        (
            vec!["--advertise-client-urls".into(), "http://h:1,http://h:1".into()],
            FlagError::DuplicateUrl { flag: "advertise-client-urls", url: "http://h:1".into() },
            "--advertise-client-urls lists http://h:1 twice",
        ),
        (
            vec!["--listen-client-urls".into(), "http://example.com:2379".into()],
            FlagError::ListenHostNotIp {
                flag: "listen-client-urls",
                url: "http://example.com:2379".into(),
            },
            "--listen-client-urls: expected IP in URL for binding (http://example.com:2379); \
             only IP addresses and localhost can be listened on",
        ),
        (
            vec!["--initial-cluster".into(), "default=http://localhost:2380,http://h:1".into()],
            FlagError::InitialClusterEntry { entry: "http://h:1".into() },
            "--initial-cluster entry \"http://h:1\" is not of the form name=url",
        ),
        (
            vec!["--initial-cluster".into(), "default=foo".into()],
            FlagError::Url {
                flag: "initial-cluster",
                url: "foo".into(),
                reason: UrlError::MissingScheme,
            },
            "invalid value \"foo\" for flag --initial-cluster: expected scheme://host:port",
        ),
        (
            vec![
                "--name".into(),
                "x".into(),
                "--initial-cluster".into(),
                "a=http://localhost:2380".into(),
            ],
            FlagError::LocalMemberMissing { name: "x".into() },
            "--initial-cluster: couldn't find local name \"x\" in the initial cluster \
             configuration",
        ),
        (
            [
                &peer("http://127.0.0.1:23800")[..],
                &["--initial-cluster".into()],
                &["default=http://127.0.0.1:23801".into()],
            ]
            .concat(),
            FlagError::InitialClusterNotAdvertised {
                missing: "default=http://127.0.0.1:23801".into(),
                advertised: "http://127.0.0.1:23800".into(),
            },
            "--initial-cluster has default=http://127.0.0.1:23801 but missing from \
             --initial-advertise-peer-urls=http://127.0.0.1:23800",
        ),
        (
            [
                &peer("http://127.0.0.1:1,http://127.0.0.1:2")[..],
                &["--initial-cluster".into()],
                &["default=http://127.0.0.1:1".into()],
            ]
            .concat(),
            FlagError::AdvertisedNotInInitialCluster {
                missing: "http://127.0.0.1:2".into(),
                local_entry: "default=http://127.0.0.1:1".into(),
            },
            "--initial-advertise-peer-urls has http://127.0.0.1:2 but missing from \
             --initial-cluster=default=http://127.0.0.1:1",
        ),
        (
            vec![
                "--initial-cluster".into(),
                "default=http://localhost:2380,b=http://localhost:2380".into(),
            ],
            FlagError::InitialClusterDuplicateUrl {
                cluster: "b=http://localhost:2380,default=http://localhost:2380".into(),
                url: "http://localhost:2380".into(),
            },
            "--initial-cluster: initial cluster b=http://localhost:2380,\
             default=http://localhost:2380 has duplicate url http://localhost:2380",
        ),
        (
            vec!["--heartbeat-interval".into(), "0".into()],
            FlagError::HeartbeatZero,
            "--heartbeat-interval must be >0 (set to 0ms)",
        ),
        (
            vec!["--election-timeout".into(), "400".into()],
            FlagError::ElectionTooShort { election_ms: 400, heartbeat_ms: 100 },
            "--election-timeout[400ms] should be at least 5 times --heartbeat-interval[100ms]",
        ),
        (
            vec!["--election-timeout".into(), "50001".into()],
            FlagError::ElectionTooLong { election_ms: 50_001, election_ms_max: 50_000 },
            "--election-timeout[50001ms] is too long, and should be at most 50000ms",
        ),
        (
            vec!["--auto-compaction-retention".into(), "foo".into()],
            FlagError::Retention {
                value: "foo".into(),
                reason: "mode periodic takes a number of hours or a duration such as 30m or \
                         1h30m",
            },
            "invalid value \"foo\" for flag --auto-compaction-retention: mode periodic takes a \
             number of hours or a duration such as 30m or 1h30m",
        ),
        (
            vec!["--log-outputs".into(), ",".into()],
            FlagError::LogOutputs { value: ",".into() },
            "invalid value \",\" for flag --log-outputs: expected a comma-separated list of \
             default, stderr, stdout or file paths",
        ),
    ];
    for (args, want, message) in cases {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let got = error(&args);
        assert_eq!(got, want, "{args:?}");
        assert_eq!(got.to_string(), message, "{args:?}");
    }
}

#[test]
fn an_existing_member_need_not_advertise_its_initial_cluster_urls() {
    let c = config(&[
        "--initial-cluster-state",
        "existing",
        "--initial-cluster",
        "default=http://127.0.0.1:1,b=http://127.0.0.1:2",
    ]);
    assert_eq!(c.initial_cluster_state, ClusterState::Existing);
    let err = error(&["--initial-cluster-state", "existing", "--initial-cluster", "b=http://h:2"]);
    assert_eq!(err, FlagError::LocalMemberMissing { name: "default".into() });
}

#[test]
fn election_ticks_round_down_as_in_etcd() {
    let c = config(&["--heartbeat-interval", "300", "--election-timeout", "1600"]);
    assert_eq!(c.election_ticks(), 5);
    assert_eq!(c.ticks_in(Duration::from_secs(3)), 10);
    let c = config(&["--heartbeat-interval", "10000", "--election-timeout", "50000"]);
    assert_eq!(c.election_ticks(), 5);
}

/// `etcd --name foo` with every other flag default logs `starting member 8e9e05c52164694d
/// in cluster cdf818194e3a8c32`: the name is not part of the id.
#[test]
fn ids_of_etcds_default_configuration() {
    for name in ["default", "foo"] {
        let c = config(&["--name", name]);
        assert_eq!(c.member_id(), 0x8e9e_05c5_2164_694d);
        assert_eq!(c.cluster_id(), 0xcdf8_1819_4e3a_8c32);
    }
}

/// Measured on etcd 3.4.23 started with `ONE_MEMBER`: `etcdctl member list -w json` and
/// `endpoint status -w json`.
#[test]
fn ids_of_one_member_match_etcd() {
    let c = config(ONE_MEMBER);
    assert_eq!(c.member_id(), 3_319_814_642_761_637_952);
    assert_eq!(c.cluster_id(), 324_952_591_200_643_719);
    assert_eq!(
        c.members(),
        vec![Member {
            id: 3_319_814_642_761_637_952,
            name: "a".into(),
            peer_urls: urls(&["http://127.0.0.1:23800"])
        }]
    );
}

/// Measured on three etcd 3.4.23 members on loopback, token `etcd-cluster-1`, member c
/// advertising two peer URLs given out of order.
#[test]
fn ids_of_three_members_match_etcd() {
    let cluster = "a=http://127.0.0.1:23801,b=http://127.0.0.1:23802,\
                   c=http://127.0.0.1:23813,c=http://127.0.0.1:23803";
    let c = config(&[
        "--name",
        "c",
        "--listen-peer-urls",
        "http://127.0.0.1:23813,http://127.0.0.1:23803",
        "--initial-advertise-peer-urls",
        "http://127.0.0.1:23813,http://127.0.0.1:23803",
        "--initial-cluster",
        cluster,
        "--initial-cluster-token",
        "etcd-cluster-1",
    ]);
    assert_eq!(c.member_id(), 2_945_906_909_466_984_150);
    assert_eq!(c.cluster_id(), 5_104_765_479_461_352_178);
    let members = c.members();
    let ids: Vec<(u64, &str)> = members.iter().map(|m| (m.id, m.name.as_str())).collect();
    assert_eq!(
        ids,
        vec![
            (2_945_906_909_466_984_150, "c"),
            (3_080_122_813_777_889_836, "a"),
            (17_242_300_997_128_460_282, "b"),
        ]
    );
    assert_eq!(
        c.members()[0].peer_urls,
        urls(&["http://127.0.0.1:23803", "http://127.0.0.1:23813"])
    );
}

#[test]
fn a_later_flag_replaces_an_earlier_one_as_in_go() {
    let args = parse(&["--name", "a", "--heartbeat-interval", "10", "--name", "b"]).unwrap();
    assert_eq!((args.name.as_str(), args.heartbeat_interval), ("b", 10));
}

#[test]
fn an_empty_initial_cluster_variable_means_the_default() {
    let args = parse_with_env(&[("ETCD_INITIAL_CLUSTER", "")], &[]).unwrap();
    let c = args.validate().unwrap();
    assert_eq!(c.initial_cluster, vec![("default".into(), urls(&["http://localhost:2380"]))]);
}

/// How the `detcd` binary mounts these flags.
#[derive(clap::Parser)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(clap::Subcommand)]
enum Command {
    Serve(ServeArgs),
}

#[test]
fn mounted_as_a_subcommand_the_flags_behave_the_same() {
    use clap::Parser;
    let parse = |args: &[&str]| with_env(&[], || Cli::try_parse_from(args));
    let Command::Serve(args) =
        parse(&["detcd", "serve", "--name", "a", "--name", "b"]).unwrap().command;
    assert_eq!(args.name, "b");
    let err = parse(&["detcd", "serve", "--bogus"]).err().unwrap();
    assert_eq!((err.kind(), err.exit_code()), (ErrorKind::UnknownArgument, 2));
}

#[test]
fn the_test_clock_rate_scales_the_tick_and_is_bounded() {
    assert_eq!(config(&[]).tick_interval(), Duration::from_millis(100));
    let fast = config(&["--test-clock-percent", "200"]);
    assert_eq!(fast.tick_interval(), Duration::from_millis(50));
    // Election and lease timers count ticks, so they follow the clock too.
    assert_eq!(fast.election_ticks(), 10);
    let slow = config(&["--test-clock-percent", "50", "--heartbeat-interval", "100"]);
    assert_eq!(slow.tick_interval(), Duration::from_millis(200));
    for bad in ["0", "5", "1001", "fast"] {
        let e = parse(&["--test-clock-percent", bad]).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::ValueValidation, "{bad}");
    }
}

#[test]
fn the_test_fsync_delay_is_off_by_default_and_bounded() {
    assert_eq!(config(&[]).test_fsync_delay, Duration::ZERO);
    let slow = config(&["--test-fsync-delay-ms", "250"]);
    assert_eq!(slow.test_fsync_delay, Duration::from_millis(250));
    let e = parse(&["--test-fsync-delay-ms", "10001"]).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::ValueValidation);
}

#[test]
fn worker_threads_default_to_the_members_choice_and_are_bounded() {
    assert_eq!(config(&[]).worker_threads, 0);
    assert_eq!(config(&["--worker-threads", "1"]).worker_threads, 1);
    let from_env = with_env(&[("ETCD_WORKER_THREADS", "3")], || {
        ServeArgs::try_parse_from(["serve"]).unwrap().validate().unwrap()
    });
    assert_eq!(from_env.worker_threads, 3);
    for bad in ["257", "70000", "two"] {
        let e = parse(&["--worker-threads", bad]).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::ValueValidation, "{bad}");
    }
}

#[test]
fn tls_flags_are_read_and_checked_against_https_urls() {
    let https = ["--listen-client-urls", "https://127.0.0.1:2379"];
    assert_eq!(
        error(&https).to_string(),
        "TLS key/cert (--cert-file, --key-file) must be provided for client url \
         https://127.0.0.1:2379 with HTTPS scheme"
    );
    let peer = ["--listen-peer-urls", "https://127.0.0.1:2380"];
    assert_eq!(
        error(&peer).to_string(),
        "TLS key/cert (--peer-cert-file, --peer-key-file) must be provided for peer url \
         https://127.0.0.1:2380 with HTTPS scheme"
    );
    assert_eq!(error(&["--cert-file", "c.pem"]), FlagError::TlsPair { prefix: "" });
    assert_eq!(
        error(&["--peer-client-cert-auth"]),
        FlagError::TlsClientCertAuthWithoutCa { prefix: "peer-" }
    );
    let c = config(&[
        "--listen-client-urls=https://127.0.0.1:2379",
        "--cert-file=c.pem",
        "--key-file=k.pem",
        "--trusted-ca-file=ca.pem",
        "--client-cert-auth",
    ]);
    assert_eq!(
        c.client_tls,
        TlsFiles {
            cert_file: Some("c.pem".into()),
            key_file: Some("k.pem".into()),
            trusted_ca_file: Some("ca.pem".into()),
            client_cert_auth: true,
        }
    );
    assert_eq!(c.peer_tls, TlsFiles::default());
    // An empty environment variable is no file, as in etcd.
    let args = parse_with_env(
        &[("ETCD_PEER_CERT_FILE", ""), ("ETCD_CLIENT_CERT_AUTH", "true")],
        &["--trusted-ca-file=ca.pem"],
    )
    .unwrap();
    let c = args.validate().unwrap();
    assert_eq!(c.peer_tls.cert_file, None);
    assert!(c.client_tls.client_cert_auth);
}

#[test]
fn https_peers_need_a_peer_ca() {
    let err = error(&[
        "--initial-advertise-peer-urls=https://127.0.0.1:2380",
        "--initial-cluster=default=https://127.0.0.1:2380",
    ]);
    assert_eq!(err, FlagError::TlsPeerWithoutCa { url: "https://127.0.0.1:2380".into() });
}

#[test]
fn the_unsynced_write_flags_are_off_by_default_and_the_unsafe_one_needs_the_other() {
    let plain = config(&[]);
    assert!(!plain.test_unsynced_lost_on_kill && !plain.test_ack_before_fsync);
    let held = config(&["--test-unsynced-writes-lost-on-kill"]);
    assert!(held.test_unsynced_lost_on_kill && !held.test_ack_before_fsync);
    let both = config(&["--test-unsynced-writes-lost-on-kill", "--test-unsafe-ack-before-fsync"]);
    assert!(both.test_ack_before_fsync);
    let e = parse(&["--test-unsafe-ack-before-fsync"]).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::MissingRequiredArgument);
}

#[test]
fn auth_token_takes_simple_tokens_and_their_ttl() {
    assert_eq!(config(&[]).auth_token_ttl, Duration::from_secs(300));
    let c = config(&["--auth-token", "simple", "--auth-token-ttl", "2"]);
    assert_eq!(c.auth_token_ttl, Duration::from_secs(2));
    assert_eq!(config(&["--auth-token", "simple,ttl=5m"]).auth_token_ttl, Duration::from_secs(300));
    for value in ["jwt,pub-key=a.pem,priv-key=b.pem,sign-method=RS256", "bogus", ""] {
        let e = error(&["--auth-token", value]);
        assert_eq!(e, FlagError::AuthToken { value: value.to_string() });
        assert!(e.to_string().contains("--auth-token"), "{e}");
    }
}
