//! The command line and the config file, turned into one checked [`RunConfig`].
//!
//! What belongs here: clap types (only in `args`), the config file and its profiles, and the
//! resolution of both into plain settings. Nothing outside this folder sees clap or the
//! config file's TOML; the rest of runner reads an [`Invocation`].

mod args;
mod config;
mod config_file;
mod invocation;

pub use config::*;
pub use config_file::{targets_without_harness, GroupSpec};
pub use invocation::{parse, Invocation};
