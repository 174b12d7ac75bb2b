//! Running the plan: jobs (one test, or a batch of one binary's tests), the worker pool that
//! runs them N at a time within the test groups' limits, and the retries of a test.
//!
//! What does not belong here: spawning and watching a child (that is `process`) and formatting
//! anything for people (`report`); this stage only emits events.

pub mod batch;
mod chunks;
pub mod groups;
pub mod jobs;
pub mod logs;
pub mod pass;
pub mod pool;
mod queue;
pub mod single;
