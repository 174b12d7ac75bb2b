//! The command line and the config file, turned into one checked [`RunConfig`].
//!
//! What belongs here: clap types (only in `args`), the config file and its profiles, and the
//! resolution of both into plain settings. Nothing outside this folder sees clap or TOML (the
//! `toml` crate serves the config file and the cargo manifests read here); the rest of runner
//! reads an [`Invocation`]. cargo's own config files, read for the target runner, are TOML too
//! and read here.

mod args;
mod cargo_config;
mod config;
mod config_errors;
mod config_file;
mod config_scripts;
mod doc_check;
mod explain;
mod invocation;
mod launching;
mod levels;
mod loading;
mod manifest;
mod overrides;
mod partition;
mod settings;
mod setup;

pub use config::*;
pub use config_file::{suggest, GroupSpec};
pub use explain::{duration as show_duration, Row};
pub use invocation::{parse, Invocation, TimingsFrom};
pub use manifest::targets_without_harness;
pub use overrides::{Overrides, PerTest};
pub use settings::*;
#[cfg(test)]
pub use setup::ScriptScope;
pub use setup::{SetupConfig, SetupScript};
