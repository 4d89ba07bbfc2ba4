//! Naming a scenario on the command line: a built-in name, or a path to a TOML file.
//! Also the exit code for bad input, shell quoting for printed commands, and the parser
//! for seeds and counts.

use detcd_scenarios::Scenario;
use std::process::ExitCode;

/// A scenario and the argument that names it (what a printed command repeats).
pub struct Loaded {
    pub scenario: Scenario,
    pub arg: String,
}

/// Resolves `arg`: a built-in scenario name first, else a scenario file.
pub fn load(arg: &str) -> Result<Loaded, String> {
    if let Some(scenario) = detcd_scenarios::builtin(arg) {
        return Ok(Loaded { scenario, arg: arg.to_string() });
    }
    let path = std::path::Path::new(arg);
    let looks_like_file = path.exists() || arg.contains('/') || arg.ends_with(".toml");
    if !looks_like_file {
        return Err(unknown_scenario(arg));
    }
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read scenario file {arg}: {e}"))?;
    let scenario = Scenario::from_toml(&text, arg).map_err(|e| e.to_string())?;
    Ok(Loaded { scenario, arg: arg.to_string() })
}

/// The error for a name that is neither a built-in nor a file, with the closest names.
pub fn unknown_scenario(arg: &str) -> String {
    let close = detcd_scenarios::suggest(arg);
    let hint = match close.as_slice() {
        [] => String::new(),
        [one] => format!("; did you mean {one}?"),
        [first, rest @ ..] => format!("; did you mean {first} (or {})?", rest.join(", ")),
    };
    format!(
        "unknown scenario {arg:?}: not a built-in scenario (list them with `detcd scenarios`) and no such file{hint}"
    )
}

/// Reports bad input (arguments, scenario files) and gives exit code 2.
pub fn bad_input(message: &str) -> ExitCode {
    eprintln!("error: {message}");
    ExitCode::from(2)
}

/// `text` as one shell word.
pub fn shell_word(text: &str) -> String {
    let plain = !text.is_empty()
        && text.chars().all(|c| c.is_ascii_alphanumeric() || "-_./:=+,@".contains(c));
    if plain {
        text.to_string()
    } else {
        format!("'{}'", text.replace('\'', r"'\''"))
    }
}

/// A duration in microseconds as seconds, for tables and logs.
pub fn secs(us: u64) -> String {
    format!("{:.1}s", us as f64 / 1e6)
}

/// Parses a whole number of 0 or more, refusing a sign or one too large with words
/// (clap's own messages for these say "invalid digit").
pub fn parse_count(text: &str) -> Result<u64, String> {
    let t = text.trim();
    if t.starts_with('-') {
        return Err(format!("{t} is negative: give a whole number of 0 or more"));
    }
    match t.parse::<u64>() {
        Ok(v) => Ok(v),
        Err(_) if !t.is_empty() && t.chars().all(|c| c.is_ascii_digit()) => {
            Err(format!("{t} is larger than the largest seed, {} (2^64 - 1)", u64::MAX))
        }
        Err(_) => Err(format!("{t:?} is not a whole number")),
    }
}
