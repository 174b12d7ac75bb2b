//! JUnit XML (the one home of `quick-junit`): one `<testsuite>` per binary, a `<testcase>` per
//! test with its time, failures with a message and their output, skipped tests marked, and
//! retries recorded the way Maven Surefire does (`flakyFailure`, `rerunFailure`).
//!
//! The file is written at the end of every run, also a failed or interrupted one, through
//! [`files::write_atomically`] (in place when it is a FIFO or `/dev/stdout`).
//!
//! `runner junit-merge` (in `merge`) combines shards' reports and, for partitioned runs, checks
//! them against the fingerprint and selection each shard records (in `shards`).
//!
//! XML cannot hold most control characters, and quick-junit would silently drop them, changing
//! a test's recorded name; instead names, messages and output carry them escaped the way the
//! human report shows them ([`visible`]), so a name stays recognisable.

mod merge;
mod shards;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use quick_junit::{NonSuccessKind, Report, TestCase, TestCaseStatus, TestRerun, TestSuite};

pub use merge::{merge, read_durations, MergeError};

use super::escape::visible;
use super::panic_text::panic_message;
use super::Reporter;
use crate::files;
use crate::plan::partition::Shard;
use crate::report::event::{Attempt, Outcome, SkipReason, TestEvent, TestResult, Verdict};
use crate::report::summary::{Passes, Summary};

/// Output kept per stream in the XML: the tail, where a panic message is.
const OUTPUT_KEPT: usize = 64 * 1024;

pub struct JunitReporter {
    path: PathBuf,
    /// Test cases per binary id, in the order they finished.
    suites: BTreeMap<String, Vec<TestCase>>,
    wall: std::time::Duration,
    /// The shard this run is, under `--partition`: recorded in every suite's properties.
    shard: Option<Shard>,
}

impl JunitReporter {
    pub fn new(path: PathBuf, shard: Option<Shard>) -> Self {
        JunitReporter {
            path,
            suites: BTreeMap::new(),
            wall: std::time::Duration::ZERO,
            shard,
        }
    }

    fn report(&self) -> Report {
        let mut report = Report::new("runner");
        report.set_time(self.wall);
        let mut suites: BTreeMap<&str, Vec<TestCase>> = BTreeMap::new();
        // A shard has a suite for every binary of the selection, empty or not: each carries
        // its binary's part of the selection, for junit-merge to name what no shard ran.
        let selected = self.shard.as_ref().map(|s| s.selected.as_slice());
        for id in selected.unwrap_or_default() {
            suites.entry(&id.binary_id).or_default();
        }
        for (binary_id, cases) in &self.suites {
            suites
                .entry(binary_id)
                .or_default()
                .extend(cases.iter().cloned());
        }
        for (binary_id, cases) in suites {
            let mut suite = TestSuite::new(visible(binary_id));
            if let Some(shard) = &self.shard {
                shards::record(&mut suite, shard, binary_id);
            }
            suite.add_test_cases(cases);
            report.add_test_suite(suite);
        }
        report
    }
}

impl Reporter for JunitReporter {
    fn on_event(&mut self, event: &TestEvent) {
        match event {
            // Under `--compare` the last pass is the one reported.
            TestEvent::RunStarted { .. } => self.suites.clear(),
            TestEvent::TestFinished(result) => {
                self.suites
                    .entry(result.id.binary_id.clone())
                    .or_default()
                    .push(test_case(result));
            }
            TestEvent::TestSkipped { id, reason } => {
                let mut status = TestCaseStatus::skipped();
                status.set_message(match reason {
                    SkipReason::Ignored => "ignored",
                    SkipReason::NotStarted => "not started: the run stopped early",
                });
                let mut case = TestCase::new(visible(&id.name), status);
                case.set_classname(visible(&id.binary_id));
                self.suites
                    .entry(id.binary_id.clone())
                    .or_default()
                    .push(case);
            }
            TestEvent::RunFinished(stats) => self.wall = stats.wall,
            _ => {}
        }
    }

    fn finish(&mut self, _summary: &Summary, _passes: Option<&Passes>) -> Result<()> {
        write_report(&self.report(), &self.path)
    }
}

/// Write the report where the user asked; a reader never sees half a file.
fn write_report(report: &Report, path: &Path) -> Result<()> {
    files::write_atomically(path, |out| Ok(report.serialize(out)?))
        .context("the JUnit report was not written")
}

fn test_case(result: &TestResult) -> TestCase {
    let status = if result.verdict() == Verdict::Cancelled {
        // It started and did not finish: an error of the run, not a test that was skipped, so
        // that a CI timeout's report points at the test that hung.
        let mut status = TestCaseStatus::non_success(NonSuccessKind::Error);
        status.set_message(visible(&result.describe()));
        status.set_type(result.outcome().label());
        status.set_description(visible(tail(result.stderr())));
        status
    } else if !result.is_failure() {
        let mut status = TestCaseStatus::success();
        if let TestCaseStatus::Success { flaky_runs } = &mut status {
            flaky_runs.extend(result.failed_attempts().iter().map(rerun));
        }
        status
    } else {
        let kind = match result.outcome() {
            Outcome::SpawnFailed { .. }
            | Outcome::InternalError { .. }
            | Outcome::SetupFailed { .. } => NonSuccessKind::Error,
            _ => NonSuccessKind::Failure,
        };
        let mut status = TestCaseStatus::non_success(kind);
        let message = if result.outcome().is_success() {
            result.describe()
        } else {
            failure_message(result.outcome(), result.stderr())
        };
        status.set_message(visible(&message));
        status.set_type(result.outcome().label());
        status.set_description(visible(tail(result.stderr())));
        status.add_reruns(result.failed_attempts().iter().map(rerun));
        status
    };
    let mut case = TestCase::new(visible(&result.id.name), status);
    case.set_classname(visible(&result.id.binary_id));
    case.set_time(result.duration());
    // Passing tests' output is noise in CI reports; failures and flaky passes keep theirs.
    if result.is_failure() || result.is_flaky() || !result.outcome().is_success() {
        case.set_system_out(visible(tail(result.stdout())));
        case.set_system_err(visible(tail(result.stderr())));
    }
    case
}

fn rerun(attempt: &Attempt) -> TestRerun {
    let mut rerun = TestRerun::new(NonSuccessKind::Failure);
    rerun.set_time(attempt.duration);
    rerun.set_message(visible(&failure_message(&attempt.outcome, &attempt.stderr)));
    rerun.set_type(attempt.outcome.label());
    rerun.set_system_out(visible(tail(&attempt.stdout)));
    rerun.set_system_err(visible(tail(&attempt.stderr)));
    rerun
}

/// The outcome, plus the panic's message line when the test printed one.
fn failure_message(outcome: &Outcome, stderr: &str) -> String {
    let panic_line = panic_message(stderr);
    let panic_line = panic_line
        .as_deref()
        .map(str::trim)
        .filter(|l| !l.is_empty());
    match panic_line {
        Some(line) => format!("{}: {line}", outcome.describe()),
        None => outcome.describe(),
    }
}

/// The last `OUTPUT_KEPT` bytes, cut at a character boundary.
fn tail(text: &str) -> &str {
    if text.len() <= OUTPUT_KEPT {
        return text;
    }
    let mut start = text.len() - OUTPUT_KEPT;
    while !text.is_char_boundary(start) {
        start += 1;
    }
    &text[start..]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::event::{ResultPolicy, TestId};
    use std::time::Duration;

    #[test]
    fn report_has_suites_failures_skips_and_flaky_runs() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out/junit.xml");
        let mut reporter = JunitReporter::new(path.clone(), None);
        let fail = Outcome::Failed { exit_code: 101 };
        let mut attempt = Attempt::bare(1, fail.clone(), Duration::from_millis(20));
        attempt.stderr = "thread 'fails' panicked at src/lib.rs:3:5:\nboom <&>\n".into();
        let policy = ResultPolicy::default();
        let failed = TestResult::new(TestId::new("pkg", "fails"), vec![attempt], policy, false);
        let attempts = vec![
            Attempt::bare(1, fail, Duration::from_millis(5)),
            Attempt::bare(2, Outcome::Passed, Duration::ZERO),
        ];
        let flaky = TestResult::new(TestId::new("pkg::it", "flaky"), attempts, policy, false);
        for event in [
            TestEvent::TestFinished(failed),
            TestEvent::TestFinished(flaky),
            TestEvent::TestSkipped {
                id: TestId::new("pkg", "ignored"),
                reason: SkipReason::Ignored,
            },
        ] {
            reporter.on_event(&event);
        }
        reporter.finish(&Summary::default(), None).unwrap();
        let xml = std::fs::read_to_string(&path).unwrap();
        let parsed = Report::deserialize_from_str(&xml).unwrap();
        assert_eq!(parsed.test_suites.len(), 2);
        assert_eq!(parsed.tests, 3);
        assert_eq!(parsed.failures, 1);
        assert!(xml.contains("flakyFailure"), "{xml}");
        assert!(xml.contains("boom &lt;&amp;&gt;"), "{xml}");
        assert!(xml.contains("<skipped"), "{xml}");
    }

    #[test]
    fn unwritable_path_is_an_error_naming_the_file() {
        let reporter = JunitReporter::new("/proc/runner-cannot-write/junit.xml".into(), None);
        let err = write_report(&reporter.report(), &reporter.path).unwrap_err();
        assert!(format!("{err:#}").contains("/proc/runner-cannot-write/junit.xml"));
    }

    #[test]
    fn tail_respects_char_boundaries() {
        let text = "é".repeat(OUTPUT_KEPT);
        let kept = tail(&text);
        assert!(kept.len() <= OUTPUT_KEPT);
        assert!(kept.chars().all(|c| c == 'é'));
    }
}
