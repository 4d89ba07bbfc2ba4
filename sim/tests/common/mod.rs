//! Test-only processes for exercising the world and its checkers.

#![allow(dead_code)]

pub mod faulty;
pub mod json_trace;
pub mod pinger;
