//! Test-only processes for exercising the world.

#![allow(dead_code)]

pub mod pinger;
