//! Everything decided before a test runs: which binaries exist (discover; metadata_cache keeps
//! `cargo metadata`'s answer while the manifests are unchanged), which tests they hold (list;
//! list_cache for binaries that have not changed since), which the user selected (select),
//! which this machine runs (partition), in what order they start (order), how many workers
//! `-n auto` runs (sizing), and the timing history those decisions read, from which `runner
//! predict` also predicts a run (predict); and the archives that carry built binaries to
//! machines without cargo (archive). For a run that starts tests while cargo still builds,
//! stream hands over each binary as cargo reports it and wave plans the tests of the binaries
//! built so far.
//!
//! What does not belong here: starting tests (that is `run`) or showing anything (`report`).

pub mod archive;
mod compose;
pub mod discover;
mod doc_list;
mod doc_packages;
pub mod history;
mod list;
mod list_cache;
mod metadata_cache;
mod notes_seen;
pub mod order;
pub mod partition;
pub mod predict;
mod select;
pub mod sizing;
pub mod stream;
pub mod wave;

pub use compose::{load_history, save_history, Plan};
pub use select::check_filter_names;
