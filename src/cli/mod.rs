//! One module per subcommand (its argument types and thin glue to the library crates),
//! plus what they share.

pub mod bench;
pub mod chaos;
pub mod check;
pub mod load;
pub mod replay;
pub mod scenarios;
pub mod serve;
pub mod shrink;
pub mod sim;
