//! One module per subcommand.

pub mod scenarios;
