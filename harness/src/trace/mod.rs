//! Traced runs: capturing events, the human step log, and the HTML time line.

pub mod capture;
pub mod marks;
pub mod steplog;
pub mod timeline;
pub mod traced;
