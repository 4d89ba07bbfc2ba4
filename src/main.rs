//! The `detcd` command line. Only argument parsing and dispatch live here; the work is
//! done by the library crates.

mod cli;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

/// detcd: an etcd-compatible, simulation-tested consensus store.
#[derive(Parser, Debug)]
#[command(name = "detcd", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
    /// Run with a hand-written core mutant (a deliberate bug), e.g. `vote-before-durable`;
    /// see scripts/mutants-hand. Only in builds with `--features mutants`.
    #[cfg(feature = "mutants")]
    #[arg(long, global = true, value_parser = parse_mutant)]
    mutant: Option<detcd_core::mutants::Mutant>,
}

#[cfg(feature = "mutants")]
fn parse_mutant(name: &str) -> Result<detcd_core::mutants::Mutant, String> {
    detcd_core::mutants::Mutant::from_name(name).ok_or_else(|| {
        let names: Vec<&str> = detcd_core::mutants::Mutant::ALL.iter().map(|m| m.name()).collect();
        format!("no mutant called `{name}`; there are: {}", names.join(", "))
    })
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Check a history for linearizability: exit 0 linearizable, 1 not, 3 unknown, 2 bad input.
    Check(cli::check::CheckArgs),
    /// List the built-in scenarios, show one as a template, or explain the format.
    Scenarios(cli::scenarios::ScenariosArgs),
    /// Run scenarios in the simulator over many seeds and check every run.
    Sim(cli::sim::SimArgs),
    /// Run one scenario at one seed again, exactly as `sim` ran it, and show it.
    Replay(cli::replay::ReplayArgs),
    /// Cut a failing run down to a smaller scenario that still fails.
    Shrink(cli::shrink::ShrinkArgs),
    /// Run a real etcd member (etcd's flags, gRPC API, durable data dir).
    Serve(Box<detcd_node::flags::ServeArgs>),
    /// Load etcd v3 endpoints (detcd's or etcd's) with puts or ranges and report latencies.
    Bench(detcd_node::bench::BenchArgs),
    /// Fault-test a real cluster (detcd's or etcd's) on this machine and check its history.
    Chaos(cli::chaos::ChaosArgs),
}

/// Output piped into `head` or `less` that closes early should end the program quietly,
/// as it does any Unix tool, instead of a panic on the broken pipe. Not for the network
/// commands: a peer closing a socket mid-write would kill a server silently, where it
/// must see the error and drop that connection alone.
fn restore_default_sigpipe() {
    #[cfg(unix)]
    // SAFETY: called in main before any other thread exists (argument parsing starts
    // none); setting a signal's disposition to its default has no other effect.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    #[cfg(feature = "mutants")]
    detcd_core::mutants::select(cli.mutant);
    if !matches!(cli.command, Command::Serve(_) | Command::Bench(_) | Command::Chaos(_)) {
        restore_default_sigpipe();
    }
    match cli.command {
        Command::Check(args) => cli::check::run(args),
        Command::Scenarios(args) => cli::scenarios::run(args),
        Command::Sim(args) => cli::sim::run(args),
        Command::Replay(args) => cli::replay::run(args),
        Command::Shrink(args) => cli::shrink::run(args),
        Command::Serve(args) => cli::serve::run(*args),
        Command::Bench(args) => cli::bench::run(args),
        Command::Chaos(args) => cli::chaos::run(args),
    }
}
