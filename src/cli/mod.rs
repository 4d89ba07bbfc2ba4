//! One module per subcommand: its argument types and thin glue to the library crates.

pub mod check;
pub mod scenarios;
