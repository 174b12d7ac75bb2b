//! Showing a run: the events the run stage emits (the only thing it shares with this stage),
//! the summary folded from them, rerun commands, and the reporters (human, JSON, JUnit, GitHub,
//! the HTML timeline and the Chrome trace) plus `runner list`'s listing and `runner predict`'s
//! table.
//!
//! What belongs here: everything that formats or writes what a run did. What does not: deciding
//! or running anything; reporters only consume events and never drive the run.

mod chrome_trace;
mod escape;
pub mod event;
mod figures;
mod github;
mod human;
pub mod isolation;
mod json;
mod junit;
mod listing;
mod outcome;
mod panic_text;
mod prediction;
mod reporters;
pub mod rerun;
mod result;
mod script;
mod show_config;
pub mod summary;
mod timeline;

pub use github::GithubReporter;
pub use human::{HumanOptions, HumanReporter, OutputBounds};
pub use json::JsonReporter;
pub use junit::{
    merge as merge_junit, read_durations as junit_durations, JunitReporter, MergeError,
};
pub use listing::{print_listing, print_no_run};
pub use prediction::print_prediction;
pub use reporters::{Reporter, Reporters};
pub use show_config::{print_config, print_test_config};
pub use timeline::{from_saved_stream as timeline_from_saved_stream, Pictures, TimelineReporter};
