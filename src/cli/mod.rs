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

/// Exit status of `detcd sim` and `detcd replay` when no run failed but some went over
/// their budget (events, pending events, history length, checker steps or memory): the
/// build may be broken in a way that makes runs pathological, so it is not a pass.
pub const EXIT_BUDGET: u8 = 4;
