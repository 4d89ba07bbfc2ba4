//! `detcd scenarios`: the built-in library, one line each.

use std::process::ExitCode;

pub fn run() -> ExitCode {
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
