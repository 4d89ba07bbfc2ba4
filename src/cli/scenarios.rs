//! `detcd scenarios`: the built-in library, one line each; one built-in's TOML as a
//! template (`--show`); the file format explained field by field (`--format`).

use super::load::{bad_input, unknown_scenario};
use clap::Args;
use std::process::ExitCode;

#[derive(Args, Debug)]
#[command(after_help = "Examples:
  detcd scenarios                                  the library, one line each
  detcd scenarios --show leader-isolation > my.toml   a built-in as a template
  detcd scenarios --format                         every field of a scenario file
  detcd sim ./my.toml --seeds 20                   run your own")]
pub struct ScenariosArgs {
    /// Print this built-in scenario's TOML file, e.g. `--show crash-restart`.
    #[arg(long, value_name = "NAME", conflicts_with = "format")]
    pub show: Option<String>,
    /// Explain every table and field of the scenario format, with defaults.
    #[arg(long)]
    pub format: bool,
}

pub fn run(args: ScenariosArgs) -> ExitCode {
    if args.format {
        print!("{}", detcd_scenarios::FORMAT_GUIDE);
        return ExitCode::SUCCESS;
    }
    if let Some(name) = &args.show {
        return match detcd_scenarios::builtin_toml(name) {
            Some(toml) => {
                print!("{toml}");
                ExitCode::SUCCESS
            }
            None => bad_input(&unknown_scenario(name)),
        };
    }
    let scenarios = detcd_scenarios::builtins();
    let width = scenarios.iter().map(|s| s.name.len()).max().unwrap_or(0);
    for s in &scenarios {
        let expect = match &s.expect {
            detcd_scenarios::Expect::Pass => String::new(),
            other => format!(" [expect {other}]"),
        };
        println!("{:width$}  {}{expect}", s.name, s.description);
    }
    ExitCode::SUCCESS
}
