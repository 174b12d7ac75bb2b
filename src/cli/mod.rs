//! The command line and the config file, turned into one checked [`RunConfig`].
//!
//! What belongs here: clap types (only in `args`), the config file and its profiles, and the
//! resolution of both into plain settings. Nothing after this stage sees clap or TOML.

mod args;
mod config;
mod config_file;

pub use args::{write_completions, Cli, Command};
pub use config::*;
pub use config_file::{targets_without_harness, GroupSpec};
