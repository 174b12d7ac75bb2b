//! What the worker pool runs: one test in its own process, or a chunk of one binary's tests
//! (batched mode), and which binaries are batched.

use std::time::Duration;

use super::chunks;
use crate::cli::RunConfig;
use crate::model::{Invocation, TestCase};
use crate::plan::order::Order;
use crate::plan::Plan;
use crate::report::event::TestId;

/// Which binaries run batched in a pass.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BatchChoice {
    /// As the flags and config file say.
    Configured,
    Always,
    Never,
}

impl BatchChoice {
    pub fn from_config(config: &RunConfig) -> Self {
        if config.batch_all || !config.batch_binaries.is_empty() {
            BatchChoice::Configured
        } else {
            BatchChoice::Never
        }
    }

    fn batches(self, config: &RunConfig, binary_id: &str) -> bool {
        // A `batch = false` table opts a binary out even under `--batch`.
        let table = config
            .batch_binaries
            .iter()
            .find(|(filter, _)| binary_id.contains(filter.as_str()))
            .map(|(_, batched)| *batched);
        match self {
            BatchChoice::Never => false,
            BatchChoice::Always => table != Some(false),
            BatchChoice::Configured => table.unwrap_or(config.batch_all),
        }
    }
}

/// What the pool runs: one test in its own process, or a chunk of one binary's tests.
#[derive(Debug)]
pub enum Job {
    Single(TestCase),
    Batch(Vec<TestCase>),
}

impl Job {
    pub fn ids(&self) -> Vec<TestId> {
        match self {
            Job::Single(case) => vec![case.id()],
            Job::Batch(chunk) => chunk.iter().map(TestCase::id).collect(),
        }
    }

    fn cases(&self) -> &[TestCase] {
        match self {
            Job::Single(case) => std::slice::from_ref(case),
            Job::Batch(chunk) => chunk,
        }
    }
}

/// Turn the ordered selection into jobs. Tests of batched binaries go into chunks, except
/// whole-binary harnesses and tests in a config group (their limits are per test). Under the
/// default order every job is placed by its expected cost, longest first, with unknown singles
/// first of all, as in the process-per-test order.
pub fn make_jobs(config: &RunConfig, plan: &Plan, batch: BatchChoice, workers: usize) -> Vec<Job> {
    let (batched, single): (Vec<&TestCase>, Vec<&TestCase>) =
        plan.to_run.iter().partition(|case| {
            case.invocation == Invocation::Libtest
                && config
                    .groups
                    .constraint(&case.binary.id, &case.name)
                    .group
                    .is_none()
                && batch.batches(config, &case.binary.id)
        });
    let chunks = chunks::chunk(
        batched.into_iter().cloned().collect(),
        workers,
        &plan.history,
    );
    let mut jobs: Vec<Job> = chunks.into_iter().map(Job::Batch).collect();
    jobs.extend(single.into_iter().cloned().map(Job::Single));
    if config.order == Order::Auto && jobs.iter().any(|j| matches!(j, Job::Batch(_))) {
        let cost = |job: &Job| -> Option<Duration> {
            match job {
                Job::Single(case) => plan.history.expected(&case.id()),
                Job::Batch(chunk) => chunk
                    .iter()
                    .map(|case| plan.history.expected_batched(&case.id()))
                    .sum(),
            }
        };
        let failed = |job: &Job| {
            job.cases()
                .iter()
                .any(|case| plan.history.failed_last_time(&case.id()))
        };
        // Stable: singles keep their order among equals.
        jobs.sort_by_cached_key(|job| match (failed(job), cost(job), job) {
            (true, _, _) => (0, Duration::ZERO),
            (false, None, Job::Single(_)) => (1, Duration::ZERO),
            (false, None, Job::Batch(_)) => (2, Duration::ZERO),
            (false, Some(cost), _) => (2, Duration::MAX - cost),
        });
    }
    jobs
}

/// `process`, `batch`, or `mixed`, for the report.
pub fn run_mode(jobs: &[Job]) -> &'static str {
    let batched = jobs.iter().any(|j| matches!(j, Job::Batch(_)));
    let single = jobs.iter().any(|j| matches!(j, Job::Single(_)));
    match (batched, single) {
        (true, true) => "mixed",
        (true, false) => "batch",
        _ => "process",
    }
}
