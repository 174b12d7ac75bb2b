//! Folds a run's events into counts, timings, the failure list and the exit code.

use std::time::Duration;

use crate::config::NoTests;
use crate::event::{LongestTest, Outcome, RunStats, TestEvent, TestId};
use crate::exit_code;

/// A test that did not pass, as listed at the end of a run.
#[derive(Debug, Clone)]
pub struct Failure {
    pub id: TestId,
    pub outcome: Outcome,
    pub rerun: Option<String>,
}

/// Everything known about a run once its events have been seen.
#[derive(Debug, Clone, Default)]
pub struct Summary {
    pub stats: RunStats,
    pub failures: Vec<Failure>,
    pub list_failures: Vec<(String, String)>,
    /// Tests not started because `-x`/`--maxfail` stopped the run.
    pub not_started: usize,
    pub total_selected: usize,
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
            TestEvent::RunStarted { tests, .. } => self.total_selected = *tests,
            TestEvent::ListFailed { binary_id, message } => {
                self.list_failures
                    .push((binary_id.clone(), message.clone()));
            }
            TestEvent::TestFinished(result) => {
                self.stats.summed += result.duration;
                let longer = self
                    .stats
                    .longest
                    .as_ref()
                    .is_none_or(|l| result.duration > l.duration);
                if longer {
                    self.stats.longest = Some(LongestTest {
                        id: result.id.clone(),
                        duration: result.duration,
                    });
                }
                if result.outcome.is_success() {
                    self.stats.passed += 1;
                } else {
                    self.stats.failed += 1;
                    self.failures.push(Failure {
                        id: result.id.clone(),
                        outcome: result.outcome.clone(),
                        rerun: result.rerun.clone(),
                    });
                }
            }
            TestEvent::TestSkipped { reason, .. } => {
                self.stats.skipped += 1;
                if *reason == crate::event::SkipReason::NotStarted {
                    self.not_started += 1;
                }
            }
            TestEvent::Note { .. }
            | TestEvent::TestStarted { .. }
            | TestEvent::TestSlow { .. }
            | TestEvent::RunFinished(_) => {}
        }
    }

    /// Close the run: record its wall time and sort failures so logs diff cleanly.
    pub fn finish(&mut self, wall: Duration) {
        self.stats.wall = wall;
        self.failures.sort_by(|a, b| a.id.cmp(&b.id));
        self.list_failures.sort();
    }

    /// The documented exit code for this run.
    pub fn exit_code(&self, no_tests: NoTests) -> i32 {
        if self.stats.failed > 0 {
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
    use crate::event::{SkipReason, TestResult};

    fn finished(name: &str, outcome: Outcome, ms: u64) -> TestEvent {
        TestEvent::TestFinished(TestResult {
            id: TestId {
                binary_id: "b".into(),
                name: name.into(),
            },
            outcome,
            duration: Duration::from_millis(ms),
            stdout: String::new(),
            stderr: String::new(),
            leaked: false,
            rerun: None,
        })
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
        summary.finish(Duration::from_millis(600));
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
        summary.observe(&TestEvent::ListFailed {
            binary_id: "x".into(),
            message: "boom".into(),
        });
        summary.observe(&finished("ok", Outcome::Passed, 1));
        assert_eq!(summary.exit_code(NoTests::Fail), exit_code::LIST_FAILED);
    }
}
