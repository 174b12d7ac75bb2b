//! The operating system's side of a test: spawning a child in its own process group, capturing
//! its output within bounds, timeouts, signals to and from the runner, processes that escape
//! their test, and the runner's own resource usage. The only stage that calls the process API.
//!
//! What does not belong here: what a test is or how its outcome is judged (that is `run` and
//! `libtest`). `Captured` and the pipes stay private: other stages see finished text.

mod capture;
mod child;
pub mod control;
mod deadlines;
mod orphans;
mod reap;
mod script;
pub mod signals;
mod spawn;
pub mod tracking;
mod usage;
mod watchdog;

#[cfg(test)]
pub use capture::Captured;
pub use child::{run, Finished, Hooks, Limits};
pub use orphans::{become_subreaper, kill_orphans, reap_in_background};
pub use reap::{signal_name, Exit};
pub use script::{end_leftovers, run_script, Leftovers};
pub use spawn::OutputMode;
pub use usage::{available_memory_kib, mark_start, own_usage, raise_open_file_limit};
pub use watchdog::start as start_watchdog;
