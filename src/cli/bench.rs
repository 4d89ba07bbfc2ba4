//! `detcd bench`: a load generator for etcd v3 endpoints (detcd's or etcd's).

use detcd_node::bench::BenchArgs;
use std::process::ExitCode;

pub fn run(args: BenchArgs) -> ExitCode {
    let cfg = match args.validate() {
        Ok(cfg) => cfg,
        Err(e) => {
            eprintln!("detcd bench: {e}");
            return ExitCode::from(2);
        }
    };
    let json = cfg.json;
    match detcd_node::bench::run_blocking(cfg) {
        Ok(summary) if json => {
            println!("{}", summary.to_json());
            ExitCode::SUCCESS
        }
        Ok(summary) => {
            print!("{}", summary.to_text());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("detcd bench: {e}");
            ExitCode::FAILURE
        }
    }
}
