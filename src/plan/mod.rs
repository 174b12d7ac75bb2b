//! Everything decided before a test runs: which binaries exist (discover), which tests they
//! hold (list), which the user selected (select), which this machine runs (partition), in
//! what order they start (order), how many workers `-n auto` runs (sizing), and the timing
//! history those decisions read, from which `runner predict` also predicts a run (predict).
//!
//! What does not belong here: starting tests (that is `run`) or showing anything (`report`).

mod compose;
pub mod discover;
mod doc_list;
mod doc_packages;
pub mod history;
mod list;
mod notes_seen;
pub mod order;
pub mod partition;
pub mod predict;
mod select;
pub mod sizing;

pub use compose::{save_history, Plan};
pub use select::check_filter_names;
