//! Folds a run's events into counts, timings, the failure list and the exit code.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::cli::NoTests;
use crate::exit_code;
use crate::model::ListFailure;
use crate::report::event::{
    LongestTest, Outcome, PassLabel, RunMode, RunStats, TestEvent, TestId, Verdict,
};
use crate::report::panic_text::{panic_summary, PanicSummary};

/// A test that did not pass, as listed at the end of a run.
#[derive(Debug, Clone)]
pub struct Failure {
    pub id: TestId,
    pub outcome: Outcome,
    /// As [`crate::report::event::TestResult::label`]: FLAKY for a flaky pass that fails the run.
    pub label: &'static str,
    /// As [`crate::report::event::TestResult::describe`].
    pub description: String,
    pub rerun: Option<String>,
    /// Where it panicked and why, when its output says.
    pub panic: Option<PanicSummary>,
}

/// Everything known about a run once its events have been seen.
#[derive(Debug, Clone, Default)]
pub struct Summary {
    pub stats: RunStats,
    pub failures: Vec<Failure>,
    pub list_failures: Vec<ListFailure>,
    /// Tests not started because `-x`/`--maxfail` or a cancellation stopped the run.
    pub not_started: usize,
    /// Tests a cancellation interrupted while they ran, sorted: the report names them.
    pub interrupted: Vec<TestId>,
    /// Tests that passed only on a later attempt, with the attempt that passed.
    pub flaky: Vec<(TestId, u32)>,
    /// The runner failed internally on some test: exit code 1.
    pub internal_errors: usize,
    /// The signal that cancelled the run, if one did.
    pub cancelled_by: Option<i32>,
    /// What this run is called under `--compare`/`--compare-modes`.
    pub label: Option<PassLabel>,
    pub mode: RunMode,
    /// How each test ended, kept in the passes of a comparison only: tests whose outcome
    /// differs between passes are not isolated (see `isolation`).
    pub outcomes: BTreeMap<TestId, PassOutcome>,
}

/// How a test ended in one pass of a comparison.
#[derive(Debug, Clone)]
pub struct PassOutcome {
    pub failed: bool,
    pub label: &'static str,
    pub outcome: Outcome,
    pub rerun: Option<String>,
}

/// Every pass of a comparison, in the order they ran: the baselines (serial, or one process
/// per test) and the passes compared with them, one of each per `--runs`.
#[derive(Debug, Clone, Default)]
pub struct Passes {
    pub baselines: Vec<Summary>,
    pub compared: Vec<Summary>,
}

impl Summary {
    pub fn new(workers: usize) -> Self {
        Summary {
            stats: RunStats {
                workers,
                ..RunStats::default()
            },
            ..Summary::default()
        }
    }

    pub fn observe(&mut self, event: &TestEvent) {
        match event {
            TestEvent::ListFailed(failure) => self.list_failures.push(failure.clone()),
            TestEvent::TestFinished(result) => {
                // Every attempt's time counts: a serial run would spend it too.
                self.stats.summed += result.total_duration();
                let longer = self
                    .stats
                    .longest
                    .as_ref()
                    .is_none_or(|l| result.duration() > l.duration);
                if longer {
                    self.stats.longest = Some(LongestTest {
                        id: result.id.clone(),
                        duration: result.duration(),
                    });
                }
                if result.is_flaky() {
                    self.flaky.push((result.id.clone(), result.last().attempt));
                }
                if matches!(result.outcome(), Outcome::InternalError { .. }) {
                    self.internal_errors += 1;
                }
                if self.label.is_some() && result.verdict() != Verdict::Cancelled {
                    let outcome = PassOutcome {
                        failed: result.is_failure(),
                        label: result.label(),
                        outcome: result.outcome().clone(),
                        rerun: result.rerun.clone(),
                    };
                    self.outcomes.insert(result.id.clone(), outcome);
                }
                if result.verdict() == Verdict::Cancelled {
                    self.interrupted.push(result.id.clone());
                    self.stats.cancelled += 1;
                    self.stats.skipped += 1;
                } else if !result.is_failure() {
                    self.stats.passed += 1;
                } else {
                    self.stats.failed += 1;
                    self.failures.push(Failure {
                        id: result.id.clone(),
                        outcome: result.outcome().clone(),
                        label: result.label(),
                        description: result.describe(),
                        rerun: result.rerun.clone(),
                        panic: panic_summary(result.stderr())
                            .or_else(|| panic_summary(result.stdout())),
                    });
                }
            }
            TestEvent::TestSkipped { reason, .. } => {
                self.stats.skipped += 1;
                if *reason == crate::report::event::SkipReason::NotStarted {
                    self.not_started += 1;
                }
            }
            TestEvent::RunStarted { .. }
            | TestEvent::Note { .. }
            | TestEvent::TestRetry { .. }
            | TestEvent::TestStarted { .. }
            | TestEvent::TestSlow { .. }
            | TestEvent::SetupScriptStarted { .. }
            | TestEvent::SetupScriptFinished(_)
            | TestEvent::RunFinished(_) => {}
        }
    }

    /// Close the run: record its wall time and the runner's own CPU time and peak memory, and
    /// sort failures so logs diff cleanly.
    pub fn finish(&mut self, wall: Duration, (runner_cpu, peak_rss_kib): (Duration, u64)) {
        self.stats.wall = wall;
        self.stats.runner_cpu = runner_cpu;
        self.stats.peak_rss_kib = peak_rss_kib;
        self.failures.sort_by(|a, b| a.id.cmp(&b.id));
        self.flaky.sort();
        self.interrupted.sort();
        self.stats.flaky = self.flaky.len();
        self.list_failures.sort();
    }

    /// `Summary: 3 passed, 1 failed, 2 skipped`: the last line of the human report, which CI log
    /// scanners read.
    pub fn summary_line(&self) -> String {
        let stats = &self.stats;
        format!(
            "Summary: {} passed, {} failed, {} skipped\n",
            stats.passed, stats.failed, stats.skipped
        )
    }

    /// The documented exit code for this run.
    pub fn exit_code(&self, no_tests: NoTests) -> i32 {
        if self.internal_errors > 0 {
            exit_code::INTERNAL
        } else if self.stats.failed > 0 {
            exit_code::TEST_FAILED
        } else if !self.list_failures.is_empty() {
            exit_code::LIST_FAILED
        } else if self.stats.passed + self.stats.failed == 0 && no_tests == NoTests::Fail {
            exit_code::NO_TESTS
        } else {
            exit_code::OK
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::event::{SkipReason, TestResult};

    fn finished(name: &str, outcome: Outcome, ms: u64) -> TestEvent {
        let id = TestId {
            binary_id: "b".into(),
            name: name.into(),
        };
        TestEvent::TestFinished(TestResult::bare(id, outcome, Duration::from_millis(ms)))
    }

    #[test]
    fn counts_timings_and_sorted_failures() {
        let mut summary = Summary::new(2);
        summary.observe(&finished("z", Outcome::Failed { exit_code: 101 }, 300));
        summary.observe(&finished("a", Outcome::NoTestRan, 100));
        summary.observe(&finished("m", Outcome::Passed, 500));
        summary.observe(&TestEvent::TestSkipped {
            id: TestId {
                binary_id: "b".into(),
                name: "i".into(),
            },
            reason: SkipReason::Ignored,
        });
        summary.finish(Duration::from_millis(600), (Duration::ZERO, 0));
        assert_eq!(
            (
                summary.stats.passed,
                summary.stats.failed,
                summary.stats.skipped
            ),
            (1, 2, 1)
        );
        assert_eq!(summary.stats.summed, Duration::from_millis(900));
        assert_eq!(summary.stats.longest.as_ref().unwrap().id.name, "m");
        let names: Vec<_> = summary
            .failures
            .iter()
            .map(|f| f.id.name.as_str())
            .collect();
        assert_eq!(names, ["a", "z"]);
        assert_eq!(summary.exit_code(NoTests::Fail), exit_code::TEST_FAILED);
    }

    #[test]
    fn empty_run_exit_code_depends_on_policy() {
        let summary = Summary::new(1);
        assert_eq!(summary.exit_code(NoTests::Fail), exit_code::NO_TESTS);
        assert_eq!(summary.exit_code(NoTests::Warn), exit_code::OK);
        assert_eq!(summary.exit_code(NoTests::Pass), exit_code::OK);
    }

    #[test]
    fn listing_failure_without_test_failure_is_104() {
        let mut summary = Summary::new(1);
        summary.observe(&TestEvent::ListFailed(ListFailure {
            binary_id: "x".into(),
            message: "boom".into(),
        }));
        summary.observe(&finished("ok", Outcome::Passed, 1));
        assert_eq!(summary.exit_code(NoTests::Fail), exit_code::LIST_FAILED);
    }
}
