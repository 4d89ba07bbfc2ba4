//! `detcd serve`: one etcd member, configured with etcd's own flags.

use detcd_node::flags::{LogLevel, LogOutput, ServeArgs};
use std::process::ExitCode;

pub fn run(args: ServeArgs) -> ExitCode {
    let cfg = match args.validate() {
        Ok(cfg) => cfg,
        Err(e) => {
            eprintln!("detcd serve: {e}");
            return ExitCode::from(2);
        }
    };
    let level = match cfg.log_level {
        LogLevel::Debug => tracing::Level::DEBUG,
        LogLevel::Info => tracing::Level::INFO,
        LogLevel::Warn => tracing::Level::WARN,
        LogLevel::Error => tracing::Level::ERROR,
    };
    let to_stdout = cfg.log_outputs.iter().any(|o| matches!(o, LogOutput::Stdout));
    let builder =
        tracing_subscriber::fmt().with_max_level(level).with_target(false).with_ansi(false);
    if to_stdout {
        builder.with_writer(std::io::stdout).init();
    } else {
        builder.with_writer(std::io::stderr).init();
    }
    match detcd_node::server::run_blocking(cfg) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e}");
            eprintln!("detcd serve: {e}");
            ExitCode::FAILURE
        }
    }
}
