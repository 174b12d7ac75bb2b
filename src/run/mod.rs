//! Running the plan: jobs (one test, or a batch of one binary's tests), the worker pool that
//! runs them N at a time within the test groups' limits, and the retries of a test.
//!
//! What does not belong here: spawning and watching a child (that is `process`) and formatting
//! anything for people (`report`); this stage only emits events. Its insides (the pool's
//! queue, the chunking, the batch reader) are private to it.

mod batch;
mod chunks;
pub mod groups;
mod jobs;
pub mod logs;
mod pass;
mod pool;
mod queue;
mod single;

pub use jobs::BatchChoice;
pub use pass::{run_pass, Pass, PassOutcome};
pub use single::TestSettings;
