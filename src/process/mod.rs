//! The operating system's side of a test: spawning a child in its own process group, capturing
//! its output within bounds, timeouts, signals to and from the runner, processes that escape
//! their test, and the runner's own resource usage.
//!
//! What does not belong here: what a test is or how its outcome is judged (that is `run` and
//! `libtest`).

mod capture;
mod child;
pub mod control;
mod orphans;
pub mod signals;
mod usage;

#[cfg(test)]
pub use capture::Captured;
pub use child::*;
pub use orphans::{become_subreaper, kill_orphans};
pub use usage::{mark_start, own_usage};
