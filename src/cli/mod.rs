//! The subcommands' argument types and their thin glue to the library crates.

pub mod check;
