//! Running the plan: jobs (one test, a batch of one binary's tests, or a package's doctests),
//! the worker pool that runs them N at a time within the test groups' limits, and the retries
//! of a test; in an overlapped run, the tests run early while cargo still builds (early).
//!
//! What does not belong here: spawning and watching a child (that is `process`) and formatting
//! anything for people (`report`); this stage only emits events. Its insides (the pool's
//! queue, the chunking, the batch reader) are private to it.

mod backtraces;
mod batch;
mod chunks;
mod doc_job;
mod doctest;
mod early;
pub mod groups;
mod jobs;
mod log_pipe;
pub mod logs;
mod pass;
mod pool;
mod queue;
mod setup;
mod single;

pub use backtraces::QuietBacktraces;
pub use early::Early;
pub use jobs::BatchChoice;
pub use pass::{run_pass, Pass, PassContext, PassOutcome};
pub use setup::SetupRun;
pub use single::TestSettings;
