//! One module per subcommand, plus what they share.

pub mod load;
pub mod replay;
pub mod scenarios;
pub mod shrink;
pub mod sim;
