//! What the worker pool runs: one test in its own process, or a chunk of one binary's tests
//! (batched mode), and which binaries are batched.

use std::time::Duration;

use super::chunks;
use super::groups::Constraint;
use super::pool::PoolJob;
use crate::cli::RunConfig;
use crate::model::{Invocation, TestCase};
use crate::plan::history::History;
use crate::plan::order::Order;
use crate::plan::Plan;
use crate::report::event::{RunMode, TestId};

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
        if config.batch_all || !config.batch_rules.is_empty() {
            BatchChoice::Configured
        } else {
            BatchChoice::Never
        }
    }

    fn batches(self, config: &RunConfig, binary_id: &str) -> bool {
        // A `batch = false` table opts a binary out even under `--batch`.
        let table = config
            .batch_rules
            .iter()
            .find(|rule| binary_id.contains(rule.filter.as_str()))
            .map(|rule| rule.batched);
        match self {
            BatchChoice::Never => false,
            BatchChoice::Always => table != Some(false),
            BatchChoice::Configured => table.unwrap_or(config.batch_all),
        }
    }
}

/// What the pool runs: one test in its own process (with its test group's constraint), or a
/// chunk of one binary's tests (never in a group: grouped tests are not batched).
#[derive(Debug)]
pub enum Job {
    Single(TestCase, Constraint),
    Batch(Vec<TestCase>),
}

impl Job {
    fn cases(&self) -> &[TestCase] {
        match self {
            Job::Single(case, _) => std::slice::from_ref(case),
            Job::Batch(chunk) => chunk,
        }
    }
}

impl PoolJob for Job {
    fn test_ids(&self) -> Vec<TestId> {
        self.cases().iter().map(TestCase::id).collect()
    }

    fn constraint(&self) -> Constraint {
        match self {
            Job::Single(_, constraint) => *constraint,
            Job::Batch(_) => Constraint::FREE,
        }
    }
}

/// Turn the ordered selection into jobs. Tests of batched binaries go into chunks, except
/// whole-binary harnesses and tests in a config group (their limits are per test).
pub fn make_jobs(config: &RunConfig, plan: &Plan, batch: BatchChoice, workers: usize) -> Vec<Job> {
    let mut batched = Vec::new();
    let mut singles = Vec::new();
    for case in &plan.to_run {
        let constraint = config.groups.constraint(&case.binary.id, &case.name);
        let batches = case.invocation == Invocation::Libtest
            && constraint.group.is_none()
            && batch.batches(config, &case.binary.id);
        if batches {
            batched.push(case.clone());
        } else {
            singles.push(Job::Single(case.clone(), constraint));
        }
    }
    let chunks = chunks::chunk(batched, workers, &plan.history);
    let mut jobs: Vec<Job> = chunks.into_iter().map(Job::Batch).collect();
    jobs.extend(singles);
    if config.order == Order::Auto && jobs.iter().any(|j| matches!(j, Job::Batch(_))) {
        order_by_cost(&mut jobs, &plan.history);
    }
    jobs
}

/// Under the default order, place every job by its expected cost, longest first, with jobs
/// holding a test that failed last time first of all and unknown singles next, as in the
/// process-per-test order.
fn order_by_cost(jobs: &mut [Job], history: &History) {
    let cost = |job: &Job| -> Option<Duration> {
        match job {
            Job::Single(case, _) => history.expected(&case.id()),
            Job::Batch(chunk) => chunk
                .iter()
                .map(|case| history.expected_batched(&case.id()))
                .sum(),
        }
    };
    let failed = |job: &Job| {
        job.cases()
            .iter()
            .any(|case| history.failed_last_time(&case.id()))
    };
    // Stable: singles keep their order among equals.
    jobs.sort_by_cached_key(|job| match (failed(job), cost(job), job) {
        (true, _, _) => (0, Duration::ZERO),
        (false, None, Job::Single(..)) => (1, Duration::ZERO),
        (false, None, Job::Batch(_)) => (2, Duration::ZERO),
        (false, Some(cost), _) => (2, Duration::MAX - cost),
    });
}

/// How these jobs run their tests, for the report.
pub fn run_mode(jobs: &[Job]) -> RunMode {
    let batched = jobs.iter().any(|j| matches!(j, Job::Batch(_)));
    let single = jobs.iter().any(|j| matches!(j, Job::Single(..)));
    match (batched, single) {
        (true, true) => RunMode::Mixed,
        (true, false) => RunMode::Batch,
        _ => RunMode::Process,
    }
}
