//! Traced runs: capturing events, the human step log, and the HTML time line.

pub mod capture;
