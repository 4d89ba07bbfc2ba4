//! `detcd chaos`: a Jepsen-style fault test of a real cluster (detcd's or etcd's) on
//! this machine. Exit 0 when every check passes, 1 on a violation (or a check that
//! could not decide), 2 on bad arguments, 3 when the run itself could not be done.

use clap::Args;
use detcd_chaos::config::{self, ChaosConfig, ConfigError, NetworkMode, Target};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Args, Debug)]
pub struct ChaosArgs {
    /// The system under test: `detcd` (this binary's `serve`) or `etcd` (from PATH).
    #[arg(long, default_value = "detcd", value_parser = ["detcd", "etcd"])]
    pub target: String,
    /// Cluster size.
    #[arg(long, default_value_t = 3)]
    pub members: usize,
    /// How long the workload runs under faults, e.g. 30s, 2m.
    #[arg(long, default_value = "60s")]
    pub duration: String,
    /// Comma-separated faults: kill, pause, partition, delay, loss and reorder (these
    /// two need --network netns), clock, fsync and kill-unsynced (these three detcd
    /// only); and the negative controls (the run must
    /// fail): wipe-all, which loses every data dir, and ack-before-fsync (detcd only),
    /// a WAL that acknowledges before it fsyncs, then a whole-cluster kill.
    #[arg(long, default_value = "kill,pause,partition,delay,clock,fsync")]
    pub faults: String,
    /// Seeds the workload and the nemesis's choices (timing is real, so a seed does
    /// not replay a run exactly).
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Concurrent clients.
    #[arg(long, default_value_t = 4)]
    pub clients: u32,
    /// How members are networked: `proxy` (127.0.0.1, peer links through TCP proxies),
    /// `netns` (a network namespace per member on a bridge, faults by nftables and tc;
    /// needs root, ip, nft and tc), or `auto` (netns when possible, else proxy).
    #[arg(long, default_value = "auto", value_parser = ["proxy", "netns", "auto"])]
    pub network: String,
    /// Print the report as one JSON document.
    #[arg(long)]
    pub json: bool,
    /// Also write the report as an HTML page.
    #[arg(long, value_name = "FILE")]
    pub html: Option<PathBuf>,
    /// Directory for the history, member logs and the checker's report
    /// [default: detcd-out/chaos-<target>-<seed>].
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
}

/// The program that serves as a member: this binary for detcd, `etcd` on PATH.
fn server(target: Target) -> Result<PathBuf, ConfigError> {
    match target {
        Target::Detcd => std::env::current_exe()
            .map_err(|e| ConfigError::ServerMissing(format!("cannot find this binary: {e}"))),
        Target::Etcd => {
            let path = std::env::var_os("PATH").unwrap_or_default();
            std::env::split_paths(&path).map(|d| d.join("etcd")).find(|p| p.is_file()).ok_or_else(
                || {
                    ConfigError::ServerMissing(
                        "--target etcd: no `etcd` on PATH (Debian: apt-get install etcd-server)"
                            .into(),
                    )
                },
            )
        }
    }
}

/// `auto` becomes netns where namespaces can be made; `netns` where they cannot is an
/// error saying why.
fn network(asked: &str) -> Result<(NetworkMode, String), ConfigError> {
    let why_not = detcd_chaos::netns::unavailable();
    match (asked, why_not) {
        ("proxy", _) => Ok((NetworkMode::Proxy, "proxy (asked for)".into())),
        ("netns", None) => Ok((NetworkMode::Netns, "netns (asked for)".into())),
        ("netns", Some(why)) => Err(ConfigError::Network(format!(
            "--network netns: {why}; use --network proxy or auto"
        ))),
        (_, None) => Ok((NetworkMode::Netns, "netns (auto: root, ip, nft and tc present)".into())),
        (_, Some(why)) => Ok((NetworkMode::Proxy, format!("proxy (auto: no namespaces: {why})"))),
    }
}

fn configure(args: &ChaosArgs) -> Result<(ChaosConfig, String), ConfigError> {
    let target = if args.target == "etcd" { Target::Etcd } else { Target::Detcd };
    let (network, why) = network(&args.network)?;
    let cfg = ChaosConfig {
        target,
        members: config::check_members(args.members)?,
        duration: config::parse_duration(&args.duration)?,
        faults: config::parse_faults(&args.faults)?,
        seed: args.seed,
        clients: config::check_clients(args.clients)?,
        out: args.out.clone().unwrap_or_else(|| {
            PathBuf::from("detcd-out").join(format!("chaos-{}-{}", target.name(), args.seed))
        }),
        server: server(target)?,
        network,
    };
    Ok((cfg, why))
}

pub fn run(args: ChaosArgs) -> ExitCode {
    let (cfg, network) = match configure(&args) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("detcd chaos: {e}");
            return ExitCode::from(2);
        }
    };
    let progress = |line: &str| eprintln!("detcd chaos: {line}");
    progress(&format!("network: {network}"));
    let report = match detcd_chaos::run(&cfg, &progress) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("detcd chaos: {e}");
            return ExitCode::from(3);
        }
    };
    if let Some(path) = &args.html {
        let checker = cfg.out.join("checker-report.html");
        let link = std::fs::canonicalize(&checker).ok().map(|p| p.display().to_string());
        if let Err(e) = std::fs::write(path, report.to_html(link.as_deref())) {
            eprintln!("detcd chaos: cannot write {}: {e}", path.display());
            return ExitCode::from(3);
        }
    }
    if args.json {
        println!("{}", report.to_json());
    } else {
        print!("{}", report.to_text());
    }
    if report.passed() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
