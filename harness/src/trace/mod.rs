//! Traced runs: capturing events, the human step log, and the HTML time line.

pub mod capture;
pub mod timeline;
