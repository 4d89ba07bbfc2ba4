//! `detcd bench`'s command line, in the shape of etcd's own benchmark tool, and its
//! checks into a typed [`BenchConfig`]: every run is bounded in count or time, and the
//! numbers that size memory (clients, connections, key and value sizes) have ceilings.

use clap::{Args, Subcommand, ValueEnum};
use std::time::Duration;

/// Requests sent when neither --total nor --duration is given (etcd's benchmark default).
pub const TOTAL_DEFAULT: u64 = 10_000;
/// Each client is a task with a request in flight; past this the load generator, not the
/// server, is what gets measured.
pub const CLIENTS_MAX: usize = 10_000;
pub const CONNS_MAX: usize = 1_000;
/// A run that should take longer than this is a soak test, not a benchmark.
pub const DURATION_MAX: Duration = Duration::from_secs(3600);
/// etcd refuses requests over 1.5 MiB by default; 64 KiB of key already is no key.
pub const KEY_SIZE_MAX: usize = 64 * 1024;
pub const VAL_SIZE_MAX: usize = 16 * 1024 * 1024;
/// etcd's default --max-txn-ops.
pub const TXN_OPS_MAX: usize = 128;
/// A watch bench's values start with the put's send time: microseconds since the run
/// started, as zero-padded decimal digits (printable, and 16 digits outlast any run).
pub const WATCH_STAMP_BYTES: usize = 16;
/// A lease TTL longer than this is no benchmark setting (etcd's own maximum is 9e10 s).
pub const LEASE_TTL_MAX_SECS: i64 = 24 * 3600;

#[derive(Args, Debug, Clone, PartialEq, Eq)]
pub struct BenchArgs {
    #[command(subcommand)]
    pub op: BenchOp,
}

#[derive(Subcommand, Debug, Clone, PartialEq, Eq)]
pub enum BenchOp {
    /// Put keys of --key-size bytes with values of --val-size bytes.
    Put(PutArgs),
    /// Range over one key (or KEY..END), linearizable or serializable.
    Range(RangeArgs),
    /// Txns without compares whose success branch puts --txn-ops keys.
    TxnPut(TxnPutArgs),
    /// --clients watch streams over the key space; --put-clients put --total keys and
    /// each event's delivery (put sent to event received) is one latency.
    Watch(WatchArgs),
    /// One lease per client, renewed over a LeaseKeepAlive stream: each keep-alive's
    /// round trip is one latency. The leases are revoked at the end.
    LeaseKeepalive(LeaseKeepaliveArgs),
}

#[derive(Args, Debug, Clone, PartialEq, Eq)]
pub struct PutArgs {
    #[command(flatten)]
    pub common: CommonArgs,
    /// Size of each value, in bytes.
    #[arg(long, default_value_t = 256, value_name = "BYTES")]
    pub val_size: usize,
}

#[derive(Args, Debug, Clone, PartialEq, Eq)]
pub struct RangeArgs {
    #[command(flatten)]
    pub common: CommonArgs,
    /// l: linearizable (through the leader's read index); s: serializable (the member's
    /// own state).
    #[arg(long, value_enum, default_value_t = Consistency::Linearizable)]
    pub consistency: Consistency,
    /// The key to read [default: keys drawn from the key space, as put writes them].
    pub key: Option<String>,
    /// Read the range [KEY, END) instead of KEY alone.
    #[arg(requires = "key")]
    pub end: Option<String>,
}

#[derive(Args, Debug, Clone, PartialEq, Eq)]
pub struct TxnPutArgs {
    #[command(flatten)]
    pub common: CommonArgs,
    /// Size of each value, in bytes.
    #[arg(long, default_value_t = 256, value_name = "BYTES")]
    pub val_size: usize,
    /// Puts in each txn (distinct keys).
    #[arg(long, default_value_t = 1, value_name = "N")]
    pub txn_ops: usize,
}

#[derive(Args, Debug, Clone, PartialEq, Eq)]
pub struct WatchArgs {
    #[command(flatten)]
    pub common: CommonArgs,
    /// Size of each value, in bytes; the first WATCH_STAMP_BYTES carry the put's send
    /// time, so it must be at least that.
    #[arg(long, default_value_t = 256, value_name = "BYTES")]
    pub val_size: usize,
    /// Clients putting the --total keys (on the connections round-robin).
    #[arg(long, default_value_t = 1, value_name = "N")]
    pub put_clients: usize,
}

#[derive(Args, Debug, Clone, PartialEq, Eq)]
pub struct LeaseKeepaliveArgs {
    #[command(flatten)]
    pub common: CommonArgs,
    /// TTL of each client's lease, in seconds.
    #[arg(long, default_value_t = 60, value_name = "SECONDS")]
    pub ttl: i64,
}

/// Flags every operation takes.
#[derive(Args, Debug, Clone, PartialEq, Eq)]
pub struct CommonArgs {
    /// Comma-separated client endpoints, host:port or http://host:port.
    #[arg(long, default_value = "127.0.0.1:2379", value_name = "A,B,C")]
    pub endpoints: String,
    /// gRPC connections to open; connections take the endpoints round-robin, clients
    /// take the connections round-robin.
    #[arg(long, default_value_t = 1, value_name = "N")]
    pub conns: usize,
    /// Concurrent clients, each with one request in flight.
    #[arg(long, default_value_t = 1, value_name = "N")]
    pub clients: usize,
    /// Requests to send in all [default: 10000 when --duration is not given].
    #[arg(long, value_name = "N")]
    pub total: Option<u64>,
    /// Stop sending after this long (10s, 1m30s); with --total, whichever comes first.
    #[arg(long, value_parser = parse_duration, value_name = "DURATION")]
    pub duration: Option<Duration>,
    /// Send at most this many requests per second over all clients; 0 for no limit
    /// (put, range and txn-put).
    #[arg(long, default_value_t = 0, value_name = "N")]
    pub rate: u64,
    /// Size of each key, in bytes (the key number, zero-padded).
    #[arg(long, default_value_t = 8, value_name = "BYTES")]
    pub key_size: usize,
    /// How many distinct keys requests are spread over.
    #[arg(long, default_value_t = 1, value_name = "N")]
    pub key_space_size: u64,
    /// Take keys in order (request i uses key i mod --key-space-size) instead of at random.
    #[arg(long)]
    pub sequential_keys: bool,
    /// Find the leader with Maintenance.Status and send every request to it.
    #[arg(long)]
    pub target_leader: bool,
    /// Give up on a request after this long; it counts as an error.
    #[arg(long, default_value = "5s", value_parser = parse_duration, value_name = "DURATION")]
    pub request_timeout: Duration,
    /// Print the summary as one JSON object.
    #[arg(long)]
    pub json: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Consistency {
    #[value(name = "l", alias = "linearizable")]
    Linearizable,
    #[value(name = "s", alias = "serializable")]
    Serializable,
}

fn parse_duration(text: &str) -> Result<Duration, String> {
    crate::flags::parse_go_duration(text.trim())
        .ok_or_else(|| format!("{text:?} is not a duration such as 10s, 500ms or 1m30s"))
}

/// What one run does, checked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BenchConfig {
    pub op: Op,
    /// host:port, scheme stripped; the channel URI is always built as `http://host:port`.
    pub endpoints: Vec<String>,
    pub conns: usize,
    pub clients: usize,
    /// At least one of the two is set.
    pub total: Option<u64>,
    pub duration: Option<Duration>,
    /// Requests per second over all clients, when limited.
    pub rate: Option<u64>,
    pub keys: KeySpace,
    pub target_leader: bool,
    pub request_timeout: Duration,
    pub json: bool,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Op {
    Put { val_size: usize },
    Range { consistency: Consistency, fixed: Option<(Vec<u8>, Vec<u8>)> },
    TxnPut { val_size: usize, txn_ops: usize },
    Watch { val_size: usize, put_clients: usize },
    LeaseKeepalive { ttl_secs: i64 },
}

impl Op {
    pub fn name(&self) -> &'static str {
        match self {
            Op::Put { .. } => "put",
            Op::Range { .. } => "range",
            Op::TxnPut { .. } => "txn-put",
            Op::Watch { .. } => "watch",
            Op::LeaseKeepalive { .. } => "lease-keepalive",
        }
    }

    /// Clients that put besides the --clients (a watch bench's writers).
    pub fn put_clients(&self) -> usize {
        match self {
            Op::Watch { put_clients, .. } => *put_clients,
            _ => 0,
        }
    }
}

/// The keys requests draw from: numbers below `size`, zero-padded to `key_size` bytes
/// (printable, so `etcdctl get` shows what a run wrote).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KeySpace {
    pub key_size: usize,
    pub size: u64,
    pub sequential: bool,
}

impl KeySpace {
    pub fn key(&self, n: u64) -> Vec<u8> {
        format!("{:0width$}", n % self.size, width = self.key_size).into_bytes()
    }
}

impl BenchArgs {
    pub fn validate(&self) -> Result<BenchConfig, String> {
        let val_size_ok = |size: usize| {
            if size > VAL_SIZE_MAX {
                return Err(format!("--val-size must be at most {VAL_SIZE_MAX}"));
            }
            Ok(size)
        };
        let (common, op) = match &self.op {
            BenchOp::Put(p) => (&p.common, Op::Put { val_size: val_size_ok(p.val_size)? }),
            BenchOp::TxnPut(t) => {
                if t.txn_ops == 0 || t.txn_ops > TXN_OPS_MAX {
                    return Err(format!("--txn-ops must be between 1 and {TXN_OPS_MAX}"));
                }
                // A txn may not write one key twice, so its keys must be distinct.
                if t.txn_ops as u64 > t.common.key_space_size {
                    return Err(format!(
                        "--txn-ops {} needs a --key-space-size of at least {0}",
                        t.txn_ops
                    ));
                }
                let val_size = val_size_ok(t.val_size)?;
                (&t.common, Op::TxnPut { val_size, txn_ops: t.txn_ops })
            }
            BenchOp::Watch(w) => {
                if w.val_size < WATCH_STAMP_BYTES {
                    return Err(format!(
                        "--val-size must be at least {WATCH_STAMP_BYTES} for watch (values carry their send time)"
                    ));
                }
                if w.put_clients == 0 || w.put_clients > CLIENTS_MAX {
                    return Err(format!("--put-clients must be between 1 and {CLIENTS_MAX}"));
                }
                let val_size = val_size_ok(w.val_size)?;
                (&w.common, Op::Watch { val_size, put_clients: w.put_clients })
            }
            BenchOp::LeaseKeepalive(l) => {
                if l.ttl < 1 || l.ttl > LEASE_TTL_MAX_SECS {
                    return Err(format!("--ttl must be between 1 and {LEASE_TTL_MAX_SECS}"));
                }
                (&l.common, Op::LeaseKeepalive { ttl_secs: l.ttl })
            }
            BenchOp::Range(r) => {
                let fixed = r.key.as_ref().map(|k| {
                    let end = r.end.as_ref().map(|e| e.as_bytes().to_vec()).unwrap_or_default();
                    (k.as_bytes().to_vec(), end)
                });
                (&r.common, Op::Range { consistency: r.consistency, fixed })
            }
        };
        let endpoints = parse_endpoints(&common.endpoints)?;
        if common.clients == 0 || common.clients > CLIENTS_MAX {
            return Err(format!("--clients must be between 1 and {CLIENTS_MAX}"));
        }
        if common.conns == 0 || common.conns > CONNS_MAX {
            return Err(format!("--conns must be between 1 and {CONNS_MAX}"));
        }
        let total = match (common.total, common.duration) {
            (Some(0), _) => return Err("--total must be at least 1".into()),
            (None, None) => Some(TOTAL_DEFAULT),
            (total, _) => total,
        };
        if let Some(d) = common.duration {
            if d.is_zero() || d > DURATION_MAX {
                return Err(format!(
                    "--duration must be more than 0 and at most {}s",
                    DURATION_MAX.as_secs()
                ));
            }
        }
        if common.request_timeout.is_zero() {
            return Err("--request-timeout must be more than 0".into());
        }
        if common.key_size == 0 || common.key_size > KEY_SIZE_MAX {
            return Err(format!("--key-size must be between 1 and {KEY_SIZE_MAX}"));
        }
        if common.key_space_size == 0 {
            return Err("--key-space-size must be at least 1".into());
        }
        // Keys are zero-padded decimal: the largest key number must fit in the key size,
        // or two numbers would print to keys of different lengths.
        let digits = (common.key_space_size - 1).to_string().len();
        if digits > common.key_size {
            return Err(format!(
                "--key-space-size {} needs keys of at least {digits} bytes (--key-size {})",
                common.key_space_size, common.key_size
            ));
        }
        if common.rate > super::pace::RATE_MAX {
            return Err(format!("--rate must be at most {}", super::pace::RATE_MAX));
        }
        let rate = (common.rate > 0).then_some(common.rate);
        if rate.is_some() && matches!(op, Op::Watch { .. } | Op::LeaseKeepalive { .. }) {
            return Err(format!("--rate applies to put, range and txn-put, not {}", op.name()));
        }
        let put_clients = op.put_clients();
        Ok(BenchConfig {
            op,
            endpoints,
            // More connections than clients would sit idle.
            conns: common.conns.min(common.clients.max(put_clients)),
            clients: common.clients,
            total,
            duration: common.duration,
            rate,
            keys: KeySpace {
                key_size: common.key_size,
                size: common.key_space_size,
                sequential: common.sequential_keys,
            },
            target_leader: common.target_leader,
            request_timeout: common.request_timeout,
            json: common.json,
        })
    }
}

/// `A,B,C` into `host:port` each. A leading `http://` is stripped (etcd's tools take
/// both forms) and a trailing `/` too, so every channel URI is built the same way.
pub fn parse_endpoints(text: &str) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    for raw in text.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let rest = if let Some(rest) = raw.strip_prefix("http://") {
            rest
        } else if raw.starts_with("https://") {
            return Err(format!("endpoint {raw}: TLS is not supported; use http://"));
        } else if raw.contains("://") {
            return Err(format!("endpoint {raw}: only http:// endpoints are supported"));
        } else {
            raw
        };
        let hostport = rest.trim_end_matches('/');
        let port_ok = hostport
            .rsplit_once(':')
            .is_some_and(|(host, port)| !host.is_empty() && port.parse::<u16>().is_ok());
        if !port_ok || hostport.contains('/') {
            return Err(format!("endpoint {raw}: expected host:port"));
        }
        out.push(hostport.to_string());
    }
    if out.is_empty() {
        return Err("--endpoints names no endpoint".into());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser, Debug)]
    struct Cli {
        #[command(flatten)]
        bench: BenchArgs,
    }

    fn parse(args: &[&str]) -> Result<BenchConfig, String> {
        let cli = Cli::try_parse_from(std::iter::once("bench").chain(args.iter().copied()))
            .map_err(|e| e.to_string())?;
        cli.bench.validate()
    }

    #[test]
    fn defaults_are_etcds() {
        let cfg = parse(&["put"]).unwrap();
        assert_eq!(cfg.op, Op::Put { val_size: 256 });
        assert_eq!(cfg.endpoints, vec!["127.0.0.1:2379"]);
        assert_eq!((cfg.conns, cfg.clients), (1, 1));
        assert_eq!((cfg.total, cfg.duration), (Some(TOTAL_DEFAULT), None));
        assert_eq!(cfg.keys, KeySpace { key_size: 8, size: 1, sequential: false });
        assert!(!cfg.target_leader && !cfg.json);
        assert_eq!(cfg.request_timeout, Duration::from_secs(5));
    }

    #[test]
    fn all_flags_are_read() {
        let cfg = parse(&[
            "put",
            "--endpoints",
            "http://127.0.0.1:2379/, 127.0.0.1:22379",
            "--conns=8",
            "--clients",
            "64",
            "--total",
            "500",
            "--duration",
            "1m30s",
            "--key-size",
            "16",
            "--val-size",
            "1024",
            "--key-space-size",
            "100000",
            "--sequential-keys",
            "--target-leader",
            "--request-timeout",
            "250ms",
            "--rate",
            "8000",
            "--json",
        ])
        .unwrap();
        assert_eq!(cfg.op, Op::Put { val_size: 1024 });
        assert_eq!(cfg.endpoints, vec!["127.0.0.1:2379", "127.0.0.1:22379"]);
        assert_eq!((cfg.conns, cfg.clients), (8, 64));
        assert_eq!((cfg.total, cfg.duration), (Some(500), Some(Duration::from_secs(90))));
        assert_eq!(cfg.keys, KeySpace { key_size: 16, size: 100_000, sequential: true });
        assert!(cfg.target_leader && cfg.json);
        assert_eq!(cfg.request_timeout, Duration::from_millis(250));
        assert_eq!(cfg.rate, Some(8000));
    }

    #[test]
    fn rate_zero_is_no_limit_and_streams_take_none() {
        assert_eq!(parse(&["put"]).unwrap().rate, None);
        assert_eq!(parse(&["put", "--rate", "0"]).unwrap().rate, None);
        assert_eq!(parse(&["range", "--rate", "1000000"]).unwrap().rate, Some(1_000_000));
        let too_fast = parse(&["put", "--rate", "1000001"]).unwrap_err();
        assert!(too_fast.contains("--rate must be at most 1000000"), "{too_fast}");
        let watch = parse(&["watch", "--rate", "10"]).unwrap_err();
        assert!(watch.contains("not watch"), "{watch}");
        let keepalive = parse(&["lease-keepalive", "--rate", "10"]).unwrap_err();
        assert!(keepalive.contains("not lease-keepalive"), "{keepalive}");
    }

    #[test]
    fn duration_alone_leaves_the_count_open() {
        let cfg = parse(&["range", "--duration", "10s"]).unwrap();
        assert_eq!((cfg.total, cfg.duration), (None, Some(Duration::from_secs(10))));
    }

    #[test]
    fn range_reads_consistency_and_keys() {
        let cfg = parse(&["range", "--consistency", "s"]).unwrap();
        assert_eq!(cfg.op, Op::Range { consistency: Consistency::Serializable, fixed: None });
        let cfg = parse(&["range", "foo", "fop"]).unwrap();
        assert_eq!(
            cfg.op,
            Op::Range {
                consistency: Consistency::Linearizable,
                fixed: Some((b"foo".to_vec(), b"fop".to_vec()))
            }
        );
        let cfg = parse(&["range", "--consistency=linearizable", "foo"]).unwrap();
        assert_eq!(
            cfg.op,
            Op::Range {
                consistency: Consistency::Linearizable,
                fixed: Some((b"foo".to_vec(), vec![]))
            }
        );
        assert!(parse(&["range", "--consistency", "x"]).is_err());
        assert!(parse(&["put", "--consistency", "s"]).is_err(), "put has no consistency");
    }

    #[test]
    fn bounds_are_enforced() {
        for bad in [
            &["put", "--clients", "0"][..],
            &["put", "--clients", "10001"],
            &["put", "--conns", "0"],
            &["put", "--total", "0"],
            &["put", "--duration", "0s"],
            &["put", "--duration", "2h"],
            &["put", "--duration", "10"],
            &["put", "--key-size", "0"],
            &["put", "--key-space-size", "0"],
            &["put", "--key-size", "2", "--key-space-size", "101"],
            &["put", "--request-timeout", "0s"],
            &["put", "--endpoints", ""],
            &["put", "--endpoints", "https://127.0.0.1:2379"],
            &["put", "--endpoints", "unix://x"],
            &["put", "--endpoints", "127.0.0.1"],
            &["put", "--endpoints", "127.0.0.1:99999"],
            &["put", "--endpoints", "http://127.0.0.1:2379/v3"],
            &["range", "--val-size", "3"],
        ] {
            assert!(parse(bad).is_err(), "{bad:?} should be refused");
        }
        // The largest key number that fits is fine.
        assert!(parse(&["put", "--key-size", "2", "--key-space-size", "100"]).is_ok());
        assert!(parse(&["put", "--clients", "10000", "--conns", "1000"]).is_ok());
    }

    #[test]
    fn txn_put_watch_and_lease_keepalive_are_read() {
        let cfg = parse(&["txn-put", "--txn-ops", "4", "--key-space-size", "10"]).unwrap();
        assert_eq!(cfg.op, Op::TxnPut { val_size: 256, txn_ops: 4 });
        assert_eq!(cfg.op.name(), "txn-put");
        let cfg =
            parse(&["watch", "--clients", "10", "--put-clients", "2", "--val-size", "16"]).unwrap();
        assert_eq!(cfg.op, Op::Watch { val_size: 16, put_clients: 2 });
        assert_eq!(cfg.clients, 10);
        let cfg = parse(&["lease-keepalive", "--ttl", "5", "--clients", "3"]).unwrap();
        assert_eq!(cfg.op, Op::LeaseKeepalive { ttl_secs: 5 });
        assert_eq!(cfg.op.name(), "lease-keepalive");
        assert_eq!(parse(&["lease-keepalive"]).unwrap().op, Op::LeaseKeepalive { ttl_secs: 60 });
    }

    #[test]
    fn new_operations_refuse_bad_sizes() {
        for (bad, says) in [
            (&["txn-put", "--txn-ops", "0"][..], "--txn-ops must be between 1 and 128"),
            (&["txn-put", "--txn-ops", "129", "--key-space-size", "1000"], "between 1 and 128"),
            (&["txn-put", "--txn-ops", "3"], "--txn-ops 3 needs a --key-space-size of at least 3"),
            (&["txn-put", "--val-size", "16777217"], "--val-size must be at most"),
            (&["watch", "--val-size", "15"], "--val-size must be at least 16 for watch"),
            (&["watch", "--put-clients", "0"], "--put-clients must be between 1"),
            (&["lease-keepalive", "--ttl", "0"], "--ttl must be between 1 and 86400"),
            (&["lease-keepalive", "--ttl", "86401"], "--ttl must be between 1 and 86400"),
            (&["lease-keepalive", "--clients", "0"], "--clients must be between 1"),
            (&["watch", "--duration", "0s"], "--duration must be more than 0"),
        ] {
            let err = parse(bad).expect_err(&format!("{bad:?} should be refused"));
            assert!(err.contains(says), "{bad:?}: {err}");
        }
        assert!(parse(&["lease-keepalive", "--val-size", "3"]).is_err(), "no values there");
        assert!(parse(&["watch", "--txn-ops", "3"]).is_err(), "txn-ops is txn-put's");
    }

    #[test]
    fn watch_connections_serve_the_putters_too() {
        let cfg =
            parse(&["watch", "--clients", "1", "--put-clients", "4", "--conns", "8"]).unwrap();
        assert_eq!(cfg.conns, 4);
    }

    #[test]
    fn more_conns_than_clients_is_capped() {
        let cfg = parse(&["put", "--conns", "8", "--clients", "2"]).unwrap();
        assert_eq!(cfg.conns, 2);
    }

    #[test]
    fn endpoints_strip_the_scheme_consistently() {
        assert_eq!(
            parse_endpoints("http://a:1,b:2,http://[::1]:3/").unwrap(),
            vec!["a:1", "b:2", "[::1]:3"]
        );
    }

    #[test]
    fn keys_are_zero_padded_numbers() {
        let ks = KeySpace { key_size: 8, size: 1000, sequential: true };
        assert_eq!(ks.key(7), b"00000007");
        assert_eq!(ks.key(1007), b"00000007", "wraps at the key space size");
        let ks = KeySpace { key_size: 3, size: 1000, sequential: false };
        assert_eq!(ks.key(999), b"999");
    }
}
