//! What the worker pool runs: one test in its own process, a chunk of one binary's tests
//! (batched mode), or a package's doctests; which binaries are batched; and the order jobs
//! start in when some hold many tests.

use std::collections::HashSet;
use std::time::Duration;

use super::chunks;
use super::doc_job::{self, DocJob};
use super::groups::Constraint;
use super::pool::PoolJob;
use crate::cli::RunConfig;
use crate::filter::TestFacts;
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
        if config.batch_all || !config.batch_rules.is_empty() || config.overrides.sets_batch() {
            BatchChoice::Configured
        } else {
            BatchChoice::Never
        }
    }

    fn batches(self, config: &RunConfig, case: &TestCase) -> bool {
        // A `batch = false` override or table opts a test out even under `--batch`.
        let own = config.overrides.for_case(case);
        // A chunk runs under the run's limits: a test with limits of its own runs alone.
        if own.timeout.is_some()
            || own.slow_timeout.is_some()
            || own.timeout_grace.is_some()
            || own.leak_timeout.is_some()
        {
            return false;
        }
        let facts = TestFacts::of(case, None);
        let table = own.batch.or_else(|| {
            config
                .batch_rules
                .iter()
                .find(|rule| rule.filter.matches(&facts))
                .map(|rule| rule.batched)
        });
        match self {
            BatchChoice::Never => false,
            BatchChoice::Always => table != Some(false),
            BatchChoice::Configured => table.unwrap_or(config.batch_all),
        }
    }
}

/// What the pool runs: one test in its own process (with its test group's constraint), a
/// chunk of one binary's tests (never in a group: grouped tests are not batched), or the
/// doctests of one package (one worker slot, though rustdoc runs them on several threads).
#[derive(Debug)]
pub enum Job {
    Single(TestCase, Constraint),
    Batch(Vec<TestCase>),
    Doctests(DocJob),
}

impl Job {
    fn cases(&self) -> &[TestCase] {
        match self {
            Job::Single(case, _) => std::slice::from_ref(case),
            Job::Batch(chunk) => chunk,
            Job::Doctests(job) => &job.cases,
        }
    }
}

impl Job {
    /// The job less the tests in `done` (run already, while cargo was building); `None` when
    /// none is left.
    pub fn without(self, done: &HashSet<TestId>) -> Option<Job> {
        let left = |case: &TestCase| !done.contains(&case.id());
        match self {
            Job::Single(case, constraint) => left(&case).then_some(Job::Single(case, constraint)),
            Job::Batch(chunk) => {
                let chunk: Vec<TestCase> = chunk.into_iter().filter(left).collect();
                (!chunk.is_empty()).then_some(Job::Batch(chunk))
            }
            // Doctests need the whole build: they never run early.
            Job::Doctests(job) => Some(Job::Doctests(job)),
        }
    }

    /// How many workers the job can keep busy: rustdoc runs a package's doctests on several
    /// threads.
    pub fn parallelism(&self) -> usize {
        match self {
            Job::Doctests(job) => job.threads.min(job.cases.len()).max(1),
            Job::Single(..) | Job::Batch(_) => 1,
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
            Job::Batch(_) | Job::Doctests(_) => Constraint::FREE,
        }
    }
}

/// Turn the ordered selection into jobs. Tests of batched binaries go into chunks, except
/// whole-binary harnesses and tests in a config group (their limits are per test); doctests go
/// into one job per package, which comes first unless the history knows a longer job.
pub fn make_jobs(config: &RunConfig, plan: &Plan, batch: BatchChoice, workers: usize) -> Vec<Job> {
    let mut batched = Vec::new();
    let mut singles = Vec::new();
    let mut doctests = Vec::new();
    for case in &plan.to_run {
        if case.invocation == Invocation::Doctest {
            doctests.push(case.clone());
            continue;
        }
        let constraint = config.constraint(case);
        // A test that needs setup scripts gets their exports in its own environment.
        let batches = case.invocation == Invocation::Libtest
            && constraint.group.is_none()
            && constraint.slots == 1
            && batch.batches(config, case)
            && config
                .setup
                .scripts_for(&TestFacts::of(case, None))
                .is_empty();
        if batches {
            batched.push(case.clone());
        } else {
            singles.push(Job::Single(case.clone(), constraint));
        }
    }
    let doc_jobs = doc_job::doc_jobs(doctests, config, plan, workers);
    let mut jobs: Vec<Job> = doc_jobs.into_iter().map(Job::Doctests).collect();
    let chunks = chunks::chunk(batched, workers, &plan.history);
    jobs.extend(chunks.into_iter().map(Job::Batch));
    jobs.extend(singles);
    if config.order == Order::Auto && jobs.iter().any(|j| !matches!(j, Job::Single(..))) {
        order_by_cost(&mut jobs, &plan.history);
    }
    jobs
}

/// Under the default order, place every job by its expected cost, longest first, with jobs
/// holding a test that failed last time first of all and unknown singles next, as in the
/// process-per-test order. A doctest job of unknown cost goes with the unknown singles, ahead
/// of them (it is likely the longest job of the run).
fn order_by_cost(jobs: &mut [Job], history: &History) {
    let cost = |job: &Job| -> Option<Duration> {
        match job {
            Job::Single(case, _) => history.expected(&case.id()),
            Job::Batch(chunk) => chunk
                .iter()
                .map(|case| history.expected_batched(&case.id()))
                .sum(),
            Job::Doctests(job) => job.expected_cost(history),
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
        (false, None, Job::Single(..) | Job::Doctests(_)) => (1, Duration::ZERO),
        (false, None, Job::Batch(_)) => (2, Duration::ZERO),
        (false, Some(cost), _) => (2, Duration::MAX - cost),
    });
}

/// How these jobs run their tests, for the report. Doctests count as batched: rustdoc runs a
/// package's doctests together.
pub fn run_mode(jobs: &[Job]) -> RunMode {
    let batched = jobs
        .iter()
        .any(|j| matches!(j, Job::Batch(_) | Job::Doctests(_)));
    let single = jobs.iter().any(|j| matches!(j, Job::Single(..)));
    match (batched, single) {
        (true, true) => RunMode::Mixed,
        (true, false) => RunMode::Batch,
        _ => RunMode::Process,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{TargetKind, TestBinary};
    use crate::plan::history::Observation;
    use std::collections::HashSet;
    use std::sync::Arc;

    fn case(binary: &str, kind: TargetKind, name: &str) -> TestCase {
        let invocation = match kind {
            TargetKind::Doc => Invocation::Doctest,
            _ => Invocation::Libtest,
        };
        let binary = Arc::new(TestBinary {
            id: binary.into(),
            path: "/b".into(),
            package: Some("p".into()),
            target_name: "p".into(),
            kind,
            cwd: "/".into(),
            env: Default::default(),
            custom_harness: false,
        });
        TestCase {
            binary,
            name: name.into(),
            ignored: false,
            invocation,
        }
    }

    fn jobs() -> Vec<Job> {
        let docs = ["src/lib.rs - f (line 1)", "src/lib.rs - g (line 9)"];
        let doc = DocJob {
            cases: docs
                .iter()
                .map(|n| case("p::doc/p", TargetKind::Doc, n))
                .collect(),
            listed: docs.iter().map(|n| n.to_string()).collect(),
            threads: 2,
            build: Vec::new(),
            include_ignored: false,
        };
        let single = |name| Job::Single(case("p", TargetKind::Lib, name), Constraint::FREE);
        vec![Job::Doctests(doc), single("long"), single("short")]
    }

    fn names(jobs: &[Job]) -> Vec<&str> {
        jobs.iter()
            .map(|job| match job {
                Job::Doctests(_) => "doc",
                other => other.cases()[0].name.as_str(),
            })
            .collect()
    }

    fn observe(binary_id: &str, name: &str, secs: u64) -> Observation {
        Observation::alone(
            TestId::new(binary_id, name),
            Duration::from_secs(secs),
            false,
        )
    }

    #[test]
    fn a_doctest_job_of_unknown_cost_starts_first() {
        let mut jobs = jobs();
        order_by_cost(&mut jobs, &History::default());
        assert_eq!(names(&jobs), ["doc", "long", "short"]);
    }

    #[test]
    fn a_doctest_job_of_known_cost_takes_its_place_longest_first() {
        let mut history = History::default();
        let observations = [
            observe("p", "long", 9),
            observe("p", "short", 1),
            observe("p::doc/p", "src/lib.rs - f (line 1)", 2),
            observe("p::doc/p", "src/lib.rs - g (line 9)", 2),
        ];
        history.record(&observations, &HashSet::new());
        // Without its own cost the job's cost is unknown: it stays first.
        let mut unknown = jobs();
        order_by_cost(&mut unknown, &history);
        assert_eq!(names(&unknown), ["doc", "long", "short"]);
        // 3 s of its own and (2 + 2) / 2 s of doctests: 5 s, between the two tests.
        let own = observe("p::doc/p", crate::rustdoc::JOB_COST_NAME, 3);
        history.record(&[own], &HashSet::new());
        let mut known = jobs();
        order_by_cost(&mut known, &history);
        assert_eq!(names(&known), ["long", "doc", "short"]);
        let Job::Doctests(doc) = &known[1] else {
            unreachable!()
        };
        assert_eq!(doc.expected_cost(&history), Some(Duration::from_secs(5)));
        assert_eq!(known[1].parallelism(), 2);
    }

    #[test]
    fn a_job_loses_the_tests_run_early() {
        let lib = |name| case("p", TargetKind::Lib, name);
        let done: HashSet<TestId> = [lib("a").id(), lib("b").id()].into_iter().collect();
        let chunk = Job::Batch(vec![lib("a"), lib("c"), lib("b")]);
        let left = chunk.without(&done).expect("c is left");
        assert_eq!(left.test_ids(), [lib("c").id()]);
        assert!(Job::Batch(vec![lib("a")]).without(&done).is_none());
        assert!(Job::Single(lib("b"), Constraint::FREE)
            .without(&done)
            .is_none());
        let single = Job::Single(lib("c"), Constraint::FREE).without(&done);
        assert_eq!(single.map(|job| job.test_ids()), Some(vec![lib("c").id()]));
    }
}
